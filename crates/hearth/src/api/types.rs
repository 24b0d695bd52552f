//! Every type that crosses the API boundary (HTTP, WebSocket, Tauri IPC), in one place.
//! Each derives `TS`; `cargo test` regenerates `ui/src/generated/` and CI fails if the
//! checked-in files differ.

pub use crate::secrets::SecretStorage;
pub use hearth_core::device::{Actor, DeviceId, DeviceState};
pub use hearth_core::fingerprint::Kind;
pub use hearth_core::inventory::{Device, DeviceDetail, Service, StateChange};
pub use hearth_core::sighting::TxtEntry;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Machine-readable error kinds; `message` says what happened and what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    TooManyRequests,
    Internal,
    Unavailable,
}

/// The one error shape of the API: `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message}")]
#[ts(export)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

impl From<hearth_store::StoreError> for ApiError {
    fn from(e: hearth_store::StoreError) -> Self {
        match e {
            hearth_store::StoreError::UnknownDevice(_) => Self::not_found(e.to_string()),
            hearth_store::StoreError::DiskFull(_) => Self::new(ErrorCode::Unavailable, e.to_string()),
            other => {
                tracing::error!("store: {other}");
                Self::internal(other.to_string())
            }
        }
    }
}

/// A person's verdict on a device (named apart from the gate's per-packet `Decision` of DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Verdict {
    Approve,
    Block,
}

impl Verdict {
    pub fn state(self) -> DeviceState {
        match self {
            Self::Approve => DeviceState::Approved,
            Self::Block => DeviceState::Blocked,
        }
    }
}

/// What the live stream (WebSocket `/api/v1/events`, Tauri event `hearth://event`) carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum Event {
    /// A device was seen for the first time.
    DeviceSeen { device: Device },
    /// Something about a device changed (a service, an address, its state, back online).
    DeviceChanged { device: Device },
    /// A device stopped announcing itself: offline, not deleted.
    DeviceLost { device: Device },
    /// A device was forgotten, or merged into another record.
    DeviceRemoved { id: DeviceId, merged_into: Option<DeviceId> },
    /// The listener fell behind and missed events: reload the list.
    Resync,
}

/// The hub's state, for the status bar and `hearth status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Status {
    pub version: String,
    pub data_dir: String,
    pub secret_storage: SecretStorage,
    pub discovery: DiscoveryStatus,
    pub devices: u32,
    pub devices_new: u32,
    pub devices_online: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DiscoveryStatus {
    pub enabled: bool,
    /// Interfaces in use; empty means all.
    pub interfaces: Vec<String>,
    /// Service types browsed, including those the meta-query revealed.
    pub service_types: Vec<String>,
    /// Set when discovery could not start, with what to do.
    pub error: Option<String>,
}
