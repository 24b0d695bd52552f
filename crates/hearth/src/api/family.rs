//! The household's commands: who is asking (`me`), members, invitations, passwords, rooms,
//! personal devices and grants. What each needs is declared in `commands.rs`; these methods
//! only carry it out (and filter what a member is shown).

use super::limits;
use super::{now, parse_id};
use crate::api::types::{ApiError, Device, ErrorCode, Event};
use crate::family::{Caller, clock, passwords};
use crate::hub::Hub;
use hearth_core::device::FOUNDING_OWNER;
use hearth_core::family::{Effect, Grant, Right, Role, RoomId, Schedule, Target};
use hearth_store::family::StoredMember;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A member's or a room's name: short, printable.
const NAME_CHARS: usize = 64;
/// How long an invitation may be good for: from an hour to a month.
const MAX_INVITATION_HOURS: u32 = 24 * 30;

/// A member as the household sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MemberView {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub has_password: bool,
    /// The person asking.
    pub you: bool,
    /// The hub's own owner (the person at its machine): cannot be removed or demoted.
    pub founding: bool,
}

/// Who is asking, and what they may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Me {
    pub member: MemberView,
    /// What they may do on each device they may view.
    pub devices: Vec<DeviceRights>,
    /// Whether they may change the home's settings (add devices, rooms, the network page).
    pub configure_home: bool,
    /// The home's time zone, in which schedules are read.
    pub time_zone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DeviceRights {
    pub id: hearth_core::device::DeviceId,
    pub control: bool,
    pub review: bool,
    pub configure: bool,
}

/// A one-use sign-in link for a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Invitation {
    pub member: String,
    /// `/invite?code=...` on this hub: the page adds its own address (and shows a QR code).
    pub path: String,
    #[ts(type = "number")]
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RoomView {
    #[ts(type = "number")]
    pub id: RoomId,
    pub name: String,
    /// Devices in it that the member may see.
    pub devices: u32,
}

/// A grant as asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct GrantRequest {
    pub member: String,
    pub right: Right,
    pub target: Target,
    pub effect: Effect,
    pub schedule: Option<Schedule>,
    /// Ms since the epoch; required for a guest.
    #[ts(type = "number | null")]
    pub expires_at: Option<i64>,
}

/// A grant as shown: with the names of who and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct GrantView {
    pub grant: Grant,
    pub member_name: String,
    /// "Kitchen lamp", "the Kitchen", "the whole home".
    pub target_name: String,
    /// Expired (kept until removed, so a person sees what ended).
    pub expired: bool,
}

impl Hub {
    pub fn me(&self, caller: &Caller) -> Result<Me, ApiError> {
        let member = self.current_member(caller)?;
        let devices = self.store().devices()?;
        let rights = devices
            .iter()
            .filter(|d| self.may(caller, Right::View, &d.id))
            .map(|d| DeviceRights {
                id: d.id.clone(),
                control: self.may(caller, Right::Control, &d.id),
                review: self.may(caller, Right::Review, &d.id),
                configure: self.may(caller, Right::Configure, &d.id),
            })
            .collect();
        let configure_home = self.household().authorize(&caller.member, Right::Configure, None, now()).is_some_and(|a| a.allowed);
        Ok(Me { member: view(&member, caller), devices: rights, configure_home, time_zone: clock::zone_name() })
    }

    /// The devices the member may view.
    pub fn list_devices(&self, caller: &Caller) -> Result<Vec<Device>, ApiError> {
        let devices = self.store().devices()?;
        Ok(self.live_all(devices.into_iter().filter(|d| self.may(caller, Right::View, &d.id)).collect()))
    }

    /// The household: everyone sees who is in it (names and roles), never their passwords.
    pub fn members(&self, caller: &Caller) -> Result<Vec<MemberView>, ApiError> {
        let members = self.store().members()?;
        Ok(members.iter().filter(|m| m.removed_at.is_none()).map(|m| view(m, caller)).collect())
    }

    pub fn add_member(&self, name: &str, role: Role, caller: &Caller) -> Result<MemberView, ApiError> {
        let name = clean_name(name, "a member")?;
        let id = format!("m-{}", crate::random::hex_token(6).map_err(|e| ApiError::internal(format!("{e:#}")))?);
        let mut store = self.store();
        let member = store.add_member(&id, &name, role, &caller.actor(), caller.origin, now())?;
        self.reload_household(&store)?;
        tracing::info!(member = %id, role = role.as_str(), origin = caller.origin, "a member was added");
        Ok(view(&member, caller))
    }

