//! Fingerprints: the rule table in `fingerprints.toml` applied to sightings.
//!
//! The rules are data so that adding a device family is a table edit with a test case, not code.

use crate::sighting::Sighting;
use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use ts_rs::TS;

/// What kind of thing a device is. Closed set so the UI can filter and pick icons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Kind {
    Light,
    Plug,
    Switch,
    Sensor,
    Thermostat,
    Lock,
    Camera,
    Doorbell,
    Speaker,
    Tv,
    MediaPlayer,
    Printer,
    Bridge,
    Hub,
    Vacuum,
    Computer,
    Router,
    Fan,
    GarageDoor,
    Door,
    Window,
    WindowCovering,
    SecuritySystem,
    AirPurifier,
    Heater,
    AirConditioner,
    Humidifier,
    Dehumidifier,
    Sprinkler,
    Remote,
    Other,
    Unknown,
}

/// The outcome for one device: what it is and which rule said so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Recognition {
    pub kind: Kind,
    pub vendor: Option<String>,
    pub model: Option<String>,
    /// The id of the rule that matched, e.g. `shelly-gen2`.
    pub rule: String,
    /// Human-readable: which service and which conditions matched.
    pub reason: String,
    pub strength: u8,
}

impl Recognition {
    /// What a device is before any rule matched.
    pub fn unknown() -> Self {
        Self {
            kind: Kind::Unknown,
            vendor: None,
            model: None,
            rule: "none".into(),
            reason: "no rule matched its services".into(),
            strength: 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuleTableError {
    #[error("fingerprint table is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("fingerprint rule `{rule}` has a bad pattern `{pattern}`: {source}")]
    Pattern { rule: String, pattern: String, source: globset::Error },
    #[error("fingerprint rule `{0}` needs either `kind` or `kind_from = \"homekit_ci\"`")]
    NoKind(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    rule: Vec<RawRule>,
    homekit_categories: BTreeMap<String, Kind>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    service: String,
    name: Option<String>,
    #[serde(default)]
    txt: BTreeMap<String, String>,
    kind: Option<Kind>,
    kind_from: Option<KindFrom>,
    vendor: Option<String>,
    model: Option<String>,
    model_txt: Option<String>,
    #[serde(default)]
    model_from_name: bool,
    strength: u8,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum KindFrom {
    HomekitCi,
}

#[derive(Debug)]
struct Rule {
    raw: RawRule,
    name: Option<GlobMatcher>,
    txt: Vec<(String, GlobMatcher)>,
}

/// The compiled rule table.
#[derive(Debug)]
pub struct Fingerprints {
    rules: Vec<Rule>,
    homekit_categories: BTreeMap<String, Kind>,
}

/// The table shipped with Hearth.
pub const BUILTIN_RULES: &str = include_str!("fingerprints.toml");

impl Fingerprints {
    /// The built-in table. It is checked by a unit test, so failing here is a build defect.
    pub fn builtin() -> Self {
        Self::parse(BUILTIN_RULES).unwrap_or_else(|e| panic!("built-in fingerprint table: {e}"))
    }

    pub fn parse(text: &str) -> Result<Self, RuleTableError> {
        let raw: RawTable = toml::from_str(text)?;
        let glob = |rule: &str, p: &str| {
            Glob::new(&p.to_lowercase()).map(|g| g.compile_matcher()).map_err(|source| RuleTableError::Pattern {
                rule: rule.into(),
                pattern: p.into(),
                source,
            })
        };
        let mut rules = Vec::with_capacity(raw.rule.len());
        for r in raw.rule {
            if r.kind.is_none() && r.kind_from.is_none() {
                return Err(RuleTableError::NoKind(r.id));
            }
            let name = r.name.as_deref().map(|p| glob(&r.id, p)).transpose()?;
            let txt = r.txt.iter().map(|(k, p)| Ok((k.clone(), glob(&r.id, p)?))).collect::<Result<_, RuleTableError>>()?;
            rules.push(Rule { raw: r, name, txt });
        }
        Ok(Self { rules, homekit_categories: raw.homekit_categories })
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Recognises a device from all its current sightings: the strongest rule wins, and on a
    /// tie the rule earlier in the table.
    pub fn recognise<'a>(&self, sightings: impl IntoIterator<Item = &'a Sighting>) -> Recognition {
        let mut best: Option<(usize, Recognition)> = None;
        for s in sightings {
            for (index, rule) in self.rules.iter().enumerate() {
                let Some(found) = self.apply(rule, s) else { continue };
                let better = match &best {
                    None => true,
                    Some((i, b)) => found.strength > b.strength || (found.strength == b.strength && index < *i),
                };
                if better {
                    best = Some((index, found));
                }
            }
        }
        best.map(|(_, r)| r).unwrap_or_else(Recognition::unknown)
    }

    fn apply(&self, rule: &Rule, s: &Sighting) -> Option<Recognition> {
        let raw = &rule.raw;
        if raw.service != s.service_type {
            return None;
        }
        let instance = s.instance.to_lowercase();
        if let Some(name) = &rule.name
            && !name.is_match(&instance)
        {
            return None;
        }
        for (key, pattern) in &rule.txt {
            let value = s.txt(key)?.to_lowercase();
            if !pattern.is_match(&value) {
                return None;
            }
        }
        let kind = match (raw.kind, raw.kind_from) {
            (_, Some(KindFrom::HomekitCi)) => {
                s.txt("ci").and_then(|ci| self.homekit_categories.get(ci.trim())).copied().or(raw.kind).unwrap_or(Kind::Other)
            }
            (Some(kind), None) => kind,
            (None, None) => Kind::Unknown,
        };
        let model = raw
            .model
            .clone()
            .or_else(|| raw.model_txt.as_deref().and_then(|k| s.txt(k)).filter(|v| !v.trim().is_empty()).map(str::to_owned))
            .or_else(|| raw.model_from_name.then(|| model_from_name(&s.instance)).flatten());
        let mut conditions = vec![format!("service {}", raw.service)];
        if let Some(p) = &raw.name {
            conditions.push(format!("name matches {p}"));
        }
        for (k, p) in &raw.txt {
            conditions.push(format!("TXT {k}={}", if p == "*" { "(any)" } else { p }));
        }
        Some(Recognition {
            kind,
            vendor: raw.vendor.clone(),
            model,
            rule: raw.id.clone(),
            reason: format!("rule {} ({}) on {}", raw.id, conditions.join(", "), s.instance),
            strength: raw.strength,
        })
    }
}

/// `shellyplus1-c4dd57877294` → `shellyplus1`; `roborock-vacuum-s5_miio260426251` →
/// `roborock-vacuum-s5` (the `_miio<id>` suffix is cut too).
fn model_from_name(instance: &str) -> Option<String> {
    let base = instance.split_once("_miio").map_or(instance, |(m, _)| m);
    let model = if base.len() < instance.len() { base } else { base.rsplit_once('-').map_or(base, |(m, _)| m) };
    (!model.is_empty()).then(|| model.to_owned())
}

/// The name a person would recognise: a friendly-name TXT key, else the instance name without
/// the MAC prefixes and suffixes firmware adds.
pub fn display_name(s: &Sighting) -> String {
    for key in ["fn", "friendly_name", "dn", "location_name"] {
        if let Some(v) = s.txt(key).filter(|v| !v.trim().is_empty()) {
            return v.trim().to_owned();
        }
    }
    let instance = s.instance.as_str();
    if let Some((_, room)) = instance.split_once('@')
        && !room.is_empty()
    {
        return room.to_owned();
    }
    if let (Some(open), true) = (instance.rfind(" ["), instance.ends_with(']')) {
        return instance[..open].to_owned();
    }
    // Xiaomi `roborock-vacuum-s5_miio260426251`: the model, without the numeric device id.
    if let Some((model, _)) = instance.split_once("_miio") {
        return model.to_owned();
    }
    if instance.is_empty() { s.host.clone() } else { instance.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ty: &str, instance: &str, txt: &[(&str, &str)]) -> Sighting {
        Sighting::new(ty, instance, "h.local.", vec![], 80, txt.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())))
    }

    #[test]
    fn builtin_table_compiles_and_covers_the_reference() {
        let fp = Fingerprints::builtin();
        assert!(fp.rule_count() >= 40);
    }

    /// Realistic announcements, as devices send them (reference/devices.md), and what Hearth
    /// must make of them.
    #[test]
    fn recognises_real_announcements() {
        let fp = Fingerprints::builtin();
        #[rustfmt::skip]
        #[allow(clippy::type_complexity)]
        let cases: Vec<(Sighting, Kind, Option<&str>, Option<&str>, &str)> = vec![
            (s("_hap._tcp", "Hue Bridge 3A5F", &[("md", "BSB002"), ("ci", "2"), ("id", "00:17:88:AA:BB:CC"), ("sf", "0")]), Kind::Bridge, Some("Philips Hue"), Some("Hue Bridge (BSB002)"), "homekit-hue-bridge"),
            (s("_hap._tcp", "Eve Energy 5A3C", &[("md", "Eve Energy 20EBO8301"), ("ci", "7"), ("id", "3C:4F:1A:22:9B:01")]), Kind::Plug, Some("Eve Systems"), Some("Eve Energy 20EBO8301"), "homekit-eve"),
            (s("_hap._tcp", "Front Door Lock", &[("md", "SmartLock Pro"), ("ci", "6")]), Kind::Lock, None, Some("SmartLock Pro"), "homekit-accessory"),
            (s("_hap._tcp", "Doorbell", &[("md", "X"), ("ci", "18")]), Kind::Doorbell, None, Some("X"), "homekit-accessory"),
            (s("_hap._tcp", "Odd", &[("md", "Y"), ("ci", "999")]), Kind::Other, None, Some("Y"), "homekit-accessory"),
            (s("_shelly._tcp", "shellyplus1-c4dd57877294", &[("gen", "2")]), Kind::Switch, Some("Shelly"), Some("shellyplus1"), "shelly-gen2"),
            (s("_http._tcp", "shelly1-84CCA8ADE2FA", &[]), Kind::Switch, Some("Shelly"), Some("shelly1"), "shelly-gen1-http"),
            (s("_esphomelib._tcp", "kitchen-sensor", &[("version", "2024.6.1"), ("mac", "246f28aabbcc"), ("platform", "ESP32"), ("board", "esp32dev"), ("network", "wifi")]), Kind::Sensor, Some("ESPHome"), Some("esp32dev"), "esphome-node"),
            (s("_googlecast._tcp", "Chromecast-4f3c", &[("id", "4f3c9d2e"), ("md", "Chromecast"), ("fn", "Living Room TV")]), Kind::MediaPlayer, Some("Google Cast"), Some("Chromecast"), "googlecast"),
            (s("_googlecast._tcp", "Chromecast-Audio-1", &[("md", "Chromecast Audio")]), Kind::Speaker, Some("Google"), Some("Chromecast Audio"), "chromecast-audio"),
            (s("_airplay._tcp", "Den", &[("model", "AppleTV6,2"), ("deviceid", "C9:2A:14:08:4F:64")]), Kind::Tv, Some("Apple"), Some("AppleTV6,2"), "apple-tv-airplay"),
            (s("_raop._tcp", "C92A14084F64@Den", &[("am", "AppleTV3,1")]), Kind::Tv, Some("Apple"), Some("AppleTV3,1"), "apple-tv-raop"),
            (s("_sonos._tcp", "Sonos-7828CA831A30@Bedroom Speaker", &[("variant", "2"), ("hhid", "Sonos_abc")]), Kind::Speaker, Some("Sonos"), None, "sonos-speaker"),
            (s("_hue._tcp", "Philips Hue - 3A5F12", &[("bridgeid", "001788fffe3a5f12"), ("modelid", "BSB002")]), Kind::Bridge, Some("Philips Hue"), Some("BSB002"), "hue-bridge"),
            (s("_wled._tcp", "wled-desk", &[("mac", "a4cf12d0e1f2")]), Kind::Light, Some("WLED"), Some("WLED LED controller"), "wled"),
            (s("_ipp._tcp", "Brother HL-L2350DW", &[("ty", "Brother HL-L2350DW series"), ("rp", "ipp/print")]), Kind::Printer, None, Some("Brother HL-L2350DW series"), "ipp-printer"),
            (s("_miio._udp", "roborock-vacuum-s5_miio260426251", &[]), Kind::Vacuum, Some("Roborock"), Some("roborock-vacuum-s5"), "roborock-vacuum"),
            (s("_ewelink._tcp", "eWeLink_1000abcdef", &[("id", "1000abcdef"), ("type", "plug"), ("encrypt", "true")]), Kind::Plug, Some("Sonoff (eWeLink)"), None, "ewelink-plug"),
            (s("_axis-video._tcp", "DoorBird", &[("macaddress", "1CCAE3001122")]), Kind::Doorbell, Some("DoorBird"), None, "axis-doorbird"),
            (s("_matterc._udp", "DD3A1B2C3D4E5F60", &[("D", "3840"), ("VP", "65521+32769"), ("DN", "Matter Plug")]), Kind::Other, Some("Matter"), Some("Matter Plug"), "matter-commissionable"),
            (s("_home-assistant._tcp", "Home", &[("uuid", "0123456789abcdef0123456789abcdef"), ("version", "2026.11.1")]), Kind::Hub, Some("Home Assistant"), Some("2026.11.1"), "home-assistant"),
            (s("_workstation._tcp", "pi-foo-01 [b8:27:eb:3a:e2:c8]", &[]), Kind::Computer, None, None, "linux-workstation"),
            (s("_arduino._tcp", "Garage Door Opener", &[("board", "ESP8266_WEMOS_D1MINI"), ("auth_upload", "yes")]), Kind::Other, Some("Arduino OTA (ESP8266/ESP32)"), Some("ESP8266_WEMOS_D1MINI"), "arduino-ota"),
            (s("_http._tcp", "awair-elem-1a2b3c", &[("vendor", "awair")]), Kind::Sensor, Some("Awair"), None, "http-awair"),
            (s("_http._tcp", "mystery box", &[]), Kind::Unknown, None, None, "http-service"),
            (s("_unheard-of._tcp", "thing", &[]), Kind::Unknown, None, None, "none"),
        ];
        for (sighting, kind, vendor, model, rule) in cases {
            let r = fp.recognise([&sighting]);
            assert_eq!((r.kind, r.vendor.as_deref(), r.model.as_deref(), r.rule.as_str()), (kind, vendor, model, rule), "{sighting:?}");
        }
    }

    #[test]
    fn strongest_rule_over_all_services_wins() {
        let fp = Fingerprints::builtin();
        let http = s("_http._tcp", "shellyplus1-c4dd57877294", &[("gen", "2")]);
        let shelly = s("_shelly._tcp", "shellyplus1-c4dd57877294", &[("gen", "2")]);
        let r = fp.recognise([&http, &shelly]);
        assert_eq!(r.rule, "shelly-gen2");
        assert!(r.reason.contains("service _shelly._tcp"), "{}", r.reason);
    }

    #[test]
    fn bad_tables_are_clear_errors() {
        let no_kind = "[[rule]]\nid='x'\nservice='_a._tcp'\nstrength=1\n[homekit_categories]\n";
        assert!(matches!(Fingerprints::parse(no_kind), Err(RuleTableError::NoKind(id)) if id == "x"));
        let bad_glob = "[[rule]]\nid='y'\nservice='_a._tcp'\nname='[oops'\nkind='light'\nstrength=1\n[homekit_categories]\n";
        assert!(Fingerprints::parse(bad_glob).unwrap_err().to_string().contains("rule `y`"));
    }

    #[test]
    fn display_names() {
        assert_eq!(display_name(&s("_sonos._tcp", "Sonos-7828CA831A30@Bedroom Speaker", &[])), "Bedroom Speaker");
        assert_eq!(display_name(&s("_workstation._tcp", "pi-foo-01 [b8:27:eb:3a:e2:c8]", &[])), "pi-foo-01");
        assert_eq!(display_name(&s("_googlecast._tcp", "Chromecast-4f3c", &[("fn", "Living Room TV")])), "Living Room TV");
        assert_eq!(display_name(&s("_hap._tcp", "Eve Energy 5A3C", &[])), "Eve Energy 5A3C");
        assert_eq!(display_name(&s("_miio._udp", "roborock-vacuum-s5_miio260426251", &[])), "roborock-vacuum-s5");
    }
}
