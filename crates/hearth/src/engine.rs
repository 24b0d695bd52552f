//! Starting and stopping the whole hub: data directory, configuration, secrets, store,
//! discovery, inventory and the HTTP server. `hearth serve` and the desktop shell both use it.

use crate::api::types::DiscoveryStatus;
use crate::config::Config;
use crate::data_dir;
use crate::http::{self, AppState, Auth};
use crate::hub::Hub;
use crate::secrets::Secrets;
use anyhow::{Context, Result};
use hearth_broker::{Broker, BrokerConfig, TlsListener};
use hearth_discovery::browser::Advertisement;
use hearth_discovery::service_types::BROWSED;
use hearth_discovery::{Discovery, DiscoveryConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Discovery events waiting for the inventory. mdns-sd drops a browse subscription whose own
/// channel fills, so this buffer is generous: it absorbs a whole home announcing at once.
const DISCOVERY_QUEUE: usize = 8192;

/// What the command line (or the desktop shell) asks for; `None` means "as hearth.toml says".
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub data_dir: PathBuf,
    pub http_listen: Option<SocketAddr>,
    /// `--allow-plain-http`: the person accepts the web UI over plain HTTP beyond loopback.
    pub allow_plain_http: bool,
    pub interfaces: Vec<String>,
    pub no_discovery: bool,
    /// `--mqtt-listen`: where the broker listens.
    pub mqtt_listen: Option<SocketAddr>,
    /// `--mqtts-listen`: where the broker listens for MQTT over TLS.
    pub mqtts_listen: Option<SocketAddr>,
    /// `--no-broker`: run without the MQTT broker.
    pub no_broker: bool,
    /// `--dns-listen`: run the DNS gate there.
    pub dns_listen: Option<SocketAddr>,
    /// `--dns-upstream`: where the DNS gate forwards (repeatable).
    pub dns_upstream: Vec<SocketAddr>,
    /// `--apply-firewall`: apply the network permissions to this machine's nftables.
    pub apply_firewall: bool,
}

/// A running hub.
#[derive(Debug)]
pub struct Engine {
    pub hub: Hub,
    /// The address the HTTP server really listens on (port 0 resolved).
    pub http_addr: SocketAddr,
    /// `https` beyond loopback (unless plain HTTP was allowed), else `http`.
    scheme: &'static str,
    /// The address the MQTT broker really listens on, if it runs.
    pub mqtt_addr: Option<SocketAddr>,
    auth: Arc<Auth>,
    /// Held for the engine's life: one hub per data directory.
    _lock: std::fs::File,
    cancel: CancellationToken,
    tasks: TaskTracker,
    discovery: Option<DiscoveryHandle>,
    dns: Option<crate::dns::DnsGate>,
    /// Saves the broker's persistent sessions every second; stopped before the broker's final save.
    mqtt_saver: Option<(CancellationToken, tokio::task::JoinHandle<()>)>,
}

/// Wraps [`Discovery`] (which has no Debug) for the engine's Debug output.
struct DiscoveryHandle(Discovery);

impl std::fmt::Debug for DiscoveryHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Discovery")
    }
}

/// The open-files limit Hearth raises itself to (within the hard limit). Every MQTT connection
/// holds a file descriptor, and one that has not finished its CONNECT is closed only after
/// 10 s per stage (TLS, the protocol's first bytes, the rest): with the usual soft limit of
/// 1 024, a host on the LAN opening a hundred connections a second would lock every device out
/// and leave the database no file to open. Not higher: each connection also costs memory (about
/// 20 KiB), and 16 384 of them fit a Raspberry Pi's.
const OPEN_FILES: u64 = 16_384;

fn raise_open_files_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let wanted = limit.maximum.map_or(OPEN_FILES, |hard| hard.min(OPEN_FILES));
    if limit.current.is_some_and(|current| current < wanted) {
        let raised = Rlimit { current: Some(wanted), maximum: limit.maximum };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => tracing::debug!(from = ?limit.current, to = wanted, "raised the open-files limit"),
            Err(e) => tracing::warn!(current = ?limit.current, "cannot raise the open-files limit: {e}"),
        }
    }
}

