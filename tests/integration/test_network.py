"""Hearth on the network: it announces itself, and `--interface` limits where it listens."""

import time

from zeroconf import IPVersion, ServiceBrowser, Zeroconf

from conftest import DEVICE_ADDRESS, Hub


def test_hearth_announces_itself_with_its_version_and_api_port(hub):
    zc = Zeroconf(interfaces=[DEVICE_ADDRESS], ip_version=IPVersion.V4Only)
    try:
        found = []
        ServiceBrowser(zc, "_hearth._tcp.local.", handlers=[lambda zeroconf, service_type, name, state_change: found.append(name)])
        deadline = time.time() + 10
        while not found and time.time() < deadline:
            time.sleep(0.1)
        assert found, "no _hearth._tcp record seen"
        info = zc.get_service_info("_hearth._tcp.local.", found[0], timeout=3000)
        assert info is not None
        props = {k.decode(): v.decode() for k, v in info.properties.items()}
        port = int(hub.url.rsplit(":", 1)[1])
        assert props["api"] == str(port) and info.port == port
        assert props["version"] == hub.get("/status")["version"]
        assert props["path"] == "/api/v1"
    finally:
        zc.close()


def test_interface_option_limits_discovery(tmp_path, responders):
    lo_only = Hub(tmp_path, ["--interface", "lo"])
    try:
        responders.announce("_wled._tcp", "wled-elsewhere", "wled-elsewhere", txt={"mac": "a4cf12000002"})
        time.sleep(4)
        assert lo_only.devices() == [], "a hub limited to lo must not see devices on the veth link"
        status = lo_only.get("/status")["discovery"]
        assert status["interfaces"] == ["lo"] and status["enabled"]
    finally:
        lo_only.stop()
        lo_only.log.close()
