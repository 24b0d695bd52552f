//! The data directory: where the database, `hearth.toml`, the owner token and the running hub's
//! address live. The CLI finds a running hub through it.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const DATABASE: &str = "hearth.db";
pub const OWNER_TOKEN: &str = "owner-token";
pub const RUNNING: &str = "hub.json";
pub const LOCK: &str = "hub.lock";
/// Present from the end of a start that runs the broker until a clean stop's final save of its
/// sessions and retained messages has worked: one found at a start after a clean stop says that
/// save failed (a full disk). Made at the start, while there is room, since the failure may
/// leave none to make it.
pub const BROKER_UNSAVED: &str = "mqtt-unsaved";

/// `--data-dir`, else `HEARTH_DATA_DIR` (both handled by clap), else the platform's data
/// directory (`~/.local/share/hearth` on Linux).
pub fn resolve(flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    let dirs = directories::ProjectDirs::from("", "", "hearth")
        .context("cannot find a home directory for Hearth's data; pass --data-dir DIR or set HEARTH_DATA_DIR")?;
    Ok(dirs.data_dir().to_path_buf())
}

/// Creates the directory readable only by its owner: it holds the owner token and secrets. A
/// directory that already exists is the person's choice and is left as it is; if others can
/// read it, the log says so (the secret files inside are owner-only either way).
pub fn create(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        warn_if_shared(dir);
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).with_context(|| format!("cannot create the data directory {}", dir.display()))
}

#[cfg(unix)]
fn warn_if_shared(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(dir)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            "the data directory {} can be read by other users (mode {:o}); `chmod 700 {}` keeps the database private",
            dir.display(),
            meta.permissions().mode() & 0o777,
            dir.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_: &Path) {}

/// Writes a file only its owner can read, atomically (write to a temporary name, then rename),
/// so a crash or a full disk never leaves a half-written secret behind.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| -> std::io::Result<()> {
        let mut f = options.open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// The owner token: created once, kept in the data directory (owner-only), used by the CLI and
/// by scripts as `Authorization: Bearer <token>`.
pub fn owner_token(dir: &Path) -> Result<String> {
    let path = dir.join(OWNER_TOKEN);
    match std::fs::read_to_string(&path) {
        Ok(t) if t.trim().len() == 64 => Ok(t.trim().to_owned()),
        Ok(_) => anyhow::bail!("{} is damaged; delete it and restart `hearth serve` to make a new one", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = crate::random::hex_token(32)?;
            write_private(&path, token.as_bytes())?;
            Ok(token)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Where the running hub listens, written by `hearth serve` and read by the CLI.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Running {
    pub url: String,
    pub pid: u32,
}

pub fn write_running(dir: &Path, running: &Running) -> Result<()> {
    write_private(&dir.join(RUNNING), &serde_json::to_vec_pretty(running)?)
}

pub fn read_running(dir: &Path) -> Result<Running> {
    let path = dir.join(RUNNING);
    let text = std::fs::read_to_string(&path).map_err(|_| {
        anyhow::anyhow!(
            "no Hearth hub is running for the data directory {}; start one with `hearth serve --data-dir {}`",
            dir.display(),
            dir.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("{} is damaged; restart `hearth serve`", path.display()))
}

/// Whether the previous hub on `dir` ended without its clean shutdown (which removes `hub.json`).
/// Call with the data directory locked, before writing `hub.json` again.
pub fn previous_run_unclean(dir: &Path) -> bool {
    dir.join(RUNNING).exists()
}

/// Whether the previous hub's final save of its broker's state failed. Read before
/// `mark_broker_unsaved`; says nothing useful after an unclean end, which leaves it too.
pub fn previous_broker_save_failed(dir: &Path) -> bool {
    dir.join(BROKER_UNSAVED).exists()
}

/// Made at the end of a start that runs the broker (a start that fails later must not leave it):
/// an empty file, so that it takes no room to speak of.
pub fn mark_broker_unsaved(dir: &Path) -> std::io::Result<()> {
    std::fs::File::create(dir.join(BROKER_UNSAVED)).map(drop)
}

/// Once the final save has worked (or there was no broker to save).
pub fn broker_saved(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(BROKER_UNSAVED));
}

pub fn remove_running(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(RUNNING));
}

/// Takes the data directory for this process: two hubs writing one database and one `hub.json`
/// would each hide the other. The lock is released when the returned file is dropped or the
/// process dies, so a crash never leaves it stuck.
pub fn lock(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join(LOCK);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = read_running(dir).map(|r| format!(" (process {}, {})", r.pid, r.url)).unwrap_or_default();
            anyhow::bail!(
                "another Hearth is already running with the data directory {}{holder}; stop it, or give this one another --data-dir",
                dir.display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}
