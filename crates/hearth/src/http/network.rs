//! HTTP routes for network permissions (see `api::network`).

use super::{ApiResult, AppState, Body, auth, blocking};
use crate::api::network::{DomainRequest, HomeNetwork, LevelRequest, MudImported, NetworkView};
use axum::extract::{Path, Query, State};

pub async fn view(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<NetworkView> {
    blocking(move || s.hub.network_view(&id)).await
}

pub async fn set_level(
    State(s): State<AppState>,
    origin: auth::Origin,
    Path(id): Path<String>,
    Body(body): Body<LevelRequest>,
) -> ApiResult<NetworkView> {
    blocking(move || s.hub.set_internet_level(&id, body.level, origin.0)).await
}

pub async fn set_domain(
    State(s): State<AppState>,
    origin: auth::Origin,
    Path(id): Path<String>,
    Body(body): Body<DomainRequest>,
) -> ApiResult<NetworkView> {
    blocking(move || s.hub.set_domain(&id, &body, origin.0)).await
}

pub async fn allow_waiting(State(s): State<AppState>, origin: auth::Origin, Path(id): Path<String>) -> ApiResult<NetworkView> {
    blocking(move || s.hub.allow_waiting(&id, origin.0)).await
}

#[derive(Debug, serde::Deserialize)]
pub struct MudFile {
    file: String,
}

pub async fn import_mud(
    State(s): State<AppState>,
    origin: auth::Origin,
    Path(id): Path<String>,
    Body(body): Body<MudFile>,
) -> ApiResult<MudImported> {
    blocking(move || s.hub.import_mud(&id, &body.file, origin.0)).await
}

pub async fn export_mud(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<String> {
    blocking(move || s.hub.export_mud(&id)).await
}

pub async fn home(State(s): State<AppState>) -> ApiResult<HomeNetwork> {
    blocking(move || s.hub.home_network()).await
}

#[derive(Debug, serde::Deserialize)]
pub struct ExportFormat {
    format: String,
}

pub async fn export_firewall(State(s): State<AppState>, Query(q): Query<ExportFormat>) -> ApiResult<String> {
    blocking(move || s.hub.export_firewall(&q.format)).await
}
