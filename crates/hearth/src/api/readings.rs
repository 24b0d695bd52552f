//! What a device measures now, for its page's summary ("On · 42 W"): the latest value of each
//! reading its own discovery describes, as `crate::readings` keeps them in memory.
//!
//! Shown only where what the household decided allows it, checked on every answer (a decision
//! takes effect at once, values noted before it included): nothing for a device that is not
//! approved (a new device's messages are held, a blocked one's refused), never a reading on a
//! field the household redacted for this device, nor one of a kind of data whose values the
//! household does not keep for it (a scale's weight, a tracker's place: by default only that
//! such values came is kept), and on another member's personal device only to who may review it
//! (as its controls' states).

use super::{parse_id, types::ApiError};
use crate::family::Caller;
use crate::hub::Hub;
use hearth_core::device::DeviceState;
use hearth_core::readings::DescribedReading;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One reading and its latest value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReadingView {
    /// In people's words where its kind is known ("Power", "Temperature"), otherwise the
    /// firmware's ("ENERGY Voltage"), bounded.
    pub name: String,
    /// A number, as the device wrote it (at most 24 characters).
    pub value: String,
    /// As the device describes it ("W", "°C"), bounded; none: it says none.
    pub unit: Option<String>,
    #[ts(type = "number")]
    pub at: i64,
    /// The device behind a bridge it belongs to ([`hearth_core::self_described::ChildDevice::key`]).
    pub child: Option<String>,
    /// A kind people know (power, temperature, humidity, battery): what a summary leads with.
    pub headline: bool,
}

impl Hub {
    /// The device's readings that have a value, most telling first (power, temperature,
    /// humidity, battery, then the rest).
    pub fn readings(&self, id: &str, caller: &Caller) -> Result<Vec<ReadingView>, ApiError> {
        let id = parse_id(id)?;
        let (state, privacy) = {
            let store = self.store();
            (store.device(&id)?.device.state, store.privacy(&id)?)
        };
        if state != DeviceState::Approved {
            return Ok(vec![]);
        }
        let someone_elses = self.household().personal_owner(&id).is_some_and(|m| m != caller.member);
        if someone_elses && !self.may(caller, hearth_core::family::Right::Review, &id) {
            return Ok(vec![]);
        }
        let slots = self.live_readings().of(&id);
        let described: Vec<DescribedReading> = slots.iter().map(|s| s.reading.clone()).collect();
        // A value is shown only where the household keeps values of its kind for this device:
        // the review says "value not kept" of a scale's weight or a tracker's place by default,
        // and a live reading must not show what the review does not.
        let kept = |r: &DescribedReading| privacy.retention_for(&r.categories(&described)).value_days().is_some();
        Ok(slots
            .into_iter()
            .filter(|slot| !slot.reading.path.is_redacted(&privacy.redact) && kept(&slot.reading))
            .filter_map(|slot| {
                let (value, at) = slot.last?;
                let headline = slot.reading.is_headline();
                let r = slot.reading;
                Some(ReadingView { name: r.name, value, unit: r.unit, at, child: r.child, headline })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::family::Caller;
    use serde_json::{Value, json};

    const BRIDGE: &str = r#"[
        {"ieee_address":"0x2","type":"EndDevice","friendly_name":"scale","definition":{"exposes":[
            {"type":"numeric","property":"weight","unit":"kg","access":1}]}},
        {"ieee_address":"0x4","type":"Router","friendly_name":"plug","definition":{"exposes":[
            {"type":"numeric","property":"power","unit":"W","access":1}]}}]"#;

    fn owner() -> Caller {
        Caller::local_owner("cli")
    }

    /// A Zigbee2MQTT bridge with a scale and a plug, each having just sent a value.
    fn bridge() -> (crate::hub::Hub, tempfile::TempDir, String) {
        let (hub, dir) = crate::testing::hub();
        let id = hub.call(&owner(), "add_device", json!({"name": "Bridge"})).unwrap()["device"]["id"].as_str().unwrap().to_owned();
        let _ = hub.call(&owner(), "approve", json!({"id": id}));
        crate::testing::describe_and_send(
            &hub,
            &id,
            &[("zigbee2mqtt/bridge/devices", BRIDGE)],
            &[("zigbee2mqtt/scale", r#"{"weight":82.4}"#), ("zigbee2mqtt/plug", r#"{"power":42}"#)],
        );
        (hub, dir, id)
    }

    fn shown(hub: &crate::hub::Hub, id: &str) -> Vec<(String, String)> {
        let answer = hub.call(&owner(), "readings", json!({"id": id})).unwrap();
        answer
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["name"].as_str().unwrap().to_owned(), r["value"].as_str().unwrap().to_owned()))
            .collect()
    }

    /// By default Hearth keeps only that a body's measures came ("value not kept" in the review):
    /// the live readings do not show them either, whoever may view the device.
    #[test]
    fn a_scale_s_weight_is_not_shown_where_its_values_are_not_kept() {
        let (hub, _dir, id) = bridge();
        assert_eq!(shown(&hub, &id), [("Power".to_owned(), "42".to_owned())], "the weight is health: metadata only by default");
        let keep = json!({"id": id, "request": {"category": "health", "retention": {"keep": "days", "days": 7}}});
        hub.call(&owner(), "set_retention", keep).unwrap();
        assert_eq!(shown(&hub, &id).len(), 2, "kept once the household chose to keep it");
    }

    #[test]
    fn energy_is_shown_by_default_and_hidden_once_the_household_keeps_none_of_it() {
        let (hub, _dir, id) = bridge();
        assert!(shown(&hub, &id).iter().any(|(name, value)| name == "Power" && value == "42"));
        for keep in [json!({"keep": "none"}), json!({"keep": "metadata"})] {
            let request = json!({"id": id, "request": {"category": "energy", "retention": keep}});
            hub.call(&owner(), "set_retention", request).unwrap();
            assert_eq!(shown(&hub, &id), Vec::<(String, String)>::new(), "{keep}");
        }
        hub.call(&owner(), "set_retention", json!({"id": id, "request": {"category": "energy", "retention": Value::Null}})).unwrap();
        assert_eq!(shown(&hub, &id).len(), 1, "back to Hearth's default");
    }
}
