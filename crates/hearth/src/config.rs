//! `hearth.toml`: the hub's settings, kept in the data directory.
//!
//! Every key has a default, so the file is optional; a bad value is an error naming the file
//! and the key, never a silent fallback.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "hearth.toml";

/// Live connections one credential may hold at once unless `[broker] connections_per_device`
/// says otherwise. Each holds a session with its queue (up to 16 MiB) and subscriptions: a device
/// uses one, or two for a moment while it reconnects under a new client id and the broker has not
/// yet seen its old connection end, so a compromised one opening hundreds is stopped here.
pub const DEFAULT_CONNECTIONS_PER_DEVICE: usize = 16;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub http: HttpConfig,
    pub discovery: DiscoveryConfig,
    pub broker: BrokerSection,
    pub secrets: SecretsConfig,
    pub network: NetworkConfig,
}

/// `[network]`: the DNS gate and the firewall. Both are off until a person turns them on: a hub
/// on a laptop that sleeps must not be the home's resolver, and only a hub on the home's Linux
/// gateway can be its firewall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Where the DNS gate listens (UDP and TCP), e.g. `0.0.0.0:53`; none: no DNS gate.
    pub dns_listen: Option<SocketAddr>,
    /// The resolvers the gate forwards to; empty: this machine's own (`/etc/resolv.conf`).
    pub dns_upstream: Vec<SocketAddr>,
    /// The internet level of a device whose level no person chose.
    pub default_level: hearth_core::network::InternetLevel,
    /// New (quarantined) devices learn: their names are forwarded and proposed to a person, so
    /// that setting a device up (which usually needs its maker's cloud) works before it is
    /// approved. Off: a new device gets only the home's names and the time servers.
    pub learn_while_new: bool,
    /// A device approved before Hearth's resolver first heard from it (a home turning the gate
    /// on) learns for this many hours from its first query, instead of losing what it needs at
    /// once. 0: no learning window.
    pub learn_hours: u32,
    /// Record the queries of clients that are no device of the inventory (people's phones and
    /// laptops). Off: they are forwarded and nothing of them is kept.
    pub record_unknown_clients: bool,
    /// Queries per second one client address may send before its queries are dropped (a flood
    /// from one device must not slow the others). Bursts of twice this pass.
    pub queries_per_second: u32,
    /// How many days each query is kept (the names, counts and hourly rollups stay longer, as
    /// the ledger's metadata does).
    pub query_days: u32,
    /// Apply the policy to this machine's nftables (`table inet hearth`): only on the home's
    /// Linux gateway, with CAP_NET_ADMIN.
    pub apply_firewall: bool,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            dns_listen: None,
            dns_upstream: Vec::new(),
            default_level: hearth_core::network::InternetLevel::AllowedList,
            learn_while_new: true,
            learn_hours: 24,
            record_unknown_clients: false,
            queries_per_second: 50,
            query_days: 7,
            apply_firewall: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerSection {
    /// Run the home's MQTT broker.
    pub enabled: bool,
    /// Where devices connect. All interfaces by default: the broker is for the home's devices,
    /// and nothing connects without its own credential.
    pub listen: SocketAddr,
    /// Where devices connect over TLS, with a certificate from Hearth's own CA.
    pub tls_listen: SocketAddr,
    /// Offer MQTT over TLS.
    pub tls: bool,
    /// Migration mode: admit clients without a credential, each as a new device in quarantine
    /// (recorded, never delivered) until a person decides. Off: nothing anonymous.
    pub allow_anonymous: bool,
    /// Live connections one device's credential may hold at once, under different client ids
    /// (a reconnect under the same client id replaces its connection). Each holds a session with
    /// its queue and subscriptions; a device needs one.
    pub connections_per_device: std::num::NonZeroUsize,
}

