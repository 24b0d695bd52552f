//! The hub's side of the broker: answers the broker's questions from an in-memory copy of every
//! device's policy (state, credential hash, manifest), and queues each decision for the
//! recorder, so that no MQTT packet ever waits on the disk.

use crate::api::now;
use crate::api::types::{Action, Decision, DeviceState, DropReason, Event};
use hearth_broker::{Client, ConnectAttempt, Refusal, Sender, SessionInfo};
use hearth_core::credential;
use hearth_core::device::DeviceId;
use hearth_core::gate;
use hearth_store::{DevicePolicy, GateRecord};
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{broadcast, mpsc};

/// Decisions waiting for the recorder. At the broker's full rate the recorder writes batches
/// of thousands per transaction; this absorbs a burst of a few seconds.
pub const RECORD_QUEUE: usize = 65_536;

#[derive(Debug, Default)]
struct Policies {
    /// By MQTT username, which is the device id.
    by_username: HashMap<String, DevicePolicy>,
    /// Client ids bound to a credential, and whose credential.
    bound_client_ids: HashMap<String, String>,
}

/// What a connection's right to stay rests on: its credential, its device's state and its
/// client-id binding. Manifests are not in it: they are checked on every packet.
fn fingerprint(policy: &DevicePolicy) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&policy.secret_hash, policy.state.as_str(), &policy.client_id).hash(&mut h);
    h.finish()
}

/// What a client tried, as the gate records it.
struct Packet<'a> {
    client_id: &'a str,
    action: Action,
    /// The topic, the subscription filter, or a CONNECT's Will topic (empty without one).
    topic: &'a str,
    bytes: usize,
    qos: u8,
}

impl<'a> Packet<'a> {
    fn connect(client_id: &'a str, will_topic: &'a str) -> Self {
        Self { client_id, action: Action::Connect, topic: will_topic, bytes: 0, qos: 0 }
    }
}

#[derive(Debug)]
pub struct HubGate {
    policies: RwLock<Policies>,
    records: mpsc::Sender<GateRecord>,
    /// Decisions the recorder could not keep up with: counted, never silently lost.
    unrecorded: AtomicU64,
    events: broadcast::Sender<Event>,
}

impl HubGate {
    pub fn new(records: mpsc::Sender<GateRecord>, events: broadcast::Sender<Event>) -> Self {
        Self { policies: RwLock::default(), records, unrecorded: AtomicU64::new(0), events }
    }

    /// Replaces the in-memory policies (after any change a person makes).
    pub fn load(&self, all: Vec<DevicePolicy>) {
        let bound_client_ids =
            all.iter().filter_map(|p| Some((p.client_id.clone()?, p.username.clone()?))).collect::<HashMap<String, String>>();
        let by_username = all.into_iter().filter_map(|p| Some((p.username.clone()?, p))).collect();
        *self.policies.write().unwrap_or_else(|p| p.into_inner()) = Policies { by_username, bound_client_ids };
    }

    /// The MQTT usernames of a device's credential: its own id, or after a merge of two records
    /// the absorbed record's id, which the device keeps using.
    pub fn usernames_of(&self, device: &DeviceId) -> Vec<String> {
        let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<String> =
            policies.by_username.values().filter(|p| p.device_id == *device).filter_map(|p| p.username.clone()).collect();
        if !names.iter().any(|n| n == device.as_str()) {
            names.push(device.as_str().to_owned());
        }
        names
    }

    pub fn unrecorded(&self) -> u64 {
        self.unrecorded.load(Ordering::Relaxed)
    }

