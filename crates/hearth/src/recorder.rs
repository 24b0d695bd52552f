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

/// Runs until cancelled, then writes what is still queued.
pub async fn run(hub: Hub, mut rx: mpsc::Receiver<GateRecord>, cancel: CancellationToken) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
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
