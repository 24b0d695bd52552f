//! Persistent sessions and retained messages across a restart of Hearth.
//!
//! The broker keeps them in memory (rmqtt's sessions, Hearth's retained store); the hub keeps
//! them in its SQLite store as [`hearth_core::mqtt_state`] rows:
//! - while running, the hooks note in a [`Journal`] which sessions changed (created,
//!   subscribed, unsubscribed, ended), each message queued for an offline session, which sessions
//!   took their saved messages back (their client reconnected), each retained message set or
//!   cleared, and which sessions received a QoS 2 message (its id is pending until the client
//!   releases it); the hub takes the journal's [`BrokerChanges`] every second and writes them;
//! - at a clean shutdown, [`snapshot`] takes every persistent session whole (subscriptions,
//!   unacknowledged and queued messages) and every retained message, and the hub replaces what
//!   it had with it: nothing is lost;
//! - at start, [`restore`] puts them back before the first client is accepted, each session as
//!   an offline one its client resumes (session present), after asking the gate whether its
//!   device still exists and may still hold each subscription (without recording anything). The
//!   gate decides every delivery of a restored message again, as of any message.
//!
//! After a `kill -9` (or a power cut) what is lost: the last second's journal; messages that were
//! handed to a connected client and not yet acknowledged by it (they were taken out of the saved
//! queue when it reconnected); QoS 0 messages that were waiting for a connected client.
//!
//! A session's pending QoS 2 ids: no hook tells when a client releases one (PUBREL), so a save
//! that finds a connected session holding some looks at it again at the next save, until it
//! holds none; a session is also looked at once more after anything noted it, since the ids it
//! resumes are put back just after its connection is announced. A look writes only what differs
//! from what was last written, so a client that never releases its ids costs a look a second,
//! not a write. After a `kill -9` they are as of the last second.

use crate::{Client, Gate, Kept};
use hearth_core::mqtt_state::{
    BrokerChanges, PendingQos2, QueueChange, SavedBroker, SavedMessage, SavedRetained, SavedSession, SavedSubscription, SenderKind, Waiting,
};
use rmqtt::context::ServerContext;
use rmqtt::inflight::{MomentStatus, OutInflightMessage};
use rmqtt::session::{Session, SessionState};
use rmqtt::types::{
    ClientId, CodecPublish, ConnectInfo, DisconnectInfo, From, FromType, Holding, Id, OfflineSession, Publish, QoS, SessionSubMap,
    SessionSubs, SubscriptionOptions, TopicFilter, TopicName, UserName, filter_levels, subscription_filter, subscription_name,
};
use std::collections::{HashMap, HashSet};
use std::num::NonZeroU16;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

/// Queued messages (count and bytes) that wait in the journal at most, when the store cannot
/// keep up or fails: past it new ones are left out of the save (they stay queued in memory) and
/// counted.
const MAX_JOURNAL_MESSAGES: usize = 100_000;
const MAX_JOURNAL_BYTES: usize = 64 * 1024 * 1024;

/// What changed since the hub last took the changes.
#[derive(Default)]
pub(crate) struct Journal {
    inner: Mutex<Pending>,
    /// The pending QoS 2 ids last handed to the store, by session (a session not in it: not
    /// known, written at its next look). Kept by [`changes`]; [`Journal::not_written`] forgets.
    qos2_written: Mutex<HashMap<String, Vec<PendingQos2>>>,
}

#[derive(Default)]
struct Pending {
    sessions: HashSet<String>,
    taken: Vec<String>,
    queues: Vec<(String, QueueChange)>,
    queued_bytes: usize,
    retained: HashMap<String, Option<SavedRetained>>,
    /// Sessions whose pending QoS 2 ids are to be written: `true` when noted by an event (a QoS 2
    /// message received), `false` when a save looks at it again (see the module's header).
    qos2: HashMap<String, bool>,
    /// Queued messages left out of the save because the journal was full.
    unsaved: u64,
}

impl Journal {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session of `client_id` changed (or ended): its row is written again from what the
    /// broker holds when the changes are taken.
    pub(crate) fn session_changed(&self, client_id: &str) {
        self.pending().sessions.insert(client_id.to_owned());
    }

