//! `/api/v1/events`: the live inventory stream over a WebSocket, one JSON [`Event`] per message.
//! A browser's stream lasts as long as its session: when the session is ended (signed out, here
//! or elsewhere) or expires, the stream is closed at once.

use super::AppState;
use super::auth::{LiveSession, Session};
use crate::api::types::Event;
use crate::family::Caller;
use crate::hub::Hub;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;

pub async fn stream(State(state): State<AppState>, Session(session): Session, caller: Caller, ws: WebSocketUpgrade) -> Response {
    let rx = state.hub.subscribe();
    let hub = state.hub.clone();
    ws.on_upgrade(move |socket| forward(socket, rx, hub, session, caller))
}

async fn forward(
    mut socket: WebSocket,
    mut rx: tokio::sync::broadcast::Receiver<Event>,
    hub: Hub,
    session: Option<LiveSession>,
    caller: Caller,
) {
    let over = session_over(hub.clone(), session);
    tokio::pin!(over);
    loop {
        tokio::select! {
            () = &mut over => {
                // 1008, policy: the browser may not keep listening; its page then finds it is signed out.
                let frame = CloseFrame { code: close_code::POLICY, reason: "signed out".into() };
                let _ = socket.send(Message::Close(Some(frame))).await;
                break;
            }
            event = rx.recv() => {
                let event = match event {
                    Ok(e) => e,
                    // The client fell behind: tell it to reload rather than silently skip.
                    Err(RecvError::Lagged(_)) => Event::Resync,
                    Err(RecvError::Closed) => break,
                };
                if !hub.shown(&caller, &event) {
                    continue;
                }
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

/// Resolves when the browser session ends or expires; never for the owner token.
async fn session_over(hub: Hub, session: Option<LiveSession>) {
    let Some(session) = session else { return std::future::pending().await };
    // Subscribed before the first check, so an ending in between is not missed.
    let mut ended = hub.sessions_ended();
    let left = u64::try_from(session.expires_at - crate::api::now()).unwrap_or(0);
    let expiry = tokio::time::sleep(std::time::Duration::from_millis(left));
    tokio::pin!(expiry);
    while hub.session_is_live(&session.id) {
        tokio::select! {
            () = &mut expiry => return,
            changed = ended.changed() => if changed.is_err() { return },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn signed_in(hub: &Hub) -> (LiveSession, crate::sessions::Started) {
        let started =
            hub.sign_in(hearth_core::device::FOUNDING_OWNER, "Firefox/127.0", std::net::Ipv4Addr::LOCALHOST.into(), "web").unwrap();
        (LiveSession { id: started.id.clone(), expires_at: started.expires_at }, started)
    }

    #[tokio::test]
    async fn a_browsers_stream_ends_the_moment_its_session_is_ended() {
        let (hub, _dir) = crate::testing::hub();
        let (mine, _) = signed_in(&hub);
        let (other, _) = signed_in(&hub);
        let over = tokio::spawn(session_over(hub.clone(), Some(mine.clone())));
        // Another session ending is not this one's end.
        hub.end_session(other.id.as_str(), &Caller::local_owner("web")).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!over.is_finished());
        hub.end_session(mine.id.as_str(), &Caller::local_owner("cli")).unwrap();
        tokio::time::timeout(Duration::from_secs(2), over).await.expect("the stream's session is over").unwrap();
    }

    #[tokio::test]
    async fn a_browsers_stream_ends_when_its_session_expires_and_the_owner_tokens_never() {
        let (hub, _dir) = crate::testing::hub();
        let (mut mine, _) = signed_in(&hub);
        mine.expires_at = crate::api::now() + 100;
        tokio::time::timeout(Duration::from_secs(2), session_over(hub.clone(), Some(mine))).await.expect("over at expiry");
        let owner = tokio::time::timeout(Duration::from_millis(200), session_over(hub, None)).await;
        assert!(owner.is_err(), "the owner token's stream has no session to end");
    }
}
