//! Starting, watching and stopping the embedded rmqtt engine.

use crate::hooks::{Drops, GateHooks};
use crate::live::Sessions;
use crate::persist::{self, Journal, Restored};
use crate::retained::{Retained, RetainedLimits, RetainedStorage, RetainedUse};
use crate::{Gate, HUB_CLIENT_ID, SessionInfo};
use hearth_core::mqtt_state::{BrokerChanges, SavedBroker};
use rmqtt::context::ServerContext;
use rmqtt::net::Builder;
use rmqtt::server::MqttServer;
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// Where and how the broker listens.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub listen: SocketAddr,
    /// The largest packet accepted (a camera snapshot is a few hundred KB).
    pub max_packet_size: u32,
    /// Messages kept for an offline persistent session (or a slow one), per session.
    pub max_queued: usize,
    /// Bytes (topics and payloads) kept the same way, per session: a camera's snapshots queued
    /// for a dashboard that is away stop here. Past either limit new messages are dropped
    /// (QoS 0 always, QoS 1 and 2 over the bytes; over the count the oldest QoS 1 and 2 go) and
    /// counted per session.
    pub max_queued_bytes: usize,
    /// How long an offline persistent session (and its queue) is kept.
    pub session_expiry: Duration,
    /// MQTT over TLS (8883), with this certificate chain and key (PEM files).
    pub tls: Option<TlsListener>,
    /// Retained messages kept per publisher and in total.
    pub retained: RetainedLimits,
    /// Persistent sessions and retained messages saved before the last stop, put back before
    /// the first client is accepted.
    pub saved: SavedBroker,
}

/// The longest client id accepted (rmqtt's default is the wire's 65 535 bytes). MQTT promises
/// 23 characters; real firmware uses fewer than 64 (`DVES_A1B2C3`, `shellyplus1-c4dd57877294`,
/// `homeassistant_2b1e...`). Longer ones are refused with *client identifier not valid* before
/// the gate is asked, so they are never stored.
pub const MAX_CLIENT_ID: usize = 128;
/// Subscriptions one session may hold: Home Assistant subscribes to each entity's topics (a
/// large home has a few thousand); a storm of distinct filters stops here.
const MAX_SUBSCRIPTIONS: usize = 10_000;
/// Levels of a subscription filter; real topics have fewer than ten.
const MAX_TOPIC_LEVELS: usize = 64;
/// How long a client has to finish its CONNECT (and TLS handshake) once it started it: a slow
/// sender holds a connection and a buffer meanwhile. rmqtt's default is 30 s.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
// When the kernel asks a silent connection's peer whether it is still there (TCP keepalive):
// after 90 s of silence, then every 10 s, ending the connection after three probes unanswered,
// so that a peer gone without a word is noticed within two minutes (90 + 10 × 3 s); data it
// never acknowledges ends the connection in as long (`TCP_USER_TIMEOUT`; Linux sent it again
// for about 15 minutes). It matters for an MQTT 3 device that asked for no keep alive, which is
// never given a limit (see `fitter`): with Linux's defaults it held its connection, and one of
// its credential's places, for 2 h 11 min. A live device whose keep alive is under 90 s (most
// real ones ask for 15 to 60) is never probed; one with a longer keep alive is probed between
// its pings, which its kernel answers without waking it.
/// Silence before a connection's peer is first probed (see the comment above).
const DEAD_PEER_SILENCE: Duration = Duration::from_secs(90);
/// Time between two probes of a silent peer.
const DEAD_PEER_PROBE_INTERVAL: Duration = Duration::from_secs(10);
/// Probes unanswered before the connection is ended.
const DEAD_PEER_PROBES: u32 = 3;
/// Sessions (live and offline) at once: each persistent one is kept a week with its queue.
const MAX_SESSIONS: isize = 20_000;
/// The longest keep alive granted to an MQTT 5 client, and what one asking for none gets (see
/// `fitter`): real devices ask for 15 to 120 s.
pub const MAX_KEEPALIVE: u16 = 600;
/// Topic aliases each way on an MQTT 5 connection: the topics a client publishes to again and
/// again are sent as two bytes instead of the whole name (rmqtt's default, 0, refused the
/// client's aliases and gave none).
const MAX_TOPIC_ALIASES: u16 = 64;
/// Unacknowledged QoS 1 and 2 messages in flight each way per connection; MQTT 5 clients are
/// told (Receive Maximum), and one that sends more is disconnected with 0x93.
const MAX_INFLIGHT: u16 = 64;

