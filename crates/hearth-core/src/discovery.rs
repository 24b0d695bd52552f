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
    /// Where it publishes the readings that its discovery lists without a topic: Tasmota's
    /// `tele/<topic>/SENSOR`, named by its config while its `/sensors` message lists the readings.
    pub readings_topic: Option<String>,
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
    /// How its value is read from a message on its state topic, as Home Assistant's
    /// `value_template` says it (`{{ value_json.temperature }}`); none: the message is the value.
    /// Kept as the device wrote it; `readings` reads only its simplest forms.
    pub value_template: Option<String>,
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

/// One entity as devices claim it: by its discovery topic, or by its `unique_id` (Home
/// Assistant's identity for it, which several topics may share).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case", tag = "by", content = "value")]
#[ts(export)]
pub enum EntityClaim {
    Topic(String),
    UniqueId(String),
}

impl EntityClaim {
    /// As the store keys it: `topic:<discovery topic>` or `uid:<unique_id>`.
    pub fn key(&self) -> String {
        match self {
            Self::Topic(t) => format!("topic:{t}"),
            Self::UniqueId(u) => format!("uid:{u}"),
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        match key.split_once(':')? {
            ("topic", t) => Some(Self::Topic(t.to_owned())),
            ("uid", u) => Some(Self::UniqueId(u.to_owned())),
            _ => None,
        }
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
    // Asked for every PUBLISH, so without an allocation: no convention's topic has more than
    // five levels.
    let mut levels = [""; 5];
    let mut count = 0;
    for level in topic.split('/') {
        *levels.get_mut(count)? = level;
        count += 1;
    }
    match &levels[..count] {
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
        // A longer one is never read (crate::readings), so it is not kept either.
        value_template: text(config, "value_template", "val_tpl").filter(|t| t.len() <= crate::readings::MAX_TEMPLATE),
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
        readings_topic: None,
    })
}

/// Tasmota's own discovery (`tasmota/discovery/<MAC>/config`): the device (`dn`, `md`, `mac`),
/// the entities its relays, lights, fan, shutters, switches and buttons make, and every topic
/// those are read from and commanded on, so the gate can check each against the manifest.
///
/// Sources (read for the keys and topics, not copied): Tasmota's `TasDiscoverMessage`
/// (`tasmota/tasmota_xdrv_driver/xdrv_12_discovery.ino`) for what a config holds and
/// `GetTopic_P` (`tasmota/tasmota_support/support_tasmota.ino`) for how the firmware builds a
/// topic; Home Assistant's reader, hatasmota (`hatasmota/const.py` for the keys,
/// `discovery.py` for their types, `utils.py` `_get_topic` for how it builds a topic, and
/// `relay.py`, `light.py`, `fan.py`, `shutter.py`, `switch.py`, `button.py`,
/// `status_sensor.py`, `sensor.py` for the topics each entity uses); and the deprecated
/// Home Assistant discovery (`xdrv_12_home_assistant.ino`) for the light commands and the
/// `BUTTONn`/`SWITCHn` topics it named.
///
/// Nothing that decides a topic is guessed: a config without its topic `t`, FullTopic `ft` or
/// three prefixes `tp`, with a wildcard in any of them, or whose lists are not of the expected
/// JSON types, is malformed.
fn tasmota_config(topic: &str, value: &Value, out: &mut Discovery) -> Result<(), DiscoveryError> {
    let config = object(value, "a Tasmota discovery config")?;
    let topics = TasmotaTopics::from_config(topic, config)?;
    let mac = topics.mac.clone();
    let name = tasmota_string(config, "dn")?.unwrap_or_else(|| topics.topic.clone());
    out.devices.push(DescribedDevice {
        key: mac.clone(),
        name: name.clone(),
        vendor: Some("Tasmota".into()),
        model: tasmota_string(config, "md")?,
        // As the firmware builds it: the topic the device itself publishes on.
        readings_topic: Some(first(topics.at(TELE, "SENSOR")?)),
    });
    let relays = tasmota_ints(config, "rl")?;
    let friendly = tasmota_names(config, "fn")?;
    let switch_modes = tasmota_ints(config, "swc")?;
    let switch_names = tasmota_names(config, "swn")?;
    let buttons = tasmota_ints(config, "btn")?;
    let tilts = tasmota_tilts(config)?;
    let ifan = tasmota_int(config, "if")? == 1;
    let light_subtype = tasmota_int(config, "lt_st")?;
    let linked = tasmota_int(config, "lk")? == 1;
    let tuya = tasmota_int(config, "ty")? == 1;
    let camera = tasmota_int(config, "cam")? == 1;
    let options = match config.get("so") {
        Some(so) => Some(object(so, "`so`")?),
        None => None,
    };
    let option = |n: &str| options.and_then(|so| so.get(n)).and_then(Value::as_i64) == Some(1);
    // SetOption4: a command's answer goes to stat/<t>/<COMMAND> instead of stat/<t>/RESULT.
    let answers_by_name = option("4");
    // SetOption30: relays are shown as lights. SetOption68: one light per PWM channel.
    let (relays_as_lights, channel_per_light) = (option("30"), option("68"));

    // Every Tasmota, whatever it has: its Will, its telemetry and sensors, command answers, and
    // the status sensors hatasmota makes for every device (polled with `cmnd/<t>/STATUS`).
    for leaf in ["LWT", "STATE", "SENSOR"] {
        out.publishes.extend(topics.at(TELE, leaf)?);
    }
    for leaf in ["RESULT", "STATUS", "STATUS1", "STATUS2", "STATUS10", "STATUS11"] {
        out.publishes.extend(topics.at(STAT, leaf)?);
    }
    let mut commands = vec!["STATUS".to_owned()];

    // Relays and lights: `rl` 1 a relay, 2 a light, 3 half of a shutter, 0 nothing.
    let powered = relays.iter().filter(|&&r| r != 0 && r != 3).count();
    for (i, &kind) in relays.iter().enumerate().filter(|(_, r)| **r != 0 && **r != 3) {
        let n = i + 1;
        // Tasmota says POWER with one relay and POWER1, POWER2... with several; hatasmota
        // always sends Power<n>.
        let power = if powered == 1 && i == 0 { "POWER".to_owned() } else { format!("POWER{n}") };
        commands.extend([power.clone(), format!("Power{n}"), "STATE".to_owned()]);
        out.publishes.extend(topics.at(STAT, &power)?);
        // The iFan's first relay is its light, switched on and off only.
        let light = kind == 2 && !(ifan && i == 0);
        if light && light_subtype > 0 {
            commands.extend(light_commands(n, light_subtype, linked, tuya, channel_per_light));
        }
        let (state, command) = (first(topics.at(STAT, &power)?), first(topics.at(CMND, &power)?));
        let component = if kind == 2 || relays_as_lights { "light" } else { "switch" };
        let label = friendly.get(i).cloned().flatten().unwrap_or_else(|| format!("{name} {n}"));
        out.entities.push(tasmota_entity(topic, &power, &mac, component, label, state, Some(command)));
    }

    // Shutters: each takes two consecutive `rl` 3 relays; tilt is configured in `sht`.
    let shutters = relays.iter().filter(|&&r| r == 3).count().div_ceil(2);
    for k in 1..=shutters {
        let mut own = ["ShutterOpen", "ShutterClose", "ShutterStop", "ShutterPosition"].map(|c| format!("{c}{k}")).to_vec();
        if tilts.get(k - 1).is_some_and(|tilt| tilt.iter().any(|&t| t != 0)) {
            own.push(format!("ShutterTilt{k}"));
        }
        let command = first(topics.at(CMND, &own[3])?);
        commands.extend(own);
        if answers_by_name {
            out.publishes.extend(topics.at(STAT, "SHUTTER")?);
        }
        let state = first(topics.at(STAT, "RESULT")?);
        out.entities.push(tasmota_entity(
            topic,
            &format!("Shutter{k}"),
            &mac,
            "cover",
            format!("{name} shutter {k}"),
            state,
            Some(command),
        ));
    }

    // The iFan's fan.
    if ifan {
        commands.extend(["FanSpeed".to_owned(), "STATE".to_owned()]);
        let command = first(topics.at(CMND, "FanSpeed")?);
        let state = first(topics.at(STAT, "RESULT")?);
        out.entities.push(tasmota_entity(topic, "FanSpeed", &mac, "fan", format!("{name} fan"), state, Some(command)));
    }

    // Switches (`swc`, their SwitchMode; -1 when not discovered) and buttons (`btn`, 1 when
    // discovered): they report on stat/<t>/RESULT, and by name on SWITCH<n> / BUTTON<n>.
    for (i, _) in switch_modes.iter().enumerate().filter(|(_, mode)| **mode != -1) {
        let leaf = format!("SWITCH{}", i + 1);
        out.publishes.extend(topics.at(STAT, &leaf)?);
        let label = switch_names.get(i).cloned().flatten().unwrap_or_else(|| format!("Switch{}", i + 1));
        out.entities.push(tasmota_entity(topic, &leaf, &mac, "binary_sensor", label, first(topics.at(STAT, &leaf)?), None));
    }
    for (i, _) in buttons.iter().enumerate().filter(|(_, b)| **b == 1) {
        let leaf = format!("BUTTON{}", i + 1);
        out.publishes.extend(topics.at(STAT, &leaf)?);
        let label = format!("{name} button {}", i + 1);
        out.entities.push(tasmota_entity(topic, &leaf, &mac, "button", label, first(topics.at(STAT, &leaf)?), None));
    }

    // The camera is read over HTTP; its state is polled like a relay's.
    if camera {
        commands.push("STATE".to_owned());
    }

    commands.sort();
    commands.dedup();
    for command in &commands {
        out.commands.extend(topics.at(CMND, command)?);
        if answers_by_name {
            out.publishes.extend(topics.at(STAT, &command.to_ascii_uppercase())?);
        }
    }
    Ok(())
}

/// The commands hatasmota and Tasmota's own Home Assistant discovery send to light `n` of
/// light subtype `subtype` (`lt_st`: 1 dimmer, 2 cold/warm, 3 RGB, 4 RGBW, 5 RGBCW). hatasmota
/// sends a light's changes as one `Backlog`; the others are the commands it and the older
/// discovery name on their own.
fn light_commands(n: usize, subtype: i64, linked: bool, tuya: bool, channel_per_light: bool) -> Vec<String> {
    let mut commands: Vec<String> = ["Backlog", "Dimmer"].map(str::to_owned).to_vec();
    if tuya {
        commands.push("Dimmer3".into());
    } else {
        commands.extend(["Fade2".into(), "Speed2".into()]);
    }
    if !linked && subtype >= 4 {
        // RGB and white split into two lights, dimmed by Dimmer1 and Dimmer2.
        commands.extend(["Dimmer1".into(), "Dimmer2".into()]);
    }
    if channel_per_light {
        commands.push(format!("Channel{n}"));
    }
    if subtype == 2 || subtype >= 5 {
        commands.push("CT".into());
    }
    if subtype >= 3 {
        commands.extend(["Color", "Color2", "HSBColor", "HsbColor1", "HsbColor2", "Scheme"].map(str::to_owned));
    }
    if subtype >= 4 {
        commands.push("White".into());
    }
    commands
}

/// One entity of a Tasmota config, keyed by its discovery topic and `key`.
fn tasmota_entity(topic: &str, key: &str, mac: &str, component: &str, name: String, state: String, command: Option<String>) -> Entity {
    Entity {
        key: format!("{topic}#{key}"),
        described: Some(mac.to_owned()),
        component: component.into(),
        name,
        unique_id: None,
        state_topic: Some(state),
        command_topic: command,
        device_class: None,
        unit: None,
        value_template: None,
    }
}

/// The first of the topics [`TasmotaTopics::at`] returns (it never returns none).
fn first(topics: Vec<String>) -> String {
    topics.into_iter().next().unwrap_or_default()
}

/// Indices into `tp`: Tasmota's three prefixes, in its order.
const CMND: usize = 0;
const STAT: usize = 1;
const TELE: usize = 2;

/// How one Tasmota's topics are built: `<FullTopic with its tokens filled in><leaf>`.
///
/// Tasmota's firmware (`GetTopic_P`) and Home Assistant's hatasmota (`_get_topic`) do it a
/// little differently, and a consumer may use either, so every topic is derived both ways and
/// both are checked:
/// - the firmware adds `/%prefix%` to a FullTopic without it, for commands only; folds `//`
///   into `/`; ends the FullTopic with `/`; and fills `%id%` with the whole MAC;
/// - hatasmota does none of the first three and fills `%id%` with the MAC's last six digits.
///
/// Both fill `%prefix%` (from `tp`), `%topic%` (`t`) and `%hostname%` (`hn`). Since no value
/// may contain `%`, the order they are filled in does not matter.
#[derive(Debug)]
struct TasmotaTopics {
    full_topic: String,
    prefixes: [String; 3],
    topic: String,
    hostname: String,
    mac: String,
}

impl TasmotaTopics {
    fn from_config(discovery_topic: &str, config: &Map<String, Value>) -> Result<Self, DiscoveryError> {
        let malformed = |why: String| DiscoveryError::Malformed(why);
        let topic = tasmota_level(config, "t")?.ok_or_else(|| malformed("a Tasmota config without its topic `t`".into()))?;
        let full_topic = tasmota_string(config, "ft")?.ok_or_else(|| malformed("a Tasmota config without its FullTopic `ft`".into()))?;
        if full_topic.contains(['+', '#', '\0']) {
            return Err(malformed(format!("the FullTopic `ft` `{full_topic}` holds an MQTT wildcard")));
        }
        let tp = config.get("tp").ok_or_else(|| malformed("a Tasmota config without its prefixes `tp`".into()))?;
        let prefixes: Vec<&str> = tp.as_array().map(|tp| tp.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let [cmnd, stat, tele] = prefixes.as_slice() else {
            return Err(malformed("`tp` must be the three prefixes for commands, status and telemetry, as strings".into()));
        };
        if tp.as_array().map(Vec::len) != Some(3) {
            return Err(malformed("`tp` must be the three prefixes for commands, status and telemetry, as strings".into()));
        }
        let prefixes = [*cmnd, *stat, *tele].map(str::to_owned);
        for prefix in &prefixes {
            check_tasmota_level("tp", prefix)?;
        }
        // The host name only matters where the FullTopic uses it.
        let hostname = if full_topic.contains("%hostname%") {
            let hostname = tasmota_level(config, "hn")?;
            hostname.ok_or_else(|| malformed("the FullTopic names %hostname% but the config has no `hn`".into()))?
        } else {
            String::new()
        };
        // The MAC is the discovery topic's, and a config naming another is not this device's
        // (hatasmota ignores it too).
        let topic_mac = discovery_topic.split('/').nth(2).unwrap_or_default();
        let mac = tasmota_level(config, "mac")?.unwrap_or_else(|| topic_mac.to_owned());
        if mac != topic_mac {
            return Err(malformed(format!("the config's `mac` {mac} is not the {topic_mac} of its topic")));
        }
        Ok(Self { full_topic, prefixes, topic, hostname, mac })
    }

    /// `leaf` under prefix `prefix` (`CMND`, `STAT`, `TELE`), as the firmware and as hatasmota
    /// build it (one topic when they agree). Malformed if either is not a topic name.
    fn at(&self, prefix: usize, leaf: &str) -> Result<Vec<String>, DiscoveryError> {
        let fill = |full: &str, id: &str| {
            full.replace("%prefix%", &self.prefixes[prefix])
                .replace("%topic%", &self.topic)
                .replace("%hostname%", &self.hostname)
                .replace("%id%", id)
        };
        let mut firmware = self.full_topic.clone();
        if prefix == CMND && !firmware.contains("%prefix%") {
            firmware.push_str("/%prefix%");
        }
        let mut firmware = fill(&firmware, &self.mac).replace("//", "/");
        if !firmware.ends_with('/') {
            firmware.push('/');
        }
        // hatasmota's `mac[-6:]`: the last six characters (`chars`: a MAC that is not ASCII
        // must not panic).
        let last_six: String = {
            let chars: Vec<char> = self.mac.chars().collect();
            chars[chars.len().saturating_sub(6)..].iter().collect()
        };
        let hatasmota = fill(&self.full_topic, &last_six);
        let mut topics = vec![format!("{firmware}{leaf}"), format!("{hatasmota}{leaf}")];
        topics.dedup();
        for t in &topics {
            if !topic::is_valid_name(t) {
                return Err(DiscoveryError::Malformed(format!("the config's topics make `{t}`, which is not an MQTT topic name")));
            }
        }
        Ok(topics)
    }
}

/// A string field, if present; another JSON type is malformed.
fn tasmota_string(config: &Map<String, Value>, key: &str) -> Result<Option<String>, DiscoveryError> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(DiscoveryError::Malformed(format!("`{key}` is not a string"))),
    }
}