    pub fn change_member(&self, id: &str, name: Option<&str>, role: Option<Role>, caller: &Caller) -> Result<MemberView, ApiError> {
        let mut store = self.store();
        let mut member = store.member(id)?.filter(|m| m.removed_at.is_none()).ok_or_else(|| no_member(id))?;
        if let Some(name) = name {
            member = store.rename_member(id, &clean_name(name, "a member")?, &caller.actor(), caller.origin, now())?;
        }
        if let Some(role) = role
            && role != member.role
        {
            member = store.set_role(id, role, &caller.actor(), caller.origin, now())?;
        }
        self.reload_household(&store)?;
        Ok(view(&member, caller))
    }

    /// Removes a member: their sessions end at once (open pages close), their rights go.
    pub fn remove_member(&self, id: &str, caller: &Caller) -> Result<(), ApiError> {
        let mut store = self.store();
        store.member(id)?.filter(|m| m.removed_at.is_none()).ok_or_else(|| no_member(id))?;
        let ended = store.remove_member(id, &caller.actor(), caller.origin, now())?;
        self.sessions().forget(&ended);
        self.reload_household(&store)?;
        tracing::info!(member = %id, sessions = ended.len(), origin = caller.origin, "a member was removed");
        Ok(())
    }

    /// A one-use sign-in link for `member`, good for `hours`. Only its hash is kept. Not for a
    /// member who has a password (they sign in with it; a forgotten one is reset first, which
    /// they see), nor for the hub's own owner (`hearth open`): an invitation must never be a way
    /// to become someone who can already sign in.
    pub fn invite(&self, member: &str, hours: u32, caller: &Caller) -> Result<Invitation, ApiError> {
        if !(1..=MAX_INVITATION_HOURS).contains(&hours) {
            return Err(ApiError::bad_request(format!("an invitation is good for 1 to {MAX_INVITATION_HOURS} hours")));
        }
        if member == FOUNDING_OWNER {
            return Err(ApiError::bad_request("the hub's own owner signs in with `hearth open` on the hub, not an invitation"));
        }
        let target = self.store().member(member)?.filter(|m| m.removed_at.is_none()).ok_or_else(|| no_member(member))?;
        if target.has_password {
            return Err(ApiError::bad_request(format!(
                "{} has a password and signs in with it; if it is forgotten, reset it first (they will see that you did)",
                target.name
            )));
        }
        let code = crate::random::hex_token(16).map_err(|e| ApiError::internal(format!("{e:#}")))?;
        let expires_at = now() + i64::from(hours) * 3600 * 1000;
        let mut store = self.store();
        store.add_invitation(&crate::sessions::hash(&code), member, expires_at, &caller.actor(), caller.origin, now())?;
        tracing::info!(member, hours, origin = caller.origin, "an invitation was made");
        Ok(Invitation { member: member.to_owned(), path: format!("/invite?code={code}"), expires_at })
    }

    /// The member an invitation is for, using it up.
    pub fn redeem_invitation(&self, code: &str) -> Result<Option<String>, ApiError> {
        if code.len() > limits::LOGIN_CODE_CHARS {
            return Ok(None);
        }
        Ok(self.store().redeem_invitation(&crate::sessions::hash(code), now())?)
    }

    /// Sets the caller's own password (argon2id; hashed here, on the caller's blocking thread).
    /// Once they have one, the current one is asked for: a browser left signed in must not be
    /// enough to take the account over.
    pub fn set_password(&self, caller: &Caller, current: Option<&str>, password: &str) -> Result<(), ApiError> {
        if let Some(problem) = passwords::problem(password) {
            return Err(ApiError::bad_request(problem));
        }
        // The same limits as signing in, before any hashing: a browser left signed in must not
        // be a way to guess the password, nor to keep two cores hashing.
        let from = caller.from.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        if self.password_limits().over(from, Some(&caller.member), std::time::Instant::now()) {
            return Err(ApiError::new(ErrorCode::TooManyRequests, "too many wrong passwords; wait a minute"));
        }
        let _hashing = self
            .hashing()
            .try_acquire()
            .map_err(|_| ApiError::new(ErrorCode::Unavailable, "the hub is busy checking passwords; try again in a moment"))?;
        let stored = self.store().password_hash(&caller.member)?;
        if stored.is_some() && !passwords::verify(stored.as_deref(), current.unwrap_or("")) {
            self.password_limits().failure(from, Some(&caller.member), std::time::Instant::now());
            return Err(ApiError::new(ErrorCode::Forbidden, "your current password is not right"));
        }
        let hashed = passwords::hash(password).map_err(|e| ApiError::internal(format!("{e:#}")))?;
        self.store().set_password_hash(&caller.member, &hashed, &caller.actor(), caller.origin, now())?;
        self.reload_household(&self.store())?;
        Ok(())
    }

