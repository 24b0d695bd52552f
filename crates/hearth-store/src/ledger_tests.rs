//! The ledger with real payloads (the device reference's), in a real SQLite file.

use super::*;
use hearth_core::device::Actor;
use hearth_core::gate::DropReason;

const SHELLY: &str = r#"{"id":0,"output":true,"apower":47.11,"voltage":232.0,"current":0.21,"pf":0.93,"aenergy":{"total":5.125,"by_minute":[783.2,781.9,784.0],"minute_ts":1764400000},"temperature":{"tC":25.3,"tF":77.5}}"#;
const OWNTRACKS: &str = r#"{"_type":"location","lat":52.3702,"lon":4.8952,"acc":12,"batt":81,"tid":"ap","tst":1764400000}"#;
const T0: Millis = 1_764_400_000_000 - 1_764_400_000_000 % HOUR;

struct Home {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Store,
    ids: Vec<DeviceId>,
}

fn home(n: usize) -> Home {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hearth.db");
    let mut store = Store::open(&path).unwrap();
    let ids: Vec<DeviceId> = (1..=n).map(|i| DeviceId::parse(&format!("d-00000000000{i}")).unwrap()).collect();
    for id in &ids {
        store.add_device(id, &format!("Device {id}"), &Actor::owner(), "test", T0).unwrap();
    }
    Home { _dir: dir, path, store, ids }
}

fn entry<'a>(id: &'a DeviceId, at: Millis, topic: &'a str, payload: &'a str, decision: &'a Decision) -> LedgerEntry<'a> {
    LedgerEntry { at, device_id: id, topic, bytes: payload.len() as u64, qos: 1, decision, payload: Some(payload.as_bytes()) }
}

#[test]
fn a_shelly_switch_is_reviewed_as_energy_with_exact_counts_bytes_and_fields() {
    let mut h = home(1);
    let allow = Decision::Allow;
    let topic = "shellyplusplugs-c4dd57877294/status/switch:0";
    let entries: Vec<_> = (0..40).map(|i| entry(&h.ids[0], T0 + i * 15_000, topic, SHELLY, &allow)).collect();
    // Two batches, as the recorder would write them.
    h.store.record_messages(&entries[..25]).unwrap();
    h.store.record_messages(&entries[25..]).unwrap();
    let r = h.store.device_review(&h.ids[0], T0, T0 + HOUR).unwrap();
    assert_eq!((r.messages, r.bytes), (40, 40 * SHELLY.len() as u64));
    assert_eq!(r.categories[0].category, Category::Energy);
    assert_eq!(r.categories[0].messages, 40);
    assert_eq!(r.categories[0].fields, ["aenergy.by_minute", "aenergy.minute_ts", "aenergy.total", "apower", "current", "pf", "voltage"]);
    let t = &r.topics[0];
    assert_eq!((t.topic.as_str(), t.content_type.as_str(), t.every_ms), (topic, "application/json", Some(15_000)));
    let apower = t.fields.iter().find(|f| f.path == "apower").unwrap();
    assert_eq!(apower.example.as_deref(), Some("47.11"), "energy keeps values for 30 days by default");
    assert_eq!(r.buckets.iter().filter(|b| b.category == Category::Energy).map(|b| b.messages).sum::<u64>(), 40);
}

#[test]
fn the_chart_counts_each_message_once_though_it_carries_two_kinds_and_agrees_with_the_summary() {
    let mut h = home(1);
    let id = h.ids[0].clone();
    let (allow, refused) = (Decision::Allow, Decision::Drop(DropReason::NotInManifest));
    // A Tasmota report is energy and identifiers: one message, two kinds. Three in the first
    // hour (one refused, which the summary counts too), two in the third, one on another topic.
    let both = r#"{"ENERGY":{"Power":38},"Wifi":{"SSId":"HomeNet"}}"#;
    let entries = [
        entry(&id, T0 + 1_000, "tele/plug/SENSOR", both, &allow),
        entry(&id, T0 + 2_000, "tele/plug/SENSOR", both, &allow),
        entry(&id, T0 + 3_000, "tele/plug/SENSOR", both, &refused),
        entry(&id, T0 + 2 * HOUR + 5, "tele/plug/SENSOR", both, &allow),
        entry(&id, T0 + 2 * HOUR + 6, "tele/plug/LWT", "Online", &allow),
    ];
    h.store.record_messages(&entries).unwrap();
    let r = h.store.device_review(&id, T0, T0 + 3 * HOUR).unwrap();
    assert_eq!(r.messages, 5);
    let totals: Vec<(Millis, u64)> = r.totals.iter().map(|b| (b.at, b.messages)).collect();
    assert_eq!(totals, [(T0, 3), (T0 + 2 * HOUR, 2)], "each message once, in its hour");
    assert_eq!(r.totals.iter().map(|b| b.messages).sum::<u64>(), r.messages, "the bars add up to the summary's count");
    // What a stacked chart of kinds drew: more than was sent.
    let by_kind: u64 = r.buckets.iter().map(|b| b.messages).sum();
    assert!(by_kind > r.messages, "kinds overlap ({by_kind} kind hits for {} messages)", r.messages);
    // Over a month the buckets are days, and still add up.
    let month = h.store.device_review(&id, T0 - 20 * DAY, T0 + 10 * DAY).unwrap();
    assert_eq!(month.bucket_ms, DAY);
    assert_eq!(month.totals.iter().map(|b| b.messages).sum::<u64>(), 5);
    assert!(month.totals.iter().all(|b| (b.at - (T0 - 20 * DAY)) % DAY == 0), "on the chart's day boundaries");
}

