//! The household as the hub checks it: who is asking ([`Caller`]), the members, grants, rooms
//! and personal devices in memory ([`Household`]), and [`Hub::check`], the one place every
//! request is authorized (through `hearth_core::family::authorize`, which decides; this module
//! only gathers the facts and records what was refused or looked at).
//!
//! - [`passwords`]: argon2id hashing on a blocking thread, and the wrong-password limits.
//! - [`clock`]: now, as the home's clock reads it (weekday and minute, for schedules).
//!
//! The household is reloaded from the store after every change a person makes, under the store's
//! lock, so a revoked grant holds from the moment the call returns.

pub mod clock;
pub mod passwords;

use crate::api::types::{ApiError, ErrorCode, Event};
use crate::hub::Hub;
use hearth_core::device::{Actor, DeviceId, FOUNDING_OWNER};
use hearth_core::family::{self, Authorization, DeviceFacts, Grant, Member, MemberId, PersonalOwner, Right, Role, RoomId, Subject};
use hearth_core::fingerprint::Kind;
use hearth_store::family::{FamilySnapshot, StoredMember};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::RwLock;

/// Who is asking: a member, through what, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub member: MemberId,
    /// `cli`, `web`, `desktop`.
    pub origin: &'static str,
    pub from: Option<IpAddr>,
    /// The browser session the request came with, if any.
    pub session: Option<hearth_store::SessionId>,
}

impl Caller {
    /// The person at the hub's own machine: the owner token (`hearth` CLI), the desktop window.
    pub fn local_owner(origin: &'static str) -> Self {
        Self { member: FOUNDING_OWNER.to_owned(), origin, from: None, session: None }
    }

    pub fn actor(&self) -> Actor {
        Actor::member(&self.member, self.from.map(|a| a.to_canonical().to_string()))
    }
}

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Any signed-in member (their own sessions, password, the status line).
    Member,
    /// A right on the whole home.
    Home(Right),
    /// A right on one device (the id as the request spelled it).
    Device(Right, String),
    /// An owner: managing people, rooms' existence, and rights.
    Owner,
}

/// Refusals and looks written at most once a minute per member, action and subject: a member
/// looping on a forbidden request (or reloading a page about a child's device) writes one row a
/// minute, not thousands, so the household's history is never pushed out. Bounded: at most
/// [`THROTTLE_KEYS`] keys; a full table forgets what is older than a minute, and past that the
/// row is written anyway (the store bounds refusals on its own too).
#[derive(Debug, Default)]
pub struct AuditThrottle {
    last: std::sync::Mutex<HashMap<(String, String, String), std::time::Instant>>,
    /// Rows written per member this minute, whatever the subject: made-up subjects (random device
    /// ids) must not each buy a row.
    per_member: std::sync::Mutex<HashMap<String, (std::time::Instant, u32)>>,
}

const THROTTLE_KEYS: usize = 4096;
/// Refusals and looks one member writes a minute at most.
const ROWS_PER_MEMBER_MINUTE: u32 = 30;

impl AuditThrottle {
    /// Whether a row for this member, action and subject should be written now: once a minute
    /// per key, and (when `capped`) at most [`ROWS_PER_MEMBER_MINUTE`] a minute for the member.
    /// Looks are not capped: a look must never go unrecorded because of other rows.
    pub fn allows(&self, member: &str, action: &str, subject: &str, capped: bool) -> bool {
        let now = std::time::Instant::now();
        let minute = std::time::Duration::from_secs(60);
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let key = (member.to_owned(), action.to_owned(), subject.to_owned());
        if last.get(&key).is_some_and(|at| now.duration_since(*at) < minute) {
            return false;
        }
        if last.len() >= THROTTLE_KEYS {
            last.retain(|_, at| now.duration_since(*at) < minute);
        }
        if last.len() < THROTTLE_KEYS {
            last.insert(key, now);
        }
        drop(last);
        !capped || self.count(member, ROWS_PER_MEMBER_MINUTE)
    }

    /// Counts one event for `key` this minute; whether it is within `limit`.
    pub fn count(&self, key: &str, limit: u32) -> bool {
        let now = std::time::Instant::now();
        let minute = std::time::Duration::from_secs(60);
        let mut per_member = self.per_member.lock().unwrap_or_else(|p| p.into_inner());
        if per_member.len() >= THROTTLE_KEYS {
            per_member.retain(|_, (at, _)| now.duration_since(*at) < minute);
        }
        let count = per_member.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(count.0) >= minute {
            *count = (now, 0);
        }
        count.1 = count.1.saturating_add(1);
        count.1 <= limit
    }
}

