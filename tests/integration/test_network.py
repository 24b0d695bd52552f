"""Hearth on the network: it announces itself when others can reach it, serves its web UI over
TLS from its own CA beyond loopback, and `--interface` limits where it listens."""

import subprocess
import time

import pytest

from zeroconf import IPVersion, ServiceBrowser, Zeroconf

from conftest import DEVICE_ADDRESS, Hub


def browse_hearth(seconds: float, service_type: str = "_hearth._tcp.local."):
    """(zeroconf, names of `service_type` instances seen within `seconds`) from the device side."""
    zc = Zeroconf(interfaces=[DEVICE_ADDRESS], ip_version=IPVersion.V4Only)
    found = []
    ServiceBrowser(zc, service_type, handlers=[lambda zeroconf, service_type, name, state_change: found.append(name)])
    deadline = time.time() + seconds
    while not found and time.time() < deadline:
        time.sleep(0.1)
    return zc, found


@pytest.fixture
def network_hub(tmp_path):
    h = Hub(tmp_path, ["--allow-plain-http"], listen="0.0.0.0:0", mqtt_listen="0.0.0.0:0")
    yield h
    h.stop()
    h.log.close()


def test_beyond_loopback_the_web_ui_is_served_over_tls_from_hearths_own_ca(tmp_path):
    import http.client
    import ssl
    import urllib.request
    hub = Hub(tmp_path, ["--no-discovery"], listen="0.0.0.0:0")
    try:
        assert hub.url.startswith("https://127.0.0.1:")
        assert hub.get("/status")["version"], "trusted through DATA_DIR/ca.pem"
        port = int(hub.url.rsplit(":", 1)[1])
        # Plain HTTP to the same port gets no answer a browser would accept.
        plain = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            plain.request("GET", "/api/v1/status")
            answered = plain.getresponse().status
        except (http.client.HTTPException, OSError):
            answered = None
        assert answered in (None, 400), answered
        # Without Hearth's CA, a client refuses the hub.
        try:
            urllib.request.urlopen(f"{hub.url}/api/v1/status", timeout=5, context=ssl.create_default_context())
            raise AssertionError("an unknown CA was trusted")
        except urllib.error.URLError as e:
            assert "CERTIFICATE_VERIFY_FAILED" in str(e), e
        # The sign-in cookie is Secure, and the links printed for the home network are https.
        code = hub.cli("open").stdout.strip().rsplit("code=", 1)[1]
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=hub.tls)
        conn.request("GET", f"/login?code={code}")
        cookie = conn.getresponse().getheader("set-cookie")
        assert "Secure" in cookie and "HttpOnly" in cookie, cookie
        assert f"https://10.77.0.1:{port}/login?code=" in hub.read_log()
        # The CLI finds the hub and trusts its CA, and says what it is.
        assert "TLS: Hearth's CA" in hub.cli("status").stdout
        assert hub.get("/status")["ca"]["replaced"] is None, "a first CA replaces nothing"
        # From the home network too: the private address is in the certificate, which OpenSSL
        # checks against the CA's name constraints.
        home = http.client.HTTPSConnection("10.77.0.1", port, timeout=5, context=hub.tls)
        home.request("GET", "/api/v1/status")
        assert home.getresponse().status == 401, "TLS accepted; the API still asks to sign in"
    finally:
        hub.stop()
        hub.log.close()


