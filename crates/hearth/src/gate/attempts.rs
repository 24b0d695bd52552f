//! CONNECT attempts, counted rather than kept one by one: per device (or none, when the attempt
//! named no device), source address and outcome. Anyone on the home network can send CONNECTs,
//! as fast as they like and with whatever client id, username and Will topic fit in a packet, so:
//! - attempts are counts, filed every second, never a row each; a log line says the first refusal
//!   of each reason in a minute, with its strings cut short;
//! - the counts themselves are bounded: past [`MAX_KEYS`] kinds, attempts are counted under no
//!   device and no address;
//! - refusals are filed by what their host controls of its address
//!   ([`crate::source_address::budget_key`]: an IPv6 address by its /64), so that a host taking a
//!   new address for each attempt makes one row, not thousands that push out the others' rows
//!   (the rows of a device's accepted connections among them, from which the DNS gate learns its
//!   addresses);
//! - an address refused [`REFUSED_PER_MINUTE`] times in a minute is refused without a look for
//!   the rest of that minute (the attacker's own: a LAN host cannot forge the source of a TCP
//!   connection, and a device that shares the address reconnects the next minute);
//! - and since an IPv6 host can take any address of its /64, the addresses of a /64 refused
//!   [`REFUSED_PER_NETWORK_PER_MINUTE`] times in a minute together are too, except those its
//!   approved devices connected from with their credential ([`KnownHosts`]). Ten times one
//!   address's limit, so that a few misconfigured devices retrying never reach it. The price: while
//!   a host floods, a device of its IPv6 network not yet known (new, or not yet reconnected since
//!   the hub started) is held back with it until it stops.

use super::known_hosts::KnownHosts;
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
/// Refused CONNECTs the addresses of one IPv6 /64 may make together in a minute.
pub const REFUSED_PER_NETWORK_PER_MINUTE: u32 = 10 * REFUSED_PER_MINUTE;
/// Kinds of attempt counted at once, and addresses (and IPv6 networks) tracked for the limits.
pub const MAX_KEYS: usize = 4096;
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
    /// What it is counted under: an accepted attempt under its host; a refused one under its
    /// host's budget key.
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

/// Which limits a refusal just brought its source to (each once a minute): worth a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reached {
    pub address: bool,
    /// The IPv6 /64's, named.
    pub network: Option<IpAddr>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    seen: HashSet<AttemptKey>,
    refused_by_address: HashMap<Option<IpAddr>, u32>,
    /// Refusals of each IPv6 /64's addresses together.
    refused_by_network: HashMap<IpAddr, u32>,
    /// Refusal reasons already logged this minute.
    logged: HashSet<DropReason>,
}

impl Window {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            seen: HashSet::new(),
            refused_by_address: HashMap::new(),
            refused_by_network: HashMap::new(),
            logged: HashSet::new(),
        }
    }
}

/// Counts one more refusal under `key` if the table has room for it (or already counts it),
/// returning whether that brought it to `limit`.
fn count_refusal<K: std::hash::Hash + Eq>(table: &mut HashMap<K, u32>, key: K, limit: u32) -> bool {
    if table.len() >= MAX_KEYS && !table.contains_key(&key) {
        return false;
    }
    let refused = table.entry(key).or_insert(0);
    *refused += 1;
    *refused == limit
}

/// The IPv6 /64 of `host`, if it is an IPv6 address (IPv4-mapped ones are IPv4).
fn ipv6_network(host: Option<IpAddr>) -> Option<IpAddr> {
    host.map(budget_key).filter(IpAddr::is_ipv6)
}

#[derive(Debug)]
pub struct Attempts {
    /// A std mutex: held for a few map operations, never across an await.
    window: Mutex<Window>,
    pending: Mutex<HashMap<AttemptKey, AttemptCount>>,
    /// Never locked while `window` is; held while `throttled`'s closure reads the gate's
    /// policies, so never locked while those are.
    known_hosts: Mutex<KnownHosts>,
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

    /// Whether `host` is held back this minute: refused too often itself, or, for an IPv6 address
    /// no device still `approved` connected from, its /64 refused too often. Only sources in the
    /// tables are held back: past [`MAX_KEYS`] of them, new ones are counted but never refused for
    /// it, so that a flood from many addresses cannot make every newcomer share its fate.
    pub fn throttled(&self, host: Option<IpAddr>, approved: impl Fn(&DeviceId) -> bool) -> bool {
        let network_over = {
            let window = self.window();
            if window.refused_by_address.get(&host).is_some_and(|n| *n >= REFUSED_PER_MINUTE) {
                return true;
            }
            ipv6_network(host)
                .and_then(|network| window.refused_by_network.get(&network))
                .is_some_and(|n| *n >= REFUSED_PER_NETWORK_PER_MINUTE)
        };
        network_over && !host.is_some_and(|h| self.known_hosts.lock().unwrap_or_else(|p| p.into_inner()).device_of(h).is_some_and(approved))
    }

