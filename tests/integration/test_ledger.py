"""The ledger and the review: real payloads (from the device reference) published through the real
broker by clients nobody here wrote (mosquitto_pub, paho-mqtt), read back through `hearth
review`, `hearth export` and `hearth privacy`, and the database file itself scanned for what must
not be in it."""

import csv
import io
import json
import sqlite3
import time

from mqtt_device import Device

SHELLY = {"id": 0, "output": True, "apower": 47.11, "voltage": 232.0, "current": 0.21, "pf": 0.93,
          "aenergy": {"total": 5.125, "by_minute": [783.2, 781.9, 784.0], "minute_ts": 1764400000}, "temperature": {"tC": 25.3, "tF": 77.5}}
TASMOTA_SENSOR = {"Time": "2026-11-29T08:00:00", "ENERGY": {"TotalStartTime": "2026-01-04T18:00:00", "Total": 12.5, "Yesterday": 0.412,
                                                            "Today": 0.118, "Power": 38, "Voltage": 231, "Current": 0.196}}
TASMOTA_STATE = {"Time": "2026-11-29T08:00:00", "Uptime": "0T00:10:00", "UptimeSec": 600, "Heap": 25, "POWER": "ON",
                 "Wifi": {"AP": 1, "SSId": "HomeNet", "BSSId": "30:B5:C2:11:22:33", "Channel": 6, "RSSI": 78, "Signal": -61}}
OWNTRACKS = {"_type": "location", "lat": 52.3702, "lon": 4.8952, "acc": 12, "alt": 3, "vel": 0, "batt": 81, "tid": "ap", "tst": 1764400000}
DOOR = {"battery": 100, "contact": False, "device_temperature": 26, "linkquality": 153, "power_outage_count": 6889, "voltage": 3035}


def review(hub, device, since="1h"):
    return json.loads(hub.cli("review", device.id, "--since", since, "--json").stdout)


