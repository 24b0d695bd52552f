//! Discovery: finds the home's devices over mDNS/DNS-SD and announces Hearth itself.
//!
//! Map:
//! - [`service_types`]: the fixed list of service types Hearth browses, and how a type is read
//!   out of a meta-query answer (many responders answer it wrongly).
//! - [`browser`]: runs the mdns-sd daemon, browses every type plus the DNS-SD meta-query,
//!   follows new types the meta-query reveals, and turns mdns-sd events into typed
//!   [`DiscoveryEvent`]s on one channel.
//! - [`advertise`]: Hearth's own records: `_hearth._tcp` (web UI, API) and `_mqtt._tcp` (broker).
//!
//! Flow: network → mdns-sd daemon thread → one flume receiver per browsed type → a tokio task
//! per type → one bounded mpsc of [`DiscoveryEvent`] → the hub's inventory task.

pub mod advertise;
pub mod browser;
pub mod service_types;

pub use browser::{Discovery, DiscoveryConfig, DiscoveryEvent};

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error(
        "cannot start mDNS (UDP port 5353 on the chosen interfaces): {0}. Check that the interfaces exist and that multicast is allowed"
    )]
    Start(mdns_sd::Error),
    #[error("mDNS: {0}")]
    Mdns(#[from] mdns_sd::Error),
}
