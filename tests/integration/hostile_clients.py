"""Clients for a hostile home network: MQTT packets built by hand (what no client library will
send: 60 KB client ids, usernames and Will topics; a Will cut off without a DISCONNECT), paho
clients bound to the attacker's own address, and the waits the stories need (a row, a status
value, a message) instead of sleeps."""

import json
import socket
import struct
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from conftest import Hub

# Hosts of the home network inside the namespace (see shared/tools/in-netns): 10.77.0.2 is the
# device side of the veth pair; the attacker gets 10.77.0.3 of its own.
NEIGHBOUR = "10.77.0.2"
ATTACKER = "10.77.0.3"

IP_FREEBIND = 15  # linux/in.h; Python's socket module does not name it

# CONNACK return codes of MQTT 3.1.1.
ACCEPTED, IDENTIFIER_REJECTED, BAD_CREDENTIALS, NOT_AUTHORIZED = 0, 2, 4, 5


def ipv6_network_of_one_host(prefix: str):
    """Makes every address of the /64 `prefix` one this machine may send from, as an IPv6 host
    may: it picks its own addresses within its network (idempotent)."""
    subprocess.run(["ip", "-6", "route", "replace", "local", f"{prefix}/64", "dev", "lo"], check=True)


def forget_ipv6_network(prefix: str):
    """Undoes `ipv6_network_of_one_host` (nothing if it was not done)."""
    subprocess.run(["ip", "-6", "route", "del", "local", f"{prefix}/64", "dev", "lo"], check=False, capture_output=True)


def ensure_address(address: str):
    """Gives the device side of the namespace one more address (idempotent)."""
    have = subprocess.run(["ip", "-4", "addr", "show", "dev", "hearth1"], capture_output=True, text=True, check=True).stdout
    if f"{address}/" not in have:
        subprocess.run(["ip", "addr", "add", f"{address}/24", "dev", "hearth1"], check=True)


def start_hub(data_dir, toml: str | None = None, mqtt_listen: str = "0.0.0.0:0") -> Hub:
    """A hub whose broker listens beyond loopback, so that a client can come from another host
    (`[::]:0`: over IPv6 too)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if toml:
        (data_dir / "hearth.toml").write_text(toml)
    return Hub(data_dir, ["--no-discovery"], mqtt_listen=mqtt_listen)


def stop_hub(hub: Hub):
    """Stops it and checks, as the `hub` fixture does, that it ended cleanly."""
    hub.stop()
    log = hub.read_log()
    hub.log.close()
    assert hub.proc.returncode == 0, f"hearth serve exited with {hub.proc.returncode}:\n{log[-4000:]}"
    assert "panicked" not in log, log[-4000:]


def status(hub: Hub) -> dict:
    return json.loads(hub.cli("status", "--json").stdout)


def wait_until(probe, what: str, timeout: float = 10.0, every: float = 0.1):
    """Calls `probe` until it returns something truthy; returns that."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


# --- MQTT 3.1.1 packets by hand ----------------------------------------------------------------

