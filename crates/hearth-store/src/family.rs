//! The household: members and their password hashes, one-use invitations, rooms, which room a
//! device is in, whose personal device it is, and grants. The hub keeps a snapshot of it in
//! memory ([`FamilySnapshot`]) for its checks and writes every change here first.
//!
//! Every change is written with its audit row in one transaction. The store refuses what would
//! lock the household out: removing or demoting the last owner, or the founding owner (the
//! person at the hub's own machine, who can always recover).

use crate::audit::write as audit;
use crate::inventory::corrupt;
use crate::{Store, StoreError};
use hearth_core::device::{Actor, DeviceId, FOUNDING_OWNER};
use hearth_core::family::{Effect, Grant, MemberId, Right, Role, RoomId, Schedule, Target};
use hearth_core::inventory::Millis;
use rusqlite::{OptionalExtension, params};

/// Current members at most (removed ones stay on file, as the audit names them).
pub const MAX_MEMBERS: i64 = 200;
/// Rooms at most.
pub const MAX_ROOMS: i64 = 200;
/// Grants per member at most.
pub const MAX_GRANTS_PER_MEMBER: i64 = 500;
/// Open invitations per member: a new one beyond this replaces the oldest.
pub const MAX_INVITATIONS_PER_MEMBER: i64 = 5;

/// A member as stored (never the password hash: see [`Store::password_hash`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMember {
    pub id: MemberId,
    pub name: String,
    pub role: Role,
    pub has_password: bool,
    pub created_at: Millis,
    pub removed_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub id: RoomId,
    pub name: String,
}

/// What the hub keeps in memory to authorize requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FamilySnapshot {
    /// Every member, removed ones included (marked).
    pub members: Vec<StoredMember>,
    pub rooms: Vec<Room>,
    pub grants: Vec<Grant>,
    /// (device, room)
    pub device_rooms: Vec<(DeviceId, RoomId)>,
    /// (device, member whose personal device it is)
    pub device_members: Vec<(DeviceId, MemberId)>,
}

const MEMBER_COLUMNS: &str = "id, name, role, password_hash IS NOT NULL, created_at, removed_at";

fn member_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, bool, Millis, Option<Millis>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

fn member_of(row: (String, String, String, bool, Millis, Option<Millis>)) -> Result<StoredMember, StoreError> {
    let (id, name, role, has_password, created_at, removed_at) = row;
    Ok(StoredMember { id, name, role: role.parse().map_err(corrupt)?, has_password, created_at, removed_at })
}

