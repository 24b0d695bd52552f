//! The household's rules as tables: who asks, for what right, on what, with which grants, when;
//! and what the answer is. Members: Olga owns the home, Ann and Bob are adults, Kim and Kai are
//! children, Gus is a guest. It is Wednesday noon unless a row says otherwise.

use super::*;
use crate::device::DeviceId;
use crate::fingerprint::Kind;
use crate::inventory::Millis;
use Because as B;
use Right::{Configure, Control, Review, View};
use Role::{Adult, Child, Guest, Owner};
use Weekday::{Fri, Mon, Sat, Sun, Thu, Wed};

const NOW: Millis = 1_700_000_000_000;

fn me(role: Role) -> Member {
    let id = match role {
        Owner => "olga",
        Adult => "ann",
        Child => "kim",
        Guest => "gus",
    };
    Member { id: id.into(), role }
}

/// What a request is about: the home, a plain lamp and a lock (room 1), a lamp in the hall
/// (room 3), and personal phones in room 2: the asker's own, Bob's (adult), Kai's (child).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    Home,
    Lamp,
    Lock,
    Hall,
    Mine,
    Bobs,
    Kais,
}

const ALL_ON: [On; 7] = [On::Home, On::Lamp, On::Lock, On::Hall, On::Mine, On::Bobs, On::Kais];

fn dev(n: u64) -> DeviceId {
    DeviceId::from_random(n)
}

fn facts(on: On, asker: &Member) -> Option<DeviceFacts> {
    let personal = |member: &str, role| Some(PersonalOwner { member: member.into(), role });
    let (n, room, sensitive, personal) = match on {
        On::Home => return None,
        On::Lamp => (1, 1, false, None),
        On::Lock => (2, 1, true, None),
        On::Hall => (3, 3, false, None),
        On::Mine => (0xa, 2, false, personal(&asker.id, asker.role)),
        On::Bobs => (0xb, 2, false, personal("bob", Adult)),
        On::Kais => (0xc, 2, false, personal("kai", Child)),
    };
    Some(DeviceFacts { id: dev(n), room: Some(room), sensitive, personal })
}

fn decide(role: Role, right: Right, on: On, grants: &[Grant], now: &Moment) -> Authorization {
    let member = me(role);
    // Rows write the asker as "me".
    let grants: Vec<Grant> =
        grants.iter().cloned().map(|g| if g.member == "me" { Grant { member: member.id.clone(), ..g } } else { g }).collect();
    let device = facts(on, &member);
    let subject = device.as_ref().map_or(Subject::Home, Subject::Device);
    authorize(&member, &grants, right, subject, now)
}

fn at(weekday: Weekday, hour: u16, minute: u16) -> Moment {
    Moment { at: NOW, weekday, minute: hour * 60 + minute }
}

fn home() -> Target {
    Target::Home
}
fn room(n: RoomId) -> Target {
    Target::Room(n)
}
fn device(n: u64) -> Target {
    Target::Device(dev(n))
}

/// A grant to the asker, given by Olga, always and forever; the tweaks below change that.
fn grant(id: i64, right: Right, target: Target, effect: Effect) -> Grant {
    Grant { id, member: "me".into(), right, target, effect, schedule: None, expires_at: None, granted_by: "olga".into() }
}
fn allow(id: i64, right: Right, target: Target) -> Grant {
    grant(id, right, target, Effect::Allow)
}
fn deny(id: i64, right: Right, target: Target) -> Grant {
    grant(id, right, target, Effect::Deny)
}

trait Tweak {
    fn by(self, member: &str) -> Self;
    fn to(self, member: &str) -> Self;
    fn ends(self, at: Millis) -> Self;
    fn when(self, windows: Vec<Window>) -> Self;
}
impl Tweak for Grant {
    fn by(self, member: &str) -> Self {
        Self { granted_by: member.into(), ..self }
    }
    fn to(self, member: &str) -> Self {
        Self { member: member.into(), ..self }
    }
    fn ends(self, at: Millis) -> Self {
        Self { expires_at: Some(at), ..self }
    }
    fn when(self, windows: Vec<Window>) -> Self {
        Self { schedule: Some(Schedule { windows }), ..self }
    }
}

