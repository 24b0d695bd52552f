//! The ledger: what each device sends. Every published message's metadata (time, topic, size,
//! QoS, decision, categories), what each topic carries (its fields, their types and categories,
//! an example value while retention allows), a few payload samples within retention, and hourly
//! rollups so that charts and reviews over a month never scan raw rows.
//!
//! Written in batches by the hub's recorder; retention is applied when written (values of a
//! category kept as metadata never reach the file) and by [`Store::prune_ledger`] on schedule.

use crate::broker::recorded_decision;
use crate::bulk::{self, text_or_null};
use crate::inventory::parse_id;
use crate::windowed;
use crate::{Store, StoreError};
use hearth_core::classify::{Category, Classifier};
use hearth_core::device::DeviceId;
use hearth_core::gate::{Action, Decision};
use hearth_core::inventory::Millis;
use hearth_core::privacy::{PrivacySettings, Redacted, Retention};
use hearth_core::review::Change;
use rusqlite::types::ValueRef;
use rusqlite::{OptionalExtension, Transaction, params};
use std::collections::HashMap;

/// How long every message's metadata row is kept; rollups stay for [`ROLLUP_DAYS`], a little
/// more than the longest review (a month) needs. The home's review reads all the hourly rollups
/// kept, so their span bounds its time (measured with an index on the hour instead: three times
/// slower over a month).
pub const METADATA_DAYS: i64 = 30;
pub const ROLLUP_DAYS: i64 = 35;
/// Payload samples kept per topic (the newest), within retention.
pub const SAMPLES_PER_TOPIC: i64 = 3;
/// A payload bigger than this is not kept as a sample (its metadata and fields are).
pub const MAX_SAMPLE_BYTES: usize = 64 * 1024;
const DAY: i64 = 24 * 3_600_000;
const HOUR: i64 = 3_600_000;

/// A published message, as the ledger files it. The payload is absent when the recorder was
/// behind and dropped it (the message's categories are then its topic's), and only its first
/// bytes when it was large (shorter than `bytes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry<'a> {
    pub at: Millis,
    pub device_id: &'a DeviceId,
    pub topic: &'a str,
    pub bytes: u64,
    pub qos: u8,
    pub decision: &'a Decision,
    pub payload: Option<&'a [u8]>,
}

impl<'a> LedgerEntry<'a> {
    /// The ledger entry of a recorded publish by a known device.
    pub fn of(r: &'a crate::GateRecord) -> Option<Self> {
        match (r.action, &r.device_id) {
            (Action::Publish, Some(device_id)) => Some(Self {
                at: r.at,
                device_id,
                topic: &r.topic,
                bytes: r.bytes,
                qos: r.qos,
                decision: &r.decision,
                payload: r.payload.as_deref(),
            }),
            _ => None,
        }
    }
}

/// Publishes of one topic the recorder had no room for: counted, without rows of their own.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Overflow {
    pub messages: u64,
    pub bytes: u64,
    pub refused: u64,
    pub last_at: Millis,
}

#[derive(Default)]
struct Totals {
    messages: i64,
    bytes: i64,
    refused: i64,
    redacted: i64,
}

impl Totals {
    fn add(&mut self, bytes: u64, decision: &Decision) {
        self.messages += 1;
        self.bytes += bytes as i64;
        match decision {
            Decision::Drop(_) => self.refused += 1,
            Decision::Redact(_) => self.redacted += 1,
            Decision::Allow => {}
        }
    }
}

/// A topic as the batch knows it.
struct TopicState {
    id: i64,
    categories: u16,
    classified: bool,
    last_at: Millis,
    /// It was understood before this batch: a field or kind new on it is news.
    known: bool,
}

/// Most topics kept per device; a device's further topics are filed together under
/// [`OTHER_TOPICS`], so that one publishing ever-new topics cannot fill the disk.
pub const MAX_TOPICS_PER_DEVICE: i64 = 1_000;
pub const OTHER_TOPICS: &str = "(other topics)";
/// Most fields learned per topic.
pub const MAX_FIELDS_PER_TOPIC: i64 = 256;

/// Most pieces of news one batch reports: a device that starts sending a hundred new fields is
/// one story, not a hundred notifications.
pub const MAX_NEWS: usize = 20;