/// What waits in the broker for one device's clients (see [`Broker::waiting_for`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Waiting {
    /// Persistent sessions kept while their client is away.
    pub offline_sessions: u64,
    /// Messages queued for them, or on their way to their queue.
    pub messages: u64,
    /// Their topics and payloads, in bytes.
    pub bytes: u64,
    /// Messages dropped on their way to them since Hearth started: a queue was full, or as much
    /// as a queue holds was on its way to it.
    pub dropped: u64,
}

/// Who holds a client id's session, live or offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOwner {
    /// Its username (a device id), or empty for a device let in without a credential.
    pub username: String,
    pub connected: bool,
}

#[derive(Debug, Clone)]
pub struct TlsListener {
    pub listen: SocketAddr,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

impl BrokerConfig {
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            max_packet_size: 1024 * 1024,
            max_queued: 100_000,
            max_queued_bytes: 16 * 1024 * 1024,
            session_expiry: Duration::from_secs(7 * 24 * 3600),
            tls: None,
            retained: RetainedLimits::default(),
            saved: SavedBroker::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(
        "the MQTT address {0} is in use by another program (another broker such as Mosquitto, or another Hearth?); stop it or choose another address with --mqtt-listen ADDR (plain) or --mqtts-listen ADDR (TLS), or [broker] listen / tls_listen in hearth.toml ([broker] tls = false turns TLS off)"
    )]
    AddrInUse(SocketAddr),
    #[error("cannot start the MQTT broker on {addr}: {reason}")]
    Start { addr: SocketAddr, reason: String },
}

