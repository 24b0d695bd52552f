"""Persistent sessions and retained messages outlive a restart of Hearth, as they outlive one of
Mosquitto with persistence on: stopped cleanly nothing is lost; killed (`kill -9`, a power cut)
only the last second's changes and what was in a connected client's hands. The gate still
decides each delivery after the restart. paho-mqtt clients, MQTT 3.1.1 and 5."""

import socket
import sqlite3
import struct
import time

import pytest

from hostile_clients import publish_packet, read_packet, wait_until
from interop_brokers import DENIED, power_cut, stop_client
from test_mqtt_interop import BOTH, publish_expiring, pubrec_of_5, qos2_device, received_across, release_5, subscribe
from test_hostile_broker import TINY_MAXIMUM_PACKET_SIZE, mqtt5_accepted_and_subscribed, mqtt5_connect

DISCONNECT = bytes([0xE0, 0x00])


def queue_three(hearth, version):
    """A persistent session subscribed to `+/+` at QoS 2, away; three messages sent to it."""
    away = hearth.client("durable", version, clean=False)
    assert subscribe(hearth, away, ("+/+", 2)) == [2]
    stop_client(away)
    sender = hearth.client("durable-sender", version)
    for qos, topic in ((1, "TopicA/B"), (2, "Topic/C"), (1, "TopicA/C")):
        sender.publish(topic, f"qos {qos} to {topic}", qos=qos).wait_for_publish(5)
    sender.publish("TopicA/R", b"the state", qos=1, retain=True).wait_for_publish(5)
    stop_client(sender)


@pytest.mark.parametrize("version", BOTH)
def test_a_clean_restart_keeps_sessions_their_waiting_messages_and_retained_ones(hearth, version):
    queue_three(hearth, version)
    hearth.restart()
    back = hearth.client("durable", version, clean=False)
    assert back.session_present, "the session outlived the restart"
    got = back.received.take(4) + back.received.more(1.0)
    topics = sorted(m["topic"] for m in got)
    # The three queued, and the retained one (published after the subscription: queued too).
    assert topics == ["Topic/C", "TopicA/B", "TopicA/C", "TopicA/R"], got
    # Its subscription is back as it was: live messages still reach it.
    sender = hearth.client("durable-sender-2", version)
    sender.publish("TopicA/B", b"after the restart", qos=1).wait_for_publish(5)
    assert [m["payload"] for m in back.received.take(1)] == [b"after the restart"]
    # The retained message is there for a new subscriber.
    fresh = hearth.client("durable-new", version)
    assert subscribe(hearth, fresh, ("TopicA/R", 1)) == [1]
    assert [(m["payload"], m["retain"]) for m in fresh.received.take(1)] == [(b"the state", True)]
    for c in (back, sender, fresh):
        stop_client(c)


def test_message_expiry_runs_on_through_a_restart(hearth):
    away = hearth.client("expiry-restart-away", "5", clean=False, session_expiry=600)
    assert subscribe(hearth, away, ("TopicA/+", 1)) == [1]
    stop_client(away)
    c = hearth.client("expiry-restart", "5")
    publish_expiring(c, "TopicA/B", b"soon gone", 4, retain=True).wait_for_publish(5)
    publish_expiring(c, "TopicA/C", b"kept", 600, retain=True).wait_for_publish(5)
    published = time.monotonic()
    stop_client(c)
    hearth.restart()
    time.sleep(max(0.0, published + 4.5 - time.monotonic()))
    # Retained, and queued for the session that was away: the one whose time ran out while
    # Hearth restarted is gone from both.
    fresh = hearth.client("expiry-restart-fresh", "5")
    assert subscribe(hearth, fresh, ("TopicA/+", 1)) == [1]
    back = hearth.client("expiry-restart-away", "5", clean=False, session_expiry=600)
    assert back.session_present
    for client in (fresh, back):
        got = client.received.take(1) + client.received.more(0.7)
        assert [m["payload"] for m in got] == [b"kept"], got
        # Its time kept running while Hearth was stopped.
        assert 580 <= got[0]["expiry"] < 600, got
        stop_client(client)


