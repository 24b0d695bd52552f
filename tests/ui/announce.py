"""An mDNS responder for the browser tests: python-zeroconf (a peer nobody here wrote) announcing
services from one address of the private namespace, as a device or as an attacker would.

Usage: announce.py ADDRESS. Reads one JSON object a line on stdin,
{"type": "_hap._tcp", "instance": "Front Door Lock", "host": "front-door-lock", "txt": {...}, "port": 80},
registers it and answers "ok" (or "error: ..."). Says goodbye to everything when stdin closes.
"""

import json
import socket
import sys

from zeroconf import IPVersion, ServiceInfo, Zeroconf


def main() -> None:
    address = sys.argv[1]
    zc = Zeroconf(interfaces=[address], ip_version=IPVersion.V4Only)
    print("ready", flush=True)
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                a = json.loads(line)
                ty = a["type"]
                info = ServiceInfo(f"{ty}.local.", f"{a['instance']}.{ty}.local.", addresses=[socket.inet_aton(address)],
                                   port=a.get("port", 80), properties=a.get("txt", {}), server=f"{a['host']}.local.")
                zc.register_service(info, cooperating_responders=True)
                print("ok", flush=True)
            except Exception as e:  # the test reads it and fails with it
                print(f"error: {e!r}", flush=True)
    finally:
        zc.unregister_all_services()
        zc.close()


if __name__ == "__main__":
    main()