#[cfg(unix)]
#[test]
fn the_database_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let h = home(1);
    assert_eq!(std::fs::metadata(&h.path).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn location_is_kept_as_metadata_only_by_default_never_its_values() {
    let mut h = home(1);
    let allow = Decision::Allow;
    h.store.record_messages(&[entry(&h.ids[0], T0, "owntracks/anna/phone", OWNTRACKS, &allow)]).unwrap();
    let r = h.store.device_review(&h.ids[0], T0, T0 + HOUR).unwrap();
    assert_eq!(r.categories[0].category, Category::Location);
    let lat = r.topics[0].fields.iter().find(|f| f.path == "lat").unwrap();
    assert_eq!(lat.example, None);
    let samples: i64 = h.store.conn.query_row("SELECT COUNT(*) FROM ledger_samples", [], |r| r.get(0)).unwrap();
    assert_eq!(samples, 0, "no payload sample of a location message");
    drop(h.store);
    let file = std::fs::read(&h.path).unwrap();
    assert!(!file.windows(7).any(|w| w == b"52.3702"), "the latitude never reaches the file");
}

#[test]
fn retention_none_keeps_no_fields_and_refusals_are_counted_by_reason() {
    let mut h = home(1);
    let id = h.ids[0].clone();
    h.store.set_retention(&id, Category::Energy, Some(Retention::None), &Actor::owner(), "test", T0).unwrap();
    let (allow, refused) = (Decision::Allow, Decision::Drop(DropReason::NotInManifest));
    let topic = "shellyplusplugs-c4dd57877294/status/switch:0";
    h.store.record_messages(&[entry(&id, T0, topic, SHELLY, &allow), entry(&id, T0 + 1, topic, SHELLY, &refused)]).unwrap();
    let r = h.store.device_review(&id, T0, T0 + HOUR).unwrap();
    assert!(r.topics[0].fields.iter().all(|f| f.category != Category::Energy), "{:?}", r.topics[0].fields);
    assert_eq!((r.messages, r.refused), (2, 1));
    assert_eq!(r.refusals, [hearth_core::review::ReasonCount { reason: "not_in_manifest".into(), count: 1 }]);
    assert_eq!(h.store.audit(1).unwrap()[0].action, "set_retention");
}

#[test]
fn the_retention_job_clears_expired_values_and_rows() {
    let mut h = home(1);
    let allow = Decision::Allow;
    let id = h.ids[0].clone();
    h.store.record_messages(&[entry(&id, T0, "zigbee2mqtt/front_door", r#"{"contact":false,"battery":100}"#, &allow)]).unwrap();
    // Access keeps values 7 days: on day 8 the example and the sample are gone, the metadata row stays.
    h.store.prune_ledger(T0 + 8 * DAY).unwrap();
    let r = h.store.device_review(&id, T0, T0 + HOUR).unwrap();
    assert!(r.topics[0].fields.iter().all(|f| f.example.is_none()));
    let count =
        |store: &Store, table: &str| -> i64 { store.conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).unwrap() };
    assert_eq!((count(&h.store, "ledger_samples"), count(&h.store, "ledger_messages")), (0, 1));
    h.store.prune_ledger(T0 + (METADATA_DAYS + 1) * DAY).unwrap();
    assert_eq!(count(&h.store, "ledger_messages"), 0, "metadata rows go after a month");
    assert_eq!(h.store.device_review(&id, T0, T0 + HOUR).unwrap().messages, 1, "the rollups stay");
}

#[test]
fn forgetting_a_device_leaves_no_byte_of_what_it_sent_in_the_file() {
    let mut h = home(2);
    let allow = Decision::Allow;
    let marker = r#"{"temperature":21.5,"note":"MARKER-7f3a9c"}"#;
    let (gone, kept) = (h.ids[0].clone(), h.ids[1].clone());
    h.store
        .record_messages(&[
            entry(&gone, T0, "sensor/kitchen", marker, &allow),
            entry(&kept, T0, "sensor/hall", r#"{"temperature":20}"#, &allow),
        ])
        .unwrap();
    let has_marker = |path: &std::path::Path| {
        let wal = path.with_extension("db-wal");
        [std::fs::read(path).unwrap_or_default(), std::fs::read(wal).unwrap_or_default()]
            .iter()
            .any(|f| f.windows(13).any(|w| w == b"MARKER-7f3a9c"))
    };
    h.store.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    assert!(has_marker(&h.path), "the sample is on file before");
    h.store.forget(&gone, &Actor::owner(), "test", T0 + 1).unwrap();
    h.store.compact().unwrap();
    assert!(!has_marker(&h.path), "no trace after forget");
    assert_eq!(h.store.device_review(&kept, T0, T0 + HOUR).unwrap().messages, 1, "the other device keeps its ledger");
}

#[test]
fn overflow_is_counted_exactly_in_the_rollups() {
    let mut h = home(1);
    let id = h.ids[0].clone();
    let allow = Decision::Allow;
    h.store.record_messages(&[entry(&id, T0, "tele/plug/SENSOR", r#"{"ENERGY":{"Power":38}}"#, &allow)]).unwrap();
    let overflow = HashMap::from([(
        (id.clone(), "tele/plug/SENSOR".to_owned()),
        Overflow { messages: 1000, bytes: 23_000, refused: 0, last_at: T0 + 5 },
    )]);
    h.store.record_overflow(&overflow).unwrap();
    let r = h.store.device_review(&id, T0, T0 + HOUR).unwrap();
    assert_eq!((r.messages, r.bytes), (1001, 23_000 + 23));
    assert_eq!(r.categories[0].category, Category::Energy, "counted under the topic's known category");
}

#[test]
fn the_home_review_ranks_sensitive_devices_first_and_notices_changes() {
    let mut h = home(2);
    let allow = Decision::Allow;
    let (plug, phone) = (h.ids[0].clone(), h.ids[1].clone());
    // A week of quiet: one message a day from the plug.
    let week: Vec<_> = (0..7).map(|d| entry(&plug, T0 + d * DAY, "tele/plug/SENSOR", r#"{"ENERGY":{"Power":38}}"#, &allow)).collect();
    h.store.record_messages(&week).unwrap();
    // Then a busy day with a new field, and a phone sharing its location.
    let now = T0 + 8 * DAY;
    let busy: Vec<_> = (0..20)
        .map(|i| entry(&plug, now - HOUR + i, "tele/plug/SENSOR", r#"{"ENERGY":{"Power":38},"Wifi":{"SSId":"HomeNet"}}"#, &allow))
        .collect();
    let news = h.store.record_messages(&busy).unwrap();
    assert_eq!(
        news,
        [
            hearth_core::review::Change::NewCategory { device_id: plug.clone(), category: Category::Identifiers },
            hearth_core::review::Change::NewField {
                device_id: plug.clone(),
                topic: "tele/plug/SENSOR".into(),
                path: "Wifi.SSId".into(),
                category: Category::Identifiers
            },
        ],
        "news as it is filed"
    );
    let phone_news = h.store.record_messages(&[entry(&phone, now - HOUR + 100, "owntracks/anna/phone", OWNTRACKS, &allow)]).unwrap();
    assert_eq!(phone_news, [], "a device's first messages are not news: it is new itself");
    let r = h.store.home_review(now - DAY, now).unwrap();
    assert_eq!(r.devices.iter().map(|d| &d.device_id).collect::<Vec<_>>(), [&phone, &plug], "location first, though the plug is busier");
    assert_eq!(r.devices[1].messages, 20);
    assert!(
        r.changes.contains(&hearth_core::review::Change::NewField {
            device_id: plug.clone(),
            topic: "tele/plug/SENSOR".into(),
            path: "Wifi.SSId".into(),
            category: Category::Identifiers
        }),
        "{:?}",
        r.changes
    );
    assert!(r.changes.contains(&hearth_core::review::Change::NewCategory { device_id: plug.clone(), category: Category::Identifiers }));
    assert!(
        r.changes.iter().any(|c| matches!(c, hearth_core::review::Change::MoreThanUsual { last_day: 20, usual_per_day: 1, .. })),
        "{:?}",
        r.changes
    );
}
