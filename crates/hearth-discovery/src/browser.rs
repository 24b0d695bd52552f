//! The mDNS browser: mdns-sd events in, typed discovery events out.

use crate::DiscoveryError;
use crate::advertise::advertise;
use crate::service_types::{BROWSED, META_QUERY, fully_qualified, type_from_meta_answer};
use hearth_core::sighting::Sighting;
use mdns_sd::{DaemonEvent, IfKind, ServiceDaemon, ServiceEvent};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How many service types the meta-query may add. Bounds what a hostile responder announcing
/// thousands of made-up types can make Hearth browse.
const MAX_FOLLOWED_TYPES: usize = 256;

/// How often mdns-sd re-reads the host's interfaces. Short enough that a Wi-Fi interface that
/// comes back is used again within seconds; each check is one cheap getifaddrs call.
const INTERFACE_CHECK_SECS: u32 = 5;

#[derive(Debug, Clone, Default)]
pub struct DiscoveryConfig {
    /// Interface names to use; empty means all.
    pub interfaces: Vec<String>,
    /// Hearth's own record, if it should be announced.
    pub advertise: Option<Advertisement>,
}

#[derive(Debug, Clone)]
pub struct Advertisement {
    pub instance: String,
    pub host: String,
    /// The web UI and API (`_hearth._tcp`), when others can reach them.
    pub http_port: Option<u16>,
    /// The MQTT broker (`_mqtt._tcp`), when others can reach it.
    pub mqtt_port: Option<u16>,
    /// MQTT over TLS (`_secure-mqtt._tcp`), when others can reach it.
    pub mqtts_port: Option<u16>,
    pub version: String,
}

/// What discovery tells the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryEvent {
    /// A service instance was resolved (first time, or its records changed).
    Seen(Sighting),
    /// A service instance said goodbye or its records expired.
    Gone { service_type: String, instance: String },
    /// The meta-query revealed a service type Hearth was not browsing; it is browsed now.
    TypeFollowed(String),
    /// The host's interfaces changed (an address came or went).
    InterfacesChanged(String),
}

/// A running discovery. Dropping it without [`Discovery::shutdown`] leaves the daemon thread
/// running until the process ends.
#[allow(missing_debug_implementations)] // ServiceDaemon has no Debug.
pub struct Discovery {
    daemon: ServiceDaemon,
    cancel: CancellationToken,
    tasks: TaskTracker,
    /// Hearth's own records: skipped when browsing, said goodbye to at shutdown.
    own_record: Vec<String>,
}

#[derive(Clone)]
struct Shared {
    daemon: ServiceDaemon,
    browsed: Arc<Mutex<HashSet<String>>>,
    /// Hearth's own records: skipped when browsing, said goodbye to at shutdown.
    own_record: Vec<String>,
    events: mpsc::Sender<DiscoveryEvent>,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl Discovery {
    /// Starts the daemon, browses every known type and the meta-query, and advertises Hearth.
    /// Must be called inside a tokio runtime.
    pub fn start(config: DiscoveryConfig, events: mpsc::Sender<DiscoveryEvent>) -> Result<Self, DiscoveryError> {
        let daemon = ServiceDaemon::new().map_err(DiscoveryError::Start)?;
        if !config.interfaces.is_empty() {
            daemon.disable_interface(IfKind::All)?;
            for name in &config.interfaces {
                daemon.enable_interface(IfKind::Name(name.clone()))?;
            }
        }
        daemon.set_ip_check_interval(INTERFACE_CHECK_SECS)?;
        let own_record = match &config.advertise {
            Some(a) => advertise(&daemon, a)?,
            None => vec![],
        };
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let shared = Shared {
            daemon: daemon.clone(),
            browsed: Arc::default(),
            own_record: own_record.clone(),
            events,
            cancel: cancel.clone(),
            tasks: tasks.clone(),
        };
        for ty in BROWSED {
            shared.browse(&fully_qualified(ty))?;
        }
        shared.follow_meta_query()?;
        shared.watch_interfaces()?;
        tracing::info!(types = BROWSED.len(), interfaces = ?config.interfaces, "discovery started");
        Ok(Self { daemon, cancel, tasks, own_record })
    }

    /// Says goodbye for Hearth's own record, stops browsing and waits for every task.
    pub async fn shutdown(self) {
        for name in &self.own_record {
            if let Ok(rx) = self.daemon.unregister(name) {
                // The goodbye packet is sent within a few ms; don't hang shutdown on it.
                let _ = tokio::time::timeout(std::time::Duration::from_secs(1), rx.recv_async()).await;
            }
        }
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        if let Ok(rx) = self.daemon.shutdown() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), rx.recv_async()).await;
        }
        tracing::info!("discovery stopped");
    }
}