@pytest.mark.parametrize("version", BOTH)
def test_unacknowledged_messages_outlive_a_clean_restart_and_come_again_with_dup(hearth, version):
    c = hearth.client("unacked", version, clean=False)
    c.manual_ack_set(True)
    c._send_pubrec = lambda mid: 0
    assert subscribe(hearth, c, ("+/+", 2)) == [2]
    sender = hearth.client("unacked-sender", version)
    sender.publish("TopicA/B", b"qos 1", qos=1).wait_for_publish(5)
    sender.publish("TopicA/C", b"qos 2", qos=2).wait_for_publish(5)
    c.received.take(1)  # the QoS 2 one reaches paho's application only after a PUBREL
    time.sleep(0.3)
    stop_client(sender)
    power_cut(c)
    hearth.restart()
    back = hearth.client("unacked", version, clean=False)
    assert back.session_present
    got = back.received.take(2) + back.received.more(1.0)
    assert sorted((m["topic"], m["dup"]) for m in got) == [("TopicA/B", True), ("TopicA/C", True)], got
    stop_client(back)


def read_publish_5(s: socket.socket) -> dict:
    """The next packet, an MQTT 5 PUBLISH: its topic, QoS, DUP flag, packet id and payload."""
    kind, body = read_packet(s)
    assert kind & 0xF0 == 0x30, f"a PUBLISH, not {hex(kind)} {body!r}"
    qos, length = (kind >> 1) & 3, struct.unpack("!H", body[:2])[0]
    topic, rest = body[2:2 + length].decode(), body[2 + length:]
    packet_id = None
    if qos:
        packet_id, rest = struct.unpack("!H", rest[:2])[0], rest[2:]
    properties, shift, at = 0, 0, 0
    while True:
        byte = rest[at]
        at += 1
        properties |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return {"topic": topic, "qos": qos, "dup": bool(kind & 0x08), "packet_id": packet_id, "payload": rest[at + properties:]}


