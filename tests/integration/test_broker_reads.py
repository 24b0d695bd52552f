"""How the broker reads a device's bytes. An idle connection holds no read buffer (rmqtt-net's
patch, vendor/PATCHES.md): its first bytes are read onto the stack, and only then does it take a
buffer again; a connection that has sent nothing yet holds none either. These stories check that
nothing a device sends is lost, doubled or misread however its bytes arrive: a byte at a time
with pauses (the buffer is given back between them, the codec halfway through a packet), many
packets in one write, packets larger than that first read and than the buffer, a CONNECT cut up
or sent with the packets after it, over plain MQTT and over TLS. And a host announcing packets it
never sends holds only what it sent. Packets are built by hand, so that the way they are cut is
the story's, not a client library's; the subscriber is paho."""

import hashlib
import socket
import ssl
import struct
import time

import pytest

from hostile_clients import (RawClient, connect_packet, end, paho_connect, publish_packet, read_exactly, read_packet, received,
                             status, subscribe, varint, wait_until)
from mqtt_device import Device

PUBACK = 0x40
PINGRESP = bytes([0xD0, 0x00])


def tls_client(hub, device, port: int) -> RawClient:
    """A RawClient over TLS, trusting the hub's own CA (the name is not what these stories test)."""
    context = ssl.create_default_context(cafile=str(hub.data_dir / "ca.pem"))
    context.check_hostname = False
    client = RawClient.__new__(RawClient)
    client.sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5))
    client.sock.sendall(connect_packet("reads-device", device.username, device.password))
    connack = read_exactly(client.sock, 4)
    assert len(connack) == 4 and connack[0] == 0x20, f"no CONNACK over TLS: {connack.hex()}"
    client.session_present, client.rc = bool(connack[2] & 1), connack[3]
    return client


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_packets_cut_anyhow_or_sent_together_each_reach_the_subscriber_once_and_whole(hub, transport):
    device = Device(hub, "Reads publisher", publish=["reads/#"])
    reader = Device(hub, "Reads subscriber", subscribe=["reads/#"])
    subscriber = paho_connect("127.0.0.1", reader.port, "reads-subscriber", reader.username, reader.password)
    assert [int(code.value) for code in subscribe(subscriber, "reads/#", qos=1)] == [1]
    if transport == "tcp":
        client = RawClient("127.0.0.1", device.port, connect_packet("reads-device", device.username, device.password))
    else:
        tls_port = int(status(hub)["broker"]["tls_address"].split(", ")[0].rsplit(":", 1)[1])
        client = tls_client(hub, device, tls_port)
    assert client.rc == 0, f"CONNACK {client.rc}"
    sock = client.sock
    # Each write its own segment: the cuts are the story's, not Nagle's.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    sent = {}  # packet id -> (topic, payload)

    def packet(topic: str, payload: bytes) -> bytes:
        packet_id = len(sent) + 1
        sent[packet_id] = (topic, payload)
        return publish_packet(topic, payload, packet_id=packet_id)

    def acknowledged(packet_ids):
        """Reads one PUBACK for each of `packet_ids` before anything more is sent: a packet whose
        last bytes the broker has and does not decode would show here, not rescued by the next
        packet's bytes."""
        answers = read_exactly(sock, 4 * len(packet_ids))
        got = [struct.unpack("!H", answers[i + 2:i + 4])[0] for i in range(0, len(answers), 4)]
        assert all(answers[i] == PUBACK and answers[i + 1] == 2 for i in range(0, len(answers), 4)), answers.hex()
        # In order: rmqtt handles one connection's packets one at a time.
        assert got == packet_ids, (got, packet_ids)

    def sent_last(n=1):
        return list(sent)[-n:]

    # A byte at a time, 30 ms apart: the connection is idle between them, so its buffer is given
    # back with the packet's header, or part of it, already decoded.
    for byte in packet("reads/trickle", b"one byte at a time"):
        sock.sendall(bytes([byte]))
        time.sleep(0.03)
    acknowledged(sent_last())
    # The fixed header alone, then the rest in one write: the codec has taken the header and waits
    # for the body with an empty buffer, and the body comes onto the stack first.
    split = packet("reads/header-first", b"the body came later")
    sock.sendall(split[:2])
    time.sleep(0.2)
    sock.sendall(split[2:])
    acknowledged(sent_last())
    # Twenty packets in one write.
    sock.sendall(b"".join(packet(f"reads/together/{n}", f"together {n}".encode()) for n in range(20)))
    acknowledged(sent_last(20))
    # Larger than the first read and than the buffer (1 KiB each), in one write.
    sock.sendall(packet("reads/large", bytes(range(256)) * 20))
    acknowledged(sent_last())
    # 70 000 bytes in pieces with pauses, the last piece carrying the next packet whole.
    big = packet("reads/big", hashlib.sha256(b"big").digest() * 2188)
    small = packet("reads/after-big", b"after the big one")
    stream = big + small
    for start, stop in ((0, 3), (3, 40_000), (40_000, len(stream))):
        sock.sendall(stream[start:stop])
        time.sleep(0.1)
    acknowledged(sent_last(2))
    sock.sendall(bytes([0xC0, 0x00]))  # PINGREQ
    assert read_exactly(sock, 2) == PINGRESP

    expected = list(sent.values())
    wait_until(lambda: len(received(subscriber)) >= len(expected), f"{len(expected)} messages", timeout=10)
    time.sleep(0.3)  # a copy too many would come now
    got = [(topic, payload) for topic, payload, _retained in received(subscriber)]
    # Each once, and in the order sent: MQTT asks it only within a topic, and rmqtt, handling one
    # connection's packets one at a time, keeps it across them.
    assert [t for t, _ in got] == [t for t, _ in expected]
    for (topic, payload), (_, want) in zip(got, expected):
        assert payload == want, f"{topic}: {len(payload)} bytes, wanted {len(want)}"
    client.close()
    end(subscriber)


