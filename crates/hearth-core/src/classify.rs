//! What a message says about a home: its **categories** (presence, location, energy...) found per
//! payload field and per topic, from the table in `categories.toml`, and its **shape** (the JSON
//! field paths with their types and an example value), which the ledger learns per topic.
//!
//! Pure: the writer calls it off the broker's path, on payloads the gate let through.

use crate::topic;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::OnceLock;
use ts_rs::TS;

/// A kind of data, as DESIGN.md names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Category {
    Presence,
    Location,
    AudioVideo,
    Energy,
    Climate,
    Access,
    Health,
    Identifiers,
    Diagnostics,
    Other,
}

impl Category {
    pub const ALL: [Self; 10] = [
        Self::Presence,
        Self::Location,
        Self::AudioVideo,
        Self::Energy,
        Self::Climate,
        Self::Access,
        Self::Health,
        Self::Identifiers,
        Self::Diagnostics,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Presence => "presence",
            Self::Location => "location",
            Self::AudioVideo => "audio_video",
            Self::Energy => "energy",
            Self::Climate => "climate",
            Self::Access => "access",
            Self::Health => "health",
            Self::Identifiers => "identifiers",
            Self::Diagnostics => "diagnostics",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// How much it says about the people in the home, for ranking (higher: more). Camera
    /// pictures, where someone is, and their body first; the device's own state last.
    pub fn sensitivity(self) -> u8 {
        match self {
            Self::AudioVideo => 9,
            Self::Location | Self::Health => 8,
            Self::Presence => 7,
            Self::Access => 6,
            Self::Energy => 5,
            Self::Identifiers => 4,
            Self::Climate => 3,
            Self::Other => 2,
            Self::Diagnostics => 1,
        }
    }

    /// Orders categories for people: the most revealing first, and those as revealing as each
    /// other (location and health) in the order of [`Self::ALL`], so that the order never depends
    /// on the order they came in and equal categories always stand together (`dedup` needs that).
    pub fn most_sensitive_first(categories: &mut [Self]) {
        categories.sort_by_key(|c| (std::cmp::Reverse(c.sensitivity()), c.bit()));
    }

    /// One bit per category, for storing a message's categories in one integer.
    pub fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The categories whose bits are set in `mask`.
    pub fn from_mask(mask: u16) -> Vec<Self> {
        Self::ALL.into_iter().filter(|c| mask & c.bit() != 0).collect()
    }
}

/// A field's JSON type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ValueType {
    Number,
    String,
    Boolean,
    Null,
    Array,
    /// Not JSON: text, or the whole payload of a binary message.
    Text,
    Binary,
}

impl ValueType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Number => "number",
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Null => "null",
            Self::Array => "array",
            Self::Text => "text",
            Self::Binary => "binary",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Number, Self::String, Self::Boolean, Self::Null, Self::Array, Self::Text, Self::Binary].into_iter().find(|t| t.as_str() == s)
    }
}

/// One field of a message: its path (`aenergy.total`; `$` for a payload that is one value), its
/// type, its category and its value as text (shortened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub path: String,
    pub value_type: ValueType,
    pub category: Category,
    pub example: String,
}

/// A message, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// Every category of its fields and its topic, most sensitive first.
    pub categories: Vec<Category>,
    pub fields: Vec<Field>,
    /// `application/json`, `text/plain`, `image/jpeg`, `image/png` or `application/octet-stream`.
    pub content_type: &'static str,
}

impl Classified {
    /// From the topic's categories and the fields found: every category once, most sensitive
    /// first, `other` only when nothing else is known.
    fn new(mut categories: Vec<Category>, fields: Vec<Field>, content_type: &'static str) -> Self {
        categories.extend(fields.iter().map(|f| f.category));
        Category::most_sensitive_first(&mut categories);
        categories.dedup();
        if categories.len() > 1 {
            categories.retain(|c| *c != Category::Other);
        }
        if categories.is_empty() {
            categories.push(Category::Other);
        }
        Self { categories, fields, content_type }
    }

    pub fn mask(&self) -> u16 {
        self.categories.iter().fold(0, |m, c| m | c.bit())
    }
}