    /// The member a name and password belong to, or `None`; wrong guesses are limited per
    /// address and per member before any hashing (see `family::passwords`).
    pub fn check_password(&self, name: &str, password: &str, from: std::net::IpAddr) -> Result<Option<String>, ApiError> {
        let name = limits::cut(name.trim(), NAME_CHARS);
        let member = self.store().member_named(&name)?;
        let started = std::time::Instant::now();
        if self.password_limits().over(from, member.as_ref().map(|m| m.id.as_str()), started) {
            return Err(ApiError::new(
                ErrorCode::TooManyRequests,
                "too many wrong passwords; wait a minute (the hub's owner can always sign in with `hearth open` on the hub)",
            ));
        }
        let stored = match &member {
            Some(m) => self.store().password_hash(&m.id)?,
            None => None,
        };
        if password.chars().count() <= passwords::MAX_CHARS && passwords::verify(stored.as_deref(), password) {
            return Ok(member.map(|m| m.id));
        }
        self.password_limits().failure(from, member.as_ref().map(|m| m.id.as_str()), std::time::Instant::now());
        if let Some(m) = &member {
            // Whoever typed it is not known to be the member: the row is Hearth's, from that
            // address, and concerns the member, who sees it in their audit.
            let actor = hearth_core::device::Actor::Member { id: "hearth".into(), from: Some(from.to_canonical().to_string()) };
            // Once a minute per member and address: where the guesses come from is what she needs.
            // Its own bucket: guesses at a member's name must not use up that member's own rows.
            let bucket = format!("wrong_password:{}", m.id);
            if self.audit_throttle().allows(&bucket, "wrong_password", &from.to_canonical().to_string(), true) {
                self.store().record_audit_about(now(), &actor, "web", "wrong_password", &m.id, true, Some(&m.id))?;
            }
        }
        Ok(None)
    }

    /// Clears a member's forgotten password: they sign in with a new invitation. They see it in
    /// their audit.
    pub fn reset_password(&self, member: &str, caller: &Caller) -> Result<(), ApiError> {
        if member == FOUNDING_OWNER {
            return Err(ApiError::bad_request(
                "the hub's own owner signs in with `hearth open` on the hub; their password is theirs to change",
            ));
        }
        let mut store = self.store();
        let ended = store.clear_password(member, &caller.actor(), caller.origin, now())?;
        // A reset is often for a lost or shared device: its sessions must not outlive the
        // password (a session could otherwise choose the next one).
        self.sessions().forget(&ended);
        self.reload_household(&store)
    }

    /// Takes back a share of the caller's own device.
    pub fn unshare(&self, id: &str, with: &str, caller: &Caller) -> Result<(), ApiError> {
        let device = parse_id(id)?;
        if self.household().personal_owner(&device).as_deref() != Some(caller.member.as_str()) {
            return Err(ApiError::new(ErrorCode::Forbidden, "only a device's own member can take back what they shared"));
        }
        let mut store = self.store();
        if !store.remove_share(&device, &caller.member, with, &caller.actor(), caller.origin, now())? {
            return Err(ApiError::not_found("this device is not shared with that member"));
        }
        self.reload_household(&store)
    }

    /// Shares what the caller's own personal device sends with another member: a review grant on
    /// the device, given by its member (the only grant that opens a personal device to others).
    pub fn share(&self, id: &str, with: &str, hours: Option<u32>, caller: &Caller) -> Result<GrantView, ApiError> {
        let device = parse_id(id)?;
        if self.household().personal_owner(&device).as_deref() != Some(caller.member.as_str()) {
            return Err(ApiError::new(ErrorCode::Forbidden, "only a device's own member can share what it sends"));
        }
        let member = self.store().member(with)?.filter(|m| m.removed_at.is_none()).ok_or_else(|| no_member(with))?;
        let expires_at = hours.map(|h| now() + i64::from(h) * 3600 * 1000);
        if member.role == Role::Guest {
            return Err(ApiError::bad_request(format!("{} is a guest, and guests never see what devices send", member.name)));
        }
        let grant = Grant {
            id: 0,
            member: member.id.clone(),
            right: Right::Review,
            target: Target::Device(device.clone()),
            effect: Effect::Allow,
            schedule: None,
            expires_at,
            granted_by: caller.member.clone(),
        };
        let filed = {
            let mut store = self.store();
            // One share per device and member: sharing again replaces it (a new end), and cannot
            // fill the other member's grants. Memory follows the store whatever happens next.
            store.remove_share(&device, &caller.member, &member.id, &caller.actor(), caller.origin, now())?;
            let filed = store.add_grant(&grant, &caller.actor(), caller.origin, now());
            self.reload_household(&store)?;
            filed?
        };
        let owner = Caller { member: FOUNDING_OWNER.to_owned(), ..caller.clone() };
        self.grants(&owner, Some(&member.id))?
            .into_iter()
            .find(|g| g.grant.id == filed.id)
            .ok_or_else(|| ApiError::internal("a grant just filed is missing"))
    }

