//! Keeps the server certificate fresh on a hub that runs for months without a restart (a
//! Raspberry Pi in a cupboard): every few hours, the same check as at start (a third of its
//! life left, or the machine's names or addresses changed) and, when a new one was issued, the
//! web UI takes it at once. The MQTT broker loads its certificate once, when it starts, so it
//! keeps presenting the old one; the log and `hearth status` then say to restart Hearth before
//! the old one expires.

use super::LocalCa;
use crate::hub::Hub;
use axum_server::tls_rustls::RustlsConfig;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The web UI's TLS configuration from the certificate files: HTTP/1.1 only in ALPN, since the
/// web server speaks only HTTP/1.1 (see `http::serve`: hyper's header timeout, which closes
/// connections that send no request, is HTTP/1's).
pub async fn web_tls_config(cert: &std::path::Path, key: &std::path::Path) -> std::io::Result<std::sync::Arc<rustls::ServerConfig>> {
    let loaded = RustlsConfig::from_pem_file(cert, key).await?;
    let mut config = (*loaded.get_inner()).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(std::sync::Arc::new(config))
}

/// How often the certificate is checked: the earliest a renewal is due is with 30 days left,
/// so a few hours late costs nothing, and a check is a file read.
pub const EVERY: Duration = Duration::from_secs(6 * 3600);

/// What the renewal needs to know of the running hub.
pub struct Renewal {
    pub ca: LocalCa,
    pub data_dir: PathBuf,
    /// The web UI's TLS configuration, when it serves HTTPS.
    pub web: Option<RustlsConfig>,
    /// Whether the broker serves MQTT over TLS with the certificate issued at start.
    pub broker_tls: bool,
    /// The machine's names and addresses now.
    pub machine: fn() -> (Vec<String>, Vec<IpAddr>),
    /// When the certificate issued at start expires.
    pub expires_at: i64,
}

impl std::fmt::Debug for Renewal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renewal").field("expires_at", &self.expires_at).field("broker_tls", &self.broker_tls).finish_non_exhaustive()
    }
}

/// Checks every `every` until cancelled.
pub async fn run(mut r: Renewal, hub: Hub, every: Duration, cancel: CancellationToken) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let (names, addresses) = (r.machine)();
        let files = match r.ca.server_certificate(&r.data_dir, &names, &addresses) {
            Ok(files) if files.issued_now => files,
            Ok(_) => continue,
            Err(e) => {
                tracing::error!("cannot renew the server certificate: {e:#}; it expires on {}", date(r.expires_at));
                continue;
            }
        };
        if let Some(web) = &r.web {
            match web_tls_config(&files.cert, &files.key).await {
                Ok(config) => web.reload_from_config(config),
                Err(e) => {
                    tracing::error!("the web UI cannot load its renewed certificate: {e}; restart Hearth");
                    continue;
                }
            }
        }
        if r.broker_tls {
            // What MQTT clients see still expires when the certificate issued at start does.
            tracing::warn!(
                "the server certificate was renewed: the web UI uses the new one; MQTT over TLS uses it after Hearth restarts, \
                 so restart Hearth before {}, when the one it presents now expires",
                date(r.expires_at)
            );
            hub.update_ca_status(|s| s.mqtt_restart_needed = true);
        } else {
            tracing::info!("the web UI's certificate was renewed");
            r.expires_at = files.expires_at;
            hub.update_ca_status(|s| s.server_expires_at = files.expires_at);
        }
    }
}

fn date(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000).map_or_else(|_| ms.to_string(), |t| t.date().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::CaStatus;

    fn moved() -> (Vec<String>, Vec<IpAddr>) {
        (vec!["pi.local".into()], vec!["192.168.1.77".parse().expect("an address")])
    }

    /// A hub running when its DHCP lease changes: the web UI takes a new certificate at once,
    /// and the status says MQTT over TLS needs a restart.
    #[tokio::test]
    async fn a_running_hub_renews_the_web_uis_certificate_and_says_mqtt_needs_a_restart() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let (hub, dir) = crate::testing::hub();
        let secrets = crate::secrets::Secrets::open(dir.path(), crate::config::SecretStoreChoice::File).unwrap();
        let ca = LocalCa::load_or_create(&secrets, dir.path()).unwrap();
        let first = ca.server_certificate(dir.path(), &["pi.local".into()], &["192.168.1.2".parse().unwrap()]).unwrap();
        hub.set_ca_status(CaStatus {
            file: "ca.pem".into(),
            expires_at: ca.expires_at,
            server_expires_at: first.expires_at,
            mqtt_restart_needed: false,
            replaced: None,
        });
        let web = RustlsConfig::from_pem_file(&first.cert, &first.key).await.unwrap();
        let before = web.get_inner();
        let before_pem = std::fs::read_to_string(&first.cert).unwrap();
        let renewal = Renewal {
            ca,
            data_dir: dir.path().to_path_buf(),
            web: Some(web.clone()),
            broker_tls: true,
            machine: moved,
            expires_at: first.expires_at,
        };
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(renewal, hub.clone(), Duration::from_millis(20), cancel.clone()));
        crate::testing::eventually("the status to ask for a restart", || hub.ca_status().is_some_and(|s| s.mqtt_restart_needed)).await;
        cancel.cancel();
        task.await.unwrap();
        assert_ne!(std::fs::read_to_string(&first.cert).unwrap(), before_pem, "a new certificate for the new address");
        assert!(!std::sync::Arc::ptr_eq(&before, &web.get_inner()), "the web UI took it");
        assert_eq!(hub.ca_status().unwrap().server_expires_at, first.expires_at, "MQTT clients still see the old one");
    }
}
