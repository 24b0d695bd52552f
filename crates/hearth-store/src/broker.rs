//! The broker's records: each device's credential, its manifest (topic rules), devices added
//! by hand, and the gate's decisions.

use crate::audit::write as audit;
use crate::bulk::{self, text_or_null};
use crate::inventory::{corrupt, load_device, parse_id};
use crate::windowed;
use crate::{Store, StoreError};
use hearth_core::device::{Actor, DeviceId, DeviceState};
use hearth_core::gate::{Action, Decision};
use hearth_core::inventory::{Device, Millis};
use hearth_core::manifest::{Direction, Manifest, RuleStatus, TopicRule};
use rusqlite::types::ValueRef;
use rusqlite::{OptionalExtension, Transaction, params};
use std::collections::HashSet;

/// Most topics learned per device: a device publishing ever-new topics (a counter in the topic)
/// must not grow the table without bound; past this, refusals are still recorded, not proposed.
pub const MAX_LEARNED: i64 = 200;

/// What the gate needs to know about one device, loaded into the hub's memory so that no packet
/// waits on the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePolicy {
    pub device_id: DeviceId,
    pub state: DeviceState,
    pub username: Option<String>,
    pub secret_hash: Option<String>,
    pub client_id: Option<String>,
    /// Let in without a credential: its client id, and the source address it is pinned to.
    pub anonymous: Option<AnonymousPin>,
    pub manifest: Manifest,
}

/// A device let in without a credential, pinned to its client id and (if set) its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnonymousPin {
    pub client_id: String,
    pub address: Option<String>,
}

/// A device's credential as shown: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialInfo {
    pub username: String,
    pub client_id: Option<String>,
    pub issued_at: Millis,
}

/// A manifest rule as shown, with what the gate saw of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRule {
    pub rule: TopicRule,
    pub since: Millis,
    pub tries: u64,
    pub last_try: Option<Millis>,
}

/// One decision of the gate, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateRecord {
    pub at: Millis,
    pub device_id: Option<DeviceId>,
    pub client_id: String,
    pub action: Action,
    pub topic: String,
    pub bytes: u64,
    pub qos: u8,
    pub decision: Decision,
    /// A publish's payload, for the ledger; absent for other actions and when the recorder was
    /// too far behind to carry it.
    pub payload: Option<Vec<u8>>,
}

