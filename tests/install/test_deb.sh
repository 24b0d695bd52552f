#!/usr/bin/env bash
# The headless package, as a homeowner's server would take it: installed from its file with
# `apt-get install ./file.deb` (dpkg, with the Depends fetched: on a clean system
# (test_clean_debian.sh runs this there) nothing else brings libdbus), then
# `hearth --version`, its own `hearth` user and /var/lib/hearth (0700), the hub started as that
# user (not root) on its data, its unit checked by systemd where systemd is installed, then
# `apt-get remove` (the home's data stays) and `apt-get purge` (data and user gone).
# Needs root (dpkg). Usage: tests/install/test_deb.sh PATH.deb
set -euo pipefail
DEB="$1"
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "installing a package needs root"
# Never over a real installation: purging it would delete that home's data.
for pkg in hearth-server hearth; do
  if dpkg -s "$pkg" >/dev/null 2>&1; then fail "$pkg is installed on this machine; this test installs and purges hearth-server, so run it elsewhere"; fi
done

HUB=""
# On a failure: no hub left running, and nothing of this test's left installed.
trap '[ -n "$HUB" ] && { kill "$HUB" 2>/dev/null; wait "$HUB" 2>/dev/null; }; apt-get purge -y -qq hearth-server >/dev/null 2>&1 || true' EXIT
apt-get install -y -qq --no-install-recommends "$(realpath "$DEB")" >/dev/null
[ "$(command -v hearth)" = /usr/bin/hearth ] || fail "hearth is not /usr/bin/hearth"
[[ "$(hearth --version)" == "hearth "* ]] || fail "hearth --version printed: $(hearth --version)"
getent passwd hearth | grep -q ':/var/lib/hearth:/usr/sbin/nologin$' || fail "no hearth system user: $(getent passwd hearth)"
[ "$(stat -c '%U %a' /var/lib/hearth)" = "hearth 700" ] || fail "/var/lib/hearth is $(stat -c '%U %a' /var/lib/hearth)"
grep -q '^ExecStart=/usr/bin/hearth serve ' /lib/systemd/system/hearth.service || fail "the unit does not run /usr/bin/hearth"
grep -q '^User=hearth$' /lib/systemd/system/hearth.service || fail "the unit does not run as hearth"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify /lib/systemd/system/hearth.service || fail "systemd-analyze rejects the unit"
fi

# Where systemd runs, the package started the service: stopped, so that this hub is the only one.
if [ -d /run/systemd/system ]; then systemctl stop hearth.service; rm -f /var/lib/hearth/hub.json; fi
# The hub as its own user, on its own data (the service's command, on loopback ports).
LOG="$(mktemp)"
runuser -u hearth -- hearth serve --data-dir /var/lib/hearth --no-discovery --http-listen 127.0.0.1:0 \
  --mqtt-listen 127.0.0.1:0 --mqtts-listen 127.0.0.1:0 >"$LOG" 2>&1 &
HUB=$!
for _ in $(seq 100); do [ -f /var/lib/hearth/hub.json ] && break; sleep 0.1; done
[ -f /var/lib/hearth/hub.json ] || { cat "$LOG"; fail "the hub did not start as the hearth user"; }
# Read whole, then matched: `grep -q` closing the pipe early would make hearth fail writing.
STATUS="$(runuser -u hearth -- hearth status --data-dir /var/lib/hearth)" || fail "hearth status failed"
[[ "$STATUS" == *Hearth* ]] || fail "hearth status printed: $STATUS"
kill "$HUB"; wait "$HUB" || true; HUB=""
[ "$(stat -c '%U' /var/lib/hearth/hearth.db)" = hearth ] || fail "the database is not the hearth user's"

apt-get remove -y hearth-server >/dev/null
[ ! -e /usr/bin/hearth ] || fail "remove left /usr/bin/hearth"
[ -f /var/lib/hearth/hearth.db ] || fail "remove deleted the home's data (only purge may)"
apt-get purge -y hearth-server >/dev/null
[ ! -e /var/lib/hearth ] || fail "purge left /var/lib/hearth"
! getent passwd hearth >/dev/null || fail "purge left the hearth user"
trap - EXIT
echo "the headless package installs, runs as its own user, and removes cleanly"