/// The household in memory.
#[derive(Debug, Default)]
pub struct Household {
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    members: HashMap<MemberId, StoredMember>,
    grants: HashMap<MemberId, Vec<Grant>>,
    rooms: HashMap<DeviceId, RoomId>,
    personal: HashMap<DeviceId, MemberId>,
    /// Devices whose kind or entities make them sensitive (locks, garage doors, alarms,
    /// cameras): a child or a guest needs a grant on the device itself.
    sensitive: HashSet<DeviceId>,
}

impl Household {
    /// Replaces what is known of members, grants, rooms and personal devices.
    pub fn load(&self, snapshot: FamilySnapshot) {
        let mut grants: HashMap<MemberId, Vec<Grant>> = HashMap::new();
        for grant in snapshot.grants {
            grants.entry(grant.member.clone()).or_default().push(grant);
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.members = snapshot.members.into_iter().map(|m| (m.id.clone(), m)).collect();
        state.grants = grants;
        state.rooms = snapshot.device_rooms.into_iter().collect();
        state.personal = snapshot.device_members.into_iter().collect();
    }

    /// Which devices are sensitive, from their kinds and the entities their discovery describes.
    pub fn load_sensitive(&self, sensitive: HashSet<DeviceId>) {
        self.state.write().unwrap_or_else(|p| p.into_inner()).sensitive = sensitive;
    }

    /// Notes a device's kind as it changes (discovery recognised it anew).
    /// Called on every device event: the lock is taken only for a sensitive kind.
    pub fn note_kind(&self, id: &DeviceId, kind: Kind) {
        if family::is_sensitive(kind, &[], &[]) {
            self.note_sensitive(id);
        }
    }

    /// Marks a device sensitive (its discovery just described a lock, an alarm, a garage door).
    pub fn note_sensitive(&self, id: &DeviceId) {
        self.state.write().unwrap_or_else(|p| p.into_inner()).sensitive.insert(id.clone());
    }

    pub fn member(&self, id: &str) -> Option<StoredMember> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).members.get(id).filter(|m| m.removed_at.is_none()).cloned()
    }

    pub fn member_name(&self, id: &str) -> Option<String> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).members.get(id).map(|m| m.name.clone())
    }

    pub fn personal_owner(&self, id: &DeviceId) -> Option<MemberId> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).personal.get(id).cloned()
    }

    /// Which grants hold at `at` (their ids, in order): it changes when one ends or a schedule
    /// window opens or closes.
    pub fn holding(&self, at: i64) -> Vec<i64> {
        let now = clock::moment(at);
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let mut ids: Vec<i64> = state.grants.values().flatten().filter(|g| g.applies_at(&now)).map(|g| g.id).collect();
        ids.sort_unstable();
        ids
    }

    /// The decision for one member, right and subject, now.
    pub fn authorize(&self, member: &str, right: Right, device: Option<&DeviceId>, at: i64) -> Option<Authorization> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let stored = state.members.get(member).filter(|m| m.removed_at.is_none())?;
        let who = Member { id: stored.id.clone(), role: stored.role };
        let grants = state.grants.get(member).map_or(&[][..], Vec::as_slice);
        let now = clock::moment(at);
        Some(match device {
            None => family::authorize(&who, grants, right, Subject::Home, &now),
            Some(id) => {
                let facts = DeviceFacts {
                    id: id.clone(),
                    room: state.rooms.get(id).copied(),
                    sensitive: state.sensitive.contains(id),
                    personal: state
                        .personal
                        .get(id)
                        .and_then(|m| state.members.get(m).map(|owner| PersonalOwner { member: owner.id.clone(), role: owner.role })),
                };
                family::authorize(&who, grants, right, Subject::Device(&facts), &now)
            }
        })
    }
}

