//! Each device's privacy choices: retention per category of data, and fields to redact. Every
//! change is recorded in the audit with who made it.

use crate::audit::write as audit;
use crate::inventory::load_device;
use crate::{Store, StoreError};
use hearth_core::classify::Category;
use hearth_core::device::{Actor, DeviceId};
use hearth_core::inventory::Millis;
use hearth_core::privacy::{PrivacySettings, Retention};
use rusqlite::params;

/// Most redacted fields per device: each is checked in every message.
pub const MAX_REDACTIONS: i64 = 64;

impl Store {
    /// A device's privacy settings, Hearth's defaults where it has no choice of its own.
    pub fn privacy(&self, id: &DeviceId) -> Result<PrivacySettings, StoreError> {
        load_device(&self.conn, id)?;
        crate::ledger::privacy_of(&self.conn, id)
    }

    /// Every device's fields to redact, for the gate's memory.
    pub fn all_redactions(&self) -> Result<Vec<(DeviceId, String)>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT device_id, path FROM privacy_redactions ORDER BY device_id, path")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        rows.map(|row| {
            let (id, path) = row?;
            Ok((crate::inventory::parse_id(&id)?, path))
        })
        .collect()
    }

    /// Sets how long a category of the device's data is kept (`None`: back to the default).
    pub fn set_retention(
        &mut self,
        id: &DeviceId,
        category: Category,
        retention: Option<Retention>,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<PrivacySettings, StoreError> {
        let tx = self.conn.transaction()?;
        load_device(&tx, id)?;
        match retention {
            Some(r) => tx.execute(
                "INSERT INTO privacy_retention (device_id, category, retention) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO UPDATE SET retention = excluded.retention",
                params![id.as_str(), category.as_str(), r.to_string()],
            )?,
            None => {
                tx.execute("DELETE FROM privacy_retention WHERE device_id = ?1 AND category = ?2", params![id.as_str(), category.as_str()])?
            }
        };
        let shown = retention.map_or_else(|| "default".to_owned(), |r| r.to_string());
        audit(&tx, now, actor, origin, "set_retention", &format!("{} {} {shown}", id.as_str(), category.as_str()))?;
        tx.commit()?;
        self.privacy(id)
    }

    /// Adds (or with `redact` false, removes) a field to remove from the device's messages.
    pub fn set_redaction(
        &mut self,
        id: &DeviceId,
        path: &str,
        redact: bool,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<PrivacySettings, StoreError> {
        let tx = self.conn.transaction()?;
        load_device(&tx, id)?;
        if redact {
            let count: i64 = tx.query_row("SELECT COUNT(*) FROM privacy_redactions WHERE device_id = ?1", [id.as_str()], |r| r.get(0))?;
            if count >= MAX_REDACTIONS {
                return Err(StoreError::TooMany(format!(
                    "{MAX_REDACTIONS} redacted fields for one device; keep one again first (`hearth privacy set {} --unredact FIELD`, or \"Keep again\" on its page)",
                    id.as_str()
                )));
            }
            tx.execute("INSERT OR IGNORE INTO privacy_redactions (device_id, path) VALUES (?1, ?2)", params![id.as_str(), path])?;
            // Values of the field already on file go now, not at the next retention run: its
            // examples, and the device's payload samples (sampled again, redacted, from now on).
            tx.execute("DELETE FROM ledger_samples WHERE topic_id IN (SELECT id FROM ledger_topics WHERE device_id = ?1)", [id.as_str()])?;
            tx.execute(
                "UPDATE ledger_fields SET example = NULL, example_at = NULL
                 WHERE path = ?2 AND topic_id IN (SELECT id FROM ledger_topics WHERE device_id = ?1)",
                params![id.as_str(), path],
            )?;
        } else {
            tx.execute("DELETE FROM privacy_redactions WHERE device_id = ?1 AND path = ?2", params![id.as_str(), path])?;
        }
        audit(&tx, now, actor, origin, if redact { "redact_field" } else { "unredact_field" }, &format!("{} {path}", id.as_str()))?;
        tx.commit()?;
        self.privacy(id)
    }
}
