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
        let (rows, devices, members) = {
            let store = self.store();
            (store.audit_page(&query)?, store.devices()?, store.members()?)
        };
        let device_names: HashMap<String, String> = devices.into_iter().map(|d| (d.id.as_str().to_owned(), d.name)).collect();
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
                    words: words(&row, &device_names, &member_names),
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
fn words(row: &AuditEntry, devices: &HashMap<String, String>, members: &HashMap<String, String>) -> String {
    let mut parts = row.subject.split(' ');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let device = || {
        devices
            .get(first)
            .cloned()
            .unwrap_or_else(|| if first.starts_with("d-") { format!("a forgotten device ({first})") } else { first.to_owned() })
    };
    let member = |id: &str| members.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let done = match row.action.as_str() {
        "set_state_approved" => format!("approved {}", device()),
        "set_state_blocked" => format!("blocked {}", device()),
        "set_state_new" => format!("put {} back in quarantine", device()),
        "forget_device" => format!("forgot {}", device()),
        "add_member" => format!("added {} as {}", rest.get(1..).map(|r| r.join(" ")).unwrap_or_default(), rest.first().unwrap_or(&"")),
        "remove_member" => format!("removed {}", member(first)),
        "rename_member" => format!("renamed a member to {}", rest.join(" ")),
        "set_role" => format!("made {} {}", member(first), rest.join(" ")),
        "invite_member" => format!("invited {}", member(first)),
        "set_password" => format!("set {}'s password", member(first)),
        "sign_in" if row.refused => "tried to sign in with a wrong password".to_owned(),
        "sign_in" => "signed in".to_owned(),
        "sign_out" => "signed a browser out".to_owned(),
        "sign_out_everywhere" => "signed out everywhere else".to_owned(),
        "add_room" => format!("added the room {}", rest.join(" ")),
        "rename_room" => format!("renamed a room to {}", rest.join(" ")),
        "remove_room" => "removed a room".to_owned(),
        "set_room" => format!("moved {} to another room", device()),
        "set_personal_device" => format!(
            "marked {} as {}",
            device(),
            rest.first().map_or_else(String::new, |m| if *m == "household" {
                "the household's".to_owned()
            } else {
                format!("{}'s", member(m))
            })
        ),
        "grant" => format!("gave {} {} on {}", rest.last().map_or_else(String::new, |m| member(m)), rest.first().unwrap_or(&""), device()),
        "revoke_grant" => format!(
            "took back {} from {} on {}",
            rest.first().unwrap_or(&""),
            rest.last().map_or_else(String::new, |m| member(m)),
            device()
        ),
        "control" => format!("operated {} ({})", device(), rest.join(" ")),
        action if action.starts_with("look:") => {
            format!("looked at {}'s data ({})", device(), action.trim_start_matches("look:").replace('_', " "))
        }
        action => format!("{} {}", action.replace('_', " "), device()),
    };
    if row.refused && row.action != "sign_in" { format!("was refused: {done}") } else { done }
}
