#!/usr/bin/env python3
"""Discovery benchmark: time from a device's mDNS announcement to its appearance in Hearth's
API event stream, over N simulated devices; then Hearth's idle CPU and memory holding them.

Run inside the private namespace (scripts/bench does): the announcer sends real unsolicited
mDNS announcements (PTR+SRV+TXT+A, built with python-zeroconf's DNS classes) from the device
side of the veth pair and answers Hearth's queries, like an ESPHome node would."""

import argparse
import asyncio
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import websockets

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "integration"))
from quirky_responder import open_mdns_socket  # noqa: E402  (shared mDNS socket set-up)
from zeroconf import DNSAddress, DNSIncoming, DNSOutgoing, DNSPointer, DNSService, DNSText
from zeroconf.const import _CLASS_IN, _CLASS_UNIQUE, _FLAGS_AA, _FLAGS_QR_RESPONSE, _TYPE_A, _TYPE_PTR, _TYPE_SRV, _TYPE_TXT

GROUP, PORT = "224.0.0.251", 5353
TYPE = "_esphomelib._tcp.local."
ADDRESS = "10.77.0.2"


def device_records(i):
    name = f"bench-node-{i:03}"
    full, host = f"{name}.{TYPE}", f"{name}.local."
    txt = b"".join(bytes([len(e)]) + e for e in [b"version=2024.6.1", f"mac=02bb{i:08x}".encode(), b"platform=ESP32", f"friendly_name=Bench {i}".encode()])
    return name, [
        DNSPointer(TYPE, _TYPE_PTR, _CLASS_IN, 4500, full),
        DNSService(full, _TYPE_SRV, _CLASS_IN | _CLASS_UNIQUE, 120, 0, 0, 6053, host),
        DNSText(full, _TYPE_TXT, _CLASS_IN | _CLASS_UNIQUE, 4500, txt),
        DNSAddress(host, _TYPE_A, _CLASS_IN | _CLASS_UNIQUE, 120, socket.inet_aton(ADDRESS)),
    ]


class Announcer:
    def __init__(self, n):
        self.devices = [device_records(i) for i in range(n)]
        self.sock = open_mdns_socket(ADDRESS)
        self.announced = 0
        self.stop = threading.Event()

    def send(self, records):
        out = DNSOutgoing(_FLAGS_QR_RESPONSE | _FLAGS_AA)
        for r in records:
            out.add_answer_at_time(r, 0)
        for p in out.packets():
            self.sock.sendto(p, (GROUP, PORT))

    def announce(self, i):
        self.send(self.devices[i][1])
        self.announced = max(self.announced, i + 1)

    def serve(self):
        while not self.stop.is_set():
            try:
                data, _ = self.sock.recvfrom(9000)
                msg = DNSIncoming(data)
            except Exception:
                continue
            if not msg.is_query():
                continue
            for q in msg.questions:
                if q.name.lower() == TYPE.lower():
                    for _, records in self.devices[: self.announced]:
                        self.send(records)


def cpu_ticks(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--interval-ms", type=float, default=20)
    ap.add_argument("--idle-seconds", type=float, default=30)
    args = ap.parse_args()
    if os.environ.get("HEARTH_IN_NETNS") != "1":
        sys.exit("run inside the namespace: scripts/bench")

    data = pathlib.Path(tempfile.mkdtemp(prefix="hearth-bench-"))
    serve = subprocess.Popen([args.hearth, "serve", "--data-dir", str(data), "--http-listen", "127.0.0.1:0", "--mqtt-listen", "127.0.0.1:0", "--mqtts-listen", "127.0.0.1:0"], stdout=subprocess.DEVNULL, stderr=open(data / "serve.log", "w"))
    while not (data / "hub.json").exists():
        await asyncio.sleep(0.05)
    url = json.loads((data / "hub.json").read_text())["url"].replace("http://", "ws://") + "/api/v1/events"
    token = (data / "owner-token").read_text().strip()
    announcer = Announcer(args.devices)
    threading.Thread(target=announcer.serve, daemon=True).start()
    sent_at, seen_at = {}, {}
    await asyncio.sleep(1.0)  # let Hearth's first queries go out before the burst

    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None) as ws:
        async def listen():
            while len(seen_at) < args.devices:
                event = json.loads(await ws.recv())
                if event["type"] in ("device_seen", "device_changed"):
                    name = event["device"]["name"]
                    if name.startswith("Bench ") and name not in seen_at:
                        seen_at[name] = time.perf_counter()
        listener = asyncio.create_task(listen())
        for i in range(args.devices):
            sent_at[f"Bench {i}"] = time.perf_counter()
            announcer.announce(i)
            await asyncio.sleep(args.interval_ms / 1000)
        try:
            await asyncio.wait_for(listener, timeout=30)
        except asyncio.TimeoutError:
            pass

    latencies = sorted((seen_at[k] - sent_at[k]) * 1000 for k in seen_at)
    await asyncio.sleep(5)
    t0, c0 = time.perf_counter(), cpu_ticks(serve.pid)
    await asyncio.sleep(args.idle_seconds)
    t1, c1 = time.perf_counter(), cpu_ticks(serve.pid)
    hz = os.sysconf("SC_CLK_TCK")
    result = {
        "devices": args.devices,
        "appeared": len(latencies),
        "latency_ms": {
            "median": round(statistics.median(latencies), 1) if latencies else None,
            "p95": round(latencies[int(len(latencies) * 0.95) - 1], 1) if latencies else None,
            "max": round(latencies[-1], 1) if latencies else None,
        },
        "idle_cpu_percent": round(100 * (c1 - c0) / hz / (t1 - t0), 2),
        "rss_mib": round(rss_kib(serve.pid) / 1024, 1),
    }
    announcer.stop.set()
    serve.terminate()
    serve.wait(timeout=10)
    print(json.dumps(result, indent=2))


asyncio.run(main())
