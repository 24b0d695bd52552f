//! CONNECTs between their authentication and their connection, and how many connections each
//! credential holds.
//!
//! rmqtt authenticates a CONNECT, then sets up its session, then says it is connected: the
//! [`Sessions`] of live connections learn of it only then. A burst of CONNECTs with one credential
//! would all be authenticated before the first is connected, and all be let in past a limit of
//! live connections. So each one authenticated is held here from that moment, and a credential's
//! connections are counted here and in the live sessions together, under one lock.

use crate::engine::Sessions;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an authenticated CONNECT may take to become a connection. Longer, and it failed on
/// the way (its session could not be set up), so it is neither counted nor kept: the whole
/// handshake has a 10 s timeout, and a takeover waits at most 5 s.
const SETTING_UP_AT_MOST: Duration = Duration::from_secs(60);

struct Admitting {
    username: String,
    /// The fingerprint of the policy it was let in under; `None` while the gate decides.
    fingerprint: Option<u64>,
    since: Instant,
}

/// What [`Admissions::reserve`] replaced, for [`Admissions::refused`] to put back.
pub(crate) struct Reserved(Option<Admitting>);

#[derive(Default)]
pub(crate) struct Admissions(Mutex<HashMap<String, Admitting>>);

impl Admissions {
    /// Holds `client_id`'s CONNECT as one being let in, and returns how many connections
    /// `username` holds under other client ids: live, or authenticated and being set up (each
    /// counted once). An anonymous client (`username` empty) holds none of a credential's.
    pub(crate) fn reserve(&self, client_id: &str, username: &str, live: &Sessions) -> (usize, Reserved) {
        let mut admitting = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        admitting.retain(|_, a| now.duration_since(a.since) < SETTING_UP_AT_MOST);
        let held = if username.is_empty() {
            0
        } else {
            let live = live.lock().unwrap_or_else(|p| p.into_inner());
            let mut others: HashSet<&str> =
                live.values().filter(|s| s.username == username && s.client_id != client_id).map(|s| s.client_id.as_str()).collect();
            others.extend(admitting.iter().filter(|(id, a)| a.username == username && *id != client_id).map(|(id, _)| id.as_str()));
            others.len()
        };
        let previous = admitting.insert(client_id.to_owned(), Admitting { username: username.to_owned(), fingerprint: None, since: now });
        (held, Reserved(previous))
    }

    /// The gate let `client_id` in under the policy whose fingerprint this is.
    pub(crate) fn admitted(&self, client_id: &str, fingerprint: u64) {
        if let Some(a) = self.0.lock().unwrap_or_else(|p| p.into_inner()).get_mut(client_id) {
            a.fingerprint = Some(fingerprint);
        }
    }

    /// The gate refused `client_id`: it is no longer being let in (a CONNECT of the same client
    /// id that was, is again).
    pub(crate) fn refused(&self, client_id: &str, reserved: Reserved) {
        let mut admitting = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match reserved.0 {
            Some(previous) => admitting.insert(client_id.to_owned(), previous),
            None => admitting.remove(client_id),
        };
    }

    /// The username and fingerprint `client_id` was let in under, if it was, and not long ago.
    pub(crate) fn of(&self, client_id: &str) -> Option<(String, u64)> {
        let admitting = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let a = admitting.get(client_id).filter(|a| a.since.elapsed() < SETTING_UP_AT_MOST)?;
        Some((a.username.clone(), a.fingerprint?))
    }

    /// `client_id` is connected: its live session counts for it now (added to the live sessions
    /// before this, so that it is never counted by neither).
    pub(crate) fn connected(&self, client_id: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(client_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionInfo;

    fn connect(sessions: &Sessions, client_id: &str, username: &str) {
        let info =
            SessionInfo { client_id: client_id.to_owned(), username: username.to_owned(), remote: None, protocol: 4, connected_at: 0 };
        sessions.lock().expect("lock").insert(info.client_id.clone(), info);
    }

    fn live(entries: &[(&str, &str)]) -> Sessions {
        let sessions = Sessions::default();
        for (client_id, username) in entries {
            connect(&sessions, client_id, username);
        }
        sessions
    }

    #[test]
    fn a_credentials_connections_are_counted_live_and_being_let_in_once_each() {
        let sessions = live(&[("plug-a", "d-plug"), ("lamp", "d-lamp")]);
        let admissions = Admissions::default();
        // Its live connection; the CONNECT's own client id is not another connection.
        assert_eq!(admissions.reserve("plug-b", "d-plug", &sessions).0, 1);
        assert_eq!(admissions.reserve("plug-c", "d-plug", &sessions).0, 2, "plug-b is being let in");
        assert_eq!(admissions.reserve("plug-a", "d-plug", &sessions).0, 2, "a takeover of plug-a is no new connection");
        // plug-b connects: live and no longer being let in, counted once all along.
        admissions.admitted("plug-b", 7);
        connect(&sessions, "plug-b", "d-plug");
        assert_eq!(admissions.reserve("plug-d", "d-plug", &sessions).0, 3, "plug-a, plug-b, plug-c");
        admissions.connected("plug-b");
        assert_eq!(admissions.reserve("plug-e", "d-plug", &sessions).0, 4, "plug-a, plug-b, plug-c, plug-d");
        assert_eq!(admissions.reserve("lamp-2", "d-lamp", &sessions).0, 1, "another credential's own");
        assert_eq!(admissions.reserve("anon", "", &sessions).0, 0, "an anonymous client holds none");
    }

    #[test]
    fn a_refused_connect_gives_its_place_back_and_leaves_another_of_its_client_id() {
        let sessions = live(&[]);
        let admissions = Admissions::default();
        let (_, first) = admissions.reserve("plug-a", "d-plug", &sessions);
        drop(first);
        admissions.admitted("plug-a", 1);
        // A second CONNECT of the same client id, refused while the first is being set up.
        let (_, second) = admissions.reserve("plug-a", "d-plug", &sessions);
        admissions.refused("plug-a", second);
        assert_eq!(admissions.of("plug-a"), Some(("d-plug".to_owned(), 1)), "the first is still being let in");
        let (held, third) = admissions.reserve("plug-b", "d-plug", &sessions);
        assert_eq!(held, 1);
        admissions.refused("plug-b", third);
        assert_eq!(admissions.reserve("plug-c", "d-plug", &sessions).0, 1, "plug-b gave its place back");
        assert_eq!(admissions.of("plug-b"), None);
    }

    #[test]
    fn one_that_never_became_a_connection_stops_counting() {
        let sessions = live(&[]);
        let admissions = Admissions::default();
        let _ = admissions.reserve("plug-a", "d-plug", &sessions);
        let long_ago = Instant::now().checked_sub(SETTING_UP_AT_MOST + Duration::from_secs(1)).expect("a monotonic clock past a minute");
        admissions.0.lock().expect("lock").get_mut("plug-a").expect("held").since = long_ago;
        assert_eq!(admissions.of("plug-a"), None);
        assert_eq!(admissions.reserve("plug-b", "d-plug", &sessions).0, 0);
        assert!(!admissions.0.lock().expect("lock").contains_key("plug-a"), "and is no longer kept");
    }
}
