#!/usr/bin/env python3
"""What one more idle MQTT connection keeps on the hub's heap, and where (see `./scripts/bench
heap`). Runs `hearth serve` under heaptrack twice, with 1 000 and then 2 000 idle MQTT 3.1.1
clients connected (one device's credential, each its own client id, keep alive 30 s), and stops
the hub with SIGKILL while they are connected, so that what is still allocated is what they hold.
The difference between the two runs, divided by 1 000, is one connection's live heap, by the
place that allocated it. With `--subscribe`, each client also subscribes to a topic of its own,
as a plug listens for its commands. Prints JSON. Resident memory is what `./scripts/bench`'s
broker benchmark measures; this says what it is made of (the allocator's own overhead is not in
it)."""

import argparse
import collections
import json
import os
import pathlib
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "integration"))
from hostile_clients import connect_packet, subscribe_packet  # noqa: E402  (the stories' CONNECT, MQTT 3.1.1, keep alive 30 s)

STEP = 1000
# One leak of heaptrack_print's report: its cost (rounded to three figures), then its backtrace,
# the allocation first, one frame a line, each followed by where it is.
LEAK = re.compile(r"^(-?[\d.]+)([KMG]?) leaked over -?\d+ calls from$")
UNITS = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}
# Hearth's own sources and the patched engine's: a leak is named after its innermost frame there.
OURS = re.compile(r"^at ((vendor|crates)/\S+)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recv_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise SystemExit("an idle client's connection was closed before its CONNACK")
        data += chunk
    return data


def record(hearth, clients, out, subscribe):
    """Runs the hub under heaptrack with `clients` idle connections, each subscribed to a topic of
    its own if `subscribe` (as a plug listens for its commands); returns heaptrack's file."""
    data = os.path.join(out, f"data-{clients}")
    # One credential holds 16 connections by default; these are one device's on purpose, so that
    # what is measured is a connection's cost, not a device's.
    os.makedirs(data)
    with open(os.path.join(data, "hearth.toml"), "w") as f:
        f.write(f"[broker]\nconnections_per_device = {clients + 1}\n")
    port = free_port()
    hub = subprocess.Popen(["heaptrack", "-o", os.path.join(out, f"heap-{clients}"), hearth, "serve", "--no-discovery",
                            "--http-listen", "127.0.0.1:0", "--mqtt-listen", f"127.0.0.1:{port}", "--mqtts-listen",
                            "127.0.0.1:0", "--data-dir", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sockets = []
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(data, "hub.json")):
            if time.monotonic() > deadline or hub.poll() is not None:
                raise SystemExit("hearth serve did not start under heaptrack")
            time.sleep(0.1)
        device = json.loads(subprocess.run([hearth, "device", "add", "Idle device", "--json", "--data-dir", data],
                                           check=True, capture_output=True).stdout)
        username, password = device["username"].encode(), device["password"].encode()
        if subscribe:
            subprocess.run([hearth, "device", "allow", device["id"], "--subscribe", "bench/idle/#", "--data-dir", data],
                           check=True, capture_output=True)
        for n in range(clients):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(connect_packet(f"idle-{n}", username, password))
            sockets.append(s)
        for s in sockets:
            if recv_exactly(s, 4) != b"\x20\x02\x00\x00":
                raise SystemExit("an idle client was not accepted")
        if subscribe:
            for n, s in enumerate(sockets):
                s.sendall(subscribe_packet(f"bench/idle/{n}/set"))
            for s in sockets:
                if recv_exactly(s, 5) != b"\x90\x03\x00\x01\x01":
                    raise SystemExit("an idle client's subscription was not granted")
        time.sleep(2)
    finally:
        # heaptrack's script runs the hub (its library preloaded): the process of this data
        # directory whose executable is Hearth's. Stopped by SIGKILL, so that nothing is freed.
        found = subprocess.run(["pgrep", "-f", data], capture_output=True, text=True).stdout.split()
        hubs = [int(p) for p in found if os.path.realpath(f"/proc/{p}/exe") == os.path.realpath(hearth)]
        for pid in hubs:
            os.kill(pid, signal.SIGKILL)
        if not hubs:
            hub.kill()
        hub.wait()
        for s in sockets:
            s.close()
    if not hubs:
        raise SystemExit("the hub's process under heaptrack was not found")
    return next(os.path.join(out, f) for f in os.listdir(out) if f.startswith(f"heap-{clients}."))


def places(before, after):
    """Bytes still allocated, `after` less `before`, by the innermost place in Hearth's or the
    patched engine's sources that led to them, and what was allocated there. heaptrack groups
    allocations by the code that called the allocator: a group is named after its first
    backtrace (rmqtt's `Session::new` makes several in one)."""
    report = subprocess.run(["heaptrack_print", "-f", after, "-d", before, "--print-leaks", "1", "--merge-backtraces", "0",
                             "--shorten-templates", "0", "--peak-limit", "100000", "-p", "0", "-a", "0", "-T", "0"],
                            capture_output=True, text=True, check=True).stdout
    by_place = collections.Counter()
    leaks = []
    for line in report.split("MEMORY LEAKS", 1)[-1].splitlines():
        found = LEAK.match(line)
        if found:
            leaks.append((float(found[1]) * UNITS[found[2]], []))
        elif leaks and line.startswith("  ") and not line.startswith("    "):
            leaks[-1][1].append([line.strip(), None])
        elif leaks and leaks[-1][1] and line.strip().startswith("at "):
            leaks[-1][1][-1][1] = line.strip()
    for cost, frames in leaks:
        # What was allocated: the first frame past the allocator that names a type.
        what = next((name for name, _ in frames if "<" in name and not name.startswith("_R")), "?")
        where = next((OURS.match(at)[1] for _, at in frames if at and OURS.match(at)), "outside Hearth's sources")
        by_place[f"{where}: {what[:160]}"] += cost
    return by_place


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hearth", required=True, help="a release build with line tables (see ./scripts/bench heap)")
    parser.add_argument("--subscribe", action="store_true",
                        help="each client also subscribes to a topic of its own (bench/idle/<n>/set, QoS 1), "
                             "as the broker bench's subscribed thousand does")
    args = parser.parse_args()
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    with tempfile.TemporaryDirectory() as out:
        before = record(args.hearth, STEP, out, args.subscribe)
        after = record(args.hearth, 2 * STEP, out, args.subscribe)
        by_place = places(before, after)
    total = sum(by_place.values())
    print(json.dumps({
        "subscribed": args.subscribe,
        "live_heap_bytes_per_idle_connection": round(total / STEP),
        "by_place": [{"bytes_per_connection": round(cost / STEP), "place": place}
                     for place, cost in by_place.most_common() if abs(cost) >= STEP * 8],
    }, indent=2))


if __name__ == "__main__":
    main()