/// A string field that goes into topics: also no wildcard, no `%` (a token of its own) and not
/// empty.
fn tasmota_level(config: &Map<String, Value>, key: &str) -> Result<Option<String>, DiscoveryError> {
    let value = tasmota_string(config, key)?;
    if let Some(v) = &value {
        check_tasmota_level(key, v)?;
    }
    Ok(value)
}

fn check_tasmota_level(key: &str, value: &str) -> Result<(), DiscoveryError> {
    if value.is_empty() || value.contains(['+', '#', '%', '\0']) {
        return Err(DiscoveryError::Malformed(format!("`{key}` `{value}` is empty or holds an MQTT wildcard or a % token")));
    }
    Ok(())
}

/// An integer field, 0 when absent.
fn tasmota_int(config: &Map<String, Value>, key: &str) -> Result<i64, DiscoveryError> {
    match config.get(key) {
        None => Ok(0),
        Some(v) => v.as_i64().ok_or_else(|| DiscoveryError::Malformed(format!("`{key}` is not an integer"))),
    }
}

/// Longest list a Tasmota config may hold: Tasmota has at most 32 relays, switches and buttons
/// and 16 shutters (`MAX_RELAYS_SET`...), and each entry makes topics; a longer list is refused
/// rather than turned into millions of topics.
const TASMOTA_MAX_LIST: usize = 64;

