//! The recorder: the one task that writes the gate's decisions to the store, in batches of
//! whatever has queued up, on a blocking thread. The broker only ever queues (see `gate`).

use crate::api::types::{Decision, Event};
use crate::hub::Hub;
use hearth_core::device::DeviceId;
use hearth_store::GateRecord;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Most decisions written in one transaction.
const BATCH: usize = 4096;
/// How long the raw record of each decision is kept, and how often older ones are pruned.
const KEEP: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Runs until cancelled, then writes what is still queued.
pub async fn run(hub: Hub, mut rx: mpsc::Receiver<GateRecord>, cancel: CancellationToken) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = prune.tick() => prune_old(&hub).await,
            n = rx.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    break;
                }
                write(&hub, std::mem::take(&mut batch)).await;
            }
        }
    }
    rx.close();
    while let Ok(record) = rx.try_recv() {
        batch.push(record);
    }
    write(&hub, batch).await;
}

async fn prune_old(hub: &Hub) {
    let hub = hub.clone();
    let cut = crate::api::now() - KEEP.as_millis() as i64;
    let pruned = tokio::task::spawn_blocking(move || hub.store().prune_decisions(cut)).await;
    match pruned {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(decisions = n, "pruned the gate's decisions older than a week"),
        Ok(Err(e)) => tracing::error!("cannot prune old decisions: {e}"),
        Err(e) => tracing::error!("the pruning task failed: {e}"),
    }
}

async fn write(hub: &Hub, batch: Vec<GateRecord>) {
    if batch.is_empty() {
        return;
    }
    let hub = hub.clone();
    let written = tokio::task::spawn_blocking(move || {
        let result = hub.store().record_decisions(&batch);
        match result {
            Ok(()) => {
                // A refusal may have taught the manifest a new topic: the device page reloads.
                let mut refused: Vec<&DeviceId> =
                    batch.iter().filter(|r| matches!(r.decision, Decision::Drop(_))).filter_map(|r| r.device_id.as_ref()).collect();
                refused.sort();
                refused.dedup();
                for id in refused {
                    hub.publish(Event::BrokerChanged { id: id.clone() });
                }
            }
            Err(e) => tracing::error!(decisions = batch.len(), "cannot record the gate's decisions: {e}"),
        }
    })
    .await;
    if let Err(e) = written {
        tracing::error!("the recorder failed: {e}");
    }
}