impl Store {
    /// Every member, removed ones too (the audit names them), the founding owner first.
    pub fn members(&self) -> Result<Vec<StoredMember>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("SELECT {MEMBER_COLUMNS} FROM members ORDER BY id != 'owner', created_at, id"))?;
        let rows = stmt.query_map([], member_row)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(member_of).collect()
    }

    pub fn member(&self, id: &str) -> Result<Option<StoredMember>, StoreError> {
        let row = self.conn.query_row(&format!("SELECT {MEMBER_COLUMNS} FROM members WHERE id = ?1"), [id], member_row).optional()?;
        row.map(member_of).transpose()
    }

    /// A current member by name (names are unique among current members, whatever their case).
    pub fn member_named(&self, name: &str) -> Result<Option<StoredMember>, StoreError> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE name = ?1 COLLATE NOCASE AND removed_at IS NULL"),
                [name],
                member_row,
            )
            .optional()?;
        row.map(member_of).transpose()
    }

    pub fn add_member(
        &mut self,
        id: &str,
        name: &str,
        role: Role,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<StoredMember, StoreError> {
        let tx = self.conn.transaction()?;
        let count: i64 = tx.query_row("SELECT count(*) FROM members WHERE removed_at IS NULL", [], |r| r.get(0))?;
        if count >= MAX_MEMBERS {
            return Err(StoreError::TooMany(format!("{MAX_MEMBERS} members in one home")));
        }
        name_is_free(&tx, name, None)?;
        tx.execute(
            "INSERT INTO members (id, name, role, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, name, role.as_str(), now, actor.as_str()],
        )?;
        audit(&tx, now, actor, origin, "add_member", &format!("{id} {} {name}", role.as_str()))?;
        tx.commit()?;
        self.member(id)?.ok_or_else(|| corrupt("a member just added is missing"))
    }

    pub fn rename_member(&mut self, id: &str, name: &str, actor: &Actor, origin: &str, now: Millis) -> Result<StoredMember, StoreError> {
        let tx = self.conn.transaction()?;
        current(&tx, id)?;
        name_is_free(&tx, name, Some(id))?;
        tx.execute("UPDATE members SET name = ?2 WHERE id = ?1", params![id, name])?;
        audit(&tx, now, actor, origin, "rename_member", &format!("{id} {name}"))?;
        tx.commit()?;
        self.member(id)?.ok_or_else(|| corrupt("a member just renamed is missing"))
    }

    /// Changes a member's role; the founding owner and the last owner keep theirs.
    pub fn set_role(&mut self, id: &str, role: Role, actor: &Actor, origin: &str, now: Millis) -> Result<StoredMember, StoreError> {
        let tx = self.conn.transaction()?;
        let was = current(&tx, id)?;
        if was == Role::Owner && role != Role::Owner {
            keeps_an_owner(&tx, id, "demoted")?;
        }
        tx.execute("UPDATE members SET role = ?2 WHERE id = ?1", params![id, role.as_str()])?;
        if role == Role::Guest {
            // A guest's rights always end: grants without an expiry would be ignored anyway, and
            // keeping them would make the member page say what is not so.
            tx.execute("DELETE FROM grants WHERE member_id = ?1 AND expires_at IS NULL AND effect = 'allow'", [id])?;
        }
        audit(&tx, now, actor, origin, "set_role", &format!("{id} {}", role.as_str()))?;
        tx.commit()?;
        self.member(id)?.ok_or_else(|| corrupt("a member just changed is missing"))
    }

    /// Removes a member: their grants, invitations and password go, their sessions end; the row
    /// stays, marked removed, so the audit still names them and their personal devices stay
    /// theirs. Returns the sessions ended.
    pub fn remove_member(&mut self, id: &str, actor: &Actor, origin: &str, now: Millis) -> Result<Vec<crate::SessionId>, StoreError> {
        let tx = self.conn.transaction()?;
        if current(&tx, id)? == Role::Owner {
            keeps_an_owner(&tx, id, "removed")?;
        }
        tx.execute("UPDATE members SET removed_at = ?2, password_hash = NULL WHERE id = ?1", params![id, now])?;
        // Their personal devices stay marked as theirs: what those sent was theirs, and does not
        // become the household's to read because they left.
        for table in ["grants", "invitations"] {
            tx.execute(&format!("DELETE FROM {table} WHERE member_id = ?1"), [id])?;
        }
        let ended = crate::sessions::delete_returning(&tx, "DELETE FROM browser_sessions WHERE member = ?1 RETURNING id", params![id])?;
        audit(&tx, now, actor, origin, "remove_member", id)?;
        tx.commit()?;
        Ok(ended)
    }

    /// The member's password hash (an argon2id PHC string), if they chose a password.
    pub fn password_hash(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT password_hash FROM members WHERE id = ?1 AND removed_at IS NULL", [id], |r| r.get(0))
            .optional()?
            .flatten())
    }

    pub fn set_password_hash(&mut self, id: &str, hash: &str, actor: &Actor, origin: &str, now: Millis) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        current(&tx, id)?;
        tx.execute("UPDATE members SET password_hash = ?2 WHERE id = ?1", params![id, hash])?;
        // With a password, the member's open invitations are no way in any more.
        tx.execute("DELETE FROM invitations WHERE member_id = ?1", [id])?;
        audit(&tx, now, actor, origin, "set_password", id)?;
        tx.commit()?;
        Ok(())
    }

    /// Files an invitation (its token's hash only). Beyond [`MAX_INVITATIONS_PER_MEMBER`] open
    /// ones, the oldest goes.
    pub fn add_invitation(
        &mut self,
        token_hash: &str,
        member: &str,
        expires_at: Millis,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        current(&tx, member)?;
        tx.execute("DELETE FROM invitations WHERE expires_at <= ?1", [now])?;
        tx.execute(
            "INSERT INTO invitations (token_hash, member_id, created_at, expires_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![token_hash, member, now, expires_at, actor.as_str()],
        )?;
        tx.execute(
            "DELETE FROM invitations WHERE token_hash IN (
                 SELECT token_hash FROM invitations WHERE member_id = ?1 ORDER BY created_at DESC, token_hash LIMIT -1 OFFSET ?2)",
            params![member, MAX_INVITATIONS_PER_MEMBER],
        )?;
        audit(&tx, now, actor, origin, "invite_member", member)?;
        tx.commit()?;
        Ok(())
    }

    /// Uses up an invitation: the member it was for, if it is known, unexpired and its member
    /// still in the home. Used or not, it is gone afterwards.
    pub fn redeem_invitation(&mut self, token_hash: &str, now: Millis) -> Result<Option<MemberId>, StoreError> {
        let tx = self.conn.transaction()?;
        let found: Option<(String, Millis)> = tx
            .query_row("DELETE FROM invitations WHERE token_hash = ?1 RETURNING member_id, expires_at", [token_hash], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let no_password = |member: &str| -> Result<bool, StoreError> {
            Ok(tx.query_row("SELECT password_hash IS NULL FROM members WHERE id = ?1", [member], |r| r.get(0)).optional()?.unwrap_or(false))
        };
        let member = match found {
            // A member who chose a password signs in with it: a link made before is no way in.
            Some((member, expires_at)) if expires_at > now && current(&tx, &member).is_ok() && no_password(&member)? => Some(member),
            _ => None,
        };
        tx.commit()?;
        Ok(member)
    }

    pub fn add_room(&mut self, name: &str, actor: &Actor, origin: &str, now: Millis) -> Result<Room, StoreError> {
        let tx = self.conn.transaction()?;
        let count: i64 = tx.query_row("SELECT count(*) FROM rooms", [], |r| r.get(0))?;
        if count >= MAX_ROOMS {
            return Err(StoreError::TooMany(format!("{MAX_ROOMS} rooms in one home")));
        }
        let taken: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM rooms WHERE name = ?1 COLLATE NOCASE)", [name], |r| r.get(0))?;
        if taken {
            return Err(StoreError::Invalid(format!("there is already a room called {name}")));
        }
        tx.execute("INSERT INTO rooms (name, created_at) VALUES (?1, ?2)", params![name, now])?;
        let id = tx.last_insert_rowid();
        audit(&tx, now, actor, origin, "add_room", &format!("room:{id} {name}"))?;
        tx.commit()?;
        Ok(Room { id, name: name.to_owned() })
    }

    pub fn rename_room(&mut self, id: RoomId, name: &str, actor: &Actor, origin: &str, now: Millis) -> Result<Room, StoreError> {
        let tx = self.conn.transaction()?;
        let taken: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM rooms WHERE name = ?1 COLLATE NOCASE AND id != ?2)", params![name, id], |r| {
                r.get(0)
            })?;
        if taken {
            return Err(StoreError::Invalid(format!("there is already a room called {name}")));
        }
        if tx.execute("UPDATE rooms SET name = ?2 WHERE id = ?1", params![id, name])? == 0 {
            return Err(StoreError::Invalid(format!("there is no room {id}")));
        }
        audit(&tx, now, actor, origin, "rename_room", &format!("room:{id} {name}"))?;
        tx.commit()?;
        Ok(Room { id, name: name.to_owned() })
    }

    /// Removes a room: its devices are in no room afterwards, and grants on it go.
    pub fn remove_room(&mut self, id: RoomId, actor: &Actor, origin: &str, now: Millis) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        if tx.execute("DELETE FROM rooms WHERE id = ?1", [id])? == 0 {
            return Err(StoreError::Invalid(format!("there is no room {id}")));
        }
        audit(&tx, now, actor, origin, "remove_room", &format!("room:{id}"))?;
        tx.commit()?;
        Ok(())
    }

    pub fn rooms(&self) -> Result<Vec<Room>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT id, name FROM rooms ORDER BY name COLLATE NOCASE, id")?;
        Ok(stmt.query_map([], |r| Ok(Room { id: r.get(0)?, name: r.get(1)? }))?.collect::<Result<_, _>>()?)
    }

    /// Puts a device in a room, or in none.
    pub fn set_device_room(
        &mut self,
        device: &DeviceId,
        room: Option<RoomId>,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        crate::inventory::load_device(&tx, device)?;
        if let Some(room) = room {
            room_exists(&tx, room)?;
        }
        put_or_clear(&tx, "device_rooms", "room_id", device, room.as_ref().map(|r| r as &dyn rusqlite::ToSql))?;
        let shown = room.map_or_else(|| "none".to_owned(), |r| format!("room:{r}"));
        audit(&tx, now, actor, origin, "set_room", &format!("{} {shown}", device.as_str()))?;
        tx.commit()?;
        Ok(())
    }

    /// Clears a member's password (an owner resetting a forgotten one): they sign in again
    /// with a new invitation. Recorded as concerning them.
    /// Its sessions end too (a reset is often for a lost or shared device), returned.
    pub fn clear_password(&mut self, id: &str, actor: &Actor, origin: &str, now: Millis) -> Result<Vec<crate::SessionId>, StoreError> {
        let tx = self.conn.transaction()?;
        current(&tx, id)?;
        tx.execute("UPDATE members SET password_hash = NULL WHERE id = ?1", [id])?;
        let ended = crate::sessions::delete_returning(&tx, "DELETE FROM browser_sessions WHERE member = ?1 RETURNING id", params![id])?;
        crate::audit::write_about(&tx, now, actor, origin, "reset_password", id, false, Some(id))?;
        tx.commit()?;
        Ok(ended)
    }

    /// Takes back what `by` shared of their device with `with` (their review grants on it).
    pub fn remove_share(
        &mut self,
        device: &DeviceId,
        by: &str,
        with: &str,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let removed = tx.execute(
            "DELETE FROM grants WHERE device_id = ?1 AND granted_by = ?2 AND member_id = ?3 AND grant_right = 'review'",
            params![device.as_str(), by, with],
        )? > 0;
        if removed {
            audit(&tx, now, actor, origin, "unshare", &format!("{} {with}", device.as_str()))?;
        }
        tx.commit()?;
        Ok(removed)
    }

    /// Marks a device as a member's personal device, or as the household's.
    pub fn set_device_member(
        &mut self,
        device: &DeviceId,
        member: Option<&str>,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        crate::inventory::load_device(&tx, device)?;
        // Written before the change so that the member it concerned (if any) sees it.
        audit(&tx, now, actor, origin, "set_personal_device", &format!("{} {}", device.as_str(), member.unwrap_or("household")))?;
        // What its member shared of it goes with the mark: a share is theirs to give, not a
        // household grant.
        tx.execute(
            "DELETE FROM grants WHERE device_id = ?1 AND granted_by = (SELECT member_id FROM device_members WHERE device_id = ?1)",
            [device.as_str()],
        )?;
        if let Some(member) = member {
            current(&tx, member)?;
        }
        put_or_clear(&tx, "device_members", "member_id", device, member.as_ref().map(|m| m as &dyn rusqlite::ToSql))?;
        tx.commit()?;
        Ok(())
    }

    /// Files a grant (its id is chosen here); returns it with its id.
    pub fn add_grant(&mut self, grant: &Grant, actor: &Actor, origin: &str, now: Millis) -> Result<Grant, StoreError> {
        let tx = self.conn.transaction()?;
        current(&tx, &grant.member)?;
        let count: i64 = tx.query_row("SELECT count(*) FROM grants WHERE member_id = ?1", [&grant.member], |r| r.get(0))?;
        if count >= MAX_GRANTS_PER_MEMBER {
            return Err(StoreError::TooMany(format!("{MAX_GRANTS_PER_MEMBER} grants for one member")));
        }
        let (room, device) = match &grant.target {
            Target::Home => (None, None),
            Target::Room(room) => (Some(*room), None),
            Target::Device(device) => (None, Some(device.as_str())),
        };
        if let Some(device) = device {
            crate::inventory::load_device(&tx, &DeviceId::parse(device).map_err(|e| StoreError::Invalid(e.to_string()))?)?;
        }
        if let Some(room) = room {
            room_exists(&tx, room)?;
        }
        let schedule = grant.schedule.as_ref().map(serde_json::to_string).transpose().map_err(corrupt)?;
        tx.execute(
            "INSERT INTO grants (member_id, grant_right, effect, room_id, device_id, schedule, expires_at, granted_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                grant.member,
                grant.right.as_str(),
                effect_str(grant.effect),
                room,
                device,
                schedule,
                grant.expires_at,
                actor.as_str(),
                now
            ],
        )?;
        let id = tx.last_insert_rowid();
        let subject = format!("{} {} {} {} {id}", target_word(&grant.target), grant.right.as_str(), effect_str(grant.effect), grant.member);
        audit(&tx, now, actor, origin, "grant", &subject)?;
        tx.commit()?;
        Ok(Grant { id, granted_by: actor.as_str().to_owned(), ..grant.clone() })
    }

    /// Removes a grant; returns it (for the caller's event), or `None` if there was none.
    pub fn remove_grant(&mut self, id: i64, actor: &Actor, origin: &str, now: Millis) -> Result<Option<Grant>, StoreError> {
        let Some(grant) = self.grants()?.into_iter().find(|g| g.id == id) else { return Ok(None) };
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM grants WHERE id = ?1", [id])?;
        let subject = format!("{} {} {} {} {id}", target_word(&grant.target), grant.right.as_str(), effect_str(grant.effect), grant.member);
        audit(&tx, now, actor, origin, "revoke_grant", &subject)?;
        tx.commit()?;
        Ok(Some(grant))
    }

    pub fn grants(&self) -> Result<Vec<Grant>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, member_id, grant_right, effect, room_id, device_id, schedule, expires_at, granted_by FROM grants ORDER BY member_id, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, String>(8)?,
            ))
        })?;
        let mut grants = Vec::new();
        for row in rows {
            let (id, member, right, effect, room, device, schedule, expires_at, granted_by) = row?;
            let target = match (room, device) {
                (_, Some(device)) => Target::Device(DeviceId::parse(&device).map_err(corrupt)?),
                (Some(room), None) => Target::Room(room),
                (None, None) => Target::Home,
            };
            let schedule: Option<Schedule> = schedule.map(|s| serde_json::from_str(&s)).transpose().map_err(corrupt)?;
            grants.push(Grant {
                id,
                member,
                right: right.parse::<Right>().map_err(corrupt)?,
                target,
                effect: match effect.as_str() {
                    "allow" => Effect::Allow,
                    "deny" => Effect::Deny,
                    other => return Err(corrupt(format!("a grant's effect `{other}`"))),
                },
                schedule,
                expires_at,
                granted_by,
            });
        }
        Ok(grants)
    }

    /// Everything the hub's checks need, read at once.
    pub fn family(&self) -> Result<FamilySnapshot, StoreError> {
        let pairs = |sql: &str| -> Result<Vec<(String, String)>, StoreError> {
            let mut stmt = self.conn.prepare(sql)?;
            Ok(stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?)
        };
        let device = |s: String| DeviceId::parse(&s).map_err(corrupt);
        let mut device_rooms = Vec::new();
        let mut stmt = self.conn.prepare("SELECT device_id, room_id FROM device_rooms")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (d, room) = row?;
            device_rooms.push((device(d)?, room));
        }
        let device_members = pairs("SELECT device_id, member_id FROM device_members")?
            .into_iter()
            .map(|(d, m)| Ok((device(d)?, m)))
            .collect::<Result<_, StoreError>>()?;
        Ok(FamilySnapshot { members: self.members()?, rooms: self.rooms()?, grants: self.grants()?, device_rooms, device_members })
    }
}

