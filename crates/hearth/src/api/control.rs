//! Operating devices: the switches, lights, covers, locks and buttons their discovery messages
//! describe (Home Assistant, Tasmota, Zigbee2MQTT). The hub publishes on the entity's command
//! topic as itself, after `commands.rs` checked the member's `control` right on the device; the
//! audit records who did it. The state shown is what the device last reported on its state
//! topic ([`Reported`]), never what was asked for.

use super::{now, parse_id};
use crate::api::types::{ApiError, ErrorCode};
use crate::family::Caller;
use crate::hub::Hub;
use hearth_core::discovery::{Entity, Source};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use ts_rs::TS;

/// Commands one member sends a minute at most.
const CONTROLS_PER_MINUTE: u32 = 30;
/// State topics watched at most (a home's entities are far fewer; the store bounds them too).
const MAX_WATCHED: usize = 10_000;
/// Characters of a reported state kept: enough for "ON", a JSON state object's start.
const STATE_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ControlAction {
    On,
    Off,
    Open,
    Close,
    Stop,
    Lock,
    Unlock,
    Press,
}

/// One thing on a device a person can operate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ControlView {
    /// The entity's key (its discovery topic), for `control`.
    pub entity: String,
    pub name: String,
    /// `switch`, `light`, `cover`, `lock`, `button`.
    pub component: String,
    pub actions: Vec<ControlAction>,
    /// Locks: the request must say `confirm: true`.
    pub needs_confirmation: bool,
    /// Brightness (0–255) can be set with `on` (Zigbee2MQTT lights).
    pub brightness: bool,
    /// What the device last reported on its state topic, as it said it; none: nothing yet.
    pub state: Option<String>,
    #[ts(type = "number | null")]
    pub reported_at: Option<i64>,
    /// The device behind a bridge it belongs to ([`hearth_core::self_described::ChildDevice::key`]).
    pub child: Option<String>,
}

/// The last payload on each watched state topic.
#[derive(Debug, Default)]
pub struct Reported {
    last: Mutex<HashMap<String, Option<(String, i64)>>>,
}

impl Reported {
    /// Watches these state topics (the entities' of every device), keeping what was reported.
    pub fn watch(&self, topics: impl IntoIterator<Item = String>) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        for topic in topics {
            if last.len() >= MAX_WATCHED {
                break;
            }
            last.entry(topic).or_insert(None);
        }
    }

    /// Notes accepted messages (topic, payload, when) whose topic is watched: one lock for a
    /// batch of the recorder's.
    pub fn note<'a>(&self, published: impl IntoIterator<Item = (&'a str, &'a [u8], i64)>) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        for (topic, payload, at) in published {
            if let Some(slot) = last.get_mut(topic) {
                let text = String::from_utf8_lossy(payload);
                *slot = Some((hearth_core::text::clip(&text, STATE_CHARS).into_owned(), at));
            }
        }
    }

    fn get(&self, topic: &str) -> Option<(String, i64)> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).get(topic).cloned().flatten()
    }
}

impl Hub {
    /// What can be operated on the device. Its reported state is what it sends: on another
    /// member's personal device, shown only to who may review it.
    pub fn controls(&self, id: &str, caller: &Caller) -> Result<Vec<ControlView>, ApiError> {
        let id = parse_id(id)?;
        let described = self.store().described(&id)?;
        let children = children_of(&described);
        let mut views: Vec<ControlView> =
            described.entities.iter().filter_map(|(source, entity, _)| self.control_view(*source, entity, &described, &children)).collect();
        let someone_elses = self.household().personal_owner(&id).is_some_and(|m| m != caller.member);
        if someone_elses && !self.may(caller, hearth_core::family::Right::Review, &id) {
            for view in &mut views {
                view.state = None;
                view.reported_at = None;
            }
        }
        Ok(views)
    }

