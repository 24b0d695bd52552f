//! `/api/v1/sessions`: where the owner is signed in, and signing out. See `api::sessions` for
//! what "all" means (every other session; the asking browser signs out by its own id).

use super::auth::{Origin, Session};
use super::{ApiResult, AppState, blocking};
use crate::api::types::{ApiError, BrowserSession, SessionsEnded};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `GET /api/v1/sessions`: the asking browser's own session is marked `current`.
pub async fn list(State(s): State<AppState>, Session(current): Session) -> ApiResult<Vec<BrowserSession>> {
    blocking(move || s.hub.browser_sessions(current.as_ref().map(|c| &c.id))).await
}

/// `DELETE /api/v1/sessions/{id}`: ends that session at once. When it is the asking browser's
/// own, the answer also removes its cookie.
pub async fn end_one(
    State(s): State<AppState>,
    origin: Origin,
    Session(current): Session,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let own = current.is_some_and(|c| c.id.as_str() == id.trim());
    let hub = s.hub.clone();
    let Json(()) = blocking(move || hub.end_session(&id, origin.0)).await?;
    if own {
        Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, s.auth.cleared_cookie())]).into_response())
    } else {
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

/// `DELETE /api/v1/sessions`: ends every session but the asking browser's (all of them with the
/// owner token).
pub async fn end_others(State(s): State<AppState>, origin: Origin, Session(current): Session) -> ApiResult<SessionsEnded> {
    blocking(move || s.hub.end_other_sessions(current.as_ref().map(|c| &c.id), origin.0)).await
}