    /// `device`, approved, connected from `host` with its credential: from now on it answers only
    /// for its own refusals, not its IPv6 network's.
    /// Only IPv6 addresses: no other is ever held back with a network.
    pub fn remember_host(&self, device: &DeviceId, host: Option<IpAddr>) {
        if let Some(host) = host.filter(|_| ipv6_network(host).is_some()) {
            self.known_hosts.lock().unwrap_or_else(|p| p.into_inner()).remember(device, host);
        }
    }

    /// Whether a refusal for `reason` is the first logged this minute (the others are counted).
    pub fn first_log_this_minute(&self, reason: DropReason) -> bool {
        self.window().logged.insert(reason)
    }

    /// Counts one attempt. Returns whether it is the first of its kind this minute, and for a
    /// refusal which limits it just brought its source to.
    pub fn note(&self, attempt: &Attempt, client_id: &str, username: Option<&str>, now: Millis) -> (Noted, Reached) {
        let key = attempt.key();
        let mut reached = Reached::default();
        let noted = {
            let mut window = self.window();
            // An attempt refused without a look does not count towards the limits: its source
            // is over one already, and a held-back /64's fresh addresses would otherwise fill the
            // table of addresses, past which no newcomer is held back.
            if key.outcome.is_some_and(|reason| reason != DropReason::TooManyAttempts) {
                reached.address = count_refusal(&mut window.refused_by_address, attempt.host, REFUSED_PER_MINUTE);
                if let Some(network) = ipv6_network(attempt.host) {
                    reached.network =
                        count_refusal(&mut window.refused_by_network, network, REFUSED_PER_NETWORK_PER_MINUTE).then_some(network);
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
        (noted, reached)
    }

    /// The counts since the last call, for the recorder to file.
    pub fn take(&self) -> HashMap<AttemptKey, AttemptCount> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Attempts {
        /// `throttled`, every device still approved.
        fn throttled_now(&self, host: Option<IpAddr>) -> bool {
            self.throttled(host, |_| true)
        }
    }

    fn refused_from(host: IpAddr) -> Attempt {
        Attempt { device: None, host: Some(host), outcome: Some(DropReason::BadCredentials) }
    }

    fn refused(address: [u8; 4]) -> Attempt {
        refused_from(IpAddr::from(address))
    }

    fn ip(address: &str) -> IpAddr {
        address.parse().expect("an address")
    }

    #[test]
    fn a_flood_from_one_address_is_counted_once_a_minute_and_then_held_back() {
        let attempts = Attempts::default();
        let huge = "x".repeat(60_000);
        let first = attempts.note(&refused([10, 0, 0, 66]), &huge, Some(&huge), 1);
        assert_eq!(first, (Noted::First, Reached::default()));
        for i in 2..REFUSED_PER_MINUTE {
            assert_eq!(attempts.note(&refused([10, 0, 0, 66]), &huge, Some(&huge), i64::from(i)).0, Noted::Counted);
        }
        assert!(!attempts.throttled_now(Some(IpAddr::from([10, 0, 0, 66]))));
        let limit = attempts.note(&refused([10, 0, 0, 66]), "x", None, 99);
        assert_eq!(limit, (Noted::Counted, Reached { address: true, network: None }), "the limit is reached now");
        assert!(attempts.throttled_now(Some(IpAddr::from([10, 0, 0, 66]))));
        assert!(!attempts.throttled_now(Some(IpAddr::from([10, 0, 0, 5]))), "another device's address is not held back");
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
            attempts.note(&refused_from(IpAddr::V6((0xfd77_u128 << 112 | u128::from(i) << 64).into())), "x", None, 1);
        }
        let taken = attempts.take();
        assert!(taken.len() <= MAX_KEYS + 1, "{}", taken.len());
        assert_eq!(taken.values().map(|c| c.count).sum::<u64>(), 40_000, "every attempt counted");
        assert!(taken.values().all(|c| c.client_id.len() < STORED + 24));
        let window = attempts.window();
        assert!(window.refused_by_address.len() <= MAX_KEYS && window.refused_by_network.len() <= MAX_KEYS);
        drop(window);
        // An address past the table is never held back: a device coming back on a new address
        // does not share the flood's fate.
        for _ in 0..REFUSED_PER_MINUTE * 2 {
            attempts.note(&refused([10, 9, 9, 9]), "x", None, 2);
        }
        assert!(!attempts.throttled_now(Some(IpAddr::from([10, 9, 9, 9]))));
    }

    /// An IPv6 host takes a new address of its /64 for every CONNECT: one count, one row, and
    /// past the network's limit any address of it is held back.
    #[test]
    fn a_host_taking_a_new_ipv6_address_for_each_attempt_is_held_back_with_its_network() {
        let attempts = Attempts::default();
        let mut reached = Vec::new();
        for i in 0..REFUSED_PER_NETWORK_PER_MINUTE {
            let (_, r) = attempts.note(&refused_from(ip(&format!("fd77::1:{i:x}"))), "x", None, 1);
            assert!(!r.address);
            reached.extend(r.network);
        }
        assert_eq!(reached, [ip("fd77::")], "the network's limit is reached once");
        assert!(attempts.throttled_now(Some(ip("fd77::ffff:1"))), "a fresh address of the network");
        assert!(!attempts.throttled_now(Some(ip("fd77:0:0:1::10"))), "another network");
        assert!(!attempts.throttled_now(Some(IpAddr::from([10, 77, 0, 3]))));
        let taken = attempts.take();
        assert_eq!(taken.len(), 1, "{taken:?}");
        let (key, count) = taken.iter().next().expect("one count");
        assert_eq!((key.address_text().as_deref(), count.count), (Some("fd77::/64"), u64::from(REFUSED_PER_NETWORK_PER_MINUTE)));
    }

    /// A few devices with a wrong secret on one IPv6 network, retrying every few seconds, hold
    /// back nobody else: the network's limit is ten times an address's.
    #[test]
    fn misconfigured_devices_on_one_ipv6_network_do_not_hold_it_back() {
        let attempts = Attempts::default();
        for device in 0..5 {
            for _ in 0..20 {
                attempts.note(&refused_from(ip(&format!("fd77::{device}"))), "x", None, 1);
            }
        }
        assert!(!attempts.throttled_now(Some(ip("fd77::99"))));
        assert!(!attempts.throttled_now(Some(ip("fd77::1"))));
    }

    /// An approved device that connected from an address of the flooding host's /64 keeps
    /// connecting: it answers only for its own refusals. A refusal or a connection without an
    /// approved device's credential makes no address known.
    #[test]
    fn an_address_an_approved_device_connected_from_answers_only_for_its_own_refusals() {
        let attempts = Attempts::default();
        let plug = ip("fd77::50");
        attempts.remember_host(&DeviceId::from_random(0x50), Some(plug));
        for i in 0..REFUSED_PER_NETWORK_PER_MINUTE {
            attempts.note(&refused_from(ip(&format!("fd77::1:{i:x}"))), "x", None, 2);
        }
        assert!(attempts.throttled_now(Some(ip("fd77::99"))));
        assert!(!attempts.throttled_now(Some(plug)), "the plug's address is not held back for its network");
        let accepted_anonymous = Attempt { device: None, host: Some(ip("fd77::98")), outcome: None };
        attempts.note(&accepted_anonymous, "x", None, 2);
        assert!(attempts.throttled_now(Some(ip("fd77::98"))), "only `remember_host` makes an address known");
        // Its own refusals count: a known address that floods is held back too.
        let mut reached = 0;
        for _ in 0..REFUSED_PER_MINUTE {
            reached += u32::from(attempts.note(&refused_from(plug), "x", None, 3).1.address);
        }
        assert_eq!(reached, 1);
        assert!(attempts.throttled_now(Some(plug)));
    }

    /// Fresh addresses of a held-back /64, refused without a look, do not fill the table of
    /// addresses: an IPv4 host flooding after them is still held back.
    #[test]
    fn a_held_back_networks_fresh_addresses_do_not_fill_the_table() {
        let attempts = Attempts::default();
        for i in 0..REFUSED_PER_NETWORK_PER_MINUTE {
            attempts.note(&refused_from(ip(&format!("fd77::1:{i:x}"))), "x", None, 1);
        }
        for i in 0..(MAX_KEYS as u32) * 2 {
            let fresh = ip(&format!("fd77::2:{:x}:{:x}", i >> 16, i & 0xffff));
            assert!(attempts.throttled_now(Some(fresh)));
            attempts.note(&Attempt { device: None, host: Some(fresh), outcome: Some(DropReason::TooManyAttempts) }, "x", None, 1);
        }
        for _ in 0..REFUSED_PER_MINUTE {
            attempts.note(&refused([10, 77, 0, 3]), "x", None, 2);
        }
        assert!(attempts.throttled_now(Some(IpAddr::from([10, 77, 0, 3]))));
    }

    /// A device blocked or forgotten since no longer makes its addresses exempt.
    #[test]
    fn a_device_no_longer_approved_makes_its_addresses_exempt_no_more() {
        let attempts = Attempts::default();
        let (plug, plug_host) = (DeviceId::from_random(0x50), ip("fd77::50"));
        attempts.remember_host(&plug, Some(plug_host));
        for i in 0..REFUSED_PER_NETWORK_PER_MINUTE {
            attempts.note(&refused_from(ip(&format!("fd77::1:{i:x}"))), "x", None, 1);
        }
        assert!(!attempts.throttled(Some(plug_host), |d| *d == plug));
        assert!(attempts.throttled(Some(plug_host), |_| false));
    }

    #[test]
    fn ipv4_mapped_addresses_are_ipv4() {
        let attempts = Attempts::default();
        for _ in 0..REFUSED_PER_NETWORK_PER_MINUTE {
            attempts.note(&refused_from(ip("::ffff:10.77.0.3")), "x", None, 1);
        }
        assert!(attempts.window().refused_by_network.is_empty());
        assert_eq!(attempts.take().keys().next().and_then(AttemptKey::address_text).as_deref(), Some("10.77.0.3"));
    }
}
