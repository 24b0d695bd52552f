//! MQTT Inflight Message Management System
//!
//! Provides reliable message delivery tracking for QoS 1 and 2 with:
//! - Outbound message retransmission
//! - Inbound message deduplication
//! - Configurable window sizes
//! - Automatic expiry handling
//!
//! ## Core Functionality
//! 1. ​**​Outbound Tracking (OutInflight)​**​:
//!    - Manages unacknowledged publishes (QoS 1/2)
//!    - Handles retransmission timeouts
//!    - Maintains packet ID sequencing
//!    - Supports configurable capacity limits
//!
//! 2. ​**​Inbound Tracking (InInflight)​**​:
//!    - Detects duplicate messages (QoS 2)
//!    - Enforces maximum window size
//!    - Provides packet ID lifecycle management
//!
//! ## Key Features
//! - Dual interval timing (retry/expiry)
//! - Event hooks for push/pop operations
//! - Atomic packet ID generation
//! - Time-based message expiry
//! - Statistics integration
//!
//! ## Implementation Details
//! - DequeMap for O(1) front access
//! - BTreeSet for efficient deduplication
//! - Atomic counters for thread safety
//! - Zero-cost status tracking
//!
//! Configuration Parameters:
//! - `cap`: Maximum concurrent outbound messages
//! - `retry_interval`: Retransmission delay (ms)
//! - `expiry_interval`: Message expiry timeout (ms)
//! - `max_inflight`: Maximum inbound window size
//!
//! Usage Patterns:
//! 1. Assign packet IDs via `next_id()`
//! 2. Track outbound messages with `push_back()`
//! 3. Process acknowledgements with `remove()`
//! 4. Handle timeouts via `pop_front_timeout()`
//! 5. Manage inbound flow with `add()`/`remove()`
//!
//! Note: Implements MQTT spec requirements for:
//! - Packet ID uniqueness (2.2.1)
//! - QoS flow control (4.6)
//! - Message expiry (3.3.2.3.2)

use std::collections::BTreeSet;
use std::num::NonZeroU16;
use std::sync::atomic::{AtomicU16, Ordering};
#[cfg(feature = "stats")]
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use itertools::Itertools;
use rust_box::dequemap::DequeBTreeMap as DequeMap;
use serde::{Deserialize, Serialize};

use crate::context::ServerContext;
use crate::net::MqttError;
#[cfg(feature = "stats")]
use crate::queue::OnEventFn;
use crate::types::{From, PacketId, Publish, TimestampMillis};
use crate::types::{QoS, Reason};
use crate::utils::timestamp_millis;
use crate::Result;

type OutQueues = DequeMap<PacketId, OutInflightMessage>;

/// Tracks the acknowledgment status of an inflight message.
///
/// Represents the current state in the QoS flow:
/// - `UnAck`: Published but not yet acknowledged by the subscriber.
/// - `UnReceived`: PUBREL sent but PUBREC not yet received (QoS 2 only).
/// - `UnComplete`: QoS 2 handshake initiated but not completed.
#[derive(Debug, Eq, PartialEq, Clone, Copy, Serialize, Deserialize)]
pub enum MomentStatus {
    /// Published to subscriber, awaiting acknowledgment.
    UnAck,
    /// PUBREL sent, awaiting PUBREC (QoS 2 only).
    UnReceived,
    /// QoS 2 handshake in progress, awaiting completion.
    UnComplete,
}

/// An outbound inflight message with delivery tracking metadata.
///
/// Tracks a publish message that has been sent but not yet
/// acknowledged by the receiver. Used for QoS 1 and QoS 2
/// retransmission and deduplication logic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutInflightMessage {
    /// The publish message content.
    pub publish: Publish,
    /// The source of the message (client, broker, or bridge).
    pub from: From,
    /// Current delivery acknowledgment status.
    pub status: MomentStatus,
    /// Last status update timestamp (milliseconds since epoch).
    pub update_time: TimestampMillis,
}

