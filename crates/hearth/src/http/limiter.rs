//! The limit on wrong sign-in links (and, through `family::passwords`, wrong passwords), per
//! source address, in memory bounded whatever comes.
//!
//! Per address, an IPv6 one included, not per /64 as the web server's request budget counts:
//! guessing gains nothing from many addresses (links are 128-bit random; passwords are also
//! limited per member, from all addresses together, and hashed at most two at once), while a
//! limit per /64 would let one host keep every member on its IPv6 network from signing in. An
//! IPv6 host can still fill the table below with its addresses within a minute; then every
//! address not in it shares the overflow's limit (see *Known gaps* in the README).
//!
//! Each address gets its own minute-long window. The table holds at most
//! [`MAX_TRACKED_ADDRESSES`]; windows older than a minute are dropped to make room, and when
//! every entry is younger than that (a flood from many addresses, spoofed or not, within one
//! minute), a new address is counted in one **overflow** window shared by all such addresses,
//! with its own limit. So the table never grows past its bound, a flood costs at most a fixed
//! number of refusals a minute, and an address already tracked keeps its own count.
//! The limit applies to wrong links only: a valid link is accepted before it is consulted, so
//! nobody can lock the owner out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// At most this many wrong sign-in links per minute from one address. Links are 128-bit random,
/// so guessing is hopeless anyway; the limit keeps a flood from costing CPU and log space.
pub const MAX_FAILURES_PER_MINUTE: u32 = 10;
/// Addresses remembered for the limit: about 100 KiB at most. A home has far fewer hosts; more
/// distinct sources within a minute is a flood.
pub const MAX_TRACKED_ADDRESSES: usize = 4096;
/// Wrong links per minute from all the addresses that found the table full, together. Enough
/// that a person at a new address mid-flood gets a few tries; small enough that a flood from
/// thousands of addresses is refused (and not logged) nearly at once.
pub const MAX_OVERFLOW_FAILURES_PER_MINUTE: u32 = 100;

const WINDOW: Duration = Duration::from_secs(60);

/// What a wrong link counted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Refused as unknown; the first refusal from this source in its window (worth a log line).
    FirstRefusal,
    /// Refused as unknown, again within the window.
    Refused,
    /// Over the limit: refused as too many, without looking further.
    TooMany,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl Window {
    fn new(now: Instant) -> Self {
        Self { started: now, failures: 0 }
    }

    fn expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.started) > WINDOW
    }

    /// Counts one failure, starting a new window when the old one is over.
    fn count(&mut self, now: Instant, limit: u32) -> Verdict {
        if self.expired(now) {
            *self = Self::new(now);
        }
        self.failures = self.failures.saturating_add(1);
        match self.failures {
            1 => Verdict::FirstRefusal,
            n if n > limit => Verdict::TooMany,
            _ => Verdict::Refused,
        }
    }
}

#[derive(Debug)]
pub struct FailureLimiter {
    per_address: HashMap<IpAddr, Window>,
    overflow: Window,
    /// When pruning can free room again (the oldest window then expires): pruning a full table
    /// of fresh windows on every failure would cost a pass over the table per request.
    next_prune: Instant,
}

impl FailureLimiter {
    pub fn new(now: Instant) -> Self {
        Self { per_address: HashMap::new(), overflow: Window::new(now), next_prune: now }
    }

    /// Counts a wrong link from `from`.
    pub fn failure(&mut self, from: IpAddr, now: Instant) -> Verdict {
        if let Some(window) = self.per_address.get_mut(&from) {
            return window.count(now, MAX_FAILURES_PER_MINUTE);
        }
        if self.per_address.len() >= MAX_TRACKED_ADDRESSES && now >= self.next_prune {
            self.per_address.retain(|_, w| !w.expired(now));
            let oldest = self.per_address.values().map(|w| w.started).min();
            self.next_prune = oldest.map_or(now, |started| started + WINDOW);
        }
        if self.per_address.len() >= MAX_TRACKED_ADDRESSES {
            return self.overflow.count(now, MAX_OVERFLOW_FAILURES_PER_MINUTE);
        }
        self.per_address.entry(from).or_insert_with(|| Window::new(now)).count(now, MAX_FAILURES_PER_MINUTE)
    }

    /// Whether `from` is over its limit now, without counting anything: checked before slow
    /// work (a password's hash), so a flood of guesses costs no hashing.
    pub fn is_over(&self, from: IpAddr, now: Instant) -> bool {
        match self.per_address.get(&from) {
            Some(window) => !window.expired(now) && window.failures >= MAX_FAILURES_PER_MINUTE,
            None => {
                self.per_address.len() >= MAX_TRACKED_ADDRESSES
                    && !self.overflow.expired(now)
                    && self.overflow.failures >= MAX_OVERFLOW_FAILURES_PER_MINUTE
            }
        }
    }

    /// Addresses in the table: the bound's proof.
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.per_address.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn address(i: u32) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(0xfd00_u128 << 112 | u128::from(i)))
    }

    #[test]
    fn one_address_gets_its_limit_then_a_new_minute() {
        let t0 = Instant::now();
        let mut l = FailureLimiter::new(t0);
        let home = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 66));
        assert_eq!(l.failure(home, t0), Verdict::FirstRefusal);
        for _ in 1..MAX_FAILURES_PER_MINUTE {
            assert_eq!(l.failure(home, t0), Verdict::Refused);
        }
        assert_eq!(l.failure(home, t0), Verdict::TooMany);
        assert_eq!(l.failure(home, t0 + WINDOW + Duration::from_secs(1)), Verdict::FirstRefusal);
    }

    /// 100 000 addresses within one minute (IPv6 gives an attacker on the LAN as many as it
    /// likes): the table stays at its bound, the flood beyond it shares one limit, and addresses
    /// already known keep their own.
    #[test]
    fn a_flood_from_many_addresses_within_a_minute_keeps_the_table_bounded() {
        let t0 = Instant::now();
        let mut l = FailureLimiter::new(t0);
        let mut too_many = 0;
        for i in 0..100_000u32 {
            let now = t0 + Duration::from_micros(u64::from(i) * 100); // 10 s for all of them
            if l.failure(address(i), now) == Verdict::TooMany {
                too_many += 1;
            }
            assert!(l.tracked() <= MAX_TRACKED_ADDRESSES, "{} addresses tracked after {i}", l.tracked());
        }
        assert_eq!(l.tracked(), MAX_TRACKED_ADDRESSES);
        let overflowed = 100_000 - MAX_TRACKED_ADDRESSES as u32;
        assert_eq!(too_many, overflowed - MAX_OVERFLOW_FAILURES_PER_MINUTE, "past its limit the overflow refuses them all");
        // A tracked address is still counted on its own.
        assert_eq!(l.failure(address(0), t0 + Duration::from_secs(11)), Verdict::Refused);
        // A minute later the old windows make room again.
        let later = t0 + Duration::from_secs(75);
        assert_eq!(l.failure(address(200_000), later), Verdict::FirstRefusal);
        assert!(l.tracked() <= MAX_TRACKED_ADDRESSES);
    }
}
