//! Hearth's own mDNS record, so a second Hearth window or a phone can find the hub.

use crate::DiscoveryError;
use mdns_sd::{ServiceDaemon, ServiceInfo};

pub const HEARTH_SERVICE_TYPE: &str = "_hearth._tcp.local.";

/// Registers `_hearth._tcp` with TXT `version` and `api` (the HTTP port, with `path=/api/v1`).
/// Returns the full instance name, to unregister on shutdown and to skip our own record when
/// browsing.
pub fn advertise(daemon: &ServiceDaemon, instance: &str, host: &str, http_port: u16, version: &str) -> Result<String, DiscoveryError> {
    let port = http_port.to_string();
    let props = [("version", version), ("api", port.as_str()), ("path", "/api/v1")];
    let host = format!("{}.local.", host.trim_end_matches('.').trim_end_matches(".local"));
    let info = ServiceInfo::new(HEARTH_SERVICE_TYPE, instance, &host, "", http_port, &props[..])?.enable_addr_auto();
    let fullname = info.get_fullname().to_owned();
    daemon.register(info)?;
    Ok(fullname)
}
