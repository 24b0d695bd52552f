//! The store's errors. Each message names the file or record and what to do next.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open the database {path}: {source}. If the file is damaged, move it aside and Hearth will start a new one (devices will be rediscovered)"
    )]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("cannot make the database {path} readable by its owner only: {source}; check who owns Hearth's data directory")]
    Private { path: PathBuf, source: std::io::Error },
    #[error(
        "the database {path} was written by a newer Hearth (schema version {found}, this build knows up to {known}); upgrade Hearth or use another --data-dir"
    )]
    TooNew { path: PathBuf, found: i64, known: i64 },
    #[error(
        "upgrading the database {path} to schema version {version} failed: {source}. The file was left as it was; report this with the log"
    )]
    Migration { path: PathBuf, version: i64, source: rusqlite::Error },
    #[error("no device with id {0}; `hearth devices` lists the known ones")]
    UnknownDevice(String),
    #[error("device {0} has no MQTT credential; issue one first (`hearth device credentials {0} --rotate`)")]
    NoCredential(String),
    #[error("the client id `{client_id}` is already bound to device {device}; unbind it there first")]
    ClientIdTaken { client_id: String, device: String },
    #[error("device {device} already describes `{entity}`; another device cannot describe it too (forget that device first)")]
    EntityTaken { entity: String, device: String },
    /// A request that cannot be carried out as asked; the message says why and what to do.
    #[error("{0}")]
    Invalid(String),
    #[error("stopped: {0}")]
    Interrupted(String),
    #[error("the database is busy: {0}; try again")]
    Busy(String),
    #[error("too many: at most {0}")]
    TooMany(String),
    #[error("the disk is full: {0}. Free some space; nothing was written")]
    DiskFull(rusqlite::Error),
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("a stored record is damaged ({0}); the database may have been edited by hand")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn open(path: &Path, source: rusqlite::Error) -> Self {
        Self::Open { path: path.to_path_buf(), source }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => Self::DiskFull(e),
            _ => Self::Sqlite(e),
        }
    }
}
