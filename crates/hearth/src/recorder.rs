//! The recorder: the one task that writes the gate's decisions, the ledger of what devices
//! publish, and the discovery messages the gate accepted, to the store, in batches (what queued
//! up under load; what arrived within `recorded::GATHER` at a trickle, or before a reader asked),
//! on a blocking thread. The broker only ever queues (see `gate`). It also runs the retention
//! jobs.

use crate::api::types::{Change, Event};
use crate::gate::Record;
use crate::hub::Hub;
use crate::recorded::GATHER;
use hearth_core::device::DeviceId;
use hearth_core::discovery::Discovery;
use hearth_core::gate::ConnectCount;
use hearth_store::{GateRecord, LedgerEntry};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Most decisions written in one transaction.
const BATCH: usize = 4096;
/// How long the raw record of each decision is kept, and how often older ones are pruned.
const KEEP: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
/// How long counts of connection attempts are kept after the last one (as the ledger's
/// metadata rows are).
const ATTEMPTS_KEPT: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);
/// How often open device pages are told their device's record changed: often enough to look
/// live, seldom enough that a device sending hundreds of messages a second costs its page (and
/// every connected browser's event stream) two reloads a second, not hundreds.
const TELL_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Runs until cancelled, then writes what is still queued.
pub async fn run(hub: Hub, mut rx: mpsc::Receiver<Record>, cancel: CancellationToken) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    let mut tell = tokio::time::interval(TELL_EVERY);
    tell.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut overflow = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut probe = tokio::time::interval(crate::recording::PROBE_EVERY);
    let mut changed: HashSet<DeviceId> = HashSet::new();
    // Devices told about as sending ten times their usual, and when: once a day each.
    let told_spikes: Arc<Mutex<HashMap<DeviceId, i64>>> = Arc::default();
    let flushes = hub.flushes();
    flushes.start();
    // Readers stop waiting for the recorder however it ends (cancelled, or a panic).
    let _stop = StopOnDrop(flushes);
    // How many the last write took: right after a big one, the next is written at once too.
    let mut last_batch = 0;
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = prune.tick() => {
                prune_old(&hub).await;
                // On the side: it reads through the reader connection, which an export may hold
                // for a while, and the recorder must keep taking what the gate decides.
                tokio::spawn(tell_spikes(hub.clone(), told_spikes.clone()));
            }
            _ = probe.tick() => probe_disk(&hub).await,
            _ = overflow.tick() => {
                write_overflow(&hub).await;
                write_attempts(&hub).await;
            }
            _ = tell.tick() => {
                for id in changed.drain() {
                    hub.publish(Event::BrokerChanged { id });
                }
            }
            // A reader waits (see `recorded`): everything queued now is written first.
            () = flushes.asked() => {
                let ticket = flushes.ticket();
                let mut left = rx.len();
                while left > 0 {
                    let taken = take_queued(&mut rx, &mut batch, left.min(BATCH));
                    if taken == 0 {
                        break;
                    }
                    left -= taken;
                    changed.extend(write(&hub, std::mem::take(&mut batch)).await);
                }
                flushes.answered(ticket);
            }
            // Under load, what queued while the last batch was written, at once (thousands). At a
            // trickle, what arrives within `GATHER` in one transaction: a write per message, each
            // waking a thread, doubled the broker's latency tail.
            n = rx.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    break;
                }
                if batch.len().max(last_batch) < BATCH / 2 {
                    tokio::select! {
                        () = tokio::time::sleep(GATHER) => {}
                        // Answered by the branch above, once this batch is written.
                        () = flushes.asked() => flushes.ask_again(),
                        () = cancel.cancelled() => {}
                    }
                    let room = BATCH - batch.len();
                    take_queued(&mut rx, &mut batch, room);
                }
                last_batch = batch.len();
                changed.extend(write(&hub, std::mem::take(&mut batch)).await);
            }
        }
    }
    rx.close();
    while let Ok(record) = rx.try_recv() {
        batch.push(record);
    }
    write(&hub, batch).await;
    write_overflow(&hub).await;
    write_attempts(&hub).await;
}

