//! The household from the command line, as the hub's own owner (the owner token):
//! `hearth member`, `hearth room`, `hearth control`, `hearth audit`, and `hearth call COMMAND
//! key=value...`, which runs any declared command (`api::commands`) by name, so the CLI can do
//! whatever the UI can without a subcommand per command to keep in step.

use crate::api::audit::AuditPage;
use crate::api::commands::{COMMANDS, Spec};
use crate::api::family::MemberView;
use crate::client::Client;
use anyhow::{Context, Result, bail};

/// `key=value` arguments: a value that reads as JSON is JSON (`hours=24`, `room=null`,
/// `target={"kind":"home"}`), anything else a string.
pub fn parse_args(pairs: &[String]) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut args = serde_json::Map::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else { bail!("`{pair}` is not key=value") };
        let value = serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
        args.insert(key.to_owned(), value);
    }
    Ok(args)
}

/// Runs a declared command through the HTTP API, as its route says.
pub async fn call(client: &Client, name: &str, mut args: serde_json::Map<String, serde_json::Value>) -> Result<Option<serde_json::Value>> {
    let spec: &Spec = COMMANDS.iter().find(|s| s.name == name).with_context(|| {
        let names: Vec<&str> = COMMANDS.iter().map(|s| s.name).collect();
        format!("no command `{name}`; the commands are: {}", names.join(", "))
    })?;
    let mut path = String::new();
    for part in spec.path.split('/').filter(|p| !p.is_empty()) {
        path.push('/');
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(field) => {
                let value = args.remove(field).with_context(|| format!("`{name}` needs {field}=..."))?;
                let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                path.push_str(&urlencoding(&text));
            }
            None => path.push_str(part),
        }
    }
    let method: reqwest::Method = spec.method.parse()?;
    let body = match (spec.method, spec.body) {
        ("POST", Some(field)) => Some(args.remove(field).unwrap_or(serde_json::Value::Null)),
        ("POST", None) => Some(serde_json::Value::Object(std::mem::take(&mut args))),
        _ => None,
    };
    let query: Vec<String> = args
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| format!("{}={}", urlencoding(k), urlencoding(&v.as_str().map_or_else(|| v.to_string(), str::to_owned))))
        .collect();
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    client.call(method, &path, body).await
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

pub async fn members(client: &Client, json: bool) -> Result<()> {
    let members: Vec<MemberView> = serde_json::from_value(call(client, "members", serde_json::Map::new()).await?.unwrap_or_default())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&members)?);
        return Ok(());
    }
    for m in members {
        let password = if m.has_password { "" } else { " (no password yet)" };
        println!("{:<14} {:<7} {}{password}", m.id, m.role.as_str(), m.name);
    }
    Ok(())
}

pub async fn audit(client: &Client, member: Option<String>, device: Option<String>, since: Option<String>, json: bool) -> Result<()> {
    let mut args = serde_json::Map::new();
    for (key, value) in [("member", member), ("device", device), ("since", since)] {
        if let Some(value) = value {
            args.insert(key.into(), value.into());
        }
    }
    let page: AuditPage = serde_json::from_value(call(client, "audit", args).await?.unwrap_or_default())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&page)?);
        return Ok(());
    }
    if page.entries.is_empty() {
        println!("Nothing in the audit for this choice yet.");
    }
    for e in page.entries {
        let at = crate::family::clock::local_time(e.at);
        let from = if e.address.is_empty() { e.origin } else { format!("{}, {}", e.origin, e.address) };
        println!("{at}  {} {}  ({from})", e.who, e.words);
    }
    Ok(())
}

