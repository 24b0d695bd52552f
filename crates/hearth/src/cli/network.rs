//! `hearth device internet|destinations|allow-domain|deny-domain`, `hearth mud`, `hearth network`,
//! and the network lines of `hearth status`.

use crate::api::network::{DomainChoice, DomainRequest, Enforcement, NetworkServices, NetworkView};
use crate::client::Client;
use anyhow::{Context, Result};
use clap::Subcommand;
use hearth_core::network::{InternetLevel, QueryAction};

#[derive(Debug, Subcommand)]
pub enum MudAction {
    /// Read a MUD file (RFC 8520) into the device's destination rules (replacing earlier MUD rules).
    Import { id: String, file: std::path::PathBuf },
    /// Print the device's allowed destinations as a MUD file.
    Export { id: String },
}

#[derive(Debug, Subcommand)]
pub enum NetworkAction {
    /// Print the firewall for a gateway: nftables (`--nft`) or OpenWrt fw4 + dnsmasq (`--openwrt`).
    #[command(group(clap::ArgGroup::new("format").required(true).args(["nft", "openwrt"])))]
    Export {
        #[arg(long)]
        nft: bool,
        #[arg(long)]
        openwrt: bool,
    },
}

pub async fn set_level(client: &Client, id: &str, level: &str) -> Result<()> {
    let level: InternetLevel = level.parse()?;
    print_view(&client.set_internet_level(id, level).await?);
    Ok(())
}

pub async fn destinations(client: &Client, id: &str, json: bool) -> Result<()> {
    let view = client.network(id).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        print_view(&view);
    }
    Ok(())
}

pub async fn set_domain(client: &Client, id: &str, domain: &str, choice: DomainChoice) -> Result<()> {
    print_view(&client.set_domain(id, &DomainRequest { domain: domain.to_owned(), choice }).await?);
    Ok(())
}

pub async fn mud(client: &Client, action: MudAction) -> Result<()> {
    match action {
        MudAction::Import { id, file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let imported = client.import_mud(&id, &text).await?;
            println!("{} rules read, {} kept (a person's rule for the same domain stays)", imported.rules.len(), imported.kept);
            for rule in &imported.rules {
                println!("  {:<5} {}", rule.verdict.as_str(), rule.domain);
            }
            if !imported.unsupported.is_empty() {
                println!("not enforced by Hearth ({}):", imported.unsupported.len());
                for u in &imported.unsupported {
                    println!("  {}: {}", u.path, u.what);
                }
            }
        }
        MudAction::Export { id } => println!("{}", client.export_mud(&id).await?),
    }
    Ok(())
}

pub async fn network(client: &Client, action: NetworkAction) -> Result<()> {
    match action {
        NetworkAction::Export { nft, .. } => print!("{}", client.export_firewall(if nft { "nft" } else { "openwrt" }).await?),
    }
    Ok(())
}

fn print_view(view: &NetworkView) {
    let level = match view.level {
        InternetLevel::HomeOnly => "home only: the home's names and the time servers",
        InternetLevel::AllowedList => "allowed list: only the names allowed below",
        InternetLevel::Unrestricted => "unrestricted: anything but the names denied below",
    };
    let chosen = if view.level_chosen { "" } else { " (the default; nobody chose one)" };
    println!("internet: {level}{chosen}");
    if view.learning {
        println!("  learning: the names it asks for are forwarded and proposed to you");
    }
    println!(
        "enforced: {}",
        match (view.dns_gate, view.enforcement) {
            (false, _) => "no: Hearth's DNS gate is off (hearth serve --dns-listen ADDR)",
            (_, Enforcement::Firewall) => "by the firewall",
            (_, Enforcement::DnsOnly) => "by DNS only (a device with its own resolver can go around it)",
            (_, Enforcement::NotInPath) => "no: it asked Hearth's resolver nothing in a day (not in Hearth's path)",
        }
    );
    if !view.rules.is_empty() {
        println!("rules:");
        for rule in &view.rules {
            println!("  {:<5} {:<40} ({})", rule.verdict.as_str(), rule.domain, rule.source.as_str());
        }
    }
    let waiting: Vec<_> = view.destinations.iter().filter(|d| d.waiting).collect();
    if !waiting.is_empty() {
        println!("waiting for you ({}): hearth device allow-domain ID NAME", waiting.len());
        for d in waiting {
            println!("  {}", d.name);
        }
    }
    if view.destinations.is_empty() {
        println!("talks to: nothing asked of Hearth's resolver yet");
    } else {
        println!("talks to:");
        for d in &view.destinations {
            let what = match d.last_action {
                QueryAction::Forward => "allowed",
                QueryAction::Refuse => "refused",
                QueryAction::NoSuchName => "told no such name",
            };
            println!("  {:<44} {:>6}× {:<8} {}", d.name, d.queries, what, d.because);
        }
    }
}

/// The lines `hearth status` prints about the DNS gate and the firewall.
pub fn print_status(n: &NetworkServices) {
    match &n.dns_listen {
        Some(listen) => println!(
            "DNS gate: on {listen}, forwarding to {} ({} queries dropped by the rate limit, {} not recorded, {} counted but not kept \
             one by one, {} MAC addresses refused as another device's, {} dropped with too many in flight)",
            n.dns_upstream.join(", "),
            n.rate_limited,
            n.unrecorded,
            n.rows_not_kept,
            n.macs_refused,
            n.overloaded
        ),
        None => println!("DNS gate: off (hearth serve --dns-listen ADDR)"),
    }
    let f = &n.firewall;
    match (&f.error, f.applied, f.requested) {
        (Some(e), _, _) => println!("firewall: not applied — {e}"),
        (None, true, _) => println!(
            "firewall: applied (table inet hearth, {} devices; last answer to firewall {} µs, worst {} µs)",
            f.devices, f.last_fill_micros, f.worst_fill_micros
        ),
        _ => println!("firewall: off (hearth serve --apply-firewall on the home's Linux gateway, or hearth network export)"),
    }
}
