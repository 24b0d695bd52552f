"""A deliberately wrong mDNS responder, like ESP8266mDNS before esp8266/Arduino#3145 was fixed:
it answers the DNS-SD meta-query with an *instance* PTR instead of a service-type PTR, and does
not announce itself. Packets are built and parsed with python-zeroconf's DNS classes."""

import socket
import struct
import threading

from zeroconf import DNSAddress, DNSIncoming, DNSOutgoing, DNSPointer, DNSService, DNSText
from zeroconf.const import _CLASS_IN, _FLAGS_AA, _FLAGS_QR_RESPONSE, _TYPE_A, _TYPE_PTR, _TYPE_SRV, _TYPE_TXT

MDNS_GROUP, MDNS_PORT = "224.0.0.251", 5353
META = "_services._dns-sd._udp.local."


def open_mdns_socket(address: str) -> socket.socket:
    """A UDP socket on port 5353 beside other responders, in the mDNS group on `address`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("", MDNS_PORT))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack("4s4s", socket.inet_aton(MDNS_GROUP), socket.inet_aton(address)))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
    sock.settimeout(0.2)
    return sock


def encode_txt(txt: dict) -> bytes:
    out = b""
    for k, v in txt.items():
        entry = k + b"=" + v
        out += bytes([len(entry)]) + entry
    return out


class QuirkyResponder:
    def __init__(self, instance, service_type, host, address, port, txt):
        self.type = f"{service_type}.local."
        self.fullname = f"{instance}.{self.type}"
        self.host = f"{host}.local."
        self.address = address
        self.records = [
            DNSService(self.fullname, _TYPE_SRV, _CLASS_IN, 120, 0, 0, port, self.host),
            DNSText(self.fullname, _TYPE_TXT, _CLASS_IN, 4500, encode_txt(txt)),
            DNSAddress(self.host, _TYPE_A, _CLASS_IN, 120, socket.inet_aton(address)),
        ]
        self.meta_queries_answered = 0
        self._stop = threading.Event()

    def __enter__(self):
        self.sock = open_mdns_socket(self.address)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join(timeout=2)
        self.sock.close()

    def _serve(self):
        while not self._stop.is_set():
            try:
                data, source = self.sock.recvfrom(9000)
            except (socket.timeout, OSError):
                continue
            try:
                msg = DNSIncoming(data)
            except Exception:
                continue
            if not msg.is_query():
                continue
            for q in msg.questions:
                name = q.name.lower()
                out = DNSOutgoing(_FLAGS_QR_RESPONSE | _FLAGS_AA)
                if name == META:
                    # The bug: the PTR points at the instance, not at the service type.
                    out.add_answer_at_time(DNSPointer(META, _TYPE_PTR, _CLASS_IN, 4500, self.fullname), 0)
                    self.meta_queries_answered += 1
                elif name == self.type.lower():
                    out.add_answer_at_time(DNSPointer(self.type, _TYPE_PTR, _CLASS_IN, 4500, self.fullname), 0)
                    for r in self.records:
                        out.add_additional_answer(r)
                elif name in (self.fullname.lower(), self.host.lower()):
                    for r in self.records:
                        out.add_answer_at_time(r, 0)
                else:
                    continue
                for packet in out.packets():
                    self.sock.sendto(packet, (MDNS_GROUP, MDNS_PORT))


def announce_once_then_fall_silent(instance, service_type, host, address, port, txt, ttl):
    """One unsolicited announcement with records that live `ttl` seconds, then silence: no
    answers to the refresh queries, no goodbye. A device whose power was cut looks like this."""
    fullname = f"{instance}.{service_type}.local."
    out = DNSOutgoing(_FLAGS_QR_RESPONSE | _FLAGS_AA)
    for record in (
        DNSPointer(f"{service_type}.local.", _TYPE_PTR, _CLASS_IN, ttl, fullname),
        DNSService(fullname, _TYPE_SRV, _CLASS_IN, ttl, 0, 0, port, f"{host}.local."),
        DNSText(fullname, _TYPE_TXT, _CLASS_IN, ttl, encode_txt(txt)),
        DNSAddress(f"{host}.local.", _TYPE_A, _CLASS_IN, ttl, socket.inet_aton(address)),
    ):
        out.add_answer_at_time(record, 0)
    sock = open_mdns_socket(address)
    try:
        for packet in out.packets():
            sock.sendto(packet, (MDNS_GROUP, MDNS_PORT))
    finally:
        sock.close()