impl Engine {
    pub async fn start(options: Options) -> Result<Self> {
        raise_open_files_limit();
        let dir = &options.data_dir;
        data_dir::create(dir)?;
        let lock = data_dir::lock(dir)?;
        let config = Config::load(dir)?;
        let secrets = Secrets::open(dir, config.secrets.store)?;
        let owner_token = data_dir::owner_token(dir)?;
        // `hub.json` is removed by a clean shutdown; the lock above says no hub runs now, so one
        // left behind means the last run was killed, crashed or lost power.
        let unclean = data_dir::previous_run_unclean(dir);
        let mqtt_save_failed = !unclean && data_dir::previous_broker_save_failed(dir);
        let store = hearth_store::Store::open(&dir.join(data_dir::DATABASE))?;
        store.warn_if_statement_journals_spill_early();
        let last_shutdown = if unclean {
            let check = store.quick_check().unwrap_or_else(|e| e.to_string());
            tracing::warn!(
                database_check = check,
                "the last run of Hearth on this data directory did not stop cleanly; the database was checked"
            );
            crate::api::types::ShutdownStatus { clean: false, database_check: Some(check), mqtt_save_failed: false }
        } else {
            if mqtt_save_failed {
                tracing::warn!(
                    "the last stop of Hearth could not save its MQTT sessions and retained messages (was the disk full?): what changed \
                     in them after the last save that worked is lost"
                );
            }
            crate::api::types::ShutdownStatus { clean: true, database_check: None, mqtt_save_failed }
        };
        let (hub, records) = Hub::with_network(store, dir, secrets.storage().clone(), config.network.clone())?;
        hub.set_last_shutdown(last_shutdown);
        hub.gate().limit_connections_per_device(config.broker.connections_per_device);
        if config.broker.allow_anonymous {
            tracing::warn!(
                "[broker] allow_anonymous is on: MQTT clients without a credential are admitted, each as a new device in quarantine (recorded, \
                 never delivered). Give each one a credential or an anonymous pin, then turn this off in {}",
                dir.join(crate::config::FILE_NAME).display()
            );
            hub.admit_anonymous_clients();
        }

        let listen = options.http_listen.unwrap_or(config.http.listen);
        let beyond_loopback = !listen.ip().is_loopback();
        // Beyond loopback the web UI is served over TLS with a certificate from Hearth's own CA,
        // unless a person chose plain HTTP for a network they trust.
        let https = beyond_loopback && !(options.allow_plain_http || config.http.allow_plain_http);
        let needs_ca = https || (config.broker.enabled && config.broker.tls && !options.no_broker);
        let (server_tls, ca_pem, ca) = if needs_ca {
            // rustls is built with two crypto back ends here (rmqtt's and reqwest's); name one.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let ca = crate::ca::LocalCa::load_or_create(&secrets, dir)?;
            let (names, addresses) = machine_names();
            let server = ca.server_certificate(dir, &names, &addresses)?;
            hub.set_ca_status(crate::api::types::CaStatus {
                file: dir.join(crate::ca::CA_FILE).display().to_string(),
                expires_at: ca.expires_at,
                server_expires_at: server.expires_at,
                mqtt_restart_needed: false,
                replaced: ca.replaced,
            });
            (Some(server), Some(ca.cert_pem.clone()), Some(ca))
        } else {
            (None, None, None)
        };
        let listener = web_listener(listen).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                anyhow::anyhow!("the web UI's address {listen} is in use by another program (another Hearth?); choose another with --http-listen ADDR or [http] listen in {}", dir.join(crate::config::FILE_NAME).display())
            } else {
                anyhow::anyhow!("cannot listen on {listen} for the web UI: {e}")
            }
        })?;
        let http_addr = listener.local_addr()?;
        if beyond_loopback && !https {
            tracing::warn!("the web UI listens on {http_addr}, beyond this machine, over plain HTTP, as allowed by --allow-plain-http");
        }
        let scheme = if https { "https" } else { "http" };

        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(crate::recorder::run(hub.clone(), records, cancel.clone()));
        tasks.spawn(crate::family::watch_grant_edges(hub.clone(), cancel.clone()));
        tasks.spawn(crate::api::live::follow_connections(hub.clone(), cancel.clone()));
        let mqtt_addr = if options.no_broker || !config.broker.enabled {
            tracing::info!("the MQTT broker is off");
            None
        } else {
            let listen = options.mqtt_listen.unwrap_or(config.broker.listen);
            let mut broker_config = BrokerConfig::new(listen);
            broker_config.saved = crate::mqtt_state::load(&hub);
            if let (true, Some(files)) = (config.broker.tls, &server_tls) {
                broker_config.tls = Some(TlsListener {
                    listen: options.mqtts_listen.unwrap_or(config.broker.tls_listen),
                    cert: files.cert.clone(),
                    key: files.key.clone(),
                });
            }
            let gate: Arc<dyn hearth_broker::Gate> = hub.gate();
            let broker = tokio::task::spawn_blocking(move || Broker::start(broker_config, gate))
                .await
                .context("starting the MQTT broker")?
                .map_err(|e| anyhow::anyhow!("{e}; the file is {}", dir.join(crate::config::FILE_NAME).display()))?;
            let addr = broker.local_addr();
            let tls = broker.tls_addr();
            let tls_shown = tls.map(|a| (display_addresses(a).join(", "), ca_pem.clone().unwrap_or_default()));
            hub.set_broker(broker, display_addresses(addr).join(", "), tls_shown);
            Some((addr, tls))
        };
        let mqtt_saver = mqtt_addr.map(|_| {
            let stop = CancellationToken::new();
            (stop.clone(), tokio::spawn(crate::mqtt_state::save_changes(hub.clone(), stop)))
        });
        let dns = start_network(&options, &config, &hub, &tasks, &cancel).await?;
        let auth = Arc::new(Auth::new(owner_token, https));
        let app = http::router(AppState { hub: hub.clone(), auth: auth.clone() });
        let web_tls = match (https, &server_tls) {
            (true, Some(files)) => Some(axum_server::tls_rustls::RustlsConfig::from_config(
                crate::ca::renew::web_tls_config(&files.cert, &files.key).await.context("loading the web UI's TLS certificate")?,
            )),
            _ => None,
        };
        tasks.spawn(http::serve::serve(listener, web_tls.clone(), app, cancel.clone()));

        if let (Some(ca), Some(files)) = (ca, &server_tls) {
            let renewal = crate::ca::renew::Renewal {
                ca,
                data_dir: dir.clone(),
                web: web_tls,
                broker_tls: mqtt_addr.is_some_and(|(_, tls)| tls.is_some()),
                machine: machine_names,
                expires_at: files.expires_at,
            };
            tasks.spawn(crate::ca::renew::run(renewal, hub.clone(), crate::ca::renew::EVERY, cancel.clone()));
        }

        let interfaces = if options.interfaces.is_empty() { config.discovery.interfaces.clone() } else { options.interfaces.clone() };
        let discovery = if options.no_discovery || !config.discovery.enabled {
            hub.set_discovery_status(DiscoveryStatus {
                enabled: false,
                interfaces,
                service_types: vec![],
                error: None,
                new_devices_not_filed: 0,
            });
            None
        } else {
            let (tx, rx) = mpsc::channel(DISCOVERY_QUEUE);
            // Announcing a service nobody else can reach would only mislead phones and devices.
            if config.discovery.advertise && !beyond_loopback {
                tracing::info!("not announcing _hearth._tcp: the web UI listens on loopback only ({http_addr})");
            }
            let advertise = config.discovery.advertise.then(|| Advertisement {
                instance: format!("Hearth on {}", host_name()),
                host: format!("hearth-{}", host_name()),
                http_port: beyond_loopback.then_some(http_addr.port()),
                mqtt_port: mqtt_addr.map(|(a, _)| a).filter(|a| !a.ip().is_loopback()).map(|a| a.port()),
                mqtts_port: mqtt_addr.and_then(|(_, tls)| tls).filter(|a| !a.ip().is_loopback()).map(|a| a.port()),
                version: env!("CARGO_PKG_VERSION").into(),
            });
            match Discovery::start(DiscoveryConfig { interfaces: interfaces.clone(), advertise }, tx) {
                Ok(d) => {
                    let types = BROWSED.iter().map(|s| (*s).to_owned()).collect();
                    hub.set_discovery_status(DiscoveryStatus {
                        enabled: true,
                        interfaces,
                        service_types: types,
                        error: None,
                        new_devices_not_filed: 0,
                    });
                    tasks.spawn(hub.clone().run_inventory(rx, cancel.clone()));
                    Some(DiscoveryHandle(d))
                }
                Err(e) => {
                    // The hub stays useful (its API, later its broker) without discovery.
                    tracing::error!("{e}");
                    hub.set_discovery_status(DiscoveryStatus {
                        enabled: false,
                        interfaces,
                        service_types: vec![],
                        error: Some(e.to_string()),
                        new_devices_not_filed: 0,
                    });
                    None
                }
            }
        };

        data_dir::write_running(
            dir,
            &data_dir::Running { url: format!("{scheme}://{}", connect_addr(http_addr)), pid: std::process::id() },
        )?;
        // Only once the start can no longer fail: a start that failed after the broker was up
        // would leave it, and the next start would say a save failed that never ran.
        if mqtt_addr.is_some()
            && let Err(e) = data_dir::mark_broker_unsaved(dir)
        {
            tracing::warn!(
                "cannot write {} in the data directory ({e}): should the final save at the stop fail, the next start will not say so",
                data_dir::BROKER_UNSAVED
            );
        }
        Ok(Self {
            hub,
            http_addr,
            scheme,
            mqtt_addr: mqtt_addr.map(|(a, _)| a),
            auth,
            _lock: lock,
            cancel,
            tasks,
            discovery,
            dns,
            mqtt_saver,
        })
    }

    /// The base URL for this machine (`http://127.0.0.1:8470`, `https://` beyond loopback).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, connect_addr(self.http_addr))
    }

    /// A fresh one-time sign-in URL.
    pub fn login_url(&self) -> Result<String> {
        Ok(format!("{}/login?code={}", self.url(), self.auth.new_code()?))
    }

    /// The base URLs other devices of the home can use: this machine's addresses when the web UI
    /// listens on all of them (0.0.0.0), its one address when it listens on one, none on loopback.
    pub fn network_urls(&self) -> Vec<String> {
        let ip = self.http_addr.ip();
        if ip.is_loopback() {
            return vec![];
        }
        let mut all = display_addresses(self.http_addr);
        if ip.is_unspecified() {
            all.pop(); // loopback: the first link printed already
        }
        all.into_iter().map(|a| format!("{}://{a}", self.scheme)).collect()
    }

    /// Stops discovery (saying goodbye for Hearth's own record), files what it already
    /// reported, stops the web server and removes the running marker.
    pub async fn shutdown(self) {
        if let Some(DiscoveryHandle(d)) = self.discovery {
            d.shutdown().await;
        }
        // The periodic save ends first, so that it cannot write after the final one.
        if let Some((stop, saver)) = self.mqtt_saver {
            stop.cancel();
            let _ = saver.await;
        }
        // Blocks up to a few seconds while clients are disconnected.
        let hub = self.hub.clone();
        let saved = tokio::task::spawn_blocking(move || crate::mqtt_state::stop_broker_and_save(&hub)).await.unwrap_or(false);
        if saved {
            data_dir::broker_saved(self.hub.data_dir());
        }
        if let Some(dns) = &self.dns {
            dns.stop();
        }
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        data_dir::remove_running(self.hub.data_dir());
        tracing::info!("hub stopped");
    }
}

