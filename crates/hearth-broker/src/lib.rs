//! Hearth's MQTT broker: an embedded [rmqtt] engine (MQTT 3.1, 3.1.1 and 5; QoS 0-2; retained
//! messages; Last Will; persistent sessions) behind Hearth's own small interface, so the engine
//! could be replaced without touching the hub.
//!
//! Map:
//! - [`Gate`]: what the hub answers for every CONNECT, SUBSCRIBE and PUBLISH. The broker asks it
//!   synchronously from rmqtt's hooks, so it must answer from memory.
//! - [`Broker`]: starts the engine on its own thread and runtime (rmqtt has no shutdown of its
//!   own; dropping the runtime is the clean way out), lists sessions, disconnects a device.
//! - `hooks`: the rmqtt hook handler that turns packets into [`Gate`] questions and the answers
//!   into MQTT reason codes.
//! - `retained`: retained messages, held to limits per publisher and in total, cleared when a
//!   person takes a publisher's rights away.
//!
//! rmqtt 0.24.0 pitfalls handled here (DESIGN.md, and the notes in `engine` and `hooks`):
//! anonymous clients are refused (`allow_anonymous(false)`); rmqtt publishes a Will without the
//! publish ACL, so the gate decides it when it is published (a `MessagePublish` hook cannot drop a
//! message: a refused Will loses its retain flag and is addressed to no one) and again at every
//! delivery; client ids are limited (rmqtt's default is 65 535 bytes); rmqtt logs every refused
//! CONNECT with the whole client id (its log is turned down in `hearth::init_logging`); queued
//! messages and retained messages never expire on the broker's own clock, only by their own
//! MQTT 5 message expiry interval (vendor/PATCHES.md, 26, for retained ones); hooks are started
//! explicitly; the busy check (which refuses clients under load) is off.

mod admissions;
mod engine;
mod fitter;
mod hooks;
mod live;
mod persist;
mod retained;
mod shared;

pub(crate) use engine::kick_client;
pub use engine::{Broker, BrokerConfig, BrokerError, MAX_CLIENT_ID, MAX_KEEPALIVE, SessionOwner, TlsListener, Waiting};
pub use persist::Restored;
pub use retained::{RetainedLimits, RetainedUse};

/// An outside string as it may be logged (see `hearth_core::text`).
pub(crate) fn bounded(s: &str) -> std::borrow::Cow<'_, str> {
    hearth_core::text::clip(s, hearth_core::text::LOGGED)
}

use hearth_core::gate::Decision;
use std::net::SocketAddr;

/// A client's CONNECT, as the gate sees it.
#[derive(Debug, Clone)]
pub struct ConnectAttempt<'a> {
    pub client_id: &'a str,
    pub username: Option<&'a str>,
    pub password: Option<&'a [u8]>,
    pub remote: Option<SocketAddr>,
    /// 3 = MQTT 3.1, 4 = 3.1.1, 5 = 5.0.
    pub protocol: u8,
    /// The topic of the client's Last Will, if it has one.
    pub will_topic: Option<&'a str>,
    /// The username of the session (live or offline) that already holds this client id (empty
    /// for an anonymous one): a CONNECT with the same client id takes that session over,
    /// subscriptions and queue.
    pub existing_owner: Option<&'a str>,
    /// Offline persistent sessions the username already holds under other client ids.
    pub offline_sessions: usize,
    /// Connections the username already holds under other client ids: live, or let in and
    /// being set up (a CONNECT under a client id it holds takes that one over, and is not
    /// counted).
    pub live_connections: usize,
}

/// Who sent a message being delivered.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    pub client_id: &'a str,
    pub username: Option<&'a str>,
    /// When the message was published (ms since the epoch), as rmqtt stamped it: for a retained
    /// message replayed to a new subscriber, the time of the replay, not of its publication,
    /// unless it has an MQTT 5 message expiry interval (its publication's, rmqtt change 26).
    pub published_at: Option<i64>,
    /// The message came as a retained one (replayed to a new subscriber, or retain-as-published).
    pub retained: bool,
    /// Published by the hub itself ([`Broker::publish`]: a person operated a device, after the
    /// hub authorized them). No client can send as the hub: rmqtt marks only in-process
    /// messages as from the system.
    pub from_hub: bool,
}

/// The client id and user name of the hub's own messages (never a device's: a device's user
/// name is its id, `d-...`, and `$` names are refused at CONNECT).
pub const HUB_CLIENT_ID: &str = "$hearth";

