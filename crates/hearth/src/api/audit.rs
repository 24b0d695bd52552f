//! The audit as people read it: "Sam blocked Kitchen lamp from the web, 10.0.0.7", refused
//! attempts marked. An owner reads all of it; every other member reads what they did and what
//! was done to their personal devices.

use super::commands::args;
use super::limits;
use super::now;
use crate::api::types::ApiError;
use crate::family::Caller;
use crate::hub::Hub;
use hearth_core::family::Role;
use hearth_store::audit::{AuditEntry, AuditQuery};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use ts_rs::TS;

/// Rows a page shows unless asked otherwise.
const PAGE: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AuditView {
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "number")]
    pub at: i64,
    /// The member's id, or `hearth`.
    pub member: String,
    /// Their name as it is now ("Hearth" for the hub itself).
    pub who: String,
    /// `web`, `desktop`, `cli`, ...
    pub origin: String,
    pub address: String,
    /// What happened, in plain words ("blocked Kitchen lamp").
    pub words: String,
    /// The action's name, for filtering and scripts.
    pub action: String,
    pub device: Option<String>,
    pub refused: bool,
    /// Done to the reader's own personal device by someone else.
    pub about_you: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AuditPage {
    pub entries: Vec<AuditView>,
    /// Pass as `before` for the next (older) page; none at the end.
    #[ts(type = "number | null")]
    pub next_before: Option<i64>,
}

impl Hub {
    pub fn audit(&self, caller: &Caller, a: &args::audit) -> Result<AuditPage, ApiError> {
        let owner = self.household().member(&caller.member).is_some_and(|m| m.role == Role::Owner);
        let number = |s: &Option<String>, what: &str| -> Result<Option<i64>, ApiError> {
            s.as_deref()
                .map(|v| v.trim().parse::<i64>().map_err(|_| ApiError::bad_request(format!("`{}` is not a {what}", limits::quoted(v)))))
                .transpose()
        };
        let since = a.since.as_deref().map(super::parse_duration).transpose()?.map(|ms| now() - ms);
        let limit = number(&a.limit, "number of rows")?.map_or(PAGE, |n| u32::try_from(n.clamp(1, 500)).unwrap_or(PAGE));
        let query = AuditQuery {
            actor: a.member.clone(),
            device: a.device.clone(),
            visible_to: if owner { None } else { Some(caller.member.clone()) },
            since,
            until: None,
            before: number(&a.before, "row number")?,
            limit,
        };
        let (rows, devices, members, rooms) = {
            let store = self.store();
            (store.audit_page(&query)?, store.devices()?, store.members()?, store.rooms()?)
        };
        let mut names: HashMap<String, String> = devices.into_iter().map(|d| (d.id.as_str().to_owned(), d.name)).collect();
        names.extend(rooms.into_iter().map(|r| (format!("room:{}", r.id), format!("the {}", r.name))));
        names.insert("home".into(), "the whole home".into());
        let member_names: HashMap<String, String> = members.into_iter().map(|m| (m.id, m.name)).collect();
        let next_before = (rows.len() == limit as usize).then(|| rows.last().map(|r| r.id)).flatten();
        let entries = rows
            .into_iter()
            .map(|row| {
                let who = if row.actor == "hearth" {
                    "Hearth".to_owned()
                } else {
                    member_names.get(&row.actor).cloned().unwrap_or_else(|| row.actor.clone())
                };
                let about_you = row.concerns.as_deref() == Some(caller.member.as_str()) && row.actor != caller.member;
                AuditView {
                    words: words(&row, &names, &member_names),
                    id: row.id,
                    at: row.at,
                    member: row.actor,
                    who,
                    origin: row.origin,
                    address: row.address,
                    action: row.action,
                    device: row.device_id,
                    refused: row.refused,
                    about_you,
                }
            })
            .collect();
        Ok(AuditPage { entries, next_before })
    }
}

