//! CONNECT attempts, counted rather than kept one by one: per device (or none, when the attempt
//! named no device), source address and outcome. Anyone on the home network can send CONNECTs,
//! as fast as they like and with whatever client id, username and Will topic fit in a packet, so:
//! - attempts are counts, filed every second, never a row each; a log line says the first refusal
//!   of each reason in a minute, with its strings cut short;
//! - the counts themselves are bounded: past [`MAX_KEYS`] kinds, attempts are counted under no
//!   device and no address;
//! - an address refused [`REFUSED_PER_MINUTE`] times in a minute is refused without a look for
//!   the rest of that minute (the attacker's own address: a LAN host cannot forge the source of
//!   a TCP connection, and a device that shares the address reconnects the next minute).

use crate::api::types::DropReason;
use hearth_core::device::DeviceId;
use hearth_core::inventory::Millis;
use hearth_core::text::{STORED, clip};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Refused CONNECTs one address may make in a minute before it is refused without a look.
/// Devices with a wrong secret retry every few seconds: a misconfigured one stays under it.
pub const REFUSED_PER_MINUTE: u32 = 30;
/// Kinds of attempt counted at once, and addresses tracked for the limit.
pub const MAX_KEYS: usize = 4096;
const WINDOW: Duration = Duration::from_secs(60);

/// One kind of attempt.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttemptKey {
    pub device: Option<DeviceId>,
    pub address: Option<IpAddr>,
    /// `None`: accepted.
    pub outcome: Option<DropReason>,
}

/// Attempts of one kind since the last time they were filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptCount {
    pub count: u64,
    pub first_at: Millis,
    pub last_at: Millis,
    /// The latest attempt's client id and username, cut to [`STORED`] bytes.
    pub client_id: String,
    pub username: Option<String>,
}

/// What noting an attempt means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noted {
    /// The first of its kind this minute: record it and log it.
    First,
    /// Counted only.
    Counted,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    seen: HashSet<AttemptKey>,
    refused_by_address: HashMap<Option<IpAddr>, u32>,
    /// Refusal reasons already logged this minute.
    logged: HashSet<DropReason>,
}

#[derive(Debug)]
pub struct Attempts {
    /// A std mutex: held for a few map operations, never across an await.
    window: Mutex<Window>,
    pending: Mutex<HashMap<AttemptKey, AttemptCount>>,
}

impl Default for Attempts {
    fn default() -> Self {
        Self {
            window: Mutex::new(Window {
                started: Instant::now(),
                seen: HashSet::new(),
                refused_by_address: HashMap::new(),
                logged: HashSet::new(),
            }),
            pending: Mutex::default(),
        }
    }
}

impl Attempts {
    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if window.started.elapsed() > WINDOW {
            *window = Window { started: Instant::now(), seen: HashSet::new(), refused_by_address: HashMap::new(), logged: HashSet::new() };
        }
        window
    }

    /// Whether `address` was refused too often this minute. Only addresses in the table are held
    /// back: past [`MAX_KEYS`] addresses, new ones are counted but never refused for it, so that
    /// a flood from many addresses cannot make every newcomer (a device back on a new address)
    /// share its fate.
    pub fn throttled(&self, address: Option<IpAddr>) -> bool {
        self.window().refused_by_address.get(&address).is_some_and(|n| *n >= REFUSED_PER_MINUTE)
    }

    /// Whether a refusal for `reason` is the first logged this minute (the others are counted).
    pub fn first_log_this_minute(&self, reason: DropReason) -> bool {
        self.window().logged.insert(reason)
    }

    /// Counts one attempt. Returns whether it is the first of its kind this minute, and for a
    /// refusal whether it just brought its address to the limit.
    pub fn note(&self, key: AttemptKey, client_id: &str, username: Option<&str>, now: Millis) -> (Noted, bool) {
        let mut reached_limit = false;
        let noted = {
            let mut window = self.window();
            if key.outcome.is_some() && (window.refused_by_address.len() < MAX_KEYS || window.refused_by_address.contains_key(&key.address))
            {
                let refused = window.refused_by_address.entry(key.address).or_insert(0);
                *refused += 1;
                reached_limit = *refused == REFUSED_PER_MINUTE;
            }
            if window.seen.len() < MAX_KEYS && window.seen.insert(key.clone()) { Noted::First } else { Noted::Counted }
        };
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let key = if pending.len() < MAX_KEYS || pending.contains_key(&key) {
            key
        } else {
            AttemptKey { device: None, address: None, outcome: key.outcome }
        };
        let entry = pending.entry(key).or_insert_with(|| AttemptCount {
            count: 0,
            first_at: now,
            last_at: now,
            client_id: String::new(),
            username: None,
        });
        entry.count += 1;
        entry.last_at = now;
        entry.client_id = clip(client_id, STORED).into_owned();
        entry.username = username.map(|u| clip(u, STORED).into_owned());
        (noted, reached_limit)
    }

    /// The counts since the last call, for the recorder to file.
    pub fn take(&self) -> HashMap<AttemptKey, AttemptCount> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(address: [u8; 4]) -> AttemptKey {
        AttemptKey { device: None, address: Some(IpAddr::from(address)), outcome: Some(DropReason::BadCredentials) }
    }

    #[test]
    fn a_flood_from_one_address_is_counted_once_a_minute_and_then_held_back() {
        let attempts = Attempts::default();
        let huge = "x".repeat(60_000);
        let first = attempts.note(refused([10, 0, 0, 66]), &huge, Some(&huge), 1);
        assert_eq!(first, (Noted::First, false));
        for i in 2..REFUSED_PER_MINUTE {
            assert_eq!(attempts.note(refused([10, 0, 0, 66]), &huge, Some(&huge), i64::from(i)).0, Noted::Counted);
        }
        assert!(!attempts.throttled(Some(IpAddr::from([10, 0, 0, 66]))));
        assert_eq!(attempts.note(refused([10, 0, 0, 66]), "x", None, 99), (Noted::Counted, true), "the limit is reached now");
        assert!(attempts.throttled(Some(IpAddr::from([10, 0, 0, 66]))));
        assert!(!attempts.throttled(Some(IpAddr::from([10, 0, 0, 5]))), "another device's address is not held back");
        let taken = attempts.take();
        assert_eq!(taken.len(), 1);
        let count = &taken[&refused([10, 0, 0, 66])];
        assert_eq!((count.count, count.first_at, count.last_at), (u64::from(REFUSED_PER_MINUTE), 1, 99));
        assert!(attempts.take().is_empty(), "taken once");
    }

    #[test]
    fn attempts_from_ever_new_addresses_stay_bounded() {
        let attempts = Attempts::default();
        let huge = "y".repeat(60_000);
        for i in 0..20_000u32 {
            let [_, a, b, c] = i.to_be_bytes();
            attempts.note(refused([10, a, b, c]), &huge, None, 1);
        }
        let taken = attempts.take();
        assert!(taken.len() <= MAX_KEYS + 1, "{}", taken.len());
        assert_eq!(taken.values().map(|c| c.count).sum::<u64>(), 20_000, "every attempt counted");
        assert!(taken.values().all(|c| c.client_id.len() < STORED + 24));
        assert!(attempts.window().refused_by_address.len() <= MAX_KEYS);
        // An address past the table is never held back: a device coming back on a new address
        // does not share the flood's fate.
        for _ in 0..REFUSED_PER_MINUTE * 2 {
            attempts.note(refused([10, 9, 9, 9]), "x", None, 2);
        }
        assert!(!attempts.throttled(Some(IpAddr::from([10, 9, 9, 9]))));
    }
}