impl OutInflightMessage {
    #[inline]
    pub fn new(status: MomentStatus, from: From, publish: Publish) -> Self {
        Self { publish, from, status, update_time: timestamp_millis() }
    }

    #[inline]
    fn update_status(&mut self, status: MomentStatus) {
        self.update_time = timestamp_millis();
        self.status = status;
    }

    #[inline]
    pub fn timeout(&self, interval_millis: TimestampMillis) -> bool {
        log::debug!("interval_millis:{} {}", interval_millis, timestamp_millis() - self.update_time);
        interval_millis > 0 && ((timestamp_millis() - self.update_time) >= interval_millis)
    }
}

/// Manages outbound inflight messages for QoS 1 and QoS 2 delivery.
///
/// Provides packet ID generation, retransmission tracking via
/// dual-interval timing (retry/expiry), and capacity-based flow control.
///
/// # Packet ID Management
///
/// Packet IDs are generated atomically via `AtomicU16` starting from 1,
/// wrapping around when necessary. The system probes up to `u16::MAX`
/// attempts before reporting exhaustion.
///
/// # Timeout Behavior
///
/// The effective check interval is `min(retry_interval, expiry_interval)`.
/// When a timeout fires, [`pop_front_timeout`](OutInflight::pop_front_timeout)
/// returns the expired message for retransmission or cleanup.
/// Hearth patch (change 49): its packet-id counter inline (its own `Arc`, for a `Clone` nothing
/// used), and the callbacks only the `stats` feature sets compiled only with it: 56 bytes and an
/// allocation of every session.
pub struct OutInflight {
    cap: usize,
    interval: TimestampMillis,
    next: AtomicU16,
    queues: OutQueues,
    #[cfg(feature = "stats")]
    on_push_fn: Option<Arc<dyn OnEventFn>>,
    #[cfg(feature = "stats")]
    on_pop_fn: Option<Arc<dyn OnEventFn>>,
    /// Hearth patch (change 31): the packet ids of QoS 2 PUBLISHes received from the client and
    /// not yet released (its PUBREL), which are session state (MQTT 5, 4.1), each with its
    /// message's fingerprint (`qos2_fingerprint`): kept here, with the session, rather than only
    /// with the connection, so that the same PUBLISH sent again after a reconnection is
    /// acknowledged and not delivered twice (MQTT-4.3.3-10). At most the receive maximum; no
    /// allocation while empty.
    received_qos2: Vec<ReceivedQos2>,
    /// Hearth patch (change 48): the ids of messages a resumed session will send again under
    /// them [MQTT-4.4.0-1], kept out of what `next_id` hands out until each is in flight again.
    /// No allocation while empty.
    reserved: BTreeSet<PacketId>,
}

/// Hearth patch (change 35; the pair was change 31's): a QoS 2 PUBLISH received from the client
/// and not yet released.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedQos2 {
    pub id: NonZeroU16,
    /// `qos2_fingerprint` of its topic and payload.
    pub fingerprint: u64,
    /// Hearth patch (change 35): put back after a restart from a save that may be up to a
    /// second older than the exchange (one made while the broker ran, before a `kill -9` or a
    /// power cut), and not received since: only a PUBLISH marked DUP is taken for a repeat of it.
    #[serde(default)]
    pub may_be_behind: bool,
}

impl OutInflight {
    /// Create a new outbound inflight tracker.
    ///
    /// # Arguments
    ///
    /// * `cap` — Maximum concurrent outbound messages.
    /// * `retry_interval` — Delay before retransmitting unacknowledged messages (ms).
    /// * `expiry_interval` — Time after which messages expire (ms).
    #[inline]
    pub fn new(cap: usize, retry_interval: TimestampMillis, expiry_interval: TimestampMillis) -> Self {
        let interval = Self::interval(retry_interval, expiry_interval);
        Self {
            cap,
            interval,
            next: AtomicU16::new(1),
            queues: OutQueues::default(),
            #[cfg(feature = "stats")]
            on_push_fn: None,
            #[cfg(feature = "stats")]
            on_pop_fn: None,
            received_qos2: Vec::new(),
            reserved: BTreeSet::new(),
        }
    }