@pytest.mark.parametrize("stop", ["clean", "power cut"])
def test_a_message_sent_again_after_a_failed_resume_and_a_restart_keeps_its_packet_id(hearth, stop):
    """A dashboard (MQTT 5, a persistent session) got a QoS 2 reading under packet id 3, after
    two it acknowledged, and lost its connection before acknowledging it. It came back with a
    CONNECT whose CONNACK cannot be written (its Maximum Packet Size is too small): the resume
    put the reading back in the session's queue, to be sent again, and the session went
    offline. Then Hearth stopped, cleanly or as a power cut (a second after: the save while it
    runs is a second behind), and started again. Coming back, the dashboard must get the
    reading again under its id 3 and with DUP [MQTT-4.4.0-1], so that a QoS 2 client that had it
    takes it for a repeat, not a new reading. Saved without its id (before), it came as a new
    message under id 1. A reading queued after the restart goes out under another id."""
    device = hearth.device
    sender = hearth.client("resent-sender", "5")

    def connect(properties=b""):
        return mqtt5_connect(device, "resent-dashboard", clean_start=False, expiry=3600, properties=properties)

    def offline():
        wait_until(lambda: not any(s["client_id"] == "resent-dashboard" for s in hearth.hub.get(f"/devices/{device.id}/broker")["sessions"]),
                   "the dashboard offline")

    first = connect()
    mqtt5_accepted_and_subscribed(first, "TopicA/+", 2)
    for n in (1, 2):
        sender.publish("TopicA/B", f"acknowledged {n}", qos=1).wait_for_publish(5)
        acknowledged = read_publish_5(first)
        first.sendall(b"\x40\x02" + struct.pack("!H", acknowledged["packet_id"]))  # PUBACK
    sender.publish("TopicA/C", b"sent, not acknowledged", qos=2).wait_for_publish(5)
    sent = read_publish_5(first)
    assert (sent["qos"], sent["packet_id"], sent["dup"]) == (2, 3, False), sent
    first.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    first.close()  # lost before its PUBREC
    offline()
    tiny = connect(TINY_MAXIMUM_PACKET_SIZE)
    tiny.settimeout(5)
    assert tiny.recv(4096) == b"", "nothing for a client that cannot take a CONNACK"
    tiny.close()
    offline()
    stop_client(sender)
    if stop == "power cut":
        time.sleep(1.5)  # the queued reading saved as it came, within a second
    hearth.restart(kill=stop == "power cut")
    sender = hearth.client("resent-sender", "5")
    sender.publish("TopicA/D", b"queued after the restart", qos=2).wait_for_publish(5)
    stop_client(sender)
    back = connect()
    back.settimeout(5)
    kind, connack = read_packet(back)
    assert kind == 0x20 and connack[:2] == b"\x01\x00", f"session present: {connack!r}"
    again, queued = read_publish_5(back), read_publish_5(back)
    print(f"\nsent again: {again}\nqueued after the restart: {queued}")
    assert (again["payload"], again["packet_id"], again["dup"]) == (b"sent, not acknowledged", 3, True), again
    assert queued["payload"] == b"queued after the restart" and not queued["dup"] and queued["packet_id"] != 3, queued
    for m in (again, queued):  # both complete
        back.sendall(b"\x50\x02" + struct.pack("!H", m["packet_id"]))  # PUBREC
        kind, release = read_packet(back)
        assert kind == 0x62 and release[:2] == struct.pack("!H", m["packet_id"]), (hex(kind), release)
        back.sendall(b"\x70\x02" + struct.pack("!H", m["packet_id"]))  # PUBCOMP
    back.sendall(b"\xe0\x00")
    back.close()


@pytest.mark.parametrize("version", BOTH)
def test_after_a_power_cut_what_was_saved_a_second_before_comes_back(hearth, version):
    queue_three(hearth, version)
    time.sleep(2.5)  # the broker's changes are saved every second
    hearth.restart(kill=True)
    back = hearth.client("durable", version, clean=False)
    assert back.session_present
    got = back.received.take(4) + back.received.more(1.0)
    assert sorted(m["topic"] for m in got) == ["Topic/C", "TopicA/B", "TopicA/C", "TopicA/R"], got
    fresh = hearth.client("durable-new", version)
    assert subscribe(hearth, fresh, ("TopicA/R", 1)) == [1]
    assert [m["payload"] for m in fresh.received.take(1)] == [b"the state"]
    stop_client(back)
    stop_client(fresh)


@pytest.mark.parametrize("restart", ["clean", "power-cut"])
def test_a_shared_and_a_plain_subscription_to_one_filter_both_outlive_a_restart(hearth, restart):
    """Saved as two subscriptions (MQTT 5, 4.8.2), not one filter's row written twice."""
    away = hearth.client("shared-and-plain-durable", "5", clean=False)
    assert subscribe(hearth, away, ("TopicA/B", 1), ("$share/workers/TopicA/B", 1)) == [1, 1]
    stop_client(away)
    if restart == "power-cut":
        time.sleep(2.5)  # the broker's changes are saved every second
    hearth.restart(kill=restart == "power-cut")
    back = hearth.client("shared-and-plain-durable", "5", clean=False)
    assert back.session_present
    sender = hearth.client("shared-and-plain-sender", "5")
    sender.publish("TopicA/B", b"by each", qos=1).wait_for_publish(5)
    assert [m["payload"] for m in back.received.take(2) + back.received.more(0.7)] == [b"by each"] * 2
    for c in (back, sender):
        stop_client(c)


