"""Stories: devices announce themselves (python-zeroconf, not our code), Hearth discovers,
recognises and merges them, and people decide about them through the CLI and the API."""

import json
import socket
import time


def test_a_shelly_is_discovered_recognised_and_its_two_services_are_one_device(hub, responders):
    responders.announce("_shelly._tcp", "shellyplus1-c4dd57877294", "shellyplus1-c4dd57877294", txt={"gen": "2", "app": "Plus1"})
    responders.announce("_http._tcp", "shellyplus1-c4dd57877294", "shellyplus1-c4dd57877294", txt={"gen": "2"})
    device = hub.wait_for(lambda ds: next((d for d in ds if d["name"] == "shellyplus1-c4dd57877294" and len(d["services"]) == 2), None),
                          "both Shelly services on one device")
    assert device["state"] == "new"
    assert device["online"] is True
    assert (device["kind"], device["vendor"], device["model"], device["rule"]) == ("switch", "Shelly", "shellyplus1", "shelly-gen2")
    assert device["addresses"] == ["10.77.0.2"]
    assert sorted(s["type"] for s in device["services"]) == ["_http._tcp", "_shelly._tcp"]
    assert len([d for d in hub.devices() if "shelly" in d["name"]]) == 1
    detail = hub.get(f"/devices/{device['id']}")
    assert "mac:c4dd57877294" in detail["identity_keys"]
    assert detail["history"][0]["actor"] == "hearth" and detail["history"][0]["to"] == "new"


def test_an_apple_tv_seen_under_two_host_names_is_merged_by_its_mac(hub, responders):
    responders.announce("_raop._tcp", "C92A14084F64@Den", "den-old", port=7000, txt={"am": "AppleTV6,2"})
    responders.announce("_companion-link._tcp", "Den", "den", port=49152, txt={"rpMd": "AppleTV6,2"})
    hub.wait_for(lambda ds: len(ds) == 2, "two records before the link is known")
    responders.announce("_airplay._tcp", "Den", "den", port=7000, txt={"deviceid": "C9:2A:14:08:4F:64", "model": "AppleTV6,2"})
    device = hub.wait_for(lambda ds: len(ds) == 1 and len(ds[0]["services"]) == 3 and ds[0], "the records merged into one")
    assert (device["kind"], device["vendor"], device["model"]) == ("tv", "Apple", "AppleTV6,2")


def test_homekit_categories_and_a_changed_address_keep_the_same_device(hub, responders):
    info = responders.announce("_hap._tcp", "Front Door Lock", "front-door-lock", port=51827,
                               txt={"c#": "2", "ff": "1", "id": "AA:6C:01:5E:92:10", "md": "SmartLock Pro", "pv": "1.1", "s#": "1", "sf": "1", "ci": "6"})
    lock = hub.wait_for_device("Front Door Lock", kind="lock")
    assert lock["rule"] == "homekit-accessory"
    info.addresses = [socket.inet_aton("10.77.0.99")]
    responders.update(info)
    moved = hub.wait_for(lambda ds: next((d for d in ds if "10.77.0.99" in d["addresses"]), None), "the new address")
    assert moved["id"] == lock["id"]
    assert len(hub.devices()) == 1


def test_a_device_that_says_goodbye_is_offline_not_deleted(hub, responders):
    info = responders.announce("_wled._tcp", "wled-desk", "wled-desk", txt={"mac": "a4cf12d0e1f2"})
    device = hub.wait_for_device("wled-desk", online=True)
    responders.goodbye(info)
    offline = hub.wait_for_device("wled-desk", online=False)
    assert offline["id"] == device["id"]
    assert offline["addresses"] == ["10.77.0.2"], "an offline device still shows where it was last seen"
    responders.announce("_wled._tcp", "wled-desk", "wled-desk", txt={"mac": "a4cf12d0e1f2"})
    back = hub.wait_for_device("wled-desk", online=True)
    assert back["id"] == device["id"]


def test_approve_block_and_forget_through_cli_and_api_are_recorded(hub, responders):
    responders.announce("_esphomelib._tcp", "kitchen-climate", "kitchen-climate", port=6053,
                        txt={"version": "2024.6.1", "mac": "246f28aabbcc", "platform": "ESP32", "board": "esp32dev", "friendly_name": "Kitchen Climate"})
    responders.announce("_sonos._tcp", "Sonos-7828CA831A30@Bedroom Speaker", "Sonos-7828CA831A30", port=1443, txt={"vers": "3", "hhid": "Sonos_x"})
    sensor = hub.wait_for_device("Kitchen Climate")
    speaker = hub.wait_for_device("Bedroom Speaker")

    out = hub.cli("device", "approve", sensor["id"])
    assert "approved" in out.stdout
    status, blocked = hub.request("POST", f"/devices/{speaker['id']}/block")
    assert status == 200 and blocked["state"] == "blocked"

    listed = {d["id"]: d for d in json.loads(hub.cli("devices", "--json").stdout)}
    assert listed[sensor["id"]]["state"] == "approved"
    assert listed[speaker["id"]]["state"] == "blocked"
    for field in ["id", "name", "state", "kind", "vendor", "model", "addresses", "services", "first_seen", "last_seen", "online"]:
        assert field in listed[sensor["id"]], field
    assert {"type", "instance", "port", "txt"} <= set(listed[sensor["id"]]["services"][0])

    history = hub.get(f"/devices/{sensor['id']}")["history"]
    assert [(h["from"], h["to"], h["actor"], h["origin"]) for h in history] == [(None, "new", "hearth", "discovery"), ("new", "approved", "owner", "cli")]

    shown = json.loads(hub.cli("device", "show", speaker["id"], "--json").stdout)
    assert shown["state"] == "blocked" and shown["model"] is None and shown["vendor"] == "Sonos"

    out = hub.cli("device", "forget", speaker["id"])
    assert "forgotten" in out.stdout
    status, err = hub.request("GET", f"/devices/{speaker['id']}")
    assert status == 404 and err["code"] == "not_found"
    status, _ = hub.request("DELETE", f"/devices/{sensor['id']}")
    assert status == 204
    assert hub.devices() == [] or all(d["id"] not in (sensor["id"], speaker["id"]) for d in hub.devices())


