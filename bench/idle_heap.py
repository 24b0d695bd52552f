#!/usr/bin/env python3
"""What one more idle MQTT connection keeps on the hub's heap, and where (see `./scripts/bench
heap`). Runs `hearth serve` under heaptrack twice, with 1 000 and then 2 000 idle MQTT 3.1.1
clients connected (one device's credential, each its own client id, keep alive 30 s), and stops
the hub with SIGKILL while they are connected, so that what is still allocated is what they hold.
The difference between the two runs, divided by 1 000, is one connection's live heap, by the
place that allocated it. Prints JSON. Resident memory is what `./scripts/bench`'s broker benchmark
measures; this says what it is made of (the allocator's own overhead is not in it)."""

import argparse
import collections
import json
import os
import re
import resource
import signal
import socket
import subprocess
import tempfile
import time

STEP = 1000
# Frames that say nothing about who allocated: skipped when naming an allocation's place.
PLUMBING = re.compile(r"\((alloc|raw_vec|boxed|sync|unix|unwind_safe|panicking|panic|function|future|unsafe_cell|core|"
                      r"harness|raw)\.rs\)")


def mqtt_string(b):
    return len(b).to_bytes(2, "big") + b


def connect_packet(client_id, username, password):
    body = mqtt_string(b"MQTT") + bytes([4, 0b1100_0010]) + (30).to_bytes(2, "big")
    body += mqtt_string(client_id) + mqtt_string(username) + mqtt_string(password)
    assert len(body) < 128
    return bytes([0x10, len(body)]) + body


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def record(hearth, clients, out):
    """Runs the hub under heaptrack with `clients` idle connections; returns heaptrack's file."""
    data = os.path.join(out, f"data-{clients}")
    port = free_port()
    hub = subprocess.Popen(["heaptrack", "-o", os.path.join(out, f"heap-{clients}"), hearth, "serve", "--no-discovery",
                            "--http-listen", "127.0.0.1:0", "--mqtt-listen", f"127.0.0.1:{port}", "--mqtts-listen",
                            "127.0.0.1:0", "--data-dir", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(data, "hub.json")):
        if time.monotonic() > deadline or hub.poll() is not None:
            raise SystemExit("hearth serve did not start under heaptrack")
        time.sleep(0.1)

    def cli(*args):
        return subprocess.run([hearth, *args, "--data-dir", data], check=True, capture_output=True).stdout

    device = json.loads(cli("device", "add", "Idle device", "--json"))
    username, password = device["username"].encode(), device["password"].encode()
    sockets = []
    for n in range(clients):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(connect_packet(f"idle-{n}".encode(), username, password))
        sockets.append(s)
    for s in sockets:
        s.settimeout(30)
        if s.recv(4) != b"\x20\x02\x00\x00":
            raise SystemExit("an idle client was not accepted")
    time.sleep(2)
    # heaptrack's script runs the hub (its library preloaded): the process of this data
    # directory whose executable is Hearth's.
    found = subprocess.run(["pgrep", "-f", data], capture_output=True, text=True).stdout.split()
    pid = next(int(p) for p in found if os.path.realpath(f"/proc/{p}/exe") == os.path.realpath(hearth))
    os.kill(pid, signal.SIGKILL)
    hub.wait()
    for s in sockets:
        s.close()
    return next(os.path.join(out, f) for f in os.listdir(out) if f.startswith(f"heap-{clients}"))


def places(before, after, out):
    """Bytes still allocated, by the innermost frames that name a place, `after` less `before`."""
    folded = os.path.join(out, "leaked.folded")
    subprocess.run(["heaptrack_print", "-f", after, "-d", before, "-F", folded, "--flamegraph-cost-type", "leaked"],
                   capture_output=True, check=True)
    by_place = collections.Counter()
    for line in open(folded):
        stack, _, cost = line.strip().rpartition(" ")
        if not stack or not cost.lstrip("-").isdigit():
            continue
        frames = [f for f in reversed(stack.split(";")) if f.strip() and not PLUMBING.search(f)][:3]
        by_place[" < ".join(frames)] += int(cost)
    return by_place


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hearth", required=True, help="a release build with line tables (see ./scripts/bench heap)")
    args = parser.parse_args()
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    with tempfile.TemporaryDirectory() as out:
        before = record(args.hearth, STEP, out)
        after = record(args.hearth, 2 * STEP, out)
        by_place = places(before, after, out)
    total = sum(by_place.values())
    print(json.dumps({
        "live_heap_bytes_per_idle_connection": round(total / STEP),
        "by_place": [{"bytes_per_connection": round(cost / STEP), "place": place}
                     for place, cost in by_place.most_common() if abs(cost) >= STEP * 8],
    }, indent=2))


if __name__ == "__main__":
    main()
