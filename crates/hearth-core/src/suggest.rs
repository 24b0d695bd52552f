//! Manifests from what a device is: when the topics a device tried (learned, refused) follow a
//! known firmware's conventions (`shared/reference/devices.md`), propose that firmware's whole
//! set of topics for its own prefix at once, so a person allows "Tasmota's usual topics for
//! tasmota_A1B2C3" in one step instead of topic by topic — and per-device ACLs don't break the
//! firmware the way hand-written Mosquitto ACLs do.
//!
//! A proposal is one click away from being allowed, and what a device tries is its own choice,
//! so a proposal only ever covers the device's own prefix — its identity in that firmware: its
//! Tasmota topic, its Shelly id, its ESPHome node, its Zigbee2MQTT base, its OwnTracks user and
//! device — and never a shared root:
//! - A prefix must look like an identity ([`is_identity`]): a non-empty topic level without
//!   wildcards, not a `$` topic, and not one of the [`SHARED_ROOTS`] (`cmnd`, `homeassistant`,
//!   `shellies`...), under which many devices have topics of their own. A device that tried
//!   `cmnd/status` or `homeassistant/status` is offered nothing, not `cmnd/#`.
//! - A service's whole base (Zigbee2MQTT's `zigbee2mqtt/#`, Frigate's `frigate/#`) is proposed
//!   only on topics the service alone publishes (the bridge's `zigbee2mqtt/bridge/state`, not a
//!   controller's `zigbee2mqtt/lamp/set`), and, like every prefix, only while no other device
//!   has rules under it (next rule).
//! - Besides its prefix, a proposal names only fixed topics its firmware subscribes to on every
//!   device ([`BROADCASTS`]: Home Assistant's birth message, Shelly Gen1's broadcast command).
//! - Never a prefix another device already has rules for. [`suggest`] and [`from_services`] get
//!   every other device's allowed and denied rules ([`HeldRule`]); a proposed rule that one of
//!   them overlaps ([`topic::intersects`], same direction) is that device's, and then nothing is
//!   proposed for the prefix at all. A device that tried `tele/frontdoor/LWT` is not offered
//!   Front door's `cmnd/frontdoor/#`. Two kinds of rules name no one and are passed over: the
//!   [`BROADCASTS`], and what a controller holds: wide grants whose every named level is a root
//!   for many devices (`subscribe #`, `tele/#`), and commands it publishes to the prefix
//!   (`kitchen/switch/relay/command`); either would otherwise veto the device's own proposal.
//! - [`held_by`] names, for one topic a device tried, the other device whose rule it overlaps,
//!   so a person sees whose topic a one-click allow would hand out.

use crate::device::DeviceId;
use crate::manifest::{Direction, RuleStatus, TopicRule};
use crate::topic;
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

/// Of the [`SHARED_ROOTS`], those that are one service's whole tree rather than a root for many
/// devices: a rule over one (`zigbee2mqtt/#`) is that service's, so it keeps another device from
/// being proposed the base, while a rule over a root for many (`tele/#`) is a controller's grant.
const SERVICE_BASES: &[&str] = &["zigbee2mqtt", "frigate"];

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

/// A rule another device holds, and whose it is: what proposals are checked against, so that no
/// device is offered, one click from allowed, a topic that is another's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRule {
    pub device: DeviceId,
    /// Its rule; only `allowed` and `denied` rules count, since what a device merely tried
    /// (`learned`) is no one's: counting it would let a device keep another's firmware from
    /// being proposed by trying its topics first.
    pub rule: TopicRule,
}

/// Suggestions from the topics a device tried, leaving out rules already in `existing` (this
/// device's own allowed and denied rules) and any prefix that `others` (every other device's
/// rules) shows to be another device's: see the module documentation.
pub fn suggest(tried: &[TopicRule], existing: &[TopicRule], others: &[HeldRule]) -> Vec<Suggestion> {
    let mut out: Vec<Suggestion> = Vec::new();
    for rule in tried.iter().filter(|r| r.direction == Direction::Publish) {
        if let Some(found) = recognise(&rule.pattern, tried) {
            add(&mut out, found, Evidence::Topics, existing, others);
        }
    }
    out
}

