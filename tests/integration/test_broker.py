"""The home's MQTT broker, driven by clients nobody here wrote: Debian's mosquitto_pub and
mosquitto_sub, and paho-mqtt, with MQTT 3.1.1 and 5. Each device has its own credential and
manifest; the gate decides every connect, subscribe and publish, and records what it refused."""

import json
import signal
import subprocess
import time

import pytest

from mqtt_device import VERSIONS, Device, Sub, recorded, refused_connections, stop


@pytest.mark.parametrize("version", ["3.1.1", "5"])
def test_publish_and_subscribe_at_each_qos(hub, version):
    plug = Device(hub, "Kitchen plug", publish=["tele/plug1/#"])
    app = Device(hub, "Phone app", subscribe=["tele/plug1/#"])
    sub = app.sub("tele/plug1/#", 3, qos=2, version=version)
    for qos in (0, 1, 2):
        r = plug.pub(f"tele/plug1/Q{qos}", f"payload {qos}", qos=qos, version=version)
        assert r.returncode == 0, r.stderr
    lines, err, rc = sub.result()
    assert rc == 0, err
    assert lines == ["tele/plug1/Q0 payload 0", "tele/plug1/Q1 payload 1", "tele/plug1/Q2 payload 2"]
    broker = hub.get("/status")["broker"]
    assert broker["enabled"] and broker["address"] == f"{plug.host}:{plug.port}"
    assert (broker["lost_messages"], broker["unrecorded_decisions"]) == (0, 0)
    allowed = [d for d in plug.view()["recent"] if d["action"] == "publish"]
    assert sorted((d["topic"], d["qos"], d["bytes"], d["decision"]["decision"]) for d in allowed) == [
        (f"tele/plug1/Q{q}", q, 9, "allow") for q in (0, 1, 2)]


def test_a_retained_message_reaches_a_later_subscriber(hub):
    plug = Device(hub, "Shelly", publish=["shellies/plug-a/#"])
    app = Device(hub, "Dashboard", subscribe=["shellies/+/online"])
    assert plug.pub("shellies/plug-a/online", "true", qos=1, extra=["-r"]).returncode == 0
    lines, err, rc = app.sub("shellies/+/online", 1, version="5").result()
    assert (lines, rc) == (["shellies/plug-a/online true"], 0), err


