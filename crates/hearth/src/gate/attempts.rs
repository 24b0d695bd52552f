//! CONNECT attempts, counted rather than kept one by one: per device (or none, when the attempt
//! named no device), source address and outcome. Anyone on the home network can send CONNECTs,
//! as fast as they like and with whatever client id, username and Will topic fit in a packet, so:
//! - attempts are counts, filed every second, never a row each; a log line says the first refusal
//!   of each reason in a minute, with its strings cut short;
//! - the counts themselves are bounded: past [`MAX_KEYS`] kinds, attempts are counted under no
//!   device and no address;
//! - refusals are counted by what their host controls of its address
//!   ([`crate::source_address::budget_key`]: an IPv6 address by its /64), so that a host taking a
//!   new address for each attempt makes one count and one row, not thousands;
//! - an address refused [`REFUSED_PER_MINUTE`] times in a minute (an IPv6 /64 together) is refused
//!   without a look for the rest of that minute (the attacker's own: a LAN host cannot forge the
//!   source of a TCP connection, and a device that shares the address reconnects the next
//!   minute). A host a device connected from before ([`MAX_KNOWN_HOSTS`] remembered) answers
//!   only for its own refusals, not its /64's: a host flooding over IPv6 does not lock out the
//!   devices of its network that were already there.

use crate::api::types::DropReason;
use crate::source_address::{budget_key, describe_budget_key};
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
/// Hosts remembered as ones a device connected from; past it, the memory starts again (the
/// devices still connecting are remembered again at their next accepted CONNECT).
pub const MAX_KNOWN_HOSTS: usize = 4096;
const WINDOW: Duration = Duration::from_secs(60);

/// One attempt, as the gate saw it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub device: Option<DeviceId>,
    /// The source address, if the broker knew it.
    pub host: Option<IpAddr>,
    /// `None`: accepted.
    pub outcome: Option<DropReason>,
}

impl Attempt {
    /// What it is counted under: an accepted attempt under its host (the DNS gate learns a
    /// device's addresses from them); a refused one under its host's budget key.
    fn key(&self) -> AttemptKey {
        let address = if self.outcome.is_some() { self.host.map(budget_key) } else { self.host };
        AttemptKey { device: self.device.clone(), address, outcome: self.outcome }
    }
}

/// One kind of attempt: what a count is filed under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttemptKey {
    pub device: Option<DeviceId>,
    /// The host for an accepted attempt; for a refused one, its budget key (see [`Attempt::key`]).
    pub address: Option<IpAddr>,
    /// `None`: accepted.
    pub outcome: Option<DropReason>,
}

impl AttemptKey {
    /// The address as filed and shown: `10.77.0.3`, `fd77::3` (accepted) or `fd77::/64` (refused).
    pub fn address_text(&self) -> Option<String> {
        self.address.map(|a| if self.outcome.is_some() { describe_budget_key(a) } else { a.to_string() })
    }
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
    /// Refusals this minute per budget key.
    refused_by_key: HashMap<Option<IpAddr>, u32>,
    /// Refusals this minute of hosts in [`Attempts::known_hosts`], each its own.
    refused_by_known_host: HashMap<IpAddr, u32>,
    /// Refusal reasons already logged this minute.
    logged: HashSet<DropReason>,
}

impl Window {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            seen: HashSet::new(),
            refused_by_key: HashMap::new(),
            refused_by_known_host: HashMap::new(),
            logged: HashSet::new(),
        }
    }
}

#[derive(Debug)]
pub struct Attempts {
    /// A std mutex: held for a few map operations, never across an await.
    window: Mutex<Window>,
    pending: Mutex<HashMap<AttemptKey, AttemptCount>>,
    /// Hosts a device connected from since the hub started (or since this memory last filled up).
    known_hosts: Mutex<HashSet<IpAddr>>,
}

impl Default for Attempts {
    fn default() -> Self {
        Self { window: Mutex::new(Window::new()), pending: Mutex::default(), known_hosts: Mutex::default() }
    }
}

