//! `hearth demo --mqtt`: five devices that talk to the running hub's broker the way real firmware
//! does (topics, payloads, retained birth messages and Last Wills from
//! `shared/reference/devices.md`): a Tasmota plug, a Shelly Plus Plug S (Gen2), a Zigbee2MQTT
//! bridge with a door sensor, an ESPHome climate node announcing itself to Home Assistant, and a
//! Frigate camera publishing JPEG snapshots. Each is added to the hub with its own credential and
//! a manifest that fits its firmware; the Tasmota plug answers `Power` commands and the Zigbee2MQTT
//! bridge its lamp's `/set`, as the firmware does, so operating them from Hearth shows their state.

use crate::api::types::{Direction, RuleChoice, TopicRuleRequest};
use crate::client::Client;
use anyhow::{Context, Result};
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS};
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A JPEG made by Chromium's encoder (96×64): what a camera's snapshot topic carries.
const SNAPSHOT: &[u8] = include_bytes!("snapshot.jpg");

struct Firmware {
    name: &'static str,
    client_id: &'static str,
    publish: &'static [&'static str],
    subscribe: &'static [&'static str],
    /// Last Will: topic and payload, retained.
    will: (&'static str, &'static str),
    /// Sent once after connecting, retained (birth, discovery).
    birth: fn() -> Vec<(String, Vec<u8>)>,
    /// Telemetry, every `every`; `n` counts the rounds.
    telemetry: fn(n: u64) -> Vec<(String, Vec<u8>)>,
    every: Duration,
}

fn text(topic: &str, payload: impl Into<String>) -> (String, Vec<u8>) {
    (topic.to_owned(), payload.into().into_bytes())
}

fn json(topic: &str, value: serde_json::Value) -> (String, Vec<u8>) {
    (topic.to_owned(), value.to_string().into_bytes())
}

fn now_iso() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