fn window(days: &[Weekday], from: u16, to: u16) -> Window {
    Window { days: days.to_vec(), from, to }
}
fn school_days() -> Window {
    window(&[Mon, Weekday::Tue, Wed, Thu, Fri], 8 * 60, 17 * 60)
}
fn friday_night() -> Window {
    window(&[Fri], 22 * 60, 7 * 60)
}
fn sunday_night() -> Window {
    window(&[Sun], 21 * 60, 7 * 60)
}
fn all_sunday() -> Window {
    window(&[Sun], 300, 300)
}

fn ok(because: Because) -> Authorization {
    Authorization { allowed: true, because, looks_at_another_members_data: false }
}
fn no(because: Because) -> Authorization {
    Authorization { allowed: false, because, looks_at_another_members_data: false }
}
fn looks(because: Because) -> Authorization {
    Authorization { allowed: true, because, looks_at_another_members_data: true }
}
fn granted(grant: i64, level: Level) -> Because {
    B::Granted { grant, level }
}
fn denied(grant: i64, level: Level) -> Because {
    B::Denied { grant, level }
}

struct Row {
    what: &'static str,
    role: Role,
    right: Right,
    on: On,
    grants: Vec<Grant>,
    now: Moment,
    want: Authorization,
}

fn row(what: &'static str, role: Role, right: Right, on: On, grants: Vec<Grant>, want: Authorization) -> Row {
    Row { what, role, right, on, grants, now: at(Wed, 12, 0), want }
}

impl Row {
    fn at(self, now: Moment) -> Self {
        Self { now, ..self }
    }
}

const DEV: Level = Level::Device;
const ROOM: Level = Level::Room;
const HOME: Level = Level::Home;
const LATER: Millis = NOW + 3_600_000;