/// A JSON list of at most [`TASMOTA_MAX_LIST`] entries, empty when absent.
fn tasmota_list<'a>(config: &'a Map<String, Value>, key: &str, what: &str) -> Result<&'a [Value], DiscoveryError> {
    match config.get(key) {
        None => Ok(&[]),
        Some(Value::Array(list)) if list.len() <= TASMOTA_MAX_LIST => Ok(list),
        Some(_) => Err(DiscoveryError::Malformed(format!("`{key}` is not a list of at most {TASMOTA_MAX_LIST} {what}"))),
    }
}

/// A list of integers (`rl`, `swc`, `btn`), empty when absent.
fn tasmota_ints(config: &Map<String, Value>, key: &str) -> Result<Vec<i64>, DiscoveryError> {
    let malformed = || DiscoveryError::Malformed(format!("`{key}` is not a list of integers"));
    tasmota_list(config, key, "integers")?.iter().map(|n| n.as_i64().ok_or_else(malformed)).collect()
}

/// A list of names, each a string or null (`fn`, `swn`), empty when absent.
fn tasmota_names(config: &Map<String, Value>, key: &str) -> Result<Vec<Option<String>>, DiscoveryError> {
    let malformed = || DiscoveryError::Malformed(format!("`{key}` is not a list of names"));
    let names = tasmota_list(config, key, "names")?;
    names
        .iter()
        .map(|n| match n {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            _ => Err(malformed()),
        })
        .collect()
}

