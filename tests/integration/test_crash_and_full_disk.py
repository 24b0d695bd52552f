"""Crash and full-disk safety. `kill -9` of `hearth serve` while devices publish at full speed:
it starts again, the database is whole, everything the recorder had committed is there, and
`hearth status` says the last run did not stop cleanly. A data directory whose disk fills up
(a small tmpfs, mounted in a mount namespace of the hub's own): devices are still brokered and
delivered to, recording stops with one loud status and one log line, and resumes by itself
when space comes back."""

import json
import pathlib
import signal
import socket
import sqlite3
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from conftest import HEARTH, Hub


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def added(cli, name, *patterns):
    device = json.loads(cli("device", "add", name, "--json").stdout)
    for direction, pattern in patterns:
        cli("device", "allow", device["id"], f"--{direction}", pattern)
    return device


def client(device, client_id):
    host, port = device["broker"].split(", ")[0].rsplit(":", 1)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    c.username_pw_set(device["username"], device["password"])
    c.received = []
    c.on_message = lambda _c, _u, msg: c.received.append(msg.payload)
    c.connect(host, int(port), keepalive=30)
    c.loop_start()
    return c


def recorded_messages(cli, device_id) -> int:
    return json.loads(cli("review", device_id, "--since", "1h", "--json").stdout)["messages"]


def wait_until(what, predicate, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_9_under_load_loses_nothing_committed_and_is_reported(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    hub = Hub(data)
    meter = added(hub.cli, "Power meter", ("publish", "meter/#"))
    publisher = client(meter, "meter-1")
    stop = threading.Event()

    def flood():
        i = 0
        while not stop.is_set():
            publisher.publish("meter/power", json.dumps({"power": i, "voltage": 231}), qos=i % 2)
            i += 1
            if i % 200 == 0:
                time.sleep(0.001)
    threading.Thread(target=flood, daemon=True).start()
    try:
        committed = wait_until("the recorder to commit under load", lambda: recorded_messages(hub.cli, meter["id"]) > 2000 and
                               recorded_messages(hub.cli, meter["id"]))
        hub.proc.send_signal(signal.SIGKILL)  # while the flood goes on
        hub.proc.wait(timeout=10)
    finally:
        stop.set()
        publisher.loop_stop()
    assert (data / "hub.json").exists(), "killed: no clean shutdown removed the running marker"

    again = Hub(data)
    try:
        status = json.loads(again.cli("status", "--json").stdout)
        assert status["last_shutdown"] == {"clean": False, "database_check": "ok"}
        assert "did not stop cleanly" in again.cli("status").stdout
        assert recorded_messages(again.cli, meter["id"]) >= committed, "every batch committed before the kill is there"
        db = sqlite3.connect(data / "hearth.db")
        try:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            db.close()
        # And it works: the meter connects and is recorded again.
        again_publisher = client(dict(meter, broker=status["broker"]["address"]), "meter-1")
        again_publisher.publish("meter/power", "{}", qos=1).wait_for_publish(5)
        again_publisher.loop_stop()
    finally:
        again.stop()
    assert again.proc.returncode == 0, again.read_log()
    clean = Hub(data)
    try:
        assert json.loads(clean.cli("status", "--json").stdout)["last_shutdown"]["clean"] is True
    finally:
        clean.stop()


def fill(path: pathlib.Path) -> int:
    """Writes to `path` until the filesystem is full; returns the bytes written."""
    written = 0
    chunk = b"\0" * (256 * 1024)
    # Unbuffered: nothing is left to flush (and fail) at close.
    with open(path, "wb", buffering=0) as f:
        for size in (len(chunk), 4096):  # then the last partial pages
            try:
                while True:
                    written += f.write(chunk[:size])
            except OSError:
                pass
    return written


def test_a_full_disk_stops_recording_loudly_once_and_brokering_goes_on(tmp_path):
    mountpoint = tmp_path / "data"
    mountpoint.mkdir()
    log_path = tmp_path / "serve.log"
    http, mqtt_port = free_port(), free_port()
    # A 24 MiB tmpfs as the data directory, in a mount namespace of the hub's own, so that
    # nothing is mounted on this machine; the test reaches its files through /proc/PID/root.
    script = (f'mount -t tmpfs -o size=24m,mode=0700 hearth-full-disk "{mountpoint}" && '
              f'exec "{HEARTH}" serve --data-dir "{mountpoint}" --http-listen 127.0.0.1:{http} --mqtt-listen 127.0.0.1:{mqtt_port} '
              f'--mqtts-listen 127.0.0.1:0 --no-discovery')
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], stdout=log, stderr=subprocess.STDOUT)
    data = pathlib.Path(f"/proc/{proc.pid}/root") / str(mountpoint).lstrip("/")

    def cli(*args):
        r = subprocess.run([str(HEARTH), *args, "--data-dir", str(data)], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r

    def status():
        return json.loads(cli("status", "--json").stdout)

    try:
        wait_until("the hub in its own tmpfs", lambda: (data / "hub.json").exists())
        sensor = added(cli, "Kitchen sensor", ("publish", "kitchen/#"))
        screen = added(cli, "Kitchen screen", ("subscribe", "kitchen/#"))
        watcher = client(screen, "screen")
        watcher.subscribe("kitchen/#", qos=1)
        publisher = client(sensor, "sensor")
        time.sleep(0.3)
        publisher.publish("kitchen/climate", json.dumps({"temperature": 21.0}), qos=1).wait_for_publish(5)
        wait_until("the first message recorded", lambda: recorded_messages(cli, sensor["id"]) >= 1)

        filler = data / "filler"
        assert fill(filler) > 0
        for i in range(300):
            publisher.publish("kitchen/climate", json.dumps({"temperature": 21.0, "n": i, "pad": "x" * 2000}), qos=1).wait_for_publish(5)
        wait_until("every message delivered while the disk is full", lambda: len(watcher.received) >= 301, timeout=20)
        paused = wait_until("recording paused", lambda: status()["recording"]["paused_since"] is not None and status()["recording"])
        assert paused["not_recorded"] > 0
        assert "RECORDING STOPPED" in cli("status").stdout
        stuck_at = recorded_messages(cli, sensor["id"])

        filler.unlink()
        publisher.publish("kitchen/climate", json.dumps({"temperature": 22.0}), qos=1).wait_for_publish(5)
        wait_until("recording resumed by itself", lambda: status()["recording"]["paused_since"] is None, timeout=20)
        for i in range(5):
            publisher.publish("kitchen/climate", json.dumps({"temperature": 22.5, "after": i}), qos=1).wait_for_publish(5)
        wait_until("messages recorded again", lambda: recorded_messages(cli, sensor["id"]) >= stuck_at + 5)
        publisher.loop_stop()
        watcher.loop_stop()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    log = log_path.read_text(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert "panicked" not in log
    assert log.count("recording has stopped") == 1, "said once, not per message"
    assert log.count("recording resumed") == 1
