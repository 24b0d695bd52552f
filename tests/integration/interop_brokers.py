"""The brokers the MQTT interoperability stories run against, side by side: Hearth (one device
allowed every topic but one it may not subscribe to) and Debian's Mosquitto 2.0 with the same
rights in its password and ACL files. Running each story against Mosquitto too shows that the
story asks what MQTT asks, not what Hearth happens to do.

The clients are paho-mqtt, driven at a fast client's pace: connect, publish, subscribe and
disconnect back to back, without waiting in between."""

import getpass
import pathlib
import queue
import shutil
import socket
import subprocess
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from conftest import Hub

USERNAME_FOR_MOSQUITTO = "interop"
PASSWORD_FOR_MOSQUITTO = "interop-secret-0123456789"
# The one topic the device may not subscribe to (the paho suite's `nosubscribe_topics`).
DENIED = "test/nosubscribe"
# The longest keep alive either broker grants (Hearth's cap; Mosquitto's `max_keepalive`).
MAX_KEEPALIVE = 600
# Hearth's largest packet (hearth-broker's `max_packet_size`); Mosquitto is given the same.
MAX_PACKET_SIZE = 1024 * 1024
PROTOCOLS = {"3.1.1": mqtt.MQTTv311, "5": mqtt.MQTTv5}


class Received:
    """What a client received, in order, with a wait for the next one."""

    def __init__(self):
        self.messages = queue.Queue()
        self.log = []

    def add(self, msg):
        entry = {"topic": msg.topic, "payload": msg.payload, "qos": msg.qos, "retain": bool(msg.retain), "dup": bool(msg.dup), "mid": msg.mid,
                 "ids": list(getattr(msg.properties, "SubscriptionIdentifier", []) or []) if msg.properties else [],
                 "alias": getattr(msg.properties, "TopicAlias", None) if msg.properties else None,
                 "user": list(getattr(msg.properties, "UserProperty", []) or []) if msg.properties else [],
                 "expiry": getattr(msg.properties, "MessageExpiryInterval", None) if msg.properties else None,
                 "properties": msg.properties}
        self.log.append(entry)
        self.messages.put(entry)

    def take(self, count, timeout=5.0):
        """The next `count` messages; fails if they do not all come within `timeout`."""
        got, deadline = [], time.time() + timeout
        while len(got) < count:
            try:
                got.append(self.messages.get(timeout=max(0.01, deadline - time.time())))
            except queue.Empty:
                raise AssertionError(f"received {len(got)} of {count} messages within {timeout} s: {got}") from None
        return got

    def more(self, wait=1.0):
        """Whatever else arrives within `wait` seconds (a story that expects nothing more)."""
        extra, deadline = [], time.time() + wait
        while time.time() < deadline:
            try:
                extra.append(self.messages.get(timeout=max(0.01, deadline - time.time())))
            except queue.Empty:
                break
        return extra


class Target:
    """A broker under test: where it listens and the credential its one user has."""

    name = ""

    def __init__(self, host, port, username, password):
        self.host, self.port, self.username, self.password = host, port, username, password

    def client(self, client_id, version="3.1.1", clean=True, session_expiry=None, properties=None, keepalive=60,
               wait=True, will=None):
        """A paho client, connected and its network loop running. `wait=False` returns as soon as
        the CONNECT is sent (a fast client does not wait for the CONNACK before publishing)."""
        v5 = version == "5"
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=PROTOCOLS[version],
                        clean_session=None if v5 else clean)
        c.username_pw_set(self.username, self.password)
        c.received = Received()
        c.connack = queue.Queue()
        c.subacks = queue.Queue()
        c.unsubacks = queue.Queue()
        c.gone = queue.Queue()
        c.on_message = lambda cl, u, msg: cl.received.add(msg)
        c.on_connect = lambda cl, u, flags, reason, props: cl.connack.put((flags.session_present, reason, props))
        c.on_subscribe = lambda cl, u, mid, reasons, props: cl.subacks.put([r.value for r in reasons])
        c.on_unsubscribe = lambda cl, u, mid, reasons, props: cl.unsubacks.put([r.value for r in reasons])
        c.on_disconnect = lambda cl, u, flags, reason, props: cl.gone.put(reason)
        if will:
            c.will_set(*will)
        props = properties
        if v5:
            props = props or Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = session_expiry if session_expiry is not None else (0 if clean else 3600)
        c.connect(self.host, self.port, keepalive=keepalive, clean_start=clean if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                  properties=props)
        c.loop_start()
        if wait:
            c.session_present, c.reason, c.connack_properties = c.connack.get(timeout=5)
            assert not c.reason.is_failure, f"{client_id} refused: {c.reason}"
        return c

    def suback(self, client, timeout=5.0):
        return client.subacks.get(timeout=timeout)

    def stop(self):
        pass


def stop_client(client):
    client.disconnect()
    client.loop_stop()


def power_cut(client):
    """The client's connection ends without a DISCONNECT (its device lost power)."""
    client.loop_stop()
    client.socket().close()


class HearthTarget(Target):
    name = "hearth"

    def __init__(self, data_dir: pathlib.Path):
        self.hub = Hub(data_dir)
        from mqtt_device import Device
        self.device = Device(self.hub, "Interop client", publish=["#"], subscribe=["#"])
        self.hub.cli("device", "deny", self.device.id, "--subscribe", DENIED)
        super().__init__(self.device.host, self.device.port, self.device.username, self.device.password)

    def restart(self, kill=False, already_stopped=False):
        """Stops the hub (cleanly, or as a power cut would) and starts it again on the same data
        and the same MQTT port."""
        if kill:
            self.hub.proc.kill()
            self.hub.proc.wait(10)
        elif not already_stopped:
            self.hub.stop()
        if not kill:
            assert self.hub.proc.returncode == 0, self.hub.read_log()
        self.hub.log.close()
        port = self.port
        self.hub = Hub(self.hub.data_dir, mqtt_listen=f"127.0.0.1:{port}")

    def stop(self):
        self.hub.stop()
        log = self.hub.read_log()
        self.hub.log.close()
        assert self.hub.proc.returncode == 0, f"hearth serve exited with {self.hub.proc.returncode}:\n{log}"
        assert "panicked" not in log, log


class MosquittoTarget(Target):
    name = "mosquitto"

    def __init__(self, data_dir: pathlib.Path):
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        (data_dir / "passwords").write_text("")
        subprocess.run(["mosquitto_passwd", "-b", str(data_dir / "passwords"), USERNAME_FOR_MOSQUITTO, PASSWORD_FOR_MOSQUITTO],
                       check=True, capture_output=True)
        (data_dir / "acl").write_text(f"user {USERNAME_FOR_MOSQUITTO}\ntopic deny {DENIED}\ntopic readwrite #\n")
        (data_dir / "mosquitto.conf").write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {data_dir / 'passwords'}\n"
            f"acl_file {data_dir / 'acl'}\nmax_keepalive {MAX_KEEPALIVE}\npersistence false\n"
            f"max_packet_size {MAX_PACKET_SIZE}\n"
            # Run as whoever runs the tests (as root, Mosquitto would switch to its own user, who
            # cannot read these files).
            f"user {getpass.getuser()}\n")
        self.log = open(data_dir / "mosquitto.log", "w")
        self.proc = subprocess.Popen([binary, "-c", str(data_dir / "mosquitto.conf")], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"mosquitto did not start: {(data_dir / 'mosquitto.log').read_text()}")
                time.sleep(0.05)
        super().__init__("127.0.0.1", port, USERNAME_FOR_MOSQUITTO, PASSWORD_FOR_MOSQUITTO)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()
