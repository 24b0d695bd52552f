//! Domain names as the DNS gate and destination rules use them: lower case, no trailing dot,
//! letters, digits, `-` and `_` (service names such as `_ntp._udp` use it), labels of at most 63
//! bytes, at most 253 in all. A rule for a domain covers the domain and every name under it.

use serde::{Deserialize, Serialize};
use std::fmt;
use ts_rs::TS;

/// A checked domain name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, TS)]
#[ts(export, type = "string")]
pub struct Domain(String);

/// Read back through [`Domain::parse`]: a name from a file or a request is checked like any other.
impl<'de> Deserialize<'de> for Domain {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{shown}` is not a domain name: {why} (a name looks like cloud.example.com)")]
pub struct InvalidDomain {
    pub shown: String,
    pub why: &'static str,
}

/// The longest name DNS carries (RFC 1035, in presentation form without the final dot).
pub const MAX_NAME: usize = 253;
const MAX_LABEL: usize = 63;

impl Domain {
    /// Checks and normalises `s` (case folded, one trailing dot removed).
    pub fn parse(s: &str) -> Result<Self, InvalidDomain> {
        let fail = |why| InvalidDomain { shown: crate::text::clip(s, crate::text::LOGGED).into_owned(), why };
        let trimmed = s.strip_suffix('.').unwrap_or(s);
        if trimmed.is_empty() {
            return Err(fail("it is empty"));
        }
        if trimmed.len() > MAX_NAME {
            return Err(fail("it is longer than 253 characters"));
        }
        for label in trimmed.split('.') {
            if label.is_empty() {
                return Err(fail("it has an empty label (two dots in a row)"));
            }
            if label.len() > MAX_LABEL {
                return Err(fail("one of its labels is longer than 63 characters"));
            }
            if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(fail("only letters, digits, '-' and '_' may be in a name (write other scripts as xn--)"));
            }
        }
        Ok(Self(trimmed.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a rule for `self` covers `name`: the same name or one under it.
    pub fn covers(&self, name: &Domain) -> bool {
        name.0 == self.0
            || (name.0.len() > self.0.len() && name.0.ends_with(&self.0) && name.0.as_bytes()[name.0.len() - self.0.len() - 1] == b'.')
    }

    /// How many labels it has: a longer rule is a more specific one.
    pub fn labels(&self) -> usize {
        self.0.split('.').count()
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Domain {
        Domain::parse(s).unwrap()
    }

    #[test]
    fn names_are_folded_and_checked() {
        assert_eq!(d("Cloud.Vendor.TEST.").as_str(), "cloud.vendor.test");
        assert_eq!(d("_ntp._udp.example").as_str(), "_ntp._udp.example");
        for bad in ["", ".", "a..b", "a b", "ex@mple.com", "a/b", &"x".repeat(64), &format!("{}.com", "a.".repeat(130))] {
            assert!(Domain::parse(bad).is_err(), "{bad:?} accepted");
        }
        let err = Domain::parse(&"\u{7}".repeat(500)).unwrap_err().to_string();
        assert!(err.len() < 200 && !err.contains('\u{7}'), "{err}");
    }

    #[test]
    fn a_rule_covers_its_name_and_names_under_it_only() {
        let rule = d("vendor.test");
        assert!(rule.covers(&d("vendor.test")));
        assert!(rule.covers(&d("eu.api.vendor.test")));
        assert!(!rule.covers(&d("evilvendor.test")), "a suffix that is not a label boundary");
        assert!(!rule.covers(&d("vendor.test.evil")));
        assert!(!d("api.vendor.test").covers(&rule));
    }
}
