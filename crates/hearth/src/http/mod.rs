//! The HTTP transport: `/api/v1/...` (JSON), `/api/v1/events` (WebSocket), `/login` and the
//! web UI. Handlers only translate between HTTP and [`Hub`]'s commands.

mod auth;
mod events;
pub(crate) mod limiter;
mod request_budget;
mod review;
pub mod serve;
mod sessions;
mod ui;

pub use auth::Auth;

use crate::api::commands;
use crate::api::types::{ApiError, ErrorCode};
use crate::family::Caller;
use crate::hub::Hub;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct AppState {
    pub hub: Hub,
    pub auth: Arc<Auth>,
}

pub fn router(state: AppState) -> Router {
    let mut api = Router::new();
    // One route per declared command; each goes through `Hub::call`, which checks what the
    // command needs before running it.
    for spec in commands::COMMANDS {
        let handler = move |State(s): State<AppState>,
                            caller: Caller,
                            Path(path): Path<HashMap<String, String>>,
                            Query(query): Query<HashMap<String, String>>,
                            body: Bytes| async move { command(s, caller, spec, path, query, body).await };
        let method = match spec.method {
            "GET" => get(handler),
            "DELETE" => delete(handler),
            _ => post(handler),
        };
        api = api.route(spec.path, method);
    }
    let api = api
        .route("/devices/{id}/export", get(review::export))
        .route("/devices/{id}/export.csv", get(review::export_csv))
        .route("/events", get(events::stream))
        .route("/sessions", delete(sessions::end_others))
        .route("/sessions/{id}", delete(sessions::end_one))
        .route("/login-links", post(auth::new_login_link))
        .fallback(|| async { ApiError::not_found("no such API endpoint; the API is under /api/v1 (see the README)") })
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require));
    Router::new()
        .nest("/api/v1", api)
        .route("/login", get(auth::login).post(auth::password_login))
        .route("/invite", get(auth::invite_page).post(auth::invite))
        .fallback(ui::serve)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::hold_back_by_address))
        .with_state(state)
}

/// Runs one declared command: its arguments are the path's parts, the query's and the JSON body's
/// fields (or the whole body, for commands that take one value), in that order of precedence.
async fn command(
    s: AppState,
    caller: Caller,
    spec: &'static commands::Spec,
    path: HashMap<String, String>,
    query: HashMap<String, String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut args = serde_json::Map::new();
    if !body.is_empty() {
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            let why = crate::api::limits::cut(&e.to_string(), crate::api::limits::BODY_ERROR_CHARS);
            ApiError::bad_request(format!("the request body is not JSON: {why}"))
        })?;
        match (spec.body, value) {
            (Some(field), value) => {
                args.insert(field.to_owned(), value);
            }
            (None, serde_json::Value::Object(fields)) => args.extend(fields),
            (None, serde_json::Value::Null) => {}
            (None, _) => return Err(ApiError::bad_request("the request body must be a JSON object")),
        }
    }
    for (name, value) in query.into_iter().chain(path) {
        args.insert(name, serde_json::Value::String(value));
    }
    let name = spec.name;
    let answer = tokio::task::spawn_blocking(move || s.hub.call(&caller, name, serde_json::Value::Object(args)))
        .await
        .map_err(|e| ApiError::internal(format!("request failed: {e}")))??;
    Ok(if answer.is_null() { StatusCode::NO_CONTENT.into_response() } else { Json(answer).into_response() })
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

/// Store calls are synchronous; run them off the async workers so a slow disk never stalls
/// the WebSocket stream or other requests.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(format!("request failed: {e}")))?.map(Json)
}
