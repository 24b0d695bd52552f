//! Hearth's own certificate authority, for TLS inside the home: MQTT on 8883 and the web UI
//! beyond loopback. Its key is one of Hearth's secrets (the OS keyring, or the reported file
//! fallback); its certificate is public, in `DATA_DIR/ca.pem`, for people to install on devices.
//!
//! - here: the CA itself, made once, kept, and replaced (with a new key) when it is one an
//!   earlier Hearth made without name constraints, near its end, or lost;
//! - [`scope`]: what it may vouch for (its name constraints: `.local`, `localhost`, private
//!   addresses);
//! - [`server`]: the server certificate of the broker and the web UI, short-lived and issued
//!   again at start when it nears its end or the machine's names or addresses changed;
//!   [`renew`] checks the same every few hours while Hearth runs.

pub mod renew;
mod scope;
mod server;

pub use server::ServerFiles;

use crate::secrets::{Secrets, SecretsError};
use anyhow::{Context, Result};
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData};
use serde::{Deserialize, Serialize};
use std::path::Path;
use time::{Duration, OffsetDateTime};
use ts_rs::TS;

pub const CA_FILE: &str = "ca.pem";
const CA_KEY_SECRET: &str = "ca-key";

/// Five years. Each time the CA changes, a person must install the new one by hand on every
/// phone, computer and device that talks to Hearth over TLS, so it should change rarely; but a
/// copy of its key stays useful until the certificate expires, so not for the ten years earlier
/// versions chose (longer than most of a home's hardware lives). The name constraints bound
/// what a stolen key can vouch for meanwhile.
const CA_LIFETIME: Duration = Duration::days(5 * 365);
/// A CA with less than this left is replaced at start, with a warning: better a planned
/// reinstall than every device refusing Hearth on the day it expires.
const CA_RENEW_BEFORE: Duration = Duration::days(60);
/// Clocks of devices are often a little behind: certificates start a day early.
const BACKDATE: Duration = Duration::days(1);

/// Why the CA was replaced at this start: everything that trusted the old one must be given the
/// new `ca.pem`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum CaReplacement {
    /// An earlier Hearth made it without name constraints (it could vouch for any website) and
    /// for ten years.
    Unconstrained,
    /// It was near its end (or past it).
    Expiring,
    /// Its key was gone from the secrets (a reset keyring), or its certificate was missing,
    /// damaged, or not the key's.
    Lost,
}

impl CaReplacement {
    /// Why, in words for the log and `hearth status`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Unconstrained => {
                "the old one, made by an earlier Hearth, could vouch for any website (it had no name constraints) and was valid for ten years"
            }
            Self::Expiring => "the old one was about to expire",
            Self::Lost => "the old one's key or certificate was lost or damaged",
        }
    }
}

pub struct LocalCa {
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
    /// When the CA's certificate expires (milliseconds since the epoch).
    pub expires_at: i64,
    /// Set when the CA was made anew at this start in place of an earlier one.
    pub replaced: Option<CaReplacement>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa").field("expires_at", &self.expires_at).field("replaced", &self.replaced).finish_non_exhaustive()
    }
}

impl LocalCa {
    /// Loads the CA, creating it (key in the secrets, certificate in the data directory) the
    /// first time. An earlier one that is unconstrained, near its end, or whose key or
    /// certificate is lost, is replaced by a new one with a **new key**: reusing the old key
    /// would keep the old certificate, installed on the household's phones, valid.
    pub fn load_or_create(secrets: &Secrets, data_dir: &Path) -> Result<Self> {
        Self::load_or_create_at(secrets, data_dir, OffsetDateTime::now_utc())
    }

