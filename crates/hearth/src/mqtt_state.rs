//! The broker's persistent sessions and retained messages kept in the store across restarts
//! (see `hearth_broker`'s `persist`): read before the broker starts, the broker's changes saved
//! every second, and everything saved whole when Hearth stops cleanly.

use crate::hub::Hub;
use hearth_core::mqtt_state::{BrokerChanges, QueueChange, SavedBroker, SavedMessage, SenderKind};
use std::collections::HashSet;
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

/// Batches of changes kept for another try while the store cannot be written (a full disk),
/// at most: a minute's worth. Past it the oldest is folded into the next (see [`drop_oldest`];
/// the clean shutdown's save still has it all).
const MAX_UNSAVED_BATCHES: usize = 60;

/// And at most this many bytes of queued messages among them.
const MAX_UNSAVED_BYTES: usize = 64 * 1024 * 1024;

fn queued_bytes(batches: &[BrokerChanges]) -> usize {
    batches
        .iter()
        .flat_map(|b| &b.queues)
        .map(|(_, change)| match change {
            QueueChange::Appended(m) => m.bytes(),
            QueueChange::OldestDropped => 0,
        })
        .sum()
}

/// What a batch given up may carry into the next, at most (queues taken back, retained changes,
/// sessions to write again), in entries: past it the batch is given up whole. A client making
/// up client ids or topics while the disk is full must not grow what waits without bound (the
/// failure is in the log already, and the clean shutdown's save still has it all).
const MAX_CARRIED: usize = 20_000;

/// The client ids whose rows `batches` write: written again whole if the batches are lost.
fn sessions_of(batches: &[BrokerChanges]) -> Vec<String> {
    let ids = batches.iter().flat_map(|b| b.sessions.iter().map(|(id, _)| id).chain(b.pending_qos2.iter().map(|(id, _)| id)));
    let unique: std::collections::BTreeSet<&String> = ids.collect();
    unique.into_iter().cloned().collect()
}

/// Gives up the oldest of `batches` (at least two) for room: the messages it queued for offline
/// sessions are lost to a power cut (they stay queued in memory); its sessions are handed out
/// again whole by the broker; what it said of queues taken back and of retained messages goes
/// first into the next batch (the store applies a batch's taken queues before its appended
/// messages, and retained changes in order: the next batch's newer ones still win).
fn drop_oldest(hub: &Hub, batches: &mut Vec<BrokerChanges>) {
    let oldest = batches.remove(0);
    let next = &mut batches[0];
    let carried = [&oldest, &*next].iter().map(|b| b.messages_taken.len() + b.retained.len()).sum::<usize>()
        + oldest.sessions.len()
        + oldest.pending_qos2.len();
    if carried > MAX_CARRIED {
        return;
    }
    if let Some(broker) = hub.broker() {
        broker.not_written(sessions_of(std::slice::from_ref(&oldest)));
    }
    fold_into(oldest, next);
}

/// What of `oldest` is kept in `next` when `oldest` is given up (see [`drop_oldest`]).
fn fold_into(oldest: BrokerChanges, next: &mut BrokerChanges) {
    put_older_first(oldest.messages_taken, &mut next.messages_taken, |id| id.as_str());
    put_older_first(oldest.retained, &mut next.retained, |(topic, _)| topic.as_str());
}

/// `newer` with the entries of `older` whose key it does not hold put before its own.
fn put_older_first<T>(older: Vec<T>, newer: &mut Vec<T>, key: impl Fn(&T) -> &str) {
    let kept: Vec<T> = {
        let newer_keys: HashSet<&str> = newer.iter().map(&key).collect();
        older.into_iter().filter(|entry| !newer_keys.contains(key(entry))).collect()
    };
    let own = std::mem::replace(newer, kept);
    newer.extend(own);
}

/// Whether the sender of `m` is still known (the hub's own messages always are).
fn sender_known(gate: &dyn hearth_broker::Gate, m: &SavedMessage) -> bool {
    m.sender_kind == SenderKind::Hub
        || gate
            .fingerprint(hearth_broker::Client { client_id: &m.sender_client_id, username: m.sender_username.as_deref().unwrap_or("") })
            .is_some()
}

/// Leaves out of `batch` what names a device the gate no longer knows: its messages (queued for
/// others or retained) and its sessions. (Messages queued for its sessions are not written once
/// its session row is gone: the store writes a message only for a saved session.)
fn keep_known(gate: &dyn hearth_broker::Gate, batch: &mut BrokerChanges) {
    batch.queues.retain(|(_, change)| match change {
        QueueChange::Appended(m) => sender_known(gate, m),
        QueueChange::OldestDropped => true,
    });
    batch.retained.retain(|(_, r)| r.as_ref().is_none_or(|r| sender_known(gate, &r.message)));
    for (_, session) in &mut batch.sessions {
        let known = session.as_ref().is_none_or(|s| {
            gate.fingerprint(hearth_broker::Client { client_id: &s.client_id, username: s.username.as_deref().unwrap_or("") }).is_some()
        });
        if !known {
            *session = None;
        }
    }
}