/// Starts the DNS gate (when asked for), its recorder, and the firewall (when asked for: applied
/// once before anything is answered, so that a firewall that cannot be applied stops the start
/// with the reason instead of leaving devices unguarded unnoticed).
async fn start_network(
    options: &Options,
    config: &Config,
    hub: &Hub,
    tasks: &TaskTracker,
    cancel: &CancellationToken,
) -> Result<Option<crate::dns::DnsGate>> {
    let apply_firewall = options.apply_firewall || config.network.apply_firewall;
    let Some(listen) = options.dns_listen.or(config.network.dns_listen) else {
        if apply_firewall {
            anyhow::bail!(
                "--apply-firewall needs the DNS gate (--dns-listen ADDR): the firewall lets a device reach what the gate answered it"
            );
        }
        return Ok(None);
    };
    let upstream = if options.dns_upstream.is_empty() { config.network.dns_upstream.clone() } else { options.dns_upstream.clone() };
    let firewall = apply_firewall.then(|| Arc::new(crate::firewall::apply::Firewall::new(listen.port())));
    if let Some(firewall) = &firewall {
        let names = hub.store().devices()?.into_iter().map(|d| (d.id, d.name)).collect();
        firewall.apply(crate::firewall::devices(hub.network(), &names, crate::api::now())).await.context("applying the firewall")?;
        hub.set_firewall(firewall.clone());
        tasks.spawn(keep_firewall(hub.clone(), firewall.clone(), cancel.clone()));
    }
    let (recorder, queue) = crate::dns::record::queue();
    tasks.spawn(crate::dns::record::run(hub.clone(), queue, recorder.clone(), cancel.clone()));
    let hook = firewall.clone().map(|f| f as Arc<dyn crate::dns::handler::AnswerHook>);
    let (gate, limits, _task) = crate::dns::DnsGate::start(listen, &upstream, hub.network().clone(), recorder.clone(), hook).await?;
    hub.set_dns_counters(limits, recorder, gate.overloaded.clone());
    {
        let mut status = hub.network_services();
        status.dns_listen = Some(gate.addr.to_string());
        status.dns_upstream =
            if upstream.is_empty() { vec!["this machine's resolvers".into()] } else { upstream.iter().map(ToString::to_string).collect() };
        status.firewall.requested = apply_firewall;
        status.firewall.applied = firewall.is_some();
    }
    tasks.spawn(refresh_addresses(hub.clone(), cancel.clone()));
    Ok(Some(gate))
}