def test_an_unconstrained_ca_from_an_earlier_version_is_replaced_loudly(tmp_path):
    # What an earlier Hearth left: a ten-year CA without name constraints, its key in the
    # secrets file fallback (the namespace has no keyring), made here with OpenSSL.
    (tmp_path / "secrets").mkdir(mode=0o700)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650",
                    "-subj", "/CN=Hearth home CA (old)", "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
                    "-keyout", str(tmp_path / "old-key.pem"), "-out", str(tmp_path / "ca.pem")], check=True, capture_output=True)
    old_pem = (tmp_path / "ca.pem").read_text()
    (tmp_path / "secrets" / "ca-key").write_text((tmp_path / "old-key.pem").read_bytes().hex())
    (tmp_path / "secrets" / "ca-key").chmod(0o600)
    hub = Hub(tmp_path, ["--no-discovery"], listen="0.0.0.0:0")
    try:
        new_pem = (tmp_path / "ca.pem").read_text()
        assert new_pem != old_pem
        assert "REPLACED" in hub.read_log() and "ca.pem" in hub.read_log()
        assert hub.get("/status")["ca"]["replaced"] == "unconstrained"
        status = hub.cli("status").stdout
        assert "REPLACED" in status and "could vouch for any website" in status and "Install the new" in status, status
        text = subprocess.run(["openssl", "x509", "-noout", "-text"], input=new_pem, capture_output=True, text=True, check=True).stdout
        assert "X509v3 Name Constraints: critical" in text and "DNS:local" in text and "IP:10.0.0.0/255.0.0.0" in text, text
        assert (tmp_path / "secrets" / "ca-key").read_text() != (tmp_path / "old-key.pem").read_bytes().hex(), "a new key"
    finally:
        hub.stop()
        hub.log.close()
    # The next start keeps the new CA and says nothing more.
    again = Hub(tmp_path, ["--no-discovery"], listen="0.0.0.0:0")
    try:
        assert again.get("/status")["ca"]["replaced"] is None
        assert (tmp_path / "ca.pem").read_text() == new_pem
    finally:
        again.stop()
        again.log.close()


def test_a_loopback_only_hub_does_not_announce_itself(hub):
    zc, found = browse_hearth(4)
    zc.close()
    assert found == [], "a web UI nobody else can reach must not be announced"
    zc, found = browse_hearth(1, "_mqtt._tcp.local.")
    zc.close()
    assert found == [], "nor a broker that listens on loopback only"


def test_hearth_announces_its_broker_for_devices_that_look_for_one(network_hub):
    zc, found = browse_hearth(10, "_mqtt._tcp.local.")
    try:
        assert found, "no _mqtt._tcp record seen"
        info = zc.get_service_info("_mqtt._tcp.local.", found[0], timeout=3000)
        broker = network_hub.get("/status")["broker"]["address"]
        assert info is not None and f":{info.port}" in broker, (info, broker)
    finally:
        zc.close()


def test_hearth_announces_itself_with_its_version_and_api_port(network_hub):
    hub = network_hub
    zc, found = browse_hearth(10)
    try:
        assert found, "no _hearth._tcp record seen"
        info = zc.get_service_info("_hearth._tcp.local.", found[0], timeout=3000)
        assert info is not None
        props = {k.decode(): v.decode() for k, v in info.properties.items()}
        port = int(hub.url.rsplit(":", 1)[1])
        assert props["api"] == str(port) and info.port == port
        assert props["version"] == hub.get("/status")["version"]
        assert props["path"] == "/api/v1"
        # The sign-in link printed for the rest of the home names this machine's address.
        assert f"http://10.77.0.1:{port}/login?code=" in hub.read_log()
    finally:
        zc.close()


def test_interface_option_limits_discovery(tmp_path, responders):
    for name in ("lo", "veth"):
        (tmp_path / name).mkdir()
    lo_only = Hub(tmp_path / "lo", ["--interface", "lo"])
    # Both ends of in-netns's veth pair live in one namespace, so the kernel delivers the
    # responders' multicast (sent from hearth1's address) through hearth1's multicast loopback:
    # hearth1 is the interface the "devices" are on, as seen from the hub.
    on_veth = Hub(tmp_path / "veth", ["--interface", "hearth1"])
    try:
        responders.announce("_wled._tcp", "wled-elsewhere", "wled-elsewhere", txt={"mac": "a4cf12000002"})
        # Positive control: the same announcement reaches a hub on the veth link...
        on_veth.wait_for_device("wled-elsewhere")
        # ...but not one limited to lo, given as long again.
        time.sleep(2)
        assert lo_only.devices() == [], "a hub limited to lo must not see devices on the veth link"
        status = lo_only.get("/status")["discovery"]
        assert status["interfaces"] == ["lo"] and status["enabled"]
        assert on_veth.get("/status")["discovery"]["interfaces"] == ["hearth1"]
    finally:
        for h in (lo_only, on_veth):
            h.stop()
            h.log.close()
