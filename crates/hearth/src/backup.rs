//! `hearth backup FILE` and `hearth restore FILE`: a home's decisions survive a new machine.
//!
//! A backup is one file, encrypted with a passphrase in the age format (scrypt; `age -d` opens it
//! too), holding a tar archive of: the database (SQLite's online backup API, so a running hub
//! goes on writing), `hearth.toml`, Hearth's CA certificate and **its private key** (from the
//! keyring or the secret file), so that devices that trust Hearth's CA and hold their MQTT
//! secrets connect to the restored hub as they did. Device secrets and members' passwords are in
//! the database only as hashes. The owner token and the web UI's certificate are not kept: the
//! restored hub makes new ones.

use crate::config::Config;
use crate::data_dir;
use crate::secrets::Secrets;
use age::secrecy::SecretString;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The CA key's name among Hearth's secrets (see `ca`).
const CA_KEY: &str = "ca-key";
const MANIFEST: &str = "hearth-backup.json";
/// What a backup may hold, and nothing else is read from one.
const ENTRIES: &[&str] = &[MANIFEST, data_dir::DATABASE, crate::config::FILE_NAME, crate::ca::CA_FILE, "secrets/ca-key"];
/// Every entry but the database is a small file (a manifest, a config, a PEM).
const SMALL_ENTRY_BYTES: u64 = 1024 * 1024;
/// A passphrase is all that protects the CA's key in the file.
pub const MIN_PASSPHRASE_CHARS: usize = 10;

/// What a backup says about itself.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub hearth_version: String,
    /// The schema version of the database in it (a newer Hearth migrates it at restore).
    pub schema_version: i64,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// What was written, for the person.
#[derive(Debug)]
pub struct Written {
    pub bytes: u64,
    pub devices: usize,
    pub with_ca_key: bool,
}

/// Writes an encrypted backup of `data_dir` to `to`.
pub fn backup(data_dir: &Path, to: &Path, passphrase: SecretString) -> Result<Written> {
    use age::secrecy::ExposeSecret;
    if passphrase.expose_secret().chars().count() < MIN_PASSPHRASE_CHARS {
        bail!("the passphrase is shorter than {MIN_PASSPHRASE_CHARS} characters; it alone protects Hearth's CA key in the backup");
    }
    let db = data_dir.join(data_dir::DATABASE);
    if !db.exists() {
        bail!("there is no database in {} to back up (is this Hearth's data directory? see --data-dir)", data_dir.display());
    }
    let work = tempfile::tempdir().context("cannot make a temporary directory for the database copy")?;
    let copy = work.path().join(data_dir::DATABASE);
    hearth_store::backup::backup_file(&db, &copy).context("copying the database")?;
    let (schema_version, devices) = {
        let store = hearth_store::Store::open(&copy).context("reading the database copy")?;
        (store.schema_version()?, store.devices()?.len())
    };

    let config = Config::load(data_dir).with_context(|| format!("reading {}", data_dir.join(crate::config::FILE_NAME).display()))?;
    let ca_key = Secrets::open(data_dir, config.secrets.store)
        .context("opening Hearth's secret storage for the CA's key")?
        .get(CA_KEY)
        .context("reading the CA's key")?;

    let manifest = Manifest { format: 1, hearth_version: env!("CARGO_PKG_VERSION").into(), schema_version, created_at: crate::api::now() };
    let partial = to.with_extension("partial");
    // Readable by its owner only: it holds the CA's key (encrypted, but a passphrase can be
    // guessed). A new file, never one found there (a left-over, or a link someone planted).
    let _ = std::fs::remove_file(&partial);
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&partial)
    }
    .with_context(|| format!("cannot create {}", partial.display()))?;
    let written = write_sealed(file, passphrase, &manifest, &copy, data_dir, ca_key.as_deref());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, to).with_context(|| format!("cannot move the backup into place at {}", to.display()))?;
    let bytes = std::fs::metadata(to)?.len();
    Ok(Written { bytes, devices, with_ca_key: ca_key.is_some() })
}