impl Hub {
    /// The one check before every request: `Ok` when `caller` may do what `need` says;
    /// otherwise the refusal is in the audit (who, what, from where) and the answer says why in
    /// plain words. A look at another member's personal device is recorded too, so that it is
    /// never silent: that member sees it in their audit.
    pub fn check(&self, caller: &Caller, need: &Need, action: &str) -> Result<(), ApiError> {
        let now = crate::api::now();
        let Some(member) = self.household().member(&caller.member) else {
            return Err(ApiError::new(ErrorCode::Unauthorized, "this member is no longer in the home; sign in again"));
        };
        let (allowed, why, device, looked) = match need {
            Need::Member => (true, String::new(), None, false),
            Need::Owner => (member.role == Role::Owner, "only an owner manages the household's people and rights".to_owned(), None, false),
            Need::Home(right) => {
                let decided = self.household().authorize(&member.id, *right, None, now);
                let decided = decided.unwrap_or(Authorization {
                    allowed: false,
                    because: family::Because::NotGranted,
                    looks_at_another_members_data: false,
                });
                (decided.allowed, decided.because.plain(), None, false)
            }
            Need::Device(right, id) => {
                let id = crate::api::parse_id(id)?;
                let decided = self.household().authorize(&member.id, *right, Some(&id), now);
                let decided = decided.unwrap_or(Authorization {
                    allowed: false,
                    because: family::Because::NotGranted,
                    looks_at_another_members_data: false,
                });
                (decided.allowed, decided.because.plain(), Some(id), decided.looks_at_another_members_data)
            }
        };
        let subject = device.as_ref().map_or_else(|| "home".to_owned(), |d| d.as_str().to_owned());
        if !allowed {
            if self.audit_throttle().allows(&caller.member, action, &subject, true)
                && let Err(e) = self.store().record_audit(now, &caller.actor(), caller.origin, action, &subject, true)
            {
                tracing::warn!("cannot record a refused request in the audit: {e}");
            }
            tracing::info!(member = %caller.member, action, subject, "a request was refused");
            return Err(ApiError::new(ErrorCode::Forbidden, format!("{}: {why}", refused_words(action))));
        }
        if looked && self.audit_throttle().allows(&caller.member, &format!("look:{action}"), &subject, false) {
            self.store().record_audit(now, &caller.actor(), caller.origin, &format!("look:{action}"), &subject, false)?;
        }
        Ok(())
    }

    /// Whether `caller` may do `right` on the device (for filtering lists and live events).
    pub fn may(&self, caller: &Caller, right: Right, id: &DeviceId) -> bool {
        self.household().authorize(&caller.member, right, Some(id), crate::api::now()).is_some_and(|a| a.allowed)
    }

    /// Reloads the household from the store (call with its lock held) and tells every open
    /// page that rights changed, so that a revoked right empties a member's view at once.
    pub(crate) fn reload_household(&self, store: &hearth_store::Store) -> Result<(), ApiError> {
        self.household().load(store.family()?);
        self.publish(Event::RightsChanged);
        Ok(())
    }
}

/// How often the hub looks for grants that ended or schedule windows that opened or closed.
const GRANT_EDGE_CHECK: std::time::Duration = std::time::Duration::from_secs(15);

/// Tells open pages to reload when what grants hold changes by the clock alone (a grant's end, a
/// schedule window), as a revoke does: a member's view follows within 15 s, and every request and
/// event is checked at its own moment meanwhile.
pub async fn watch_grant_edges(hub: Hub, cancel: tokio_util::sync::CancellationToken) {
    let mut holding = hub.household().holding(crate::api::now());
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(GRANT_EDGE_CHECK) => {}
        }
        let now_holding = hub.household().holding(crate::api::now());
        if now_holding != holding {
            holding = now_holding;
            hub.publish(Event::RightsChanged);
        }
    }
}

/// "You may not approve this device" in a few words per action.
fn refused_words(action: &str) -> String {
    format!("not allowed ({})", action.replace('_', " "))
}

/// Which devices are sensitive, from the inventory's kinds and the described entities.
pub fn sensitive_devices(store: &hearth_store::Store) -> Result<HashSet<DeviceId>, hearth_store::StoreError> {
    let mut out: HashSet<DeviceId> =
        store.devices()?.into_iter().filter(|d| family::is_sensitive(d.kind, &[], &[])).map(|d| d.id).collect();
    for (device, components, classes) in store.entity_kinds()? {
        let components: Vec<&str> = components.iter().map(String::as_str).collect();
        let classes: Vec<&str> = classes.iter().map(String::as_str).collect();
        if family::is_sensitive(Kind::Unknown, &components, &classes) {
            out.insert(device);
        }
    }
    Ok(out)
}
