//! What a device's discovery messages say it is, for the devices mDNS says nothing about (an
//! MQTT-only plug, a Zigbee2MQTT bridge): its kind, vendor and model, and the children it speaks
//! for (the Zigbee devices behind a bridge), each with a kind of its own.
//!
//! What a device describes is its own claim, so this only fills in what the fingerprints left
//! unknown; it never outranks a fingerprint, and grants nothing (the gate decides traffic).

use crate::discovery::{DescribedDevice, Entity, Source};
use crate::fingerprint::Kind;
use crate::text::clip;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The most of a bridge's words about a child (a name, a model) shown, in bytes.
const SHOWN: usize = 100;
/// The most of a child's readings listed.
const MAX_REPORTS: usize = 32;

/// A device behind a bridge, as the bridge describes it: found by search in the list, with a
/// page of its own, reached only through its bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ChildDevice {
    /// Its id in the bridge's terms (a Zigbee IEEE address, Home Assistant's `ids`).
    pub key: String,
    pub name: String,
    pub kind: Kind,
    pub vendor: Option<String>,
    pub model: Option<String>,
    /// What it reports or offers, in the firmware's words (`contact`, `battery`, `state`).
    pub reports: Vec<String>,
}

/// What a device says of itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SelfDescription {
    /// `None`: its messages say nothing about the device itself.
    pub kind: Option<Kind>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub children: Vec<ChildDevice>,
}

/// Reads a device's filed discovery: a Zigbee2MQTT bridge is a bridge and every device it lists
/// is a child; a device describing exactly one device (Tasmota, ESPHome) is that device; one
/// describing several speaks for them (a gateway), each a child.
pub fn understand(devices: &[(Source, DescribedDevice)], entities: &[(Source, Entity)]) -> SelfDescription {
    let bridge = devices.iter().any(|(s, _)| *s == Source::Zigbee2mqtt) || entities.iter().any(|(s, _)| *s == Source::Zigbee2mqtt);
    let mut unique: Vec<&DescribedDevice> = Vec::new();
    for (_, d) in devices {
        if !unique.iter().any(|u| u.key == d.key) {
            unique.push(d);
        }
    }
    let of = |key: &str| -> Vec<&Entity> { entities.iter().map(|(_, e)| e).filter(|e| e.described.as_deref() == Some(key)).collect() };
    match unique.as_slice() {
        [] if entities.is_empty() => SelfDescription::default(),
        [] => SelfDescription { kind: kind_of(&entities.iter().map(|(_, e)| e).collect::<Vec<_>>()), ..Default::default() },
        [itself] if !bridge => {
            // Its entities whether or not they name it (a Tasmota's sensors name its MAC).
            let all: Vec<&Entity> = entities.iter().map(|(_, e)| e).collect();
            let said = |s: &String| clip(s, SHOWN).into_owned();
            SelfDescription {
                kind: kind_of(&all),
                vendor: itself.vendor.as_ref().map(said),
                model: itself.model.as_ref().map(said),
                children: Vec::new(),
            }
        }
        several => SelfDescription {
            kind: Some(Kind::Bridge),
            vendor: None,
            model: bridge.then(|| "Zigbee2MQTT".to_owned()),
            children: several
                .iter()
                .map(|d| {
                    let own = of(&d.key);
                    let mut reports: Vec<String> = own.iter().map(|e| e.name.clone()).collect();
                    reports.dedup();
                    // A bridge's words, shown to people: bounded, control characters replaced.
                    let said = |s: &str| clip(s, SHOWN).into_owned();
                    ChildDevice {
                        key: said(&d.key),
                        name: said(&d.name),
                        kind: kind_of(&own).unwrap_or(Kind::Unknown),
                        vendor: d.vendor.as_deref().map(said),
                        model: d.model.as_deref().map(said),
                        reports: reports.iter().take(MAX_REPORTS).map(|r| said(r)).collect(),
                    }
                })
                .collect(),
        },
    }
}