def qos2_watcher(hearth):
    """The receiver of the QoS 2 stories: `TopicA/+` at QoS 2."""
    watcher = hearth.client("qos2-watcher", "5")
    assert subscribe(hearth, watcher, ("TopicA/+", 2)) == [2]
    return watcher


def resumed_qos2_device(hearth, version):
    """The device's connection back to the session it had before."""
    sock, session_present = qos2_device(hearth, version)
    assert session_present
    return sock


def with_dup(packet):
    """`packet` (a PUBLISH) marked as sent again."""
    return bytes([packet[0] | 0x08]) + packet[1:]


def delivered(watcher):
    """The payloads the watcher receives now: one awaited, and any more within a second."""
    return [m["payload"] for m in watcher.received.take(1) + watcher.received.more(1.0)]


def hang_up(sock, watcher):
    sock.sendall(DISCONNECT)
    sock.close()
    stop_client(watcher)


@pytest.mark.parametrize("version", [4, 5], ids=["3.1.1", "5"])
@pytest.mark.parametrize("restart", ["clean", "power-cut", "power-cut-while-connected"])
def test_a_qos_2_message_not_yet_released_is_delivered_once_across_a_restart(hearth, version, restart):
    """Exactly once (MQTT-4.3.3-10) across a restart of Hearth, as Mosquitto with persistence
    keeps it: a device loses its connection between its QoS 2 PUBLISH and its PUBREL (or Hearth
    loses power while the device waits), Hearth restarts, and the device sends the PUBLISH again
    when it reconnects to its session. It is acknowledged and not delivered a second time; the
    id is then free for a new message. Before the pending ids were saved with the session, it was
    delivered twice. While connected, only the QoS 2 PUBLISH itself has them saved."""
    watcher = qos2_watcher(hearth)
    once = publish_packet(b"TopicA/B", b"once", qos=2, packet_id=5, version=version)
    sock, _ = qos2_device(hearth, version)
    if restart == "power-cut-while-connected":
        time.sleep(2.5)  # its connection saved first: only the PUBLISH has the id saved
    sock.sendall(once)
    assert pubrec_of_5(sock) == 0
    assert [m["payload"] for m in watcher.received.take(1)] == [b"once"]
    if restart != "power-cut-while-connected":
        sock.close()  # lost before the PUBREL
    stop_client(watcher)
    time.sleep(0.5 if restart == "clean" else 2.5)  # the broker's changes are saved every second
    hearth.restart(kill=restart != "clean")
    sock.close()
    watcher = qos2_watcher(hearth)
    sock = resumed_qos2_device(hearth, version)
    sock.sendall(with_dup(once))
    assert pubrec_of_5(sock) == 0
    release_5(sock)
    sock.sendall(publish_packet(b"TopicA/B", b"next", qos=2, packet_id=5, version=version))
    assert pubrec_of_5(sock) == 0
    release_5(sock)
    assert delivered(watcher) == [b"next"]
    hang_up(sock, watcher)


@pytest.mark.parametrize("version", [4, 5], ids=["3.1.1", "5"])
def test_an_id_released_before_a_power_cut_carries_a_new_message_after_it(hearth, version):
    """The saved pending ids follow the releases too, though no hook announces a PUBREL: a device
    reconnects after losing its connection mid-exchange and finishes it; after a power cut it
    sends a message under the same id with the same content, marked DUP (as a client that sends
    again sets it, so that even a saved id kept as maybe behind is matched). The id was released:
    it is a new message, delivered. Saved ids that had not followed the release would take it for
    a repeat of the finished one, and it would be lost. (Without DUP it would be delivered either
    way since rmqtt change 35: the story below.)"""
    on = publish_packet(b"TopicA/B", b"on", qos=2, packet_id=5, version=version)
    sock, _ = qos2_device(hearth, version)
    sock.sendall(on)
    assert pubrec_of_5(sock) == 0
    sock.close()  # lost before the PUBREL
    time.sleep(2.5)  # saved with the id pending
    sock = resumed_qos2_device(hearth, version)
    sock.sendall(with_dup(on))
    assert pubrec_of_5(sock) == 0
    time.sleep(2.5)  # saved again, connected, the id still pending
    release_5(sock)
    time.sleep(2.5)  # the release saved too
    hearth.restart(kill=True)
    sock.close()
    watcher = qos2_watcher(hearth)
    sock = resumed_qos2_device(hearth, version)
    sock.sendall(with_dup(on))
    assert pubrec_of_5(sock) == 0
    release_5(sock)
    assert delivered(watcher) == [b"on"]
    hang_up(sock, watcher)


