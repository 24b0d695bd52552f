//! A device as it is now, not only as the inventory filed it: connected to Hearth's broker
//! (online even when it announces nothing on mDNS), the address its connection comes from, and
//! what its own discovery messages say it is where no fingerprint could tell (an MQTT-only
//! Tasmota plug is a plug, a Sonoff S31), with the devices it speaks for (a bridge's Zigbee
//! devices). Every device the API or an event shows goes through [`Hub::live`].

use super::types::Device;
use crate::gate::session_key;
use crate::hub::Hub;
use hearth_core::device::DeviceId;
use hearth_core::fingerprint::Kind;
use hearth_core::self_described::{SelfDescription, understand};
use hearth_store::{Described, Store, StoreError};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;

/// What each device's discovery messages say of it, kept in memory so that a device can be
/// shown live while the store is locked (events are published under the store's lock).
#[derive(Debug, Default)]
pub struct SelfDescribed(RwLock<HashMap<DeviceId, SelfDescription>>);

impl SelfDescribed {
    /// Reads every device's filed discovery again, after a person's change (a merge or a forget
    /// moves or drops what was filed). At start the hub fills it with `set`.
    pub fn load(&self, store: &Store) -> Result<(), StoreError> {
        let mut all = HashMap::new();
        for id in store.describing_devices()? {
            let described = store.described(&id)?;
            all.insert(id, understand(&described.devices, &strip(described.entities)));
        }
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = all;
        Ok(())
    }

    /// What `id`'s discovery says of it, read from the store after one of its discovery
    /// messages was filed (the recorder reads it once, for this and for its readings).
    pub fn set(&self, id: &DeviceId, described: Described) {
        let understood = understand(&described.devices, &strip(described.entities));
        self.0.write().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), understood);
    }

    fn get(&self, id: &DeviceId) -> Option<SelfDescription> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }
}

fn strip<S, E, T>(entities: Vec<(S, E, T)>) -> Vec<(S, E)> {
    entities.into_iter().map(|(s, e, _)| (s, e)).collect()
}

impl Hub {
    /// Whether one of the device's clients is connected to the broker now.
    pub(crate) fn is_connected(&self, id: &DeviceId) -> bool {
        self.broker().is_some_and(|b| b.sessions().iter().any(|s| self.gate().device_of(&session_key(s)).as_ref() == Some(id)))
    }

    /// One device as it is now (see the module).
    pub(crate) fn live(&self, device: Device) -> Device {
        self.live_all(vec![device]).pop().expect("one device in, one out")
    }

    /// Devices as they are now; the broker's sessions are read once for all of them.
    pub(crate) fn live_all(&self, devices: Vec<Device>) -> Vec<Device> {
        let mut connected: HashMap<DeviceId, Vec<IpAddr>> = HashMap::new();
        for session in self.broker().map(|b| b.sessions()).unwrap_or_default() {
            if let Some(id) = self.gate().device_of(&session_key(&session)) {
                connected.entry(id).or_default().extend(session.remote.map(|r| r.ip()));
            }
        }
        devices
            .into_iter()
            .map(|mut device| {
                if let Some(from) = connected.get(&device.id) {
                    device.connected = true;
                    device.online = true;
                    device.addresses.extend(from.iter().map(IpAddr::to_string));
                    device.addresses.sort();
                    device.addresses.dedup();
                }
                if let Some(said) = self.self_described().get(&device.id) {
                    if device.kind == Kind::Unknown
                        && let Some(kind) = said.kind
                    {
                        device.kind = kind;
                        device.rule = "discovery".into();
                        device.reason = "what its own discovery messages say it is".into();
                    }
                    device.vendor = device.vendor.or(said.vendor);
                    device.model = device.model.or(said.model);
                    device.children = said.children;
                }
                device
            })
            .collect()
    }
}

/// A device connecting to or leaving the broker changes whether it is online: the list hears it
/// as any other change of the device. `BrokerChanged` also comes for every device that sent
/// something (twice a second at most), so only a change of "connected" is published.
pub async fn follow_connections(hub: Hub, cancel: tokio_util::sync::CancellationToken) {
    let mut events = hub.subscribe();
    let mut connected: std::collections::HashSet<DeviceId> = std::collections::HashSet::new();
    loop {
        let event = tokio::select! {
            () = cancel.cancelled() => return,
            event = events.recv() => event,
        };
        match event {
            Ok(super::types::Event::BrokerChanged { id }) => {
                let now = hub.is_connected(&id);
                if now == connected.contains(&id) {
                    continue;
                }
                if now {
                    connected.insert(id.clone());
                } else {
                    connected.remove(&id);
                }
                let store = hub.store();
                // Forgotten meanwhile: nothing to show.
                if let Ok(detail) = store.device(&id) {
                    hub.publish(super::types::Event::DeviceChanged { device: detail.device });
                }
            }
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
