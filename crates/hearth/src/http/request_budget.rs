//! How fast one signed-in member's browsers may call the API, and how fast any one address may
//! ask the web server anything: a token bucket per member and per address, which holds a request
//! back until its turn rather than refusing it at once.
//!
//! Why: every API command first asks the recorder to write what it holds (`recorded.rs`), so a
//! member's page (or a script holding a member's cookie) calling the API back to back made the
//! recorder write continuously and doubled the broker's QoS 1 latency tail for every device in
//! the house (README, *Performance*). A person's pages stay well under the limit: the busiest, a
//! device's page while the device sends many messages a second, reloads its five parts at most
//! about six times a second (`DETAIL_RELOAD_MS` in the UI), some 33 requests a second; a page
//! load is about twenty. So a member may keep up 100 a second: three such pages open at once.
//!
//! Why wait rather than refuse at once: a refusal costs the hub almost nothing, so a client
//! answered 429 at once simply asks again, tens of thousands of times a second, and that alone
//! kept the broker's threads from the processors (measured: QoS 1 p99 2.7 to 3.9 ms, against
//! 0.5 with no budget at all). Held back, a connection (whose requests hyper answers one after
//! the other) gets 100 answers a second, whatever it sends. A request whose turn is more than
//! [`MAX_WAIT`] away (many connections at once) is refused, and that refusal too is sent after
//! [`MAX_WAIT`].
//!
//! Per address ([`ADDRESS`], checked first, for every request that has one): an address with no
//! session at all could be answered 401 some 150 000 times a second; held back to 1 000 a second,
//! and no browser comes near that. An IPv6 address counts by its /64
//! ([`crate::source_address::budget_key`]): the home's IPv6 browsers share one budget (still
//! some thirty busy pages' worth), and a host flooding over IPv6 slows the others' pages on IPv6
//! (not the broker, nor anything over IPv4). One bucket per address under a cap per /64 would
//! keep them apart; not built.
//!
//! The member's budget ([`MEMBER`]) is the member's, not the browser's: ten tabs or sessions
//! share it, so opening more sessions buys nothing. The owner token (the hub machine's own CLI
//! and scripts, read from the data directory) has no member's budget, only its address's:
//! whoever holds it runs the hub. The desktop window does not go through HTTP at all.
//!
//! Bounded whatever comes: at most `max_tracked` buckets; a full bucket is the same as none, so
//! full ones are dropped to make room, and when none is full every further key shares one
//! overflow bucket (members exist only when an owner made them, so for members this takes a
//! household of more than a thousand flooding at once; for addresses, over 4 096 hosts or /64s
//! flooding within a few seconds).

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// One kind of budget.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Requests at once, after a quiet spell.
    pub burst: f64,
    /// Requests a second that may be kept up.
    pub per_second: f64,
    /// Keys remembered at once.
    pub max_tracked: usize,
}

/// A signed-in member's: page loads many times over at once, then three busy pages' worth.
pub const MEMBER: Limits = Limits { burst: 300.0, per_second: 100.0, max_tracked: 1024 };
/// Any one source address's, signed in or not: ten times a member's pace.
pub const ADDRESS: Limits = Limits { burst: 1000.0, per_second: 1000.0, max_tracked: 4096 };
/// The longest a request is held back for its turn; also how long a refusal waits.
pub const MAX_WAIT: Duration = Duration::from_secs(1);
/// At most one log line per key and minute about refused requests.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Waits for the turn `spent` gave, or, refused, for [`MAX_WAIT`] before saying so: an answer
/// that came at once would only be asked again at once.
pub async fn take_turn(spent: Result<Duration, Refused>) -> Result<(), Refused> {
    match spent {
        Ok(wait) => {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            Ok(())
        }
        Err(refused) => {
            tokio::time::sleep(MAX_WAIT).await;
            Err(refused)
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Below zero: turns already promised to requests that are waiting.
    tokens: f64,
    at: Instant,
    /// Requests refused since the last log line about this key.
    refused: u64,
    warned_at: Option<Instant>,
}

impl Bucket {
    fn full(limits: &Limits, now: Instant) -> Self {
        Self { tokens: limits.burst, at: now, refused: 0, warned_at: None }
    }

    fn refill(&mut self, limits: &Limits, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limits.per_second).min(limits.burst);
        self.at = now;
    }

    /// How long until the bucket is full again (zero when it is): then it is the same as none.
    fn until_full(&self, limits: &Limits, now: Instant) -> Duration {
        let tokens = self.tokens + now.saturating_duration_since(self.at).as_secs_f64() * limits.per_second;
        Duration::from_secs_f64((limits.burst - tokens).max(0.0) / limits.per_second)
    }

    fn spend(&mut self, limits: &Limits, now: Instant) -> Result<Duration, Refused> {
        self.refill(limits, now);
        let after = self.tokens - 1.0;
        let wait = Duration::from_secs_f64((-after).max(0.0) / limits.per_second);
        if wait <= MAX_WAIT {
            self.tokens = after;
            return Ok(wait);
        }
        self.refused = self.refused.saturating_add(1);
        let warn = self.warned_at.is_none_or(|at| now.saturating_duration_since(at) >= WARN_EVERY);
        let refused_since_last_line = if warn {
            self.warned_at = Some(now);
            Some(std::mem::take(&mut self.refused))
        } else {
            None
        };
        Err(Refused { refused_since_last_line, shared: false })
    }
}

/// A request whose turn is more than [`MAX_WAIT`] away.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refused {
    /// Set once a minute per key: how many were refused since the last log line (this one
    /// included), to be logged now.
    pub refused_since_last_line: Option<u64>,
    /// Counted in the overflow bucket that every key shares while the table is full.
    pub shared: bool,
}

