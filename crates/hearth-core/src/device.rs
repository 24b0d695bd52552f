//! A device: one physical thing in the home, one record.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use ts_rs::TS;

/// Stable identifier of a device, assigned when it is first seen and never derived from an
/// address (addresses change; the id must not).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DeviceId(String);

impl DeviceId {
    /// Wraps an id read back from the store or from a person's input after validation.
    pub fn parse(s: &str) -> Result<Self, InvalidDeviceId> {
        let ok = s.len() == 14 && s.starts_with("d-") && s[2..].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if ok { Ok(Self(s.to_owned())) } else { Err(InvalidDeviceId(s.to_owned())) }
    }

    /// Builds an id from 48 random bits supplied by the caller (this crate does no I/O).
    pub fn from_random(bits: u64) -> Self {
        Self(format!("d-{:012x}", bits & 0xffff_ffff_ffff))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a device id (ids look like d-1a2b3c4d5e6f; `hearth devices` lists them)")]
pub struct InvalidDeviceId(pub String);

/// The lifecycle of DESIGN.md. A `new` device is quarantined until a person decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum DeviceState {
    New,
    Approved,
    Blocked,
}

impl DeviceState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Approved => "approved",
            Self::Blocked => "blocked",
        }
    }
}

impl DeviceState {
    /// The state of one device known under two records that turn out to be the same device: a
    /// block wins over everything (merging must never undo one), then an approval, which a
    /// person gave to this very device under its other record; `new` is only the default.
    pub fn merged(self, other: Self) -> Self {
        use DeviceState::{Approved, Blocked, New};
        match (self, other) {
            (Blocked, _) | (_, Blocked) => Blocked,
            (Approved, _) | (_, Approved) => Approved,
            (New, New) => New,
        }
    }
}

impl fmt::Display for DeviceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a device state (expected new, approved or blocked)")]
pub struct InvalidDeviceState(pub String);

impl FromStr for DeviceState {
    type Err = InvalidDeviceState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "new" => Ok(Self::New),
            "approved" => Ok(Self::Approved),
            "blocked" => Ok(Self::Blocked),
            other => Err(InvalidDeviceState(other.to_owned())),
        }
    }
}

/// The member id of the home's founding owner: the person at the hub's own machine (the owner
/// token, `hearth open`, the desktop window). Rows written before members existed say `owner`
/// too, so they read back as this member.
pub const FOUNDING_OWNER: &str = "owner";

/// Who changed something: a member of the household (by id, with the address the request came
/// from when there was one) or Hearth itself (discovery creating a record). Stored and sent as
/// one string: the member's id, or `hearth`.
#[derive(Debug, Clone, PartialEq, Eq, TS)]
#[ts(export, type = "string")]
pub enum Actor {
    Member { id: String, from: Option<String> },
    Hearth,
}

impl Actor {
    /// The founding owner, from nowhere in particular (tests, the hub's own decisions for them).
    pub fn owner() -> Self {
        Self::Member { id: FOUNDING_OWNER.to_owned(), from: None }
    }

    pub fn member(id: &str, from: Option<String>) -> Self {
        Self::Member { id: id.to_owned(), from }
    }

    /// What the store keeps: the member's id, or `hearth`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Member { id, .. } => id,
            Self::Hearth => "hearth",
        }
    }

    /// Where the request came from, for the audit ("" when not over the network).
    pub fn address(&self) -> &str {
        match self {
            Self::Member { from: Some(from), .. } => from,
            _ => "",
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from)
    }
}

impl From<Actor> for String {
    fn from(actor: Actor) -> Self {
        actor.as_str().to_owned()
    }
}

impl From<String> for Actor {
    fn from(s: String) -> Self {
        if s == "hearth" { Self::Hearth } else { Self::Member { id: s, from: None } }
    }
}

impl FromStr for Actor {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_two_records_never_undoes_a_block() {
        use DeviceState::{Approved, Blocked, New};
        for (a, b, want) in
            [(Approved, Blocked, Blocked), (Blocked, New, Blocked), (New, Approved, Approved), (Approved, New, Approved), (New, New, New)]
        {
            assert_eq!(a.merged(b), want, "{a} + {b}");
            assert_eq!(b.merged(a), want, "{b} + {a}");
        }
    }

    #[test]
    fn ids_round_trip_and_reject_odd_input() {
        let id = DeviceId::from_random(0xdead_beef_cafe_f00d);
        assert_eq!(id.as_str(), "d-beefcafef00d");
        assert_eq!(DeviceId::parse(id.as_str()).ok(), Some(id));
        for bad in ["", "d-", "d-XYZ", "d-BEEFCAFEF00D", "x-beefcafef00d", "d-beefcafef00d0", "../etc"] {
            assert!(DeviceId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn states_parse() {
        for s in [DeviceState::New, DeviceState::Approved, DeviceState::Blocked] {
            assert_eq!(s.as_str().parse::<DeviceState>().ok(), Some(s));
        }
        assert!("deleted".parse::<DeviceState>().is_err());
    }
}
