//! The review, read from the ledger's rollups (never its raw rows, so a month over millions of
//! messages stays fast) and its learned fields.

use crate::inventory::{load_device, parse_id};
use crate::{Store, StoreError};
use hearth_core::classify::{Category, ValueType};
use hearth_core::device::DeviceId;
use hearth_core::inventory::Millis;
use hearth_core::review::{
    Bucket, BucketTotal, CategoryReview, Change, DeviceReview, FieldReview, HomeDevice, HomeReview, ReasonCount, TopicReview, bucket_for,
};
use rusqlite::params;
use std::collections::BTreeMap;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn hour_of(at: Millis) -> Millis {
    at - at.rem_euclid(HOUR)
}

fn category(s: &str) -> Result<Category, StoreError> {
    Category::parse(s).ok_or_else(|| crate::inventory::corrupt(format!("category {s}")))
}

impl Store {
    /// What `id` sent from `since` to `until` (hour by hour: the rollups' grain).
    pub fn device_review(&self, id: &DeviceId, since: Millis, until: Millis) -> Result<DeviceReview, StoreError> {
        load_device(&self.conn, id)?;
        let (from, to) = (hour_of(since), until);
        let bucket_ms = bucket_for(to - from);
        let mut buckets: BTreeMap<(Millis, Category), (u64, u64)> = BTreeMap::new();
        let mut per_category: BTreeMap<Category, (u64, u64)> = BTreeMap::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT hour, category, messages, bytes FROM ledger_category_hours WHERE device_id = ?1 AND hour >= ?2 AND hour <= ?3",
            )?;
            let mut rows = stmt.query(params![id.as_str(), from, to])?;
            while let Some(r) = rows.next()? {
                let (hour, c, messages, bytes): (i64, String, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                let c = category(&c)?;
                let b = buckets.entry((hour - (hour - from).rem_euclid(bucket_ms), c)).or_default();
                b.0 += messages as u64;
                b.1 += bytes as u64;
                let t = per_category.entry(c).or_default();
                t.0 += messages as u64;
                t.1 += bytes as u64;
            }
        }
        // Each message once per bucket, from the per-topic rollup (the per-category one counts a
        // message once per kind it carries): the chart's bars, which add up to `messages` below
        // since both read the same rows.
        let mut totals: BTreeMap<Millis, u64> = BTreeMap::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT h.hour, SUM(h.messages) FROM ledger_topics t JOIN ledger_topic_hours h ON h.topic_id = t.id
                 WHERE t.device_id = ?1 AND h.hour >= ?2 AND h.hour <= ?3 GROUP BY h.hour",
            )?;
            let mut rows = stmt.query(params![id.as_str(), from, to])?;
            while let Some(r) = rows.next()? {
                let (hour, n): (i64, i64) = (r.get(0)?, r.get(1)?);
                *totals.entry(hour - (hour - from).rem_euclid(bucket_ms)).or_default() += n as u64;
            }
        }
        let mut topics = Vec::new();
        let (mut messages, mut bytes, mut refused, mut redacted) = (0u64, 0u64, 0u64, 0u64);
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT t.id, t.topic, t.content_type, t.categories, t.first_seen, t.last_seen,
                        SUM(h.messages), SUM(h.bytes), SUM(h.refused), SUM(h.redacted), MIN(h.hour), MAX(h.hour)
                 FROM ledger_topics t JOIN ledger_topic_hours h ON h.topic_id = t.id
                 WHERE t.device_id = ?1 AND h.hour >= ?2 AND h.hour <= ?3
                 GROUP BY t.id ORDER BY SUM(h.messages) DESC, t.topic",
            )?;
            let mut rows = stmt.query(params![id.as_str(), from, to])?;
            while let Some(r) = rows.next()? {
                let topic_id: i64 = r.get(0)?;
                let n = r.get::<_, i64>(6)? as u64;
                let (first_seen, last_seen): (i64, i64) = (r.get(4)?, r.get(5)?);
                messages += n;
                bytes += r.get::<_, i64>(7)? as u64;
                refused += r.get::<_, i64>(8)? as u64;
                redacted += r.get::<_, i64>(9)? as u64;
                // Spread over the part of the range it was heard in.
                let span = last_seen.min(to) - first_seen.max(from);
                topics.push(TopicReview {
                    topic: r.get(1)?,
                    content_type: r.get(2)?,
                    categories: sorted(Category::from_mask(r.get::<_, i64>(3)? as u16)),
                    messages: n,
                    bytes: r.get::<_, i64>(7)? as u64,
                    first_seen,
                    last_seen,
                    every_ms: (n > 1 && span > 0).then(|| span as u64 / (n - 1)),
                    fields: self.fields(topic_id)?,
                });
            }
        }
        let categories = sorted(per_category.keys().copied().collect())
            .into_iter()
            .map(|c| {
                let (m, b) = per_category[&c];
                let mut fields: Vec<String> =
                    topics.iter().flat_map(|t| t.fields.iter().filter(|f| f.category == c).map(|f| f.path.clone())).collect();
                fields.sort();
                fields.dedup();
                CategoryReview { category: c, messages: m, bytes: b, fields }
            })
            .collect();
        let mut refusals: Vec<ReasonCount> = self
            .conn
            .prepare_cached(
                "SELECT reason, SUM(count) FROM ledger_refusal_hours WHERE device_id = ?1 AND hour >= ?2 AND hour <= ?3 GROUP BY reason",
            )?
            .query_map(params![id.as_str(), from, to], |r| Ok(ReasonCount { reason: r.get(0)?, count: r.get::<_, i64>(1)? as u64 }))?
            .collect::<Result<_, _>>()?;
        refusals.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
        Ok(DeviceReview {
            device_id: id.clone(),
            since,
            until,
            messages,
            bytes,
            refused,
            redacted,
            categories,
            topics,
            refusals,
            buckets: buckets.into_iter().map(|((at, category), (messages, bytes))| Bucket { at, category, messages, bytes }).collect(),
            totals: totals.into_iter().map(|(at, messages)| BucketTotal { at, messages }).collect(),
            bucket_ms,
        })
    }

    fn fields(&self, topic_id: i64) -> Result<Vec<FieldReview>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT path, value_type, category, example, first_seen FROM ledger_fields WHERE topic_id = ?1 ORDER BY path",
        )?;
        let rows = stmt.query_map([topic_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        rows.map(|row| {
            let (path, t, c, example, first_seen) = row?;
            let value_type = ValueType::parse(&t).ok_or_else(|| crate::inventory::corrupt(format!("value type {t}")))?;
            Ok(FieldReview { path, value_type, category: category(&c)?, example, first_seen })
        })
        .collect()
    }

    /// Every device that sent something from `since` to `until`, most sensitive first then the
    /// busiest, and what changed in that range.
    pub fn home_review(&self, since: Millis, until: Millis) -> Result<HomeReview, StoreError> {
        let (from, to) = (hour_of(since), until);
        // Each device's kinds of data over the range and the four weeks before it, in one
        // ordered pass over the hourly rollups: when each kind was first and last heard.
        let mut kinds: BTreeMap<String, Vec<(Category, Millis, Millis)>> = BTreeMap::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT device_id, category, MIN(hour), MAX(hour) FROM ledger_category_hours WHERE hour >= ?1 AND hour <= ?2
                 GROUP BY device_id, category",
            )?;
            let mut rows = stmt.query(params![from - 28 * DAY, to])?;
            while let Some(r) = rows.next()? {
                let (id, c, first, last): (String, String, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                kinds.entry(id).or_default().push((category(&c)?, first, last));
            }
        }
        // Counted per topic (a message of several kinds is in each kind's rollup), summed per
        // topic first so the join is over topics, not hours.
        let mut totals: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT t.device_id, SUM(x.messages), SUM(x.bytes)
                 FROM (SELECT topic_id, SUM(messages) AS messages, SUM(bytes) AS bytes FROM ledger_topic_hours
                       WHERE hour >= ?1 AND hour <= ?2 GROUP BY topic_id) x
                 JOIN ledger_topics t ON t.id = x.topic_id GROUP BY t.device_id",
            )?;
            let mut rows = stmt.query(params![from, to])?;
            while let Some(r) = rows.next()? {
                let (id, m, b): (String, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                totals.insert(id, (m as u64, b as u64));
            }
        }
        let mut devices = Vec::with_capacity(totals.len());
        let mut changes = Vec::new();
        for (id, (messages, bytes)) in totals {
            let device_id = parse_id(&id)?;
            let heard = kinds.get(&id).map(Vec::as_slice).unwrap_or_default();
            let in_range: Vec<Category> = heard.iter().filter(|(_, _, last)| *last >= from).map(|(c, _, _)| *c).collect();
            // New: heard in the range, never in the four weeks before, from a device that was.
            if heard.iter().any(|(_, first, _)| *first < from) {
                for (c, _, _) in heard.iter().filter(|(_, first, _)| *first >= from) {
                    changes.push(Change::NewCategory { device_id: device_id.clone(), category: *c });
                }
            }
            let name = load_device(&self.conn, &device_id)?.name;
            devices.push(HomeDevice { device_id, name, categories: sorted(in_range), messages, bytes });
        }
        let top = |d: &HomeDevice| d.categories.first().map_or(0, |c| c.sensitivity());
        devices.sort_by(|a, b| top(b).cmp(&top(a)).then(b.messages.cmp(&a.messages)).then(a.name.cmp(&b.name)));
        changes.extend(self.new_fields(since, until)?);
        changes.extend(self.more_than_usual(until)?);
        Ok(HomeReview { since, until, devices, changes })
    }

    /// Fields first heard in the range on topics heard before it.
    fn new_fields(&self, since: Millis, until: Millis) -> Result<Vec<Change>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.device_id, t.topic, f.path, f.category FROM ledger_fields f JOIN ledger_topics t ON t.id = f.topic_id
             WHERE f.first_seen >= ?1 AND f.first_seen <= ?2 AND t.first_seen < ?1 ORDER BY f.first_seen DESC LIMIT 100",
        )?;
        let mut rows = stmt.query(params![since, until])?;
        let mut changes = Vec::new();
        while let Some(r) = rows.next()? {
            let (id, topic, path, c): (String, String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            changes.push(Change::NewField { device_id: parse_id(&id)?, topic, path, category: category(&c)? });
        }
        Ok(changes)
    }

    /// Devices whose last day had ten times or more their daily average over the (up to) seven
    /// days before it, counted from when they were first heard: at least three days of history,
    /// so that a new device (or one back after the hub was off) is not a spike.
    pub fn more_than_usual(&self, until: Millis) -> Result<Vec<Change>, StoreError> {
        let day_start = hour_of(until) - DAY;
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.device_id, SUM(x.last_day), SUM(x.before), MIN(x.first_hour)
             FROM (SELECT topic_id, SUM(CASE WHEN hour >= ?1 THEN messages ELSE 0 END) AS last_day,
                          SUM(CASE WHEN hour < ?1 THEN messages ELSE 0 END) AS before, MIN(hour) AS first_hour
                   FROM ledger_topic_hours WHERE hour >= ?2 GROUP BY topic_id) x
             JOIN ledger_topics t ON t.id = x.topic_id GROUP BY t.device_id",
        )?;
        let mut rows = stmt.query(params![day_start, day_start - 7 * DAY])?;
        let mut changes = Vec::new();
        while let Some(r) = rows.next()? {
            let (id, last_day, before, first_hour): (String, i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            let days = (day_start - first_hour) / DAY;
            if days < 3 {
                continue;
            }
            let usual_per_day = (before / days) as u64;
            if usual_per_day > 0 && last_day as u64 >= 10 * usual_per_day {
                changes.push(Change::MoreThanUsual { device_id: parse_id(&id)?, last_day: last_day as u64, usual_per_day });
            }
        }
        Ok(changes)
    }
}

/// Most sensitive first.
fn sorted(mut categories: Vec<Category>) -> Vec<Category> {
    Category::most_sensitive_first(&mut categories);
    categories
}