/// `sht`: per shutter, its tilt configuration (three integers; all 0 without tilt).
fn tasmota_tilts(config: &Map<String, Value>) -> Result<Vec<Vec<i64>>, DiscoveryError> {
    let malformed = || DiscoveryError::Malformed("`sht` is not a list of lists of integers".into());
    let tilts = tasmota_list(config, "sht", "tilt configurations")?;
    tilts.iter().map(|tilt| tilt.as_array().ok_or_else(malformed)?.iter().map(|t| t.as_i64().ok_or_else(malformed)).collect()).collect()
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
            let (device_class, unit) = tasmota_unit(field).unzip();
            out.entities.push(Entity {
                key: format!("{topic}#{group}.{field}"),
                described: Some(mac.clone()),
                component: "sensor".into(),
                name: format!("{group} {field}"),
                unique_id: None,
                // On the config's `readings_topic`, which this message does not know.
                state_topic: None,
                command_topic: None,
                device_class: device_class.map(str::to_owned),
                unit: unit.map(str::to_owned),
                value_template: Some(format!("{{{{ value_json{}{} }}}}", json_step(group), json_step(field))),
            });
        }
    }
    Ok(())
}

/// The device class and unit of a Tasmota reading, by its name, as hatasmota gives them (its
/// `sensor.py` table, for the readings a home's devices most often have); `None`: unknown, shown
/// without a unit. (Tasmota's temperatures follow its `TempUnit`, Celsius unless set otherwise.)
fn tasmota_unit(field: &str) -> Option<(&'static str, &'static str)> {
    Some(match field {
        "Power" => ("power", "W"),
        "ApparentPower" => ("apparent_power", "VA"),
        "ReactivePower" => ("reactive_power", "var"),
        "Voltage" => ("voltage", "V"),
        "Current" => ("current", "A"),
        "Total" | "Today" | "Yesterday" => ("energy", "kWh"),
        "Temperature" => ("temperature", "°C"),
        "Humidity" => ("humidity", "%"),
        "Pressure" => ("pressure", "hPa"),
        "Illuminance" => ("illuminance", "lx"),
        "CarbonDioxide" | "eCO2" => ("carbon_dioxide", "ppm"),
        _ => return None,
    })
}