/// `hearth member ...`
#[derive(Debug, clap::Subcommand)]
pub enum MemberAction {
    /// Adds a member and prints their id and a one-use invitation link.
    Add {
        name: String,
        #[arg(long, value_parser = ["owner", "adult", "child", "guest"])]
        role: String,
        /// How long the invitation link is good for (`1h`, `24h`, `7d`; or a time like
        /// `2026-12-24T18:00:00Z`); a day if not given.
        #[arg(long, value_name = "WHEN")]
        expires: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The household's members.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A new invitation link for a member who has no password yet (a lost link).
    Invite {
        id: String,
        #[arg(long, value_name = "WHEN")]
        expires: Option<String>,
    },
    /// Clears a member's forgotten password and signs them out everywhere; then invite them again.
    /// They see that you did it.
    ResetPassword { id: String },
    /// Changes a member's role.
    Role {
        id: String,
        #[arg(value_parser = ["owner", "adult", "child", "guest"])]
        role: String,
    },
    /// Removes a member: their sessions end at once, their rights go.
    Remove { id: String },
    /// Gives (or, with --deny, takes) rights on a device, a room or the whole home.
    Grant {
        id: String,
        #[arg(long, group = "target")]
        device: Option<String>,
        /// A room's name or number.
        #[arg(long, group = "target")]
        room: Option<String>,
        #[arg(long, group = "target")]
        home: bool,
        /// view, control, review, configure (comma-separated).
        #[arg(long, value_delimiter = ',', required = true)]
        rights: Vec<String>,
        #[arg(long)]
        deny: bool,
        /// When it holds, in the home's time: `Mon-Fri 07:00-20:00; Sat,Sun 09:00-21:00`.
        #[arg(long)]
        schedule: Option<String>,
        /// When it ends (`2d`, `2026-12-24T18:00:00Z`); required for a guest.
        #[arg(long, value_name = "WHEN")]
        expires: Option<String>,
    },
    /// The rights given (all members', or one's).
    Grants {
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Takes back one grant (its number, from `hearth member grants`).
    RevokeGrant { grant: i64 },
}

/// `hearth room ...`
#[derive(Debug, clap::Subcommand)]
pub enum RoomAction {
    List,
    Add {
        name: String,
    },
    /// Puts a device in a room (by name; made if it does not exist), or `none`.
    Set {
        device: String,
        room: String,
    },
    Remove {
        room: String,
    },
}

/// An instant from `24h`/`7d` (from now) or an RFC 3339 time, in ms since the epoch.
fn when(s: &str) -> Result<i64> {
    if let Ok(ms) = crate::api::parse_duration(s) {
        return Ok(crate::api::now() + ms);
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|_| anyhow::anyhow!("`{s}` is neither a duration (24h, 7d) nor a time like 2026-12-24T18:00:00Z"))?;
    Ok(i64::try_from(t.unix_timestamp_nanos() / 1_000_000)?)
}

fn args(pairs: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    pairs.as_object().cloned().unwrap_or_default()
}

async fn room_id(client: &Client, room: &str, create: bool) -> Result<i64> {
    if let Ok(n) = room.parse() {
        return Ok(n);
    }
    let rooms = call(client, "rooms", args(serde_json::json!({}))).await?.unwrap_or_default();
    if let Some(found) = rooms.as_array().into_iter().flatten().find(|r| r["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(room))) {
        return found["id"].as_i64().context("a room without a number");
    }
    if !create {
        bail!("there is no room called {room}; `hearth room list` lists them");
    }
    let made = call(client, "add_room", args(serde_json::json!({"name": room}))).await?.unwrap_or_default();
    made["id"].as_i64().context("the hub did not say the new room's number")
}

pub async fn member(client: &Client, action: MemberAction) -> Result<()> {
    match action {
        MemberAction::Add { name, role, expires, json } => {
            let member = call(client, "add_member", args(serde_json::json!({"name": name, "role": role}))).await?.unwrap_or_default();
            let id = member["id"].as_str().context("the hub did not say the member's id")?.to_owned();
            let invitation = invite(client, &id, expires.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({"id": id, "invite": invitation}))?);
            } else {
                println!("{name} is {id}. Their one-use invitation link:\n  {invitation}");
            }
        }
        MemberAction::List { json } => members(client, json).await?,
        MemberAction::Invite { id, expires } => println!("{}", invite(client, &id, expires.as_deref()).await?),
        MemberAction::Role { id, role } => {
            call(client, "change_member", args(serde_json::json!({"member": id, "role": role}))).await?;
        }
        MemberAction::ResetPassword { id } => {
            call(client, "reset_password", args(serde_json::json!({"member": id}))).await?;
            println!("Cleared. `hearth member invite {id}` makes a link for them to choose a new one.");
        }
        MemberAction::Remove { id } => {
            call(client, "remove_member", args(serde_json::json!({"member": id}))).await?;
        }
        MemberAction::Grant { id, device, room, home, rights, deny, schedule, expires } => {
            let target = match (device, room, home) {
                (Some(device), _, _) => serde_json::json!({"kind": "device", "id": device}),
                (_, Some(room), _) => serde_json::json!({"kind": "room", "id": room_id(client, &room, false).await?}),
                (_, _, true) => serde_json::json!({"kind": "home"}),
                _ => bail!("say what the rights are on: --device ID, --room NAME or --home"),
            };
            let schedule: Option<hearth_core::family::Schedule> = schedule.map(|s| s.parse()).transpose()?;
            let expires_at = expires.as_deref().map(when).transpose()?;
            for right in rights {
                let grant = serde_json::json!({"member": id, "right": right.trim(), "target": target, "effect": if deny { "deny" } else { "allow" },
                    "schedule": schedule, "expires_at": expires_at});
                let filed = call(client, "add_grant", args(serde_json::json!({"grant": grant}))).await?.unwrap_or_default();
                println!(
                    "grant {}: {} may{} {} on {}",
                    filed["grant"]["id"],
                    filed["member_name"].as_str().unwrap_or(&id),
                    if deny { " not" } else { "" },
                    right.trim(),
                    filed["target_name"].as_str().unwrap_or("?")
                );
            }
        }
        MemberAction::Grants { id, json } => {
            let grants = call(client, "grants", args(serde_json::json!({"member": id}))).await?.unwrap_or_default();
            if json {
                println!("{}", serde_json::to_string_pretty(&grants)?);
            }
            for g in grants.as_array().into_iter().flatten().filter(|_| !json) {
                let schedule: Option<hearth_core::family::Schedule> = serde_json::from_value(g["grant"]["schedule"].clone()).ok();
                let when = schedule.map(|s| format!(", {s}")).unwrap_or_default();
                let expired = if g["expired"] == true { " (ended)" } else { "" };
                println!(
                    "{:>5}  {} {} {} on {}{when}{expired}",
                    g["grant"]["id"],
                    g["member_name"].as_str().unwrap_or("?"),
                    g["grant"]["effect"].as_str().unwrap_or("?"),
                    g["grant"]["right"].as_str().unwrap_or("?"),
                    g["target_name"].as_str().unwrap_or("?")
                );
            }
        }
        MemberAction::RevokeGrant { grant } => {
            call(client, "remove_grant", args(serde_json::json!({"grant": grant.to_string()}))).await?;
        }
    }
    Ok(())
}

async fn invite(client: &Client, id: &str, expires: Option<&str>) -> Result<String> {
    let hours = match expires {
        Some(w) => u32::try_from(((when(w)? - crate::api::now()) / 3_600_000).max(1))?,
        None => 24,
    };
    let invitation = call(client, "invite", args(serde_json::json!({"member": id, "hours": hours}))).await?.unwrap_or_default();
    Ok(format!("{}{}", client.web_base(), invitation["path"].as_str().context("the hub did not send a link")?))
}

pub async fn room(client: &Client, action: RoomAction) -> Result<()> {
    match action {
        RoomAction::List => {
            let rooms = call(client, "rooms", serde_json::Map::new()).await?.unwrap_or_default();
            for r in rooms.as_array().into_iter().flatten() {
                println!("{:>4}  {}  ({} devices)", r["id"], r["name"].as_str().unwrap_or("?"), r["devices"]);
            }
        }
        RoomAction::Add { name } => {
            call(client, "add_room", args(serde_json::json!({"name": name}))).await?;
        }
        RoomAction::Set { device, room } => {
            let room = if room.eq_ignore_ascii_case("none") { None } else { Some(room_id(client, &room, true).await?) };
            call(client, "set_room", args(serde_json::json!({"id": device, "room": room}))).await?;
        }
        RoomAction::Remove { room } => {
            let id = room_id(client, &room, false).await?;
            call(client, "remove_room", args(serde_json::json!({"room": id.to_string()}))).await?;
        }
    }
    Ok(())
}

/// `hearth control DEVICE ENTITY ACTION`: ENTITY is its name or key (`hearth control DEVICE`
/// alone lists them).
pub async fn control(
    client: &Client,
    device: &str,
    entity: Option<&str>,
    action: Option<&str>,
    brightness: Option<u8>,
    yes: bool,
) -> Result<()> {
    let controls = call(client, "controls", args(serde_json::json!({"id": device}))).await?.unwrap_or_default();
    let controls = controls.as_array().cloned().unwrap_or_default();
    let (Some(entity), Some(action)) = (entity, action) else {
        if controls.is_empty() {
            println!("Nothing on {device} can be operated from Hearth (its discovery describes no switch, light, cover, lock or button).");
        }
        for c in &controls {
            let state = c["state"].as_str().unwrap_or("nothing reported yet");
            println!(
                "{}  [{}]  {}  (reports: {state})",
                c["name"].as_str().unwrap_or("?"),
                c["actions"].as_array().map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("|")).unwrap_or_default(),
                c["entity"].as_str().unwrap_or("?")
            );
        }
        return Ok(());
    };
    let found = controls
        .iter()
        .find(|c| c["entity"].as_str() == Some(entity) || c["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(entity)))
        .with_context(|| format!("{device} has nothing called {entity}; `hearth control {device}` lists what it has"))?;
    let body = serde_json::json!({"id": device, "entity": found["entity"], "action": action, "brightness": brightness, "confirm": yes});
    call(client, "control", args(body)).await?;
    println!("sent: {} {action}", found["name"].as_str().unwrap_or(entity));
    Ok(())
}
