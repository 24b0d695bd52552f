//! The HTTP transport: `/api/v1/...` (JSON), `/api/v1/events` (WebSocket), `/login` and the
//! web UI. Handlers only translate between HTTP and [`Hub`]'s commands.

mod auth;
mod events;
mod limiter;
mod network;
mod review;
pub mod serve;
mod sessions;
mod ui;

pub use auth::Auth;

use crate::api::types::{ApiError, ErrorCode, Verdict};
use crate::hub::Hub;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct AppState {
    pub hub: Hub,
    pub auth: Arc<Auth>,
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/status", get(status))
        .route("/devices", get(devices))
        .route("/devices/{id}", get(device))
        .route("/devices/{id}", delete(forget))
        .route("/devices/{id}/approve", post(approve))
        .route("/devices/{id}/block", post(block))
        .route("/devices", post(add_device))
        .route("/devices/{id}/credential", post(credential))
        .route("/devices/{id}/broker", get(broker_view))
        .route("/devices/{id}/topics", post(set_topic_rule))
        .route("/devices/{id}/client-id", post(bind_client_id))
        .route("/devices/{id}/anonymous", post(set_anonymous))
        .route("/devices/{id}/merge", post(answer_merge))
        .route("/devices/{id}/entities", post(give_entity))
        .route("/identity", get(identity_review))
        .route("/devices/{id}/network", get(network::view))
        .route("/devices/{id}/network/level", post(network::set_level))
        .route("/devices/{id}/network/destinations", post(network::set_domain))
        .route("/devices/{id}/network/allow-waiting", post(network::allow_waiting))
        .route("/devices/{id}/mud", get(network::export_mud).post(network::import_mud))
        .route("/network", get(network::home))
        .route("/network/export", get(network::export_firewall))
        .route("/devices/{id}/review", get(review::device_review))
        .route("/review", get(review::home_review))
        .route("/devices/{id}/privacy", get(review::privacy))
        .route("/devices/{id}/privacy/retention", post(review::set_retention))
        .route("/devices/{id}/privacy/redactions", post(review::set_redaction))
        .route("/devices/{id}/export", get(review::export))
        .route("/devices/{id}/export.csv", get(review::export_csv))
        .route("/events", get(events::stream))
        .route("/sessions", get(sessions::list).delete(sessions::end_others))
        .route("/sessions/{id}", delete(sessions::end_one))
        .route("/login-links", post(auth::new_login_link))
        .fallback(|| async { ApiError::not_found("no such API endpoint; the API is under /api/v1 (see the README)") })
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require));
    Router::new().nest("/api/v1", api).route("/login", get(auth::login)).fallback(ui::serve).with_state(state)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self.code {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        (status, Json(self)).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// A JSON request body whose problems are answered as `{code, message}` like every other error.
struct Body<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(request, state).await.map(|Json(value)| Body(value)).map_err(|e| {
            // serde quotes what it could not read: cut short, a huge body is not echoed back.
            let why = crate::api::limits::cut(&e.body_text(), crate::api::limits::BODY_ERROR_CHARS);
            ApiError::bad_request(format!("the request body is not what this endpoint takes: {why}"))
        })
    }
}

/// Store calls are synchronous; run them off the async workers so a slow disk never stalls
/// the WebSocket stream or other requests.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(format!("request failed: {e}")))?.map(Json)
}

async fn status(State(s): State<AppState>) -> ApiResult<crate::api::types::Status> {
    blocking(move || s.hub.status()).await
}

async fn give_entity(
    State(s): State<AppState>,
    origin: auth::Origin,
    Path(id): Path<String>,
    Body(claim): Body<crate::api::types::EntityClaim>,
) -> ApiResult<crate::api::types::BrokerView> {
    blocking(move || s.hub.give_entity(&id, &claim, origin.0)).await
}

async fn identity_review(State(s): State<AppState>) -> ApiResult<crate::api::types::IdentityReview> {
    blocking(move || s.hub.identity_review()).await
}

async fn answer_merge(
    State(s): State<AppState>,
    origin: auth::Origin,
    Path(id): Path<String>,
    Body(request): Body<crate::api::types::MergeRequest>,
) -> ApiResult<crate::api::types::DeviceDetail> {
    blocking(move || s.hub.answer_merge(&id, &request, origin.0)).await
}

async fn devices(State(s): State<AppState>) -> ApiResult<Vec<crate::api::types::Device>> {
    blocking(move || s.hub.list_devices()).await
}

async fn device(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<crate::api::types::DeviceDetail> {
    blocking(move || s.hub.device(&id)).await
}

async fn approve(State(s): State<AppState>, origin: auth::Origin, Path(id): Path<String>) -> ApiResult<crate::api::types::Device> {
    blocking(move || s.hub.decide(&id, Verdict::Approve, origin.0)).await
}

async fn block(State(s): State<AppState>, origin: auth::Origin, Path(id): Path<String>) -> ApiResult<crate::api::types::Device> {
    blocking(move || s.hub.decide(&id, Verdict::Block, origin.0)).await
}

async fn forget(State(s): State<AppState>, origin: auth::Origin, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    blocking(move || s.hub.forget(&id, origin.0)).await.map(|_| StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Deserialize)]
struct AddDevice {
    name: String,
}

async fn add_device(
    State(s): State<AppState>,
    origin: auth::Origin,
    Body(body): Body<AddDevice>,
) -> ApiResult<crate::api::types::AddedDevice> {
    blocking(move || s.hub.add_device(&body.name, origin.0)).await
}

#[derive(Debug, serde::Deserialize)]
struct CredentialRequest {
    action: crate::api::types::CredentialAction,
}

async fn credential(
    State(s): State<AppState>,
    origin: auth::Origin,
    Path(id): Path<String>,
    Body(body): Body<CredentialRequest>,
) -> ApiResult<Option<crate::api::types::IssuedCredential>> {
    blocking(move || s.hub.credential(&id, body.action, origin.0)).await
}

async fn broker_view(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<crate::api::types::BrokerView> {
    blocking(move || s.hub.broker_view(&id)).await
}

async fn set_topic_rule(
    State(s): State<AppState>,
    origin: auth::Origin,
    Path(id): Path<String>,
    Body(body): Body<crate::api::types::TopicRuleRequest>,
) -> ApiResult<crate::api::types::BrokerView> {
    blocking(move || s.hub.set_topic_rule(&id, &body, origin.0)).await
}

async fn bind_client_id(
    State(s): State<AppState>,
    origin: auth::Origin,
    Path(id): Path<String>,
    Body(body): Body<crate::api::types::ClientIdBinding>,
) -> ApiResult<crate::api::types::BrokerView> {
    blocking(move || s.hub.bind_client_id(&id, body.client_id.as_deref(), origin.0)).await
}

async fn set_anonymous(
    State(s): State<AppState>,
    origin: auth::Origin,
    Path(id): Path<String>,
    Body(body): Body<Option<crate::api::types::AnonymousAccess>>,
) -> ApiResult<crate::api::types::BrokerView> {
    blocking(move || s.hub.set_anonymous(&id, body, origin.0)).await
}