/// Suggestions from what a device announces over mDNS (service type and instance name), before
/// it has sent anything: the firmwares whose MQTT prefix is their mDNS name. Shelly Gen2's prefix
/// is its device id (`shellyplusplugs-c4dd57877294`, its `_shelly._tcp` name), Gen1's
/// `shellies/<name>` (its `_http._tcp` name), ESPHome's its node name (`_esphomelib._tcp`), which
/// also names its own Home Assistant discovery topics. Added to `known`, skipping firmwares
/// and prefixes already there. Anyone can announce any name, so these are checked against
/// `others` exactly as [`suggest`]'s are.
pub fn from_services(services: &[(&str, &str)], existing: &[TopicRule], others: &[HeldRule], known: &mut Vec<Suggestion>) {
    for &(service_type, instance) in services {
        // A name is announced by anyone on the network: one with MQTT wildcards or levels, or
        // named like a shared root, would make a rule far wider than the device's own prefix.
        if !is_identity(instance) || SHELLY_GEN1_BROADCASTS.iter().any(|b| b.eq_ignore_ascii_case(instance)) {
            continue;
        }
        let lower = instance.to_ascii_lowercase();
        let found = match service_type {
            "_shelly._tcp" if lower.starts_with("shelly") => Some(Found::new("Shelly (Gen2)", &lower, shelly_gen2(&lower))),
            "_http._tcp" if lower.starts_with("shelly") => Some(Found::new("Shelly (Gen1)", instance, shelly_gen1(instance))),
            "_esphomelib._tcp" => Some(Found::new("ESPHome", instance, esphome(instance, true))),
            _ => None,
        };
        if let Some(found) = found {
            add(known, found, Evidence::Mdns, existing, others);
        }
    }
}

/// For one rule a device tried (a learned `publish tele/frontdoor/LWT`), the rule of another
/// device that stands behind it, so a person is told ("tele/frontdoor/LWT is Front door's
/// topic") before allowing it in one click. In this order:
/// 1. a rule of the same direction that overlaps it: the topic is that device's, as in
///    [`suggest`] (publishing there spoofs it, subscribing there snoops on its commands);
/// 2. for a topic that follows a firmware, a rule that overlaps what [`suggest`] would propose
///    for its prefix (`subscribe cmnd/frontdoor/#` makes `tele/frontdoor/LWT` Front door's);
/// 3. a rule of the other direction that overlaps it: that device is on the other end (a
///    `publish cmnd/frontdoor/POWER` would command Front door, which subscribes there).
///
/// The caller tells 1–2 from 3 by comparing `rule.direction` with `tried.direction`. Wide
/// grants (`subscribe #`, `tele/#`) and [`BROADCASTS`] name no one. `None`: no other device's
/// rule is involved. Pure; the caller turns the [`DeviceId`] into a name.
pub fn held_by<'a>(tried: &TopicRule, others: &'a [HeldRule]) -> Option<&'a HeldRule> {
    let same = others.iter().find(|held| claims(held, tried, &[]));
    let via_prefix = || {
        let found = (tried.direction == Direction::Publish).then(|| recognise(&tried.pattern, std::slice::from_ref(tried))).flatten()?;
        found.rules.iter().find_map(|rule| others.iter().find(|held| claims(held, rule, &found.rules)))
    };
    let other_end = || {
        others.iter().find(|held| {
            held.rule.status != RuleStatus::Learned
                && held.rule.direction != tried.direction
                && !is_broadcast(tried)
                && !is_broadcast(&held.rule)
                && !is_wide_grant(&held.rule.pattern)
                && topic::intersects(&held.rule.pattern, &tried.pattern)
        })
    };
    same.or_else(via_prefix).or_else(other_end)
}

