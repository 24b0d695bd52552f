//! Who describes which entity: the first device to describe an entity (its discovery topic or
//! `unique_id`) keeps it, so no device can replace another's; and the reading of discovery
//! messages before they are let through.

use super::HubGate;
use crate::api::types::DropReason;
use hearth_core::device::DeviceId;
use hearth_core::discovery::{self, Discovery};
use hearth_core::manifest::Manifest;
use hearth_core::text::{LOGGED, clip};
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

impl Claims {
    fn taken(&self, device: &DeviceId, d: &Discovery) -> bool {
        let other = |owner: Option<&DeviceId>| owner.is_some_and(|o| o != device);
        other(self.scopes.get(&d.scope)) || d.unique_ids().any(|u| other(self.unique_ids.get(u)))
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
        if claims.taken(device, &d) {
            tracing::warn!(%device, topic = %clip(topic, LOGGED), "discovery message refused: another device describes this entity");
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
