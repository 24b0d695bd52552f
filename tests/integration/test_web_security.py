"""The web API's doors, tried from outside as a browser or an attacker would: nothing without
sign-in, one-use sign-in links, a rate limit that cannot lock the owner out, signed cookies,
CSRF, cross-origin WebSocket refusal, and bounds on every text a person sends."""

import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
import websockets.sync.client
from websockets.exceptions import InvalidStatus

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


def sign_in(hub):
    status, headers, _ = call(hub, "GET", f"/login?code={fresh_code(hub)}")
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
    name, value = cookie.split("=", 1)
    expires, nonce, signature = value.split(".")
    forged = [
        f"{name}={expires}.{nonce}.{'0' * len(signature)}",
        f"{name}={int(expires) + 3600}.{nonce}.{signature}",
        f"{name}=9999999999.{nonce}",
    ]
    for c in forged:
        assert call(hub, "GET", "/api/v1/devices", {"Cookie": c})[0] == 401, c


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
        (f"/devices/{dev}/topics", {"direction": "publish", "pattern": "tele/" + huge, "rule": "allow"}, "`pattern`", "256 bytes"),
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
