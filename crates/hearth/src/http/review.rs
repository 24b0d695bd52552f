//! The streamed exports (the rest of the review is declared in `api::commands`).

use super::{AppState, blocking};
use crate::api::types::ApiError;
use crate::family::{Caller, Need};
use crate::hub::Hub;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use hearth_core::family::Right;

/// Streamed exports are checked like the `export` command: review on the device.
async fn may_export(s: &AppState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    let (hub, caller, id) = (s.hub.clone(), caller.clone(), id.to_owned());
    blocking(move || hub.check(&caller, &Need::Device(Right::Review, id), "export")).await.map(|_| ())
}

pub async fn export(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    may_export(&s, &caller, &id).await?;
    let name = format!("attachment; filename=\"hearth-{id}.json\"");
    streamed(s.hub, id, "application/json", name, Hub::export_json_to).await
}

pub async fn export_csv(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    may_export(&s, &caller, &id).await?;
    let name = format!("attachment; filename=\"hearth-{id}-messages.csv\"");
    streamed(s.hub, id, "text/csv; charset=utf-8", name, Hub::export_csv_to).await
}

type Writer = fn(&Hub, &str, &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> Result<(), ApiError>;

/// Streams an export as it is read, in chunks of 64 KiB, so that a device with millions of
/// messages is never held in memory. An unknown device still gets a `{code, message}` answer;
/// a failure once the body has begun ends it early, and is logged.
async fn streamed(hub: Hub, id: String, content_type: &'static str, disposition: String, write: Writer) -> Result<Response, ApiError> {
    // An unknown device is an error answer, before any byte of the body.
    let (known, id_) = (hub.clone(), id.clone());
    let _device = blocking(move || known.device(&id_)).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    tokio::task::spawn_blocking(move || {
        // Up to the last message the device sent (the recorder gathers).
        hub.wait_recorded();
        const CHUNK: usize = 64 * 1024;
        let mut buffer = Vec::with_capacity(CHUNK);
        let result = write(&hub, &id, &mut |bytes: &[u8]| {
            buffer.extend_from_slice(bytes);
            if buffer.len() >= CHUNK {
                send_within(&tx, Bytes::from(std::mem::take(&mut buffer)))?;
            }
            Ok(())
        });
        match result {
            Ok(()) => {
                let _ = send_within(&tx, Bytes::from(buffer));
            }
            Err(e) => {
                tracing::warn!(%id, "an export ended early: {}", e.message);
                let _ = tx.blocking_send(Err(std::io::Error::other(e.message)));
            }
        }
    });
    let body =
        axum::body::Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }));
    Ok(([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], body).into_response())
}

/// Hands a chunk to the response, giving up when the client has not taken one for a minute: an
/// export holds the hub's read connection, which the reviews share.
fn send_within(tx: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>, chunk: Bytes) -> std::io::Result<()> {
    let mut item = Ok(chunk);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match tx.try_send(item) {
            Ok(()) => return Ok(()),
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
                return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"));
            }
            Err(tokio::sync::mpsc::error::TrySendError::Full(back)) if std::time::Instant::now() < deadline => {
                item = back;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client stopped reading the export for a minute"));
            }
        }
    }
}
