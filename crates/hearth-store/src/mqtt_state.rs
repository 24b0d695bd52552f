//! The broker's persistent sessions and retained messages (see `hearth_core::mqtt_state`): read
//! once at start, changed every second from the broker's journal, replaced whole at a clean
//! shutdown.

use crate::{Store, StoreError};
use hearth_core::mqtt_state::{
    BrokerChanges, PendingQos2, QueueChange, SavedBroker, SavedMessage, SavedRetained, SavedSession, SavedSubscription, SenderKind, Waiting,
};
use rusqlite::{Transaction, params};
use std::collections::HashMap;

impl Store {
    /// Everything saved, sessions oldest first and each session's messages in order.
    pub fn mqtt_state(&self) -> Result<SavedBroker, StoreError> {
        let mut subscriptions: HashMap<String, Vec<SavedSubscription>> = HashMap::new();
        let mut stmt = self.conn.prepare("SELECT client_id, filter, options FROM mqtt_subscriptions")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, SavedSubscription { filter: r.get(1)?, options: r.get(2)? })))? {
            let (client_id, sub) = row?;
            subscriptions.entry(client_id).or_default().push(sub);
        }
        let mut stmt = self.conn.prepare(
            "SELECT client_id, username, protocol, expiry_secs, created_at, disconnected_at, connect, pending_qos2 FROM mqtt_sessions \
             ORDER BY created_at",
        )?;
        let sessions = stmt
            .query_map([], |r| {
                let client_id: String = r.get(0)?;
                Ok(SavedSession {
                    subscriptions: Vec::new(),
                    username: r.get(1)?,
                    protocol: r.get(2)?,
                    expiry_secs: r.get(3)?,
                    created_at: r.get(4)?,
                    disconnected_at: r.get(5)?,
                    connect: r.get(6)?,
                    pending_qos2: pending_qos2_from_json(&r.get::<_, String>(7)?),
                    client_id,
                })
            })?
            .map(|row| {
                row.map(|mut s| {
                    s.subscriptions = subscriptions.remove(&s.client_id).unwrap_or_default();
                    s
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut messages: Vec<(String, Vec<SavedMessage>)> = Vec::new();
        let mut stmt = self.conn.prepare(
            "SELECT client_id, waiting, packet_id, sender_client_id, sender_username, sender_kind, topic, qos, retain, payload, \
             properties, published_at FROM mqtt_messages ORDER BY client_id, id",
        )?;
        for row in stmt.query_map([], |r| {
            let message = SavedMessage {
                waiting: Waiting::from_code(r.get(1)?).unwrap_or(Waiting::Queued),
                packet_id: r.get(2)?,
                sender_client_id: r.get(3)?,
                sender_username: r.get(4)?,
                sender_kind: SenderKind::from_code(r.get(5)?).unwrap_or(SenderKind::Client),
                topic: r.get(6)?,
                qos: r.get(7)?,
                retain: r.get(8)?,
                payload: r.get(9)?,
                properties: r.get(10)?,
                published_at: r.get(11)?,
            };
            Ok((r.get::<_, String>(0)?, message))
        })? {
            let (client_id, message) = row?;
            match messages.last_mut() {
                Some((last, list)) if *last == client_id => list.push(message),
                _ => messages.push((client_id, vec![message])),
            }
        }
        let mut stmt = self.conn.prepare(
            "SELECT topic, sender_client_id, sender_username, sender_kind, qos, payload, properties, published_at FROM mqtt_retained",
        )?;
        let retained = stmt
            .query_map([], |r| {
                Ok(SavedRetained {
                    topic: r.get(0)?,
                    message: SavedMessage {
                        topic: r.get(0)?,
                        sender_client_id: r.get(1)?,
                        sender_username: r.get(2)?,
                        sender_kind: SenderKind::from_code(r.get(3)?).unwrap_or(SenderKind::Client),
                        qos: r.get(4)?,
                        retain: true,
                        payload: r.get(5)?,
                        properties: r.get(6)?,
                        published_at: r.get(7)?,
                        packet_id: None,
                        waiting: Waiting::Queued,
                    },
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SavedBroker { sessions, messages, retained })
    }

    /// Writes what changed since the last save (batches in order: a batch that could not be
    /// written is tried again with the next), in one transaction.
    pub fn save_mqtt_changes(&mut self, batches: &[BrokerChanges]) -> Result<(), StoreError> {
        if batches.iter().all(BrokerChanges::is_empty) {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for changes in batches {
            apply(&tx, changes)?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// One batch of changes, in its order.
fn apply(tx: &Transaction<'_>, changes: &BrokerChanges) -> rusqlite::Result<()> {
    for client_id in &changes.messages_taken {
        tx.execute("DELETE FROM mqtt_messages WHERE client_id = ?1", [client_id])?;
    }
    for (client_id, session) in &changes.sessions {
        match session {
            Some(session) => put_session(tx, session)?,
            None => {
                tx.execute("DELETE FROM mqtt_sessions WHERE client_id = ?1", [client_id])?;
                tx.execute("DELETE FROM mqtt_messages WHERE client_id = ?1", [client_id])?;
            }
        }
    }
    // A session that ended in this batch keeps nothing queued for it.
    let ended: std::collections::HashSet<&str> = changes.sessions.iter().filter(|(_, s)| s.is_none()).map(|(id, _)| id.as_str()).collect();
    for (client_id, change) in changes.queues.iter().filter(|(id, _)| !ended.contains(id.as_str())) {
        match change {
            QueueChange::Appended(message) => put_message(tx, client_id, message)?,
            QueueChange::OldestDropped => {
                tx.execute(
                    "DELETE FROM mqtt_messages WHERE id = (SELECT MIN(id) FROM mqtt_messages WHERE client_id = ?1 AND waiting = 0)",
                    [client_id],
                )?;
            }
        }
    }
    for (client_id, pending) in &changes.pending_qos2 {
        tx.prepare_cached("UPDATE mqtt_sessions SET pending_qos2 = ?2 WHERE client_id = ?1")?
            .execute(params![client_id, pending_qos2_json(pending)])?;
    }
    for (topic, retained) in &changes.retained {
        match retained {
            Some(r) => put_retained(tx, r)?,
            None => {
                tx.execute("DELETE FROM mqtt_retained WHERE topic = ?1", [topic])?;
            }
        }
    }
    Ok(())
}

impl Store {
    /// Replaces everything saved with `state` (a clean shutdown's snapshot).
    pub fn replace_mqtt_state(&mut self, state: &SavedBroker) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "DELETE FROM mqtt_subscriptions; DELETE FROM mqtt_sessions; DELETE FROM mqtt_messages; DELETE FROM mqtt_retained;",
        )?;
        for session in &state.sessions {
            put_session(&tx, session)?;
        }
        for (client_id, messages) in &state.messages {
            for message in messages {
                put_message(&tx, client_id, message)?;
            }
        }
        for retained in &state.retained {
            put_retained(&tx, retained)?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// A session's pending QoS 2 messages as saved: `[packet id, fingerprint]` when exact (a clean
/// stop wrote it), `[packet id, fingerprint, true]` when it may be a second behind (see
/// `PendingQos2::may_be_behind`). Entries of two are what migration 16's rows hold.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum SavedPendingQos2 {
    Exact(u16, u64),
    Marked(u16, u64, bool),
}

fn pending_qos2_json(pending: &[PendingQos2]) -> String {
    let saved: Vec<SavedPendingQos2> = pending
        .iter()
        .map(|p| match p.may_be_behind {
            true => SavedPendingQos2::Marked(p.packet_id, p.fingerprint, true),
            false => SavedPendingQos2::Exact(p.packet_id, p.fingerprint),
        })
        .collect();
    serde_json::to_string(&saved).unwrap_or_else(|_| "[]".into())
}

/// Unreadable (written by hand): none, and a repeat may be delivered again.
fn pending_qos2_from_json(json: &str) -> Vec<PendingQos2> {
    let saved: Vec<SavedPendingQos2> = serde_json::from_str(json).unwrap_or_default();
    saved
        .into_iter()
        .map(|s| match s {
            SavedPendingQos2::Exact(packet_id, fingerprint) => PendingQos2 { packet_id, fingerprint, may_be_behind: false },
            SavedPendingQos2::Marked(packet_id, fingerprint, may_be_behind) => PendingQos2 { packet_id, fingerprint, may_be_behind },
        })
        .collect()
}

fn put_session(tx: &Transaction<'_>, s: &SavedSession) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO mqtt_sessions (client_id, username, protocol, expiry_secs, created_at, disconnected_at, connect, pending_qos2) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (client_id) DO UPDATE SET username = excluded.username, \
         protocol = excluded.protocol, expiry_secs = excluded.expiry_secs, created_at = excluded.created_at, \
         disconnected_at = excluded.disconnected_at, connect = excluded.connect, pending_qos2 = excluded.pending_qos2",
        params![
            s.client_id,
            s.username,
            s.protocol,
            s.expiry_secs as i64,
            s.created_at,
            s.disconnected_at,
            s.connect,
            pending_qos2_json(&s.pending_qos2)
        ],
    )?;
    tx.execute("DELETE FROM mqtt_subscriptions WHERE client_id = ?1", [&s.client_id])?;
    let mut insert = tx.prepare_cached("INSERT INTO mqtt_subscriptions (client_id, filter, options) VALUES (?1, ?2, ?3)")?;
    for sub in &s.subscriptions {
        insert.execute(params![s.client_id, sub.filter, sub.options])?;
    }
    Ok(())
}

fn put_message(tx: &Transaction<'_>, client_id: &str, m: &SavedMessage) -> rusqlite::Result<()> {
    tx.prepare_cached(
        // Only for a session that is saved: one deleted meanwhile (forgotten, ended) keeps nothing.
        "INSERT INTO mqtt_messages (client_id, waiting, packet_id, sender_client_id, sender_username, sender_kind, topic, qos, \
         retain, payload, properties, published_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12 \
         WHERE EXISTS (SELECT 1 FROM mqtt_sessions WHERE client_id = ?1)",
    )?
    .execute(params![
        client_id,
        m.waiting as i64,
        m.packet_id,
        m.sender_client_id,
        m.sender_username,
        m.sender_kind as i64,
        m.topic,
        m.qos,
        m.retain,
        m.payload,
        m.properties,
        m.published_at
    ])?;
    Ok(())
}

fn put_retained(tx: &Transaction<'_>, r: &SavedRetained) -> rusqlite::Result<()> {
    let m = &r.message;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO mqtt_retained (topic, sender_client_id, sender_username, sender_kind, qos, payload, properties, \
         published_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        r.topic,
        m.sender_client_id,
        m.sender_username,
        m.sender_kind as i64,
        m.qos,
        m.payload,
        m.properties,
        m.published_at
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(topic: &str, payload: &[u8], waiting: Waiting) -> SavedMessage {
        SavedMessage {
            sender_client_id: "plug".into(),
            sender_username: Some("d-000000000001".into()),
            sender_kind: SenderKind::Client,
            topic: topic.into(),
            qos: 1,
            retain: false,
            payload: payload.to_vec(),
            properties: None,
            published_at: 1_700_000_000_000,
            packet_id: (waiting != Waiting::Queued).then_some(7),
            waiting,
        }
    }

    fn session(client_id: &str, filters: &[&str]) -> SavedSession {
        SavedSession {
            client_id: client_id.into(),
            username: Some("d-000000000002".into()),
            protocol: 5,
            expiry_secs: 3600,
            created_at: 1,
            disconnected_at: Some(2),
            connect: "{}".into(),
            subscriptions: filters.iter().map(|f| SavedSubscription { filter: (*f).into(), options: "{}".into() }).collect(),
            pending_qos2: Vec::new(),
        }
    }

    #[test]
    fn changes_then_a_snapshot_read_back_in_order() {
        let mut store = Store::open_in_memory().unwrap();
        let changes = BrokerChanges {
            sessions: vec![("dash".into(), Some(session("dash", &["tele/#", "stat/+/POWER"])))],
            queues: vec![
                ("dash".into(), QueueChange::Appended(message("tele/0", b"0", Waiting::Queued))),
                ("dash".into(), QueueChange::Appended(message("tele/a", b"1", Waiting::Queued))),
                ("dash".into(), QueueChange::OldestDropped),
                ("dash".into(), QueueChange::Appended(message("tele/b", b"2", Waiting::Queued))),
            ],
            messages_taken: vec![],
            pending_qos2: vec![],
            retained: vec![(
                "stat/lock".into(),
                Some(SavedRetained { topic: "stat/lock".into(), message: message("stat/lock", b"locked", Waiting::Queued) }),
            )],
        };
        store.save_mqtt_changes(&[changes]).unwrap();
        let saved = store.mqtt_state().unwrap();
        assert_eq!(saved.sessions.len(), 1);
        let mut filters: Vec<_> = saved.sessions[0].subscriptions.iter().map(|s| s.filter.as_str()).collect();
        filters.sort_unstable();
        assert_eq!(filters, ["stat/+/POWER", "tele/#"]);
        let payloads: Vec<_> = saved.messages[0].1.iter().map(|m| m.payload.clone()).collect();
        assert_eq!(payloads, [b"1".to_vec(), b"2".to_vec()], "in the order queued, the oldest dropped for room");
        assert_eq!(saved.retained[0].message.payload, b"locked");

        // The client came back for them, its session ended, its retained message was cleared.
        let later = BrokerChanges {
            sessions: vec![("dash".into(), None)],
            queues: vec![],
            messages_taken: vec!["dash".into()],
            retained: vec![("stat/lock".into(), None)],
            pending_qos2: vec![],
        };
        store.save_mqtt_changes(&[later]).unwrap();
        assert_eq!(store.mqtt_state().unwrap(), SavedBroker::default());

        // A snapshot replaces all, unacknowledged messages with their packet id.
        let snapshot = SavedBroker {
            sessions: vec![session("a", &["x/#"]), session("b", &[])],
            messages: vec![("a".into(), vec![message("x/1", b"sent", Waiting::Unacknowledged), message("x/2", b"q", Waiting::Queued)])],
            retained: vec![],
        };
        store.replace_mqtt_state(&snapshot).unwrap();
        let back = store.mqtt_state().unwrap();
        assert_eq!(back.messages, snapshot.messages);
        assert_eq!(back.sessions.len(), 2);
    }

    /// A session's QoS 2 messages not released are saved with it, and changed alone without
    /// touching its subscriptions; fingerprints keep all 64 bits; a session not saved takes none.
    #[test]
    fn pending_qos2_ids_are_saved_with_their_session_and_changed_alone() {
        let mut store = Store::open_in_memory().unwrap();
        let pending = |packet_id, fingerprint, may_be_behind| PendingQos2 { packet_id, fingerprint, may_be_behind };
        let mut plug = session("plug", &["cmnd/plug/#"]);
        plug.pending_qos2 = vec![pending(5, u64::MAX, false), pending(6, 1, true)];
        store.replace_mqtt_state(&SavedBroker { sessions: vec![plug.clone()], ..Default::default() }).unwrap();
        assert_eq!(store.mqtt_state().unwrap().sessions[0].pending_qos2, plug.pending_qos2);

        let released = BrokerChanges {
            pending_qos2: vec![("plug".into(), vec![pending(6, 1, true)]), ("not-saved".into(), vec![pending(1, 2, true)])],
            ..Default::default()
        };
        store.save_mqtt_changes(&[released]).unwrap();
        let back = store.mqtt_state().unwrap();
        assert_eq!(back.sessions.len(), 1, "no row for a session that is not saved");
        assert_eq!(back.sessions[0].pending_qos2, [pending(6, 1, true)]);
        assert_eq!(back.sessions[0].subscriptions.len(), 1);

        // Migration 16's rows (no mark) read as exact; the mark is written only where it is set.
        store.conn.execute("UPDATE mqtt_sessions SET pending_qos2 = '[[7,3]]'", []).unwrap();
        assert_eq!(store.mqtt_state().unwrap().sessions[0].pending_qos2, [pending(7, 3, false)]);
        assert_eq!(pending_qos2_json(&[pending(7, 3, false), pending(8, 4, true)]), "[[7,3],[8,4,true]]");

        // Written by hand into something unreadable: none (the store still opens).
        store.conn.execute("UPDATE mqtt_sessions SET pending_qos2 = 'not json'", []).unwrap();
        assert!(store.mqtt_state().unwrap().sessions[0].pending_qos2.is_empty());
    }

    /// Forgetting a device removes what the broker kept for it and from it: its sessions and
    /// their messages, its retained messages, its messages in another device's queue; the other
    /// device's own session stays.
    #[test]
    fn forgetting_a_device_removes_its_sessions_and_messages() {
        use hearth_core::device::{Actor, DeviceId};
        let mut store = Store::open_in_memory().unwrap();
        let (plug, dash) = (DeviceId::from_random(1), DeviceId::from_random(2));
        store.add_device(&plug, "Plug", &Actor::owner(), "cli", 1).unwrap();
        store.add_device(&dash, "Dashboard", &Actor::owner(), "cli", 1).unwrap();
        let mut from_plug = message("tele/plug/state", b"on", Waiting::Queued);
        from_plug.sender_username = Some(plug.to_string());
        let mut from_dash = from_plug.clone();
        from_dash.sender_username = Some(dash.to_string());
        let mut plug_session = session("plug", &["cmnd/plug/#"]);
        plug_session.username = Some(plug.to_string());
        let mut dash_session = session("dash", &["#"]);
        dash_session.username = Some(dash.to_string());
        store
            .replace_mqtt_state(&SavedBroker {
                sessions: vec![plug_session, dash_session],
                messages: vec![("dash".into(), vec![from_plug.clone(), from_dash.clone()]), ("plug".into(), vec![from_dash.clone()])],
                retained: vec![SavedRetained { topic: "tele/plug/state".into(), message: from_plug }],
            })
            .unwrap();
        // After a merge its credential's username is the absorbed record's id: that one's
        // session goes too.
        store.set_credential(&plug, "sha256:aa", &Actor::owner(), "web", 2).unwrap();
        store.conn.execute("UPDATE credentials SET username = 'd-0000000000ab' WHERE device_id = ?1", [plug.as_str()]).unwrap();
        let mut merged = session("plug-merged", &["x/#"]);
        merged.username = Some("d-0000000000ab".into());
        store.save_mqtt_changes(&[BrokerChanges { sessions: vec![("plug-merged".into(), Some(merged))], ..Default::default() }]).unwrap();
        store.forget(&plug, &Actor::owner(), "cli", 5).unwrap();
        let left = store.mqtt_state().unwrap();
        assert_eq!(left.sessions.iter().map(|s| s.client_id.as_str()).collect::<Vec<_>>(), ["dash"]);
        assert_eq!(left.messages, vec![("dash".to_owned(), vec![from_dash])]);
        assert!(left.retained.is_empty());
    }
}