    /// Operates one entity of the device. Locks need `confirm`.
    pub fn control(
        &self,
        id: &str,
        entity: &str,
        action: ControlAction,
        brightness: Option<u8>,
        confirm: bool,
        caller: &Caller,
    ) -> Result<ControlView, ApiError> {
        let device = parse_id(id)?;
        let described = self.store().described(&device)?;
        let Some((source, found)) = described.entities.iter().find(|(_, e, _)| e.key == entity).map(|(s, e, _)| (*s, e)) else {
            return Err(ApiError::not_found(format!("{device} describes no entity `{}`", super::limits::quoted(entity))));
        };
        let Some(view) = self.control_view(source, found, &described, &children_of(&described)) else {
            return Err(ApiError::bad_request(format!("{} cannot be operated from Hearth (it takes no commands)", found.name)));
        };
        if !view.actions.contains(&action) {
            return Err(ApiError::bad_request(format!("{} cannot {}", found.name, words(action))));
        }
        if view.needs_confirmation && !confirm {
            return Err(ApiError::new(ErrorCode::BadRequest, format!("to {} {}, confirm it (`confirm: true`)", words(action), found.name)));
        }
        let Some(topic) = found.command_topic.as_deref() else { return Err(ApiError::bad_request("no command topic")) };
        // A person presses a few buttons a minute; a loop must neither flood the device nor the
        // audit.
        if !self.audit_throttle().count(&format!("control:{}", caller.member), CONTROLS_PER_MINUTE) {
            return Err(ApiError::new(ErrorCode::TooManyRequests, "too many commands in a minute; wait a moment"));
        }
        let payload = payload(source, &found.component, action, brightness.filter(|_| view.brightness));
        let broker =
            self.broker().ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "the broker is off, so devices cannot be operated"))?;
        // On record before it is sent: a command whose answer is lost (a slow broker) must still
        // say who sent it; a failure is recorded beside it.
        let subject = format!("{} {} {}", device.as_str(), view.name, words(action));
        self.store().record_audit(now(), &caller.actor(), caller.origin, "control", &subject, false)?;
        if let Err(e) = broker.publish(topic, payload.into_bytes(), 1) {
            self.store().record_audit(now(), &caller.actor(), caller.origin, "control_failed", &subject, false)?;
            return Err(ApiError::new(ErrorCode::Unavailable, format!("the command may not have been sent: {e}")));
        }
        tracing::info!(%device, entity, action = words(action), member = %caller.member, "a device was operated");
        Ok(view)
    }

    /// `children`: the keys of the devices behind a bridge it speaks for ([`children_of`]).
    fn control_view(
        &self,
        source: Source,
        entity: &Entity,
        described: &hearth_store::Described,
        children: &[String],
    ) -> Option<ControlView> {
        entity.command_topic.as_ref()?;
        let actions = match entity.component.as_str() {
            "switch" | "light" | "fan" => vec![ControlAction::On, ControlAction::Off],
            "cover" => vec![ControlAction::Open, ControlAction::Close, ControlAction::Stop],
            "lock" => vec![ControlAction::Lock, ControlAction::Unlock],
            "button" => vec![ControlAction::Press],
            _ => return None,
        };
        let reported = entity.state_topic.as_deref().and_then(|t| self.reported().get(t));
        Some(ControlView {
            entity: entity.key.clone(),
            name: entity_name(entity, described),
            component: entity.component.clone(),
            needs_confirmation: entity.component == "lock",
            brightness: entity.component == "light" && source == Source::Zigbee2mqtt,
            state: reported.as_ref().and_then(|(s, _)| reported_words(s)),
            reported_at: reported.map(|(_, at)| at),
            actions,
            // Only a bridge's child: a Tasmota's relay names the plug itself (its MAC), and its
            // state is the plug's own, for its summary.
            child: entity.described.clone().filter(|key| children.contains(key)),
        })
    }
}

/// The keys of the devices a bridge speaks for, as the list shows them (a device describing only
/// itself has none).
fn children_of(described: &hearth_store::Described) -> Vec<String> {
    let entities: Vec<(Source, Entity)> = described.entities.iter().map(|(s, e, _)| (*s, e.clone())).collect();
    hearth_core::self_described::understand(&described.devices, &entities).children.into_iter().map(|c| c.key).collect()
}

