"""Requests as fast as the hub can answer them, whatever the client's speed: pipelined on one
connection (hyper answers them one after the other), written from a thread while the answers
are read; or one each on many connections opened beforehand, sent together."""

import http.client
import json
import selectors
import socket
import threading
import time
import urllib.parse


class _Pipelined:
    """One buffered reader for every answer on the connection: http.client makes a new one per
    answer, which would lose what the last one had read ahead, and closes it after each."""

    def __init__(self, sock):
        self.file = sock.makefile("rb")

    def makefile(self, *_args, **_kwargs):
        return self

    def __getattr__(self, name):
        return getattr(self.file, name)

    def close(self):
        pass


def back_to_back(hub, headers, path, count, source=None, times=None):
    """`count` GETs of `/api/v1{path}`, with each of `headers` (dicts) in turn, pipelined on one
    connection from `source` (a loopback address) if given: [(status, headers, answer)] in
    order; when each answer was read is appended to `times` if given."""
    url = urllib.parse.urlsplit(hub.url)

    def request(extra):
        lines = [f"GET /api/v1{path} HTTP/1.1", f"Host: {url.netloc}"] + [f"{k}: {v}" for k, v in extra.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    requests = [request(h) for h in headers]
    with socket.create_connection((url.hostname, url.port), timeout=15, source_address=(source, 0) if source else None) as sock:
        writer = threading.Thread(target=sock.sendall, args=(b"".join(requests[n % len(requests)] for n in range(count)),))
        writer.start()
        pipe, answers = _Pipelined(sock), []
        for _ in range(count):
            r = http.client.HTTPResponse(pipe, method="GET")
            r.begin()
            raw = r.read()
            answers.append((r.status, r.headers, json.loads(raw) if raw else None))
            if times is not None:
                times.append(time.monotonic())
        writer.join()
    return answers


def connections(hub, count, source=None):
    """`count` connections to the hub, open and idle, from `source` (a loopback address) if
    given."""
    url = urllib.parse.urlsplit(hub.url)
    bound = (source, 0) if source else None
    conns = [http.client.HTTPConnection(url.hostname, url.port, timeout=15, source_address=bound) for _ in range(count)]
    for conn in conns:
        conn.connect()
    return conns


def at_once(conns, session, path):
    """A GET of `path` on each of the open connections, sent together: [(status, headers, answer,
    seconds from sending to the answer)], and when the last was sent."""
    go, results, sent = threading.Barrier(len(conns)), [], []

    def one(conn):
        go.wait()
        started = time.monotonic()
        conn.request("GET", f"/api/v1{path}", headers={"Cookie": f"hearth_session={session}"})
        sent.append(time.monotonic())
        r = conn.getresponse()
        raw = r.read()
        results.append((r.status, r.headers, json.loads(raw) if raw else None, time.monotonic() - started))
        conn.close()

    threads = [threading.Thread(target=one, args=(conn,)) for conn in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, max(sent)


def raw_connections(hub, count, source=None):
    """`count` plain sockets connected to the hub, from `source` (a loopback address) if given."""
    url = urllib.parse.urlsplit(hub.url)
    return [socket.create_connection((url.hostname, url.port), timeout=15, source_address=(source, 0) if source else None)
            for _ in range(count)]


def all_at_once(hub, socks, path, headers):
    """A GET of `/api/v1{path}` with `headers` on each of `socks` (from `raw_connections`),
    written one after the other from one thread (a few milliseconds for thousands, as fast as a
    host can), then the answers read as they come: [(status, headers with lowercase names,
    answer, seconds from its sending to its answer)], status `None` for a connection closed
    without an answer, and when the last request was sent (`time.monotonic()`)."""
    url = urllib.parse.urlsplit(hub.url)
    count = len(socks)
    lines = [f"GET /api/v1{path} HTTP/1.1", f"Host: {url.netloc}", "Connection: close"] + [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    selector, sent_at = selectors.DefaultSelector(), {}
    for sock in socks:
        sock.sendall(request)
        sent_at[sock] = time.monotonic()
    last_sent = time.monotonic()
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, bytearray())
    results, deadline = [], time.monotonic() + 30
    while len(results) < count and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            data = key.fileobj.recv(65536)
            if data:
                key.data.extend(data)
                continue
            # Closed after its answer (`Connection: close`).
            took = time.monotonic() - sent_at[key.fileobj]
            selector.unregister(key.fileobj)
            key.fileobj.close()
            if not key.data:
                results.append((None, {}, None, took))
                continue
            head, _, body = bytes(key.data).partition(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            answer_headers = {name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)}
            results.append((int(status_line.split()[1]), answer_headers, json.loads(body) if body else None, took))
    return results, last_sent