    /// A message is about to be queued for the offline session `session` (rmqtt's
    /// `OfflineMessage` hook runs just before the push, on the session's own task, the only one
    /// pushing to an offline session's queue): noted as the queue will take it. Over its byte
    /// limit, or full with a QoS 0 message, the queue refuses it; full with a QoS 1 or 2 one, its
    /// oldest goes (see rmqtt's `queue::Sender::send`). So the saved queue is bounded as the
    /// queue is.
    pub(crate) fn queued(&self, session: &Session, from: &From, publish: &Publish) {
        let queue = session.deliver_queue();
        let item = (from.clone(), publish.clone());
        if queue.over_bytes_with(&item) {
            return;
        }
        let full = queue.len() >= queue.capacity();
        if full && publish.qos == QoS::AtMostOnce {
            return;
        }
        let client_id = session.id.client_id.to_string();
        let message = saved_message(from, publish, Waiting::Queued, id_if_sent_again(publish));
        let mut pending = self.pending();
        if pending.queues.len() >= MAX_JOURNAL_MESSAGES || pending.queued_bytes + message.bytes() > MAX_JOURNAL_BYTES {
            pending.unsaved += 1;
            return;
        }
        if full {
            pending.queues.push((client_id.clone(), QueueChange::OldestDropped));
        }
        pending.queued_bytes += message.bytes();
        pending.queues.push((client_id, QueueChange::Appended(message)));
    }

    /// The client of `client_id` reconnected and took its session's messages, or its session
    /// started afresh: its saved messages go.
    pub(crate) fn taken(&self, client_id: &str) {
        let mut pending = self.pending();
        pending.queues.retain(|(id, _)| id != client_id);
        pending.queued_bytes = pending
            .queues
            .iter()
            .map(|(_, change)| match change {
                QueueChange::Appended(m) => m.bytes(),
                QueueChange::OldestDropped => 0,
            })
            .sum();
        pending.taken.push(client_id.to_owned());
    }

    /// The session of `client_id` received a QoS 2 message: its pending ids are written.
    pub(crate) fn qos2_received(&self, client_id: &str) {
        let mut pending = self.pending();
        // Looked up first: no allocation for a session already noted.
        match pending.qos2.get_mut(client_id) {
            Some(by_event) => *by_event = true,
            None => {
                pending.qos2.insert(client_id.to_owned(), true);
            }
        }
    }

    /// A save found the session of `client_id` connected with ids pending (or just noted): it
    /// looks at it again at the next one.
    fn qos2_look_again(&self, client_id: String) {
        self.pending().qos2.entry(client_id).or_insert(false);
    }

