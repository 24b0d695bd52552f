//! The decision about one request of one member: may they do this, on the home or on this
//! device, now? Pure: the caller supplies the member, their grants, the device's facts and the
//! home's local time, and records and applies the answer.

use super::household::{DeviceFacts, Effect, Grant, Member, PersonalOwner, Right, Role, Target};
use super::schedule::Moment;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What a request is about. Not serialized: it borrows the device's facts for one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    Home,
    Device(&'a DeviceFacts),
}

/// Where the grant that decided was given, from the least specific to the most: the most
/// specific level holding a grant decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Level {
    Home,
    Room,
    Device,
}

impl Level {
    fn plain(self) -> &'static str {
        match self {
            Self::Home => "the whole home",
            Self::Room => "its room",
            Self::Device => "this device",
        }
    }
}

/// Why: the rule or the grant that decided, as the audit records it and the UI says it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case", tag = "kind")]
// The DNS gate's `Because` is already `Because.ts`: one file, one meaning.
#[ts(export, rename = "AccessBecause")]
pub enum Because {
    Owner,
    /// Adults see and use every device unless a grant says otherwise.
    AdultEverywhere,
    /// Every member sees the household's page, filtered to what they may view.
    Household,
    Granted {
        #[ts(type = "number")]
        grant: i64,
        level: Level,
    },
    Denied {
        #[ts(type = "number")]
        grant: i64,
        level: Level,
    },
    NotGranted,
    ChildNeverConfigures,
    GuestNeverReviews,
    /// A guest's only grant for this has no end, and a guest's access must end.
    GuestGrantWithoutExpiry,
    SensitiveNeedsDeviceGrant,
    OwnDevice,
    ParentOfChild,
    SharedByItsMember {
        #[ts(type = "number")]
        grant: i64,
    },
    /// Someone else's personal device: its data is for its member only.
    PersonalDevice,
    HomeRightsNeedAGrant,
}

impl Because {
    /// One sentence a homeowner reads in the UI or the audit.
    pub fn plain(&self) -> String {
        match self {
            Self::Owner => "Owners may do everything in the home.".into(),
            Self::AdultEverywhere => "Adults may see and use every device unless a grant says otherwise.".into(),
            Self::Household => "Every member sees the household's page, showing only what they may see.".into(),
            Self::Granted { grant, level } => format!("Allowed by grant #{grant} on {}.", level.plain()),
            Self::Denied { grant, level } => format!("Refused by grant #{grant} on {}.", level.plain()),
            Self::NotGranted => "No grant gives this right.".into(),
            Self::ChildNeverConfigures => "Children never change settings.".into(),
            Self::GuestNeverReviews => "Guests never see recorded data.".into(),
            Self::GuestGrantWithoutExpiry => "A guest's grant counts only with an end date, and this one has none.".into(),
            Self::SensitiveNeedsDeviceGrant => {
                "This device opens or watches the home: children and guests need a grant on the device itself.".into()
            }
            Self::OwnDevice => "It is their own device.".into(),
            Self::ParentOfChild => "Parents may review their children's devices; the child sees that they did.".into(),
            Self::SharedByItsMember { grant } => {
                format!("Its member shared its data by grant #{grant}; they see when it is looked at.")
            }
            Self::PersonalDevice => "It is someone else's personal device: only they see its data, unless they share it.".into(),
            Self::HomeRightsNeedAGrant => "Rights over the whole home need a grant from the owner.".into(),
        }
    }
}

/// The answer, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Authorization {
    pub allowed: bool,
    pub because: Because,
    /// Allowed to review another member's personal device: the caller records it in the audit
    /// and shows it to that member, so that looking is never silent.
    pub looks_at_another_members_data: bool,
}

fn allow(because: Because) -> Authorization {
    Authorization { allowed: true, because, looks_at_another_members_data: false }
}

fn refuse(because: Because) -> Authorization {
    Authorization { allowed: false, because, looks_at_another_members_data: false }
}

fn look(because: Because) -> Authorization {
    Authorization { allowed: true, because, looks_at_another_members_data: true }
}