impl Store {
    /// Files a batch of published messages. Returns what is new in them (at most [`MAX_NEWS`]):
    /// a field first seen on a topic Hearth already knew, and a kind of data first seen from a
    /// device that sent others before — what a person may want to keep, redact or ask about.
    pub fn record_messages(&mut self, entries: &[LedgerEntry<'_>]) -> Result<Vec<Change>, StoreError> {
        let mut news = Vec::new();
        if entries.is_empty() {
            return Ok(news);
        }
        let classifier = Classifier::builtin();
        let tx = self.writing()?;
        let mut privacy: HashMap<&DeviceId, PrivacySettings> = HashMap::new();
        let mut topics: HashMap<(&DeviceId, &str), TopicState> = HashMap::new();
        let mut category_hours: HashMap<(&DeviceId, i64, Category), Totals> = HashMap::new();
        let mut topic_hours: HashMap<(i64, i64), Totals> = HashMap::new();
        let mut refusal_hours: HashMap<(&DeviceId, i64, &'static str), i64> = HashMap::new();
        {
            let mut upsert_topic = tx.prepare_cached(
                "INSERT INTO ledger_topics (device_id, topic, content_type, categories, first_seen, last_seen)
                 SELECT ?1, ?2, '', 0, ?3, ?3 WHERE EXISTS (SELECT 1 FROM devices WHERE id = ?1)
                 ON CONFLICT(device_id, topic) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen)
                 RETURNING id, categories",
            )?;
            let mut update_topic =
                tx.prepare_cached("UPDATE ledger_topics SET categories = categories | ?2, content_type = ?3 WHERE id = ?1")?;
            // Each message's row, inserted many to a statement after the loop (see `bulk`).
            let mut message_rows: Vec<[ValueRef<'_>; 8]> = Vec::with_capacity(entries.len());
            // At most MAX_FIELDS_PER_TOPIC fields per topic: a device inventing keys must not grow
            // the table without bound (fields already known are still updated).
            let mut upsert_field = tx.prepare_cached(
                "INSERT INTO ledger_fields (topic_id, path, value_type, category, example, example_at, first_seen, last_seen)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7
                 WHERE EXISTS (SELECT 1 FROM ledger_fields WHERE topic_id = ?1 AND path = ?2)
                    OR (SELECT COUNT(*) FROM ledger_fields WHERE topic_id = ?1) < ?8
                 ON CONFLICT(topic_id, path) DO UPDATE SET value_type = excluded.value_type, category = excluded.category,
                     example = COALESCE(excluded.example, example), example_at = COALESCE(excluded.example_at, example_at),
                     last_seen = MAX(last_seen, excluded.last_seen)",
            )?;
            let mut insert_sample = tx.prepare_cached("INSERT INTO ledger_samples (topic_id, at, payload) VALUES (?1, ?2, ?3)")?;
            let mut field_known = tx.prepare_cached("SELECT 1 FROM ledger_fields WHERE topic_id = ?1 AND path = ?2")?;
            // Is the topic on file, and how many has the device (for the cap): one round trip.
            let mut topic_on_file = tx.prepare_cached(
                "SELECT (SELECT id FROM ledger_topics WHERE device_id = ?1 AND topic = ?2), (SELECT COUNT(*) FROM ledger_topics WHERE device_id = ?1)",
            )?;
            let mut kinds_of = tx.prepare_cached("SELECT categories FROM ledger_topics WHERE device_id = ?1")?;
            let mut device_kinds: HashMap<&DeviceId, u16> = HashMap::new();
            let mut trim_samples = tx.prepare_cached(
                "DELETE FROM ledger_samples WHERE topic_id = ?1 AND id NOT IN (SELECT id FROM ledger_samples WHERE topic_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2)",
            )?;
            for e in entries {
                if !privacy.contains_key(e.device_id) {
                    privacy.insert(e.device_id, privacy_of(&tx, e.device_id)?);
                }
                let topic = match topics.entry((e.device_id, e.topic)) {
                    std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
                    std::collections::hash_map::Entry::Vacant(new) => {
                        let (on_file, count): (Option<i64>, i64) =
                            topic_on_file.query_row(params![e.device_id.as_str(), e.topic], |r| Ok((r.get(0)?, r.get(1)?)))?;
                        let name = if on_file.is_none() && count >= MAX_TOPICS_PER_DEVICE { OTHER_TOPICS } else { e.topic };
                        let row: Option<(i64, i64)> =
                            upsert_topic.query_row(params![e.device_id.as_str(), name, e.at], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
                        // Forgotten while its messages were queued: nothing to file them under.
                        let Some((id, categories)) = row else { continue };
                        new.insert(TopicState {
                            id,
                            categories: categories as u16,
                            classified: false,
                            last_at: e.at,
                            known: categories != 0,
                        })
                    }
                };
                topic.last_at = topic.last_at.max(e.at);
                // A topic's payload is read once per batch: at full rate a batch holds thousands
                // of messages of a few topics; at a trickle every message is read.
                // A large payload comes as its first bytes only: no fields, no sample from it.
                let whole = e.payload.is_some_and(|p| p.len() as u64 == e.bytes);
                // The broker removed the device's redacted fields before delivery; a payload
                // queued before a person chose to redact a field is cleaned here all the same,
                // and one that cannot be read for it is not kept at all.
                let redacted = match e.payload.filter(|_| whole) {
                    Some(p) => hearth_core::privacy::redact(p, &privacy[e.device_id].redact),
                    None => Redacted::Untouched,
                };
                let payload = match &redacted {
                    Redacted::Rewritten(cleaned, _) => Some(cleaned.as_slice()),
                    Redacted::Unreadable => None,
                    Redacted::Untouched => e.payload,
                };
                let classified = match (payload, topic.classified) {
                    (Some(payload), false) if whole => Some(classifier.classify(e.topic, payload)),
                    (Some(prefix), false) => Some(classifier.classify_prefix(e.topic, prefix, e.bytes)),
                    _ => None,
                };
                if let Some(c) = &classified {
                    // The device's kinds of data before this message, over all its topics.
                    if !device_kinds.contains_key(e.device_id) {
                        let masks: Vec<i64> = kinds_of.query_map([e.device_id.as_str()], |r| r.get(0))?.collect::<Result<_, _>>()?;
                        device_kinds.insert(e.device_id, masks.into_iter().fold(0u16, |m, k| m | k as u16));
                    }
                    let before = device_kinds[e.device_id];
                    for category in Category::from_mask(c.mask() & !before) {
                        if before != 0 && news.len() < MAX_NEWS {
                            news.push(Change::NewCategory { device_id: e.device_id.clone(), category });
                        }
                    }
                    device_kinds.insert(e.device_id, before | c.mask());
                }
                let mask = match &classified {
                    Some(c) => {
                        topic.classified = true;
                        topic.categories |= c.mask();
                        update_topic.execute(params![topic.id, c.mask() as i64, c.content_type])?;
                        c.mask()
                    }
                    None if topic.categories == 0 => Category::Other.bit(),
                    None => topic.categories,
                };
                let (decision, reason) = recorded_decision(e.decision);
                message_rows.push([
                    ValueRef::Integer(e.at),
                    ValueRef::from(e.device_id.as_str()),
                    ValueRef::Integer(topic.id),
                    ValueRef::Integer(e.bytes as i64),
                    ValueRef::Integer(i64::from(e.qos)),
                    ValueRef::from(decision),
                    text_or_null(reason),
                    ValueRef::Integer(i64::from(mask)),
                ]);
                let hour = e.at - e.at.rem_euclid(HOUR);
                for category in Category::from_mask(mask) {
                    category_hours.entry((e.device_id, hour, category)).or_default().add(e.bytes, e.decision);
                }
                topic_hours.entry((topic.id, hour)).or_default().add(e.bytes, e.decision);
                if let Some(reason) = reason {
                    *refusal_hours.entry((e.device_id, hour, reason)).or_default() += 1;
                }
                let (Some(c), Some(payload), true) = (&classified, payload, whole) else { continue };
                let settings = &privacy[e.device_id];
                // A field is kept as its own kind and its topic's allow, whichever is stricter:
                // an unlisted field of a location topic is still about a place.
                let topic_kinds = classifier.topic_categories(e.topic);
                for f in &c.fields {
                    let retention =
                        topic_kinds.iter().fold(settings.retention_of(f.category), |r, k| r.stricter(settings.retention_of(*k)));
                    if !retention.keeps_fields() {
                        continue;
                    }
                    let keep_value = retention.value_days().is_some();
                    let (example, example_at) = if keep_value { (Some(f.example.as_str()), Some(e.at)) } else { (None, None) };
                    if topic.known && news.len() < MAX_NEWS && !field_known.exists(params![topic.id, f.path])? {
                        news.push(Change::NewField {
                            device_id: e.device_id.clone(),
                            topic: e.topic.to_owned(),
                            path: f.path.clone(),
                            category: f.category,
                        });
                    }
                    upsert_field.execute(params![
                        topic.id,
                        f.path,
                        f.value_type.as_str(),
                        f.category.as_str(),
                        example,
                        example_at,
                        e.at,
                        MAX_FIELDS_PER_TOPIC
                    ])?;
                }
                if settings.retention_for(&c.categories).value_days().is_some() && payload.len() <= MAX_SAMPLE_BYTES {
                    insert_sample.execute(params![topic.id, e.at, payload])?;
                    trim_samples.execute(params![topic.id, SAMPLES_PER_TOPIC])?;
                }
            }
            bulk::insert_rows(
                &tx,
                "INSERT INTO ledger_messages (at, device_id, topic_id, bytes, qos, decision, reason, categories)",
                &message_rows,
            )?;
            let mut last_seen = tx.prepare_cached("UPDATE ledger_topics SET last_seen = MAX(last_seen, ?2) WHERE id = ?1")?;
            for topic in topics.values() {
                last_seen.execute(params![topic.id, topic.last_at])?;
            }
            let mut add_category = tx.prepare_cached(
                "INSERT INTO ledger_category_hours (device_id, hour, category, messages, bytes) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO UPDATE SET messages = messages + excluded.messages, bytes = bytes + excluded.bytes",
            )?;
            for ((device, hour, category), t) in &category_hours {
                add_category.execute(params![device.as_str(), hour, category.as_str(), t.messages, t.bytes])?;
            }
            let mut add_topic = tx.prepare_cached(
                "INSERT INTO ledger_topic_hours (topic_id, hour, messages, bytes, refused, redacted) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT DO UPDATE SET messages = messages + excluded.messages, bytes = bytes + excluded.bytes,
                     refused = refused + excluded.refused, redacted = redacted + excluded.redacted",
            )?;
            for ((topic, hour), t) in &topic_hours {
                add_topic.execute(params![topic, hour, t.messages, t.bytes, t.refused, t.redacted])?;
            }
            let mut add_refusal = tx.prepare_cached(
                "INSERT INTO ledger_refusal_hours (device_id, hour, reason, count) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO UPDATE SET count = count + excluded.count",
            )?;
            for ((device, hour, reason), n) in &refusal_hours {
                add_refusal.execute(params![device.as_str(), hour, reason, n])?;
            }
        }
        tx.commit()?;
        Ok(news)
    }

    /// Adds publishes kept only as counts (the recorder's queue was full) to their topics' and
    /// devices' hourly rollups, under their topics' known categories.
    pub fn record_overflow(&mut self, overflow: &HashMap<(DeviceId, String), Overflow>) -> Result<(), StoreError> {
        let tx = self.writing()?;
        // Each device's topics on file, counted once per call: a device spraying ever-new topics
        // sends thousands of counts a second, and the recorder must keep up with the others.
        let mut topics_on_file: HashMap<&DeviceId, i64> = HashMap::new();
        for ((device, topic), o) in overflow {
            // The same cap on topics as for rows: overflow is when a device spraying topics is busiest.
            let on_file: Option<i64> = tx
                .prepare_cached("SELECT id FROM ledger_topics WHERE device_id = ?1 AND topic = ?2")?
                .query_row(params![device.as_str(), topic], |r| r.get(0))
                .optional()?;
            let count = match topics_on_file.get(device) {
                Some(n) => *n,
                None => {
                    let n: i64 = tx
                        .prepare_cached("SELECT COUNT(*) FROM ledger_topics WHERE device_id = ?1")?
                        .query_row([device.as_str()], |r| r.get(0))?;
                    topics_on_file.insert(device, n);
                    n
                }
            };
            let topic = if on_file.is_none() && count >= MAX_TOPICS_PER_DEVICE { OTHER_TOPICS } else { topic.as_str() };
            if on_file.is_none() && topic != OTHER_TOPICS {
                topics_on_file.insert(device, count + 1);
            }
            let row: Option<(i64, i64)> = tx
                .prepare_cached(
                    "INSERT INTO ledger_topics (device_id, topic, content_type, categories, first_seen, last_seen)
                     SELECT ?1, ?2, '', 0, ?3, ?3 WHERE EXISTS (SELECT 1 FROM devices WHERE id = ?1)
                     ON CONFLICT(device_id, topic) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen)
                     RETURNING id, categories",
                )?
                .query_row(params![device.as_str(), topic, o.last_at], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((topic_id, mask)) = row else { continue };
            let mask = if mask == 0 { Category::Other.bit() } else { mask as u16 };
            let hour = o.last_at - o.last_at.rem_euclid(HOUR);
            for category in Category::from_mask(mask) {
                tx.prepare_cached(
                    "INSERT INTO ledger_category_hours (device_id, hour, category, messages, bytes) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT DO UPDATE SET messages = messages + excluded.messages, bytes = bytes + excluded.bytes",
                )?
                .execute(params![device.as_str(), hour, category.as_str(), o.messages as i64, o.bytes as i64])?;
            }
            tx.prepare_cached(
                "INSERT INTO ledger_topic_hours (topic_id, hour, messages, bytes, refused, redacted) VALUES (?1, ?2, ?3, ?4, ?5, 0)
                 ON CONFLICT DO UPDATE SET messages = messages + excluded.messages, bytes = bytes + excluded.bytes, refused = refused + excluded.refused",
            )?
            .execute(params![topic_id, hour, o.messages as i64, o.bytes as i64, o.refused as i64])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Applies retention: metadata rows older than [`METADATA_DAYS`], rollups older than
    /// [`ROLLUP_DAYS`], and example values and payload samples past their category's days.
    /// Returns how many rows were deleted or cleared.
    pub fn prune_ledger(&mut self, now: Millis) -> Result<usize, StoreError> {
        let tx = self.writing()?;
        let mut n = windowed::delete_before(&tx, windowed::Windowed::LedgerMessages, now - METADATA_DAYS * DAY)?;
        n += tx.execute("DELETE FROM ledger_category_hours WHERE hour < ?1", [now - ROLLUP_DAYS * DAY])?;
        n += tx.execute("DELETE FROM ledger_topic_hours WHERE hour < ?1", [now - ROLLUP_DAYS * DAY])?;
        n += tx.execute("DELETE FROM ledger_refusal_hours WHERE hour < ?1", [now - ROLLUP_DAYS * DAY])?;
        let devices: Vec<String> =
            tx.prepare("SELECT DISTINCT device_id FROM ledger_topics")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        for device in devices {
            n += prune_device(&tx, &parse_id(&device)?, now)?;
        }
        tx.commit()?;
        Ok(n)
    }

    /// Applies one device's retention to its values and samples at once (after a person changed
    /// it), without going over the rest of the home.
    pub fn prune_device_ledger(&mut self, device: &DeviceId, now: Millis) -> Result<usize, StoreError> {
        let tx = self.writing()?;
        let n = prune_device(&tx, device, now)?;
        tx.commit()?;
        Ok(n)
    }
}

/// Clears a device's example values and deletes its samples past their retention. Set-based:
/// a handful of statements per device, whatever its number of topics; only topics whose own
/// kind is stricter than their fields' (an OwnTracks topic is about a place) get their own.
fn prune_device(tx: &Transaction<'_>, device: &DeviceId, now: Millis) -> Result<usize, StoreError> {
    let settings = privacy_of(tx, device)?;
    let cut_for = |r: Retention| r.value_days().map_or(i64::MAX, |d| now - i64::from(d) * DAY);
    let mut n = 0;
    // Values older than their kind keeps them (all of them once it keeps none); fields too, for
    // a kind that keeps nothing.
    let mut clear = |topics: &str, key: &dyn rusqlite::ToSql, category: Category, retention: Retention| -> Result<(), StoreError> {
        n += tx.execute(
            &format!("UPDATE ledger_fields SET example = NULL, example_at = NULL WHERE category = ?2 AND example_at < ?3 AND topic_id IN ({topics})"),
            params![key, category.as_str(), cut_for(retention)],
        )?;
        if !retention.keeps_fields() {
            n += tx.execute(
                &format!("DELETE FROM ledger_fields WHERE category = ?2 AND topic_id IN ({topics})"),
                params![key, category.as_str()],
            )?;
        }
        Ok(())
    };
    const DEVICE_TOPICS: &str = "SELECT id FROM ledger_topics WHERE device_id = ?1";
    for category in Category::ALL {
        clear(DEVICE_TOPICS, &device.as_str(), category, settings.retention_of(category))?;
    }
    let topics: Vec<(i64, String)> = tx
        .prepare("SELECT id, topic FROM ledger_topics WHERE device_id = ?1")?
        .query_map([device.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (topic, name) in topics {
        let topic_kinds = Classifier::builtin().topic_categories(&name);
        for category in Category::ALL {
            let own = settings.retention_of(category);
            let retention = topic_kinds.iter().fold(own, |r, k| r.stricter(settings.retention_of(*k)));
            if retention != own {
                clear("SELECT ?1", &topic, category, retention)?;
            }
        }
    }
    // A sample is kept while every kind of its topic keeps values: one statement per set of kinds.
    let masks: Vec<i64> = tx
        .prepare("SELECT DISTINCT categories FROM ledger_topics WHERE device_id = ?1")?
        .query_map([device.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for mask in masks {
        let cut = cut_for(settings.retention_for(&Category::from_mask(mask as u16)));
        n += tx.execute(
            "DELETE FROM ledger_samples WHERE at < ?3 AND topic_id IN (SELECT id FROM ledger_topics WHERE device_id = ?1 AND categories = ?2)",
            params![device.as_str(), mask, cut],
        )?;
    }
    Ok(n)
}

/// A device's privacy settings, defaults filled in.
pub(crate) fn privacy_of(conn: &rusqlite::Connection, device: &DeviceId) -> Result<PrivacySettings, StoreError> {
    let chosen: Vec<(Category, Retention)> = conn
        .prepare_cached("SELECT category, retention FROM privacy_retention WHERE device_id = ?1")?
        .query_map([device.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .map(|row| {
            let (c, r) = row?;
            let category = Category::parse(&c).ok_or_else(|| crate::inventory::corrupt(format!("category {c}")))?;
            let retention = Retention::parse(&r).ok_or_else(|| crate::inventory::corrupt(format!("retention {r}")))?;
            Ok((category, retention))
        })
        .collect::<Result<_, StoreError>>()?;
    let redact: Vec<String> = conn
        .prepare_cached("SELECT path FROM privacy_redactions WHERE device_id = ?1 ORDER BY path")?
        .query_map([device.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(PrivacySettings::with_choices(&chosen, redact))
}

/// Moves `absorb`'s ledger to `keep` when two records prove to be one device. A topic both have
/// becomes one: the absorbed topic's messages, samples, fields and hours join the kept one's.
pub(crate) fn merge(tx: &Transaction<'_>, keep: &DeviceId, absorb: &DeviceId) -> Result<(), StoreError> {
    let (k, a) = (keep.as_str(), absorb.as_str());
    let shared = "SELECT a.id AS old, k.id AS new FROM ledger_topics a JOIN ledger_topics k ON k.topic = a.topic AND k.device_id = ?1 WHERE a.device_id = ?2";
    tx.execute(&format!("UPDATE ledger_messages SET topic_id = s.new FROM ({shared}) s WHERE topic_id = s.old"), params![k, a])?;
    tx.execute(&format!("UPDATE ledger_samples SET topic_id = s.new FROM ({shared}) s WHERE topic_id = s.old"), params![k, a])?;
    tx.execute(&format!("UPDATE OR IGNORE ledger_fields SET topic_id = s.new FROM ({shared}) s WHERE topic_id = s.old"), params![k, a])?;
    tx.execute(
        &format!(
            "INSERT INTO ledger_topic_hours (topic_id, hour, messages, bytes, refused, redacted)
             SELECT s.new, h.hour, h.messages, h.bytes, h.refused, h.redacted FROM ledger_topic_hours h JOIN ({shared}) s ON h.topic_id = s.old WHERE true
             ON CONFLICT DO UPDATE SET messages = messages + excluded.messages, bytes = bytes + excluded.bytes,
                 refused = refused + excluded.refused, redacted = redacted + excluded.redacted"
        ),
        params![k, a],
    )?;
    tx.execute("UPDATE OR IGNORE ledger_topics SET device_id = ?1 WHERE device_id = ?2", params![k, a])?;
    tx.execute(
        "INSERT INTO ledger_category_hours (device_id, hour, category, messages, bytes)
         SELECT ?1, hour, category, messages, bytes FROM ledger_category_hours WHERE device_id = ?2 AND true
         ON CONFLICT DO UPDATE SET messages = messages + excluded.messages, bytes = bytes + excluded.bytes",
        params![k, a],
    )?;
    tx.execute(
        "INSERT INTO ledger_refusal_hours (device_id, hour, reason, count)
         SELECT ?1, hour, reason, count FROM ledger_refusal_hours WHERE device_id = ?2 AND true
         ON CONFLICT DO UPDATE SET count = count + excluded.count",
        params![k, a],
    )?;
    tx.execute("UPDATE ledger_messages SET device_id = ?1 WHERE device_id = ?2", params![k, a])?;
    Ok(())
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
