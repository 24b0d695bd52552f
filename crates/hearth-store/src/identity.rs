//! What announcements may not decide alone: merges of records that hold a person's decisions
//! (proposed to a person), and announcements that contradict themselves (recorded, not filed).
//! Both tables are bounded, since anyone on the network can send announcements.

use crate::inventory::{load_device, merge_into, parse_id};
use crate::{Store, StoreError};
use hearth_core::device::{Actor, DeviceId};
use hearth_core::identity::IdentityKey;
use hearth_core::inventory::{Announcement, Device, IdentityConflict, MergeProposal, Millis};
use hearth_core::sighting::Sighting;
use rusqlite::{Transaction, params};

/// Open questions kept at most: one per pair of records that each hold a decision, so a home has
/// far fewer; a flood of forged announcements past this is logged, not stored.
pub const MAX_PROPOSALS: i64 = 1000;
/// Self-contradicting announcements kept at most (one row per service instance); the oldest
/// makes room for a new one.
pub const MAX_CONFLICTS: i64 = 500;

/// The tables where a person's decisions about a device live. A record with a row in any of them
/// (or a state other than `new`) is never joined to another such record by an announcement. A new
/// kind of decision (rooms, grants, internet levels) must be added here.
const DECISION_TABLES: &[&str] =
    &["credentials", "anonymous_clients", "privacy_redactions", "privacy_retention", "device_rooms", "device_members", "grants"];

static PROPOSALS_FULL_LOGGED: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
pub(crate) static CONFLICT_LOGGED: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);

/// Whether something said at most once a minute may be said now: announcements are anyone's to
/// send, as fast as they like, and the log must not grow with them.
pub(crate) fn once_a_minute(last: &std::sync::Mutex<Option<std::time::Instant>>) -> bool {
    let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
    if last.is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(60)) {
        return false;
    }
    *last = Some(std::time::Instant::now());
    true
}

/// Whether a person decided anything about the device (see [`DECISION_TABLES`]).
pub(crate) fn holds_decision(conn: &rusqlite::Connection, id: &DeviceId) -> Result<bool, StoreError> {
    let mut sql = String::from("SELECT state != 'new' OR EXISTS (SELECT 1 FROM topic_rules WHERE device_id = ?1 AND status != 'learned')");
    for table in DECISION_TABLES {
        sql.push_str(&format!(" OR EXISTS (SELECT 1 FROM {table} WHERE device_id = ?1)"));
    }
    sql.push_str(" FROM devices WHERE id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([id.as_str()], |r| r.get(0))?)
}

/// Records that `sighting` linked `a` and `b` (both holding decisions), unless a person already
/// said they are two devices. Returns whether the question is new.
pub(crate) fn propose_merge(
    tx: &Transaction<'_>,
    a: &DeviceId,
    b: &DeviceId,
    sighting: &Sighting,
    now: Millis,
) -> Result<bool, StoreError> {
    let (a, b) = if a < b { (a, b) } else { (b, a) };
    let addresses = addresses_json(sighting);
    let updated = tx.execute(
        "UPDATE merge_proposals SET service_type = ?3, instance = ?4, host = ?5, addresses = ?6, last_at = ?7, seen = seen + 1
         WHERE device_a = ?1 AND device_b = ?2",
        params![a.as_str(), b.as_str(), sighting.service_type, sighting.instance, sighting.host, addresses, now],
    )?;
    if updated > 0 {
        return Ok(false);
    }
    let count: i64 = tx.query_row("SELECT COUNT(*) FROM merge_proposals", [], |r| r.get(0))?;
    if count >= MAX_PROPOSALS {
        if once_a_minute(&PROPOSALS_FULL_LOGGED) {
            tracing::warn!(%a, %b, "too many open identity questions; new ones are not kept (said once a minute)");
        }
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO merge_proposals (device_a, device_b, service_type, instance, host, addresses, first_at, last_at, seen, kept_apart)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 1, 0)",
        params![a.as_str(), b.as_str(), sighting.service_type, sighting.instance, sighting.host, addresses, now],
    )?;
    Ok(true)
}

/// Records an announcement that named `keys` (several ids of one kind) together.
pub(crate) fn record_conflict(
    tx: &Transaction<'_>,
    sighting: &Sighting,
    keys: &[IdentityKey],
    now: Millis,
) -> Result<IdentityConflict, StoreError> {
    let known: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM identity_conflicts WHERE service_type = ?1 AND instance = ?2)",
        params![sighting.service_type, sighting.instance],
        |r| r.get(0),
    )?;
    if !known {
        tx.execute(
            "DELETE FROM identity_conflicts WHERE rowid IN
               (SELECT rowid FROM identity_conflicts ORDER BY last_at DESC LIMIT -1 OFFSET ?1)",
            [MAX_CONFLICTS - 1],
        )?;
    }
    let keys: Vec<String> = keys.iter().map(|k| k.as_str().to_owned()).collect();
    tx.execute(
        "INSERT INTO identity_conflicts (service_type, instance, host, addresses, keys, first_at, last_at, seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 1)
         ON CONFLICT (service_type, instance) DO UPDATE SET
           host = excluded.host, addresses = excluded.addresses, keys = excluded.keys, last_at = excluded.last_at, seen = seen + 1",
        params![sighting.service_type, sighting.instance, sighting.host, addresses_json(sighting), json(&keys), now],
    )?;
    tx.query_row(
        &format!("SELECT {CONFLICT_COLUMNS} FROM identity_conflicts WHERE service_type = ?1 AND instance = ?2"),
        params![sighting.service_type, sighting.instance],
        conflict_row,
    )?
}

/// A person's answer to a merge proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeAnswer {
    /// They are one device: join the records (keeping the stricter of every decision).
    Merge,
    /// They are two devices: stop asking.
    KeepApart,
}

