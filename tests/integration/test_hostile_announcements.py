"""A hostile home network, part 1: forged mDNS announcements (python-zeroconf, from a third host
of the namespace) try to join two devices' records. No announcement may change what a device is
allowed to do: a self-contradicting one is recorded and shown, one linking two decided records
is a question for a person."""

import json
import socket
import subprocess

import pytest
from zeroconf import IPVersion, ServiceInfo, Zeroconf

from mqtt_device import Device

ATTACKER = "10.77.0.3"


@pytest.fixture
def attacker():
    """A third host on the home network: its own address on the device side of the namespace,
    and its own mDNS responder."""
    have = subprocess.run(["ip", "-4", "addr", "show", "dev", "hearth1"], capture_output=True, text=True, check=True).stdout
    if f"{ATTACKER}/" not in have:
        subprocess.run(["ip", "addr", "add", f"{ATTACKER}/24", "dev", "hearth1"], check=True)
    zc = Zeroconf(interfaces=[ATTACKER], ip_version=IPVersion.V4Only)

    def announce(ty, instance, host, txt):
        info = ServiceInfo(f"{ty}.local.", f"{instance}.{ty}.local.", addresses=[socket.inet_aton(ATTACKER)], port=80,
                           properties=txt, server=f"{host}.local.")
        zc.register_service(info, cooperating_responders=True)
    yield announce
    zc.unregister_all_services()
    zc.close()


def decided_device(hub, responders, ty, instance, host, txt, topic):
    """A discovered device a person approved, gave a credential and topic rules."""
    responders.announce(ty, instance, host, txt=txt)
    device = hub.wait_for_device(instance)
    hub.cli("device", "approve", device["id"])
    issued = json.loads(hub.cli("device", "credentials", device["id"], "--rotate", "--json").stdout)
    hub.cli("device", "allow", device["id"], "--publish", f"stat/{topic}/#")
    hub.cli("device", "allow", device["id"], "--subscribe", f"cmnd/{topic}/#")
    return device["id"], issued["password"]


def permissions(hub, ids):
    """What each device may do, as the hub reports it."""
    out = {}
    for id in ids:
        detail = hub.get(f"/devices/{id}")
        view = json.loads(hub.cli("device", "topics", id, "--json").stdout)
        out[id] = (detail["device"]["state"], view["credential"]["username"],
                   sorted((r["direction"], r["pattern"], r["status"]) for r in view["rules"]))
    return out


def publishes_with(hub, username, password, topic):
    host, port = json.loads(hub.cli("status", "--json").stdout)["broker"]["address"].split(", ")[0].rsplit(":", 1)
    r = subprocess.run(["mosquitto_pub", "-h", host, "-p", port, "-u", username, "-P", password, "-t", topic, "-m", "locked", "-q", "1"],
                       capture_output=True, text=True, timeout=10)
    return r.returncode == 0


def test_a_forged_announcement_naming_two_devices_macs_is_recorded_not_merged(hub, responders, attacker):
    plug, _ = decided_device(hub, responders, "_shelly._tcp", "shellyplug-aaaaaa000001", "shellyplug-aaaaaa000001", {"gen": "2"}, "plug")
    lock, lock_secret = decided_device(hub, responders, "_hap._tcp", "Front Door Lock", "front-door-lock",
                                       {"ci": "6", "id": "AA:6C:01:5E:92:10", "mac": "bbbbbb000002"}, "lock")
    before = permissions(hub, [plug, lock])
    # The attacker's review: one _http._tcp announcement from a third host naming both MACs.
    attacker("_http._tcp", "printer", "printer", {"mac": "aa:aa:aa:00:00:01", "macaddress": "bb:bb:bb:00:00:02"})
    ignored = hub.wait_for(lambda _: hub.get("/identity")["ignored"], "the forged announcement on record")
    assert ignored[0]["keys"] == ["mac:aaaaaa000001", "mac:bbbbbb000002"]
    assert ignored[0]["announcement"]["addresses"] == [ATTACKER]
    # A positive control that the announcement was read, then: nothing changed.
    assert permissions(hub, [plug, lock]) == before
    assert sorted(d["id"] for d in hub.devices()) == sorted([plug, lock])
    assert publishes_with(hub, lock, lock_secret, "stat/lock/state"), "the lock's credential still works"
    assert "ignored" in hub.cli("identity").stdout

    # Two kinds of id (the lock's HomeKit id and the plug's MAC) in one announcement: a question.
    attacker("_hap._tcp", "Bridge", "bridge", {"id": "AA:6C:01:5E:92:10", "mac": "aaaaaa000001", "ci": "2"})
    proposals = hub.wait_for(lambda _: hub.get("/identity")["proposals"], "a question for a person")
    assert {proposals[0]["device_a"], proposals[0]["device_b"]} == {plug, lock}
    assert permissions(hub, [plug, lock]) == before, "asked, not merged"
    assert hub.get(f"/devices/{lock}")["merge_proposals"][0]["announcement"]["addresses"] == [ATTACKER]
    assert "one device?" in hub.cli("device", "show", lock).stdout
    # The person keeps them apart: the question is gone and is not asked again.
    hub.cli("device", "keep-apart", lock, plug)
    assert hub.get("/identity")["proposals"] == []
    assert permissions(hub, [plug, lock]) == before
    assert publishes_with(hub, lock, lock_secret, "stat/lock/state")


def test_a_person_merges_two_records_and_the_stricter_decision_wins(hub, responders):
    # One Apple TV seen as two records that a person decided about separately.
    responders.announce("_raop._tcp", "C92A14084F64@Den", "den-old", port=7000, txt={"am": "AppleTV6,2"})
    responders.announce("_companion-link._tcp", "Den", "den", port=49152, txt={"rpMd": "AppleTV6,2"})
    records = hub.wait_for(lambda ds: len(ds) == 2 and ds, "two records")
    raop = next(d["id"] for d in records if d["services"][0]["type"] == "_raop._tcp")
    other = next(d["id"] for d in records if d["id"] != raop)
    hub.cli("device", "approve", raop)
    hub.cli("device", "block", other)
    responders.announce("_airplay._tcp", "Den", "den", port=7000, txt={"deviceid": "C9:2A:14:08:4F:64", "model": "AppleTV6,2"})
    hub.wait_for(lambda _: hub.get("/identity")["proposals"], "the AirPlay record links them: a question")
    assert len(hub.devices()) == 2
    out = hub.cli("device", "merge", raop, other).stdout
    assert "Merged" in out
    devices = hub.devices()
    assert len(devices) == 1 and devices[0]["id"] == raop and devices[0]["state"] == "blocked"
    history = hub.get(f"/devices/{raop}")["history"]
    assert (history[-1]["to"], history[-1]["actor"], history[-1]["origin"]) == ("blocked", "owner", "cli")