@pytest.mark.parametrize("version", [4, 5], ids=["3.1.1", "5"])
@pytest.mark.parametrize("then_a_clean_restart", [False, True], ids=["power-cut", "power-cut-then-a-clean-restart"])
def test_a_device_that_lost_power_with_the_hub_is_heard_again_under_its_pending_id(hearth, version, then_a_clean_restart):
    """A power cut takes the hub and a plug down together, the plug between its QoS 2 PUBLISH and
    its PUBREL. Back up, the plug remembers nothing and reports "on" again under id 5, its ids
    counted from the start, without DUP (MQTT-3.3.1-1: DUP is set on every sending again, so a
    PUBLISH without it is a first sending). The saved id is a second old and cannot tell the two
    apart by content: the report is delivered, not taken for the old one and lost. The same
    PUBLISH sent again with DUP stays a repeat (the story above). The ids stay marked as maybe
    behind through a clean restart before the plug is back: that stop's save knows no better."""
    watcher = qos2_watcher(hearth)
    on = publish_packet(b"TopicA/B", b"on", qos=2, packet_id=5, version=version)
    sock, _ = qos2_device(hearth, version)
    sock.sendall(on)
    assert pubrec_of_5(sock) == 0
    assert [m["payload"] for m in watcher.received.take(1)] == [b"on"]
    stop_client(watcher)
    time.sleep(2.5)  # saved with the id pending
    hearth.restart(kill=True)
    sock.close()
    if then_a_clean_restart:
        hearth.restart()
    watcher = qos2_watcher(hearth)
    sock = resumed_qos2_device(hearth, version)
    sock.sendall(on)
    assert pubrec_of_5(sock) == 0
    release_5(sock)
    assert delivered(watcher) == [b"on"]
    hang_up(sock, watcher)


@pytest.mark.parametrize("version", [4, 5], ids=["3.1.1", "5"])
def test_after_a_clean_restart_a_qos_2_message_sent_again_without_dup_is_still_a_repeat(hearth, version):
    """A clean stop saves the pending ids exactly, so after it a repeat is told by its content as
    in any run, DUP or not: some clients have been reported to send a QoS 2 message again without
    DUP (MQTT.js, which Node-RED uses; Paho's Go client), and it must not be delivered twice.
    Only after a power cut (the story above) does DUP decide."""
    watcher = qos2_watcher(hearth)
    once = publish_packet(b"TopicA/B", b"once", qos=2, packet_id=5, version=version)
    sock, _ = qos2_device(hearth, version)
    sock.sendall(once)
    assert pubrec_of_5(sock) == 0
    assert [m["payload"] for m in watcher.received.take(1)] == [b"once"]
    sock.close()  # lost before the PUBREL
    stop_client(watcher)
    hearth.restart()
    watcher = qos2_watcher(hearth)
    sock = resumed_qos2_device(hearth, version)
    sock.sendall(once)  # again, without DUP
    assert pubrec_of_5(sock) == 0
    release_5(sock)
    assert watcher.received.more(1.0) == [], "delivered once, before the restart"
    hang_up(sock, watcher)