/// How often the address → device map is read again (announcements and connections move it).
const ADDRESSES_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

async fn refresh_addresses(hub: Hub, cancel: CancellationToken) {
    let mut every = tokio::time::interval(ADDRESSES_EVERY);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = every.tick() => {
                let hub = hub.clone();
                // Through the writer's connection, under its lock: a read on the side could put
                // back a snapshot older than a person's decision committed meanwhile.
                let _ = tokio::task::spawn_blocking(move || {
                    if let Err(e) = hub.network().reload(&hub.store()) {
                        tracing::error!("cannot read the devices' addresses: {e}");
                    }
                }).await;
            }
        }
    }
}

/// Re-applies the firewall when a permission changes (and every half minute: learning windows
/// end, devices' MAC addresses become known); removes Hearth's table on exit.
async fn keep_firewall(hub: Hub, firewall: Arc<crate::firewall::apply::Firewall>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            () = hub.firewall_change() => {}
            () = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
        }
        let names = match hub.reader().devices() {
            Ok(devices) => devices.into_iter().map(|d| (d.id, d.name)).collect(),
            Err(e) => {
                tracing::error!("cannot list devices for the firewall: {e}");
                continue;
            }
        };
        let devices = crate::firewall::devices(hub.network(), &names, crate::api::now());
        let count = devices.len() as u32;
        let result = firewall.apply(devices).await;
        let mut status = hub.network_services();
        status.firewall.devices = count;
        match result {
            Ok(_) => {
                status.firewall.applied = true;
                status.firewall.error = None;
            }
            Err(e) => {
                tracing::error!("cannot apply the firewall: {e:#}");
                status.firewall.applied = false;
                status.firewall.error = Some(format!("{e:#}"));
            }
        }
    }
    if let Err(e) = firewall.remove().await {
        tracing::error!("cannot remove Hearth's firewall table: {e:#}");
    }
}