impl Store {
    /// A device added by a person (for one that does not announce itself over mDNS): approved
    /// from the start, with the history saying who added it.
    pub fn add_device(&mut self, id: &DeviceId, name: &str, actor: &Actor, origin: &str, now: Millis) -> Result<Device, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO devices (id, name, state, kind, vendor, model, rule, reason, first_seen, last_seen, online, named_by_person)
             VALUES (?1, ?2, 'approved', 'unknown', NULL, NULL, 'manual', 'added by hand', ?3, ?3, 0, 1)",
            params![id.as_str(), name, now],
        )?;
        tx.execute(
            "INSERT INTO state_changes (device_id, from_state, to_state, actor, origin, at) VALUES (?1, NULL, 'approved', ?2, ?3, ?4)",
            params![id.as_str(), actor.as_str(), origin, now],
        )?;
        let device = load_device(&tx, id)?;
        tx.commit()?;
        Ok(device)
    }

    /// A person names the device; discovery keeps that name from now on. Audited with the old
    /// and the new name (forget deletes the device's audit entries, names included).
    pub fn rename_device(&mut self, id: &DeviceId, name: &str, actor: &Actor, origin: &str, now: Millis) -> Result<Device, StoreError> {
        let tx = self.conn.transaction()?;
        let old = load_device(&tx, id)?.name;
        tx.execute("UPDATE devices SET name = ?2, named_by_person = 1 WHERE id = ?1", params![id.as_str(), name])?;
        // "<id> <old name> → <new name>": the arrow cannot be typed by accident.
        audit(&tx, now, actor, origin, "rename_device", &format!("{id} {old} \u{2192} {name}"))?;
        let device = load_device(&tx, id)?;
        tx.commit()?;
        Ok(device)
    }

    /// Issues (or replaces) the device's credential. The username is the device id: unique,
    /// stable across rotations, and it tells the gate whose packet it is without a lookup.
    pub fn set_credential(
        &mut self,
        id: &DeviceId,
        secret_hash: &str,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<CredentialInfo, StoreError> {
        let tx = self.conn.transaction()?;
        load_device(&tx, id)?;
        let existed = credential_of(&tx, id)?.is_some();
        tx.execute(
            "INSERT INTO credentials (device_id, username, secret_hash, client_id, issued_at) VALUES (?1, ?1, ?2, NULL, ?3)
             ON CONFLICT(device_id) DO UPDATE SET secret_hash = excluded.secret_hash, issued_at = excluded.issued_at",
            params![id.as_str(), secret_hash, now],
        )?;
        let action = if existed { "rotate_credential" } else { "issue_credential" };
        audit(&tx, now, actor, origin, action, id.as_str())?;
        let info = credential_of(&tx, id)?.ok_or_else(|| corrupt("credential vanished in its own transaction"))?;
        tx.commit()?;
        Ok(info)
    }

    /// A client that connected without a credential while anonymous clients are admitted: a new
    /// device, quarantined, pinned to its client id and address. Returns the existing device if
    /// one is already pinned to this client id.
    pub fn add_anonymous_device(
        &mut self,
        id: &DeviceId,
        client_id: &str,
        address: Option<&str>,
        now: Millis,
    ) -> Result<DeviceId, StoreError> {
        let tx = self.conn.transaction()?;
        let existing: Option<String> =
            tx.query_row("SELECT device_id FROM anonymous_clients WHERE client_id = ?1", [client_id], |r| r.get(0)).optional()?;
        if let Some(existing) = existing {
            return parse_id(&existing);
        }
        let undecided: i64 = tx.query_row("SELECT COUNT(*) FROM devices WHERE state = 'new'", [], |r| r.get(0))?;
        if undecided >= crate::inventory::MAX_UNDECIDED_DEVICES {
            return Err(StoreError::TooMany(format!(
                "{} devices waiting for a decision; approve, block or forget some before more are admitted",
                crate::inventory::MAX_UNDECIDED_DEVICES
            )));
        }
        tx.execute(
            "INSERT INTO devices (id, name, state, kind, vendor, model, rule, reason, first_seen, last_seen, online)
             VALUES (?1, ?2, 'new', 'unknown', NULL, NULL, 'mqtt-anonymous', 'connected to the broker without a credential', ?3, ?3, 0)",
            params![id.as_str(), format!("MQTT client {client_id}"), now],
        )?;
        tx.execute(
            "INSERT INTO state_changes (device_id, from_state, to_state, actor, origin, at) VALUES (?1, NULL, 'new', 'hearth', 'broker', ?2)",
            params![id.as_str(), now],
        )?;
        tx.execute(
            "INSERT INTO anonymous_clients (device_id, client_id, address, since) VALUES (?1, ?2, ?3, ?4)",
            params![id.as_str(), client_id, address, now],
        )?;
        tx.commit()?;
        Ok(id.clone())
    }

    /// Lets the device in without a credential, pinned to `client_id` and, if given, `address`;
    /// `None` removes the pin.
    pub fn set_anonymous(
        &mut self,
        id: &DeviceId,
        pin: Option<&AnonymousPin>,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        load_device(&tx, id)?;
        tx.execute("DELETE FROM anonymous_clients WHERE device_id = ?1", [id.as_str()])?;
        if let Some(pin) = pin {
            ensure_client_id_free(&tx, &pin.client_id, id, (actor, origin, now))?;
            tx.execute(
                "INSERT INTO anonymous_clients (device_id, client_id, address, since) VALUES (?1, ?2, ?3, ?4)",
                params![id.as_str(), pin.client_id, pin.address, now],
            )?;
        }
        audit(&tx, now, actor, origin, if pin.is_some() { "allow_anonymous" } else { "disallow_anonymous" }, id.as_str())?;
        tx.commit()?;
        Ok(())
    }

    /// Revokes the device's credential. Returns false if it had none.
    pub fn revoke_credential(&mut self, id: &DeviceId, actor: &Actor, origin: &str, now: Millis) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        load_device(&tx, id)?;
        let removed = tx.execute("DELETE FROM credentials WHERE device_id = ?1", [id.as_str()])? == 1;
        if removed {
            audit(&tx, now, actor, origin, "revoke_credential", id.as_str())?;
        }
        tx.commit()?;
        Ok(removed)
    }

    /// Binds the credential to one client id (or unbinds it with `None`), so that no other
    /// client can take the device's place.
    pub fn bind_client_id(
        &mut self,
        id: &DeviceId,
        client_id: Option<&str>,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        load_device(&tx, id)?;
        if let Some(cid) = client_id {
            ensure_client_id_free(&tx, cid, id, (actor, origin, now))?;
        }
        let changed = tx.execute("UPDATE credentials SET client_id = ?2 WHERE device_id = ?1", params![id.as_str(), client_id])?;
        if changed == 0 {
            return Err(StoreError::NoCredential(id.to_string()));
        }
        audit(&tx, now, actor, origin, if client_id.is_some() { "bind_client_id" } else { "unbind_client_id" }, id.as_str())?;
        tx.commit()?;
        Ok(())
    }

    /// The device's anonymous pin, if it may connect without a credential.
    pub fn anonymous(&self, id: &DeviceId) -> Result<Option<AnonymousPin>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT client_id, address FROM anonymous_clients WHERE device_id = ?1", [id.as_str()], |r| {
                Ok(AnonymousPin { client_id: r.get(0)?, address: r.get(1)? })
            })
            .optional()?)
    }

    pub fn credential(&self, id: &DeviceId) -> Result<Option<CredentialInfo>, StoreError> {
        load_device(&self.conn, id)?;
        credential_of(&self.conn, id)
    }

    /// Sets a person's rule for a topic pattern (allowed or denied), replacing a learned one.
    pub fn set_topic_rule(&mut self, id: &DeviceId, rule: &TopicRule, actor: &Actor, origin: &str, now: Millis) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        load_device(&tx, id)?;
        tx.execute(
            "INSERT INTO topic_rules (device_id, direction, pattern, status, since) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(device_id, direction, pattern) DO UPDATE SET status = excluded.status, since = excluded.since",
            params![id.as_str(), rule.direction.as_str(), rule.pattern, rule.status.as_str(), now],
        )?;
        let verb = match rule.status {
            RuleStatus::Allowed => "allow",
            RuleStatus::Denied => "deny",
            RuleStatus::Learned => "learn",
        };
        let action = format!("{verb}_{}", rule.direction.as_str());
        audit(&tx, now, actor, origin, &action, &format!("{} {}", id.as_str(), rule.pattern))?;
        tx.commit()?;
        Ok(())
    }

    pub fn topic_rules(&self, id: &DeviceId) -> Result<Vec<StoredRule>, StoreError> {
        load_device(&self.conn, id)?;
        let mut stmt = self.conn.prepare(
            "SELECT direction, pattern, status, since, tries, last_try FROM topic_rules WHERE device_id = ?1 ORDER BY direction, status, pattern",
        )?;
        let rows = stmt.query_map([id.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get::<_, i64>(4)?, r.get(5)?))
        })?;
        rows.map(|row| {
            let (direction, pattern, status, since, tries, last_try) = row?;
            Ok(StoredRule { rule: rule_from(&direction, pattern, &status)?, since, tries: tries.max(0) as u64, last_try })
        })
        .collect()
    }

    /// Everything the gate needs, for every device.
    pub fn policies(&self) -> Result<Vec<DevicePolicy>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT d.id, d.state, c.username, c.secret_hash, c.client_id, a.client_id, a.address FROM devices d
             LEFT JOIN credentials c ON c.device_id = d.id LEFT JOIN anonymous_clients a ON a.device_id = d.id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let pin = r.get::<_, Option<String>>(5)?.map(|client_id| (client_id, r.get::<_, Option<String>>(6)));
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, pin))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut rules = self.conn.prepare("SELECT device_id, direction, pattern, status FROM topic_rules WHERE status != 'learned'")?;
        let mut manifests: std::collections::HashMap<String, Manifest> = std::collections::HashMap::new();
        for row in
            rules.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?)))?
        {
            let (device, direction, pattern, status) = row?;
            manifests.entry(device).or_default().rules.push(rule_from(&direction, pattern, &status)?);
        }
        rows.into_iter()
            .map(|(id, state, username, secret_hash, client_id, pin)| {
                let anonymous = match pin {
                    Some((client_id, address)) => Some(AnonymousPin { client_id, address: address? }),
                    None => None,
                };
                Ok(DevicePolicy {
                    anonymous,
                    manifest: manifests.remove(&id).unwrap_or_default(),
                    device_id: parse_id(&id)?,
                    state: state.parse().map_err(corrupt)?,
                    username,
                    secret_hash,
                    client_id,
                })
            })
            .collect()
    }

    /// The devices that tried topics nobody has decided yet (learned rules) or announce services
    /// (whose names propose a prefix): their proposals depend on the other devices' rules.
    pub fn devices_with_proposals(&self) -> Result<Vec<DeviceId>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT device_id FROM topic_rules WHERE status = 'learned' UNION SELECT device_id FROM sightings ORDER BY device_id",
        )?;
        let ids = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        ids.iter().map(|id| parse_id(id)).collect()
    }

    /// Files a batch of the gate's decisions in one transaction, and learns the topics that
    /// were refused for want of a rule, so a person can allow them in one step. Decisions about a
    /// device forgotten while they were queued are not filed.
    pub fn record_decisions(&mut self, batch: &[GateRecord]) -> Result<(), StoreError> {
        // What is on file is read first, and nothing may change it before the rows go in.
        let tx = self.writing()?;
        {
            let on_file = devices_on_file(&tx, batch.iter().filter_map(|r| r.device_id.as_ref()))?;
            let filed: Vec<&GateRecord> = batch.iter().filter(|r| r.device_id.as_ref().is_none_or(|d| on_file.contains(d))).collect();
            let rows: Vec<[ValueRef<'_>; 9]> = filed.iter().map(|r| decision_row(r)).collect();
            bulk::insert_rows(
                &tx,
                "INSERT INTO gate_decisions (at, device_id, client_id, action, topic, bytes, qos, decision, reason)",
                &rows,
            )?;
            let mut learn = tx.prepare_cached(
                "INSERT INTO topic_rules (device_id, direction, pattern, status, since, tries, last_try)
                 SELECT ?1, ?2, ?3, 'learned', ?4, 1, ?4 WHERE EXISTS (SELECT 1 FROM devices WHERE id = ?1)
                   AND (EXISTS (SELECT 1 FROM topic_rules WHERE device_id = ?1 AND direction = ?2 AND pattern = ?3)
                        OR (SELECT COUNT(*) FROM topic_rules WHERE device_id = ?1 AND status = 'learned') < ?5)
                 ON CONFLICT(device_id, direction, pattern) DO UPDATE SET tries = tries + 1, last_try = excluded.last_try",
            )?;
            for r in filed {
                let learnable = matches!(recorded_decision(&r.decision).1, Some("not_in_manifest" | "quarantined"));
                let direction = match r.action {
                    Action::Publish => Some(Direction::Publish),
                    Action::Subscribe => Some(Direction::Subscribe),
                    Action::Connect | Action::Deliver => None,
                };
                if let (true, Some(device), Some(direction)) = (learnable, &r.device_id, direction) {
                    learn.execute(params![device.as_str(), direction.as_str(), r.topic, r.at, MAX_LEARNED])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes decisions recorded before `before`; returns how many. Device by device, by the
    /// index of device and time (see `windowed`): hourly, over a week of a busy home's decisions,
    /// a single `DELETE … WHERE at < ?` read the whole table.
    pub fn prune_decisions(&mut self, before: Millis) -> Result<usize, StoreError> {
        let tx = self.writing()?;
        let n = windowed::delete_before(&tx, windowed::Windowed::Decisions, before)?;
        tx.commit()?;
        Ok(n)
    }

    /// The device's most recent gate decisions, newest first.
    pub fn recent_decisions(&self, id: &DeviceId, limit: u32) -> Result<Vec<GateRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT at, client_id, action, topic, bytes, qos, decision, reason FROM gate_decisions WHERE device_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![id.as_str(), limit], |r| {
            Ok((
                r.get::<_, Millis>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, u8>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<String>>(7)?,
            ))
        })?;
        rows.map(|row| {
            let (at, client_id, action, topic, bytes, qos, decision, reason) = row?;
            Ok(GateRecord {
                at,
                device_id: Some(id.clone()),
                client_id,
                action: parse_action(&action)?,
                topic,
                bytes: bytes.max(0) as u64,
                qos,
                decision: parse_decision(&decision, reason.as_deref())?,
                payload: None,
            })
        })
        .collect()
    }
}

/// A client id is one device's: bound to its credential, or pinned for its anonymous access. A
/// person's binding takes it from a pin of a device nobody approved (migration mode pins every
/// newcomer, a squatter among them); a binding or an approved device's pin stays, and says whose.
fn ensure_client_id_free(
    tx: &rusqlite::Transaction<'_>,
    client_id: &str,
    for_device: &DeviceId,
    (actor, origin, now): (&Actor, &str, Millis),
) -> Result<(), StoreError> {
    let squatter: Option<String> = tx
        .query_row(
            "DELETE FROM anonymous_clients WHERE client_id = ?1 AND device_id != ?2
               AND device_id IN (SELECT id FROM devices WHERE state != 'approved') RETURNING device_id",
            params![client_id, for_device.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(squatter) = squatter {
        // In the audit, naming the device that lost it and the one that took it.
        audit(tx, now, actor, origin, "unpin_client_id", &format!("{squatter} {for_device}"))?;
    }
    let holder: Option<String> = tx
        .query_row(
            "SELECT device_id FROM credentials WHERE client_id = ?1 AND device_id != ?2
             UNION ALL SELECT device_id FROM anonymous_clients WHERE client_id = ?1 AND device_id != ?2",
            params![client_id, for_device.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    match holder {
        Some(device) => Err(StoreError::ClientIdTaken { client_id: client_id.to_owned(), device }),
        None => Ok(()),
    }
}

fn credential_of(conn: &rusqlite::Connection, id: &DeviceId) -> Result<Option<CredentialInfo>, StoreError> {
    Ok(conn
        .query_row("SELECT username, client_id, issued_at FROM credentials WHERE device_id = ?1", [id.as_str()], |r| {
            Ok(CredentialInfo { username: r.get(0)?, client_id: r.get(1)?, issued_at: r.get(2)? })
        })
        .optional()?)
}

fn rule_from(direction: &str, pattern: String, status: &str) -> Result<TopicRule, StoreError> {
    Ok(TopicRule {
        direction: Direction::parse(direction).ok_or_else(|| corrupt(format!("topic rule direction {direction}")))?,
        pattern,
        status: RuleStatus::parse(status).ok_or_else(|| corrupt(format!("topic rule status {status}")))?,
    })
}

fn parse_action(s: &str) -> Result<Action, StoreError> {
    match s {
        "connect" => Ok(Action::Connect),
        "publish" => Ok(Action::Publish),
        "subscribe" => Ok(Action::Subscribe),
        "deliver" => Ok(Action::Deliver),
        other => Err(corrupt(format!("gate action {other}"))),
    }
}

/// A decision and its reason, as `gate_decisions` and `ledger_messages` file them (`allow`,
/// `redact`, `drop` and why); [`parse_decision`] reads them back.
pub(crate) fn recorded_decision(decision: &Decision) -> (&'static str, Option<&'static str>) {
    match decision {
        Decision::Allow => ("allow", None),
        Decision::Redact(_) => ("redact", None),
        Decision::Drop(reason) => ("drop", Some(reason.as_str())),
    }
}

fn parse_decision(decision: &str, reason: Option<&str>) -> Result<Decision, StoreError> {
    match (decision, reason) {
        ("allow", _) => Ok(Decision::Allow),
        ("redact", _) => Ok(Decision::Redact(vec![])),
        ("drop", Some(r)) => {
            let reason = hearth_core::gate::DropReason::parse(r).ok_or_else(|| corrupt(format!("drop reason {r}")))?;
            Ok(Decision::Drop(reason))
        }
        (other, _) => Err(corrupt(format!("gate decision {other}"))),
    }
}

/// The devices among `ids` that are on file (each looked up once).
fn devices_on_file<'a>(tx: &Transaction<'_>, ids: impl Iterator<Item = &'a DeviceId>) -> Result<HashSet<&'a DeviceId>, StoreError> {
    let mut exists = tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM devices WHERE id = ?1)")?;
    let mut found = HashSet::new();
    let mut asked = HashSet::new();
    for id in ids {
        if asked.insert(id) && exists.query_row([id.as_str()], |r| r.get::<_, bool>(0))? {
            found.insert(id);
        }
    }
    Ok(found)
}

/// A decision as a row of `gate_decisions`, in the order `record_decisions` names the columns.
fn decision_row(r: &GateRecord) -> [ValueRef<'_>; 9] {
    let (decision, reason) = recorded_decision(&r.decision);
    [
        ValueRef::Integer(r.at),
        text_or_null(r.device_id.as_ref().map(DeviceId::as_str)),
        ValueRef::from(r.client_id.as_str()),
        ValueRef::from(r.action.as_str()),
        ValueRef::from(r.topic.as_str()),
        ValueRef::Integer(r.bytes as i64),
        ValueRef::Integer(i64::from(r.qos)),
        ValueRef::from(decision),
        text_or_null(reason),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_core::gate::DropReason;

    fn store_with_device() -> (Store, DeviceId) {
        let mut store = Store::open_in_memory().unwrap();
        let id = DeviceId::from_random(0xabc);
        store.add_device(&id, "Garage sensor", &Actor::owner(), "cli", 1).unwrap();
        (store, id)
    }

    fn other_device(store: &mut Store) -> DeviceId {
        let id = DeviceId::from_random(0xdef);
        store.add_device(&id, "Other", &Actor::owner(), "cli", 1).unwrap();
        id
    }

    fn record(id: &DeviceId, action: Action, topic: &str, decision: Decision) -> GateRecord {
        GateRecord {
            at: 10,
            device_id: Some(id.clone()),
            client_id: "c1".into(),
            action,
            topic: topic.into(),
            bytes: 5,
            qos: 1,
            decision,
            payload: None,
        }
    }

    #[test]
    fn a_device_added_by_hand_is_approved_with_its_history() {
        let (store, id) = store_with_device();
        let detail = store.device(&id).unwrap();
        assert_eq!(detail.device.state, DeviceState::Approved);
        assert_eq!(detail.device.rule, "manual");
        assert_eq!((detail.history[0].from, detail.history[0].to, detail.history[0].origin.as_str()), (None, DeviceState::Approved, "cli"));
    }

    #[test]
    fn credentials_are_issued_rotated_and_revoked_with_an_audit_and_no_secret() {
        let (mut store, id) = store_with_device();
        let info = store.set_credential(&id, "sha256:aa", &Actor::owner(), "web", 2).unwrap();
        assert_eq!(info.username, id.as_str());
        store.set_credential(&id, "sha256:bb", &Actor::owner(), "cli", 3).unwrap();
        let policy = store.policies().unwrap().into_iter().find(|p| p.device_id == id).unwrap();
        assert_eq!(policy.secret_hash.as_deref(), Some("sha256:bb"));
        store.bind_client_id(&id, Some("garage-1"), &Actor::owner(), "cli", 4).unwrap();
        assert_eq!(store.credential(&id).unwrap().unwrap().client_id.as_deref(), Some("garage-1"));
        assert!(store.revoke_credential(&id, &Actor::owner(), "web", 5).unwrap());
        assert!(!store.revoke_credential(&id, &Actor::owner(), "web", 6).unwrap());
        assert!(matches!(store.bind_client_id(&id, None, &Actor::owner(), "cli", 7), Err(StoreError::NoCredential(_))));
        let actions: Vec<String> = store.audit(10).unwrap().into_iter().rev().map(|a| a.action).collect();
        assert_eq!(actions, ["issue_credential", "rotate_credential", "bind_client_id", "revoke_credential"]);
        // One client id, one device.
        let other = other_device(&mut store);
        store.set_credential(&id, "sha256:cc", &Actor::owner(), "cli", 8).unwrap();
        store.set_credential(&other, "sha256:dd", &Actor::owner(), "cli", 8).unwrap();
        store.bind_client_id(&id, Some("garage-1"), &Actor::owner(), "cli", 9).unwrap();
        assert!(matches!(store.bind_client_id(&other, Some("garage-1"), &Actor::owner(), "cli", 9), Err(StoreError::ClientIdTaken { .. })));
    }

    #[test]
    fn refused_topics_are_learned_and_a_person_can_allow_them() {
        let (mut store, id) = store_with_device();
        let refused = Decision::Drop(DropReason::NotInManifest);
        store
            .record_decisions(&[
                record(&id, Action::Publish, "tele/plug1/SENSOR", refused.clone()),
                record(&id, Action::Publish, "tele/plug1/SENSOR", refused.clone()),
                record(&id, Action::Subscribe, "cmnd/plug1/#", refused),
                record(&id, Action::Publish, "$SYS/x", Decision::Drop(DropReason::SystemTopic)),
            ])
            .unwrap();
        let rules = store.topic_rules(&id).unwrap();
        assert_eq!(rules.len(), 2, "system topics are not proposed: {rules:?}");
        let sensor = rules.iter().find(|r| r.rule.pattern == "tele/plug1/SENSOR").unwrap();
        assert_eq!((sensor.rule.status, sensor.tries), (RuleStatus::Learned, 2));
        // Learned rules do not reach the gate; allowed ones do.
        assert!(store.policies().unwrap()[0].manifest.rules.is_empty());
        let allow = TopicRule { direction: Direction::Publish, pattern: "tele/plug1/#".into(), status: RuleStatus::Allowed };
        store.set_topic_rule(&id, &allow, &Actor::owner(), "web", 11).unwrap();
        assert_eq!(store.policies().unwrap()[0].manifest.rules, [allow]);
        assert_eq!(store.recent_decisions(&id, 10).unwrap().len(), 4);
        assert_eq!(store.audit(1).unwrap()[0].action, "allow_publish");
    }

    #[test]
    fn forgetting_a_device_removes_its_broker_rows() {
        let (mut store, id) = store_with_device();
        store.set_credential(&id, "sha256:aa", &Actor::owner(), "web", 2).unwrap();
        store.record_decisions(&[record(&id, Action::Publish, "a/b", Decision::Drop(DropReason::NotInManifest))]).unwrap();
        store.forget(&id, &Actor::owner(), "cli", 3).unwrap();
        for table in ["credentials", "topic_rules", "gate_decisions"] {
            let n: i64 = store.conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).unwrap();
            assert_eq!(n, 0, "{table}");
        }
        // Pruning removes what was recorded before the cut.
        let other = other_device(&mut store);
        store.record_decisions(&[record(&other, Action::Publish, "a/b", Decision::Allow)]).unwrap();
        assert_eq!(store.prune_decisions(11).unwrap(), 1);
        // A decision for a device forgotten meanwhile (still queued for the writer) is dropped.
        store.record_decisions(&[record(&id, Action::Publish, "a/b", Decision::Allow)]).unwrap();
        let n: i64 = store.conn.query_row("SELECT COUNT(*) FROM gate_decisions", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0);
    }

    /// A filed decision: when, about which device, on which topic, the decision and its reason.
    type FiledRow = (i64, Option<String>, String, String, Option<String>);

    /// A batch of many statements' worth: every decision is filed in order, those about no device
    /// too, and those about a device forgotten while they were queued are left out wherever they
    /// fall, as each row's own check left them out before. (They are left out before the rows are
    /// cut into statements: the 72 filed are two statements of 32 and eight of one row.)
    #[test]
    fn a_long_batch_is_filed_in_order_without_a_forgotten_devices_decisions() {
        let (mut store, gone) = store_with_device();
        let kept = other_device(&mut store);
        store.forget(&gone, &Actor::owner(), "cli", 2).unwrap();
        let batch: Vec<GateRecord> = (0..90)
            .map(|n| {
                let mut r = record(&kept, Action::Publish, &format!("t/{n}"), Decision::Allow);
                match n % 5 {
                    1 => r.device_id = Some(gone.clone()),
                    3 => {
                        r.device_id = None;
                        r.action = Action::Connect;
                        r.decision = Decision::Drop(DropReason::BadCredentials);
                    }
                    _ => {}
                }
                r.at = n;
                r
            })
            .collect();
        store.record_decisions(&batch).unwrap();
        let filed: Vec<FiledRow> = store
            .conn
            .prepare("SELECT at, device_id, topic, decision, reason FROM gate_decisions ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let expected: Vec<FiledRow> = batch
            .iter()
            .filter(|r| r.device_id.as_ref() != Some(&gone))
            .map(|r| {
                let (decision, reason) = recorded_decision(&r.decision);
                (r.at, r.device_id.as_ref().map(|d| d.to_string()), r.topic.clone(), decision.to_owned(), reason.map(str::to_owned))
            })
            .collect();
        assert_eq!(expected.len(), 72);
        assert_eq!(filed, expected);
    }

    /// Retention deletes what `WHERE at < cut` deletes, device by device: several devices', those
    /// about no device, and a row whose device is not on file (written with foreign keys off, as
    /// the sqlite3 shell does by default), each on both sides of the cut.
    #[test]
    fn retention_deletes_every_old_decision_and_keeps_every_newer_one() {
        let (mut store, first) = store_with_device();
        let second = other_device(&mut store);
        let batch: Vec<GateRecord> = (0..40)
            .map(|n| {
                let mut r = record(if n % 2 == 0 { &first } else { &second }, Action::Publish, "a/b", Decision::Allow);
                if n % 7 == 0 {
                    r.device_id = None;
                }
                r.at = n;
                r
            })
            .collect();
        store.record_decisions(&batch).unwrap();
        store.conn.pragma_update(None, "foreign_keys", false).unwrap();
        store
            .conn
            .execute_batch(
                "INSERT INTO gate_decisions (at, device_id, client_id, action, topic, bytes, qos, decision, reason)
                 VALUES (5, 'd-0000000f00d5', 'c', 'publish', 'x', 1, 0, 'allow', NULL),
                        (35, 'd-0000000f00d5', 'c', 'publish', 'x', 1, 0, 'allow', NULL)",
            )
            .unwrap();
        store.conn.pragma_update(None, "foreign_keys", true).unwrap();
        let ats = |store: &Store| -> Vec<i64> {
            store
                .conn
                .prepare("SELECT at FROM gate_decisions ORDER BY at, id")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let expected: Vec<i64> = ats(&store).into_iter().filter(|at| *at >= 20).collect();
        assert_eq!(store.prune_decisions(20).unwrap(), 21);
        assert_eq!(ats(&store), expected);
    }

    /// A delivery of the forgotten device's message refused to another device names its topic
    /// (`owntracks/anna/phone`): it goes too, and the other device's own records stay.
    #[test]
    fn forgetting_a_device_removes_refused_deliveries_of_its_messages_to_others() {
        let (mut store, phone) = store_with_device();
        let app = other_device(&mut store);
        let published = record(&phone, Action::Publish, "owntracks/anna/phone", Decision::Allow);
        store.record_decisions(std::slice::from_ref(&published)).unwrap();
        store.record_messages(&[crate::LedgerEntry::of(&published).unwrap()]).unwrap();
        let refused = Decision::Drop(DropReason::NotInManifest);
        store
            .record_decisions(&[
                record(&app, Action::Deliver, "owntracks/anna/phone", refused.clone()),
                record(&app, Action::Deliver, "app/own", refused),
            ])
            .unwrap();
        store.forget(&phone, &Actor::owner(), "cli", 3).unwrap();
        let left: Vec<String> = store.recent_decisions(&app, 10).unwrap().into_iter().map(|d| d.topic).collect();
        assert_eq!(left, ["app/own"]);
    }
}
