//! Hearth's own secrets: the OS keyring, or an explicit, reported file fallback.
//!
//! What is kept here now: the key of Hearth's CA. Later: the database key, bridge credentials.
//! (Earlier versions kept a key to sign browser session cookies; sessions are in the store now,
//! so that they can be ended, and that key is no longer read.)
//!
//! Measured behaviour on Linux (DESIGN.md): with no D-Bus session, opening the Secret Service
//! fails at once (`PlatformFailure`) — a headless server — so `auto` falls back to a file
//! readable only by Hearth's user and says so in the log and the UI. A *locked* keyring
//! (`NoStorageAccess`) is not a reason to fall back: secrets would then live in two places, so
//! the person is asked to unlock it instead.

use crate::config::SecretStoreChoice;
use crate::data_dir::write_private;
use keyring_core::{CredentialStore, Entry, Error as KeyringError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use ts_rs::TS;

const SERVICE: &str = "hearth";

/// Where secrets are kept, as shown in the status API and the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum SecretStorage {
    Keyring,
    /// The fallback: `reason` says why the keyring was not used.
    File {
        path: String,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "the OS keyring is locked; unlock it (log in to the desktop session) and start Hearth again, or set [secrets] store = \"file\" in hearth.toml"
    )]
    Locked,
    #[error(
        "the OS keyring is not available ({0}); start a desktop session with a Secret Service (GNOME Keyring, KWallet), or set [secrets] store = \"auto\" or \"file\" in hearth.toml"
    )]
    NoKeyring(String),
    #[error("the OS keyring failed while reading `{name}`: {source}")]
    Keyring { name: String, source: KeyringError },
    #[error("secret file {path}: {message}; delete it to make a new one (for the CA's key, devices then need the new ca.pem)")]
    File { path: PathBuf, message: String },
    #[error("cannot create a secret: {0}")]
    Generate(String),
}

pub struct Secrets {
    backend: Backend,
    /// Distinguishes two hubs with different data directories in one keyring.
    scope: String,
    storage: SecretStorage,
}

enum Backend {
    Keyring(Arc<CredentialStore>),
    File(PathBuf),
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SECURITY: never print secret material; only where it is kept.
        f.debug_struct("Secrets").field("storage", &self.storage).finish()
    }
}

impl Secrets {
    /// Opens the secret storage the configuration asks for.
    pub fn open(data_dir: &Path, choice: SecretStoreChoice) -> Result<Self, SecretsError> {
        let scope = scope_of(data_dir);
        let file_dir = data_dir.join("secrets");
        let fallback = |reason: String| {
            tracing::warn!(
                "secrets are kept in {} (readable only by this user) because {reason}; on a desktop, a Secret Service keyring keeps them safer",
                file_dir.display()
            );
            Self {
                backend: Backend::File(file_dir.clone()),
                scope: scope.clone(),
                storage: SecretStorage::File { path: file_dir.display().to_string(), reason },
            }
        };
        if choice == SecretStoreChoice::File {
            return Ok(fallback("hearth.toml sets [secrets] store = \"file\"".into()));
        }
        match open_keyring(&scope) {
            Ok(store) => {
                tracing::info!("secrets are kept in the OS keyring");
                Ok(Self { backend: Backend::Keyring(store), scope, storage: SecretStorage::Keyring })
            }
            Err(KeyringError::NoStorageAccess(_)) => Err(SecretsError::Locked),
            Err(e) if choice == SecretStoreChoice::Keyring => Err(SecretsError::NoKeyring(e.to_string())),
            Err(e) => Ok(fallback(format!("no OS keyring is available here ({})", first_line(&e.to_string())))),
        }
    }

    /// Uses a given keyring store (the mock store in tests).
    pub fn with_store(store: Arc<CredentialStore>, data_dir: &Path) -> Self {
        Self { backend: Backend::Keyring(store), scope: scope_of(data_dir), storage: SecretStorage::Keyring }
    }

    pub fn storage(&self) -> &SecretStorage {
        &self.storage
    }

    /// Returns the secret called `name`, creating `len` random bytes the first time.
    pub fn get_or_create(&self, name: &str, len: usize) -> Result<Vec<u8>, SecretsError> {
        self.get_or_create_with(name, || random_secret(len))
    }

    /// Returns the secret called `name`, creating it with `make` the first time (a CA's key).
    pub fn get_or_create_with(&self, name: &str, make: impl FnOnce() -> Result<Vec<u8>, SecretsError>) -> Result<Vec<u8>, SecretsError> {
        if let Some(secret) = self.get(name)? {
            return Ok(secret);
        }
        let secret = make()?;
        self.replace(name, &secret)?;
        Ok(secret)
    }
}