def wait_for_messages(hub, device, n, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = review(hub, device)
        if r["messages"] >= n:
            return r
        time.sleep(0.2)
    return review(hub, device)


def publish_all(device, topic, payloads, qos=1):
    for p in payloads:
        body = p if isinstance(p, str) else json.dumps(p)
        assert device.pub(topic, body, qos=qos).returncode == 0


def database_bytes(hub):
    """The database file and its write-ahead log, as they are on disk."""
    return b"".join((hub.data_dir / name).read_bytes() for name in ("hearth.db", "hearth.db-wal") if (hub.data_dir / name).exists())


def test_real_payloads_are_reviewed_with_their_kinds_fields_and_exact_counts(hub):
    shelly = Device(hub, "Kitchen plug", publish=["shellyplusplugs-c4dd57877294/#"])
    tasmota = Device(hub, "Dryer plug", publish=["tele/tasmota_A1B2C3/#"])
    phone = Device(hub, "Anna's phone", publish=["owntracks/anna/#"])
    bridge = Device(hub, "Zigbee2MQTT", publish=["zigbee2mqtt/#"])
    camera = Device(hub, "Front door camera", publish=["frigate/#"])
    publish_all(shelly, "shellyplusplugs-c4dd57877294/status/switch:0", [SHELLY] * 3)
    publish_all(tasmota, "tele/tasmota_A1B2C3/SENSOR", [TASMOTA_SENSOR] * 2)
    publish_all(tasmota, "tele/tasmota_A1B2C3/STATE", [TASMOTA_STATE])
    publish_all(phone, "owntracks/anna/phone", [OWNTRACKS])
    publish_all(bridge, "zigbee2mqtt/front_door", [DOOR] * 2)
    jpeg = (__import__("pathlib").Path(__file__).parents[2] / "crates/hearth/src/demo/snapshot.jpg").read_bytes()
    client = camera.paho("frigate")
    client.publish("frigate/front/person/snapshot", jpeg, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()

    r = wait_for_messages(hub, shelly, 3)
    assert (r["messages"], r["bytes"]) == (3, 3 * len(json.dumps(SHELLY)))
    energy = r["categories"][0]
    assert energy["category"] == "energy" and energy["messages"] == 3
    assert {"apower", "voltage", "aenergy.total"} <= set(energy["fields"])
    apower = next(f for f in r["topics"][0]["fields"] if f["path"] == "apower")
    assert apower["example"] == "47.11"

    r = wait_for_messages(hub, tasmota, 3)
    assert (r["messages"], r["bytes"]) == (3, 2 * len(json.dumps(TASMOTA_SENSOR)) + len(json.dumps(TASMOTA_STATE)))
    kinds = {c["category"]: c for c in r["categories"]}
    assert kinds["energy"]["messages"] == 2 and "ENERGY.Power" in kinds["energy"]["fields"]
    assert kinds["identifiers"]["fields"] == ["Wifi.BSSId", "Wifi.Channel", "Wifi.RSSI", "Wifi.SSId"]
    ssid = next(f for t in r["topics"] for f in t["fields"] if f["path"] == "Wifi.SSId")
    assert ssid["example"] is None, "identifiers are kept as metadata only by default"

    r = wait_for_messages(hub, phone, 1)
    assert r["categories"][0]["category"] == "location"
    assert all(f["example"] is None for f in r["topics"][0]["fields"] if f["category"] == "location")

    r = wait_for_messages(hub, bridge, 2)
    assert [c["category"] for c in r["categories"]][:1] == ["access"] and r["messages"] == 2

    r = wait_for_messages(hub, camera, 1)
    assert (r["messages"], r["bytes"]) == (1, len(jpeg))
    assert r["categories"][0]["category"] == "audio_video" and r["topics"][0]["content_type"] == "image/jpeg"

    # The home: the camera and the phone before the plugs.
    home = json.loads(hub.cli("review", "--since", "1h", "--json").stdout)
    order = [d["device_id"] for d in home["devices"]]
    assert order.index(camera.id) < order.index(phone.id) < order.index(shelly.id)
    # The location and the picture never reached the file.
    on_disk = database_bytes(hub)
    assert b"52.3702" not in on_disk and jpeg[100:140] not in on_disk
    text = hub.cli("review", shelly.id, "--since", "1h").stdout
    assert "energy" in text and "apower" in text and "3 messages" in text, text


def test_a_redacted_field_reaches_neither_the_file_nor_another_subscriber(hub):
    plug = Device(hub, "Dryer plug", publish=["tele/tasmota_A1B2C3/#"])
    dashboard = Device(hub, "Dashboard", subscribe=["tele/tasmota_A1B2C3/#"])
    out = hub.cli("privacy", "set", plug.id, "--redact", "ENERGY.Voltage").stdout
    assert "redacted before storage and delivery: ENERGY.Voltage" in out, out
    marked = json.loads(json.dumps(TASMOTA_SENSOR))
    marked["ENERGY"]["Voltage"] = 231.456789
    sub = dashboard.sub("tele/tasmota_A1B2C3/#", 1, qos=1)
    publish_all(plug, "tele/tasmota_A1B2C3/SENSOR", [marked])
    lines, _, _ = sub.result()
    delivered = json.loads(lines[0].split(" ", 1)[1])
    assert "Voltage" not in delivered["ENERGY"] and delivered["ENERGY"]["Power"] == 38
    r = wait_for_messages(hub, plug, 1)
    assert r["redacted"] == 1
    assert all(f["path"] != "ENERGY.Voltage" for t in r["topics"] for f in t["fields"])
    assert b"231.456789" not in database_bytes(hub)
    # Cut short, it cannot be redacted, so it does not go out, nor into the file.
    sub = dashboard.sub("tele/tasmota_A1B2C3/#", 1, qos=1, timeout=3)
    r = plug.pub("tele/tasmota_A1B2C3/SENSOR", '{"ENERGY":{"Voltage":231.987654,"Power":', qos=1, version="5", extra=["-d"])
    assert "RC:135" in r.stdout, r.stdout
    assert sub.result()[0] == []
    r = wait_for_messages(hub, plug, 2)
    assert {"reason": "unredactable", "count": 1} in r["refusals"]
    assert b"231.987654" not in database_bytes(hub)
    audit = sqlite3.connect(hub.data_dir / "hearth.db").execute("SELECT actor, origin, action FROM audit WHERE action = 'redact_field'").fetchall()
    assert audit == [("owner", "cli", "redact_field")]


def test_retention_changes_apply_at_once_to_what_is_on_file(hub):
    plug = Device(hub, "Kitchen plug", publish=["shellyplusplugs-c4dd57877294/#"])
    publish_all(plug, "shellyplusplugs-c4dd57877294/status/switch:0", [SHELLY])
    r = wait_for_messages(hub, plug, 1)
    assert next(f for f in r["topics"][0]["fields"] if f["path"] == "apower")["example"] == "47.11"
    out = hub.cli("privacy", "set", plug.id, "--category", "energy", "--retention", "metadata").stdout
    assert "energy       metadata" in out, out
    r = review(hub, plug)
    assert all(f["example"] is None for f in r["topics"][0]["fields"] if f["category"] == "energy")
    assert r["messages"] == 1, "metadata stays"
    bad = hub.cli("privacy", "set", plug.id, "--category", "energy", "--retention", "forever", check=False)
    assert bad.returncode != 0 and "not a retention" in bad.stderr
    bad = hub.cli("privacy", "set", plug.id, "--category", "mood", "--retention", "7d", check=False)
    assert bad.returncode != 0 and "not a kind of data" in bad.stderr


def test_export_holds_everything_and_forget_leaves_no_trace_in_the_file(hub):
    sensor = Device(hub, "Garage sensor", publish=["garage/#"])
    marker = "MARKER-c41d2e9b"
    publish_all(sensor, "garage/sensor", [{"temperature": 21.5, "note": marker}] * 2)
    wait_for_messages(hub, sensor, 2)
    exported = json.loads(hub.cli("export", sensor.id).stdout)
    assert exported["device"]["device"]["id"] == sensor.id
    assert len(exported["messages"]) == 2 and exported["messages"][0]["topic"] == "garage/sensor"
    assert marker in exported["samples"][0]["text"]
    rows = list(csv.DictReader(io.StringIO(hub.cli("export", sensor.id, "--csv").stdout)))
    assert [r["topic"] for r in rows] == ["garage/sensor"] * 2 and rows[0]["decision"] == "allow"
    assert marker.encode() in database_bytes(hub)
    hub.cli("device", "forget", sensor.id)
    assert marker.encode() not in database_bytes(hub), "forget compacts: the bytes are gone from the file"


def test_under_a_flood_every_message_is_accounted_for(hub):
    plug = Device(hub, "Chatty plug", publish=["flood/#"])
    client = plug.paho("flood-client")
    n = 20000
    infos = [client.publish("flood/power", json.dumps({"power": i}), qos=1) for i in range(n)]
    for info in infos:
        info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()
    r = wait_for_messages(hub, plug, n, timeout=20)
    status = hub.get("/status")["broker"]
    # Every publish is a row of the ledger or counted in its topic's rollup; none is lost.
    assert r["messages"] == n, (r["messages"], status)
    assert status["unrecorded_decisions"] == 0
    # Exported as it is read, in chunks: every row, and JSON that parses.
    rows = hub.cli("export", plug.id, "--csv").stdout.splitlines()
    assert len(rows) == n + 1 - status["aggregated_messages"], "a header and a row per message kept as a row"
    exported = json.loads(hub.cli("export", plug.id).stdout)
    assert len(exported["messages"]) == n - status["aggregated_messages"]
    missing = hub.cli("export", "d-000000000000", check=False)
    assert missing.returncode != 0 and "no device with id d-000000000000" in missing.stderr


def test_a_large_picture_is_counted_in_full_and_known_by_its_first_bytes(hub):
    camera = Device(hub, "Garage camera", publish=["garage/cam/#"])
    picture = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 800  # a 200 kB "JPEG"
    client = camera.paho("garage-cam")
    client.publish("garage/cam/snapshot", picture, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()
    r = wait_for_messages(hub, camera, 1)
    assert (r["messages"], r["bytes"]) == (1, len(picture))
    assert r["categories"][0]["category"] == "audio_video" and r["topics"][0]["content_type"] == "image/jpeg"
    assert json.loads(hub.cli("export", camera.id).stdout)["samples"] == []