/// What people call the entity: a bridge's child's name with its part ("living_room_lamp light"),
/// or the entity's own name.
fn entity_name(entity: &Entity, described: &hearth_store::Described) -> String {
    let device =
        entity.described.as_deref().and_then(|key| described.devices.iter().find(|(_, d)| d.key == key)).map(|(_, d)| d.name.as_str());
    match device {
        Some(device) if !entity.name.contains(device) => format!("{device} {}", entity.name),
        _ => entity.name.clone(),
    }
}

/// The command's payload in the convention's own words: Home Assistant's and Tasmota's defaults
/// (`ON`, `OPEN`, `LOCK`, `PRESS`), Zigbee2MQTT's JSON (`{"state":"ON","brightness":128}`).
fn payload(source: Source, component: &str, action: ControlAction, brightness: Option<u8>) -> String {
    let word = match action {
        ControlAction::On => "ON",
        ControlAction::Off => "OFF",
        ControlAction::Open => "OPEN",
        ControlAction::Close => "CLOSE",
        ControlAction::Stop => "STOP",
        ControlAction::Lock => "LOCK",
        ControlAction::Unlock => "UNLOCK",
        ControlAction::Press => "PRESS",
    };
    if source != Source::Zigbee2mqtt || component == "button" {
        return word.to_owned();
    }
    let mut object = serde_json::Map::new();
    object.insert("state".into(), word.into());
    if let Some(b) = brightness {
        object.insert("brightness".into(), b.into());
    }
    serde_json::Value::Object(object).to_string()
}

/// A reported state as people read it: `ON`, or from a JSON state (Zigbee2MQTT's whole device
/// state) its `state` and `brightness`, or `position` for a cover.
/// Only what reads as a state: a short word (`ON`, `LOCKED`, `open`) or the state keys of a JSON
/// object; anything else a device sent on the topic (readings, a tracker's position) is not shown
/// here: it is what it sends, for the review.
fn reported_words(reported: &str) -> Option<String> {
    let word = reported.trim();
    if word.len() <= 16 && !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some(word.to_owned());
    }
    let Ok(serde_json::Value::Object(state)) = serde_json::from_str::<serde_json::Value>(reported) else { return None };
    let mut words: Vec<String> = Vec::new();
    for key in ["state", "POWER"] {
        if let Some(v) = state.get(key).and_then(serde_json::Value::as_str) {
            words.push(v.to_owned());
        }
    }
    if let Some(b) = state.get("brightness").and_then(serde_json::Value::as_u64) {
        words.push(format!("brightness {b}"));
    }
    if let Some(p) = state.get("position").and_then(serde_json::Value::as_u64) {
        words.push(format!("{p}% open"));
    }
    (!words.is_empty()).then(|| words.join(" · "))
}