def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mqtt_string(value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    assert len(data) <= 0xFFFF, "an MQTT string holds at most 65 535 bytes"
    return struct.pack("!H", len(data)) + data


def connect_packet(client_id: bytes | str, username: bytes | str | None = None, password: bytes | str | None = None,
                   will: tuple | None = None, clean: bool = True, keepalive: int = 30, version: int = 4,
                   session_expiry: int = 0) -> bytes:
    """A CONNECT, MQTT 3.1.1 (`version` 4) or 5 (with no properties but a session expiry, in
    seconds, when given; a Will's none). `will` is (topic, payload, qos, retain)."""
    expiry = bytes([0x11]) + struct.pack("!I", session_expiry) if session_expiry else b""
    properties = varint(len(expiry)) + expiry if version == 5 else b""
    flags = (0x02 if clean else 0)
    payload = mqtt_string(client_id)
    if will:
        topic, message, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += (varint(0) if version == 5 else b"") + mqtt_string(topic) + mqtt_string(message)
    if username is not None:
        flags |= 0x80
        payload += mqtt_string(username)
    if password is not None:
        flags |= 0x40
        payload += mqtt_string(password)
    variable = mqtt_string("MQTT") + bytes([version, flags]) + struct.pack("!H", keepalive) + properties
    body = variable + payload
    return bytes([0x10]) + varint(len(body)) + body


def publish_packet(topic: bytes | str, payload: bytes, qos: int = 1, packet_id: int = 1, version: int = 4,
                   properties: bytes = b"") -> bytes:
    """A PUBLISH written by hand, MQTT 3.1.1 (`version` 4) or 5 (with `properties`, raw, behind
    their length), so that a story can cut it, or break it, as it likes."""
    body = mqtt_string(topic) + (struct.pack("!H", packet_id) if qos else b"")
    if version == 5:
        body += varint(len(properties)) + properties
    body += payload
    return bytes([0x30 | qos << 1]) + varint(len(body)) + body


def subscribe_packet(topic: bytes | str, qos: int = 1, packet_id: int = 1, version: int = 4) -> bytes:
    """A SUBSCRIBE to one filter at `qos`, written by hand, MQTT 3.1.1 (`version` 4) or 5 (no
    properties, subscription options 0 but the QoS)."""
    body = struct.pack("!H", packet_id) + (varint(0) if version == 5 else b"") + mqtt_string(topic) + bytes([qos])
    return b"\x82" + varint(len(body)) + body


def read_exactly(sock, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def read_packet(sock) -> tuple[int, bytes]:
    """The next packet's first byte and its body, read by its remaining length."""
    first = read_exactly(sock, 1)
    length, shift = 0, 0
    while True:
        byte = read_exactly(sock, 1)
        assert first and byte, "the hub closed the connection"
        length |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            break
    return first[0], read_exactly(sock, length)


class RawClient:
    """One TCP connection speaking MQTT 3.1.1 by hand: a CONNECT, its CONNACK, and then either a
    power cut (the connection ends without a DISCONNECT, so the broker publishes the Will) or a
    DISCONNECT."""

    def __init__(self, host: str, port: int, packet: bytes, source: str | None = None, timeout: float = 5.0):
        ipv6 = ":" in host
        self.sock = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source:
            if ipv6:
                # Any address of a network `ipv6_network_of_one_host` made local, not only those
                # configured on an interface.
                self.sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.rc = None  # None: the broker closed the connection without a CONNACK
        self.session_present = None
        try:
            self.sock.sendall(packet)
            connack = read_exactly(self.sock, 4)
            if len(connack) == 4 and connack[0] == 0x20:
                self.session_present, self.rc = bool(connack[2] & 1), connack[3]
        except (ConnectionResetError, BrokenPipeError):
            pass

    def power_cut(self):
        """Ends the connection with a TCP reset, no DISCONNECT: the Will is due."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self):
        self.sock.close()


def raw_connect(host: str, port: int, packet: bytes, source: str | None = None, timeout: float = 5.0) -> int | None:
    """Sends one CONNECT and returns the CONNACK's return code (None if the broker hung up)."""
    try:
        client = RawClient(host, port, packet, source, timeout)
    except (ConnectionResetError, BrokenPipeError, ConnectionRefusedError, socket.timeout):
        return None
    client.close()
    return client.rc


# --- paho clients ---------------------------------------------------------------------------

def paho_client(client_id: str, username: str | None = None, password: str | None = None, version: int = mqtt.MQTTv311,
                clean: bool = True):
    """A paho client that keeps what it receives (topic, payload bytes, retain flag) and the
    answers it got (CONNACK reason and session-present flag, SUBACKs, PUBACKs)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version,
                         clean_session=None if version == mqtt.MQTTv5 else clean)
    if username is not None:
        client.username_pw_set(username, password)
    client.received, client.lock = [], threading.Lock()
    client.connack, client.connected, client.answered, client.disconnected = None, threading.Event(), threading.Event(), threading.Event()
    client.subacks, client.pubacks = {}, {}

    def on_connect(c, _u, flags, reason, _props):
        c.connack = (reason, flags.session_present)
        c.answered.set()
        if not reason.is_failure:
            c.connected.set()

    def on_message(c, _u, msg):
        with c.lock:
            c.received.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def on_subscribe(c, _u, mid, reasons, _props):
        c.subacks[mid] = reasons

    def on_publish(c, _u, mid, reason, _props):
        c.pubacks[mid] = reason

    def on_disconnect(c, _u, _flags, reason, _props):
        c.disconnected.set()
        c.answered.set()

    client.on_connect, client.on_message, client.on_subscribe = on_connect, on_message, on_subscribe
    client.on_publish, client.on_disconnect = on_publish, on_disconnect
    return client


def paho_connect(host: str, port: int, client_id: str, username: str | None = None, password: str | None = None,
                 version: int = mqtt.MQTTv311, clean: bool = True, source: str | None = None, expect_refusal: bool = False,
                 inflight: int | None = None):
    """Connects (from `source`, if given) and waits for the CONNACK. A persistent session
    (`clean=False`) is kept a week, as firmware asks. `inflight`: QoS 1 and 2 messages in flight
    at once (paho's default is 20)."""
    client = paho_client(client_id, username, password, version, clean)
    if inflight:
        client.max_inflight_messages_set(inflight)
    props = None
    if version == mqtt.MQTTv5:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0 if clean else 7 * 24 * 3600
        start = clean
    else:
        start = mqtt.MQTT_CLEAN_START_FIRST_ONLY
    client.connect(host, port, keepalive=30, bind_address=source or "", clean_start=start, properties=props)
    client.loop_start()
    assert client.answered.wait(5), f"{client_id}: no CONNACK"
    if not expect_refusal:
        assert client.connected.is_set(), f"{client_id} could not connect: {client.connack}"
    return client


def subscribe(client, topic: str, qos: int = 1):
    """Subscribes and waits for the SUBACK; returns its reason codes."""
    _, mid = client.subscribe(topic, qos=qos)
    wait_until(lambda: mid in client.subacks, f"SUBACK for {topic}", timeout=5, every=0.02)
    return client.subacks[mid]


def received(client):
    with client.lock:
        return list(client.received)


def wait_for_message(client, topic: str, timeout: float = 5.0):
    """Waits until `client` got a message on `topic`; returns its payload."""
    found = wait_until(lambda: [p for t, p, _ in received(client) if t == topic], f"a message on {topic}", timeout, every=0.02)
    return found[0]


def end(client):
    client.disconnect()
    client.loop_stop()


def device_on(device, host: str = "127.0.0.1"):
    """Points a Device (mqtt_device.Device) at loopback: legitimate devices of these stories run
    on the hub's machine, the attacker on another host."""
    device.host = host
    return device


class Flood:
    """Threads sending CONNECTs with 60 KB strings from one address, reconnecting each time, as
    fast as they can: half with a 60 KB client id and Will topic, half with a short client id
    and a 60 KB username and Will topic (which get past the client-id check to the gate). Every
    string is new, so nothing can be kept once for all. Counts the answers by kind."""

    def __init__(self, host: str, port: int, source: str, seconds: float = 3.0, threads: int = 4):
        self.host, self.port, self.source = host, port, source
        self.deadline = time.time() + seconds
        self.answers, self._lock = {}, threading.Lock()
        self._threads = [threading.Thread(target=self._attack, args=(n,), daemon=True) for n in range(threads)]
        for t in self._threads:
            t.start()

    def running(self) -> bool:
        return time.time() < self.deadline

    def _attack(self, n: int):
        i = 0
        while self.running():
            junk = f"{n}.{i}.".ljust(60_000, "x")
            if i % 2:
                kind = "long client id"
                packet = connect_packet(junk, username="admin", password="admin", will=(junk, b"offline", 0, True))
            else:
                kind = "long username"
                packet = connect_packet(f"evil-{n}-{i}", username=junk, password="admin", will=(junk, b"offline", 0, True))
            rc = raw_connect(self.host, self.port, packet, self.source)
            with self._lock:
                self.answers[kind, rc] = self.answers.get((kind, rc), 0) + 1
            i += 1

    def join(self) -> dict:
        for t in self._threads:
            t.join()
        return dict(self.answers)
