//! The hub's side of the broker: answers the broker's questions from an in-memory copy of every
//! device's policy (state, credential hash, manifest) and of who describes which entity, and
//! queues each decision (and each accepted discovery message) for the recorder, so that no MQTT
//! packet ever waits on the disk.

use crate::api::now;
use crate::api::types::{Action, Decision, DeviceState, DropReason, Event};
use hearth_broker::{Client, ConnectAttempt, Refusal, Sender, SessionInfo};
use hearth_core::credential;
use hearth_core::device::DeviceId;
use hearth_core::discovery::{self, Discovery};
use hearth_core::gate;
use hearth_core::manifest::Manifest;
use hearth_core::privacy::Redacted;
use hearth_store::{DevicePolicy, DiscoveryClaims, GateRecord};
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{broadcast, mpsc};

/// The most of one payload carried to the ledger: larger ones (pictures) are carried as their
/// first bytes, which tell their kind.
pub const CARRIED_PAYLOAD: usize = 64 * 1024;
/// The most topics counted while the recorder's queue is full.
const MAX_OVERFLOW_TOPICS: usize = 10_000;

/// The most payload bytes waiting for the recorder at once.
pub const PAYLOAD_BUDGET: usize = 32 * 1024 * 1024;

/// Decisions waiting for the recorder. At the broker's full rate the recorder writes batches
/// of thousands per transaction; this absorbs a burst of a few seconds.
pub const RECORD_QUEUE: usize = 65_536;

/// What `rewrite` did to a client's latest message: its topic, its size after, and the fields
/// removed (`None`: it could not be read, so it must be refused).
type JustRedacted = (String, usize, Option<Vec<String>>);

/// What the gate hands the recorder, in the order it decided.
#[derive(Debug)]
pub enum Record {
    Decision(GateRecord),
    /// An accepted discovery message, to file under its device, and the size of the message it
    /// came in (held against the payload budget until filed).
    Discovery(DeviceId, Discovery, usize),
}

/// Which device describes each discovery topic and each `unique_id`: the first to describe an
/// entity keeps it, so no device can replace another's.
#[derive(Debug, Default)]
struct Claims {
    scopes: HashMap<String, DeviceId>,
    unique_ids: HashMap<String, DeviceId>,
    /// The `unique_id`s each discovery topic claimed (since this start), to let them go when the
    /// topic's next message withdraws or renames them.
    scope_uids: HashMap<String, Vec<String>>,
}

impl Claims {
    fn taken(&self, device: &DeviceId, d: &Discovery) -> bool {
        let other = |owner: Option<&DeviceId>| owner.is_some_and(|o| o != device);
        other(self.scopes.get(&d.scope)) || d.unique_ids().any(|u| other(self.unique_ids.get(u)))
    }

    /// Claims what `d` describes for `device`, letting go of what the same topic described
    /// before; an empty message (a withdrawal) lets go of the topic too.
    fn claim(&mut self, device: &DeviceId, d: &Discovery) {
        for old in self.scope_uids.remove(&d.scope).unwrap_or_default() {
            if self.unique_ids.get(&old) == Some(device) {
                self.unique_ids.remove(&old);
            }
        }
        if d.entities.is_empty() && d.devices.is_empty() {
            self.scopes.remove(&d.scope);
            return;
        }
        self.scopes.insert(d.scope.clone(), device.clone());
        let uids: Vec<String> = d.unique_ids().map(str::to_owned).collect();
        for u in &uids {
            self.unique_ids.insert(u.clone(), device.clone());
        }
        self.scope_uids.insert(d.scope.clone(), uids);
    }
}

#[derive(Debug, Default)]
struct Policies {
    /// By MQTT username (the device id), and by `anon:<client id>` for devices let in without a
    /// credential.
    by_key: HashMap<String, DevicePolicy>,
    /// Client ids bound to a credential, and whose credential.
    bound_client_ids: HashMap<String, String>,
}

/// What a connection's right to stay rests on: its credential (or anonymous pin), its device's
/// state and its client-id binding. Manifests are not in it: they are checked on every packet.
fn fingerprint(policy: &DevicePolicy) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let pin = policy.anonymous.as_ref().map(|p| (&p.client_id, &p.address));
    (&policy.secret_hash, policy.state.as_str(), &policy.client_id, pin).hash(&mut h);
    h.finish()
}

