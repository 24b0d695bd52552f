"""What the household's checks cost: `GET /api/v1/devices` for the owner (no filtering needed)
and for a child whose rights come from a room grant (every device checked), and a password
sign-in (argon2id). Run inside the private namespace with a built hub:

    ../shared/tools/in-netns python3 bench/family.py [--devices 300] [--rounds 50] [--hearth PATH]

Prints medians and the 90th percentile in milliseconds. A measurement, not a check."""

import argparse
import http.cookiejar
import json
import os
import pathlib
import statistics
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request


def main():
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", pathlib.Path.home() / ".cache" / "hearth-target"))
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--hearth", default=str(target / "release" / "hearth"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen([args.hearth, "serve", "--data-dir", data, "--no-discovery", "--no-broker", "--http-listen", "127.0.0.1:0"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            run(pathlib.Path(data), args)
        finally:
            proc.terminate()
            proc.wait(10)


def run(data, args):
    for _ in range(200):
        if (data / "hub.json").exists():
            break
        time.sleep(0.05)
    url = json.loads((data / "hub.json").read_text())["url"]
    token = (data / "owner-token").read_text().strip()

    def owner(method, path, body=None):
        req = urllib.request.Request(url + "/api/v1" + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return json.loads(raw) if raw else None

    room = owner("POST", "/rooms", {"name": "Kitchen"})["id"]
    for n in range(args.devices):
        device = owner("POST", "/devices", {"name": f"Sensor {n}"})["device"]["id"]
        if n % 2 == 0:
            owner("POST", f"/devices/{device}/room", {"room": room})
    kim = owner("POST", "/members", {"name": "Kim", "role": "child"})["id"]
    owner("POST", "/grants", {"member": kim, "right": "view", "target": {"kind": "room", "id": room}, "effect": "allow",
                              "schedule": None, "expires_at": None})
    link = owner("POST", f"/members/{kim}/invitations", {"hours": 1})["path"]
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    code = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["code"][0]
    browser.open(urllib.request.Request(url + "/invite", data=urllib.parse.urlencode({"code": code}).encode()), timeout=30).read()
    browser.open(urllib.request.Request(url + "/api/v1/me/password", method="POST", data=json.dumps({"password": "correct horse battery"}).encode(),
                                        headers={"Content-Type": "application/json", "X-Hearth-Request": "1"}), timeout=30).read()

    def timed(fn):
        samples = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - start) * 1000)
        samples.sort()
        return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]

    listed = len(json.loads(browser.open(url + "/api/v1/devices", timeout=30).read()))
    results = {
        f"GET /devices, owner ({args.devices} devices)": timed(lambda: owner("GET", "/devices")),
        f"GET /devices, child by room grant ({listed} shown)": timed(lambda: browser.open(url + "/api/v1/devices", timeout=30).read()),
        "sign in with a password (argon2id)": timed(lambda: urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
                                                   .open(urllib.request.Request(url + "/login", data=urllib.parse.urlencode(
                                                       {"name": "Kim", "password": "correct horse battery"}).encode()), timeout=30).read()),
    }
    for what, (median, p90) in results.items():
        print(f"{what:<52} median {median:7.2f} ms   p90 {p90:7.2f} ms")


if __name__ == "__main__":
    main()