struct StopOnDrop<'a>(&'a crate::recorded::Flushes);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Moves up to `most` queued records into `batch` without waiting; returns how many.
fn take_queued(rx: &mut mpsc::Receiver<Record>, batch: &mut Vec<Record>, most: usize) -> usize {
    let before = batch.len();
    batch.extend(std::iter::from_fn(|| rx.try_recv().ok()).take(most));
    batch.len() - before
}

/// While recording is paused for a full disk: whether the database can be written again, so that
/// recording resumes as soon as there is room, whether or not devices are sending.
async fn probe_disk(hub: &Hub) {
    let recording = hub.recording();
    if recording.status().paused_since.is_none() {
        return;
    }
    let hub = hub.clone();
    match tokio::task::spawn_blocking(move || hub.store().check_writable()).await {
        Ok(Ok(())) => recording.succeeded(),
        Ok(Err(e)) if recording.failed(&e, 0) => {}
        Ok(Err(e)) => tracing::error!("cannot check whether the database can be written: {e}"),
        Err(e) => tracing::error!("the recorder failed: {e}"),
    }
}

/// CONNECT attempts the gate counted since the last second, filed as counts.
async fn write_attempts(hub: &Hub) {
    let counts: Vec<ConnectCount> = hub
        .gate()
        .take_attempts()
        .into_iter()
        .map(|(key, c)| ConnectCount {
            address: key.address_text(),
            device_id: key.device,
            refused: key.outcome,
            count: c.count,
            first_at: c.first_at,
            last_at: c.last_at,
            client_id: c.client_id,
            username: c.username,
        })
        .collect();
    if counts.is_empty() {
        return;
    }
    let recording = hub.recording();
    if !recording.should_try(counts.len()) {
        return;
    }
    let hub = hub.clone();
    match tokio::task::spawn_blocking(move || hub.store().without_waiting_for_disk(|s| s.record_attempts(&counts))).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) if recording.failed(&e, 1) => {}
        Ok(Err(e)) => tracing::error!("cannot record the counts of MQTT connection attempts: {e}"),
        Err(e) => tracing::error!("the recorder failed: {e}"),
    }
}

/// Publishes the queue had no room for, filed as counts.
async fn write_overflow(hub: &Hub) {
    let overflow = hub.gate().take_overflow();
    if overflow.is_empty() {
        return;
    }
    let hub = hub.clone();
    let recording = hub.recording();
    let written = tokio::task::spawn_blocking(move || hub.store().without_waiting_for_disk(|s| s.record_overflow(&overflow))).await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) if recording.failed(&e, 1) => {}
        Ok(Err(e)) => tracing::error!("cannot record the publishes counted under load: {e}"),
        Err(e) => tracing::error!("the recorder failed: {e}"),
    }
}

/// Hourly: a device sending ten times its usual in the last day is news, at most once a day.
async fn tell_spikes(hub: Hub, told: Arc<Mutex<HashMap<DeviceId, i64>>>) {
    let reader = hub.clone();
    let now = crate::api::now();
    let found = tokio::task::spawn_blocking(move || {
        let store = reader.reader();
        let spikes = store.more_than_usual(now)?;
        let named = spikes.into_iter().filter_map(|change| match &change {
            Change::MoreThanUsual { device_id, .. } => {
                let name = store.device(device_id).map(|d| d.device.name).unwrap_or_else(|_| device_id.to_string());
                Some((device_id.clone(), name, change))
            }
            _ => None,
        });
        Ok::<_, hearth_store::StoreError>(named.collect::<Vec<_>>())
    })
    .await;
    const DAY: i64 = 86_400_000;
    match found {
        Ok(Ok(spikes)) => {
            let mut told = told.lock().unwrap_or_else(|p| p.into_inner());
            told.retain(|_, at| now - *at < DAY);
            for (device_id, name, change) in spikes {
                if let std::collections::hash_map::Entry::Vacant(untold) = told.entry(device_id) {
                    untold.insert(now);
                    hub.publish(Event::SendsSomethingNew { name, change });
                }
            }
        }
        Ok(Err(e)) => tracing::error!("cannot look for devices sending more than usual: {e}"),
        Err(e) => tracing::error!("the recorder failed: {e}"),
    }
}

