"""The web API's doors, tried from outside as a browser or an attacker would: nothing without
sign-in, one-use sign-in links, a rate limit that cannot lock the owner out, signed cookies,
CSRF, cross-origin WebSocket refusal, and bounds on every text a person sends."""

import collections
import http.client
import json
import sqlite3
import re
import resource
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import websockets.sync.client
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import Hub
from http_flood import all_at_once, back_to_back, raw_connections

UNKNOWN = "/api/v1/devices/d-000000000000"


def call(hub, method, path, headers=None):
    """(status, headers, body) without following redirects."""
    url = urllib.parse.urlsplit(hub.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def fresh_code(hub):
    out = hub.cli("open").stdout
    return re.search(r"/login\?code=([0-9a-f]+)", out).group(1)


def sign_in(hub, user_agent=None):
    status, headers, _ = call(hub, "GET", f"/login?code={fresh_code(hub)}", {"User-Agent": user_agent} if user_agent else None)
    assert status in (302, 303, 307), status
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    return cookie.split(";")[0]


def test_nothing_is_reachable_without_signing_in(hub):
    for path in ["/api/v1/devices", "/api/v1/status", UNKNOWN, "/api/v1/events"]:
        status, _, body = call(hub, "GET", path)
        assert status == 401, path
        assert b'"code":"unauthorized"' in body
    assert call(hub, "GET", "/api/v1/devices", {"Authorization": "Bearer " + "0" * 64})[0] == 401


def test_a_sign_in_link_works_once(hub):
    code = fresh_code(hub)
    assert call(hub, "GET", f"/login?code={code}")[0] in (302, 303, 307)
    status, _, body = call(hub, "GET", f"/login?code={code}")
    assert status == 401 and b"hearth open" in body


def test_a_flood_of_wrong_links_is_limited_but_never_locks_the_owner_out(hub):
    statuses = [call(hub, "GET", f"/login?code={'ab' * 16}")[0] for _ in range(15)]
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
    # The owner's fresh link still signs in, from the same address, during the flood.
    cookie = sign_in(hub)
    assert call(hub, "GET", "/api/v1/devices", {"Cookie": cookie})[0] == 200


def test_a_forged_or_altered_cookie_is_refused(hub):
    cookie = sign_in(hub)
    name, token = cookie.split("=", 1)
    assert len(token) == 64, "a random 256-bit token, nothing else"
    flipped = ("1" if token[0] == "0" else "0") + token[1:]
    forged = [
        f"{name}={flipped}",
        f"{name}={'0' * 64}",
        f"{name}={token.upper()}",
        f"{name}={token}0",
        # The signed cookies of earlier versions are not sessions any more.
        f"{name}=9999999999.{'ab' * 16}.{'cd' * 32}",
    ]
    for c in forged:
        assert call(hub, "GET", "/api/v1/devices", {"Cookie": c})[0] == 401, c
    assert call(hub, "GET", "/api/v1/devices", {"Cookie": cookie})[0] == 200, "positive control"


def test_changes_from_a_browser_need_the_csrf_header(hub):
    cookie = sign_in(hub)
    status, _, body = call(hub, "POST", f"{UNKNOWN}/approve", {"Cookie": cookie})
    assert status == 403 and b"X-Hearth-Request" in body
    assert call(hub, "DELETE", UNKNOWN, {"Cookie": cookie})[0] == 403
    # With the header the request reaches the hub (which does not know this device).
    assert call(hub, "POST", f"{UNKNOWN}/approve", {"Cookie": cookie, "X-Hearth-Request": "1"})[0] == 404


def test_the_event_stream_refuses_other_origins(hub):
    cookie = sign_in(hub)
    ws_url = hub.url.replace("http://", "ws://") + "/api/v1/events"
    with pytest.raises(InvalidStatus) as refused:
        websockets.sync.client.connect(ws_url, origin="http://evil.example", additional_headers={"Cookie": cookie}, open_timeout=5)
    assert refused.value.response.status_code == 403
    with websockets.sync.client.connect(ws_url, origin=hub.url, additional_headers={"Cookie": cookie}, open_timeout=5) as ws:
        assert ws.ping().wait(5), "the hub's own page gets a live stream"


def test_every_text_a_person_sends_is_bounded_and_never_echoed_back(hub):
    """Huge strings through the API: each refused with its field and limit, in a short answer."""
    status, added = post(hub, "/devices", {"name": "Kitchen plug"})
    assert status == 200, added
    dev = added["device"]["id"]
    huge = "x" * 1_000_000
    cases = [
        ("/devices", {"name": huge}, "`name`", "100 characters"),
        (f"/devices/{dev}/topics", {"direction": "publish", "pattern": "tele/" + huge, "rule": "allow"}, "`pattern`", "1024 bytes"),
        (f"/devices/{dev}/client-id", {"client_id": huge}, "`client_id`", "128 bytes"),
        (f"/devices/{dev}/anonymous", {"client_id": "plug", "address": huge}, "`address`", "64 bytes"),
        (f"/devices/{dev}/privacy/redactions", {"path": huge, "redact": True}, "`path`", "256 bytes"),
        (f"/devices/{dev}/privacy/retention", {"category": "location", "retention": {"keep": "days", "days": 4_000_000_000}},
         "`retention`", "3650 days"),
        # A value the parser cannot read is quoted in its explanation: cut short.
        (f"/devices/{dev}/credential", {"action": huge}, "request body", ""),
    ]
    for path, body, field, limit in cases:
        status, error = post(hub, path, body)
        assert status == 400, (path, status)
        assert field in error["message"] and limit in error["message"], error["message"][:500]
        assert len(error["message"]) < 500, (path, len(error["message"]))
    status, error = hub.request("GET", f"/review?since={'9' * 20_000}")
    assert status == 400 and len(error["message"]) < 300
    status, error = hub.request("GET", f"/devices/{'d' * 20_000}")
    assert status == 400 and len(error["message"]) < 300


def post(hub, path, body):
    """POST `body` as JSON with the owner token: (status, answer)."""
    req = urllib.request.Request(f"{hub.url}/api/v1{path}", method="POST", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {hub.token}"})
    try:
        with urllib.request.urlopen(req, timeout=10, context=hub.tls) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


CHROMIUM = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0"


def sessions_seen_by(hub, cookie):
    status, _, body = call(hub, "GET", "/api/v1/sessions", {"Cookie": cookie})
    assert status == 200, body
    return json.loads(body)


def end(hub, cookie, path, csrf=True):
    headers = {"Cookie": cookie, **({"X-Hearth-Request": "1"} if csrf else {})}
    return call(hub, "DELETE", f"/api/v1{path}", headers)


def test_a_browser_signed_out_elsewhere_is_refused_at_once_and_its_live_stream_closes(hub):
    laptop = sign_in(hub, CHROMIUM)
    phone = sign_in(hub, FIREFOX_ANDROID)
    seen = sessions_seen_by(hub, laptop)
    assert [(s["browser"], s["address"], s["current"]) for s in sorted(seen, key=lambda s: s["browser"])] == [
        ("Chrome on Linux", "127.0.0.1", True), ("Firefox on Android", "127.0.0.1", False)]
    phone_id = next(s["id"] for s in seen if not s["current"])
    assert "Firefox on Android" in hub.cli("sessions").stdout
    assert {s["id"] for s in json.loads(hub.cli("sessions", "--json").stdout)} == {s["id"] for s in seen}
    # The phone has the UI open: its live stream is attached.
    ws_url = hub.url.replace("http://", "ws://") + "/api/v1/events"
    with websockets.sync.client.connect(ws_url, origin=hub.url, additional_headers={"Cookie": phone}, open_timeout=5) as ws:
        assert ws.ping().wait(5)
        assert end(hub, laptop, f"/sessions/{phone_id}", csrf=False)[0] == 403, "a forged cross-site sign-out is refused"
        assert end(hub, laptop, f"/sessions/{phone_id}")[0] == 204
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008, closed.value
    assert call(hub, "GET", "/api/v1/devices", {"Cookie": phone})[0] == 401
    assert call(hub, "GET", "/", {"Cookie": phone})[0] == 401, "the page itself asks to sign in again"
    assert call(hub, "GET", "/api/v1/devices", {"Cookie": laptop})[0] == 200, "only that browser"
    status, _, body = end(hub, laptop, f"/sessions/{phone_id}")
    assert status == 404 and b"hearth sessions" in body
    # Signing this browser out: its cookie is removed too.
    laptop_id = next(s["id"] for s in seen if s["current"])
    status, headers, _ = end(hub, laptop, f"/sessions/{laptop_id}")
    assert status == 204 and "Max-Age=0" in headers.get("set-cookie", ""), headers
    assert call(hub, "GET", "/api/v1/devices", {"Cookie": laptop})[0] == 401


def test_signing_out_everywhere_else_keeps_this_browser_and_the_cli_signs_out_all(hub):
    mine, other, third = sign_in(hub, CHROMIUM), sign_in(hub), sign_in(hub)
    assert end(hub, mine, "/sessions", csrf=False)[0] == 403
    status, _, body = end(hub, mine, "/sessions")
    assert status == 200 and json.loads(body) == {"ended": 2}
    assert [call(hub, "GET", "/api/v1/status", {"Cookie": c})[0] for c in (mine, other, third)] == [200, 401, 401]
    assert "1 browser is signed out" in hub.cli("sessions", "revoke", "--all").stdout
    assert call(hub, "GET", "/api/v1/status", {"Cookie": mine})[0] == 401
    assert "No browser is signed in" in hub.cli("sessions").stdout


def test_sessions_outlive_a_restart_and_a_revoked_one_never_comes_back(tmp_path):
    hub = Hub(tmp_path)
    try:
        kept, revoked = sign_in(hub), sign_in(hub)
        revoked_id = next(s["id"] for s in sessions_seen_by(hub, revoked) if s["current"])
        assert f"Session {revoked_id} is ended" in hub.cli("sessions", "revoke", revoked_id).stdout
        bad = hub.cli("sessions", "revoke", "s-nope", check=False)
        assert bad.returncode != 0 and "not a session id" in bad.stderr
    finally:
        hub.stop()
        hub.log.close()
    again = Hub(tmp_path)
    try:
        assert call(again, "GET", "/api/v1/status", {"Cookie": kept})[0] == 200, "sessions are kept in the store"
        assert call(again, "GET", "/api/v1/status", {"Cookie": revoked})[0] == 401
        db = sqlite3.connect(tmp_path / "hearth.db")
        stored = [row[0] for row in db.execute("SELECT token_hash FROM browser_sessions")]
        db.close()
        token = kept.split("=", 1)[1]
        assert stored and all(token not in h for h in stored), "only a hash of the token is on file"
    finally:
        again.stop()
        again.log.close()


def test_a_request_whose_headers_are_huge_is_refused_before_it_is_read_whole(hub):
    """Headers are held in memory until they are complete: hyper's buffer stops at 32 KiB (a
    browser's headers, cookie included, are a few KiB), not its default 400 KiB, so that many
    unfinished requests cannot hold much memory each. hyper checks the bound between reads, and
    one read may take it past, so the refusal is certain from twice the bound."""
    status, _, _ = call(hub, "GET", "/api/v1/status", {"X-Padding": "x" * 20_000})
    assert status == 401, "within the bound: read, and refused for want of a sign-in"
    try:
        status, _, _ = call(hub, "GET", "/api/v1/status", {"X-Padding": "x" * 100_000})
    except (ConnectionError, http.client.RemoteDisconnected):
        status = None  # closed before it could answer: refused too
    assert status in (431, None), status


def owner_status_from(hub, source):
    """The owner's `GET /api/v1/status` on a connection of its own from `source` (a loopback
    address): (status, seconds to the answer)."""
    url = urllib.parse.urlsplit(hub.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10, source_address=(source, 0))
    started = time.monotonic()
    conn.request("GET", "/api/v1/status", headers={"Authorization": f"Bearer {hub.token}"})
    r = conn.getresponse()
    r.read()
    conn.close()
    return r.status, time.monotonic() - started


def test_a_host_asking_without_a_session_as_fast_as_it_can_is_held_back_and_others_are_not(hub):
    """A host on the network sending made-up session cookies back to back (each answer a cheap
    401, so it could ask 150 000 times a second): held back to its address's 1 000 a second after
    a burst of 1 000, while a browser at another address is answered at once."""
    others = []

    def meanwhile():
        time.sleep(0.3)
        for _ in range(5):
            others.append(owner_status_from(hub, "127.0.0.9"))
            time.sleep(0.2)

    checker = threading.Thread(target=meanwhile)
    checker.start()
    times = []
    answers = back_to_back(hub, [{"Cookie": "hearth_session=0123456789abcdef"}], "/status", 3000, source="127.0.0.8", times=times)
    checker.join()
    assert {status for status, _, _ in answers} == {401}, "one connection is held back, not refused"
    # Past the burst, one answer each 1/1000 s at most: the last thousand took a second or more.
    last_thousand = times[-1] - times[-1001]
    assert last_thousand >= 0.9, f"the last 1 000 answers came in {last_thousand:.2f} s: not held back"
    assert [status for status, _ in others] == [200] * 5 and max(t for _, t in others) < 0.5, others


def test_a_host_asking_on_more_connections_than_a_seconds_turns_is_refused_the_excess(hub):
    """The same host, its burst spent, then sending a request on each of 4 000 connections at
    once: a second's turns (1 000, and what refills meanwhile) wait for them; the rest are refused
    a second later (an answer at once would only be asked again at once) with 429, when to try
    again and words a person reads; one log line for the address, not one per request. Another
    address is answered at once throughout, and a second later the host is answered again."""
    burst, per_second, max_wait = 1000, 1000, 1.0  # ADDRESS in crates/hearth/src/http/request_budget.rs
    opened = 4000  # more than the turns even if sending came 2 s after the burst
    flooding, browser = "127.0.0.10", "127.0.0.11"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    made_up = {"Cookie": "hearth_session=0123456789abcdef"}

    others = []

    def meanwhile():
        for _ in range(5):
            others.append(owner_status_from(hub, browser))
            time.sleep(0.3)

    checker, socks = threading.Thread(target=meanwhile), []
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
        opening = time.monotonic()
        socks = raw_connections(hub, opened, source=flooding)
        drained = time.monotonic()
        assert {status for status, _, _ in back_to_back(hub, [made_up], "/status", burst, source=flooding)} == {401}
        checker.start()
        sending = time.monotonic()
        results, sent = all_at_once(hub, socks, "/status", made_up)
        checker.join()
    finally:
        for sock in socks:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    answered = [took for status, _, _, took in results if status == 401]
    refused = [(headers, error, took) for status, headers, error, took in results if status == 429]
    # Turns at most: what refilled from the burst's start until the hub took the last request (a
    # refusal is answered a second after that: so at the latest the last refusal's answer less
    # that second), and the second a request may wait for its turn.
    last_taken = sent + max((took for _, _, took in refused), default=max_wait) - max_wait
    turns = (last_taken - drained) * per_second + max_wait * per_second
    print(f"\n{len(answered)} answered, {len(refused)} refused; the {opened} sent in {sent - sending:.3f} s, "
          f"{sent - drained:.2f} s after the burst began; {turns:.0f} turns at most")
    # Idle connections are closed after 10 s: opening them and the burst must take less.
    assert sent - opening < 8, f"the requests went out {sent - opening:.1f} s after the first connection: too slow a machine for this story"
    assert len(answered) + len(refused) == opened, collections.Counter(r[0] for r in results)
    assert 900 <= len(answered) <= turns + 50 and refused, (len(answered), len(refused), turns)
    assert max(answered) < max_wait + 1.0, max(answered)
    headers, error, _ = refused[0]
    assert headers["retry-after"] == "1", headers
    assert error["code"] == "too_many_requests", error
    assert "from this device" in error["message"] and "try again in a second" in error["message"], error
    assert min(took for _, _, took in refused) >= max_wait - 0.05, "a refusal is not answered at once"
    assert [status for status, _ in others] == [200] * 5 and max(t for _, t in others) < 0.5, others

    time.sleep(max_wait + 0.1)
    assert [status for status, _, _ in back_to_back(hub, [made_up], "/status", 1, source=flooding)] == [401], "answered again"
    lines = [line for line in hub.read_log().splitlines() if "asking the web server faster than" in line]
    assert len(lines) == 1 and flooding in lines[0], lines
