//! Live readings: what a device says it measures (a plug's power, a room's temperature), and how
//! the latest value of each is read from the messages Hearth accepted from it. The hub keeps the
//! values in memory only (`hearth::readings`); this is the pure part: which readings a device's
//! discovery describes, how a value is read from one message, and whether a field the household
//! redacted hides it.
//!
//! What a device describes is its own claim and its messages are its own words, so everything
//! here is bounded and read strictly: only the simplest `value_template` forms are understood
//! (anything else is no reading, never a guess), a value is a number of a few characters, and a
//! message too big to be a reading is not read at all.

use crate::classify::{Category, Classifier, ValueType, plain_name};
use crate::discovery::{DescribedDevice, Entity, Source};
use crate::self_described::understand;
use crate::text::clip;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The most readings kept per device, and per child of a bridge: a plug has a handful, a lying
/// description is cut here.
pub const MAX_READINGS: usize = 16;
/// The most readings kept of one device with all its children: a Zigbee2MQTT bridge's network
/// of a hundred devices with a few readings each fits.
pub const MAX_DEVICE_READINGS: usize = 1024;
/// The most characters of a value: a number (`-12345.678`) fits; a longer one is not a reading.
pub const MAX_VALUE_CHARS: usize = 24;
/// The largest message a reading is read from. A Tasmota report with many sensors is about 2 KB;
/// a bigger one (a device sending 100 KB as its "power") is not read at all, not even parsed.
pub const MAX_PAYLOAD: usize = 16 * 1024;
/// No reading in a home comes near this (a meter's lifetime total in Wh is below 1e10): a value
/// beyond it is a device lying, or a number too long to be shown as it was written.
const MAX_MAGNITUDE: f64 = 1e15;
/// The longest `value_template` read (and filed: discovery drops a longer one): the forms
/// understood are short.
pub const MAX_TEMPLATE: usize = 200;
/// The deepest `value_json` path followed.
const MAX_DEPTH: usize = 8;
/// What of a device's words is shown, in bytes: a reading's name and its unit.
const NAME_BYTES: usize = 48;
const UNIT_BYTES: usize = 12;

/// Where a value is in a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ValuePath {
    /// The whole message is the value (`{{ value }}`, or no template: ESPHome's `21.5`).
    Whole,
    /// A member of the message's JSON (`{{ value_json.ENERGY.Power }}`: `["ENERGY", "Power"]`).
    Json(Vec<String>),
}

impl ValuePath {
    /// Reads a `value_template` in the forms firmware writes most: none or `{{ value }}`,
    /// `{{ value_json.a.b }}`, with `['key']` or `["key"]` for a key that is not a plain name.
    /// Anything else (filters, arithmetic, conditions) is `None`: no reading, never a guess.
    pub fn parse(template: Option<&str>) -> Option<Self> {
        let Some(template) = template else { return Some(Self::Whole) };
        if template.len() > MAX_TEMPLATE {
            return None;
        }
        let inner = template.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
        if inner == "value" {
            return Some(Self::Whole);
        }
        let mut rest = inner.strip_prefix("value_json")?;
        let mut levels = Vec::new();
        while !rest.is_empty() {
            if levels.len() == MAX_DEPTH {
                return None;
            }
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
                let name = &after[..end];
                if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                    return None;
                }
                levels.push(name.to_owned());
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let quote = after.chars().next().filter(|q| *q == '\'' || *q == '"')?;
                let after = &after[1..];
                let end = after.find(quote)?;
                let key = &after[..end];
                if key.is_empty() || key.contains(['\\', '\'', '"']) {
                    return None;
                }
                levels.push(key.to_owned());
                rest = after[end + 1..].strip_prefix(']')?;
            } else {
                return None;
            }
        }
        (!levels.is_empty()).then_some(Self::Json(levels))
    }

    /// The field as the review and the household's redactions name it: `ENERGY.Power`, or `$`
    /// for the whole message.
    pub fn field(&self) -> String {
        match self {
            Self::Whole => "$".to_owned(),
            Self::Json(levels) => levels.join("."),
        }
    }

    /// Whether a field the household redacted for this device is, holds or lies inside this one.
    /// Redaction matches names in any ASCII case, so this does too; a `$` redaction hides the
    /// whole message's value. Paths are compared as text, as the gate compares them
    /// (`crate::redact`): a key may hold a dot (`PMS5003.PM2.5`, `['ENERGY.Power']`), so neither
    /// side is split on dots. Fails closed: any overlap hides the reading.
    pub fn is_redacted(&self, redacted: &[String]) -> bool {
        let mine = match self {
            Self::Whole => return redacted.iter().any(|r| r.trim() == "$"),
            Self::Json(levels) => levels.join(".").to_ascii_lowercase(),
        };
        let overlaps =
            |theirs: &str| !theirs.is_empty() && (mine == theirs || starts_with_level(&mine, theirs) || starts_with_level(theirs, &mine));
        // Both the redaction as written (a key may hold brackets: `a[b]`, which the gate compares
        // as text) and with brackets read as levels (`Wifi[SSId]`).
        redacted.iter().any(|r| overlaps(&r.trim().to_ascii_lowercase()) || overlaps(&as_text(r)))
    }
}

