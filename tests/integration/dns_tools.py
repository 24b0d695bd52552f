"""The DNS side of the simulated home: Debian's dnsmasq as the upstream resolver (answering
made-up names with fixed addresses), Debian's dig as each device, and addresses on the
namespace's device side (hearth1) so that each device queries from its own address."""

import contextlib
import re
import socket
import subprocess
import tempfile
import time

VENDOR_V4 = "192.0.2.10"
TRACKER_V4 = "192.0.2.66"
NTP_V4 = "192.0.2.123"
# The gate listens on the hub side of the veth pair; devices query from hearth1's addresses.
GATE_ADDRESS = "10.77.0.1"


def add_address(address: str):
    """Gives hearth1 (the device side) one more address: one more device on the LAN."""
    subprocess.run(["ip", "addr", "replace", f"{address}/24", "dev", "hearth1"], check=True)


def free_port(kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def upstream():
    """dnsmasq on 127.0.0.1:PORT answering *.vendor.test, *.tracker.test and *.ntp.org, a big TXT
    record (over 512 bytes, for truncation), and nothing else (REFUSED: it has no upstream)."""
    # dnsmasq listens on UDP and TCP, and a port found free for UDP may be taken for TCP (by a
    # connection's local end): it once failed to start in CI. It is tried on up to five ports,
    # and what it said about the last failure is in the error.
    failure = ""
    for _ in range(5):
        port = free_port()
        proc, failure = start_dnsmasq(port)
        if proc:
            break
    else:
        raise RuntimeError(f"dnsmasq did not start: {failure}")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def start_dnsmasq(port):
    """dnsmasq on `port` once it answers, or None and what it said if it did not within 10 s."""
    big = "x" * 200
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen([
            "dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--no-poll", f"--port={port}", "--listen-address=127.0.0.1",
            "--bind-interfaces", "--pid-file=", "--user=root", "--log-facility=-",
            f"--address=/vendor.test/{VENDOR_V4}", "--address=/vendor.test/2001:db8::10",
            f"--address=/tracker.test/{TRACKER_V4}", f"--address=/ntp.org/{NTP_V4}",
            *[f"--txt-record=big.vendor.test,{big}{i}" for i in range(4)],
        ], stdout=subprocess.DEVNULL, stderr=errors)
        try:
            deadline = time.time() + 10
            while time.time() < deadline and proc.poll() is None:
                if dig("127.0.0.1", port, "x.vendor.test", source=None).answers:
                    return proc, ""
                time.sleep(0.1)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        proc.kill()
        proc.wait()
        errors.seek(0)
        return None, errors.read()


class Answer:
    def __init__(self, text: str):
        self.text = text
        status = re.search(r"status: (\w+)", text)
        self.status = status.group(1) if status else None
        flags = re.search(r";; flags: ([^;]*);", text)
        self.flags = flags.group(1).split() if flags else []
        self.records = []
        for line in text.splitlines():
            if line.startswith(";") or not line.strip():
                continue
            parts = line.split(None, 4)
            if len(parts) == 5:
                name, ttl, _class, rtype, data = parts
                self.records.append((rtype, int(ttl), data))
        self.answers = [data for _, _, data in self.records]

    def __repr__(self):
        return f"Answer({self.status}, {self.flags}, {self.records})"


def dig(server: str, port: int, name: str, rtype: str = "A", source: str | None = None, *options) -> Answer:
    """Asks `server` with Debian's dig, from `source` (a device's address)."""
    cmd = ["dig", f"@{server}", "-p", str(port), name, rtype, "+noall", "+answer", "+comments", "+tries=1", "+time=4", *options]
    if source:
        cmd[1:1] = ["-b", source]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=15)
    return Answer(out.stdout)