/// A grant's target as one word of an audit subject: the device's id (so the row is about that
/// device), `room:N`, or `home`.
fn target_word(target: &Target) -> String {
    match target {
        Target::Device(device) => device.as_str().to_owned(),
        Target::Room(room) => format!("room:{room}"),
        Target::Home => "home".to_owned(),
    }
}

fn room_exists(tx: &rusqlite::Transaction<'_>, room: RoomId) -> Result<(), StoreError> {
    let known: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM rooms WHERE id = ?1)", [room], |r| r.get(0))?;
    if known { Ok(()) } else { Err(StoreError::Invalid(format!("there is no room {room}"))) }
}

/// Sets the device's one row in `table` (`device_rooms`, `device_members`) to `value`, or removes
/// it.
fn put_or_clear(
    tx: &rusqlite::Transaction<'_>,
    table: &str,
    column: &str,
    device: &DeviceId,
    value: Option<&dyn rusqlite::ToSql>,
) -> Result<(), StoreError> {
    match value {
        Some(value) => tx.execute(
            &format!("INSERT INTO {table} (device_id, {column}) VALUES (?1, ?2) ON CONFLICT (device_id) DO UPDATE SET {column} = ?2"),
            params![device.as_str(), value],
        )?,
        None => tx.execute(&format!("DELETE FROM {table} WHERE device_id = ?1"), [device.as_str()])?,
    };
    Ok(())
}