    fn record(&self, device: Option<&DeviceId>, p: &Packet<'_>, decision: &Decision) {
        let record = GateRecord {
            at: now(),
            device_id: device.cloned(),
            client_id: p.client_id.to_owned(),
            action: p.action,
            topic: p.topic.to_owned(),
            bytes: p.bytes as u64,
            qos: p.qos,
            decision: decision.clone(),
        };
        if self.records.try_send(record).is_err() {
            self.unrecorded.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn refuse_connect(&self, device: Option<&DeviceId>, a: &ConnectAttempt<'_>, topic: &str, reason: DropReason) -> Refusal {
        tracing::info!(client_id = a.client_id, remote = ?a.remote, reason = reason.as_str(), "MQTT connection refused");
        self.record(device, &Packet::connect(a.client_id, topic), &Decision::Drop(reason));
        match reason {
            DropReason::BadCredentials => Refusal::BadCredentials,
            _ => Refusal::NotAuthorized,
        }
    }

    fn decide(&self, client: Client<'_>, p: &Packet<'_>) -> Decision {
        let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
        let Some(policy) = policies.by_username.get(client.username) else {
            // Its credential went away while it was connected; it is being disconnected.
            drop(policies);
            let decision = Decision::Drop(DropReason::BadCredentials);
            self.record(None, p, &decision);
            return decision;
        };
        let decision = match p.action {
            Action::Subscribe => gate::subscribe(policy.state, &policy.manifest, p.topic),
            _ => gate::publish(policy.state, &policy.manifest, p.topic),
        };
        let device = policy.device_id.clone();
        drop(policies);
        self.record(Some(&device), p, &decision);
        decision
    }

    fn changed(&self, username: &str) {
        if let Ok(id) = DeviceId::parse(username) {
            let _ = self.events.send(Event::BrokerChanged { id });
        }
    }
}

impl hearth_broker::Gate for HubGate {
    fn connect(&self, a: &ConnectAttempt<'_>) -> Result<u64, Refusal> {
        let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
        let policy = a.username.and_then(|u| policies.by_username.get(u));
        let Some(policy) = policy else {
            drop(policies);
            return Err(self.refuse_connect(None, a, "", DropReason::BadCredentials));
        };
        let device = policy.device_id.clone();
        let secret_ok = policy.secret_hash.as_deref().is_some_and(|hash| credential::verify(a.password.unwrap_or_default(), hash));
        let refusal = if !secret_ok {
            Some(("", DropReason::BadCredentials))
        } else if policy.state == DeviceState::Blocked {
            Some(("", DropReason::Blocked))
        } else if policy.client_id.as_deref().is_some_and(|bound| bound != a.client_id)
            || policies.bound_client_ids.get(a.client_id).is_some_and(|owner| Some(owner.as_str()) != a.username)
            // Taking over another device's session would hand over its subscriptions and queue.
            || a.existing_owner.is_some_and(|owner| Some(owner) != a.username)
        {
            Some(("", DropReason::ClientIdTaken))
        } else {
            None
        };
        // rmqtt publishes a Will without the publish check; the gate checks it at delivery
        // (`deliver`), and here it is recorded like a publish so an unlisted one is proposed.
        let will = a.will_topic.map(|topic| (topic, gate::publish(policy.state, &policy.manifest, topic)));
        let fingerprint = fingerprint(policy);
        drop(policies);
        if let Some((topic, reason)) = refusal {
            return Err(self.refuse_connect(Some(&device), a, topic, reason));
        }
        self.record(Some(&device), &Packet::connect(a.client_id, a.will_topic.unwrap_or("")), &Decision::Allow);
        if let Some((topic, decision @ Decision::Drop(_))) = &will {
            self.record(Some(&device), &Packet { client_id: a.client_id, action: Action::Publish, topic, bytes: 0, qos: 0 }, decision);
        }
        Ok(fingerprint)
    }

    fn fingerprint(&self, username: &str) -> Option<u64> {
        self.policies.read().unwrap_or_else(|p| p.into_inner()).by_username.get(username).map(fingerprint)
    }

    fn deliver(&self, receiver: Client<'_>, sender: Sender<'_>, topic: &str) -> bool {
        let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
        let Some(to) = policies.by_username.get(receiver.username) else { return false };
        let mut decision = gate::receive(to.state, &to.manifest, topic);
        if decision.is_allow() && sender.is_will {
            decision = match sender.username.and_then(|u| policies.by_username.get(u)) {
                Some(from) => gate::publish(from.state, &from.manifest, topic),
                None => Decision::Drop(DropReason::BadCredentials),
            };
        }
        if decision.is_allow() {
            return true;
        }
        let device = to.device_id.clone();
        drop(policies);
        self.record(Some(&device), &Packet { client_id: receiver.client_id, action: Action::Deliver, topic, bytes: 0, qos: 0 }, &decision);
        false
    }

    fn publish(&self, client: Client<'_>, topic: &str, bytes: usize, qos: u8, _retain: bool) -> Decision {
        self.decide(client, &Packet { client_id: client.client_id, action: Action::Publish, topic, bytes, qos })
    }

    fn subscribe(&self, client: Client<'_>, filter: &str, qos: u8) -> Decision {
        self.decide(client, &Packet { client_id: client.client_id, action: Action::Subscribe, topic: filter, bytes: 0, qos })
    }

    fn connected(&self, session: &SessionInfo) {
        tracing::info!(client_id = session.client_id, device = session.username, remote = ?session.remote, "MQTT client connected");
        self.changed(&session.username);
    }

    fn disconnected(&self, client: Client<'_>) {
        tracing::info!(client_id = client.client_id, device = client.username, "MQTT client disconnected");
        self.changed(client.username);
    }
}