/// A redaction's path as the gate compares it: `Wifi.SSId` and the form body's `Wifi[SSId]`
/// alike, lowercase.
fn as_text(path: &str) -> String {
    path.trim().replace('[', ".").replace(']', "").to_ascii_lowercase()
}

/// Whether `path` lies inside `outer`: it starts with it and a `.`.
fn starts_with_level(path: &str, outer: &str) -> bool {
    path.strip_prefix(outer).is_some_and(|rest| rest.starts_with('.'))
}

/// One reading a device describes: what it is called, the topic and path of its value, its unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DescribedReading {
    /// The entity's key, unique within the device.
    pub key: String,
    /// In people's words where the kind is known ("Power"), otherwise the firmware's, bounded.
    pub name: String,
    pub topic: String,
    pub path: ValuePath,
    pub unit: Option<String>,
    /// The device behind a bridge it belongs to, if it is one of the bridge's children.
    pub child: Option<String>,
    /// Lower first: power, temperature, humidity, battery, then the rest.
    pub rank: u8,
}

impl DescribedReading {
    /// One a summary leads with: a kind of reading people know (power, temperature, humidity,
    /// battery), not the firmware's other figures (a power factor, a reactive power).
    pub fn is_headline(&self) -> bool {
        self.rank < OTHER
    }

    /// The kinds of data its value may be, as the ledger classifies the same field of a message
    /// on its topic: the field's own kind (from its last level, in the object it is in; a
    /// whole-message value named by its topic's last level) and every kind of its topic. What a
    /// field's kind depends on and a reading does not know (its siblings in the message, a quoted
    /// number's type) is taken every way it could be: with no siblings and with the other
    /// readings described next to it (`others`), as a number and as a string. The household's
    /// retention for the strictest of these says whether its value may be shown.
    pub fn categories<'a>(&self, others: impl IntoIterator<Item = &'a DescribedReading>) -> Vec<Category> {
        let classifier = Classifier::builtin();
        let mut kinds = classifier.topic_categories(&self.topic);
        let (name, parent, siblings): (&str, Option<&str>, Vec<&str>) = match &self.path {
            ValuePath::Whole => (plain_name(&self.topic), None, vec![]),
            ValuePath::Json(levels) => {
                let Some((name, outer)) = levels.split_last() else { return kinds };
                let siblings = others
                    .into_iter()
                    .filter(|o| o.topic == self.topic)
                    .filter_map(|o| match &o.path {
                        ValuePath::Json(theirs) => theirs.split_last().filter(|(_, o)| *o == outer).map(|(n, _)| n.as_str()),
                        ValuePath::Whole => None,
                    })
                    .filter(|n| *n != name)
                    .collect();
                (name.as_str(), outer.last().map(String::as_str), siblings)
            }
        };
        for value_type in [ValueType::Number, ValueType::String] {
            for siblings in [&[][..], &siblings[..]] {
                kinds.push(classifier.field_category(name, value_type, parent, siblings));
            }
        }
        kinds.sort();
        kinds.dedup();
        kinds
    }
}

/// The rank of a reading whose kind is not known.
const OTHER: u8 = 9;

