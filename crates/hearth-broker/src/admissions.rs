//! CONNECTs between their authentication and their connection, and how many connections each
//! credential holds.
//!
//! rmqtt authenticates a CONNECT, then sets up its session, then says it is connected: the
//! [`Sessions`] of live connections learn of it only then. It runs a listener's handshakes in one
//! task, one at a time between their waits, and a handshake waits after its authentication (for
//! the session's lock, or up to 5 s for the connection it takes over): a CONNECT of the same
//! credential authenticated meanwhile would not see it, and a burst could pass a limit of live
//! connections. So each one is held here from its authentication, and a credential's connections
//! are counted here and in the live sessions together, under one lock.
//!
//! Each CONNECT is held under its own connection (client id and remote address): a CONNECT
//! that names another client's id, refused or not, never touches what is held for that client.

use crate::live::Sessions;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an authenticated CONNECT may take to become a connection: the handshake's 10 s
/// timeout and a takeover's 5 s wait, with room. Longer, and it failed on the way (its session
/// could not be set up), so it is neither counted nor kept.
const SETTING_UP_AT_MOST: Duration = Duration::from_secs(20);

/// One connection's CONNECT: its client id and where it came from.
type Connection = (String, Option<SocketAddr>);

struct Admitting {
    username: String,
    /// The fingerprint of the policy it was let in under; `None` while the gate decides.
    fingerprint: Option<u64>,
    since: Instant,
}

#[derive(Default)]
pub(crate) struct Admissions(Mutex<HashMap<Connection, Admitting>>);

fn key(client_id: &str, remote: Option<SocketAddr>) -> Connection {
    (client_id.to_owned(), remote)
}

impl Admissions {
    /// Holds the CONNECT of `client_id` from `remote` as one being let in, and returns how many
    /// connections `username` holds under other client ids: live, or being let in (each client
    /// id counted once). An anonymous client (`username` empty) holds none of a credential's.
    ///
    /// A CONNECT is held while the gate decides it, before its password is checked: one with a
    /// wrong password counts for the credential it names for that moment. The gate decides
    /// without waiting, and rmqtt's handshakes run in one task, so at most one is ever held so.
    pub(crate) fn reserve(&self, client_id: &str, remote: Option<SocketAddr>, username: &str, live: &Sessions) -> usize {
        let mut admitting = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        admitting.retain(|_, a| now.duration_since(a.since) < SETTING_UP_AT_MOST);
        let held = if username.is_empty() {
            0
        } else {
            let live = live.lock().unwrap_or_else(|p| p.into_inner());
            let mut others: HashSet<&str> =
                live.iter().filter(|s| s.username == username && s.client_id != client_id).map(|s| s.client_id.as_str()).collect();
            others
                .extend(admitting.iter().filter(|((id, _), a)| a.username == username && id != client_id).map(|((id, _), _)| id.as_str()));
            others.len()
        };
        admitting.insert(key(client_id, remote), Admitting { username: username.to_owned(), fingerprint: None, since: now });
        held
    }

    /// The gate let this CONNECT in under the policy whose fingerprint this is.
    pub(crate) fn admitted(&self, client_id: &str, remote: Option<SocketAddr>, fingerprint: u64) {
        if let Some(a) = self.0.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&key(client_id, remote)) {
            a.fingerprint = Some(fingerprint);
        }
    }

    /// The username and fingerprint this connection was let in under, if it was, and not long ago.
    pub(crate) fn of(&self, client_id: &str, remote: Option<SocketAddr>) -> Option<(String, u64)> {
        let admitting = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let a = admitting.get(&key(client_id, remote)).filter(|a| a.since.elapsed() < SETTING_UP_AT_MOST)?;
        Some((a.username.clone(), a.fingerprint?))
    }

    /// This CONNECT was refused, or is connected (its live session, added to the live sessions
    /// before this, counts for it now, so that it is never counted by neither).
    pub(crate) fn release(&self, client_id: &str, remote: Option<SocketAddr>) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&key(client_id, remote));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionInfo;

    fn from(port: u16) -> Option<SocketAddr> {
        Some(SocketAddr::from(([10, 77, 0, 2], port)))
    }

    fn connect(sessions: &Sessions, client_id: &str, username: &str) {
        let info =
            SessionInfo { client_id: client_id.to_owned(), username: username.to_owned(), remote: None, protocol: 4, connected_at: 0 };
        sessions.lock().expect("lock").insert(info);
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
        assert_eq!(admissions.reserve("plug-b", from(1), "d-plug", &sessions), 1);
        assert_eq!(admissions.reserve("plug-c", from(2), "d-plug", &sessions), 2, "plug-b is being let in");
        assert_eq!(admissions.reserve("plug-a", from(3), "d-plug", &sessions), 2, "a takeover of plug-a is no new connection");
        // plug-b connects: live and no longer being let in, counted once all along.
        admissions.admitted("plug-b", from(1), 7);
        connect(&sessions, "plug-b", "d-plug");
        assert_eq!(admissions.reserve("plug-d", from(4), "d-plug", &sessions), 3, "plug-a, plug-b, plug-c");
        admissions.release("plug-b", from(1));
        assert_eq!(admissions.reserve("plug-e", from(5), "d-plug", &sessions), 4, "plug-a, plug-b, plug-c, plug-d");
        assert_eq!(admissions.reserve("lamp-2", from(6), "d-lamp", &sessions), 1, "another credential's own");
        assert_eq!(admissions.reserve("anon", from(7), "", &sessions), 0, "an anonymous client holds none");
    }

    #[test]
    fn a_connect_naming_anothers_client_id_never_touches_what_is_held_for_it() {
        let sessions = live(&[]);
        let admissions = Admissions::default();
        admissions.reserve("plug-a", from(1), "d-plug", &sessions);
        // Another host sends a CONNECT with plug-a's client id while plug-a is being let in, and is
        // refused (a wrong password), before and after plug-a's admission.
        admissions.reserve("plug-a", from(9), "d-plug", &sessions);
        admissions.admitted("plug-a", from(1), 1);
        admissions.release("plug-a", from(9));
        assert_eq!(admissions.of("plug-a", from(1)), Some(("d-plug".to_owned(), 1)), "plug-a is still being let in");
        assert_eq!(admissions.of("plug-a", from(9)), None);
        // A refused one gives its place back.
        assert_eq!(admissions.reserve("plug-b", from(2), "d-plug", &sessions), 1);
        admissions.release("plug-b", from(2));
        assert_eq!(admissions.reserve("plug-c", from(3), "d-plug", &sessions), 1, "plug-b gave its place back");
    }

    #[test]
    fn one_that_never_became_a_connection_stops_counting() {
        let sessions = live(&[]);
        let admissions = Admissions::default();
        admissions.reserve("plug-a", from(1), "d-plug", &sessions);
        admissions.admitted("plug-a", from(1), 1);
        let long_ago = Instant::now().checked_sub(SETTING_UP_AT_MOST + Duration::from_secs(1)).expect("a monotonic clock past the window");
        admissions.0.lock().expect("lock").values_mut().for_each(|a| a.since = long_ago);
        assert_eq!(admissions.of("plug-a", from(1)), None);
        assert_eq!(admissions.reserve("plug-b", from(2), "d-plug", &sessions), 0);
        assert!(!admissions.0.lock().expect("lock").contains_key(&key("plug-a", from(1))), "and is no longer kept");
    }
}
