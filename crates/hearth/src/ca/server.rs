//! The server certificate the broker (MQTT over TLS) and the web UI (HTTPS) present: issued by
//! Hearth's CA for this machine's names and addresses, kept in `DATA_DIR/tls/`.
//!
//! Short-lived, like the public web's: a copied server key is good for weeks, not a year.
//! Issued again at start when it has less than a third of its life left, when the machine's
//! names or addresses changed (a new DHCP lease), or when the CA changed; otherwise the one on
//! file is kept, so that a restart does not change what clients see.

use super::{BACKDATE, LocalCa, millis, scope};
use anyhow::{Context, Result};
use rcgen::{CertificateParams, DnType, KeyPair, SanType};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// Ninety days, as public CAs issue them. Apple's devices refuse longer than 825 days even from
/// a CA a person installed; this is well inside that.
const SERVER_LIFETIME: Duration = Duration::days(90);

/// Where the server certificate and key were written, and until when the certificate is valid.
#[derive(Debug, Clone)]
pub struct ServerFiles {
    /// The chain: the server's certificate, then the CA's.
    pub cert: PathBuf,
    /// SECURITY: the server's private key, readable only by Hearth's user.
    pub key: PathBuf,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
    /// Issued by this call (false: the one on file was kept).
    pub issued_now: bool,
}

impl LocalCa {
    /// The server certificate for `names` and `addresses`: the one on file if it still fits,
    /// else a new one. Names and addresses outside what the CA may vouch for (a bare host name,
    /// a public address) are left out: a certificate naming them would fail every client's check.
    pub fn server_certificate(&self, data_dir: &Path, names: &[String], addresses: &[IpAddr]) -> Result<ServerFiles> {
        self.server_certificate_at(data_dir, names, addresses, OffsetDateTime::now_utc())
    }

    pub(super) fn server_certificate_at(
        &self,
        data_dir: &Path,
        names: &[String],
        addresses: &[IpAddr],
        now: OffsetDateTime,
    ) -> Result<ServerFiles> {
        let wanted = in_scope(names, addresses);
        let dir = data_dir.join("tls");
        crate::data_dir::create(&dir)?;
        let (cert, key) = (dir.join("server.pem"), dir.join("server-key.pem"));
        if let Some(expires_at) = self.still_fits(&cert, &key, &wanted, now) {
            return Ok(ServerFiles { cert, key, expires_at, issued_now: false });
        }
        let (pem, key_pem) = self.issue(&wanted, now)?;
        crate::data_dir::write_private(&cert, format!("{pem}{}", self.cert_pem).as_bytes())?;
        crate::data_dir::write_private(&key, key_pem.as_bytes())?;
        tracing::info!(names = ?wanted, "issued a new server certificate for {} days", SERVER_LIFETIME.whole_days());
        Ok(ServerFiles { cert, key, expires_at: millis(now + SERVER_LIFETIME - BACKDATE), issued_now: true })
    }

    /// A new certificate and its key, for `wanted` (as [`in_scope`] gives it).
    fn issue(&self, wanted: &[SanType], now: OffsetDateTime) -> Result<(String, String)> {
        let key = KeyPair::generate().context("creating the server's TLS key")?;
        let mut params = CertificateParams::default();
        params.subject_alt_names = wanted.to_vec();
        let first = wanted.iter().find_map(|s| if let SanType::DnsName(n) = s { Some(n.to_string()) } else { None });
        params.distinguished_name.push(DnType::CommonName, first.unwrap_or_else(|| "localhost".into()));
        params.not_before = now - BACKDATE;
        params.not_after = now + SERVER_LIFETIME - BACKDATE;
        let cert = params.signed_by(&key, &self.issuer).context("issuing the server's TLS certificate")?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// When the certificate on file expires, if it can be kept: issued by this CA, for exactly
    /// these names and addresses, with its key, and with more than a third of its life left.
    fn still_fits(&self, cert: &Path, key: &Path, wanted: &[SanType], now: OffsetDateTime) -> Option<i64> {
        let chain = std::fs::read_to_string(cert).ok()?;
        if !chain.ends_with(&self.cert_pem) || !key.exists() {
            return None;
        }
        let pem = x509_parser::pem::Pem::iter_from_buffer(chain.as_bytes()).next()?.ok()?;
        let parsed = pem.parse_x509().ok()?;
        let validity = parsed.validity();
        let (start, end) = (validity.not_before.timestamp(), validity.not_after.timestamp());
        if (end - now.unix_timestamp()) * 3 < end - start {
            return None;
        }
        let mut on_file: Vec<String> = parsed
            .subject_alternative_name()
            .ok()??
            .value
            .general_names
            .iter()
            .map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => format!("dns:{d}"),
                x509_parser::extensions::GeneralName::IPAddress(b) => ip_from_bytes(b).map_or_else(String::new, |ip| format!("ip:{ip}")),
                _ => String::new(),
            })
            .collect();
        on_file.sort();
        (on_file == keys(wanted)).then_some(end * 1000)
    }
}

/// The names and addresses the CA may vouch for, lower case, each once, in a stable order.
pub(super) fn in_scope(names: &[String], addresses: &[IpAddr]) -> Vec<SanType> {
    let mut kept: Vec<String> =
        names.iter().map(|n| n.trim_end_matches('.').to_ascii_lowercase()).filter(|n| scope::permits_name(n)).collect();
    kept.sort();
    kept.dedup();
    let mut ips: Vec<IpAddr> = addresses.iter().map(|a| a.to_canonical()).filter(|a| scope::permits_address(*a)).collect();
    ips.sort();
    ips.dedup();
    let left_out: Vec<String> = names
        .iter()
        .filter(|n| !scope::permits_name(n))
        .cloned()
        .chain(addresses.iter().filter(|a| !scope::permits_address(**a)).map(ToString::to_string))
        .collect();
    if !left_out.is_empty() {
        tracing::debug!(?left_out, "not in the server certificate: Hearth's CA vouches only for .local names and private addresses");
    }
    let names = kept.into_iter().filter_map(|n| n.try_into().ok().map(SanType::DnsName));
    names.chain(ips.into_iter().map(SanType::IpAddress)).collect()
}

/// `wanted` as comparable text (`dns:pi.local`, `ip:10.0.0.2`), sorted.
fn keys(wanted: &[SanType]) -> Vec<String> {
    let mut keys: Vec<String> = wanted
        .iter()
        .map(|s| match s {
            SanType::DnsName(n) => format!("dns:{}", n.as_str()),
            SanType::IpAddress(ip) => format!("ip:{ip}"),
            _ => String::new(),
        })
        .collect();
    keys.sort();
    keys
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// An address from a certificate, as text (the tests read certificates back).
#[cfg(test)]
pub(super) fn ip_from_bytes_for_tests(bytes: &[u8]) -> String {
    ip_from_bytes(bytes).map_or_else(|| format!("{bytes:?}"), |ip| ip.to_string())
}