#[rustfmt::skip]
fn table() -> Vec<Row> {
    use On::{Bobs, Hall, Home, Kais, Lamp, Lock, Mine};
    vec![
        // The owner may do everything, and no grant restricts them.
        row("owner views the home", Owner, View, Home, vec![], ok(B::Owner)),
        row("owner configures the home", Owner, Configure, Home, vec![], ok(B::Owner)),
        row("owner controls the lock", Owner, Control, Lock, vec![], ok(B::Owner)),
        row("owner reviews a lamp", Owner, Review, Lamp, vec![], ok(B::Owner)),
        row("owner with a device deny still configures", Owner, Configure, Lamp, vec![deny(1, Configure, device(1))], ok(B::Owner)),
        row("owner with a home deny still views the home", Owner, View, Home, vec![deny(1, View, home())], ok(B::Owner)),
        row("owner reviews their own phone", Owner, Review, Mine, vec![], ok(B::OwnDevice)),
        row("owner reviews a child's phone", Owner, Review, Kais, vec![], looks(B::ParentOfChild)),
        row("owner may not review an adult's phone", Owner, Review, Bobs, vec![], no(B::PersonalDevice)),
        row("owner reviews an adult's phone he shared", Owner, Review, Bobs, vec![allow(1, Review, device(0xb)).by("bob")], looks(B::SharedByItsMember { grant: 1 })),
        row("a home review grant never opens a phone", Owner, Review, Bobs, vec![allow(1, Review, home()).by("bob")], no(B::PersonalDevice)),
        row("owner controls an adult's phone", Owner, Control, Bobs, vec![], ok(B::Owner)),
        row("owner configures an adult's phone", Owner, Configure, Bobs, vec![], ok(B::Owner)),
        // Adults: every device to see and use; data and settings need a grant.
        row("adult views the home", Adult, View, Home, vec![], ok(B::Household)),
        row("adult controls the home", Adult, Control, Home, vec![], no(B::HomeRightsNeedAGrant)),
        row("adult reviews the home", Adult, Review, Home, vec![], no(B::HomeRightsNeedAGrant)),
        row("adult configures the home with a home grant", Adult, Configure, Home, vec![allow(1, Configure, home())], ok(granted(1, HOME))),
        row("a device grant is not a home right", Adult, Control, Home, vec![allow(1, Control, device(1))], no(B::HomeRightsNeedAGrant)),
        row("a room grant is not a home right", Adult, Configure, Home, vec![allow(1, Configure, room(1))], no(B::HomeRightsNeedAGrant)),
        row("adult views a lamp", Adult, View, Lamp, vec![], ok(B::AdultEverywhere)),
        row("adult controls a lamp", Adult, Control, Lamp, vec![], ok(B::AdultEverywhere)),
        row("adult controls the lock: no special rule", Adult, Control, Lock, vec![], ok(B::AdultEverywhere)),
        row("adult reviews a lamp", Adult, Review, Lamp, vec![], no(B::NotGranted)),
        row("adult configures a lamp", Adult, Configure, Lamp, vec![], no(B::NotGranted)),
        row("adult configures with a room grant", Adult, Configure, Lamp, vec![allow(1, Configure, room(1))], ok(granted(1, ROOM))),
        row("adult reviews with a device grant", Adult, Review, Lamp, vec![allow(1, Review, device(1))], ok(granted(1, DEV))),
        row("adult configures the lock with a home grant", Adult, Configure, Lock, vec![allow(1, Configure, home())], ok(granted(1, HOME))),
        row("a grant on room 1 misses the hall", Adult, Configure, Hall, vec![allow(1, Configure, room(1))], no(B::NotGranted)),
        row("a grant on the lamp misses the hall", Adult, Configure, Hall, vec![allow(1, Configure, device(1))], no(B::NotGranted)),
        row("a device deny restricts an adult", Adult, Control, Lamp, vec![deny(1, Control, device(1))], no(denied(1, DEV))),
        row("a room deny restricts an adult", Adult, View, Lamp, vec![deny(1, View, room(1))], no(denied(1, ROOM))),
        row("a home deny restricts an adult", Adult, Control, Lamp, vec![deny(1, Control, home())], no(denied(1, HOME))),
        row("a home deny hides the home", Adult, View, Home, vec![deny(1, View, home())], no(denied(1, HOME))),
        row("a deny for another right changes nothing", Adult, Control, Lamp, vec![deny(1, View, device(1))], ok(B::AdultEverywhere)),
        row("an allow for another right gives nothing", Adult, Configure, Lamp, vec![allow(1, Control, device(1))], no(B::NotGranted)),
        row("another member's allow gives nothing", Adult, Configure, Lamp, vec![allow(1, Configure, device(1)).to("bob")], no(B::NotGranted)),
        row("another member's deny takes nothing", Adult, Control, Lamp, vec![deny(1, Control, home()).to("bob")], ok(B::AdultEverywhere)),
        // Levels: the most specific decides; within a level a deny wins.
        row("device allow beats home deny", Adult, Configure, Lamp, vec![deny(1, Configure, home()), allow(2, Configure, device(1))], ok(granted(2, DEV))),
        row("device deny beats room allow", Adult, Configure, Lamp, vec![allow(1, Configure, room(1)), deny(2, Configure, device(1))], no(denied(2, DEV))),
        row("room allow beats home deny", Adult, Control, Lamp, vec![deny(1, Control, home()), allow(2, Control, room(1))], ok(granted(2, ROOM))),
        row("same level: deny after allow wins", Adult, Configure, Lamp, vec![allow(1, Configure, device(1)), deny(2, Configure, device(1))], no(denied(2, DEV))),
        row("same level: deny before allow wins", Adult, Configure, Lamp, vec![deny(1, Configure, room(1)), allow(2, Configure, room(1))], no(denied(1, ROOM))),
        // Personal devices: their data is their member's.
        row("adult reviews their own phone", Adult, Review, Mine, vec![], ok(B::OwnDevice)),
        row("adult configures their own phone", Adult, Configure, Mine, vec![], ok(B::OwnDevice)),
        row("a deny does not hide one's own data", Adult, Review, Mine, vec![deny(1, Review, device(0xa))], ok(B::OwnDevice)),
        row("adult may not review another adult's phone", Adult, Review, Bobs, vec![], no(B::PersonalDevice)),
        row("adult reviews what Bob shared", Adult, Review, Bobs, vec![allow(1, Review, device(0xb)).by("bob")], looks(B::SharedByItsMember { grant: 1 })),
        row("only Bob may share Bob's phone", Adult, Review, Bobs, vec![allow(1, Review, device(0xb))], no(B::PersonalDevice)),
        row("a room share never opens a phone", Adult, Review, Bobs, vec![allow(1, Review, room(2)).by("bob")], no(B::PersonalDevice)),
        row("an expired share is over", Adult, Review, Bobs, vec![allow(1, Review, device(0xb)).by("bob").ends(NOW)], no(B::PersonalDevice)),
        row("Bob takes his share back with a deny", Adult, Review, Bobs, vec![allow(1, Review, device(0xb)).by("bob"), deny(2, Review, device(0xb)).by("bob")], no(denied(2, DEV))),
        row("adult reviews a child's phone", Adult, Review, Kais, vec![], looks(B::ParentOfChild)),
        row("a deny keeps an adult from a child's phone", Adult, Review, Kais, vec![deny(1, Review, device(0xc))], no(denied(1, DEV))),
        row("a room allow does not outweigh it", Adult, Review, Kais, vec![deny(1, Review, device(0xc)), allow(2, Review, room(2))], no(denied(1, DEV))),
        row("a deny never keeps the owner from a child's phone", Owner, Review, Kais, vec![deny(1, Review, home())], looks(B::ParentOfChild)),
        row("adult controls Bob's phone", Adult, Control, Bobs, vec![], ok(B::AdultEverywhere)),
        row("adult configures Bob's phone", Adult, Configure, Bobs, vec![], no(B::PersonalDevice)),
        // Children: what a grant gives, never settings; sensitive devices only by a device grant.
        row("child views the home", Child, View, Home, vec![], ok(B::Household)),
        row("child views a lamp", Child, View, Lamp, vec![], no(B::NotGranted)),
        row("child controls the home", Child, Control, Home, vec![], no(B::NotGranted)),
        row("child controls a lamp by room", Child, Control, Lamp, vec![allow(1, Control, room(1))], ok(granted(1, ROOM))),
        row("child controls a lamp by device", Child, Control, Lamp, vec![allow(1, Control, device(1))], ok(granted(1, DEV))),
        row("child never configures, grant or not", Child, Configure, Lamp, vec![allow(1, Configure, device(1))], no(B::ChildNeverConfigures)),
        row("child never configures their own phone", Child, Configure, Mine, vec![], no(B::ChildNeverConfigures)),
        row("child reviews their own phone", Child, Review, Mine, vec![], ok(B::OwnDevice)),
        row("child may not review another child's phone", Child, Review, Kais, vec![], no(B::PersonalDevice)),
        row("child reviews what Bob shared", Child, Review, Bobs, vec![allow(1, Review, device(0xb)).by("bob")], looks(B::SharedByItsMember { grant: 1 })),
        row("child: a room grant does not open the lock", Child, Control, Lock, vec![allow(1, Control, room(1))], no(B::SensitiveNeedsDeviceGrant)),
        row("child: a home grant does not open the lock", Child, Control, Lock, vec![allow(1, Control, home())], no(B::SensitiveNeedsDeviceGrant)),
        row("child: a home grant does not show the lock", Child, View, Lock, vec![allow(1, View, home())], no(B::SensitiveNeedsDeviceGrant)),
        row("child opens the lock by device grant", Child, Control, Lock, vec![allow(1, Control, device(2))], ok(granted(1, DEV))),
        row("child: the lock's grant beats a home deny", Child, Control, Lock, vec![deny(1, Control, home()), allow(2, Control, device(2))], ok(granted(2, DEV))),
        row("child: a room deny on the lock is a deny", Child, Control, Lock, vec![deny(1, Control, room(1))], no(denied(1, ROOM))),
        row("child: a home deny hides the home", Child, View, Home, vec![deny(1, View, home())], no(denied(1, HOME))),
        // Guests: what a grant with an end gives, never data.
        row("guest views the home", Guest, View, Home, vec![], ok(B::Household)),
        row("guest controls a lamp", Guest, Control, Lamp, vec![], no(B::NotGranted)),
        row("guest never reviews, grant or not", Guest, Review, Home, vec![allow(1, Review, home()).ends(LATER)], no(B::GuestNeverReviews)),
        row("guest never reviews their own phone", Guest, Review, Mine, vec![], no(B::GuestNeverReviews)),
        row("guest never reviews a share", Guest, Review, Bobs, vec![allow(1, Review, device(0xb)).by("bob").ends(LATER)], no(B::GuestNeverReviews)),
        row("guest controls by a grant that ends", Guest, Control, Lamp, vec![allow(1, Control, device(1)).ends(LATER)], ok(granted(1, DEV))),
        row("guest configures by a grant that ends", Guest, Configure, Lamp, vec![allow(1, Configure, device(1)).ends(LATER)], ok(granted(1, DEV))),
        row("a guest grant without an end is ignored", Guest, Control, Lamp, vec![allow(1, Control, device(1))], no(B::GuestGrantWithoutExpiry)),
        row("guest: the room grant with an end decides", Guest, Control, Lamp, vec![allow(1, Control, device(1)), allow(2, Control, room(1)).ends(LATER)], ok(granted(2, ROOM))),
        row("guest: a deny without an end still counts", Guest, View, Home, vec![deny(1, View, home())], no(denied(1, HOME))),
        row("guest: a room grant does not open the lock", Guest, Control, Lock, vec![allow(1, Control, room(1)).ends(LATER)], no(B::SensitiveNeedsDeviceGrant)),
        row("guest opens the lock by device grant", Guest, Control, Lock, vec![allow(1, Control, device(2)).ends(LATER)], ok(granted(1, DEV))),
        // Expiry: the instant itself is expired.
        row("expires now: expired", Adult, Configure, Lamp, vec![allow(1, Configure, device(1)).ends(NOW)], no(B::NotGranted)),
        row("expires a millisecond from now: holds", Adult, Configure, Lamp, vec![allow(1, Configure, device(1)).ends(NOW + 1)], ok(granted(1, DEV))),
        row("expired a millisecond ago", Adult, Configure, Lamp, vec![allow(1, Configure, device(1)).ends(NOW - 1)], no(B::NotGranted)),
        row("an expired deny no longer restricts", Adult, Control, Lamp, vec![deny(1, Control, device(1)).ends(NOW)], ok(B::AdultEverywhere)),
        row("a guest's expired grant", Guest, Control, Lamp, vec![allow(1, Control, device(1)).ends(NOW)], no(B::NotGranted)),
        // Schedules: `from` is inside, `to` outside; a window past midnight belongs to its first day.
        row("school days, at 08:00", Child, Control, Lamp, vec![allow(1, Control, device(1)).when(vec![school_days()])], ok(granted(1, DEV))).at(at(Mon, 8, 0)),
        row("school days, at 07:59", Child, Control, Lamp, vec![allow(1, Control, device(1)).when(vec![school_days()])], no(B::NotGranted)).at(at(Mon, 7, 59)),
        row("school days, at 16:59", Child, Control, Lamp, vec![allow(1, Control, device(1)).when(vec![school_days()])], ok(granted(1, DEV))).at(at(Fri, 16, 59)),
        row("school days, at 17:00", Child, Control, Lamp, vec![allow(1, Control, device(1)).when(vec![school_days()])], no(B::NotGranted)).at(at(Mon, 17, 0)),
        row("school days, on Saturday", Child, Control, Lamp, vec![allow(1, Control, device(1)).when(vec![school_days()])], no(B::NotGranted)).at(at(Sat, 10, 0)),
        row("Friday night, at 22:00", Guest, Control, Lamp, vec![allow(1, Control, device(1)).ends(LATER).when(vec![friday_night()])], ok(granted(1, DEV))).at(at(Fri, 22, 0)),
        row("Friday night, Saturday 06:59", Guest, Control, Lamp, vec![allow(1, Control, device(1)).ends(LATER).when(vec![friday_night()])], ok(granted(1, DEV))).at(at(Sat, 6, 59)),
        row("Friday night, Saturday 07:00", Guest, Control, Lamp, vec![allow(1, Control, device(1)).ends(LATER).when(vec![friday_night()])], no(B::NotGranted)).at(at(Sat, 7, 0)),
        row("Friday night is not Friday morning", Guest, Control, Lamp, vec![allow(1, Control, device(1)).ends(LATER).when(vec![friday_night()])], no(B::NotGranted)).at(at(Fri, 6, 0)),
        row("Friday night is not Saturday night", Guest, Control, Lamp, vec![allow(1, Control, device(1)).ends(LATER).when(vec![friday_night()])], no(B::NotGranted)).at(at(Sat, 23, 0)),
        row("Sunday night reaches Monday 06:59", Adult, Control, Lamp, vec![deny(1, Control, device(1)).when(vec![sunday_night()])], no(denied(1, DEV))).at(at(Mon, 6, 59)),
        row("Sunday night ends Monday 07:00", Adult, Control, Lamp, vec![deny(1, Control, device(1)).when(vec![sunday_night()])], ok(B::AdultEverywhere)).at(at(Mon, 7, 0)),
        row("all Sunday, at midnight", Child, View, Lamp, vec![allow(1, View, device(1)).when(vec![all_sunday()])], ok(granted(1, DEV))).at(at(Sun, 0, 0)),
        row("all Sunday, at 23:59", Child, View, Lamp, vec![allow(1, View, device(1)).when(vec![all_sunday()])], ok(granted(1, DEV))).at(at(Sun, 23, 59)),
        row("all Sunday, not Monday midnight", Child, View, Lamp, vec![allow(1, View, device(1)).when(vec![all_sunday()])], no(B::NotGranted)).at(at(Mon, 0, 0)),
        row("either of two windows", Child, View, Lamp, vec![allow(1, View, device(1)).when(vec![school_days(), all_sunday()])], ok(granted(1, DEV))).at(at(Sun, 20, 0)),
        row("a scheduled deny outside its window", Adult, View, Home, vec![deny(1, View, home()).when(vec![friday_night()])], ok(B::Household)),
    ]
}

