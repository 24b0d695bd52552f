//! `hearth review`, `hearth export` and `hearth privacy`.

use crate::api::types::{Category, Change, DeviceReview, HomeReview, PrivacySettings, RedactionRequest, Retention, RetentionRequest};
use crate::client::Client;
use anyhow::{Context, Result};
use std::io::Write;

#[derive(Debug, clap::Subcommand)]
pub enum PrivacyAction {
    /// The device's retention per kind of data, and its redacted fields.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Change how long a kind of data is kept (--category and --retention), or which fields are
    /// removed from the device's messages before they are stored or delivered (--redact,
    /// --unredact).
    #[command(group(clap::ArgGroup::new("change").required(true).args(["retention", "redact", "unredact"])))]
    Set {
        id: String,
        /// presence, location, audio_video, energy, climate, access, health, identifiers,
        /// diagnostics or other.
        #[arg(long, value_name = "NAME", requires = "retention")]
        category: Option<String>,
        /// none (not even which fields), metadata (fields, never values), <n>d (values for n
        /// days), or default.
        #[arg(long, value_name = "RETENTION", requires = "category")]
        retention: Option<String>,
        /// A field as the review names it (`Wifi.SSId`, `lat`).
        #[arg(long, value_name = "FIELD")]
        redact: Option<String>,
        #[arg(long, value_name = "FIELD")]
        unredact: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn review(client: &Client, id: Option<&str>, since: &str, json: bool) -> Result<()> {
    match id {
        Some(id) => {
            let review = client.review(id, since).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&review)?);
            } else {
                let name = client.device(id).await?.device.name;
                print_device(&name, since, &review);
            }
        }
        None => {
            let review = client.home_review(since).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&review)?);
            } else {
                print_home(since, &review);
            }
        }
    }
    Ok(())
}

pub async fn export(client: &Client, id: &str, csv: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    client.export_to(id, csv, &mut out).await?;
    if !csv {
        out.write_all(b"\n")?;
    }
    out.flush().context("cannot write the export")
}

pub async fn privacy(client: &Client, action: PrivacyAction) -> Result<()> {
    let (settings, json) = match action {
        PrivacyAction::Show { id, json } => (client.privacy(&id).await?, json),
        PrivacyAction::Set { id, category, retention, redact, unredact, json } => {
            let mut settings = None;
            if let (Some(category), Some(retention)) = (category, retention) {
                let category = Category::parse(&category).with_context(|| {
                    let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
                    format!("`{category}` is not a kind of data; one of: {}", names.join(", "))
                })?;
                let retention = match retention.as_str() {
                    "default" => None,
                    other => Some(Retention::parse(other).with_context(|| {
                        format!("`{other}` is not a retention: none, metadata, a number of days like 14d (1 to 3650), or default")
                    })?),
                };
                settings = Some(client.set_retention(&id, &RetentionRequest { category, retention }).await?);
            }
            for (path, redact) in [(redact, true), (unredact, false)] {
                if let Some(path) = path {
                    settings = Some(client.set_redaction(&id, &RedactionRequest { path, redact }).await?);
                }
            }
            (settings.context("nothing to change")?, json)
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&settings)?);
    } else {
        print_privacy(&settings);
    }
    Ok(())
}

fn print_privacy(s: &PrivacySettings) {
    for r in &s.retention {
        println!("{:<12} {:<9}{}", r.category.as_str(), r.retention.to_string(), if r.chosen { "" } else { "  (default)" });
    }
    if s.redact.is_empty() {
        println!("no fields redacted");
    } else {
        println!("redacted before storage and delivery: {}", s.redact.join(", "));
    }
}

/// `2.1 MB`, `812 B`.
pub fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.1} kB", b as f64 / 1e3),
        b => format!("{b} B"),
    }
}

/// `15 s`, `5 min`, `2 h`.
fn interval(ms: u64) -> String {
    match ms {
        m if m >= 7_200_000 => format!("{} h", m / 3_600_000),
        m if m >= 120_000 => format!("{} min", m / 60_000),
        m if m >= 1_000 => format!("{} s", m / 1_000),
        m => format!("{m} ms"),
    }
}

fn print_device(name: &str, since: &str, r: &DeviceReview) {
    println!(
        "{name} ({}), last {since}: {} messages, {}; {} refused, {} redacted",
        r.device_id,
        r.messages,
        size(r.bytes),
        r.refused,
        r.redacted
    );
    if r.messages == 0 {
        println!("Nothing recorded in that time: the device has not published through Hearth's broker.");
        return;
    }
    println!("kinds of data, most sensitive first:");
    for c in &r.categories {
        let fields = if c.fields.is_empty() { String::new() } else { format!("  ({})", c.fields.join(", ")) };
        println!("  {:<12} {:>8} messages {:>10}{fields}", c.category.as_str(), c.messages, size(c.bytes));
    }
    println!("topics:");
    for t in &r.topics {
        let every = t.every_ms.map(|ms| format!(", every {}", interval(ms))).unwrap_or_default();
        let kinds: Vec<&str> = t.categories.iter().map(|c| c.as_str()).collect();
        println!("  {}  {} messages, {}{every}  [{}] {}", t.topic, t.messages, size(t.bytes), kinds.join(", "), t.content_type);
        for f in &t.fields {
            let example = f.example.as_ref().map(|e| format!(" = {e}")).unwrap_or_default();
            println!("      {} ({}, {}){example}", f.path, f.value_type.as_str(), f.category.as_str());
        }
    }
    for reason in &r.refusals {
        println!("refused: {} ×{}", reason.reason, reason.count);
    }
}

fn print_home(since: &str, r: &HomeReview) {
    if r.devices.is_empty() {
        println!("No device published anything through Hearth's broker in the last {since}.");
        return;
    }
    println!("Last {since}, most sensitive first:");
    for d in &r.devices {
        let kinds: Vec<&str> = d.categories.iter().map(|c| c.as_str()).collect();
        println!("  {:<16} {:<28} {:>8} messages {:>10}  {}", d.device_id, d.name, d.messages, size(d.bytes), kinds.join(", "));
    }
    for c in &r.changes {
        match c {
            Change::NewField { device_id, topic, path, category } => {
                println!("new: {device_id} sends {path} ({}) on {topic}", category.as_str())
            }
            Change::NewCategory { device_id, category } => println!("new: {device_id} sends {} data", category.as_str()),
            Change::MoreThanUsual { device_id, last_day, usual_per_day } => {
                println!("more than usual: {device_id} sent {last_day} messages in the last day, {usual_per_day} on a usual day")
            }
        }
    }
}