/// Saves the broker's changes every [`SAVE_EVERY`] until `stop`; changes that could not be saved
/// are tried again, in order, with the next ones.
pub(crate) async fn save_changes(hub: Hub, stop: CancellationToken) {
    let mut unsaved: Vec<BrokerChanges> = Vec::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(SAVE_EVERY) => {}
        }
        let Some(broker) = hub.broker() else { continue };
        let changes = broker.changes().await;
        if !changes.is_empty() {
            unsaved.push(changes);
        }
        if unsaved.is_empty() {
            continue;
        }
        let (store_hub, batches) = (hub.clone(), std::mem::take(&mut unsaved));
        let sessions = sessions_of(&batches);
        let saved = tokio::task::spawn_blocking(move || {
            // Written with the default `synchronous = FULL`: its commit, once a second, also puts
            // on the disk what the recorder committed without waiting for it.
            let mut store = store_hub.store();
            // Under the store's lock, which forget holds from its delete to its compaction: what
            // a device forgotten meanwhile sent, or had as sessions, is not written after it.
            let gate = store_hub.gate();
            let mut batches = batches;
            for batch in &mut batches {
                keep_known(&*gate, batch);
            }
            let result = store.save_mqtt_changes(&batches);
            drop(store);
            (result, batches)
        })
        .await;
        match saved {
            Ok((Ok(()), _)) => {}
            Ok((Err(e), mut batches)) => {
                // Once until it works again: a full disk must not fill the log too.
                if batches.len() == 1 {
                    tracing::error!(
                        "MQTT sessions could not be saved ({e}); tried again every second, and saved whole when Hearth stops if the disk has room then"
                    );
                }
                while batches.len() > MAX_UNSAVED_BATCHES || (batches.len() > 1 && queued_bytes(&batches) > MAX_UNSAVED_BYTES) {
                    drop_oldest(&hub, &mut batches);
                }
                unsaved = batches;
            }
            Err(e) => {
                // The batches went with the task: their sessions are handed out again whole.
                tracing::error!("the MQTT session saver failed: {e}");
                if let Some(broker) = hub.broker() {
                    broker.not_written(sessions);
                }
            }
        }
    }
}

/// Stops the broker and saves its whole state (a clean shutdown: nothing is lost, unless the save
/// fails, on a full disk say: then the next start puts back what the last save that worked wrote,
/// and the log says so).
/// True once saved, or with no broker to save; false if the save failed.
pub(crate) fn stop_broker_and_save(hub: &Hub) -> bool {
    let Some(broker) = hub.broker() else { return true };
    let Some(saved) = broker.shutdown() else {
        tracing::error!(
            "the MQTT broker stopped without handing over its sessions and retained messages (see the errors above); the next \
             start puts back what the last save that worked wrote, without what changed since"
        );
        return false;
    };
    let (sessions, messages, retained) =
        (saved.sessions.len(), saved.messages.iter().map(|(_, m)| m.len()).sum::<usize>(), saved.retained.len());
    match hub.store().replace_mqtt_state(&saved) {
        Ok(()) => {
            tracing::info!(sessions, messages, retained, "MQTT sessions and retained messages saved");
            true
        }
        Err(e) => {
            tracing::error!(
                "MQTT sessions and retained messages could not be saved ({e}); the next start puts back what the last save that worked \
                 wrote, without what changed since"
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_core::mqtt_state::{SavedRetained, Waiting};

    fn retained(topic: &str, payload: &[u8]) -> (String, Option<SavedRetained>) {
        let message = SavedMessage {
            sender_client_id: "plug".into(),
            sender_username: None,
            sender_kind: SenderKind::Client,
            topic: topic.into(),
            qos: 1,
            retain: true,
            payload: payload.to_vec(),
            properties: None,
            published_at: 1,
            packet_id: None,
            waiting: Waiting::Queued,
        };
        (topic.into(), Some(SavedRetained { topic: topic.into(), message }))
    }

    /// A batch given up for room keeps, in the next, the queues taken back and the retained
    /// changes it held, before the next's own (which, newer, win); its queued messages go.
    #[test]
    fn a_batch_given_up_leaves_its_taken_queues_and_retained_changes_to_the_next() {
        let oldest = BrokerChanges {
            messages_taken: vec!["dash".into(), "plug".into()],
            retained: vec![retained("stat/lock", b"old"), ("stat/gone".into(), None)],
            queues: vec![("dash".into(), QueueChange::OldestDropped)],
            ..Default::default()
        };
        let mut next =
            BrokerChanges { messages_taken: vec!["plug".into()], retained: vec![retained("stat/lock", b"new")], ..Default::default() };
        fold_into(oldest, &mut next);
        assert_eq!(next.messages_taken, ["dash", "plug"]);
        let topics: Vec<_> = next.retained.iter().map(|(t, r)| (t.as_str(), r.as_ref().map(|r| r.message.payload.clone()))).collect();
        assert_eq!(topics, [("stat/gone", None), ("stat/lock", Some(b"new".to_vec()))]);
        assert!(next.queues.is_empty(), "the given-up batch's queue changes are not carried");
    }
}
