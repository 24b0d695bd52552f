//! `/api/v1/events`: the live inventory stream over a WebSocket, one JSON [`Event`] per message.

use super::AppState;
use crate::api::types::Event;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;

pub async fn stream(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    let rx = state.hub.subscribe();
    ws.on_upgrade(move |socket| forward(socket, rx))
}

async fn forward(mut socket: WebSocket, mut rx: tokio::sync::broadcast::Receiver<Event>) {
    loop {
        tokio::select! {
            event = rx.recv() => {
                let event = match event {
                    Ok(e) => e,
                    // The client fell behind: tell it to reload rather than silently skip.
                    Err(RecvError::Lagged(_)) => Event::Resync,
                    Err(RecvError::Closed) => break,
                };
                let Ok(text) = serde_json::to_string(&event) else { continue };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                // Clients send nothing but pings and close frames.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
}