    fn qos2_written(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<PendingQos2>>> {
        self.qos2_written.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Rows handed out that the store will never write (it failed long enough for the hub to
    /// give them up, or the save was lost): these sessions are written again, whole, at the next
    /// save.
    pub(crate) fn not_written(&self, client_ids: Vec<String>) {
        let mut written = self.qos2_written();
        let mut pending = self.pending();
        for client_id in client_ids {
            written.remove(&client_id);
            pending.sessions.insert(client_id);
        }
    }

    pub(crate) fn retained(&self, topic: &str, retained: Option<SavedRetained>) {
        self.pending().retained.insert(topic.to_owned(), retained);
    }

    /// Whether `topic`'s retained row is to be written (`Some(true)`) or cleared (`Some(false)`)
    /// at the next save.
    #[cfg(test)]
    pub(crate) fn retained_change(&self, topic: &str) -> Option<bool> {
        self.pending().retained.get(topic).map(Option::is_some)
    }

    /// Queued messages left out of a save since start (the journal was full).
    pub(crate) fn unsaved(&self) -> u64 {
        self.pending().unsaved
    }

    fn take(&self) -> Pending {
        let mut pending = self.pending();
        let unsaved = pending.unsaved;
        let taken = std::mem::take(&mut *pending);
        pending.unsaved = unsaved;
        taken
    }
}

/// The changes since the last call, each changed session read as the broker holds it now.
pub(crate) async fn changes(scx: &ServerContext, journal: &Journal) -> BrokerChanges {
    let pending = journal.take();
    let mut look_again = Vec::new();
    let mut sessions = Vec::with_capacity(pending.sessions.len());
    for client_id in pending.sessions {
        let row = match live_session(scx, &client_id).await {
            Some(session) => session_row(&session).await,
            None => None,
        };
        match &row {
            Some(row) => {
                journal.qos2_written().insert(client_id.clone(), row.pending_qos2.clone());
                // Connected: the ids it resumes may be put back after this read (see the header).
                if row.disconnected_at.is_none() {
                    look_again.push(client_id.clone());
                }
            }
            None => {
                journal.qos2_written().remove(&client_id);
            }
        }
        sessions.push((client_id, row));
    }
    let mut pending_qos2 = Vec::new();
    for (client_id, by_event) in pending.qos2 {
        let Some(session) = live_session(scx, &client_id).await else { continue };
        let connected = session.connected().await.unwrap_or(false);
        // Offline, its ids cannot change but by a takeover, which empties them until the new
        // connection puts them back and announces itself (then written whole).
        if (!connected && !by_event) || persistence(&session).await.is_none() {
            continue;
        }
        let ids = pending_qos2_of(&session).await;
        if connected && (by_event || !ids.is_empty()) {
            look_again.push(client_id.clone());
        }
        let mut written = journal.qos2_written();
        if written.get(&client_id) != Some(&ids) {
            written.insert(client_id.clone(), ids.clone());
            pending_qos2.push((client_id, ids));
        }
    }
    for client_id in look_again {
        journal.qos2_look_again(client_id);
    }
    BrokerChanges {
        sessions,
        queues: pending.queues,
        messages_taken: pending.taken,
        retained: pending.retained.into_iter().collect(),
        pending_qos2,
    }
}

async fn live_session(scx: &ServerContext, client_id: &str) -> Option<Session> {
    scx.extends.shared().await.entry(Id::from(scx.node.id(), ClientId::from(client_id))).session()
}

/// `session`'s CONNECT and how long it is kept once its client is gone, if it outlives its
/// connection (MQTT 3 clean session false, MQTT 5 session expiry above zero): only such a
/// session is saved.
async fn persistence(session: &Session) -> Option<(Arc<ConnectInfo>, Duration)> {
    let connect = session.connect_info().await.ok()?;
    let disconnect = session.disconnect().await.ok().flatten();
    let expiry = session.fitter.session_expiry_interval(disconnect.as_ref());
    let persistent = match connect.as_ref() {
        ConnectInfo::V3(_, c) => !c.clean_session,
        ConnectInfo::V5(..) => !expiry.is_zero(),
    };
    persistent.then_some((connect, expiry))
}

/// `session`'s QoS 2 messages not released yet, for a save while the broker runs: a power cut
/// may come a second after it, so each is marked as maybe behind (rmqtt change 35).
async fn pending_qos2_of(session: &Session) -> Vec<PendingQos2> {
    let inflight = session.out_inflight().read().await;
    inflight.pending_qos2().iter().map(|r| PendingQos2 { packet_id: r.id.get(), fingerprint: r.fingerprint, may_be_behind: true }).collect()
}

/// The filter a saved subscription applies to, which the gate decides on; its group is the
/// options' `group`. Rows written before rmqtt change 37 hold a shared subscription's filter
/// without its `$share/GROUP/`. `None` when the name's group is not the options', or a `$share/`
/// name has no filter (rows edited by hand): what the device meant is unknown, and the row is
/// left out.
fn saved_filter<'a>(name: &'a str, group: Option<&str>) -> Option<&'a str> {
    match name.strip_prefix("$share/") {
        Some(rest) => rest.split_once('/').and_then(|(named, filter)| (group == Some(named)).then_some(filter)),
        None => Some(name),
    }
}

/// The row of `session` if it is persistent (MQTT 3 clean session false, MQTT 5 session expiry
/// above zero), subscriptions included.
async fn session_row(session: &Session) -> Option<SavedSession> {
    let (connect, expiry) = persistence(session).await?;
    let subscriptions = match session.subscriptions().await {
        Ok(subs) => subs
            .read()
            .await
            .iter()
            // Under the name the session keeps it by (rmqtt change 37): the filter as the client
            // wrote it, `$share/GROUP/FILTER` for a shared one, so that a session's plain and
            // shared subscriptions to one filter are two rows.
            .filter_map(|(name, options)| {
                Some(SavedSubscription { filter: name.to_string(), options: serde_json::to_string(options).ok()? })
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let connected = session.connected().await.unwrap_or(false);
    let disconnected_at = if connected { None } else { session.disconnected_at().await.ok().filter(|at| *at > 0) };
    Some(SavedSession {
        client_id: session.id.client_id.to_string(),
        username: session.id.username.as_ref().map(ToString::to_string),
        protocol: connect.proto_ver(),
        expiry_secs: expiry.as_secs(),
        created_at: session.created_at().await.unwrap_or(0),
        disconnected_at,
        connect: serde_json::to_string(&without_secrets(&connect)).unwrap_or_default(),
        subscriptions,
        pending_qos2: pending_qos2_of(session).await,
    })
}

/// The CONNECT as it is kept: no password, no Will (a restored session must not publish its
/// Will at every restart), no certificate.
fn without_secrets(connect: &ConnectInfo) -> ConnectInfo {
    match connect {
        ConnectInfo::V3(id, c) => {
            let mut c = c.clone();
            (c.password, c.last_will, c.cert) = (None, None, None);
            ConnectInfo::V3(id.clone(), c)
        }
        ConnectInfo::V5(id, c) => {
            let mut c = c.clone();
            (c.password, c.last_will, c.cert, c.auth_method, c.auth_data) = (None, None, None, None, None);
            // Up to a packet's size: not worth keeping for a client to resume.
            c.user_properties = Default::default();
            ConnectInfo::V5(id.clone(), c)
        }
    }
}

fn sender_of(m: &SavedMessage) -> Client<'_> {
    Client { client_id: &m.sender_client_id, username: m.sender_username.as_deref().unwrap_or("") }
}

pub(crate) fn saved_message(from: &From, publish: &Publish, waiting: Waiting, packet_id: Option<u16>) -> SavedMessage {
    SavedMessage {
        sender_client_id: from.id.client_id.to_string(),
        sender_username: from.id.username.as_ref().map(ToString::to_string),
        sender_kind: match from.typ() {
            FromType::LastWill => SenderKind::Will,
            FromType::System => SenderKind::Hub,
            _ => SenderKind::Client,
        },
        topic: publish.topic.to_string(),
        qos: publish.qos.value(),
        retain: publish.retain,
        payload: publish.payload.to_vec(),
        properties: publish.properties.as_ref().and_then(|p| serde_json::to_string(p).ok()),
        published_at: publish.create_time.unwrap_or(0),
        packet_id,
        waiting,
    }
}

/// A queued message's packet id is kept only for one to be sent again (DUP: it was sent and not
/// acknowledged before its connection went): after a restart too it goes out under that id
/// [MQTT-4.4.0-1], so that a QoS 2 client that had it under that id takes it for a repeat.
/// rmqtt's change 48 keeps the ids of such messages apart from new ones'.
fn id_if_sent_again(publish: &Publish) -> Option<u16> {
    publish.packet_id.filter(|_| publish.dup).map(NonZeroU16::get)
}

/// The message back as the engine holds it, sent by whom it was.
pub(crate) fn engine_message(scx: &ServerContext, m: &SavedMessage) -> (From, Publish) {
    let id = Id::new(
        scx.node.id(),
        0,
        None,
        None,
        ClientId::from(m.sender_client_id.as_str()),
        m.sender_username.as_deref().map(UserName::from),
    );
    let from = match m.sender_kind {
        SenderKind::Client => From::from_custom(id),
        SenderKind::Will => From::from_lastwill(id),
        SenderKind::Hub => From::from_system(id),
    };
    let qos = match m.qos {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    };
    let mut publish = Publish::from(CodecPublish {
        // A queued message kept with its id is one to be sent again (`id_if_sent_again`).
        dup: m.waiting == Waiting::Queued && m.packet_id.is_some() && m.qos > 0,
        retain: m.retain,
        qos,
        topic: TopicName::from(m.topic.as_str()),
        packet_id: m.packet_id.and_then(NonZeroU16::new),
        payload: m.payload.clone().into(),
        properties: m.properties.as_deref().and_then(|p| serde_json::from_str(p).ok()),
    });
    if m.published_at > 0 {
        publish = publish.create_time(m.published_at);
    }
    (from, publish)
}

/// What a restore put back, for the log.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    pub sessions: usize,
    pub messages: usize,
    pub retained: usize,
    /// Sessions left out: expired, of a device that no longer exists or may no longer connect,
    /// or unreadable.
    pub sessions_dropped: usize,
    /// Subscriptions left out: the device may no longer hold them, the row is unreadable or
    /// names another group than its options (a row edited by hand), or it is past what a live
    /// session may hold (see `kept_subscriptions`).
    pub subscriptions_dropped: usize,
}

/// Puts saved sessions back as offline sessions of listener `listener` (before any client is
/// accepted). Retained messages are put back by the retained store.
pub(crate) async fn restore(
    scx: &ServerContext,
    gate: &dyn Gate,
    journal: &Journal,
    listener: u16,
    saved: SavedBroker,
    now: i64,
) -> Restored {
    let mut report = Restored::default();
    let Some(listen_cfg) = scx.listen_cfgs.get(&listener).map(|c| c.value().clone()) else {
        return report;
    };
    let restoring = Restoring { scx, gate, listener, listen_cfg: &listen_cfg, now };
    let mut messages: HashMap<String, Vec<SavedMessage>> = saved.messages.into_iter().collect();
    for row in saved.sessions {
        let queued = messages.remove(&row.client_id).unwrap_or_default();
        let client_id = row.client_id.clone();
        match restore_session(&restoring, row, queued).await {
            Some((subscriptions_dropped, restored_messages)) => {
                report.sessions += 1;
                report.messages += restored_messages;
                report.subscriptions_dropped += subscriptions_dropped;
            }
            None => {
                report.sessions_dropped += 1;
                // Its saved rows go with the next save (no session: deleted).
                journal.session_changed(&client_id);
            }
        }
    }
    // Messages saved for sessions that were not saved (a save cut short): gone too.
    for (client_id, _) in messages {
        journal.taken(&client_id);
    }
    report
}

/// What every session put back by [`restore`] shares.
#[derive(Clone, Copy)]
struct Restoring<'a> {
    scx: &'a ServerContext,
    gate: &'a dyn Gate,
    listener: u16,
    listen_cfg: &'a rmqtt::types::ListenerConfig,
    now: i64,
}

async fn restore_session(restoring: &Restoring<'_>, row: SavedSession, queued: Vec<SavedMessage>) -> Option<(usize, usize)> {
    let Restoring { scx, gate, listener, listen_cfg, now } = *restoring;
    let client = Client { client_id: &row.client_id, username: row.username.as_deref().unwrap_or("") };
    // A device forgotten, revoked or blocked (or its client id bound to another device) since
    // its session was saved has no session to come back to.
    if !gate.may_resume(client) {
        return None;
    }
    let id =
        Id::new(scx.node.id(), listener, None, None, ClientId::from(row.client_id.as_str()), row.username.as_deref().map(UserName::from));
    let connect: ConnectInfo = match serde_json::from_str(&row.connect) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(client_id = %crate::bounded(&row.client_id), "a saved MQTT session could not be read back ({e}); its client starts afresh");
            return None;
        }
    };
    let connect = Arc::new(match connect {
        ConnectInfo::V3(_, c) => ConnectInfo::V3(id.clone(), c),
        ConnectInfo::V5(_, c) => ConnectInfo::V5(id.clone(), c),
    });
    let gone_since = row.disconnected_at.unwrap_or(now);
    let left = Duration::from_secs(row.expiry_secs).saturating_sub(Duration::from_millis(now.saturating_sub(gone_since).max(0) as u64));
    if left.is_zero() {
        return None;
    }
    let (subscriptions, dropped) =
        kept_subscriptions(&row.subscriptions, listen_cfg.max_subscriptions, |filter| gate.may_subscribe(client, filter));
    let fitter = scx.extends.fitter_mgr().await.create(connect.clone(), id.clone(), listen_cfg.clone());
    let session = Session::new(
        id.clone(),
        scx.clone(),
        fitter.max_mqueue_len(),
        listen_cfg.clone(),
        fitter.clone(),
        None,
        fitter.max_inflight(),
        row.created_at,
        connect,
        false,
        false,
        false,
        row.created_at,
        SessionSubs::from(subscriptions.clone()),
        Some(DisconnectInfo::new(gone_since.max(1))),
        None,
    )
    .await
    .ok()?;
    let mut restored = 0;
    let queued: Vec<SavedMessage> = queued.into_iter().filter_map(|m| redacted_again(gate, m)).collect();
    {
        let mut inflight = session.out_inflight().write().await;
        // No more than its client may have pending (the listener's receive maximum): the rest
        // are not ids this session could hold. Handed to its next connection, as any session's.
        // Saved while the broker ran, they may be a second behind (a power cut): marked, only a
        // PUBLISH with DUP is a repeat of one (rmqtt change 35). A clean stop's are exact: a
        // repeat is told by its content, as in any run, DUP or not (MQTT.js, which Node-RED uses,
        // has been reported to send a QoS 2 message again without it).
        for p in row.pending_qos2.iter().take(usize::from(listen_cfg.max_inflight.get())) {
            match NonZeroU16::new(p.packet_id) {
                Some(id) if p.may_be_behind => inflight.received_qos2_may_be_behind(id, p.fingerprint),
                Some(id) => inflight.received_qos2(id, p.fingerprint),
                None => {}
            }
        }
        for m in queued.iter().filter(|m| m.waiting != Waiting::Queued && m.packet_id.is_some()) {
            let (from, publish) = engine_message(scx, m);
            let status = if m.waiting == Waiting::Released { MomentStatus::UnComplete } else { MomentStatus::UnAck };
            inflight.push_back(OutInflightMessage::new(status, from, publish));
            restored += 1;
        }
    }
    for m in queued.iter().filter(|m| m.waiting == Waiting::Queued) {
        if session.deliver_queue().push(engine_message(scx, m)).is_ok() {
            restored += 1;
        }
    }
    let tx = SessionState::offline_restart(session.clone(), left).await.ok()?;
    let mut entry = scx.extends.shared().await.entry(id.clone());
    entry.set(session, tx).await.ok()?;
    let router = scx.extends.router().await;
    for (name, options) in &subscriptions {
        if let Err(e) = router.add(subscription_filter(name, options), id.clone(), options.clone()).await {
            tracing::warn!("a saved MQTT subscription could not be restored: {e}");
        }
    }
    Some((dropped, restored))
}

