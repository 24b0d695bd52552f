//! The `hearth` command line (clap). `serve` and `demo` run here; the other commands talk to
//! the running hub through [`crate::client`].

use crate::api::types::{
    AddedDevice, AnonymousAccess, BrokerView, CredentialAction, Device, DeviceDetail, Direction, IssuedCredential, MergeChoice, RuleChoice,
    RuleStatus, TopicRuleRequest,
};
use crate::client::Client;

mod family;
mod identity;
mod network;
mod review;
mod sessions;
use crate::engine::{Engine, Options};
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "hearth", version, about = "Hearth: a local-first home hub that finds, brokers and guards your devices")]
pub struct Cli {
    /// Hearth's data directory (database, hearth.toml, owner token). Defaults to the platform's
    /// data directory, e.g. ~/.local/share/hearth.
    #[arg(long, global = true, env = "HEARTH_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// More detail in the log (repeat for even more).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the hub headless: discovery, the API and the web UI.
    Serve {
        /// Where the API and web UI listen (default 127.0.0.1:8470, or [http] listen); beyond
        /// loopback over HTTPS.
        #[arg(long, value_name = "ADDR")]
        http_listen: Option<SocketAddr>,
        /// Serve the web UI beyond loopback over plain HTTP instead of HTTPS from Hearth's own
        /// CA: only on a network you trust.
        #[arg(long)]
        allow_plain_http: bool,
        /// Use only this network interface for discovery (repeatable).
        #[arg(long = "interface", value_name = "NAME")]
        interfaces: Vec<String>,
        /// Do not run mDNS discovery.
        #[arg(long)]
        no_discovery: bool,
        /// Where the MQTT broker listens (default 0.0.0.0:1883, or [broker] listen).
        #[arg(long, value_name = "ADDR")]
        mqtt_listen: Option<SocketAddr>,
        /// Where the broker listens for MQTT over TLS (default 0.0.0.0:8883, or [broker] tls_listen).
        #[arg(long, value_name = "ADDR")]
        mqtts_listen: Option<SocketAddr>,
        /// Do not run the MQTT broker.
        #[arg(long)]
        no_broker: bool,
        /// Run the DNS gate here (UDP and TCP), e.g. 0.0.0.0:53; off by default ([network] dns_listen).
        #[arg(long, value_name = "ADDR")]
        dns_listen: Option<SocketAddr>,
        /// Where the DNS gate forwards (repeatable; default: this machine's resolvers).
        #[arg(long = "dns-upstream", value_name = "ADDR")]
        dns_upstream: Vec<SocketAddr>,
        /// Apply the network permissions to this machine's nftables (Hearth on the home's Linux
        /// gateway, with CAP_NET_ADMIN); the table is removed on exit.
        #[arg(long)]
        apply_firewall: bool,
    },
    /// List the devices the running hub knows.
    Devices {
        #[arg(long)]
        json: bool,
    },
    /// Show or decide about one device.
    Device {
        #[command(subcommand)]
        action: DeviceAction,
    },
    /// The running hub's state.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Print a new one-time sign-in link for the web UI.
    Open,
    /// The household: its members, their roles, invitations and rights.
    Member {
        #[command(subcommand)]
        action: family::MemberAction,
    },
    /// Rooms, and which room a device is in.
    Room {
        #[command(subcommand)]
        action: family::RoomAction,
    },
    /// Operates a device's switch, light, cover, lock or button (`hearth control DEVICE` lists
    /// them); a lock needs --yes.
    Control {
        device: String,
        entity: Option<String>,
        #[arg(value_parser = ["on", "off", "open", "close", "stop", "lock", "unlock", "press"])]
        action: Option<String>,
        #[arg(long)]
        brightness: Option<u8>,
        #[arg(long)]
        yes: bool,
    },
    /// Who did what, newest first (refused attempts included).
    Audit {
        /// Only what this member did (their id, from `hearth member list`).
        #[arg(long)]
        member: Option<String>,
        /// Only what concerns this device.
        #[arg(long)]
        device: Option<String>,
        /// How far back (`24h`, `7d`, `30d`).
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Runs any of the hub's commands by name, with key=value arguments, e.g.
    /// `hearth call add_member name=Kim role=child`, `hearth call invite member=m-... hours=24`,
    /// `hearth call add_grant grant='{"member":"m-...","right":"control","target":{"kind":"room","id":1},"effect":"allow"}'`.
    /// `hearth call list` names them all.
    Call {
        command: String,
        #[arg(value_name = "KEY=VALUE")]
        args: Vec<String>,
    },
    /// Where you are signed in to the web UI (browsers), and signing them out.
    #[command(args_conflicts_with_subcommands = true)]
    Sessions {
        #[command(subcommand)]
        action: Option<sessions::SessionsAction>,
        #[arg(long)]
        json: bool,
    },
    /// What devices send: one device's kinds of data, topics, fields and refusals, or without an
    /// ID the home's devices, most sensitive first, and what changed.
    Review {
        id: Option<String>,
        /// How far back: 90m, 24h, 7d, 4w.
        #[arg(long, value_name = "DURATION", default_value = "7d")]
        since: String,
        #[arg(long)]
        json: bool,
    },
    /// Everything Hearth holds about a device, as JSON; with --csv its messages as CSV.
    Export {
        id: String,
        #[arg(long)]
        csv: bool,
    },
    /// How long each kind of a device's data is kept, and fields removed from its messages.
    Privacy {
        #[command(subcommand)]
        action: review::PrivacyAction,
    },
    /// Records an announcement said are one device (you decide), and announcements Hearth ignored.
    Identity {
        #[arg(long)]
        json: bool,
    },
    /// MUD files (RFC 8520): a maker's description of what a device needs to reach.
    Mud {
        #[command(subcommand)]
        action: network::MudAction,
    },
    /// The home's network permissions as a firewall for a gateway.
    Network {
        #[command(subcommand)]
        action: network::NetworkAction,
    },
    /// Announce a simulated home over mDNS, for trying Hearth without devices.
    Demo(crate::demo::DemoArgs),
    /// Write the home (devices, credentials, rules, privacy settings, ledger, members, and
    /// Hearth's CA with its key) to one file, encrypted with a passphrase.
    Backup {
        file: PathBuf,
        /// Read the passphrase from this file's first line (else HEARTH_BACKUP_PASSPHRASE, else
        /// it is asked on the terminal).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Put a backup in place in an empty data directory (a new machine), migrating it if it
    /// came from an older Hearth.
    Restore {
        file: PathBuf,
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeviceAction {
    /// Everything Hearth knows about a device.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Let a device out of quarantine.
    Approve { id: String },
    /// Block a device.
    Block { id: String },
    /// Delete a device and every record about it.
    Forget { id: String },
    /// Add a device that does not announce itself (approved), and print its MQTT credential once.
    Add {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Issue a new MQTT secret (printed once), revoke the credential, or bind it to one client
    /// id; each disconnects the device.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["rotate", "revoke", "bind_client_id", "unbind_client_id"])))]
    Credentials {
        id: String,
        #[arg(long)]
        rotate: bool,
        #[arg(long)]
        revoke: bool,
        /// Only this client id may use the credential, and no other device may use this client id.
        #[arg(long, value_name = "CLIENT_ID")]
        bind_client_id: Option<String>,
        #[arg(long)]
        unbind_client_id: bool,
        #[arg(long)]
        json: bool,
    },
    /// The device's manifest: topics allowed, denied, and tried but not allowed (learned).
    Topics {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Let a device that cannot do credentials connect without one, only with this client id
    /// (and from this address, if given); --off ends it.
    #[command(group(clap::ArgGroup::new("pin").required(true).args(["client_id", "off"])))]
    Anonymous {
        id: String,
        #[arg(long, value_name = "CLIENT_ID")]
        client_id: Option<String>,
        #[arg(long, value_name = "IP", requires = "client_id")]
        address: Option<String>,
        #[arg(long)]
        off: bool,
    },
    /// Give an entity another device described first to this device (by its discovery topic or
    /// its unique_id): only this device may describe it from now on.
    #[command(group(clap::ArgGroup::new("entity").required(true).args(["topic", "unique_id"])))]
    TakeEntity {
        id: String,
        #[arg(long, value_name = "DISCOVERY_TOPIC")]
        topic: Option<String>,
        #[arg(long, value_name = "UNIQUE_ID")]
        unique_id: Option<String>,
    },
    /// Join two records of one device, keeping the stricter of every decision (a block survives).
    Merge { id: String, other: String },
    /// Two records are two devices: Hearth stops asking whether they are one.
    KeepApart { id: String, other: String },
    /// Set how far the device may reach beyond the home: home_only, allowed_list or unrestricted.
    Internet { id: String, level: String },
    /// The names the device asked Hearth's resolver for, its rules, and what waits for you.
    Destinations {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Let the device reach a domain and the names under it (at the allowed_list level).
    AllowDomain { id: String, name: String },
    /// Refuse the device a domain and the names under it, at every level.
    DenyDomain { id: String, name: String },
    /// Remove the device's rule for exactly this domain.
    RemoveDomain { id: String, name: String },
    /// Allow the device to publish or subscribe to a topic pattern (`+` one level, `#` the rest).
    Allow(TopicArgs),
    /// Deny a topic pattern (a denial wins over an allowance).
    Deny(TopicArgs),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("direction").required(true).args(["publish", "subscribe"])))]
pub struct TopicArgs {
    id: String,
    #[arg(long, value_name = "PATTERN")]
    publish: Option<String>,
    #[arg(long, value_name = "PATTERN")]
    subscribe: Option<String>,
}

impl TopicArgs {
    fn request(self, rule: RuleChoice) -> (String, TopicRuleRequest) {
        let (direction, pattern) = match (self.publish, self.subscribe) {
            (Some(p), _) => (Direction::Publish, p),
            (None, Some(p)) => (Direction::Subscribe, p),
            // clap's group requires one of the two.
            (None, None) => (Direction::Publish, String::new()),
        };
        (self.id, TopicRuleRequest { direction, pattern, rule })
    }
}

pub async fn run(cli: Cli) -> Result<()> {
    let data_dir = crate::data_dir::resolve(cli.data_dir)?;
    match cli.command {
        Command::Serve {
            http_listen,
            allow_plain_http,
            interfaces,
            no_discovery,
            mqtt_listen,
            mqtts_listen,
            no_broker,
            dns_listen,
            dns_upstream,
            apply_firewall,
        } => {
            serve(Options {
                data_dir,
                http_listen,
                allow_plain_http,
                interfaces,
                no_discovery,
                mqtt_listen,
                mqtts_listen,
                no_broker,
                dns_listen,
                dns_upstream,
                apply_firewall,
            })
            .await
        }
        Command::Demo(args) => crate::demo::run(args, &data_dir).await,
        Command::Backup { file, passphrase_file } => {
            let passphrase = crate::backup::passphrase(passphrase_file.as_deref(), true)?;
            let started = std::time::Instant::now();
            let written =
                tokio::task::spawn_blocking(move || crate::backup::backup(&data_dir, &file, passphrase).map(|w| (w, file))).await??;
            let (w, file) = written;
            println!(
                "Backed up {} device{}{} to {} ({} bytes, {:.1} s). Keep the passphrase: without it the backup cannot be opened.",
                w.devices,
                if w.devices == 1 { "" } else { "s" },
                if w.with_ca_key {
                    " and Hearth's CA with its key"
                } else {
                    " (no CA key was found: devices using TLS will need the new ca.pem)"
                },
                file.display(),
                w.bytes,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Restore { file, passphrase_file } => {
            let passphrase = crate::backup::passphrase(passphrase_file.as_deref(), false)?;
            let dir = data_dir.clone();
            let r = tokio::task::spawn_blocking(move || crate::backup::restore(&file, &dir, passphrase)).await??;
            println!(
                "Restored {} device{} from a backup of {} (Hearth {}){}{} into {}. Start Hearth with this data directory.",
                r.devices,
                if r.devices == 1 { "" } else { "s" },
                time::OffsetDateTime::from_unix_timestamp(r.manifest.created_at / 1000)
                    .ok()
                    .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                    .unwrap_or_default(),
                r.manifest.hearth_version,
                if r.with_ca_key { ", with Hearth's CA and its key" } else { "" },
                if r.kept_config { "; the hearth.toml already here was kept" } else { "" },
                data_dir.display()
            );
            Ok(())
        }
        Command::Devices { json } => {
            let devices = Client::for_data_dir(&data_dir)?.devices().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&devices)?);
            } else {
                print_devices(&devices);
            }
            Ok(())
        }
        Command::Status { json } => {
            let status = Client::for_data_dir(&data_dir)?.status().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                println!(
                    "Hearth {} — {} devices ({} new, {} online)",
                    status.version, status.devices, status.devices_new, status.devices_online
                );
                println!("data directory: {}", status.data_dir);
                if let Some(since) = status.recording.paused_since {
                    println!(
                        "RECORDING STOPPED since {since} (ms since the epoch): the data directory's disk is full. Devices are still brokered; \
                         {} records were not written. Free some space: recording resumes by itself.",
                        status.recording.not_recorded
                    );
                }
                if !status.last_shutdown.clean {
                    println!(
                        "the last run did not stop cleanly (killed, crashed or power lost); database check: {}",
                        status.last_shutdown.database_check.as_deref().unwrap_or("not run")
                    );
                }
                if status.last_shutdown.mqtt_save_failed {
                    println!(
                        "the last stop could not save the MQTT sessions and retained messages (was the disk full? its log says why): what changed in them \
                         after the last save that worked (they are saved every second while there is room) is lost: messages queued for \
                         offline devices, subscriptions, retained messages"
                    );
                }
                match &status.secret_storage {
                    crate::api::types::SecretStorage::Keyring => println!("secrets: OS keyring"),
                    crate::api::types::SecretStorage::File { path, reason } => println!("secrets: file {path} ({reason})"),
                }
                let b = &status.broker;
                match &b.address {
                    Some(address) if b.enabled => println!(
                        "MQTT broker: {address}{}, {} connections; {} messages lost to full queues, {} decisions unrecorded",
                        b.tls_address.as_ref().map(|t| format!(" and TLS on {t}")).unwrap_or_default(),
                        b.connections,
                        b.lost_messages,
                        b.unrecorded_decisions
                    ),
                    _ => println!("MQTT broker: off"),
                }
                if b.enabled {
                    println!(
                        "retained messages: {} ({} bytes){}; refused connections in the last day: {} from {} addresses (an IPv6 network counting as one)",
                        b.retained.messages,
                        b.retained.bytes,
                        if b.retained.refused > 0 { format!(", {} refused for a limit", b.retained.refused) } else { String::new() },
                        b.refused_connections,
                        b.refused_addresses
                    );
                }
                if b.payloads_dropped + b.aggregated_messages > 0 {
                    println!(
                        "ledger: behind at times: {} payloads left out (metadata kept), {} messages kept only as counts",
                        b.payloads_dropped, b.aggregated_messages
                    );
                }
                if let Some(ca) = &status.ca {
                    print_ca(ca);
                }
                let d = &status.discovery;
                match (&d.error, d.enabled) {
                    (Some(e), _) => println!("discovery: off — {e}"),
                    (None, false) => println!("discovery: off"),
                    (None, true) => println!(
                        "discovery: {} service types on {}",
                        d.service_types.len(),
                        if d.interfaces.is_empty() { "all interfaces".into() } else { d.interfaces.join(", ") }
                    ),
                }
                network::print_status(&status.network);
            }
            Ok(())
        }
        Command::Open => {
            println!("{}", Client::for_data_dir(&data_dir)?.login_url().await?);
            Ok(())
        }
        Command::Member { action } => family::member(&Client::for_data_dir(&data_dir)?, action).await,
        Command::Room { action } => family::room(&Client::for_data_dir(&data_dir)?, action).await,
        Command::Control { device, entity, action, brightness, yes } => {
            family::control(&Client::for_data_dir(&data_dir)?, &device, entity.as_deref(), action.as_deref(), brightness, yes).await
        }
        Command::Audit { member, device, since, json } => {
            family::audit(&Client::for_data_dir(&data_dir)?, member, device, since, json).await
        }
        Command::Call { command, args } => {
            if command == "list" {
                for spec in crate::api::commands::COMMANDS {
                    println!("{:<20} {:<6} /api/v1{}", spec.name, spec.method, spec.path);
                }
                return Ok(());
            }
            let answer = family::call(&Client::for_data_dir(&data_dir)?, &command, family::parse_args(&args)?).await?;
            if let Some(answer) = answer {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            }
            Ok(())
        }
        Command::Sessions { action, json } => sessions::run(&Client::for_data_dir(&data_dir)?, action, json).await,
        Command::Review { id, since, json } => review::review(&Client::for_data_dir(&data_dir)?, id.as_deref(), &since, json).await,
        Command::Export { id, csv } => review::export(&Client::for_data_dir(&data_dir)?, &id, csv).await,
        Command::Privacy { action } => review::privacy(&Client::for_data_dir(&data_dir)?, action).await,
        Command::Identity { json } => identity::review(&Client::for_data_dir(&data_dir)?, json).await,
        Command::Mud { action } => network::mud(&Client::for_data_dir(&data_dir)?, action).await,
        Command::Network { action } => network::network(&Client::for_data_dir(&data_dir)?, action).await,
        Command::Device { action } => {
            let client = Client::for_data_dir(&data_dir)?;
            match action {
                DeviceAction::Show { id, json } => {
                    let detail = client.device(&id).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&detail.device)?);
                    } else {
                        print_detail(&detail);
                    }
                }
                DeviceAction::Approve { id } => report(&client.decide(&id, "approve").await?),
                DeviceAction::Block { id } => report(&client.decide(&id, "block").await?),
                DeviceAction::Forget { id } => {
                    client.forget(&id).await?;
                    println!("{id} forgotten: every record about it was deleted. If it announces itself again it returns as new.");
                }
                DeviceAction::Add { name, json } => {
                    let added = client.add_device(&name).await?;
                    if json {
                        print_added_json(&added)?;
                    } else {
                        println!("Added {} ({}), approved.", added.device.name, added.device.id);
                        print_credential(&added.credential);
                    }
                }
                DeviceAction::Credentials { id, bind_client_id, unbind_client_id, json, .. }
                    if bind_client_id.is_some() || unbind_client_id =>
                {
                    let view = client.bind_client_id(&id, bind_client_id.as_deref()).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&view)?);
                    } else {
                        print_topics(&view);
                    }
                }
                DeviceAction::Credentials { id, rotate, json, .. } => {
                    let action = if rotate { CredentialAction::Rotate } else { CredentialAction::Revoke };
                    match (client.credential(&id, action).await?, json) {
                        (Some(issued), true) => println!("{}", serde_json::to_string_pretty(&issued)?),
                        (Some(issued), false) => print_credential(&issued),
                        (None, true) => println!("{}", serde_json::json!({ "id": id, "revoked": true })),
                        (None, false) => println!("The MQTT credential of {id} is revoked; its clients were disconnected."),
                    }
                }
                DeviceAction::Anonymous { id, client_id, address, off: _ } => {
                    let access = client_id.map(|client_id| AnonymousAccess { client_id, address });
                    print_topics(&client.set_anonymous(&id, access).await?);
                }
                DeviceAction::Topics { id, json } => {
                    let view = client.broker_view(&id).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&view)?);
                    } else {
                        print_topics(&view);
                    }
                }
                DeviceAction::TakeEntity { id, topic, unique_id } => {
                    let claim = match (topic, unique_id) {
                        (Some(t), _) => crate::api::types::EntityClaim::Topic(t),
                        (None, Some(u)) => crate::api::types::EntityClaim::UniqueId(u),
                        (None, None) => anyhow::bail!("name the entity with --topic or --unique-id"),
                    };
                    print_topics(&client.give_entity(&id, &claim).await?);
                }
                DeviceAction::Internet { id, level } => network::set_level(&client, &id, &level).await?,
                DeviceAction::Destinations { id, json } => network::destinations(&client, &id, json).await?,
                DeviceAction::AllowDomain { id, name } => {
                    network::set_domain(&client, &id, &name, crate::api::network::DomainChoice::Allow).await?;
                }
                DeviceAction::DenyDomain { id, name } => {
                    network::set_domain(&client, &id, &name, crate::api::network::DomainChoice::Deny).await?;
                }
                DeviceAction::RemoveDomain { id, name } => {
                    network::set_domain(&client, &id, &name, crate::api::network::DomainChoice::Remove).await?;
                }
                DeviceAction::Merge { id, other } => identity::answer(&client, &id, &other, MergeChoice::Merge).await?,
                DeviceAction::KeepApart { id, other } => identity::answer(&client, &id, &other, MergeChoice::KeepApart).await?,
                DeviceAction::Allow(args) => {
                    let (id, request) = args.request(RuleChoice::Allow);
                    print_topics(&client.set_topic_rule(&id, &request).await?);
                }
                DeviceAction::Deny(args) => {
                    let (id, request) = args.request(RuleChoice::Deny);
                    print_topics(&client.set_topic_rule(&id, &request).await?);
                }
            }
            Ok(())
        }
    }
}

