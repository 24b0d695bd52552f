//! CONNECT attempts as the gate counts them: per device (or none), source address and outcome,
//! one row each, however many attempts. Bounded: at most [`MAX_ROWS_PER_DEVICE`] rows per device
//! and [`MAX_ROWS_WITHOUT_DEVICE`] for attempts that named none (the least recent go), and no row
//! outlives [`crate::Store::prune_attempts`]'s cut.

use crate::inventory::parse_id;
use crate::{Store, StoreError};
use hearth_core::device::DeviceId;
use hearth_core::gate::{ConnectCount, DropReason};
use hearth_core::inventory::Millis;
use rusqlite::params;

pub const MAX_ROWS_PER_DEVICE: i64 = 100;
pub const MAX_ROWS_WITHOUT_DEVICE: i64 = 1000;

impl Store {
    /// Adds the counts of one interval to what is on file. Counts of a device forgotten meanwhile
    /// are dropped.
    pub fn record_attempts(&mut self, counts: &[ConnectCount]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO connect_attempts (device_id, device_key, address, outcome, count, first_at, last_at, client_id, username)
                 SELECT ?1, COALESCE(?1, ''), ?2, ?3, ?4, ?5, ?6, ?7, ?8
                 WHERE ?1 IS NULL OR EXISTS (SELECT 1 FROM devices WHERE id = ?1)
                 ON CONFLICT (device_key, address, outcome) DO UPDATE SET
                   count = count + excluded.count, last_at = excluded.last_at,
                   client_id = excluded.client_id, username = excluded.username",
            )?;
            for c in counts {
                upsert.execute(params![
                    c.device_id.as_ref().map(DeviceId::as_str),
                    c.address.as_deref().unwrap_or(""),
                    c.refused.map_or("allow", DropReason::as_str),
                    c.count as i64,
                    c.first_at,
                    c.last_at,
                    c.client_id,
                    c.username
                ])?;
            }
        }
        tx.execute(
            "DELETE FROM connect_attempts WHERE rowid IN (
               SELECT rowid FROM (SELECT rowid, device_key, ROW_NUMBER() OVER (PARTITION BY device_key ORDER BY last_at DESC) AS n
                                  FROM connect_attempts)
               WHERE n > CASE device_key WHEN '' THEN ?1 ELSE ?2 END)",
            params![MAX_ROWS_WITHOUT_DEVICE, MAX_ROWS_PER_DEVICE],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A device's connection attempts, most recent first.
    pub fn attempts_of(&self, device: &DeviceId) -> Result<Vec<ConnectCount>, StoreError> {
        attempts(&self.conn, "WHERE device_key = ?1", device.as_str())
    }

    /// Refused attempts that named no device (unknown usernames, no credential), most recent
    /// first.
    pub fn attempts_without_device(&self) -> Result<Vec<ConnectCount>, StoreError> {
        attempts(&self.conn, "WHERE device_key = ?1", "")
    }

    /// Refused attempts since `since`, and from how many addresses.
    pub fn refused_attempts_since(&self, since: Millis) -> Result<(u64, u64), StoreError> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(SUM(count), 0), COUNT(DISTINCT address) FROM connect_attempts WHERE outcome != 'allow' AND last_at >= ?1",
            [since],
            |r| Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get::<_, i64>(1)?.max(0) as u64)),
        )?)
    }

    /// Deletes counts whose last attempt is older than `before`; returns how many rows.
    pub fn prune_attempts(&mut self, before: Millis) -> Result<usize, StoreError> {
        Ok(self.conn.execute("DELETE FROM connect_attempts WHERE last_at < ?1", [before])?)
    }
}

fn attempts(conn: &rusqlite::Connection, filter: &str, key: &str) -> Result<Vec<ConnectCount>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT device_id, address, outcome, count, first_at, last_at, client_id, username FROM connect_attempts {filter} ORDER BY last_at DESC"
    ))?;
    let rows = stmt.query_map([key], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Millis>(4)?,
            r.get::<_, Millis>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, Option<String>>(7)?,
        ))
    })?;
    rows.map(|row| {
        let (device, address, outcome, count, first_at, last_at, client_id, username) = row?;
        let refused = match outcome.as_str() {
            "allow" => None,
            other => Some(DropReason::parse(other).ok_or_else(|| crate::inventory::corrupt(format!("connect outcome {other}")))?),
        };
        Ok(ConnectCount {
            device_id: device.as_deref().map(parse_id).transpose()?,
            address: (!address.is_empty()).then_some(address),
            refused,
            count: count.max(0) as u64,
            first_at,
            last_at,
            client_id,
            username,
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_core::device::Actor;

    fn count(device: Option<&DeviceId>, address: &str, refused: Option<DropReason>, n: u64, at: Millis) -> ConnectCount {
        ConnectCount {
            device_id: device.cloned(),
            address: Some(address.to_owned()),
            refused,
            count: n,
            first_at: at,
            last_at: at,
            client_id: if device.is_some() { "plug-1".into() } else { format!("flood-{address}") },
            username: None,
        }
    }

    #[test]
    fn counts_add_up_per_kind_and_stay_bounded() {
        let mut store = Store::open_in_memory().unwrap();
        let plug = DeviceId::from_random(1);
        store.add_device(&plug, "Plug", &Actor::owner(), "cli", 0).unwrap();
        let wrong = Some(DropReason::BadCredentials);
        store.record_attempts(&[count(Some(&plug), "10.0.0.5", wrong, 3, 1), count(Some(&plug), "10.0.0.5", None, 1, 1)]).unwrap();
        store.record_attempts(&[count(Some(&plug), "10.0.0.5", wrong, 40, 2)]).unwrap();
        let on_file = store.attempts_of(&plug).unwrap();
        assert_eq!(on_file.len(), 2);
        let refused = on_file.iter().find(|c| c.refused == wrong).unwrap();
        assert_eq!((refused.count, refused.first_at, refused.last_at), (43, 1, 2));
        // A flood from ever new addresses naming no device keeps the newest rows only.
        let flood: Vec<ConnectCount> = (0..3000).map(|i| count(None, &format!("10.1.{}.{}", i / 250, i % 250), wrong, 1, 10 + i)).collect();
        store.record_attempts(&flood).unwrap();
        let without = store.attempts_without_device().unwrap();
        assert_eq!(without.len() as i64, MAX_ROWS_WITHOUT_DEVICE);
        assert_eq!(without[0].last_at, 10 + 2999);
        assert_eq!(store.refused_attempts_since(0).unwrap(), (43 + 1000, 1001));
        // A forgotten device's counts go with it; counts for it still queued are dropped.
        store.forget(&plug, &Actor::owner(), "cli", 3).unwrap();
        store.record_attempts(&[count(Some(&plug), "10.0.0.5", wrong, 1, 4)]).unwrap();
        assert!(store.attempts_of(&plug).unwrap().is_empty());
        assert_eq!(store.prune_attempts(i64::MAX).unwrap(), 1000);
    }
}