def test_the_api_refuses_strangers_and_bad_ids_with_clear_errors(hub):
    status, err = hub.request("GET", "/devices", token=None)
    assert status == 401 and err["code"] == "unauthorized" and "hearth open" in err["message"]
    status, err = hub.request("GET", "/devices", token="0" * 64)
    assert status == 401
    status, err = hub.request("POST", "/devices/../../etc/approve")
    assert status in (400, 404)
    status, err = hub.request("GET", "/devices/not-an-id")
    assert status == 400 and err["code"] == "bad_request" and "hearth devices" in err["message"]
    status, err = hub.request("GET", "/devices/d-000000000000")
    assert status == 404 and err["code"] == "not_found"
    bad = hub.cli("device", "approve", "nonsense", check=False)
    assert bad.returncode != 0 and "not a device id" in bad.stderr
    status, body = hub.request("GET", "/status")
    assert status == 200 and body["secret_storage"]["kind"] == "file" and "no OS keyring" in body["secret_storage"]["reason"]
    assert "_hap._tcp" in body["discovery"]["service_types"]


def test_cli_without_a_running_hub_says_how_to_start_one(tmp_path):
    import subprocess
    from conftest import HEARTH
    r = subprocess.run([str(HEARTH), "devices", "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "hearth serve --data-dir" in r.stderr


def test_a_port_in_use_is_a_clear_error(tmp_path):
    import subprocess
    from conftest import HEARTH, occupied_port
    with occupied_port() as port:
        r = subprocess.run([str(HEARTH), "serve", "--data-dir", str(tmp_path), "--http-listen", f"127.0.0.1:{port}", "--no-discovery"],
                           capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "in use" in r.stderr and "--http-listen" in r.stderr


def test_a_bad_config_value_names_the_key_and_file(tmp_path):
    import subprocess
    from conftest import HEARTH
    (tmp_path / "hearth.toml").write_text('[http]\nlisten = "nowhere"\n')
    r = subprocess.run([str(HEARTH), "serve", "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "hearth.toml" in r.stderr and "listen" in r.stderr


def test_a_corrupt_database_is_a_clear_error_and_is_left_alone(tmp_path):
    import subprocess
    from conftest import HEARTH
    db = tmp_path / "hearth.db"
    db.write_bytes(b"not a database " * 100)
    r = subprocess.run([str(HEARTH), "serve", "--data-dir", str(tmp_path), "--no-discovery"], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "hearth.db" in r.stderr and "move it aside" in r.stderr
    assert db.read_bytes().startswith(b"not a database")


def test_a_second_hub_on_the_same_data_directory_is_refused(hub):
    import subprocess
    from conftest import HEARTH
    r = subprocess.run([str(HEARTH), "serve", "--data-dir", str(hub.data_dir), "--http-listen", "127.0.0.1:0", "--no-discovery"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "already running" in r.stderr and str(hub.proc.pid) in r.stderr
    assert hub.get("/status")["version"], "the first hub is unaffected"


def test_the_simulated_home_is_found_whole_including_its_quirky_responders(hub):
    import subprocess
    from conftest import HEARTH
    demo = subprocess.Popen([str(HEARTH), "demo", "--duration", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        devices = hub.wait_for(lambda ds: ds if len(ds) >= 18 else None, "the 18 devices of the simulated home", timeout=30)
        by_name = {d["name"]: d for d in devices}
        # Found only because Hearth read the type out of a wrong (instance) meta-query answer.
        garage = by_name["Garage Door Opener"]
        assert garage["services"][0]["type"] == "_arduino._tcp" and garage["rule"] == "arduino-ota"
        # Ignores the meta-query: found because Hearth browses _http._tcp regardless.
        assert by_name["awair-elem-1a2b3c"]["vendor"] == "Awair"
        assert len({d["kind"] for d in devices}) >= 8
        assert all(d["rule"] != "none" for d in devices), [d["name"] for d in devices if d["rule"] == "none"]
    finally:
        demo.terminate()
        demo.wait(timeout=10)
    # The demo says goodbye on the way out: everything goes offline, nothing is deleted.
    hub.wait_for(lambda ds: len(ds) >= 18 and not any(d["online"] for d in ds), "every simulated device offline", timeout=20)


def test_the_demo_refuses_the_real_network_unless_asked(tmp_path):
    import os
    import subprocess
    from conftest import HEARTH
    env = {k: v for k, v in os.environ.items() if k != "HEARTH_IN_NETNS"}
    r = subprocess.run([str(HEARTH), "demo", "--duration", "1"], capture_output=True, text=True, timeout=20, env=env)
    assert r.returncode != 0 and "--real-network" in r.stderr