/// A kept message with its sender's redactions of now applied (a field a person chose to redact
/// after it was published must not leave with it after a restart); `None` if it cannot be read
/// to be redacted. The hub's own messages are as it sent them.
pub(crate) fn redacted_again(gate: &dyn Gate, mut m: SavedMessage) -> Option<SavedMessage> {
    if m.sender_kind == SenderKind::Hub {
        return Some(m);
    }
    match gate.redact_kept(sender_of(&m), &m.payload) {
        Kept::AsItIs => Some(m),
        Kept::Redacted(payload) => {
            m.payload = payload;
            Some(m)
        }
        Kept::Unreadable => None,
    }
}

/// The saved subscriptions a restored session keeps, and how many rows were left out: those
/// that cannot be read back, those its device may no longer make, and those past what a live
/// session may hold (`max_subscriptions`, rmqtt changes 39 and 40, and a shared name's length):
/// a store written before those caps, or edited by hand, may hold more shared subscriptions,
/// each a copy of every message it matches, or more levels, each a node of the topic tree.
#[allow(clippy::mutable_key_type)]
fn kept_subscriptions(
    saved: &[SavedSubscription],
    max_subscriptions: usize,
    may_subscribe: impl Fn(&str) -> bool,
) -> (SessionSubMap, usize) {
    let mut subscriptions = SessionSubMap::default();
    let mut dropped = 0;
    let mut holding = Holding::default();
    for sub in saved {
        let options: Option<SubscriptionOptions> = serde_json::from_str(&sub.options).ok();
        let filter = options.as_ref().and_then(|o| saved_filter(&sub.filter, o.shared_group().map(|g| g.as_ref())));
        let (Some(options), Some(filter)) = (options, filter) else {
            dropped += 1;
            continue;
        };
        let name = subscription_name(&TopicFilter::from(filter), options.shared_group());
        let is_shared = options.has_shared_group();
        let levels = filter_levels(filter);
        let over_a_cap = holding.refuses(max_subscriptions, is_shared, levels);
        let too_long = options.shared_group().is_some_and(|group| crate::hooks::shared_name_too_long(group, filter));
        if (over_a_cap && !subscriptions.contains_key(&name)) || too_long || !may_subscribe(filter) {
            dropped += 1;
            continue;
        }
        match subscriptions.insert(name, options) {
            // Two rows under one name (a row in the form before rmqtt change 37 beside its new
            // form, by hand): the last is kept, holding what the first held.
            Some(_) => dropped += 1,
            None => holding = holding.with(is_shared, levels),
        }
    }
    (subscriptions, dropped)
}