/// The readings a device's filed discovery describes, most telling first, each once, at most
/// [`MAX_READINGS`] of the device itself and of each of its children, [`MAX_DEVICE_READINGS`]
/// in all ([`bounded`]). Controls (an entity taking commands) are left out: their state is shown as a
/// control's. So is what its template does not say plainly, and a radio's link quality (it says
/// how the bridge hears the device, nothing about the home).
pub fn described_readings(devices: &[(Source, DescribedDevice)], entities: &[(Source, Entity)]) -> Vec<DescribedReading> {
    let children: Vec<String> = understand(devices, entities).children.into_iter().map(|c| c.key).collect();
    let mut readings: Vec<DescribedReading> = entities
        .iter()
        .map(|(_, e)| e)
        .filter(|e| e.command_topic.is_none())
        .filter(|e| !e.name.eq_ignore_ascii_case("linkquality") && e.unit.as_deref() != Some("lqi"))
        .filter_map(|e| {
            // A Tasmota's sensors are published on the topic its config names.
            let topic = e.state_topic.clone().or_else(|| {
                let own = e.described.as_deref()?;
                devices.iter().find(|(_, d)| d.key == own).and_then(|(_, d)| d.readings_topic.clone())
            })?;
            let path = ValuePath::parse(e.value_template.as_deref())?;
            let (rank, word) = kind_of(e);
            Some(DescribedReading {
                key: e.key.clone(),
                name: word.map_or_else(|| clip(&e.name, NAME_BYTES).into_owned(), str::to_owned),
                topic,
                path,
                unit: e.unit.as_deref().map(|u| clip(u, UNIT_BYTES).into_owned()),
                child: e.described.clone().filter(|d| children.contains(d)),
                rank,
            })
        })
        .collect();
    readings.sort_by(|a, b| a.rank.cmp(&b.rank).then_with(|| a.name.cmp(&b.name)).then_with(|| a.key.cmp(&b.key)));
    bounded(readings)
}

/// `readings` in their order, each once (the same value, on the same topic at the same path for
/// the same child, described twice is one reading: a device re-announcing under a second
/// discovery topic would show it twice), the first [`MAX_READINGS`] of the device and of each
/// child (a bridge's children do not share one device's bound: its door sensor's battery is not
/// crowded out by a lamp's twenty figures), [`MAX_DEVICE_READINGS`] in all.
pub fn bounded(readings: impl IntoIterator<Item = DescribedReading>) -> Vec<DescribedReading> {
    let mut seen: HashSet<(String, ValuePath, Option<String>)> = HashSet::new();
    let mut per_child: HashMap<Option<String>, usize> = HashMap::new();
    let mut kept = Vec::new();
    for r in readings {
        if kept.len() == MAX_DEVICE_READINGS {
            break;
        }
        let count = per_child.entry(r.child.clone()).or_default();
        if *count == MAX_READINGS || !seen.insert((r.topic.clone(), r.path.clone(), r.child.clone())) {
            continue;
        }
        *count += 1;
        kept.push(r);
    }
    kept
}

/// How telling a reading is, and its name in people's words when its kind is known.
fn kind_of(e: &Entity) -> (u8, Option<&'static str>) {
    let class = e.device_class.as_deref().unwrap_or_default();
    let unit = e.unit.as_deref().unwrap_or_default();
    let name = e.name.to_ascii_lowercase();
    if class == "power" || unit == "W" {
        (0, Some("Power"))
    } else if class == "temperature" || unit == "°C" || unit == "°F" {
        (1, Some("Temperature"))
    } else if class == "humidity" || (unit == "%" && name.contains("humidity")) {
        (2, Some("Humidity"))
    } else if class == "battery" || (unit == "%" && name.contains("battery")) {
        (3, Some("Battery"))
    } else {
        (OTHER, None)
    }
}

/// The value at each of `paths` in one message (the message is read once, however many
/// readings it carries): a number, as the device wrote it, of at most [`MAX_VALUE_CHARS`];
/// `None` where there is none (not a number, too long, not there, or the message too big).
pub fn read(paths: &[&ValuePath], payload: &[u8]) -> Vec<Option<String>> {
    if payload.len() > MAX_PAYLOAD {
        return vec![None; paths.len()];
    }
    let mut json: Option<Option<Value>> = None;
    paths
        .iter()
        .map(|path| match path {
            ValuePath::Whole => std::str::from_utf8(payload).ok().and_then(|t| number(t.trim())),
            ValuePath::Json(levels) => {
                let parsed = json.get_or_insert_with(|| serde_json::from_slice::<Value>(payload).ok()).as_ref()?;
                let value = levels.iter().try_fold(parsed, |v, level| v.as_object()?.get(level))?;
                match value {
                    Value::Number(n) => number(&n.to_string()),
                    // Some firmware quotes its numbers.
                    Value::String(s) => number(s.trim()),
                    _ => None,
                }
            }
        })
        .collect()
}