    /// Hearth patch (change 31): a QoS 2 PUBLISH with `id` was received and delivered; its
    /// PUBREL is awaited.
    #[inline]
    pub fn received_qos2(&mut self, id: NonZeroU16, fingerprint: u64) {
        self.keep_qos2(ReceivedQos2 { id, fingerprint, may_be_behind: false });
    }

    /// Hearth patch (change 35): a QoS 2 PUBLISH pending when the broker last saved the session
    /// while it ran, put back after a restart: the save may be a second behind.
    #[inline]
    pub fn received_qos2_may_be_behind(&mut self, id: NonZeroU16, fingerprint: u64) {
        self.keep_qos2(ReceivedQos2 { id, fingerprint, may_be_behind: true });
    }

    /// Hearth patch (change 35): `received` is pending, in place of what was pending under its id.
    #[inline]
    pub fn keep_qos2(&mut self, received: ReceivedQos2) {
        self.received_qos2.retain(|kept| kept.id != received.id);
        self.received_qos2.push(received);
    }

    /// Hearth patch (change 31): whether a QoS 2 PUBLISH with `id` and `fingerprint` is one
    /// already received and not released: the same message sent again. Hearth patch (change
    /// 35): one marked `may_be_behind` only if `dup` (MQTT-3.3.1-1: DUP is set on every
    /// sending again), since the saved ids may be a second behind: a client released the id just
    /// before a power cut, or lost its own state with the power and counts its ids from the start
    /// again, and its next message under that id, with the same content, is a new one.
    #[inline]
    pub fn is_repeat_qos2(&self, id: NonZeroU16, fingerprint: u64, dup: bool) -> bool {
        self.received_qos2.iter().any(|r| r.id == id && r.fingerprint == fingerprint && (dup || !r.may_be_behind))
    }

    /// Hearth patch (change 31): the QoS 2 PUBLISH with `id` was released (PUBREL).
    #[inline]
    pub fn released_qos2(&mut self, id: NonZeroU16) {
        self.received_qos2.retain(|kept| kept.id != id);
    }

    /// Hearth patch (change 33): the QoS 2 PUBLISHes received and not released (for Hearth to
    /// save with the session).
    #[inline]
    pub fn pending_qos2(&self) -> &[ReceivedQos2] {
        &self.received_qos2
    }

    /// Hearth patch (change 31): the QoS 2 PUBLISHes received and not released, taken (for the
    /// session's next connection).
    #[inline]
    pub fn take_received_qos2(&mut self) -> Vec<ReceivedQos2> {
        std::mem::take(&mut self.received_qos2)
    }

    /// Register a callback invoked when a message is pushed to the inflight queue.
    #[cfg(feature = "stats")]
    #[inline]
    pub fn on_push<F>(mut self, f: F) -> Self
    where
        F: OnEventFn,
    {
        self.on_push_fn = Some(Arc::new(f));
        self
    }

    /// Register a callback invoked when a message is popped from the inflight queue.
    #[cfg(feature = "stats")]
    #[inline]
    pub fn on_pop<F>(mut self, f: F) -> Self
    where
        F: OnEventFn,
    {
        self.on_pop_fn = Some(Arc::new(f));
        self
    }

    #[inline]
    fn interval(retry_interval: TimestampMillis, expiry_interval: TimestampMillis) -> TimestampMillis {
        match (retry_interval, expiry_interval) {
            (0, 0) => 0,
            (0, expiry_interval) => expiry_interval,
            (retry_interval, 0) => retry_interval,
            (retry_interval, expiry_interval) => retry_interval.min(expiry_interval),
        }
    }