#[test]
fn decision_table() {
    let table = table();
    assert!(table.len() >= 60, "{} rows", table.len());
    for r in &table {
        let got = decide(r.role, r.right, r.on, &r.grants, &r.now);
        assert_eq!(got, r.want, "row `{}`", r.what);
        // Looking at another member's data is always allowed review of another's personal device.
        let anothers = matches!(r.on, On::Bobs | On::Kais);
        assert!(!got.looks_at_another_members_data || (got.allowed && r.right == Review && anothers), "row `{}`", r.what);
    }
}

const ROLES: [Role; 4] = [Owner, Adult, Child, Guest];

fn number_of(on: On) -> u64 {
    match on {
        On::Home => 0,
        On::Lamp => 1,
        On::Lock => 2,
        On::Hall => 3,
        On::Mine => 0xa,
        On::Bobs => 0xb,
        On::Kais => 0xc,
    }
}

#[test]
fn a_device_deny_beats_a_home_allow_for_every_role_but_the_owner() {
    for role in ROLES {
        for right in Right::ALL {
            for on in [On::Lamp, On::Lock, On::Hall, On::Bobs, On::Kais] {
                // The home allow ends, so that it counts for a guest too.
                let grants = [allow(1, right, home()).ends(LATER), deny(2, right, device(number_of(on)))];
                let got = decide(role, right, on, &grants, &at(Wed, 12, 0));
                let what = format!("{role} {right} {on:?}");
                if role == Owner {
                    // Bob's data stays Bob's, grant or not; everything else is the owner's.
                    let want = match (right, on) {
                        (Review, On::Bobs) => no(B::PersonalDevice),
                        (Review, On::Kais) => looks(B::ParentOfChild),
                        _ => ok(B::Owner),
                    };
                    assert_eq!(got, want, "{what}");
                    continue;
                }
                assert!(!got.allowed, "{what}: {got:?}");
                let why = [denied(2, DEV), B::GuestNeverReviews, B::ChildNeverConfigures, B::PersonalDevice];
                assert!(why.contains(&got.because), "{what}: {got:?}");
            }
        }
    }
}