/// Every persistent session whole (subscriptions, unacknowledged and queued messages), taking
/// each out of the broker; every other session is ended. For a clean shutdown: the broker
/// accepts no more connections.
pub(crate) async fn snapshot(scx: &ServerContext, gate: &dyn Gate) -> (Vec<SavedSession>, Vec<(String, Vec<SavedMessage>)>) {
    let entries: Vec<_> = scx.extends.shared().await.iter().collect();
    let (mut sessions, mut messages) = (Vec::new(), Vec::new());
    for mut entry in entries {
        let row = match entry.session() {
            Some(session) => session_row(&session).await,
            None => None,
        };
        let Some(mut row) = row else {
            let _ = entry.kick(true, true, true).await;
            continue;
        };
        // Taken out as its client would resume it: nothing is cleaned, no Will is published.
        if let Ok(OfflineSession::Exist(Some(info))) = entry.kick(false, false, false).await {
            // As its connection left them (the row was read before the kick): exact, but for
            // those put back marked after a power cut and not heard of since.
            row.pending_qos2 = info
                .received_qos2
                .iter()
                .map(|r| PendingQos2 { packet_id: r.id.get(), fingerprint: r.fingerprint, may_be_behind: r.may_be_behind })
                .collect();
            let mut saved = Vec::with_capacity(info.inflight_messages.len() + info.offline_messages.len());
            for m in &info.inflight_messages {
                let waiting = if matches!(m.status, MomentStatus::UnComplete) { Waiting::Released } else { Waiting::Unacknowledged };
                saved.push(saved_message(&m.from, &m.publish, waiting, m.publish.packet_id.map(NonZeroU16::get)));
            }
            for (from, publish) in &info.offline_messages {
                saved.push(saved_message(from, publish, Waiting::Queued, id_if_sent_again(publish)));
            }
            // Messages of a device forgotten (or whose credential went) meanwhile would never be
            // delivered: they are not written back to the disk forget cleaned.
            saved.retain(|m| m.sender_kind == SenderKind::Hub || gate.fingerprint(sender_of(m)).is_some());
            if !saved.is_empty() {
                messages.push((row.client_id.clone(), saved));
            }
        }
        row.disconnected_at = row.disconnected_at.or_else(|| Some(rmqtt::utils::timestamp_millis()));
        sessions.push(row);
    }
    (sessions, messages)
}