    /// Compute the timeout duration until the next inflight message expires.
    ///
    /// Returns `None` if no messages are queued or if intervals are zero.
    #[inline]
    pub fn get_timeout(&self) -> Option<Duration> {
        if self.interval == 0 {
            return None;
        }
        if let Some((_, m)) = self.queues.front() {
            let mut t = self.interval - (timestamp_millis() - m.update_time);
            if t < 1 {
                t = 1;
            }
            log::debug!("get timeout t: {t}");
            return Some(Duration::from_millis(t as u64));
        }
        None
    }

    #[inline]
    fn front_timeout(&self) -> bool {
        if self.interval == 0 {
            return false;
        }
        if let Some((_, m)) = self.queues.front() {
            if m.timeout(self.interval) {
                return true;
            }
        }
        false
    }

    #[inline]
    pub fn get(&self, packet_id: PacketId) -> Option<&OutInflightMessage> {
        self.queues.get(&packet_id)
    }

    #[inline]
    pub fn front(&self) -> Option<(&PacketId, &OutInflightMessage)> {
        self.queues.front()
    }

    #[inline]
    pub fn pop_front(&mut self) -> Option<OutInflightMessage> {
        if let Some(msg) = self.queues.pop_front().map(|(_, m)| m) {
            #[cfg(feature = "stats")]
            if let Some(f) = self.on_pop_fn.as_ref() {
                f();
            }
            Some(msg)
        } else {
            None
        }
    }

    #[inline]
    pub fn pop_front_timeout(&mut self) -> Option<OutInflightMessage> {
        if self.front_timeout() {
            self.pop_front()
        } else {
            None
        }
    }

    #[inline]
    pub fn push_back(&mut self, m: OutInflightMessage) -> Option<NonZeroU16> {
        if let Some(packet_id) = m.publish.packet_id {
            #[cfg(feature = "stats")]
            if let Some(f) = self.on_push_fn.as_ref() {
                f();
            }
            // Hearth patch (change 48): in flight again, it is kept apart as any in flight.
            if !self.reserved.is_empty() {
                self.reserved.remove(&packet_id.get());
            }
            let old = self.queues.insert(packet_id.get(), m);
            #[cfg(feature = "stats")]
            if old.is_some() {
                if let Some(f) = self.on_pop_fn.as_ref() {
                    f();
                }
            }
            old.and_then(|old| old.publish.packet_id)
        } else {
            log::warn!("packet_id is None, inflight message: {m:?}");
            None
        }
    }

    #[inline]
    pub fn remove(&mut self, packet_id: &PacketId) -> Option<OutInflightMessage> {
        if let Some(msg) = self.queues.remove(packet_id) {
            #[cfg(feature = "stats")]
            if let Some(f) = self.on_pop_fn.as_ref() {
                f();
            }
            Some(msg)
        } else {
            None
        }
    }