async fn prune_old(hub: &Hub) {
    let hub = hub.clone();
    let now = crate::api::now();
    let cut = now - KEEP.as_millis() as i64;
    let pruned = tokio::task::spawn_blocking(move || {
        let mut store = hub.store();
        store.prune_attempts(now - ATTEMPTS_KEPT.as_millis() as i64)?;
        Ok::<_, hearth_store::StoreError>((store.prune_decisions(cut)?, store.prune_ledger(now)?))
    })
    .await;
    match pruned {
        Ok(Ok((0, 0))) => {}
        Ok(Ok((decisions, ledger))) => {
            tracing::info!(decisions, ledger, "retention: pruned old decisions and ledger rows, cleared expired values")
        }
        Ok(Err(hearth_store::StoreError::DiskFull(_))) => {} // said once by the recorder
        Ok(Err(e)) => tracing::error!("cannot prune old decisions: {e}"),
        Err(e) => tracing::error!("the pruning task failed: {e}"),
    }
}

/// Writes a batch; returns the devices whose records it changed.
async fn write(hub: &Hub, batch: Vec<Record>) -> Vec<DeviceId> {
    if batch.is_empty() {
        return vec![];
    }
    let mut decisions = Vec::with_capacity(batch.len());
    let mut discoveries = Vec::new();
    let mut discovery_bytes = 0;
    for record in batch {
        match record {
            Record::Decision(d) => decisions.push(d),
            Record::Discovery(id, d, size) => {
                discovery_bytes += size;
                discoveries.push((id, d));
            }
        }
    }
    let payload_bytes: usize = decisions.iter().filter_map(|d| d.payload.as_ref()).map(Vec::len).sum::<usize>() + discovery_bytes;
    let gate = hub.gate();
    if !hub.recording().should_try(decisions.len() + discoveries.len()) {
        // The disk is full: counted as not recorded until the next try.
        gate.payloads_taken(payload_bytes);
        return vec![];
    }
    let hub = hub.clone();
    let written = tokio::task::spawn_blocking(move || {
        let mut changed = record_decisions(&hub, &decisions);
        changed.extend(file_discoveries(&hub, discoveries));
        changed
    })
    .await;
    // Written (or failed): their payloads no longer count against the gate's budget.
    gate.payloads_taken(payload_bytes);
    written.unwrap_or_else(|e| {
        tracing::error!("the recorder failed: {e}");
        vec![]
    })
}

/// Writes the decisions, and the publishes among them to the ledger; returns the devices they
/// are about.
fn record_decisions(hub: &Hub, decisions: &[GateRecord]) -> Vec<DeviceId> {
    if decisions.is_empty() {
        return vec![];
    }
    let recorded = hub.store().without_waiting_for_disk(|store| record_decisions_in(hub, store, decisions));
    if recorded.is_some() {
        note_live_state(hub, decisions);
    }
    recorded.unwrap_or_default()
}

/// What controls report and what devices measure, noted in memory once the decisions are
/// recorded, after the store's lock is released: parsing payloads must not hold up the API.
fn note_live_state(hub: &Hub, decisions: &[GateRecord]) {
    hub.reported().note(
        decisions
            .iter()
            .filter(|d| d.action == hearth_core::gate::Action::Publish && d.decision.is_allow())
            .filter_map(|d| d.payload.as_deref().map(|p| (d.topic.as_str(), p, d.at))),
    );
    // Readings from what the broker delivered: allowed as sent, or with the redacted fields
    // already removed (the payload recorded is the rewritten one). Refused messages never.
    hub.live_readings().note(
        decisions
            .iter()
            .filter(|d| d.action == hearth_core::gate::Action::Publish)
            .filter(|d| matches!(d.decision, hearth_core::gate::Decision::Allow | hearth_core::gate::Decision::Redact(_)))
            .filter_map(|d| Some((d.device_id.as_ref()?, d.topic.as_str(), d.payload.as_deref()?, d.at))),
    );
}

