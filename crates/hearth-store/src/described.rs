//! What devices' discovery messages describe: devices (children behind a bridge, or the device
//! itself as its firmware names it) and their entities, filed per discovery topic (`scope`).

use crate::inventory::parse_id;
use crate::{Store, StoreError};
use hearth_core::device::{Actor, DeviceId};
use hearth_core::discovery::{DescribedDevice, Discovery, Entity, EntityClaim, Source};
use hearth_core::inventory::Millis;
use rusqlite::{OptionalExtension, params};

/// Who describes what: each discovery topic and each `unique_id`, and the device that does, so
/// the gate can refuse a second device describing the same entity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveryClaims {
    pub scopes: Vec<(String, DeviceId)>,
    pub unique_ids: Vec<(String, DeviceId)>,
}

/// A device's described devices and entities, as filed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Described {
    pub devices: Vec<(Source, DescribedDevice)>,
    pub entities: Vec<(Source, Entity, Millis)>,
}

/// A device, and the components and device classes of the entities it describes.
pub type EntityKinds = (DeviceId, Vec<String>, Vec<String>);

impl Store {
    /// Files what one discovery message of `device` says, replacing what the previous message
    /// on the same topic said (an empty message leaves nothing).
    pub fn file_discovery(&mut self, device: &DeviceId, d: &Discovery, now: Millis) -> Result<(), StoreError> {
        let source = d.source.map_or("", Source::as_str);
        let tx = self.conn.transaction()?;
        // The gate refuses this before it gets here; the store holds to it on its own too, for
        // two devices racing to describe one entity.
        let holder: Option<(String, String)> = tx
            .query_row(
                "SELECT scope, device_id FROM entities WHERE scope = ?1 AND device_id != ?2
                 UNION ALL SELECT scope, device_id FROM described_devices WHERE scope = ?1 AND device_id != ?2
                 UNION ALL SELECT unique_id, device_id FROM entities WHERE device_id != ?2
                     AND unique_id IN (SELECT value FROM json_each(?3))
                 LIMIT 1",
                params![d.scope, device.as_str(), serde_json::to_string(&d.unique_ids().collect::<Vec<_>>()).unwrap_or_default()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((entity, device)) = holder {
            return Err(StoreError::EntityTaken { entity, device });
        }
        // A person gave one of its entities to another device.
        let claims: Vec<String> = std::iter::once(EntityClaim::Topic(d.scope.clone()))
            .chain(d.unique_ids().map(|u| EntityClaim::UniqueId(u.to_owned())))
            .map(|c| c.key())
            .collect();
        let owner: Option<(String, String)> = tx
            .query_row(
                "SELECT claim, device_id FROM entity_owners WHERE device_id != ?1 AND claim IN (SELECT value FROM json_each(?2)) LIMIT 1",
                params![device.as_str(), serde_json::to_string(&claims).unwrap_or_default()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((entity, device)) = owner {
            return Err(StoreError::EntityTaken { entity, device });
        }
        tx.execute("DELETE FROM described_devices WHERE device_id = ?1 AND scope = ?2", params![device.as_str(), d.scope])?;
        tx.execute("DELETE FROM entities WHERE device_id = ?1 AND scope = ?2", params![device.as_str(), d.scope])?;
        {
            let mut described = tx.prepare(
                "INSERT OR REPLACE INTO described_devices (device_id, scope, source, key, name, vendor, model, readings_topic)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for c in &d.devices {
                described.execute(params![device.as_str(), d.scope, source, c.key, c.name, c.vendor, c.model, c.readings_topic])?;
            }
            let mut entity = tx.prepare(
                "INSERT OR REPLACE INTO entities (device_id, scope, source, key, described, component, name, unique_id, state_topic,
                     command_topic, device_class, unit, updated_at, value_template)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?;
            for e in &d.entities {
                entity.execute(params![
                    device.as_str(),
                    d.scope,
                    source,
                    e.key,
                    e.described,
                    e.component,
                    e.name,
                    e.unique_id,
                    e.state_topic,
                    e.command_topic,
                    e.device_class,
                    e.unit,
                    now,
                    e.value_template
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every discovery topic and `unique_id` on file, and whose it is.
    pub fn discovery_claims(&self) -> Result<DiscoveryClaims, StoreError> {
        let pairs = |sql: &str| -> Result<Vec<(String, DeviceId)>, StoreError> {
            let mut stmt = self.conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            rows.map(|row| {
                let (claim, id) = row?;
                Ok((claim, parse_id(&id)?))
            })
            .collect()
        };
        // A person's word comes last, so that it wins.
        Ok(DiscoveryClaims {
            scopes: pairs(
                "SELECT scope, device_id FROM (SELECT scope, device_id, 0 AS o FROM described_devices UNION SELECT scope, device_id, 0 FROM entities
                 UNION SELECT substr(claim, 7), device_id, 1 FROM entity_owners WHERE claim LIKE 'topic:%') ORDER BY o",
            )?,
            unique_ids: pairs(
                "SELECT unique_id, device_id FROM (SELECT DISTINCT unique_id, device_id, 0 AS o FROM entities WHERE unique_id IS NOT NULL
                 UNION SELECT substr(claim, 5), device_id, 1 FROM entity_owners WHERE claim LIKE 'uid:%') ORDER BY o",
            )?,
        })
    }

    /// A person gives an entity to `device`: whatever another device filed of it goes, and from
    /// now on only `device` may describe it. Returns the discovery messages taken (the device
    /// that sent each, and its topic).
    pub fn give_entity(
        &mut self,
        device: &DeviceId,
        claim: &EntityClaim,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<Vec<(DeviceId, String)>, StoreError> {
        let tx = self.conn.transaction()?;
        crate::inventory::load_device(&tx, device)?;
        // The discovery messages (device, topic) of other devices that describe it: each goes
        // whole, as if withdrawn (a message is one unit: its device and its entities).
        let sql = match claim {
            EntityClaim::Topic(_) => {
                "SELECT DISTINCT device_id, scope FROM entities WHERE scope = ?1 AND device_id != ?2
                 UNION SELECT device_id, scope FROM described_devices WHERE scope = ?1 AND device_id != ?2"
            }
            EntityClaim::UniqueId(_) => "SELECT DISTINCT device_id, scope FROM entities WHERE unique_id = ?1 AND device_id != ?2",
        };
        let value = match claim {
            EntityClaim::Topic(v) | EntityClaim::UniqueId(v) => v,
        };
        let taken: Vec<(String, String)> = {
            let mut stmt = tx.prepare(sql)?;
            stmt.query_map(params![value, device.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?
        };
        for (holder, scope) in &taken {
            tx.execute("DELETE FROM entities WHERE device_id = ?1 AND scope = ?2", params![holder, scope])?;
            tx.execute("DELETE FROM described_devices WHERE device_id = ?1 AND scope = ?2", params![holder, scope])?;
        }
        tx.execute(
            "INSERT INTO entity_owners (claim, device_id, at) VALUES (?1, ?2, ?3) ON CONFLICT (claim) DO UPDATE SET device_id = excluded.device_id, at = excluded.at",
            params![claim.key(), device.as_str(), now],
        )?;
        crate::audit::write(&tx, now, actor, origin, "give_entity", &format!("{device} {}", claim.key()))?;
        tx.commit()?;
        taken.into_iter().map(|(holder, scope)| Ok((parse_id(&holder)?, scope))).collect()
    }

    /// What `device`'s discovery messages describe. A device described under several topics
    /// (one Home Assistant config per entity) is listed once.
    /// Per device, the components and device classes of the entities it describes (what makes
    /// a device sensitive: a lock, an alarm panel, a garage door).
    pub fn entity_kinds(&self) -> Result<Vec<EntityKinds>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT device_id, component, device_class FROM entities ORDER BY device_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?)))?;
        let mut out: Vec<EntityKinds> = Vec::new();
        for row in rows {
            let (device, component, class) = row?;
            let device = DeviceId::parse(&device).map_err(crate::inventory::corrupt)?;
            if out.last().is_none_or(|(d, _, _)| *d != device) {
                out.push((device, Vec::new(), Vec::new()));
            }
            if let Some((_, components, classes)) = out.last_mut() {
                components.push(component);
                classes.extend(class);
            }
        }
        Ok(out)
    }

    /// The state topics of every described entity (what the UI shows as a device's state).
    pub fn state_topics(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt =
            self.conn.prepare("SELECT DISTINCT state_topic FROM entities WHERE state_topic IS NOT NULL AND command_topic IS NOT NULL")?;
        Ok(stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?)
    }

    /// Every device that has filed a discovery message.
    pub fn describing_devices(&self) -> Result<Vec<DeviceId>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT device_id FROM described_devices UNION SELECT device_id FROM entities")?;
        let ids = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        ids.iter().map(|id| parse_id(id)).collect()
    }

    pub fn described(&self, device: &DeviceId) -> Result<Described, StoreError> {
        let source = |s: String| Source::parse(&s).ok_or_else(|| crate::inventory::corrupt(format!("discovery source {s}")));
        let mut stmt = self.conn.prepare(
            "SELECT source, key, name, vendor, model, MAX(readings_topic) FROM described_devices WHERE device_id = ?1 GROUP BY key ORDER BY name, key",
        )?;
        let devices = stmt
            .query_map([device.as_str()], |r| {
                let described =
                    DescribedDevice { key: r.get(1)?, name: r.get(2)?, vendor: r.get(3)?, model: r.get(4)?, readings_topic: r.get(5)? };
                Ok((r.get::<_, String>(0)?, described))
            })?
            .map(|row| {
                let (s, d) = row?;
                Ok((source(s)?, d))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT source, key, described, component, name, unique_id, state_topic, command_topic, device_class, unit, updated_at,
                    value_template
             FROM entities WHERE device_id = ?1 ORDER BY described, name, key",
        )?;
        let entities = stmt
            .query_map([device.as_str()], |r| {
                let entity = Entity {
                    key: r.get(1)?,
                    described: r.get(2)?,
                    component: r.get(3)?,
                    name: r.get(4)?,
                    unique_id: r.get(5)?,
                    state_topic: r.get(6)?,
                    command_topic: r.get(7)?,
                    device_class: r.get(8)?,
                    unit: r.get(9)?,
                    value_template: r.get(11)?,
                };
                Ok((r.get::<_, String>(0)?, entity, r.get::<_, Millis>(10)?))
            })?
            .map(|row| {
                let (s, e, at) = row?;
                Ok((source(s)?, e, at))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Described { devices, entities })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_core::device::Actor;

    fn store_with(ids: &[&str]) -> (Store, Vec<DeviceId>) {
        let mut store = Store::open_in_memory().unwrap();
        let ids: Vec<DeviceId> = ids.iter().map(|s| DeviceId::parse(s).unwrap()).collect();
        for id in &ids {
            store.add_device(id, "Bridge", &Actor::owner(), "test", 1).unwrap();
        }
        (store, ids)
    }

    fn discovery(topic: &str, payload: &str) -> Discovery {
        hearth_core::discovery::parse(topic, payload.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn a_new_message_on_a_topic_replaces_the_last_and_an_empty_one_removes_it() {
        let (mut store, ids) = store_with(&["d-000000000001"]);
        let topic = "homeassistant/sensor/node/temp/config";
        let first =
            discovery(topic, r#"{"name":"Temp","uniq_id":"t1","stat_t":"node/t","dev":{"ids":"n1","name":"Node","mf":"Espressif"}}"#);
        store.file_discovery(&ids[0], &first, 5).unwrap();
        store
            .file_discovery(
                &ids[0],
                &discovery("homeassistant/sensor/node/hum/config", r#"{"name":"Hum","dev":{"ids":"n1","name":"Node"}}"#),
                6,
            )
            .unwrap();
        let described = store.described(&ids[0]).unwrap();
        assert_eq!(described.devices.len(), 1, "one node, described by two configs");
        assert_eq!(described.entities.iter().map(|(_, e, _)| e.name.as_str()).collect::<Vec<_>>(), ["Hum", "Temp"]);
        let renamed = discovery(topic, r#"{"name":"Temperature","uniq_id":"t1","stat_t":"node/t","dev":{"ids":"n1","name":"Node"}}"#);
        store.file_discovery(&ids[0], &renamed, 7).unwrap();
        let names: Vec<String> = store.described(&ids[0]).unwrap().entities.into_iter().map(|(_, e, _)| e.name).collect();
        assert_eq!(names, ["Hum", "Temperature"]);
        store.file_discovery(&ids[0], &discovery(topic, ""), 8).unwrap();
        let names: Vec<String> = store.described(&ids[0]).unwrap().entities.into_iter().map(|(_, e, _)| e.name).collect();
        assert_eq!(names, ["Hum"]);
    }

    #[test]
    fn claims_name_the_device_of_each_topic_and_unique_id_and_go_when_it_is_forgotten() {
        let (mut store, ids) = store_with(&["d-000000000001", "d-000000000002"]);
        let d = discovery("homeassistant/switch/plug/config", r#"{"uniq_id":"plug-relay","stat_t":"stat/plug/POWER"}"#);
        store.file_discovery(&ids[1], &d, 5).unwrap();
        let claims = store.discovery_claims().unwrap();
        assert_eq!(claims.scopes, [("homeassistant/switch/plug/config".to_owned(), ids[1].clone())]);
        assert_eq!(claims.unique_ids, [("plug-relay".to_owned(), ids[1].clone())]);
        let err = store.file_discovery(&ids[0], &d, 6).unwrap_err();
        assert!(matches!(err, StoreError::EntityTaken { .. }), "{err}");
        let same_id = discovery("homeassistant/switch/other/config", r#"{"uniq_id":"plug-relay"}"#);
        assert!(matches!(store.file_discovery(&ids[0], &same_id, 6), Err(StoreError::EntityTaken { .. })));
        store.forget(&ids[1], &Actor::owner(), "test", 6).unwrap();
        assert_eq!(store.discovery_claims().unwrap(), DiscoveryClaims::default());
    }
}