    #[inline]
    pub fn update_status(&mut self, packet_id: &PacketId, s: MomentStatus) {
        if let Some(m) = self.queues.get_mut(packet_id) {
            m.update_status(s);
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    #[inline]
    pub fn exist(&self, packet_id: &PacketId) -> bool {
        self.queues.contains_key(packet_id)
    }

    #[inline]
    pub fn has_credit(&self) -> bool {
        (self.cap - self.queues.len()) > 0
    }

    #[inline]
    pub fn next_id(&self) -> Result<PacketId> {
        // Hearth patch (change 48): every value of the counter, the one last handed out too (it
        // may be free again), before `reserved` is looked at below.
        for _ in 0..=u16::MAX {
            let packet_id = self.next.fetch_add(1, Ordering::SeqCst);
            if packet_id == 0 {
                continue;
            }
            // Hearth patch (change 48): nor an id reserved for a message to be sent again.
            if !self.queues.contains_key(&packet_id) && !self.reserved.contains(&packet_id) {
                return Ok(packet_id);
            }
        }
        // Hearth patch (change 48): every id in flight or reserved (reserved ones whose messages
        // were dropped unsent, left so for long): one reserved and not in flight, whose message,
        // if it still comes, goes under a new id (`id_to_send`).
        if let Some(id) = self.reserved.iter().find(|id| !self.queues.contains_key(id)) {
            return Ok(*id);
        }
        Err(anyhow!("no packet_id available, should unreachable!()"))
    }

    /// Advance the packet-id allocator so that ids already reserved by
    /// transferred inflight messages (kept under their old ids) are never
    /// re-issued to concurrently delivered messages. `next_id` only checks
    /// the current queue, so without this isolation a stored message
    /// delivered during session resume can be assigned the same id as a
    /// transferred message and `push_back` would silently overwrite it.
    #[inline]
    pub fn advance_next_id(&self, max_reserved: u16) {
        self.next.fetch_max(max_reserved.saturating_add(1), Ordering::SeqCst);
    }

    /// Hearth patch (change 48): the id a QoS 1 or 2 message goes out under. A message sent
    /// again (DUP, with its id) keeps its id [MQTT-4.4.0-1], unless another message now holds it
    /// in flight: registering it would overwrite that one's exchange, and a QoS 2 client would
    /// take it for a repeat of that one and drop it. Then it gets a new id, and `true` says so.
    /// `reserve_ids_to_send_again` keeps the ids apart: only a message sent again twice under
    /// one id (its first copy still in flight), or one whose reserved id `next_id` handed out
    /// once no other was left, can meet one taken.
    pub fn id_to_send(&self, dup: bool, packet_id: Option<NonZeroU16>) -> Result<(PacketId, bool)> {
        match packet_id {
            Some(id) if dup && !self.queues.contains_key(&id.get()) => Ok((id.get(), false)),
            Some(_) if dup => Ok((self.next_id()?, true)),
            _ => Ok((self.next_id()?, false)),
        }
    }

    /// Hearth patch (change 48): keeps the ids of messages that will be sent again under them
    /// out of what `next_id` hands out, until each is in flight again (`push_back`): a resumed
    /// session's in-flight messages, and the queued ones with DUP and their id (sent and not
    /// acknowledged, they went back to the queue when their connection was lost, or a resume's
    /// CONNACK failed, before they were sent again). A message routed to the session ahead of
    /// them would otherwise be given the same id. Ids, not the highest of them: they may wrap.
    /// One dropped before it is sent again (expired, too large for its client, pushed out of a
    /// full queue) keeps its id reserved for the connection; `next_id` takes reserved ids back
    /// only once no other is left.
    pub fn reserve_ids_to_send_again<'a>(
        &mut self,
        in_flight: impl Iterator<Item = &'a Publish>,
        queued: impl Iterator<Item = &'a Publish>,
    ) {
        let again = in_flight.chain(queued.filter(|p| p.dup));
        self.reserved.extend(again.filter_map(|p| p.packet_id).map(NonZeroU16::get));
    }

    #[inline]
    pub fn to_inflight_messages(&mut self) -> Vec<OutInflightMessage> {
        let mut inflight_messages = Vec::new();
        while let Some(msg) = self.pop_front() {
            //@TODO ..., check message expired
            inflight_messages.push(msg);
        }
        inflight_messages
    }

    #[inline]
    pub fn clone_inflight_messages(&mut self) -> Vec<OutInflightMessage> {
        self.queues.iter().map(|(_, msg)| msg.clone()).collect_vec()
    }
}

/// Hearth patch (change 31): what tells a QoS 2 PUBLISH sent again from a new one under the same
/// packet id: its topic and payload. A client that lost its own state (a device restarted) while
/// keeping its session may reuse an id whose PUBREL it never sent; as Mosquitto does ("Reused
/// message ID"), a different message under it is a new one, delivered, not taken for a repeat.
///
/// Hearth patch (change 33): saved with the session (Hearth keeps the ids across its restarts),
/// so it must come out the same in a later build and on another machine: SipHash-1-3 with zero
/// keys over bytes written explicitly (the topic, a 0xff that no UTF-8 string holds, the
/// payload). std's `DefaultHasher` is documented to change between Rust releases, and `Hash` for
/// a slice writes its length as a `usize`, whose width is the platform's.
pub fn qos2_fingerprint(topic: &str, payload: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut hasher = siphasher::sip::SipHasher13::new();
    hasher.write(topic.as_bytes());
    hasher.write(&[0xff]);
    hasher.write(payload);
    hasher.finish()
}

/// Tracks inbound inflight messages for QoS 2 deduplication.
///
///
/// Maintains a set of packet IDs received from the client to detect
/// duplicate PUBLISH packets (a requirement of the MQTT QoS 2 protocol).
///
/// # Flow Control
///
/// Enforces a `max_inflight` window to prevent the client from
/// overwhelming the broker with concurrent QoS 2 publishes.
///
/// Size limit for concurrent inbound messages on a single connection.
/// TODO: Make this configurable per listener/client.
pub struct InInflight {
    cached: BTreeSet<NonZeroU16>,
    #[allow(dead_code)]
    scx: ServerContext,
    max_inflight: u16,
}

impl Drop for InInflight {
    fn drop(&mut self) {
        #[cfg(feature = "stats")]
        self.scx.stats.in_inflights.decs(self.cached.len() as isize);
    }
}

impl InInflight {
    pub(crate) fn new(scx: ServerContext, max_inflight: u16) -> Self {
        Self { cached: BTreeSet::default(), scx, max_inflight }
    }