fn anonymous_key(client_id: &str) -> String {
    format!("anon:{client_id}")
}

/// The key a connected client's policy is filed under.
fn key_of(client: Client<'_>) -> std::borrow::Cow<'_, str> {
    if client.username.is_empty() { anonymous_key(client.client_id).into() } else { client.username.into() }
}

/// Creates the quarantined device of an anonymous client (and reloads the policies), when the
/// home admits anonymous clients. Set by the hub, which owns the store.
pub type AnonymousHandler = Box<dyn Fn(&str, Option<std::net::IpAddr>) -> bool + Send + Sync>;

/// What a client tried, as the gate records it.
struct Packet<'a> {
    client_id: &'a str,
    action: Action,
    /// The topic, the subscription filter, or a CONNECT's Will topic (empty without one).
    topic: &'a str,
    bytes: usize,
    qos: u8,
    /// A publish's payload (empty for other packets).
    payload: &'a [u8],
}

impl<'a> Packet<'a> {
    fn connect(client_id: &'a str, will_topic: &'a str) -> Self {
        Self { client_id, action: Action::Connect, topic: will_topic, bytes: 0, qos: 0, payload: &[] }
    }

    fn other(client_id: &'a str, action: Action, topic: &'a str, qos: u8) -> Self {
        Self { client_id, action, topic, bytes: 0, qos, payload: &[] }
    }
}

pub struct HubGate {
    policies: RwLock<Policies>,
    claims: RwLock<Claims>,
    /// Fields to remove from each device's messages.
    redactions: RwLock<HashMap<DeviceId, Vec<String>>>,
    /// What `rewrite` just removed from a client's message (topic, rewritten size, fields), for
    /// the publish decision that follows it to be recorded as a redaction.
    just_redacted: std::sync::Mutex<HashMap<String, JustRedacted>>,
    records: mpsc::Sender<Record>,
    /// Decisions the recorder could not keep up with: counted, never silently lost.
    unrecorded: AtomicU64,
    /// Publishes whose payload was left out because the recorder was behind.
    payloads_dropped: AtomicU64,
    /// Payload bytes queued for the recorder (see [`PAYLOAD_BUDGET`]).
    payload_bytes: std::sync::atomic::AtomicUsize,
    /// Publishes kept only as counts (no row of their own) because the recorder's queue was full.
    aggregated: AtomicU64,
    overflow: std::sync::Mutex<HashMap<(DeviceId, String), hearth_store::ledger::Overflow>>,
    events: broadcast::Sender<Event>,
    /// `[broker] allow_anonymous`: clients without a credential become new devices.
    admit_anonymous: std::sync::OnceLock<AnonymousHandler>,
    /// Start of the current minute and the new anonymous devices filed in it.
    anonymous_window: std::sync::Mutex<(std::time::Instant, u32)>,
}

/// New anonymous devices admitted per minute in migration mode, at most.
const NEW_ANONYMOUS_PER_MINUTE: u32 = 30;

impl std::fmt::Debug for HubGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubGate").field("admits_anonymous", &self.admit_anonymous.get().is_some()).finish_non_exhaustive()
    }
}

impl HubGate {
    /// At most [`NEW_ANONYMOUS_PER_MINUTE`] anonymous clients become devices per minute: cycling
    /// through client ids must not fill the inventory or keep the store busy.
    fn new_anonymous_allowed(&self) -> bool {
        let mut window = self.anonymous_window.lock().unwrap_or_else(|p| p.into_inner());
        if window.0.elapsed() > std::time::Duration::from_secs(60) {
            *window = (std::time::Instant::now(), 0);
        }
        window.1 += 1;
        window.1 <= NEW_ANONYMOUS_PER_MINUTE
    }

    /// Admits anonymous clients from now on, each filed by `handler` as a new device.
    pub fn admit_anonymous(&self, handler: AnonymousHandler) {
        let _ = self.admit_anonymous.set(handler);
    }