/// An accepted CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// A fingerprint of the policy the decision rested on (see [`Gate::fingerprint`]).
    pub fingerprint: u64,
    /// The client id is held by a session of a device that is not approved (a squatter): end
    /// that session, subscriptions and queue, before this client takes the client id.
    pub evict_holder: bool,
}

/// What to do with a Last Will about to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WillVerdict {
    /// Publish it, with this payload instead of its own if given (redacted).
    Publish(Option<Vec<u8>>),
    /// Publish nothing, retain nothing.
    Drop,
}

/// A kept message's payload under its sender's redactions of now (see [`Gate::redact_kept`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    AsItIs,
    Redacted(Vec<u8>),
    /// It could hold a redacted field and cannot be read: not to be delivered.
    Unreadable,
}

/// Why a CONNECT was refused; each maps to its MQTT reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown username or wrong secret (MQTT 3: 0x04, MQTT 5: 0x86).
    BadCredentials,
    /// Known, but not allowed now: blocked, client id taken, Will outside the manifest
    /// (MQTT 3: 0x05, MQTT 5: 0x87).
    NotAuthorized,
}

/// An authenticated client: its client id and its username (Hearth's device id, or empty for a
/// device let in without a credential).
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub client_id: &'a str,
    pub username: &'a str,
}

/// A live connection, for the device page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub client_id: String,
    pub username: String,
    pub remote: Option<SocketAddr>,
    pub protocol: u8,
    /// Milliseconds since the Unix epoch.
    pub connected_at: i64,
}

/// The hub's side of the broker. Every method is called on the broker's threads, once per
/// packet: answer from memory and hand anything slow (recording) to another task.
pub trait Gate: Send + Sync + 'static {
    /// Accepts (see [`Admission`]) or refuses a CONNECT.
    fn connect(&self, attempt: &ConnectAttempt<'_>) -> Result<Admission, Refusal>;
    /// The current fingerprint of `username`'s credential, state and client-id binding, or
    /// `None` if it has none. A connection accepted under another fingerprint is closed: its
    /// device changed (revoked, rotated, blocked) while it was connecting.
    fn fingerprint(&self, client: Client<'_>) -> Option<u64>;
    /// Whether a message may be delivered to `receiver`, checked at every delivery (retained and
    /// queued messages included, and Wills), against the receiver's rights and the sender's
    /// rights of this moment: a device blocked, forgotten or denied the topic since it published
    /// no longer reaches anyone.
    fn deliver(&self, receiver: Client<'_>, sender: Sender<'_>, topic: &str) -> bool;
    /// Whether `receiver` may receive messages on `topic` by its own rights of this moment,
    /// without recording anything: which member of a shared subscription to give a message to.
    fn may_receive(&self, receiver: Client<'_>, topic: &str) -> bool;
    /// Whether `client` may hold a subscription to `filter` now, without recording anything: a
    /// saved session's subscriptions, put back after a restart.
    fn may_subscribe(&self, client: Client<'_>, filter: &str) -> bool;
    /// Whether `client` may resume a session kept for it (after a restart): its device exists,
    /// holds this credential, is not blocked, and the client id is not bound to another device.
    /// Records nothing.
    fn may_resume(&self, client: Client<'_>) -> bool;
    /// A kept message of `sender` (put back after a restart) with the sender's redactions of now
    /// applied. Records nothing.
    fn redact_kept(&self, sender: Client<'_>, payload: &[u8]) -> Kept;
    /// A client's Last Will, as the broker is about to publish it (its connection is gone): the
    /// Will skips the publish check, so this is where it is decided, against its sender's rights
    /// of this moment and its redactions.
    fn will(&self, client: Client<'_>, topic: &str, payload: &[u8]) -> WillVerdict;
    /// The payload to publish instead of `payload` (fields a person chose to redact removed), or
    /// `None` to publish it as it came. Called for every publish, and for a Will when the broker
    /// publishes it, before [`Gate::publish`] decides on the (rewritten) message.
    fn rewrite(&self, client: Client<'_>, topic: &str, payload: &[u8]) -> Option<Vec<u8>>;
    /// A publish, with its payload: the gate reads discovery messages (and only those) before
    /// deciding.
    fn publish(&self, client: Client<'_>, topic: &str, payload: &[u8], qos: u8, retain: bool) -> Decision;
    fn subscribe(&self, client: Client<'_>, filter: &str, qos: u8) -> Decision;
    fn connected(&self, session: &SessionInfo);
    fn disconnected(&self, client: Client<'_>);
}
