//! `hearth sessions`: where the owner is signed in, and signing browsers out.

use crate::api::types::BrowserSession;
use crate::client::Client;
use anyhow::Result;

#[derive(Debug, clap::Subcommand)]
pub enum SessionsAction {
    /// Sign a browser out at once (its open pages lose their live updates too); --all signs
    /// every browser out.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["id", "all"])))]
    Revoke {
        /// The session's id, as `hearth sessions` lists it.
        id: Option<String>,
        #[arg(long)]
        all: bool,
    },
}

pub async fn run(client: &Client, action: Option<SessionsAction>, json: bool) -> Result<()> {
    match action {
        None => {
            let sessions = client.sessions().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&sessions)?);
            } else {
                print_sessions(&sessions, crate::api::now());
            }
        }
        Some(SessionsAction::Revoke { id: Some(id), .. }) => {
            client.end_session(&id).await?;
            println!("Session {} is ended: that browser is signed out.", id.trim());
        }
        Some(SessionsAction::Revoke { id: None, .. }) => {
            let ended = client.end_all_sessions().await?.ended;
            match ended {
                0 => println!("No browser was signed in."),
                1 => println!("1 browser is signed out."),
                n => println!("{n} browsers are signed out."),
            }
        }
    }
    Ok(())
}

fn print_sessions(sessions: &[BrowserSession], now: i64) {
    if sessions.is_empty() {
        println!("No browser is signed in. `hearth open` prints a sign-in link.");
        return;
    }
    println!("{:<18} {:<30} {:<26} {:<16} SIGNED IN", "ID", "BROWSER", "FROM", "LAST USED");
    for s in sessions {
        println!("{:<18} {:<30} {:<26} {:<16} {}", s.id, s.browser, s.address, ago(now - s.last_used), ago(now - s.signed_in_at));
    }
    println!("`hearth sessions revoke ID` signs one out; `--all` signs out every browser.");
}

/// "just now", "3 min ago", "5 h ago", "2 days ago".
fn ago(ms: i64) -> String {
    let minutes = ms / 60_000;
    match minutes {
        m if m < 1 => "just now".into(),
        m if m < 60 => format!("{m} min ago"),
        m if m < 48 * 60 => format!("{} h ago", m / 60),
        m => format!("{} days ago", m / (24 * 60)),
    }
}
