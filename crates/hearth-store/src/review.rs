//! The review, read from the ledger's rollups (never its raw rows, so a month over millions of
//! messages stays fast) and its learned fields.

use crate::inventory::{load_device, parse_id};
use crate::{Store, StoreError};
use hearth_core::classify::{Category, ValueType};
use hearth_core::device::DeviceId;
use hearth_core::inventory::Millis;
use hearth_core::review::{
    Bucket, CategoryReview, Change, DeviceReview, FieldReview, HomeDevice, HomeReview, ReasonCount, TopicReview, bucket_for,
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

    /// Every device that sent something from `since` to `until`, most sensitive and busiest
    /// first, and what changed in that range.
    pub fn home_review(&self, since: Millis, until: Millis) -> Result<HomeReview, StoreError> {
        let (from, to) = (hour_of(since), until);
        let mut devices: BTreeMap<String, (u16, u64, u64)> = BTreeMap::new();
        {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT DISTINCT device_id, category FROM ledger_category_hours WHERE hour >= ?1 AND hour <= ?2")?;
            let mut rows = stmt.query(params![from, to])?;
            while let Some(r) = rows.next()? {
                let (id, c): (String, String) = (r.get(0)?, r.get(1)?);
                devices.entry(id).or_default().0 |= category(&c)?.bit();
            }
            // Counted per topic: a message of several categories is in each category's rollup.
            let mut stmt = self.conn.prepare_cached(
                "SELECT t.device_id, SUM(h.messages), SUM(h.bytes) FROM ledger_topic_hours h JOIN ledger_topics t ON t.id = h.topic_id
                 WHERE h.hour >= ?1 AND h.hour <= ?2 GROUP BY t.device_id",
            )?;
            let mut rows = stmt.query(params![from, to])?;
            while let Some(r) = rows.next()? {
                let (id, m, b): (String, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                let d = devices.entry(id).or_default();
                d.1 = m as u64;
                d.2 = b as u64;
            }
        }
        let mut rows = Vec::with_capacity(devices.len());
        for (id, (mask, messages, bytes)) in devices {
            let device_id = parse_id(&id)?;
            let name = load_device(&self.conn, &device_id)?.name;
            rows.push(HomeDevice { device_id, name, categories: sorted(Category::from_mask(mask)), messages, bytes });
        }
        let top = |d: &HomeDevice| d.categories.first().map_or(0, |c| c.sensitivity());
        rows.sort_by(|a, b| top(b).cmp(&top(a)).then(b.messages.cmp(&a.messages)).then(a.name.cmp(&b.name)));
        Ok(HomeReview { since, until, devices: rows, changes: self.changes(since, until)? })
    }

    /// New fields on known topics, new categories, and devices sending ten times their usual.
    fn changes(&self, since: Millis, until: Millis) -> Result<Vec<Change>, StoreError> {
        let mut changes = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.device_id, t.topic, f.path, f.category FROM ledger_fields f JOIN ledger_topics t ON t.id = f.topic_id
             WHERE f.first_seen >= ?1 AND f.first_seen <= ?2 AND t.first_seen < ?1 ORDER BY f.first_seen DESC LIMIT 100",
        )?;
        let mut rows = stmt.query(params![since, until])?;
        while let Some(r) = rows.next()? {
            let (id, topic, path, c): (String, String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            changes.push(Change::NewField { device_id: parse_id(&id)?, topic, path, category: category(&c)? });
        }
        // A category in the range that the four weeks before it never had (for devices heard
        // from before the range).
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT n.device_id, n.category FROM ledger_category_hours n
             WHERE n.hour >= ?1 AND n.hour <= ?2
               AND EXISTS (SELECT 1 FROM ledger_category_hours o WHERE o.device_id = n.device_id AND o.hour < ?1 AND o.hour >= ?3)
               AND NOT EXISTS (SELECT 1 FROM ledger_category_hours o WHERE o.device_id = n.device_id AND o.category = n.category
                               AND o.hour < ?1 AND o.hour >= ?3)",
        )?;
        let mut rows = stmt.query(params![hour_of(since), until, hour_of(since) - 28 * DAY])?;
        while let Some(r) = rows.next()? {
            let (id, c): (String, String) = (r.get(0)?, r.get(1)?);
            changes.push(Change::NewCategory { device_id: parse_id(&id)?, category: category(&c)? });
        }
        // The last day against the daily average of the seven before it.
        let day_start = hour_of(until) - DAY;
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.device_id,
                    SUM(CASE WHEN h.hour >= ?1 THEN h.messages ELSE 0 END),
                    SUM(CASE WHEN h.hour < ?1 THEN h.messages ELSE 0 END)
             FROM ledger_topic_hours h JOIN ledger_topics t ON t.id = h.topic_id
             WHERE h.hour >= ?2 GROUP BY t.device_id",
        )?;
        let mut rows = stmt.query(params![day_start, day_start - 7 * DAY])?;
        while let Some(r) = rows.next()? {
            let (id, last_day, before): (String, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let usual_per_day = (before / 7) as u64;
            if usual_per_day > 0 && last_day as u64 >= 10 * usual_per_day {
                changes.push(Change::MoreThanUsual { device_id: parse_id(&id)?, last_day: last_day as u64, usual_per_day });
            }
        }
        Ok(changes)
    }
}

/// Most sensitive first.
fn sorted(mut categories: Vec<Category>) -> Vec<Category> {
    categories.sort_by_key(|c| std::cmp::Reverse(c.sensitivity()));
    categories
}
