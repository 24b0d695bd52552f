//! Retention of the two tables the recorder fills at the broker's rate, the gate's decisions and
//! the ledger's messages: their rows from before a cut are found through each table's index of
//! (device_id, at), one device at a time. Neither keeps an index of time alone (migration 17):
//! every index costs the recorder a share of every row it files.

use crate::StoreError;
use hearth_core::inventory::Millis;
use rusqlite::{Transaction, params};

/// A table kept for a window of time, with its index of (device_id, at).
#[derive(Debug, Clone, Copy)]
pub enum Windowed {
    /// `gate_decisions`, whose rows about no device (bad credentials) have a NULL device.
    Decisions,
    /// `ledger_messages`.
    LedgerMessages,
}

impl Windowed {
    fn table(self) -> &'static str {
        match self {
            Self::Decisions => "gate_decisions",
            Self::LedgerMessages => "ledger_messages",
        }
    }

    /// The statements `delete_before` runs: the first device with rows, the next one after a
    /// device, a device's old rows, and (decisions only) the old rows about no device.
    fn statements(self) -> Vec<String> {
        let t = self.table();
        let mut statements = vec![
            format!("SELECT MIN(device_id) FROM {t}"),
            format!("SELECT MIN(device_id) FROM {t} WHERE device_id > ?1"),
            format!("DELETE FROM {t} WHERE device_id = ?1 AND at < ?2"),
        ];
        if matches!(self, Self::Decisions) {
            statements.push(format!("DELETE FROM {t} WHERE device_id IS NULL AND at < ?1"));
        }
        statements
    }
}

/// Deletes `table`'s rows from before `cut`; returns how many. The devices are walked along the
/// index itself (a seek each), not taken from `devices`: a row whose device is not on file (one
/// written by hand with foreign keys off) is not kept past its window either.
pub fn delete_before(tx: &Transaction<'_>, table: Windowed, cut: Millis) -> Result<usize, StoreError> {
    let statements = table.statements();
    let (first, next, old) = (&statements[0], &statements[1], &statements[2]);
    let mut n = match statements.get(3) {
        Some(about_no_device) => tx.execute(about_no_device, [cut])?,
        None => 0,
    };
    let mut next = tx.prepare_cached(next)?;
    let mut old = tx.prepare_cached(old)?;
    let mut device: Option<String> = tx.query_row(first, [], |r| r.get(0))?;
    while let Some(id) = device {
        n += old.execute(params![id, cut])?;
        device = next.query_row([&id], |r| r.get(0))?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// Every statement finds its rows by the index of device and time, never by reading the whole
    /// table; and the index of time alone is gone.
    #[test]
    fn old_rows_are_found_by_an_index() {
        let mut conn = Connection::open_in_memory().expect("a database");
        crate::schema::migrate(&mut conn, std::path::Path::new("x.db")).expect("migrated");
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'ledger_messages'")
            .expect("a query")
            .query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("read");
        assert!(!indexes.iter().any(|i| i == "ledger_messages_at"), "{indexes:?}");
        // Each statement's one step: a search of the index, by the columns it should use (the
        // first device is the index's first entry, and NULL is searched as a value).
        let by = ["", " (device_id>?)", " (device_id=? AND at<?)", " (device_id=? AND at<?)"];
        for (table, index) in [(Windowed::Decisions, "gate_decisions_device"), (Windowed::LedgerMessages, "ledger_messages_device")] {
            for (statement, by) in table.statements().iter().zip(by) {
                let mut plan = conn.prepare(&format!("EXPLAIN QUERY PLAN {statement}")).expect("a plan");
                let unbound = rusqlite::params_from_iter(vec![0; plan.parameter_count()]);
                let steps: Vec<String> = plan.query_map(unbound, |r| r.get(3)).expect("steps").collect::<Result<_, _>>().expect("read");
                assert_eq!(steps, [format!("SEARCH {} USING COVERING INDEX {index}{by}", table.table())], "{statement}");
            }
        }
    }

    /// Every device's old rows go, whether or not the device is on file (rows written by hand with
    /// foreign keys off), and every newer row stays.
    #[test]
    fn every_devices_old_rows_go_on_file_or_not() {
        let mut conn = Connection::open_in_memory().expect("a database");
        crate::schema::migrate(&mut conn, std::path::Path::new("x.db")).expect("migrated");
        conn.pragma_update(None, "foreign_keys", false).expect("foreign keys off");
        for device in ["d-000000000001", "d-000000000002", ""] {
            for at in [5, 15, 25] {
                conn.execute(
                    "INSERT INTO ledger_messages (at, device_id, topic_id, bytes, qos, decision, reason, categories)
                     VALUES (?1, ?2, 1, 10, 0, 'allow', NULL, 1)",
                    params![at, device],
                )
                .expect("a row");
            }
        }
        let tx = conn.transaction().expect("a transaction");
        assert_eq!(delete_before(&tx, Windowed::LedgerMessages, 20).expect("pruned"), 6);
        tx.commit().expect("committed");
        let left: Vec<(String, i64)> = conn
            .prepare("SELECT device_id, at FROM ledger_messages ORDER BY device_id")
            .expect("a query")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(left, [("".to_owned(), 25), ("d-000000000001".to_owned(), 25), ("d-000000000002".to_owned(), 25)]);
    }
}
