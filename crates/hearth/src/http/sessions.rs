//! The session endpoints that touch the browser's cookie (the list is declared in
//! `api::commands`). See `api::sessions` for what "all" means (every other session; the asking
//! browser signs out by its own id).

use super::{ApiResult, AppState, blocking};
use crate::api::types::{ApiError, SessionsEnded};
use crate::family::Caller;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `DELETE /api/v1/sessions/{id}`: ends that session at once (the member's own, or anyone's for
/// an owner). When it is the asking browser's own, the answer also removes its cookie.
pub async fn end_one(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let own = caller.session.as_ref().is_some_and(|c| c.as_str() == id.trim());
    let hub = s.hub.clone();
    let Json(()) = blocking(move || hub.end_session(&id, &caller)).await?;
    if own {
        Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, s.auth.cleared_cookie())]).into_response())
    } else {
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

/// `DELETE /api/v1/sessions`: ends every session of the member but the asking browser's (all of
/// them with the owner token).
pub async fn end_others(State(s): State<AppState>, caller: Caller) -> ApiResult<SessionsEnded> {
    blocking(move || s.hub.end_other_sessions(&caller)).await
}