/// The archive, encrypted, into `file`.
fn write_sealed(
    file: std::fs::File,
    passphrase: SecretString,
    manifest: &Manifest,
    db_copy: &Path,
    data_dir: &Path,
    ca_key: Option<&[u8]>,
) -> Result<()> {
    let encryptor = age::Encryptor::with_user_passphrase(passphrase);
    let mut sealed = encryptor.wrap_output(std::io::BufWriter::new(file)).context("starting the encryption")?;
    {
        let mut tar = tar::Builder::new(&mut sealed);
        append(&mut tar, MANIFEST, &serde_json::to_vec_pretty(manifest)?)?;
        tar.append_path_with_name(db_copy, data_dir::DATABASE).context("adding the database")?;
        for name in [crate::config::FILE_NAME, crate::ca::CA_FILE] {
            if data_dir.join(name).exists() {
                tar.append_path_with_name(data_dir.join(name), name).with_context(|| format!("adding {name}"))?;
            }
        }
        if let Some(key) = ca_key {
            append(&mut tar, "secrets/ca-key", key)?;
        }
        tar.finish().context("writing the archive")?;
    }
    sealed.finish().context("finishing the encryption")?.flush()?;
    Ok(())
}

fn append<W: Write>(tar: &mut tar::Builder<W>, name: &str, contents: &[u8]) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(contents.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    tar.append_data(&mut header, name, contents).with_context(|| format!("adding {name}"))
}

/// What a restore put in place.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    pub devices: usize,
    pub with_ca_key: bool,
    /// A `hearth.toml` was already in the data directory, and was kept.
    pub kept_config: bool,
}

/// Restores the backup `from` into `data_dir`, which must not hold a database yet: a restore
/// never overwrites a home.
pub fn restore(from: &Path, data_dir: &Path, passphrase: SecretString) -> Result<Restored> {
    // Its write-ahead log too: a database moved away without it would be replayed into the
    // restored one.
    if data_dir.join(data_dir::RUNNING).exists() {
        bail!(
            "a hub is running on {} (or was stopped by a crash: its {} is still there); stop it, and restore into an empty data directory",
            data_dir.display(),
            data_dir::RUNNING
        );
    }
    for name in [data_dir::DATABASE, "hearth.db-wal", "hearth.db-shm"] {
        if data_dir.join(name).exists() {
            bail!(
                "{} already holds a Hearth database ({name}); a restore never replaces one: stop Hearth and restore into an empty data directory (--data-dir), or move this whole directory away first",
                data_dir.display()
            );
        }
    }
    let file = std::fs::File::open(from).with_context(|| format!("cannot open {}", from.display()))?;
    let decryptor = age::Decryptor::new(std::io::BufReader::new(file))
        .map_err(|e| anyhow::anyhow!("{} is not a Hearth backup (not an age file: {e})", from.display()))?;
    if !decryptor.is_scrypt() {
        bail!("{} is encrypted to a key, not with a passphrase: it is not a Hearth backup", from.display());
    }
    let identity = age::scrypt::Identity::new(passphrase);
    let reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| anyhow::anyhow!("cannot open the backup: {e} (a wrong passphrase says so too)"))?;

    data_dir::create(data_dir)?;
    let staging = tempfile::tempdir_in(data_dir).context("cannot make a staging directory in the data directory")?;
    let mut found: Vec<String> = Vec::new();
    let mut ca_key: Option<Vec<u8>> = None;
    let mut manifest: Option<Manifest> = None;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().context("reading the backup's archive")? {
        let mut entry = entry.context("reading the backup's archive")?;
        let name = entry.path()?.to_string_lossy().into_owned();
        if !ENTRIES.contains(&name.as_str()) || found.contains(&name) {
            bail!("the backup holds `{name}`, which a Hearth backup does not: not restored");
        }
        if name == data_dir::DATABASE {
            // Streamed to disk: a home's database may be larger than a Pi's memory.
            let path = staging.path().join(data_dir::DATABASE);
            let mut out = {
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?
            };
            std::io::copy(&mut entry, &mut out).context("writing the database")?;
            out.sync_all()?;
        } else {
            // The other entries are small files; a larger one is not from Hearth.
            let mut contents = Vec::new();
            (&mut entry).take(SMALL_ENTRY_BYTES + 1).read_to_end(&mut contents)?;
            if contents.len() as u64 > SMALL_ENTRY_BYTES {
                bail!("the backup's `{name}` is larger than {SMALL_ENTRY_BYTES} bytes: not a Hearth backup");
            }
            match name.as_str() {
                MANIFEST => manifest = Some(serde_json::from_slice(&contents).context("the backup's description is unreadable")?),
                "secrets/ca-key" => ca_key = Some(contents),
                file => data_dir::write_private(&staging.path().join(file), &contents)?,
            }
        }
        found.push(name);
    }
    let manifest = manifest.context("the backup has no description (hearth-backup.json): not a Hearth backup")?;
    if manifest.format != 1 {
        bail!("the backup's format {} is newer than this Hearth knows (1): upgrade Hearth", manifest.format);
    }
    let staged_db = staging.path().join(data_dir::DATABASE);
    if !staged_db.exists() {
        bail!("the backup holds no database: nothing restored");
    }
    // Opening it migrates a database from an older release, and proves it is whole.
    let devices = hearth_store::Store::open(&staged_db).context("the backup's database")?.devices()?.len();

    // A configuration a person already wrote here is theirs: kept, and said so.
    let mut kept_config = false;
    for name in [crate::config::FILE_NAME, crate::ca::CA_FILE] {
        let staged = staging.path().join(name);
        if !staged.exists() {
            continue;
        }
        if name == crate::config::FILE_NAME && data_dir.join(name).exists() {
            kept_config = true;
            continue;
        }
        std::fs::rename(&staged, data_dir.join(name))?;
    }
    if let Some(key) = &ca_key {
        let config = Config::load(data_dir)?;
        Secrets::open(data_dir, config.secrets.store)
            .context("opening this machine's secret storage for the CA's key")?
            .replace(CA_KEY, key)
            .context("storing the CA's key")?;
    }
    // The database last: until it is in place, the data directory is still empty to Hearth.
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", staged_db.display()));
        if side.exists() {
            std::fs::remove_file(side)?;
        }
    }
    std::fs::rename(&staged_db, data_dir.join(data_dir::DATABASE))?;
    Ok(Restored { manifest, devices, with_ca_key: ca_key.is_some(), kept_config })
}

