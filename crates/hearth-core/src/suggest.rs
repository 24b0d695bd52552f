//! Manifests from what a device is: when the topics a device tried (learned, refused) follow a
//! known firmware's conventions (`shared/reference/devices.md`), propose that firmware's whole
//! set of topics for its own prefix at once, so a person allows "Tasmota's usual topics for
//! tasmota_A1B2C3" in one step instead of topic by topic — and per-device ACLs don't break the
//! firmware the way hand-written Mosquitto ACLs do.
//!
//! A proposal is one click away from being allowed, and what a device tries is its own choice,
//! so a proposal only ever covers the device's own prefix — its identity in that firmware: its
//! Tasmota topic, its Shelly id, its ESPHome node, its OwnTracks user and device — and never a
//! shared root:
//! - A prefix must look like an identity ([`is_identity`]): a non-empty topic level without
//!   wildcards, not a `$` topic, and not one of the [`SHARED_ROOTS`] (`cmnd`, `homeassistant`,
//!   `shellies`...), under which many devices have topics of their own. A device that tried
//!   `cmnd/status` or `homeassistant/status` is offered nothing, not `cmnd/#`.
//! - Besides its prefix, a proposal names only fixed topics its firmware subscribes to on every
//!   device ([`BROADCASTS`]: Home Assistant's birth message, Shelly Gen1's broadcast command).

use crate::manifest::{Direction, RuleStatus, TopicRule};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Topic levels that are never one device's prefix: the roots under which many devices (or one
/// service for all of them) have their topics. A proposal for a prefix named like one of these
/// would be a rule over every device's topics (`cmnd/#`, `homeassistant/#`), so none is made.
/// Compared without regard to case, which only ever refuses more. From
/// `shared/reference/devices.md` §3 and the conventions it cites.
pub const SHARED_ROOTS: &[&str] = &[
    // Tasmota: its three prefixes, its discovery root, and the group topic every Tasmota
    // subscribes to (`cmnd/tasmotas/...`).
    "cmnd",
    "stat",
    "tele",
    "tasmota",
    "tasmotas",
    // Home Assistant: the discovery prefix, and its birth message `homeassistant/status`.
    "homeassistant",
    // Shelly Gen1: every device's topics sit under `shellies/<id>/`.
    "shellies",
    // OwnTracks: `owntracks/<user>/<device>`.
    "owntracks",
    // ESPHome's own dashboard discovery (`esphome/discover/<node>`), ESPresense's
    // `espresense/devices/<id>` and the Homie convention's `homie/<device>/`.
    "esphome",
    "espresense",
    "homie",
    // One service's whole tree: Zigbee2MQTT's default base and Frigate's. They are proposed
    // whole to the service itself (see `SERVICE_BASES`), never as another firmware's prefix.
    "zigbee2mqtt",
    "frigate",
    // Roots people choose for a whole house by hand (`home/livingroom/lamp`): too generic to be
    // one device's name.
    "home",
    "devices",
];

/// Names under `shellies/` addressed to every Gen1 device (`shellies/command` `announce`) or
/// answered by every one (`shellies/announce`): never a Gen1 device's id.
const SHELLY_GEN1_BROADCASTS: &[&str] = &["command", "announce"];

/// Fixed topics a firmware subscribes to on every device, proposed as they are: Home
/// Assistant's birth message, which ESPHome nodes listen to, and Shelly Gen1's broadcast
/// command. Many devices subscribing to them is their purpose, so they name no one's prefix.
pub const BROADCASTS: &[&str] = &["homeassistant/status", "shellies/command"];

/// Whether `level` can be a device's prefix (one topic level): not empty, no wildcard, level
/// separator or NUL, not a `$` topic (`$SYS`), and not one of the [`SHARED_ROOTS`].
pub fn is_identity(level: &str) -> bool {
    !level.is_empty()
        && !level.contains(['+', '#', '/', '\0'])
        && !level.starts_with('$')
        && !SHARED_ROOTS.iter().any(|root| root.eq_ignore_ascii_case(level))
}

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
    /// What gave the firmware away.
    pub evidence: Evidence,
}

/// How a firmware was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Evidence {
    /// The topics it tried follow the firmware's conventions.
    Topics,
    /// Its mDNS announcement (service type and name), before any traffic.
    Mdns,
}

const ESPHOME_COMPONENTS: &[&str] =
    &["sensor", "binary_sensor", "switch", "light", "fan", "cover", "climate", "text_sensor", "button", "number", "select"];