const HOME: &[Firmware] = &[
    Firmware {
        name: "Kitchen plug (Tasmota)",
        client_id: "DVES_A1B2C3",
        publish: &["tele/tasmota_A1B2C3/#", "stat/tasmota_A1B2C3/#", "tasmota/discovery/#"],
        subscribe: &["cmnd/tasmota_A1B2C3/#"],
        will: ("tele/tasmota_A1B2C3/LWT", "Offline"),
        birth: || {
            vec![
                text("tele/tasmota_A1B2C3/LWT", "Online"),
                json(
                    "tasmota/discovery/DC4F22A1B2C3/config",
                    serde_json::json!({"ip": "10.77.0.150", "dn": "Kitchen plug", "fn": ["Kitchen plug"], "hn": "tasmota-A1B2C3-0451",
                        "mac": "DC4F22A1B2C3", "md": "Sonoff S31", "t": "tasmota_A1B2C3", "ft": "%prefix%/%topic%/", "tp": ["cmnd", "stat", "tele"],
                        "rl": [1, 0, 0, 0, 0, 0, 0, 0], "sw": "13.2.0"}),
                ),
                // Tasmota announces its sensors beside its config (the energy monitor's readings).
                json(
                    "tasmota/discovery/DC4F22A1B2C3/sensors",
                    serde_json::json!({"sn": {"Time": now_iso(), "ENERGY": {"TotalStartTime": "2026-01-04T18:00:00", "Total": 12.5, "Yesterday": 0.412,
                        "Today": 0.118, "Power": 38, "ApparentPower": 45, "ReactivePower": 24, "Factor": 0.85, "Voltage": 231, "Current": 0.196}}, "ver": 1}),
                ),
            ]
        },
        telemetry: |n| {
            let total = 12.5 + n as f64 * 0.002;
            vec![
                json(
                    "tele/tasmota_A1B2C3/STATE",
                    serde_json::json!({"Time": now_iso(), "Uptime": format!("0T00:{:02}:{:02}", (n / 6) % 60, (n * 10) % 60), "UptimeSec": n * 10,
                        "POWER": "ON", "Wifi": {"AP": 1, "SSId": "HomeNet", "BSSId": "30:B5:C2:11:22:33", "Channel": 6, "RSSI": 78, "Signal": -61}}),
                ),
                json(
                    "tele/tasmota_A1B2C3/SENSOR",
                    serde_json::json!({"Time": now_iso(), "ENERGY": {"TotalStartTime": "2026-01-04T18:00:00", "Total": total, "Yesterday": 0.412,
                        "Today": 0.118, "Power": 38 + (n % 7), "ApparentPower": 45, "ReactivePower": 24, "Factor": 0.85, "Voltage": 231, "Current": 0.196}}),
                ),
            ]
        },
        every: Duration::from_secs(10),
    },
    Firmware {
        name: "Desk lamp plug (Shelly Plus Plug S)",
        client_id: "shellyplusplugs-c4dd57877294",
        publish: &["shellyplusplugs-c4dd57877294/#"],
        subscribe: &["shellyplusplugs-c4dd57877294/rpc"],
        will: ("shellyplusplugs-c4dd57877294/online", "false"),
        birth: || vec![text("shellyplusplugs-c4dd57877294/online", "true")],
        telemetry: |n| {
            vec![json(
                "shellyplusplugs-c4dd57877294/status/switch:0",
                serde_json::json!({"id": 0, "source": "timer", "output": true, "apower": 47.11 + (n % 5) as f64, "voltage": 232.0, "current": 0.21,
                    "pf": 0.93, "aenergy": {"total": 5.125 + n as f64 * 0.01, "by_minute": [783.2, 781.9, 784.0], "minute_ts": 1_764_400_000 + n * 15},
                    "temperature": {"tC": 25.3, "tF": 77.5}}),
            )]
        },
        every: Duration::from_secs(15),
    },
    Firmware {
        name: "Zigbee2MQTT bridge",
        client_id: "zigbee2mqtt_5f3a",
        publish: &["zigbee2mqtt/#"],
        subscribe: &["zigbee2mqtt/+/set", "zigbee2mqtt/bridge/request/#"],
        will: ("zigbee2mqtt/bridge/state", r#"{"state":"offline"}"#),
        birth: || {
            vec![
                json("zigbee2mqtt/bridge/state", serde_json::json!({"state": "online"})),
                json(
                    "zigbee2mqtt/bridge/devices",
                    serde_json::json!([
                        {"ieee_address": "0x00124b0022a1b2c3", "type": "Coordinator", "network_address": 0},
                        {"ieee_address": "0x00158d0001a2b3c4", "type": "EndDevice", "network_address": 28_301, "friendly_name": "front_door",
                         "power_source": "Battery", "model_id": "lumi.sensor_magnet.aq2",
                         "definition": {"model": "MCCGQ11LM", "vendor": "Aqara", "description": "Door and window sensor",
                            "exposes": [{"type": "binary", "name": "contact", "property": "contact", "access": 1},
                                        {"type": "numeric", "name": "battery", "property": "battery", "unit": "%", "access": 1},
                                        {"type": "numeric", "name": "linkquality", "property": "linkquality", "unit": "lqi", "access": 1}]}},
                        {"ieee_address": "0x00178801086c3f2e", "type": "Router", "network_address": 4_511, "friendly_name": "living_room_lamp",
                         "power_source": "Mains (single phase)", "model_id": "LCT015",
                         "definition": {"model": "9290012573A", "vendor": "Philips", "description": "Hue white and color ambiance E26/E27",
                            "exposes": [{"type": "light", "features": [
                                            {"type": "binary", "name": "state", "property": "state", "access": 7, "value_on": "ON", "value_off": "OFF"},
                                            {"type": "numeric", "name": "brightness", "property": "brightness", "access": 7, "value_min": 0, "value_max": 254}]},
                                        {"type": "numeric", "name": "linkquality", "property": "linkquality", "unit": "lqi", "access": 1}]}}
                    ]),
                ),
            ]
        },
        telemetry: |n| {
            vec![json(
                "zigbee2mqtt/front_door",
                serde_json::json!({"battery": 100, "contact": n % 4 != 1, "device_temperature": 26, "linkquality": 153,
                    "power_outage_count": 6889, "voltage": 3035}),
            )]
        },
        every: Duration::from_secs(12),
    },
    Firmware {
        name: "Living room climate (ESPHome)",
        client_id: "living-room-climate",
        publish: &["living-room-climate/#", "homeassistant/sensor/living-room-climate/+/config"],
        subscribe: &["living-room-climate/+/+/command", "homeassistant/status"],
        will: ("living-room-climate/status", "offline"),
        birth: || {
            let sensor = |object: &str, class: &str, unit: &str| {
                json(
                    &format!("homeassistant/sensor/living-room-climate/{object}/config"),
                    serde_json::json!({"name": object, "uniq_id": format!("living-room-climate-{object}"), "dev_cla": class, "unit_of_meas": unit,
                        "stat_t": format!("living-room-climate/sensor/{object}/state"), "avty_t": "living-room-climate/status",
                        "dev": {"ids": "246f28a1b2c3", "name": "living-room-climate", "mf": "Espressif", "mdl": "esp32dev", "sw": "2024.6.1"}}),
                )
            };
            vec![
                text("living-room-climate/status", "online"),
                sensor("temperature", "temperature", "°C"),
                sensor("humidity", "humidity", "%"),
            ]
        },
        telemetry: |n| {
            vec![
                text("living-room-climate/sensor/temperature/state", format!("{:.1}", 21.0 + (n % 10) as f64 / 10.0)),
                text("living-room-climate/sensor/humidity/state", format!("{}", 44 + n % 3)),
            ]
        },
        every: Duration::from_secs(20),
    },
    Firmware {
        name: "Front door camera (Frigate)",
        client_id: "frigate",
        publish: &["frigate/#"],
        subscribe: &[],
        will: ("frigate/available", "offline"),
        birth: || vec![text("frigate/available", "online")],
        telemetry: |_| vec![("frigate/front/person/snapshot".to_owned(), SNAPSHOT.to_vec())],
        every: Duration::from_secs(30),
    },
];

/// Adds the five devices to the hub of `data_dir` and runs them until `cancel`.
pub async fn run(data_dir: &Path, cancel: CancellationToken) -> Result<()> {
    let hub = Client::for_data_dir(data_dir).context("the MQTT demo talks to a running hub: start `hearth serve` first")?;
    let mut tasks = Vec::new();
    for firmware in HOME {
        let added = hub.add_device(firmware.name).await?;
        let id = added.device.id.to_string();
        for (direction, patterns) in [(Direction::Publish, firmware.publish), (Direction::Subscribe, firmware.subscribe)] {
            for pattern in patterns {
                hub.set_topic_rule(&id, &TopicRuleRequest { direction, pattern: (*pattern).to_owned(), rule: RuleChoice::Allow }).await?;
            }
        }
        let address = added.credential.broker.split(", ").next().unwrap_or_default().to_owned();
        let (host, port) = address.rsplit_once(':').context("the hub reported no broker address")?;
        let port: u16 = port.parse().context("the hub reported a broker address without a port")?;
        let mut options = MqttOptions::new(firmware.client_id, host.trim_matches(['[', ']']), port);
        options.set_credentials(added.credential.username, added.credential.password);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_max_packet_size(1 << 20, 1 << 20);
        options.set_last_will(LastWill::new(firmware.will.0, firmware.will.1, QoS::AtLeastOnce, true));
        println!("{} is {} on the broker at {address}", firmware.name, added.device.id);
        tasks.push(tokio::spawn(device(firmware, options, cancel.clone())));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

async fn device(firmware: &'static Firmware, options: MqttOptions, cancel: CancellationToken) -> Result<()> {
    let (client, events) = AsyncClient::new(options, 64);
    // The event loop runs in its own task: dropping a pending `poll` (as a `select!` would
    // whenever the telemetry timer fires) can abandon a connection halfway.
    let pump = tokio::spawn(pump(firmware.name, events, client.clone()));
    for topic in firmware.subscribe {
        client.subscribe(*topic, QoS::AtLeastOnce).await?;
    }
    for (topic, payload) in (firmware.birth)() {
        client.publish(topic, QoS::AtLeastOnce, true, payload).await?;
    }
    let mut tick = tokio::time::interval(firmware.every);
    let mut n = 0u64;
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = tick.tick() => {
                for (topic, payload) in (firmware.telemetry)(n) {
                    client.publish(topic, QoS::AtMostOnce, false, payload).await?;
                }
                n += 1;
            }
        }
    }
    // A clean goodbye: the Will stays unsent, so publish the offline state as the firmware would.
    let _ = client.publish(firmware.will.0, QoS::AtLeastOnce, true, firmware.will.1).await;
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(1), pump).await;
    Ok(())
}