    #[inline]
    pub(crate) fn add(&mut self, pid: NonZeroU16, qos: QoS) -> std::result::Result<bool, Reason> {
        if self.cached.len() >= self.max_inflight as usize {
            return Err(Reason::InflightWindowFull);
        }
        if self.cached.insert(pid) {
            #[cfg(feature = "stats")]
            self.scx.stats.in_inflights.inc();
            Ok(true)
        } else if matches!(qos, QoS::ExactlyOnce) {
            Err(MqttError::PacketIdInUse(pid).into())
        } else {
            Ok(false)
        }
    }

    /// Check whether a packet id is already tracked in the inbound inflight set.
    ///
    /// Used by the QoS 2 duplicate detection path ([MQTT-4.3.3-10]): when a
    /// PUBLISH with the same Packet Identifier arrives before the exchange is
    /// complete, the broker must answer PUBREC without delivering again.
    #[inline]
    pub(crate) fn exist(&self, pid: &NonZeroU16) -> bool {
        self.cached.contains(pid)
    }

    /// Hearth patch (change 31): an id received on the session's previous connection and not
    /// released, put back whatever the window (at most the listener's receive maximum anyway).
    #[inline]
    pub(crate) fn restore(&mut self, pid: NonZeroU16) {
        if self.cached.insert(pid) {
            #[cfg(feature = "stats")]
            self.scx.stats.in_inflights.inc();
        }
    }

    /// Hearth patch (change 31): whether a new id would be over the window (the receive maximum).
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.cached.len() >= self.max_inflight as usize
    }

