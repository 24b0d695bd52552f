//! Hearth's broker on a hostile home network, under a steady legitimate load (`./scripts/bench`
//! runs it inside the private network namespace; `./scripts/bench hostile` runs only it).
//!
//! One `hearth serve` listens on 0.0.0.0 with its log going to a file outside its data directory.
//! 500 devices, each with its own credential (`hearth device add`, allowed `home/N/#`), connect
//! from 127.0.0.1 with rumqttc and publish a 64-byte QoS 1 message (stamped with the time it was
//! sent) every 500 ms on `home/N/telemetry`, one message in flight at a time as firmware does; one
//! dashboard subscribed to `home/#` receives everything and times publish → delivery. Every
//! message a device saw acknowledged must reach the dashboard.
//!
//! Two phases of the same length and the same legitimate load: a baseline, then the same with
//! hostile clients. Per phase: messages sent, acknowledged, received, missing; the delivery rate
//! and p50/p99 latency; Hearth's peak resident memory and open files (sampled every 250 ms), its
//! CPU time; the growth of the data directory (every file, recursively) and of the log, measured
//! after the phase and a 2 s settle; what the new log lines were.
//!
//! The hostile clients (tokio tasks; raw TCP, since no client library sends this) come from
//! other hosts of the home network, so that the broker's per-address limit (an address refused
//! 30 times in a minute is refused without a look for the rest of it) falls on them and not on
//! the home's devices on 127.0.0.1:
//! - from 10.77.0.2, a laptop with no credential:
//!   - slowloris: connections trickling a CONNECT one byte every 2 s, (a) stopping before the 9
//!     bytes rmqtt needs to detect the protocol version (upstream rmqtt-net 0.5 held them forever;
//!     Hearth's patch closes them after the 10 s handshake timeout; they reconnect), (b) sending the protocol header at once, then trickling (Hearth's 10 s
//!     handshake timeout should close them; they reconnect);
//!   - oversized CONNECTs: a remaining length of 2 MiB (the limit is 1 MiB), then the bytes;
//!   - wrong-password floods: reconnecting as fast as possible with a home device's username and
//!     a wrong password, a 60 KB username, or a 60 KB client id, each with a 60 KB Will topic;
//! - from 10.77.0.3, a compromised device with its own credential (publish and subscribe
//!   `evil/#`), so that the flood's address limit does not hide what it does:
//!   - a retained flood: 4 KB retained messages on ever-new topics `evil/r/N`, 32 in flight;
//!   - a subscription storm: SUBSCRIBE packets of 50 filters, 40 refused by its manifest
//!     (`other/K/I/#`) and 10 allowed (`evil/s/K/I`);
//!   - oversized PUBLISHes (2 MiB declared) after a CONNECT with its credential;
//!   - the findings: CONNECTs with a Will on a home device's `home/N/state` with an empty
//!     retained payload, cut without a DISCONNECT; and every 2.5 s a CONNECT with a home device's
//!     client id (squatting; refused while the device holds it).
//!
//! Each home device retained `home/N/state` before the phases; at the end a new subscriber checks
//! that every one is still served unchanged.
//!
//! Usage: cargo bench -p hearth --bench hostile -- HEARTH_BINARY
//! (HEARTH_HOSTILE_PHASE_SECS and HEARTH_HOSTILE_DEVICES change the phase length and the number
//! of devices, for a quick try; HEARTH_HOSTILE_TASKS=retained_flood,wills runs only those hostile
//! tasks, to see which one costs what.)

#[path = "common/process.rs"]
mod process;

use anyhow::{Context, Result, bail};
use process::{cpu_seconds, rss_kib};
use rumqttc::{AsyncClient, Event, MqttOptions, NetworkOptions, Outgoing, Packet, QoS};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

const PORT: u16 = 18850;
/// Legitimate devices, each its own credential and client id.
const DEVICES: usize = 500;
/// Each phase (baseline, then hostile), seconds.
const PHASE_SECS: u64 = 30;
const INTERVAL: Duration = Duration::from_millis(500);
const PAYLOAD: usize = 64;
/// How long a device waits for its PUBACK before it counts the message as not acknowledged.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// After a phase, how long acknowledged messages may take to arrive.
const DRAIN: Duration = Duration::from_secs(20);
const SETTLE: Duration = Duration::from_secs(2);
/// CLI calls at once while adding the devices.
const CLI_THREADS: usize = 8;

/// The laptop with no credential, and the compromised device (its own host); the broker's
/// address on the home network.
const ATTACKER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const COMPROMISED: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 3);
const HUB_LAN: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);

const SLOW_PRE_VERSION: usize = 150;
const SLOW_POST_HEADER: usize = 150;
const SLOW_BYTE_EVERY: Duration = Duration::from_secs(2);
/// Bytes a pre-version slowloris sends: rmqtt needs 9 to see the protocol level.
const SLOW_PRE_VERSION_BYTES: usize = 8;
/// Bytes a post-header slowloris sends at once: fixed header, protocol name, level, flags, keep-alive.
const SLOW_HEADER_BYTES: usize = 12;
/// Before the other hostile clients start, the slowloris connections alone (their cost).
const SLOW_LEAD: Duration = Duration::from_secs(3);
const OVERSIZED_CONNECT_TASKS: usize = 2;
const OVERSIZED_PUBLISH_TASKS: usize = 1;
const OVERSIZED: usize = 2 << 20;
const WRONG_PASSWORD_TASKS: usize = 4;
const HUGE: usize = 60_000;
const RETAINED_BYTES: usize = 4096;
const RETAINED_WINDOW: usize = 32;
const STORM_REFUSED_PER_PACKET: usize = 40;
const STORM_ALLOWED_PER_PACKET: usize = 10;
const WILL_TASKS: usize = 2;
const SQUAT_EVERY: Duration = Duration::from_millis(2500);

#[derive(Debug, Clone)]
struct Config {
    devices: usize,
    phase: Duration,
    tasks: Vec<String>,
}

/// Every hostile task; HEARTH_HOSTILE_TASKS=a,b runs only those (to see which one costs what).
const HOSTILE_TASKS: [&str; 8] =
    ["slowloris", "oversized_connect", "oversized_publish", "wrong_passwords", "retained_flood", "subscription_storm", "wills", "squats"];

/// The hub and the credentials the clients use.
#[derive(Debug)]
struct Hub {
    binary: PathBuf,
    data: PathBuf,
    log: PathBuf,
    process: Child,
    _dir: tempfile::TempDir,
    dashboard: (String, String),
    evil: (String, String),
    devices: Vec<(String, String)>,
    /// Where the hostile clients reach the broker, and from where.
    lan: SocketAddr,
    compromised_from: IpAddr,
    setup_notes: Value,
}

impl Hub {
    fn pid(&self) -> u32 {
        self.process.id()
    }

    fn cli(&self, args: &[&str]) -> Result<Value> {
        cli(&self.binary, &self.data, args)
    }

    fn broker_status(&self) -> Value {
        match self.cli(&["status", "--json"]) {
            Ok(status) => {
                let b = &status["broker"];
                json!({ "connections": b["connections"], "retained": b["retained"], "refused_connections": b["refused_connections"],
                        "refused_addresses": b["refused_addresses"], "unrecorded_decisions": b["unrecorded_decisions"],
                        "payloads_dropped": b["payloads_dropped"], "aggregated_messages": b["aggregated_messages"],
                        "lost_messages": b["lost_messages"] })
            }
            Err(e) => json!({ "error": format!("{e:#}") }),
        }
    }
}

