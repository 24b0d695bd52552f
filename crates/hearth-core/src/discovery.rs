//! MQTT discovery messages, understood: Home Assistant's `homeassistant/<component>/[<node>/]<object>/config`,
//! Tasmota's `tasmota/discovery/<MAC>/config` and `/sensors`, and the Zigbee2MQTT bridge's
//! `<base>/bridge/devices` (formats from `shared/reference/devices.md`).
//!
//! A discovery message describes *entities* (a sensor, a switch, a door contact) and the devices
//! they belong to (a Zigbee door sensor behind a bridge, an ESPHome node), and names the topics
//! their state is published on and their commands are taken from. Whoever consumes discovery
//! (Home Assistant) trusts those topics; so a device may only describe entities whose state
//! topics it may publish and whose command topics it may subscribe to. Otherwise a plug could
//! announce a "lamp" whose switch sends commands to the front-door lock: entity injection.

use crate::manifest::{Manifest, Verdict};
use crate::topic;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

/// Which convention a discovery message follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Source {
    HomeAssistant,
    Tasmota,
    Zigbee2mqtt,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HomeAssistant => "home_assistant",
            Self::Tasmota => "tasmota",
            Self::Zigbee2mqtt => "zigbee2mqtt",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::HomeAssistant, Self::Tasmota, Self::Zigbee2mqtt].into_iter().find(|v| v.as_str() == s)
    }
}

/// A device a discovery message describes: a child behind a bridge, or the publishing device
/// itself as its firmware names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DescribedDevice {
    /// Its id in the firmware's terms: a Zigbee IEEE address, a MAC, Home Assistant's `ids`.
    pub key: String,
    pub name: String,
    pub vendor: Option<String>,
    pub model: Option<String>,
}

/// One entity: a value a device reports, or a control it offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Entity {
    /// Unique within the publishing device: the discovery topic, plus a suffix where one
    /// message describes several entities.
    pub key: String,
    /// The [`DescribedDevice::key`] it belongs to, if the message says.
    pub described: Option<String>,
    /// `sensor`, `switch`, `binary`, ... in the convention's own words.
    pub component: String,
    pub name: String,
    /// Home Assistant's `unique_id`: no other device may claim it.
    pub unique_id: Option<String>,
    pub state_topic: Option<String>,
    pub command_topic: Option<String>,
    pub device_class: Option<String>,
    pub unit: Option<String>,
}

/// What one discovery message says. It replaces whatever the previous message on the same
/// topic (its `scope`) said; an empty message removes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Discovery {
    pub source: Option<Source>,
    pub scope: String,
    pub devices: Vec<DescribedDevice>,
    pub entities: Vec<Entity>,
    /// Topics the described entities publish on (state, availability, attributes).
    pub publishes: Vec<String>,
    /// Topics the described entities take commands from.
    pub commands: Vec<String>,
}

impl Discovery {
    /// The `unique_id`s it claims.
    pub fn unique_ids(&self) -> impl Iterator<Item = &str> {
        self.entities.iter().filter_map(|e| e.unique_id.as_deref())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error("the discovery message is not JSON of the expected shape: {0}")]
    Malformed(String),
    #[error("the discovery message names `{0}`, which is not a valid MQTT topic")]
    BadTopic(String),
}

/// Most entities one message may describe: a Zigbee network's device list is hundreds, not
/// millions; a bigger list is refused rather than kept.
pub const MAX_ENTITIES: usize = 5_000;

/// Which convention `topic` is a discovery topic of, if any.
pub fn source_of(topic: &str) -> Option<Source> {
    let levels: Vec<&str> = topic.split('/').collect();
    match levels.as_slice() {
        ["homeassistant", _component, _object, "config"] | ["homeassistant", _component, _, _object, "config"] => {
            Some(Source::HomeAssistant)
        }
        ["tasmota", "discovery", _mac, "config" | "sensors"] => Some(Source::Tasmota),
        [_base, "bridge", "devices"] => Some(Source::Zigbee2mqtt),
        _ => None,
    }
}