def edit_while_stopped(hearth, sql, *args):
    """Changes the store while Hearth is stopped, as an older copy of it put back would."""
    with sqlite3.connect(hearth.hub.data_dir / "hearth.db") as db:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute(sql, args)


def test_the_gate_decides_again_after_a_restart(hearth):
    queue_three(hearth, "5")
    hearth.hub.stop()
    # The store says the device may no longer receive TopicA/B (a person's decision Hearth did
    # not see, e.g. from a backup): the restored session's messages on it are not delivered.
    edit_while_stopped(hearth, "INSERT INTO topic_rules (device_id, direction, pattern, status, since) "
                       "VALUES (?, 'subscribe', 'TopicA/B', 'denied', 0)", hearth.device.id)
    hearth.restart(already_stopped=True)
    back = hearth.client("durable", "5", clean=False)
    assert back.session_present
    got = back.received.take(3) + back.received.more(1.0)
    assert "TopicA/B" not in {m["topic"] for m in got}, got
    assert {m["topic"] for m in got} == {"Topic/C", "TopicA/C", "TopicA/R"}
    stop_client(back)


def mqtt_rows(hearth, sql, *args):
    with sqlite3.connect(f"file:{hearth.hub.data_dir / 'hearth.db'}?mode=ro", uri=True) as db:
        return db.execute(sql, args).fetchone()[0]


def test_a_shared_subscription_saved_by_an_earlier_hearth_comes_back_shared(hearth):
    """Before rmqtt change 37 a shared subscription's row held its bare filter, its group only in
    its options. Put back from such a store it is still the group's: each message goes to one
    member, not to it as a plain subscriber besides; saved again, it is under its full name."""
    away = hearth.client("old-row", "5", clean=False)
    assert subscribe(hearth, away, ("$share/workers/TopicA/B", 1)) == [1]
    stop_client(away)
    hearth.hub.stop()
    edit_while_stopped(hearth, "UPDATE mqtt_subscriptions SET filter = 'TopicA/B' WHERE client_id = 'old-row'")
    hearth.restart(already_stopped=True)
    back = hearth.client("old-row", "5", clean=False)
    assert back.session_present
    other = hearth.client("old-row-other-member", "5")
    assert subscribe(hearth, other, ("$share/workers/TopicA/B", 1)) == [1]
    sender = hearth.client("old-row-sender", "5")
    for i in range(10):
        sender.publish("TopicA/B", f"job {i}", qos=1).wait_for_publish(5)
    got = received_across((back, other), 10)
    assert sorted(got) == sorted(f"job {i}".encode() for i in range(10)), "each message once across the group"
    assert back.received.log, "the restored member takes its turns"
    for c in (back, other, sender):
        stop_client(c)
    hearth.hub.stop()  # a clean stop saves every session whole
    with sqlite3.connect(f"file:{hearth.hub.data_dir / 'hearth.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT filter FROM mqtt_subscriptions WHERE client_id = 'old-row'").fetchall()
    assert rows == [("$share/workers/TopicA/B",)]


def test_forgetting_a_device_leaves_none_of_its_sessions_or_messages_and_none_come_back(hearth):
    queue_three(hearth, "5")
    time.sleep(2.5)  # saved
    assert mqtt_rows(hearth, "SELECT COUNT(*) FROM mqtt_messages") == 4
    hearth.hub.cli("device", "forget", hearth.device.id)
    for table in ("mqtt_sessions", "mqtt_messages", "mqtt_retained", "mqtt_subscriptions"):
        assert mqtt_rows(hearth, f"SELECT COUNT(*) FROM {table}") == 0, table
    hearth.restart()
    for table in ("mqtt_sessions", "mqtt_messages", "mqtt_retained"):
        assert mqtt_rows(hearth, f"SELECT COUNT(*) FROM {table}") == 0, f"{table} after the shutdown's save"


