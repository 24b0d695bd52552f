//! Sessions over a real (in-memory) store: what a browser's cookie may do, and when it stops.

use super::*;
use hearth_core::device::FOUNDING_OWNER as OWNER;
use std::net::Ipv4Addr;

const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 12));
const PHONE: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 31));
const T0: Millis = 1_700_000_000_000;

fn setup() -> (Store, Sessions) {
    let mut store = Store::open_in_memory().unwrap();
    let sessions = Sessions::load(&mut store, T0).unwrap();
    (store, sessions)
}

fn sign_in(store: &mut Store, sessions: &Sessions, at: Millis) -> Started {
    sessions.start(store, OWNER, "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0", HOME, "web", at).unwrap()
}

#[test]
fn a_session_is_checked_by_its_token_and_only_its_hash_is_stored() {
    let (mut store, sessions) = setup();
    let started = sign_in(&mut store, &sessions, T0);
    let checked = sessions.check(&started.token, None, T0 + 1).unwrap();
    assert_eq!((checked.id, checked.member.as_str(), checked.expires_at), (started.id.clone(), OWNER, T0 + LIFETIME_MS));
    let stored = store.session(&started.id).unwrap().unwrap();
    assert_ne!(stored.token_hash, started.token);
    assert!(!stored.token_hash.contains(&started.token));
    // Other tokens, made up or altered, are refused.
    let mut altered = started.token.clone().into_bytes();
    altered[0] = if altered[0] == b'0' { b'1' } else { b'0' };
    for wrong in
        [String::from_utf8(altered).unwrap(), "0".repeat(64), started.token.to_uppercase(), format!("{}0", started.token), String::new()]
    {
        assert!(sessions.check(&wrong, None, T0 + 1).is_none(), "{wrong}");
    }
}

#[test]
fn an_ended_session_is_refused_at_once_and_after_a_restart() {
    let (mut store, sessions) = setup();
    let laptop = sign_in(&mut store, &sessions, T0);
    let phone = sign_in(&mut store, &sessions, T0);
    let ended = sessions.ended();
    assert!(sessions.end(&mut store, &laptop.id, &hearth_core::device::Actor::owner(), "web", T0 + 5).unwrap());
    assert!(ended.has_changed().unwrap(), "open event streams are told");
    assert!(sessions.check(&laptop.token, None, T0 + 6).is_none());
    assert!(!sessions.is_live(&laptop.id, T0 + 6));
    assert!(sessions.check(&phone.token, None, T0 + 6).is_some(), "only that one");
    let restarted = Sessions::load(&mut store, T0 + 7).unwrap();
    assert!(restarted.check(&laptop.token, None, T0 + 8).is_none(), "a revoked session never validates again");
    assert!(restarted.check(&phone.token, None, T0 + 8).is_some(), "the others survive a restart");
    assert!(
        !sessions.end(&mut store, &laptop.id, &hearth_core::device::Actor::owner(), "web", T0 + 9).unwrap(),
        "ending it twice finds nothing"
    );
}

#[test]
fn signing_out_everywhere_else_keeps_the_browser_asking() {
    let (mut store, sessions) = setup();
    let all: Vec<Started> = (0..4).map(|i| sign_in(&mut store, &sessions, T0 + i)).collect();
    assert_eq!(sessions.end_all_but(&mut store, OWNER, Some(&all[2].id), &hearth_core::device::Actor::owner(), "web", T0 + 10).unwrap(), 3);
    for (i, s) in all.iter().enumerate() {
        assert_eq!(sessions.check(&s.token, None, T0 + 11).is_some(), i == 2);
    }
    // With the owner token (the CLI) there is no session asking: all of them end.
    assert_eq!(sessions.end_all_but(&mut store, OWNER, None, &hearth_core::device::Actor::owner(), "cli", T0 + 12).unwrap(), 1);
    assert!(sessions.check(&all[2].token, None, T0 + 13).is_none());
}

#[test]
fn sessions_are_bounded_and_the_one_unused_longest_ends() {
    let (mut store, sessions) = setup();
    let first = sign_in(&mut store, &sessions, T0);
    let second = sign_in(&mut store, &sessions, T0 + 1);
    // The first is used every day; the second never again.
    assert!(sessions.check(&first.token, Some(HOME), T0 + 2 * TOUCH_EVERY_MS).unwrap().touch);
    store.touch_session(&first.id, "10.0.0.12", T0 + 2 * TOUCH_EVERY_MS).unwrap();
    for i in 2..MAX_PER_MEMBER as Millis + 1 {
        sign_in(&mut store, &sessions, T0 + 3 * TOUCH_EVERY_MS + i);
    }
    assert_eq!(sessions.count(), MAX_PER_MEMBER);
    assert_eq!(store.sessions(T0 + 4 * TOUCH_EVERY_MS).unwrap().len(), MAX_PER_MEMBER);
    assert!(sessions.check(&second.token, None, T0 + 4 * TOUCH_EVERY_MS).is_none(), "the one unused longest was ended");
    assert!(sessions.check(&first.token, None, T0 + 4 * TOUCH_EVERY_MS).is_some());
}

#[test]
fn an_expired_session_is_refused_and_pruned() {
    let (mut store, sessions) = setup();
    let s = sign_in(&mut store, &sessions, T0);
    assert!(sessions.check(&s.token, None, T0 + LIFETIME_MS - 1).is_some());
    assert!(sessions.check(&s.token, None, T0 + LIFETIME_MS).is_none());
    let later = Sessions::load(&mut store, T0 + LIFETIME_MS).unwrap();
    assert_eq!(later.count(), 0);
    assert!(store.session(&s.id).unwrap().is_none(), "pruned from the file at start");
}

#[test]
fn the_last_use_is_written_at_most_once_a_minute_or_when_the_address_changes() {
    let (mut store, sessions) = setup();
    let s = sign_in(&mut store, &sessions, T0);
    let touch = |at: Millis, from: IpAddr| sessions.check(&s.token, Some(from), at).unwrap().touch;
    assert!(!touch(T0 + 1_000, HOME), "just signed in");
    assert!(!touch(T0 + TOUCH_EVERY_MS - 1, HOME));
    assert!(touch(T0 + TOUCH_EVERY_MS, HOME));
    assert!(!touch(T0 + TOUCH_EVERY_MS + 10, HOME));
    assert!(touch(T0 + TOUCH_EVERY_MS + 20, PHONE), "another address is news at once");
    assert!(!sessions.check(&s.token, None, T0 + 10 * TOUCH_EVERY_MS).unwrap().touch, "a bare check writes nothing");
}
