//! The gate's queue to the recorder, with its backpressure: when the recorder is behind,
//! payloads are left out first, then publishes are kept only as counts per topic, and whatever
//! still finds no room is counted as unrecorded. Nothing is lost silently.

use super::{HubGate, Packet};
use crate::api::now;
use crate::api::types::{Action, Decision};
use hearth_core::device::DeviceId;
use hearth_core::discovery::Discovery;
use hearth_store::GateRecord;
use std::collections::HashMap;
use std::sync::atomic::Ordering;

/// The most of one payload carried to the ledger: larger ones (pictures) are carried as their
/// first bytes, which tell their kind.
pub const CARRIED_PAYLOAD: usize = 64 * 1024;
/// The most topics counted while the recorder's queue is full.
const MAX_OVERFLOW_TOPICS: usize = 10_000;

/// The most payload bytes waiting for the recorder at once.
pub const PAYLOAD_BUDGET: usize = 32 * 1024 * 1024;

/// Decisions waiting for the recorder. At the broker's full rate the recorder writes batches
/// of thousands per transaction; this absorbs a burst of a few seconds (the broker benchmark's
/// flood, 100 000 QoS 0 messages from 50 clients in under a second, left its payloads out of the
/// ledger past half of 65 536; the payloads themselves stay held to `PAYLOAD_BUDGET`).
pub const RECORD_QUEUE: usize = 131_072;

/// Records one device may queue in a second while the recorder is behind (the queue more than
/// half full); past it, its publishes are kept as counts and its other decisions counted as
/// unrecorded. A home device sends a few messages a second; one flooding (a compromised device
/// spraying retained messages at thousands a second) must not push everyone else's messages out
/// of the ledger.
const FAIR_SHARE_PER_SECOND: u32 = 500;

/// Devices counted for the fair share at once (a bound on its memory).
const FAIR_SHARE_DEVICES: usize = 10_000;

/// What `rewrite` did to a client's latest message: its topic, its size after, and the fields
/// removed (`None`: it could not be read, so it must be refused).
pub(super) type JustRedacted = (String, usize, Option<Vec<String>>);

/// What the gate hands the recorder, in the order it decided.
#[derive(Debug)]
pub enum Record {
    Decision(GateRecord),
    /// An accepted discovery message, to file under its device, and the size of the message it
    /// came in (held against the payload budget until filed).
    Discovery(DeviceId, Discovery, usize),
}

impl HubGate {
    pub fn unrecorded(&self) -> u64 {
        self.unrecorded.load(Ordering::Relaxed)
    }

    /// Whether `device` used its share of the recorder this second while the recorder is behind.
    /// Counted only under pressure, so that a home whose recorder keeps up pays nothing for it.
    fn over_fair_share(&self, device: &DeviceId) -> bool {
        if self.records.capacity() > RECORD_QUEUE / 2 {
            return false;
        }
        let mut share = self.fair_share.lock().unwrap_or_else(|p| p.into_inner());
        if share.0.elapsed() >= std::time::Duration::from_secs(1) {
            *share = (std::time::Instant::now(), HashMap::new());
        }
        if share.1.len() >= FAIR_SHARE_DEVICES && !share.1.contains_key(device) {
            return false;
        }
        let used = share.1.entry(device.clone()).or_insert(0);
        *used += 1;
        *used > FAIR_SHARE_PER_SECOND
    }

    pub(super) fn record(&self, device: Option<&DeviceId>, p: &Packet<'_>, decision: &Decision) {
        if device.is_some_and(|d| self.over_fair_share(d)) {
            self.count_instead(device, p, decision);
            return;
        }
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
            // A refused topic may be anything a client chose (up to 64 KB): kept cut short.
            topic: hearth_core::text::clip(p.topic, hearth_core::topic::MAX_TOPIC_BYTES).into_owned(),
            bytes: p.bytes as u64,
            qos: p.qos,
            decision: decision.clone(),
            payload,
        });
        if let Err(full) = self.records.try_send(record) {
            // Then, a publish by a known device is added to its topic's counts (exact, but no
            // longer a row of its own); anything else is counted as unrecorded.
            let Record::Decision(unsent) = full.into_inner() else { return };
            if let Some(carried) = &unsent.payload {
                self.payloads_taken(carried.len());
            }
            self.count_instead(device, p, decision);
        }
    }

    /// A decision that gets no row: a publish by a known device is added to its topic's counts
    /// (exact, in the ledger's rollups), anything else is counted as unrecorded.
    fn count_instead(&self, device: Option<&DeviceId>, p: &Packet<'_>, decision: &Decision) {
        let Some(device) = device.filter(|_| p.action == Action::Publish) else {
            self.unrecorded.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut overflow = self.overflow.lock().unwrap_or_else(|p| p.into_inner());
        let key = (device.clone(), hearth_core::text::clip(p.topic, hearth_core::topic::MAX_TOPIC_BYTES).into_owned());
        // Bounded too: a stalled recorder and ever-new topics must not grow it.
        if overflow.len() >= MAX_OVERFLOW_TOPICS && !overflow.contains_key(&key) {
            self.unrecorded.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let entry = overflow.entry(key).or_default();
        entry.messages += 1;
        entry.bytes += p.bytes as u64;
        entry.refused += u64::from(!decision.is_allow());
        entry.last_at = now();
        self.aggregated.fetch_add(1, Ordering::Relaxed);
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
}