/// Fields read from one message, at most: a device cannot make the ledger learn without bound.
pub const MAX_FIELDS: usize = 128;
/// Nesting followed, at most.
const MAX_DEPTH: usize = 8;
/// Characters of an example value kept.
pub const EXAMPLE_CHARS: usize = 64;

#[derive(Debug, Deserialize)]
struct Table {
    field: Vec<FieldRule>,
    topic: Vec<TopicRule>,
}

#[derive(Debug, Deserialize)]
struct FieldRule {
    category: Category,
    #[serde(default)]
    fields: Vec<String>,
    under: Option<String>,
    #[serde(default, rename = "with")]
    siblings: Vec<String>,
    /// The value types the rule applies to (any if empty).
    #[serde(default)]
    types: Vec<ValueType>,
}

#[derive(Debug, Deserialize)]
struct TopicRule {
    category: Category,
    patterns: Vec<String>,
}

/// The category table.
#[derive(Debug)]
pub struct Classifier {
    fields: Vec<FieldRule>,
    topics: Vec<TopicRule>,
}

impl Classifier {
    /// The table built into Hearth (`categories.toml`).
    pub fn builtin() -> &'static Self {
        static TABLE: OnceLock<Classifier> = OnceLock::new();
        TABLE.get_or_init(|| Self::from_toml(include_str!("categories.toml")).expect("categories.toml is valid (tested)"))
    }

    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        let table: Table = toml::from_str(text)?;
        let lower = |v: Vec<String>| v.into_iter().map(|s| s.to_ascii_lowercase()).collect();
        let fields = table
            .field
            .into_iter()
            .map(|r| FieldRule {
                category: r.category,
                fields: lower(r.fields),
                under: r.under.map(|u| u.to_ascii_lowercase()),
                siblings: lower(r.siblings),
                types: r.types,
            })
            .collect();
        Ok(Self { fields, topics: table.topic })
    }

    /// The category of field `name` holding a `value_type`, inside the object named `parent`,
    /// next to `siblings`.
    pub fn field_category(&self, name: &str, value_type: ValueType, parent: Option<&str>, siblings: &[&str]) -> Category {
        let name = name.to_ascii_lowercase();
        let parent = parent.map(str::to_ascii_lowercase);
        self.fields
            .iter()
            .find(|r| {
                (r.fields.is_empty() || r.fields.contains(&name))
                    && r.under.as_ref().is_none_or(|u| parent.as_ref() == Some(u))
                    && (r.under.is_some() || !r.fields.is_empty())
                    && (r.siblings.is_empty() || siblings.iter().any(|s| r.siblings.contains(&s.to_ascii_lowercase())))
                    && (r.types.is_empty() || r.types.contains(&value_type))
            })
            .map_or(Category::Other, |r| r.category)
    }

    /// The categories `[[topic]]` rules give every message on `topic_name`.
    pub fn topic_categories(&self, topic_name: &str) -> Vec<Category> {
        self.topics.iter().filter(|r| r.patterns.iter().any(|p| topic::matches(p, topic_name))).map(|r| r.category).collect()
    }

    /// Classifies one message.
    pub fn classify(&self, topic_name: &str, payload: &[u8]) -> Classified {
        let categories = self.topic_categories(topic_name);
        let (fields, content_type) = match sniff(payload) {
            Some(image) => (vec![whole(ValueType::Binary, Category::AudioVideo, format!("{image}, {} bytes", payload.len()))], image),
            None => match serde_json::from_slice::<Value>(payload) {
                Ok(Value::Object(map)) => {
                    let mut fields = Vec::new();
                    self.walk(&map, None, "", 0, &mut fields);
                    (fields, "application/json")
                }
                Ok(Value::Array(items)) => {
                    (vec![whole(ValueType::Array, Category::Other, shorten(&Value::Array(items).to_string()))], "application/json")
                }
                // A plain value (ESPHome's `21.5`, `ON`): the topic's last meaningful level names it.
                Ok(scalar) => (vec![self.plain_value(topic_name, value_type(&scalar), &text_of(&scalar))], "application/json"),
                Err(_) => match std::str::from_utf8(payload) {
                    Ok(text) => (vec![self.plain_value(topic_name, ValueType::Text, text)], "text/plain"),
                    Err(_) => {
                        (vec![whole(ValueType::Binary, Category::Other, format!("{} bytes", payload.len()))], "application/octet-stream")
                    }
                },
            },
        };
        Classified::new(categories, fields, content_type)
    }

    /// Classifies a message known only by its first bytes (a large payload, carried in part): by
    /// its topic, and by its magic bytes when it is a picture; no fields.
    pub fn classify_prefix(&self, topic_name: &str, prefix: &[u8], total_bytes: u64) -> Classified {
        let categories = self.topic_categories(topic_name);
        let (fields, content_type) = match sniff(prefix) {
            Some(image) => (vec![whole(ValueType::Binary, Category::AudioVideo, format!("{image}, {total_bytes} bytes"))], image),
            None => (vec![], "application/octet-stream"),
        };
        Classified::new(categories, fields, content_type)
    }

    /// ESPHome's `<node>/<component>/<object>/state` carries one value named by `<object>`;
    /// elsewhere the last topic level (`stat/plug/POWER`) names it.
    fn plain_value(&self, topic_name: &str, value_type: ValueType, text: &str) -> Field {
        let name = plain_name(topic_name);
        // A plain "21.5" arrives as text from some firmware: a number all the same.
        let value_type = if value_type == ValueType::Text && text.trim().parse::<f64>().is_ok() { ValueType::Number } else { value_type };
        whole(value_type, self.field_category(name, value_type, None, &[]), shorten(text))
    }

    fn walk(&self, map: &serde_json::Map<String, Value>, parent: Option<&str>, prefix: &str, depth: usize, out: &mut Vec<Field>) {
        let siblings: Vec<&str> = map.keys().map(String::as_str).collect();
        for (key, value) in map {
            if out.len() >= MAX_FIELDS {
                return;
            }
            let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            match value {
                Value::Object(inner) if depth < MAX_DEPTH => self.walk(inner, Some(key), &path, depth + 1, out),
                Value::Object(_) => {}
                leaf => out.push(Field {
                    category: self.field_category(key, value_type(leaf), parent, &siblings),
                    value_type: value_type(leaf),
                    example: shorten(&text_of(leaf)),
                    path,
                }),
            }
        }
    }
}