/// Drives the connection (rumqttc reconnects by itself on the next poll) and answers commands.
async fn pump(name: &'static str, mut events: rumqttc::EventLoop, client: AsyncClient) {
    loop {
        match events.poll().await {
            // Tasmota answers a Power command with its new state, as the firmware does.
            Ok(Event::Incoming(Packet::Publish(p))) if p.topic.eq_ignore_ascii_case("cmnd/tasmota_A1B2C3/Power") => {
                let state = if p.payload.eq_ignore_ascii_case(b"OFF") { "OFF" } else { "ON" };
                // try_publish: awaiting here would wait on the very loop that must send it.
                let _ = client.try_publish("stat/tasmota_A1B2C3/RESULT", QoS::AtMostOnce, false, format!(r#"{{"POWER":"{state}"}}"#));
                let _ = client.try_publish("stat/tasmota_A1B2C3/POWER", QoS::AtMostOnce, false, state);
            }
            // Zigbee2MQTT answers a lamp's `/set` with the lamp's new state on its own topic.
            Ok(Event::Incoming(Packet::Publish(p))) if p.topic == "zigbee2mqtt/living_room_lamp/set" => {
                let asked: serde_json::Value = serde_json::from_slice(&p.payload).unwrap_or_default();
                let state = if asked["state"].as_str().is_some_and(|s| s.eq_ignore_ascii_case("OFF")) { "OFF" } else { "ON" };
                let brightness = asked["brightness"].as_u64().unwrap_or(254).min(254);
                let answer = serde_json::json!({"state": state, "brightness": brightness, "linkquality": 120});
                let _ = client.try_publish("zigbee2mqtt/living_room_lamp", QoS::AtMostOnce, false, answer.to_string());
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("{name}: {e}; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}
