#!/usr/bin/env python3
"""DNS gate benchmark: Hearth's DNS gate against Debian's dnsmasq forwarding to the same
upstream, side by side in one run, with dnsperf (Debian) as the load. Both answer one device
(10.77.0.11, a device of Hearth's inventory at the allowed_list level with vendor.test allowed,
so every query is decided by a rule and recorded in the ledger). Two phases per run:
  cached:   100 names asked over and over (both serve from their cache);
  uncached: every name new (each goes to the upstream), distinct names for each side.
Prints queries per second and p50/p99 latency per side and phase, the ratios, the spread over
runs, and how many of Hearth's answered queries its ledger holds. Run inside the private
namespace (scripts/bench dns does)."""

import argparse
import json
import os
import pathlib
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

DEVICE, SERVER = "10.77.0.11", "10.77.0.1"
UPSTREAM_PORT, DNSMASQ_PORT, HEARTH_PORT = 5400, 5401, 5402


def start(cmd, **kw):
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def dnsperf(port, datafile, seconds, loops=None):
    """(queries per second, completed, [latencies in seconds]) from dnsperf's verbose output."""
    cmd = ["dnsperf", "-s", SERVER, "-p", str(port), "-a", DEVICE, "-d", datafile, "-c", "8", "-q", "200", "-t", "2", "-v"]
    cmd += ["-n", str(loops)] if loops else ["-l", str(seconds)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    latencies = []
    qps = completed = 0.0
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("> ") and len(parts) >= 5:
            latencies.append(float(parts[-1]))
        elif "Queries per second:" in line:
            qps = float(parts[-1])
        elif "Queries completed:" in line:
            completed = int(parts[2])
    return qps, completed, latencies


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def write(path, names):
    pathlib.Path(path).write_text("".join(f"{n} A\n" for n in names))
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    args = ap.parse_args()
    subprocess.run(["ip", "addr", "replace", f"{DEVICE}/24", "dev", "hearth1"], check=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix="hearth-dns-bench-"))
    upstream = start(["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--no-poll", "--conf-file=/dev/null", f"--port={UPSTREAM_PORT}",
                      "--listen-address=127.0.0.1", "--bind-interfaces", "--pid-file=", "--user=root", "--address=/vendor.test/192.0.2.10",
                      "--local-ttl=300", "--dns-forward-max=1000"])
    anchor = start(["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--no-poll", "--conf-file=/dev/null", f"--port={DNSMASQ_PORT}",
                    f"--listen-address={SERVER}", "--bind-interfaces", "--pid-file=", "--user=root", f"--server=127.0.0.1#{UPSTREAM_PORT}",
                    "--cache-size=10000", "--dns-forward-max=1000"])
    data = work / "data"
    data.mkdir()
    (data / "hearth.toml").write_text("[network]\nqueries_per_second = 10000000\n")
    hearth = start([args.hearth, "serve", "--data-dir", str(data), "--no-discovery", "--no-broker", "--http-listen", "127.0.0.1:0",
                    "--dns-listen", f"{SERVER}:{HEARTH_PORT}", "--dns-upstream", f"127.0.0.1:{UPSTREAM_PORT}"])
    cli = lambda *a: subprocess.run([args.hearth, *a, "--data-dir", str(data)], capture_output=True, text=True, check=True).stdout  # noqa: E731
    try:
        deadline = time.time() + 20
        while not (data / "hub.json").exists():
            if time.time() > deadline:
                sys.exit("hearth did not start")
            time.sleep(0.1)
        device = json.loads(cli("device", "add", "Bench camera", "--json"))["id"]
        cli("device", "anonymous", device, "--client-id", "bench", "--address", DEVICE)
        cli("device", "internet", device, "allowed_list")
        cli("device", "allow-domain", device, "vendor.test")
        time.sleep(0.5)
        cached = write(work / "cached.txt", [f"c{i}.vendor.test" for i in range(100)])
        results = {"hearth": {"cached": [], "uncached": []}, "dnsmasq": {"cached": [], "uncached": []}}
        hearth_answered = 0
        for run in range(args.runs):
            for side, port in (("dnsmasq", DNSMASQ_PORT), ("hearth", HEARTH_PORT)):
                dnsperf(port, cached, 2)  # warm the cache
                qps, done, lat = dnsperf(port, cached, args.seconds)
                results[side]["cached"].append({"qps": qps, "p50_ms": pct(lat, 0.5) * 1e3, "p99_ms": pct(lat, 0.99) * 1e3})
                fresh = write(work / f"u-{side}-{run}.txt", [f"u{run}-{side}-{i}.vendor.test" for i in range(150_000)])
                qps_u, done_u, lat_u = dnsperf(port, fresh, args.seconds * 4, loops=1)
                results[side]["uncached"].append({"qps": qps_u, "p50_ms": pct(lat_u, 0.5) * 1e3, "p99_ms": pct(lat_u, 0.99) * 1e3})
                if side == "hearth":
                    hearth_answered += done + done_u
        time.sleep(3)  # the recorder's last batch
        status = json.loads(cli("status", "--json"))["network"]
    finally:
        hearth.terminate()
        hearth.wait(timeout=20)
        for p in (anchor, upstream):
            p.terminate()
            p.wait(timeout=5)
    db = sqlite3.connect(f"file:{data / 'hearth.db'}?mode=ro", uri=True)
    recorded = db.execute("SELECT COUNT(*) FROM dns_queries").fetchone()[0]
    summary = {}
    for phase in ("cached", "uncached"):
        h, d = results["hearth"][phase], results["dnsmasq"][phase]
        ratio = lambda key: [round(a[key] / b[key], 2) if b[key] else None for a, b in zip(h, d)]  # noqa: E731
        summary[phase] = {
            "hearth": h, "dnsmasq": d,
            "qps_ratio_hearth_over_dnsmasq": ratio("qps"),
            "p50_ratio": ratio("p50_ms"), "p99_ratio": ratio("p99_ms"),
        }
    summary["ledger"] = {"hearth_answered_in_measured_runs": hearth_answered, "dns_queries_rows": recorded,
                         "unrecorded_counted": status["unrecorded"], "rows_not_kept_counted": status["rows_not_kept"],
                         "rate_limited": status["rate_limited"]}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
