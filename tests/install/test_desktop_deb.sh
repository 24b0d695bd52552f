#!/usr/bin/env bash
# The desktop app's package on this machine: installed with apt-get from its file, the desktop
# window test (tests/desktop) run once on the installed app (/usr/bin/hearth-desktop and
# /usr/bin/hearth, not the build's), then `apt-get remove`, which must leave nothing of them.
# Needs root, Xvfb and the private namespace tool. Usage: tests/install/test_desktop_deb.sh PATH.deb
# (PY: the test environment's Python; HEARTH_IN_NETNS_TOOL: in-netns. Root writes no cache into
# the checkout.)
set -euo pipefail
DEB="$(realpath "$1")"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "installing a package needs root"
: "${PY:?set PY to the test environment python}" "${HEARTH_IN_NETNS_TOOL:?set HEARTH_IN_NETNS_TOOL to in-netns}"
# Never over a real installation (removing it would take someone's app away).
for pkg in hearth hearth-server; do
  if dpkg -s "$pkg" >/dev/null 2>&1; then fail "$pkg is installed on this machine; this test installs and removes hearth, so run it elsewhere"; fi
done
trap 'apt-get remove -y -qq hearth >/dev/null 2>&1 || true' EXIT

apt-get install -y -qq "$DEB" >/dev/null
[ "$(dpkg-query -W -f='${Status}' hearth)" = "install ok installed" ] || fail "the package is not installed"
[ -x /usr/bin/hearth-desktop ] && [ -x /usr/bin/hearth ] || fail "the package has no /usr/bin/hearth-desktop or /usr/bin/hearth"
[[ "$(/usr/bin/hearth --version)" == "hearth "* ]] || fail "hearth --version printed: $(/usr/bin/hearth --version)"
grep -q '^Exec=hearth-desktop' /usr/share/applications/Hearth.desktop || fail "no menu entry that starts hearth-desktop"
dpkg-deb -f "$DEB" Conflicts | grep -qw hearth-server || fail "the desktop package does not conflict with hearth-server (both ship /usr/bin/hearth)"

HEARTH_DESKTOP_BIN=/usr/bin/hearth-desktop HEARTH_BIN=/usr/bin/hearth \
  PYTHONDONTWRITEBYTECODE=1 "$HEARTH_IN_NETNS_TOOL" xvfb-run -a -s "-screen 0 1280x900x24" \
  "$PY" -m pytest -q -s -p no:cacheprovider "$ROOT/tests/desktop"

apt-get remove -y -qq hearth >/dev/null
[ ! -e /usr/bin/hearth-desktop ] && [ ! -e /usr/bin/hearth ] && [ ! -e /usr/share/applications/Hearth.desktop ] \
  || fail "remove left the app's files"
trap - EXIT
echo "the desktop package installs, its window test passes on the installed app, and it removes cleanly"