    #[inline]
    pub(crate) fn remove(&mut self, pid: &NonZeroU16) -> bool {
        #[allow(clippy::needless_bool)]
        if self.cached.remove(pid) {
            #[cfg(feature = "stats")]
            self.scx.stats.in_inflights.dec();
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use bytestring::ByteString;

    use crate::types::{CodecPublish, Id};

    fn make_publish(topic: &str, packet_id: u16) -> Publish {
        Publish {
            inner: Box::new(CodecPublish {
                dup: false,
                retain: false,
                qos: QoS::ExactlyOnce,
                topic: ByteString::from(topic),
                packet_id: NonZeroU16::new(packet_id),
                properties: None,
                payload: Bytes::from_static(b"payload"),
            }),
            target_clientid: None,
            delay_interval: None,
            create_time: None,
        }
    }

    fn make_from(client: &str) -> From {
        From::from_custom(Id::new(1, 1, None, None, ByteString::from(client), None))
    }

    fn make_msg(topic: &str, pid: u16, status: MomentStatus) -> OutInflightMessage {
        OutInflightMessage::new(status, make_from(topic), make_publish(topic, pid))
    }

    /// Root cause 1: the packet-id allocator restarts at 1 and is not
    /// isolated from the id space of transferred inflight messages
    /// (which keep their old ids 1..N and are registered later by
    /// `send_rerelease`). `next_id` only checks the current queue, so a
    /// concurrently delivered stored message can be assigned the same id.
    #[test]
    fn next_id_restarts_at_one_and_collides_with_transfer_ids() {
        let inflight = OutInflight::new(100, 0, 0);
        // The transferred messages (old ids 1..=3) are still queued behind
        // `SendRerelease`; the new session's queue is empty, so the allocator
        // hands out id 1 again — the exact overlap that causes the collision.
        assert_eq!(inflight.next_id().unwrap(), 1, "allocator is not isolated from the transferred id space");
    }

    /// Root cause 2: `push_back` silently overwrites an existing entry with
    /// the same packet-id (`HashMap::insert`), returning the overwritten id.
    /// A second registration therefore destroys the first message's QoS 2 state.
    #[test]
    fn push_back_same_packet_id_silently_overwrites() {
        let mut inflight = OutInflight::new(100, 0, 0);
        inflight.push_back(make_msg("stored/a", 1, MomentStatus::UnReceived));

        // Second registration with the same id (send_rerelease path).
        let old = inflight.push_back(make_msg("inflight/b", 1, MomentStatus::UnComplete));
        assert_eq!(old.map(|id| id.get()), Some(1), "push_back reported the overwrite");

        let cur = inflight.get(1).expect("packet 1 is still tracked");
        assert_eq!(cur.publish.inner.topic, ByteString::from_static("inflight/b"));
        assert_eq!(cur.status, MomentStatus::UnComplete);
    }

    /// Fix verification: after `advance_next_id`, new allocations skip the
    /// transferred id range (1..=N), so a concurrently delivered stored
    /// message can never collide with a transferred message's old id.
    #[test]
    fn advance_next_id_isolates_transfer_id_space() {
        let inflight = OutInflight::new(100, 0, 0);
        inflight.advance_next_id(5); // transferred messages keep ids 1..=5
        assert_eq!(inflight.next_id().unwrap(), 6, "allocator must skip the transferred id range");
    }

    /// End-to-end mechanism reproduction: during session resume, a stored
    /// message is first delivered (id 1), then `send_rerelease` registers a
    /// transferred message under the same old id 1 and overwrites it. The
    /// stored message's QoS 2 state is permanently lost — the PUBCOMP that
    /// arrives later completes the *other* message and the stored one has no
    /// record at all (no resend, no ack hook).
    #[test]
    fn resume_collision_loses_stored_message() {
        let mut inflight = OutInflight::new(100, 0, 0);

        // (1) stored message M1 delivered by send_storaged_messages: next_id=1
        let pid = NonZeroU16::new(inflight.next_id().unwrap()).unwrap();
        assert_eq!(pid.get(), 1);
        inflight.push_back(make_msg("stored/M1", pid.get(), MomentStatus::UnReceived));

        // (2) transferred message M2 (old id 1) registered by send_rerelease → overwrites M1
        let old = inflight.push_back(make_msg("inflight/M2", pid.get(), MomentStatus::UnComplete));
        assert_eq!(
            old.map(|id| id.get()),
            Some(1),
            "send_rerelease overwrote the stored message (bug reproduced)"
        );

        // (3) M1's PUBREC/PUBCOMP removes M2 — M1 is left with no tracking at all
        let removed = inflight.remove(&pid.get()).expect("something is tracked under id 1");
        assert_eq!(removed.publish.inner.topic, ByteString::from_static("inflight/M2"));
        assert!(
            inflight.get(pid.get()).is_none(),
            "M1's QoS 2 state is gone: no resend, no ack hook, message effectively lost"
        );
    }

    fn sent_again(topic: &str, pid: u16) -> Publish {
        let mut p = make_publish(topic, pid);
        p.dup = true;
        p
    }

    /// Hearth patch (change 48): the ids of messages to be sent again (in flight, DUP or not;
    /// queued with DUP and their id) are kept out of what a new message is given, until each is
    /// in flight again; a queued message's id without DUP is not one of them.
    #[test]
    fn ids_to_be_sent_again_are_not_handed_out_until_in_flight_again() {
        let mut inflight = OutInflight::new(100, 0, 0);
        let in_flight = [make_publish("in/flight", 1)];
        let queued = [sent_again("queued/b", 3), make_publish("routed/in", 0), make_publish("no/dup", 2)];
        inflight.reserve_ids_to_send_again(in_flight.iter(), queued.iter());
        let handed: Vec<_> = (0..3).map(|_| inflight.next_id().unwrap()).collect();
        assert_eq!(handed, [2, 4, 5], "messages routed in ahead of them get other ids");
        assert_eq!(inflight.id_to_send(true, NonZeroU16::new(3)).unwrap(), (3, false));
        inflight.push_back(make_msg("queued/b", 3, MomentStatus::UnReceived));
        inflight.remove(&3);
        inflight.next.store(1, Ordering::SeqCst);
        assert_eq!(inflight.next_id().unwrap(), 2, "1 is still reserved");
        assert_eq!(inflight.next_id().unwrap(), 3, "3 was sent again and acknowledged: free");
    }

    /// Hearth patch (change 48): reserved ids are kept out across the wrap of the id space; the
    /// allocator's `advance_next_id` alone, by the highest id, could not (65535 then 1, 2).
    #[test]
    fn reserved_ids_are_kept_out_across_the_wrap() {
        let mut inflight = OutInflight::new(100, 0, 0);
        let again = [sent_again("a", 65534), sent_again("b", 65535), sent_again("c", 1), sent_again("d", 2)];
        inflight.reserve_ids_to_send_again([].iter(), again.iter());
        inflight.next.store(65533, Ordering::SeqCst);
        let handed: Vec<_> = (0..2).map(|_| inflight.next_id().unwrap()).collect();
        assert_eq!(handed, [65533, 3]);
    }

    /// Hearth patch (change 48): with every other id in flight, a reserved one not in flight is
    /// handed out rather than none.
    #[test]
    fn a_reserved_id_is_handed_out_once_no_other_is_left() {
        let mut inflight = OutInflight::new(usize::from(u16::MAX), 0, 0);
        for id in 1..=u16::MAX {
            if id != 7 && id != 9 {
                inflight.push_back(make_msg("in/flight", id, MomentStatus::UnAck));
            }
        }
        inflight.reserve_ids_to_send_again([].iter(), [sent_again("dropped", 9)].iter());
        assert_eq!(inflight.next_id().unwrap(), 7);
        inflight.push_back(make_msg("in/flight", 7, MomentStatus::UnAck));
        assert_eq!(inflight.next_id().unwrap(), 9, "reserved, but nothing else is left");
    }

    /// Hearth patch (change 48): a message sent again keeps its id while it is free, and gets a
    /// new one, said so, when another message holds it; a new message always gets the next.
    #[test]
    fn a_message_sent_again_keeps_its_id_unless_another_holds_it() {
        let mut inflight = OutInflight::new(100, 0, 0);
        assert_eq!(inflight.id_to_send(true, NonZeroU16::new(5)).unwrap(), (5, false));
        assert_eq!(inflight.id_to_send(false, None).unwrap(), (1, false));
        assert_eq!(inflight.id_to_send(false, NonZeroU16::new(5)).unwrap(), (2, false), "no DUP: its id is the sender's");

        inflight.push_back(make_msg("routed/in", 5, MomentStatus::UnReceived));
        let (id, renamed) = inflight.id_to_send(true, NonZeroU16::new(5)).unwrap();
        assert!(renamed && id != 5, "id 5 is held: a new one, got {id}");
        assert_eq!(inflight.get(5).unwrap().publish.inner.topic, ByteString::from_static("routed/in"));
    }
}
