//! The home's audit log: who (a member, or Hearth) did what, to what, when, through what and from
//! where, refused attempts included. Rows are written in the same transaction as the change they
//! describe, so the log never claims a change that did not happen nor misses one that did.
//!
//! Bounded: refused attempts are what a flood produces, so at most [`MAX_ROWS`] rows are kept
//! (the oldest go first); a household's real actions are a few a day.

use crate::{Store, StoreError};
use hearth_core::device::Actor;
use hearth_core::inventory::Millis;
use rusqlite::params;

/// The household's actions kept at most: years of them. Refusals are bounded apart.
pub const MAX_ROWS: i64 = 200_000;
/// Refused attempts kept at most: a member looping on a forbidden request pushes out old
/// refusals, never the household's actions.
pub const MAX_REFUSED_ROWS: i64 = 50_000;
/// Rows one page of the audit returns at most.
pub const MAX_PAGE: u32 = 500;

/// One row of the audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Millis,
    /// The member's id, or `hearth`.
    pub actor: String,
    /// `cli`, `web`, `desktop`, ...
    pub origin: String,
    pub action: String,
    pub subject: String,
    /// Where the request came from ("" when not over the network).
    pub address: String,
    pub refused: bool,
    /// The device it touched, if any (kept after the device is forgotten: it names no data).
    pub device_id: Option<String>,
    /// The member whose personal device it touched, so they see it in their own audit.
    pub concerns: Option<String>,
}

/// What a page of the audit shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only rows by this member or concerning them.
    pub actor: Option<String>,
    /// Only rows about this device.
    pub device: Option<String>,
    /// Only rows a member may see of others: by them, or concerning their personal devices.
    pub visible_to: Option<String>,
    pub since: Option<Millis>,
    pub until: Option<Millis>,
    /// Rows older than this row id (paging backwards).
    pub before: Option<i64>,
    pub limit: u32,
}

/// Writes a person's change, inside the transaction that makes it. The device is the subject's
/// first word when it is a device id (every change about a device names it first).
pub(crate) fn write(
    tx: &rusqlite::Transaction<'_>,
    at: Millis,
    actor: &Actor,
    origin: &str,
    action: &str,
    subject: &str,
) -> Result<(), StoreError> {
    write_about(tx, at, actor, origin, action, subject, false, None)
}

/// [`write`] of any row: a refused request, or one that concerns a member other than the one
/// whose device it names (a wrong password for a member's name concerns that member).
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_about(
    tx: &rusqlite::Transaction<'_>,
    at: Millis,
    actor: &Actor,
    origin: &str,
    action: &str,
    subject: &str,
    refused: bool,
    concerns: Option<&str>,
) -> Result<(), StoreError> {
    let device = subject.split(' ').next().filter(|word| hearth_core::device::DeviceId::parse(word).is_ok());
    tx.execute(
        "INSERT INTO audit (at, actor, origin, action, subject, address, refused, device_id, concerns)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, COALESCE(?9, (SELECT member_id FROM device_members WHERE device_id = ?8)))",
        params![at, actor.as_str(), origin, action, subject, actor.address(), refused, device, concerns],
    )?;
    let newest = tx.last_insert_rowid();
    if newest % 1000 == 0 {
        // Counted apart: however many refusals come, the household's own actions are pruned only
        // by their own number.
        tx.execute(
            "DELETE FROM audit WHERE refused = 0 AND id < (SELECT id FROM audit WHERE refused = 0 ORDER BY id DESC LIMIT 1 OFFSET ?1)",
            [MAX_ROWS],
        )?;
        tx.execute(
            "DELETE FROM audit WHERE refused = 1 AND id < (SELECT id FROM audit WHERE refused = 1 ORDER BY id DESC LIMIT 1 OFFSET ?1)",
            [MAX_REFUSED_ROWS],
        )?;
    }
    Ok(())
}

impl Store {
    /// Records an action that changed nothing in the store (a refused request, a look at another
    /// member's data, a command sent to a device).
    pub fn record_audit(
        &mut self,
        at: Millis,
        actor: &Actor,
        origin: &str,
        action: &str,
        subject: &str,
        refused: bool,
    ) -> Result<(), StoreError> {
        self.record_audit_about(at, actor, origin, action, subject, refused, None)
    }

    /// [`Store::record_audit`] of something that concerns a member (shown in their audit).
    #[allow(clippy::too_many_arguments)]
    pub fn record_audit_about(
        &mut self,
        at: Millis,
        actor: &Actor,
        origin: &str,
        action: &str,
        subject: &str,
        refused: bool,
        concerns: Option<&str>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        write_about(&tx, at, actor, origin, action, subject, refused, concerns)?;
        tx.commit()?;
        Ok(())
    }

    /// The home's audit log, newest first.
    pub fn audit(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.audit_page(&AuditQuery { limit, ..AuditQuery::default() })
    }

    /// One page of the audit, newest first, filtered.
    pub fn audit_page(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, at, actor, origin, action, subject, address, refused, device_id, concerns FROM audit
             WHERE (?1 IS NULL OR actor = ?1 OR concerns = ?1)
               AND (?2 IS NULL OR device_id = ?2)
               AND (?3 IS NULL OR actor = ?3 OR concerns = ?3)
               AND (?4 IS NULL OR at >= ?4)
               AND (?5 IS NULL OR at < ?5)
               AND (?6 IS NULL OR id < ?6)
             ORDER BY id DESC LIMIT ?7",
        )?;
        let rows = stmt.query_map(params![q.actor, q.device, q.visible_to, q.since, q.until, q.before, q.limit.min(MAX_PAGE)], |r| {
            Ok(AuditEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                origin: r.get(3)?,
                action: r.get(4)?,
                subject: r.get(5)?,
                address: r.get(6)?,
                refused: r.get(7)?,
                device_id: r.get(8)?,
                concerns: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