def test_a_blocked_devices_session_does_not_come_back(hearth):
    queue_three(hearth, "5")
    hearth.hub.cli("device", "block", hearth.device.id)
    hearth.restart()
    hearth.hub.cli("device", "approve", hearth.device.id)
    back = hearth.client("durable", "5", clean=False)
    assert not back.session_present
    stop_client(back)


def test_a_field_redacted_while_a_message_waited_is_removed_from_it_after_a_restart(hearth):
    away = hearth.client("dashboard", "5", clean=False)
    assert subscribe(hearth, away, ("owntracks/anna/phone", 1)) == [1]
    stop_client(away)
    phone = hearth.client("phone", "5")
    phone.publish("owntracks/anna/phone", b'{"lat": 52.1, "lon": 4.3, "batt": 80}', qos=1).wait_for_publish(5)
    stop_client(phone)
    hearth.hub.cli("privacy", "set", hearth.device.id, "--redact", "lat")
    hearth.restart()
    back = hearth.client("dashboard", "5", clean=False)
    got = back.received.take(1)
    assert b"52.1" not in got[0]["payload"] and b"batt" in got[0]["payload"], got
    stop_client(back)


def test_a_session_of_a_device_forgotten_while_hearth_was_stopped_does_not_come_back(hearth):
    queue_three(hearth, "5")
    hearth.hub.stop()
    edit_while_stopped(hearth, "DELETE FROM devices WHERE id = ?", hearth.device.id)
    hearth.restart(already_stopped=True)
    log = hearth.hub.read_log()
    assert "sessions_dropped: 1" in log, log[-3000:]


def test_a_session_that_expired_while_hearth_was_stopped_is_gone(hearth):
    c = hearth.client("short-lived", "5", clean=False, session_expiry=2)
    assert subscribe(hearth, c, ("TopicA/B", 1)) == [1]
    stop_client(c)
    kept = hearth.client("long-lived", "5", clean=False, session_expiry=600)
    assert subscribe(hearth, kept, ("TopicA/B", 1)) == [1]
    stop_client(kept)
    hearth.hub.stop()
    time.sleep(3)
    hearth.restart(already_stopped=True)
    assert not hearth.client("short-lived", "5", clean=False, session_expiry=2).session_present
    assert hearth.client("long-lived", "5", clean=False, session_expiry=600).session_present


def test_a_queue_is_bounded_in_bytes_and_what_it_dropped_is_counted_and_shown(hearth):
    """A camera's snapshots for a dashboard that is away: 16 MiB are kept per session (as many
    whole messages as fit), the rest dropped and counted on the dashboard's device page."""
    away = hearth.client("dashboard", "5", clean=False)
    assert subscribe(hearth, away, ("camera/snapshot", 1)) == [1]
    stop_client(away)
    camera = hearth.client("camera", "5")
    snapshot = bytes(512 * 1024)
    for i in range(40):
        camera.publish("camera/snapshot", snapshot, qos=1).wait_for_publish(10)
    stop_client(camera)
    waiting = hearth.hub.get(f"/devices/{hearth.device.id}/broker")["waiting"]
    fits = 16 * 1024 * 1024 // (len(snapshot) + len("camera/snapshot"))
    assert waiting["offline_sessions"] == 1
    assert (waiting["messages"], waiting["dropped"]) == (fits, 40 - fits), waiting
    assert waiting["bytes"] <= waiting["max_bytes"] == 16 * 1024 * 1024
    # What is saved is bounded the same way.
    time.sleep(2.5)
    assert mqtt_rows(hearth, "SELECT COUNT(*) FROM mqtt_messages WHERE client_id = 'dashboard'") == fits
    back = hearth.client("dashboard", "5", clean=False)
    got = back.received.take(fits, timeout=20) + back.received.more(1.0)
    assert len(got) == fits
    stop_client(back)
    time.sleep(2.5)
    assert mqtt_rows(hearth, "SELECT COUNT(*) FROM mqtt_messages") == 0, "taken by the dashboard"