#[cfg(test)]
mod tests {
    use super::{kept_subscriptions, saved_filter};
    use hearth_core::mqtt_state::SavedSubscription;
    use rmqtt::session::{MAX_SHARED_SUBSCRIPTIONS, MAX_SUBSCRIPTION_LEVELS};
    use rmqtt::types::{QoS, SharedGroup, SubOptionsV3, SubscriptionOptions, TopicFilter, subscription_name};

    fn row(name: &str, group: Option<&str>) -> SavedSubscription {
        let options =
            SubscriptionOptions::V3(SubOptionsV3 { qos: QoS::AtLeastOnce, shared_group: group.map(|g| Box::new(SharedGroup::from(g))) });
        SavedSubscription { filter: name.into(), options: serde_json::to_string(&options).expect("options serialize") }
    }

    fn names(rows: &[SavedSubscription], max_subscriptions: usize) -> (Vec<String>, usize) {
        let (kept, dropped) = kept_subscriptions(rows, max_subscriptions, |filter| filter != "denied");
        let mut names: Vec<String> = kept.keys().map(|name| name.to_string()).collect();
        names.sort();
        (names, dropped)
    }

    #[test]
    fn a_restored_session_keeps_no_more_shared_subscriptions_than_a_live_one_may_make() {
        let mut rows: Vec<_> = (0..MAX_SHARED_SUBSCRIPTIONS + 6).map(|n| row(&format!("$share/g{n}/t"), Some(&format!("g{n}")))).collect();
        rows.push(row("t", None));
        let (kept, dropped) = names(&rows, 10_000);
        assert_eq!((kept.len(), dropped), (MAX_SHARED_SUBSCRIPTIONS + 1, 6));
        assert!(kept.contains(&"t".to_string()) && !kept.contains(&format!("$share/g{MAX_SHARED_SUBSCRIPTIONS}/t")));
    }