@pytest.mark.parametrize("version", [4, 5], ids=["mqtt311", "mqtt5"])
@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_a_connect_cut_anyhow_or_sent_with_the_packets_after_it_is_read_whole(hub, transport, version):
    """The protocol version is read as every later packet is: a connection that has sent nothing
    holds no buffer, and its first bytes come onto the stack. The version is only looked at, so
    the CONNECT it came in, and whatever came with it, must still be read whole afterwards by
    that version's codec."""
    device = Device(hub, "Connect reads publisher", publish=["reads/#"])
    reader = Device(hub, "Connect reads subscriber", subscribe=["reads/#"])
    subscriber = paho_connect("127.0.0.1", reader.port, "connect-reads-subscriber", reader.username, reader.password)
    assert [int(code.value) for code in subscribe(subscriber, "reads/#", qos=1)] == [1]
    port = device.port
    context = None
    if transport == "tls":
        port = int(status(hub)["broker"]["tls_address"].split(", ")[0].rsplit(":", 1)[1])
        context = ssl.create_default_context(cafile=str(hub.data_dir / "ca.pem"))
        context.check_hostname = False

    def publish(topic: str, packet_id: int, payload: bytes) -> bytes:
        return publish_packet(topic, payload, packet_id=packet_id, version=version)

    def connect(client_id: str, username: str, password: str) -> bytes:
        return connect_packet(client_id, username, password, version=version)

    def opened():
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if context:
            sock = context.wrap_socket(sock)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each write its own segment
        return sock

    def accepted(sock):
        kind, body = read_packet(sock)
        assert kind == 0x20 and body[1] == 0, f"no CONNACK accepting the connection: {kind:#x} {body.hex()}"

    def acknowledged(sock, packet_id: int):
        kind, body = read_packet(sock)
        assert kind == PUBACK and struct.unpack("!H", body[:2])[0] == packet_id, f"{kind:#x} {body.hex()}"
        assert body[2:3] in (b"", b"\x00"), f"PUBACK reason {body[2:3].hex()}"

    # Silent a while, then its CONNECT a byte at a time, 30 ms apart: the first byte comes onto
    # the stack and into a buffer of its own, the rest into that buffer, and the version is
    # decided once enough has come.
    trickled = opened()
    time.sleep(0.3)
    for byte in connect(f"reads-trickled-connect-{version}", device.username, device.password):
        trickled.sendall(bytes([byte]))
        time.sleep(0.03)
    accepted(trickled)
    trickled.sendall(publish("reads/after-a-trickled-connect", 1, b"after a trickled CONNECT"))
    acknowledged(trickled, 1)
    # A client that does not wait for its CONNACK: CONNECT, PUBLISH and PINGREQ in one write.
    eager = opened()
    eager.sendall(connect(f"reads-eager-{version}", device.username, device.password)
                  + publish("reads/with-its-connect", 1, b"sent with its CONNECT") + bytes([0xC0, 0x00]))
    accepted(eager)
    acknowledged(eager, 1)
    assert read_exactly(eager, 2) == PINGRESP

    expected = [("reads/after-a-trickled-connect", b"after a trickled CONNECT"),
                ("reads/with-its-connect", b"sent with its CONNECT")]
    wait_until(lambda: len(received(subscriber)) >= len(expected), f"{len(expected)} messages", timeout=10)
    time.sleep(0.3)  # a copy too many would come now
    assert [(topic, payload) for topic, payload, _retained in received(subscriber)] == expected
    trickled.close()
    eager.close()
    end(subscriber)


def usable_address_space_mib(pid: int) -> float:
    """The hub's mappings that can be read or written. Not VmSize: that counts the inaccessible
    reservations glibc makes, 64 MiB for each new malloc arena, which a new thread can bring."""
    total = 0
    for line in open(f"/proc/{pid}/maps"):
        span, perms = line.split()[:2]
        if perms.startswith("---"):
            continue
        start, end = (int(x, 16) for x in span.split("-"))
        total += end - start
    return total / (1024 * 1024)


def test_connects_announcing_a_megabyte_and_sending_a_few_bytes_hold_only_what_they_sent(hub):
    """A host opens 300 connections, each announcing a CONNECT of almost 1 MiB (under the broker's
    maximum packet size) and sending 4 KB of it, then waits. The codec reserves room for the whole
    announced packet once it has read the header: 300 MiB of the hub's address space until
    the handshake timeout closed them, where a 32-bit home server has 3 GiB in all. The room now
    follows the bytes that came. And a device still connects and publishes meanwhile."""
    device = Device(hub, "Reads neighbour", publish=["reads/#"])
    before = usable_address_space_mib(hub.proc.pid)
    announced = b"\x10" + varint(1_000_000)  # a CONNECT's fixed header
    stalled = []
    try:
        for _ in range(300):
            sock = socket.create_connection((device.host, device.port), timeout=5)
            sock.sendall(announced + b"\x00\x04MQTT\x04\x02\x00\x3c" + b"\x00" * 4000)
            stalled.append(sock)
        time.sleep(1.5)  # read at once; the handshake timeout (10 s) is far
        grown = usable_address_space_mib(hub.proc.pid) - before
        assert grown < 64, f"300 stalled CONNECTs grew the hub's address space by {grown:.0f} MiB"
        assert device.pub("reads/meanwhile", "still here", qos=1).returncode == 0
    finally:
        for sock in stalled:
            sock.close()