    /// A client without a credential: a device pinned to its client id (and address) by a person,
    /// or, when the home admits anonymous clients, a new quarantined device.
    fn connect_anonymous(&self, a: &ConnectAttempt<'_>) -> Result<u64, Refusal> {
        let key = anonymous_key(a.client_id);
        let (known, bound_to_credential) = {
            let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
            (policies.by_key.contains_key(&key), policies.bound_client_ids.get(a.client_id).is_some_and(|owner| *owner != key))
        };
        // A client id bound to a device's credential, or held by a credentialed session, is that
        // device's: never filed or admitted as someone else's anonymous device.
        if bound_to_credential || a.existing_owner.is_some_and(|owner| !owner.is_empty()) {
            return Err(self.refuse_connect(None, a, DropReason::ClientIdTaken));
        }
        if !known {
            let Some(handler) = self.admit_anonymous.get() else {
                return Err(self.refuse_connect(None, a, DropReason::BadCredentials));
            };
            if !self.new_anonymous_allowed() {
                tracing::warn!(client_id = a.client_id, "too many new anonymous MQTT clients this minute; refused");
                return Err(self.refuse_connect(None, a, DropReason::BadCredentials));
            }
            // Filing the device writes to the store: let the broker's runtime move its other work
            // to the remaining worker meanwhile (the broker runs on a multi-threaded runtime).
            let filed = tokio::task::block_in_place(|| handler(a.client_id, a.remote.map(|r| r.ip().to_canonical())));
            if !filed {
                return Err(self.refuse_connect(None, a, DropReason::BadCredentials));
            }
        }
        let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
        let Some(policy) = policies.by_key.get(&key) else {
            drop(policies);
            return Err(self.refuse_connect(None, a, DropReason::BadCredentials));
        };
        let device = policy.device_id.clone();
        let pinned_elsewhere = policy
            .anonymous
            .as_ref()
            .and_then(|p| p.address.as_deref())
            .is_some_and(|pinned| a.remote.is_none_or(|r| pinned.parse::<std::net::IpAddr>().ok() != Some(r.ip().to_canonical())));
        let refusal = if policy.state == DeviceState::Blocked {
            Some(DropReason::Blocked)
        } else if pinned_elsewhere {
            Some(DropReason::ClientIdTaken)
        } else {
            None
        };
        let will = a.will_topic.map(|topic| gate::publish(policy.state, &policy.manifest, topic));
        let refusal = refusal.or_else(|| Self::will_refusal(a));
        let fingerprint = fingerprint(policy);
        drop(policies);
        self.conclude(a, &device, refusal, will, fingerprint)
    }

    /// The end of every CONNECT, after the policies' lock is released: the refusal, or the
    /// admission recorded with, as a publish, a Will outside the manifest. (rmqtt publishes a Will
    /// without the publish check; the gate checks it at delivery, and recording it here gets an
    /// unlisted one proposed.)
    fn conclude(
        &self,
        a: &ConnectAttempt<'_>,
        device: &DeviceId,
        refusal: Option<DropReason>,
        will: Option<Decision>,
        fingerprint: u64,
    ) -> Result<u64, Refusal> {
        if let Some(reason) = refusal {
            return Err(self.refuse_connect(Some(device), a, reason));
        }
        self.record(Some(device), &Packet::connect(a.client_id, a.will_topic.unwrap_or("")), &Decision::Allow);
        if let (Some(topic), Some(decision @ Decision::Drop(_))) = (a.will_topic, &will) {
            self.record(Some(device), &Packet::other(a.client_id, Action::Publish, topic, 0), decision);
        }
        Ok(fingerprint)
    }

    pub fn new(records: mpsc::Sender<Record>, events: broadcast::Sender<Event>) -> Self {
        Self {
            policies: RwLock::default(),
            claims: RwLock::default(),
            redactions: RwLock::default(),
            just_redacted: std::sync::Mutex::default(),
            records,
            unrecorded: AtomicU64::new(0),
            payloads_dropped: AtomicU64::new(0),
            payload_bytes: std::sync::atomic::AtomicUsize::new(0),
            aggregated: AtomicU64::new(0),
            overflow: std::sync::Mutex::default(),
            events,
            admit_anonymous: std::sync::OnceLock::new(),
            anonymous_window: std::sync::Mutex::new((std::time::Instant::now(), 0)),
        }
    }