/// Whether `held`, another device's rule, makes `rule` (proposed to or tried by this device)
/// that device's. `proposal` is the whole proposal `rule` belongs to (empty for a single topic).
///
/// Only the same direction counts: two publishers of one state topic are a spoofer and its
/// victim, two subscribers to one command topic a snoop and its victim, while a publisher and a
/// subscriber of one topic are the ordinary pair (Home Assistant publishes the
/// `cmnd/plug1/POWER` that plug1 subscribes to). For the same reason, another device publishing
/// within the proposal's own command topics (Home Assistant's `kitchen/switch/relay/command`,
/// inside ESPHome's `subscribe kitchen/+/+/command`) is a controller commanding this prefix,
/// even though the firmware's `publish kitchen/#` overlaps it. A rule whose every named level is
/// a shared root (`#`, `tele/#`, `homeassistant/#`, `cmnd/+/+`) is a grant over many devices'
/// topics — a controller's — and names no identity; counting it would let one controller veto
/// every proposal. A service base is not such a root: `zigbee2mqtt/#` is the bridge's.
fn claims(held: &HeldRule, rule: &TopicRule, proposal: &[TopicRule]) -> bool {
    let commands_this_prefix = || {
        held.rule.direction == Direction::Publish
            && proposal.iter().any(|own| own.direction == Direction::Subscribe && topic::covers(&own.pattern, &held.rule.pattern))
    };
    held.rule.status != RuleStatus::Learned
        && held.rule.direction == rule.direction
        && !is_broadcast(rule)
        && !is_wide_grant(&held.rule.pattern)
        && topic::intersects(&held.rule.pattern, &rule.pattern)
        && !commands_this_prefix()
}

/// A subscription to one of the [`BROADCASTS`], or the publish that feeds it (Home Assistant's
/// `homeassistant/status`): many devices on either end is the point of these.
fn is_broadcast(rule: &TopicRule) -> bool {
    BROADCASTS.contains(&rule.pattern.as_str())
}

/// A pattern that names no level but wildcards and roots shared by many devices.
fn is_wide_grant(pattern: &str) -> bool {
    pattern.split('/').all(|level| {
        matches!(level, "+" | "#")
            || (SHARED_ROOTS.iter().any(|root| root.eq_ignore_ascii_case(level))
                && !SERVICE_BASES.iter().any(|base| base.eq_ignore_ascii_case(level)))
    })
}

/// A firmware recognised for a prefix, and the rules it needs there.
struct Found {
    firmware: &'static str,
    prefix: String,
    rules: Vec<TopicRule>,
}

impl Found {
    fn new(firmware: &'static str, prefix: &str, rules: Vec<TopicRule>) -> Self {
        Self { firmware, prefix: prefix.to_owned(), rules }
    }
}

/// The firmware and prefix one published topic gives away, if any. `tried` (all the device
/// tried) tells whether an ESPHome node sends Home Assistant discovery.
fn recognise(topic: &str, tried: &[TopicRule]) -> Option<Found> {
    let levels: Vec<&str> = topic.split('/').collect();
    // Each prefix must look like an identity (`is_identity`): a device that tried
    // `cmnd/status` is not ESPHome node `cmnd`, and `shellies/command` is no Gen1 device.
    match levels.as_slice() {
        ["tele" | "stat", prefix, _, ..] if is_identity(prefix) => Some(Found::new("Tasmota", prefix, tasmota(prefix))),
        ["shellies", prefix, ..] if is_identity(prefix) && !SHELLY_GEN1_BROADCASTS.contains(prefix) => {
            Some(Found::new("Shelly (Gen1)", prefix, shelly_gen1(prefix)))
        }
        [prefix, "online" | "events" | "status", ..] if prefix.starts_with("shelly") && is_identity(prefix) => {
            Some(Found::new("Shelly (Gen2)", prefix, shelly_gen2(prefix)))
        }
        // A service base is proposed whole, so only on what the service alone publishes: the
        // bridge's own `<base>/bridge/state`, `info`, `devices`... (a controller publishes
        // `zigbee2mqtt/<device>/set` and `bridge/request/...`, and must not be offered the base).
        [base, "bridge", leaf, ..] if *leaf != "request" && (*base == "zigbee2mqtt" || is_identity(base)) => {
            Some(Found::new("Zigbee2MQTT", base, zigbee2mqtt(base)))
        }
        // Frigate's own availability, events, stats and reviews, and its snapshots (a
        // controller publishes `frigate/<camera>/<feature>/set`).
        ["frigate", "available" | "events" | "stats" | "reviews"] | ["frigate", _, _, "snapshot"] => {
            Some(Found::new("Frigate", "frigate", vec![publish("frigate/#")]))
        }
        // The prefix is the user and the device: `anna/phone` and `bob/phone` are two.
        ["owntracks", user, device, ..] if is_identity(user) && is_identity(device) => {
            let base = format!("owntracks/{user}/{device}");
            Some(Found::new("OwnTracks", &format!("{user}/{device}"), vec![publish(&base), publish(&format!("{base}/#"))]))
        }
        // The weakest evidence: any device may publish `<something>/status`.
        [prefix, "status"] if is_identity(prefix) => Some(Found::new("ESPHome", prefix, esphome(prefix, tried_discovery(prefix, tried)))),
        [prefix, component, _, "state"] if ESPHOME_COMPONENTS.contains(component) && is_identity(prefix) => {
            Some(Found::new("ESPHome", prefix, esphome(prefix, tried_discovery(prefix, tried))))
        }
        _ => None,
    }
}

