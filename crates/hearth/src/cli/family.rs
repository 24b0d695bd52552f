//! The household from the command line, as the hub's own owner (the owner token):
//! `hearth members`, `hearth audit`, and `hearth call COMMAND key=value...`, which runs any
//! declared command (`api::commands`) by name, so the CLI can do whatever the UI can without a
//! subcommand per command to keep in step.

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
        let at = time::OffsetDateTime::from_unix_timestamp(e.at / 1000).map(|t| t.to_string()).unwrap_or_default();
        let from = if e.address.is_empty() { e.origin } else { format!("{}, {}", e.origin, e.address) };
        println!("{at}  {} {}  ({from})", e.who, e.words);
    }
    Ok(())
}
