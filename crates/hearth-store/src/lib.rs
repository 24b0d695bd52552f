//! Hearth's SQLite store.
//!
//! Map:
//! - [`schema`]: the current SQL, its version (`PRAGMA user_version`) and the upgrades.
//! - [`inventory`]: devices, their identity keys, sightings (one row per service instance) and
//!   state changes; the transaction that files a sighting under the right device.
//! - [`identity`]: what no announcement decides alone: merges of records holding a person's
//!   decisions (proposed, answered by a person) and self-contradicting announcements (recorded).
//! - [`attempts`]: CONNECT attempts, counted per device, source address and outcome.
//! - [`broker`]: each device's MQTT credential (hash only), its manifest of topic rules, devices
//!   added by hand, and the gate's recorded decisions; [`DevicePolicy`] is what the gate keeps
//!   in memory.
//! - [`ledger`]: what devices send: every message's metadata, each topic's fields and
//!   categories, samples within retention, hourly rollups; [`review`] reads it back, [`privacy`]
//!   holds each device's retention and redaction choices.
//! - [`network`]: internet levels, destination rules, and what the DNS gate heard (queries,
//!   names, hourly counts per registrable domain, who uses Hearth's resolver).
//! - [`described`]: the devices and entities devices' discovery messages describe.
//! - [`family`]: members, invitations, password hashes, rooms, personal devices and grants.
//! - [`audit`]: who did what, to what, when, from where, refused attempts included.
//! - [`sessions`]: browser sessions (only a hash of each token), so people can end them.
//! - [`error`]: the store's error type, whose messages say what to do.
//!
//! One [`Store`] owns one connection. SQLite runs in WAL mode so that readers (the review
//! screens and exports, through [`Store::reader`]) use their own connection while the writer
//! works.

pub mod attempts;
pub mod audit;
pub mod backup;
pub mod broker;
mod bulk;
pub mod described;
pub mod error;
pub mod export;
pub mod family;
pub mod identity;
pub mod inventory;
pub mod ledger;
pub mod mqtt_state;
pub mod network;
pub mod privacy;
pub mod review;
pub mod schema;
pub mod sessions;
mod windowed;

pub use broker::{AnonymousPin, CredentialInfo, DevicePolicy, GateRecord, StoredRule};
pub use described::{Described, DiscoveryClaims};
pub use error::StoreError;
pub use identity::MergeAnswer;
pub use inventory::{Filing, SightingOutcome};
pub use ledger::LedgerEntry;
pub use sessions::{SessionId, StoredSession};

use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// Prepared statements each connection keeps for reuse.
const STATEMENTS_CACHED: usize = 64;

/// The store: one SQLite file.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Whether the database can be written now: rewrites the schema version in place (one page
    /// through the write-ahead log). A full disk answers [`StoreError::DiskFull`].
    pub fn check_writable(&mut self) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let version = schema::version(&tx)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        Ok(())
    }

    /// Says in the log when this binary's SQLite spills a statement's journal to a file at or
    /// below its default 64 KiB (see `bulk`): the ledger is filed as before, more slowly, and a
    /// person reading why the hub falls behind under a flood should find the reason. For the
    /// hub's start; a CLI command that opens the file (a backup) has no ledger to file.
    pub fn warn_if_statement_journals_spill_early(&self) {
        match bulk::statement_journal(&self.conn) {
            Ok(journal) => {
                if let Some(bytes) = journal.spills_early() {
                    tracing::warn!(
                        "this build's SQLite writes a statement's journal to a temporary file past {bytes} bytes, not 1 MiB: \
                         filing the ledger takes about twice the kernel's CPU time (run cargo from the repository's root \
                         directory, where .cargo/config.toml sets LIBSQLITE3_FLAGS)"
                    );
                } else if let bulk::StatementJournal::Unreadable(value) = journal {
                    tracing::info!("this build's SQLite keeps a statement's journal in memory up to {value} bytes");
                }
            }
            Err(e) => tracing::warn!("cannot read SQLite's compile options: {e}"),
        }
    }

    /// SQLite's quick check of the whole file: "ok", or what is wrong (after a crash).
    pub fn quick_check(&self) -> Result<String, StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA quick_check")?;
        let lines = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(lines.join("; "))
    }

    /// The schema version of the open database (see `schema`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(schema::version(&self.conn)?)
    }

    /// Opens (creating if needed) and upgrades the database at `path`. The file is readable by
    /// its owner only: it holds what the home's devices say (SQLite gives its journal files the
    /// same mode).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(|e| StoreError::open(path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|source| StoreError::Private { path: path.to_path_buf(), source })?;
        }
        Self::init(conn, path.to_path_buf())
    }

    /// A second connection to the same file, for reading only: reviews and exports read while
    /// the writer files what devices send (WAL lets them run side by side). `None` for an
    /// in-memory database, which has no file to share.
    pub fn reader(&self) -> Result<Option<Self>, StoreError> {
        if self.path == Path::new(":memory:") {
            return Ok(None);
        }
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(|e| StoreError::open(&self.path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| StoreError::open(&self.path, e))?;
        conn.set_prepared_statement_cache_capacity(STATEMENTS_CACHED);
        Ok(Some(Self { conn, path: self.path.clone() }))
    }

    /// Runs `f` with its commits not waiting for the disk (`synchronous = NORMAL`; in WAL mode
    /// the database stays consistent, and a power cut may lose the last such commits). For what
    /// the recorder files many times a second (decisions, the ledger, counts, MQTT sessions): a
    /// profile of the broker at 500 QoS 1 messages a second found an `fsync` per message, each
    /// a wait on the disk (an SD card's, on a Raspberry Pi). Everything else, a person's decisions
    /// first, commits with the default `FULL`: it is on the disk when the call returns.
    pub fn without_waiting_for_disk<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        /// Puts `FULL` back however `f` ends (a panic included: the hub's store survives one).
        struct Restore<'a>(&'a mut Store);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                if let Err(e) = self.0.conn.pragma_update(None, "synchronous", "FULL") {
                    tracing::error!("cannot make commits wait for the disk again: {e}");
                }
            }
        }
        if let Err(e) = self.conn.pragma_update(None, "synchronous", "NORMAL") {
            tracing::warn!("commits keep waiting for the disk: {e}");
        }
        let guard = Restore(self);
        f(&mut *guard.0)
    }

    /// A private in-memory database, for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::open(Path::new(":memory:"), e))?;
        Self::init(conn, PathBuf::from(":memory:"))
    }

    fn init(mut conn: Connection, path: PathBuf) -> Result<Self, StoreError> {
        // A corrupt or foreign file fails here, on the first read, with a message naming it.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| StoreError::open(&path, e))?;
        conn.pragma_update(None, "foreign_keys", true).map_err(|e| StoreError::open(&path, e))?;
        // A second Hearth process (the CLI reading while `serve` writes) waits briefly instead of
        // failing at once with SQLITE_BUSY.
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| StoreError::open(&path, e))?;
        // The recorder's cycle alone prepares about twenty statements (decisions, ledger, counts,
        // retention); with rusqlite's 16 it prepared some again for every batch.
        conn.set_prepared_statement_cache_capacity(STATEMENTS_CACHED);
        schema::migrate(&mut conn, &path)?;
        Ok(Self { conn, path })
    }

    /// A transaction that holds the write lock from its start, for those that read before they
    /// write: in WAL mode another process (the CLI) committing between the read and the write
    /// fails the write (SQLITE_BUSY_SNAPSHOT, which the busy timeout does not retry) rather than
    /// making it wait.
    pub(crate) fn writing(&mut self) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
