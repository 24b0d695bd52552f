//! What the hub's recorder writes for each message of the broker benchmark's QoS 0 flood
//! (`./scripts/bench` runs it): the gate's decision row and the ledger's entry, in batches of
//! 4 096 as the recorder writes them under load, into a real SQLite file. 50 publishers of one
//! device, each on its own topic, 64-byte payloads (binary: no fields, no sample).
//!
//! The broker delivers that flood at 110 000 to 190 000 messages a second on the machine the
//! README's numbers come from (2026-12-05); below that rate the recorder's queue fills during the
//! flood and payloads, then rows, give way to counts (*Backpressure*).
//!
//! Usage: cargo bench -p hearth-store --bench recorder [-- MESSAGES_PER_RUN]
//! Prints one JSON line: messages a second per run (five runs, each on a new file), and their median.

use hearth_core::device::{Actor, DeviceId};
use hearth_core::gate::{Action, Decision};
use hearth_store::{GateRecord, LedgerEntry, Store};
use std::time::Instant;

const BATCH: usize = 4096;
const PUBLISHERS: usize = 50;
const PAYLOAD: usize = 64;
const RUNS: usize = 5;

fn main() {
    let per_run: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(400_000);
    let mut rates: Vec<f64> = (0..RUNS).map(|_| one_run(per_run)).collect();
    let per_run_rates: Vec<f64> = rates.iter().map(|r| r.round()).collect();
    rates.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "messages_per_run": per_run, "batch": BATCH,
            "msgs_per_sec": { "runs": per_run_rates, "median": rates[RUNS / 2].round(), "min": rates[0].round(), "max": rates[RUNS - 1].round() },
        })
    );
}

/// Files `total` messages into a new database the way the recorder does; returns messages a second.
fn one_run(total: usize) -> f64 {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = Store::open(&dir.path().join("hearth.db")).expect("a new database");
    let device = DeviceId::parse("d-00000000beef").expect("a device id");
    let now = 1_764_400_000_000i64;
    store.add_device(&device, "Bench publisher", &Actor::owner(), "bench", now).expect("a device");
    let topics: Vec<String> = (0..PUBLISHERS).map(|n| format!("bench/fan-in-0/{n}")).collect();
    // Only the store's work is timed, not building the records.
    let mut filing = std::time::Duration::ZERO;
    let mut written = 0usize;
    while written < total {
        let n = BATCH.min(total - written);
        let batch: Vec<GateRecord> = (written..written + n)
            .map(|i| GateRecord {
                at: now + (i / 100) as i64,
                device_id: Some(device.clone()),
                client_id: format!("bench-pub-{}", i % PUBLISHERS),
                action: Action::Publish,
                topic: topics[i % PUBLISHERS].clone(),
                bytes: PAYLOAD as u64,
                qos: 0,
                decision: Decision::Allow,
                payload: Some(vec![7u8; PAYLOAD]),
            })
            .collect();
        // As `recorder::record_decisions_in` does: the decisions, then the ledger, their commits
        // not waiting for the disk.
        let started = Instant::now();
        store.without_waiting_for_disk(|store| {
            store.record_decisions(&batch).expect("decisions filed");
            let entries: Vec<LedgerEntry<'_>> = batch.iter().filter_map(LedgerEntry::of).collect();
            store.record_messages(&entries).expect("ledger filed");
        });
        filing += started.elapsed();
        written += n;
    }
    written as f64 / filing.as_secs_f64()
}
