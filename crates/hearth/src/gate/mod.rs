//! The hub's side of the broker: answers the broker's questions from an in-memory copy of every
//! device's policy (state, credential hash, manifest) and of who describes which entity, and
//! queues each decision (and each accepted discovery message) for the recorder, so that no MQTT
//! packet ever waits on the disk.
//!
//! Map:
//! - this file: the policies in memory and the answers to the broker (connect, publish,
//!   subscribe, every delivery, Wills);
//! - [`anonymous`]: clients without a credential (pinned devices, or migration mode);
//! - [`attempts`]: CONNECT attempts counted and limited per source address;
//! - [`claims`]: who describes which entity, and the reading of discovery messages;
//! - [`record`]: the queue to the recorder and its backpressure.

mod anonymous;
pub mod attempts;
pub mod claims;
mod known_hosts;
mod record;

pub use anonymous::AnonymousHandler;
pub use record::{CARRIED_PAYLOAD, PAYLOAD_BUDGET, RECORD_QUEUE, Record};

use crate::api::now;
use crate::api::types::{Action, Decision, DeviceState, DropReason, Event};
use attempts::{Attempt, AttemptKey, Attempts, Noted};
use claims::Claims;
use hearth_broker::{Admission, Client, ConnectAttempt, Refusal, Sender, SessionInfo, WillVerdict};
use hearth_core::credential;
use hearth_core::device::DeviceId;
use hearth_core::discovery;
use hearth_core::gate;
use hearth_core::privacy::Redacted;
use hearth_core::text::{LOGGED, STORED, clip};
use hearth_store::DevicePolicy;
use record::JustRedacted;
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{broadcast, mpsc};

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

/// Offline persistent sessions one credential may hold under other client ids. Each is kept a
/// week with its subscriptions and queue (up to 100 000 messages); a device uses one or two
/// client ids, so a compromised one cycling through thousands (and filling the broker's 20 000
/// sessions, which would lock every device out) is stopped here.
const MAX_OFFLINE_SESSIONS: usize = 16;

/// Where a CONNECT came from, as the attempts are counted.
fn address_of(a: &ConnectAttempt<'_>) -> Option<std::net::IpAddr> {
    a.remote.map(|r| r.ip().to_canonical())
}

/// The key a connected client's policy is filed under.
/// The key a live session's device is known by (its username, or `anon:<client id>`).
pub(crate) fn session_key(session: &SessionInfo) -> std::borrow::Cow<'_, str> {
    key_of(Client { client_id: &session.client_id, username: &session.username })
}

fn key_of(client: Client<'_>) -> std::borrow::Cow<'_, str> {
    if client.username.is_empty() { anonymous_key(client.client_id).into() } else { client.username.into() }
}

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
    /// CONNECT attempts, counted and limited per source address.
    attempts: Attempts,
    /// Live connections one credential may hold (`[broker] connections_per_device`).
    connections_per_device: std::sync::atomic::AtomicUsize,
    /// Records each device queued in the current second while the recorder is behind (see
    /// `record`'s fair share).
    fair_share: std::sync::Mutex<(std::time::Instant, HashMap<DeviceId, u32>)>,
    /// When the policies were last loaded (ms since the epoch): a live message published after it
    /// was decided under the policies of now, so its delivery need not check its sender again.
    policies_loaded_at: std::sync::atomic::AtomicI64,
    /// Since when each device has the redactions it has now, where it gained one since start:
    /// its messages published before that (queued for offline subscribers) may hold the field.
    redacted_since: RwLock<HashMap<DeviceId, i64>>,
    /// Whether the redactions were loaded once (the first load is no change).
    redactions_loaded: std::sync::atomic::AtomicBool,
    /// Discovery messages refused because another device describes their entity, per device.
    contests: std::sync::Mutex<HashMap<DeviceId, Vec<claims::Contest>>>,
}

impl std::fmt::Debug for HubGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubGate").field("admits_anonymous", &self.admit_anonymous.get().is_some()).finish_non_exhaustive()
    }
}

