"""The DNS gate: Hearth as the home's resolver answers each device as its internet level and
destination rules say, forwards people's phones and laptops without recording them, and stays
up and fair under malformed packets, a flood from one address and a dead upstream. Devices are
addresses on the namespace's device side querying with Debian's dig; the upstream is Debian's
dnsmasq answering made-up names."""

import json
import socket
import threading
import time

import pytest

from conftest import Hub
from dns_tools import GATE_ADDRESS, NTP_V4, TRACKER_V4, VENDOR_V4, add_address, dig, free_port, upstream

CAMERA, SPEAKER, LAPTOP, FLOODER = "10.77.0.11", "10.77.0.12", "10.77.0.20", "10.77.0.66"


class Home:
    def __init__(self, hub: Hub, port: int):
        self.hub, self.port = hub, port

    def ask(self, source: str, name: str, rtype: str = "A", *options):
        return dig(GATE_ADDRESS, self.port, name, rtype, source, *options)

    def add(self, name: str, address: str, level: str | None = None) -> str:
        """A device added by a person (approved), known at `address` by its anonymous pin."""
        added = json.loads(self.hub.cli("device", "add", name, "--json").stdout)
        device_id = added["id"]
        self.hub.cli("device", "anonymous", device_id, "--client-id", name.lower(), "--address", address)
        if level:
            self.hub.cli("device", "internet", device_id, level)
        return device_id

    def destinations(self, device_id: str):
        return json.loads(self.hub.cli("device", "destinations", device_id, "--json").stdout)

    def wait_destination(self, device_id: str, name: str, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for d in self.destinations(device_id)["destinations"]:
                if d["name"] == name:
                    return d
            time.sleep(0.1)
        raise AssertionError(f"{name} never recorded for {device_id}: {self.destinations(device_id)}")


@pytest.fixture
def home(tmp_path):
    for address in (CAMERA, SPEAKER, LAPTOP, FLOODER):
        add_address(address)
    with upstream() as up:
        port = free_port()
        hub = Hub(tmp_path, ["--no-discovery", "--dns-listen", f"{GATE_ADDRESS}:{port}", "--dns-upstream", up])
        yield Home(hub, port)
        hub.stop()
        assert hub.proc.returncode == 0, hub.read_log()
        assert "panicked" not in hub.read_log()


def test_every_level_answers_every_query_type_as_it_should(home):
    camera = home.add("Camera", CAMERA, "allowed_list")
    home.hub.cli("device", "allow-domain", camera, "vendor.test")
    speaker = home.add("Speaker", SPEAKER, "unrestricted")
    home.hub.cli("device", "deny-domain", speaker, "ads.tracker.test")

    # Allowed list: the allowed domain and the names under it, forwarded with the upstream's answer.
    a = home.ask(CAMERA, "eu.cloud.vendor.test")
    assert (a.status, a.answers) == ("NOERROR", [VENDOR_V4]), a
    assert home.ask(CAMERA, "eu.cloud.vendor.test", "AAAA").answers == ["2001:db8::10"]
    # Anything else: 0.0.0.0 / :: with a short TTL, no data for other types; never REFUSED or SERVFAIL.
    refused = home.ask(CAMERA, "tracker.test")
    assert (refused.status, refused.records) == ("NOERROR", [("A", 30, "0.0.0.0")]), refused
    assert home.ask(CAMERA, "tracker.test", "AAAA").records == [("AAAA", 30, "::")]
    for rtype in ("TXT", "MX", "HTTPS", "SRV"):
        nodata = home.ask(CAMERA, "tracker.test", rtype)
        assert (nodata.status, nodata.records) == ("NOERROR", []), (rtype, nodata)
    # Time servers are on every device's default list; canary names keep it off DoH / Private Relay.
    assert home.ask(CAMERA, "0.pool.ntp.org").answers == [NTP_V4]
    for canary in ("use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com"):
        assert home.ask(CAMERA, canary).status == "NXDOMAIN", canary

    # Unrestricted: anything, but a person's deny holds.
    assert home.ask(SPEAKER, "tracker.test").answers == [TRACKER_V4]
    assert home.ask(SPEAKER, "x.ads.tracker.test").answers == ["0.0.0.0"]
    assert home.ask(SPEAKER, "use-application-dns.net").status != "NXDOMAIN", "an unrestricted device is not steered"

    # Home only: only the home's names and the time servers, even what a rule allows.
    home.hub.cli("device", "internet", camera, "home_only")
    assert home.ask(CAMERA, "eu.cloud.vendor.test").answers == ["0.0.0.0"]
    assert home.ask(CAMERA, "0.pool.ntp.org").answers == [NTP_V4]

    # Blocked: nothing at all, at once.
    home.hub.cli("device", "block", speaker)
    assert home.ask(SPEAKER, "0.pool.ntp.org").answers == ["0.0.0.0"]
    assert home.ask(SPEAKER, "tracker.test").answers == ["0.0.0.0"]

    # Every query of a known device is in the ledger, with the rule that decided it.
    d = home.wait_destination(camera, "tracker.test")
    assert (d["last_action"], d["because"], d["refused"]) == ("refuse", "not_on_list", d["queries"])
    allowed = home.wait_destination(camera, "eu.cloud.vendor.test")
    assert allowed["domain"] == "vendor.test" and allowed["answers"] in ([VENDOR_V4], ["2001:db8::10"]), allowed
    assert home.wait_destination(camera, "use-application-dns.net")["because"] == "canary"


def test_names_asked_while_learning_are_proposed_then_allowed_in_one_step(home):
    plug = home.add("Plug", CAMERA)  # approved, no level chosen: it learns for its first hours
    assert home.ask(CAMERA, "api.vendor.test").answers == [VENDOR_V4], "learning: forwarded"
    assert home.ask(CAMERA, "tracker.test").answers == [TRACKER_V4]
    waiting = home.wait_destination(plug, "tracker.test")
    assert waiting["waiting"] and waiting["because"] == "learning"
    view = home.destinations(plug)
    assert view["learning"] and not view["level_chosen"]

    # A person chooses the allowed list: learning ends; what it asked waits for a decision.
    home.hub.cli("device", "internet", plug, "allowed_list")
    assert home.ask(CAMERA, "api.vendor.test").answers == ["0.0.0.0"]
    status, allowed = home.hub.request("POST", f"/devices/{plug}/network/allow-waiting")
    assert status == 200, allowed
    assert not any(d["waiting"] for d in allowed["destinations"])
    rules = {r["domain"]: r["source"] for r in allowed["rules"]}
    assert rules == {"api.vendor.test": "learned", "tracker.test": "learned"}, rules
    assert home.ask(CAMERA, "api.vendor.test").answers == [VENDOR_V4]
    home.hub.cli("device", "remove-domain", plug, "tracker.test")
    assert home.ask(CAMERA, "tracker.test").answers == ["0.0.0.0"]
    # The audit says who allowed what.
    audit = home.hub.read_log()
    assert "internet level set" in audit


def test_people_are_forwarded_and_not_recorded(home):
    camera = home.add("Camera", CAMERA, "home_only")
    assert home.ask(LAPTOP, "tracker.test").answers == [TRACKER_V4]
    assert home.ask(LAPTOP, "use-application-dns.net").status != "NXDOMAIN"
    home.ask(CAMERA, "0.pool.ntp.org")
    home.wait_destination(camera, "0.pool.ntp.org")
    network = home.hub.get("/network")
    assert all(t["domain"] != "tracker.test" for t in network["traffic"]), "a laptop's query is nobody's record"
    assert network["devices_using_dns"] == 1


def test_announcing_another_devices_address_gains_nothing(home, responders):
    speaker = home.add("Speaker", SPEAKER, "unrestricted")
    camera = home.add("Camera", CAMERA, "home_only")
    assert home.ask(SPEAKER, "tracker.test").answers == [TRACKER_V4]
    # The camera's pin moves to the speaker's address: now two devices claim it.
    home.hub.cli("device", "anonymous", camera, "--client-id", "camera", "--address", SPEAKER)
    deadline = time.time() + 10
    while home.ask(SPEAKER, "tracker.test").answers != ["0.0.0.0"] and time.time() < deadline:
        time.sleep(0.2)
    assert home.ask(SPEAKER, "tracker.test").answers == ["0.0.0.0"], "a claimed address gets the stricter answer"
    assert home.ask(SPEAKER, "some.tracker.test").answers == ["0.0.0.0"]
    time.sleep(1)  # what the recorder gathered is written by now
    names = {d["name"] for d in home.destinations(camera)["destinations"]}
    assert "some.tracker.test" not in names, "recorded under neither device"


def test_a_dead_upstream_fails_fast_without_piling_up_queries(tmp_path):
    add_address(CAMERA)
    port = free_port()
    dead = f"127.0.0.1:{free_port()}"
    hub = Hub(tmp_path, ["--no-discovery", "--dns-listen", f"{GATE_ADDRESS}:{port}", "--dns-upstream", dead])
    try:
        home = Home(hub, port)
        camera = home.add("Camera", CAMERA, "allowed_list")
        started = time.time()
        a = home.ask(CAMERA, "time.apple.com")
        assert a.status == "SERVFAIL" and time.time() - started < 3.5, (a, time.time() - started)
        # Refused names need no upstream: answered at once.
        started = time.time()
        assert home.ask(CAMERA, "tracker.test").answers == ["0.0.0.0"] and time.time() - started < 1
        # 400 queries at once: every one answered (SERVFAIL or refused) within the timeout, none left waiting.
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((CAMERA, 0))
        sock.settimeout(6)
        for i in range(400):
            sock.sendto(query(i, f"n{i}.time.apple.com"), (GATE_ADDRESS, port))
        got = 0
        try:
            while got < 400:
                sock.recv(512)
                got += 1
        except socket.timeout:
            pass
        assert got >= 90, f"only {got} answers"  # the per-client limit (100 burst) lets the rest drop
        assert camera
    finally:
        hub.stop()
    assert hub.proc.returncode == 0, hub.read_log()


def query(ident: int, name: str, qtype: int = 1) -> bytes:
    header = ident.to_bytes(2, "big") + b"\x01\x00" + b"\x00\x01\x00\x00\x00\x00\x00\x00"
    qname = b"".join(len(p).to_bytes(1, "big") + p.encode() for p in name.split(".")) + b"\x00"
    return header + qname + qtype.to_bytes(2, "big") + b"\x00\x01"


def test_malformed_packets_and_a_flood_from_one_address_leave_the_others_answered(home):
    camera = home.add("Camera", CAMERA, "allowed_list")
    home.hub.cli("device", "allow-domain", camera, "vendor.test")
    bad = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bad.bind((FLOODER, 0))
    for packet in (b"", b"\x00", b"\x12\x34" + b"\xff" * 10, query(1, "a.test")[:15], b"\x00" * 3000,
                   query(2, "a.test") + b"\xff" * 600, b"\x12\x34\x81\x80" + b"\x00" * 8):
        bad.sendto(packet, (GATE_ADDRESS, home.port))
    # A name label longer than 63 bytes, and a compression pointer loop.
    bad.sendto(b"\x00\x03\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\x50" + b"a" * 80 + b"\x00\x00\x01\x00\x01", (GATE_ADDRESS, home.port))
    bad.sendto(b"\x00\x04\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01", (GATE_ADDRESS, home.port))

    stop = threading.Event()
    sent = []

    def flood():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((FLOODER, 0))
        i = 0
        while not stop.is_set():
            s.sendto(query(i % 65536, f"f{i}.tracker.test"), (GATE_ADDRESS, home.port))
            i += 1
        sent.append(i)

    threads = [threading.Thread(target=flood) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        worst = 0.0
        for _ in range(20):
            started = time.time()
            a = home.ask(CAMERA, "eu.vendor.test")
            worst = max(worst, time.time() - started)
            assert a.answers == [VENDOR_V4], a
        assert worst < 1.0, f"a device waited {worst:.2f}s during the flood"
    finally:
        stop.set()
        for t in threads:
            t.join()
    status = json.loads(home.hub.cli("status", "--json").stdout)["network"]
    assert status["rate_limited"] > 1000, (status, sent)
    print(f"\nflood: {sum(sent)} queries sent, {status['rate_limited']} dropped by the per-client limit; worst device answer {worst * 1000:.0f} ms")


def test_large_answers_truncate_over_udp_and_come_whole_over_tcp(home):
    home.add("Speaker", SPEAKER, "unrestricted")
    plain = home.ask(SPEAKER, "big.vendor.test", "TXT", "+noedns", "+ignore")
    # Within 512 bytes: what fits, flagged truncated, so the client asks again over TCP.
    assert "tc" in plain.flags and len(plain.records) < 4, plain
    assert len(plain.text.encode()) < 2000
    edns = home.ask(SPEAKER, "big.vendor.test", "TXT", "+bufsize=1232")
    assert len(edns.records) == 4 and "tc" not in edns.flags, edns
    tcp = home.ask(SPEAKER, "big.vendor.test", "TXT", "+tcp")
    assert len(tcp.records) == 4, tcp


MAKERS_MUD = {
    "ietf-mud:mud": {
        "mud-version": 1, "mud-url": "https://vendor.test/mud/cam.json", "last-update": "2026-11-01T10:00:00+00:00",
        "cache-validity": 48, "is-supported": True, "systeminfo": "Vendor camera", "mfg-name": "Vendor",
        "from-device-policy": {"access-lists": {"access-list": [{"name": "from-cam"}]}},
        "to-device-policy": {"access-lists": {"access-list": [{"name": "to-cam"}]}},
    },
    "ietf-access-control-list:acls": {"acl": [
        {"name": "from-cam", "type": "ipv4-acl-type", "aces": {"ace": [
            {"name": "cloud", "matches": {"ipv4": {"ietf-acldns:dst-dnsname": "cloud.vendor.test", "protocol": 6},
                                          "tcp": {"destination-port": {"operator": "eq", "port": 443}}},
             "actions": {"forwarding": "accept"}},
            {"name": "same-maker", "matches": {"ietf-mud:mud": {"same-manufacturer": [None]}}, "actions": {"forwarding": "accept"}},
        ]}},
        {"name": "to-cam", "type": "ipv4-acl-type", "aces": {"ace": [
            {"name": "cloud-in", "matches": {"ipv4": {"ietf-acldns:src-dnsname": "cloud.vendor.test", "protocol": 6}},
             "actions": {"forwarding": "accept"}},
        ]}},
    ]},
}


def test_a_makers_mud_file_becomes_the_devices_rules(home, tmp_path):
    camera = home.add("Camera", CAMERA, "allowed_list")
    assert home.ask(CAMERA, "eu.cloud.vendor.test").answers == ["0.0.0.0"]
    mud = tmp_path / "cam.json"
    mud.write_text(json.dumps(MAKERS_MUD))
    out = home.hub.cli("mud", "import", camera, str(mud)).stdout
    assert "allow cloud.vendor.test" in out and "not enforced by Hearth" in out, out
    assert "same-manufacturer" in out and "443" in out, "what Hearth cannot hold is listed, with where"
    assert home.ask(CAMERA, "eu.cloud.vendor.test").answers == [VENDOR_V4]
    assert home.ask(CAMERA, "other.vendor.test").answers == ["0.0.0.0"], "the file allows cloud.vendor.test only"
    rules = home.destinations(camera)["rules"]
    assert [(r["domain"], r["source"]) for r in rules] == [("cloud.vendor.test", "mud")]
    exported = json.loads(home.hub.cli("mud", "export", camera).stdout)
    assert "cloud.vendor.test" in json.dumps(exported) and exported["ietf-mud:mud"]["mud-version"] == 1
    # A malformed file is refused with the JSON path of what is wrong; the rules stay.
    broken = dict(MAKERS_MUD, **{"ietf-mud:mud": dict(MAKERS_MUD["ietf-mud:mud"], **{"mud-version": "one"})})
    mud.write_text(json.dumps(broken))
    failed = home.hub.cli("mud", "import", camera, str(mud), check=False)
    assert failed.returncode != 0 and "mud-version" in failed.stderr, failed.stderr
    assert home.ask(CAMERA, "eu.cloud.vendor.test").answers == [VENDOR_V4]
