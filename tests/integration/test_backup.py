"""`hearth backup FILE` and `hearth restore FILE`: a home moved to a new machine (a new data
directory) keeps its devices, their credentials (a device connects to the restored hub with the
secret it already has, trusting the same CA), their rules, privacy settings and ledger. The backup
is taken while the hub runs, is encrypted with the passphrase, and restores into an empty data
directory only."""

import json
import subprocess

from conftest import HEARTH, Hub
from mqtt_device import Device
from test_ledger import SHELLY, publish_all, review, wait_for_messages

PASSPHRASE = "correct horse battery staple"


def run(*args, env_passphrase=PASSPHRASE, check=True):
    env = {"HEARTH_BACKUP_PASSPHRASE": env_passphrase, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(HEARTH), *args], capture_output=True, text=True, timeout=60, env=env)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_backup_then_restore_gives_the_same_home_on_a_new_data_directory(hub, tmp_path):
    plug = Device(hub, "Kitchen plug", publish=["shellyplusplugs-c4dd57877294/#"])
    publish_all(plug, "shellyplusplugs-c4dd57877294/status/switch:0", [SHELLY, SHELLY])
    before_review = wait_for_messages(hub, plug, 2)
    hub.cli("device", "deny", plug.id, "--publish", "shellyplusplugs-c4dd57877294/debug/#")
    hub.cli("privacy", "set", plug.id, "--redact", "voltage")
    hub.cli("privacy", "set", plug.id, "--category", "energy", "--retention", "30d")
    before_devices = {d["id"]: (d["name"], d["state"]) for d in hub.devices()}
    before_rules = plug.view()["rules"]
    before_privacy = json.loads(hub.cli("privacy", "show", plug.id, "--json").stdout)

    # Taken while the hub runs (SQLite's online backup).
    file = tmp_path / "home.hearth-backup"
    out = run("backup", str(file), "--data-dir", str(hub.data_dir)).stdout
    assert "Backed up 1 device and Hearth's CA with its key" in out, out
    assert b"Kitchen plug" not in file.read_bytes(), "encrypted"
    assert file.read_bytes().startswith(b"age-encryption.org/v1"), "the age format: `age -d` opens it too"
    hub.stop()

    new_dir = tmp_path / "new-machine"
    wrong = run("restore", str(file), "--data-dir", str(new_dir), env_passphrase="not the passphrase", check=False)
    assert wrong.returncode != 0 and "wrong passphrase" in wrong.stderr, wrong.stderr
    assert not (new_dir / "hearth.db").exists()
    out = run("restore", str(file), "--data-dir", str(new_dir)).stdout
    assert "Restored 1 device " in out and "with Hearth's CA and its key" in out, out
    # Never over a home.
    again = run("restore", str(file), "--data-dir", str(new_dir), check=False)
    assert again.returncode != 0 and "never replaces" in again.stderr, again.stderr
    assert (new_dir / "ca.pem").read_text() == (hub.data_dir / "ca.pem").read_text()

    restored = Hub(new_dir, mqtt_listen=f"127.0.0.1:{plug.port}")
    try:
        assert {d["id"]: (d["name"], d["state"]) for d in restored.devices()} == before_devices
        plug.hub = restored
        assert plug.view()["rules"] == before_rules
        assert json.loads(restored.cli("privacy", "show", plug.id, "--json").stdout) == before_privacy
        after_review = review(restored, plug)
        assert (after_review["messages"], after_review["bytes"]) == (before_review["messages"], before_review["bytes"])
        # The device's own secret still opens the broker: its credential came along.
        publish_all(plug, "shellyplusplugs-c4dd57877294/status/switch:0", [SHELLY])
        assert wait_for_messages(restored, plug, 3)["messages"] == 3
    finally:
        restored.stop()