/// The name a message that is one plain value goes by, as [`Classifier::classify`] names it:
/// `<object>` of ESPHome's `<node>/<component>/<object>/state`, elsewhere the topic's last level
/// (`stat/plug/POWER`).
pub fn plain_name(topic_name: &str) -> &str {
    let levels: Vec<&str> = topic_name.split('/').collect();
    match levels.as_slice() {
        [.., object, "state" | "command"] => object,
        [.., last] => last,
        [] => "",
    }
}

/// The payload as one field, `$`.
fn whole(value_type: ValueType, category: Category, example: String) -> Field {
    Field { path: "$".into(), value_type, category, example }
}

/// Pictures by their magic bytes: a camera's snapshot is a JPEG whatever its topic says.
fn sniff(payload: &[u8]) -> Option<&'static str> {
    if payload.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if payload.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else {
        None
    }
}

fn value_type(v: &Value) -> ValueType {
    match v {
        Value::Number(_) => ValueType::Number,
        Value::String(_) => ValueType::String,
        Value::Bool(_) => ValueType::Boolean,
        Value::Null => ValueType::Null,
        Value::Array(_) => ValueType::Array,
        Value::Object(_) => ValueType::Text,
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= EXAMPLE_CHARS {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(EXAMPLE_CHARS - 1).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(topic: &str, payload: &str) -> Classified {
        Classifier::builtin().classify(topic, payload.as_bytes())
    }

    fn field<'a>(c: &'a Classified, path: &str) -> &'a Field {
        c.fields.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("no field {path} in {:?}", c.fields))
    }

    /// Real payloads from the device reference, each with what a person would call it.
    #[test]
    fn a_shelly_gen2_switch_status_is_energy_with_its_fields() {
        let c = classify(
            "shellyplusplugs-c4dd57877294/status/switch:0",
            r#"{"id":0,"output":false,"apower":47.11,"voltage":232.0,"current":0.0,"pf":0,"aenergy":{"total":5.125,"by_minute":[783.2,781.9,784.0],"minute_ts":1764400000},"temperature":{"tC":25.3,"tF":77.5}}"#,
        );
        for path in ["apower", "voltage", "current", "pf", "aenergy.total", "aenergy.by_minute"] {
            assert_eq!(field(&c, path).category, Category::Energy, "{path}");
        }
        assert_eq!(field(&c, "temperature.tC").category, Category::Climate);
        assert_eq!(field(&c, "aenergy.by_minute").value_type, ValueType::Array);
        assert_eq!(field(&c, "apower").example, "47.11");
        assert_eq!(c.categories, [Category::Energy, Category::Climate]);
    }

    /// Caught by the classify fuzz target's check: location and health are equally revealing,
    /// so sorting left [Location, Health, Location] (the topic's, then the fields') as it was and
    /// `dedup` kept location twice.
    #[test]
    fn each_category_is_listed_once_whatever_order_it_came_in() {
        let c = classify("owntracks/anna/phone", r#"{"impedance":500,"lat":52.3}"#);
        assert_eq!(c.categories, [Category::Location, Category::Health]);
        let c = classify("sleepsensor/bed_status", r#"{"lat":52.3,"weight":71}"#);
        assert_eq!(c.categories, [Category::Location, Category::Health], "the same order, whichever came first");
    }

    #[test]
    fn tasmota_energy_and_state_telemetry() {
        let energy = classify(
            "tele/tasmota_A1B2C3/SENSOR",
            r#"{"Time":"2026-11-29T08:00:00","ENERGY":{"TotalStartTime":"2026-01-04T18:00:00","Total":12.5,"Yesterday":0.412,"Today":0.118,"Power":38,"Voltage":231,"Current":0.196}}"#,
        );
        assert_eq!(field(&energy, "ENERGY.Power").category, Category::Energy);
        assert_eq!(field(&energy, "ENERGY.Voltage").category, Category::Energy);
        assert_eq!(field(&energy, "Time").category, Category::Diagnostics);
        assert_eq!(energy.categories, [Category::Energy, Category::Diagnostics]);
        let state = classify(
            "tele/tasmota_A1B2C3/STATE",
            r#"{"Time":"2026-11-29T08:00:00","Uptime":"0T00:10:00","UptimeSec":600,"Heap":25,"POWER":"ON","Wifi":{"AP":1,"SSId":"HomeNet","BSSId":"30:B5:C2:11:22:33","Channel":6,"RSSI":78,"Signal":-61}}"#,
        );
        assert_eq!(field(&state, "Wifi.SSId").category, Category::Identifiers);
        assert_eq!(field(&state, "Wifi.BSSId").category, Category::Identifiers);
        assert_eq!(field(&state, "Wifi.Signal").category, Category::Diagnostics);
        // Tasmota's `POWER` is its relay's state ("ON"), not a power reading.
        assert_eq!(field(&state, "POWER").category, Category::Other);
        assert_eq!(state.categories, [Category::Identifiers, Category::Diagnostics]);
    }

    #[test]
    fn owntracks_is_location_by_topic_and_fields() {
        let c = classify(
            "owntracks/anna/phone",
            r#"{"_type":"location","lat":52.3702,"lon":4.8952,"acc":12,"alt":3,"vel":0,"cog":0,"batt":81,"tid":"ap","tst":1764400000,"t":"u"}"#,
        );
        assert_eq!(field(&c, "lat").category, Category::Location);
        assert_eq!(field(&c, "batt").category, Category::Diagnostics);
        assert_eq!(c.categories[0], Category::Location);
    }

    /// A Zigbee door sensor's `voltage` is its battery's, not energy use.
    #[test]
    fn a_zigbee_door_sensor_is_access_and_its_battery_voltage_is_diagnostics() {
        let c = classify(
            "zigbee2mqtt/front_door",
            r#"{"battery":100,"contact":false,"device_temperature":26,"linkquality":153,"power_outage_count":6889,"voltage":3035}"#,
        );
        assert_eq!(field(&c, "contact").category, Category::Access);
        assert_eq!(field(&c, "voltage").category, Category::Diagnostics);
        assert_eq!(field(&c, "device_temperature").category, Category::Climate);
        assert_eq!(c.categories, [Category::Access, Category::Climate, Category::Diagnostics]);
    }

    #[test]
    fn a_camera_jpeg_is_audio_video_whatever_its_topic() {
        let jpeg = include_bytes!("../../hearth/src/demo/snapshot.jpg");
        for topic in ["frigate/front/person/snapshot", "some/odd/topic"] {
            let c = Classifier::builtin().classify(topic, jpeg);
            assert_eq!(c.content_type, "image/jpeg");
            assert_eq!(c.categories[0], Category::AudioVideo, "{topic}");
            assert_eq!(c.fields[0].value_type, ValueType::Binary);
        }
    }

    #[test]
    fn a_large_payload_known_by_its_first_bytes_is_classified_by_topic_and_magic() {
        let jpeg = include_bytes!("../../hearth/src/demo/snapshot.jpg");
        let c = Classifier::builtin().classify_prefix("garage/cam", &jpeg[..64], 250_000);
        assert_eq!((c.categories.as_slice(), c.content_type), ([Category::AudioVideo].as_slice(), "image/jpeg"));
        let c = Classifier::builtin().classify_prefix("zigbee2mqtt/bridge/devices", br#"[{"ieee_address":"0x00"#, 300_000);
        assert_eq!((c.categories.as_slice(), c.fields.len()), ([Category::Diagnostics].as_slice(), 0));
    }

    #[test]
    fn esphome_plain_values_are_named_by_their_topic() {
        let c = classify("living-room-climate/sensor/temperature/state", "21.5");
        assert_eq!((c.fields[0].path.as_str(), c.fields[0].category, c.fields[0].value_type), ("$", Category::Climate, ValueType::Number));
        let motion = classify("hall/binary_sensor/motion/state", "ON");
        assert_eq!(motion.categories, [Category::Presence]);
        assert_eq!(motion.content_type, "text/plain");
        let status = classify("living-room-climate/status", "online");
        assert_eq!(status.categories, [Category::Diagnostics]);
    }

    #[test]
    fn health_and_presence_fields() {
        let scale = classify("esphome-scale/weight", r#"{"weight":71.3,"impedance":512}"#);
        assert_eq!(scale.categories, [Category::Health]);
        let frigate = classify(
            "frigate/events",
            r#"{"type":"new","after":{"id":"1","camera":"front","label":"person","sub_label":"Anna","box":[1,2,3,4],"current_zones":["porch"]}}"#,
        );
        assert_eq!(field(&frigate, "after.sub_label").category, Category::AudioVideo);
        assert_eq!(field(&frigate, "after.label").category, Category::Presence);
        assert_eq!(frigate.categories[..2], [Category::AudioVideo, Category::Presence]);
    }

    #[test]
    fn unknown_payloads_are_other_and_bounded() {
        assert_eq!(classify("x/y", r#"{"foo":1}"#).categories, [Category::Other]);
        let binary = Classifier::builtin().classify("x/y", &[0, 159, 146, 150]);
        assert_eq!((binary.content_type, binary.categories.as_slice()), ("application/octet-stream", [Category::Other].as_slice()));
        let many: serde_json::Map<String, Value> = (0..1000).map(|i| (format!("f{i}"), Value::from(i))).collect();
        let c = Classifier::builtin().classify("x/y", Value::Object(many).to_string().as_bytes());
        assert_eq!(c.fields.len(), MAX_FIELDS);
        let long = classify("x/y", &format!(r#"{{"s":"{}"}}"#, "a".repeat(500)));
        assert_eq!(long.fields[0].example.chars().count(), EXAMPLE_CHARS);
    }

    #[test]
    fn categories_round_trip_through_their_bits() {
        let mask = Category::Energy.bit() | Category::Location.bit();
        assert_eq!(Category::from_mask(mask), [Category::Location, Category::Energy]);
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
    }
}
