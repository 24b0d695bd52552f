//! A per-client rate limit: each source address may send `rate` queries a second, in bursts of
//! twice that. A flood from one address is dropped (no answer: an answer would make Hearth a
//! reflector) while every other client is answered as usual. The table is bounded: past
//! [`MAX_CLIENTS`] addresses, the ones idle longest are forgotten (a spoofed-source flood cannot
//! grow it).
//!
//! Per address, an IPv6 one included, not per /64 as the web server's request budget counts: a
//! UDP source can be forged anyway, and a /64 bucket would let one host of an IPv6 network get
//! every device of it refused answers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

pub const MAX_CLIENTS: usize = 8_192;

#[derive(Debug)]
pub struct ClientLimits {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
    dropped: std::sync::atomic::AtomicU64,
}

impl ClientLimits {
    pub fn new(per_second: u32) -> Self {
        let rate = f64::from(per_second.max(1));
        Self { rate, burst: rate * 2.0, buckets: Mutex::default(), dropped: Default::default() }
    }

    /// Whether a query from `ip` at `now` may be answered.
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&ip) {
            // Forget the half idle longest: cheap often enough, and never the active clients.
            let mut by_age: Vec<_> = buckets.iter().map(|(ip, (_, at))| (*at, *ip)).collect();
            by_age.sort();
            for (_, old) in by_age.into_iter().take(MAX_CLIENTS / 2) {
                buckets.remove(&old);
            }
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            self.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            false
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_flood_from_one_address_is_cut_and_others_are_not() {
        let limits = ClientLimits::new(50);
        let t0 = Instant::now();
        let flood: IpAddr = "10.77.0.66".parse().unwrap();
        let passed = (0..1000).filter(|_| limits.allow(flood, t0)).count();
        assert_eq!(passed, 100, "a burst of twice the rate, then nothing");
        assert!(limits.allow("10.77.0.11".parse().unwrap(), t0), "another client is unaffected");
        assert!(limits.allow(flood, t0 + Duration::from_millis(40)), "refills at the rate");
        assert_eq!(limits.dropped(), 900);
    }

    #[test]
    fn the_table_stays_bounded() {
        let limits = ClientLimits::new(10);
        let t0 = Instant::now();
        for i in 0..(MAX_CLIENTS as u32 * 3) {
            limits.allow(IpAddr::from(i.to_be_bytes()), t0 + Duration::from_micros(u64::from(i)));
        }
        assert!(limits.buckets.lock().unwrap().len() <= MAX_CLIENTS);
    }
}