/// The decisions and the ledger under the store's lock; `None` when the decisions could not be
/// written (then nothing is noted either).
fn record_decisions_in(hub: &Hub, store: &mut hearth_store::Store, decisions: &[GateRecord]) -> Option<Vec<DeviceId>> {
    if let Err(e) = store.record_decisions(decisions) {
        if !hub.recording().failed(&e, decisions.len()) {
            tracing::error!(decisions = decisions.len(), "cannot record the gate's decisions: {e}");
        }
        return None;
    }
    hub.recording().succeeded();
    let published: Vec<LedgerEntry<'_>> = decisions.iter().filter_map(LedgerEntry::of).collect();
    match store.record_messages(&published) {
        Ok(news) => {
            for change in news {
                let id = match &change {
                    Change::NewField { device_id, .. }
                    | Change::NewCategory { device_id, .. }
                    | Change::MoreThanUsual { device_id, .. } => device_id,
                };
                let name = store.device(id).map(|d| d.device.name).unwrap_or_else(|_| id.to_string());
                tracing::info!(device = %id, ?change, "a device sends something new");
                hub.publish(Event::SendsSomethingNew { name, change });
            }
        }
        Err(e) => {
            if !hub.recording().failed(&e, published.len()) {
                tracing::error!(messages = published.len(), "cannot write the ledger: {e}")
            }
        }
    }
    Some(decisions.iter().filter_map(|r| r.device_id.clone()).collect())
}

/// Files what accepted discovery messages describe. (The gate claimed their entities when it
/// accepted them; the store refuses a second device's claim on its own as well.)
fn file_discoveries(hub: &Hub, discoveries: Vec<(DeviceId, Discovery)>) -> Vec<DeviceId> {
    if discoveries.is_empty() {
        return vec![];
    }
    let mut store = hub.store();
    let mut filed = Vec::new();
    for (id, d) in discoveries {
        match store.file_discovery(&id, &d, crate::api::now()) {
            Ok(()) => {
                // A lock or a garage door described now is sensitive from now on: a child's room
                // grant must not reach it before the next reload.
                let components: Vec<&str> = d.entities.iter().map(|e| e.component.as_str()).collect();
                let classes: Vec<&str> = d.entities.iter().filter_map(|e| e.device_class.as_deref()).collect();
                if hearth_core::family::is_sensitive(hearth_core::fingerprint::Kind::Unknown, &components, &classes) {
                    hub.household().note_sensitive(&id);
                }
                hub.reported().watch(d.entities.iter().filter(|e| e.command_topic.is_some()).filter_map(|e| e.state_topic.clone()));
                filed.push(id);
            }
            Err(e) if hub.recording().failed(&e, 1) => {}
            // Forgotten meanwhile, or another device's claim was filed first.
            Err(e) => {
                tracing::warn!(%id, topic = %hearth_core::text::clip(&d.scope, hearth_core::text::LOGGED), "cannot file a discovery message: {e}")
            }
        }
    }
    // What each says it is shows in the list at once (a plug, a bridge's devices): once per
    // device per batch, however many messages it sent (a bridge's retained configs at connect).
    let mut described: Vec<&DeviceId> = filed.iter().collect();
    described.sort();
    described.dedup();
    for id in described {
        // Read once: its readings and what it says it is both come from it.
        match store.described(id) {
            Ok(filed) => {
                hub.live_readings().watch(id, crate::readings::described(&filed));
                hub.self_described().set(id, filed);
                if let Ok(detail) = store.device(id) {
                    hub.publish(Event::DeviceChanged { device: detail.device });
                }
            }
            Err(e) => tracing::warn!(%id, "cannot read what a device describes: {e}"),
        }
    }
    filed
}
