//! The ledger at scale (`./scripts/bench` runs it): how fast it files messages, and how long the
//! device review and the home review take over 10 million of them.
//!
//! Builds a real SQLite file: 50 devices, each publishing on 4 topics with real payloads (the
//! device reference's Shelly, Tasmota, Zigbee2MQTT and OwnTracks messages), spread over 30 days,
//! written in batches of 4 096 as the hub's recorder writes them. Then times each review 20 times.
//!
//! Usage: cargo bench -p hearth-store --bench ledger [-- MESSAGES]
//! (HEARTH_LEDGER_BENCH_DB=FILE keeps the database there; FILE must not exist.)

use hearth_core::device::{Actor, DeviceId};
use hearth_core::gate::{Decision, DropReason};
use hearth_store::{LedgerEntry, Store};
use std::time::Instant;

const DEVICES: usize = 50;
const BATCH: usize = 4096;
const DAY: i64 = 86_400_000;
const TOPICS: [(&str, &str); 4] = [
    (
        "shellies/status/switch:0",
        r#"{"id":0,"output":true,"apower":47.11,"voltage":232.0,"current":0.21,"pf":0.93,"aenergy":{"total":5.125,"by_minute":[783.2,781.9,784.0],"minute_ts":1764400000},"temperature":{"tC":25.3,"tF":77.5}}"#,
    ),
    (
        "tele/SENSOR",
        r#"{"Time":"2026-11-29T08:00:00","ENERGY":{"TotalStartTime":"2026-01-04T18:00:00","Total":12.5,"Yesterday":0.412,"Today":0.118,"Power":38,"Voltage":231,"Current":0.196}}"#,
    ),
    (
        "zigbee2mqtt/door",
        r#"{"battery":100,"contact":false,"device_temperature":26,"linkquality":153,"power_outage_count":6889,"voltage":3035}"#,
    ),
    ("owntracks/phone", r#"{"_type":"location","lat":52.3702,"lon":4.8952,"acc":12,"batt":81,"tid":"ap","tst":1764400000}"#),
];

fn main() {
    let total: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10_000_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    // HEARTH_LEDGER_BENCH_DB keeps the database, to look into with sqlite3.
    let path = std::env::var_os("HEARTH_LEDGER_BENCH_DB").map_or_else(|| dir.path().join("ledger.db"), std::path::PathBuf::from);
    let mut store = Store::open(&path).expect("a new database");
    let now = 1_764_400_000_000i64;
    let start = now - 30 * DAY;
    let ids: Vec<DeviceId> = (0..DEVICES).map(|i| DeviceId::parse(&format!("d-{i:012x}")).expect("a device id")).collect();
    for id in &ids {
        store.add_device(id, &format!("Device {id}"), &Actor::owner(), "bench", start).expect("a device");
    }
    let topics: Vec<Vec<String>> = ids.iter().map(|id| TOPICS.iter().map(|(t, _)| format!("{id}/{t}")).collect()).collect();
    let (allow, refused) = (Decision::Allow, Decision::Drop(DropReason::NotInManifest));
    let step = (30 * DAY) / total as i64;
    let started = Instant::now();
    let mut written = 0usize;
    while written < total {
        let n = BATCH.min(total - written);
        let entries: Vec<LedgerEntry<'_>> = (written..written + n)
            .map(|i| {
                let (device, topic) = (i % DEVICES, (i / DEVICES) % TOPICS.len());
                let payload = TOPICS[topic].1.as_bytes();
                LedgerEntry {
                    at: start + i as i64 * step,
                    device_id: &ids[device],
                    topic: &topics[device][topic],
                    bytes: payload.len() as u64,
                    qos: 1,
                    decision: if i % 100 == 0 { &refused } else { &allow },
                    payload: Some(payload),
                }
            })
            .collect();
        store.record_messages(&entries).expect("a batch filed");
        written += n;
        if written % 1_000_000 < BATCH {
            eprintln!("{written} messages filed, {:.0}/s", written as f64 / started.elapsed().as_secs_f64());
        }
    }
    let ingest = written as f64 / started.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let time = |f: &mut dyn FnMut()| {
        let mut ms: Vec<f64> = (0..20)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        serde_json::json!({ "median_ms": (ms[10] * 10.0).round() / 10.0, "max_ms": (ms[19] * 10.0).round() / 10.0 })
    };
    let device_week = time(&mut || drop(store.device_review(&ids[7], now - 7 * DAY, now).expect("a review")));
    let device_month = time(&mut || drop(store.device_review(&ids[7], now - 30 * DAY, now).expect("a review")));
    let home_week = time(&mut || drop(store.home_review(now - 7 * DAY, now).expect("a review")));
    let home_month = time(&mut || drop(store.home_review(now - 30 * DAY, now).expect("a review")));
    let check = store.device_review(&ids[7], start, now + DAY).expect("a review");
    // The hourly retention job, over everything (nothing expired yet: the cost of looking).
    let pruning = Instant::now();
    store.prune_ledger(now).expect("retention");
    let retention_ms = (pruning.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    // An hour later: the first hour's metadata rows have expired (the rows of all 50 devices,
    // interleaved on the table's pages as they were filed), and are deleted.
    let pruning = Instant::now();
    let pruned = store.prune_ledger(now + DAY / 24).expect("retention");
    let expired_hour_ms = (pruning.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    println!(
        "{}",
        serde_json::json!({
            "messages": written, "devices": DEVICES, "ingest_msgs_per_sec": ingest.round(), "database_mib": size / (1 << 20),
            "device_review": { "week": device_week, "month": device_month },
            "home_review": { "week": home_week, "month": home_month },
            "retention_job_ms": retention_ms,
            "retention_job_an_hour_expired": { "ms": expired_hour_ms, "rows": pruned },
            "check": { "device_messages": check.messages, "expected": written / DEVICES }
        })
    );
}
