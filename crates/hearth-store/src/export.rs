//! Everything the ledger holds about one device, for `hearth export`, and compaction after a
//! device is forgotten so that its bytes are gone from the file.

use crate::inventory::load_device;
use crate::{Store, StoreError};
use hearth_core::classify::Category;
use hearth_core::device::DeviceId;
use hearth_core::inventory::Millis;
pub use hearth_core::review::ExportedMessage;

/// A payload sample kept within retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedSample {
    pub at: Millis,
    pub topic: String,
    pub payload: Vec<u8>,
}

impl Store {
    /// Calls `each` with every message of the device on file, oldest first (streamed: a busy
    /// device has millions).
    pub fn export_messages(
        &self,
        id: &DeviceId,
        mut each: impl FnMut(ExportedMessage) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        load_device(&self.conn, id)?;
        let mut stmt = self.conn.prepare(
            "SELECT m.at, t.topic, m.bytes, m.qos, m.decision, m.reason, m.categories
             FROM ledger_messages m JOIN ledger_topics t ON t.id = m.topic_id WHERE m.device_id = ?1 ORDER BY m.at, m.id",
        )?;
        let mut rows = stmt.query([id.as_str()])?;
        while let Some(r) = rows.next()? {
            each(ExportedMessage {
                at: r.get(0)?,
                topic: r.get(1)?,
                bytes: r.get::<_, i64>(2)? as u64,
                qos: r.get(3)?,
                decision: r.get(4)?,
                reason: r.get(5)?,
                categories: Category::from_mask(r.get::<_, i64>(6)? as u16),
            })?;
        }
        Ok(())
    }

    pub fn export_samples(&self, id: &DeviceId) -> Result<Vec<ExportedSample>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT s.at, t.topic, s.payload FROM ledger_samples s JOIN ledger_topics t ON t.id = s.topic_id WHERE t.device_id = ?1 ORDER BY s.at",
        )?;
        let rows = stmt.query_map([id.as_str()], |r| Ok(ExportedSample { at: r.get(0)?, topic: r.get(1)?, payload: r.get(2)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Rewrites the database file without the space deleted rows left (where their bytes would
    /// otherwise stay until reused), and empties the write-ahead log. Takes about as long as
    /// copying the file, and as much free space again.
    pub fn compact(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("VACUUM;")?;
        // A reader (a review, an export) can hold the log open for a moment: try again briefly
        // (each try already waits up to the busy timeout).
        for _ in 0..3 {
            let busy: i64 = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            if busy == 0 {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Err(StoreError::Busy("the write-ahead log could not be emptied: another connection kept reading it".into()))
    }
}