/// Suggestions from the topics a device tried, leaving out rules already in `existing`.
pub fn suggest(tried: &[TopicRule], existing: &[TopicRule]) -> Vec<Suggestion> {
    let mut out: Vec<Suggestion> = Vec::new();
    for rule in tried.iter().filter(|r| r.direction == Direction::Publish) {
        let levels: Vec<&str> = rule.pattern.split('/').collect();
        // Each prefix must look like an identity (`is_identity`): a device that tried
        // `cmnd/status` is not ESPHome node `cmnd`, and `shellies/command` is no Gen1 device.
        let found = match levels.as_slice() {
            ["tele" | "stat", prefix, _, ..] if is_identity(prefix) => Some(("Tasmota", *prefix, tasmota(prefix))),
            ["shellies", prefix, ..] if is_identity(prefix) && !SHELLY_GEN1_BROADCASTS.contains(prefix) => {
                Some(("Shelly (Gen1)", *prefix, shelly_gen1(prefix)))
            }
            [prefix, "online" | "events" | "status", ..] if prefix.starts_with("shelly") && is_identity(prefix) => {
                Some(("Shelly (Gen2)", *prefix, vec![publish(&format!("{prefix}/#")), subscribe(&format!("{prefix}/rpc"))]))
            }
            ["zigbee2mqtt", ..] => Some(("Zigbee2MQTT", "zigbee2mqtt", zigbee2mqtt())),
            ["frigate", ..] => Some(("Frigate", "frigate", vec![publish("frigate/#")])),
            ["owntracks", user, device, ..] if is_identity(user) && is_identity(device) => {
                let base = format!("owntracks/{user}/{device}");
                Some(("OwnTracks", *device, vec![publish(&base), publish(&format!("{base}/#"))]))
            }
            // The weakest evidence: any device may publish `<something>/status`.
            [prefix, "status"] if is_identity(prefix) => Some(("ESPHome", *prefix, esphome(prefix, tried_discovery(prefix, tried)))),
            [prefix, component, _, "state"] if ESPHOME_COMPONENTS.contains(component) && is_identity(prefix) => {
                Some(("ESPHome", *prefix, esphome(prefix, tried_discovery(prefix, tried))))
            }
            _ => None,
        };
        let Some((firmware, prefix, rules)) = found else { continue };
        add(&mut out, (firmware, prefix, Evidence::Topics), rules, existing);
    }
    out
}

/// Suggestions from what a device announces over mDNS (service type and instance name), before
/// it has sent anything: the firmwares whose MQTT prefix is their mDNS name. Shelly Gen2's prefix
/// is its device id (`shellyplusplugs-c4dd57877294`, its `_shelly._tcp` name), Gen1's
/// `shellies/<name>` (its `_http._tcp` name), ESPHome's its node name (`_esphomelib._tcp`), which
/// also names its own Home Assistant discovery topics. Added to `known`, skipping firmwares
/// and prefixes already there.
pub fn from_services(services: &[(&str, &str)], existing: &[TopicRule], known: &mut Vec<Suggestion>) {
    for &(service_type, instance) in services {
        // A name is announced by anyone on the network: one with MQTT wildcards or levels, or
        // named like a shared root, would make a rule far wider than the device's own prefix.
        if !is_identity(instance) || SHELLY_GEN1_BROADCASTS.iter().any(|b| b.eq_ignore_ascii_case(instance)) {
            continue;
        }
        let lower = instance.to_ascii_lowercase();
        let found = match service_type {
            "_shelly._tcp" if lower.starts_with("shelly") => {
                Some(("Shelly (Gen2)", lower.clone(), vec![publish(&format!("{lower}/#")), subscribe(&format!("{lower}/rpc"))]))
            }
            "_http._tcp" if lower.starts_with("shelly") => Some(("Shelly (Gen1)", instance.to_owned(), shelly_gen1(instance))),
            "_esphomelib._tcp" => Some(("ESPHome", instance.to_owned(), esphome(instance, true))),
            _ => None,
        };
        if let Some((firmware, prefix, rules)) = found {
            add(known, (firmware, &prefix, Evidence::Mdns), rules, existing);
        }
    }
}

