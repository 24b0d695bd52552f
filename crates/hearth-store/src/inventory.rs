//! The device inventory: filing sightings under devices, state changes and forgetting.

use crate::{Store, StoreError};
use hearth_core::device::{Actor, DeviceId, DeviceState};
use hearth_core::fingerprint::{Fingerprints, Kind, Recognition, display_name};
use hearth_core::identity::{IdentityKey, Matched, Resolution, contradicts, identity_keys, resolve, self_contradiction};
use hearth_core::inventory::{Device, DeviceDetail, IdentityConflict, Millis, Service, StateChange};
use hearth_core::sighting::{Sighting, TxtEntry};
use rusqlite::{OptionalExtension, Transaction, params};

/// What filing one sighting did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SightingOutcome {
    pub device: Device,
    /// The device did not exist before this sighting.
    pub created: bool,
    /// Devices folded into `device` because this sighting proved they were the same.
    pub absorbed: Vec<DeviceId>,
    /// Something a person would see changed (new service, address, name, kind, back online).
    pub changed: bool,
    /// The device this service was filed under before, if the sighting moved it to `device`;
    /// as it is now (fewer services, perhaps offline).
    pub left: Option<Device>,
    /// Records the sighting says are `device` too, each holding a person's decision, so not
    /// joined: a merge proposed to a person for each (new questions only).
    pub proposed: Vec<DeviceId>,
}

/// What filing one sighting came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filing {
    Filed(Box<SightingOutcome>),
    /// It named two different ids of one kind: recorded, not filed.
    Contradiction(IdentityConflict),
    /// It would be a new device while [`MAX_UNDECIDED_DEVICES`] devices already wait for a
    /// person: not filed (a flood of made-up announcements must not fill the inventory).
    TooManyUndecided,
}

/// Devices nobody has decided about yet (state `new`) at most: a home has a few hundred devices
/// in all; past this, announcements of further new devices are not filed until a person decides
/// about some (approves, blocks or forgets them).
pub const MAX_UNDECIDED_DEVICES: i64 = 1000;
/// Services (service instances) kept per device: a real device offers a handful; a responder
/// announcing ever-new instance names under one device's id replaces its own oldest ones.
pub const MAX_SERVICES_PER_DEVICE: i64 = 64;

const DEVICE_COLUMNS: &str = "id, name, state, kind, vendor, model, rule, reason, first_seen, last_seen, online";
/// [`DEVICE_COLUMNS`] and the device's room and member, whether a person named it, and what it
/// may do on the broker (a credential, its allowed and learned topic rules), for `SELECT ...
/// FROM devices`.
const DEVICE_SELECT: &str = "id, name, state, kind, vendor, model, rule, reason, first_seen, last_seen, online,
    (SELECT room_id FROM device_rooms r WHERE r.device_id = devices.id),
    (SELECT member_id FROM device_members m WHERE m.device_id = devices.id),
    named_by_person,
    EXISTS(SELECT 1 FROM credentials c WHERE c.device_id = devices.id) OR EXISTS(SELECT 1 FROM anonymous_clients a WHERE a.device_id = devices.id),
    (SELECT COUNT(*) FROM topic_rules t WHERE t.device_id = devices.id AND t.status = 'allowed'),
    (SELECT COUNT(*) FROM topic_rules t WHERE t.device_id = devices.id AND t.status = 'learned')";