    fn load_or_create_at(secrets: &Secrets, data_dir: &Path, now: OffsetDateTime) -> Result<Self> {
        let mut created_now = false;
        let key_pem = secrets.get_or_create_with(CA_KEY_SECRET, || {
            created_now = true;
            new_key_pem()
        })?;
        let cert_path = data_dir.join(CA_FILE);
        let existing = std::fs::read_to_string(&cert_path).ok();
        let replaced = match (&existing, created_now) {
            (None, true) => None,
            // A certificate without its key (a reset keyring), or a key without its certificate
            // (whose old certificate may still be installed somewhere).
            (Some(_), true) | (None, false) => Some(CaReplacement::Lost),
            (Some(cert_pem), false) => match inspect(cert_pem, &key_pem, now) {
                Ok(ca) => return Ok(ca),
                Err(why) => Some(why),
            },
        };
        let key_pem = if created_now {
            key_pem
        } else {
            let fresh = new_key_pem()?;
            secrets.replace(CA_KEY_SECRET, &fresh)?;
            fresh
        };
        let key_pem = String::from_utf8(key_pem).context("the new CA key is not PEM")?;
        let key = KeyPair::from_pem(&key_pem).context("reading back the new CA key")?;
        let cert_pem = create(&key, now)?;
        std::fs::write(&cert_path, &cert_pem).with_context(|| format!("cannot write {}", cert_path.display()))?;
        match replaced {
            Some(why) => tracing::warn!(
                "Hearth's certificate authority was REPLACED because {}. Every phone, computer and device that uses Hearth over TLS (the web UI \
                 over HTTPS, MQTT on 8883) must be given the new {} and the old \"Hearth home CA\" removed from it; until then they \
                 refuse to connect. `hearth status` says so too.",
                why.reason(),
                cert_path.display()
            ),
            None => tracing::info!(path = %cert_path.display(), "created Hearth's own CA"),
        }
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).context("reading back Hearth's CA certificate")?;
        Ok(Self { cert_pem, issuer, expires_at: millis(now + CA_LIFETIME - BACKDATE), replaced })
    }
}

/// The CA as found, if it can be kept: constrained, not near its end, and its key's.
fn inspect(cert_pem: &str, key_pem: &[u8], now: OffsetDateTime) -> Result<LocalCa, CaReplacement> {
    let key_pem = std::str::from_utf8(key_pem).map_err(|_| CaReplacement::Lost)?;
    let key = KeyPair::from_pem(key_pem).map_err(|_| CaReplacement::Lost)?;
    let pem = x509_parser::pem::Pem::iter_from_buffer(cert_pem.as_bytes()).next().and_then(Result::ok).ok_or(CaReplacement::Lost)?;
    let cert = pem.parse_x509().map_err(|_| CaReplacement::Lost)?;
    if cert.public_key().raw != key.subject_public_key_info().as_slice() {
        return Err(CaReplacement::Lost);
    }
    let constrained = cert.name_constraints().ok().flatten().is_some_and(|nc| nc.critical);
    if !constrained {
        return Err(CaReplacement::Unconstrained);
    }
    let expires = cert.validity().not_after.timestamp();
    if expires - now.unix_timestamp() < CA_RENEW_BEFORE.whole_seconds() {
        return Err(CaReplacement::Expiring);
    }
    let issuer = Issuer::from_ca_cert_pem(cert_pem, key).map_err(|_| CaReplacement::Lost)?;
    Ok(LocalCa { cert_pem: cert_pem.to_owned(), issuer, expires_at: expires * 1000, replaced: None })
}

/// A new CA certificate for `key`: constrained to the home (see [`scope`]), may issue only
/// end-entity certificates (path length 0), five years.
fn create(key: &KeyPair, now: OffsetDateTime) -> Result<String> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    // The date tells two of them apart in a phone's list of installed certificates.
    let made = now.date();
    params.distinguished_name.push(DnType::CommonName, format!("Hearth home CA ({}, {made})", host_name()));
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.name_constraints = Some(scope::name_constraints());
    params.not_before = now - BACKDATE;
    params.not_after = now + CA_LIFETIME - BACKDATE;
    Ok(params.self_signed(key).context("creating Hearth's CA certificate")?.pem())
}

fn new_key_pem() -> Result<Vec<u8>, SecretsError> {
    KeyPair::generate().map(|k| k.serialize_pem().into_bytes()).map_err(|e| SecretsError::Generate(e.to_string()))
}

/// `t` in milliseconds since the epoch, whole seconds (what a certificate holds).
fn millis(t: OffsetDateTime) -> i64 {
    t.unix_timestamp().saturating_mul(1000)
}

/// This machine's host name, for the CA's name and the server certificate.
pub fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname").ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).unwrap_or_else(|| "hearth".into())
}

#[cfg(test)]
mod tests;