fn cli(binary: &Path, data: &Path, args: &[&str]) -> Result<Value> {
    let out = Command::new(binary).args(args).arg("--data-dir").arg(data).output()?;
    if !out.status.success() {
        bail!("hearth {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout).unwrap_or(Value::Null))
}

fn main() -> Result<()> {
    let binary = std::env::args().skip(1).find(|a| !a.starts_with('-')).map(PathBuf::from).context("usage: hostile HEARTH_BINARY")?;
    if std::env::var("HEARTH_IN_NETNS").as_deref() != Ok("1") {
        bail!("run this inside the private network namespace: ./scripts/bench does");
    }
    let env = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let config = Config {
        devices: env("HEARTH_HOSTILE_DEVICES", DEVICES as u64) as usize,
        phase: Duration::from_secs(env("HEARTH_HOSTILE_PHASE_SECS", PHASE_SECS)),
        tasks: match std::env::var("HEARTH_HOSTILE_TASKS") {
            Ok(list) => list.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect(),
            Err(_) => HOSTILE_TASKS.iter().map(|t| (*t).to_owned()).collect(),
        },
    };
    if let Some(unknown) = config.tasks.iter().find(|t| !HOSTILE_TASKS.contains(&t.as_str())) {
        bail!("unknown hostile task {unknown:?}; the tasks are {}", HOSTILE_TASKS.join(", "));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut hub = start_hearth(&binary, &config)?;
    let outcome = runtime.block_on(run(&hub, &config));
    let exit = stop_hearth(&mut hub);
    let mut report = outcome?;
    report["hearth_exit"] = exit;
    let started = |phase: &str| report[phase]["started_ms"].as_u64().unwrap_or(0);
    report["database_after_stop"] = database_report(&hub.data, started("baseline"), started("hostile"));
    eprintln!("hostile: database after stop: {}", report["database_after_stop"]);
    println!("{report}");
    Ok(())
}

async fn run(hub: &Hub, config: &Config) -> Result<Value> {
    let inbox = Arc::new(Mutex::new(Inbox::default()));
    let (dashboard, dashboard_health) = dashboard(hub, inbox.clone()).await?;
    let health = Arc::new(Health::default());
    let stop = CancellationToken::new();
    let started = Instant::now();
    let mut devices = connect_devices(hub, config, &health, &stop).await?;
    let connect_all_s = started.elapsed().as_secs_f64();
    eprintln!("hostile: {} devices connected in {connect_all_s:.1} s", devices.len());
    // Each device's retained state, which the Wills of phase 2 try to erase.
    let mut states = Vec::new();
    for device in devices.drain(..) {
        states.push(tokio::spawn(async move {
            let mut device = device;
            let n = device.n;
            let ok = publish_acked(&mut device, &format!("home/{n}/state"), true, format!("on-{n}").into_bytes()).await;
            (device, ok)
        }));
    }
    let mut states_acked = 0;
    for s in states {
        let (device, ok) = s.await?;
        states_acked += usize::from(ok);
        devices.push(device);
    }
    devices.sort_by_key(|d| d.n);
    tokio::time::sleep(Duration::from_secs(3)).await;

    let sampler = Sampler::start(hub.pid());
    let (devices, baseline) = run_phase(hub, config, devices, 0, &inbox, &health, &sampler, None).await?;
    let status_after_baseline = hub.broker_status();
    let hostile = Hostile::new(hub, config);
    let (devices, attacked) = run_phase(hub, config, devices, 1, &inbox, &health, &sampler, Some(&hostile)).await?;
    let retained = check_retained(hub, config).await;
    let status_end = hub.broker_status();
    // Once the attack is over: what the hub keeps.
    let hub_after = json!({ "rss_kib": rss_kib(hub.pid()), "fds": fds(hub.pid()) });
    stop.cancel();
    for d in devices {
        let _ = d.client.disconnect().await;
    }
    let _ = dashboard.disconnect().await;
    sampler.stop();

    let ratio = |a: f64, b: f64| if b > 0.0 { round2(a / b) } else { f64::NAN };
    let (inbox_state_ok, foreign_state) = {
        let inbox = inbox.lock().unwrap_or_else(|p| p.into_inner());
        (inbox.state_ok, inbox.foreign_state)
    };
    let lost = baseline.missing + attacked.missing;
    let report = json!({
        "setup": {
            "devices": config.devices, "credentials": "one per device (hearth device add), client ids legit-N",
            "phase_secs": config.phase.as_secs(), "hostile_tasks": config.tasks, "interval_ms": INTERVAL.as_millis() as u64, "payload_bytes": PAYLOAD, "qos": 1,
            "in_flight_per_device": 1, "legit_from": "127.0.0.1", "attacker_from": ATTACKER.to_string(),
            "compromised_from": hub.compromised_from.to_string(), "hostile_to": hub.lan.to_string(),
            "devices_connected_in_s": round2(connect_all_s), "states_retained": states_acked,
            "notes": hub.setup_notes,
        },
        "baseline": baseline.json, "hostile": attacked.json,
        "hostile_vs_baseline": {
            "rate": ratio(attacked.rate, baseline.rate), "p50": ratio(attacked.p50, baseline.p50), "p99": ratio(attacked.p99, baseline.p99),
            "rss_peak": ratio(attacked.rss_peak as f64, baseline.rss_peak as f64),
            "data_dir_growth": ratio(attacked.data_growth as f64, baseline.data_growth as f64),
            "log_growth": ratio(attacked.log_growth as f64, baseline.log_growth as f64),
        },
        "hostile_clients": hostile.report(),
        "legit": {
            "acknowledged_but_not_delivered": lost,
            "device_reconnects": health.connacks.load(Ordering::Relaxed).saturating_sub(config.devices as u64),
            "device_connection_errors": health.errors.load(Ordering::Relaxed),
            "dashboard_reconnects": dashboard_health.connacks.load(Ordering::Relaxed).saturating_sub(1),
            "dashboard_errors": dashboard_health.errors.load(Ordering::Relaxed),
            "states_seen_by_dashboard": inbox_state_ok, "foreign_state_messages": foreign_state,
            "retained_states_at_end": retained,
        },
        "broker_status_after_baseline": status_after_baseline,
        "broker_status_end": status_end,
        "hub_after_the_attack": hub_after,
    });
    summary(&report);
    Ok(report)
}

fn summary(r: &Value) {
    for phase in ["baseline", "hostile"] {
        let p = &r[phase];
        eprintln!(
            "hostile: {phase:8} sent {} acked {} received {} missing {} | {} msg/s, p50 {} ms, p99 {} ms | RSS peak {} KiB, fds peak {}, CPU {} s | data dir +{} B, log +{} B ({} lines)",
            p["sent"],
            p["acked"],
            p["received"],
            p["acked_missing"],
            p["rate_per_sec"],
            p["latency_ms"]["p50"],
            p["latency_ms"]["p99"],
            p["rss_kib"]["peak"],
            p["fds"]["peak"],
            p["cpu_s"],
            p["data_dir_bytes"]["growth"],
            p["log_bytes"]["growth"],
            p["log_lines"]["count"]
        );
    }
    let h = &r["hostile_clients"];
    eprintln!(
        "hostile: ratios hostile/baseline: rate {}, p99 {}; slowloris pre-version closed by the broker {} (after {} s median), post-header closed by the broker {} (after {} s median)",
        r["hostile_vs_baseline"]["rate"],
        r["hostile_vs_baseline"]["p99"],
        h["slowloris"]["pre_version"]["closed_by_broker"],
        h["slowloris"]["pre_version"]["closed_after_connect_s"]["p50"],
        h["slowloris"]["post_header"]["closed_by_broker"],
        h["slowloris"]["post_header"]["closed_after_header_s"]["p50"],
    );
    eprintln!(
        "hostile: legit acknowledged but not delivered: {}; device reconnects {}; retained states at the end {}; status {}",
        r["legit"]["acknowledged_but_not_delivered"],
        r["legit"]["device_reconnects"],
        r["legit"]["retained_states_at_end"],
        r["broker_status_end"]
    );
}

// --- the hub ----------------------------------------------------------------------------------

fn start_hearth(binary: &Path, config: &Config) -> Result<Hub> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let log = dir.path().join("serve.log");
    let process = Command::new(binary)
        .args([
            "serve",
            "--no-discovery",
            "--http-listen",
            "127.0.0.1:0",
            "--mqtt-listen",
            &format!("0.0.0.0:{PORT}"),
            "--mqtts-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&data)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .context("starting hearth serve")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !data.join("hub.json").exists() {
        if Instant::now() > deadline {
            bail!("hearth serve did not start: {}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut deadline_port = 0;
    while std::net::TcpStream::connect(("127.0.0.1", PORT)).is_err() {
        deadline_port += 1;
        if deadline_port > 200 {
            bail!("nothing listens on port {PORT}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut notes = serde_json::Map::new();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", process.id())).unwrap_or_default();
    if let Some(line) = limits.lines().find(|l| l.starts_with("Max open files")) {
        notes.insert("hub_open_files_limit".into(), line.split_whitespace().skip(3).take(2).collect::<Vec<_>>().join(" / ").into());
    }
    // The compromised device is a host of its own: give the namespace's device side one more
    // address (as the integration tests do), or share the laptop's if that fails.
    let compromised_from = match add_address(COMPROMISED) {
        Ok(()) => IpAddr::V4(COMPROMISED),
        Err(e) => {
            notes.insert("compromised_address".into(), format!("could not add {COMPROMISED} ({e:#}); it shares {ATTACKER}").into());
            IpAddr::V4(ATTACKER)
        }
    };
    // Which of the broker's addresses an attacker bound to its own address reaches.
    let lan = SocketAddr::from((HUB_LAN, PORT));
    let reach = |to: SocketAddr| {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
        socket.bind(&SocketAddr::from((ATTACKER, 0)).into()).ok()?;
        socket.connect_timeout(&to.into(), Duration::from_secs(2)).ok()
    };
    let loopback = SocketAddr::from(([127, 0, 0, 1], PORT));
    let reaches: serde_json::Map<String, Value> =
        [(lan.to_string(), reach(lan).is_some().into()), (loopback.to_string(), reach(loopback).is_some().into())].into_iter().collect();
    notes.insert("attacker_reaches".into(), reaches.into());
    if reach(lan).is_none() {
        bail!("a client bound to {ATTACKER} cannot reach the broker at {lan}");
    }

    let add = |name: &str, rules: &[(&str, String)]| -> Result<(String, String)> {
        let added = cli(binary, &data, &["device", "add", name, "--json"])?;
        let id = added["id"].as_str().context("no device id")?.to_owned();
        for (direction, pattern) in rules {
            cli(binary, &data, &["device", "allow", &id, direction, pattern])?;
        }
        Ok((added["username"].as_str().unwrap_or_default().to_owned(), added["password"].as_str().unwrap_or_default().to_owned()))
    };
    let dashboard = add("Dashboard", &[("--subscribe", "home/#".into())])?;
    let evil = add("Cheap plug", &[("--publish", "evil/#".into()), ("--subscribe", "evil/#".into())])?;
    let started = Instant::now();
    let slots: Mutex<Vec<Option<(String, String)>>> = Mutex::new(vec![None; config.devices]);
    let next = AtomicU64::new(0);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..CLI_THREADS {
            s.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if n >= config.devices {
                        return;
                    }
                    match add(&format!("Sensor {n:03}"), &[("--publish", format!("home/{n}/#"))]) {
                        Ok(credential) => slots.lock().unwrap_or_else(|p| p.into_inner())[n] = Some(credential),
                        Err(e) => {
                            *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e.context("adding the devices"));
    }
    let devices: Vec<(String, String)> = slots.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().flatten().collect();
    notes.insert("devices_added_in_s".into(), round2(started.elapsed().as_secs_f64()).into());
    eprintln!("hostile: {} devices added in {:.1} s", devices.len(), started.elapsed().as_secs_f64());
    Ok(Hub {
        binary: binary.to_path_buf(),
        data,
        log,
        process,
        _dir: dir,
        dashboard,
        evil,
        devices,
        lan,
        compromised_from,
        setup_notes: notes.into(),
    })
}

fn add_address(address: Ipv4Addr) -> Result<()> {
    let have = Command::new("ip").args(["-4", "addr", "show", "dev", "hearth1"]).output()?;
    if String::from_utf8_lossy(&have.stdout).contains(&format!("{address}/")) {
        return Ok(());
    }
    let out = Command::new("ip").args(["addr", "add", &format!("{address}/24"), "dev", "hearth1"]).output()?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// SIGTERM, then how it ended: its exit status and whether the log holds a panic.
fn stop_hearth(hub: &mut Hub) -> Value {
    let _ = Command::new("kill").arg(hub.pid().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        match hub.process.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = hub.process.kill();
                let _ = hub.process.wait();
                break None;
            }
        }
    };
    let log = std::fs::read_to_string(&hub.log).unwrap_or_default();
    json!({ "code": status.and_then(|s| s.code()), "stopped_within_20_s": status.is_some(), "panics_in_log": log.matches("panicked").count() })
}

// --- the legitimate devices -------------------------------------------------------------------

#[derive(Debug, Default)]
struct Health {
    connacks: AtomicU64,
    errors: AtomicU64,
}

#[derive(Debug)]
enum LoopEvent {
    Published(u16),
    Acked(u16),
    Lost,
}

#[derive(Debug)]
struct Device {
    n: usize,
    client: AsyncClient,
    events: mpsc::UnboundedReceiver<LoopEvent>,
}

fn options(id: &str, (user, pass): &(String, String)) -> MqttOptions {
    let mut options = MqttOptions::new(id, "127.0.0.1", PORT);
    options.set_credentials(user, pass);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_inflight(10);
    options.set_max_packet_size(1 << 20, 1 << 20);
    options
}

async fn connect_devices(hub: &Hub, config: &Config, health: &Arc<Health>, stop: &CancellationToken) -> Result<Vec<Device>> {
    let (connected_tx, mut connected_rx) = mpsc::unbounded_channel::<usize>();
    let mut devices = Vec::with_capacity(config.devices);
    for (n, credential) in hub.devices.iter().enumerate() {
        let (client, mut eventloop) = AsyncClient::new(options(&format!("legit-{n}"), credential), 64);
        let mut network = NetworkOptions::new();
        network.set_connection_timeout(20);
        eventloop.set_network_options(network);
        let (tx, events) = mpsc::unbounded_channel();
        let (health, stop, connected) = (health.clone(), stop.clone(), connected_tx.clone());
        tokio::spawn(async move {
            let mut first = true;
            loop {
                let event = tokio::select! {
                    _ = stop.cancelled() => return,
                    e = eventloop.poll() => e,
                };
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        health.connacks.fetch_add(1, Ordering::Relaxed);
                        if first {
                            first = false;
                            let _ = connected.send(n);
                        }
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        let _ = tx.send(LoopEvent::Published(pkid));
                    }
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        let _ = tx.send(LoopEvent::Acked(ack.pkid));
                    }
                    Ok(_) => {}
                    Err(_) => {
                        health.errors.fetch_add(1, Ordering::Relaxed);
                        let _ = tx.send(LoopEvent::Lost);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        devices.push(Device { n, client, events });
    }
    for _ in 0..devices.len() {
        match tokio::time::timeout(Duration::from_secs(120), connected_rx.recv()).await {
            Ok(Some(_)) => {}
            _ => bail!("the devices did not all connect within two minutes"),
        }
    }
    Ok(devices)
}

/// Publishes one QoS 1 message and waits for its PUBACK (one message in flight per device).
async fn publish_acked(device: &mut Device, topic: &str, retain: bool, payload: Vec<u8>) -> bool {
    // What is left of an earlier message that timed out is not this one's.
    while device.events.try_recv().is_ok() {}
    if device.client.publish(topic, QoS::AtLeastOnce, retain, payload).await.is_err() {
        return false;
    }
    let deadline = tokio::time::Instant::now() + ACK_TIMEOUT;
    let mut pkid = None;
    loop {
        match tokio::time::timeout_at(deadline, device.events.recv()).await {
            Ok(Some(LoopEvent::Published(p))) if pkid.is_none() => pkid = Some(p),
            Ok(Some(LoopEvent::Acked(p))) if Some(p) == pkid => return true,
            Ok(Some(LoopEvent::Lost)) | Ok(None) | Err(_) => return false,
            Ok(Some(_)) => {}
        }
    }
}

#[derive(Debug, Default)]
struct Sent {
    sent: u64,
    acked: Vec<u64>,
    unacked: u64,
}

/// One device's part of a phase: a message every INTERVAL (devices spread over it) until `end`.
async fn publish_phase(
    mut device: Device,
    phase: u8,
    start: tokio::time::Instant,
    end: tokio::time::Instant,
    devices: usize,
) -> (Device, Sent) {
    let offset = INTERVAL.mul_f64(device.n as f64 / devices.max(1) as f64);
    let mut tick = tokio::time::interval_at(start + offset, INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let topic = format!("home/{}/telemetry", device.n);
    let mut sent = Sent::default();
    let mut seq = 0u64;
    loop {
        tick.tick().await;
        if tokio::time::Instant::now() >= end {
            break;
        }
        seq += 1;
        let mut payload = Vec::with_capacity(PAYLOAD);
        payload.extend_from_slice(&(device.n as u32).to_le_bytes());
        payload.extend_from_slice(&seq.to_le_bytes());
        payload.extend_from_slice(&now_micros().to_le_bytes());
        payload.push(phase);
        payload.resize(PAYLOAD, b'.');
        sent.sent += 1;
        if publish_acked(&mut device, &topic, false, payload).await {
            sent.acked.push(seq);
        } else {
            sent.unacked += 1;
        }
    }
    (device, sent)
}

/// What the dashboard received, per phase.
#[derive(Debug, Default)]
struct Inbox {
    phases: [PhaseInbox; 2],
    /// Retained states of the devices as they published them.
    state_ok: u64,
    /// Anything else on a `home/N/state` topic: a Will that got through.
    foreign_state: u64,
}

#[derive(Debug, Default)]
struct PhaseInbox {
    got: HashSet<(u32, u64)>,
    duplicates: u64,
    latency_ms: Vec<f64>,
}

async fn dashboard(hub: &Hub, inbox: Arc<Mutex<Inbox>>) -> Result<(AsyncClient, Arc<Health>)> {
    let (client, mut eventloop) = AsyncClient::new(options("dashboard", &hub.dashboard), 1000);
    client.subscribe("home/#", QoS::AtLeastOnce).await?;
    loop {
        match eventloop.poll().await? {
            Event::Incoming(Packet::SubAck(ack)) => {
                if ack.return_codes.iter().any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure)) {
                    bail!("the dashboard's subscription was refused");
                }
                break;
            }
            _ => continue,
        }
    }
    let health = Arc::new(Health { connacks: AtomicU64::new(1), errors: AtomicU64::new(0) });
    let (h, resubscribe) = (health.clone(), client.clone());
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let at = now_micros();
                    let mut inbox = inbox.lock().unwrap_or_else(|p| p.into_inner());
                    if p.topic.ends_with("/telemetry") && p.payload.len() > 28 {
                        let n = u32::from_le_bytes(p.payload[0..4].try_into().unwrap_or_default());
                        let seq = u64::from_le_bytes(p.payload[4..12].try_into().unwrap_or_default());
                        let sent = u128::from_le_bytes(p.payload[12..28].try_into().unwrap_or_default());
                        let phase = &mut inbox.phases[usize::from(p.payload[28]).min(1)];
                        if phase.got.insert((n, seq)) {
                            phase.latency_ms.push(at.saturating_sub(sent) as f64 / 1000.0);
                        } else {
                            phase.duplicates += 1;
                        }
                    } else if p.topic.ends_with("/state") {
                        let n = p.topic.split('/').nth(1).unwrap_or_default();
                        if p.payload.as_ref() == format!("on-{n}").as_bytes() {
                            inbox.state_ok += 1;
                        } else {
                            inbox.foreign_state += 1;
                        }
                    }
                }
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    h.connacks.fetch_add(1, Ordering::Relaxed);
                    let _ = resubscribe.try_subscribe("home/#", QoS::AtLeastOnce);
                }
                Ok(_) => {}
                Err(_) => {
                    h.errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    });
    Ok((client, health))
}

/// Once a second, a new connection from the home (127.0.0.1, the dashboard's credential, a new
/// client id): can a device that restarts during the attack get in, and how fast?
async fn connect_probe(credential: (String, String), phase: u8, start: tokio::time::Instant, end: tokio::time::Instant) -> Value {
    let mut tick = tokio::time::interval_at(start, Duration::from_secs(1));
    let (mut times, mut outcomes) = (Vec::new(), BTreeMap::<String, u64>::new());
    let home = IpAddr::V4(Ipv4Addr::LOCALHOST);
    for i in 0.. {
        if tick.tick().await >= end {
            break;
        }
        let at = Instant::now();
        let code = match dial(home, SocketAddr::new(home, PORT)).await {
            Ok(mut stream) => {
                let packet =
                    connect_packet(format!("probe-{phase}-{i}").as_bytes(), Some((credential.0.as_bytes(), credential.1.as_bytes())), None);
                let code = if stream.write_all(&packet).await.is_ok() { connack(&mut stream).await } else { None };
                if code == Some(0) {
                    times.push(at.elapsed().as_secs_f64() * 1000.0);
                    let _ = stream.write_all(&[0xE0, 0x00]).await;
                }
                code
            }
            Err(_) => None,
        };
        *outcomes.entry(connack_key(code)).or_default() += 1;
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| if times.is_empty() { f64::NAN } else { round2(times[((times.len() as f64 * q) as usize).min(times.len() - 1)]) };
    json!({ "outcomes": outcomes, "connack_ms": { "p50": at(0.5), "max": times.last().copied().map(round2) } })
}

/// A new subscriber, at the end: is every device's retained state still served, unchanged?
async fn check_retained(hub: &Hub, config: &Config) -> Value {
    let (client, mut eventloop) = AsyncClient::new(options("checker", &hub.dashboard), 100);
    if client.subscribe("home/+/state", QoS::AtLeastOnce).await.is_err() {
        return json!({ "error": "could not subscribe" });
    }
    let (mut intact, mut erased, mut replaced) = (HashSet::new(), 0u64, 0u64);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while intact.len() < config.devices {
        match tokio::time::timeout_at(deadline, eventloop.poll()).await {
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                let n = p.topic.split('/').nth(1).unwrap_or_default().to_owned();
                if p.payload.is_empty() {
                    erased += 1;
                } else if p.payload.as_ref() == format!("on-{n}").as_bytes() {
                    intact.insert(n);
                } else {
                    replaced += 1;
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return json!({ "error": e.to_string(), "intact": intact.len() }),
            Err(_) => break,
        }
    }
    let _ = client.disconnect().await;
    json!({ "expected": config.devices, "intact": intact.len(), "erased": erased, "replaced": replaced })
}

// --- phases -----------------------------------------------------------------------------------

#[derive(Debug)]
struct PhaseResult {
    json: Value,
    rate: f64,
    p50: f64,
    p99: f64,
    rss_peak: u64,
    data_growth: u64,
    log_growth: u64,
    missing: u64,
}

#[allow(clippy::too_many_arguments)]
async fn run_phase(
    hub: &Hub,
    config: &Config,
    devices: Vec<Device>,
    phase: u8,
    inbox: &Arc<Mutex<Inbox>>,
    health: &Arc<Health>,
    sampler: &Sampler,
    hostile: Option<&Arc<Hostile>>,
) -> Result<(Vec<Device>, PhaseResult)> {
    let pid = hub.pid();
    let name = if hostile.is_some() { "hostile" } else { "baseline" };
    eprintln!("hostile: phase {name} ({} s)", config.phase.as_secs());
    let (data_before, log_before) = (dir_size(&hub.data), file_size(&hub.log));
    let (cpu_before, rss_before, fds_before) = (cpu_seconds(pid).context("the hub's CPU time before the phase")?, rss_kib(pid), fds(pid));
    let (connacks_before, errors_before) = (health.connacks.load(Ordering::Relaxed), health.errors.load(Ordering::Relaxed));
    sampler.reset();
    let start = tokio::time::Instant::now() + Duration::from_millis(200);
    let end = start + config.phase;
    let started_ms = (now_micros() / 1000) as u64 + 200;
    let samples = Arc::new(Mutex::new(Vec::new()));
    let series = tokio::spawn(series(pid, hub.data.clone(), hub.log.clone(), samples.clone(), start, end + DRAIN));
    let count = devices.len();
    let publishers: Vec<_> = devices.into_iter().map(|d| tokio::spawn(publish_phase(d, phase, start, end, count))).collect();
    let probe = tokio::spawn(connect_probe(hub.dashboard.clone(), phase, start, end));
    let attack = hostile.map(|h| h.launch(pid, start, end));
    let hostile_end = match attack {
        Some(attack) => Some(attack.await?),
        None => None,
    };
    let probe = probe.await?;
    let mut devices = Vec::with_capacity(count);
    let mut sent = HashMap::new();
    let (mut total_sent, mut total_acked, mut total_unacked) = (0u64, 0u64, 0u64);
    for p in publishers {
        let (device, s) = p.await?;
        total_sent += s.sent;
        total_acked += s.acked.len() as u64;
        total_unacked += s.unacked;
        sent.insert(device.n as u32, s.acked);
        devices.push(device);
    }
    devices.sort_by_key(|d| d.n);
    // Everything acknowledged must arrive.
    let drain_deadline = Instant::now() + DRAIN;
    let missing = loop {
        let missing: u64 = {
            let inbox = inbox.lock().unwrap_or_else(|p| p.into_inner());
            let got = &inbox.phases[usize::from(phase)].got;
            sent.iter().map(|(n, seqs)| seqs.iter().filter(|s| !got.contains(&(*n, **s))).count() as u64).sum()
        };
        if missing == 0 || Instant::now() > drain_deadline {
            break missing;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(SETTLE).await;
    series.abort();
    let (data_after, log_after) = (dir_size(&hub.data), file_size(&hub.log));
    let (rss_peak, fds_peak) = sampler.peaks();
    let (received, duplicates, mut latency) = {
        let inbox = inbox.lock().unwrap_or_else(|p| p.into_inner());
        let p = &inbox.phases[usize::from(phase)];
        (p.got.len() as u64, p.duplicates, p.latency_ms.clone())
    };
    let acked_set: u64 = sent.values().map(|s| s.len() as u64).sum();
    latency.sort_by(f64::total_cmp);
    let at =
        |q: f64| if latency.is_empty() { f64::NAN } else { round2(latency[((latency.len() as f64 * q) as usize).min(latency.len() - 1)]) };
    let secs = config.phase.as_secs_f64();
    let rate = received as f64 / secs;
    let (p50, p99) = (at(0.50), at(0.99));
    let log_lines = log_lines(&hub.log, log_before, log_after);
    let json = json!({
        "started_ms": started_ms,
        "sent": total_sent, "acked": total_acked, "not_acked": total_unacked, "received": received, "duplicates": duplicates,
        "acked_missing": missing, "received_not_acked": received.saturating_sub(acked_set),
        "rate_per_sec": round2(rate), "acked_per_sec": round2(total_acked as f64 / secs),
        "latency_ms": { "p50": p50, "p99": p99, "max": latency.last().copied().map(round2) },
        "new_connections_from_home": probe,
        "device_reconnects": health.connacks.load(Ordering::Relaxed) - connacks_before,
        "device_connection_errors": health.errors.load(Ordering::Relaxed) - errors_before,
        "rss_kib": { "before": rss_before, "peak": rss_peak, "after": rss_kib(pid) },
        "fds": { "before": fds_before, "peak": fds_peak, "after": fds(pid) },
        "cpu_s": round2(cpu_seconds(pid).context("the hub's CPU time after the phase")? - cpu_before),
        "data_dir_bytes": { "before": data_before, "after": data_after, "growth": data_after as i64 - data_before as i64, "files": dir_files(&hub.data) },
        "log_bytes": { "before": log_before, "after": log_after, "growth": log_after as i64 - log_before as i64 },
        "log_lines": log_lines,
        "at_end_of_attack": hostile_end,
        "every_5_s": { "columns": ["s", "rss_kib", "fds", "data_dir_bytes", "log_bytes"], "rows": samples.lock().unwrap_or_else(|p| p.into_inner()).clone() },
    });
    let result = PhaseResult {
        json,
        rate,
        p50,
        p99,
        rss_peak,
        data_growth: data_after.saturating_sub(data_before),
        log_growth: log_after.saturating_sub(log_before),
        missing,
    };
    Ok((devices, result))
}

/// Every 5 s from `start` until aborted or `until`: the hub's memory, open files, data directory
/// and log, into `rows` (shared, so that what was sampled survives the abort).
async fn series(
    pid: u32,
    data: PathBuf,
    log: PathBuf,
    rows: Arc<Mutex<Vec<[u64; 5]>>>,
    start: tokio::time::Instant,
    until: tokio::time::Instant,
) {
    let mut tick = tokio::time::interval_at(start, Duration::from_secs(5));
    loop {
        let at = tick.tick().await;
        if at > until {
            return;
        }
        let s = at.duration_since(start).as_secs();
        rows.lock().unwrap_or_else(|p| p.into_inner()).push([s, rss_kib(pid), fds(pid), dir_size(&data), file_size(&log)]);
    }
}

// --- the hostile clients ----------------------------------------------------------------------

/// What each hostile task did, by task and outcome.
#[derive(Debug, Default)]
struct Counts(Mutex<BTreeMap<&'static str, BTreeMap<String, u64>>>);

impl Counts {
    fn add(&self, task: &'static str, what: &str, n: u64) {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *all.entry(task).or_default().entry(what.to_owned()).or_default() += n;
    }

    fn bump(&self, task: &'static str, what: &str) {
        self.add(task, what, 1);
    }

    fn json(&self) -> Value {
        serde_json::to_value(&*self.0.lock().unwrap_or_else(|p| p.into_inner())).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Default)]
struct Slow {
    open_pre: AtomicI64,
    open_post: AtomicI64,
    /// Post-header connections: seconds from the header to the broker's close.
    closed_after: Mutex<Vec<f64>>,
    /// Pre-version connections: seconds from the connection to the broker's close.
    closed_pre_after: Mutex<Vec<f64>>,
}

#[derive(Debug)]
struct Hostile {
    counts: Arc<Counts>,
    slow: Arc<Slow>,
    lan: SocketAddr,
    compromised_from: IpAddr,
    evil: (String, String),
    /// A home device's username, for the wrong-password flood.
    victim: String,
    devices: usize,
    /// The hostile tasks to run (HOSTILE_TASKS unless HEARTH_HOSTILE_TASKS names fewer).
    tasks: Vec<String>,
    cost: Mutex<Value>,
}

impl Hostile {
    fn new(hub: &Hub, config: &Config) -> Arc<Self> {
        Arc::new(Self {
            counts: Arc::default(),
            slow: Arc::default(),
            lan: hub.lan,
            compromised_from: hub.compromised_from,
            evil: hub.evil.clone(),
            victim: hub.devices.first().map(|d| d.0.clone()).unwrap_or_default(),
            devices: config.devices,
            tasks: config.tasks.clone(),
            cost: Mutex::new(Value::Null),
        })
    }

    /// Runs the attack from `start` to `end`; returns what it left open at `end`.
    fn launch(self: &Arc<Self>, pid: u32, start: tokio::time::Instant, end: tokio::time::Instant) -> tokio::task::JoinHandle<Value> {
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(start).await;
            let cancel = CancellationToken::new();
            let mut tasks = Vec::new();
            let (fds_before, rss_before) = (fds(pid), rss_kib(pid));
            let on = |task: &str| this.tasks.iter().any(|t| t == task);
            for i in 0..if on("slowloris") { SLOW_PRE_VERSION } else { 0 } {
                tasks.push(tokio::spawn(slowloris(this.clone(), cancel.clone(), i, false)));
            }
            for i in 0..if on("slowloris") { SLOW_POST_HEADER } else { 0 } {
                tasks.push(tokio::spawn(slowloris(this.clone(), cancel.clone(), i, true)));
            }
            tokio::time::sleep(SLOW_LEAD).await;
            let open = this.slow.open_pre.load(Ordering::Relaxed) + this.slow.open_post.load(Ordering::Relaxed);
            let (fds_with, rss_with) = (fds(pid), rss_kib(pid));
            *this.cost.lock().unwrap_or_else(|p| p.into_inner()) = json!({
                "open": open, "fds_before": fds_before, "fds_with": fds_with, "rss_kib_before": rss_before, "rss_kib_with": rss_with,
                "fds_per_connection": if open > 0 { round2((fds_with as f64 - fds_before as f64) / open as f64) } else { f64::NAN },
                "kib_per_connection": if open > 0 { round2((rss_with as f64 - rss_before as f64) / open as f64) } else { f64::NAN },
            });
            for i in 0..if on("oversized_connect") { OVERSIZED_CONNECT_TASKS } else { 0 } {
                tasks.push(tokio::spawn(oversized_connect(this.clone(), cancel.clone(), i)));
            }
            for i in 0..if on("oversized_publish") { OVERSIZED_PUBLISH_TASKS } else { 0 } {
                tasks.push(tokio::spawn(oversized_publish(this.clone(), cancel.clone(), i)));
            }
            for i in 0..if on("wrong_passwords") { WRONG_PASSWORD_TASKS } else { 0 } {
                tasks.push(tokio::spawn(wrong_passwords(this.clone(), cancel.clone(), i)));
            }
            if on("retained_flood") {
                tasks.push(tokio::spawn(retained_flood(this.clone(), cancel.clone())));
            }
            if on("subscription_storm") {
                tasks.push(tokio::spawn(subscription_storm(this.clone(), cancel.clone())));
            }
            for i in 0..if on("wills") { WILL_TASKS } else { 0 } {
                tasks.push(tokio::spawn(wills(this.clone(), cancel.clone(), i)));
            }
            if on("squats") {
                tasks.push(tokio::spawn(squats(this.clone(), cancel.clone())));
            }
            tokio::time::sleep_until(end).await;
            let at_end = json!({
                "slowloris_pre_version_open": this.slow.open_pre.load(Ordering::Relaxed),
                "slowloris_post_header_open": this.slow.open_post.load(Ordering::Relaxed),
                "fds": fds(pid), "rss_kib": rss_kib(pid),
            });
            this.counts.add("slowloris_pre_version", "open_at_end", this.slow.open_pre.load(Ordering::Relaxed).max(0) as u64);
            this.counts.add("slowloris_post_header", "open_at_end", this.slow.open_post.load(Ordering::Relaxed).max(0) as u64);
            cancel.cancel();
            for task in tasks {
                let abort = task.abort_handle();
                if tokio::time::timeout(Duration::from_secs(10), task).await.is_err() {
                    abort.abort();
                }
            }
            at_end
        })
    }

    fn report(&self) -> Value {
        let mut counts = self.counts.json();
        let spread = |seconds: &Mutex<Vec<f64>>| {
            let mut closed = seconds.lock().unwrap_or_else(|p| p.into_inner()).clone();
            closed.sort_by(f64::total_cmp);
            let at = |q: f64| closed.get(((closed.len() as f64 * q) as usize).min(closed.len().saturating_sub(1))).copied().map(round2);
            json!({ "min": at(0.0), "p50": at(0.5), "max": closed.last().copied().map(round2) })
        };
        let take = |counts: &mut Value, key: &str| counts.as_object_mut().and_then(|o| o.remove(key)).unwrap_or(Value::Null);
        let mut pre = take(&mut counts, "slowloris_pre_version");
        let mut post = take(&mut counts, "slowloris_post_header");
        post["closed_after_header_s"] = spread(&self.slow.closed_after);
        pre["closed_after_connect_s"] = spread(&self.slow.closed_pre_after);
        pre["sent_bytes_each"] = SLOW_PRE_VERSION_BYTES.into();
        json!({
            "slowloris": { "pre_version": pre, "post_header": post, "cost_after_3_s": *self.cost.lock().unwrap_or_else(|p| p.into_inner()) },
            "tasks": counts,
        })
    }
}

// MQTT 3.1.1 by hand.

fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n % 128) as u8;
        n /= 128;
        out.push(if n > 0 { byte | 0x80 } else { byte });
        if n == 0 {
            return out;
        }
    }
}

fn field(value: &[u8]) -> Vec<u8> {
    let value = &value[..value.len().min(0xFFFF)];
    let mut out = (value.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(value);
    out
}

struct Will<'a> {
    topic: &'a [u8],
    payload: &'a [u8],
    qos: u8,
    retain: bool,
}

fn connect_packet(client_id: &[u8], credential: Option<(&[u8], &[u8])>, will: Option<Will<'_>>) -> Vec<u8> {
    let mut flags = 0x02u8;
    let mut payload = field(client_id);
    if let Some(w) = will {
        flags |= 0x04 | (w.qos << 3) | if w.retain { 0x20 } else { 0 };
        payload.extend(field(w.topic));
        payload.extend(field(w.payload));
    }
    if let Some((user, pass)) = credential {
        flags |= 0xC0;
        payload.extend(field(user));
        payload.extend(field(pass));
    }
    let mut body = field(b"MQTT");
    body.extend_from_slice(&[4, flags, 0, 30]);
    body.extend(payload);
    let mut packet = vec![0x10];
    packet.extend(varint(body.len()));
    packet.extend(body);
    packet
}

fn publish_packet(topic: &str, payload: &[u8], pkid: u16, retain: bool) -> Vec<u8> {
    let mut body = field(topic.as_bytes());
    body.extend_from_slice(&pkid.to_be_bytes());
    body.extend_from_slice(payload);
    let mut packet = vec![0x32 | u8::from(retain)];
    packet.extend(varint(body.len()));
    packet.extend(body);
    packet
}

fn subscribe_packet(pkid: u16, filters: &[String]) -> Vec<u8> {
    let mut body = pkid.to_be_bytes().to_vec();
    for f in filters {
        body.extend(field(f.as_bytes()));
        body.push(0);
    }
    let mut packet = vec![0x82];
    packet.extend(varint(body.len()));
    packet.extend(body);
    packet
}

/// A TCP connection from `source`; closed with a reset (no TIME_WAIT left on the attacker's
/// ports, however fast it reconnects).
async fn dial(source: IpAddr, target: SocketAddr) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = tokio::time::timeout(Duration::from_secs(5), socket.connect(target))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    stream.set_zero_linger()?;
    Ok(stream)
}

async fn read_packet<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<(u8, Vec<u8>)> {
    let first = r.read_u8().await?;
    let (mut len, mut multiplier) = (0usize, 1usize);
    for _ in 0..4 {
        let byte = r.read_u8().await?;
        len += usize::from(byte & 0x7F) * multiplier;
        multiplier *= 128;
        if byte & 0x80 == 0 {
            break;
        }
    }
    if len > OVERSIZED {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "packet too large"));
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).await?;
    Ok((first, body))
}

/// The CONNACK's return code, `None` if the broker closed the connection without one.
async fn connack<R: AsyncRead + Unpin>(r: &mut R) -> Option<u8> {
    match tokio::time::timeout(Duration::from_secs(5), read_packet(r)).await {
        Ok(Ok((0x20, body))) if body.len() >= 2 => Some(body[1]),
        _ => None,
    }
}

fn connack_key(code: Option<u8>) -> String {
    match code {
        Some(0) => "connack_accepted".into(),
        Some(2) => "connack_2_identifier_rejected".into(),
        Some(3) => "connack_3_server_unavailable".into(),
        Some(4) => "connack_4_bad_credentials".into(),
        Some(5) => "connack_5_not_authorized".into(),
        Some(c) => format!("connack_{c}"),
        None => "closed_without_connack".into(),
    }
}

/// A slowloris connection, reconnecting when the broker closes it: `post_header` sends the
/// protocol header at once and trickles the rest; otherwise it trickles up to 8 bytes and holds.
async fn slowloris(h: Arc<Hostile>, cancel: CancellationToken, i: usize, post_header: bool) {
    let task = if post_header { "slowloris_post_header" } else { "slowloris_pre_version" };
    let open = if post_header { &h.slow.open_post } else { &h.slow.open_pre };
    let packet = connect_packet(format!("slow-{}-{i}", u8::from(post_header)).as_bytes(), None, None);
    while !cancel.is_cancelled() {
        let stream = tokio::select! {
            _ = cancel.cancelled() => return,
            s = dial(IpAddr::V4(ATTACKER), h.lan) => s,
        };
        let Ok(stream) = stream else {
            h.counts.bump(task, "connect_failed");
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        h.counts.bump(task, "connections");
        open.fetch_add(1, Ordering::Relaxed);
        let (mut r, mut w) = stream.into_split();
        let header_at = Instant::now();
        let trickle = async {
            let (at_once, until) = if post_header { (SLOW_HEADER_BYTES, packet.len()) } else { (0, SLOW_PRE_VERSION_BYTES) };
            if at_once > 0 && w.write_all(&packet[..at_once]).await.is_err() {
                return;
            }
            for b in at_once..until {
                if w.write_all(&packet[b..b + 1]).await.is_err() {
                    return;
                }
                tokio::time::sleep(SLOW_BYTE_EVERY).await;
            }
            std::future::pending::<()>().await;
        };
        let closed = async {
            let mut buf = [0u8; 64];
            let mut answered = false;
            loop {
                match r.read(&mut buf).await {
                    Ok(0) | Err(_) => return answered,
                    Ok(_) => answered = true,
                }
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => {
                open.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            answered = closed => {
                h.counts.bump(task, "closed_by_broker");
                if answered {
                    h.counts.bump(task, "answered_before_closing");
                }
                let closed_after = if post_header { &h.slow.closed_after } else { &h.slow.closed_pre_after };
                closed_after.lock().unwrap_or_else(|p| p.into_inner()).push(header_at.elapsed().as_secs_f64());
            }
            _ = trickle => h.counts.bump(task, "write_failed"),
        }
        open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Writes `head` then junk up to OVERSIZED bytes in 16 KiB chunks; whether the broker closed
/// the connection within 10 s. (How much was written says little: the kernel's buffers take
/// megabytes before the broker's reset arrives.)
async fn send_oversized(stream: TcpStream, head: &[u8]) -> bool {
    let (mut r, mut w) = stream.into_split();
    let writer = async {
        if w.write_all(head).await.is_err() {
            return;
        }
        let mut written = head.len();
        let chunk = vec![b'x'; 16 * 1024];
        while written < OVERSIZED {
            let n = chunk.len().min(OVERSIZED - written);
            match tokio::time::timeout(Duration::from_secs(5), w.write_all(&chunk[..n])).await {
                Ok(Ok(())) => written += n,
                _ => return,
            };
        }
        // All of it went out: wait for the broker to close.
        std::future::pending::<()>().await;
    };
    let closed = async {
        let mut buf = [0u8; 256];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::select! {
        _ = writer => true,
        _ = closed => true,
        _ = tokio::time::sleep(Duration::from_secs(10)) => false,
    }
}

async fn oversized_connect(h: Arc<Hostile>, cancel: CancellationToken, t: usize) {
    const TASK: &str = "oversized_connect";
    let mut i = 0;
    while !cancel.is_cancelled() {
        i += 1;
        let Ok(stream) = dial(IpAddr::V4(ATTACKER), h.lan).await else {
            h.counts.bump(TASK, "connect_failed");
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        h.counts.bump(TASK, "connections");
        // A CONNECT declaring 2 MiB: fixed header, protocol name and level, flags, keep-alive,
        // then a client id field and junk.
        let mut head = vec![0x10];
        head.extend(varint(OVERSIZED));
        head.extend(field(b"MQTT"));
        head.extend_from_slice(&[4, 0x02, 0, 30]);
        head.extend(field(format!("big-{t}-{i}").as_bytes()));
        let closed = tokio::select! {
            _ = cancel.cancelled() => return,
            r = send_oversized(stream, &head) => r,
        };
        h.counts.bump(TASK, if closed { "closed_by_broker" } else { "still_open_after_10_s" });
    }
}

async fn oversized_publish(h: Arc<Hostile>, cancel: CancellationToken, t: usize) {
    const TASK: &str = "oversized_publish";
    let mut i = 0;
    while !cancel.is_cancelled() {
        i += 1;
        let Ok(mut stream) = dial(h.compromised_from, h.lan).await else {
            h.counts.bump(TASK, "connect_failed");
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        h.counts.bump(TASK, "connections");
        let packet = connect_packet(format!("evil-big-{t}-{i}").as_bytes(), Some((h.evil.0.as_bytes(), h.evil.1.as_bytes())), None);
        if stream.write_all(&packet).await.is_err() {
            continue;
        }
        let code = connack(&mut stream).await;
        h.counts.bump(TASK, &connack_key(code));
        if code != Some(0) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let mut head = vec![0x30];
        head.extend(varint(OVERSIZED));
        head.extend(field(b"evil/big"));
        let closed = tokio::select! {
            _ = cancel.cancelled() => return,
            r = send_oversized(stream, &head) => r,
        };
        h.counts.bump(TASK, if closed { "closed_by_broker" } else { "still_open_after_10_s" });
    }
}

async fn wrong_passwords(h: Arc<Hostile>, cancel: CancellationToken, t: usize) {
    const TASK: &str = "wrong_password_flood";
    let mut i = 0usize;
    while !cancel.is_cancelled() {
        i += 1;
        // Every string new, so that nothing can be kept once for all.
        let junk = format!("{t}.{i}.").into_bytes().into_iter().chain(std::iter::repeat(b'x')).take(HUGE).collect::<Vec<u8>>();
        let will = Will { topic: &junk, payload: b"offline", qos: 0, retain: true };
        let (kind, packet) = match i % 3 {
            0 => (
                "home_device_username",
                connect_packet(format!("wp-{t}-{i}").as_bytes(), Some((h.victim.as_bytes(), &b"wrong password"[..])), Some(will)),
            ),
            1 => ("60kb_username", connect_packet(format!("wp-{t}-{i}").as_bytes(), Some((&junk[..], &b"admin"[..])), Some(will))),
            _ => ("60kb_client_id", connect_packet(&junk, Some((&b"admin"[..], &b"admin"[..])), Some(will))),
        };
        let Ok(mut stream) = dial(IpAddr::V4(ATTACKER), h.lan).await else {
            h.counts.bump(TASK, "connect_failed");
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let code = if stream.write_all(&packet).await.is_ok() { connack(&mut stream).await } else { None };
        h.counts.bump(TASK, &format!("{kind}.{}", connack_key(code)));
        h.counts.bump(TASK, "attempts");
    }
}

/// A session of the compromised device from its own address; the CONNACK code if refused.
async fn evil_session(
    h: &Hostile,
    client_id: &str,
    task: &'static str,
) -> Option<(BufReader<tokio::net::tcp::OwnedReadHalf>, tokio::net::tcp::OwnedWriteHalf)> {
    let Ok(mut stream) = dial(h.compromised_from, h.lan).await else {
        h.counts.bump(task, "connect_failed");
        return None;
    };
    h.counts.bump(task, "connections");
    let packet = connect_packet(client_id.as_bytes(), Some((h.evil.0.as_bytes(), h.evil.1.as_bytes())), None);
    if stream.write_all(&packet).await.is_err() {
        return None;
    }
    let code = connack(&mut stream).await;
    h.counts.bump(task, &connack_key(code));
    if code != Some(0) {
        return None;
    }
    let (r, w) = stream.into_split();
    Some((BufReader::new(r), w))
}

async fn retained_flood(h: Arc<Hostile>, cancel: CancellationToken) {
    const TASK: &str = "retained_flood";
    let mut n = 0usize;
    let payload = vec![b'r'; RETAINED_BYTES];
    while !cancel.is_cancelled() {
        let Some((mut r, mut w)) = evil_session(&h, "evil-retainer", TASK).await else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let window = Arc::new(Semaphore::new(RETAINED_WINDOW));
        let (w2, counts) = (window.clone(), h.counts.clone());
        let reader = async move {
            let mut acked = 0u64;
            while let Ok((kind, _)) = read_packet(&mut r).await {
                if kind & 0xF0 == 0x40 {
                    acked += 1;
                    w2.add_permits(1);
                }
            }
            counts.add(TASK, "acked", acked);
        };
        let writer = async {
            loop {
                let Ok(permit) = window.acquire().await else { return };
                permit.forget();
                n += 1;
                let packet = publish_packet(&format!("evil/r/{n}"), &payload, (n % 65_535 + 1) as u16, true);
                if w.write_all(&packet).await.is_err() {
                    return;
                }
                h.counts.bump(TASK, "published");
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = reader => h.counts.bump(TASK, "closed_by_broker"),
            _ = writer => h.counts.bump(TASK, "write_failed"),
        }
    }
}

async fn subscription_storm(h: Arc<Hostile>, cancel: CancellationToken) {
    const TASK: &str = "subscription_storm";
    let mut k = 0usize;
    while !cancel.is_cancelled() {
        let Some((mut r, mut w)) = evil_session(&h, "evil-storm", TASK).await else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let (acks_tx, mut acks) = mpsc::unbounded_channel::<Vec<u8>>();
        let counts = h.counts.clone();
        let reader = async move {
            while let Ok((kind, body)) = read_packet(&mut r).await {
                match kind & 0xF0 {
                    0x90 if body.len() >= 2 => {
                        let _ = acks_tx.send(body[2..].to_vec());
                    }
                    0x30 => counts.bump(TASK, "publishes_received"),
                    _ => {}
                }
            }
        };
        let writer = async {
            loop {
                k += 1;
                let refused = (0..STORM_REFUSED_PER_PACKET).map(|i| format!("other/{k}/{i}/#"));
                let allowed = (0..STORM_ALLOWED_PER_PACKET).map(|i| format!("evil/s/{k}/{i}"));
                let filters: Vec<String> = refused.chain(allowed).collect();
                if w.write_all(&subscribe_packet((k % 65_535 + 1) as u16, &filters)).await.is_err() {
                    return;
                }
                h.counts.bump(TASK, "subscribe_packets");
                let Ok(Some(codes)) = tokio::time::timeout(Duration::from_secs(10), acks.recv()).await else {
                    h.counts.bump(TASK, "no_suback_within_10_s");
                    return;
                };
                h.counts.bump(TASK, "subacks");
                let granted = |c: &u8| *c < 0x80;
                let (other, evil) = codes.split_at(STORM_REFUSED_PER_PACKET.min(codes.len()));
                h.counts.add(TASK, "refused_filters.granted", other.iter().filter(|c| granted(c)).count() as u64);
                h.counts.add(TASK, "refused_filters.refused", other.iter().filter(|c| !granted(c)).count() as u64);
                h.counts.add(TASK, "allowed_filters.granted", evil.iter().filter(|c| granted(c)).count() as u64);
                h.counts.add(TASK, "allowed_filters.refused", evil.iter().filter(|c| !granted(c)).count() as u64);
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = reader => h.counts.bump(TASK, "closed_by_broker"),
            _ = writer => h.counts.bump(TASK, "write_failed_or_no_suback"),
        }
    }
}

/// The finding: a Will with an empty retained payload on a home device's state topic, and the
/// connection cut without a DISCONNECT.
async fn wills(h: Arc<Hostile>, cancel: CancellationToken, t: usize) {
    const TASK: &str = "will_on_device_topic";
    let mut i = 0usize;
    while !cancel.is_cancelled() {
        i += 1;
        let topic = format!("home/{}/state", i % h.devices.max(1));
        let packet = connect_packet(
            format!("evil-will-{t}-{i}").as_bytes(),
            Some((h.evil.0.as_bytes(), h.evil.1.as_bytes())),
            Some(Will { topic: topic.as_bytes(), payload: b"", qos: 1, retain: true }),
        );
        let Ok(mut stream) = dial(h.compromised_from, h.lan).await else {
            h.counts.bump(TASK, "connect_failed");
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let code = if stream.write_all(&packet).await.is_ok() { connack(&mut stream).await } else { None };
        h.counts.bump(TASK, &connack_key(code));
        // Dropped with a reset: no DISCONNECT, so the Will is due.
        drop(stream);
        h.counts.bump(TASK, "cut_without_disconnect");
        if code != Some(0) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The finding: the compromised credential with a home device's client id, while the device
/// holds it (every SQUAT_EVERY, under the address's 30 refusals a minute).
async fn squats(h: Arc<Hostile>, cancel: CancellationToken) {
    const TASK: &str = "client_id_squat";
    let mut tick = tokio::time::interval(SQUAT_EVERY);
    let mut k = 0usize;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        k += 1;
        let client_id = format!("legit-{}", (k * 37) % h.devices.max(1));
        if let Some((_, mut w)) = evil_session(&h, &client_id, TASK).await {
            // Admitted: the device it squats was put out. Leave politely.
            let _ = w.write_all(&[0xE0, 0x00]).await;
        }
    }
}

// --- measuring the hub ------------------------------------------------------------------------

/// What the hub filed, read from its database once it stopped: the home devices' telemetry rows
/// per phase (each acknowledged message should be one), ledger rows and gate decisions by who
/// and what, and the space each table and index takes.
fn database_report(data: &Path, baseline_ms: u64, hostile_ms: u64) -> Value {
    let report = || -> rusqlite::Result<Value> {
        let db = rusqlite::Connection::open_with_flags(data.join("hearth.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        const WHO: &str = "CASE WHEN d.name LIKE 'Sensor %' THEN 'home devices' WHEN d.name = 'Cheap plug' THEN 'compromised device' \
                           WHEN d.name IS NULL THEN 'no device' ELSE d.name END";
        let (baseline, hostile): (i64, i64) = db.query_row(
            "SELECT COALESCE(SUM(m.at < ?1), 0), COALESCE(SUM(m.at >= ?1), 0) FROM ledger_messages m \
             JOIN ledger_topics t ON t.id = m.topic_id JOIN devices d ON d.id = m.device_id \
             WHERE d.name LIKE 'Sensor %' AND t.topic LIKE 'home/%/telemetry' AND m.at >= ?2",
            rusqlite::params![hostile_ms as i64, baseline_ms as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let grouped = |sql: &str| -> rusqlite::Result<Vec<Value>> {
            let mut statement = db.prepare(sql)?;
            let columns = statement.column_count();
            let rows = statement.query_map([], |r| {
                (0..columns).map(|i| r.get::<_, rusqlite::types::Value>(i)).collect::<rusqlite::Result<Vec<_>>>().map(|values| {
                    Value::Array(
                        values
                            .into_iter()
                            .map(|v| match v {
                                rusqlite::types::Value::Integer(i) => i.into(),
                                rusqlite::types::Value::Text(t) => t.into(),
                                rusqlite::types::Value::Real(f) => f.into(),
                                _ => Value::Null,
                            })
                            .collect(),
                    )
                })
            })?;
            rows.collect()
        };
        let ledger = grouped(&format!(
            "SELECT {WHO}, COUNT(*) FROM ledger_messages m LEFT JOIN devices d ON d.id = m.device_id GROUP BY 1 ORDER BY 2 DESC"
        ))?;
        let topics = grouped(&format!(
            "SELECT {WHO}, COUNT(*) FROM ledger_topics m LEFT JOIN devices d ON d.id = m.device_id GROUP BY 1 ORDER BY 2 DESC"
        ))?;
        let decisions = grouped(&format!(
            "SELECT {WHO}, g.action, g.decision, COALESCE(g.reason, ''), COUNT(*) FROM gate_decisions g LEFT JOIN devices d ON d.id = g.device_id \
             GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC LIMIT 20"
        ))?;
        let attempts = grouped(&format!(
            "SELECT {WHO}, g.outcome, COUNT(*), SUM(g.count) FROM connect_attempts g LEFT JOIN devices d ON d.id = g.device_id GROUP BY 1, 2 ORDER BY 4 DESC"
        ))
        .unwrap_or_default();
        let space = grouped("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 12").unwrap_or_default();
        // Rows filed per 5 s of the hostile phase (each home device sends 2 messages a second:
        // 5 000 per bucket with 500 of them).
        let mut statement = db.prepare(
            "SELECT (m.at - ?1) / 5000, COALESCE(SUM(d.name LIKE 'Sensor %' AND t.topic LIKE 'home/%/telemetry'), 0), \
             COALESCE(SUM(d.name = 'Cheap plug'), 0) FROM ledger_messages m JOIN ledger_topics t ON t.id = m.topic_id \
             JOIN devices d ON d.id = m.device_id WHERE m.at >= ?1 GROUP BY 1 ORDER BY 1",
        )?;
        let buckets: Vec<Value> = statement
            .query_map([hostile_ms as i64], |r| Ok(json!([r.get::<_, i64>(0)? * 5, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?])))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(json!({
            "home_telemetry_rows": { "baseline": baseline, "hostile": hostile },
            "hostile_rows_every_5_s": { "columns": ["s", "home telemetry", "compromised device"], "rows": buckets },
            "ledger_rows_by_sender": ledger, "ledger_topics_by_sender": topics,
            "gate_decisions_top": { "columns": ["who", "action", "decision", "reason", "rows"], "rows": decisions },
            "connect_attempts": { "columns": ["who", "outcome", "rows", "attempts"], "rows": attempts },
            "bytes_by_table": space,
        }))
    };
    report().unwrap_or_else(|e| json!({ "error": e.to_string() }))
}

/// Samples the hub's resident memory and open files every 250 ms; peaks since the last reset.
#[derive(Debug)]
struct Sampler {
    rss_peak: Arc<AtomicU64>,
    fds_peak: Arc<AtomicU64>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Sampler {
    fn start(pid: u32) -> Self {
        let sampler = Self { rss_peak: Arc::default(), fds_peak: Arc::default(), stop: Arc::default() };
        let (rss, fd, stop) = (sampler.rss_peak.clone(), sampler.fds_peak.clone(), sampler.stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                rss.fetch_max(rss_kib(pid), Ordering::Relaxed);
                fd.fetch_max(fds(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        sampler
    }

    fn reset(&self) {
        self.rss_peak.store(0, Ordering::Relaxed);
        self.fds_peak.store(0, Ordering::Relaxed);
    }

    fn peaks(&self) -> (u64, u64) {
        (self.rss_peak.load(Ordering::Relaxed), self.fds_peak.load(Ordering::Relaxed))
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count() as u64).unwrap_or(0)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

/// The data directory's files and their sizes (top level, directories summed).
fn dir_files(path: &Path) -> BTreeMap<String, u64> {
    let Ok(entries) = std::fs::read_dir(path) else { return BTreeMap::new() };
    entries
        .flatten()
        .map(|e| {
            let size =
                if e.file_type().is_ok_and(|t| t.is_dir()) { dir_size(&e.path()) } else { e.metadata().map(|m| m.len()).unwrap_or(0) };
            (e.file_name().to_string_lossy().into_owned(), size)
        })
        .collect()
}

/// The log lines written between two sizes: how many, the longest, and how many of each kind
/// (the message without its fields, digits as #).
fn log_lines(path: &Path, from: u64, to: u64) -> Value {
    let bytes = std::fs::read(path).unwrap_or_default();
    let slice = bytes.get(from as usize..(to as usize).min(bytes.len())).unwrap_or_default();
    let text = strip_ansi(&String::from_utf8_lossy(slice));
    let mut kinds: HashMap<String, u64> = HashMap::new();
    let (mut count, mut longest) = (0u64, 0usize);
    for line in text.lines() {
        count += 1;
        longest = longest.max(line.len());
        // "<timestamp> <LEVEL> <target>: <message> <field>=<value> ..."
        let mut words = line.split_whitespace();
        let level = words.nth(1).unwrap_or_default();
        let rest = line.split_once(": ").map(|(_, r)| r).unwrap_or(line);
        let message: Vec<&str> = rest.split(' ').take_while(|w| !w.contains('=')).collect();
        let kind: String =
            format!("{level} {}", message.join(" ")).chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).take(120).collect();
        *kinds.entry(kind).or_default() += 1;
    }
    let mut kinds: Vec<(String, u64)> = kinds.into_iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    kinds.truncate(10);
    json!({ "count": count, "longest": longest, "kinds": kinds.into_iter().map(|(k, n)| json!([k, n])).collect::<Vec<_>>() })
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn now_micros() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