/// Without any grant, exactly the defaults: the owner everything but another adult's data;
/// every member the household's page; adults every device to view and control; each member
/// their own device and its data (an adult its settings too); parents their children's data.
#[test]
fn without_grants_only_the_defaults() {
    let mut allowed = 0;
    for role in ROLES {
        for right in Right::ALL {
            for on in ALL_ON {
                let want = match (role, right, on) {
                    (Owner, Review, On::Bobs) => false,
                    (Owner, _, _) => true,
                    (_, View, On::Home) => true,
                    (Adult, View | Control, on) => on != On::Home,
                    (Adult | Child, Review, On::Mine) | (Adult, Configure, On::Mine) | (Adult, Review, On::Kais) => true,
                    // Their own device is in their list, whatever their role.
                    (Child | Guest, View, On::Mine) => true,
                    _ => false,
                };
                let got = decide(role, right, on, &[], &at(Wed, 12, 0));
                assert_eq!(got.allowed, want, "{role} {right} {on:?}: {got:?}");
                assert!(!matches!(got.because, B::Granted { .. } | B::Denied { .. } | B::SharedByItsMember { .. }), "{got:?}");
                allowed += usize::from(got.allowed);
            }
        }
    }
    // 27 for the owner, 1 + 12 + 3 for an adult, 3 for a child, 2 for a guest.
    assert_eq!(allowed, 27 + 16 + 3 + 2);
}

