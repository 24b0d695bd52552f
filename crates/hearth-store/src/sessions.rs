//! Browser sessions: where a member is signed in, so that each can be listed and ended at once.
//!
//! The cookie holds a random token; only its SHA-256 is stored here (a fast hash is right for a
//! random 256-bit secret: there is nothing to guess). The hub keeps the live sessions in memory
//! for its checks and writes every change through to this table, so sessions survive a restart.
//! Starting and ending sessions is recorded in the audit with who and from where.

use crate::audit::write as audit;
use crate::{Store, StoreError};
use hearth_core::device::Actor;
use hearth_core::inventory::Millis;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// A session's public id: shown to people and used to end it. It is not the token, and knowing
/// it gives no access.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a session id (ids look like s-0123456789abcdef; `hearth sessions` lists them)")]
pub struct InvalidSessionId(pub String);

impl SessionId {
    /// Builds an id from 64 random bits supplied by the caller (the store does no randomness).
    pub fn from_random(bits: u64) -> Self {
        Self(format!("s-{bits:016x}"))
    }

    pub fn parse(s: &str) -> Result<Self, InvalidSessionId> {
        let ok = s.len() == 18 && s.starts_with("s-") && s[2..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok { Ok(Self(s.to_owned())) } else { Err(InvalidSessionId(s.to_owned())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub id: SessionId,
    /// Who signed in (`owner` until member accounts exist).
    pub member: String,
    /// SECURITY: `sha256:<hex>` of the cookie's token; never the token.
    pub token_hash: String,
    pub created_at: Millis,
    /// Updated at most once a minute, not at every request.
    pub last_used: Millis,
    pub expires_at: Millis,
    /// What the browser said it is (its User-Agent, cut short by the hub).
    pub user_agent: String,
    /// The address it was last used from.
    pub address: String,
}

const COLUMNS: &str = "id, member, token_hash, created_at, last_used, expires_at, user_agent, address";

impl Store {
    /// Every session not expired at `now`, the most recently used first.
    pub fn sessions(&self, now: Millis) -> Result<Vec<StoredSession>, StoreError> {
        let mut stmt =
            self.conn.prepare(&format!("SELECT {COLUMNS} FROM browser_sessions WHERE expires_at > ?1 ORDER BY last_used DESC, id"))?;
        let rows = stmt.query_map([now], session_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Files a new session, then ends the member's sessions beyond `max_per_member` (those
    /// unused the longest: a phone in daily use outlives a laptop signed in once) and every
    /// expired one. Returns the ids of the sessions ended.
    pub fn start_session(
        &mut self,
        session: &StoredSession,
        max_per_member: usize,
        origin: &str,
        now: Millis,
    ) -> Result<Vec<SessionId>, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            &format!("INSERT INTO browser_sessions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                session.id.as_str(),
                session.member,
                session.token_hash,
                session.created_at,
                session.last_used,
                session.expires_at,
                session.user_agent,
                session.address
            ],
        )?;
        let mut ended = delete_returning(&tx, "DELETE FROM browser_sessions WHERE expires_at <= ?1 RETURNING id", params![now])?;
        ended.extend(delete_returning(
            &tx,
            "DELETE FROM browser_sessions WHERE id IN (
                 SELECT id FROM browser_sessions WHERE member = ?1 ORDER BY last_used DESC, created_at DESC, id LIMIT -1 OFFSET ?2
             ) RETURNING id",
            params![session.member, i64::try_from(max_per_member).unwrap_or(i64::MAX)],
        )?);
        let who = Actor::member(&session.member, Some(session.address.clone()));
        audit(&tx, now, &who, origin, "sign_in", &format!("{} from {}", session.id, session.address))?;
        tx.commit()?;
        Ok(ended)
    }

    /// Notes that the session was used now, from `address`.
    pub fn touch_session(&mut self, id: &SessionId, address: &str, now: Millis) -> Result<(), StoreError> {
        self.conn.execute("UPDATE browser_sessions SET last_used = ?2, address = ?3 WHERE id = ?1", params![id.as_str(), now, address])?;
        Ok(())
    }

    /// Ends one session; `false` if there was none with this id.
    pub fn end_session(&mut self, id: &SessionId, actor: &Actor, origin: &str, now: Millis) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let ended = tx.execute("DELETE FROM browser_sessions WHERE id = ?1", [id.as_str()])? > 0;
        if ended {
            audit(&tx, now, actor, origin, "sign_out", id.as_str())?;
        }
        tx.commit()?;
        Ok(ended)
    }

    /// Ends every session of `member` but `keep`; returns the ids ended.
    pub fn end_sessions(
        &mut self,
        member: &str,
        keep: Option<&SessionId>,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<Vec<SessionId>, StoreError> {
        let tx = self.conn.transaction()?;
        let keep = keep.map_or("", SessionId::as_str);
        let ended =
            delete_returning(&tx, "DELETE FROM browser_sessions WHERE member = ?1 AND id != ?2 RETURNING id", params![member, keep])?;
        if !ended.is_empty() {
            audit(&tx, now, actor, origin, "sign_out_everywhere", &format!("{member}: {} sessions", ended.len()))?;
        }
        tx.commit()?;
        Ok(ended)
    }

    /// Deletes expired sessions; returns their ids.
    pub fn prune_sessions(&mut self, now: Millis) -> Result<Vec<SessionId>, StoreError> {
        let tx = self.conn.transaction()?;
        let ended = delete_returning(&tx, "DELETE FROM browser_sessions WHERE expires_at <= ?1 RETURNING id", params![now])?;
        tx.commit()?;
        Ok(ended)
    }

    /// One session by its id, expired or not (for tests and the audit's reader).
    pub fn session(&self, id: &SessionId) -> Result<Option<StoredSession>, StoreError> {
        Ok(self.conn.query_row(&format!("SELECT {COLUMNS} FROM browser_sessions WHERE id = ?1"), [id.as_str()], session_row).optional()?)
    }
}

pub(crate) fn delete_returning(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<SessionId>, StoreError> {
    let mut stmt = tx.prepare(sql)?;
    let ids = stmt.query_map(params, |r| r.get::<_, String>(0))?;
    ids.map(|id| parse(&id?)).collect()
}

fn parse(id: &str) -> Result<SessionId, StoreError> {
    SessionId::parse(id).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredSession> {
    let id: String = r.get(0)?;
    Ok(StoredSession {
        id: SessionId::parse(&id).map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))?,
        member: r.get(1)?,
        token_hash: r.get(2)?,
        created_at: r.get(3)?,
        last_used: r.get(4)?,
        expires_at: r.get(5)?,
        user_agent: r.get(6)?,
        address: r.get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Millis = 86_400_000;

    fn session(n: u64, created_at: Millis) -> StoredSession {
        StoredSession {
            id: SessionId::from_random(n),
            member: "owner".into(),
            token_hash: format!("sha256:{n:064x}"),
            created_at,
            last_used: created_at,
            expires_at: created_at + 30 * DAY,
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/120".into(),
            address: "10.0.0.12".into(),
        }
    }

    #[test]
    fn a_session_is_filed_touched_listed_and_ended_with_an_audit_trail() {
        let mut store = Store::open_in_memory().unwrap();
        let s = session(1, 1_000);
        assert!(store.start_session(&s, 100, "web", 1_000).unwrap().is_empty());
        assert_eq!(store.sessions(1_000).unwrap(), std::slice::from_ref(&s));
        store.touch_session(&s.id, "10.0.0.13", 61_000).unwrap();
        let touched = store.session(&s.id).unwrap().unwrap();
        assert_eq!((touched.last_used, touched.address.as_str()), (61_000, "10.0.0.13"));
        assert!(store.end_session(&s.id, &Actor::owner(), "cli", 70_000).unwrap());
        assert!(!store.end_session(&s.id, &Actor::owner(), "cli", 70_000).unwrap(), "ended once");
        assert!(store.sessions(70_000).unwrap().is_empty());
        let actions: Vec<String> = store.audit(10).unwrap().into_iter().map(|a| format!("{} {}", a.action, a.origin)).collect();
        assert_eq!(actions, ["sign_out cli", "sign_in web"]);
    }

    #[test]
    fn sessions_are_bounded_per_member_and_the_one_unused_longest_goes() {
        let mut store = Store::open_in_memory().unwrap();
        for n in 0..5 {
            store.start_session(&session(n, 1_000 + n as Millis), 5, "web", 1_000).unwrap();
        }
        // The first one is in daily use: the second, unused since it was made, goes.
        store.touch_session(&SessionId::from_random(0), "10.0.0.12", 50_000).unwrap();
        let ended = store.start_session(&session(9, 60_000), 5, "web", 60_000).unwrap();
        assert_eq!(ended, [SessionId::from_random(1)]);
        let left: Vec<SessionId> = store.sessions(60_000).unwrap().into_iter().map(|s| s.id).collect();
        assert_eq!(left.len(), 5);
        assert!(left.contains(&SessionId::from_random(0)) && left.contains(&SessionId::from_random(9)));
    }

    #[test]
    fn expired_sessions_are_not_listed_and_are_pruned() {
        let mut store = Store::open_in_memory().unwrap();
        store.start_session(&session(1, 0), 100, "web", 0).unwrap();
        store.start_session(&session(2, 10 * DAY), 100, "web", 10 * DAY).unwrap();
        assert_eq!(store.sessions(31 * DAY).unwrap().len(), 1, "the first expired at 30 days");
        assert_eq!(store.prune_sessions(31 * DAY).unwrap(), [SessionId::from_random(1)]);
        assert!(store.session(&SessionId::from_random(1)).unwrap().is_none());
        // A new sign-in prunes too.
        let ended = store.start_session(&session(3, 41 * DAY), 100, "web", 41 * DAY).unwrap();
        assert_eq!(ended, [SessionId::from_random(2)]);
    }

    #[test]
    fn everywhere_else_keeps_the_one_asking() {
        let mut store = Store::open_in_memory().unwrap();
        for n in 0..3 {
            store.start_session(&session(n, 1_000), 100, "web", 1_000).unwrap();
        }
        let keep = SessionId::from_random(1);
        let mut ended = store.end_sessions("owner", Some(&keep), &Actor::owner(), "web", 2_000).unwrap();
        ended.sort();
        assert_eq!(ended, [SessionId::from_random(0), SessionId::from_random(2)]);
        assert_eq!(store.end_sessions("owner", None, &Actor::owner(), "cli", 3_000).unwrap(), [keep]);
    }

    #[test]
    fn ids_are_checked() {
        assert!(SessionId::parse("s-0123456789abcdef").is_ok());
        for bad in ["", "s-0123456789ABCDEF", "s-0123", "d-0123456789abcdef", "s-0123456789abcdefg"] {
            assert!(SessionId::parse(bad).is_err(), "{bad}");
        }
    }
}