fn words(action: ControlAction) -> &'static str {
    match action {
        ControlAction::On => "turn on",
        ControlAction::Off => "turn off",
        ControlAction::Open => "open",
        ControlAction::Close => "close",
        ControlAction::Stop => "stop",
        ControlAction::Lock => "lock",
        ControlAction::Unlock => "unlock",
        ControlAction::Press => "press",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_follow_each_convention() {
        assert_eq!(payload(Source::HomeAssistant, "switch", ControlAction::On, None), "ON");
        assert_eq!(payload(Source::Tasmota, "light", ControlAction::Off, Some(9)), "OFF");
        assert_eq!(payload(Source::HomeAssistant, "lock", ControlAction::Unlock, None), "UNLOCK");
        assert_eq!(payload(Source::Zigbee2mqtt, "light", ControlAction::On, Some(128)), r#"{"brightness":128,"state":"ON"}"#);
        assert_eq!(payload(Source::Zigbee2mqtt, "cover", ControlAction::Stop, None), r#"{"state":"STOP"}"#);
    }

    #[test]
    fn reported_states_read_in_words() {
        assert_eq!(reported_words("ON").as_deref(), Some("ON"));
        assert_eq!(reported_words(r#"{"state":"ON","brightness":128,"linkquality":153}"#).as_deref(), Some("ON · brightness 128"));
        assert_eq!(reported_words(r#"{"POWER":"OFF"}"#).as_deref(), Some("OFF"));
        assert_eq!(reported_words(r#"{"battery":100,"lat":52.1}"#), None, "readings are what it sends, not a state");
        assert_eq!(reported_words("52.1,13.4 home since 08:00"), None);
    }

    /// A Tasmota's relay names the plug's own MAC: it is the plug's control, shown on its
    /// summary; a bridge's lamp is its child's.
    #[test]
    fn only_a_bridge_s_devices_are_children() {
        let filed = |topic: &str, payload: &str| {
            let d = hearth_core::discovery::parse(topic, payload.as_bytes()).unwrap().unwrap();
            let source = d.source.unwrap();
            hearth_store::Described {
                devices: d.devices.into_iter().map(|x| (source, x)).collect(),
                entities: d.entities.into_iter().map(|x| (source, x, 0)).collect(),
            }
        };
        let plug = filed(
            "tasmota/discovery/DC4F22A1B2C3/config",
            r#"{"dn":"Kitchen plug","mac":"DC4F22A1B2C3","t":"tasmota_A1B2C3","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"rl":[1]}"#,
        );
        assert_eq!(plug.entities[0].1.described.as_deref(), Some("DC4F22A1B2C3"));
        assert_eq!(children_of(&plug), Vec::<String>::new());
        let bridge = filed(
            "zigbee2mqtt/bridge/devices",
            r#"[{"ieee_address":"0x3","type":"Router","friendly_name":"lamp","definition":{"exposes":[{"type":"binary","property":"state","access":7}]}}]"#,
        );
        assert_eq!(children_of(&bridge), ["0x3"]);
    }

    /// Through `Hub::controls`, as a device's page asks: a Tasmota plug's relay is the plug's own
    /// control (no child, so its state is on the plug's summary), a bridge's lamp its child's.
    #[test]
    fn a_plug_s_relay_is_its_own_and_a_bridge_s_lamp_is_its_child_s() {
        let (hub, _dir) = crate::testing::hub();
        let owner = Caller::local_owner("cli");
        let add = |name: &str| hub.add_device(name, &owner).unwrap().device.id.to_string();
        let (plug, bridge) = (add("Kitchen plug"), add("Bridge"));
        crate::testing::describe_and_send(
            &hub,
            &plug,
            &[(
                "tasmota/discovery/DC4F22A1B2C3/config",
                r#"{"dn":"Kitchen plug","mac":"DC4F22A1B2C3","t":"tasmota_A1B2C3","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"rl":[1]}"#,
            )],
            &[],
        );
        crate::testing::describe_and_send(
            &hub,
            &bridge,
            &[(
                "zigbee2mqtt/bridge/devices",
                r#"[{"ieee_address":"0x3","type":"Router","friendly_name":"lamp","definition":{"exposes":[{"type":"light","features":[{"type":"binary","property":"state","access":7}]}]}}]"#,
            )],
            &[],
        );
        let relay = hub.controls(&plug, &owner).unwrap();
        assert_eq!(relay.iter().map(|c| (c.component.as_str(), c.child.as_deref())).collect::<Vec<_>>(), [("switch", None)]);
        let lamp = hub.controls(&bridge, &owner).unwrap();
        assert_eq!(lamp.iter().map(|c| c.child.as_deref()).collect::<Vec<_>>(), [Some("0x3")]);
    }

    #[test]
    fn only_watched_topics_are_kept_and_states_are_cut_short() {
        let r = Reported::default();
        r.watch(["plug/state".to_owned()]);
        r.note([("plug/state", &b"ON"[..], 5), ("other/topic", &b"secret"[..], 6)]);
        assert_eq!(r.get("plug/state"), Some(("ON".to_owned(), 5)));
        assert_eq!(r.get("other/topic"), None);
        r.note([("plug/state", "x".repeat(10_000).as_bytes(), 7)]);
        let kept = r.get("plug/state").unwrap().0;
        assert!(kept.starts_with(&"x".repeat(STATE_CHARS)) && kept.len() < STATE_CHARS + 24, "{kept}");
    }
}
