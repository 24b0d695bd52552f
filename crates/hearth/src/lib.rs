//! The Hearth hub: wires discovery, the store and the API together and serves them.
//!
//! Map:
//! - [`engine`]: starts and stops everything (`hearth serve` and the desktop shell use it).
//! - [`hub`]: the hub's state and the inventory step that files discovery events.
//! - [`gate`]: answers the broker (`hearth_broker`) from in-memory policies; [`recorder`]
//!   writes its decisions to the store in batches; [`recording`] pauses it while the disk is full.
//! - [`readings`]: the latest value of what devices say they measure, in memory only, noted by
//!   the recorder from accepted publishes.
//! - [`api`]: the one command surface (methods on [`hub::Hub`]) and, in `api::types`, every
//!   type that crosses the API boundary, generated for TypeScript.
//! - [`http`]: the HTTP/WebSocket transport, sign-in and the embedded web UI.
//! - [`cli`] and [`client`]: the `hearth` command line and its client for a running hub.
//! - [`config`], [`data_dir`], [`secrets`], [`random`]: settings, files, keyring, tokens.
//! - [`sessions`]: browser sessions (in memory, written through to the store), ended at once.
//! - [`ca`]: Hearth's own certificate authority and the broker's TLS certificate.
//! - [`demo`]: the simulated home.
//!
//! Flow: mDNS → `hearth_discovery` → mpsc → [`hub::Hub::handle`] → store → broadcast of
//! [`api::types::Event`] → WebSocket / Tauri events → UI. People act through the API →
//! store (recorded with who and from where) → events.
//! MQTT: device → `hearth_broker` → [`gate::HubGate`] (state + manifest) → decision → broker
//! applies it; decision → mpsc → [`recorder`] → store.

pub mod api;
pub mod backup;
pub mod ca;
pub mod cli;
pub mod client;
pub mod config;
pub mod data_dir;
pub mod demo;
pub mod dns;
pub mod engine;
pub mod family;
pub mod firewall;
pub mod gate;
pub mod http;
pub mod hub;
pub mod mqtt_state;
pub mod network;
pub mod random;
pub mod readings;
mod recorded;
pub mod recorder;
pub mod recording;
pub mod secrets;
pub mod sessions;
pub mod source_address;
#[cfg(test)]
mod testing;

/// Logging for the binaries: `info` by default, `--verbose` for debug, `-vv` for trace;
/// `RUST_LOG` overrides.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        // rmqtt logs every refused CONNECT at info with the whole client id and username (up to
        // 64 KB each, from anyone on the network): Hearth logs its own, bounded and counted.
        // hickory-server logs every answer at info: Hearth records the queries it should.
        0 => {
            "info,mdns_sd=warn,rmqtt=error,rmqtt_net=error,rmqtt_codec=error,hickory_server=warn,hickory_resolver=warn,hickory_net=warn,hickory_proto=warn"
        }
        1 => "debug,mdns_sd=info,rmqtt=warn,rmqtt_net=warn,rmqtt_codec=warn",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
