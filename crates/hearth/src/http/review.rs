//! The review, privacy and export endpoints.

use super::{ApiResult, AppState, Body, auth, blocking};
use crate::api::parse_duration;
use crate::api::types::{ApiError, DeviceExport, DeviceReview, HomeReview, PrivacySettings, RedactionRequest, RetentionRequest};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// `?since=7d`: how far back a review looks (a week if not given).
#[derive(Debug, serde::Deserialize)]
pub struct Since {
    since: Option<String>,
}

impl Since {
    fn ms(&self) -> Result<i64, ApiError> {
        parse_duration(self.since.as_deref().unwrap_or("7d"))
    }
}

pub async fn device_review(State(s): State<AppState>, Path(id): Path<String>, Query(q): Query<Since>) -> ApiResult<DeviceReview> {
    blocking(move || s.hub.review(&id, q.ms()?)).await
}

pub async fn home_review(State(s): State<AppState>, Query(q): Query<Since>) -> ApiResult<HomeReview> {
    blocking(move || s.hub.home_review(q.ms()?)).await
}

pub async fn privacy(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<PrivacySettings> {
    blocking(move || s.hub.privacy(&id)).await
}

pub async fn set_retention(
    State(s): State<AppState>,
    origin: auth::Origin,
    Path(id): Path<String>,
    Body(body): Body<RetentionRequest>,
) -> ApiResult<PrivacySettings> {
    blocking(move || s.hub.set_retention(&id, &body, origin.0)).await
}

pub async fn set_redaction(
    State(s): State<AppState>,
    origin: auth::Origin,
    Path(id): Path<String>,
    Body(body): Body<RedactionRequest>,
) -> ApiResult<PrivacySettings> {
    blocking(move || s.hub.set_redaction(&id, &body, origin.0)).await
}

pub async fn export(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<DeviceExport> {
    blocking(move || s.hub.export(&id)).await
}

pub async fn export_csv(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let name = format!("attachment; filename=\"hearth-{id}-messages.csv\"");
    let csv = blocking(move || s.hub.export_csv(&id)).await?.0;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, name)], csv).into_response())
}
