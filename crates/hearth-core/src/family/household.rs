//! Who and what: members and their roles, the rights they ask for, the grants that give or take
//! them, and the few facts about a device that decide (its room, whether it is sensitive, whose
//! it is).

use super::schedule::{Moment, Schedule};
use crate::device::DeviceId;
use crate::fingerprint::Kind;
use crate::inventory::Millis;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use ts_rs::TS;

/// A member of the household, as the store names them.
pub type MemberId = String;
/// A room of the home, as the store numbers it.
pub type RoomId = i64;

/// What a member is to the household. The role sets the defaults; grants add or take away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Role {
    /// Runs the home: everything, and no grant restricts them.
    Owner,
    /// Sees and uses every device; reviewing data and changing settings need a grant.
    Adult,
    /// Uses only what a parent grants, and never changes settings.
    Child,
    /// Uses only what a grant with an end gives, and never sees recorded data.
    Guest,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Adult => "adult",
            Self::Child => "child",
            Self::Guest => "guest",
        }
    }

    /// A parent may review the data of the household's children.
    pub fn is_parent(self) -> bool {
        matches!(self, Self::Owner | Self::Adult)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a role (expected owner, adult, child or guest)")]
pub struct InvalidRole(pub String);

impl FromStr for Role {
    type Err = InvalidRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(Self::Owner),
            "adult" => Ok(Self::Adult),
            "child" => Ok(Self::Child),
            "guest" => Ok(Self::Guest),
            other => Err(InvalidRole(crate::text::clip(other, crate::text::LOGGED).into_owned())),
        }
    }
}

/// What a member asks to do. The rights are independent: being allowed to control a device
/// does not imply viewing it, so a caller listing devices checks `View` for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Right {
    /// See that it exists and its current state.
    View,
    /// Use it: switch, open, start.
    Control,
    /// Read what it recorded and sent: the ledger's history of its data.
    Review,
    /// Change its settings, rules and permissions.
    Configure,
}

impl Right {
    pub const ALL: [Self; 4] = [Self::View, Self::Control, Self::Review, Self::Configure];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Control => "control",
            Self::Review => "review",
            Self::Configure => "configure",
        }
    }
}

impl fmt::Display for Right {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a right (expected view, control, review or configure)")]
pub struct InvalidRight(pub String);

impl FromStr for Right {
    type Err = InvalidRight;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "view" => Ok(Self::View),
            "control" => Ok(Self::Control),
            "review" => Ok(Self::Review),
            "configure" => Ok(Self::Configure),
            other => Err(InvalidRight(crate::text::clip(other, crate::text::LOGGED).into_owned())),
        }
    }
}

/// Whether a grant gives the right or takes it away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Effect {
    Allow,
    Deny,
}

/// What a grant is about: one device, every device of a room, or the whole home.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
#[ts(export)]
pub enum Target {
    Home,
    Room(#[ts(type = "number")] RoomId),
    Device(DeviceId),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Member {
    pub id: MemberId,
    pub role: Role,
}

/// One right given to (or taken from) one member, on one target, possibly only at some times
/// and until some instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Grant {
    #[ts(type = "number")]
    pub id: i64,
    pub member: MemberId,
    pub right: Right,
    pub target: Target,
    pub effect: Effect,
    /// Only inside these windows; `None` at any time.
    pub schedule: Option<Schedule>,
    /// The first instant it no longer holds; `None` never ends (a guest's grant must end).
    #[ts(type = "number | null")]
    pub expires_at: Option<Millis>,
    /// Who gave it: for a personal device's data, only its own member may share it.
    pub granted_by: MemberId,
}

impl Grant {
    /// Holds at `now`: not yet expired (the expiry instant itself is expired) and inside its
    /// schedule, if it has one.
    pub fn applies_at(&self, now: &Moment) -> bool {
        self.expires_at.is_none_or(|end| end > now.at) && self.schedule.as_ref().is_none_or(|s| s.contains(now))
    }
}

/// The member a personal device belongs to (a phone, a watch, a child's tablet): its data is
/// theirs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PersonalOwner {
    pub member: MemberId,
    pub role: Role,
}

/// What the decision needs to know about a device, as the store has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DeviceFacts {
    pub id: DeviceId,
    #[ts(type = "number | null")]
    pub room: Option<RoomId>,
    /// Opens the home or watches it (see [`is_sensitive`]).
    pub sensitive: bool,
    pub personal: Option<PersonalOwner>,
}

/// Whether a device opens the home or watches it: locks, cameras, doorbells, garage doors,
/// gates and alarms. For these, a child or a guest needs a grant on the device itself, so that
/// a grant on a room or the home never hands over the front door by accident.
///
/// `components` are its entities' components and `device_classes` their Home Assistant device
/// classes. The two lists are not paired: Home Assistant gives the classes `garage` and `gate`
/// to covers only, so a cover among the components with one of them is a garage door or gate.
pub fn is_sensitive(kind: Kind, components: &[&str], device_classes: &[&str]) -> bool {
    let has = |list: &[&str], name: &str| list.iter().any(|s| s.eq_ignore_ascii_case(name));
    matches!(kind, Kind::Lock | Kind::Camera | Kind::Doorbell | Kind::GarageDoor | Kind::SecuritySystem)
        || ["lock", "alarm_control_panel", "camera"].iter().any(|c| has(components, c))
        || (has(components, "cover") && (has(device_classes, "garage") || has(device_classes, "gate")))
}
