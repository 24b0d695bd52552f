//! The broker's persistent sessions and retained messages kept in the store across restarts
//! (see `hearth_broker`'s `persist`): read before the broker starts, the broker's changes saved
//! every second, and everything saved whole when Hearth stops cleanly.

use crate::hub::Hub;
use hearth_core::mqtt_state::SavedBroker;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the broker's changes are saved: what a power cut can lose at most of them.
pub(crate) const SAVE_EVERY: Duration = Duration::from_secs(1);

/// What was saved before the last stop. A store that cannot be read starts the broker empty,
/// said in the log (devices resubscribe when their session is not found).
pub(crate) fn load(hub: &Hub) -> SavedBroker {
    match hub.store().mqtt_state() {
        Ok(saved) => saved,
        Err(e) => {
            tracing::error!("the saved MQTT sessions and retained messages could not be read ({e}); the broker starts without them");
            SavedBroker::default()
        }
    }
}

/// Saves the broker's changes every [`SAVE_EVERY`] until `stop`.
pub(crate) async fn save_changes(hub: Hub, stop: CancellationToken) {
    let mut failing = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(SAVE_EVERY) => {}
        }
        let Some(broker) = hub.broker() else { continue };
        let changes = broker.changes().await;
        if changes.is_empty() {
            continue;
        }
        let store_hub = hub.clone();
        let saved = tokio::task::spawn_blocking(move || store_hub.store().save_mqtt_changes(&changes)).await;
        match saved {
            Ok(Ok(())) => failing = false,
            // Once until it works again: a full disk must not fill the log too.
            Ok(Err(e)) if !failing => {
                failing = true;
                tracing::error!("MQTT sessions could not be saved ({e}); they are kept in memory, and lost if Hearth stops uncleanly");
            }
            _ => {}
        }
    }
}

/// Stops the broker and saves its whole state (a clean shutdown: nothing is lost).
pub(crate) fn stop_broker_and_save(hub: &Hub) {
    let Some(saved) = hub.broker().and_then(hearth_broker::Broker::shutdown) else { return };
    let (sessions, messages, retained) =
        (saved.sessions.len(), saved.messages.iter().map(|(_, m)| m.len()).sum::<usize>(), saved.retained.len());
    match hub.store().replace_mqtt_state(&saved) {
        Ok(()) => tracing::info!(sessions, messages, retained, "MQTT sessions and retained messages saved"),
        Err(e) => tracing::error!("MQTT sessions and retained messages could not be saved ({e}); clients will find their sessions gone"),
    }
}