/// A running broker. Dropping it without [`Broker::shutdown`] stops it too, less gently.
pub struct Broker {
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    runtime: tokio::runtime::Handle,
    scx: ServerContext,
    sessions: Sessions,
    lost: Arc<AtomicU64>,
    drops: Arc<Drops>,
    retained: Arc<Retained>,
    journal: Arc<Journal>,
    restored: Restored,
    queue_limits: (usize, usize),
    /// What the broker's thread saved while stopping, for [`Broker::shutdown`] to return.
    final_state: Arc<Mutex<Option<SavedBroker>>>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Broker {
    /// Starts the broker on its own thread and runtime and returns once it listens.
    pub fn start(config: BrokerConfig, gate: Arc<dyn Gate>) -> Result<Self, BrokerError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let listen = config.listen;
        let queue_limits = (config.max_queued, config.max_queued_bytes);
        let final_state: Arc<Mutex<Option<SavedBroker>>> = Arc::default();
        let final_slot = final_state.clone();
        let thread = std::thread::Builder::new()
            .name("hearth-broker".into())
            .spawn(move || {
                let runtime =
                    match tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("hearth-mqtt").enable_all().build() {
                        Ok(rt) => rt,
                        Err(e) => {
                            let _ = ready_tx.send(Err(BrokerError::Start { addr: listen, reason: e.to_string() }));
                            return;
                        }
                    };
                runtime.block_on(async move {
                    let sessions: Sessions = Arc::default();
                    let lost = Arc::new(AtomicU64::new(0));
                    let journal = Arc::new(Journal::default());
                    let retained = Arc::new(Retained::new(config.retained, journal.clone()));
                    let shared = Shared { sessions, lost, drops: Arc::default(), retained, journal };
                    match serve(config, gate.clone(), &shared).await {
                        Ok((scx, (addr, tls_addr), restored, server)) => {
                            let runtime = tokio::runtime::Handle::current();
                            let _ = ready_tx.send(Ok((addr, tls_addr, runtime, scx.clone(), shared.clone(), restored)));
                            tokio::select! {
                                _ = server => tracing::error!("the MQTT broker stopped accepting connections"),
                                _ = stop_rx => {}
                            }
                            // The listeners are gone with `server`: nothing changes under the
                            // snapshot but what the sessions' own loops finish.
                            let (sessions, messages) = persist::snapshot(&scx, gate.as_ref()).await;
                            let retained = shared.retained.snapshot().await;
                            *final_slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(SavedBroker { sessions, messages, retained });
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
                // rmqtt's own background loops (retainer expiry, executors) never end by
                // themselves: dropping the runtime ends them.
                runtime.shutdown_timeout(Duration::from_secs(2));
            })
            .map_err(|e| BrokerError::Start { addr: listen, reason: e.to_string() })?;
        match ready_rx.recv() {
            Ok(Ok((addr, tls_addr, runtime, scx, shared, restored))) => {
                tracing::info!(%addr, ?tls_addr, "MQTT broker listening");
                Ok(Self {
                    addr,
                    tls_addr,
                    runtime,
                    scx,
                    sessions: shared.sessions,
                    lost: shared.lost,
                    drops: shared.drops,
                    retained: shared.retained,
                    journal: shared.journal,
                    restored,
                    queue_limits,
                    final_state,
                    stop: Mutex::new(Some(stop_tx)),
                    thread: Mutex::new(Some(thread)),
                })
            }
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(BrokerError::Start { addr: listen, reason: "the broker thread ended while starting".into() }),
        }
    }

    /// The address the broker really listens on (port 0 resolved).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where MQTT over TLS listens, if it does.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// Each session's queue limits: messages, bytes.
    pub fn queue_limits(&self) -> (usize, usize) {
        self.queue_limits
    }

    /// What was put back at start from the saved state.
    pub fn restored(&self) -> Restored {
        self.restored
    }

    /// What changed in persistent sessions and retained messages since the last call, for the
    /// hub to save. Waits for the broker's own runtime (a few milliseconds).
    pub async fn changes(&self) -> BrokerChanges {
        let (scx, journal) = (self.scx.clone(), self.journal.clone());
        let (tx, rx) = oneshot::channel();
        self.runtime.spawn(async move {
            let _ = tx.send(persist::changes(&scx, &journal).await);
        });
        rx.await.unwrap_or_default()
    }

    /// The rows of these sessions, handed out by [`Broker::changes`], will never be written (the
    /// store failed too long, or the save was lost): they are handed out again, whole, with the
    /// next changes.
    pub fn not_written(&self, client_ids: Vec<String>) {
        self.journal.not_written(client_ids);
    }

    /// Messages queued for offline sessions left out of a save since start (the hub did not
    /// take the changes fast enough): after a power cut they would be missing.
    pub fn unsaved_messages(&self) -> u64 {
        self.journal.unsaved()
    }

    /// Messages accepted but not delivered to a subscriber since start (its queue or inflight
    /// window overflowed).
    pub fn lost_messages(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Live sessions, oldest first.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        let mut all: Vec<SessionInfo> = self.sessions.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect();
        all.sort_by_key(|s| s.connected_at);
        all
    }

    /// Disconnects every session of `username` at once (revoked or blocked device), live or
    /// offline, and drops their persistent state: a client must not resume a session (its
    /// subscriptions and queue) that its device lost the right to.
    pub fn disconnect_user(&self, username: &str) {
        let (scx, username, journal) = (self.scx.clone(), username.to_owned(), self.journal.clone());
        // Spawned: a kick waits for the session's own loop, which may be inside a hook now.
        self.runtime.spawn(async move {
            for client_id in kick_user(&scx, &username).await {
                journal.session_changed(&client_id);
            }
        });
    }

    /// Publishes a message as the hub itself (a person operated a device from the UI). It goes to
    /// the subscribers the gate lets receive the topic, like any message; it is never retained.
    /// Returns once the broker has taken it (within a second), or why it could not.
    pub fn publish(&self, topic: &str, payload: Vec<u8>, qos: u8) -> Result<(), String> {
        use rmqtt::types::{ClientId, CodecPublish, From as Sender, Id, Publish, QoS, UserName};
        let qos = match qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        };
        let publish = Publish::from(CodecPublish {
            dup: false,
            retain: false,
            qos,
            topic: topic.into(),
            packet_id: None,
            payload: payload.into(),
            properties: None,
        })
        .create_time(rmqtt::utils::timestamp_millis());
        let (scx, runtime) = (self.scx.clone(), self.runtime.clone());
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        runtime.spawn(async move {
            let id =
                Id::new(scx.node.id(), 0, None, None, ClientId::from_static(HUB_CLIENT_ID), Some(UserName::from_static(HUB_CLIENT_ID)));
            let sent = rmqtt::session::SessionState::forwards(&scx, Sender::from_system(id), publish, false, None).await;
            let _ = done_tx.send(sent.map_err(|e| e.to_string()));
        });
        done_rx
            .recv_timeout(std::time::Duration::from_secs(1))
            .map_err(|_| "the broker did not take the message within a second".to_owned())?
    }

    /// Removes the retained messages `owners` published (only on topics matching `filter`, if
    /// given): a person blocked or forgot their device, or denied it the topic. (Deliveries check
    /// the publisher's rights of the moment too, so nothing slips out meanwhile.)
    pub fn clear_retained(&self, owners: Vec<String>, filter: Option<String>) {
        let retained = self.retained.clone();
        self.runtime.spawn(async move {
            let cleared = retained.purge(&owners, filter.as_deref()).await;
            if cleared > 0 {
                tracing::info!(cleared, ?filter, "retained messages cleared: their publisher lost the right to them");
            }
        });
    }

    /// What `owner` (a username, or `anon:<client id>`) holds in retained messages.
    pub fn retained_use(&self, owner: &str) -> RetainedUse {
        self.retained.usage_of(owner)
    }

    /// All retained messages held, and every one refused for a limit since start.
    pub fn retained_totals(&self) -> RetainedUse {
        self.retained.totals()
    }

    /// What waits for the clients of `usernames` (a device's): their offline persistent
    /// sessions, the messages queued for them (offline, or connected and slow), and the messages
    /// dropped on their way to them since start. Blocks briefly: call it off the async workers.
    pub fn waiting_for(&self, usernames: &[String]) -> Waiting {
        let (scx, runtime, drops, usernames) = (self.scx.clone(), self.runtime.clone(), self.drops.clone(), usernames.to_vec());
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let entries: Vec<_> = scx.extends.shared().await.iter().collect();
                let mut waiting = Waiting::default();
                for entry in entries {
                    let Some(session) = entry.session() else { continue };
                    // A device without a credential is known by its client id (as the gate keys it).
                    let key = match session.id.username.as_deref().filter(|u| !u.is_empty()) {
                        Some(username) => username.to_owned(),
                        None => format!("anon:{}", session.id.client_id),
                    };
                    if !usernames.contains(&key) {
                        continue;
                    }
                    if !entry.is_connected().await {
                        waiting.offline_sessions += 1;
                    }
                    // Queued, and on their way to the queue while the connection waits on a
                    // write (bounded alike: vendor/PATCHES.md, rmqtt change 19).
                    let queue = session.deliver_queue();
                    let (incoming, incoming_bytes) = queue.incoming();
                    waiting.messages += (queue.len() + incoming) as u64;
                    waiting.bytes += (queue.bytes() + incoming_bytes) as u64;
                    waiting.dropped += drops.of(&session.id.client_id);
                }
                waiting
            })
        })
        .join()
        .unwrap_or_default()
    }

    /// Who holds the session (live or offline) of `client_id`, if anyone. Blocks briefly: call it
    /// off the async workers.
    pub fn session_owner(&self, client_id: &str) -> Option<SessionOwner> {
        use rmqtt::types::{ClientId, Id};
        let (scx, runtime, client_id) = (self.scx.clone(), self.runtime.clone(), client_id.to_owned());
        // On a thread of its own: `block_on` must not run on one of a runtime's workers.
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let entry = scx.extends.shared().await.entry(Id::from(scx.node.id(), ClientId::from(client_id)));
                let session = entry.session()?;
                let username = session.id.username.as_ref().map(ToString::to_string).unwrap_or_default();
                Some(SessionOwner { username, connected: entry.is_connected().await })
            })
        })
        .join()
        .ok()
        .flatten()
    }

    /// Disconnects the session (live or offline) of one client id, as for [`Broker::disconnect_user`].
    pub fn disconnect_client(&self, client_id: &str) {
        let (scx, client_id, journal) = (self.scx.clone(), client_id.to_owned(), self.journal.clone());
        self.runtime.spawn(async move {
            kick_client(&scx, &client_id).await;
            journal.session_changed(&client_id);
        });
    }

    /// Disconnects every client and stops the broker, and returns every persistent session
    /// (subscriptions, unacknowledged and queued messages) and retained message, to be saved
    /// whole; later calls do nothing and return `None`. Blocks until the broker's thread has
    /// ended (at most a few seconds).
    pub fn shutdown(&self) -> Option<SavedBroker> {
        if let Some(stop) = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = stop.send(());
        }
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!("the MQTT broker thread panicked while stopping");
        }
        self.final_state.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What the broker's handle and its hooks share.
