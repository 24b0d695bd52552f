//! Who describes which entity: the first device to describe an entity (its discovery topic or
//! `unique_id`) keeps it, so no device can replace another's; and the reading of discovery
//! messages before they are let through.

use super::HubGate;
use crate::api::types::DropReason;
use hearth_core::device::DeviceId;
use hearth_core::discovery::{self, Discovery, EntityClaim};
use hearth_core::manifest::Manifest;
use hearth_core::text::{LOGGED, STORED, clip};
use hearth_store::DiscoveryClaims;
use std::collections::HashMap;

/// Which device describes each discovery topic and each `unique_id`: the first to describe an
/// entity keeps it, so no device can replace another's.
#[derive(Debug, Default)]
pub(super) struct Claims {
    scopes: HashMap<String, DeviceId>,
    unique_ids: HashMap<String, DeviceId>,
    /// The `unique_id`s each discovery topic claimed (since this start), to let them go when the
    /// topic's next message withdraws or renames them.
    scope_uids: HashMap<String, Vec<String>>,
}

/// A discovery message refused because another device describes its entity: who, and by what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contest {
    /// The refused message's discovery topic.
    pub topic: String,
    pub claim: EntityClaim,
    pub holder: DeviceId,
}

/// Contests kept per device (the newest), and devices with contests: enough for a person to see
/// who is in the way, bounded against a device cycling through entities.
const CONTESTS_PER_DEVICE: usize = 20;
const DEVICES_WITH_CONTESTS: usize = 1000;

impl Claims {
    /// Another device that describes what `d` describes, and by which claim.
    fn holder(&self, device: &DeviceId, d: &Discovery) -> Option<(DeviceId, EntityClaim)> {
        let other = |owner: Option<&DeviceId>| owner.filter(|o| *o != device).cloned();
        if let Some(holder) = other(self.scopes.get(&d.scope)) {
            return Some((holder, EntityClaim::Topic(d.scope.clone())));
        }
        d.unique_ids().find_map(|u| other(self.unique_ids.get(u)).map(|h| (h, EntityClaim::UniqueId(u.to_owned()))))
    }

    #[cfg(test)]
    fn taken(&self, device: &DeviceId, d: &Discovery) -> bool {
        self.holder(device, d).is_some()
    }

    /// Claims what `d` describes for `device`, letting go of what the same topic described
    /// before; an empty message (a withdrawal) lets go of the topic too.
    fn claim(&mut self, device: &DeviceId, d: &Discovery) {
        for old in self.scope_uids.remove(&d.scope).unwrap_or_default() {
            if self.unique_ids.get(&old) == Some(device) {
                self.unique_ids.remove(&old);
            }
        }
        if d.entities.is_empty() && d.devices.is_empty() {
            self.scopes.remove(&d.scope);
            return;
        }
        self.scopes.insert(d.scope.clone(), device.clone());
        let uids: Vec<String> = d.unique_ids().map(str::to_owned).collect();
        for u in &uids {
            self.unique_ids.insert(u.clone(), device.clone());
        }
        self.scope_uids.insert(d.scope.clone(), uids);
    }
}

impl HubGate {
    fn note_contest(&self, device: &DeviceId, contest: Contest) {
        let mut contests = self.contests.lock().unwrap_or_else(|p| p.into_inner());
        if contests.len() >= DEVICES_WITH_CONTESTS && !contests.contains_key(device) {
            return;
        }
        let mine = contests.entry(device.clone()).or_default();
        mine.retain(|c| c.claim != contest.claim);
        mine.push(contest);
        if mine.len() > CONTESTS_PER_DEVICE {
            mine.remove(0);
        }
    }

    /// Forgets the claims made in memory on what a person gave to another device: `claim` itself,
    /// and every discovery topic taken with it (and the `unique_id`s those topics claimed).
    pub fn release_claims(&self, claim: &EntityClaim, taken: &[(DeviceId, String)]) {
        let mut claims = self.claims.write().unwrap_or_else(|p| p.into_inner());
        let mut scopes: Vec<&str> = taken.iter().map(|(_, scope)| scope.as_str()).collect();
        match claim {
            EntityClaim::Topic(topic) => scopes.push(topic),
            EntityClaim::UniqueId(uid) => {
                claims.unique_ids.remove(uid);
            }
        }
        for scope in scopes {
            claims.scopes.remove(scope);
            for uid in claims.scope_uids.remove(scope).unwrap_or_default() {
                claims.unique_ids.remove(&uid);
            }
        }
    }