/// The addresses others reach `addr` at: itself, or this machine's addresses when it listens on
/// all of them (0.0.0.0), loopback last so a person sees the home-network address first.
fn display_addresses(addr: SocketAddr) -> Vec<String> {
    if !addr.ip().is_unspecified() {
        return vec![addr.to_string()];
    }
    let mut addresses: Vec<std::net::IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.ip())
        .filter(|a| !a.is_loopback() && a.is_ipv4() == addr.is_ipv4())
        .collect();
    addresses.sort();
    addresses.dedup();
    addresses.push(connect_addr(addr).ip());
    addresses.into_iter().map(|a| SocketAddr::new(a, addr.port()).to_string()).collect()
}

/// The names and addresses the server certificate is for: this machine's `.local` name,
/// `localhost`, and every address it has now (the CA leaves out what it may not vouch for: a
/// public address; see `ca::scope`).
fn machine_names() -> (Vec<String>, Vec<std::net::IpAddr>) {
    let host = crate::ca::host_name();
    // Also the name Hearth announces itself under over mDNS, which devices that discover it use.
    let names = vec![format!("hearth-{}.local", host_name()), format!("{host}.local"), "localhost".to_owned()];
    let mut addresses: Vec<std::net::IpAddr> = if_addrs::get_if_addrs().unwrap_or_default().into_iter().map(|i| i.ip()).collect();
    addresses.push(std::net::IpAddr::from([127, 0, 0, 1]));
    addresses.sort();
    addresses.dedup();
    (names, addresses)
}

/// An address a client on this machine can connect to (0.0.0.0 → 127.0.0.1).
fn connect_addr(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => SocketAddr::from(([127, 0, 0, 1], addr.port())),
        ip if ip.is_unspecified() => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port())),
        _ => addr,
    }
}

/// The machine's host name as an mDNS label: lower case, letters, digits and dashes.
fn host_name() -> String {
    crate::ca::host_name().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '-' }).collect()
}

impl Engine {
    /// The token scripts and the desktop shell use.
    pub fn owner_token(&self) -> Result<String> {
        data_dir::owner_token(self.hub.data_dir()).context("reading the owner token")
    }
}

/// How many connections the kernel completes for the web UI before Hearth accepts them. mio 1.2
/// listens with 128, as Rust's standard library does (it was 1 024): a burst of connections from
/// a household's browsers, or a host flooding them, then overflows it and each connection past
/// it waits a second for its SYN to be sent again (4 000 connections took 20 s to open here).
const WEB_LISTEN_BACKLOG: u32 = 1024;

/// The web UI's listening socket, with address reuse as `TcpListener::bind` sets it.
fn web_listener(listen: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if listen.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(listen)?;
    socket.listen(WEB_LISTEN_BACKLOG)
}