/// One row in plain words. Unknown actions read as their name, never as nothing.
fn words(row: &AuditEntry, names: &HashMap<String, String>, members: &HashMap<String, String>) -> String {
    let mut parts = row.subject.split(' ');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let name = |word: &str| {
        names.get(word).cloned().unwrap_or_else(|| {
            if word.starts_with("d-") {
                format!("a forgotten device ({word})")
            } else if word.starts_with("room:") {
                "a removed room".to_owned()
            } else {
                word.to_owned()
            }
        })
    };
    let thing = || name(first);
    let member = |id: &str| members.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let after = rest.join(" ");
    let right = |r: &str| {
        match r {
            "view" => "see",
            "control" => "use",
            "review" => "review what it sends of",
            "configure" => "change the settings of",
            other => other,
        }
        .to_owned()
    };
    let done = match row.action.as_str() {
        "set_state_approved" => format!("approved {}", thing()),
        "set_state_blocked" => format!("blocked {}", thing()),
        "set_state_new" => format!("put {} back in quarantine", thing()),
        "forget_device" => format!("forgot {}", thing()),
        "rename_device" => match after.split_once(" \u{2192} ") {
            Some((old, new)) => format!("renamed {old} to {new}"),
            None => format!("renamed a device to {after}"),
        },
        "add_member" => format!("added {} as {}", rest.get(1..).map(|r| r.join(" ")).unwrap_or_default(), rest.first().unwrap_or(&"")),
        "remove_member" => format!("removed {}", member(first)),
        "rename_member" => format!("renamed {} to {after}", member(first)),
        "set_role" => format!("made {} {after}", member(first)),
        "invite_member" => format!("invited {}", member(first)),
        "set_password" => format!("set {}'s password", member(first)),
        "wrong_password" => format!("someone tried to sign in as {} with a wrong password", member(first)),
        "sign_in" => "signed in".to_owned(),
        "sign_out" => "signed a browser out".to_owned(),
        "sign_out_everywhere" => "signed out everywhere else".to_owned(),
        "add_room" => format!("added the room {after}"),
        "rename_room" => format!("renamed a room to {after}"),
        "remove_room" => "removed a room".to_owned(),
        "set_room" => format!(
            "moved {} to {}",
            thing(),
            rest.first().map_or_else(String::new, |r| if *r == "none" { "no room".to_owned() } else { name(r) })
        ),
        "set_personal_device" => format!(
            "marked {} as {}",
            thing(),
            rest.first().map_or_else(String::new, |m| if *m == "household" {
                "the household's".to_owned()
            } else {
                format!("{}'s", member(m))
            })
        ),
        // "<target> <right> <allow|deny> <member> <grant id>"
        "grant" | "revoke_grant" => {
            let (r, effect, who) = (
                rest.first().copied().unwrap_or(""),
                rest.get(1).copied().unwrap_or(""),
                rest.get(2).map_or_else(String::new, |m| member(m)),
            );
            let verb = match (row.action.as_str(), effect) {
                ("grant", "deny") => "forbade",
                ("grant", _) => "allowed",
                _ => "took back the right of",
            };
            format!("{verb} {who} to {} {}", right(r), thing())
        }
        "control" => format!("operated {}: {after}", thing()),
        "issue_credential" => format!("issued a credential for {}", thing()),
        "rotate_credential" => format!("gave {} a new credential", thing()),
        "revoke_credential" => format!("revoked the credential of {}", thing()),
        "set_internet_level" => format!("set the internet of {} to {}", thing(), after.replace('_', " ")),
        action if action.starts_with("look:") => {
            format!("looked at {}'s data ({})", thing(), action.trim_start_matches("look:").replace('_', " "))
        }
        action => match action.split_once('_') {
            Some((verb @ ("allow" | "deny" | "remove"), what)) if !after.is_empty() => {
                format!("{verb} {} for {}: {after}", what.replace('_', " "), thing())
            }
            _ => format!("{} {}", action.replace('_', " "), thing()).trim_end().to_owned(),
        },
    };
    if row.refused { format!("was refused: {done}") } else { done }
}
