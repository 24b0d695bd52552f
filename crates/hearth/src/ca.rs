//! Hearth's own certificate authority, for TLS inside the home: MQTT on 8883 now, the web UI
//! beyond loopback next. Its key is one of Hearth's secrets (the OS keyring, or the reported file
//! fallback); its certificate is public, in `DATA_DIR/ca.pem`, for people to install on devices.
//! The broker's certificate is issued afresh at every start, for the machine's current names
//! and addresses, so a new DHCP address never leaves devices with a name mismatch for long.

use crate::secrets::{Secrets, SecretsError};
use anyhow::{Context, Result};
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub const CA_FILE: &str = "ca.pem";
const CA_KEY_SECRET: &str = "ca-key";

pub struct LocalCa {
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalCa { .. }")
    }
}

/// Where the broker's certificate and key were written.
#[derive(Debug, Clone)]
pub struct ServerFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl LocalCa {
    /// Loads the CA, creating it (key in the secrets, certificate in the data directory) the
    /// first time. When the key had to be created anew (a reset keyring) or the certificate is
    /// missing, the certificate is made again, and the log says devices need the new one.
    pub fn load_or_create(secrets: &Secrets, data_dir: &Path) -> Result<Self> {
        let mut created_now = false;
        let key_pem = secrets.get_or_create_with(CA_KEY_SECRET, || {
            created_now = true;
            KeyPair::generate().map(|k| k.serialize_pem().into_bytes()).map_err(|e| SecretsError::Generate(e.to_string()))
        })?;
        let key_pem = String::from_utf8(key_pem).context("the CA key in the secrets is damaged (not PEM)")?;
        let cert_path = data_dir.join(CA_FILE);
        if !created_now
            && let Ok(cert_pem) = std::fs::read_to_string(&cert_path)
            && let Ok(issuer) = Issuer::from_ca_cert_pem(&cert_pem, KeyPair::from_pem(&key_pem)?)
        {
            return Ok(Self { cert_pem, issuer });
        }
        let key = KeyPair::from_pem(&key_pem).context("the CA key in the secrets is damaged")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, format!("Hearth home CA ({})", host_name()));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
        let cert = params.self_signed(&key).context("creating Hearth's CA certificate")?;
        let cert_pem = cert.pem();
        let replaced = cert_path.exists();
        std::fs::write(&cert_path, &cert_pem).with_context(|| format!("cannot write {}", cert_path.display()))?;
        if replaced {
            // A new key (the keyring was reset) or an unreadable certificate: what devices trust changed.
            tracing::warn!("Hearth's CA certificate was replaced: devices using TLS must be given the new {}", cert_path.display());
        } else {
            tracing::info!(path = %cert_path.display(), "created Hearth's own CA");
        }
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).context("reading back Hearth's CA certificate")?;
        Ok(Self { cert_pem, issuer })
    }

    /// Issues the broker's certificate for `names` and `addresses` and writes it and its key
    /// (owner-only) into `DATA_DIR/tls/`.
    pub fn issue_server(&self, data_dir: &Path, names: &[String], addresses: &[IpAddr]) -> Result<ServerFiles> {
        let key = KeyPair::generate().context("creating the broker's TLS key")?;
        let mut params = CertificateParams::new(names.to_vec()).context("the machine's names are not valid in a certificate")?;
        params.subject_alt_names.extend(addresses.iter().map(|a| SanType::IpAddress(*a)));
        params.distinguished_name.push(DnType::CommonName, names.first().cloned().unwrap_or_else(|| "hearth".into()));
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(397);
        let cert = params.signed_by(&key, &self.issuer).context("issuing the broker's TLS certificate")?;
        let dir = data_dir.join("tls");
        crate::data_dir::create(&dir)?;
        let files = ServerFiles { cert: dir.join("server.pem"), key: dir.join("server-key.pem") };
        // The chain: the server's certificate, then the CA's, so clients that only know the CA verify it.
        crate::data_dir::write_private(&files.cert, format!("{}{}", cert.pem(), self.cert_pem).as_bytes())?;
        crate::data_dir::write_private(&files.key, key.serialize_pem().as_bytes())?;
        Ok(files)
    }
}

/// This machine's host name, for the CA's name and the broker's certificate.
pub fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname").ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).unwrap_or_else(|| "hearth".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_created_once_and_issues_a_certificate_for_the_machine() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Secrets::open(dir.path(), crate::config::SecretStoreChoice::File).unwrap();
        let ca = LocalCa::load_or_create(&secrets, dir.path()).unwrap();
        assert!(ca.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let again = LocalCa::load_or_create(&secrets, dir.path()).unwrap();
        assert_eq!(again.cert_pem, ca.cert_pem, "loaded, not recreated");
        let files = ca.issue_server(dir.path(), &["hearth.local".into(), "localhost".into()], &["127.0.0.1".parse().unwrap()]).unwrap();
        let chain = std::fs::read_to_string(&files.cert).unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(std::fs::read_to_string(&files.key).unwrap().contains("PRIVATE KEY"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&files.key).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // The CA's key is a secret, never next to its certificate.
        assert!(!std::fs::read_to_string(dir.path().join(CA_FILE)).unwrap().contains("PRIVATE KEY"));
    }
}