/// Every grant of another member, on every level, given by anyone, changes no answer.
#[test]
fn another_members_grants_change_nothing() {
    let mut noise = Vec::new();
    for right in Right::ALL {
        for target in [home(), room(1), room(2), device(1), device(2), device(0xa), device(0xb), device(0xc)] {
            for by in ["olga", "bob", "kai"] {
                noise.push(allow(100, right, target.clone()).to("bob").by(by).ends(LATER));
                noise.push(deny(101, right, target.clone()).to("bob").by(by));
            }
        }
    }
    for r in table() {
        let grants: Vec<Grant> = r.grants.iter().cloned().chain(noise.iter().cloned()).collect();
        assert_eq!(decide(r.role, r.right, r.on, &grants, &r.now), r.want, "row `{}` with Bob's grants", r.what);
    }
}

#[test]
fn schedules_are_checked_before_they_are_stored() {
    let schedule = |windows: Vec<Window>| Schedule { windows };
    let cases: Vec<(&str, Schedule, Result<(), InvalidSchedule>)> = vec![
        ("school days", schedule(vec![school_days()]), Ok(())),
        ("past midnight", schedule(vec![friday_night()]), Ok(())),
        ("whole day", schedule(vec![all_sunday()]), Ok(())),
        ("until 24:00", schedule(vec![window(&[Sat], 1320, 1440)]), Ok(())),
        ("no window", schedule(vec![]), Err(InvalidSchedule::NoWindow)),
        ("no day", schedule(vec![school_days(), window(&[], 0, 60)]), Err(InvalidSchedule::NoDay(2))),
        ("from 24:00", schedule(vec![window(&[Sat], 1440, 60)]), Err(InvalidSchedule::BadFrom { window: 1, from: 1440 })),
        ("to past 24:00", schedule(vec![window(&[Sat], 0, 1441)]), Err(InvalidSchedule::BadTo { window: 1, to: 1441 })),
        ("32 windows", schedule(vec![all_sunday(); MAX_WINDOWS]), Ok(())),
        ("33 windows", schedule(vec![all_sunday(); MAX_WINDOWS + 1]), Err(InvalidSchedule::TooManyWindows(33))),
    ];
    for (what, schedule, want) in cases {
        assert_eq!(schedule.validate(), want, "{what}");
    }
    let message = InvalidSchedule::BadFrom { window: 3, from: 1500 }.to_string();
    assert!(message.contains("window 3") && message.contains("1500"), "{message}");
}

