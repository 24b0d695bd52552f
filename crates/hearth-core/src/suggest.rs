//! Manifests from what a device is: when the topics a device tried (learned, refused) follow a
//! known firmware's conventions (`shared/reference/devices.md`), propose that firmware's whole
//! set of topics for its own prefix at once, so a person allows "Tasmota's usual topics for
//! tasmota_A1B2C3" in one step instead of topic by topic — and per-device ACLs don't break the
//! firmware the way hand-written Mosquitto ACLs do. A suggestion only ever covers the device's
//! own prefix; Home Assistant discovery topics only for its own node id.

use crate::manifest::{Direction, RuleStatus, TopicRule};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A firmware recognised from a device's topics, and the rules it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Suggestion {
    /// "Tasmota", "Shelly (Gen2)", ...
    pub firmware: String,
    /// The device's own prefix in that firmware's topics (`tasmota_A1B2C3`).
    pub prefix: String,
    /// Allowed rules to add (those already allowed are left out).
    pub rules: Vec<TopicRule>,
}

const ESPHOME_COMPONENTS: &[&str] =
    &["sensor", "binary_sensor", "switch", "light", "fan", "cover", "climate", "text_sensor", "button", "number", "select"];

/// Suggestions from the topics a device tried, leaving out rules already in `existing`.
pub fn suggest(tried: &[TopicRule], existing: &[TopicRule]) -> Vec<Suggestion> {
    let mut out: Vec<Suggestion> = Vec::new();
    for rule in tried.iter().filter(|r| r.direction == Direction::Publish) {
        let levels: Vec<&str> = rule.pattern.split('/').collect();
        let found = match levels.as_slice() {
            ["tele" | "stat", prefix, _, ..] => Some(("Tasmota", *prefix, tasmota(prefix))),
            ["shellies", prefix, ..] => Some(("Shelly (Gen1)", *prefix, shelly_gen1(prefix))),
            [prefix, "online" | "events" | "status", ..] if prefix.starts_with("shelly") => {
                Some(("Shelly (Gen2)", *prefix, vec![publish(&format!("{prefix}/#")), subscribe(&format!("{prefix}/rpc"))]))
            }
            ["zigbee2mqtt", ..] => Some(("Zigbee2MQTT", "zigbee2mqtt", zigbee2mqtt())),
            ["frigate", ..] => Some(("Frigate", "frigate", vec![publish("frigate/#")])),
            ["owntracks", user, device, ..] => {
                let base = format!("owntracks/{user}/{device}");
                Some(("OwnTracks", *device, vec![publish(&base), publish(&format!("{base}/#"))]))
            }
            [prefix, "status"] => Some(("ESPHome", *prefix, esphome(prefix, tried))),
            [prefix, component, _, "state"] if ESPHOME_COMPONENTS.contains(component) => Some(("ESPHome", *prefix, esphome(prefix, tried))),
            _ => None,
        };
        let Some((firmware, prefix, rules)) = found else { continue };
        if out.iter().any(|s| s.firmware == firmware && s.prefix == prefix) {
            continue;
        }
        let missing: Vec<TopicRule> =
            rules.into_iter().filter(|r| !existing.iter().any(|e| e.direction == r.direction && e.pattern == r.pattern)).collect();
        if !missing.is_empty() {
            out.push(Suggestion { firmware: firmware.to_owned(), prefix: prefix.to_owned(), rules: missing });
        }
    }
    out
}

fn publish(pattern: &str) -> TopicRule {
    TopicRule { direction: Direction::Publish, pattern: pattern.to_owned(), status: RuleStatus::Allowed }
}

fn subscribe(pattern: &str) -> TopicRule {
    TopicRule { direction: Direction::Subscribe, pattern: pattern.to_owned(), status: RuleStatus::Allowed }
}

fn tasmota(prefix: &str) -> Vec<TopicRule> {
    vec![publish(&format!("tele/{prefix}/#")), publish(&format!("stat/{prefix}/#")), subscribe(&format!("cmnd/{prefix}/#"))]
}