async fn serve(options: Options) -> Result<()> {
    let engine = Engine::start(options).await?;
    let link = engine.login_url()?;
    println!("Hearth is running. Open the web UI with this one-time link (valid 15 minutes, one use):");
    println!("  {link}");
    let path = link.trim_start_matches(&engine.url());
    for base in engine.network_urls() {
        println!("  {base}{path}   (from another device of the home)");
    }
    println!("Run `hearth open` for a new link. Stop with Ctrl+C.");
    shutdown_signal().await;
    tracing::info!("stopping");
    engine.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl+C or SIGTERM (what `kill` and service managers send).
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// `--json` of `device add`: the device's fields with its credential, `id`, `username` and
/// `password` at the top level for scripts.
fn print_added_json(added: &AddedDevice) -> Result<()> {
    let mut value = serde_json::to_value(&added.device)?;
    if let Some(object) = value.as_object_mut() {
        object.insert("username".into(), added.credential.username.clone().into());
        object.insert("password".into(), added.credential.password.clone().into());
        object.insert("broker".into(), added.credential.broker.clone().into());
    }
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

fn print_credential(c: &IssuedCredential) {
    // (TLS: the device page and `hearth device topics` name the TLS address and the CA file.)
    println!("MQTT credential for {} (shown only now; Hearth keeps only its hash):", c.device_id);
    println!("  broker:   {}", c.broker);
    println!("  username: {}", c.username);
    println!("  password: {}", c.password);
}

fn print_topics(view: &BrokerView) {
    match &view.credential {
        Some(c) => println!(
            "MQTT username {}{}",
            c.username,
            c.client_id.as_ref().map(|id| format!(", bound to client id {id}")).unwrap_or_default()
        ),
        None => println!("No MQTT credential (`hearth device credentials {} --rotate` issues one).", view.device_id),
    }
    if let Some(a) = &view.anonymous {
        println!(
            "May connect without a credential as client id {}{}",
            a.client_id,
            a.address.as_ref().map(|ip| format!(" from {ip}")).unwrap_or_default()
        );
    }
    for s in &view.sessions {
        println!("connected: client {} from {} (MQTT {})", s.client_id, s.remote.as_deref().unwrap_or("?"), s.protocol);
    }
    for h in &view.client_id_holders {
        let who = match (&h.name, &h.device_id) {
            (Some(name), Some(id)) => format!("{name} ({id})"),
            _ => "a client Hearth no longer knows".to_owned(),
        };
        println!(
            "client id {} is held by {who}, {}",
            h.client_id,
            if h.connected { "connected now" } else { "in an offline session kept for its return" }
        );
    }
    for c in &view.connections {
        let outcome = c.refused.map_or("accepted".to_owned(), |r| format!("refused ({})", r.as_str()));
        println!(
            "connections from {}: {} {outcome}, last as client {}",
            c.address.as_deref().unwrap_or("an unknown address"),
            c.count,
            c.client_id
        );
    }
    for c in &view.contested {
        let what = match &c.claim {
            crate::api::types::EntityClaim::Topic(t) => format!("--topic {t}"),
            crate::api::types::EntityClaim::UniqueId(u) => format!("--unique-id {u}"),
        };
        println!(
            "refused discovery {}: {} ({}) describes this entity already; to give it to this device: hearth device take-entity {} {what}",
            c.topic, c.holder_name, c.holder_id, view.device_id
        );
    }
    if view.retained.messages + view.retained.refused > 0 {
        println!(
            "retained: {} messages ({} bytes){}",
            view.retained.messages,
            view.retained.bytes,
            if view.retained.refused > 0 { format!(", {} refused for its limit", view.retained.refused) } else { String::new() }
        );
    }
    if view.rules.is_empty() {
        println!("No topic rules yet: the device may neither publish nor subscribe. What it tries is listed here as learned.");
    }
    for r in &view.rules {
        let tries = if r.status == RuleStatus::Learned { format!("  (tried {} times)", r.tries) } else { String::new() };
        let warning = match &r.concerns {
            Some(c) if c.owned => format!("  — careful: this is {}'s topic ({})", c.name, c.device_id),
            Some(c) => format!("  — careful: this reaches {} ({})", c.name, c.device_id),
            None => String::new(),
        };
        println!("{:<9} {:<9} {}{tries}{warning}", r.status.as_str(), r.direction.as_str(), r.pattern);
    }
    print_described(view);
}

/// What the device's discovery messages describe, device by device.
fn print_described(view: &BrokerView) {
    for group in &view.described {
        let heading = match &group.device {
            Some(d) => {
                let made = [d.vendor.as_deref(), d.model.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
                format!("{} ({}{})", d.name, d.key, if made.is_empty() { String::new() } else { format!(", {made}") })
            }
            None => "entities naming no device".to_owned(),
        };
        println!("described by {}: {heading}", group.source.as_str());
        for e in &group.entities {
            let unit = e.unit.as_ref().map(|u| format!(" [{u}]")).unwrap_or_default();
            let topics = [e.state_topic.as_ref().map(|t| format!("state {t}")), e.command_topic.as_ref().map(|t| format!("commands {t}"))];
            let topics = topics.into_iter().flatten().collect::<Vec<_>>().join(", ");
            println!("  {:<14} {}{unit}  {topics}", e.component, e.name);
        }
    }
}

/// Hearth's CA, and loudly, when it was replaced at this start, what the person must do.
fn print_ca(ca: &crate::api::types::CaStatus) {
    println!(
        "TLS: Hearth's CA {} (valid until {}), server certificate valid until {}",
        ca.file,
        date(ca.expires_at),
        date(ca.server_expires_at)
    );
    if ca.mqtt_restart_needed {
        println!(
            "The server certificate was renewed while Hearth ran; MQTT over TLS uses it after a restart: restart Hearth before {}.",
            date(ca.server_expires_at)
        );
    }
    if let Some(why) = ca.replaced {
        println!();
        println!("!! Hearth's certificate authority was REPLACED when the hub started: {}.", why.reason());
        println!("!! Install the new {} on every phone, computer and device that uses Hearth over TLS", ca.file);
        println!("!! (the web UI over HTTPS, MQTT on 8883), and remove the old \"Hearth home CA\" from them;");
        println!("!! until then they refuse to connect to Hearth.");
        println!();
    }
}

/// A date as people read it (UTC), from milliseconds since the epoch.
fn date(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000).map_or_else(|_| ms.to_string(), |t| t.date().to_string())
}

fn report(device: &Device) {
    println!("{} ({}) is now {}", device.name, device.id, device.state);
}

fn print_devices(devices: &[Device]) {
    if devices.is_empty() {
        println!("No devices yet. Hearth is listening for mDNS announcements; most devices announce within a minute of power-up.");
        return;
    }
    println!("{:<16} {:<9} {:<7} {:<13} {:<28} NAME", "ID", "STATE", "ONLINE", "KIND", "VENDOR / MODEL");
    for d in devices {
        let kind = serde_json::to_value(d.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let vm = [d.vendor.as_deref(), d.model.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        println!(
            "{:<16} {:<9} {:<7} {:<13} {:<28} {}",
            d.id,
            d.state,
            if d.online { "yes" } else { "no" },
            kind,
            truncate(&vm, 28),
            d.name
        );
    }
}

fn print_detail(detail: &DeviceDetail) {
    let d = &detail.device;
    println!("{} ({})", d.name, d.id);
    println!("  state     {}{}", d.state, if d.online { ", online" } else { ", offline" });
    println!("  kind      {:?}  vendor {}  model {}", d.kind, d.vendor.as_deref().unwrap_or("-"), d.model.as_deref().unwrap_or("-"));
    println!("  recognised by {}", d.reason);
    println!("  addresses {}", d.addresses.join(", "));
    println!("  identity  {}", detail.identity_keys.join(", "));
    for s in &d.services {
        println!(
            "  service   {} \"{}\" host {} port {}{}",
            s.service_type,
            s.instance,
            s.host,
            s.port,
            if s.present { "" } else { " (gone)" }
        );
        for t in &s.txt {
            println!("              {}={}", t.key, t.value);
        }
    }
    for p in &detail.merge_proposals {
        println!("  question  {}", identity::describe(p));
    }
    println!("  history");
    for h in &detail.history {
        let from = h.from.map(|f| format!("{f} → ")).unwrap_or_default();
        println!("    {} {}{} by {} via {}", h.at, from, h.to, h.actor.as_str(), h.origin);
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_owned() } else { format!("{}…", s.chars().take(max - 1).collect::<String>()) }
}
