"""Bad input from the network: malformed and huge TXT records, odd names, a flapping device,
a responder answering the meta-query wrongly, an interface going down. No crash, sensible display."""

import subprocess
import time

from conftest import DEVICE_ADDRESS
from quirky_responder import QuirkyResponder, announce_once_then_fall_silent


def test_malformed_txt_records_are_shown_not_fatal(hub, responders):
    # Raw TXT: an entry with an empty key, one without '=', bytes that are not UTF-8, a
    # zero-length string, and a final length byte claiming more bytes than the record holds.
    # (mdns-sd stops reading TXT at a zero-length string, so it comes after what we check.)
    raw = b"\x03=ab" + b"\x05nokey" + b"\x06bin=\xff\xfe" + b"\x07mac=zz!" + b"\x00" + b"\x20abc"
    responders.announce("_http._tcp", "malformed-txt", "malformed-txt", txt=raw)
    device = hub.wait_for_device("malformed-txt")
    txt = {e["key"]: e["value"] for e in device["services"][0]["txt"]}
    assert "" not in txt
    assert txt.get("bin") == "\ufffd\ufffd"
    assert txt.get("mac") == "zz!", "shown as it came"
    # ...but a MAC that is not one never becomes an identity key.
    keys = hub.get(f"/devices/{device['id']}")["identity_keys"]
    assert not [k for k in keys if k.startswith("mac:")], keys
    assert device["kind"] == "unknown"


def test_a_huge_txt_record_is_bounded(hub, responders):
    # 100 entries (about 4 KB of TXT) against Hearth's bound of 64. A single entry cannot exceed
    # 255 bytes on the wire (one length byte), so the value bound is covered by unit tests only.
    txt = {f"key{i:03}": "x" * 30 for i in range(100)}
    responders.announce("_http._tcp", "huge-txt", "huge-txt", txt=txt)
    device = hub.wait_for_device("huge-txt")
    entries = device["services"][0]["txt"]
    assert len(entries) == 64
    assert all(e["value"] == "x" * 30 for e in entries)


def test_odd_names_are_kept_verbatim_and_harmless(hub, responders):
    name = 'Küche <b>"Plug"</b> ☃ & co'
    responders.announce("_hap._tcp", name, "odd-name-host", txt={"ci": "7", "md": "Plug", "id": "12:34:56:78:9A:BC"})
    device = hub.wait_for_device(name)
    assert device["kind"] == "plug"
    out = hub.cli("devices").stdout
    assert "Küche" in out


def test_a_flapping_device_stays_one_device(hub, responders):
    for _ in range(8):
        info = responders.announce("_shelly._tcp", "shelly1pm-84cca8ade2fa", "shelly1pm-84cca8ade2fa", txt={"gen": "2"})
        responders.goodbye(info)
    responders.announce("_shelly._tcp", "shelly1pm-84cca8ade2fa", "shelly1pm-84cca8ade2fa", txt={"gen": "2"})
    device = hub.wait_for_device("shelly1pm-84cca8ade2fa", online=True)
    time.sleep(1.5)
    devices = hub.devices()
    assert len(devices) == 1 and devices[0]["id"] == device["id"] and devices[0]["online"]
    assert len(hub.get(f"/devices/{device['id']}")["history"]) == 1, "coming and going is not a state change"


def test_a_device_that_falls_silent_goes_offline_when_its_records_expire(hub):
    # No goodbye: the records simply run out (TTL 4 s) and the refresh queries go unanswered.
    announce_once_then_fall_silent("wled-unplugged", "_wled._tcp", "wled-unplugged", DEVICE_ADDRESS, 80, {b"mac": b"a4cf12000003"}, ttl=4)
    device = hub.wait_for_device("wled-unplugged", online=True)
    started = time.time()
    gone = hub.wait_for_device("wled-unplugged", online=False, timeout=20)
    assert gone["id"] == device["id"], "offline, not deleted"
    assert time.time() - started < 15
    assert [s["present"] for s in gone["services"]] == [False]


def test_a_type_revealed_only_by_a_wrong_meta_query_answer_is_followed(hub):
    # An ESP8266-style responder answers the meta-query with an *instance* PTR for a type Hearth
    # does not browse by default; Hearth must read the type out of it and find the device.
    with QuirkyResponder(instance="quirky-node", service_type="_arduino._tcp", host="quirky-node", address="10.77.0.2", port=8266,
                         txt={b"board": b"d1_mini", b"mac": b"5ccf7f001122"}) as quirky:
        device = hub.wait_for_device("quirky-node", timeout=20)
        assert quirky.meta_queries_answered > 0
    assert device["services"][0]["type"] == "_arduino._tcp"
    assert "mac:5ccf7f001122" in hub.get(f"/devices/{device['id']}")["identity_keys"]
    assert "_arduino._tcp" in hub.get("/status")["discovery"]["service_types"]


def test_an_interface_going_down_and_up_is_survived(hub, responders):
    responders.announce("_ipp._tcp", "Brother HL-L2350DW series", "brother-hl", port=631, txt={"ty": "Brother HL-L2350DW series", "rp": "ipp/print"})
    hub.wait_for_device("Brother HL-L2350DW series")
    subprocess.run(["ip", "link", "set", "hearth0", "down"], check=True)
    time.sleep(7)  # longer than Hearth's interface re-check interval
    subprocess.run(["ip", "link", "set", "hearth0", "up"], check=True)
    subprocess.run(["ip", "route", "replace", "224.0.0.0/4", "dev", "hearth0"], check=True)
    time.sleep(7)
    assert hub.proc.poll() is None, hub.read_log()
    responders.announce("_wled._tcp", "wled-after-churn", "wled-after-churn", txt={"mac": "a4cf12000001"})
    hub.wait_for_device("wled-after-churn", timeout=20)
