"""Fixtures for the end-to-end stories: a real `hearth serve` on a fresh data directory, and
real mDNS responders (python-zeroconf) announcing devices inside the private network namespace."""

import contextlib
import json
import os
import pathlib
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from zeroconf import IPVersion, ServiceInfo, Zeroconf

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", pathlib.Path.home() / ".cache" / "hearth-target"))
HEARTH = pathlib.Path(os.environ.get("HEARTH_BIN", TARGET / "debug" / "hearth"))
# The responder side of the namespace's veth pair (see shared/tools/in-netns).
DEVICE_ADDRESS = "10.77.0.2"


def pytest_configure(config):
    if os.environ.get("HEARTH_IN_NETNS") != "1":
        pytest.exit("these tests announce mDNS records: run them inside the private namespace, "
                    "e.g. `../shared/tools/in-netns python3 -m pytest tests/integration` (the README's test command does)", 2)
    if not HEARTH.exists():
        pytest.exit(f"no hearth binary at {HEARTH}; build it with `cargo build -p hearth` or set HEARTH_BIN", 2)


class Hub:
    """A running `hearth serve` and a small client for its API and CLI."""

    def __init__(self, data_dir: pathlib.Path, extra_args=(), listen: str = "127.0.0.1:0", mqtt_listen: str = "127.0.0.1:0",
                 mqtts_listen: str | None = None):
        self.data_dir = data_dir
        self.log = open(data_dir / "serve.log", "a")
        mqtts_listen = mqtts_listen or mqtt_listen.rsplit(":", 1)[0] + ":0"
        self.proc = subprocess.Popen([str(HEARTH), "serve", "--data-dir", str(data_dir), "--http-listen", listen, "--mqtt-listen", mqtt_listen,
                                      "--mqtts-listen", mqtts_listen, *extra_args],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        # A hub.json left by a killed hub names another process: wait for this one's.
        while not self._running_marker():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"hearth serve did not start:\n{self.read_log()}")
            time.sleep(0.05)
        self.url = json.loads((data_dir / "hub.json").read_text())["url"]
        self.token = (data_dir / "owner-token").read_text().strip()
        # Beyond loopback the hub serves HTTPS with a certificate from its own CA: trust that.
        self.tls = ssl.create_default_context(cafile=str(data_dir / "ca.pem")) if self.url.startswith("https://") else None

    def _running_marker(self) -> bool:
        try:
            return json.loads((self.data_dir / "hub.json").read_text())["pid"] == self.proc.pid
        except (OSError, ValueError, KeyError):
            return False

    def read_log(self) -> str:
        self.log.flush()
        return (self.data_dir / "serve.log").read_text(errors="replace")

    def request(self, method: str, path: str, token: str | None = "owner", headers=None):
        req = urllib.request.Request(f"{self.url}/api/v1{path}", method=method, headers=headers or {})
        if token == "owner":
            req.add_header("Authorization", f"Bearer {self.token}")
        elif token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.tls) as r:
                body = r.read()
                return r.status, (json.loads(body) if body else None)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def get(self, path: str):
        status, body = self.request("GET", path)
        assert status == 200, (status, body)
        return body

    def devices(self):
        return self.get("/devices")

    def cli(self, *args, check=True):
        result = subprocess.run([str(HEARTH), *args, "--data-dir", str(self.data_dir)], capture_output=True, text=True, timeout=30)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def wait_for(self, predicate, what: str, timeout: float = 15.0):
        """Polls the device list until `predicate(devices)` returns something truthy."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.devices()
            found = predicate(last)
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; devices: {json.dumps(last, indent=1)[:4000]}")

    def wait_for_device(self, name: str, timeout: float = 15.0, **expected):
        def match(devices):
            for d in devices:
                if d["name"] == name and all(d.get(k) == v for k, v in expected.items()):
                    return d
            return None
        return self.wait_for(match, f"device {name!r} with {expected}", timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@contextlib.contextmanager
def occupied_port():
    """A loopback port held by another program, for the port-in-use errors."""
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    try:
        yield blocker.getsockname()[1]
    finally:
        blocker.close()


@pytest.fixture
def hub(tmp_path):
    h = Hub(tmp_path)
    yield h
    h.stop()
    assert h.proc.returncode == 0, f"hearth serve exited with {h.proc.returncode}:\n{h.read_log()}"
    assert "panicked" not in h.read_log()
    h.log.close()


class Responders:
    """python-zeroconf announcing services from the device side of the namespace."""

    def __init__(self):
        self.zc = Zeroconf(interfaces=[DEVICE_ADDRESS], ip_version=IPVersion.V4Only)
        self.infos = {}

    def announce(self, ty: str, instance: str, host: str, port: int = 80, txt=None, address: str = DEVICE_ADDRESS) -> ServiceInfo:
        info = ServiceInfo(f"{ty}.local.", f"{instance}.{ty}.local.", addresses=[socket.inet_aton(address)], port=port,
                           properties=txt if txt is not None else {}, server=f"{host}.local.")
        self.zc.register_service(info, cooperating_responders=True)
        self.infos[info.name] = info
        return info

    def update(self, info: ServiceInfo):
        self.zc.update_service(info)

    def goodbye(self, info: ServiceInfo):
        self.zc.unregister_service(info)
        self.infos.pop(info.name, None)

    def close(self):
        self.zc.unregister_all_services()
        self.zc.close()


@pytest.fixture
def hearth(tmp_path):
    """A hub with one device allowed every topic but one, as a broker under test
    (`interop_brokers.HearthTarget`)."""
    from interop_brokers import HearthTarget  # it imports this module
    target = HearthTarget(tmp_path)
    yield target
    target.stop()


@pytest.fixture
def responders():
    r = Responders()
    yield r
    r.close()
