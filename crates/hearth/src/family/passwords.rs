//! Members' passwords: argon2id (the `argon2` crate's defaults: 19 MiB, 2 passes, 1 lane, the
//! OWASP recommendation), stored as PHC strings; never the password. Hashing costs ~20 ms of
//! one core, so callers run it on a blocking thread, and [`Limits`] refuses a source or a member
//! past its wrong guesses **before** hashing: a flood of guesses costs no CPU.
//!
//! The per-member limit slows guessing spread over many addresses; guesses at a member's name
//! keep that member's password sign-in refused while they go on (their sessions keep working),
//! never the owner's access: `hearth open` on the hub's own machine signs the owner in without a
//! password.

use crate::http::limiter::FailureLimiter;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Shortest password accepted: long beats complex (NIST SP 800-63B).
pub const MIN_CHARS: usize = 10;
/// Longest: a megabyte "password" must not cost a megabyte of hashing.
pub const MAX_CHARS: usize = 256;
/// Wrong passwords per member per minute, from all addresses together.
pub const MAX_MEMBER_FAILURES_PER_MINUTE: u32 = 20;
const WINDOW: Duration = Duration::from_secs(60);

pub fn hash(password: &str) -> anyhow::Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(&crate::random::bytes::<16>()?).map_err(|e| anyhow::anyhow!("cannot make a salt: {e}"))?;
    let hashed = argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
    Ok(hashed.to_string())
}

/// Whether `password` matches the stored hash. Without a hash (unknown member, or no password
/// chosen) a dummy hash is checked, so the answer takes as long and says nothing about names.
pub fn verify(stored: Option<&str>, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("not a password anyone has").unwrap_or_default());
    let Ok(parsed) = PasswordHash::new(stored.unwrap_or(dummy)) else { return false };
    argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && stored.is_some()
}

/// A new password's problem, in words, or `None` when it will do.
pub fn problem(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        Some(format!("choose a password of at least {MIN_CHARS} characters (a few words are easy to remember and hard to guess)"))
    } else if chars > MAX_CHARS {
        Some(format!("a password may have at most {MAX_CHARS} characters"))
    } else {
        None
    }
}

/// Wrong passwords, per source address and per member.
#[derive(Debug)]
pub struct Limits {
    addresses: FailureLimiter,
    /// At most one entry per member of the home (a few hundred): names not in the home are not
    /// counted here, only per address.
    members: HashMap<String, (Instant, u32)>,
}

impl Limits {
    pub fn new(now: Instant) -> Self {
        Self { addresses: FailureLimiter::new(now), members: HashMap::new() }
    }

    /// Whether a guess from `from` for `member` is refused without looking.
    pub fn over(&self, from: IpAddr, member: Option<&str>, now: Instant) -> bool {
        let member_over = member
            .and_then(|m| self.members.get(m))
            .is_some_and(|(started, n)| now.saturating_duration_since(*started) <= WINDOW && *n >= MAX_MEMBER_FAILURES_PER_MINUTE);
        member_over || self.addresses.is_over(from, now)
    }

    /// Counts a wrong guess.
    pub fn failure(&mut self, from: IpAddr, member: Option<&str>, now: Instant) {
        self.addresses.failure(from, now);
        if let Some(member) = member {
            let entry = self.members.entry(member.to_owned()).or_insert((now, 0));
            if now.saturating_duration_since(entry.0) > WINDOW {
                *entry = (now, 0);
            }
            entry.1 = entry.1.saturating_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let stored = hash("correct horse battery").unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(verify(Some(&stored), "correct horse battery"));
        assert!(!verify(Some(&stored), "correct horse batterY"));
        assert!(!verify(None, "not a password anyone has"), "no hash: never a match, even the dummy's");
        assert!(!verify(Some("garbage"), "x"));
    }

    #[test]
    fn short_and_huge_passwords_are_refused_with_words() {
        assert!(problem("short").unwrap().contains("at least 10"));
        assert!(problem(&"x".repeat(MAX_CHARS + 1)).is_some());
        assert_eq!(problem("a few words will do"), None);
    }

    #[test]
    fn guesses_are_refused_per_member_across_addresses_and_per_address_across_names() {
        let t0 = Instant::now();
        let mut limits = Limits::new(t0);
        for i in 0..MAX_MEMBER_FAILURES_PER_MINUTE {
            let from = IpAddr::V4(Ipv4Addr::new(10, 0, 1, u8::try_from(i).unwrap()));
            assert!(!limits.over(from, Some("m-kid"), t0));
            limits.failure(from, Some("m-kid"), t0);
        }
        let fresh = IpAddr::V4(Ipv4Addr::new(10, 0, 2, 1));
        assert!(limits.over(fresh, Some("m-kid"), t0), "a member's guesses from many addresses add up");
        assert!(!limits.over(fresh, Some("owner"), t0), "another member is not held up");
        assert!(!limits.over(fresh, Some("m-kid"), t0 + WINDOW + Duration::from_secs(1)), "a minute later");
        let guesser = IpAddr::V4(Ipv4Addr::new(10, 0, 3, 1));
        for n in 0..crate::http::limiter::MAX_FAILURES_PER_MINUTE {
            limits.failure(guesser, Some(&format!("name {n}")), t0);
        }
        assert!(limits.over(guesser, Some("owner"), t0), "one address guessing many names is held up");
    }
}