impl Secrets {
    /// The secret called `name`, if there is one (a backup reads the CA's key).
    pub fn get(&self, name: &str) -> Result<Option<Vec<u8>>, SecretsError> {
        match &self.backend {
            Backend::Keyring(store) => {
                let entry = Entry::new_in_store(store, SERVICE, &format!("{name}@{}", self.scope))
                    .map_err(|source| SecretsError::Keyring { name: name.into(), source })?;
                match entry.get_secret() {
                    Ok(secret) => Ok(Some(secret)),
                    Err(KeyringError::NoEntry) => Ok(None),
                    Err(KeyringError::NoStorageAccess(_)) => Err(SecretsError::Locked),
                    Err(source) => Err(SecretsError::Keyring { name: name.into(), source }),
                }
            }
            Backend::File(dir) => {
                let path = dir.join(name);
                match std::fs::read_to_string(&path) {
                    Ok(text) => hex::decode(text.trim())
                        .map(Some)
                        .map_err(|_| SecretsError::File { path: path.clone(), message: "is damaged (not hex)".into() }),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(SecretsError::File { path: path.clone(), message: e.to_string() }),
                }
            }
        }
    }

    /// Puts `secret` in place of the secret called `name` (the CA's key, when the CA is
    /// replaced): the old one is gone afterwards.
    pub fn replace(&self, name: &str, secret: &[u8]) -> Result<(), SecretsError> {
        match &self.backend {
            Backend::Keyring(store) => {
                let entry = Entry::new_in_store(store, SERVICE, &format!("{name}@{}", self.scope))
                    .map_err(|source| SecretsError::Keyring { name: name.into(), source })?;
                entry.set_secret(secret).map_err(|source| match source {
                    KeyringError::NoStorageAccess(_) => SecretsError::Locked,
                    source => SecretsError::Keyring { name: name.into(), source },
                })
            }
            Backend::File(dir) => {
                let path = dir.join(name);
                let file_err = |message: String| SecretsError::File { path: path.clone(), message };
                crate::data_dir::create(dir).map_err(|e| file_err(format!("{e:#}")))?;
                write_private(&path, hex::encode(secret).as_bytes()).map_err(|e| file_err(format!("{e:#}")))
            }
        }
    }
}

/// Opens the Secret Service and proves it answers, so a missing service is found at start-up,
/// not at the first secret.
fn open_keyring(scope: &str) -> Result<Arc<CredentialStore>, KeyringError> {
    let store: Arc<CredentialStore> = dbus_secret_service_keyring_store::Store::new()?;
    let probe = Entry::new_in_store(&store, SERVICE, &format!("probe@{scope}"))?;
    match probe.get_secret() {
        Ok(_) | Err(KeyringError::NoEntry) => Ok(store),
        Err(e) => Err(e),
    }
}

fn random_secret(len: usize) -> Result<Vec<u8>, SecretsError> {
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).map_err(|e| SecretsError::File { path: PathBuf::from("(random)"), message: e.to_string() })?;
    Ok(buf)
}

fn scope_of(data_dir: &Path) -> String {
    use sha2::Digest;
    let canonical = data_dir.canonicalize().unwrap_or_else(|_| data_dir.to_path_buf());
    hex::encode(&sha2::Sha256::digest(canonical.to_string_lossy().as_bytes())[..6])
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyring_secrets_are_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let secrets = Secrets::with_store(store.clone(), dir.path());
        let a = secrets.get_or_create("session-key", 32).unwrap();
        assert_eq!(a.len(), 32);
        assert_eq!(Secrets::with_store(store.clone(), dir.path()).get_or_create("session-key", 32).unwrap(), a);
        secrets.replace("session-key", b"new").unwrap();
        assert_eq!(Secrets::with_store(store, dir.path()).get_or_create("session-key", 32).unwrap(), b"new");
        assert_eq!(secrets.storage(), &SecretStorage::Keyring);
        // Nothing was written to the data directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn file_fallback_is_private_reported_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Secrets::open(dir.path(), SecretStoreChoice::File).unwrap();
        assert!(matches!(secrets.storage(), SecretStorage::File { reason, .. } if reason.contains("hearth.toml")));
        let a = secrets.get_or_create("session-key", 32).unwrap();
        assert_eq!(secrets.get_or_create("session-key", 32).unwrap(), a);
        secrets.replace("session-key", b"new").unwrap();
        assert_eq!(secrets.get_or_create("session-key", 32).unwrap(), b"new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secrets/session-key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "secret file must be private, mode {mode:o}");
        }
        std::fs::write(dir.path().join("secrets/session-key"), "zz").unwrap();
        let err = secrets.get_or_create("session-key", 32).unwrap_err().to_string();
        assert!(err.contains("damaged") && err.contains("delete it"), "{err}");
    }

    #[test]
    fn auto_without_a_keyring_falls_back_and_says_why() {
        // Test processes have no D-Bus session: exactly the headless case.
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let secrets = Secrets::open(dir.path(), SecretStoreChoice::Auto).unwrap();
        assert!(matches!(secrets.storage(), SecretStorage::File { reason, .. } if reason.contains("no OS keyring")));
        let err = Secrets::open(dir.path(), SecretStoreChoice::Keyring).unwrap_err().to_string();
        assert!(err.contains("not available"), "{err}");
    }
}
