//! Browser sessions: who is signed in where, checked on every request, ended at once.
//!
//! A browser that redeems a sign-in link gets a random 256-bit token in an HttpOnly,
//! SameSite=Strict cookie. The store keeps only the token's SHA-256 with what the session is
//! (created, last used, expiry, what the browser said it is, where from); this module keeps the
//! live ones in memory as well, so that checking a cookie is a map lookup, never a wait on the
//! store's lock, and a flood of made-up cookies costs one hash each. Every change is written to
//! the store first and then to memory, so a session ended is refused from the moment the call
//! returns, and stays ended across a restart.
//!
//! - [`agent`]: a User-Agent in plain words ("Firefox on Android").
//!
//! Ending a session also closes its open event streams: each stream watches [`Sessions::ended`]
//! and checks that its session is still live when it changes.

pub mod agent;

use crate::api::types::ApiError;
use hearth_core::inventory::Millis;
use hearth_store::{SessionId, Store, StoredSession};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use tokio::sync::watch;

/// A browser stays signed in for 30 days, then asks for a new link.
pub const LIFETIME_MS: Millis = 30 * 24 * 3600 * 1000;
/// Sessions a member may have at once; a new one beyond this ends the one unused the longest.
/// A household signs in on a handful of browsers; only a script signing in in a loop gets near.
pub const MAX_PER_MEMBER: usize = 100;
/// A session's last use is written at most this often: a page makes many requests a minute,
/// and none of them should each cost a write.
const TOUCH_EVERY_MS: Millis = 60_000;

/// One live session, as memory keeps it.
#[derive(Debug, Clone)]
struct Live {
    id: SessionId,
    member: String,
    expires_at: Millis,
    last_used: Millis,
    address: String,
}

/// A cookie that belongs to a live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub id: SessionId,
    pub member: String,
    pub expires_at: Millis,
    /// Its last use should be written now (the last write was a minute ago or more, or it comes
    /// from another address).
    pub touch: bool,
}

/// A session just started: the token goes into this browser's cookie and nowhere else.
#[derive(Debug)]
pub struct Started {
    pub id: SessionId,
    /// SECURITY: the cookie's value; Hearth keeps only its hash.
    pub token: String,
    pub expires_at: Millis,
}

#[derive(Debug)]
pub struct Sessions {
    /// Live sessions by the hash of their token. A std Mutex: each use is a map lookup or
    /// update, never held across an await nor while waiting for the store.
    live: Mutex<HashMap<String, Live>>,
    /// Bumped each time sessions end (signed out, evicted), so event streams re-check theirs.
    ended: watch::Sender<u64>,
}

impl Sessions {
    /// Loads the sessions on file, after deleting the expired ones.
    pub fn load(store: &mut Store, now: Millis) -> Result<Self, hearth_store::StoreError> {
        store.prune_sessions(now)?;
        let live = store.sessions(now)?.into_iter().map(|s| (s.token_hash.clone(), live_of(s))).collect();
        Ok(Self { live: Mutex::new(live), ended: watch::channel(0).0 })
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, Live>> {
        // Only map operations happen under the lock, so a poisoned one is still consistent.
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session for `member` (the store first, then memory), ending those beyond the
    /// bound and the expired ones.
    pub fn start(
        &self,
        store: &mut Store,
        member: &str,
        user_agent: &str,
        address: IpAddr,
        origin: &str,
        now: Millis,
    ) -> Result<Started, ApiError> {
        let random = |e: anyhow::Error| ApiError::internal(format!("cannot start a session: {e:#}"));
        let token = crate::random::hex_token(32).map_err(random)?;
        let id = SessionId::from_random(u64::from_le_bytes(crate::random::bytes::<8>().map_err(random)?));
        let session = StoredSession {
            id: id.clone(),
            member: member.to_owned(),
            token_hash: hash(&token),
            created_at: now,
            last_used: now,
            expires_at: now + LIFETIME_MS,
            user_agent: user_agent.to_owned(),
            address: address.to_canonical().to_string(),
        };
        let ended = store.start_session(&session, MAX_PER_MEMBER, origin, now)?;
        let expires_at = session.expires_at;
        let mut live = self.live();
        live.insert(session.token_hash.clone(), live_of(session));
        if !ended.is_empty() {
            live.retain(|_, s| !ended.contains(&s.id));
            drop(live);
            self.announce_ended();
        }
        Ok(Started { id, token, expires_at })
    }

    /// The live session a cookie's token belongs to, if any. `from`: where the request comes
    /// from, to note its last use (`None`: only check).
    pub fn check(&self, token: &str, from: Option<IpAddr>, now: Millis) -> Option<Checked> {
        // Anything but what Hearth makes is refused before it is hashed.
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return None;
        }
        let key = hash(token);
        let mut live = self.live();
        let session = live.get_mut(&key)?;
        if session.expires_at <= now {
            live.remove(&key);
            return None;
        }
        let mut touch = false;
        if let Some(from) = from.map(|a| a.to_canonical().to_string())
            && (now - session.last_used >= TOUCH_EVERY_MS || from != session.address)
        {
            session.last_used = now;
            session.address = from;
            touch = true;
        }
        Some(Checked { id: session.id.clone(), member: session.member.clone(), expires_at: session.expires_at, touch })
    }

    /// Whether the session is still live (an event stream asks when sessions end).
    pub fn is_live(&self, id: &SessionId, now: Millis) -> bool {
        self.live().values().any(|s| &s.id == id && s.expires_at > now)
    }

    /// Ends one session: the store first, then memory. `false` if it was not live.
    pub fn end(
        &self,
        store: &mut Store,
        id: &SessionId,
        actor: &hearth_core::device::Actor,
        origin: &str,
        now: Millis,
    ) -> Result<bool, ApiError> {
        let ended = store.end_session(id, actor, origin, now)?;
        self.live().retain(|_, s| &s.id != id);
        self.announce_ended();
        Ok(ended)
    }

    /// Ends every session of `member` but `keep`; returns how many ended.
    pub fn end_all_but(
        &self,
        store: &mut Store,
        member: &str,
        keep: Option<&SessionId>,
        actor: &hearth_core::device::Actor,
        origin: &str,
        now: Millis,
    ) -> Result<usize, ApiError> {
        let ended = store.end_sessions(member, keep, actor, origin, now)?;
        self.live().retain(|_, s| s.member != member || Some(&s.id) == keep);
        self.announce_ended();
        Ok(ended.len())
    }

    /// Drops sessions the store already ended (a member was removed) and closes their streams.
    pub fn forget(&self, ended: &[SessionId]) {
        self.live().retain(|_, s| !ended.contains(&s.id));
        self.announce_ended();
    }

    /// Changes each time sessions end.
    pub fn ended(&self) -> watch::Receiver<u64> {
        self.ended.subscribe()
    }

    fn announce_ended(&self) {
        self.ended.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// How many sessions are live in memory (the bound's proof).
    #[cfg(test)]
    fn count(&self) -> usize {
        self.live().len()
    }
}

fn live_of(s: StoredSession) -> Live {
    Live { id: s.id, member: s.member, expires_at: s.expires_at, last_used: s.last_used, address: s.address }
}

/// What the store keeps of a token: `sha256:<hex>`, as for device secrets (a random 256-bit
/// token needs no slow hash: there is nothing to guess).
pub(crate) fn hash(token: &str) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(token.as_bytes())))
}

#[cfg(test)]
mod tests;