#[derive(Clone)]
struct Shared {
    sessions: Sessions,
    lost: Arc<AtomicU64>,
    drops: Arc<Drops>,
    retained: Arc<Retained>,
    journal: Arc<Journal>,
}

/// The listener id of the plain listener (the TLS one is 2): restored sessions take its settings.
const PLAIN_LISTENER: u16 = 1;

async fn serve(
    config: BrokerConfig,
    gate: Arc<dyn Gate>,
    shared: &Shared,
) -> Result<(ServerContext, (SocketAddr, Option<SocketAddr>), Restored, impl std::future::Future<Output = ()>), BrokerError> {
    let addr = config.listen;
    let scx = ServerContext::new()
        .node_id(1)
        // Refusing clients when the machine's load average is high is wrong for a home hub
        // on a Raspberry Pi, and its sampling task would run forever.
        .busy_check_enable(false)
        .mqtt_max_sessions(MAX_SESSIONS)
        .build()
        .await;
    // Hearth's own retained-message store (see `retained`), where rmqtt-retainer's would go.
    *scx.extends.retain_mut().await = Box::new(RetainedStorage(shared.retained.clone()));
    *scx.extends.fitter_mgr_mut().await = Box::new(crate::fitter::HearthFitters);
    *scx.extends.shared_subscription_mut().await = Box::new(crate::shared::TakeTurns::new(gate.clone()));
    GateHooks::install(&scx, gate.clone(), shared.sessions.clone(), shared.lost.clone(), shared.drops.clone(), shared.journal.clone())
        .await;

    let plain = listener(&config, addr, None)?;
    let local = plain.local_addr().map_err(|e| BrokerError::Start { addr, reason: format!("{e:#}") })?;
    let mut server = MqttServer::new(scx.clone()).listener_by_id(plain, PLAIN_LISTENER);
    let mut tls_local = None;
    if let Some(tls) = &config.tls {
        let secure = listener(&config, tls.listen, Some(tls))?;
        tls_local = Some(secure.local_addr().map_err(|e| BrokerError::Start { addr: tls.listen, reason: format!("{e:#}") })?);
        server = server.listener_by_id(secure, 2);
    }
    let server = server.build();
    // Before the first connection is accepted (`server.run` below): a client resuming its
    // session finds it.
    let now = rmqtt::utils::timestamp_millis();
    let retained_count = shared.retained.restore(config.saved.retained, &scx, gate.as_ref()).await;
    let saved = SavedBroker { retained: Vec::new(), ..config.saved };
    let mut restored = persist::restore(&scx, gate.as_ref(), &shared.journal, PLAIN_LISTENER, saved, now).await;
    restored.retained = retained_count;
    tokio::spawn(expire_retained(shared.retained.clone()));
    if restored != Restored::default() {
        tracing::info!(?restored, "MQTT sessions and retained messages put back from before the restart");
    }
    Ok((scx, (local, tls_local), restored, async move {
        if let Err(e) = server.run().await {
            tracing::error!("MQTT broker: {e:#}");
        }
    }))
}