def test_the_last_will_is_published_when_a_device_drops_off(hub):
    plug = Device(hub, "Tasmota plug", publish=["tele/plug1/#"], subscribe=["cmnd/plug1/#"])
    app = Device(hub, "Phone app", subscribe=["tele/plug1/LWT"])
    watcher = app.paho("watcher")
    watcher.subscribe("tele/plug1/LWT", qos=1)
    time.sleep(0.3)
    # mosquitto_sub as the device, with a Will, killed without a DISCONNECT (power cut).
    device = subprocess.Popen(["mosquitto_sub", *plug.auth(), "-i", "plug1", "-t", "cmnd/plug1/#", "-k", "5",
                               "--will-topic", "tele/plug1/LWT", "--will-payload", "Offline", "--will-qos", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.7)
    assert device.poll() is None, device.stderr.read()
    device.send_signal(signal.SIGKILL)
    device.wait()
    deadline = time.time() + 5
    while not watcher.received and time.time() < deadline:
        time.sleep(0.05)
    stop(watcher)
    assert watcher.received == [("tele/plug1/LWT", "Offline", 1)]


def start_device_with_will(device, client_id, will_topic, subscribe_to):
    """mosquitto_sub as a device with a Will, to be killed without a DISCONNECT (power cut)."""
    proc = subprocess.Popen(["mosquitto_sub", *device.auth(), "-i", client_id, "-t", subscribe_to, "-k", "5",
                             "--will-topic", will_topic, "--will-payload", "Offline", "--will-qos", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.7)
    assert proc.poll() is None, proc.stderr.read()
    return proc


def power_cut(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_a_will_outside_the_manifest_is_learned_and_never_delivered(hub):
    # Real firmware always sets a Will; a device whose manifest is still empty must be able to
    # connect (so its topics can be learned), but its Will must not get past the gate.
    plug = Device(hub, "Tasmota plug", subscribe=["cmnd/plug1/#"])
    home_assistant = Device(hub, "Home Assistant", subscribe=["tele/#"])
    watcher = home_assistant.paho("ha")
    watcher.subscribe("tele/#", qos=1)
    device = start_device_with_will(plug, "plug1", "tele/plug1/LWT", "cmnd/plug1/#")
    power_cut(device)
    time.sleep(1.5)
    stop(watcher)
    assert watcher.received == [], "a Will outside the manifest is not delivered"
    learned = [(r["direction"], r["pattern"]) for r in plug.view()["rules"] if r["status"] == "learned"]
    assert learned == [("publish", "tele/plug1/LWT")], "proposed for a person to allow"
    # Decided when it is published (its sender may not publish there): it never reaches a
    # receiver, so there is no delivery to refuse.
    refused = [(d["topic"], d["decision"]) for d in home_assistant.view()["recent"] if d["action"] == "deliver"]
    assert refused == []


def test_a_will_whose_topic_was_denied_since_connecting_is_not_delivered(hub):
    plug = Device(hub, "Tasmota plug", publish=["tele/plug1/#"], subscribe=["cmnd/plug1/#"])
    app = Device(hub, "Phone app", subscribe=["tele/plug1/#"])
    watcher = app.paho("watcher")
    watcher.subscribe("tele/plug1/#", qos=1)
    device = start_device_with_will(plug, "plug1", "tele/plug1/LWT", "cmnd/plug1/#")
    hub.cli("device", "deny", plug.id, "--publish", "tele/plug1/LWT")
    power_cut(device)
    time.sleep(1.5)
    stop(watcher)
    assert watcher.received == []


def test_a_device_cannot_take_over_another_devices_session_by_its_client_id(hub):
    victim = Device(hub, "Alarm panel", subscribe=["alarm/#"])
    thief = Device(hub, "Cheap plug")
    panel = victim.paho("alarm-panel", clean=False)
    panel.subscribe("alarm/#", qos=1)
    time.sleep(0.3)
    for connected in (True, False):  # the live session, then the offline persistent one
        if not connected:
            stop(panel)
        r = subprocess.run(["mosquitto_sub", *thief.auth(), "-i", "alarm-panel", "-c", "-q", "1", "-t", "x", "-C", "1", "-W", "2"],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode != 0 and "not authorised" in r.stderr.lower(), r.stderr
        assert refused_connections(thief, "client_id_taken")[0]["client_id"] == "alarm-panel"
    panel = victim.paho("alarm-panel", clean=False)
    assert panel.connected.is_set(), "the owner still gets its session back"
    stop(panel)


def test_a_subscription_denied_while_offline_does_not_come_back_with_the_session(hub):
    sensor = Device(hub, "Door sensor", publish=["zigbee2mqtt/#"])
    app = Device(hub, "Old tablet", subscribe=["zigbee2mqtt/#"])
    tablet = app.paho("tablet", clean=False)
    tablet.subscribe("zigbee2mqtt/#", qos=1)
    time.sleep(0.3)
    stop(tablet)
    hub.cli("device", "deny", app.id, "--subscribe", "zigbee2mqtt/#")
    time.sleep(0.5)
    assert sensor.pub("zigbee2mqtt/door", '{"contact":false}', qos=1).returncode == 0
    tablet = app.paho("tablet", clean=False)
    time.sleep(1.5)
    stop(tablet)
    assert tablet.received == [], "neither the restored subscription nor its queue may deliver"


@pytest.mark.parametrize("version", ["3.1.1", "5"])
def test_a_persistent_session_receives_qos1_messages_queued_while_offline(hub, version):
    plug = Device(hub, "Door sensor", publish=["zigbee2mqtt/door"])
    app = Device(hub, "Alarm panel", subscribe=["zigbee2mqtt/#"])
    panel = app.paho("alarm-panel", version=version, clean=False)
    panel.subscribe("zigbee2mqtt/#", qos=1)
    time.sleep(0.3)
    stop(panel)
    for i in range(5):
        assert plug.pub("zigbee2mqtt/door", json.dumps({"contact": i % 2 == 0, "n": i}), qos=1).returncode == 0
    panel = app.paho("alarm-panel", version=version, clean=False)
    deadline = time.time() + 5
    while len(panel.received) < 5 and time.time() < deadline:
        time.sleep(0.05)
    stop(panel)
    assert [json.loads(p)["n"] for _, p, _ in panel.received] == [0, 1, 2, 3, 4]
    assert {q for _, _, q in panel.received} == {1}


def test_a_wrong_password_is_refused_and_recorded(hub):
    plug = Device(hub, "Plug")
    r = plug.pub("tele/plug1/x", "hi", password="0" * 48)
    assert r.returncode != 0 and "bad user name or password" in r.stderr.lower()
    r = subprocess.run(["mosquitto_pub", "-h", plug.host, "-p", str(plug.port), "-t", "a", "-m", "anonymous"], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0, "anonymous clients are refused"
    assert refused_connections(plug, "bad_credentials")[0]["count"] >= 1


def test_revoking_or_rotating_a_credential_disconnects_the_device_at_once(hub):
    plug = Device(hub, "Plug", subscribe=["cmnd/plug1/#"])
    client = plug.paho("plug1")
    hub.cli("device", "credentials", plug.id, "--revoke")
    assert client.disconnected.wait(3), "revoked device still connected"
    client.loop_stop()
    assert plug.pub("cmnd/plug1/x", "hi").returncode != 0, "the revoked secret no longer works"
    issued = json.loads(hub.cli("device", "credentials", plug.id, "--rotate", "--json").stdout)
    assert issued["password"] != plug.password and len(issued["password"]) == 48
    plug.password = issued["password"]
    client = plug.paho("plug1")
    again = json.loads(hub.cli("device", "credentials", plug.id, "--rotate", "--json").stdout)
    assert client.disconnected.wait(3), "a rotated secret disconnects clients that used the old one"
    client.loop_stop()
    plug.password = again["password"]
    stop(plug.paho("plug1"))


def test_a_bound_client_id_cannot_be_taken_over(hub):
    plug = Device(hub, "Plug", subscribe=["cmnd/plug1/#"])
    other = Device(hub, "Other plug", subscribe=["cmnd/plug2/#"])
    client = plug.paho("DVES_A1B2C3")
    view = json.loads(hub.cli("device", "credentials", plug.id, "--bind-client-id", "DVES_A1B2C3", "--json").stdout)
    assert view["credential"]["client_id"] == "DVES_A1B2C3"
    assert client.disconnected.wait(3), "binding disconnects so that only the bound client comes back"
    client.loop_stop()
    # The credential under another client id: refused.
    r = subprocess.run(["mosquitto_sub", *plug.auth(), "-i", "impostor", "-t", "cmnd/plug1/#", "-C", "1", "-W", "2"], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "not authorised" in r.stderr.lower(), r.stderr
    # Another device's credential with the bound client id: refused (no takeover of the session).
    r = subprocess.run(["mosquitto_sub", *other.auth(), "-i", "DVES_A1B2C3", "-t", "cmnd/plug2/#", "-C", "1", "-W", "2"], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "not authorised" in r.stderr.lower(), r.stderr
    assert refused_connections(other, "client_id_taken")[0]["client_id"] == "DVES_A1B2C3"
    stop(plug.paho("DVES_A1B2C3"))
    r = hub.cli("device", "credentials", other.id, "--bind-client-id", "DVES_A1B2C3", check=False)
    assert r.returncode != 0 and "already bound" in r.stderr


def test_blocking_a_device_disconnects_it_and_keeps_it_out(hub):
    plug = Device(hub, "Plug", subscribe=["cmnd/plug1/#"])
    client = plug.paho("plug1")
    hub.cli("device", "block", plug.id)
    assert client.disconnected.wait(3)
    client.loop_stop()
    r = plug.pub("cmnd/plug1/x", "hi")
    assert r.returncode != 0 and "not authorised" in r.stderr.lower()


@pytest.mark.parametrize("version", ["3.1.1", "5"])
def test_a_publish_outside_the_manifest_is_not_delivered_and_is_recorded(hub, version):
    plug = Device(hub, "Plug", publish=["tele/plug1/#"])
    monitor = Device(hub, "Monitor", subscribe=["#"])
    sub = monitor.sub("#", 1, qos=1, timeout=4)
    r = plug.pub("tele/plug2/SENSOR", "spoofed", qos=1, version=version, extra=["-d"])
    if version == "5":
        assert "RC:135" in r.stdout, r.stdout  # PUBACK: Not authorized
    plug.pub("tele/plug1/SENSOR", "real", qos=1, version=version)
    lines, _, _ = sub.result()
    assert lines == ["tele/plug1/SENSOR real"]
    refused = recorded(plug, "tele/plug2/SENSOR")
    assert refused[0]["decision"] == {"decision": "drop", "detail": "not_in_manifest"} and refused[0]["bytes"] == 7
    learned = [r for r in plug.view()["rules"] if r["status"] == "learned"]
    assert [(r["direction"], r["pattern"]) for r in learned] == [("publish", "tele/plug2/SENSOR")]


def test_a_forged_home_assistant_discovery_message_is_refused(hub):
    plug = Device(hub, "Plug", publish=["tele/plug1/#"])
    home_assistant = Device(hub, "Home Assistant", subscribe=["homeassistant/#"])
    sub = home_assistant.sub("homeassistant/#", 1, timeout=3)
    forged = json.dumps({"name": "Front door lock", "command_topic": "tele/plug1/steal", "unique_id": "lock1"})
    plug.pub("homeassistant/lock/front/config", forged, qos=1)
    lines, _, rc = sub.result()
    assert lines == [] and rc != 0, "no entity may be injected"
    assert recorded(plug, "homeassistant/lock/front/config")[0]["decision"]["decision"] == "drop"


@pytest.mark.parametrize("version", ["3.1.1", "5"])
def test_a_subscription_outside_the_manifest_is_refused(hub, version):
    app = Device(hub, "App", subscribe=["tele/plug1/#"])
    r = subprocess.run(["mosquitto_sub", "-V", VERSIONS[version][0], *app.auth(), "-t", "#", "-C", "1", "-W", "2", "-d"],
                       capture_output=True, text=True, timeout=10)
    refusal = {"5": 135, "3.1.1": 128}[version]  # Not authorized; MQTT 3.1.1's only failure code
    assert f"Subscribed (mid: 1): {refusal}" in r.stdout, r.stdout
    assert recorded(app, "#")[0]["decision"] == {"decision": "drop", "detail": "not_in_manifest"}


def test_a_quarantined_device_is_recorded_but_not_delivered_until_approved(hub, responders):
    responders.announce("_esphomelib._tcp", "garage-sensor", "garage-sensor", txt={"mac": "246f28a1b2c3", "version": "2024.6.1"})
    found = hub.wait_for_device("garage-sensor", state="new")
    issued = json.loads(hub.cli("device", "credentials", found["id"], "--rotate", "--json").stdout)
    sensor = Device.__new__(Device)
    sensor.hub, sensor.id, sensor.username, sensor.password = hub, found["id"], issued["username"], issued["password"]
    sensor.host, port = issued["broker"].split(", ")[0].rsplit(":", 1)
    sensor.port = int(port)
    hub.cli("device", "allow", sensor.id, "--publish", "garage-sensor/#")
    monitor = Device(hub, "Monitor", subscribe=["garage-sensor/#"])
    sub = monitor.sub("garage-sensor/#", 1, timeout=3)
    assert sensor.pub("garage-sensor/sensor/temperature/state", "21.5").returncode == 0
    assert sub.result()[0] == [], "a new device's messages are not delivered"
    assert recorded(sensor, "garage-sensor/sensor/temperature/state")[0]["decision"] == {"decision": "drop", "detail": "quarantined"}
    hub.cli("device", "approve", sensor.id)
    sub = monitor.sub("garage-sensor/#", 1, timeout=5)
    assert sensor.pub("garage-sensor/sensor/temperature/state", "21.6").returncode == 0
    assert sub.result()[0] == ["garage-sensor/sensor/temperature/state 21.6"]


def test_the_cli_explains_bad_input(hub):
    plug = Device(hub, "Plug")
    r = hub.cli("device", "allow", plug.id, "--publish", "a/#/b", check=False)
    assert r.returncode != 0 and "not a topic pattern" in r.stderr
    r = hub.cli("device", "allow", plug.id, "--subscribe", "$SYS/#", check=False)
    assert r.returncode != 0 and "$" in r.stderr
    r = hub.cli("device", "add", "   ", check=False)
    assert r.returncode != 0 and "name" in r.stderr
    r = hub.cli("device", "credentials", "d-000000000000", "--rotate", check=False)
    assert r.returncode != 0 and "no device" in r.stderr
    r = hub.cli("device", "credentials", plug.id, check=False)
    assert r.returncode != 0 and "--rotate" in r.stderr


def test_a_broker_port_in_use_is_a_clear_error(tmp_path):
    from conftest import HEARTH, occupied_port
    with occupied_port() as port:
        r = subprocess.run([str(HEARTH), "serve", "--data-dir", str(tmp_path), "--http-listen", "127.0.0.1:0",
                            "--mqtt-listen", f"127.0.0.1:{port}", "--no-discovery"], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert f"127.0.0.1:{port}" in r.stderr and "in use" in r.stderr and "--mqtt-listen" in r.stderr, r.stderr


def test_mqtt_over_tls_with_hearths_own_ca(hub):
    plug = Device(hub, "Plug", publish=["tele/plug1/#"])
    app = Device(hub, "App", subscribe=["tele/plug1/#"])
    tls = hub.get("/status")["broker"]["tls_address"].split(", ")[0]
    host, port = tls.rsplit(":", 1)
    ca = hub.data_dir / "ca.pem"
    view = app.view()
    assert view["broker_tls"] and view["ca_pem"] == ca.read_text(), "the device page offers the CA to install"
    secure = ["-h", host, "-p", port, "--cafile", str(ca)]
    sub = Sub(["mosquitto_sub", *secure, "-u", app.username, "-P", app.password, "-t", "tele/plug1/#", "-C", "1", "-v", "-W", "8"])
    r = subprocess.run(["mosquitto_pub", *secure, "-u", plug.username, "-P", plug.password, "-t", "tele/plug1/SENSOR", "-m", "over tls", "-q", "1"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    lines, err, rc = sub.result()
    assert (lines, rc) == (["tele/plug1/SENSOR over tls"], 0), err
    # Without Hearth's CA the client refuses the broker; with it but a wrong secret, the broker refuses the client.
    r = subprocess.run(["mosquitto_pub", "-h", host, "-p", port, "--capath", "/etc/ssl/certs", "-u", plug.username, "-P", plug.password,
                        "-t", "tele/plug1/x", "-m", "x"], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and ("certificate verify failed" in r.stderr.lower() or "tls" in r.stderr.lower()), r.stderr
    r = subprocess.run(["mosquitto_pub", *secure, "-u", plug.username, "-P", "0" * 48, "-t", "tele/plug1/x", "-m", "x"], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "bad user name or password" in r.stderr.lower(), r.stderr
    assert "PRIVATE KEY" not in ca.read_text()


def anonymous_pub(device, client_id, topic, message, qos=1):
    """mosquitto_pub without a credential, as firmware that cannot do one."""
    return subprocess.run(["mosquitto_pub", "-h", device.host, "-p", str(device.port), "-i", client_id, "-t", topic, "-m", message, "-q", str(qos)],
                          capture_output=True, text=True, timeout=10)


def test_migration_mode_admits_anonymous_clients_as_quarantined_devices(tmp_path):
    from conftest import Hub
    (tmp_path / "hearth.toml").write_text("[broker]\nallow_anonymous = true\n")
    hub = Hub(tmp_path, ["--no-discovery"])
    try:
        assert "allow_anonymous is on" in hub.read_log()
        monitor = Device(hub, "Monitor", subscribe=["tele/#"])
        sub = monitor.sub("tele/#", 1, timeout=3)
        assert anonymous_pub(monitor, "DVES_ABCDEF", "tele/tasmota_ABCDEF/SENSOR", '{"ENERGY":{"Power":12}}').returncode == 0
        assert sub.result()[0] == [], "a quarantined device's messages are not delivered"
        device = hub.wait_for_device("MQTT client DVES_ABCDEF", state="new")
        view = json.loads(hub.cli("device", "topics", device["id"], "--json").stdout)
        assert view["anonymous"] == {"client_id": "DVES_ABCDEF", "address": "127.0.0.1"}
        assert [(d["topic"], d["decision"]["detail"]) for d in view["recent"] if d["action"] == "publish"] == [
            ("tele/tasmota_ABCDEF/SENSOR", "quarantined")]
        # Once a person approves it and allows the topic, it is delivered.
        hub.cli("device", "approve", device["id"])
        hub.cli("device", "allow", device["id"], "--publish", "tele/tasmota_ABCDEF/#")
        sub = monitor.sub("tele/#", 1, timeout=5)
        assert anonymous_pub(monitor, "DVES_ABCDEF", "tele/tasmota_ABCDEF/SENSOR", "again").returncode == 0
        assert sub.result()[0] == ["tele/tasmota_ABCDEF/SENSOR again"]
        assert len([d for d in hub.devices() if d["name"].startswith("MQTT client")]) == 1, "one device per client id"
    finally:
        hub.stop()
        hub.log.close()


def test_a_device_without_credentials_can_be_pinned_to_its_client_id_and_address(hub):
    sonoff = Device(hub, "Old Sonoff", publish=["tele/sonoff/#"])
    monitor = Device(hub, "Monitor", subscribe=["tele/#"])
    assert anonymous_pub(sonoff, "sonoff-1", "tele/sonoff/STATE", "x").returncode != 0, "nothing anonymous by default"
    hub.cli("device", "anonymous", sonoff.id, "--client-id", "sonoff-1", "--address", "127.0.0.1")
    view = json.loads(hub.cli("device", "topics", sonoff.id, "--json").stdout)
    assert view["anonymous"] == {"client_id": "sonoff-1", "address": "127.0.0.1"}
    sub = monitor.sub("tele/#", 1, timeout=5)
    assert anonymous_pub(sonoff, "sonoff-1", "tele/sonoff/STATE", "on").returncode == 0
    assert sub.result()[0] == ["tele/sonoff/STATE on"]
    assert anonymous_pub(sonoff, "sonoff-2", "tele/sonoff/STATE", "x").returncode != 0, "another client id is still refused"
    # A credentialed device may not take the pinned client id (nor its session), and a username
    # that is not a device id (the gate's own `anon:` key) is no credential.
    other = Device(hub, "Other plug", subscribe=["tele/#"])
    r = subprocess.run(["mosquitto_sub", *other.auth(), "-i", "sonoff-1", "-t", "tele/#", "-C", "1", "-W", "2"], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "not authorised" in r.stderr.lower(), r.stderr
    r = subprocess.run(["mosquitto_pub", "-h", sonoff.host, "-p", str(sonoff.port), "-u", "anon:sonoff-1", "-P", other.password, "-i", "x",
                        "-t", "tele/sonoff/STATE", "-m", "x"], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "bad user name or password" in r.stderr.lower(), r.stderr
    # ...and an anonymous client may not take a client id a credential is using.
    hub.cli("device", "credentials", other.id, "--bind-client-id", "other-1")
    assert anonymous_pub(sonoff, "other-1", "tele/sonoff/STATE", "x").returncode != 0
    r = hub.cli("device", "anonymous", sonoff.id, "--client-id", "other-1", check=False)
    assert r.returncode != 0 and "already bound" in r.stderr
    hub.cli("device", "anonymous", sonoff.id, "--client-id", "sonoff-1", "--address", "10.77.0.99")
    r = anonymous_pub(sonoff, "sonoff-1", "tele/sonoff/STATE", "x")
    assert r.returncode != 0 and "not authorised" in r.stderr.lower(), "pinned to another address"
    hub.cli("device", "anonymous", sonoff.id, "--off")
    assert anonymous_pub(sonoff, "sonoff-1", "tele/sonoff/STATE", "x").returncode != 0
    r = hub.cli("device", "anonymous", sonoff.id, "--client-id", "x", "--address", "not-an-ip", check=False)
    assert r.returncode != 0 and "not an IP address" in r.stderr


def test_a_firmware_is_recognised_from_its_topics_and_its_usual_topics_proposed(hub):
    plug = Device(hub, "New plug")
    assert plug.pub("tele/tasmota_C0FFEE/STATE", '{"POWER":"ON"}', qos=1).returncode == 0
    time.sleep(0.5)
    suggestions = plug.view()["suggestions"]
    assert [(s["firmware"], s["prefix"]) for s in suggestions] == [("Tasmota", "tasmota_C0FFEE")]
    assert [(r["direction"], r["pattern"]) for r in suggestions[0]["rules"]] == [
        ("publish", "tele/tasmota_C0FFEE/#"), ("publish", "stat/tasmota_C0FFEE/#"), ("subscribe", "cmnd/tasmota_C0FFEE/#")]
    for rule in suggestions[0]["rules"]:
        hub.cli("device", "allow", plug.id, f"--{rule['direction']}", rule["pattern"])
    assert plug.view()["suggestions"] == [], "nothing left to propose once allowed"
