//! The live connections, by client id, as the hooks see them connect and go.

use crate::SessionInfo;
use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

/// Live sessions by client id, kept by the hooks; shared with the broker's handle and the
/// admissions.
pub(crate) type Sessions = Arc<Mutex<LiveSessions>>;

/// One live connection, found by its client id. Boxed, so that the table's slots are one pointer
/// wide: the table has from 1.14 to about 2.3 slots an entry (filled to 7/8, then doubled), and a
/// `SessionInfo` inline is 96 bytes. Its client id is its key, so it is kept once, not again
/// beside it. Measured with heaptrack (`./scripts/bench heap`): 140 bytes less per idle
/// connection than a map from client id to the info inline, the box's allocation counted.
struct Live(Box<SessionInfo>);

impl Borrow<str> for Live {
    fn borrow(&self) -> &str {
        &self.0.client_id
    }
}

// Hashed and compared as its client id alone, as `Borrow<str>` requires.
impl Hash for Live {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.client_id.as_str().hash(state);
    }
}

impl PartialEq for Live {
    fn eq(&self, other: &Self) -> bool {
        self.0.client_id == other.0.client_id
    }
}

impl Eq for Live {}

#[derive(Default)]
pub(crate) struct LiveSessions {
    by_client_id: HashSet<Live>,
    /// How many of them each username holds, so that a CONNECT's count of its credential's
    /// connections (`Admissions::reserve`, under this table's lock) does not walk every live
    /// session: one entry per credential, not per connection.
    per_username: HashMap<String, usize>,
}

impl LiveSessions {
    /// Adds `info`, in place of a live session of the same client id (a takeover connects before
    /// the connection it replaced is said to be gone).
    pub(crate) fn insert(&mut self, info: SessionInfo) {
        match self.per_username.get_mut(&info.username) {
            Some(held) => *held += 1,
            None => {
                self.per_username.insert(info.username.clone(), 1);
            }
        }
        if let Some(replaced) = self.by_client_id.replace(Live(Box::new(info))) {
            self.forget_one_of(&replaced.0.username);
        }
    }

    pub(crate) fn get(&self, client_id: &str) -> Option<&SessionInfo> {
        self.by_client_id.get(client_id).map(|live| &*live.0)
    }

    pub(crate) fn contains(&self, client_id: &str) -> bool {
        self.by_client_id.contains(client_id)
    }

    pub(crate) fn remove(&mut self, client_id: &str) {
        if let Some(removed) = self.by_client_id.take(client_id) {
            self.forget_one_of(&removed.0.username);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &SessionInfo> {
        self.by_client_id.iter().map(|live| &*live.0)
    }

    /// Live connections of `username` under client ids other than `client_id`.
    pub(crate) fn held_by(&self, username: &str, client_id: &str) -> usize {
        let all = self.per_username.get(username).copied().unwrap_or(0);
        let own = self.get(client_id).is_some_and(|s| s.username == username);
        all - usize::from(own)
    }

    fn forget_one_of(&mut self, username: &str) {
        if let Some(held) = self.per_username.get_mut(username) {
            *held -= 1;
            if *held == 0 {
                self.per_username.remove(username);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(client_id: &str, port: u16) -> SessionInfo {
        as_user(client_id, "d-plug", port)
    }

    fn as_user(client_id: &str, username: &str, port: u16) -> SessionInfo {
        SessionInfo {
            client_id: client_id.to_owned(),
            username: username.to_owned(),
            remote: Some(([10, 77, 0, 2], port).into()),
            protocol: 4,
            connected_at: i64::from(port),
        }
    }

    #[test]
    fn a_session_is_found_by_its_client_id_and_replaced_by_its_takeover() {
        let mut live = LiveSessions::default();
        live.insert(session("plug-a", 1));
        live.insert(session("plug-b", 2));
        live.insert(session("plug-a", 3));
        assert_eq!(live.iter().count(), 2);
        assert_eq!(live.get("plug-a").and_then(|s| s.remote).map(|r| r.port()), Some(3), "the takeover's connection");
        assert!(live.contains("plug-b"));
        live.remove("plug-b");
        assert!(!live.contains("plug-b"));
        assert!(live.get("plug-c").is_none());
    }

    #[test]
    fn each_usernames_connections_are_counted_through_takeovers_and_ends() {
        let mut live = LiveSessions::default();
        live.insert(session("plug-a", 1));
        live.insert(session("plug-b", 2));
        live.insert(as_user("lamp", "d-lamp", 3));
        assert_eq!(live.held_by("d-plug", "plug-new"), 2);
        assert_eq!(live.held_by("d-plug", "plug-a"), 1, "its own connection is not another");
        assert_eq!(live.held_by("d-plug", "lamp"), 2, "another credential's client id is not the plug's");
        // A takeover of the same client id is no new connection; one under another credential
        // moves the count.
        live.insert(session("plug-a", 4));
        assert_eq!(live.held_by("d-plug", "plug-new"), 2);
        live.insert(as_user("plug-b", "d-lamp", 5));
        assert_eq!((live.held_by("d-plug", "x"), live.held_by("d-lamp", "x")), (1, 2));
        live.remove("plug-a");
        live.remove("plug-a");
        assert_eq!(live.held_by("d-plug", "x"), 0, "a second removal changes nothing");
        assert!(!live.per_username.contains_key("d-plug"), "a credential with none left is forgotten");
        assert_eq!(live.held_by("d-lamp", "x"), 2);
    }
}