    pub fn rooms(&self, caller: &Caller) -> Result<Vec<RoomView>, ApiError> {
        let (rooms, devices) = {
            let store = self.store();
            (store.rooms()?, store.devices()?)
        };
        Ok(rooms
            .into_iter()
            .map(|r| {
                let n = devices.iter().filter(|d| d.room == Some(r.id) && self.may(caller, Right::View, &d.id)).count();
                RoomView { id: r.id, name: r.name, devices: u32::try_from(n).unwrap_or(u32::MAX) }
            })
            .collect())
    }

    pub fn add_room(&self, name: &str, caller: &Caller) -> Result<RoomView, ApiError> {
        let name = clean_name(name, "a room")?;
        let mut store = self.store();
        let room = store.add_room(&name, &caller.actor(), caller.origin, now())?;
        self.reload_household(&store)?;
        Ok(RoomView { id: room.id, name: room.name, devices: 0 })
    }

    pub fn rename_room(&self, id: &str, name: &str, caller: &Caller) -> Result<RoomView, ApiError> {
        let id = parse_number(id, "room")?;
        let name = clean_name(name, "a room")?;
        let mut store = self.store();
        let room = store.rename_room(id, &name, &caller.actor(), caller.origin, now())?;
        self.reload_household(&store)?;
        let devices = store.devices()?.iter().filter(|d| d.room == Some(id)).count();
        Ok(RoomView { id: room.id, name: room.name, devices: u32::try_from(devices).unwrap_or(u32::MAX) })
    }

    pub fn remove_room(&self, id: &str, caller: &Caller) -> Result<(), ApiError> {
        let id = parse_number(id, "room")?;
        let mut store = self.store();
        store.remove_room(id, &caller.actor(), caller.origin, now())?;
        self.reload_household(&store)
    }

    pub fn set_room(&self, id: &str, room: Option<RoomId>, caller: &Caller) -> Result<Device, ApiError> {
        let id = parse_id(id)?;
        let mut store = self.store();
        store.set_device_room(&id, room, &caller.actor(), caller.origin, now())?;
        self.reload_household(&store)?;
        let device = store.device(&id)?.device;
        self.publish(Event::DeviceChanged { device: device.clone() });
        Ok(self.live(device))
    }