#[test]
fn the_day_before() {
    let pairs = [(Mon, Sun), (Weekday::Tue, Mon), (Wed, Weekday::Tue), (Thu, Wed), (Fri, Thu), (Sat, Fri), (Sun, Sat)];
    for (day, before) in pairs {
        assert_eq!(Moment::yesterday_of(day), before, "{day:?}");
    }
}

#[test]
fn sensitive_devices() {
    let cases: &[(Kind, &[&str], &[&str], bool)] = &[
        (Kind::Lock, &[], &[], true),
        (Kind::Camera, &[], &[], true),
        (Kind::Doorbell, &[], &[], true),
        (Kind::GarageDoor, &[], &[], true),
        (Kind::SecuritySystem, &[], &[], true),
        (Kind::Light, &[], &[], false),
        (Kind::Door, &["binary_sensor"], &["door"], false),
        (Kind::Plug, &["switch", "lock"], &[], true),
        (Kind::Unknown, &["alarm_control_panel"], &[], true),
        (Kind::Hub, &["sensor", "camera"], &[], true),
        (Kind::WindowCovering, &["cover"], &["garage"], true),
        (Kind::Other, &["cover"], &["gate"], true),
        (Kind::WindowCovering, &["cover"], &["shutter"], false),
        (Kind::WindowCovering, &["cover"], &[], false),
        (Kind::Sensor, &["binary_sensor"], &["garage"], false),
    ];
    for (kind, components, classes, want) in cases {
        assert_eq!(is_sensitive(*kind, components, classes), *want, "{kind:?} {components:?} {classes:?}");
    }
}