impl Shared {
    /// The next event from one of mdns-sd's channels, or None once discovery is cancelled or the
    /// daemon closed the channel.
    async fn next<T>(&self, rx: &mdns_sd::Receiver<T>) -> Option<T> {
        tokio::select! {
            () = self.cancel.cancelled() => None,
            event = rx.recv_async() => event.ok(),
        }
    }

    /// Browses one fully qualified type unless it is browsed already.
    fn browse(&self, ty_domain: &str) -> Result<bool, DiscoveryError> {
        {
            let mut browsed = self.browsed.lock().unwrap_or_else(|poison| poison.into_inner());
            if browsed.contains(ty_domain) {
                return Ok(false);
            }
            if browsed.len() >= BROWSED.len() + MAX_FOLLOWED_TYPES {
                tracing::warn!(ty_domain, "not following more service types: limit reached");
                return Ok(false);
            }
            browsed.insert(ty_domain.to_owned());
        }
        let rx = self.daemon.browse(ty_domain)?;
        let this = self.clone();
        self.tasks.spawn(async move {
            while let Some(event) = this.next(&rx).await {
                if let Some(out) = this.translate(event)
                    && this.events.send(out).await.is_err()
                {
                    break;
                }
            }
        });
        Ok(true)
    }

    fn translate(&self, event: ServiceEvent) -> Option<DiscoveryEvent> {
        match event {
            ServiceEvent::ServiceResolved(svc) => {
                if self.own_record.contains(&svc.fullname) {
                    return None;
                }
                let instance = instance_name(&svc.fullname, &svc.ty_domain);
                let txt = svc.txt_properties.iter().map(|p| (p.key().to_owned(), p.val().map(<[u8]>::to_vec).unwrap_or_default()));
                let addresses = svc.addresses.iter().map(|a| a.to_ip_addr()).collect();
                Some(DiscoveryEvent::Seen(Sighting::new(&svc.ty_domain, instance, &svc.host, addresses, svc.port, txt)))
            }
            ServiceEvent::ServiceRemoved(ty_domain, fullname) => {
                if self.own_record.contains(&fullname) {
                    return None;
                }
                let probe = Sighting::new(&ty_domain, instance_name(&fullname, &ty_domain), "", vec![], 0, []);
                Some(DiscoveryEvent::Gone { service_type: probe.service_type, instance: probe.instance })
            }
            _ => None,
        }
    }

    /// Sends the meta-query and browses each type its answers name.
    fn follow_meta_query(&self) -> Result<(), DiscoveryError> {
        let rx = self.daemon.browse(META_QUERY)?;
        let this = self.clone();
        self.tasks.spawn(async move {
            while let Some(event) = this.next(&rx).await {
                let ServiceEvent::ServiceFound(_, target) = event else { continue };
                let Some(ty) = type_from_meta_answer(&target) else {
                    tracing::debug!(target, "ignored a meta-query answer that names no service type");
                    continue;
                };
                match this.browse(&fully_qualified(&ty)) {
                    Ok(true) => {
                        tracing::info!(ty, answer = target, "meta-query revealed a service type; browsing it");
                        if this.events.send(DiscoveryEvent::TypeFollowed(ty)).await.is_err() {
                            break;
                        }
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(ty, "cannot browse a type the meta-query revealed: {e}"),
                }
            }
        });
        Ok(())
    }

    /// Interface churn is normal (Wi-Fi drops, a VPN comes up): log it and carry on; mdns-sd
    /// re-reads the interfaces itself.
    fn watch_interfaces(&self) -> Result<(), DiscoveryError> {
        let rx = self.daemon.monitor()?;
        let this = self.clone();
        self.tasks.spawn(async move {
            while let Some(event) = this.next(&rx).await {
                let note = match event {
                    DaemonEvent::IpAdd(ip) => format!("address {ip} appeared"),
                    DaemonEvent::IpDel(ip) => format!("address {ip} went away"),
                    DaemonEvent::Error(e) => {
                        tracing::warn!("mDNS: {e}");
                        continue;
                    }
                    _ => continue,
                };
                tracing::info!("network interfaces changed: {note}");
                if this.events.send(DiscoveryEvent::InterfacesChanged(note)).await.is_err() {
                    break;
                }
            }
        });
        Ok(())
    }
}

/// `Kitchen Plug._hap._tcp.local.` with type `_hap._tcp.local.` → `Kitchen Plug`.
fn instance_name<'a>(fullname: &'a str, ty_domain: &str) -> &'a str {
    fullname.strip_suffix(ty_domain).map(|s| s.trim_end_matches('.')).unwrap_or(fullname)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names() {
        assert_eq!(instance_name("Kitchen Plug._hap._tcp.local.", "_hap._tcp.local."), "Kitchen Plug");
        assert_eq!(instance_name("a.b.c._http._tcp.local.", "_http._tcp.local."), "a.b.c");
        assert_eq!(instance_name("odd", "_http._tcp.local."), "odd");
    }
}