impl Store {
    /// Open merge proposals, newest first; with `device`, only those about it.
    pub fn merge_proposals(&self, device: Option<&DeviceId>) -> Result<Vec<MergeProposal>, StoreError> {
        merge_proposals_of(&self.conn, device)
    }

    /// Announcements that contradicted themselves, newest first.
    pub fn identity_conflicts(&self) -> Result<Vec<IdentityConflict>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("SELECT {CONFLICT_COLUMNS} FROM identity_conflicts ORDER BY last_at DESC"))?;
        let rows = stmt.query_map([], conflict_row)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().collect()
    }

    /// A person's merge of two records (whether or not an announcement proposed it), or their
    /// word that two records are two devices. A merge keeps the older record and the stricter of
    /// every decision; it is refused when both records have a credential or an anonymous pin,
    /// since one of them would stop working without the person choosing which. Returns the
    /// record kept and the one folded into it.
    pub fn answer_merge(
        &mut self,
        a: &DeviceId,
        b: &DeviceId,
        answer: MergeAnswer,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<Option<(Device, DeviceId)>, StoreError> {
        if a == b {
            return Err(StoreError::Invalid("a device cannot be merged with itself".into()));
        }
        let tx = self.conn.transaction()?;
        let (da, db) = (load_device(&tx, a)?, load_device(&tx, b)?);
        let (first, second) = if a < b { (a, b) } else { (b, a) };
        let result = match answer {
            MergeAnswer::KeepApart => {
                tx.execute(
                    "INSERT INTO merge_proposals (device_a, device_b, service_type, instance, host, addresses, first_at, last_at, seen, kept_apart)
                     VALUES (?1, ?2, '', '', '', '[]', ?3, ?3, 0, 1)
                     ON CONFLICT (device_a, device_b) DO UPDATE SET kept_apart = 1",
                    params![first.as_str(), second.as_str(), now],
                )?;
                crate::audit::write(&tx, now, actor, origin, "keep_devices_apart", &format!("{a} {b}"))?;
                None
            }
            MergeAnswer::Merge => {
                for (table, what) in [("credentials", "an MQTT credential"), ("anonymous_clients", "access without a credential")] {
                    let both: i64 = tx.query_row(
                        &format!("SELECT COUNT(*) FROM {table} WHERE device_id IN (?1, ?2)"),
                        params![a.as_str(), b.as_str()],
                        |r| r.get(0),
                    )?;
                    if both == 2 {
                        return Err(StoreError::Invalid(format!(
                            "{} and {} both have {what}; one would stop working: revoke the one that is not used any more, then merge",
                            da.name, db.name
                        )));
                    }
                }
                let (keep, absorb) = if (da.first_seen, a) <= (db.first_seen, b) { (a, b) } else { (b, a) };
                merge_into(&tx, keep, absorb, actor, origin, now)?;
                crate::audit::write(&tx, now, actor, origin, "merge_devices", &format!("{keep} {absorb}"))?;
                Some((load_device(&tx, keep)?, absorb.clone()))
            }
        };
        tx.commit()?;
        Ok(result)
    }
}

pub(crate) fn merge_proposals_of(conn: &rusqlite::Connection, device: Option<&DeviceId>) -> Result<Vec<MergeProposal>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT p.device_a, a.name, p.device_b, b.name, p.service_type, p.instance, p.host, p.addresses, p.first_at, p.last_at, p.seen
         FROM merge_proposals p JOIN devices a ON a.id = p.device_a JOIN devices b ON b.id = p.device_b
         WHERE p.kept_apart = 0 AND (?1 IS NULL OR ?1 IN (p.device_a, p.device_b))
         ORDER BY p.last_at DESC",
    )?;
    let rows = stmt.query_map([device.map(DeviceId::as_str)], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            Announcement { service_type: r.get(4)?, instance: r.get(5)?, host: r.get(6)?, addresses: vec![] },
            r.get::<_, String>(7)?,
            (r.get::<_, Millis>(8)?, r.get::<_, Millis>(9)?, r.get::<_, i64>(10)?),
        ))
    })?;
    rows.map(|row| {
        let (a, name_a, b, name_b, mut announcement, addresses, (first_at, last_at, seen)) = row?;
        announcement.addresses = serde_json::from_str(&addresses).map_err(crate::inventory::corrupt)?;
        Ok(MergeProposal {
            device_a: parse_id(&a)?,
            name_a,
            device_b: parse_id(&b)?,
            name_b,
            announcement,
            first_at,
            last_at,
            seen: seen.max(0) as u64,
        })
    })
    .collect()
}

const CONFLICT_COLUMNS: &str = "service_type, instance, host, addresses, keys, first_at, last_at, seen";

fn conflict_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<IdentityConflict, StoreError>> {
    let (addresses, keys): (String, String) = (r.get(3)?, r.get(4)?);
    let parsed = serde_json::from_str(&addresses).and_then(|a| Ok((a, serde_json::from_str(&keys)?)));
    Ok(match parsed {
        Ok((addresses, keys)) => Ok(IdentityConflict {
            announcement: Announcement { service_type: r.get(0)?, instance: r.get(1)?, host: r.get(2)?, addresses },
            keys,
            first_at: r.get(5)?,
            last_at: r.get(6)?,
            seen: r.get::<_, i64>(7)?.max(0) as u64,
        }),
        Err(e) => Err(crate::inventory::corrupt(e)),
    })
}

fn addresses_json(sighting: &Sighting) -> String {
    json(&sighting.addresses.iter().map(ToString::to_string).collect::<Vec<_>>())
}

fn json(strings: &[String]) -> String {
    // A list of strings always serialises.
    serde_json::to_string(strings).unwrap_or_else(|_| "[]".into())
}