impl Attempts {
    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if window.started.elapsed() > WINDOW {
            *window = Window::new();
        }
        window
    }

    fn known(&self, host: Option<IpAddr>) -> bool {
        host.is_some_and(|h| self.known_hosts.lock().unwrap_or_else(|p| p.into_inner()).contains(&h))
    }

    /// Whether `host` was refused too often this minute: its own refusals for a host a device
    /// connected from, its budget key's otherwise. Only keys in the table are held back: past
    /// [`MAX_KEYS`] of them, new ones are counted but never refused for it, so that a flood from
    /// many addresses cannot make every newcomer (a device back on a new address) share its fate.
    pub fn throttled(&self, host: Option<IpAddr>) -> bool {
        let known = self.known(host);
        let window = self.window();
        let refused = match host {
            Some(host) if known => window.refused_by_known_host.get(&host),
            _ => window.refused_by_key.get(&host.map(budget_key)),
        };
        refused.is_some_and(|n| *n >= REFUSED_PER_MINUTE)
    }

    /// Whether a refusal for `reason` is the first logged this minute (the others are counted).
    pub fn first_log_this_minute(&self, reason: DropReason) -> bool {
        self.window().logged.insert(reason)
    }

    /// Counts one attempt. Returns whether it is the first of its kind this minute, and for a
    /// refusal whether it just brought its host to the limit.
    pub fn note(&self, attempt: &Attempt, client_id: &str, username: Option<&str>, now: Millis) -> (Noted, bool) {
        let key = attempt.key();
        let known = self.known(attempt.host);
        if attempt.outcome.is_none()
            && let Some(host) = attempt.host
            && !known
        {
            let mut hosts = self.known_hosts.lock().unwrap_or_else(|p| p.into_inner());
            if hosts.len() >= MAX_KNOWN_HOSTS {
                hosts.clear();
            }
            hosts.insert(host);
        }
        let mut reached_limit = false;
        let noted = {
            let mut window = self.window();
            if key.outcome.is_some() {
                let by_key = &mut window.refused_by_key;
                if by_key.len() < MAX_KEYS || by_key.contains_key(&key.address) {
                    let refused = by_key.entry(key.address).or_insert(0);
                    *refused += 1;
                    reached_limit = !known && *refused == REFUSED_PER_MINUTE;
                }
                if let Some(host) = attempt.host.filter(|_| known) {
                    let refused = window.refused_by_known_host.entry(host).or_insert(0);
                    *refused += 1;
                    reached_limit = *refused == REFUSED_PER_MINUTE;
                }
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

    fn refused_from(host: IpAddr) -> Attempt {
        Attempt { device: None, host: Some(host), outcome: Some(DropReason::BadCredentials) }
    }

    fn refused(address: [u8; 4]) -> Attempt {
        refused_from(IpAddr::from(address))
    }

    fn v6(address: &str) -> IpAddr {
        address.parse().expect("an address")
    }

    #[test]
    fn a_flood_from_one_address_is_counted_once_a_minute_and_then_held_back() {
        let attempts = Attempts::default();
        let huge = "x".repeat(60_000);
        let first = attempts.note(&refused([10, 0, 0, 66]), &huge, Some(&huge), 1);
        assert_eq!(first, (Noted::First, false));
        for i in 2..REFUSED_PER_MINUTE {
            assert_eq!(attempts.note(&refused([10, 0, 0, 66]), &huge, Some(&huge), i64::from(i)).0, Noted::Counted);
        }
        assert!(!attempts.throttled(Some(IpAddr::from([10, 0, 0, 66]))));
        assert_eq!(attempts.note(&refused([10, 0, 0, 66]), "x", None, 99), (Noted::Counted, true), "the limit is reached now");
        assert!(attempts.throttled(Some(IpAddr::from([10, 0, 0, 66]))));
        assert!(!attempts.throttled(Some(IpAddr::from([10, 0, 0, 5]))), "another device's address is not held back");
        let taken = attempts.take();
        assert_eq!(taken.len(), 1);
        let count = &taken[&refused([10, 0, 0, 66]).key()];
        assert_eq!((count.count, count.first_at, count.last_at), (u64::from(REFUSED_PER_MINUTE), 1, 99));
        assert!(attempts.take().is_empty(), "taken once");
    }

    #[test]
    fn attempts_from_ever_new_addresses_stay_bounded() {
        let attempts = Attempts::default();
        let huge = "y".repeat(60_000);
        for i in 0..20_000u32 {
            let [_, a, b, c] = i.to_be_bytes();
            attempts.note(&refused([10, a, b, c]), &huge, None, 1);
        }
        let taken = attempts.take();
        assert!(taken.len() <= MAX_KEYS + 1, "{}", taken.len());
        assert_eq!(taken.values().map(|c| c.count).sum::<u64>(), 20_000, "every attempt counted");
        assert!(taken.values().all(|c| c.client_id.len() < STORED + 24));
        assert!(attempts.window().refused_by_key.len() <= MAX_KEYS);
        // An address past the table is never held back: a device coming back on a new address
        // does not share the flood's fate.
        for _ in 0..REFUSED_PER_MINUTE * 2 {
            attempts.note(&refused([10, 9, 9, 9]), "x", None, 2);
        }
        assert!(!attempts.throttled(Some(IpAddr::from([10, 9, 9, 9]))));
    }

    /// An IPv6 host takes a new address of its /64 for every CONNECT: one count, one row, and
    /// held back after the limit like one address, on any address of the /64.
    #[test]
    fn a_host_taking_a_new_ipv6_address_for_each_attempt_counts_as_one() {
        let attempts = Attempts::default();
        let mut reached = 0;
        for i in 0..REFUSED_PER_MINUTE {
            let (_, at_limit) = attempts.note(&refused_from(v6(&format!("fd77::{:x}", i + 16))), "x", None, 1);
            reached += u32::from(at_limit);
        }
        assert_eq!(reached, 1, "the limit is reached once");
        assert!(attempts.throttled(Some(v6("fd77::ffff:1"))), "a fresh address of the network");
        assert!(!attempts.throttled(Some(v6("fd77:0:0:1::10"))), "another network");
        assert!(!attempts.throttled(Some(IpAddr::from([10, 77, 0, 3]))));
        let taken = attempts.take();
        assert_eq!(taken.len(), 1, "{taken:?}");
        let (key, count) = taken.iter().next().expect("one count");
        assert_eq!((key.address_text().as_deref(), count.count), (Some("fd77::/64"), u64::from(REFUSED_PER_MINUTE)));
    }

    /// A device that connected from an address of the flooding host's /64 before keeps
    /// connecting: it answers only for its own refusals, and is filed under its own address.
    #[test]
    fn a_host_a_device_connected_from_answers_only_for_its_own_refusals() {
        let attempts = Attempts::default();
        let plug = v6("fd77::50");
        let accepted = Attempt { device: Some(DeviceId::from_random(0x50)), host: Some(plug), outcome: None };
        attempts.note(&accepted, "plug", None, 1);
        for i in 0..REFUSED_PER_MINUTE * 2 {
            attempts.note(&refused_from(v6(&format!("fd77::1:{i:x}"))), "x", None, 2);
        }
        assert!(attempts.throttled(Some(v6("fd77::99"))));
        assert!(!attempts.throttled(Some(plug)), "the plug's host is not held back for its network");
        let taken = attempts.take();
        assert!(taken.keys().any(|k| k.outcome.is_none() && k.address_text().as_deref() == Some("fd77::50")), "{taken:?}");
        // Its own refusals count: a known host that floods is held back too.
        let mut reached = 0;
        for _ in 0..REFUSED_PER_MINUTE {
            reached += u32::from(attempts.note(&refused_from(plug), "x", None, 3).1);
        }
        assert_eq!(reached, 1);
        assert!(attempts.throttled(Some(plug)));
    }

    #[test]
    fn the_memory_of_known_hosts_is_bounded() {
        let attempts = Attempts::default();
        for i in 0..(MAX_KNOWN_HOSTS as u32) * 3 {
            let accepted = Attempt { device: None, host: Some(IpAddr::V6((0xfd77_u128 << 112 | u128::from(i)).into())), outcome: None };
            attempts.note(&accepted, "x", None, 1);
            assert!(attempts.known_hosts.lock().expect("not poisoned").len() <= MAX_KNOWN_HOSTS);
        }
    }
}