#[test]
fn names_round_trip() {
    for role in ROLES {
        assert_eq!(role.as_str().parse::<Role>().ok(), Some(role));
    }
    for right in Right::ALL {
        assert_eq!(right.as_str().parse::<Right>().ok(), Some(right));
    }
    assert!("admin".parse::<Role>().is_err());
    assert!("delete".parse::<Right>().is_err());
    assert!(Owner.is_parent() && Adult.is_parent() && !Child.is_parent() && !Guest.is_parent());
}

/// The shapes the UI reads.
#[test]
fn json_shapes() {
    let json = |v: serde_json::Value| v.to_string();
    assert_eq!(json(serde_json::to_value(home()).unwrap()), r#"{"kind":"home"}"#);
    assert_eq!(json(serde_json::to_value(room(4)).unwrap()), r#"{"id":4,"kind":"room"}"#);
    assert_eq!(json(serde_json::to_value(device(1)).unwrap()), r#"{"id":"d-000000000001","kind":"device"}"#);
    assert_eq!(json(serde_json::to_value(granted(7, ROOM)).unwrap()), r#"{"grant":7,"kind":"granted","level":"room"}"#);
    assert_eq!(json(serde_json::to_value(B::NotGranted).unwrap()), r#"{"kind":"not_granted"}"#);
    let grant = allow(3, Configure, room(2)).ends(LATER).when(vec![friday_night()]);
    let back: Grant = serde_json::from_str(&serde_json::to_string(&grant).unwrap()).unwrap();
    assert_eq!(back, grant);
}

#[test]
fn every_reason_reads_differently() {
    let all = [
        B::Owner,
        B::AdultEverywhere,
        B::Household,
        granted(1, DEV),
        granted(1, ROOM),
        denied(1, HOME),
        B::NotGranted,
        B::ChildNeverConfigures,
        B::GuestNeverReviews,
        B::GuestGrantWithoutExpiry,
        B::SensitiveNeedsDeviceGrant,
        B::OwnDevice,
        B::ParentOfChild,
        B::SharedByItsMember { grant: 1 },
        B::PersonalDevice,
        B::HomeRightsNeedAGrant,
    ];
    let sentences: std::collections::HashSet<String> = all.iter().map(Because::plain).collect();
    assert_eq!(sentences.len(), all.len());
    assert_eq!(granted(12, ROOM).plain(), "Allowed by grant #12 on its room.");
}