/// The kind its entities make it, the most telling first: a lock with a battery sensor is a
/// lock; a relay that measures power is a plug. `None` when nothing tells.
fn kind_of(entities: &[&Entity]) -> Option<Kind> {
    let has = |component: &str| entities.iter().any(|e| e.component == component);
    let class = |c: &str| entities.iter().any(|e| e.device_class.as_deref() == Some(c));
    let measures_power = entities.iter().any(|e| {
        matches!(e.device_class.as_deref(), Some("power" | "energy"))
            || matches!(e.unit.as_deref(), Some("W" | "kWh"))
            || e.name.to_ascii_lowercase().contains("energy")
            || e.name.eq_ignore_ascii_case("power")
    });
    let reads = ["sensor", "binary_sensor", "binary", "numeric", "enum", "text"];
    Some(if has("lock") {
        Kind::Lock
    } else if has("alarm_control_panel") {
        Kind::SecuritySystem
    } else if has("camera") {
        Kind::Camera
    } else if has("climate") {
        Kind::Thermostat
    } else if has("cover") && class("garage") {
        Kind::GarageDoor
    } else if has("cover") {
        Kind::WindowCovering
    } else if has("vacuum") {
        Kind::Vacuum
    } else if has("fan") {
        Kind::Fan
    } else if has("light") {
        Kind::Light
    } else if has("switch") && measures_power {
        Kind::Plug
    } else if has("switch") {
        Kind::Switch
    } else if !entities.is_empty() && entities.iter().all(|e| reads.contains(&e.component.as_str())) {
        Kind::Sensor
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::parse;

    type Filed = (Vec<(Source, DescribedDevice)>, Vec<(Source, Entity)>);

    fn filed(messages: &[(&str, &str)]) -> Filed {
        let (mut devices, mut entities) = (Vec::new(), Vec::new());
        for (topic, payload) in messages {
            let d = parse(topic, payload.as_bytes()).unwrap().unwrap();
            let source = d.source.unwrap();
            devices.extend(d.devices.into_iter().map(|x| (source, x)));
            entities.extend(d.entities.into_iter().map(|x| (source, x)));
        }
        (devices, entities)
    }

    #[test]
    fn a_tasmota_relay_that_measures_power_is_a_plug_with_its_model() {
        let (d, e) = filed(&[
            (
                "tasmota/discovery/DC4F22A1B2C3/config",
                r#"{"ip":"10.0.0.5","dn":"Kitchen plug","fn":["Kitchen plug"],"hn":"tasmota-A1B2C3","mac":"DC4F22A1B2C3","md":"Sonoff S31","t":"tasmota_A1B2C3","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"rl":[1,0,0,0,0,0,0,0],"sw":"13.2.0"}"#,
            ),
            ("tasmota/discovery/DC4F22A1B2C3/sensors", r#"{"sn":{"Time":"x","ENERGY":{"Power":38,"Total":1.2}}}"#),
        ]);
        let got = understand(&d, &e);
        assert_eq!((got.kind, got.model.as_deref()), (Some(Kind::Plug), Some("Sonoff S31")));
        assert!(got.children.is_empty());
    }

    #[test]
    fn a_zigbee2mqtt_bridge_is_a_bridge_and_its_devices_are_children_with_their_own_kinds() {
        let list = r#"[{"ieee_address":"0x1","type":"Coordinator"},
            {"ieee_address":"0x2","type":"EndDevice","friendly_name":"front_door","definition":{"model":"MCCGQ11LM","vendor":"Aqara",
              "exposes":[{"type":"binary","property":"contact","access":1},{"type":"numeric","property":"battery","unit":"%","access":1}]}},
            {"ieee_address":"0x3","type":"Router","friendly_name":"lamp","definition":{"model":"LCT015","vendor":"Philips",
              "exposes":[{"type":"light","features":[{"type":"binary","property":"state","access":7}]}]}}]"#;
        let (d, e) = filed(&[("zigbee2mqtt/bridge/devices", list)]);
        let got = understand(&d, &e);
        assert_eq!(got.kind, Some(Kind::Bridge));
        let kids: Vec<_> = got.children.iter().map(|c| (c.name.as_str(), c.kind, c.vendor.as_deref())).collect();
        assert_eq!(kids, [("front_door", Kind::Sensor, Some("Aqara")), ("lamp", Kind::Light, Some("Philips"))]);
        assert_eq!(got.children[0].reports, ["contact", "battery"]);
    }

    #[test]
    fn a_home_assistant_node_with_sensors_is_a_sensor_by_its_maker() {
        let cfg = |o: &str| {
            format!(
                r#"{{"name":"{o}","uniq_id":"n-{o}","stat_t":"n/{o}","dev":{{"ids":"246f28","name":"node","mf":"Espressif","mdl":"esp32dev"}}}}"#
            )
        };
        let (t, h) = (cfg("temperature"), cfg("humidity"));
        let (d, e) = filed(&[("homeassistant/sensor/node/temperature/config", &t), ("homeassistant/sensor/node/humidity/config", &h)]);
        let got = understand(&d, &e);
        assert_eq!((got.kind, got.vendor.as_deref(), got.model.as_deref()), (Some(Kind::Sensor), Some("Espressif"), Some("esp32dev")));
    }

    #[test]
    fn a_bridge_lying_with_long_names_control_characters_and_many_readings_is_shown_bounded() {
        // A name longer than a topic may be is refused whole by the parser (the name is a topic).
        let too_long = serde_json::json!([{"ieee_address": "0x2", "type": "EndDevice", "friendly_name": "x".repeat(70_000)}]);
        assert!(parse("zigbee2mqtt/bridge/devices", too_long.to_string().as_bytes()).is_err());
        let name = format!("door\u{1b}[31m{}", "x".repeat(1_000));
        let exposes: Vec<serde_json::Value> =
            (0..200).map(|i| serde_json::json!({"type": "numeric", "property": format!("r{i}"), "access": 1})).collect();
        let list = serde_json::json!([{"ieee_address": "0x2", "type": "EndDevice", "friendly_name": name,
            "definition": {"model": "m".repeat(5_000), "vendor": "v\u{7}", "exposes": exposes}}]);
        let (d, e) = filed(&[("zigbee2mqtt/bridge/devices", &list.to_string())]);
        let child = &understand(&d, &e).children[0];
        assert!(child.name.len() <= SHOWN + 24 && !child.name.chars().any(char::is_control), "{}", child.name);
        assert!(child.model.as_ref().is_some_and(|m| m.len() <= SHOWN + 24));
        assert_eq!(child.vendor.as_deref(), Some("v\u{fffd}"), "a control character in a vendor is replaced");
        assert_eq!(child.reports.len(), MAX_REPORTS);
    }

    #[test]
    fn nothing_filed_says_nothing() {
        assert_eq!(understand(&[], &[]), SelfDescription::default());
    }
}