    /// Replaces the in-memory policies (after any change a person makes).
    pub fn load(&self, all: Vec<DevicePolicy>) {
        // Client ids taken: bound to a credential (owner: its username), or pinned for anonymous
        // access (owner: `anon:<client id>`).
        let mut bound_client_ids: HashMap<String, String> =
            all.iter().filter_map(|p| Some((p.client_id.clone()?, p.username.clone()?))).collect();
        for pin in all.iter().filter_map(|p| p.anonymous.as_ref()) {
            bound_client_ids.insert(pin.client_id.clone(), anonymous_key(&pin.client_id));
        }
        let mut by_key = HashMap::new();
        for p in all {
            if let Some(pin) = &p.anonymous {
                by_key.insert(anonymous_key(&pin.client_id), p.clone());
            }
            if let Some(username) = p.username.clone() {
                by_key.insert(username, p);
            }
        }
        *self.policies.write().unwrap_or_else(|p| p.into_inner()) = Policies { by_key, bound_client_ids };
    }

    /// Replaces the in-memory redactions with what the store holds.
    pub fn load_redactions(&self, all: Vec<(DeviceId, String)>) {
        let mut by_device: HashMap<DeviceId, Vec<String>> = HashMap::new();
        for (id, path) in all {
            by_device.entry(id).or_default().push(path);
        }
        *self.redactions.write().unwrap_or_else(|p| p.into_inner()) = by_device;
    }

    /// Takes the claims on file (after a person's change, or a device forgotten), keeping the
    /// claims made in memory and not filed yet (their discovery messages may still be queued, or
    /// withdrawn) while their device is still known. Call after [`HubGate::load`].
    pub fn load_claims(&self, on_file: DiscoveryClaims) {
        let known: std::collections::HashSet<DeviceId> =
            self.policies.read().unwrap_or_else(|p| p.into_inner()).by_key.values().map(|p| p.device_id.clone()).collect();
        let mut claims = self.claims.write().unwrap_or_else(|p| p.into_inner());
        let keep = |map: &mut HashMap<String, DeviceId>, filed: Vec<(String, DeviceId)>| {
            map.retain(|_, device| known.contains(device));
            // What is on file wins over what memory holds for the same entity.
            map.extend(filed);
        };
        keep(&mut claims.scopes, on_file.scopes);
        keep(&mut claims.unique_ids, on_file.unique_ids);
    }

    /// Reads a message on a discovery topic before it is let through: it must be readable, name
    /// only topics of the device's own, and describe no entity another device describes. An
    /// accepted one is claimed at once, so two devices racing for one entity cannot both win.
    /// `Ok(None)`: not a discovery topic.
    fn read_discovery(&self, device: &DeviceId, manifest: &Manifest, topic: &str, payload: &[u8]) -> Result<Option<Discovery>, DropReason> {
        let parsed = discovery::parse(topic, payload).map_err(|e| {
            tracing::info!(%device, topic, "discovery message refused: {e}");
            DropReason::MalformedDiscovery
        })?;
        let Some(d) = parsed else { return Ok(None) };
        if let Some(foreign) = discovery::foreign_topic(&d, manifest) {
            tracing::warn!(%device, topic, foreign, "discovery message refused: it names a topic the device may not use");
            return Err(DropReason::ForeignTopic);
        }
        let mut claims = self.claims.write().unwrap_or_else(|p| p.into_inner());
        if claims.taken(device, &d) {
            tracing::warn!(%device, topic, "discovery message refused: another device describes this entity");
            return Err(DropReason::EntityTaken);
        }
        claims.claim(device, &d);
        Ok(Some(d))
    }

    /// rmqtt publishes a Will without the publish check, and a Will is published when its device
    /// is gone: a discovery message then could not be checked against the device's rights and
    /// claims of that moment. So no Will may be on a discovery topic; real firmware's Wills are
    /// availability messages.
    fn will_refusal(a: &ConnectAttempt<'_>) -> Option<DropReason> {
        a.will_topic.and_then(discovery::source_of).map(|_| DropReason::DiscoveryWill)
    }

    /// The MQTT usernames of a device's credential: its own id, or after a merge of two records
    /// the absorbed record's id, which the device keeps using.
    pub fn usernames_of(&self, device: &DeviceId) -> Vec<String> {
        let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<String> = policies.by_key.iter().filter(|(_, p)| p.device_id == *device).map(|(key, _)| key.clone()).collect();
        names.sort();
        names.dedup();
        if !names.iter().any(|n| n == device.as_str()) {
            names.push(device.as_str().to_owned());
        }
        names
    }

