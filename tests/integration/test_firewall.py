"""The firewall for real: three network namespaces (a device, the gateway running Hearth with
forwarding on, and a "wan" with Debian's dnsmasq as the upstream and TCP listeners on a vendor's
and a tracker's address). An allowed name's address is reachable once Hearth answered it (and
is in the firewall before the answer arrives), an address never resolved is rejected, DNS sent
straight to the wan resolver is answered by Hearth, DNS over TLS is refused, and the table is
gone when Hearth stops. The exports are checked by nft itself."""

import json
import os
import subprocess
import time

import pytest

from conftest import HEARTH, Hub

DEVICE_MAC = "02:00:00:00:88:11"
DEVICE, GATEWAY_LAN = "10.88.1.11", "10.88.1.1"
GATEWAY_WAN, WAN_DNS, VENDOR, TRACKER = "198.51.100.1", "198.51.100.2", "198.51.100.10", "198.51.100.66"

LISTENER = """
import socket, sys, threading
def serve(addr, port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((addr, port)); s.listen(64)
    while True:
        c, _ = s.accept(); c.sendall(b"hello from " + addr.encode()); c.close()
for a in sys.argv[1:]:
    for p in (80, 853):
        threading.Thread(target=serve, args=(a, p), daemon=True).start()
threading.Event().wait()
"""


