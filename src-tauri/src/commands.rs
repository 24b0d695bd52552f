//! The window's commands: each delegates to the hub's one command surface (`hearth::api`).
//! Kept in their own module: a `#[tauri::command] pub fn` at the crate root clashes (E0255).

use hearth::api::types::{ApiError, Decision, Device, DeviceDetail, Status};
use hearth::hub::Hub;
use tauri::State;

/// Where desktop actions are recorded as coming from.
const ORIGIN: &str = "desktop";

#[tauri::command]
pub fn status(hub: State<'_, Hub>) -> Result<Status, ApiError> {
    hub.status()
}

#[tauri::command]
pub fn list_devices(hub: State<'_, Hub>) -> Result<Vec<Device>, ApiError> {
    hub.list_devices()
}

#[tauri::command]
pub fn device(hub: State<'_, Hub>, id: String) -> Result<DeviceDetail, ApiError> {
    hub.device(&id)
}

#[tauri::command]
pub fn decide(hub: State<'_, Hub>, id: String, decision: Decision) -> Result<Device, ApiError> {
    hub.decide(&id, decision, ORIGIN)
}

#[tauri::command]
pub fn forget(hub: State<'_, Hub>, id: String) -> Result<(), ApiError> {
    hub.forget(&id, ORIGIN)
}