    pub fn unrecorded(&self) -> u64 {
        self.unrecorded.load(Ordering::Relaxed)
    }

    fn record(&self, device: Option<&DeviceId>, p: &Packet<'_>, decision: &Decision) {
        // The ledger reads a publish's payload; when the recorder is behind, payloads are the
        // first thing left out (the message's metadata is still recorded), and that is counted.
        let payload = if p.action == Action::Publish && device.is_some() {
            // A big payload is carried only as its first bytes (enough to tell a picture from
            // text); the queue's payloads are held to a byte budget, so that a camera's
            // snapshots cannot fill memory while the recorder is behind.
            let carried = &p.payload[..p.payload.len().min(CARRIED_PAYLOAD)];
            let queued = self.payload_bytes.load(Ordering::Relaxed);
            if self.records.capacity() > RECORD_QUEUE / 2 && queued + carried.len() <= PAYLOAD_BUDGET {
                self.payload_bytes.fetch_add(carried.len(), Ordering::Relaxed);
                Some(carried.to_vec())
            } else {
                self.payloads_dropped.fetch_add(1, Ordering::Relaxed);
                None
            }
        } else {
            None
        };
        let record = Record::Decision(GateRecord {
            at: now(),
            device_id: device.cloned(),
            client_id: p.client_id.to_owned(),
            action: p.action,
            topic: p.topic.to_owned(),
            bytes: p.bytes as u64,
            qos: p.qos,
            decision: decision.clone(),
            payload,
        });
        if let Err(full) = self.records.try_send(record) {
            // Then, a publish by a known device is added to its topic's counts (exact, but no
            // longer a row of its own); anything else is counted as unrecorded.
            let unsent = full.into_inner();
            if let Record::Decision(GateRecord { payload: Some(carried), .. }) = &unsent {
                self.payloads_taken(carried.len());
            }
            match (unsent, device) {
                (Record::Decision(r), Some(device)) if r.action == Action::Publish => {
                    let mut overflow = self.overflow.lock().unwrap_or_else(|p| p.into_inner());
                    let key = (device.clone(), r.topic);
                    // Bounded too: a stalled recorder and ever-new topics must not grow it.
                    if overflow.len() >= MAX_OVERFLOW_TOPICS && !overflow.contains_key(&key) {
                        self.unrecorded.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    let entry = overflow.entry(key).or_default();
                    entry.messages += 1;
                    entry.bytes += r.bytes;
                    entry.refused += u64::from(!r.decision.is_allow());
                    entry.last_at = r.at;
                    self.aggregated.fetch_add(1, Ordering::Relaxed);
                }
                _ => {
                    self.unrecorded.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// The recorder took `bytes` of payloads off the queue.
    pub fn payloads_taken(&self, bytes: usize) {
        self.payload_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// The publishes the recorder had no room for, by device and topic, since the last call.
    pub fn take_overflow(&self) -> HashMap<(DeviceId, String), hearth_store::ledger::Overflow> {
        std::mem::take(&mut *self.overflow.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Payloads left out of the ledger, and publishes kept only as counts, because the recorder
    /// was behind.
    pub fn ledger_drops(&self) -> (u64, u64) {
        (self.payloads_dropped.load(Ordering::Relaxed), self.aggregated.load(Ordering::Relaxed))
    }

    fn refuse_connect(&self, device: Option<&DeviceId>, a: &ConnectAttempt<'_>, reason: DropReason) -> Refusal {
        tracing::info!(client_id = a.client_id, remote = ?a.remote, reason = reason.as_str(), "MQTT connection refused");
        self.record(device, &Packet::connect(a.client_id, a.will_topic.unwrap_or("")), &Decision::Drop(reason));
        match reason {
            DropReason::BadCredentials => Refusal::BadCredentials,
            _ => Refusal::NotAuthorized,
        }
    }

    fn decide(&self, client: Client<'_>, p: &Packet<'_>) -> Decision {
        let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
        let Some(policy) = policies.by_key.get(key_of(client).as_ref()) else {
            // Its credential went away while it was connected; it is being disconnected.
            drop(policies);
            let decision = Decision::Drop(DropReason::BadCredentials);
            self.record(None, p, &decision);
            return decision;
        };
        let device = policy.device_id.clone();
        let mut described = None;
        let decision = match p.action {
            Action::Subscribe => gate::subscribe(policy.state, &policy.manifest, p.topic),
            _ => match gate::publish(policy.state, &policy.manifest, p.topic) {
                Decision::Allow => match self.read_discovery(&device, &policy.manifest, p.topic, p.payload) {
                    Ok(d) => {
                        described = d;
                        Decision::Allow
                    }
                    Err(reason) => Decision::Drop(reason),
                },
                refused => refused,
            },
        };
        drop(policies);
        let decision = match p.action {
            // Whatever the decision, what `rewrite` noted for this client is used up here.
            Action::Publish => {
                let just = self.just_redacted.lock().unwrap_or_else(|p| p.into_inner()).remove(p.client_id);
                match (decision, just) {
                    (Decision::Allow, Some((topic, bytes, fields))) if topic == p.topic && bytes == p.bytes => {
                        fields.map_or(Decision::Drop(DropReason::Unredactable), Decision::Redact)
                    }
                    (decision, _) => decision,
                }
            }
            _ => decision,
        };
        self.record(Some(&device), p, &decision);
        if let Some(d) = described {
            // Parsed entities take about the room of the message they came in: held to the same
            // budget as payloads. One that cannot be filed now is filed when its device sends it
            // again (firmware re-sends discovery, most of it retained).
            let size = p.payload.len();
            // Counted before it is queued: the recorder may take it off at once.
            let queued = self.payload_bytes.fetch_add(size, Ordering::Relaxed);
            if queued + size > PAYLOAD_BUDGET || self.records.try_send(Record::Discovery(device, d, size)).is_err() {
                self.payloads_taken(size);
                self.unrecorded.fetch_add(1, Ordering::Relaxed);
            }
        }
        decision
    }

    fn changed(&self, client: Client<'_>) {
        let device =
            self.policies.read().unwrap_or_else(|p| p.into_inner()).by_key.get(key_of(client).as_ref()).map(|p| p.device_id.clone());
        if let Some(id) = device {
            let _ = self.events.send(Event::BrokerChanged { id });
        }
    }
}

impl hearth_broker::Gate for HubGate {
    fn rewrite(&self, client: Client<'_>, topic: &str, payload: &[u8]) -> Option<Vec<u8>> {
        let device = self.policies.read().unwrap_or_else(|p| p.into_inner()).by_key.get(key_of(client).as_ref())?.device_id.clone();
        let redactions = self.redactions.read().unwrap_or_else(|p| p.into_inner());
        let outcome = hearth_core::privacy::redact(payload, redactions.get(&device)?);
        drop(redactions);
        let (note, rewritten) = match outcome {
            Redacted::Untouched => return None,
            Redacted::Rewritten(rewritten, removed) => ((topic.to_owned(), rewritten.len(), Some(removed)), Some(rewritten)),
            // Published as it came, then refused by the publish decision that follows.
            Redacted::Unreadable => ((topic.to_owned(), payload.len(), None), None),
        };
        self.just_redacted.lock().unwrap_or_else(|p| p.into_inner()).insert(client.client_id.to_owned(), note);
        rewritten
    }

    fn connect(&self, a: &ConnectAttempt<'_>) -> Result<u64, Refusal> {
        if a.username.is_none() {
            return self.connect_anonymous(a);
        }
        let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
        // Usernames are device ids; anything else (such as an `anon:` key) is no credential.
        let policy = a.username.filter(|u| DeviceId::parse(u).is_ok()).and_then(|u| policies.by_key.get(u));
        let Some(policy) = policy else {
            drop(policies);
            return Err(self.refuse_connect(None, a, DropReason::BadCredentials));
        };
        let device = policy.device_id.clone();
        let secret_ok = policy.secret_hash.as_deref().is_some_and(|hash| credential::verify(a.password.unwrap_or_default(), hash));
        let refusal = if !secret_ok {
            Some(DropReason::BadCredentials)
        } else if policy.state == DeviceState::Blocked {
            Some(DropReason::Blocked)
        } else if policy.client_id.as_deref().is_some_and(|bound| bound != a.client_id)
            || policies.bound_client_ids.get(a.client_id).is_some_and(|owner| Some(owner.as_str()) != a.username)
            // Taking over another device's session would hand over its subscriptions and queue.
            || a.existing_owner.is_some_and(|owner| Some(owner) != a.username)
        {
            Some(DropReason::ClientIdTaken)
        } else {
            None
        };
        let will = a.will_topic.map(|topic| gate::publish(policy.state, &policy.manifest, topic));
        let refusal = refusal.or_else(|| Self::will_refusal(a));
        let fingerprint = fingerprint(policy);
        drop(policies);
        self.conclude(a, &device, refusal, will, fingerprint)
    }

    fn fingerprint(&self, client: Client<'_>) -> Option<u64> {
        self.policies.read().unwrap_or_else(|p| p.into_inner()).by_key.get(key_of(client).as_ref()).map(fingerprint)
    }

    fn deliver(&self, receiver: Client<'_>, sender: Sender<'_>, topic: &str) -> bool {
        let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
        let Some(to) = policies.by_key.get(key_of(receiver).as_ref()) else { return false };
        let mut decision = gate::receive(to.state, &to.manifest, topic);
        if decision.is_allow() && sender.is_will {
            let sender_key = match sender.username.filter(|u| !u.is_empty()) {
                Some(username) => username.to_owned(),
                None => anonymous_key(sender.client_id),
            };
            decision = match policies.by_key.get(&sender_key) {
                Some(from) => gate::publish(from.state, &from.manifest, topic),
                None => Decision::Drop(DropReason::BadCredentials),
            };
        }
        if decision.is_allow() {
            return true;
        }
        let device = to.device_id.clone();
        drop(policies);
        self.record(Some(&device), &Packet::other(receiver.client_id, Action::Deliver, topic, 0), &decision);
        false
    }

    fn publish(&self, client: Client<'_>, topic: &str, payload: &[u8], qos: u8, _retain: bool) -> Decision {
        self.decide(client, &Packet { client_id: client.client_id, action: Action::Publish, topic, bytes: payload.len(), qos, payload })
    }

    fn subscribe(&self, client: Client<'_>, filter: &str, qos: u8) -> Decision {
        self.decide(client, &Packet::other(client.client_id, Action::Subscribe, filter, qos))
    }

    fn connected(&self, session: &SessionInfo) {
        tracing::info!(client_id = session.client_id, device = session.username, remote = ?session.remote, "MQTT client connected");
        self.changed(Client { client_id: &session.client_id, username: &session.username });
    }

    fn disconnected(&self, client: Client<'_>) {
        tracing::info!(client_id = client.client_id, device = client.username, "MQTT client disconnected");
        // A Will is rewritten like any publish but never decided on: nothing to record it for.
        self.just_redacted.lock().unwrap_or_else(|p| p.into_inner()).remove(client.client_id);
        self.changed(client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discovery(topic: &str, payload: &str) -> Discovery {
        discovery::parse(topic, payload.as_bytes()).unwrap().unwrap()
    }

    /// A Zigbee device moves from one bridge to another: the first bridge's withdrawal frees the
    /// entity for the second.
    #[test]
    fn a_withdrawn_or_renamed_entity_is_free_for_another_device() {
        let (a, b) = (DeviceId::parse("d-00000000000a").unwrap(), DeviceId::parse("d-00000000000b").unwrap());
        let mut claims = Claims::default();
        let first = discovery("homeassistant/sensor/door/config", r#"{"uniq_id":"door-1","stat_t":"a/door"}"#);
        claims.claim(&a, &first);
        let by_b = discovery("homeassistant/sensor/door2/config", r#"{"uniq_id":"door-1","stat_t":"b/door"}"#);
        assert!(claims.taken(&b, &by_b), "taken while a describes it");
        claims.claim(&a, &discovery("homeassistant/sensor/door/config", r#"{"uniq_id":"door-2","stat_t":"a/door"}"#));
        assert!(!claims.taken(&b, &by_b), "renamed: the old unique_id is free");
        claims.claim(&a, &discovery("homeassistant/sensor/door/config", ""));
        assert!(
            !claims.taken(&b, &discovery("homeassistant/sensor/door/config", r#"{"uniq_id":"door-2","stat_t":"b/door"}"#)),
            "withdrawn: the topic is free"
        );
    }
}