/// One step of a `value_json` path in a template: `.name`, or `['name']` for a key that is not a
/// plain name (`DS18B20-1`).
fn json_step(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !key.starts_with(|c: char| c.is_ascii_digit()) {
        format!(".{key}")
    } else {
        format!("['{}']", key.replace(['\\', '\''], ""))
    }
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
            readings_topic: None,
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
                // The bridge publishes each device's state as one JSON object, a member per
                // property (what its own Home Assistant discovery reads as `value_json.<property>`).
                value_template: expose.get("property").and_then(Value::as_str).map(|p| format!("{{{{ value_json{} }}}}", json_step(p))),
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
        for other in [
            "homeassistant/status",
            "homeassistant/sensor/x/state",
            "tele/plug/SENSOR",
            "zigbee2mqtt/front_door",
            "homeassistant/sensor/node/temp/x/config",
            "a/b/c/d/e/f/g/h/i/j",
            "",
        ] {
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
                model: Some("esp32dev".into()),
                readings_topic: None,
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

    /// What a device says of how its readings are read: Home Assistant's `value_template` as
    /// written; Tasmota's sensors and Zigbee2MQTT's exposes as a path into their JSON, with the
    /// units they are known by.
    #[test]
    fn readings_say_how_their_value_is_read_and_in_which_unit() {
        let ha = parsed("homeassistant/sensor/n/p/config", r#"{"stat_t":"n/p","unit_of_meas":"W","val_tpl":"{{ value_json.power }}"}"#);
        assert_eq!(ha.entities[0].value_template.as_deref(), Some("{{ value_json.power }}"));
        // A lying device's 100 KB template is not filed (none could be read).
        let long = format!(r#"{{"stat_t":"n/p","val_tpl":"{{{{ value_json.{} }}}}"}}"#, "a".repeat(100_000));
        assert_eq!(parsed("homeassistant/sensor/n/q/config", &long).entities[0].value_template, None);
        let tasmota = parsed(
            "tasmota/discovery/DC4F22A1B2C3/sensors",
            r#"{"sn":{"Time":"x","ENERGY":{"Power":38,"Total":1.2,"Factor":0.85},"DS18B20-1":{"Temperature":21.5}},"ver":1}"#,
        );
        let read: Vec<_> =
            tasmota.entities.iter().map(|e| (e.name.as_str(), e.value_template.as_deref().unwrap_or(""), e.unit.as_deref())).collect();
        assert_eq!(
            read,
            [
                ("DS18B20-1 Temperature", "{{ value_json['DS18B20-1'].Temperature }}", Some("°C")),
                ("ENERGY Factor", "{{ value_json.ENERGY.Factor }}", None),
                ("ENERGY Power", "{{ value_json.ENERGY.Power }}", Some("W")),
                ("ENERGY Total", "{{ value_json.ENERGY.Total }}", Some("kWh")),
            ]
        );
        let z2m = parsed(
            "zigbee2mqtt/bridge/devices",
            r#"[{"ieee_address":"0x2","type":"EndDevice","friendly_name":"door","definition":{"exposes":[{"type":"numeric","property":"battery","unit":"%"}]}}]"#,
        );
        assert_eq!(
            (z2m.entities[0].state_topic.as_deref(), z2m.entities[0].value_template.as_deref(), z2m.entities[0].unit.as_deref()),
            (Some("zigbee2mqtt/door"), Some("{{ value_json.battery }}"), Some("%"))
        );
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

    fn strs(topics: &[String]) -> Vec<&str> {
        topics.iter().map(String::as_str).collect()
    }

    /// A Sonoff S31's config as Tasmota 14 sends it (abridged: no sensors, one relay).
    const S31: &str = r#"{"ip":"10.77.0.150","dn":"Kitchen plug","fn":["Kitchen plug",null],"hn":"tasmota-A1B2C3-0451",
        "mac":"DC4F22A1B2C3","md":"Sonoff S31","ty":0,"if":0,"ofln":"Offline","onln":"Online","state":["OFF","ON","TOGGLE","HOLD"],
        "sw":"14.2.0","t":"tasmota_A1B2C3","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"rl":[1,0,0,0,0,0,0,0],
        "swc":[-1,-1,-1,-1,-1,-1,-1,-1],"swn":[null,null,null,null,null,null,null,null],"btn":[0,0,0,0,0,0,0,0],
        "so":{"4":0,"11":0,"13":0,"17":0,"20":0,"30":0,"68":0,"73":0,"82":0,"114":0,"117":0},"lk":0,"lt_st":0,"bat":0,"dslp":0,
        "sho":[],"sht":[],"ver":1}"#;

    #[test]
    fn a_tasmota_config_describes_the_device_its_relays_and_their_topics() {
        let d = parsed("tasmota/discovery/DC4F22A1B2C3/config", S31);
        assert_eq!(d.devices[0].name, "Kitchen plug");
        assert_eq!(d.devices[0].model.as_deref(), Some("Sonoff S31"));
        assert_eq!(d.entities.len(), 1);
        let relay = &d.entities[0];
        assert_eq!((relay.component.as_str(), relay.name.as_str()), ("switch", "Kitchen plug"));
        assert_eq!(relay.state_topic.as_deref(), Some("stat/tasmota_A1B2C3/POWER"));
        // What Tasmota takes (POWER) and what Home Assistant sends (Power1, and STATE and STATUS
        // to poll), and everything Home Assistant reads.
        let t = |leaves: &[&str], prefix: &str| leaves.iter().map(|l| format!("{prefix}/tasmota_A1B2C3/{l}")).collect::<Vec<_>>();
        assert_eq!(d.commands, t(&["POWER", "Power1", "STATE", "STATUS"], "cmnd"));
        let mut publishes = t(&["POWER", "RESULT", "STATUS", "STATUS1", "STATUS10", "STATUS11", "STATUS2"], "stat");
        publishes.extend(t(&["LWT", "SENSOR", "STATE"], "tele"));
        assert_eq!(d.publishes, publishes);
        assert_eq!(d.devices[0].readings_topic.as_deref(), Some("tele/tasmota_A1B2C3/SENSOR"), "where its sensors' readings come");
    }

    /// The attacker's review: only POWER<n> was derived, so a config with no relay but a fan,
    /// a switch or a shutter could name topics anywhere. Here a plug describes a fan whose speed
    /// goes to the garage door's commands and a "switch" read from the front door's status.
    #[test]
    fn every_topic_a_tasmota_config_implies_is_checked_not_only_power() {
        let manifest = Manifest {
            rules: vec![
                allowed(Direction::Publish, "tele/plug1/#"),
                allowed(Direction::Publish, "stat/plug1/#"),
                allowed(Direction::Subscribe, "cmnd/plug1/#"),
            ],
        };
        let own = parsed(
            "tasmota/discovery/AABBCCDDEEFF/config",
            r#"{"t":"plug1","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"rl":[1],"if":1,"swc":[1]}"#,
        );
        assert_eq!(foreign_topic(&own, &manifest), None);
        let fan = parsed(
            "tasmota/discovery/AABBCCDDEEFF/config",
            r#"{"t":"plug1","ft":"%prefix%/","tp":["cmnd/garage","stat/plug1","tele/plug1"],"rl":[0],"if":1}"#,
        );
        assert!(fan.commands.contains(&"cmnd/garage/FanSpeed".to_owned()), "{:?}", fan.commands);
        assert!(foreign_topic(&fan, &manifest).is_some_and(|t| t.starts_with("cmnd/garage/")));
        let switch = parsed(
            "tasmota/discovery/AABBCCDDEEFF/config",
            r#"{"t":"plug1","ft":"%prefix%/","tp":["cmnd/plug1","stat/frontdoor","tele/plug1"],"swc":[1]}"#,
        );
        assert!(foreign_topic(&switch, &manifest).is_some_and(|t| t.starts_with("stat/frontdoor/")));
    }

    /// Shutters, an iFan, an RGBCW light, a switch and a button, each with the commands Home
    /// Assistant sends them and the topics it reads them from.
    #[test]
    fn a_tasmota_config_names_the_commands_of_its_shutters_fan_lights_switches_and_buttons() {
        let d = parsed(
            "tasmota/discovery/AABBCCDDEEFF/config",
            r#"{"dn":"Hall","t":"hall","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"mac":"AABBCCDDEEFF",
                "rl":[3,3,3,3,2,0],"sht":[[0,0,0],[30,-90,5]],"if":1,"lt_st":5,"lk":1,"ty":0,
                "swc":[1,-1],"swn":["Door",null],"btn":[0,1],"so":{"4":0,"68":0,"73":1,"114":1}}"#,
        );
        let commands = strs(&d.commands);
        for c in
            ["ShutterOpen1", "ShutterClose1", "ShutterStop1", "ShutterPosition1", "ShutterPosition2", "ShutterTilt2", "FanSpeed", "Power5"]
                .into_iter()
                .chain(["Backlog", "Dimmer", "CT", "Color2", "HSBColor", "HsbColor1", "White", "Scheme", "Fade2", "Speed2"])
        {
            assert!(commands.contains(&format!("cmnd/hall/{c}").as_str()), "{c} in {commands:?}");
        }
        assert!(!commands.contains(&"cmnd/hall/ShutterTilt1"), "shutter 1 has no tilt");
        assert!(
            !commands.iter().any(|c| c.starts_with("cmnd/hall/POWER1") || c.starts_with("cmnd/hall/Power1")),
            "shutter relays take no POWER"
        );
        let publishes = strs(&d.publishes);
        for p in
            ["stat/hall/RESULT", "stat/hall/SWITCH1", "stat/hall/BUTTON2", "stat/hall/STATUS10", "stat/hall/POWER5", "tele/hall/SENSOR"]
        {
            assert!(publishes.contains(&p), "{p} in {publishes:?}");
        }
        assert!(!publishes.contains(&"stat/hall/SWITCH2") && !publishes.contains(&"stat/hall/BUTTON1"));
        let kinds: Vec<_> = d.entities.iter().map(|e| (e.component.as_str(), e.name.as_str())).collect();
        assert_eq!(
            kinds,
            [
                ("light", "Hall 5"),
                ("cover", "Hall shutter 1"),
                ("cover", "Hall shutter 2"),
                ("fan", "Hall fan"),
                ("binary_sensor", "Door"),
                ("button", "Hall button 2")
            ]
        );
        // SetOption4: answers by command name (stat/hall/SHUTTERPOSITION1) instead of RESULT.
        let by_name = parsed(
            "tasmota/discovery/AABBCCDDEEFF/config",
            r#"{"t":"hall","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"rl":[3,3],"so":{"4":1}}"#,
        );
        assert!(
            strs(&by_name.publishes).contains(&"stat/hall/SHUTTERPOSITION1") && strs(&by_name.publishes).contains(&"stat/hall/SHUTTER")
        );
    }

    /// Prefixes are the device's own words: checked as they are, never assumed to be cmnd.
    #[test]
    fn a_tasmota_config_follows_its_own_prefixes_and_full_topic() {
        let d = parsed(
            "tasmota/discovery/AABBCCDDEEFF/config",
            r#"{"dn":"Dual","t":"dual","ft":"home/%topic%/%prefix%/","tp":["kommando","status","tele"],"rl":[1,2],"mac":"AABBCCDDEEFF"}"#,
        );
        let names: Vec<_> =
            d.entities.iter().map(|e| (e.name.as_str(), e.component.as_str(), e.command_topic.as_deref().unwrap())).collect();
        assert_eq!(names, [("Dual 1", "switch", "home/dual/kommando/POWER1"), ("Dual 2", "light", "home/dual/kommando/POWER2")]);
        assert!(d.commands.iter().all(|c| c.starts_with("home/dual/kommando/")), "{:?}", d.commands);
        assert!(d.publishes.iter().all(|p| p.starts_with("home/dual/status/") || p.starts_with("home/dual/tele/")), "{:?}", d.publishes);
        let own = Manifest {
            rules: vec![
                allowed(Direction::Publish, "home/dual/status/#"),
                allowed(Direction::Publish, "home/dual/tele/#"),
                allowed(Direction::Subscribe, "home/dual/kommando/#"),
            ],
        };
        assert_eq!(foreign_topic(&d, &own), None);
        let assumed =
            Manifest { rules: vec![allowed(Direction::Publish, "home/dual/#"), allowed(Direction::Subscribe, "home/dual/cmnd/#")] };
        assert!(foreign_topic(&d, &assumed).is_some_and(|t| t.starts_with("home/dual/kommando/")));

        // %hostname% and %id% in any order. %id% is the whole MAC to the firmware and its last
        // six digits to Home Assistant: both are checked.
        let by_host = parsed(
            "tasmota/discovery/AABBCCDDEEFF/config",
            r#"{"t":"x","hn":"garage-7","ft":"%id%/%hostname%/%prefix%/","tp":["cmnd","stat","tele"],"rl":[1],"mac":"AABBCCDDEEFF"}"#,
        );
        let commands = strs(&by_host.commands);
        assert!(
            commands.contains(&"AABBCCDDEEFF/garage-7/cmnd/POWER") && commands.contains(&"DDEEFF/garage-7/cmnd/Power1"),
            "{commands:?}"
        );
        // A FullTopic without %prefix%: the firmware adds it for commands, Home Assistant does not.
        let no_prefix =
            parsed("tasmota/discovery/AABBCCDDEEFF/config", r#"{"t":"x","ft":"house/%topic%","tp":["cmnd","stat","tele"],"rl":[1]}"#);
        let commands = strs(&no_prefix.commands);
        assert!(commands.contains(&"house/x/cmnd/POWER") && commands.contains(&"house/xPower1"), "{commands:?}");
        // A device's own words, however odd, are no reason to panic.
        let odd = parse(
            "tasmota/discovery/ééé€/config",
            r#"{"t":"x","ft":"%prefix%/%id%/","tp":["c","s","t"],"rl":[1],"mac":"ééé€"}"#.as_bytes(),
        );
        assert!(odd.is_ok());
    }

    /// What decides a topic is never guessed: without it, or with a wildcard in it, the config
    /// is refused.
    #[test]
    fn a_tasmota_config_whose_topics_cannot_be_known_is_malformed() {
        let base = r#""t":"plug1","rl":[1],"mac":"AABBCCDDEEFF""#;
        let bad = [
            r#""ft":"%prefix%/%topic%/""#,
            r#""tp":["cmnd","stat","tele"]"#,
            r#""ft":"%prefix%/%topic%/","tp":["cmnd","stat"]"#,
            r#""ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele","x"]"#,
            r#""ft":"%prefix%/%topic%/","tp":["cmnd",1,"tele"]"#,
            r#""ft":"%prefix%/%topic%/","tp":"cmnd""#,
            r#""ft":"%prefix%/%topic%/","tp":["cmnd","","tele"]"#,
            r#""ft":"%prefix%/#/","tp":["cmnd","stat","tele"]"#,
            r#""ft":"+/%prefix%/%topic%/","tp":["cmnd","stat","tele"]"#,
            r##""ft":"%prefix%/%topic%/","tp":["#","stat","tele"]"##,
            r#""ft":"%prefix%/%topic%/","tp":["cmnd","stat/+","tele"]"#,
            r#""ft":"%prefix%/%topic%/","tp":["cmnd","%topic%","tele"]"#,
            r#""ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"rl":"1""#,
            r#""ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"if":"1""#,
            r#""ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"sht":[1]"#,
            r#""ft":5,"tp":["cmnd","stat","tele"]"#,
            r#""ft":"%prefix%/%hostname%/","tp":["cmnd","stat","tele"]"#,
            r#""ft":"%prefix%/%hostname%/","tp":["cmnd","stat","tele"],"hn":"a+b""#,
        ];
        for extra in bad {
            let payload = format!("{{{base},{extra}}}");
            let result = parse("tasmota/discovery/AABBCCDDEEFF/config", payload.as_bytes());
            assert!(matches!(result, Err(DiscoveryError::Malformed(_))), "{payload}: {result:?}");
        }
        let wildcard_topic = r#"{"t":"+","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"]}"#;
        assert!(matches!(parse("tasmota/discovery/AABBCCDDEEFF/config", wildcard_topic.as_bytes()), Err(DiscoveryError::Malformed(_))));
        let other_mac = r#"{"t":"x","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"mac":"112233445566"}"#;
        assert!(matches!(parse("tasmota/discovery/AABBCCDDEEFF/config", other_mac.as_bytes()), Err(DiscoveryError::Malformed(_))));
        // Positive control: the same config with its FullTopic and prefixes is read.
        let good = format!(r#"{{{base},"ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"]}}"#);
        assert!(parse("tasmota/discovery/AABBCCDDEEFF/config", good.as_bytes()).is_ok());
        // A list longer than any Tasmota's is refused, not turned into topics.
        let relays = vec!["1"; TASMOTA_MAX_LIST + 1].join(",");
        let long = format!(r#"{{"t":"x","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"rl":[{relays}]}}"#);
        assert!(matches!(parse("tasmota/discovery/AABBCCDDEEFF/config", long.as_bytes()), Err(DiscoveryError::Malformed(_))));
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