impl HubGate {
    /// The end of every CONNECT, after the policies' lock is released: the refusal, or the
    /// admission. Either is counted (see `attempts`), never a row each; a Will outside the
    /// manifest is recorded as a refused publish the first time this minute, so that it is
    /// proposed (the Will itself is decided when it is published, see `Gate::will`).
    fn conclude(
        &self,
        a: &ConnectAttempt<'_>,
        device: &DeviceId,
        refusal: Option<DropReason>,
        will: Option<Decision>,
        admission: Admission,
    ) -> Result<Admission, Refusal> {
        if let Some(reason) = refusal {
            return Err(self.refuse_connect(Some(device), a, reason));
        }
        let attempt = Attempt { device: Some(device.clone()), host: address_of(a), outcome: None };
        let (noted, _) = self.attempts.note(&attempt, a.client_id, a.username, now());
        if noted == Noted::First {
            // Once a minute per device and address: a device reconnecting hundreds of times a
            // second (a compromised one) must not grow the log; the device page counts them.
            tracing::info!(client_id = %clip(a.client_id, LOGGED), %device, remote = ?a.remote, "MQTT client connected (more from it this minute are counted, not logged)");
        }
        if let (Noted::First, Some(topic), Some(decision @ Decision::Drop(_))) = (noted, a.will_topic, &will) {
            self.record(Some(device), &Packet::other(a.client_id, Action::Publish, &clip(topic, STORED), 0), decision);
        }
        Ok(admission)
    }