/// The passphrase: from `file` (its first line), else `HEARTH_BACKUP_PASSPHRASE`, else asked on
/// the terminal (twice when making a backup).
pub fn passphrase(file: Option<&Path>, confirm: bool) -> Result<SecretString> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read the passphrase file {}", file.display()))?;
        return Ok(SecretString::from(text.lines().next().unwrap_or_default().to_owned()));
    }
    if let Ok(p) = std::env::var("HEARTH_BACKUP_PASSPHRASE") {
        return Ok(SecretString::from(p));
    }
    let first =
        rpassword::prompt_password("Backup passphrase: ").context("cannot ask for the passphrase (no terminal? use --passphrase-file)")?;
    if confirm && rpassword::prompt_password("Again, to be sure: ")? != first {
        bail!("the two passphrases differ; nothing written");
    }
    Ok(SecretString::from(first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_core::device::{Actor, DeviceId};

    fn pass(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    fn home() -> (tempfile::TempDir, DeviceId) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(crate::config::FILE_NAME), "[secrets]\nstore = \"file\"\n").unwrap();
        let mut store = hearth_store::Store::open(&dir.path().join(data_dir::DATABASE)).unwrap();
        let id = DeviceId::parse("d-0000000000b1").unwrap();
        store.add_device(&id, "Hall sensor", &Actor::owner(), "test", 1).unwrap();
        Secrets::open(dir.path(), crate::config::SecretStoreChoice::File).unwrap().replace(CA_KEY, b"-----KEY-----").unwrap();
        (dir, id)
    }

    #[test]
    fn a_backup_restores_into_a_new_data_directory_with_the_ca_key() {
        let (old, id) = home();
        let file = old.path().join("home.hearth-backup");
        let written = backup(old.path(), &file, pass("correct horse battery")).unwrap();
        assert!(written.with_ca_key && written.devices == 1);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "only its owner reads it");
        let raw = std::fs::read(&file).unwrap();
        assert!(!raw.windows(11).any(|w| w == b"Hall sensor"), "the file is encrypted");

        let new = tempfile::tempdir().unwrap();
        let restored = restore(&file, new.path(), pass("correct horse battery")).unwrap();
        assert_eq!(restored.devices, 1);
        let store = hearth_store::Store::open(&new.path().join(data_dir::DATABASE)).unwrap();
        assert_eq!(store.device(&id).unwrap().device.name, "Hall sensor");
        let key = Secrets::open(new.path(), crate::config::SecretStoreChoice::File).unwrap().get(CA_KEY).unwrap();
        assert_eq!(key.as_deref(), Some(&b"-----KEY-----"[..]));
    }

    /// A file sealed with the right passphrase whose archive holds `entries`.
    fn forged(dir: &Path, entries: &[(&str, Vec<u8>)]) -> PathBuf {
        let file = dir.join("forged.backup");
        let mut sealed =
            age::Encryptor::with_user_passphrase(pass("correct horse battery")).wrap_output(std::fs::File::create(&file).unwrap()).unwrap();
        {
            let mut tar = tar::Builder::new(&mut sealed);
            for (name, contents) in entries {
                let mut header = tar::Header::new_gnu();
                header.set_size(contents.len() as u64);
                header.set_mode(0o600);
                header.set_cksum();
                // `append_data` refuses `..`; a forger writes the header's bytes as they like.
                header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
                header.set_cksum();
                tar.append(&header, &contents[..]).unwrap();
            }
            tar.finish().unwrap();
        }
        sealed.finish().unwrap();
        file
    }

    #[test]
    fn a_forged_backup_writes_nothing_outside_its_names_and_nothing_huge() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = serde_json::to_vec(&Manifest { format: 1, hearth_version: "x".into(), schema_version: 1, created_at: 0 }).unwrap();
        for (entries, expected) in [
            (vec![(MANIFEST, manifest.clone()), ("../escaped", b"x".to_vec())], "which a Hearth backup does not"),
            (vec![(MANIFEST, manifest.clone()), ("secrets/other-key", b"x".to_vec())], "which a Hearth backup does not"),
            (vec![(MANIFEST, manifest.clone()), (crate::ca::CA_FILE, vec![b'a'; SMALL_ENTRY_BYTES as usize + 1])], "larger than"),
            (vec![(MANIFEST, manifest.clone()), (MANIFEST, manifest.clone())], "which a Hearth backup does not"),
            (vec![(MANIFEST, manifest.clone())], "no database"),
        ] {
            let file = forged(dir.path(), &entries);
            let target = dir.path().join("home");
            let err = restore(&file, &target, pass("correct horse battery")).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
            assert!(!dir.path().join("escaped").exists());
            let left: Vec<_> = std::fs::read_dir(&target).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
            assert!(left.is_empty(), "nothing restored: {left:?}");
        }
    }

    #[test]
    fn a_wrong_passphrase_a_short_one_and_an_occupied_data_directory_are_refused() {
        let (old, _) = home();
        let file = old.path().join("home.hearth-backup");
        assert!(backup(old.path(), &file, pass("short")).unwrap_err().to_string().contains("shorter than"));
        backup(old.path(), &file, pass("correct horse battery")).unwrap();
        let new = tempfile::tempdir().unwrap();
        let wrong = restore(&file, new.path(), pass("incorrect horse battery")).unwrap_err().to_string();
        assert!(wrong.contains("cannot open the backup"), "{wrong}");
        assert!(!new.path().join(data_dir::DATABASE).exists(), "nothing restored");
        let occupied = restore(&file, old.path(), pass("correct horse battery")).unwrap_err().to_string();
        assert!(occupied.contains("never replaces"), "{occupied}");
    }
}
