//! The window's one command, `call`: it runs any of the hub's declared commands
//! (`hearth::api::commands`) as the local owner (the person at this machine), through the same
//! check as every HTTP request. One command means nothing to keep in step: a new hub command
//! needs no change here, in `build.rs` or in the capabilities.
//! It is `async` and runs the store call on a blocking thread: a synchronous command would run on
//! the main thread and freeze the window while SQLite works.

use hearth::api::types::ApiError;
use hearth::family::Caller;
use hearth::hub::Hub;
use tauri::State;

/// Where desktop actions are recorded as coming from.
const ORIGIN: &str = "desktop";

#[tauri::command]
pub async fn call(hub: State<'_, Hub>, command: String, args: Option<serde_json::Value>) -> Result<serde_json::Value, ApiError> {
    let hub = hub.inner().clone();
    tauri::async_runtime::spawn_blocking(move || hub.call(&Caller::local_owner(ORIGIN), &command, args.unwrap_or_default()))
        .await
        .map_err(|e| ApiError::internal(format!("the command failed: {e}")))?
}
