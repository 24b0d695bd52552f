//! The one command surface of Hearth. The HTTP server, the Tauri shell and tests call these
//! methods; none of them reaches the store or discovery directly.

pub mod audit;
mod broker;
pub mod commands;
pub mod control;
mod csv;
pub mod family;
#[cfg(test)]
mod family_tests;
mod identity;
pub mod limits;
pub(crate) mod live;
pub mod network;
pub mod readings;
mod review;
mod sessions;
mod shown;

pub use review::parse_duration;
pub mod types;

use crate::family::Caller;
use crate::hub::Hub;
use types::{ApiError, Device, DeviceDetail, DeviceId, Event, Status, Verdict};

/// Where a request came from, recorded in the history (`cli`, `web`, `desktop`).
pub type Origin = &'static str;

impl Hub {
    pub fn device(&self, id: &str) -> Result<DeviceDetail, ApiError> {
        let mut detail = self.store().device(&parse_id(id)?)?;
        detail.device = self.live(detail.device);
        Ok(detail)
    }

    /// Names a device as the household calls it.
    pub fn rename(&self, id: &str, name: &str, caller: &Caller) -> Result<Device, ApiError> {
        let id = parse_id(id)?;
        let name = limits::one_line("name", name, limits::DEVICE_NAME_CHARS)?;
        let mut store = self.store();
        let device = self.live(store.rename_device(&id, name, &caller.actor(), caller.origin, now())?);
        tracing::info!(%id, origin = caller.origin, "device renamed");
        self.publish(Event::DeviceChanged { device: device.clone() });
        Ok(device)
    }

    /// Approves or blocks a device. The decision is recorded with the actor and origin.
    pub fn decide(&self, id: &str, decision: Verdict, caller: &Caller) -> Result<Device, ApiError> {
        let id = parse_id(id)?;
        // Published under the store lock: see `Hub::handle`.
        let mut store = self.store();
        // Undo of an approval only: it must not lift a block made meanwhile.
        if decision == Verdict::Quarantine && store.device(&id)?.device.state != types::DeviceState::Approved {
            return Err(ApiError::bad_request(format!("{id} is not approved now; only an approval can be undone (back to new)")));
        }
        let (device, changed) = store.set_state(&id, decision.state(), &caller.actor(), caller.origin, now())?;
        if changed {
            self.reload_policies(&store)?;
            if device.state == types::DeviceState::Blocked {
                self.disconnect(&id);
                self.clear_retained(&self.gate().usernames_of(&id), None);
            }
            tracing::info!(%id, state = %device.state, origin = caller.origin, "device state changed");
            self.publish(Event::DeviceChanged { device: device.clone() });
        }
        Ok(self.live(device))
    }

    /// Deletes the device and every row about it, then compacts the database so that what it
    /// sent is gone from the file, not just unlinked. If it announces itself again, it comes back
    /// as a new device, in quarantine.
    pub fn forget(&self, id: &str, caller: &Caller) -> Result<(), ApiError> {
        let id = parse_id(id)?;
        let mut store = self.store();
        let usernames = self.gate().usernames_of(&id);
        store.forget(&id, &caller.actor(), caller.origin, now())?;
        self.live_readings().forget(&id);
        self.reload_policies(&store)?;
        self.reload_household(&store)?;
        self.disconnect_usernames(&usernames);
        self.clear_retained(&usernames, None);
        tracing::info!(%id, origin = caller.origin, "device forgotten");
        self.publish(Event::DeviceRemoved { id: id.clone(), merged_into: None });
        let started = std::time::Instant::now();
        store.compact().map_err(|e| {
            ApiError::internal(format!(
                "{id} is forgotten, but the database could not be compacted ({e}), so its bytes may stay in the file until the next forget; free some disk space and forget another device, or run `hearth serve` again"
            ))
        })?;
        tracing::info!(ms = started.elapsed().as_millis() as u64, "database compacted after forgetting a device");
        Ok(())
    }

    pub fn status(&self) -> Result<Status, ApiError> {
        self.status_counting(|_| true)
    }

    /// The status, its device counts of the devices `counted` keeps (one read of the inventory).
    pub(crate) fn status_counting(&self, counted: impl Fn(&Device) -> bool) -> Result<Status, ApiError> {
        let devices: Vec<Device> = self.live_all(self.store().devices()?.into_iter().filter(|d| counted(d)).collect());
        let (refused_connections, refused_addresses) = self.store().refused_attempts_since(now() - 24 * 3600 * 1000)?;
        let retained = self.broker().map(hearth_broker::Broker::retained_totals).unwrap_or_default();
        let count = |f: &dyn Fn(&Device) -> bool| devices.iter().filter(|d| f(d)).count() as u32;
        Ok(Status {
            version: env!("CARGO_PKG_VERSION").into(),
            data_dir: self.data_dir().display().to_string(),
            secret_storage: self.secret_storage().clone(),
            discovery: self.discovery_status(),
            broker: types::BrokerStatus {
                enabled: self.broker().is_some(),
                address: self.broker().map(|_| self.broker_address()),
                tls_address: self.broker_tls_address(),
                connections: self.broker().map_or(0, |b| b.sessions().len() as u32),
                lost_messages: self.broker().map_or(0, hearth_broker::Broker::lost_messages),
                unrecorded_decisions: self.gate().unrecorded(),
                payloads_dropped: self.gate().ledger_drops().0,
                aggregated_messages: self.gate().ledger_drops().1,
                retained: types::RetainedView { messages: retained.messages, bytes: retained.bytes, refused: retained.refused },
                refused_connections,
                refused_addresses,
            },
            ca: self.ca_status(),
            devices: devices.len() as u32,
            devices_new: count(&|d| d.state == types::DeviceState::New),
            devices_online: count(&|d| d.online),
            recording: self.recording().status(),
            last_shutdown: self.last_shutdown(),
            network: self.network_status(),
        })
    }
}

pub(crate) fn parse_id(id: &str) -> Result<DeviceId, ApiError> {
    // Quoted back cut short: a path of megabytes must not come back in the answer.
    DeviceId::parse(id).map_err(|_| ApiError::bad_request(hearth_core::device::InvalidDeviceId(limits::quoted(id)).to_string()))
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
