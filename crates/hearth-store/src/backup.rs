//! A consistent copy of a database file with SQLite's online backup API, safe while the hub
//! writes to it (WAL): what `hearth backup` puts in a backup.

use crate::StoreError;
use rusqlite::{Connection, MAIN_DB, OpenFlags};
use std::path::Path;

/// Copies the database at `from` into a new file `to`. `from` is opened read-only, so a running
/// hub's writes go on; the copy is of one moment.
pub fn backup_file(from: &Path, to: &Path) -> Result<(), StoreError> {
    let source = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|source| StoreError::Open { path: from.to_path_buf(), source })?;
    source.busy_timeout(std::time::Duration::from_secs(10))?;
    source.backup(MAIN_DB, to, None)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_holds_what_the_database_held_and_is_a_complete_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("hearth.db");
        let mut store = crate::Store::open(&db).unwrap();
        let id = hearth_core::device::DeviceId::parse("d-0000000000aa").unwrap();
        store.add_device(&id, "Kitchen plug", &hearth_core::device::Actor::owner(), "test", 1).unwrap();
        let copy = dir.path().join("copy.db");
        backup_file(&db, &copy).unwrap();
        drop(store);
        let copied = crate::Store::open(&copy).unwrap();
        assert_eq!(copied.device(&id).unwrap().device.name, "Kitchen plug");
    }
}
