"""How the broker writes to a device that does not read. A device may stop reading its socket
(its firmware stuck, or on purpose): the broker then cannot write what it owes it. It waits for
the socket for up to 10 seconds (rmqtt's send timeout), then drops the connection; a device that
only pauses for a few seconds gets everything, in order. Meanwhile the other subscribers get
their messages as if nothing happened. Packets are built by hand so that the story decides when
each socket is read."""

import socket
import struct
import time

from hostile_clients import (RawClient, connect_packet, end, mqtt_string, paho_connect, publish_packet, read_exactly, read_packet, received,
                             status, subscribe, wait_until)
from mqtt_device import Device

SUBACK = 0x90
PUBLISH = 0x30
PAYLOAD = 64 * 1024
# Enough to fill what the kernel buffers between the hub and a device that does not read (its
# small receive buffer, and the hub's send buffer, which grows to a few megabytes).
MESSAGES = 160


def subscribed_reader(hub, device: Device, client_id: str, topic: str) -> socket.socket:
    """A connection that subscribes to `topic` at QoS 0 and then reads only when the story says.
    Its receive buffer is small, so that the hub's writes stop soon after it stops reading."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", device.port))
    sock.sendall(connect_packet(client_id, device.username, device.password))
    assert read_exactly(sock, 4) == bytes([0x20, 2, 0, 0]), "no CONNACK"
    body = struct.pack("!H", 1) + mqtt_string(topic) + bytes([0])
    sock.sendall(bytes([0x82, len(body)]) + body)
    assert read_exactly(sock, 5) == bytes([SUBACK, 3, 0, 1, 0]), "no SUBACK granting QoS 0"
    return sock


def payload(n: int) -> bytes:
    return n.to_bytes(4, "big") + bytes([n % 251]) * (PAYLOAD - 4)


def read_publishes(sock, count: int) -> list[int]:
    """Reads `count` PUBLISH packets; returns the numbers their payloads carry, checking each
    payload whole."""
    got = []
    for _ in range(count):
        first, body = read_packet(sock)
        assert first & 0xF0 == PUBLISH, f"expected a PUBLISH, got {first:#x}"
        topic_length = struct.unpack("!H", body[:2])[0]
        data = body[2 + topic_length:]
        n = int.from_bytes(data[:4], "big")
        assert data == payload(n), f"message {n} arrived damaged ({len(data)} bytes)"
        got.append(n)
    return got


def ended_by_hub(sock, within: float) -> bool:
    """Reads what is left until the hub's end of the connection (True), or until `within`
    seconds pass with the connection still open (False)."""
    sock.settimeout(within)
    try:
        while sock.recv(1 << 20):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_a_device_that_stops_reading_is_dropped_after_ten_seconds_and_one_that_pauses_gets_everything(hub):
    camera = Device(hub, "Camera", publish=["camera/#"])
    reader = Device(hub, "Snapshot viewer", subscribe=["camera/#"])
    healthy = paho_connect("127.0.0.1", reader.port, "viewer-healthy", reader.username, reader.password)
    assert [int(code.value) for code in subscribe(healthy, "camera/snapshot", qos=0)] == [0]
    pausing = subscribed_reader(hub, reader, "viewer-pausing", "camera/snapshot")
    stopped = subscribed_reader(hub, reader, "viewer-stopped", "camera/snapshot")

    publisher = RawClient("127.0.0.1", camera.port, connect_packet("camera", camera.username, camera.password))
    assert publisher.rc == 0, f"CONNACK {publisher.rc}"
    started = time.monotonic()
    publisher.sock.sendall(b"".join(publish_packet("camera/snapshot", payload(n), qos=0) for n in range(MESSAGES)))

    # The one that reads gets every snapshot while the other two read nothing.
    wait_until(lambda: len(received(healthy)) == MESSAGES, f"all {MESSAGES} snapshots at the healthy viewer", timeout=20)
    assert [int.from_bytes(p[:4], "big") for _, p, _ in received(healthy)] == list(range(MESSAGES))

    # The one that pauses for 3 seconds then gets every snapshot, in order, and stays connected.
    time.sleep(max(0.0, started + 3 - time.monotonic()))
    pausing.settimeout(10)
    assert read_publishes(pausing, MESSAGES) == list(range(MESSAGES))
    pausing.sendall(bytes([0xC0, 0]))  # PINGREQ
    assert read_exactly(pausing, 2) == bytes([0xD0, 0]), "the pausing viewer was dropped"

    # The one that never reads is dropped once the hub has waited 10 seconds on its socket: not
    # before 8 (a pause is not a failure; the wait starts with the first write that blocks, soon
    # after the burst), and by 25. Counted by the hub, as reading the socket would unblock it.
    time.sleep(max(0.0, started + 8 - time.monotonic()))
    assert status(hub)["broker"]["connections"] == 4, "dropped before its 10 seconds"
    wait_until(lambda: status(hub)["broker"]["connections"] == 3, "the viewer that stopped reading dropped",
               timeout=max(0.1, started + 25 - time.monotonic()), every=0.5)
    assert ended_by_hub(stopped, within=5), "the hub counts it gone but its connection is open"

    # Nothing of this touched the others: the pausing viewer is still served.
    publisher.sock.sendall(publish_packet("camera/snapshot", payload(MESSAGES), qos=0))
    pausing.settimeout(5)
    assert read_publishes(pausing, 1) == [MESSAGES]
    wait_until(lambda: len(received(healthy)) == MESSAGES + 1, "the last snapshot at the healthy viewer", timeout=5)
    for sock in (pausing, stopped, publisher.sock):
        sock.close()
    end(healthy)
