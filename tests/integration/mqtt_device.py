"""An MQTT device of the simulated home as the tests drive it: added by hand through the CLI with
its credential and manifest, then played by clients nobody here wrote (Debian's mosquitto_pub
and mosquitto_sub, and paho-mqtt)."""

import json
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

VERSIONS = {"3.1.1": ("mqttv311", mqtt.MQTTv311), "5": ("mqttv5", mqtt.MQTTv5)}


class Device:
    """A device added by hand through the CLI, with its credential and manifest."""

    def __init__(self, hub, name, publish=(), subscribe=()):
        added = json.loads(hub.cli("device", "add", name, "--json").stdout)
        self.hub, self.id, self.username, self.password = hub, added["id"], added["username"], added["password"]
        self.host, port = added["broker"].split(", ")[0].rsplit(":", 1)
        self.port = int(port)
        for pattern in publish:
            hub.cli("device", "allow", self.id, "--publish", pattern)
        for pattern in subscribe:
            hub.cli("device", "allow", self.id, "--subscribe", pattern)

    def auth(self, password=None):
        return ["-h", self.host, "-p", str(self.port), "-u", self.username, "-P", password or self.password]

    def pub(self, topic, message, qos=0, version="3.1.1", extra=(), password=None):
        return subprocess.run(["mosquitto_pub", "-V", VERSIONS[version][0], *self.auth(password), "-t", topic, "-m", message, "-q", str(qos), *extra],
                              capture_output=True, text=True, timeout=10)

    def sub(self, topic, count, qos=0, version="3.1.1", extra=(), timeout=8):
        """A mosquitto_sub running in the background; `.result()` gives its lines."""
        return Sub(["mosquitto_sub", "-V", VERSIONS[version][0], *self.auth(), "-t", topic, "-q", str(qos), "-C", str(count), "-v",
                    "-W", str(timeout), *extra])

    def view(self):
        return json.loads(self.hub.cli("device", "topics", self.id, "--json").stdout)

    def paho(self, client_id, version="3.1.1", clean=True, will=None, connect=True):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=VERSIONS[version][1],
                             clean_session=clean if version != "5" else None)
        client.username_pw_set(self.username, self.password)
        client.received, client.connected, client.disconnected = [], threading.Event(), threading.Event()
        client.on_message = lambda c, u, msg: c.received.append((msg.topic, msg.payload.decode(), msg.qos))
        client.on_connect = lambda c, u, flags, reason, props: (c.connected.set() if not reason.is_failure else None, setattr(c, "reason", reason))
        client.on_disconnect = lambda c, u, flags, reason, props: (c.disconnected.set(), setattr(c, "reason", reason))
        if will:
            client.will_set(*will)
        if connect:
            props = None
            if version == "5":
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = 0 if clean else 3600
            client.connect(self.host, self.port, keepalive=30, clean_start=clean if version == "5" else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                           properties=props)
            client.loop_start()
            assert client.connected.wait(5), f"{client_id} could not connect: {getattr(client, 'reason', None)}"
        return client


class Sub:
    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)  # connected and subscribed

    def result(self):
        out, err = self.proc.communicate(timeout=15)
        return out.splitlines(), err, self.proc.returncode


def recorded(device, topic):
    return [d for d in device.view()["recent"] if d["topic"] == topic]


def refused_connections(device, reason, timeout=5.0):
    """The device's connection attempts refused for `reason`, as counted (the gate files its
    counts every second, so this waits for them)."""
    deadline = time.time() + timeout
    while True:
        found = [c for c in device.view()["connections"] if c["refused"] == reason]
        if found or time.time() > deadline:
            return found
        time.sleep(0.2)


def stop(client):
    client.disconnect()
    client.loop_stop()
