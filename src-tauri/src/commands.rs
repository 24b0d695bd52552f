//! The window's commands: each delegates to the hub's one command surface (`hearth::api`).
//! Kept in their own module: a `#[tauri::command] pub fn` at the crate root clashes (E0255).
//! They are `async` and run the store call on a blocking thread: a synchronous command would run
//! on the main thread and freeze the window while SQLite works.

use hearth::api::types::{
    AddedDevice, AnonymousAccess, ApiError, BrokerView, CredentialAction, Device, DeviceDetail, DeviceExport, DeviceReview, EntityClaim,
    HomeReview, IdentityReview, IssuedCredential, MergeRequest, PrivacySettings, RedactionRequest, RetentionRequest, Status,
    TopicRuleRequest, Verdict,
};
use hearth::hub::Hub;
use tauri::State;

/// Where desktop actions are recorded as coming from.
const ORIGIN: &str = "desktop";

async fn blocking<T: Send + 'static>(hub: &Hub, f: impl FnOnce(&Hub) -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    let hub = hub.clone();
    tauri::async_runtime::spawn_blocking(move || f(&hub)).await.map_err(|e| ApiError::internal(format!("the command failed: {e}")))?
}

#[tauri::command]
pub async fn status(hub: State<'_, Hub>) -> Result<Status, ApiError> {
    blocking(&hub, Hub::status).await
}

#[tauri::command]
pub async fn list_devices(hub: State<'_, Hub>) -> Result<Vec<Device>, ApiError> {
    blocking(&hub, Hub::list_devices).await
}

#[tauri::command]
pub async fn device(hub: State<'_, Hub>, id: String) -> Result<DeviceDetail, ApiError> {
    blocking(&hub, move |hub| hub.device(&id)).await
}

#[tauri::command]
pub async fn decide(hub: State<'_, Hub>, id: String, decision: Verdict) -> Result<Device, ApiError> {
    blocking(&hub, move |hub| hub.decide(&id, decision, ORIGIN)).await
}

#[tauri::command]
pub async fn forget(hub: State<'_, Hub>, id: String) -> Result<(), ApiError> {
    blocking(&hub, move |hub| hub.forget(&id, ORIGIN)).await
}

#[tauri::command]
pub async fn add_device(hub: State<'_, Hub>, name: String) -> Result<AddedDevice, ApiError> {
    blocking(&hub, move |hub| hub.add_device(&name, ORIGIN)).await
}

#[tauri::command]
pub async fn broker_view(hub: State<'_, Hub>, id: String) -> Result<BrokerView, ApiError> {
    blocking(&hub, move |hub| hub.broker_view(&id)).await
}

#[tauri::command]
pub async fn credential(hub: State<'_, Hub>, id: String, action: CredentialAction) -> Result<Option<IssuedCredential>, ApiError> {
    blocking(&hub, move |hub| hub.credential(&id, action, ORIGIN)).await
}

#[tauri::command]
pub async fn bind_client_id(hub: State<'_, Hub>, id: String, client_id: Option<String>) -> Result<BrokerView, ApiError> {
    blocking(&hub, move |hub| hub.bind_client_id(&id, client_id.as_deref(), ORIGIN)).await
}

#[tauri::command]
pub async fn set_anonymous(hub: State<'_, Hub>, id: String, access: Option<AnonymousAccess>) -> Result<BrokerView, ApiError> {
    blocking(&hub, move |hub| hub.set_anonymous(&id, access, ORIGIN)).await
}

#[tauri::command]
pub async fn set_topic_rule(hub: State<'_, Hub>, id: String, request: TopicRuleRequest) -> Result<BrokerView, ApiError> {
    blocking(&hub, move |hub| hub.set_topic_rule(&id, &request, ORIGIN)).await
}

#[tauri::command]
pub async fn give_entity(hub: State<'_, Hub>, id: String, claim: EntityClaim) -> Result<BrokerView, ApiError> {
    blocking(&hub, move |hub| hub.give_entity(&id, &claim, ORIGIN)).await
}

#[tauri::command]
pub async fn identity_review(hub: State<'_, Hub>) -> Result<IdentityReview, ApiError> {
    blocking(&hub, Hub::identity_review).await
}

#[tauri::command]
pub async fn answer_merge(hub: State<'_, Hub>, id: String, request: MergeRequest) -> Result<DeviceDetail, ApiError> {
    blocking(&hub, move |hub| hub.answer_merge(&id, &request, ORIGIN)).await
}

#[tauri::command]
pub async fn review(hub: State<'_, Hub>, id: String, since: String) -> Result<DeviceReview, ApiError> {
    blocking(&hub, move |hub| hub.review(&id, hearth::api::parse_duration(&since)?)).await
}

#[tauri::command]
pub async fn home_review(hub: State<'_, Hub>, since: String) -> Result<HomeReview, ApiError> {
    blocking(&hub, move |hub| hub.home_review(hearth::api::parse_duration(&since)?)).await
}

#[tauri::command]
pub async fn privacy(hub: State<'_, Hub>, id: String) -> Result<PrivacySettings, ApiError> {
    blocking(&hub, move |hub| hub.privacy(&id)).await
}

#[tauri::command]
pub async fn set_retention(hub: State<'_, Hub>, id: String, request: RetentionRequest) -> Result<PrivacySettings, ApiError> {
    blocking(&hub, move |hub| hub.set_retention(&id, &request, ORIGIN)).await
}

#[tauri::command]
pub async fn set_redaction(hub: State<'_, Hub>, id: String, request: RedactionRequest) -> Result<PrivacySettings, ApiError> {
    blocking(&hub, move |hub| hub.set_redaction(&id, &request, ORIGIN)).await
}

#[tauri::command]
pub async fn export_device(hub: State<'_, Hub>, id: String) -> Result<DeviceExport, ApiError> {
    blocking(&hub, move |hub| hub.export(&id)).await
}

#[tauri::command]
pub async fn export_csv(hub: State<'_, Hub>, id: String) -> Result<String, ApiError> {
    blocking(&hub, move |hub| hub.export_csv(&id)).await
}

#[tauri::command]
pub async fn network_view(hub: State<'_, Hub>, id: String) -> Result<hearth::api::network::NetworkView, ApiError> {
    blocking(&hub, move |hub| hub.network_view(&id)).await
}

#[tauri::command]
pub async fn set_internet_level(
    hub: State<'_, Hub>,
    id: String,
    level: hearth::api::network::InternetLevel,
) -> Result<hearth::api::network::NetworkView, ApiError> {
    blocking(&hub, move |hub| hub.set_internet_level(&id, level, ORIGIN)).await
}

#[tauri::command]
pub async fn set_domain(
    hub: State<'_, Hub>,
    id: String,
    request: hearth::api::network::DomainRequest,
) -> Result<hearth::api::network::NetworkView, ApiError> {
    blocking(&hub, move |hub| hub.set_domain(&id, &request, ORIGIN)).await
}

#[tauri::command]
pub async fn allow_waiting(hub: State<'_, Hub>, id: String) -> Result<hearth::api::network::NetworkView, ApiError> {
    blocking(&hub, move |hub| hub.allow_waiting(&id, ORIGIN)).await
}

#[tauri::command]
pub async fn home_network(hub: State<'_, Hub>) -> Result<hearth::api::network::HomeNetwork, ApiError> {
    blocking(&hub, move |hub| hub.home_network()).await
}

#[tauri::command]
pub async fn export_firewall(hub: State<'_, Hub>, format: String) -> Result<String, ApiError> {
    blocking(&hub, move |hub| hub.export_firewall(&format)).await
}