/// Takes retained messages whose MQTT 5 expiry ran out out of the store, their publishers'
/// books and the saved state, about a second later (until then delivery leaves them out: rmqtt
/// change 26). Ends with the broker's runtime.
async fn expire_retained(retained: Arc<Retained>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        retained.expire(rmqtt::utils::timestamp_millis()).await;
    }
}

/// One listener, plain or TLS, with the same limits and the pitfalls of rmqtt 0.24.0 handled.
fn listener(config: &BrokerConfig, addr: SocketAddr, tls: Option<&TlsListener>) -> Result<rmqtt::net::Listener, BrokerError> {
    let inflight = NonZeroU16::new(MAX_INFLIGHT).unwrap_or(NonZeroU16::MIN);
    let builder = Builder::new()
        .name(if tls.is_some() { "mqtts" } else { "mqtt" })
        .laddr(addr)
        .nodelay(true)
        .reuseaddr(Some(true))
        .allow_anonymous(false)
        .max_packet_size(config.max_packet_size)
        .max_inflight(inflight)
        .max_mqueue_len(config.max_queued)
        .max_mqueue_bytes(config.max_queued_bytes)
        .session_expiry_interval(config.session_expiry)
        .max_session_expiry_interval(config.session_expiry)
        .max_clientid_len(MAX_CLIENT_ID)
        .max_subscriptions(MAX_SUBSCRIPTIONS)
        .max_topic_levels(MAX_TOPIC_LEVELS)
        .handshake_timeout(HANDSHAKE_TIMEOUT)
        .tcp_keepalive_probes(DEAD_PEER_SILENCE, DEAD_PEER_PROBE_INTERVAL, DEAD_PEER_PROBES)
        .max_keepalive(MAX_KEEPALIVE)
        .max_topic_aliases(MAX_TOPIC_ALIASES)
        // Zero: unacknowledged messages are sent again when the client reconnects, never on a
        // timer while it is connected (MQTT 5 forbids that, MQTT-4.4.0-1; rmqtt's default is 20 s).
        .message_retry_interval(Duration::ZERO)
        // Zero: messages queued for an offline session wait for it (until the session expires)
        // instead of silently expiring after rmqtt's default of five minutes.
        .message_expiry_interval(Duration::ZERO)
        .tls_cert(tls.map(|t| t.cert.display().to_string()))
        .tls_key(tls.map(|t| t.key.display().to_string()));
    let bound = builder.bind().map_err(|e| match e.downcast_ref::<std::io::Error>().map(std::io::Error::kind) {
        Some(std::io::ErrorKind::AddrInUse) => BrokerError::AddrInUse(addr),
        _ => BrokerError::Start { addr, reason: format!("{e:#}") },
    })?;
    let typed = if tls.is_some() { bound.tls() } else { bound.tcp() };
    typed.map_err(|e| BrokerError::Start { addr, reason: format!("{e:#}") })
}

/// Kicks the session, live or offline, of `client_id`.
pub(crate) async fn kick_client(scx: &ServerContext, client_id: &str) {
    use rmqtt::types::{ClientId, Id};
    let mut entry = scx.extends.shared().await.entry(Id::from(scx.node.id(), ClientId::from(client_id)));
    if entry.session().is_some()
        && let Err(e) = entry.kick(true, true, true).await
    {
        tracing::warn!(client_id, "could not disconnect an MQTT session: {e:#}");
    }
}

/// Kicks every session, live or offline, whose username is `username`. Returns their client ids.
pub(crate) async fn kick_user(scx: &ServerContext, username: &str) -> Vec<String> {
    let entries: Vec<_> =
        scx.extends.shared().await.iter().filter(|e| e.session().is_some_and(|s| s.id.username.as_deref() == Some(username))).collect();
    let mut kicked = Vec::with_capacity(entries.len());
    for mut entry in entries {
        if let Some(session) = entry.session() {
            kicked.push(session.id.client_id.to_string());
        }
        if let Err(e) = entry.kick(true, true, true).await {
            tracing::warn!(username, "could not disconnect an MQTT session: {e:#}");
        }
    }
    kicked
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
