"""Forget means forgotten: after `hearth device forget`, no byte that came from the device or names
its data is left anywhere in the data directory (database, its write-ahead log, secrets, every
file Hearth keeps there), and the audit keeps only that the device was forgotten, by whom and
when. A phone sending where a person is, under a topic that carries her name, is the story."""

import json
import pathlib
import sqlite3
import subprocess
import time

from mqtt_device import Device

# Strings that came from the device or name its data: its topics (a person's name), its client id,
# what it sent, the name a person gave it.
NAME = "anna-7f3e"
CLIENT_ID = "phone-of-anna-7f3e"
PAYLOAD_MARKER = "NOTE-5b0c1a"
DEVICE_NAME = "Phone of Anna 7f3e"


def files_holding(data_dir: pathlib.Path, needles):
    """Every file under the data directory holding any of `needles`, except the log the test
    harness writes there from Hearth's stderr (Hearth itself keeps no log in its data directory:
    its log goes to stderr, the system journal under a service manager)."""
    found = []
    for path in data_dir.rglob("*"):
        if not path.is_file() or path.name == "serve.log":
            continue
        data = path.read_bytes()
        found += [(path.name, n) for n in needles if n.encode() in data or n.encode("utf-16-le") in data]
    return found


def test_forget_leaves_no_byte_of_the_device_in_the_data_directory(hub):
    phone = Device(hub, DEVICE_NAME, publish=[f"owntracks/{NAME}/#"], subscribe=[f"owntracks/{NAME}/cmd"])
    hub.cli("device", "deny", phone.id, "--publish", f"owntracks/{NAME}/secret")
    hub.cli("privacy", "set", phone.id, "--category", "location", "--retention", "7d")
    hub.cli("privacy", "set", phone.id, "--redact", "batt")
    hub.cli("device", "credentials", phone.id, "--bind-client-id", CLIENT_ID)
    location = {"_type": "location", "lat": 52.3702, "lon": 4.8952, "tid": "ap", "note": PAYLOAD_MARKER, "batt": 81}
    for topic in (f"owntracks/{NAME}/phone", f"owntracks/{NAME}/phone", f"owntracks/{NAME}/unlisted"):
        r = phone.pub(topic, json.dumps(location), qos=1, extra=["-i", CLIENT_ID, "-r"])
        assert r.returncode == 0, r.stderr
    # A wrong secret under its client id: counted as an attempt naming its client id.
    subprocess.run(["mosquitto_pub", "-h", phone.host, "-p", str(phone.port), "-u", phone.username, "-P", "wrong", "-i", CLIENT_ID,
                    "-t", "x", "-m", "x"], capture_output=True, timeout=10)
    needles = [NAME, CLIENT_ID, PAYLOAD_MARKER, DEVICE_NAME]
    # A positive control: all of it is on file before.
    review = json.loads(hub.cli("review", phone.id, "--since", "1h", "--json").stdout)
    assert review["messages"] >= 2
    counted = lambda: any(c["client_id"] == CLIENT_ID and c["refused"] == "bad_credentials" for c in phone.view()["connections"])
    deadline = time.time() + 5
    while not counted() and time.time() < deadline:
        time.sleep(0.2)  # the gate's counts are filed every second
    assert counted(), phone.view()["connections"]
    on_file = {n for _, n in files_holding(hub.data_dir, needles)}
    assert on_file == set(needles), on_file

    hub.cli("device", "forget", phone.id)
    assert files_holding(hub.data_dir, needles) == []
    db = sqlite3.connect(hub.data_dir / "hearth.db")
    try:
        audit = db.execute("SELECT actor, origin, action, subject FROM audit").fetchall()
    finally:
        db.close()
    about_it = [row for row in audit if phone.id in row[3]]
    assert about_it == [("owner", "cli", "forget_device", phone.id)], audit