/// Parses a message on a discovery topic; `Ok(None)` if `topic` is not one.
pub fn parse(topic: &str, payload: &[u8]) -> Result<Option<Discovery>, DiscoveryError> {
    let Some(source) = source_of(topic) else { return Ok(None) };
    let mut out = Discovery { source: Some(source), scope: topic.to_owned(), ..Discovery::default() };
    // An empty (retained) message is how every convention removes what it announced.
    if payload.is_empty() {
        return Ok(Some(out));
    }
    let value: Value = serde_json::from_slice(payload).map_err(|e| DiscoveryError::Malformed(e.to_string()))?;
    match source {
        Source::HomeAssistant => home_assistant(topic, &value, &mut out)?,
        Source::Tasmota if topic.ends_with("/config") => tasmota_config(topic, &value, &mut out)?,
        Source::Tasmota => tasmota_sensors(topic, &value, &mut out)?,
        Source::Zigbee2mqtt => zigbee2mqtt_devices(topic, &value, &mut out)?,
    }
    if out.entities.len() > MAX_ENTITIES {
        return Err(DiscoveryError::Malformed(format!("{} entities, more than the {MAX_ENTITIES} Hearth keeps", out.entities.len())));
    }
    for t in out.publishes.iter().chain(&out.commands) {
        if !topic::is_valid_name(t) {
            return Err(DiscoveryError::BadTopic(t.clone()));
        }
    }
    out.publishes.sort();
    out.publishes.dedup();
    out.commands.sort();
    out.commands.dedup();
    Ok(Some(out))
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, DiscoveryError> {
    value.as_object().ok_or_else(|| DiscoveryError::Malformed(format!("{what} is not a JSON object")))
}

/// A string field under its full name or its abbreviation.
fn text(map: &Map<String, Value>, full: &str, short: &str) -> Option<String> {
    map.get(full).or_else(|| map.get(short)).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Home Assistant topic options end in `_topic`, or `_t` when abbreviated; the ones that carry
/// commands to the device say `command`/`cmd`, or start with `set_` (`set_position_topic`).
fn is_topic_option(key: &str) -> bool {
    // `topic`/`t`: device triggers, tags and images name their one topic so.
    key.ends_with("_topic") || key.ends_with("_t") || key == "topic" || key == "t"
}

fn is_command_option(key: &str) -> bool {
    key.contains("command") || key.contains("cmd") || key.starts_with("set_")
}

/// `~` at the start or end of a topic option stands for the `~` (base topic) option.
fn expand(value: &str, base: Option<&str>) -> String {
    match base {
        Some(base) if value.starts_with('~') => format!("{base}{}", &value[1..]),
        Some(base) if value.ends_with('~') => format!("{}{base}", &value[..value.len() - 1]),
        _ => value.to_owned(),
    }
}

/// One Home Assistant config, or a device config (`homeassistant/device/<id>/config`) whose
/// entities sit under `cmps`, each checked as if it were a config of its own.
fn home_assistant(topic: &str, value: &Value, out: &mut Discovery) -> Result<(), DiscoveryError> {
    let config = object(value, "a Home Assistant discovery config")?;
    let levels: Vec<&str> = topic.split('/').collect();
    let component = levels[1];
    let object_id = levels[levels.len() - 2];
    let base = config.get("~").and_then(Value::as_str);
    let described = match config.get("device").or_else(|| config.get("dev")) {
        Some(dev) => Some(home_assistant_device(object(dev, "`device`")?)?),
        None => None,
    };
    // Options at the top apply to every entity of a device config.
    let (state_topic, command_topic) = topic_options(config, base, out)?;
    match config.get("components").or_else(|| config.get("cmps")) {
        Some(components) => {
            for (object_id, component) in object(components, "`cmps`")? {
                let component = object(component, "a component of `cmps`")?;
                let base = component.get("~").and_then(Value::as_str).or(base);
                let (state, command) = topic_options(component, base, out)?;
                let platform = text(component, "platform", "p").unwrap_or_else(|| "entity".to_owned());
                out.entities.push(entity(
                    topic,
                    Some(object_id),
                    &platform,
                    component,
                    described.as_ref(),
                    state.or(state_topic.clone()),
                    command.or(command_topic.clone()),
                ));
            }
        }
        None => out.entities.push(entity(topic, None, component, config, described.as_ref(), state_topic, command_topic)),
    }
    if out.entities.iter().all(|e| e.name.is_empty()) {
        for e in &mut out.entities {
            e.name = object_id.to_owned();
        }
    }
    out.devices.extend(described);
    Ok(())
}

/// Every topic a Home Assistant config names, sorted into what the entity publishes and what
/// it takes commands from; returns its state and command topics.
fn topic_options(
    config: &Map<String, Value>,
    base: Option<&str>,
    out: &mut Discovery,
) -> Result<(Option<String>, Option<String>), DiscoveryError> {
    let (mut state_topic, mut command_topic) = (None, None);
    for (key, v) in config {
        if !is_topic_option(key) {
            continue;
        }
        let Some(raw) = v.as_str() else {
            return Err(DiscoveryError::Malformed(format!("`{key}` is not a string")));
        };
        let t = expand(raw, base);
        if is_command_option(key) {
            if matches!(key.as_str(), "command_topic" | "cmd_t") {
                command_topic = Some(t.clone());
            }
            out.commands.push(t);
        } else {
            if matches!(key.as_str(), "state_topic" | "stat_t" | "topic" | "t") {
                state_topic = Some(t.clone());
            }
            out.publishes.push(t);
        }
    }
    // Availability as a list: `availability: [{topic: ...}]` / `avty: [{t: ...}]`.
    if let Some(list) = config.get("availability").or_else(|| config.get("avty")).and_then(Value::as_array) {
        for entry in list {
            let t = entry.get("topic").or_else(|| entry.get("t")).and_then(Value::as_str);
            let t = t.ok_or_else(|| DiscoveryError::Malformed("an availability entry has no topic".into()))?;
            out.publishes.push(expand(t, base));
        }
    }
    Ok((state_topic, command_topic))
}

fn entity(
    topic: &str,
    object_id: Option<&str>,
    component: &str,
    config: &Map<String, Value>,
    described: Option<&DescribedDevice>,
    state_topic: Option<String>,
    command_topic: Option<String>,
) -> Entity {
    Entity {
        key: object_id.map_or_else(|| topic.to_owned(), |o| format!("{topic}#{o}")),
        described: described.map(|d| d.key.clone()),
        component: component.to_owned(),
        name: text(config, "name", "name")
            .or_else(|| object_id.map(str::to_owned))
            .or_else(|| described.map(|d| d.name.clone()))
            .unwrap_or_default(),
        unique_id: text(config, "unique_id", "uniq_id"),
        state_topic,
        command_topic,
        device_class: text(config, "device_class", "dev_cla"),
        unit: text(config, "unit_of_measurement", "unit_of_meas"),
    }
}

fn home_assistant_device(dev: &Map<String, Value>) -> Result<DescribedDevice, DiscoveryError> {
    let ids = dev.get("identifiers").or_else(|| dev.get("ids"));
    let id = match ids {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(list)) => list.first().and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    // Or the first connection, `[["mac", "aa:bb:..."]]`.
    let connection = || {
        let pairs = dev.get("connections").or_else(|| dev.get("cns"))?.as_array()?;
        let pair = pairs.first()?.as_array()?;
        Some(format!("{}:{}", pair.first()?.as_str()?, pair.get(1)?.as_str()?))
    };
    let key = id.or_else(connection).ok_or_else(|| DiscoveryError::Malformed("`device` has neither identifiers nor connections".into()))?;
    Ok(DescribedDevice {
        name: text(dev, "name", "name").unwrap_or_else(|| key.clone()),
        key,
        vendor: text(dev, "manufacturer", "mf"),
        model: text(dev, "model", "mdl"),
    })
}

/// Tasmota's own discovery: the device (`dn`, `md`, `mac`), its relays (`rl`, named by `fn`),
/// and its topics, built from its FullTopic (`ft`), prefixes (`tp`) and topic (`t`).
fn tasmota_config(topic: &str, value: &Value, out: &mut Discovery) -> Result<(), DiscoveryError> {
    let config = object(value, "a Tasmota discovery config")?;
    let field = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_owned);
    let mac = field("mac").unwrap_or_else(|| topic.split('/').nth(2).unwrap_or_default().to_owned());
    let device_topic = field("t").ok_or_else(|| DiscoveryError::Malformed("a Tasmota config without its topic `t`".into()))?;
    let full_topic = field("ft").unwrap_or_else(|| "%prefix%/%topic%/".to_owned());
    let prefixes: Vec<String> = match config.get("tp").and_then(Value::as_array) {
        Some(tp) => tp.iter().map(|p| p.as_str().map(str::to_owned)).collect::<Option<_>>().unwrap_or_default(),
        None => vec!["cmnd".into(), "stat".into(), "tele".into()],
    };
    let [cmnd, stat, tele] = prefixes.as_slice() else {
        return Err(DiscoveryError::Malformed("`tp` must name the three prefixes cmnd, stat and tele".into()));
    };
    let hostname = field("hn").unwrap_or_default();
    let at = |prefix: &str, leaf: &str| {
        let full = full_topic.replace("%prefix%", prefix).replace("%topic%", &device_topic).replace("%hostname%", &hostname);
        // `%id%` is the MAC's last six hex digits (`get`: a MAC that is not ASCII must not panic).
        let id = mac.get(mac.len().saturating_sub(6)..).unwrap_or(&mac);
        format!("{}{leaf}", full.replace("%id%", id))
    };
    let name = field("dn").unwrap_or_else(|| device_topic.clone());
    out.devices.push(DescribedDevice { key: mac.clone(), name: name.clone(), vendor: Some("Tasmota".into()), model: field("md") });
    out.publishes.push(at(tele, "LWT"));
    let relays: Vec<u64> =
        config.get("rl").and_then(Value::as_array).map(|rl| rl.iter().map(|r| r.as_u64().unwrap_or(0)).collect()).unwrap_or_default();
    let friendly: Vec<Option<&str>> =
        config.get("fn").and_then(Value::as_array).map(|f| f.iter().map(Value::as_str).collect()).unwrap_or_default();
    let in_use = relays.iter().filter(|&&r| r != 0).count();
    for (i, &kind) in relays.iter().enumerate().filter(|(_, r)| **r != 0) {
        // Tasmota says POWER with one relay and POWER1, POWER2... with several.
        let power = if in_use == 1 && i == 0 { "POWER".to_owned() } else { format!("POWER{}", i + 1) };
        let component = match kind {
            2 => "light",
            3 => "cover",
            _ => "switch",
        };
        let (state, command) = (at(stat, &power), at(cmnd, &power));
        out.publishes.push(state.clone());
        out.commands.push(command.clone());
        out.entities.push(Entity {
            key: format!("{topic}#{power}"),
            described: Some(mac.clone()),
            component: component.into(),
            name: friendly.get(i).copied().flatten().map_or_else(|| format!("{name} {}", i + 1), str::to_owned),
            unique_id: None,
            state_topic: Some(state),
            command_topic: Some(command),
            device_class: None,
            unit: None,
        });
    }
    Ok(())
}

/// Tasmota's `/sensors`: `{"sn": {"Time": ..., "ENERGY": {"Power": 38, ...}, "DHT22": {...}}}`,
/// one sensor entity per reading. (Their topic is `tele/<t>/SENSOR`, named in the config, not
/// here.)
fn tasmota_sensors(topic: &str, value: &Value, out: &mut Discovery) -> Result<(), DiscoveryError> {
    let sensors = object(value, "a Tasmota sensors message")?;
    let readings = sensors.get("sn").map(|sn| object(sn, "`sn`")).transpose()?;
    let mac = topic.split('/').nth(2).unwrap_or_default().to_owned();
    for (group, fields) in readings.into_iter().flatten() {
        let Some(fields) = fields.as_object() else { continue };
        for (field, reading) in fields {
            if !reading.is_number() {
                continue;
            }
            out.entities.push(Entity {
                key: format!("{topic}#{group}.{field}"),
                described: Some(mac.clone()),
                component: "sensor".into(),
                name: format!("{group} {field}"),
                unique_id: None,
                state_topic: None,
                command_topic: None,
                device_class: None,
                unit: None,
            });
        }
    }
    Ok(())
}

/// The Zigbee2MQTT bridge's device list: every device but the coordinator, with what it exposes.
fn zigbee2mqtt_devices(topic: &str, value: &Value, out: &mut Discovery) -> Result<(), DiscoveryError> {
    let base = topic.split('/').next().unwrap_or_default();
    let devices = value.as_array().ok_or_else(|| DiscoveryError::Malformed("the bridge's device list is not a JSON array".into()))?;
    for device in devices {
        let device = object(device, "a device of the list")?;
        if device.get("type").and_then(Value::as_str) == Some("Coordinator") {
            continue;
        }
        let ieee = device
            .get("ieee_address")
            .and_then(Value::as_str)
            .ok_or_else(|| DiscoveryError::Malformed("a device without `ieee_address`".into()))?;
        let friendly = device.get("friendly_name").and_then(Value::as_str).unwrap_or(ieee);
        let definition = device.get("definition").and_then(Value::as_object);
        let def = |k: &str| definition.and_then(|d| d.get(k)).and_then(Value::as_str).map(str::to_owned);
        out.devices.push(DescribedDevice {
            key: ieee.to_owned(),
            name: friendly.to_owned(),
            vendor: def("vendor"),
            model: def("model").or_else(|| device.get("model_id").and_then(Value::as_str).map(str::to_owned)),
        });
        let state_topic = format!("{base}/{friendly}");
        let exposes = definition.and_then(|d| d.get("exposes")).and_then(Value::as_array);
        for expose in exposes.into_iter().flatten() {
            let Some(expose) = expose.as_object() else { continue };
            let kind = expose.get("type").and_then(Value::as_str).unwrap_or("other");
            let label = expose.get("property").or_else(|| expose.get("name")).and_then(Value::as_str).unwrap_or(kind);
            let settable = access(expose) & 2 != 0
                || expose
                    .get("features")
                    .and_then(Value::as_array)
                    .is_some_and(|fs| fs.iter().filter_map(Value::as_object).any(|f| access(f) & 2 != 0));
            let command_topic = settable.then(|| format!("{state_topic}/set"));
            out.commands.extend(command_topic.clone());
            out.entities.push(Entity {
                key: format!("{topic}#{ieee}/{label}"),
                described: Some(ieee.to_owned()),
                component: kind.to_owned(),
                name: label.to_owned(),
                unique_id: None,
                state_topic: Some(state_topic.clone()),
                command_topic,
                device_class: None,
                unit: expose.get("unit").and_then(Value::as_str).map(str::to_owned),
            });
        }
        out.publishes.push(state_topic);
    }
    Ok(())
}

/// An expose's access bits: 1 published, 2 settable, 4 gettable.
fn access(expose: &Map<String, Value>) -> u64 {
    expose.get("access").and_then(Value::as_u64).unwrap_or(1)
}

/// The first topic `d` names that `manifest` does not let its device use: a state it may not
/// publish, or a command it may not receive. `None`: the device describes only itself.
pub fn foreign_topic<'a>(d: &'a Discovery, manifest: &Manifest) -> Option<&'a str> {
    let state = d.publishes.iter().find(|t| manifest.publish(t) != Verdict::Allowed);
    state.or_else(|| d.commands.iter().find(|t| manifest.receive(t) != Verdict::Allowed)).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Direction, RuleStatus, TopicRule};

    fn allowed(direction: Direction, pattern: &str) -> TopicRule {
        TopicRule { direction, pattern: pattern.into(), status: RuleStatus::Allowed }
    }

    /// A plug may describe its own switch, never one whose commands go to the door lock.
    #[test]
    fn a_device_may_describe_only_topics_of_its_own() {
        let manifest = Manifest {
            rules: vec![
                allowed(Direction::Publish, "stat/plug1/#"),
                allowed(Direction::Publish, "homeassistant/#"),
                allowed(Direction::Subscribe, "cmnd/plug1/#"),
            ],
        };
        let own = parsed("homeassistant/switch/plug1/config", r#"{"stat_t":"stat/plug1/POWER","cmd_t":"cmnd/plug1/POWER"}"#);
        assert_eq!(foreign_topic(&own, &manifest), None);
        let lock =
            parsed("homeassistant/switch/lamp/config", r#"{"name":"Lamp","stat_t":"stat/plug1/POWER","cmd_t":"cmnd/frontdoor/LOCK"}"#);
        assert_eq!(foreign_topic(&lock, &manifest), Some("cmnd/frontdoor/LOCK"));
        let spoofed = parsed("homeassistant/sensor/smoke/config", r#"{"stat_t":"tele/smoke/STATE"}"#);
        assert_eq!(foreign_topic(&spoofed, &manifest), Some("tele/smoke/STATE"));
    }

    fn parsed(topic: &str, payload: &str) -> Discovery {
        parse(topic, payload.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn discovery_topics_are_recognised_and_others_are_not() {
        assert_eq!(source_of("homeassistant/sensor/node/temp/config"), Some(Source::HomeAssistant));
        assert_eq!(source_of("homeassistant/switch/plug1/config"), Some(Source::HomeAssistant));
        assert_eq!(source_of("tasmota/discovery/DC4F22A1B2C3/config"), Some(Source::Tasmota));
        assert_eq!(source_of("tasmota/discovery/DC4F22A1B2C3/sensors"), Some(Source::Tasmota));
        assert_eq!(source_of("zigbee2mqtt/bridge/devices"), Some(Source::Zigbee2mqtt));
        for other in ["homeassistant/status", "homeassistant/sensor/x/state", "tele/plug/SENSOR", "zigbee2mqtt/front_door"] {
            assert_eq!(source_of(other), None, "{other}");
            assert_eq!(parse(other, b"{}").unwrap(), None);
        }
    }

    /// ESPHome's own discovery, abbreviated as ESPHome sends it.
    #[test]
    fn an_esphome_sensor_config_names_its_entity_device_and_topics() {
        let d = parsed(
            "homeassistant/sensor/living-room-climate/temperature/config",
            r#"{"name":"temperature","uniq_id":"living-room-climate-temperature","dev_cla":"temperature","unit_of_meas":"°C",
                "stat_t":"living-room-climate/sensor/temperature/state","avty_t":"living-room-climate/status",
                "dev":{"ids":"246f28a1b2c3","name":"living-room-climate","mf":"Espressif","mdl":"esp32dev","sw":"2024.6.1"}}"#,
        );
        assert_eq!(
            d.devices,
            [DescribedDevice {
                key: "246f28a1b2c3".into(),
                name: "living-room-climate".into(),
                vendor: Some("Espressif".into()),
                model: Some("esp32dev".into())
            }]
        );
        let e = &d.entities[0];
        assert_eq!(
            (e.component.as_str(), e.name.as_str(), e.unit.as_deref(), e.device_class.as_deref()),
            ("sensor", "temperature", Some("°C"), Some("temperature"))
        );
        assert_eq!(e.unique_id.as_deref(), Some("living-room-climate-temperature"));
        assert_eq!(d.publishes, ["living-room-climate/sensor/temperature/state", "living-room-climate/status"]);
        assert!(d.commands.is_empty());
    }

    /// Shelly's templates use a base topic `~` at the start of each topic option.
    #[test]
    fn the_base_topic_is_expanded_and_command_options_are_told_apart() {
        let d = parsed(
            "homeassistant/light/shelly1/config",
            r#"{"~":"shellies/shellybulb-1/","name":"Bulb","stat_t":"~color/0/status","cmd_t":"~color/0/set",
                "bri_cmd_t":"~color/0/bri","set_pos_t":"~pos","json_attr_t":"~info","availability":[{"topic":"~online"}]}"#,
        );
        assert_eq!(d.publishes, ["shellies/shellybulb-1/color/0/status", "shellies/shellybulb-1/info", "shellies/shellybulb-1/online"]);
        assert_eq!(d.commands, ["shellies/shellybulb-1/color/0/bri", "shellies/shellybulb-1/color/0/set", "shellies/shellybulb-1/pos"]);
        assert_eq!(d.entities[0].command_topic.as_deref(), Some("shellies/shellybulb-1/color/0/set"));
    }

    /// Home Assistant's device discovery: one config, several entities under `cmps`, each
    /// checked like a config of its own.
    #[test]
    fn a_device_config_names_the_topics_of_each_of_its_components() {
        let d = parsed(
            "homeassistant/device/plug1/config",
            r#"{"dev":{"ids":"plug1","name":"Plug"},"o":{"name":"fw"},"stat_t":"plug1/state",
                "cmps":{"relay":{"p":"switch","uniq_id":"plug1-relay","cmd_t":"plug1/set"},
                        "lock":{"p":"lock","uniq_id":"plug1-lock","cmd_t":"zigbee2mqtt/front_door/set"}}}"#,
        );
        assert_eq!(d.commands, ["plug1/set", "zigbee2mqtt/front_door/set"]);
        assert_eq!(d.unique_ids().collect::<Vec<_>>(), ["plug1-lock", "plug1-relay"]);
        let kinds: Vec<_> = d.entities.iter().map(|e| (e.component.as_str(), e.state_topic.as_deref())).collect();
        assert_eq!(kinds, [("lock", Some("plug1/state")), ("switch", Some("plug1/state"))]);
        let trigger =
            parsed("homeassistant/device_automation/plug1/button/config", r#"{"automation_type":"trigger","topic":"cmnd/lock/open"}"#);
        assert_eq!(trigger.publishes, ["cmnd/lock/open"], "a trigger's `topic` is checked too");
    }

    #[test]
    fn an_empty_message_removes_what_its_topic_described() {
        let d = parse("homeassistant/switch/plug1/config", b"").unwrap().unwrap();
        assert!(d.entities.is_empty() && d.devices.is_empty());
        assert_eq!(d.scope, "homeassistant/switch/plug1/config");
    }

    #[test]
    fn malformed_discovery_is_an_error_that_says_why() {
        let bad = [
            ("homeassistant/switch/p/config", "not json"),
            ("homeassistant/switch/p/config", "[1,2]"),
            ("homeassistant/switch/p/config", r#"{"stat_t": 5}"#),
            ("homeassistant/switch/p/config", r#"{"dev": {"name": "no ids"}}"#),
            ("tasmota/discovery/AA/config", r#"{"dn":"no topic"}"#),
            ("zigbee2mqtt/bridge/devices", r#"{"not":"a list"}"#),
            ("zigbee2mqtt/bridge/devices", r#"[{"friendly_name":"no ieee"}]"#),
        ];
        for (topic, payload) in bad {
            assert!(matches!(parse(topic, payload.as_bytes()), Err(DiscoveryError::Malformed(_))), "{topic} {payload}");
        }
        let wildcard = parse("homeassistant/switch/p/config", br#"{"cmd_t": "cmnd/#"}"#);
        assert_eq!(wildcard, Err(DiscoveryError::BadTopic("cmnd/#".into())));
    }

    #[test]
    fn a_tasmota_config_describes_the_device_its_relays_and_their_topics() {
        let d = parsed(
            "tasmota/discovery/DC4F22A1B2C3/config",
            r#"{"ip":"10.77.0.150","dn":"Kitchen plug","fn":["Kitchen plug",null],"hn":"tasmota-A1B2C3-0451","mac":"DC4F22A1B2C3",
                "md":"Sonoff S31","t":"tasmota_A1B2C3","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"rl":[1,0]}"#,
        );
        assert_eq!(d.devices[0].name, "Kitchen plug");
        assert_eq!(d.devices[0].model.as_deref(), Some("Sonoff S31"));
        assert_eq!(d.entities.len(), 1);
        let relay = &d.entities[0];
        assert_eq!((relay.component.as_str(), relay.name.as_str()), ("switch", "Kitchen plug"));
        assert_eq!(relay.state_topic.as_deref(), Some("stat/tasmota_A1B2C3/POWER"));
        assert_eq!(d.commands, ["cmnd/tasmota_A1B2C3/POWER"]);
        assert_eq!(d.publishes, ["stat/tasmota_A1B2C3/POWER", "tele/tasmota_A1B2C3/LWT"]);
    }

    #[test]
    fn a_tasmota_with_two_relays_numbers_them_and_follows_its_full_topic() {
        let d = parsed(
            "tasmota/discovery/AABBCCDDEEFF/config",
            r#"{"dn":"Dual","t":"dual","ft":"home/%topic%/%prefix%/","tp":["cmnd","stat","tele"],"rl":[1,2],"mac":"AABBCCDDEEFF"}"#,
        );
        let names: Vec<_> =
            d.entities.iter().map(|e| (e.name.as_str(), e.component.as_str(), e.command_topic.as_deref().unwrap())).collect();
        assert_eq!(names, [("Dual 1", "switch", "home/dual/cmnd/POWER1"), ("Dual 2", "light", "home/dual/cmnd/POWER2")]);
        let by_host = parsed(
            "tasmota/discovery/AABBCCDDEEFF/config",
            r#"{"t":"x","hn":"garage-7","ft":"%prefix%/%hostname%/%id%/","rl":[1],"mac":"AABBCCDDEEFF"}"#,
        );
        assert_eq!(by_host.commands, ["cmnd/garage-7/DDEEFF/POWER"]);
        // A device's own words, however odd, are no reason to panic.
        let odd = parse("tasmota/discovery/X/config", r#"{"t":"x","ft":"%prefix%/%id%/","rl":[1],"mac":"ééé€"}"#.as_bytes());
        assert!(odd.is_ok());
    }

    #[test]
    fn tasmota_sensors_become_one_entity_per_reading() {
        let d = parsed(
            "tasmota/discovery/DC4F22A1B2C3/sensors",
            r#"{"sn":{"Time":"2026-11-29T08:00:00","ENERGY":{"TotalStartTime":"2026-01-04T18:00:00","Total":12.5,"Power":38,"Voltage":231}},"ver":1}"#,
        );
        let names: Vec<_> = d.entities.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["ENERGY Power", "ENERGY Total", "ENERGY Voltage"]);
        assert!(d.publishes.is_empty() && d.commands.is_empty());
    }

    /// A bridge's device list as Zigbee2MQTT publishes it (abridged from a real one).
    #[test]
    fn the_zigbee2mqtt_device_list_describes_child_devices_and_their_exposes() {
        let d = parsed(
            "zigbee2mqtt/bridge/devices",
            r#"[{"ieee_address":"0x00124b0022a1b2c3","type":"Coordinator","network_address":0},
                {"ieee_address":"0x00158d0001a2b3c4","type":"EndDevice","friendly_name":"front_door","power_source":"Battery",
                 "definition":{"model":"MCCGQ11LM","vendor":"Aqara","description":"Door and window sensor",
                   "exposes":[{"type":"binary","name":"contact","property":"contact","access":1},
                              {"type":"numeric","name":"battery","property":"battery","unit":"%","access":1}]}},
                {"ieee_address":"0x0017880104a5b6c7","type":"Router","friendly_name":"hall/lamp",
                 "definition":{"model":"9290012573A","vendor":"Philips",
                   "exposes":[{"type":"light","features":[{"type":"binary","property":"state","access":7}]}]}}]"#,
        );
        let devices: Vec<_> = d.devices.iter().map(|c| (c.key.as_str(), c.name.as_str(), c.vendor.as_deref())).collect();
        assert_eq!(devices, [("0x00158d0001a2b3c4", "front_door", Some("Aqara")), ("0x0017880104a5b6c7", "hall/lamp", Some("Philips"))]);
        let entities: Vec<_> = d.entities.iter().map(|e| (e.name.as_str(), e.unit.as_deref(), e.command_topic.as_deref())).collect();
        assert_eq!(entities, [("contact", None, None), ("battery", Some("%"), None), ("light", None, Some("zigbee2mqtt/hall/lamp/set"))]);
        assert_eq!(d.publishes, ["zigbee2mqtt/front_door", "zigbee2mqtt/hall/lamp"]);
        assert_eq!(d.commands, ["zigbee2mqtt/hall/lamp/set"]);
    }
}