impl Store {
    /// Files a sighting: finds (or creates, or merges) its device, records the service, and
    /// recognises the device again from all its services. One transaction. No sighting changes
    /// what a device may do (`hearth_core::identity`): records holding a person's decisions are
    /// never joined by one, and one that contradicts itself is only recorded.
    pub fn record_sighting(
        &mut self,
        sighting: &Sighting,
        now: Millis,
        fingerprints: &Fingerprints,
        new_id: impl FnOnce() -> DeviceId,
    ) -> Result<Filing, StoreError> {
        let tx = self.conn.transaction()?;
        let keys = identity_keys(sighting);
        if let Some(named) = self_contradiction(&keys) {
            let conflict = crate::identity::record_conflict(&tx, sighting, &named, now)?;
            tx.commit()?;
            // At most once a minute: a forger changing the instance name each time must not
            // flood the log (the table of them is bounded; `hearth identity` lists them).
            if crate::identity::once_a_minute(&crate::identity::CONFLICT_LOGGED) {
                tracing::warn!(service = sighting.service_type, instance = %hearth_core::text::clip(&sighting.instance, hearth_core::text::LOGGED), keys = ?conflict.keys, "an announcement named two ids of one kind; not filed (said once a minute; `hearth identity` lists them)");
            }
            return Ok(Filing::Contradiction(conflict));
        }
        let matched = devices_holding(&tx, &keys)?;
        let before = match resolve(&matched) {
            Resolution::Existing(id) => Some(load_device(&tx, &id)?),
            Resolution::Merge { keep: id, .. } | Resolution::Propose { file_under: id, .. } => Some(load_device(&tx, &id)?),
            Resolution::New => None,
        };
        let mut proposed = Vec::new();
        // The records a person is asked about: none of their keys moves.
        let mut proposing: Vec<DeviceId> = Vec::new();
        let (id, created, absorbed) = match resolve(&matched) {
            Resolution::New if undecided(&tx)? >= MAX_UNDECIDED_DEVICES => return Ok(Filing::TooManyUndecided),
            Resolution::New => {
                let id = new_id();
                tx.execute(
                    &format!("INSERT INTO devices ({DEVICE_COLUMNS}) VALUES (?1, ?2, 'new', 'unknown', NULL, NULL, 'none', '', ?3, ?3, 1)"),
                    params![id.as_str(), display_name(sighting), now],
                )?;
                tx.execute(
                    "INSERT INTO state_changes (device_id, from_state, to_state, actor, origin, at) VALUES (?1, NULL, 'new', 'hearth', 'discovery', ?2)",
                    params![id.as_str(), now],
                )?;
                (id, true, vec![])
            }
            Resolution::Existing(id) => (id, false, vec![]),
            Resolution::Merge { keep, absorb } => {
                for other in &absorb {
                    merge_into(&tx, &keep, other, &Actor::Hearth, "merge", now)?;
                }
                (keep, false, absorb)
            }
            Resolution::Propose { file_under, others } => {
                // Under the record that already has this service, if one of them does: a forged
                // announcement must not move a device's own service away from it.
                let owner = service_owner(&tx, sighting)?.filter(|o| others.contains(o));
                let (file_under, others) = match owner {
                    Some(owner) => (owner.clone(), others.into_iter().filter(|o| *o != owner).chain([file_under]).collect()),
                    None => (file_under, others),
                };
                for other in &others {
                    if crate::identity::propose_merge(&tx, &file_under, other, sighting, now)? {
                        proposed.push(other.clone());
                    }
                }
                proposing = others;
                (file_under, false, vec![])
            }
        };
        // Every key now points here, a weak one taken from a device this sighting contradicts too:
        // mDNS host names are unique on the link at any moment, so its latest announcer owns it.
        // A strong key another record holds stays with it: only a person joins records that hold
        // decisions.
        for key in &keys {
            let held_by = holder(&tx, key.as_str())?.filter(|holder| *holder != id);
            if held_by.is_some_and(|holder| key.is_strong() || proposing.contains(&holder)) {
                continue;
            }
            tx.execute(
                "INSERT INTO identity_keys (key, device_id) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET device_id = excluded.device_id",
                params![key.as_str(), id.as_str()],
            )?;
        }
        let moved_from: Option<DeviceId> = tx
            .query_row(
                "SELECT device_id FROM sightings WHERE service_type = ?1 AND instance = ?2",
                params![sighting.service_type, sighting.instance],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .map(|old| parse_id(&old))
            .transpose()?
            .filter(|old| *old != id && !absorbed.contains(old));
        let addresses: Vec<String> = sighting.addresses.iter().map(ToString::to_string).collect();
        // A new service of a device that has many already replaces its least recently seen one.
        tx.execute(
            "DELETE FROM sightings WHERE rowid IN (SELECT rowid FROM sightings WHERE device_id = ?1 ORDER BY present DESC, last_seen DESC LIMIT -1 OFFSET ?4)
               AND NOT EXISTS (SELECT 1 FROM sightings WHERE service_type = ?2 AND instance = ?3)",
            params![id.as_str(), sighting.service_type, sighting.instance, MAX_SERVICES_PER_DEVICE - 1],
        )?;
        tx.execute(
            "INSERT INTO sightings (service_type, instance, device_id, host, port, addresses, txt, first_seen, last_seen, present)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, 1)
             ON CONFLICT(service_type, instance) DO UPDATE SET
               device_id = excluded.device_id, host = excluded.host, port = excluded.port,
               addresses = excluded.addresses, txt = excluded.txt, last_seen = excluded.last_seen, present = 1",
            params![
                sighting.service_type,
                sighting.instance,
                id.as_str(),
                sighting.host,
                sighting.port,
                to_json(&addresses),
                to_json(&sighting.txt),
                now
            ],
        )?;
        refresh(&tx, &id, fingerprints, Some(now))?;
        // The service now belongs to another device (its keys said so): the device it left is
        // recognised again from what it has left, and goes offline if that was its last service.
        let left = match moved_from {
            Some(old) if device_exists(&tx, &old)? => {
                refresh(&tx, &old, fingerprints, None)?;
                tracing::info!(service = sighting.service_type, instance = sighting.instance, from = %old, to = %id, "a service moved to another device");
                Some(load_device(&tx, &old)?)
            }
            _ => None,
        };
        let device = load_device(&tx, &id)?;
        tx.commit()?;
        let changed = created || !absorbed.is_empty() || before.as_ref().is_none_or(|b| !same_but_time(b, &device));
        Ok(Filing::Filed(Box::new(SightingOutcome { device, created, absorbed, changed, left, proposed })))
    }

    /// A service said goodbye or its records expired. Returns the device if it went offline
    /// with this (no present service left).
    pub fn service_gone(&mut self, service_type: &str, instance: &str) -> Result<Option<Device>, StoreError> {
        let tx = self.conn.transaction()?;
        let device_id: Option<String> = tx
            .query_row(
                "UPDATE sightings SET present = 0 WHERE service_type = ?1 AND instance = ?2 RETURNING device_id",
                params![service_type, instance],
                |r| r.get(0),
            )
            .optional()?;
        let Some(device_id) = device_id else { return Ok(None) };
        let id = parse_id(&device_id)?;
        let still: bool =
            tx.query_row("SELECT EXISTS(SELECT 1 FROM sightings WHERE device_id = ?1 AND present = 1)", [&device_id], |r| r.get(0))?;
        let went_offline =
            if still { false } else { tx.execute("UPDATE devices SET online = 0 WHERE id = ?1 AND online = 1", [&device_id])? == 1 };
        let device = load_device(&tx, &id)?;
        tx.commit()?;
        Ok(went_offline.then_some(device))
    }

    /// At start-up nothing is known to be present until it announces itself again.
    pub fn mark_all_offline(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("UPDATE sightings SET present = 0; UPDATE devices SET online = 0;")?;
        Ok(())
    }

    pub fn devices(&self) -> Result<Vec<Device>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("SELECT {DEVICE_SELECT} FROM devices ORDER BY first_seen, id"))?;
        let rows = stmt.query_map([], device_row)?.collect::<Result<Vec<_>, _>>()?;
        let mut services = self.all_services()?;
        rows.into_iter()
            .map(|row| {
                let id = row.id.clone();
                row.into_device(services.remove(&id).unwrap_or_default())
            })
            .collect()
    }

    pub fn device(&self, id: &DeviceId) -> Result<DeviceDetail, StoreError> {
        let device = load_device(&self.conn, id)?;
        let mut stmt = self.conn.prepare("SELECT key FROM identity_keys WHERE device_id = ?1 ORDER BY key")?;
        let identity_keys = stmt.query_map([id.as_str()], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        let mut stmt =
            self.conn.prepare("SELECT from_state, to_state, actor, origin, at FROM state_changes WHERE device_id = ?1 ORDER BY at, id")?;
        let history = stmt
            .query_map([id.as_str()], |r| {
                Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get(4)?))
            })?
            .map(|row| {
                let (from, to, actor, origin, at) = row?;
                Ok(StateChange {
                    from: from.map(|s| s.parse().map_err(corrupt)).transpose()?,
                    to: to.parse().map_err(corrupt)?,
                    actor: Actor::from(actor),
                    origin,
                    at,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let merge_proposals = crate::identity::merge_proposals_of(&self.conn, Some(id))?;
        Ok(DeviceDetail { device, identity_keys, history, merge_proposals })
    }

    /// Approves or blocks a device (or returns it to `new`), recording who did it. Setting the
    /// state a device already has records nothing and returns `false`.
    pub fn set_state(
        &mut self,
        id: &DeviceId,
        to: DeviceState,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<(Device, bool), StoreError> {
        let tx = self.conn.transaction()?;
        let from = load_device(&tx, id)?.state;
        let changed = from != to;
        if changed {
            tx.execute("UPDATE devices SET state = ?2 WHERE id = ?1", params![id.as_str(), to.as_str()])?;
            tx.execute(
                "INSERT INTO state_changes (device_id, from_state, to_state, actor, origin, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id.as_str(), from.as_str(), to.as_str(), actor.as_str(), origin, now],
            )?;
            // The readable audit shows decisions beside every other change.
            crate::audit::write(&tx, now, actor, origin, &format!("set_state_{}", to.as_str()), id.as_str())?;
        }
        let device = load_device(&tx, id)?;
        tx.commit()?;
        Ok((device, changed))
    }

    /// Deletes the device and every row about it, including what it left in rows that name no
    /// device (counted connection attempts under its client ids, announcements naming its ids)
    /// and every audit entry about it (its topic rules name its data: `owntracks/anna/#`). The
    /// audit keeps only that it was forgotten, by whom and when. The caller compacts the file
    /// afterwards so that the freed pages leave it too.
    pub fn forget(&mut self, id: &DeviceId, actor: &Actor, origin: &str, now: Millis) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        load_device(&tx, id)?;
        let member: Option<String> =
            tx.query_row("SELECT member_id FROM device_members WHERE device_id = ?1", [id.as_str()], |r| r.get(0)).optional()?;
        // Its strings that may sit in rows about no device, found before its own rows go.
        let client_ids: Vec<String> = {
            let mut stmt = tx.prepare(
                "SELECT client_id FROM gate_decisions WHERE device_id = ?1
                 UNION SELECT client_id FROM credentials WHERE device_id = ?1 AND client_id IS NOT NULL
                 UNION SELECT client_id FROM anonymous_clients WHERE device_id = ?1
                 UNION SELECT client_id FROM connect_attempts WHERE device_id = ?1",
            )?;
            stmt.query_map([id.as_str()], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        let keys = keys_of(&tx, id)?;
        // Deliveries of its messages refused to other devices name its topics.
        tx.execute(
            "DELETE FROM gate_decisions WHERE action = 'deliver' AND topic IN (SELECT topic FROM ledger_topics WHERE device_id = ?1)",
            [id.as_str()],
        )?;
        // What the broker kept for it and from it: its sessions and the messages waiting for
        // them, its retained messages, and its messages waiting in other devices' queues (a
        // device let in without a credential is known by its pinned client id).
        let pinned: Vec<String> = {
            let mut stmt = tx.prepare("SELECT client_id FROM anonymous_clients WHERE device_id = ?1")?;
            stmt.query_map([id.as_str()], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        // Its MQTT username is its id, or, after a merge, the id of the record it absorbed.
        let usernames: Vec<String> = {
            let mut stmt = tx.prepare("SELECT ?1 UNION SELECT username FROM credentials WHERE device_id = ?1")?;
            stmt.query_map([id.as_str()], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        for username in &usernames {
            tx.execute(
                "DELETE FROM mqtt_messages WHERE sender_username = ?1 OR client_id IN (SELECT client_id FROM mqtt_sessions WHERE username = ?1)",
                [username],
            )?;
            tx.execute("DELETE FROM mqtt_sessions WHERE username = ?1", [username])?;
            tx.execute("DELETE FROM mqtt_retained WHERE sender_username = ?1", [username])?;
        }
        for client_id in &pinned {
            tx.execute(
                "DELETE FROM mqtt_messages WHERE (sender_username IS NULL AND sender_client_id = ?1)
                   OR client_id IN (SELECT client_id FROM mqtt_sessions WHERE username IS NULL AND client_id = ?1)",
                [client_id],
            )?;
            tx.execute("DELETE FROM mqtt_sessions WHERE username IS NULL AND client_id = ?1", [client_id])?;
            tx.execute("DELETE FROM mqtt_retained WHERE sender_username IS NULL AND sender_client_id = ?1", [client_id])?;
        }
        tx.execute("DELETE FROM devices WHERE id = ?1", [id.as_str()])?;
        for client_id in &client_ids {
            tx.execute("DELETE FROM connect_attempts WHERE device_key = '' AND client_id = ?1", [client_id])?;
            tx.execute("DELETE FROM gate_decisions WHERE device_id IS NULL AND client_id = ?1", [client_id])?;
        }
        tx.execute("DELETE FROM connect_attempts WHERE device_key = '' AND username = ?1", [id.as_str()])?;
        for key in keys.iter().filter(|k| k.is_strong()) {
            tx.execute("DELETE FROM identity_conflicts WHERE EXISTS (SELECT 1 FROM json_each(keys) WHERE value = ?1)", [key.as_str()])?;
        }
        // What people did to it stays on record (who looked at it, who operated it, who was
        // refused), its subject cut to the device's id: the rest of a row may name what it sent.
        let kept = "(refused = 1 OR action LIKE 'look:%' OR action IN ('control', 'control_failed'))";
        tx.execute(&format!("UPDATE audit SET subject = device_id WHERE device_id = ?1 AND {kept}"), [id.as_str()])?;
        tx.execute(
            &format!(
                "DELETE FROM audit WHERE (device_id = ?1 OR subject LIKE ?1 || ' %' OR subject LIKE '% ' || ?1
                   OR (subject = ?1 AND device_id IS NULL)) AND NOT (device_id = ?1 AND {kept})"
            ),
            [id.as_str()],
        )?;
        crate::audit::write_about(&tx, now, actor, origin, "forget_device", id.as_str(), false, member.as_deref())?;
        tx.commit()?;
        Ok(())
    }

    fn all_services(&self) -> Result<std::collections::HashMap<String, Vec<Service>>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("SELECT device_id, {SERVICE_COLUMNS} FROM sightings ORDER BY service_type, instance"))?;
        let mut out: std::collections::HashMap<String, Vec<Service>> = std::collections::HashMap::new();
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, service_row(r, 1)?)))?;
        for row in rows {
            let (device_id, raw) = row?;
            out.entry(device_id).or_default().push(raw.into_service()?);
        }
        Ok(out)
    }
}

const SERVICE_COLUMNS: &str = "service_type, instance, host, port, addresses, txt, first_seen, last_seen, present";

struct DeviceRow {
    id: String,
    name: String,
    state: String,
    kind: String,
    vendor: Option<String>,
    model: Option<String>,
    rule: String,
    reason: String,
    first_seen: Millis,
    last_seen: Millis,
    online: bool,
    room: Option<i64>,
    member: Option<String>,
    named_by_person: bool,
    uses_broker: bool,
    allowed_topics: u32,
    proposals: u32,
}

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRow> {
    Ok(DeviceRow {
        id: r.get(0)?,
        name: r.get(1)?,
        state: r.get(2)?,
        kind: r.get(3)?,
        vendor: r.get(4)?,
        model: r.get(5)?,
        rule: r.get(6)?,
        reason: r.get(7)?,
        first_seen: r.get(8)?,
        last_seen: r.get(9)?,
        online: r.get(10)?,
        room: r.get(11)?,
        member: r.get(12)?,
        named_by_person: r.get(13)?,
        uses_broker: r.get(14)?,
        allowed_topics: r.get(15)?,
        proposals: r.get(16)?,
    })
}

impl DeviceRow {
    fn into_device(self, services: Vec<Service>) -> Result<Device, StoreError> {
        let mut addresses: Vec<String> = services.iter().filter(|s| s.present).flat_map(|s| s.addresses.iter().cloned()).collect();
        if addresses.is_empty() {
            // Offline: show where it was last seen rather than nothing.
            addresses = services.iter().flat_map(|s| s.addresses.iter().cloned()).collect();
        }
        addresses.sort();
        addresses.dedup();
        Ok(Device {
            id: parse_id(&self.id)?,
            name: self.name,
            state: self.state.parse().map_err(corrupt)?,
            kind: parse_kind(&self.kind)?,
            vendor: self.vendor,
            model: self.model,
            addresses,
            services,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            online: self.online,
            rule: self.rule,
            reason: self.reason,
            room: self.room,
            member: self.member,
            named_by_person: self.named_by_person,
            uses_broker: self.uses_broker,
            allowed_topics: self.allowed_topics,
            proposals: self.proposals,
            connected: false,
            children: Vec::new(),
        })
    }
}

struct ServiceRow {
    service_type: String,
    instance: String,
    host: String,
    port: u16,
    addresses: String,
    txt: String,
    first_seen: Millis,
    last_seen: Millis,
    present: bool,
}

fn service_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<ServiceRow> {
    Ok(ServiceRow {
        service_type: r.get(at)?,
        instance: r.get(at + 1)?,
        host: r.get(at + 2)?,
        port: r.get(at + 3)?,
        addresses: r.get(at + 4)?,
        txt: r.get(at + 5)?,
        first_seen: r.get(at + 6)?,
        last_seen: r.get(at + 7)?,
        present: r.get(at + 8)?,
    })
}

impl ServiceRow {
    fn into_service(self) -> Result<Service, StoreError> {
        Ok(Service {
            service_type: self.service_type,
            instance: self.instance,
            host: self.host,
            port: self.port,
            addresses: serde_json::from_str(&self.addresses).map_err(corrupt)?,
            txt: serde_json::from_str::<Vec<TxtEntry>>(&self.txt).map_err(corrupt)?,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            present: self.present,
        })
    }
}

fn services_of(conn: &rusqlite::Connection, id: &DeviceId) -> Result<Vec<Service>, StoreError> {
    let mut stmt =
        conn.prepare(&format!("SELECT {SERVICE_COLUMNS} FROM sightings WHERE device_id = ?1 ORDER BY service_type, instance"))?;
    let rows = stmt.query_map([id.as_str()], |r| service_row(r, 0))?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(ServiceRow::into_service).collect()
}

pub(crate) fn load_device(conn: &rusqlite::Connection, id: &DeviceId) -> Result<Device, StoreError> {
    let row = conn
        .query_row(&format!("SELECT {DEVICE_SELECT} FROM devices WHERE id = ?1"), [id.as_str()], device_row)
        .optional()?
        .ok_or_else(|| StoreError::UnknownDevice(id.to_string()))?;
    let services = services_of(conn, id)?;
    row.into_device(services)
}

/// The devices this sighting's keys point to, oldest first, each once, leaving out a device
/// that only a weak key points to and that the sighting contradicts
/// (`hearth_core::identity::contradicts`), each with whether only a person may join it to
/// another (`Matched::protected`).
fn devices_holding(tx: &Transaction<'_>, keys: &[IdentityKey]) -> Result<Vec<Matched<DeviceId>>, StoreError> {
    let mut found: Vec<(Millis, String)> = Vec::new();
    for key in keys {
        let Some(id) = holder(tx, key.as_str())? else { continue };
        if found.iter().any(|(_, held)| *held == id.as_str()) || (!key.is_strong() && contradicts(keys, &keys_of(tx, &id)?)) {
            continue;
        }
        let first_seen: Millis = tx.query_row("SELECT first_seen FROM devices WHERE id = ?1", [id.as_str()], |r| r.get(0))?;
        found.push((first_seen, id.as_str().to_owned()));
    }
    found.sort();
    let mut matched = found
        .into_iter()
        .map(|(_, id)| {
            let id = parse_id(&id)?;
            Ok(Matched { protected: crate::identity::holds_decision(tx, &id)?, id })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    // Folding a record into the one decided record would give it that record's ids: a record with
    // a strong id of its own the decided one lacks is a question for a person too.
    let decided: Vec<DeviceId> = matched.iter().filter(|m| m.protected).map(|m| m.id.clone()).collect();
    if let [kept] = decided.as_slice() {
        let kept_keys = keys_of(tx, kept)?;
        for m in matched.iter_mut().filter(|m| !m.protected) {
            m.protected = keys_of(tx, &m.id)?.iter().any(|k| k.is_strong() && !kept_keys.contains(k));
        }
    }
    Ok(matched)
}

/// The device the sighting's service is filed under, if it is known.
fn service_owner(tx: &Transaction<'_>, sighting: &Sighting) -> Result<Option<DeviceId>, StoreError> {
    tx.query_row(
        "SELECT device_id FROM sightings WHERE service_type = ?1 AND instance = ?2",
        params![sighting.service_type, sighting.instance],
        |r| r.get::<_, String>(0),
    )
    .optional()?
    .map(|id| parse_id(&id))
    .transpose()
}

fn undecided(conn: &rusqlite::Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM devices WHERE state = 'new'", [], |r| r.get(0))?)
}

fn holder(conn: &rusqlite::Connection, key: &str) -> Result<Option<DeviceId>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT device_id FROM identity_keys WHERE key = ?1")?;
    stmt.query_row([key], |r| r.get::<_, String>(0)).optional()?.map(|id| parse_id(&id)).transpose()
}

fn keys_of(conn: &rusqlite::Connection, id: &DeviceId) -> Result<Vec<IdentityKey>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT key FROM identity_keys WHERE device_id = ?1")?;
    let keys = stmt.query_map([id.as_str()], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    Ok(keys.into_iter().map(IdentityKey::from_stored).collect())
}

fn device_exists(conn: &rusqlite::Connection, id: &DeviceId) -> Result<bool, StoreError> {
    Ok(conn.query_row("SELECT EXISTS(SELECT 1 FROM devices WHERE id = ?1)", [id.as_str()], |r| r.get(0))?)
}

/// Moves everything of `absorb` to `keep` and deletes `absorb`. The merged state is the
/// strictest decision of the two (`DeviceState::merged`): a block on either record survives, and
/// a change of state is recorded in the history as done by `actor` (Hearth, when an announcement
/// folded in a record nobody had decided about; else a person).
pub(crate) fn merge_into(
    tx: &Transaction<'_>,
    keep: &DeviceId,
    absorb: &DeviceId,
    actor: &Actor,
    origin: &str,
    now: Millis,
) -> Result<(), StoreError> {
    let kept_state = load_device(tx, keep)?.state;
    let merged = kept_state.merged(load_device(tx, absorb)?.state);
    // Two members' personal devices are never one record: each member's data stays theirs.
    let members: Vec<String> = {
        let mut stmt = tx.prepare("SELECT DISTINCT member_id FROM device_members WHERE device_id IN (?1, ?2)")?;
        stmt.query_map(params![keep.as_str(), absorb.as_str()], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    if members.len() > 1 {
        return Err(StoreError::Invalid(format!(
            "{keep} and {absorb} are personal devices of two different members; mark one as the household's first if they really are one device"
        )));
    }
    // A topic rule both records have: the stricter wins (denied > allowed > learned), as with
    // the state; then OR IGNORE keeps the kept device's row where both have one of a key (two
    // credentials, one topic rule) and the other goes with the absorbed record.
    tx.execute(
        "UPDATE topic_rules AS k SET status = a.status FROM topic_rules AS a
         WHERE k.device_id = ?1 AND a.device_id = ?2 AND a.direction = k.direction AND a.pattern = k.pattern
           AND (CASE a.status WHEN 'denied' THEN 2 WHEN 'allowed' THEN 1 ELSE 0 END) > (CASE k.status WHEN 'denied' THEN 2 WHEN 'allowed' THEN 1 ELSE 0 END)",
        params![keep.as_str(), absorb.as_str()],
    )?;
    // Retention: per kind of data the stricter of the two records' (their defaults included, so
    // a looser choice on one record does not undo the other's protective default).
    let (kept, absorbed) = (crate::ledger::privacy_of(tx, keep)?, crate::ledger::privacy_of(tx, absorb)?);
    tx.execute("DELETE FROM privacy_retention WHERE device_id IN (?1, ?2)", params![keep.as_str(), absorb.as_str()])?;
    for (k, a) in kept.retention.iter().zip(&absorbed.retention) {
        if k.chosen || a.chosen {
            tx.execute(
                "INSERT INTO privacy_retention (device_id, category, retention) VALUES (?1, ?2, ?3)",
                params![keep.as_str(), k.category.as_str(), k.retention.stricter(a.retention).to_string()],
            )?;
        }
    }
    for table in [
        "identity_keys",
        "sightings",
        "state_changes",
        "credentials",
        "topic_rules",
        "gate_decisions",
        "anonymous_clients",
        "described_devices",
        "entities",
        "privacy_redactions",
        // The kept record's room wins; a personal mark on either stays (one member at most).
        "device_rooms",
        "device_members",
        "grants",
    ] {
        tx.execute(&format!("UPDATE OR IGNORE {table} SET device_id = ?1 WHERE device_id = ?2"), params![keep.as_str(), absorb.as_str()])?;
    }
    crate::ledger::merge(tx, keep, absorb)?;
    tx.execute(
        "UPDATE devices SET first_seen = MIN(first_seen, (SELECT first_seen FROM devices WHERE id = ?2)) WHERE id = ?1",
        params![keep.as_str(), absorb.as_str()],
    )?;
    // A name a person gave either record is kept (the kept record's own first): discovery's
    // name never replaces a person's.
    tx.execute(
        "UPDATE devices SET name = (SELECT name FROM devices WHERE id = ?2), named_by_person = 1
         WHERE id = ?1 AND named_by_person = 0 AND (SELECT named_by_person FROM devices WHERE id = ?2) = 1",
        params![keep.as_str(), absorb.as_str()],
    )?;
    tx.execute("DELETE FROM devices WHERE id = ?1", [absorb.as_str()])?;
    if merged != kept_state {
        tx.execute("UPDATE devices SET state = ?2 WHERE id = ?1", params![keep.as_str(), merged.as_str()])?;
        tx.execute(
            "INSERT INTO state_changes (device_id, from_state, to_state, actor, origin, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![keep.as_str(), kept_state.as_str(), merged.as_str(), actor.as_str(), origin, now],
        )?;
    }
    tracing::info!(%keep, %absorb, state = %merged, "merged two records of one device");
    Ok(())
}

/// Recognises the device again from its services and names it; with `seen_at`, the device was
/// just seen, else it is online only while one of its services is present.
fn refresh(tx: &Transaction<'_>, id: &DeviceId, fp: &Fingerprints, seen_at: Option<Millis>) -> Result<(), StoreError> {
    let recognition = recognise(tx, id, fp)?;
    let name = best_name(tx, id, fp)?;
    tx.execute(
        "UPDATE devices SET name = CASE WHEN named_by_person = 1 THEN name ELSE COALESCE(?2, name) END, kind = ?3, vendor = ?4, model = ?5, rule = ?6, reason = ?7,
           online = EXISTS(SELECT 1 FROM sightings WHERE device_id = ?1 AND present = 1) WHERE id = ?1",
        params![id.as_str(), name, kind_str(recognition.kind), recognition.vendor, recognition.model, recognition.rule, recognition.reason],
    )?;
    if let Some(at) = seen_at {
        tx.execute("UPDATE devices SET last_seen = ?2, online = 1 WHERE id = ?1", params![id.as_str(), at])?;
    }
    Ok(())
}

fn present_sightings(conn: &rusqlite::Connection, id: &DeviceId) -> Result<Vec<Sighting>, StoreError> {
    let services = services_of(conn, id)?;
    let any_present = services.iter().any(|s| s.present);
    Ok(services
        .into_iter()
        .filter(|s| s.present || !any_present)
        .map(|s| Sighting {
            service_type: s.service_type,
            instance: s.instance,
            host: s.host,
            addresses: s.addresses.iter().filter_map(|a| a.parse().ok()).collect(),
            port: s.port,
            txt: s.txt,
        })
        .collect())
}

fn recognise(conn: &rusqlite::Connection, id: &DeviceId, fp: &Fingerprints) -> Result<Recognition, StoreError> {
    Ok(fp.recognise(present_sightings(conn, id)?.iter()))
}

/// The name from the service that recognised the device best (a friendly name beats a MAC-ish
/// instance name of a secondary service).
fn best_name(conn: &rusqlite::Connection, id: &DeviceId, fp: &Fingerprints) -> Result<Option<String>, StoreError> {
    let sightings = present_sightings(conn, id)?;
    let best = sightings.iter().max_by_key(|s| {
        let friendly = ["fn", "friendly_name", "dn", "location_name"].iter().any(|k| s.txt(k).is_some());
        (friendly, fp.recognise([*s]).strength)
    });
    Ok(best.map(display_name))
}

fn same_but_time(a: &Device, b: &Device) -> bool {
    let strip = |d: &Device| {
        let mut d = d.clone();
        d.last_seen = 0;
        for s in &mut d.services {
            s.last_seen = 0;
        }
        d
    };
    strip(a) == strip(b)
}

fn kind_str(kind: Kind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| "unknown".into())
}

fn parse_kind(s: &str) -> Result<Kind, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(corrupt)
}

pub(crate) fn parse_id(s: &str) -> Result<DeviceId, StoreError> {
    DeviceId::parse(s).map_err(corrupt)
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Serialising plain strings and structs of strings cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn sighting(ty: &str, instance: &str, host: &str, addr: &str, txt: &[(&str, &str)]) -> Sighting {
        Sighting::new(ty, instance, host, vec![addr.parse().unwrap()], 80, txt.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())))
    }

    struct Home {
        store: Store,
        fp: Fingerprints,
        next: Cell<u64>,
    }

    impl Home {
        fn new() -> Self {
            Self { store: Store::open_in_memory().unwrap(), fp: Fingerprints::builtin(), next: Cell::new(1) }
        }
        fn file(&mut self, s: &Sighting, now: Millis) -> Filing {
            let n = self.next.get();
            self.next.set(n + 1);
            self.store.record_sighting(s, now, &self.fp, || DeviceId::from_random(n)).unwrap()
        }
        fn see(&mut self, s: &Sighting, now: Millis) -> SightingOutcome {
            match self.file(s, now) {
                Filing::Filed(out) => *out,
                other => panic!("not filed: {other:?}"),
            }
        }
    }

    #[test]
    fn a_new_plug_is_recorded_as_new_with_history() {
        let mut home = Home::new();
        let out = home.see(
            &sighting("_shelly._tcp", "shellyplus1-c4dd57877294", "shellyplus1-c4dd57877294.local.", "10.0.0.5", &[("gen", "2")]),
            1000,
        );
        assert!(out.created && out.changed);
        assert_eq!(out.device.state, DeviceState::New);
        assert_eq!(out.device.kind, Kind::Switch);
        assert_eq!(out.device.rule, "shelly-gen2");
        let detail = home.store.device(&out.device.id).unwrap();
        assert_eq!(detail.history.len(), 1);
        assert_eq!(detail.history[0].actor, Actor::Hearth);
        assert!(detail.identity_keys.contains(&"mac:c4dd57877294".to_string()));
    }

    #[test]
    fn services_of_one_device_merge_and_address_changes_keep_identity() {
        let mut home = Home::new();
        let shelly = home
            .see(&sighting("_shelly._tcp", "shellyplus1-c4dd57877294", "shellyplus1-c4dd57877294.local.", "10.0.0.5", &[("gen", "2")]), 1);
        let http = home
            .see(&sighting("_http._tcp", "shellyplus1-c4dd57877294", "shellyplus1-c4dd57877294.local.", "10.0.0.5", &[("gen", "2")]), 2);
        assert_eq!(shelly.device.id, http.device.id);
        assert!(!http.created);
        // New address after a DHCP renewal: same device, new address shown.
        let moved = home
            .see(&sighting("_shelly._tcp", "shellyplus1-c4dd57877294", "shellyplus1-c4dd57877294.local.", "10.0.0.9", &[("gen", "2")]), 3);
        assert_eq!(moved.device.id, shelly.device.id);
        assert!(moved.changed);
        assert_eq!(moved.device.addresses, ["10.0.0.5", "10.0.0.9"]);
        assert_eq!(home.store.devices().unwrap().len(), 1);
    }

    #[test]
    fn two_records_proved_to_be_one_device_are_merged_into_the_older() {
        let mut home = Home::new();
        // An Apple TV's AirPlay and RAOP services on different host names (seen on real
        // networks when a host name was renamed): separate until the MAC links them.
        let raop = home.see(&sighting("_raop._tcp", "C92A14084F64@Den", "den-old.local.", "10.0.0.7", &[("am", "AppleTV3,1")]), 1);
        let other = home.see(&sighting("_companion-link._tcp", "Den", "den.local.", "10.0.0.7", &[]), 2);
        assert_ne!(raop.device.id, other.device.id);
        home.store.set_state(&raop.device.id, DeviceState::Approved, &Actor::owner(), "cli", 3).unwrap();
        let airplay = home.see(
            &sighting("_airplay._tcp", "Den", "den.local.", "10.0.0.7", &[("deviceid", "C9:2A:14:08:4F:64"), ("model", "AppleTV3,1")]),
            4,
        );
        assert_eq!(airplay.device.id, raop.device.id);
        assert_eq!(airplay.absorbed, vec![other.device.id.clone()]);
        assert_eq!(airplay.device.state, DeviceState::Approved);
        assert_eq!(airplay.device.services.len(), 3);
        assert_eq!(home.store.devices().unwrap().len(), 1);
        assert!(matches!(home.store.device(&other.device.id), Err(StoreError::UnknownDevice(_))));
    }

    /// Two records a person decided about (one approved, one blocked) that an announcement says
    /// are one device: a question for a person, who merges them; a block on either survives.
    #[test]
    fn records_holding_decisions_are_merged_by_a_person_keeping_a_block() {
        let mut home = Home::new();
        let raop = home.see(&sighting("_raop._tcp", "C92A14084F64@Den", "den-old.local.", "10.0.0.7", &[]), 1);
        let other = home.see(&sighting("_companion-link._tcp", "Den", "den.local.", "10.0.0.7", &[]), 2);
        home.store.set_state(&raop.device.id, DeviceState::Approved, &Actor::owner(), "cli", 3).unwrap();
        home.store.set_state(&other.device.id, DeviceState::Blocked, &Actor::owner(), "web", 4).unwrap();
        let linked = home.see(&sighting("_airplay._tcp", "Den", "den.local.", "10.0.0.7", &[("deviceid", "C9:2A:14:08:4F:64")]), 5);
        assert_eq!(linked.device.id, raop.device.id, "filed under the oldest record holding a decision");
        assert!(linked.absorbed.is_empty());
        assert_eq!(linked.proposed, vec![other.device.id.clone()]);
        assert_eq!(
            (linked.device.state, home.store.device(&other.device.id).unwrap().device.state),
            (DeviceState::Approved, DeviceState::Blocked)
        );
        let asked = home.store.device(&other.device.id).unwrap().merge_proposals;
        assert_eq!(asked.len(), 1);
        assert_eq!((asked[0].announcement.service_type.as_str(), asked[0].seen), ("_airplay._tcp", 1));
        // Asked once: the next announcement counts, it does not ask again.
        assert!(
            home.see(&sighting("_airplay._tcp", "Den", "den.local.", "10.0.0.7", &[("deviceid", "C9:2A:14:08:4F:64")]), 6)
                .proposed
                .is_empty()
        );
        let (merged, absorbed) = home
            .store
            .answer_merge(&other.device.id, &raop.device.id, crate::MergeAnswer::Merge, &Actor::owner(), "web", 7)
            .unwrap()
            .unwrap();
        assert_eq!((merged.id.clone(), absorbed), (raop.device.id.clone(), other.device.id.clone()));
        assert_eq!(merged.state, DeviceState::Blocked);
        let last = home.store.device(&merged.id).unwrap().history.pop().unwrap();
        assert_eq!(
            (last.from, last.to, last.actor, last.origin.as_str()),
            (Some(DeviceState::Approved), DeviceState::Blocked, Actor::owner(), "web")
        );
        assert!(home.store.merge_proposals(None).unwrap().is_empty());
        assert_eq!(home.store.audit(1).unwrap()[0].action, "merge_devices");
    }

    fn decided(home: &mut Home, s: &Sighting, at: Millis, topic: &str) -> DeviceId {
        use hearth_core::manifest::{Direction, RuleStatus, TopicRule};
        let id = home.see(s, at).device.id;
        home.store.set_state(&id, DeviceState::Approved, &Actor::owner(), "web", at).unwrap();
        home.store.set_credential(&id, &format!("sha256:{at:02x}"), &Actor::owner(), "web", at).unwrap();
        let rule = TopicRule { direction: Direction::Publish, pattern: format!("stat/{topic}/#"), status: RuleStatus::Allowed };
        home.store.set_topic_rule(&id, &rule, &Actor::owner(), "web", at).unwrap();
        id
    }

    /// What the gate knows of every device, for comparing before and after an announcement.
    fn permissions(home: &Home) -> Vec<crate::DevicePolicy> {
        let mut all = home.store.policies().unwrap();
        all.sort_by(|a, b| a.device_id.cmp(&b.device_id));
        all
    }

    /// The attacker's review: one `_http._tcp` announcement from a third host naming the plug's
    /// MAC and the lock's merged their records, moving the lock's topic rules to the plug and
    /// ending the lock's credential. Now it is recorded as a contradiction and changes nothing.
    #[test]
    fn a_forged_announcement_naming_two_devices_macs_changes_nothing() {
        let mut home = Home::new();
        let plug =
            decided(&mut home, &sighting("_shelly._tcp", "shellyplug-aaaaaa000001", "shellyplug.local.", "10.0.0.5", &[]), 1, "plug");
        let lock = decided(&mut home, &sighting("_hap._tcp", "Lock", "lock.local.", "10.0.0.6", &[("mac", "bbbbbb000002")]), 2, "lock");
        let before = permissions(&home);
        let forged =
            sighting("_http._tcp", "innocent", "attacker.local.", "10.0.0.66", &[("mac", "aaaaaa000001"), ("macaddress", "bbbbbb000002")]);
        let Filing::Contradiction(conflict) = home.file(&forged, 3) else { panic!("filed a self-contradicting announcement") };
        assert_eq!(conflict.keys, ["mac:aaaaaa000001", "mac:bbbbbb000002"]);
        assert_eq!(conflict.announcement.addresses, ["10.0.0.66"]);
        assert_eq!(permissions(&home), before, "no device may do more or less than before");
        assert_eq!(home.store.devices().unwrap().len(), 2);
        assert_eq!(home.store.identity_conflicts().unwrap().len(), 1);
        assert!(matches!(home.file(&forged, 4), Filing::Contradiction(c) if c.seen == 2), "counted, not stored twice");
        // The same trick with two kinds of id (a HomeKit id and a MAC) is a question for a person.
        let lock_hap = sighting("_hap._tcp", "Lock", "lock.local.", "10.0.0.6", &[("mac", "bbbbbb000002"), ("id", "11:22:33:44:55:66")]);
        assert_eq!(home.see(&lock_hap, 5).device.id, lock);
        let linking =
            sighting("_hap._tcp", "Bridge", "attacker.local.", "10.0.0.66", &[("id", "11:22:33:44:55:66"), ("mac", "aaaaaa000001")]);
        let out = home.see(&linking, 6);
        assert!(out.absorbed.is_empty());
        assert_eq!(out.proposed.len(), 1);
        assert_eq!(permissions(&home), before);
        let keys = home.store.device(&lock).unwrap().identity_keys;
        assert!(keys.contains(&"hap:11:22:33:44:55:66".to_string()), "the lock keeps its own ids: {keys:?}");
        // The real devices' next announcements go to their own records.
        assert_eq!(home.see(&lock_hap, 7).device.id, lock);
        assert_eq!(home.see(&sighting("_shelly._tcp", "shellyplug-aaaaaa000001", "shellyplug.local.", "10.0.0.5", &[]), 8).device.id, plug);
        // A person says they are two devices: never asked again.
        home.store.answer_merge(&plug, &lock, crate::MergeAnswer::KeepApart, &Actor::owner(), "web", 9).unwrap();
        assert!(home.store.merge_proposals(None).unwrap().is_empty());
        assert!(home.see(&linking, 10).proposed.is_empty());
        assert!(home.store.merge_proposals(None).unwrap().is_empty());
        // Merging two records with a credential each would end one of them: refused, with what to do.
        let err = home.store.answer_merge(&plug, &lock, crate::MergeAnswer::Merge, &Actor::owner(), "web", 11).unwrap_err();
        assert!(err.to_string().contains("revoke"), "{err}");
    }

    /// A record nobody decided about that has no id of its own (only a host name), linked to an
    /// approved lock: folded into the lock, which stays approved, whatever the records' ages.
    #[test]
    fn a_record_nobody_decided_about_is_folded_into_the_decided_one_whatever_its_age() {
        let mut home = Home::new();
        let alias = home.see(&sighting("_http._tcp", "lock web", "lock-alias.local.", "10.0.0.6", &[]), 1).device.id;
        let lock = decided(&mut home, &sighting("_hap._tcp", "Lock", "lock.local.", "10.0.0.6", &[("id", "11:22:33:44:55:66")]), 2, "lock");
        let before = permissions(&home).into_iter().find(|p| p.device_id == lock).unwrap();
        let out = home.see(&sighting("_hap._tcp", "Lock 2", "lock-alias.local.", "10.0.0.6", &[("id", "11:22:33:44:55:66")]), 3);
        assert_eq!((out.device.id.clone(), out.absorbed), (lock.clone(), vec![alias]));
        assert_eq!(out.device.state, DeviceState::Approved);
        assert_eq!(permissions(&home), vec![before]);
    }

    /// The reviewer's camera: waiting for a person, with its own MAC; a forged announcement naming
    /// the approved lock's HomeKit id and the camera's MAC must not fold the camera (and its MAC,
    /// on which network rights will be keyed) into the lock: a question for a person.
    #[test]
    fn a_waiting_device_with_an_id_of_its_own_is_never_folded_into_a_decided_one() {
        let mut home = Home::new();
        let camera = home.see(&sighting("_http._tcp", "camera", "camera.local.", "10.0.0.70", &[("mac", "cccccc000003")]), 1).device.id;
        let lock = decided(&mut home, &sighting("_hap._tcp", "Lock", "lock.local.", "10.0.0.6", &[("id", "11:22:33:44:55:66")]), 2, "lock");
        let forged = sighting("_hap._tcp", "Lock 2", "x.local.", "10.0.0.66", &[("id", "11:22:33:44:55:66"), ("mac", "cccccc000003")]);
        let out = home.see(&forged, 3);
        assert!(out.absorbed.is_empty());
        assert_eq!(out.proposed.len(), 1);
        assert_eq!(home.store.devices().unwrap().len(), 2, "the camera is still its own record");
        assert!(home.store.device(&camera).unwrap().identity_keys.contains(&"mac:cccccc000003".to_string()));
        assert!(!home.store.device(&lock).unwrap().identity_keys.contains(&"mac:cccccc000003".to_string()));
    }

    /// A forged announcement using the lock's host name and linking it to the plug: the question
    /// is asked, and the lock keeps its host name and services, so its own announcements still
    /// go to its own record.
    #[test]
    fn a_question_moves_no_key_of_the_records_it_asks_about() {
        let mut home = Home::new();
        let plug =
            decided(&mut home, &sighting("_shelly._tcp", "shellyplug-aaaaaa000001", "shellyplug.local.", "10.0.0.5", &[]), 1, "plug");
        let lock_announced = sighting("_hap._tcp", "Lock", "lock.local.", "10.0.0.6", &[("id", "11:22:33:44:55:66")]);
        let lock = decided(&mut home, &lock_announced, 2, "lock");
        let forged = sighting("_hap._tcp", "Lock", "lock.local.", "10.0.0.66", &[("id", "11:22:33:44:55:66"), ("mac", "aaaaaa000001")]);
        let out = home.see(&forged, 3);
        assert_eq!(out.device.id, lock, "the lock's own service stays filed under the lock");
        assert_eq!(out.proposed, vec![plug.clone()]);
        let keys = home.store.device(&lock).unwrap().identity_keys;
        assert!(keys.contains(&"host:lock".to_string()), "{keys:?}");
        assert!(!home.store.device(&plug).unwrap().identity_keys.iter().any(|k| k == "host:lock" || k.starts_with("hap:")));
        assert_eq!(home.see(&lock_announced, 4).device.id, lock);
    }

    /// A responder making up devices (a new instance, host and MAC in every announcement) and
    /// one making up services under one real device's MAC: both stay bounded.
    #[test]
    fn made_up_devices_and_services_do_not_fill_the_inventory() {
        let mut home = Home::new();
        for i in 0..MAX_UNDECIDED_DEVICES + 5 {
            let fake =
                sighting("_http._tcp", &format!("fake-{i}"), &format!("fake-{i}.local."), "10.0.0.66", &[("mac", &format!("02{i:010x}"))]);
            let filed = home.file(&fake, i);
            assert_eq!(matches!(filed, Filing::TooManyUndecided), i >= MAX_UNDECIDED_DEVICES, "{i}");
        }
        let first = home.store.devices().unwrap()[0].id.clone();
        home.store.set_state(&first, DeviceState::Approved, &Actor::owner(), "web", 1).unwrap();
        let room = sighting("_http._tcp", "real", "real.local.", "10.0.0.7", &[("mac", "aabbccddeeff")]);
        assert!(home.see(&room, 2).created, "room for one more once a person decided");
        for i in 0..MAX_SERVICES_PER_DEVICE + 10 {
            home.see(&sighting("_http._tcp", &format!("svc-{i}"), "real.local.", "10.0.0.7", &[("mac", "aabbccddeeff")]), 3 + i);
        }
        let real = home.see(&room, 100).device;
        assert_eq!(real.services.len() as i64, MAX_SERVICES_PER_DEVICE);
        assert!(real.services.iter().any(|s| s.instance == "real"), "the one just seen is kept");
    }

    #[test]
    fn self_contradicting_announcements_are_kept_bounded() {
        let mut home = Home::new();
        let max = crate::identity::MAX_CONFLICTS;
        for i in 0..max + 20 {
            let forged = sighting(
                "_http._tcp",
                &format!("forged-{i}"),
                "attacker.local.",
                "10.0.0.66",
                &[("mac", "aaaaaa000001"), ("macaddress", "bbbbbb000002")],
            );
            assert!(matches!(home.file(&forged, i), Filing::Contradiction(_)));
        }
        let kept = home.store.identity_conflicts().unwrap();
        assert_eq!(kept.len() as i64, max);
        assert_eq!(kept[0].announcement.instance, format!("forged-{}", max + 19), "the newest are kept");
        assert!(home.store.devices().unwrap().is_empty());
    }

    #[test]
    fn two_devices_with_one_default_host_name_but_different_macs_stay_two() {
        let mut home = Home::new();
        let a = home.see(&sighting("_esphomelib._tcp", "esp32", "esp32.local.", "10.0.0.20", &[("mac", "246f28aabbcc")]), 1);
        home.store.set_state(&a.device.id, DeviceState::Blocked, &Actor::owner(), "web", 2).unwrap();
        // The old one is unplugged; a new board with the same factory name takes its place.
        home.store.service_gone("_esphomelib._tcp", "esp32").unwrap();
        let b = home.see(&sighting("_esphomelib._tcp", "esp32", "esp32.local.", "10.0.0.21", &[("mac", "246f28ddeeff")]), 3);
        assert!(b.created, "a different MAC is a different device");
        assert_eq!(b.device.state, DeviceState::New);
        // The service moved: the old record is offline with nothing present, and says so.
        let left = b.left.expect("the device the service left");
        assert_eq!(left.id, a.device.id);
        assert!(!left.online);
        assert_eq!(left.state, DeviceState::Blocked);
        assert!(left.services.is_empty());
        // The host name went with the board that announces it now: its web service joins it.
        let http = home.see(&sighting("_http._tcp", "esp32 web", "esp32.local.", "10.0.0.21", &[]), 4);
        assert_eq!(http.device.id, b.device.id);
        assert_eq!(home.store.devices().unwrap().len(), 2);
    }

    #[test]
    fn goodbye_marks_offline_and_a_repeat_sighting_is_not_a_change() {
        let mut home = Home::new();
        let s = sighting("_wled._tcp", "wled-desk", "wled-desk.local.", "10.0.0.3", &[("mac", "a4cf12d0e1f2")]);
        let first = home.see(&s, 1);
        assert!(!home.see(&s, 2).changed);
        let gone = home.store.service_gone("_wled._tcp", "wled-desk").unwrap().unwrap();
        assert!(!gone.online);
        assert_eq!(gone.id, first.device.id);
        assert_eq!(home.store.service_gone("_wled._tcp", "wled-desk").unwrap(), None);
        assert_eq!(home.store.service_gone("_nope._tcp", "x").unwrap(), None);
        let back = home.see(&s, 3);
        assert!(back.changed && back.device.online);
    }

    #[test]
    fn state_changes_are_recorded_once_and_forget_removes_every_row() {
        let mut home = Home::new();
        let d = home.see(&sighting("_hap._tcp", "Lock", "lock.local.", "10.0.0.4", &[("ci", "6"), ("id", "AA:BB:CC:00:11:22")]), 1).device;
        let (_, changed) = home.store.set_state(&d.id, DeviceState::Approved, &Actor::owner(), "web", 2).unwrap();
        assert!(changed);
        let (_, again) = home.store.set_state(&d.id, DeviceState::Approved, &Actor::owner(), "web", 3).unwrap();
        assert!(!again);
        let (blocked, _) = home.store.set_state(&d.id, DeviceState::Blocked, &Actor::owner(), "cli", 4).unwrap();
        assert_eq!(blocked.state, DeviceState::Blocked);
        let history = home.store.device(&d.id).unwrap().history;
        let steps: Vec<_> = history.iter().map(|h| (h.from, h.to, h.origin.as_str())).collect();
        assert_eq!(
            steps,
            [
                (None, DeviceState::New, "discovery"),
                (Some(DeviceState::New), DeviceState::Approved, "web"),
                (Some(DeviceState::Approved), DeviceState::Blocked, "cli")
            ]
        );
        // What it left in the audit (a topic rule naming its data) and in rows that name no
        // device (an announcement naming its id, a refused attempt under its client id).
        use hearth_core::manifest::{Direction, RuleStatus, TopicRule};
        let rule = TopicRule { direction: Direction::Publish, pattern: "owntracks/anna/#".into(), status: RuleStatus::Allowed };
        home.store.set_topic_rule(&d.id, &rule, &Actor::owner(), "web", 4).unwrap();
        home.store.set_credential(&d.id, "sha256:00", &Actor::owner(), "web", 4).unwrap();
        home.store.bind_client_id(&d.id, Some("anna-phone"), &Actor::owner(), "web", 4).unwrap();
        let with_mac =
            sighting("_hap._tcp", "Lock", "lock.local.", "10.0.0.4", &[("ci", "6"), ("id", "AA:BB:CC:00:11:22"), ("mac", "aabbcc001122")]);
        assert_eq!(home.see(&with_mac, 4).device.id, d.id);
        let forged = sighting("_http._tcp", "x", "x.local.", "10.0.0.9", &[("mac", "aabbcc001122"), ("macaddress", "aabbcc001199")]);
        assert!(matches!(home.file(&forged, 4), Filing::Contradiction(_)));
        let unknown = hearth_core::gate::ConnectCount {
            device_id: None,
            address: Some("10.0.0.4".into()),
            refused: Some(hearth_core::gate::DropReason::BadCredentials),
            count: 1,
            first_at: 4,
            last_at: 4,
            client_id: "anna-phone".into(),
            username: None,
        };
        home.store.record_attempts(&[unknown]).unwrap();
        home.store.forget(&d.id, &Actor::owner(), "cli", 5).unwrap();
        for table in ["devices", "identity_keys", "sightings", "state_changes", "connect_attempts", "identity_conflicts", "credentials"] {
            let n: i64 = home.store.conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).unwrap();
            assert_eq!(n, 0, "{table}");
        }
        let audit = home.store.audit(10).unwrap();
        assert_eq!(audit.len(), 1, "only that it was forgotten: {audit:?}");
        assert_eq!(
            (audit[0].action.as_str(), audit[0].actor.as_str(), audit[0].subject.as_str()),
            ("forget_device", "owner", d.id.as_str())
        );
        assert!(matches!(home.store.forget(&d.id, &Actor::owner(), "cli", 6), Err(StoreError::UnknownDevice(_))));
        // Seen again after being forgotten: a new device, in quarantine again.
        let again = home.see(&sighting("_hap._tcp", "Lock", "lock.local.", "10.0.0.4", &[("ci", "6"), ("id", "AA:BB:CC:00:11:22")]), 7);
        assert!(again.created);
        assert_eq!(again.device.state, DeviceState::New);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.db");
        std::fs::write(&path, b"this is not sqlite, just some text that someone put here by mistake............").unwrap();
        let err = Store::open(&path).unwrap_err().to_string();
        assert!(err.contains("hearth.db") && err.contains("move it aside"), "{err}");
        assert!(std::fs::read(&path).unwrap().starts_with(b"this is not sqlite"));
    }
}