    /// The entities `device` tried to describe and another device holds, newest last, still
    /// held by that other device (a person may have given one to `device` since).
    pub fn contests_of(&self, device: &DeviceId) -> Vec<Contest> {
        let contests = self.contests.lock().unwrap_or_else(|p| p.into_inner()).get(device).cloned().unwrap_or_default();
        let claims = self.claims.read().unwrap_or_else(|p| p.into_inner());
        contests
            .into_iter()
            .filter(|c| {
                let now = match &c.claim {
                    EntityClaim::Topic(t) => claims.scopes.get(t),
                    EntityClaim::UniqueId(u) => claims.unique_ids.get(u),
                };
                now.is_some_and(|holder| holder != device)
            })
            .collect()
    }

    /// Takes the claims on file (after a person's change, or a device forgotten), keeping the
    /// claims made in memory and not filed yet (their discovery messages may still be queued, or
    /// withdrawn) while their device is still known. Call after [`HubGate::load`].
    pub fn load_claims(&self, on_file: DiscoveryClaims) {
        let known: std::collections::HashSet<DeviceId> =
            self.policies.read().unwrap_or_else(|p| p.into_inner()).by_key.values().map(|p| p.device_id.clone()).collect();
        let mut claims = self.claims.write().unwrap_or_else(|p| p.into_inner());
        let keep = |map: &mut HashMap<String, DeviceId>, filed: Vec<(String, DeviceId)>| {
            map.retain(|_, device| known.contains(device));
            // What is on file wins over what memory holds for the same entity.
            map.extend(filed);
        };
        keep(&mut claims.scopes, on_file.scopes);
        keep(&mut claims.unique_ids, on_file.unique_ids);
    }

    /// Reads a message on a discovery topic before it is let through: it must be readable, name
    /// only topics of the device's own, and describe no entity another device describes. An
    /// accepted one is claimed at once, so two devices racing for one entity cannot both win.
    /// `Ok(None)`: not a discovery topic.
    pub(super) fn read_discovery(
        &self,
        device: &DeviceId,
        manifest: &Manifest,
        topic: &str,
        payload: &[u8],
    ) -> Result<Option<Discovery>, DropReason> {
        let parsed = discovery::parse(topic, payload).map_err(|e| {
            tracing::info!(%device, topic = %clip(topic, LOGGED), "discovery message refused: {e}");
            DropReason::MalformedDiscovery
        })?;
        let Some(d) = parsed else { return Ok(None) };
        if let Some(foreign) = discovery::foreign_topic(&d, manifest) {
            tracing::warn!(%device, topic = %clip(topic, LOGGED), foreign = %clip(foreign, LOGGED), "discovery message refused: it names a topic the device may not use");
            return Err(DropReason::ForeignTopic);
        }
        let mut claims = self.claims.write().unwrap_or_else(|p| p.into_inner());
        if let Some((holder, claim)) = claims.holder(device, &d) {
            drop(claims);
            tracing::warn!(%device, %holder, topic = %clip(topic, LOGGED), "discovery message refused: another device describes this entity");
            self.note_contest(device, Contest { topic: clip(topic, STORED).into_owned(), claim, holder });
            return Err(DropReason::EntityTaken);
        }
        claims.claim(device, &d);
        Ok(Some(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discovery(topic: &str, payload: &str) -> Discovery {
        discovery::parse(topic, payload.as_bytes()).unwrap().unwrap()
    }

    /// A Zigbee device moves from one bridge to another: the first bridge's withdrawal frees the
    /// entity for the second.
    #[test]
    fn a_withdrawn_or_renamed_entity_is_free_for_another_device() {
        let (a, b) = (DeviceId::parse("d-00000000000a").unwrap(), DeviceId::parse("d-00000000000b").unwrap());
        let mut claims = Claims::default();
        let first = discovery("homeassistant/sensor/door/config", r#"{"uniq_id":"door-1","stat_t":"a/door"}"#);
        claims.claim(&a, &first);
        let by_b = discovery("homeassistant/sensor/door2/config", r#"{"uniq_id":"door-1","stat_t":"b/door"}"#);
        assert!(claims.taken(&b, &by_b), "taken while a describes it");
        claims.claim(&a, &discovery("homeassistant/sensor/door/config", r#"{"uniq_id":"door-2","stat_t":"a/door"}"#));
        assert!(!claims.taken(&b, &by_b), "renamed: the old unique_id is free");
        claims.claim(&a, &discovery("homeassistant/sensor/door/config", ""));
        assert!(
            !claims.taken(&b, &discovery("homeassistant/sensor/door/config", r#"{"uniq_id":"door-2","stat_t":"b/door"}"#)),
            "withdrawn: the topic is free"
        );
    }
}
