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
use crate::family::Caller;
use crate::hub::Hub;
use crate::sessions::{Checked, Started, agent};
use std::net::IpAddr;

impl Hub {
    /// Signs a browser in as `member` (it redeemed a one-time link or an invitation, or gave a
    /// password): a new session. The token in the answer goes into that browser's cookie only.
    pub fn sign_in(&self, member: &str, user_agent: &str, address: IpAddr, origin: Origin) -> Result<Started, ApiError> {
        let user_agent = limits::cut(user_agent.trim(), USER_AGENT_CHARS);
        let mut store = self.store();
        let started = self.sessions().start(&mut store, member, &user_agent, address, origin, now())?;
        tracing::info!(session = %started.id, member, %address, browser = agent::describe(&user_agent), "a browser signed in");
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

    /// Where the member is signed in, the most recently used first (an owner sees everyone's);
    /// the browser asking is marked `current`.
    pub fn browser_sessions(&self, caller: &Caller) -> Result<Vec<BrowserSession>, ApiError> {
        let owner = self.household().member(&caller.member).is_some_and(|m| m.role == hearth_core::family::Role::Owner);
        let sessions = self.store().sessions(now())?;
        Ok(sessions
            .into_iter()
            .filter(|s| owner || s.member == caller.member)
            .map(|s| BrowserSession {
                current: caller.session.as_ref() == Some(&s.id),
                browser: agent::describe(&s.user_agent),
                member: s.member,
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
    /// A member ends their own; an owner anyone's.
    pub fn end_session(&self, id: &str, caller: &Caller) -> Result<(), ApiError> {
        let id = parse_session_id(id)?;
        let owner = self.household().member(&caller.member).is_some_and(|m| m.role == hearth_core::family::Role::Owner);
        let mut store = self.store();
        let theirs = store.session(&id)?.is_some_and(|s| s.member == caller.member);
        if !owner && !theirs {
            return Err(ApiError::not_found(format!("you are not signed in with session {id}; your sessions are listed under Settings")));
        }
        if !self.sessions().end(&mut store, &id, &caller.actor(), caller.origin, now())? {
            return Err(ApiError::not_found(format!(
                "no browser is signed in with session {id} (it ended or expired already); `hearth sessions` lists them"
            )));
        }
        tracing::info!(session = %id, origin = caller.origin, "a browser was signed out");
        Ok(())
    }

    /// Ends every session of the caller but the browser asking (all of them with the owner
    /// token, which is no session).
    pub fn end_other_sessions(&self, caller: &Caller) -> Result<SessionsEnded, ApiError> {
        let mut store = self.store();
        let keep = caller.session.as_ref();
        let ended = self.sessions().end_all_but(&mut store, &caller.member, keep, &caller.actor(), caller.origin, now())?;
        tracing::info!(ended, kept = keep.map(ToString::to_string), origin = caller.origin, "browsers were signed out");
        Ok(SessionsEnded { ended: u32::try_from(ended).unwrap_or(u32::MAX) })
    }
}

fn parse_session_id(id: &str) -> Result<SessionId, ApiError> {
    SessionId::parse(id.trim()).map_err(|_| ApiError::bad_request(hearth_store::sessions::InvalidSessionId(limits::quoted(id)).to_string()))
}

#[cfg(test)]
mod tests {
    use crate::api::types::ErrorCode;
    use crate::family::Caller;
    use hearth_core::device::FOUNDING_OWNER as OWNER;
    use std::net::{IpAddr, Ipv4Addr};

    const LAPTOP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 12));

    #[test]
    fn a_member_lists_where_they_are_signed_in_and_signs_out_one_or_all_others() {
        let (hub, _dir) = crate::testing::hub();
        let chromium = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
        let laptop = hub.sign_in(OWNER, chromium, LAPTOP, "web").unwrap();
        let phone = hub.sign_in(OWNER, "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0", LAPTOP, "web").unwrap();
        let tablet = hub.sign_in(OWNER, &"x".repeat(10_000), LAPTOP, "web").unwrap();
        let on_laptop = Caller { session: Some(laptop.id.clone()), ..Caller::local_owner("web") };
        let list = hub.browser_sessions(&on_laptop).unwrap();
        assert_eq!(list.len(), 3);
        let me = list.iter().find(|s| s.current).unwrap();
        assert_eq!((&me.id, me.browser.as_str(), me.address.as_str()), (&laptop.id, "Chrome on Linux", "10.0.0.12"));
        assert!(list.iter().all(|s| s.user_agent.chars().count() <= 201), "what a browser says is kept bounded");

        hub.end_session(phone.id.as_str(), &on_laptop).unwrap();
        assert!(hub.check_session(&phone.token, None).is_none(), "signed out at once");
        assert_eq!(hub.end_session(phone.id.as_str(), &on_laptop).unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(hub.end_session("../../etc", &on_laptop).unwrap_err().code, ErrorCode::BadRequest);

        assert_eq!(hub.end_other_sessions(&on_laptop).unwrap().ended, 1);
        assert!(hub.check_session(&tablet.token, None).is_none());
        assert!(hub.check_session(&laptop.token, None).is_some(), "everywhere else: this browser stays");
        assert_eq!(hub.end_other_sessions(&Caller::local_owner("cli")).unwrap().ended, 1, "the owner token ends them all");
        assert!(hub.browser_sessions(&Caller::local_owner("cli")).unwrap().is_empty());
    }
}
