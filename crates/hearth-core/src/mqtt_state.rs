//! The broker's state that outlives a restart of Hearth, as plain rows: persistent sessions
//! (their subscriptions and the messages waiting for them) and retained messages. The broker
//! produces and takes them (`hearth-broker`), the store keeps them (`hearth-store`); neither
//! knows the other.

/// Who sent a saved message, as the gate knows senders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderKind {
    /// A client's PUBLISH.
    Client = 0,
    /// A client's Last Will.
    Will = 1,
    /// The hub itself (a person operated a device).
    Hub = 2,
}

impl SenderKind {
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(Self::Client),
            1 => Some(Self::Will),
            2 => Some(Self::Hub),
            _ => None,
        }
    }
}

/// What a saved message is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// Queued: not sent yet.
    Queued = 0,
    /// Sent (QoS 1 or 2) and not acknowledged: sent again, with DUP, on reconnect.
    Unacknowledged = 1,
    /// QoS 2, PUBREC received: the PUBREL is sent again on reconnect.
    Released = 2,
}

impl Waiting {
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(Self::Queued),
            1 => Some(Self::Unacknowledged),
            2 => Some(Self::Released),
            _ => None,
        }
    }
}

/// One message, kept with what the gate needs to decide its delivery again after a restart:
/// its sender and when it was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedMessage {
    pub sender_client_id: String,
    pub sender_username: Option<String>,
    pub sender_kind: SenderKind,
    pub topic: String,
    pub qos: u8,
    pub retain: bool,
    pub payload: Vec<u8>,
    /// MQTT 5 properties (user properties, content type...), JSON, as the engine writes them.
    pub properties: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub published_at: i64,
    /// The packet id it was sent with, for an unacknowledged one.
    pub packet_id: Option<u16>,
    pub waiting: Waiting,
}

impl SavedMessage {
    /// What it costs to keep: topic, payload and properties (which an MQTT 5 device can make as
    /// large as a payload).
    pub fn bytes(&self) -> usize {
        self.topic.len() + self.payload.len() + self.properties.as_ref().map_or(0, String::len)
    }
}

/// One subscription of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSubscription {
    /// As the client wrote it: `$share/GROUP/FILTER` for a shared subscription, so that a
    /// session's plain and shared subscriptions to one filter are two rows. Rows written before
    /// rmqtt change 37 hold a shared one's bare filter (its group is in the options).
    pub filter: String,
    /// The subscription's options (QoS, and MQTT 5's no local, retain as published, retain
    /// handling, identifier, shared group), JSON, as the engine writes them.
    pub options: String,
}

/// A persistent session (MQTT 3 clean session false, or MQTT 5 session expiry above zero).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSession {
    pub client_id: String,
    /// The device id of its credential; `None` for a device let in without one.
    pub username: Option<String>,
    /// 3 = MQTT 3.1, 4 = 3.1.1, 5 = 5.0.
    pub protocol: u8,
    /// How long it is kept once its client is gone, in seconds.
    pub expiry_secs: u64,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When its client went away; `None` while connected (a restart ends the connection: the
    /// session's expiry then counts from the restart).
    pub disconnected_at: Option<i64>,
    /// Its CONNECT as the engine reads it back (protocol options, receive maximum, topic
    /// aliases), JSON, without its password, Will or certificate.
    pub connect: String,
    pub subscriptions: Vec<SavedSubscription>,
    /// The QoS 2 messages its client sent and has not released yet (PUBREL): the same one sent
    /// again after a restart is acknowledged and not delivered twice (MQTT-4.3.3-10).
    pub pending_qos2: Vec<PendingQos2>,
}

/// A QoS 2 message a session's client sent and has not released yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingQos2 {
    pub packet_id: u16,
    /// The message's fingerprint (its topic and payload): the same message sent again is a
    /// repeat, another one under the same id is new.
    pub fingerprint: u64,
    /// Saved while the broker ran (each second's save), or by a clean stop for an id still
    /// marked so since a power cut: the client may have released the id, or lost its own state
    /// with the power, in the second before the cut. After a restart only a PUBLISH marked DUP
    /// is taken for a repeat of it.
    pub may_be_behind: bool,
}

/// A retained message on its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedRetained {
    pub topic: String,
    pub message: SavedMessage,
}

/// Everything the broker keeps across a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedBroker {
    pub sessions: Vec<SavedSession>,
    /// Messages waiting for each session, by client id, oldest first.
    pub messages: Vec<(String, Vec<SavedMessage>)>,
    pub retained: Vec<SavedRetained>,
}

/// A change to an offline session's queue, as the broker made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueChange {
    /// A message joined the end of the queue.
    Appended(SavedMessage),
    /// The queue was full of messages: its oldest went to make room for a QoS 1 or 2 one.
    OldestDropped,
}

/// What changed since the last save, to be written in one transaction, in this order: the
/// messages taken, the sessions, the queues, the pending QoS 2 ids, the retained messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerChanges {
    /// Sessions whose saved messages were handed to their reconnected client, or whose session
    /// started afresh: their saved messages go.
    pub messages_taken: Vec<String>,
    /// Sessions written whole (subscriptions included), or `None`: the session ended.
    pub sessions: Vec<(String, Option<SavedSession>)>,
    /// Changes to offline sessions' queues since the last save, by client id, in order.
    pub queues: Vec<(String, QueueChange)>,
    /// Retained messages set, or `None`: cleared.
    pub retained: Vec<(String, Option<SavedRetained>)>,
    /// Sessions' QoS 2 messages not released yet, written alone (written after `sessions`: read
    /// later). A session not saved (not persistent) ignores it.
    pub pending_qos2: Vec<(String, Vec<PendingQos2>)>,
}

impl BrokerChanges {
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
            && self.queues.is_empty()
            && self.messages_taken.is_empty()
            && self.retained.is_empty()
            && self.pending_qos2.is_empty()
    }
}