/// Adds a suggestion of the rules not yet in `existing`, unless the firmware and prefix are
/// already suggested, nothing is missing, or the prefix is another device's: when any rule of
/// the proposal is claimed by a rule in `others`, none of it is proposed (the prefix is taken;
/// proposing the rest would still hand out the taken device's other topics).
fn add(out: &mut Vec<Suggestion>, found: Found, evidence: Evidence, existing: &[TopicRule], others: &[HeldRule]) {
    let Found { firmware, prefix, rules } = found;
    if out.iter().any(|s| s.firmware == firmware && s.prefix == prefix) {
        return;
    }
    if rules.iter().any(|rule| others.iter().any(|held| claims(held, rule, &rules))) {
        return;
    }
    // A prefix about as long as a topic may be makes rules longer than one (`tele/<prefix>/#`):
    // such a proposal could not be allowed, so it is not made. Found by the suggest fuzz target.
    if !rules.iter().all(|rule| topic::is_valid_filter(&rule.pattern)) {
        return;
    }
    let missing: Vec<TopicRule> =
        rules.into_iter().filter(|r| !existing.iter().any(|e| e.direction == r.direction && e.pattern == r.pattern)).collect();
    if !missing.is_empty() {
        out.push(Suggestion { firmware: firmware.to_owned(), prefix, rules: missing, evidence });
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

fn shelly_gen2(prefix: &str) -> Vec<TopicRule> {
    vec![publish(&format!("{prefix}/#")), subscribe(&format!("{prefix}/rpc"))]
}

fn shelly_gen1(prefix: &str) -> Vec<TopicRule> {
    vec![publish(&format!("shellies/{prefix}/#")), subscribe(&format!("shellies/{prefix}/+/+/command")), subscribe("shellies/command")]
}

fn zigbee2mqtt(base: &str) -> Vec<TopicRule> {
    vec![
        publish(&format!("{base}/#")),
        subscribe(&format!("{base}/+/set")),
        subscribe(&format!("{base}/+/get")),
        subscribe(&format!("{base}/bridge/request/#")),
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
    tried.iter().any(|r| topic::matches(&discovery, &r.pattern))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tried(topics: &[&str]) -> Vec<TopicRule> {
        topics.iter().map(|t| TopicRule { direction: Direction::Publish, pattern: (*t).to_owned(), status: RuleStatus::Learned }).collect()
    }

    fn device(n: u64) -> DeviceId {
        DeviceId::from_random(n)
    }

    fn held(n: u64, direction: Direction, pattern: &str, status: RuleStatus) -> HeldRule {
        HeldRule { device: device(n), rule: TopicRule { direction, pattern: pattern.to_owned(), status } }
    }

    #[test]
    fn a_prefix_as_long_as_a_topic_proposes_nothing_it_could_not_allow() {
        // Zigbee2MQTT's `<base>/bridge/state` at the topic limit: `<base>/bridge/request/#`, one
        // of its rules, would be longer than a topic may be.
        let base = "z".repeat(crate::topic::MAX_TOPIC_BYTES - "/bridge/state".len());
        let long = format!("{base}/bridge/state");
        assert!(crate::topic::is_valid_name(&long));
        assert!(suggest(&tried(&[&long]), &[], &[]).is_empty());
        assert_eq!(suggest(&tried(&["zigbee2mqtt/bridge/state"]), &[], &[]).len(), 1, "a usual base is still proposed");
    }

    /// Front door, a Tasmota lock whose rules a person allowed.
    fn front_door() -> Vec<HeldRule> {
        use Direction::*;
        vec![
            held(1, Publish, "tele/frontdoor/#", RuleStatus::Allowed),
            held(1, Publish, "stat/frontdoor/#", RuleStatus::Allowed),
            held(1, Subscribe, "cmnd/frontdoor/#", RuleStatus::Allowed),
        ]
    }

    /// Home Assistant as a device: a controller with wide grants and specific commands.
    fn home_assistant() -> Vec<HeldRule> {
        use Direction::*;
        vec![
            held(9, Subscribe, "#", RuleStatus::Allowed),
            held(9, Subscribe, "homeassistant/#", RuleStatus::Allowed),
            held(9, Publish, "homeassistant/status", RuleStatus::Allowed),
            held(9, Publish, "cmnd/plug1/POWER", RuleStatus::Allowed),
            held(9, Publish, "cmnd/+/Restart", RuleStatus::Denied),
            held(9, Publish, "kitchen/switch/relay/command", RuleStatus::Allowed),
        ]
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
        from_services(&services, &[], &[], &mut s);
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
            assert_eq!(suggest(&tried(&[topic]), &[], &[]), [], "{topic}");
        }
        let mut s = Vec::new();
        let announced =
            [("_esphomelib._tcp", "homeassistant"), ("_esphomelib._tcp", "CMND"), ("_http._tcp", "shellies"), ("_esphomelib._tcp", "$SYS")];
        from_services(&announced, &[], &[], &mut s);
        assert_eq!(s, []);
        // Positive control: the same shapes with a device's own name are proposed.
        assert_eq!(suggest(&tried(&["kitchen/status"]), &[], &[])[0].prefix, "kitchen");
        assert_eq!(suggest(&tried(&["tele/frontdoor/LWT"]), &[], &[])[0].prefix, "frontdoor");
    }

    /// The review's third finding: `tele/frontdoor/LWT` made `frontdoor` this device's Tasmota
    /// topic and offered it Front door's commands.
    #[test]
    fn a_prefix_another_device_has_rules_for_is_not_proposed() {
        let topics = tried(&["tele/frontdoor/LWT"]);
        assert_eq!(suggest(&topics, &[], &front_door()), []);
        // Any one rule of Front door's in the prefix is enough: proposing the rest would still
        // hand out its other topics (here its state and telemetry).
        for only in front_door() {
            assert_eq!(suggest(&topics, &[], std::slice::from_ref(&only)), [], "{only:?}");
        }
        // A denial names the prefix as much as an allowance does.
        let denied = [held(1, Direction::Publish, "tele/frontdoor/WIFI", RuleStatus::Denied)];
        assert_eq!(suggest(&topics, &[], &denied), []);
        // What another device merely tried is no one's: it must not block the real front door.
        let tried_by_another = [held(2, Direction::Publish, "tele/frontdoor/LWT", RuleStatus::Learned)];
        assert_eq!(suggest(&topics, &[], &tried_by_another)[0].prefix, "frontdoor");
        // Another device's prefix leaves this one's own proposals alone.
        let both = tried(&["tele/frontdoor/LWT", "tele/plug2/STATE"]);
        let s = suggest(&both, &[], &front_door());
        assert_eq!(s.iter().map(|s| s.prefix.as_str()).collect::<Vec<_>>(), ["plug2"]);
    }

    /// mDNS names are anyone's to announce, so they are checked the same way.
    #[test]
    fn an_announced_name_another_device_has_rules_for_is_not_proposed() {
        let kitchen = [held(3, Direction::Publish, "kitchen/#", RuleStatus::Allowed)];
        let mut s = Vec::new();
        from_services(&[("_esphomelib._tcp", "kitchen"), ("_esphomelib._tcp", "hall")], &[], &kitchen, &mut s);
        assert_eq!(s.iter().map(|s| s.prefix.as_str()).collect::<Vec<_>>(), ["hall"]);
        // Its discovery topics alone make the node another's.
        let discovery = [held(3, Direction::Publish, "homeassistant/sensor/kitchen/temperature/config", RuleStatus::Allowed)];
        let mut s = Vec::new();
        from_services(&[("_esphomelib._tcp", "kitchen")], &[], &discovery, &mut s);
        assert_eq!(s, []);
        let gen2 = [held(4, Direction::Subscribe, "shellyplus1-c4dd57877294/rpc", RuleStatus::Allowed)];
        let mut s = Vec::new();
        from_services(&[("_shelly._tcp", "ShellyPlus1-C4DD57877294")], &[], &gen2, &mut s);
        assert_eq!(s, []);
    }

    /// A controller's wide grants, and its commands to a device, are not the device's topics:
    /// they leave every device's own proposal as it was.
    #[test]
    fn a_controllers_grants_do_not_keep_devices_from_their_own_proposals() {
        let ha = home_assistant();
        let plug = suggest(&tried(&["tele/plug1/STATE"]), &[], &ha);
        assert_eq!(plug, suggest(&tried(&["tele/plug1/STATE"]), &[], &[]));
        assert_eq!(plug.len(), 1);
        let topics = tried(&["kitchen/status", "homeassistant/sensor/kitchen/temperature/config"]);
        let node = suggest(&topics, &[], &ha);
        assert!(patterns(&node[0]).contains(&(Direction::Subscribe, "homeassistant/status")));
        assert!(patterns(&node[0]).contains(&(Direction::Publish, "homeassistant/+/kitchen/+/config")));
        // Every ESPHome node subscribes to Home Assistant's birth message: a second one is
        // still proposed it.
        let other_node = [held(5, Direction::Subscribe, "homeassistant/status", RuleStatus::Allowed)];
        assert_eq!(suggest(&topics, &[], &other_node), node);
    }

    #[test]
    fn held_by_names_whose_topic_a_device_tried() {
        let mut others = front_door();
        others.extend(home_assistant());
        let tried_one = |direction, pattern: &str| TopicRule { direction, pattern: pattern.to_owned(), status: RuleStatus::Learned };
        let owner = |rule: &TopicRule| held_by(rule, &others).map(|h| (h.device.clone(), h.rule.pattern.clone()));
        assert_eq!(owner(&tried_one(Direction::Publish, "tele/frontdoor/LWT")), Some((device(1), "tele/frontdoor/#".into())));
        assert_eq!(owner(&tried_one(Direction::Subscribe, "cmnd/frontdoor/POWER")), Some((device(1), "cmnd/frontdoor/#".into())));
        // The device's own topics: Home Assistant's wide grants name no one; the commands it
        // publishes to plug1 are the other end, which the caller words apart by direction.
        assert_eq!(owner(&tried_one(Direction::Publish, "tele/plug1/STATE")), None);
        let commands = held_by(&tried_one(Direction::Subscribe, "cmnd/plug1/POWER"), &others).unwrap();
        assert_eq!((&commands.device, commands.rule.direction), (&device(9), Direction::Publish));
        assert_eq!(owner(&tried_one(Direction::Subscribe, "homeassistant/status")), None);
        // A topic whose firmware prefix is another's: Front door holding only its commands
        // still makes `tele/frontdoor/LWT` its own.
        let commands_only = [held(1, Direction::Subscribe, "cmnd/frontdoor/#", RuleStatus::Allowed)];
        let via_prefix = held_by(&tried_one(Direction::Publish, "tele/frontdoor/LWT"), &commands_only);
        assert_eq!(via_prefix, Some(&commands_only[0]));
        // The other end: publishing to Front door's commands, or receiving its telemetry.
        assert_eq!(owner(&tried_one(Direction::Publish, "cmnd/frontdoor/POWER")), Some((device(1), "cmnd/frontdoor/#".into())));
        assert_eq!(owner(&tried_one(Direction::Subscribe, "tele/frontdoor/+")), Some((device(1), "tele/frontdoor/#".into())));
        // ... but Home Assistant's birth message, published by it, is every node's to receive.
        assert_eq!(owner(&tried_one(Direction::Subscribe, "homeassistant/status")), None);
    }

    /// A topic under a service's base is what controllers publish too; only the service's own
    /// topics give it away, and only while no other device has rules under the base.
    #[test]
    fn a_service_base_is_proposed_only_to_the_service_and_only_while_free() {
        for controller in
            ["zigbee2mqtt/front_door/set", "zigbee2mqtt/bridge/request/permit_join", "frigate/front/detect/set", "frigate/restart"]
        {
            assert_eq!(suggest(&tried(&[controller]), &[], &[]), [], "{controller}");
        }
        for shared in ["zigbee2mqtt/status", "frigate/status"] {
            assert_eq!(suggest(&tried(&[shared]), &[], &[]), [], "{shared}");
        }
        let bridge = tried(&["zigbee2mqtt/bridge/state"]);
        let first = suggest(&bridge, &[], &[]);
        assert_eq!(patterns(&first[0])[0], (Direction::Publish, "zigbee2mqtt/#"));
        // A second bridge, or anything claiming the base, is not offered the first one's.
        let taken = [held(6, Direction::Publish, "zigbee2mqtt/#", RuleStatus::Allowed)];
        assert_eq!(suggest(&bridge, &[], &taken), []);
        let frigate = [held(7, Direction::Publish, "frigate/#", RuleStatus::Allowed)];
        assert_eq!(suggest(&tried(&["frigate/available"]), &[], &frigate), []);
        assert_eq!(suggest(&tried(&["frigate/available"]), &[], &[])[0].prefix, "frigate");
        // Home Assistant commanding Zigbee devices through the bridge is the ordinary pair.
        let mut controller = home_assistant();
        controller.push(held(9, Direction::Publish, "zigbee2mqtt/front_door/set", RuleStatus::Allowed));
        assert_eq!(suggest(&bridge, &[], &controller), first);
        // Another base is another bridge's own.
        let custom = suggest(&tried(&["z2m_upstairs/bridge/state"]), &[], &taken);
        assert_eq!((custom[0].prefix.as_str(), patterns(&custom[0])[0]), ("z2m_upstairs", (Direction::Publish, "z2m_upstairs/#")));
    }

    #[test]
    fn owntracks_names_the_user_and_the_device() {
        let s = suggest(&tried(&["owntracks/anna/phone", "owntracks/bob/phone"]), &[], &[]);
        assert_eq!(s.iter().map(|s| s.prefix.as_str()).collect::<Vec<_>>(), ["anna/phone", "bob/phone"]);
        let annas = [held(8, Direction::Publish, "owntracks/anna/phone/#", RuleStatus::Allowed)];
        assert_eq!(suggest(&tried(&["owntracks/anna/phone"]), &[], &annas), []);
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
        let mut s = suggest(&tried(&["living-room-climate/status"]), &[], &[]);
        from_services(&[("_esphomelib._tcp", "living-room-climate")], &[], &[], &mut s);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn firmware_is_recognised_from_real_topics() {
        let cases: &[(&[&str], &str, &str)] = &[
            (&["tele/tasmota_A1B2C3/SENSOR", "tele/tasmota_A1B2C3/STATE"], "Tasmota", "tasmota_A1B2C3"),
            (&["shellyplusplugs-c4dd57877294/status/switch:0"], "Shelly (Gen2)", "shellyplusplugs-c4dd57877294"),
            (&["shellies/shelly1-84CCA8ADE2FA/relay/0"], "Shelly (Gen1)", "shelly1-84CCA8ADE2FA"),
            (&["zigbee2mqtt/bridge/state"], "Zigbee2MQTT", "zigbee2mqtt"),
            (&["living-room-climate/sensor/temperature/state"], "ESPHome", "living-room-climate"),
            (&["frigate/front/person/snapshot"], "Frigate", "frigate"),
            (&["owntracks/anna/phone"], "OwnTracks", "anna/phone"),
        ];
        for (topics, firmware, prefix) in cases {
            let s = suggest(&tried(topics), &[], &[]);
            assert_eq!(s.len(), 1, "{topics:?}: {s:?}");
            assert_eq!((s[0].firmware.as_str(), s[0].prefix.as_str()), (*firmware, *prefix));
        }
        let tasmota = &suggest(&tried(&["stat/tasmota_A1B2C3/POWER"]), &[], &[])[0];
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
        let s = &suggest(&topics, &[publish("kitchen/#")], &[])[0];
        assert_eq!(
            patterns(s),
            [
                (Direction::Subscribe, "kitchen/+/+/command"),
                (Direction::Subscribe, "homeassistant/status"),
                (Direction::Publish, "homeassistant/+/kitchen/+/config")
            ]
        );
        assert!(suggest(&tried(&["some/random/topic"]), &[], &[]).is_empty());
        assert!(suggest(&tried(&["tele/x/SENSOR"]), &tasmota("x"), &[]).is_empty(), "all allowed already");
    }
}