/// Decides one request. In order: a role's hard limits (guests never review, children never
/// configure); a personal device's data (its member, a parent of a child unless denied, or whom
/// its member shared it with); the owner; this member's grants that hold now, the most specific
/// level deciding and a deny winning within a level (a sensitive device needs a device grant
/// for a child or a guest); then the role's defaults.
pub fn authorize(member: &Member, grants: &[Grant], right: Right, subject: Subject<'_>, now: &Moment) -> Authorization {
    match (member.role, right) {
        (Role::Guest, Right::Review) => return refuse(Because::GuestNeverReviews),
        (Role::Child, Right::Configure) => return refuse(Because::ChildNeverConfigures),
        _ => {}
    }
    let decisive = grants
        .iter()
        .filter(|g| counts(g, member, right, now))
        .filter_map(|g| level_of(subject, &g.target).map(|level| (level, g)))
        .max_by_key(|(level, g)| (*level, g.effect == Effect::Deny));
    if let Subject::Device(device) = subject
        && let Some(owner) = &device.personal
        && let Some(decided) = personal(member, grants, right, device, owner, now, decisive)
    {
        return decided;
    }
    if member.role == Role::Owner {
        // Grants never restrict an owner: a household must not lock out the person who runs it.
        return allow(Because::Owner);
    }
    if let Some((level, grant)) = decisive {
        let sensitive = matches!(subject, Subject::Device(d) if d.sensitive);
        return match grant.effect {
            Effect::Deny => refuse(Because::Denied { grant: grant.id, level }),
            Effect::Allow if sensitive && level != Level::Device && matches!(member.role, Role::Child | Role::Guest) => {
                refuse(Because::SensitiveNeedsDeviceGrant)
            }
            Effect::Allow => allow(Because::Granted { grant: grant.id, level }),
        };
    }
    match (member.role, subject, right) {
        (_, Subject::Home, Right::View) => allow(Because::Household),
        (Role::Adult, Subject::Home, _) => refuse(Because::HomeRightsNeedAGrant),
        (Role::Adult, Subject::Device(_), Right::View | Right::Control) => allow(Because::AdultEverywhere),
        (Role::Guest, _, _) if grants.iter().any(|g| unended(g, member, right, subject, now)) => refuse(Because::GuestGrantWithoutExpiry),
        _ => refuse(Because::NotGranted),
    }
}

/// The data of a personal device (and an adult's settings of their own): decided here, or
/// `None` to go on with the general rules. Room and home grants never open it: only a grant on
/// the device itself, given by its own member.
fn personal(
    member: &Member,
    grants: &[Grant],
    right: Right,
    device: &DeviceFacts,
    owner: &PersonalOwner,
    now: &Moment,
    decisive: Option<(Level, &Grant)>,
) -> Option<Authorization> {
    let own = owner.member == member.id;
    match right {
        // Their own device is in their list whatever their role: they review it, so they see it.
        Right::View | Right::Review if own => Some(allow(Because::OwnDevice)),
        Right::Review if member.role.is_parent() && owner.role == Role::Child => Some(match decisive {
            // A parent's look is a default like an adult's view: the owner's deny restricts it
            // (an adult of the household need not be the child's parent), never the owner's own.
            Some((level, g)) if g.effect == Effect::Deny && member.role != Role::Owner => refuse(Because::Denied { grant: g.id, level }),
            _ => look(Because::ParentOfChild),
        }),
        Right::Review => {
            let shared = grants
                .iter()
                .filter(|g| counts(g, member, right, now) && g.granted_by == owner.member)
                .filter(|g| matches!(&g.target, Target::Device(id) if *id == device.id))
                // Its member may also take a share back with a deny: it wins, as at any level.
                .max_by_key(|g| g.effect == Effect::Deny);
            Some(match shared {
                Some(g) if g.effect == Effect::Deny => refuse(Because::Denied { grant: g.id, level: Level::Device }),
                Some(g) => look(Because::SharedByItsMember { grant: g.id }),
                None => refuse(Because::PersonalDevice),
            })
        }
        Right::Configure if own && member.role == Role::Adult => Some(allow(Because::OwnDevice)),
        // Its privacy choices are its member's: no room or home grant lifts them for another.
        Right::Configure if !own && member.role != Role::Owner => Some(refuse(Because::PersonalDevice)),
        _ => None,
    }
}

/// This member's grant for this right, holding now. A guest's allow without an end does not
/// count: a guest's access must end. A guest's deny counts with or without one, since ignoring
/// it could only widen what they may do.
fn counts(grant: &Grant, member: &Member, right: Right, now: &Moment) -> bool {
    grant.member == member.id
        && grant.right == right
        && grant.applies_at(now)
        && !(member.role == Role::Guest && grant.effect == Effect::Allow && grant.expires_at.is_none())
}

/// A guest's allow that would have decided but has no end: said, so that the owner adds one.
fn unended(grant: &Grant, member: &Member, right: Right, subject: Subject<'_>, now: &Moment) -> bool {
    grant.member == member.id
        && grant.right == right
        && grant.effect == Effect::Allow
        && grant.expires_at.is_none()
        && grant.applies_at(now)
        && level_of(subject, &grant.target).is_some()
}

/// At which level a grant's target covers the subject, if it does: a device, its room (only the
/// room it is in), the home. For the home itself only home grants count.
fn level_of(subject: Subject<'_>, target: &Target) -> Option<Level> {
    match (subject, target) {
        (_, Target::Home) => Some(Level::Home),
        (Subject::Device(d), Target::Room(room)) if d.room == Some(*room) => Some(Level::Room),
        (Subject::Device(d), Target::Device(id)) if *id == d.id => Some(Level::Device),
        _ => None,
    }
}