impl Default for BrokerSection {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([0, 0, 0, 0], 1883)),
            tls_listen: SocketAddr::from(([0, 0, 0, 0], 8883)),
            tls: true,
            allow_anonymous: false,
            connections_per_device: std::num::NonZeroUsize::new(DEFAULT_CONNECTIONS_PER_DEVICE).expect("the default is not zero"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Where the API and web UI listen. Loopback by default: the household reaches it only when
    /// a person chooses an address on the home network.
    pub listen: SocketAddr,
    /// Serve the web UI beyond this machine over plain HTTP instead of HTTPS (with a certificate
    /// from Hearth's own CA). Off by default: over plain HTTP the session cookie and every
    /// device's details cross the network readable by anyone on it.
    pub allow_plain_http: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self { listen: SocketAddr::from(([127, 0, 0, 1], 8470)), allow_plain_http: false }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoveryConfig {
    /// Interfaces mDNS uses; empty means all.
    pub interfaces: Vec<String>,
    /// Announce Hearth itself as `_hearth._tcp`.
    pub advertise: bool,
    /// Turn discovery off entirely (a hub that only brokers).
    pub enabled: bool,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self { interfaces: Vec::new(), advertise: true, enabled: true }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretStoreChoice {
    /// The OS keyring when there is one, else a file readable only by Hearth's user (reported).
    #[default]
    Auto,
    /// The OS keyring or an error.
    Keyring,
    /// Always the file.
    File,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    pub store: SecretStoreChoice,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid: {message}\nFix the value (see the README's configuration section) or delete the key to use its default")]
    Invalid { path: PathBuf, message: String },
}

impl Config {
    /// Reads `hearth.toml` from the data directory; a missing file means all defaults.
    pub fn load(data_dir: &Path) -> Result<Self, ConfigError> {
        let path = data_dir.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Invalid { path: path.to_path_buf(), message: e.to_string().trim().to_owned() })
    }
}

/// The check of the `config` fuzz target (`fuzz/fuzz_targets/config.rs`, which compiles this
/// file by itself; `tests/fuzz_seeds.rs` replays its seeds): any text is either a config that
/// writes back as TOML and reads back the same, or refused naming the file. Not UTF-8 never gets
/// here (`load` reads the file as a string).
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("/data/hearth.toml");
    match Config::parse(text, path) {
        Ok(config) => {
            let written = toml::to_string(&config).unwrap_or_else(|e| panic!("{config:?} does not write as TOML: {e}"));
            let again = Config::parse(&written, path).unwrap_or_else(|e| panic!("{written:?}, as written, does not read back: {e}"));
            assert_eq!(again, config, "{written:?} read back differs");
        }
        Err(e) => assert!(e.to_string().starts_with("/data/hearth.toml is not valid: "), "{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(Config::parse("", Path::new("hearth.toml")).unwrap(), Config::default());
    }

    #[test]
    fn values_are_read() {
        let c = Config::parse(
            "[http]\nlisten = \"0.0.0.0:9000\"\n[discovery]\ninterfaces = [\"eth0\"]\n[broker]\nlisten = \"127.0.0.1:1884\"\n[secrets]\nstore = \"file\"\n",
            Path::new("h.toml"),
        )
        .unwrap();
        assert_eq!(c.http.listen.port(), 9000);
        assert_eq!(c.discovery.interfaces, ["eth0"]);
        assert_eq!(c.broker.listen.port(), 1884);
        assert_eq!(c.broker.connections_per_device.get(), 16);
        assert!(c.broker.enabled);
        assert_eq!(c.secrets.store, SecretStoreChoice::File);
        assert_eq!(c.network, NetworkConfig::default());
        let n = Config::parse(
            "[network]\ndns_listen = \"0.0.0.0:53\"\ndns_upstream = [\"10.0.0.1:53\"]\ndefault_level = \"home_only\"\n",
            Path::new("h.toml"),
        )
        .unwrap()
        .network;
        assert_eq!(n.dns_listen.map(|a| a.port()), Some(53));
        assert_eq!(n.default_level, hearth_core::network::InternetLevel::HomeOnly);
        let err = Config::parse("[network]\ndefault_level = \"anything\"\n", Path::new("hearth.toml")).unwrap_err().to_string();
        assert!(err.contains("default_level"), "{err}");
    }

    #[test]
    fn bad_values_name_the_file_and_the_key() {
        let err = Config::parse("[http]\nlisten = \"not an address\"\n", Path::new("/data/hearth.toml")).unwrap_err().to_string();
        assert!(err.contains("/data/hearth.toml") && err.contains("listen"), "{err}");
        let err = Config::parse("[http]\nlisen = \"127.0.0.1:1\"\n", Path::new("hearth.toml")).unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");
        let err = Config::parse("[secrets]\nstore = \"cloud\"\n", Path::new("hearth.toml")).unwrap_err().to_string();
        assert!(err.contains("store") && err.contains("cloud"), "{err}");
        let err = Config::parse("[broker]\nconnections_per_device = 0\n", Path::new("hearth.toml")).unwrap_err().to_string();
        assert!(err.contains("connections_per_device") && err.contains("nonzero"), "{err}");
    }
}