fn shelly_gen1(prefix: &str) -> Vec<TopicRule> {
    vec![publish(&format!("shellies/{prefix}/#")), subscribe(&format!("shellies/{prefix}/+/+/command")), subscribe("shellies/command")]
}

fn zigbee2mqtt() -> Vec<TopicRule> {
    vec![
        publish("zigbee2mqtt/#"),
        subscribe("zigbee2mqtt/+/set"),
        subscribe("zigbee2mqtt/+/get"),
        subscribe("zigbee2mqtt/bridge/request/#"),
    ]
}

/// ESPHome: its prefix, its commands, Home Assistant's birth message, and discovery messages
/// for its own node id only if it tried to send them.
fn esphome(prefix: &str, tried: &[TopicRule]) -> Vec<TopicRule> {
    let mut rules = vec![publish(&format!("{prefix}/#")), subscribe(&format!("{prefix}/+/+/command")), subscribe("homeassistant/status")];
    let discovery = format!("homeassistant/+/{prefix}/+/config");
    if tried.iter().any(|r| crate::topic::matches(&discovery, &r.pattern)) {
        rules.push(publish(&discovery));
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tried(topics: &[&str]) -> Vec<TopicRule> {
        topics.iter().map(|t| TopicRule { direction: Direction::Publish, pattern: (*t).to_owned(), status: RuleStatus::Learned }).collect()
    }

    fn patterns(s: &Suggestion) -> Vec<(Direction, &str)> {
        s.rules.iter().map(|r| (r.direction, r.pattern.as_str())).collect()
    }

    #[test]
    fn firmware_is_recognised_from_real_topics() {
        let cases: &[(&[&str], &str, &str)] = &[
            (&["tele/tasmota_A1B2C3/SENSOR", "tele/tasmota_A1B2C3/STATE"], "Tasmota", "tasmota_A1B2C3"),
            (&["shellyplusplugs-c4dd57877294/status/switch:0"], "Shelly (Gen2)", "shellyplusplugs-c4dd57877294"),
            (&["shellies/shelly1-84CCA8ADE2FA/relay/0"], "Shelly (Gen1)", "shelly1-84CCA8ADE2FA"),
            (&["zigbee2mqtt/front_door"], "Zigbee2MQTT", "zigbee2mqtt"),
            (&["living-room-climate/sensor/temperature/state"], "ESPHome", "living-room-climate"),
            (&["frigate/front/person/snapshot"], "Frigate", "frigate"),
            (&["owntracks/anna/phone"], "OwnTracks", "phone"),
        ];
        for (topics, firmware, prefix) in cases {
            let s = suggest(&tried(topics), &[]);
            assert_eq!(s.len(), 1, "{topics:?}: {s:?}");
            assert_eq!((s[0].firmware.as_str(), s[0].prefix.as_str()), (*firmware, *prefix));
        }
        let tasmota = &suggest(&tried(&["stat/tasmota_A1B2C3/POWER"]), &[])[0];
        assert_eq!(
            patterns(tasmota),
            [
                (Direction::Publish, "tele/tasmota_A1B2C3/#"),
                (Direction::Publish, "stat/tasmota_A1B2C3/#"),
                (Direction::Subscribe, "cmnd/tasmota_A1B2C3/#")
            ]
        );
    }

    #[test]
    fn discovery_only_for_the_devices_own_node_and_nothing_already_allowed() {
        let topics = tried(&["kitchen/status", "homeassistant/sensor/kitchen/temperature/config", "homeassistant/lock/front/config"]);
        let s = &suggest(&topics, &[publish("kitchen/#")])[0];
        assert_eq!(
            patterns(s),
            [
                (Direction::Subscribe, "kitchen/+/+/command"),
                (Direction::Subscribe, "homeassistant/status"),
                (Direction::Publish, "homeassistant/+/kitchen/+/config")
            ]
        );
        assert!(suggest(&tried(&["some/random/topic"]), &[]).is_empty());
        assert!(suggest(&tried(&["tele/x/SENSOR"]), &tasmota("x")).is_empty(), "all allowed already");
    }
}