class Namespace:
    """A network namespace held by a sleeping process (gone when it ends: nothing named is left
    behind on the machine)."""

    def __init__(self):
        self.proc = subprocess.Popen(["unshare", "--net", "sleep", "infinity"])
        time.sleep(0.2)
        self.pid = self.proc.pid

    def run(self, *cmd, check=True, **kw):
        return subprocess.run(["nsenter", "--net", f"--target={self.pid}", *cmd], check=check, capture_output=True, text=True, **kw)

    def popen(self, *cmd):
        return subprocess.Popen(["nsenter", "--net", f"--target={self.pid}", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def close(self):
        self.proc.kill()
        self.proc.wait()


def sh(*cmd):
    subprocess.run(cmd, check=True)


@pytest.fixture
def gateway(tmp_path):
    device, wan = Namespace(), Namespace()
    procs = []
    try:
        sh("ip", "link", "add", "fwdev0", "type", "veth", "peer", "name", "fwdev1")
        sh("ip", "link", "set", "fwdev1", "netns", str(device.pid))
        sh("ip", "addr", "add", f"{GATEWAY_LAN}/24", "dev", "fwdev0")
        sh("ip", "link", "set", "fwdev0", "up")
        device.run("ip", "link", "set", "lo", "up")
        device.run("ip", "link", "set", "fwdev1", "address", DEVICE_MAC)
        device.run("ip", "addr", "add", f"{DEVICE}/24", "dev", "fwdev1")
        device.run("ip", "link", "set", "fwdev1", "up")
        device.run("ip", "route", "add", "default", "via", GATEWAY_LAN)

        sh("ip", "link", "add", "fwwan0", "type", "veth", "peer", "name", "fwwan1")
        sh("ip", "link", "set", "fwwan1", "netns", str(wan.pid))
        sh("ip", "addr", "add", f"{GATEWAY_WAN}/24", "dev", "fwwan0")
        sh("ip", "link", "set", "fwwan0", "up")
        wan.run("ip", "link", "set", "lo", "up")
        for a in (WAN_DNS, VENDOR, TRACKER):
            wan.run("ip", "addr", "add", f"{a}/24", "dev", "fwwan1")
        wan.run("ip", "link", "set", "fwwan1", "up")
        wan.run("ip", "route", "add", "10.88.1.0/24", "via", GATEWAY_WAN)
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1")

        procs.append(wan.popen("dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--port=53", f"--listen-address={WAN_DNS}",
                               "--bind-interfaces", "--pid-file=", "--user=root",
                               f"--address=/vendor.test/{VENDOR}", f"--address=/tracker.test/{TRACKER}"))
        procs.append(wan.popen("python3", "-c", LISTENER, VENDOR, TRACKER))
        time.sleep(0.5)
        hub = Hub(tmp_path, ["--no-discovery", "--dns-listen", f"{GATEWAY_LAN}:53", "--dns-upstream", f"{WAN_DNS}:53", "--apply-firewall"])
        yield hub, device
        hub.stop()
        assert hub.proc.returncode == 0, hub.read_log()
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        assert "hearth" not in tables, "Hearth removes its table when it stops"
    finally:
        for p in procs:
            p.kill()
        device.close()
        wan.close()
        for link in ("fwdev0", "fwwan0"):
            subprocess.run(["ip", "link", "del", link], capture_output=True)


def connect(device: Namespace, address: str, port: int) -> str:
    """What a TCP connection from the device to address:port gets: its greeting, or the error."""
    code = ("import socket,sys\ns=socket.socket();s.settimeout(3)\n"
            "try:\n s.connect((sys.argv[1],int(sys.argv[2])));print(s.recv(64).decode())\n"
            "except Exception as e:\n print(type(e).__name__)")
    return device.run("python3", "-c", code, address, str(port)).stdout.strip()


def dig(device: Namespace, server: str, name: str) -> list[str]:
    return device.run("dig", f"@{server}", name, "A", "+short", "+tries=1", "+time=3").stdout.split()


def test_the_firewall_lets_a_device_reach_only_what_hearth_answered_it(gateway):
    hub, device = gateway
    added = json.loads(hub.cli("device", "add", "Camera", "--json").stdout)
    camera = added["id"]
    hub.cli("device", "anonymous", camera, "--client-id", "camera", "--address", DEVICE)
    hub.cli("device", "internet", camera, "allowed_list")
    hub.cli("device", "allow-domain", camera, "vendor.test")

    # Before Hearth knows its MAC address (from its first query), the device is not held.
    assert dig(device, GATEWAY_LAN, "time.apple.com") is not None
    deadline = time.time() + 15
    while time.time() < deadline:
        status = json.loads(hub.cli("status", "--json").stdout)["network"]["firewall"]
        if status["devices"] == 1:
            break
        time.sleep(0.2)
    assert status["devices"] == 1 and status["applied"], status
    view = json.loads(hub.cli("device", "destinations", camera, "--json").stdout)
    assert view["enforcement"] == "firewall", view["enforcement"]

    # An address never resolved through Hearth: rejected at the gateway.
    assert connect(device, TRACKER, 80) in ("ConnectionRefusedError", "OSError", "timeout", "TimeoutError"), "tracker reachable"
    # Resolved through Hearth: reachable; its address was in the firewall before the answer arrived.
    set_name = "dev_" + camera.removeprefix("d-") + "_v4"
    assert dig(device, GATEWAY_LAN, "cloud.vendor.test") == [VENDOR]
    elements = subprocess.run(["nft", "list", "set", "inet", "hearth", set_name], capture_output=True, text=True).stdout
    assert VENDOR in elements and "timeout" in elements, elements
    assert connect(device, VENDOR, 80) == f"hello from {VENDOR}"
    fill = json.loads(hub.cli("status", "--json").stdout)["network"]["firewall"]
    print(f"\nanswer → firewall element: last {fill['last_fill_micros']} µs, worst {fill['worst_fill_micros']} µs (one nft run, before the answer)")
    # DNS over TLS: refused, even to an address it may reach.
    assert connect(device, VENDOR, 853) in ("ConnectionRefusedError", "ConnectionResetError"), "853 open"
    # DNS straight to the wan's resolver is answered by Hearth (redirected): the tracker is refused.
    assert dig(device, WAN_DNS, "tracker.test") == ["0.0.0.0"]
    deadline = time.time() + 5  # the recorder writes what gathered every 50 ms or so
    names = set()
    while "tracker.test" not in names and time.time() < deadline:
        names = {d["name"] for d in json.loads(hub.cli("device", "destinations", camera, "--json").stdout)["destinations"]}
        time.sleep(0.1)
    assert "tracker.test" in names, "the redirected query is recorded"
    # Refused names stay unreachable even if the device learns the address elsewhere.
    assert connect(device, TRACKER, 80) != f"hello from {TRACKER}"

    # Blocking it: nothing goes through any more.
    hub.cli("device", "block", camera)
    deadline = time.time() + 10
    while connect(device, VENDOR, 80) == f"hello from {VENDOR}" and time.time() < deadline:
        time.sleep(0.3)
    assert connect(device, VENDOR, 80) != f"hello from {VENDOR}"

    # The exports: the nft file passes nft's own check; the OpenWrt one has fw4's shape.
    hub.cli("device", "approve", camera)
    exported = hub.cli("network", "export", "--nft").stdout
    check = subprocess.run(["nft", "-c", "-f", "-"], input=exported, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr + exported
    openwrt = hub.cli("network", "export", "--openwrt").stdout
    assert f"set hearth_{set_name} {{ type ipv4_addr; flags timeout; timeout 1h; }}" in openwrt, openwrt
    assert f"nftset=/vendor.test/4#inet#fw4#hearth_{set_name}" in openwrt
    assert "table inet" not in openwrt.split("cut: /etc/nftables.d")[1].split("cut: /etc/dnsmasq.d")[0]
    # The fw4 include, wrapped as fw4 wraps it, passes nft's check too.
    include = openwrt.split("----\n", 1)[1].split("# ---- cut: /etc/dnsmasq.d")[0]
    wrapped = "table inet fw4 {\n" + include + "}\n"
    check = subprocess.run(["nft", "-c", "-f", "-"], input=wrapped, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr + wrapped