#[derive(Debug)]
pub struct RequestBudget<K> {
    limits: Limits,
    buckets: HashMap<K, Bucket>,
    overflow: Bucket,
    /// When a full table can have room again (its first bucket then fills up): pruning a full
    /// table on every newcomer's request would be a pass over it per request.
    next_prune: Instant,
}

impl<K: Hash + Eq> RequestBudget<K> {
    pub fn new(limits: Limits, now: Instant) -> Self {
        Self { limits, buckets: HashMap::new(), overflow: Bucket::full(&limits, now), next_prune: now }
    }

    /// Counts one request of `key`'s: how long it must wait for its turn (zero within the
    /// budget), or refused when that would be longer than [`MAX_WAIT`].
    pub fn spend<Q>(&mut self, key: &Q, now: Instant) -> Result<Duration, Refused>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let limits = self.limits;
        if let Some(bucket) = self.buckets.get_mut(key) {
            return bucket.spend(&limits, now);
        }
        if self.buckets.len() >= limits.max_tracked && now >= self.next_prune {
            self.buckets.retain(|_, b| !b.until_full(&limits, now).is_zero());
            let soonest = self.buckets.values().map(|b| b.until_full(&limits, now)).min();
            self.next_prune = now + soonest.unwrap_or_default();
        }
        if self.buckets.len() >= limits.max_tracked {
            return self.overflow.spend(&limits, now).map_err(|refused| Refused { shared: true, ..refused });
        }
        let bucket = self.buckets.entry(key.to_owned()).or_insert_with(|| Bucket::full(&limits, now));
        let spent = bucket.spend(&limits, now);
        // A newcomer fills up again soonest of all: a full table may have room from then on.
        self.next_prune = self.next_prune.min(now + bucket.until_full(&limits, now));
        spent
    }

    /// Keys with a bucket: the bound's proof.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_member_gets_the_burst_then_waits_for_turns_then_is_refused() {
        let t0 = Instant::now();
        let mut budget = RequestBudget::<String>::new(MEMBER, t0);
        for n in 0..MEMBER.burst as u32 {
            assert_eq!(budget.spend("m-kim", t0), Ok(Duration::ZERO), "request {n} of the burst");
        }
        // Past the burst each request is given the next turn, one each 1/100 s, up to a second on.
        for n in 1..=100u32 {
            let wait = budget.spend("m-kim", t0).expect("a turn within the second");
            assert!(wait.abs_diff(10 * MS * n) < MS / 10, "request {n} waits {wait:?}");
        }
        let refused = budget.spend("m-kim", t0).unwrap_err();
        assert_eq!(refused.refused_since_last_line, Some(1), "the first refusal is logged");
        let refusals: Vec<_> = (0..1000).filter_map(|_| budget.spend("m-kim", t0).err()).collect();
        assert_eq!(refusals.len(), 1000);
        assert!(refusals.iter().all(|r| r.refused_since_last_line.is_none()), "one log line a minute");
        // Half a second on, 50 of the promised turns have come: a new request gets the turn after
        // the other 50, 0.51 s away.
        let wait = budget.spend("m-kim", t0 + 500 * MS).expect("a turn again");
        assert!(wait.abs_diff(510 * MS) < MS / 10, "{wait:?}");
        // A minute after the first line, after a quiet spell and a new burst, the next refusal
        // is logged with what was refused since.
        let later = t0 + Duration::from_secs(61);
        for n in 0..(MEMBER.burst as u32 + 100) {
            assert!(budget.spend("m-kim", later).is_ok(), "request {n} of the new burst and turns");
        }
        let logged = budget.spend("m-kim", later).unwrap_err();
        assert_eq!(logged.refused_since_last_line, Some(refusals.len() as u64 + 1));
    }

    #[test]
    fn a_member_kept_at_the_steady_rate_never_waits() {
        let t0 = Instant::now();
        let mut budget = RequestBudget::<String>::new(MEMBER, t0);
        for _ in 0..MEMBER.burst as u32 {
            budget.spend("m-kim", t0).expect("the burst");
        }
        let step = MS * 102 / 10;
        for n in 1..=1000u32 {
            assert_eq!(budget.spend("m-kim", t0 + step * n), Ok(Duration::ZERO), "steady request {n}");
        }
    }

    #[test]
    fn members_do_not_share_a_budget() {
        let t0 = Instant::now();
        let mut budget = RequestBudget::<String>::new(MEMBER, t0);
        while budget.spend("m-guest", t0).is_ok() {}
        assert_eq!(budget.spend("m-owner", t0), Ok(Duration::ZERO), "one member's flood leaves the others theirs");
        assert!(budget.spend("m-guest", t0).is_err());
    }

    /// An address's budget: ten times a member's pace, keyed by the address.
    #[test]
    fn an_address_is_held_to_a_thousand_a_second() {
        let t0 = Instant::now();
        let mut budget = RequestBudget::<std::net::IpAddr>::new(ADDRESS, t0);
        let flooding: std::net::IpAddr = "10.77.0.2".parse().expect("an address");
        for _ in 0..ADDRESS.burst as u32 {
            assert_eq!(budget.spend(&flooding, t0), Ok(Duration::ZERO));
        }
        let wait = budget.spend(&flooding, t0).expect("a turn");
        assert!(wait.abs_diff(MS) < MS / 100, "{wait:?}");
        assert_eq!(budget.spend(&"10.77.0.3".parse().expect("an address"), t0), Ok(Duration::ZERO));
    }

    /// A newcomer admitted after a prune fills up again within 1/100 s: the next newcomer gets its
    /// bucket, not the overflow until the older buckets have filled (3 s).
    #[test]
    fn a_full_table_has_room_again_as_soon_as_any_bucket_has_filled() {
        let t0 = Instant::now();
        let mut budget = RequestBudget::<String>::new(MEMBER, t0);
        for i in 0..MEMBER.max_tracked - 1 {
            for _ in 0..MEMBER.burst as u32 {
                budget.spend(&format!("m-{i}"), t0).expect("a burst");
            }
        }
        budget.spend("m-idle", t0).expect("one request");
        // m-idle has filled again: pruned for m-a, which asks once.
        budget.spend("m-a", t0 + 20 * MS).expect("one request");
        assert!(budget.buckets.contains_key("m-a") && !budget.buckets.contains_key("m-idle"));
        // m-a has filled again in turn: room for m-b at once, not after 3 s.
        budget.spend("m-b", t0 + 50 * MS).expect("one request");
        assert!(budget.buckets.contains_key("m-b"), "m-b has a bucket of its own");
        assert_eq!(budget.tracked(), MEMBER.max_tracked);
    }

    /// More members than the table holds, all at once: the table stays at its bound, those
    /// beyond share one bucket, and a member already tracked keeps their own.
    #[test]
    fn the_table_stays_bounded_and_idle_members_make_room() {
        let t0 = Instant::now();
        let mut budget = RequestBudget::<String>::new(MEMBER, t0);
        for i in 0..MEMBER.max_tracked {
            budget.spend(&format!("m-{i}"), t0).expect("a first request");
        }
        for i in MEMBER.max_tracked..MEMBER.max_tracked * 2 {
            let _ = budget.spend(&format!("m-{i}"), t0);
            assert_eq!(budget.tracked(), MEMBER.max_tracked);
        }
        let refused = budget.spend("m-9999", t0).unwrap_err();
        assert!(refused.shared, "past the table, newcomers share one spent overflow bucket");
        assert_eq!(budget.spend("m-0", t0), Ok(Duration::ZERO), "a tracked member keeps their own budget");
        // Once their buckets have filled again (3 s at 100 a second), idle members make room.
        let later = t0 + Duration::from_secs(4);
        assert!(budget.spend("m-new", later).is_ok());
        assert!(budget.tracked() < MEMBER.max_tracked);
    }
}