    /// Whether the session holding the client id (`owner`: its username, empty for a session
    /// without a credential) belongs to a device that is not approved: a squatter, which gives
    /// way to an approved device.
    fn gives_way(policies: &Policies, owner: &str, client_id: &str) -> bool {
        let key = if owner.is_empty() { anonymous_key(client_id) } else { owner.to_owned() };
        policies.by_key.get(&key).is_none_or(|holder| holder.state != DeviceState::Approved)
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
            attempts: Attempts::default(),
            connections_per_device: std::sync::atomic::AtomicUsize::new(crate::config::DEFAULT_CONNECTIONS_PER_DEVICE),
            contests: std::sync::Mutex::default(),
            fair_share: std::sync::Mutex::new((std::time::Instant::now(), HashMap::new())),
            policies_loaded_at: std::sync::atomic::AtomicI64::new(0),
            redacted_since: RwLock::default(),
            redactions_loaded: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Live connections one credential may hold at once (`[broker] connections_per_device`).
    pub fn limit_connections_per_device(&self, limit: std::num::NonZeroUsize) {
        self.connections_per_device.store(limit.get(), Ordering::Relaxed);
    }

    /// Replaces the in-memory policies (after any change a person makes).
    pub fn load(&self, all: Vec<DevicePolicy>) {
        // Client ids taken: bound to a credential (owner: its username), or pinned for anonymous
        // access (owner: `anon:<client id>`).
        let mut bound_client_ids: HashMap<String, String> =
            all.iter().filter_map(|p| Some((p.client_id.clone()?, p.username.clone()?))).collect();
        // A pin reserves its client id only for an approved device: migration mode pins every
        // newcomer, and a newcomer nobody approved must not lock an approved device out of the
        // client id it took first (it gives way; see `gives_way`).
        for pin in all.iter().filter(|p| p.state == DeviceState::Approved).filter_map(|p| p.anonymous.as_ref()) {
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
        self.policies_loaded_at.store(now(), Ordering::Release);
    }

    /// Replaces the in-memory redactions with what the store holds.
    pub fn load_redactions(&self, all: Vec<(DeviceId, String)>) {
        let mut by_device: HashMap<DeviceId, Vec<String>> = HashMap::new();
        for (id, path) in all {
            by_device.entry(id).or_default().push(path);
        }
        let mut redactions = self.redactions.write().unwrap_or_else(|p| p.into_inner());
        // The first load, at start, is the baseline, not a change: what was kept from before
        // the start (retained and queued messages) had its redactions applied again when it was
        // put back (`Gate::redact_kept`).
        let first = !self.redactions_loaded.swap(true, Ordering::AcqRel);
        let gained: Vec<DeviceId> = if first {
            Vec::new()
        } else {
            by_device
                .iter()
                .filter(|(id, paths)| redactions.get(*id).is_none_or(|before| paths.iter().any(|p| !before.contains(p))))
                .map(|(id, _)| id.clone())
                .collect()
        };
        *redactions = by_device;
        drop(redactions);
        let at = now();
        let mut since = self.redacted_since.write().unwrap_or_else(|p| p.into_inner());
        for id in gained {
            since.insert(id, at);
        }
        self.policies_loaded_at.store(at, Ordering::Release);
    }

    /// rmqtt publishes a Will without the publish check, and a Will is published when its device
    /// is gone: a discovery message then could not be checked against the device's rights and
    /// claims of that moment. So no Will may be on a discovery topic; real firmware's Wills are
    /// availability messages.
    fn will_refusal(a: &ConnectAttempt<'_>) -> Option<DropReason> {
        a.will_topic.and_then(discovery::source_of).map(|_| DropReason::DiscoveryWill)
    }

    /// Whether `device` gained a redaction after a message it published at `published_at`.
    fn redacted_after(&self, device: &DeviceId, published_at: Option<i64>) -> bool {
        self.redacted_since
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(device)
            .is_some_and(|since| published_at.is_none_or(|at| at <= *since))
    }

    /// The device a username (or `anon:<client id>` key) belongs to.
    pub fn device_of(&self, key: &str) -> Option<DeviceId> {
        self.policies.read().unwrap_or_else(|p| p.into_inner()).by_key.get(key).map(|p| p.device_id.clone())
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

    /// Counts a refused CONNECT (per device, source address and reason: the device page lists
    /// them from the counts, so a flood of refusals never becomes rows); the first of a reason
    /// this minute is logged, with what the client chose cut short.
    fn refuse_connect(&self, device: Option<&DeviceId>, a: &ConnectAttempt<'_>, reason: DropReason) -> Refusal {
        let address = address_of(a);
        let attempt = Attempt { device: device.cloned(), host: address, outcome: Some(reason) };
        let (_, reached) = self.attempts.note(&attempt, a.client_id, a.username, now());
        if self.attempts.first_log_this_minute(reason) {
            tracing::info!(client_id = %clip(a.client_id, LOGGED), remote = ?a.remote, reason = reason.as_str(), "MQTT connection refused (more for this reason this minute are counted, not logged; `hearth status` and the device pages show the counts)");
        }
        if reached.address {
            tracing::warn!(remote = ?address, "{} refused MQTT connections from one address this minute: refusing it without a look until the minute is over", attempts::REFUSED_PER_MINUTE);
        }
        if let Some(network) = reached.network {
            tracing::warn!(network = %crate::source_address::describe_budget_key(network), "{} refused MQTT connections from the addresses of one IPv6 network this minute: refusing its addresses without a look until the minute is over, except those its approved devices connected from", attempts::REFUSED_PER_NETWORK_PER_MINUTE);
        }
        match reason {
            DropReason::BadCredentials => Refusal::BadCredentials,
            _ => Refusal::NotAuthorized,
        }
    }

    /// The CONNECT counts of every kind since the last call, for the recorder.
    pub fn take_attempts(&self) -> HashMap<AttemptKey, attempts::AttemptCount> {
        self.attempts.take()
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

    /// A client connected or left: its device's page changes, and so does the page of the device
    /// whose client id it is (bound or pinned), which names who holds it.
    fn changed(&self, client: Client<'_>) {
        let (holder, owner) = {
            let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
            let holder = policies.by_key.get(key_of(client).as_ref()).map(|p| p.device_id.clone());
            let owner = policies
                .bound_client_ids
                .get(client.client_id)
                .and_then(|key| policies.by_key.get(key.as_str()))
                .map(|p| p.device_id.clone());
            (holder, owner)
        };
        let owner = owner.filter(|o| Some(o) != holder.as_ref());
        for id in holder.into_iter().chain(owner) {
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

    fn connect(&self, a: &ConnectAttempt<'_>) -> Result<Admission, Refusal> {
        let host = address_of(a);
        // Looked for by device, not by its username: after a merge the kept device's credential
        // may be the absorbed record's, under that record's id. Asked only of an address held
        // back with its network.
        let still_approved = |device: &DeviceId| {
            let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
            policies.by_key.values().any(|p| p.device_id == *device && p.state == DeviceState::Approved)
        };
        if self.attempts.throttled(host, still_approved) {
            self.attempts.note(&Attempt { device: None, host, outcome: Some(DropReason::TooManyAttempts) }, a.client_id, a.username, now());
            return Err(Refusal::NotAuthorized);
        }
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
        // A session under this client id held by another device: taking it over would hand over
        // its subscriptions and queue, so it is refused, unless the holder is a device nobody
        // approved and this one is approved (a squatter never locks an approved device out).
        let held_by_other = a.existing_owner.is_some_and(|owner| Some(owner) != a.username);
        let evict_holder = held_by_other
            && policy.state == DeviceState::Approved
            && a.existing_owner.is_some_and(|owner| Self::gives_way(&policies, owner, a.client_id));
        let refusal = if !secret_ok {
            Some(DropReason::BadCredentials)
        } else if policy.state == DeviceState::Blocked {
            Some(DropReason::Blocked)
        } else if a.offline_sessions >= MAX_OFFLINE_SESSIONS {
            Some(DropReason::TooManySessions)
        } else if a.live_connections >= self.connections_per_device.load(Ordering::Relaxed) {
            Some(DropReason::TooManyConnections)
        } else if policy.client_id.as_deref().is_some_and(|bound| bound != a.client_id)
            || policies.bound_client_ids.get(a.client_id).is_some_and(|owner| Some(owner.as_str()) != a.username)
            || (held_by_other && !evict_holder)
        {
            Some(DropReason::ClientIdTaken)
        } else {
            None
        };
        let will = a.will_topic.map(|topic| gate::publish(policy.state, &policy.manifest, topic));
        let refusal = refusal.or_else(|| Self::will_refusal(a));
        let admission = Admission { fingerprint: fingerprint(policy), evict_holder };
        let approved = policy.state == DeviceState::Approved;
        drop(policies);
        let concluded = self.conclude(a, &device, refusal, will, admission);
        if concluded.is_ok() && approved {
            self.attempts.remember_host(&device, host);
        }
        concluded
    }

    fn fingerprint(&self, client: Client<'_>) -> Option<u64> {
        self.policies.read().unwrap_or_else(|p| p.into_inner()).by_key.get(key_of(client).as_ref()).map(fingerprint)
    }

    fn deliver(&self, receiver: Client<'_>, sender: Sender<'_>, topic: &str) -> bool {
        let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
        let Some(to) = policies.by_key.get(key_of(receiver).as_ref()) else { return false };
        let mut decision = gate::receive(to.state, &to.manifest, topic);
        // The sender's rights of this moment: a retained or queued message, or a Will, of a device
        // blocked, forgotten or denied the topic since it was published goes no further. A live
        // message published after the policies last changed was decided under them already.
        let checked_at_publish =
            !sender.retained && sender.published_at.is_some_and(|at| at > self.policies_loaded_at.load(Ordering::Acquire));
        // The hub's own commands were authorized (a member's `control` right) before they were sent.
        if decision.is_allow() && !checked_at_publish && !sender.from_hub {
            let from = match sender.username.filter(|u| !u.is_empty()) {
                Some(username) => policies.by_key.get(username),
                None => policies.by_key.get(&anonymous_key(sender.client_id)),
            };
            decision = match from {
                Some(from) => match gate::publish(from.state, &from.manifest, topic) {
                    // Redacted since it was published (it waited in an offline queue): it may hold
                    // the field.
                    Decision::Allow if self.redacted_after(&from.device_id, sender.published_at) => {
                        Decision::Drop(DropReason::Unredactable)
                    }
                    other => other,
                },
                // Forgotten (or its credential revoked): not recorded, since the record would name
                // the forgotten device's topic under another device.
                None => return false,
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

    fn may_receive(&self, receiver: Client<'_>, topic: &str) -> bool {
        let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
        policies.by_key.get(key_of(receiver).as_ref()).is_some_and(|to| gate::receive(to.state, &to.manifest, topic).is_allow())
    }

    fn may_resume(&self, client: Client<'_>) -> bool {
        let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
        let key = key_of(client);
        let Some(policy) = policies.by_key.get(key.as_ref()) else { return false };
        !matches!(policy.state, hearth_core::device::DeviceState::Blocked)
            && policies.bound_client_ids.get(client.client_id).is_none_or(|bound| bound.as_str() == key.as_ref())
            // Bound to another client id itself: it could never resume this one.
            && policies.bound_client_ids.iter().all(|(bound_id, bound_key)| bound_key.as_str() != key.as_ref() || bound_id == client.client_id)
    }

    fn redact_kept(&self, sender: Client<'_>, payload: &[u8]) -> hearth_broker::Kept {
        use hearth_broker::Kept;
        let Some(device) =
            self.policies.read().unwrap_or_else(|p| p.into_inner()).by_key.get(key_of(sender).as_ref()).map(|p| p.device_id.clone())
        else {
            // A sender that is gone: its messages are refused at delivery.
            return Kept::AsItIs;
        };
        let redactions = self.redactions.read().unwrap_or_else(|p| p.into_inner());
        let Some(paths) = redactions.get(&device) else { return Kept::AsItIs };
        match hearth_core::privacy::redact(payload, paths) {
            Redacted::Untouched => Kept::AsItIs,
            Redacted::Rewritten(rewritten, _) => Kept::Redacted(rewritten),
            Redacted::Unreadable => Kept::Unreadable,
        }
    }

    fn may_subscribe(&self, client: Client<'_>, filter: &str) -> bool {
        let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
        policies.by_key.get(key_of(client).as_ref()).is_some_and(|of| gate::subscribe(of.state, &of.manifest, filter).is_allow())
    }

    fn will(&self, client: Client<'_>, topic: &str, payload: &[u8]) -> WillVerdict {
        let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
        let Some(policy) = policies.by_key.get(key_of(client).as_ref()) else { return WillVerdict::Drop };
        // Refused here when its sender may not publish there now (it was recorded, and so
        // proposed, at CONNECT): nobody could receive it, and it must not be retained.
        if !gate::publish(policy.state, &policy.manifest, topic).is_allow() || hearth_core::discovery::source_of(topic).is_some() {
            return WillVerdict::Drop;
        }
        let device = policy.device_id.clone();
        drop(policies);
        let redactions = self.redactions.read().unwrap_or_else(|p| p.into_inner());
        let Some(paths) = redactions.get(&device) else { return WillVerdict::Publish(None) };
        match hearth_core::privacy::redact(payload, paths) {
            Redacted::Untouched => WillVerdict::Publish(None),
            Redacted::Rewritten(rewritten, _) => WillVerdict::Publish(Some(rewritten)),
            // It may hold a redacted field: fail closed, as for any publish.
            Redacted::Unreadable => {
                drop(redactions);
                let refused = Decision::Drop(DropReason::Unredactable);
                self.record(
                    Some(&device),
                    &Packet { client_id: client.client_id, action: Action::Publish, topic, bytes: payload.len(), qos: 0, payload },
                    &refused,
                );
                WillVerdict::Drop
            }
        }
    }

    fn publish(&self, client: Client<'_>, topic: &str, payload: &[u8], qos: u8, _retain: bool) -> Decision {
        self.decide(client, &Packet { client_id: client.client_id, action: Action::Publish, topic, bytes: payload.len(), qos, payload })
    }

    fn subscribe(&self, client: Client<'_>, filter: &str, qos: u8) -> Decision {
        self.decide(client, &Packet::other(client.client_id, Action::Subscribe, filter, qos))
    }

    fn connected(&self, session: &SessionInfo) {
        tracing::debug!(client_id = %clip(&session.client_id, LOGGED), device = session.username, remote = ?session.remote, "MQTT client connected");
        self.changed(Client { client_id: &session.client_id, username: &session.username });
    }

    fn disconnected(&self, client: Client<'_>) {
        tracing::debug!(client_id = %clip(client.client_id, LOGGED), device = client.username, "MQTT client disconnected");
        // Whatever `rewrite` noted for a publish that was then not decided on is of no more use.
        self.just_redacted.lock().unwrap_or_else(|p| p.into_inner()).remove(client.client_id);
        self.changed(client);
    }
}