/// `text` if it is a number written plainly (`21.5`, `-3`, `1e3`), short, and of a size a
/// reading can have.
fn number(text: &str) -> Option<String> {
    let plain = !text.is_empty()
        && text.len() <= MAX_VALUE_CHARS
        && text.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        && text.chars().any(|c| c.is_ascii_digit());
    (plain && text.parse::<f64>().is_ok_and(|x| x.abs() < MAX_MAGNITUDE)).then(|| text.to_owned())
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

    const TASMOTA_CONFIG: &str = r#"{"dn":"Kitchen plug","fn":["Kitchen plug"],"mac":"DC4F22A1B2C3","md":"Sonoff S31","t":"tasmota_A1B2C3",
        "ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"rl":[1,0,0,0,0,0,0,0]}"#;
    const TASMOTA_SENSORS: &str = r#"{"sn":{"Time":"x","ENERGY":{"Total":12.5,"Power":38,"Voltage":231}},"ver":1}"#;
    const REPORT: &str = r#"{"Time":"2026-01-04T18:00:00","ENERGY":{"Total":12.502,"Power":42,"Voltage":231}}"#;

    fn one(path: &ValuePath, payload: &[u8]) -> Option<String> {
        read(&[path], payload).remove(0)
    }

    #[test]
    fn the_common_templates_are_read_and_anything_else_is_refused() {
        let json = |levels: &[&str]| Some(ValuePath::Json(levels.iter().map(|l| (*l).to_owned()).collect()));
        assert_eq!(ValuePath::parse(None), Some(ValuePath::Whole));
        assert_eq!(ValuePath::parse(Some("{{ value }}")), Some(ValuePath::Whole));
        assert_eq!(ValuePath::parse(Some("{{value_json.temperature}}")), json(&["temperature"]));
        assert_eq!(ValuePath::parse(Some("{{ value_json.ENERGY.Power }}")), json(&["ENERGY", "Power"]));
        assert_eq!(ValuePath::parse(Some("{{ value_json['DS18B20-1'].Temperature }}")), json(&["DS18B20-1", "Temperature"]));
        assert_eq!(ValuePath::parse(Some(r#"{{ value_json["a b"] }}"#)), json(&["a b"]));
        for refused in [
            "{{ value_json.temperature | round(1) }}",
            "{{ value | float * 10 }}",
            "{% if value == 'ON' %}on{% endif %}",
            "{{ value_json.temperature if value_json.ok else 0 }}",
            "{{ value_json }}",
            "{{ value_json.1st }}",
            "{{ value_json[0] }}",
            "{{ value_json['a'}}",
            "{{ states('sensor.other') }}",
            "value_json.temperature",
            "",
        ] {
            assert_eq!(ValuePath::parse(Some(refused)), None, "{refused}");
        }
        let deep = format!("{{{{ value_json{} }}}}", ".a".repeat(MAX_DEPTH + 1));
        assert_eq!(ValuePath::parse(Some(&deep)), None, "deeper than any firmware nests");
        assert_eq!(ValuePath::parse(Some(&format!("{{{{ value_json.{} }}}}", "a".repeat(MAX_TEMPLATE)))), None);
    }

    /// The readings a Tasmota plug describes in its two discovery messages.
    fn tasmota_plug() -> Vec<DescribedReading> {
        let (d, e) = filed(&[
            ("tasmota/discovery/DC4F22A1B2C3/config", TASMOTA_CONFIG),
            ("tasmota/discovery/DC4F22A1B2C3/sensors", TASMOTA_SENSORS),
        ]);
        described_readings(&d, &e)
    }

    #[test]
    fn a_tasmota_plug_reads_as_power_on_its_telemetry_topic_first() {
        let readings = tasmota_plug();
        let shown: Vec<_> = readings.iter().map(|r| (r.name.as_str(), r.topic.as_str(), r.unit.as_deref(), r.child.as_deref())).collect();
        assert_eq!(
            shown,
            [
                ("Power", "tele/tasmota_A1B2C3/SENSOR", Some("W"), None),
                ("ENERGY Total", "tele/tasmota_A1B2C3/SENSOR", Some("kWh"), None),
                ("ENERGY Voltage", "tele/tasmota_A1B2C3/SENSOR", Some("V"), None),
            ],
            "its relay is a control, not a reading"
        );
        let paths: Vec<&ValuePath> = readings.iter().map(|r| &r.path).collect();
        assert_eq!(read(&paths, REPORT.as_bytes()), [Some("42".to_owned()), Some("12.502".to_owned()), Some("231".to_owned())]);
    }

    #[test]
    fn sensors_without_their_config_have_no_topic_and_no_reading() {
        let (d, e) = filed(&[("tasmota/discovery/DC4F22A1B2C3/sensors", TASMOTA_SENSORS)]);
        assert_eq!(described_readings(&d, &e), []);
    }

    #[test]
    fn esphome_sends_plain_values_and_a_bridge_child_s_readings_are_its_own() {
        let cfg = |o: &str, class: &str, unit: &str| {
            format!(
                r#"{{"name":"{o}","dev_cla":"{class}","unit_of_meas":"{unit}","stat_t":"node/{o}","dev":{{"ids":"n1","name":"node"}}}}"#
            )
        };
        let (t, h) = (cfg("temperature", "temperature", "°C"), cfg("humidity", "humidity", "%"));
        let (d, e) = filed(&[("homeassistant/sensor/node/humidity/config", &h), ("homeassistant/sensor/node/temperature/config", &t)]);
        let r = described_readings(&d, &e);
        assert_eq!(
            r.iter().map(|r| (r.name.as_str(), r.path.clone())).collect::<Vec<_>>(),
            [("Temperature", ValuePath::Whole), ("Humidity", ValuePath::Whole)]
        );
        assert_eq!(one(&r[0].path, b" 21.5\n"), Some("21.5".to_owned()));

        let list = r#"[{"ieee_address":"0x2","type":"EndDevice","friendly_name":"front_door","definition":{"exposes":[
            {"type":"binary","property":"contact","access":1},{"type":"numeric","property":"battery","unit":"%","access":1},
            {"type":"numeric","property":"linkquality","unit":"lqi","access":1}]}},
            {"ieee_address":"0x3","type":"Router","friendly_name":"lamp","definition":{"exposes":[{"type":"numeric","property":"brightness","access":7}]}}]"#;
        let (d, e) = filed(&[("zigbee2mqtt/bridge/devices", list)]);
        let r = described_readings(&d, &e);
        let shown: Vec<_> = r.iter().map(|r| (r.name.as_str(), r.child.as_deref())).collect();
        assert_eq!(shown, [("Battery", Some("0x2")), ("contact", Some("0x2"))], "no link quality, no settable brightness");
        let state = br#"{"battery":97,"contact":true,"linkquality":153}"#;
        assert_eq!(read(&[&r[0].path, &r[1].path], state), [Some("97".to_owned()), None], "a door's true is not a number");
    }

    /// A lying device: a value of 100 KB, one that is not a number, a template Hearth does not
    /// read, and messages that are not what they claim. None of it is a reading, and none of it
    /// is kept longer than the bound.
    #[test]
    fn hostile_values_are_no_reading() {
        let power = ValuePath::parse(Some("{{ value_json.ENERGY.Power }}")).unwrap();
        let huge = format!(r#"{{"ENERGY":{{"Power":"{}"}}}}"#, "9".repeat(100_000));
        assert_eq!(one(&power, huge.as_bytes()), None, "a 100 KB message is not read at all");
        let long = format!(r#"{{"ENERGY":{{"Power":{}}}}}"#, "9".repeat(MAX_VALUE_CHARS + 1));
        assert_eq!(one(&power, long.as_bytes()), None, "a number longer than a reading is refused, not cut or rounded");
        assert_eq!(one(&ValuePath::Whole, "9".repeat(100_000).as_bytes()), None);
        for not_a_number in [
            r#"{"ENERGY":{"Power":"hot"}}"#,
            r#"{"ENERGY":{"Power":"NaN"}}"#,
            r#"{"ENERGY":{"Power":"inf"}}"#,
            r#"{"ENERGY":{"Power":"1e999"}}"#,
            r#"{"ENERGY":{"Power":"<script>alert(1)</script>"}}"#,
            r#"{"ENERGY":{"Power":null}}"#,
            r#"{"ENERGY":{"Power":[1,2]}}"#,
            r#"{"ENERGY":{"Power":{"W":1}}}"#,
            r#"{"ENERGY":{"power":42}}"#,
            r#"{"ENERGY":42}"#,
            "not json at all",
            "",
        ] {
            assert_eq!(one(&power, not_a_number.as_bytes()), None, "{not_a_number}");
        }
        for not_a_number in ["ON", "12 W", "--1", "1.2.3", "e", "\u{0}42", "４２"] {
            assert_eq!(one(&ValuePath::Whole, not_a_number.as_bytes()), None, "{not_a_number:?}");
        }
        assert_eq!(one(&power, br#"{"ENERGY":{"Power":" 42.5 "}}"#), Some("42.5".to_owned()), "a quoted number is a number");
        // A template Hearth does not read makes no reading, rather than a guess at one.
        let e = Entity {
            key: "k".into(),
            described: None,
            component: "sensor".into(),
            name: "Power".into(),
            unique_id: None,
            state_topic: Some("plug/power".into()),
            command_topic: None,
            device_class: Some("power".into()),
            unit: Some("W".into()),
            value_template: Some("{{ (value_json.power | float) * 1000 }}".into()),
        };
        assert_eq!(described_readings(&[], &[(Source::HomeAssistant, e.clone())]), []);
        // Its words are bounded: a name and a unit of a kilobyte are shown cut short.
        let wordy = Entity { name: "n".repeat(1_000), device_class: None, unit: Some("u".repeat(1_000)), value_template: None, ..e };
        let r = &described_readings(&[], &[(Source::HomeAssistant, wordy)])[0];
        assert!(r.name.len() <= NAME_BYTES + 24 && r.unit.as_ref().is_some_and(|u| u.len() <= UNIT_BYTES + 24), "{r:?}");
    }

    #[test]
    fn a_device_describing_hundreds_of_readings_is_kept_to_the_bound() {
        let exposes: Vec<serde_json::Value> =
            (0..500).map(|i| serde_json::json!({"type": "numeric", "property": format!("r{i}"), "access": 1})).collect();
        let list =
            serde_json::json!([{"ieee_address": "0x2", "type": "EndDevice", "friendly_name": "x", "definition": {"exposes": exposes}}]);
        let (d, e) = filed(&[("zigbee2mqtt/bridge/devices", &list.to_string())]);
        assert_eq!(described_readings(&d, &e).len(), MAX_READINGS);
    }

    #[test]
    fn a_redacted_field_hides_its_reading_in_any_case_and_at_any_depth() {
        let power = ValuePath::parse(Some("{{ value_json.ENERGY.Power }}")).unwrap();
        let redacted = |paths: &[&str]| power.is_redacted(&paths.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>());
        assert!(redacted(&["ENERGY.Power"]));
        assert!(redacted(&["energy.power"]), "redaction matches names in any case");
        assert!(redacted(&["ENERGY"]), "the whole object it is in");
        assert!(redacted(&["ENERGY[Power]"]), "as a form names it");
        assert!(redacted(&["ENERGY.Power.W"]), "a field inside it");
        assert!(!redacted(&["ENERGY.Voltage", "Wifi.SSId", "Power"]), "other fields, and a Power elsewhere");
        assert!(!redacted(&[]));
        assert!(!redacted(&["ENERGY.Pow", "ENERG"]), "a name that only begins the same is another field");
        assert!(ValuePath::Whole.is_redacted(&["$".to_owned()]));
        assert!(!ValuePath::Whole.is_redacted(&["temperature".to_owned()]), "a plain number holds no named field");
    }

    /// A key with a dot in it is one field: the gate removes `PMS5003.PM2.5` (as the review names
    /// it) and `ENERGY.Power` (one key) as text, so the reading on it must be hidden as well.
    #[test]
    fn a_redacted_field_whose_key_holds_a_dot_hides_its_reading() {
        let hidden = |template: &str, paths: &[&str]| {
            ValuePath::parse(Some(template)).unwrap().is_redacted(&paths.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>())
        };
        let pm = "{{ value_json.PMS5003['PM2.5'] }}";
        assert!(hidden(pm, &["PMS5003.PM2.5"]));
        assert!(hidden(pm, &["pms5003.pm2.5"]));
        assert!(hidden(pm, &["PMS5003[PM2.5]"]), "as a form names it");
        assert!(hidden(pm, &["PMS5003"]));
        assert!(!hidden(pm, &["PMS5003.PM10", "PMS5003.PM2.50"]), "other keys");
        let one_key = "{{ value_json['ENERGY.Power'] }}";
        assert!(hidden(one_key, &["ENERGY.Power"]));
        assert!(hidden(one_key, &["energy.power"]));
        assert!(!hidden(one_key, &["ENERGY.Voltage"]));
        // A key holding brackets, redacted as the gate compares it (as written).
        let bracketed = "{{ value_json['a[b]'] }}";
        assert!(hidden(bracketed, &["a[b]"]));
        assert!(hidden(bracketed, &["A[B]"]));
        assert!(!hidden(bracketed, &["a[c]"]));
    }

    /// A reading's kind is its field's as the ledger would classify it, with its topic's.
    #[test]
    fn a_reading_is_of_its_field_s_kind_and_its_topic_s() {
        let r = tasmota_plug();
        assert!(r.iter().all(|x| x.categories(&r) == [Category::Energy]), "ENERGY's fields are energy");
        let at = |topic: &str, template: Option<&str>| DescribedReading {
            key: "k".into(),
            name: "n".into(),
            topic: topic.into(),
            path: ValuePath::parse(template).unwrap(),
            unit: None,
            child: None,
            rank: OTHER,
        };
        assert_eq!(at("zigbee2mqtt/scale", Some("{{ value_json.weight }}")).categories([]), [Category::Health]);
        assert_eq!(at("owntracks/anna/phone", Some("{{ value_json.batt }}")).categories([]), [Category::Location, Category::Diagnostics]);
        assert_eq!(at("node/sensor/latitude/state", None).categories([]), [Category::Location], "named by its topic");
        // A plug's voltage is energy next to its power, a battery's voltage otherwise: both count.
        let (power, voltage) =
            (at("zigbee2mqtt/plug", Some("{{ value_json.power }}")), at("zigbee2mqtt/plug", Some("{{ value_json.voltage }}")));
        assert_eq!(voltage.categories([&power, &voltage]), [Category::Energy, Category::Diagnostics]);
        assert_eq!(voltage.categories([]), [Category::Diagnostics]);
    }

    /// Described twice (a second discovery topic for the same value): shown once.
    #[test]
    fn the_same_reading_described_twice_is_one() {
        let power = |key: &str, topic: &str| Entity {
            key: key.into(),
            described: None,
            component: "sensor".into(),
            name: "Power".into(),
            unique_id: None,
            state_topic: Some(topic.into()),
            command_topic: None,
            device_class: Some("power".into()),
            unit: Some("W".into()),
            value_template: Some("{{ value_json.power }}".into()),
        };
        let e = [
            (Source::HomeAssistant, power("homeassistant/sensor/plug/power/config", "plug/state")),
            (Source::HomeAssistant, power("homeassistant/sensor/plug_v2/power/config", "plug/state")),
            (Source::HomeAssistant, power("homeassistant/sensor/plug/other/config", "plug/other")),
        ];
        let r = described_readings(&[], &e);
        assert_eq!(r.iter().map(|r| r.topic.as_str()).collect::<Vec<_>>(), ["plug/other", "plug/state"]);
    }

    /// A bridge's children each have their own bound: one child describing hundreds of readings
    /// does not crowd out the others, and the whole network has a bound of its own.
    #[test]
    fn a_bridge_s_children_each_have_the_bound_and_the_network_one_in_all() {
        let child = |i: usize, readings: usize| {
            let exposes: Vec<serde_json::Value> =
                (0..readings).map(|r| serde_json::json!({"type": "numeric", "property": format!("r{r}"), "access": 1})).collect();
            serde_json::json!({"ieee_address": format!("0x{i:x}"), "type": "EndDevice", "friendly_name": format!("c{i}"),
                "definition": {"exposes": exposes}})
        };
        let mut list = vec![child(1, 500)];
        list.extend((2..=20).map(|i| child(i, 1)));
        let (d, e) = filed(&[("zigbee2mqtt/bridge/devices", &serde_json::Value::Array(list).to_string())]);
        let r = described_readings(&d, &e);
        assert_eq!(r.iter().filter(|r| r.child.as_deref() == Some("0x1")).count(), MAX_READINGS);
        assert_eq!(r.len(), MAX_READINGS + 19, "every other child keeps its reading");

        let many: Vec<serde_json::Value> = (1..=100).map(|i| child(i, MAX_READINGS)).collect();
        let (d, e) = filed(&[("zigbee2mqtt/bridge/devices", &serde_json::Value::Array(many).to_string())]);
        assert_eq!(described_readings(&d, &e).len(), MAX_DEVICE_READINGS);
    }
}
