"""MQTT discovery messages, sent by Debian's mosquitto_pub with payloads shaped like real
firmware's (shared/reference/devices.md): Home Assistant discovery (as ESPHome sends it), Tasmota's
own discovery and the Zigbee2MQTT bridge's device list. What they describe appears under the
device that sent them; a device may describe only itself, never another device's topics or
entities (no entity injection)."""

import json
import subprocess
import time

from mqtt_device import Device, recorded, refused_connections

ESPHOME_TEMPERATURE = {
    "name": "temperature", "uniq_id": "living-room-climate-temperature", "dev_cla": "temperature", "unit_of_meas": "°C",
    "stat_t": "living-room-climate/sensor/temperature/state", "avty_t": "living-room-climate/status",
    "dev": {"ids": "246f28a1b2c3", "name": "living-room-climate", "mf": "Espressif", "mdl": "esp32dev", "sw": "2024.6.1"},
}
CONFIG_TOPIC = "homeassistant/sensor/living-room-climate/temperature/config"


def esphome_node(hub):
    return Device(hub, "Climate node", publish=["living-room-climate/#", "homeassistant/+/living-room-climate/+/config"])


def described(device):
    return device.view()["described"]


def wait_for(check, timeout=3.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return check()


def test_home_assistant_discovery_describes_entities_and_an_empty_message_removes_them(hub):
    node = esphome_node(hub)
    home_assistant = Device(hub, "Home Assistant", subscribe=["homeassistant/#"])
    sub = home_assistant.sub("homeassistant/#", 1, qos=1)
    assert node.pub(CONFIG_TOPIC, json.dumps(ESPHOME_TEMPERATURE), qos=1, extra=["-r"]).returncode == 0
    lines, _, _ = sub.result()
    assert lines == [f"{CONFIG_TOPIC} {json.dumps(ESPHOME_TEMPERATURE)}"], "a device's own discovery reaches Home Assistant"
    groups = wait_for(lambda: described(node))
    assert len(groups) == 1
    group = groups[0]
    assert group["source"] == "home_assistant"
    assert group["device"] == {"key": "246f28a1b2c3", "name": "living-room-climate", "vendor": "Espressif", "model": "esp32dev", "readings_topic": None}
    [entity] = group["entities"]
    assert (entity["component"], entity["name"], entity["unit"], entity["device_class"]) == ("sensor", "temperature", "°C", "temperature")
    assert entity["state_topic"] == "living-room-climate/sensor/temperature/state"
    out = node.hub.cli("device", "topics", node.id).stdout
    assert "described by home_assistant: living-room-climate (246f28a1b2c3, Espressif esp32dev)" in out, out
    # An empty retained message is how a device withdraws an entity.
    assert node.pub(CONFIG_TOPIC, "", qos=1, extra=["-r"]).returncode == 0
    assert wait_for(lambda: described(node) == []), described(node)


def test_tasmota_discovery_describes_the_plug_and_its_relay(hub):
    plug = Device(hub, "Kitchen plug", publish=["tele/tasmota_A1B2C3/#", "stat/tasmota_A1B2C3/#", "tasmota/discovery/DC4F22A1B2C3/#"],
                  subscribe=["cmnd/tasmota_A1B2C3/#"])
    config = {"ip": "10.77.0.150", "dn": "Kitchen plug", "fn": ["Kettle", None, None, None], "hn": "tasmota-A1B2C3-0451",
              "mac": "DC4F22A1B2C3", "md": "Sonoff S31", "t": "tasmota_A1B2C3", "ft": "%prefix%/%topic%/",
              "tp": ["cmnd", "stat", "tele"], "rl": [1, 0, 0, 0], "sw": "13.2.0"}
    sensors = {"sn": {"Time": "2026-11-29T08:00:00", "ENERGY": {"TotalStartTime": "2026-01-04T18:00:00", "Total": 12.5, "Power": 38}}, "ver": 1}
    assert plug.pub("tasmota/discovery/DC4F22A1B2C3/config", json.dumps(config), qos=1, extra=["-r"]).returncode == 0
    assert plug.pub("tasmota/discovery/DC4F22A1B2C3/sensors", json.dumps(sensors), qos=1, extra=["-r"]).returncode == 0
    groups = wait_for(lambda: [g for g in described(plug) if len(g["entities"]) == 3])
    [group] = groups
    assert group["device"] == {"key": "DC4F22A1B2C3", "name": "Kitchen plug", "vendor": "Tasmota", "model": "Sonoff S31",
                               "readings_topic": "tele/tasmota_A1B2C3/SENSOR"}
    entities = {e["name"]: e for e in group["entities"]}
    assert set(entities) == {"Kettle", "ENERGY Total", "ENERGY Power"}
    assert (entities["Kettle"]["state_topic"], entities["Kettle"]["command_topic"]) == ("stat/tasmota_A1B2C3/POWER", "cmnd/tasmota_A1B2C3/POWER")
    assert (entities["ENERGY Power"]["value_template"], entities["ENERGY Power"]["unit"]) == ("{{ value_json.ENERGY.Power }}", "W")


def test_a_plug_s_power_is_read_live_from_its_telemetry_and_never_once_redacted(hub):
    plug = Device(hub, "Kitchen plug", publish=["tele/tasmota_A1B2C3/#", "stat/tasmota_A1B2C3/#", "tasmota/discovery/DC4F22A1B2C3/#"],
                  subscribe=["cmnd/tasmota_A1B2C3/#"])
    config = {"dn": "Kitchen plug", "mac": "DC4F22A1B2C3", "md": "Sonoff S31", "t": "tasmota_A1B2C3", "ft": "%prefix%/%topic%/",
              "tp": ["cmnd", "stat", "tele"], "rl": [1, 0, 0, 0]}
    sensors = {"sn": {"Time": "2026-11-29T08:00:00", "ENERGY": {"Total": 12.5, "Power": 38, "Voltage": 231}}, "ver": 1}
    assert plug.pub("tasmota/discovery/DC4F22A1B2C3/config", json.dumps(config), qos=1, extra=["-r"]).returncode == 0
    assert plug.pub("tasmota/discovery/DC4F22A1B2C3/sensors", json.dumps(sensors), qos=1, extra=["-r"]).returncode == 0
    wait_for(lambda: [g for g in described(plug) if len(g["entities"]) == 4])

    def readings():
        return {r["name"]: (r["value"], r["unit"]) for r in hub.get(f"/devices/{plug.id}/readings")}

    def report(power):
        payload = {"Time": "2026-11-29T08:00:10", "ENERGY": {"Total": 12.502, "Power": power, "Voltage": 231}}
        assert plug.pub("tele/tasmota_A1B2C3/SENSOR", json.dumps(payload), qos=1).returncode == 0

    assert readings() == {}, "nothing reported yet"
    report(42)
    assert wait_for(lambda: readings().get("Power") == ("42", "W"), timeout=5.0), readings()
    assert readings()["ENERGY Voltage"] == ("231", "V")
    # A 100 KB "power": no reading (and not the last one, which is no longer what it says).
    report("9" * 100_000)
    assert wait_for(lambda: "Power" not in readings(), timeout=5.0), readings()
    # The household redacts the power: not shown, neither what was noted before nor what comes.
    report(43)
    assert wait_for(lambda: readings().get("Power") == ("43", "W"), timeout=5.0), readings()
    hub.cli("privacy", "set", plug.id, "--redact", "energy.power")
    assert "Power" not in readings(), "hidden at once"
    report(44)
    time.sleep(0.5)
    assert "Power" not in readings() and readings()["ENERGY Voltage"] == ("231", "V"), readings()
    # A blocked device shows nothing at all.
    hub.cli("device", "block", plug.id)
    assert readings() == {}


def test_the_zigbee2mqtt_device_list_shows_the_bridges_child_devices(hub):
    bridge = Device(hub, "Zigbee2MQTT bridge", publish=["zigbee2mqtt/#"], subscribe=["zigbee2mqtt/+/set", "zigbee2mqtt/bridge/request/#"])
    devices = [
        {"ieee_address": "0x00124b0022a1b2c3", "type": "Coordinator", "network_address": 0},
        {"ieee_address": "0x00158d0001a2b3c4", "type": "EndDevice", "network_address": 28301, "friendly_name": "front_door",
         "power_source": "Battery", "model_id": "lumi.sensor_magnet.aq2",
         "definition": {"model": "MCCGQ11LM", "vendor": "Aqara", "description": "Door and window sensor",
                        "exposes": [{"type": "binary", "name": "contact", "property": "contact", "access": 1},
                                    {"type": "numeric", "name": "battery", "property": "battery", "unit": "%", "access": 1}]}},
        {"ieee_address": "0x0017880104a5b6c7", "type": "Router", "network_address": 4120, "friendly_name": "hall_lamp",
         "definition": {"model": "9290012573A", "vendor": "Philips",
                        "exposes": [{"type": "light", "features": [{"type": "binary", "property": "state", "access": 7}]}]}},
    ]
    assert bridge.pub("zigbee2mqtt/bridge/devices", json.dumps(devices), qos=1, extra=["-r"]).returncode == 0
    groups = wait_for(lambda: [g for g in described(bridge) if g["device"]] if len(described(bridge)) == 2 else [])
    children = {g["device"]["name"]: g for g in groups}
    assert set(children) == {"front_door", "hall_lamp"}, "the coordinator is the bridge itself, not a child"
    assert (children["front_door"]["device"]["vendor"], children["front_door"]["device"]["model"]) == ("Aqara", "MCCGQ11LM")
    assert [(e["name"], e["unit"]) for e in children["front_door"]["entities"]] == [("battery", "%"), ("contact", None)]
    [lamp] = children["hall_lamp"]["entities"]
    assert lamp["command_topic"] == "zigbee2mqtt/hall_lamp/set"
    # The next list replaces the last: a device that left the network goes.
    assert bridge.pub("zigbee2mqtt/bridge/devices", json.dumps(devices[:2]), qos=1, extra=["-r"]).returncode == 0
    assert wait_for(lambda: [g["device"]["name"] for g in described(bridge)] == ["front_door"]), described(bridge)


def test_a_discovery_message_naming_another_devices_topics_is_refused(hub):
    """The plug may publish discovery messages, but not one whose switch sends its commands to
    the front door's lock."""
    plug = Device(hub, "Plug", publish=["stat/plug1/#", "homeassistant/#"], subscribe=["cmnd/plug1/#"])
    home_assistant = Device(hub, "Home Assistant", subscribe=["homeassistant/#"])
    sub = home_assistant.sub("homeassistant/#", 1, timeout=3)
    forged = json.dumps({"name": "Lamp", "stat_t": "stat/plug1/POWER", "cmd_t": "cmnd/frontdoor/LOCK", "uniq_id": "lamp1"})
    r = plug.pub("homeassistant/switch/lamp/config", forged, qos=1, version="5", extra=["-d"])
    assert "RC:135" in r.stdout, r.stdout  # PUBACK: Not authorized
    lines, _, rc = sub.result()
    assert lines == [] and rc != 0, "no entity may be injected"
    assert recorded(plug, "homeassistant/switch/lamp/config")[0]["decision"] == {"decision": "drop", "detail": "foreign_topic"}
    assert described(plug) == []
    # Its own switch is fine.
    own = json.dumps({"name": "Plug", "stat_t": "stat/plug1/POWER", "cmd_t": "cmnd/plug1/POWER", "uniq_id": "plug1-relay"})
    assert "RC:0" in plug.pub("homeassistant/switch/plug1/config", own, qos=1, version="5", extra=["-d"]).stdout
    assert wait_for(lambda: described(plug))[0]["entities"][0]["unique_id"] == "plug1-relay"


def test_a_device_cannot_replace_another_devices_entity(hub):
    node = esphome_node(hub)
    assert node.pub(CONFIG_TOPIC, json.dumps(ESPHOME_TEMPERATURE), qos=1, extra=["-r"]).returncode == 0
    assert wait_for(lambda: described(node))
    rogue = Device(hub, "Rogue", publish=["homeassistant/#", "rogue/#"])
    home_assistant = Device(hub, "Home Assistant", subscribe=["homeassistant/#"])
    # Its own state topic, but the climate node's discovery topic: refused, and the retained
    # original is what Home Assistant still gets.
    hijack = dict(ESPHOME_TEMPERATURE, stat_t="rogue/temp", avty_t="rogue/status", dev={"ids": "rogue", "name": "rogue"})
    r = rogue.pub(CONFIG_TOPIC, json.dumps(hijack), qos=1, version="5", extra=["-d"])
    assert "RC:135" in r.stdout, r.stdout
    assert recorded(rogue, CONFIG_TOPIC)[0]["decision"] == {"decision": "drop", "detail": "entity_taken"}
    # Another topic, the same unique_id: refused too.
    r = rogue.pub("homeassistant/sensor/rogue/temperature/config", json.dumps(hijack), qos=1, version="5", extra=["-d"])
    assert "RC:135" in r.stdout, r.stdout
    lines, _, _ = home_assistant.sub(CONFIG_TOPIC, 1, timeout=3).result()
    assert [json.loads(line.split(" ", 1)[1])["stat_t"] for line in lines] == ["living-room-climate/sensor/temperature/state"]
    assert described(rogue) == []


def test_malformed_discovery_is_refused_and_recorded(hub):
    node = esphome_node(hub)
    topic = "homeassistant/sensor/living-room-climate/broken/config"
    r = node.pub(topic, '{"name": "broken", "stat_t": ', qos=1, version="5", extra=["-d"])
    assert "RC:135" in r.stdout, r.stdout
    assert recorded(node, topic)[0]["decision"] == {"decision": "drop", "detail": "malformed_discovery"}


def test_a_will_on_a_discovery_topic_is_refused_at_connect(hub):
    """rmqtt publishes a Will without the publish check, when its device is gone: no Will may be a
    discovery message."""
    plug = Device(hub, "Plug", publish=["stat/plug1/#", "homeassistant/#"], subscribe=["cmnd/plug1/#"])
    forged = json.dumps({"name": "Lamp", "cmd_t": "cmnd/frontdoor/LOCK"})
    r = subprocess.run(["mosquitto_sub", *plug.auth(), "-i", "plug1", "-t", "cmnd/plug1/#", "-C", "1", "-W", "2",
                        "--will-topic", "homeassistant/switch/lamp/config", "--will-payload", forged],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "not authorised" in r.stderr.lower(), r.stderr
    assert refused_connections(plug, "discovery_will")[0]["count"] >= 1
    # Even one describing only the device itself: a Will fires when nothing can check it.
    own = json.dumps({"name": "Plug", "stat_t": "stat/plug1/POWER"})
    r = subprocess.run(["mosquitto_sub", *plug.auth(), "-i", "plug1", "-t", "cmnd/plug1/#", "-C", "1", "-W", "2",
                        "--will-topic", "homeassistant/switch/plug1/config", "--will-payload", own],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "not authorised" in r.stderr.lower(), r.stderr


def test_a_shelly_announced_over_mdns_is_proposed_its_topics_before_it_sends_anything(hub, responders):
    responders.announce("_shelly._tcp", "shellyplusplugs-c4dd57877294", "shellyplusplugs-c4dd57877294",
                        txt={"gen": "2", "app": "PlusPlugS", "ver": "1.4.4"})
    found = hub.wait_for_device("shellyplusplugs-c4dd57877294")
    view = json.loads(hub.cli("device", "topics", found["id"], "--json").stdout)
    [suggestion] = view["suggestions"]
    assert (suggestion["firmware"], suggestion["prefix"], suggestion["evidence"]) == ("Shelly (Gen2)", "shellyplusplugs-c4dd57877294", "mdns")
    assert [(r["direction"], r["pattern"]) for r in suggestion["rules"]] == [
        ("publish", "shellyplusplugs-c4dd57877294/#"), ("subscribe", "shellyplusplugs-c4dd57877294/rpc")]
    assert view["rules"] == [], "proposed, not applied: a person decides"


def test_a_device_discovery_config_cannot_hide_a_foreign_command_among_its_components(hub):
    """Home Assistant's device discovery puts entities under `cmps`; each is checked."""
    plug = Device(hub, "Plug", publish=["plug1/#", "homeassistant/#"], subscribe=["plug1/set"])
    forged = {"dev": {"ids": "plug1", "name": "Plug"}, "o": {"name": "fw"}, "stat_t": "plug1/state",
              "cmps": {"relay": {"p": "switch", "uniq_id": "plug1-relay", "cmd_t": "plug1/set"},
                       "lock": {"p": "lock", "uniq_id": "plug1-lock", "cmd_t": "zigbee2mqtt/front_door/set"}}}
    r = plug.pub("homeassistant/device/plug1/config", json.dumps(forged), qos=1, version="5", extra=["-d"])
    assert "RC:135" in r.stdout, r.stdout
    assert recorded(plug, "homeassistant/device/plug1/config")[0]["decision"] == {"decision": "drop", "detail": "foreign_topic"}
    del forged["cmps"]["lock"]
    assert "RC:0" in plug.pub("homeassistant/device/plug1/config", json.dumps(forged), qos=1, version="5", extra=["-d"]).stdout
    [group] = wait_for(lambda: described(plug))
    assert [(e["component"], e["unique_id"]) for e in group["entities"]] == [("switch", "plug1-relay")]


def test_a_squatted_unique_id_names_its_holder_and_a_person_gives_it_to_the_right_device(hub):
    """The first device to describe an entity keeps it, so a squatter can take an entity before
    the real device announces it. The refusal names the holder, and a person moves the entity."""
    squatter = Device(hub, "Cheap plug", publish=["homeassistant/#", "cheap/#"])
    early = dict(ESPHOME_TEMPERATURE, stat_t="cheap/temp", avty_t="cheap/status", dev={"ids": "cheap", "name": "cheap"})
    assert "RC:0" in squatter.pub("homeassistant/sensor/cheap/temperature/config", json.dumps(early), qos=1, version="5", extra=["-d"]).stdout
    assert wait_for(lambda: described(squatter))
    node = esphome_node(hub)
    r = node.pub(CONFIG_TOPIC, json.dumps(ESPHOME_TEMPERATURE), qos=1, version="5", extra=["-d"])
    assert "RC:135" in r.stdout, r.stdout
    contested = node.view()["contested"]
    assert [(c["claim"], c["holder_id"], c["holder_name"]) for c in contested] == [
        ({"by": "unique_id", "value": ESPHOME_TEMPERATURE["uniq_id"]}, squatter.id, "Cheap plug")]
    assert "take-entity" in hub.cli("device", "topics", node.id).stdout
    hub.cli("device", "take-entity", node.id, "--unique-id", ESPHOME_TEMPERATURE["uniq_id"])
    assert described(squatter) == [], "what the squatter described of it is gone"
    assert node.view()["contested"] == []
    # The node's discovery (firmware re-sends it) is accepted now, and the squatter's is refused.
    assert "RC:0" in node.pub(CONFIG_TOPIC, json.dumps(ESPHOME_TEMPERATURE), qos=1, version="5", extra=["-d"]).stdout
    assert wait_for(lambda: described(node))[0]["entities"][0]["unique_id"] == ESPHOME_TEMPERATURE["uniq_id"]
    r = squatter.pub("homeassistant/sensor/cheap/temperature/config", json.dumps(early), qos=1, version="5", extra=["-d"])
    assert "RC:135" in r.stdout, r.stdout
