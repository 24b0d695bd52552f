//! Hearth's own mDNS records: `_hearth._tcp` so a second Hearth window or a phone can find the
//! hub, and `_mqtt._tcp` so devices that look for a broker find Hearth's.

use crate::DiscoveryError;
use crate::browser::Advertisement;
use mdns_sd::{ServiceDaemon, ServiceInfo};

pub const HEARTH_SERVICE_TYPE: &str = "_hearth._tcp.local.";
pub const MQTT_SERVICE_TYPE: &str = "_mqtt._tcp.local.";
pub const SECURE_MQTT_SERVICE_TYPE: &str = "_secure-mqtt._tcp.local.";

/// Registers what `a` asks for: `_hearth._tcp` with TXT `version`, `api` (the HTTP port) and
/// `path=/api/v1`; `_mqtt._tcp` on the broker's port. Returns the full instance names, to
/// unregister on shutdown and to skip Hearth's own records when browsing.
pub fn advertise(daemon: &ServiceDaemon, a: &Advertisement) -> Result<Vec<String>, DiscoveryError> {
    let host = format!("{}.local.", a.host.trim_end_matches('.').trim_end_matches(".local"));
    let mut names = Vec::new();
    if let Some(http_port) = a.http_port {
        let port = http_port.to_string();
        let props = [("version", a.version.as_str()), ("api", port.as_str()), ("path", "/api/v1")];
        names.push(register(daemon, ServiceInfo::new(HEARTH_SERVICE_TYPE, &a.instance, &host, "", http_port, &props[..])?)?);
    }
    for (ty, port) in [(MQTT_SERVICE_TYPE, a.mqtt_port), (SECURE_MQTT_SERVICE_TYPE, a.mqtts_port)] {
        if let Some(port) = port {
            let props = [("version", a.version.as_str())];
            names.push(register(daemon, ServiceInfo::new(ty, &a.instance, &host, "", port, &props[..])?)?);
        }
    }
    Ok(names)
}

fn register(daemon: &ServiceDaemon, info: ServiceInfo) -> Result<String, DiscoveryError> {
    let info = info.enable_addr_auto();
    let fullname = info.get_fullname().to_owned();
    daemon.register(info)?;
    Ok(fullname)
}
