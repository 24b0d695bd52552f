#!/usr/bin/env bash
# Both packages on a clean Debian system: a minimal Debian of this machine's release, made by
# debootstrap in a folder (nothing of this machine's is installed in it), and each package
# installed there from its file with apt-get, so that its Depends alone must bring what it needs.
# - The server package: its whole install test (test_deb.sh: installed, run as its own user,
#   removed, purged).
# - The desktop package: installed; every library either binary links is found; `hearth
#   --version`; the menu entry; with an X display, the app started from the installed package until
#   its hub is up and its window is mapped on that display; then `apt-get remove`.
# Needs root, debootstrap and Debian's archive (the mirror this machine's apt uses; another with
# HEARTH_DEBIAN_MIRROR). The minimal system is kept as a tarball under ~/.cache for the next run.
# The app is started under xvfb-run with HEARTH_IN_NETNS_TOOL set (HEARTH_REQUIRE_WINDOW=1 makes
# its absence a failure, as scripts/test does).
# Usage: tests/install/test_clean_debian.sh SERVER.deb DESKTOP.deb
set -euo pipefail
SERVER_DEB="$(realpath "$1")"
DESKTOP_DEB="$(realpath "$2")"
HERE="$(cd "$(dirname "$0")" && pwd)"
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "debootstrap and chroot need root"
SUITE="$(. /etc/os-release && echo "${VERSION_CODENAME:?}")"
MIRROR="${HEARTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CACHE="${HEARTH_CLEAN_DEBIAN_CACHE:-$HOME/.cache/hearth-clean-debian-$SUITE.tar}"

ROOTFS="$(mktemp -d /var/tmp/hearth-clean-debian.XXXXXX)"
MOUNTS=()
APP=""
cleanup() {
  [ -n "$APP" ] && kill "$APP" 2>/dev/null || true
  for ((i=${#MOUNTS[@]}-1; i>=0; i--)); do umount -l "${MOUNTS[$i]}" 2>/dev/null || true; done
  rm -rf --one-file-system "$ROOTFS"
}
trap cleanup EXIT
bind() { mkdir -p "$ROOTFS$2"; mount "${3:---bind}" "$1" "$ROOTFS$2"; MOUNTS+=("$ROOTFS$2"); }
in_debian() { chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

started=$(date +%s)
if [ -f "$CACHE" ]; then
  tar -C "$ROOTFS" -xpf "$CACHE"
else
  echo "making a minimal Debian $SUITE with debootstrap (a few minutes, once)"
  debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >/dev/null
  mkdir -p "$(dirname "$CACHE")"
  tar -C "$ROOTFS" -cpf "$CACHE.partial" . && mv "$CACHE.partial" "$CACHE"
fi
chmod 0755 "$ROOTFS"   # the root of a system (mktemp made it 0700: no user but root could reach /usr)
echo "$SUITE-updates $SUITE" | tr ' ' '\n' | sed "s|.*|deb $MIRROR & main|" > "$ROOTFS/etc/apt/sources.list"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
mkdir -p "$ROOTFS/proc" && mount -t proc proc "$ROOTFS/proc" && MOUNTS+=("$ROOTFS/proc")
bind /dev /dev --rbind
bind /sys /sys --rbind
in_debian apt-get update -qq
# Nothing of Hearth's and none of its libraries is there before.
! in_debian dpkg -s libwebkit2gtk-4.1-0 >/dev/null 2>&1 || fail "the clean system already has WebKitGTK"
! in_debian dpkg -s libdbus-1-3 >/dev/null 2>&1 || fail "the clean system already has libdbus"
echo "the clean Debian $SUITE is ready after $(( $(date +%s) - started )) s"

echo "== the server package on the clean system"
mkdir -p "$ROOTFS/tmp/hearth-test"
cp "$SERVER_DEB" "$DESKTOP_DEB" "$HERE/test_deb.sh" "$ROOTFS/tmp/hearth-test/"
in_debian bash /tmp/hearth-test/test_deb.sh "/tmp/hearth-test/$(basename "$SERVER_DEB")"

echo "== the desktop package on the clean system"
in_debian apt-get install -y -qq "/tmp/hearth-test/$(basename "$DESKTOP_DEB")" >/dev/null
for binary in /usr/bin/hearth-desktop /usr/bin/hearth; do
  [ -x "$ROOTFS$binary" ] || fail "$binary is not installed"
  missing="$(in_debian ldd "$binary" | grep 'not found' || true)"
  [ -z "$missing" ] || fail "$binary needs libraries its package does not bring: $missing"
done
# The tray is loaded at run time (not linked): its library must be there too.
in_debian sh -c 'ls /usr/lib/*/libayatana-appindicator3.so.1' >/dev/null || fail "the tray's library is not installed"
in_debian hearth --version | grep -q '^hearth ' || fail "hearth --version"
grep -q '^Exec=hearth-desktop' "$ROOTFS/usr/share/applications/Hearth.desktop" || fail "no menu entry that starts hearth-desktop"

IN_NETNS="${HEARTH_IN_NETNS_TOOL:-}"
if [ -n "${DISPLAY:-}" ] && command -v xwininfo >/dev/null && [ -x "$IN_NETNS" ]; then
  # The installed app on this machine's X display: its hub up on its own data, its window mapped.
  # It runs in a private network namespace (in-netns): its discovery announces nothing outside.
  bind /tmp/.X11-unix /tmp/.X11-unix
  [ -n "${XAUTHORITY:-}" ] && cp "$XAUTHORITY" "$ROOTFS/tmp/hearth-test/Xauthority"
  "$IN_NETNS" chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root DISPLAY="$DISPLAY" XAUTHORITY=/tmp/hearth-test/Xauthority \
    HEARTH_DATA_DIR=/tmp/hearth-test/data HEARTH_HTTP_LISTEN=127.0.0.1:0 HEARTH_MQTT_LISTEN=127.0.0.1:0 HEARTH_MQTTS_LISTEN=127.0.0.1:0 \
    hearth-desktop >"$ROOTFS/tmp/hearth-test/app.log" 2>&1 &
  APP=$!
  for _ in $(seq 300); do
    [ -f "$ROOTFS/tmp/hearth-test/data/hub.json" ] && xwininfo -root -tree | grep -q '"Hearth"' && break
    kill -0 "$APP" 2>/dev/null || { cat "$ROOTFS/tmp/hearth-test/app.log"; fail "the installed app exited"; }
    sleep 0.1
  done
  [ -f "$ROOTFS/tmp/hearth-test/data/hub.json" ] || { cat "$ROOTFS/tmp/hearth-test/app.log"; fail "the installed app's hub did not start"; }
  xwininfo -root -tree | grep -q '"Hearth"' || { cat "$ROOTFS/tmp/hearth-test/app.log"; fail "the installed app mapped no Hearth window"; }
  kill "$APP"; wait "$APP" 2>/dev/null || true; APP=""
  echo "the installed app started on the clean system: its hub up, its window on $DISPLAY"
else
  echo "not started on the clean system: it needs an X display (xvfb-run), xwininfo and HEARTH_IN_NETNS_TOOL" >&2
  [ -z "${HEARTH_REQUIRE_WINDOW:-}" ] || fail "the installed app's window was required"
fi

in_debian apt-get remove -y -qq hearth >/dev/null
[ ! -e "$ROOTFS/usr/bin/hearth-desktop" ] && [ ! -e "$ROOTFS/usr/bin/hearth" ] || fail "remove left the binaries"
echo "both packages install on a clean Debian $SUITE, run, and remove ($(( $(date +%s) - started )) s)"