    /// Marks a household device as a member's (an owner), or gives a personal device back to
    /// the household (its own member only). Nobody else moves a personal device: what it sent is
    /// its member's, and re-marking it would hand that to someone else.
    pub fn set_personal(&self, id: &str, member: Option<&str>, caller: &Caller) -> Result<Device, ApiError> {
        let id = parse_id(id)?;
        match self.household().personal_owner(&id) {
            Some(theirs) if theirs == caller.member && member.is_none() => {}
            Some(theirs) if theirs == caller.member => {
                return Err(ApiError::bad_request("give it back to the household first; an owner then marks it as someone else's"));
            }
            Some(theirs) => {
                let name = self.household().member_name(&theirs).unwrap_or(theirs);
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    format!("this is {name}'s device: only {name} can give it back to the household"),
                ));
            }
            None if self.household().member(&caller.member).is_some_and(|m| m.role == Role::Owner) => {}
            None => return Err(ApiError::new(ErrorCode::Forbidden, "only an owner marks a household device as someone's")),
        }
        let mut store = self.store();
        store.set_device_member(&id, member, &caller.actor(), caller.origin, now())?;
        self.reload_household(&store)?;
        let device = store.device(&id)?.device;
        self.publish(Event::DeviceChanged { device: device.clone() });
        Ok(self.live(device))
    }

    /// Grants: an owner sees everyone's (or one member's); others see their own.
    pub fn grants(&self, caller: &Caller, member: Option<&str>) -> Result<Vec<GrantView>, ApiError> {
        let owner = self.current_member(caller)?.role == Role::Owner;
        let (grants, rooms, devices) = {
            let store = self.store();
            (store.grants()?, store.rooms()?, store.devices()?)
        };
        let at = now();
        Ok(grants
            .into_iter()
            // A member sees their own rights and the shares they gave.
            .filter(
                |g| if owner { member.is_none_or(|m| g.member == m) } else { g.member == caller.member || g.granted_by == caller.member },
            )
            .map(|g| {
                let target_name = match &g.target {
                    Target::Home => "the whole home".to_owned(),
                    Target::Room(r) => {
                        rooms.iter().find(|room| room.id == *r).map_or_else(|| format!("room {r}"), |room| room.name.clone())
                    }
                    Target::Device(d) => devices.iter().find(|dev| dev.id == *d).map_or_else(|| d.to_string(), |dev| dev.name.clone()),
                };
                GrantView {
                    member_name: self.household().member_name(&g.member).unwrap_or_else(|| g.member.clone()),
                    target_name,
                    expired: g.expires_at.is_some_and(|e| e <= at),
                    grant: g,
                }
            })
            .collect())
    }

    pub fn add_grant(&self, request: &GrantRequest, caller: &Caller) -> Result<GrantView, ApiError> {
        let member = self.store().member(&request.member)?.filter(|m| m.removed_at.is_none()).ok_or_else(|| no_member(&request.member))?;
        if let Some(schedule) = &request.schedule {
            schedule.validate().map_err(|e| ApiError::bad_request(e.to_string()))?;
        }
        if member.role == Role::Guest && request.expires_at.is_none() {
            return Err(ApiError::bad_request("a guest's rights always end: choose when this one does"));
        }
        if member.role == Role::Owner {
            return Err(ApiError::bad_request("an owner may already do everything; grants do not apply to owners"));
        }
        if request.expires_at.is_some_and(|e| e <= now()) {
            return Err(ApiError::bad_request("this grant would have ended already; choose a time in the future"));
        }
        if let (Right::Review, Effect::Allow, Target::Device(device)) = (request.right, request.effect, &request.target)
            && let Some(theirs) = self.household().personal_owner(device)
            && theirs != request.member
        {
            // It would be stored and shown yet never hold: a personal device opens to others
            // only when its own member shares it.
            let name = self.household().member_name(&theirs).unwrap_or(theirs);
            return Err(ApiError::bad_request(format!("only {name} can share what their own device sends")));
        }
        let grant = Grant {
            id: 0,
            member: request.member.clone(),
            right: request.right,
            target: request.target.clone(),
            effect: request.effect,
            schedule: request.schedule.clone(),
            expires_at: request.expires_at,
            granted_by: caller.member.clone(),
        };
        let mut store = self.store();
        let filed = store.add_grant(&grant, &caller.actor(), caller.origin, now())?;
        self.reload_household(&store)?;
        drop(store);
        self.grants(caller, Some(&request.member))?
            .into_iter()
            .find(|g| g.grant.id == filed.id)
            .ok_or_else(|| ApiError::internal("a grant just filed is missing"))
    }

    /// Revokes a grant: it holds no longer from the moment this returns, and the member's open
    /// pages reload what they may see.
    pub fn remove_grant(&self, id: &str, caller: &Caller) -> Result<(), ApiError> {
        let id = parse_number(id, "grant")?;
        let mut store = self.store();
        if store.remove_grant(id, &caller.actor(), caller.origin, now())?.is_none() {
            return Err(ApiError::not_found(format!(
                "there is no grant {id} (it was taken back already?); the Household page and `hearth member grants` list them"
            )));
        }
        self.reload_household(&store)
    }

    fn current_member(&self, caller: &Caller) -> Result<StoredMember, ApiError> {
        self.household()
            .member(&caller.member)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "this member is no longer in the home"))
    }
}

fn view(m: &StoredMember, caller: &Caller) -> MemberView {
    MemberView {
        id: m.id.clone(),
        name: m.name.clone(),
        role: m.role,
        has_password: m.has_password,
        you: m.id == caller.member,
        founding: m.id == FOUNDING_OWNER,
    }
}

fn no_member(id: &str) -> ApiError {
    ApiError::not_found(format!("there is no member {} in this home (any more)", limits::quoted(id)))
}

fn clean_name(name: &str, what: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!("the name of {what} is 1 to {NAME_CHARS} printable characters")));
    }
    Ok(name.to_owned())
}

fn parse_number(s: &str, what: &str) -> Result<i64, ApiError> {
    s.trim().parse().map_err(|_| ApiError::bad_request(format!("`{}` is not a {what} number", limits::quoted(s))))
}