    #[test]
    fn a_restored_session_keeps_no_more_levels_than_a_live_one_may_hold() {
        let deep = |n: usize| format!("{n}/{}", "l/".repeat(62)) + "end";
        let fit = MAX_SUBSCRIPTION_LEVELS / 64;
        let mut rows: Vec<_> = (0..=fit).map(|n| row(&deep(n), None)).collect();
        // What is left (100 000 - 1 562 × 64 = 32 levels) still takes a filter of 32.
        rows.push(row(&("a/".repeat(31) + "b"), None));
        let (kept, dropped) = names(&rows, 10_000);
        assert_eq!((kept.len(), dropped), (fit + 1, 1));
        assert!(!kept.contains(&deep(fit)));
    }

    #[test]
    fn a_restored_session_keeps_no_more_subscriptions_than_the_cap_and_what_its_device_may_make() {
        let rows = [row("a", None), row("denied", None), row("b", None), row("c", None), row("d", None)];
        assert_eq!(names(&rows, 3), (vec!["a".into(), "b".into(), "c".into()], 2));
        // A second row under a name held is no new subscription at the cap: it replaces the first.
        let rows = [row("$share/w/a", Some("w")), row("b", None), row("a", Some("w"))];
        assert_eq!(names(&rows, 2), (vec!["$share/w/a".into(), "b".into()], 1));
    }

