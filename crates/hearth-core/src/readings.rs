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

use crate::discovery::{DescribedDevice, Entity, Source};
use crate::self_described::understand;
use crate::text::clip;
use serde_json::Value;

/// The most readings kept per device: a plug has a handful, a bridge's list is cut here.
pub const MAX_READINGS: usize = 16;
/// The most characters of a value: a number (`-12345.678`) fits; a longer one is not a reading.
pub const MAX_VALUE_CHARS: usize = 24;
/// The largest message a reading is read from. A Tasmota report with many sensors is about 2 KB;
/// a bigger one (a device sending 100 KB as its "power") is not read at all, not even parsed.
pub const MAX_PAYLOAD: usize = 16 * 1024;
/// No reading in a home comes near this (a meter's lifetime total in Wh is below 1e10): a value
/// beyond it is a device lying, or a number too long to be shown as it was written.
const MAX_MAGNITUDE: f64 = 1e15;
/// The longest `value_template` read: the forms understood are short.
const MAX_TEMPLATE: usize = 200;
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
    /// whole message's value. Fails closed: any overlap hides the reading.
    pub fn is_redacted(&self, redacted: &[String]) -> bool {
        let mine: Vec<String> = match self {
            Self::Whole => return redacted.iter().any(|r| r.trim() == "$"),
            Self::Json(levels) => levels.iter().map(|l| l.to_ascii_lowercase()).collect(),
        };
        redacted.iter().any(|r| {
            let theirs = levels_of(r);
            let n = theirs.len().min(mine.len());
            n > 0 && theirs[..n] == mine[..n]
        })
    }
}

/// A redaction's path as levels: `Wifi.SSId` and the form body's `Wifi[SSId]` alike, lowercase.
fn levels_of(path: &str) -> Vec<String> {
    path.split(['.', '[', ']']).filter(|l| !l.is_empty()).map(str::to_ascii_lowercase).collect()
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
}

/// The rank of a reading whose kind is not known.
const OTHER: u8 = 9;

/// The readings a device's filed discovery describes, most telling first, at most
/// [`MAX_READINGS`]. Controls (an entity taking commands) are left out: their state is shown as a
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
    readings.truncate(MAX_READINGS);
    readings
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

    #[test]
    fn a_tasmota_plug_reads_as_power_on_its_telemetry_topic_first() {
        let (d, e) = filed(&[
            ("tasmota/discovery/DC4F22A1B2C3/config", TASMOTA_CONFIG),
            ("tasmota/discovery/DC4F22A1B2C3/sensors", TASMOTA_SENSORS),
        ]);
        let readings = described_readings(&d, &e);
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
        assert!(ValuePath::Whole.is_redacted(&["$".to_owned()]));
        assert!(!ValuePath::Whole.is_redacted(&["temperature".to_owned()]), "a plain number holds no named field");
    }
}
