"""Crash and full-disk safety. `kill -9` of `hearth serve` while devices publish at full speed:
it starts again, the database is whole, everything the recorder had committed is there, and
`hearth status` says the last run did not stop cleanly. A data directory whose disk fills up
(a small tmpfs, mounted in a mount namespace of the hub's own): devices are still brokered and
delivered to, recording stops with one loud status and one log line, and resumes by itself
when space comes back. A clean stop on a full disk keeps the broker's state of the last save
that worked."""

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
        assert status["last_shutdown"] == {"clean": False, "database_check": "ok", "mqtt_save_failed": False}
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


def on_a_small_disk(tmp_path, runs):
    """A 24 MiB tmpfs as the data directory, in a mount namespace of the hub's own, so that
    nothing is mounted on this machine; the test reaches its files through /proc/PID/root.
    `runs(serve)` is the shell that runs the hub's command `serve` once the tmpfs is mounted; its
    output goes to `serve.log`. Returns the shell's process, the data directory as seen from
    here, the log's path, the MQTT port, and the CLI on that data directory."""
    mountpoint = tmp_path / "data"
    mountpoint.mkdir()
    log_path = tmp_path / "serve.log"
    http, mqtt_port = free_port(), free_port()
    serve = (f'"{HEARTH}" serve --data-dir "{mountpoint}" --http-listen 127.0.0.1:{http} --mqtt-listen 127.0.0.1:{mqtt_port} '
             f'--mqtts-listen 127.0.0.1:0 --no-discovery')
    script = f'mount -t tmpfs -o size=24m,mode=0700 hearth-full-disk "{mountpoint}" || exit 1; {runs(serve)}'
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], stdout=log, stderr=subprocess.STDOUT)
    data = pathlib.Path(f"/proc/{proc.pid}/root") / str(mountpoint).lstrip("/")

    def cli(*args):
        r = subprocess.run([str(HEARTH), *args, "--data-dir", str(data)], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r

    return proc, data, log_path, mqtt_port, cli


def test_a_full_disk_stops_recording_loudly_once_and_brokering_goes_on(tmp_path):
    proc, data, log_path, _, cli = on_a_small_disk(tmp_path, lambda serve: f"exec {serve}")

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


def test_a_clean_stop_on_a_full_disk_keeps_what_was_saved_and_says_what_was_not(tmp_path):
    """The hub stops cleanly while its disk is full. Its broker's sessions are saved every second
    and whole at a clean stop; here those saves may fail. A dashboard's persistent session
    holds a reading queued before the disk filled, and one queued after. Started again with
    room: the session is back with the first reading, once; the second is back too if a save
    still found room (SQLite reuses its log's pages), and otherwise the first run's log said the
    clean stop's save failed and what the next start would put back, and the next start's
    `hearth status` says so (only then). Nothing panics, and the first run still exits 0."""
    first_pid, go = tmp_path / "first.pid", tmp_path / "go"
    # One mount namespace for both runs, so that the tmpfs and what is in it outlive the first.
    proc, data, log_path, mqtt_port, cli = on_a_small_disk(
        tmp_path, lambda serve: (f'{serve} & echo $! > "{first_pid}"; wait $!; echo "first run exited $?"; '
                                 f'while [ ! -e "{go}" ]; do sleep 0.1; done; exec {serve}'))

    def dashboard_back():
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="dashboard", clean_session=False)
        c.username_pw_set(screen["username"], screen["password"])
        c.received, c.present = [], []
        c.on_message = lambda _c, _u, msg: c.received.append(msg.payload)
        c.on_connect = lambda _c, _u, flags, _reason, _props: c.present.append(flags.session_present)
        c.connect("127.0.0.1", mqtt_port, keepalive=30)
        c.loop_start()
        wait_until("the dashboard back", lambda: c.present)
        return c

    try:
        wait_until("the hub in its own tmpfs", lambda: (data / "hub.json").exists())
        sensor = added(cli, "Kitchen sensor", ("publish", "kitchen/#"))
        screen = added(cli, "Kitchen screen", ("subscribe", "kitchen/#"))
        away = dashboard_back()
        away.subscribe("kitchen/#", qos=1)
        time.sleep(0.3)
        away.disconnect()
        away.loop_stop()
        publisher = client(sensor, "sensor")
        publisher.publish("kitchen/climate", b"queued before the disk filled", qos=1).wait_for_publish(5)
        time.sleep(2.5)  # saved within a second
        filler = data / "filler"
        assert fill(filler) > 0
        publisher.publish("kitchen/climate", b"queued on a full disk", qos=1).wait_for_publish(5)
        time.sleep(2.5)  # a save tried
        publisher.disconnect()
        publisher.loop_stop()
        subprocess.run(["kill", "-TERM", first_pid.read_text().strip()], check=True)
        wait_until("the first run stopped", lambda: "first run exited" in log_path.read_text(errors="replace"), timeout=30)
        first_log = log_path.read_text(errors="replace")
        assert "first run exited 0" in first_log, first_log[-3000:]
        filler.unlink()
        go.touch()
        wait_until("the second run started", lambda: (data / "hub.json").exists(), timeout=30)
        back = dashboard_back()
        assert back.present == [True], "the session came back"
        wait_until("the reading saved before the disk filled", lambda: back.received)
        time.sleep(1)
        print(f"\nafter a clean stop on a full disk: {back.received}")
        assert back.received[0] == b"queued before the disk filled" and back.received.count(back.received[0]) == 1, back.received
        save_failed = "MQTT sessions and retained messages could not be saved" in first_log
        if back.received[1:] != [b"queued on a full disk"]:
            assert back.received[1:] == [], back.received
            assert save_failed, first_log[-3000:]
        # The next start says it too, and only then: the person sees it, not just the log.
        last_stop = json.loads(cli("status", "--json").stdout)["last_shutdown"]
        print(f"the clean stop's save failed: {save_failed}; the next start's status: {last_stop}")
        assert last_stop["clean"] and last_stop["mqtt_save_failed"] == save_failed, last_stop
        said = "the last stop could not save the MQTT sessions" in cli("status").stdout
        assert said == save_failed
        back.disconnect()
        back.loop_stop()
    finally:
        if "first run exited" not in log_path.read_text(errors="replace") and first_pid.exists():
            subprocess.run(["kill", "-TERM", first_pid.read_text().strip()], check=False)  # failed before its stop
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    log = log_path.read_text(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert "panicked" not in log
