//! Files what the DNS gate answered devices: a queue the gate never waits on (a full queue drops
//! the record and counts it), and one task writing what queued in one transaction, pruning old
//! queries, and telling people what is news.

use crate::api::types::Event;
use crate::hub::Hub;
use hearth_core::device::DeviceId;
use hearth_store::network::DnsRecord;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Records waiting to be written; past this they are dropped and counted (the disk is too slow
/// for a flood the rate limit let through, or full).
const QUEUE: usize = 16_384;
const BATCH: usize = 4_096;
/// How long the writer lets records gather before a write.
const GATHER: std::time::Duration = std::time::Duration::from_millis(50);
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
/// How often open pages are told a device's destinations changed.
const TELL_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The gate's side of the queue.
#[derive(Debug, Clone)]
pub struct Recorder {
    tx: mpsc::Sender<DnsRecord>,
    dropped: Arc<AtomicU64>,
    /// Queries past a device's daily budget of rows (counted, not kept one by one).
    not_kept: Arc<AtomicU64>,
    /// MAC addresses a device showed that another device showed first.
    macs_refused: Arc<AtomicU64>,
}

impl Recorder {
    pub fn record(&self, record: DnsRecord) {
        if self.tx.try_send(record).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn not_kept(&self) -> u64 {
        self.not_kept.load(Ordering::Relaxed)
    }

    pub fn macs_refused(&self) -> u64 {
        self.macs_refused.load(Ordering::Relaxed)
    }
}

pub fn queue() -> (Recorder, mpsc::Receiver<DnsRecord>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    (Recorder { tx, dropped: Arc::default(), not_kept: Arc::default(), macs_refused: Arc::default() }, rx)
}

/// Writes until cancelled, then writes what is still queued; `counts` is the gate's side, whose
/// counters it adds to.
pub async fn run(hub: Hub, mut rx: mpsc::Receiver<DnsRecord>, counts: Recorder, cancel: CancellationToken) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    let mut tell = tokio::time::interval(TELL_EVERY);
    let mut changed: HashSet<DeviceId> = HashSet::new();
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = prune.tick() => {
                let days = i64::from(hub.network().config.query_days.max(1));
                let hub = hub.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    let now = crate::api::now();
                    if let Err(e) = hub.store().prune_dns_queries(now - days * 24 * 3_600_000, now) {
                        tracing::error!("cannot prune old DNS queries: {e}");
                    }
                }).await;
            }
            _ = tell.tick() => {
                for id in changed.drain() {
                    hub.publish(Event::DestinationsChanged { id });
                }
            }
            n = rx.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    break;
                }
                // A moment for more to queue: a busy home's queries are then summed into a few
                // updates per name instead of a few per query (nobody reads them sooner).
                if n < BATCH {
                    tokio::time::sleep(GATHER).await;
                    while batch.len() < BATCH {
                        match rx.try_recv() {
                            Ok(record) => batch.push(record),
                            Err(_) => break,
                        }
                    }
                }
                changed.extend(write(&hub, &counts, std::mem::take(&mut batch)).await);
            }
        }
    }
    rx.close();
    while let Ok(record) = rx.try_recv() {
        batch.push(record);
    }
    write(&hub, &counts, batch).await;
}

/// Writes one batch; returns the devices it concerned.
async fn write(hub: &Hub, counts: &Recorder, batch: Vec<DnsRecord>) -> HashSet<DeviceId> {
    if batch.is_empty() {
        return HashSet::new();
    }
    let hub = hub.clone();
    let counts = counts.clone();
    tokio::task::spawn_blocking(move || {
        let devices: HashSet<DeviceId> = batch.iter().map(|r| r.device_id.clone()).collect();
        let first_time = devices.iter().any(|id| !hub.network().has_first_query(id));
        let result = hub.store().record_dns(&batch);
        match result {
            Ok(recorded) => {
                counts.not_kept.fetch_add(recorded.queries_not_kept, Ordering::Relaxed);
                counts.macs_refused.fetch_add(recorded.macs_refused, Ordering::Relaxed);
                if recorded.queries_not_kept > 0 {
                    tracing::debug!(
                        count = recorded.queries_not_kept,
                        "queries past a device's daily budget of rows: counted, not kept one by one"
                    );
                }
                if first_time || recorded.new_mac {
                    // The learning window starts at a device's first query: read it back once.
                    let store = hub.store();
                    if let Err(e) = hub.network().reload(&store) {
                        tracing::error!("cannot reload network permissions: {e}");
                    }
                    // Its MAC address is known now: the firewall can hold it.
                    hub.firewall_changed();
                }
                for (id, name) in recorded.news {
                    let device_name = hub.store().device(&id).map(|d| d.device.name).unwrap_or_default();
                    tracing::info!(%id, name, "a device asked for a name it never asked for before");
                    hub.publish(Event::DestinationNew { id, device_name, name });
                }
            }
            Err(e) => tracing::error!(records = batch.len(), "cannot record DNS queries: {e}"),
        }
        devices
    })
    .await
    .unwrap_or_default()
}