    #[test]
    fn a_restored_shared_subscription_whose_name_is_longer_than_a_topic_is_left_out() {
        let group = "g".repeat(1024 - "$share//a".len());
        let rows = [row(&format!("$share/{group}/a"), Some(&group)), row(&format!("$share/{group}g/a"), Some(&format!("{group}g")))];
        assert_eq!(names(&rows, 10_000), (vec![format!("$share/{group}/a")], 1));
    }

    #[test]
    fn a_shared_subscription_is_saved_under_its_group_and_read_back_to_its_filter() {
        let group = SharedGroup::from("workers");
        let filter = TopicFilter::from("TopicA/+");
        assert_eq!(subscription_name(&filter, Some(&group)), "$share/workers/TopicA/+");
        assert_eq!(subscription_name(&filter, None), "TopicA/+");
        assert_eq!(saved_filter("$share/workers/TopicA/+", Some("workers")), Some("TopicA/+"));
        assert_eq!(saved_filter("$share/workers/#", Some("workers")), Some("#"));
        assert_eq!(saved_filter("TopicA/+", None), Some("TopicA/+"));
        // A row written before rmqtt change 37: the bare filter, the group in its options.
        assert_eq!(saved_filter("TopicA/+", Some("workers")), Some("TopicA/+"));
    }

    #[test]
    fn a_saved_subscription_whose_name_and_options_disagree_on_its_group_is_left_out() {
        assert_eq!(saved_filter("$share/workers/TopicA/+", Some("others")), None);
        assert_eq!(saved_filter("$share/workers/TopicA/+", None), None);
        assert_eq!(saved_filter("$share/workers", Some("workers")), None);
    }
}
