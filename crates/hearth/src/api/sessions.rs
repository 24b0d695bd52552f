//! Browser sessions as a member sees them: where they are signed in, and signing out of one or
//! all. Until member accounts exist, every session is the owner's.
//!
//! "All" means **every other** session: `DELETE /api/v1/sessions` keeps the browser asking (a
//! person who lost a phone wants it signed out, not to lock themselves out of the browser in
//! their hand); that browser signs itself out by ending its own session by id. With the owner
//! token (`hearth sessions revoke --all`) there is no session asking, so every one ends.

use super::limits::{self, USER_AGENT_CHARS};
use super::{Origin, now};
use crate::api::types::{ApiError, BrowserSession, SessionId, SessionsEnded};
use crate::hub::Hub;
use crate::sessions::{Checked, OWNER, Started, agent};
use std::net::IpAddr;

impl Hub {
    /// Signs a browser in (it redeemed a one-time link): a new session for the owner. The token
    /// in the answer goes into that browser's cookie only.
    pub fn sign_in(&self, user_agent: &str, address: IpAddr, origin: Origin) -> Result<Started, ApiError> {
        let user_agent = limits::cut(user_agent.trim(), USER_AGENT_CHARS);
        let mut store = self.store();
        let started = self.sessions().start(&mut store, OWNER, &user_agent, address, origin, now())?;
        tracing::info!(session = %started.id, %address, browser = agent::describe(&user_agent), "a browser signed in");
        Ok(started)
    }

    /// The live session of a cookie's token, if any; `from` notes its use (see [`Hub::touch_session`]).
    pub fn check_session(&self, token: &str, from: Option<IpAddr>) -> Option<Checked> {
        self.sessions().check(token, from, now())
    }

    /// Writes a session's last use, as [`Hub::check_session`] asked. A failure is logged, not
    /// fatal: the request itself was already allowed.
    pub fn touch_session(&self, id: &SessionId, address: IpAddr) {
        let address = address.to_canonical().to_string();
        if let Err(e) = self.store().touch_session(id, &address, now()) {
            tracing::warn!(session = %id, "cannot note a session's last use: {e}");
        }
    }

    /// Whether the session is still live (an event stream asks when sessions end).
    pub fn session_is_live(&self, id: &SessionId) -> bool {
        self.sessions().is_live(id, now())
    }

    /// Changes each time sessions end.
    pub fn sessions_ended(&self) -> tokio::sync::watch::Receiver<u64> {
        self.sessions().ended()
    }

    /// Where the owner is signed in, the most recently used first; `current` is the session of
    /// the browser asking, if it is one.
    pub fn browser_sessions(&self, current: Option<&SessionId>) -> Result<Vec<BrowserSession>, ApiError> {
        let sessions = self.store().sessions(now())?;
        Ok(sessions
            .into_iter()
            .filter(|s| s.member == OWNER)
            .map(|s| BrowserSession {
                current: current == Some(&s.id),
                browser: agent::describe(&s.user_agent),
                id: s.id,
                user_agent: s.user_agent,
                address: s.address,
                signed_in_at: s.created_at,
                last_used: s.last_used,
                expires_at: s.expires_at,
            })
            .collect())
    }

    /// Ends one session at once: its cookie is refused from now on and its event streams close.
    pub fn end_session(&self, id: &str, origin: Origin) -> Result<(), ApiError> {
        let id = parse_session_id(id)?;
        let mut store = self.store();
        if !self.sessions().end(&mut store, &id, origin, now())? {
            return Err(ApiError::not_found(format!(
                "no browser is signed in with session {id} (it ended or expired already); `hearth sessions` lists them"
            )));
        }
        tracing::info!(session = %id, origin, "a browser was signed out");
        Ok(())
    }

    /// Ends every session but `keep` (the browser asking, if it is one).
    pub fn end_other_sessions(&self, keep: Option<&SessionId>, origin: Origin) -> Result<SessionsEnded, ApiError> {
        let mut store = self.store();
        let ended = self.sessions().end_all_but(&mut store, OWNER, keep, origin, now())?;
        tracing::info!(ended, kept = keep.map(ToString::to_string), origin, "browsers were signed out");
        Ok(SessionsEnded { ended: u32::try_from(ended).unwrap_or(u32::MAX) })
    }
}

fn parse_session_id(id: &str) -> Result<SessionId, ApiError> {
    SessionId::parse(id.trim()).map_err(|_| ApiError::bad_request(hearth_store::sessions::InvalidSessionId(limits::quoted(id)).to_string()))
}

#[cfg(test)]
mod tests {
    use crate::api::types::ErrorCode;
    use std::net::{IpAddr, Ipv4Addr};

    const LAPTOP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 12));

    #[test]
    fn a_member_lists_where_they_are_signed_in_and_signs_out_one_or_all_others() {
        let (hub, _dir) = crate::testing::hub();
        let chromium = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
        let laptop = hub.sign_in(chromium, LAPTOP, "web").unwrap();
        let phone = hub.sign_in("Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0", LAPTOP, "web").unwrap();
        let tablet = hub.sign_in(&"x".repeat(10_000), LAPTOP, "web").unwrap();
        let list = hub.browser_sessions(Some(&laptop.id)).unwrap();
        assert_eq!(list.len(), 3);
        let me = list.iter().find(|s| s.current).unwrap();
        assert_eq!((&me.id, me.browser.as_str(), me.address.as_str()), (&laptop.id, "Chrome on Linux", "10.0.0.12"));
        assert!(list.iter().all(|s| s.user_agent.chars().count() <= 201), "what a browser says is kept bounded");

        hub.end_session(phone.id.as_str(), "web").unwrap();
        assert!(hub.check_session(&phone.token, None).is_none(), "signed out at once");
        assert_eq!(hub.end_session(phone.id.as_str(), "web").unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(hub.end_session("../../etc", "web").unwrap_err().code, ErrorCode::BadRequest);

        assert_eq!(hub.end_other_sessions(Some(&laptop.id), "web").unwrap().ended, 1);
        assert!(hub.check_session(&tablet.token, None).is_none());
        assert!(hub.check_session(&laptop.token, None).is_some(), "everywhere else: this browser stays");
        assert_eq!(hub.end_other_sessions(None, "cli").unwrap().ended, 1, "the owner token ends them all");
        assert!(hub.browser_sessions(None).unwrap().is_empty());
    }
}