/// Adds a suggestion of the rules not yet in `existing`, unless the firmware and prefix are
/// already suggested or nothing is missing.
fn add(out: &mut Vec<Suggestion>, (firmware, prefix, evidence): (&str, &str, Evidence), rules: Vec<TopicRule>, existing: &[TopicRule]) {
    if out.iter().any(|s| s.firmware == firmware && s.prefix == prefix) {
        return;
    }
    let missing: Vec<TopicRule> =
        rules.into_iter().filter(|r| !existing.iter().any(|e| e.direction == r.direction && e.pattern == r.pattern)).collect();
    if !missing.is_empty() {
        out.push(Suggestion { firmware: firmware.to_owned(), prefix: prefix.to_owned(), rules: missing, evidence });
    }
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

/// ESPHome: its prefix, its commands, Home Assistant's birth message, and (`discovery`) the
/// discovery messages for its own node id.
fn esphome(prefix: &str, discovery: bool) -> Vec<TopicRule> {
    let mut rules = vec![publish(&format!("{prefix}/#")), subscribe(&format!("{prefix}/+/+/command")), subscribe("homeassistant/status")];
    if discovery {
        rules.push(publish(&format!("homeassistant/+/{prefix}/+/config")));
    }
    rules
}

/// Whether a device known only from its topics tried to send discovery for its own node id.
fn tried_discovery(prefix: &str, tried: &[TopicRule]) -> bool {
    let discovery = format!("homeassistant/+/{prefix}/+/config");
    tried.iter().any(|r| crate::topic::matches(&discovery, &r.pattern))
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
    fn firmware_is_proposed_from_the_mdns_name_before_any_traffic() {
        let mut s = Vec::new();
        let services = [
            ("_shelly._tcp", "ShellyPlusPlugS-C4DD57877294"),
            ("_http._tcp", "shelly1-84CCA8ADE2FA"),
            ("_esphomelib._tcp", "living-room-climate"),
            ("_airplay._tcp", "Living Room"),
        ];
        from_services(&services, &[], &mut s);
        let found: Vec<_> = s.iter().map(|s| (s.firmware.as_str(), s.prefix.as_str())).collect();
        assert_eq!(
            found,
            [
                ("Shelly (Gen2)", "shellyplusplugs-c4dd57877294"),
                ("Shelly (Gen1)", "shelly1-84CCA8ADE2FA"),
                ("ESPHome", "living-room-climate")
            ]
        );
        assert_eq!(
            patterns(&s[0]),
            [(Direction::Publish, "shellyplusplugs-c4dd57877294/#"), (Direction::Subscribe, "shellyplusplugs-c4dd57877294/rpc")]
        );
        assert!(patterns(&s[2]).contains(&(Direction::Publish, "homeassistant/+/living-room-climate/+/config")));
    }

    /// mDNS names are chosen by whoever announces them.
    #[test]
    fn an_mdns_name_with_wildcards_or_levels_proposes_nothing() {
        let mut s = Vec::new();
        from_services(
            &[("_esphomelib._tcp", "+"), ("_esphomelib._tcp", "#"), ("_shelly._tcp", "shelly/+"), ("_esphomelib._tcp", "")],
            &[],
            &mut s,
        );
        assert_eq!(s, []);
    }

    /// What the attacker's review found: topics any device may try, which named a shared root
    /// as the device's prefix and were one click from `publish cmnd/#`.
    #[test]
    fn a_shared_root_is_never_taken_for_a_devices_prefix() {
        let topics = [
            "cmnd/status",
            "homeassistant/status",
            "stat/status",
            "Tele/status",
            "esphome/status",
            "owntracks/status",
            "$SYS/status",
            "/status",
            "tele/tasmotas/STATE",
            "stat/cmnd/RESULT",
            "shellies/command",
            "shellies/announce",
            "shellies/owntracks/relay/0",
            "owntracks/tele/phone",
            "homeassistant/sensor/temperature/state",
        ];
        for topic in topics {
            assert_eq!(suggest(&tried(&[topic]), &[]), [], "{topic}");
        }
        let mut s = Vec::new();
        let announced =
            [("_esphomelib._tcp", "homeassistant"), ("_esphomelib._tcp", "CMND"), ("_http._tcp", "shellies"), ("_esphomelib._tcp", "$SYS")];
        from_services(&announced, &[], &mut s);
        assert_eq!(s, []);
        // Positive control: the same shapes with a device's own name are proposed.
        assert_eq!(suggest(&tried(&["kitchen/status"]), &[])[0].prefix, "kitchen");
        assert_eq!(suggest(&tried(&["tele/frontdoor/LWT"]), &[])[0].prefix, "frontdoor");
    }

    #[test]
    fn identities_and_shared_roots() {
        for ok in ["tasmota_A1B2C3", "kitchen", "shellyplus1-c4dd57877294", "cmnd2", "my-home"] {
            assert!(is_identity(ok), "{ok}");
        }
        for shared in ["", "+", "#", "a/b", "$SYS", "cmnd", "TELE", "homeassistant", "zigbee2mqtt", "home", "a\0"] {
            assert!(!is_identity(shared), "{shared:?}");
        }
    }

    #[test]
    fn a_firmware_seen_in_traffic_and_over_mdns_is_proposed_once() {
        let mut s = suggest(&tried(&["living-room-climate/status"]), &[]);
        from_services(&[("_esphomelib._tcp", "living-room-climate")], &[], &mut s);
        assert_eq!(s.len(), 1);
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
