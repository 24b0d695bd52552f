"""The household, end to end: members invited by a one-use link, their browsers' sessions and
passwords, rooms, grants (and their ends), personal devices and who looked at them, the last
owner who cannot be removed, and devices operated through the real broker, each refusal
answered 403 with words and written in the audit."""

import http.client
import http.cookiejar
import json
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import websockets.sync.client

from conftest import HEARTH
from http_flood import at_once, back_to_back, connections
from mqtt_device import Device, stop

PASSWORD = "correct horse battery staple"
SWITCH_CONFIG_TOPIC = "homeassistant/switch/plug1/config"
SWITCH = {"name": "Plug", "stat_t": "stat/plug1/POWER", "cmd_t": "cmnd/plug1/POWER", "uniq_id": "plug1-relay"}
LOCK_CONFIG_TOPIC = "homeassistant/lock/frontdoor/config"
LOCK = {"name": "Front door", "command_topic": "frontdoor/lock/set", "state_topic": "frontdoor/lock/state", "unique_id": "frontdoor-lock"}
DAY_MS = 86_400_000


def api(hub, method, path, body=None):
    """A JSON request with the owner token: (status, answer); `None` for a 204."""
    headers = {"Authorization": f"Bearer {hub.token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(f"{hub.url}/api/v1{path}", method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=15, context=hub.tls) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, (json.loads(raw) if raw else None)


def ok(hub, method, path, body=None, status=200):
    got, answer = api(hub, method, path, body)
    assert got == status, (method, path, got, answer)
    return answer


class _Stay(urllib.request.HTTPRedirectHandler):
    """Redirects are answers to look at, not to follow."""

    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A browser: a cookie jar (http.cookiejar) and nothing else; no owner token."""

    def __init__(self, hub):
        self.hub = hub
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _Stay())

    def raw(self, method, path, data=None, headers=None):
        req = urllib.request.Request(self.hub.url + path, method=method, data=data, headers=headers or {})
        try:
            with self.opener.open(req, timeout=15) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def api(self, method, path, body=None, csrf=True):
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if csrf and method != "GET":
            headers["X-Hearth-Request"] = "1"
        status, _, raw = self.raw(method, f"/api/v1{path}", data, headers)
        return status, (json.loads(raw) if raw else None)

    def ok(self, method, path, body=None, status=200):
        got, answer = self.api(method, path, body)
        assert got == status, (method, path, got, answer)
        return answer

    def sign_in(self, name, password, headers=None):
        form = urllib.parse.urlencode({"name": name, "password": password}).encode()
        return self.raw("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})

    def accept(self, link):
        """Opens an invitation link (a page that changes nothing) and accepts it (its form's POST)."""
        status, _, page = self.raw("GET", link)
        assert status == 200 and b'action="/invite"' in page, (status, page[:200])
        assert self.session() is None, "opening the link alone signs nobody in"
        code = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["code"][0]
        form = urllib.parse.urlencode({"code": code}).encode()
        return self.raw("POST", "/invite", form, {"Content-Type": "application/x-www-form-urlencoded"})

    def session(self):
        return next((c.value for c in self.jar if c.name == "hearth_session"), None)

    def device_ids(self):
        return [d["id"] for d in self.ok("GET", "/devices")]


def add_member(hub, name, role):
    member = ok(hub, "POST", "/members", {"name": name, "role": role})
    assert (member["name"], member["role"], member["founding"]) == (name, role, False), member
    assert member["id"].startswith("m-"), member
    return member["id"]


def invite(hub, member):
    invitation = ok(hub, "POST", f"/members/{member}/invitations", {"hours": 1})
    assert invitation["member"] == member and invitation["path"].startswith("/invite?code="), invitation
    assert invitation["expires_at"] > time.time() * 1000 + 3500 * 1000
    return invitation["path"]


def signed_in(hub, member):
    """A browser that opened the member's invitation."""
    browser = Browser(hub)
    status, headers, _ = browser.accept(invite(hub, member))
    assert status == 303 and headers["Location"] == "/#/welcome", (status, dict(headers))
    assert browser.session(), "the invitation set the session cookie"
    assert browser.ok("GET", "/me")["member"]["id"] == member
    return browser


def add_device(hub, name):
    added = ok(hub, "POST", "/devices", {"name": name})
    return added["device"]["id"]


def grant(hub, member, right, target, effect="allow", expires_at=None, schedule=None):
    request = {"member": member, "right": right, "target": target, "effect": effect, "schedule": schedule, "expires_at": expires_at}
    return api(hub, "POST", "/grants", request)


def granted(hub, *args, **kwargs):
    status, view = grant(hub, *args, **kwargs)
    assert status == 200, (status, view)
    return view["grant"]["id"]


def audit(reader, query=""):
    """The audit's entries, as the owner (`reader` a hub) or a member (a Browser) reads it."""
    path = f"/audit{query}"
    page = ok(reader, "GET", path) if not isinstance(reader, Browser) else reader.ok("GET", path)
    return page["entries"]


def poll(check, timeout):
    deadline = time.time() + timeout
    while True:
        value = check()
        if value or time.time() > deadline:
            return value
        time.sleep(0.1)


def form_post(hub, path, fields, source):
    """A form POST from one loopback address of our choosing: (status, Set-Cookie)."""
    url = urllib.parse.urlsplit(hub.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=15, source_address=(source, 0))
    try:
        conn.request("POST", path, urllib.parse.urlencode(fields), {"Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("Set-Cookie")
    finally:
        conn.close()


def form_login(hub, name, password, source):
    """A password sign-in from one loopback address of our choosing: (status, Set-Cookie)."""
    return form_post(hub, "/login", {"name": name, "password": password}, source)


def test_guessing_invitation_codes_is_held_back_before_any_lookup(hub):
    """A host trying made-up invitation codes: ten a minute, then refused without a look, while
    another address accepts a real one."""
    kim = add_member(hub, "Kim", "child")
    link = invite(hub, kim)
    code = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["code"][0]
    for n in range(10):
        assert form_post(hub, "/invite", {"code": f"{n:032x}"}, "127.0.0.5")[0] == 401, n
    status, cookie = form_post(hub, "/invite", {"code": code}, "127.0.0.5")
    assert status == 429 and cookie is None, "past the limit, even a real code is not looked up from there"
    status, cookie = form_post(hub, "/invite", {"code": code}, "127.0.0.6")
    assert status == 303 and cookie.startswith("hearth_session="), "from another address the real one works, once"
    # An oversized code is refused like a wrong one, and never stored or echoed.
    status, _ = form_post(hub, "/invite", {"code": "f" * 100_000}, "127.0.0.7")
    assert status == 401, status


def live(browser):
    """The member's live stream, as their page opens it: the WebSocket with their session cookie,
    from the hub's own origin."""
    url = browser.hub.url.replace("http://", "ws://") + "/api/v1/events"
    return websockets.sync.client.connect(url, origin=browser.hub.url, additional_headers={"Cookie": f"hearth_session={browser.session()}"},
                                          open_timeout=5)


def events_until(ws, last, timeout=5.0):
    """The events received, up to and including the first for which `last(event)` holds."""
    received = []
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        try:
            event = json.loads(ws.recv(timeout=max(left, 0.01)))
        except TimeoutError:
            raise AssertionError(f"no such event within {timeout} s; received {received}") from None
        received.append(event)
        if last(event):
            return received


def about(event):
    """The device an event is about, if it is about one."""
    if "device" in event:
        return event["device"]["id"]
    if "change" in event:
        return event["change"]["device_id"]
    return event.get("id")


def rights_changed(event):
    return event == {"type": "rights_changed"}


def changed(device, state=None):
    return lambda e: e["type"] == "device_changed" and e["device"]["id"] == device and state in (None, e["device"]["state"])


def test_an_invited_child_sees_only_what_is_granted_and_loses_it_at_once(hub):
    kitchen = ok(hub, "POST", "/rooms", {"name": "Kitchen"})
    assert (kitchen["name"], kitchen["devices"]) == ("Kitchen", 0)
    lamp, printer = add_device(hub, "Kitchen lamp"), add_device(hub, "Study printer")
    moved = ok(hub, "POST", f"/devices/{lamp}/room", {"room": kitchen["id"]})
    assert moved["room"] == kitchen["id"]
    kim = add_member(hub, "Kim", "child")

    link = invite(hub, kim)
    # Accepting is a POST from this hub's own page: another site cannot make a browser accept it.
    code = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["code"][0]
    forged = urllib.parse.urlencode({"code": code}).encode()
    status, _, _ = Browser(hub).raw("POST", "/invite", forged, {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"})
    assert status == 403, status
    browser = Browser(hub)
    status, headers, _ = browser.accept(link)
    assert status == 303 and headers["Location"] == "/#/welcome", status
    cookie = headers["Set-Cookie"]
    assert cookie.startswith("hearth_session=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
    # One use: the same link again, from another browser, signs nobody in.
    again = Browser(hub)
    status, _, body = again.accept(link)
    assert status == 401 and json.loads(body)["code"] == "unauthorized", body
    assert again.session() is None
    assert again.api("GET", "/me")[0] == 401

    me = browser.ok("GET", "/me")
    assert (me["member"]["name"], me["member"]["role"], me["member"]["you"], me["configure_home"]) == ("Kim", "child", True, False)
    assert browser.device_ids() == [], "a child sees nothing until a parent grants it"

    view_kitchen = granted(hub, kim, "view", {"kind": "room", "id": kitchen["id"]})
    assert browser.device_ids() == [lamp], "the room grant shows the Kitchen's device, only it"
    assert browser.ok("GET", f"/devices/{lamp}")["device"]["name"] == "Kitchen lamp"
    status, error = browser.api("GET", f"/devices/{printer}")
    assert status == 403 and error["code"] == "forbidden", (status, error)
    assert [r["devices"] for r in browser.ok("GET", "/rooms") if r["id"] == kitchen["id"]] == [1]

    # Children never change settings, whatever they may see.
    state = ok(hub, "GET", f"/devices/{lamp}")["device"]["state"]
    status, error = browser.api("POST", f"/devices/{lamp}/approve")
    assert status == 403 and error["code"] == "forbidden" and "Children never change settings" in error["message"], error
    refused = [e for e in audit(hub, f"?member={kim}") if e["action"] == "approve"]
    assert len(refused) == 1, audit(hub, f"?member={kim}")
    [entry] = refused
    assert (entry["refused"], entry["member"], entry["who"], entry["address"], entry["origin"], entry["device"]) == (
        True, kim, "Kim", "127.0.0.1", "web", lamp), entry
    assert entry["words"].startswith("was refused"), entry["words"]
    # Without the CSRF header a cookie changes nothing (and the hub does not even get that far).
    assert browser.api("POST", f"/devices/{lamp}/approve", csrf=False)[0] == 403
    assert ok(hub, "GET", f"/devices/{lamp}")["device"]["state"] == state, "nothing changed"

    # Her own password: at least 10 characters; once set, changing it needs the current one.
    status, error = browser.api("POST", "/me/password", {"password": "short"})
    assert status == 400 and "at least 10" in error["message"], error
    assert browser.ok("POST", "/me/password", {"password": PASSWORD}, status=204) is None
    [listed] = [m for m in ok(hub, "GET", "/members") if m["id"] == kim]
    assert listed["has_password"] is True
    status, error = browser.api("POST", "/me/password", {"password": "another long password"})
    assert status == 403 and "current password" in error["message"], error

    assert ok(hub, "DELETE", f"/grants/{view_kitchen}", status=204) is None
    assert browser.device_ids() == [], "a revoked grant holds no longer, from the moment it is removed"
    assert browser.api("GET", f"/devices/{lamp}")[0] == 403
    assert api(hub, "DELETE", f"/grants/{view_kitchen}")[0] == 404


def test_a_member_signs_in_with_a_password_and_guessing_never_locks_the_owner_out(hub):
    kim = add_member(hub, "Kim", "child")
    signed_in(hub, kim).ok("POST", "/me/password", {"password": PASSWORD}, status=204)

    # A page of another site may not post the sign-in form.
    status, _, _ = Browser(hub).sign_in("Kim", PASSWORD, {"Origin": "http://evil.example"})
    assert status == 403

    laptop = Browser(hub)
    status, headers, _ = laptop.sign_in("Kim", PASSWORD)
    assert status == 303 and headers["Location"] == "/", status
    assert "HttpOnly" in headers["Set-Cookie"]
    assert laptop.ok("GET", "/me")["member"]["id"] == kim

    guesser = Browser(hub)
    for n in range(10):
        status, _, body = guesser.sign_in("Kim", f"wrong password {n}")
        assert status == 401 and b"do not match" in body, (n, status)
        assert guesser.session() is None
    # Past the limit even the right password is refused from this address, within the minute.
    status, _, body = guesser.sign_in("Kim", PASSWORD)
    assert status == 429 and b"wait a minute" in body, (status, body[:300])
    assert guesser.session() is None
    # On record once a minute (ten guesses are one row), as Hearth's (whoever typed them is not
    # known to be Kim), from that address, and shown to Kim as about her.
    wrong = [e for e in audit(hub) if e["action"] == "wrong_password"]
    assert len(wrong) == 1 and (wrong[0]["member"], wrong[0]["address"], wrong[0]["refused"]) == ("hearth", "127.0.0.1", True), wrong
    assert wrong[0]["words"] == "was refused: someone tried to sign in as Kim with a wrong password", wrong
    hers = [e for e in audit(laptop) if e["action"] == "wrong_password"]
    assert len(hers) == 1 and hers[0]["about_you"], hers
    # Kim's session from before is still hers.
    assert laptop.ok("GET", "/me")["member"]["id"] == kim

    # The owner is never locked out: the token, and a fresh sign-in link from the same address.
    assert ok(hub, "GET", "/me")["member"]["id"] == "owner"
    link = ok(hub, "POST", "/login-links")
    assert link["path"].startswith("/login?code="), link
    owner = Browser(hub)
    status, headers, _ = owner.raw("GET", link["path"])
    assert status == 303 and owner.session(), status
    me = owner.ok("GET", "/me")
    assert (me["member"]["id"], me["member"]["role"], me["configure_home"]) == ("owner", "owner", True)
    # Sign-in links come from the owner token only, never from a browser's session.
    assert laptop.api("POST", "/login-links")[0] == 403
    assert owner.api("POST", "/login-links")[0] == 403


def test_guesses_at_one_member_from_many_addresses_are_limited_for_that_member_only(hub):
    kim, sam = add_member(hub, "Kim", "child"), add_member(hub, "Sam", "adult")
    signed_in(hub, kim).ok("POST", "/me/password", {"password": PASSWORD}, status=204)
    signed_in(hub, sam).ok("POST", "/me/password", {"password": "sams own long password"}, status=204)
    for source in ("127.0.0.2", "127.0.0.3"):
        for n in range(10):
            assert form_login(hub, "Kim", f"guess {n}", source)[0] == 401, (source, n)
    status, cookie = form_login(hub, "Kim", PASSWORD, "127.0.0.4")
    assert status == 429 and cookie is None, "20 wrong guesses at Kim within the minute, from any addresses"
    status, cookie = form_login(hub, "Sam", "sams own long password", "127.0.0.4")
    assert status == 303 and cookie.startswith("hearth_session="), "another member, from that address, signs in"
    addresses = {e["address"] for e in audit(hub) if e["action"] == "wrong_password" and e["refused"]}
    assert addresses == {"127.0.0.2", "127.0.0.3"}, addresses


BURST, PER_SECOND, MAX_WAIT = 300, 100, 1.0  # MEMBER in crates/hearth/src/http/request_budget.rs


def cookie(browser):
    return {"Cookie": f"hearth_session={browser.session()}"}


def test_a_member_calling_the_api_back_to_back_is_held_back_and_nobody_else_is(hub):
    """A child's page (or a script with her cookie) calling the API as fast as the hub answers:
    past her budget (a burst of 300, then 100 a second) each request waits for its turn, her
    phone and laptop sharing the budget, while the owner and another member are answered at
    once; from more connections than a second's turns, the excess is refused, a second later,
    with 429, when to try again and words; one log line, not one per request."""
    kim, sam = add_member(hub, "Kim", "child"), add_member(hub, "Sam", "adult")
    phone, laptop, sams = signed_in(hub, kim), signed_in(hub, kim), signed_in(hub, sam)
    spent_at_sign_in = 2  # each signed_in asks /me once

    others = []

    def meanwhile():
        time.sleep(0.5)
        for _ in range(5):
            started = time.monotonic()
            assert ok(hub, "GET", "/me")["member"]["id"] == "owner"
            assert sams.ok("GET", "/me")["member"]["id"] == sam
            others.append(time.monotonic() - started)
            time.sleep(0.2)

    checker = threading.Thread(target=meanwhile)
    started = time.monotonic()
    checker.start()
    answers = back_to_back(hub, [cookie(phone), cookie(laptop)], "/me", 600)
    took = time.monotonic() - started
    checker.join()
    assert [status for status, _, _ in answers] == [200] * 600, "one connection's requests are held back, not refused"
    held_back = 600 - (BURST - spent_at_sign_in)
    assert held_back / PER_SECOND - 0.2 <= took <= held_back / PER_SECOND + 3, took
    assert len(others) == 5 and max(others) < 0.5, f"the owner and Sam were answered as usual: {others}"

    # Her budget back (3 s at 100 a second), spent at once; then 250 requests on connections of
    # their own, opened before, sent all at once: a second's turns (100, and what refills
    # meanwhile) wait for them, the rest are refused, after that second.
    time.sleep(BURST / PER_SECOND + 0.5)
    conns = connections(hub, 250)
    drained = time.monotonic()
    assert {status for status, _, _ in back_to_back(hub, [cookie(phone)], "/me", BURST)} == {200}
    results, last_sent = at_once(conns, phone.session(), "/me")
    answered = [took for status, _, _, took in results if status == 200]
    refused = [(headers, error, took) for status, headers, error, took in results if status == 429]
    assert len(answered) + len(refused) == 250, sorted({r[0] for r in results})
    # A second's turns, and what refilled from the start of draining to the last one sent.
    refilled = (last_sent - drained) * PER_SECOND
    assert 100 <= len(answered) <= 100 + refilled + 40 and refused, (len(answered), len(refused), refilled)
    assert max(answered) < MAX_WAIT + 0.5, max(answered)
    headers, error, _ = refused[0]
    assert headers["Retry-After"] == "1", dict(headers)
    assert error["code"] == "too_many_requests", error
    assert "asking too often" in error["message"] and "try again in a second" in error["message"], error
    assert min(took for _, _, took in refused) >= MAX_WAIT - 0.05, "a refusal is not answered at once"

    time.sleep(MAX_WAIT + 0.1)
    assert phone.ok("GET", "/me")["member"]["id"] == kim, "a second later she is answered again"
    lines = [line for line in hub.read_log().splitlines() if "faster than 100 requests a second" in line]
    assert len(lines) == 1 and kim in lines[0], lines


def test_the_founding_owner_can_be_neither_removed_nor_demoted_but_a_second_owner_can(hub):
    status, error = api(hub, "DELETE", "/members/owner")
    assert status == 400 and error["code"] == "bad_request" and "cannot be removed" in error["message"], (status, error)
    status, error = api(hub, "POST", "/members/owner", {"role": "adult"})
    assert status == 400 and "cannot be demoted" in error["message"], (status, error)
    [founder] = [m for m in ok(hub, "GET", "/members") if m["id"] == "owner"]
    assert (founder["role"], founder["founding"], founder["you"]) == ("owner", True, True)
    assert ok(hub, "POST", "/members/owner", {"name": "Robin"})["name"] == "Robin", "renaming is fine"

    pat = add_member(hub, "Pat", "owner")
    browser = signed_in(hub, pat)
    # Another owner cannot do it either.
    status, error = browser.api("DELETE", "/members/owner")
    assert status == 400 and "cannot be removed" in error["message"], error
    status, error = browser.api("POST", "/members/owner", {"role": "guest"})
    assert status == 400 and "cannot be demoted" in error["message"], error
    assert browser.ok("POST", "/members", {"name": "Lee", "role": "child"})["role"] == "child", "Pat is an owner"
    # Grants do not apply to owners.
    status, error = grant(hub, pat, "view", {"kind": "home"})
    assert status == 400 and "owner" in error["message"], error

    demoted = ok(hub, "POST", f"/members/{pat}", {"role": "adult"})
    assert (demoted["id"], demoted["role"]) == (pat, "adult")
    status, error = browser.api("POST", "/members", {"name": "Max", "role": "child"})
    assert status == 403 and error["code"] == "forbidden", "the demotion holds at once"
    assert browser.ok("GET", "/me")["member"]["role"] == "adult"
    assert ok(hub, "DELETE", f"/members/{pat}", status=204) is None
    assert browser.api("GET", "/me")[0] == 401, "a removed member's session ends"
    roles = {m["name"]: m["role"] for m in ok(hub, "GET", "/members")}
    assert roles == {"Robin": "owner", "Lee": "child"}, roles


def test_a_guests_rights_always_end(hub):
    tv = add_device(hub, "Guest room TV")
    gus = add_member(hub, "Gus", "guest")
    status, error = grant(hub, gus, "view", {"kind": "device", "id": tv})
    assert status == 400 and "a guest's rights always end" in error["message"], (status, error)
    status, error = grant(hub, gus, "view", {"kind": "device", "id": tv}, expires_at=int(time.time() * 1000) - 60_000)
    assert status == 400 and "ended already" in error["message"], (status, error)
    assert ok(hub, "GET", f"/grants?member={gus}") == []

    browser = signed_in(hub, gus)
    assert browser.device_ids() == []
    # Guests never see recorded data, whatever they are granted.
    granted(hub, gus, "review", {"kind": "device", "id": tv}, expires_at=int(time.time() * 1000) + 600_000)
    status, error = browser.api("GET", f"/devices/{tv}/review")
    assert status == 403 and "Guests never see recorded data" in error["message"], error

    ends = int(time.time() * 1000) + 2_000
    status, view = grant(hub, gus, "view", {"kind": "device", "id": tv}, expires_at=ends)
    assert status == 200 and view["expired"] is False and view["grant"]["expires_at"] == ends, view
    assert browser.device_ids() == [tv], "until it ends, the guest sees the device"
    assert poll(lambda: browser.device_ids() == [], 5.0), "the grant ended, and the guest's view with it"
    assert time.time() * 1000 >= ends, "not before its end"
    assert browser.api("GET", f"/devices/{tv}")[0] == 403
    mine = browser.ok("GET", "/grants")
    assert {(g["grant"]["right"], g["expired"]) for g in mine} == {("view", True), ("review", False)}, mine


def test_a_personal_devices_data_is_its_members_and_a_parents_look_is_never_silent(hub):
    kim, sam, alex = add_member(hub, "Kim", "child"), add_member(hub, "Sam", "adult"), add_member(hub, "Alex", "adult")
    watch, phone = add_device(hub, "Kim's watch"), add_device(hub, "Alex's phone")
    assert ok(hub, "POST", f"/devices/{watch}/member", {"member": kim})["member"] == kim
    assert ok(hub, "POST", f"/devices/{phone}/member", {"member": alex})["member"] == alex

    # Sam may review the whole home, but not another adult's personal device: its data is theirs.
    granted(hub, sam, "review", {"kind": "home"})
    sam_browser = signed_in(hub, sam)
    status, error = sam_browser.api("GET", f"/devices/{phone}/review")
    assert status == 403 and "someone else's personal device" in error["message"], (status, error)
    status, error = api(hub, "GET", f"/devices/{phone}/review")
    assert status == 403 and "someone else's personal device" in error["message"], f"not even the owner: {status} {error}"

    # Kim, granted a view of her watch: she sees it and its data, and still changes nothing.
    granted(hub, kim, "view", {"kind": "device", "id": watch})
    kim_browser = signed_in(hub, kim)
    assert kim_browser.device_ids() == [watch]
    [rights] = kim_browser.ok("GET", "/me")["devices"]
    assert rights == {"id": watch, "control": False, "review": True, "configure": False}, rights
    assert kim_browser.api("GET", f"/devices/{watch}/review")[0] == 200, "her own device's data"
    assert kim_browser.api("GET", f"/devices/{phone}/review")[0] == 403
    status, error = kim_browser.api("POST", f"/devices/{watch}/approve")
    assert status == 403 and "Children never change settings" in error["message"], error
    assert not [e for e in audit(kim_browser) if e["action"].startswith("look:")], "nobody has looked yet"

    # A parent (the owner) may review a child's device, and the child sees that they did.
    assert api(hub, "GET", f"/devices/{watch}/review")[0] == 200
    entries = audit(kim_browser)
    looks = [e for e in entries if e["about_you"] and e["action"].startswith("look:")]
    assert len(looks) == 1, entries
    [look] = looks
    assert look["action"].startswith("look:") and look["action"] == "look:review", look
    assert (look["member"], look["device"], look["refused"]) == ("owner", watch, False), look
    assert look["words"].startswith("looked at Kim's watch"), look["words"]
    # Kim's own look at her device is no news to her; the others' doings are not hers to read.
    assert all(e["member"] == kim or e["about_you"] for e in entries), entries
    assert [(e["member"], e["action"], e["refused"]) for e in entries if e["device"] == phone] == [(kim, "review", True)], entries

    # An adult of the household is a parent too, by default: allowed, and seen by Kim...
    assert sam_browser.api("GET", f"/devices/{watch}/review")[0] == 200
    assert [e["member"] for e in audit(kim_browser) if e["about_you"] and e["action"].startswith("look:")] == [sam, "owner"]
    # ...until the owner says otherwise.
    granted(hub, sam, "review", {"kind": "device", "id": watch}, effect="deny")
    status, error = sam_browser.api("GET", f"/devices/{watch}/review")
    assert status == 403 and "Refused by grant" in error["message"], (status, error)
    assert [e["member"] for e in audit(kim_browser) if e["action"].startswith("look:")] == [sam, "owner"], "a refused look is no look"
    assert [(e["member"], e["action"]) for e in audit(kim_browser) if e["about_you"] and e["refused"]] == [(sam, "review")]


def test_a_member_operates_a_switch_through_the_broker_only_with_the_control_right(hub):
    plug = Device(hub, "Plug", publish=["stat/plug1/#", "homeassistant/#"], subscribe=["cmnd/plug1/#"])
    r = plug.pub(SWITCH_CONFIG_TOPIC, json.dumps(SWITCH), qos=1, version="5", extra=["-d"])
    assert "RC:0" in r.stdout, r.stdout + r.stderr
    controls = poll(lambda: ok(hub, "GET", f"/devices/{plug.id}/controls"), 5.0)
    assert len(controls) == 1, controls
    [control] = controls
    assert (control["component"], control["name"], control["actions"], control["state"]) == ("switch", "Plug", ["on", "off"], None), control
    entity = control["entity"]

    # The device's firmware: subscribed to its command topic.
    device = plug.paho("plug1")
    subscribed = threading.Event()
    device.on_subscribe = lambda c, u, mid, codes, props: subscribed.set() if not any(code.is_failure for code in codes) else None
    device.subscribe("cmnd/plug1/#", qos=1)
    assert subscribed.wait(5), "the device may subscribe to its command topic"
    try:
        kim, leo = add_member(hub, "Kim", "child"), add_member(hub, "Leo", "child")
        for right in ("view", "control"):
            granted(hub, kim, right, {"kind": "device", "id": plug.id})
        granted(hub, leo, "view", {"kind": "device", "id": plug.id})
        kim_browser, leo_browser = signed_in(hub, kim), signed_in(hub, leo)
        assert [c["entity"] for c in leo_browser.ok("GET", f"/devices/{plug.id}/controls")] == [entity], "Leo sees the switch"

        # Without the control right: refused, and nothing reaches the device.
        status, error = leo_browser.api("POST", f"/devices/{plug.id}/control", {"entity": entity, "action": "on"})
        assert status == 403 and error["code"] == "forbidden", (status, error)
        time.sleep(1.0)
        assert device.received == [], device.received

        answer = kim_browser.ok("POST", f"/devices/{plug.id}/control", {"entity": entity, "action": "on"})
        assert answer["entity"] == entity
        assert poll(lambda: device.received, 3.0) == [("cmnd/plug1/POWER", "ON", 1)], device.received
        # A switch cannot be locked: refused before anything is sent.
        status, error = kim_browser.api("POST", f"/devices/{plug.id}/control", {"entity": entity, "action": "lock"})
        assert status == 400, (status, error)
        time.sleep(0.5)
        assert len(device.received) == 1, device.received

        entries = audit(hub, f"?device={plug.id}")
        done = [e for e in entries if e["action"] == "control" and not e["refused"]]
        assert [(e["member"], e["who"], e["origin"], e["address"]) for e in done] == [(kim, "Kim", "web", "127.0.0.1")], entries
        assert "turn on" in done[0]["words"], done[0]["words"]
        refused = [e for e in entries if e["action"] == "control" and e["refused"]]
        assert [(e["member"], e["who"]) for e in refused] == [(leo, "Leo")], entries

        # The state shown is what the device reports, not what was asked.
        assert kim_browser.ok("GET", f"/devices/{plug.id}/controls")[0]["state"] is None
        device.publish("stat/plug1/POWER", "ON", qos=1).wait_for_publish(5)
        reported = poll(lambda: [c for c in kim_browser.ok("GET", f"/devices/{plug.id}/controls") if c["state"] == "ON"], 3.0)
        assert reported and reported[0]["reported_at"], kim_browser.ok("GET", f"/devices/{plug.id}/controls")
    finally:
        stop(device)


def test_a_childs_live_stream_carries_only_what_she_may_view_and_stops_when_her_grant_is_removed(hub):
    kitchen, hall, study = (ok(hub, "POST", "/rooms", {"name": name})["id"] for name in ("Kitchen", "Hall", "Study"))
    lamp, light, printer = add_device(hub, "Kitchen lamp"), add_device(hub, "Hall light"), add_device(hub, "Study printer")
    for device, room in ((lamp, kitchen), (light, hall), (printer, study)):
        assert ok(hub, "POST", f"/devices/{device}/room", {"room": room})["room"] == room
    kim = add_member(hub, "Kim", "child")
    granted(hub, kim, "view", {"kind": "room", "id": hall})
    browser = signed_in(hub, kim)

    with live(browser) as ws:
        # A grant given while her page is open: the page is told to reload what she may see.
        view_kitchen = granted(hub, kim, "view", {"kind": "room", "id": kitchen})
        received = events_until(ws, rights_changed)
        assert [e for e in received if about(e)] == [], received
        assert sorted(browser.device_ids()) == sorted([lamp, light])

        # The printer's change, then the lamp's: only the lamp's reaches her, in its new state.
        assert ok(hub, "POST", f"/devices/{printer}/block")["state"] == "blocked"
        assert ok(hub, "POST", f"/devices/{lamp}/block")["state"] == "blocked"
        received = events_until(ws, changed(lamp))
        assert [about(e) for e in received if about(e)] == [lamp], received
        assert (received[-1]["device"]["name"], received[-1]["device"]["state"], received[-1]["device"]["room"]) == (
            "Kitchen lamp", "blocked", kitchen), received[-1]

        assert ok(hub, "DELETE", f"/grants/{view_kitchen}", status=204) is None
        received = events_until(ws, rights_changed)
        assert [e for e in received if about(e)] == [], received
        # Revoked: the lamp's next change is not hers to hear. The hall light's change after it is
        # (the stream is in order), so whatever came before it has come.
        assert ok(hub, "POST", f"/devices/{lamp}/approve")["state"] == "approved"
        assert ok(hub, "POST", f"/devices/{printer}/approve")["state"] == "approved"
        time.sleep(1.0)
        assert ok(hub, "POST", f"/devices/{light}/block")["state"] == "blocked"
        received = events_until(ws, changed(light, "blocked"))
        assert [about(e) for e in received if about(e)] == [light], received

    status, error = browser.api("GET", f"/devices/{lamp}")
    assert status == 403 and error["code"] == "forbidden", (status, error)
    assert browser.device_ids() == [light]


def test_a_grant_that_ends_stops_the_live_stream_at_its_end(hub):
    kitchen, hall = (ok(hub, "POST", "/rooms", {"name": name})["id"] for name in ("Kitchen", "Hall"))
    lamp, light = add_device(hub, "Kitchen lamp"), add_device(hub, "Hall light")
    ok(hub, "POST", f"/devices/{lamp}/room", {"room": kitchen})
    ok(hub, "POST", f"/devices/{light}/room", {"room": hall})
    kim = add_member(hub, "Kim", "child")
    granted(hub, kim, "view", {"kind": "room", "id": hall})
    browser = signed_in(hub, kim)

    with live(browser) as ws:
        ends = int(time.time() * 1000) + 2_000
        status, view = grant(hub, kim, "view", {"kind": "room", "id": kitchen}, expires_at=ends)
        assert status == 200 and view["expired"] is False, (status, view)
        events_until(ws, rights_changed)
        assert ok(hub, "POST", f"/devices/{lamp}/block")["state"] == "blocked"
        assert events_until(ws, changed(lamp))[-1]["device"]["state"] == "blocked"
        assert time.time() * 1000 < ends, "the grant ended before it could be seen at work: the test ran too slowly"

        assert poll(lambda: browser.device_ids() == [light], 5.0), "the grant ended, and her view of the kitchen with it"
        assert time.time() * 1000 >= ends, "not before its end"
        assert ok(hub, "POST", f"/devices/{lamp}/approve")["state"] == "approved"
        time.sleep(1.0)
        assert ok(hub, "POST", f"/devices/{light}/block")["state"] == "blocked"
        received = events_until(ws, changed(light, "blocked"))
        assert lamp not in [about(e) for e in received], f"the lamp's change reached her after her grant ended: {received}"

    status, error = browser.api("GET", f"/devices/{lamp}")
    assert status == 403 and error["code"] == "forbidden", (status, error)
    [ended] = [g for g in browser.ok("GET", "/grants") if g["grant"]["expires_at"] == ends]
    assert ended["expired"] is True, ended


def test_a_child_opens_the_front_door_only_with_a_grant_on_the_lock_itself_and_a_confirmation(hub):
    lock = Device(hub, "Front door lock", publish=["frontdoor/lock/state", "homeassistant/lock/frontdoor/#"], subscribe=["frontdoor/lock/#"])
    r = lock.pub(LOCK_CONFIG_TOPIC, json.dumps(LOCK), qos=1, version="5", extra=["-d"])
    assert "RC:0" in r.stdout, r.stdout + r.stderr
    controls = poll(lambda: ok(hub, "GET", f"/devices/{lock.id}/controls"), 5.0)
    assert len(controls) == 1, controls
    [control] = controls
    assert (control["component"], control["name"], control["actions"], control["needs_confirmation"], control["state"]) == (
        "lock", "Front door", ["lock", "unlock"], True, None), control
    entity = control["entity"]

    hall = ok(hub, "POST", "/rooms", {"name": "Hall"})["id"]
    light = add_device(hub, "Hall light")
    for device in (lock.id, light):
        ok(hub, "POST", f"/devices/{device}/room", {"room": hall})
    kim = add_member(hub, "Kim", "child")
    for right in ("view", "control"):
        granted(hub, kim, right, {"kind": "room", "id": hall})
    browser = signed_in(hub, kim)

    firmware = lock.paho("frontdoor")
    subscribed = threading.Event()
    firmware.on_subscribe = lambda c, u, mid, codes, props: subscribed.set() if not any(code.is_failure for code in codes) else None
    firmware.subscribe("frontdoor/lock/set", qos=1)
    assert subscribed.wait(5), "the lock may subscribe to its command topic"
    try:
        # A room grant reaches the hall light, never the door: a lock needs a grant of its own.
        assert browser.device_ids() == [light]
        for path in (f"/devices/{lock.id}", f"/devices/{lock.id}/controls"):
            status, error = browser.api("GET", path)
            assert status == 403 and "opens or watches the home" in error["message"], (path, status, error)
        status, error = browser.api("POST", f"/devices/{lock.id}/control", {"entity": entity, "action": "unlock", "confirm": True})
        assert status == 403 and error["code"] == "forbidden" and "opens or watches the home" in error["message"], (status, error)
        time.sleep(1.0)
        assert firmware.received == [], firmware.received

        for right in ("view", "control"):
            granted(hub, kim, right, {"kind": "device", "id": lock.id})
        assert sorted(browser.device_ids()) == sorted([lock.id, light])
        [seen] = browser.ok("GET", f"/devices/{lock.id}/controls")
        assert (seen["entity"], seen["needs_confirmation"]) == (entity, True), seen
        # Unconfirmed: refused before anything is sent.
        for body in ({"entity": entity, "action": "unlock"}, {"entity": entity, "action": "unlock", "confirm": False}):
            status, error = browser.api("POST", f"/devices/{lock.id}/control", body)
            assert status == 400 and "confirm" in error["message"], (body, status, error)
        time.sleep(0.5)
        assert firmware.received == [], firmware.received

        answer = browser.ok("POST", f"/devices/{lock.id}/control", {"entity": entity, "action": "unlock", "confirm": True})
        assert answer["entity"] == entity
        assert poll(lambda: firmware.received, 3.0) == [("frontdoor/lock/set", "UNLOCK", 1)], firmware.received

        entries = [e for e in audit(hub, f"?device={lock.id}") if e["action"] == "control"]
        assert [(e["member"], e["who"], e["origin"], e["refused"]) for e in entries] == [
            (kim, "Kim", "web", False), (kim, "Kim", "web", True)], entries
        assert "unlock" in entries[0]["words"], entries[0]["words"]
    finally:
        stop(firmware)


def test_the_home_review_shows_each_member_only_the_devices_they_may_review(hub):
    station = Device(hub, "Weather station", publish=["weather/station/#"])
    tracker = Device(hub, "Bike tracker", publish=["bike/tracker/#"])
    for n in range(3):
        assert station.pub("weather/station/state", json.dumps({"temperature": 20.5 + n, "humidity": 40 + n}), qos=1).returncode == 0
        assert tracker.pub("bike/tracker/state", json.dumps({"lat": 52.37, "lon": 4.89, "battery": 90 - n}), qos=1).returncode == 0
    both = {station.id, tracker.id}

    def home_review():
        review = ok(hub, "GET", "/review")
        return review if {d["device_id"] for d in review["devices"]} == both and all(d["messages"] == 3 for d in review["devices"]) else None

    assert poll(home_review, 10.0), ok(hub, "GET", "/review")
    # A week of history cannot be waited for: the topics were first heard, in the file, eight days
    # ago, so the fields heard now are news in the week's review.
    db = sqlite3.connect(hub.data_dir / "hearth.db", timeout=10)
    with db:
        moved = db.execute("UPDATE ledger_topics SET first_seen = first_seen - ?", (8 * DAY_MS,)).rowcount
    db.close()
    assert moved == 2
    owners = ok(hub, "GET", "/review")
    assert {d["device_id"] for d in owners["devices"]} == both
    news = {(c["device_id"], c["path"]) for c in owners["changes"] if c["kind"] == "new_field"}
    assert {(station.id, "temperature"), (station.id, "humidity"), (tracker.id, "lat"), (tracker.id, "battery")} <= news, owners["changes"]

    # Sam, an adult, sees and uses both devices, but may review neither: the home's review
    # counts nothing of them, not even their names.
    sam = add_member(hub, "Sam", "adult")
    browser = signed_in(hub, sam)
    assert sorted(browser.device_ids()) == sorted(both)
    review = browser.ok("GET", "/review")
    assert (review["devices"], review["changes"]) == ([], []), review
    assert browser.api("GET", f"/devices/{station.id}/review")[0] == 403

    granted(hub, sam, "review", {"kind": "device", "id": station.id})
    review = browser.ok("GET", "/review")
    assert [(d["device_id"], d["name"], d["messages"]) for d in review["devices"]] == [(station.id, "Weather station", 3)], review
    assert review["changes"] and {c["device_id"] for c in review["changes"]} == {station.id}, review["changes"]
    assert review["changes"] == [c for c in ok(hub, "GET", "/review")["changes"] if c["device_id"] == station.id]
    assert browser.api("GET", f"/devices/{tracker.id}/review")[0] == 403
    owners = ok(hub, "GET", "/review")
    assert {d["device_id"] for d in owners["devices"]} == both, "the owner sees it too, and the rest"
    assert {c["device_id"] for c in owners["changes"]} == both


def test_a_member_operates_the_simulated_homes_plug_and_lamp_through_the_broker(hub):
    log = open(hub.data_dir / "demo.log", "w")
    # The five MQTT devices of `hearth demo --mqtt`, added to this hub with their credentials.
    demo = subprocess.Popen([str(HEARTH), "demo", "--mqtt", "--duration", "120", "--data-dir", str(hub.data_dir)],
                            stdout=log, stderr=subprocess.STDOUT)
    observer = None
    try:
        plug = hub.wait_for_device("Kitchen plug (Tasmota)", timeout=20)["id"]
        bridge = hub.wait_for_device("Zigbee2MQTT bridge", timeout=20)["id"]

        def listed(device, count):
            controls = ok(hub, "GET", f"/devices/{device}/controls")
            return controls if len(controls) == count else None

        assert poll(lambda: listed(plug, 1) and listed(bridge, 1), 20.0), (
            ok(hub, "GET", f"/devices/{plug}/controls"), ok(hub, "GET", f"/devices/{bridge}/controls"), (hub.data_dir / "demo.log").read_text())
        [switch], [light] = listed(plug, 1), listed(bridge, 1)
        assert (switch["component"], switch["name"], switch["actions"], switch["brightness"], switch["state"]) == (
            "switch", "Kitchen plug", ["on", "off"], False, None), switch
        assert (light["component"], light["name"], light["actions"], light["brightness"], light["state"]) == (
            "light", "living_room_lamp light", ["on", "off"], True, None), light

        # An independent observer on the broker, with its own credential and manifest.
        watcher = Device(hub, "Observer", subscribe=["cmnd/#", "zigbee2mqtt/#"])
        observer = watcher.paho("observer")
        subscribed = threading.Event()
        observer.on_subscribe = lambda c, u, mid, codes, props: subscribed.set() if not any(code.is_failure for code in codes) else None
        observer.subscribe([("cmnd/#", 1), ("zigbee2mqtt/#", 1)])
        assert subscribed.wait(5), "the observer may subscribe to the commands"

        sam = add_member(hub, "Sam", "adult")
        browser = signed_in(hub, sam)
        assert browser.ok("POST", f"/devices/{plug}/control", {"entity": switch["entity"], "action": "off"})["entity"] == switch["entity"]
        answer = browser.ok("POST", f"/devices/{bridge}/control", {"entity": light["entity"], "action": "on", "brightness": 100})
        assert answer["entity"] == light["entity"]

        def commands():
            sent = [(t, p) for t, p, _ in observer.received if t.startswith("cmnd/") or t.endswith("/set")]
            return sent if len(sent) >= 2 else None

        expected = [("cmnd/tasmota_A1B2C3/POWER", "OFF"), ("zigbee2mqtt/living_room_lamp/set", '{"brightness":100,"state":"ON"}')]
        assert poll(commands, 5.0) == expected, observer.received

        # What the devices answered, not what was asked.
        def reported():
            states = (browser.ok("GET", f"/devices/{plug}/controls")[0]["state"], browser.ok("GET", f"/devices/{bridge}/controls")[0]["state"])
            return states if states == ("OFF", "ON · brightness 100") else None

        assert poll(reported, 5.0), (browser.ok("GET", f"/devices/{plug}/controls"), browser.ok("GET", f"/devices/{bridge}/controls"))

        done = [(e["device"], e["member"], e["who"], e["origin"]) for e in audit(hub) if e["action"] == "control" and not e["refused"]]
        assert sorted(done) == sorted([(plug, sam, "Sam", "web"), (bridge, sam, "Sam", "web")]), done
        words = {e["device"]: e["words"] for e in audit(hub, f"?member={sam}") if e["action"] == "control"}
        assert "turn off" in words[plug] and "turn on" in words[bridge], words
    finally:
        if observer is not None:
            stop(observer)
        demo.terminate()
        demo.wait(timeout=15)
        log.close()
    assert demo.returncode == 0, (hub.data_dir / "demo.log").read_text()