fn effect_str(effect: Effect) -> &'static str {
    match effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
    }
}

/// The role of a current (not removed) member, or an error naming the id.
fn current(tx: &rusqlite::Transaction<'_>, id: &str) -> Result<Role, StoreError> {
    let role: Option<String> =
        tx.query_row("SELECT role FROM members WHERE id = ?1 AND removed_at IS NULL", [id], |r| r.get(0)).optional()?;
    role.ok_or_else(|| {
        StoreError::Invalid(format!("there is no member {id} in this home; the Household page and `hearth member list` list them"))
    })?
    .parse()
    .map_err(corrupt)
}

fn name_is_free(tx: &rusqlite::Transaction<'_>, name: &str, except: Option<&str>) -> Result<(), StoreError> {
    let taken: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM members WHERE name = ?1 COLLATE NOCASE AND removed_at IS NULL AND id != ?2)",
        params![name, except.unwrap_or("")],
        |r| r.get(0),
    )?;
    if taken { Err(StoreError::Invalid(format!("there is already a member called {name}; choose another name"))) } else { Ok(()) }
}

/// Refuses a change that would leave the home without an owner, or take the founding owner's
/// role away (physical access to the hub is how a household recovers).
fn keeps_an_owner(tx: &rusqlite::Transaction<'_>, id: &str, what: &str) -> Result<(), StoreError> {
    if id == FOUNDING_OWNER {
        return Err(StoreError::Invalid(format!(
            "the hub's own owner (the person at this machine, `hearth open`) cannot be {what}; rename them instead"
        )));
    }
    let others: i64 =
        tx.query_row("SELECT count(*) FROM members WHERE role = 'owner' AND removed_at IS NULL AND id != ?1", [id], |r| r.get(0))?;
    if others == 0 {
        return Err(StoreError::Invalid(format!("the last owner cannot be {what}: make someone else an owner first")));
    }
    Ok(())
}

#[cfg(test)]
#[path = "family_tests.rs"]
mod tests;
