#!/usr/bin/env bash
# Both packages on a clean Debian system: a minimal Debian of this machine's release, made by
# debootstrap in a folder (nothing of this machine's is installed in it), and each package
# installed there from its file with apt-get, without Recommends, so that its Depends alone must
# bring what it needs.
# - The server package: its whole install test (test_deb.sh: installed, run as its own user,
#   removed, purged); then what it pulled in is autoremoved, so the desktop package starts from
#   the clean system again (no libdbus).
# - The desktop package: installed; every library either binary links is found; `hearth
#   --version`; the menu entry; with an X display, the app started from the installed package until
#   its hub is up and its window viewable on that display; then `apt-get remove`.
# The script runs in a mount namespace of its own (the chroot's mounts end with it and never
# reach this machine's), maintainer scripts may start no service, /sys is read-only and /dev holds
# only the usual character devices.
# Needs root, debootstrap and Debian's archive: the first URI of this machine's apt sources (or
# HEARTH_DEBIAN_MIRROR; http_proxy passes through). The minimal system is kept as a tarball under
# ~/.cache for the next run. The app is started under xvfb-run with HEARTH_IN_NETNS_TOOL set
# (HEARTH_REQUIRE_WINDOW=1 makes its absence a failure, as scripts/test does).
# Usage: tests/install/test_clean_debian.sh SERVER.deb DESKTOP.deb
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "debootstrap and chroot need root"
if [ "${HEARTH_CLEAN_DEBIAN_NS:-}" != 1 ]; then
  exec unshare --mount --propagation private env HEARTH_CLEAN_DEBIAN_NS=1 "$0" "$@"
fi
SERVER_DEB="$(realpath "$1")"
DESKTOP_DEB="$(realpath "$2")"
HERE="$(cd "$(dirname "$0")" && pwd)"
SUITE="$(. /etc/os-release && echo "${VERSION_CODENAME:?}")"
host_mirror() {
  { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
    grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}'; } | grep -v security | head -1
  return 0
}
MIRROR="${HEARTH_DEBIAN_MIRROR:-$(host_mirror || true)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
CACHE="${HEARTH_CLEAN_DEBIAN_CACHE:-$HOME/.cache/hearth-clean-debian-$SUITE.tar}"

ROOTFS="$(mktemp -d /var/tmp/hearth-clean-debian.XXXXXX)"
APP_LOG="$(mktemp)"
APP=""
stop_app() {
  [ -n "$APP" ] || return 0
  kill -TERM -- "-$APP" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 -- "-$APP" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$APP" 2>/dev/null || true
  APP=""
}
cleanup() {
  stop_app
  # Whatever still runs in the clean system (a hub a failed test left) would keep its mounts busy.
  local proc
  for proc in /proc/[0-9]*; do
    [ "$(readlink "$proc/root" 2>/dev/null)" = "$ROOTFS" ] && kill -KILL "${proc#/proc/}" 2>/dev/null || true
  done
  sleep 0.2
  umount -R "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev" "$ROOTFS/tmp/.X11-unix" 2>/dev/null || true
  # Never delete through a mount that is still there (it would be this machine's files).
  local mounted
  mounted="$(findmnt -rn -o TARGET)"
  if grep -q "^$ROOTFS" <<<"$mounted"; then echo "left $ROOTFS: something is still mounted in it" >&2
  else rm -rf --one-file-system "$ROOTFS"; fi
  rm -f "$APP_LOG"
}
trap cleanup EXIT
in_debian() {
  chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    ${http_proxy:+http_proxy="$http_proxy"} "$@"
}

started=$(date +%s)
if [ -f "$CACHE" ]; then
  tar -C "$ROOTFS" -xpf "$CACHE"
else
  echo "making a minimal Debian $SUITE with debootstrap (a minute or two, once)"
  debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >/dev/null
  mkdir -p "$(dirname "$CACHE")"
  tar -C "$ROOTFS" -cpf "$CACHE.partial" . && mv "$CACHE.partial" "$CACHE"
fi
chmod 0755 "$ROOTFS"   # the root of a system (mktemp made it 0700: no user but root could reach /usr)
{ echo "deb $MIRROR $SUITE main"
  case "$SUITE" in sid|unstable) ;; *) echo "deb $MIRROR $SUITE-updates main" ;; esac; } > "$ROOTFS/etc/apt/sources.list"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
printf '#!/bin/sh\n# No service starts while this system is a test.\nexit 101\n' > "$ROOTFS/usr/sbin/policy-rc.d"
chmod 0755 "$ROOTFS/usr/sbin/policy-rc.d"
mount -t proc proc "$ROOTFS/proc"
mount -t sysfs -o ro sysfs "$ROOTFS/sys"
mount -t tmpfs -o mode=0755,nosuid dev "$ROOTFS/dev"
for node in null zero full random urandom tty; do touch "$ROOTFS/dev/$node"; mount --bind "/dev/$node" "$ROOTFS/dev/$node"; done
mkdir -p "$ROOTFS/dev/pts" "$ROOTFS/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$ROOTFS/dev/pts"
ln -s pts/ptmx "$ROOTFS/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$ROOTFS/dev/shm"
if [ -d /tmp/.X11-unix ]; then mkdir -p "$ROOTFS/tmp/.X11-unix"; mount --bind /tmp/.X11-unix "$ROOTFS/tmp/.X11-unix"; fi
mkdir -p "$ROOTFS/tmp/hearth-test"
cp "$SERVER_DEB" "$DESKTOP_DEB" "$HERE/test_deb.sh" "$ROOTFS/tmp/hearth-test/"
[ -n "${XAUTHORITY:-}" ] && cp "$XAUTHORITY" "$ROOTFS/tmp/hearth-test/Xauthority"
in_debian apt-get update -qq
# Nothing of Hearth's and none of its libraries is there before.
clean_system() {
  ! in_debian dpkg -s libwebkit2gtk-4.1-0 >/dev/null 2>&1 || fail "the clean system has WebKitGTK"
  ! in_debian dpkg -s libdbus-1-3 >/dev/null 2>&1 || fail "the clean system has libdbus"
}
clean_system
echo "the clean Debian $SUITE is ready after $(( $(date +%s) - started )) s"

echo "== the server package on the clean system"
in_debian bash /tmp/hearth-test/test_deb.sh "/tmp/hearth-test/$(basename "$SERVER_DEB")"
in_debian apt-get autoremove --purge -y -qq >/dev/null
clean_system

echo "== the desktop package on the clean system"
in_debian apt-get install -y -qq --no-install-recommends "/tmp/hearth-test/$(basename "$DESKTOP_DEB")" >/dev/null
for binary in /usr/bin/hearth-desktop /usr/bin/hearth; do
  [ -x "$ROOTFS$binary" ] || fail "$binary is not installed"
  missing="$(in_debian ldd "$binary" | grep 'not found' || true)"
  [ -z "$missing" ] || fail "$binary needs libraries its package does not bring: $missing"
done
# The tray is loaded at run time (not linked): its library must be there too.
in_debian sh -c 'ls /usr/lib/*/libayatana-appindicator3.so.1' >/dev/null || fail "the tray's library is not installed"
[[ "$(in_debian hearth --version)" == "hearth "* ]] || fail "hearth --version"
grep -q '^Exec=hearth-desktop' "$ROOTFS/usr/share/applications/Hearth.desktop" || fail "no menu entry that starts hearth-desktop"

IN_NETNS="${HEARTH_IN_NETNS_TOOL:-}"
if [ -n "${DISPLAY:-}" ] && command -v xwininfo >/dev/null && [ -x "$IN_NETNS" ]; then
  # The installed app on this machine's X display: its hub up on its own data, its window
  # viewable. It runs in a private network namespace (in-netns): its discovery announces nothing
  # outside. setsid: the app and WebKit's processes are one group, stopped together.
  setsid "$IN_NETNS" chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root DISPLAY="$DISPLAY" XAUTHORITY=/tmp/hearth-test/Xauthority \
    HEARTH_DATA_DIR=/tmp/hearth-test/data HEARTH_HTTP_LISTEN=127.0.0.1:0 HEARTH_MQTT_LISTEN=127.0.0.1:0 HEARTH_MQTTS_LISTEN=127.0.0.1:0 \
    hearth-desktop >"$APP_LOG" 2>&1 &
  APP=$!
  viewable() { local info; info="$(xwininfo -name Hearth 2>/dev/null || true)"; [[ "$info" == *"Map State: IsViewable"* ]]; }
  for _ in $(seq 300); do
    [ -f "$ROOTFS/tmp/hearth-test/data/hub.json" ] && viewable && break
    kill -0 "$APP" 2>/dev/null || { cat "$APP_LOG"; fail "the installed app exited"; }
    sleep 0.1
  done
  [ -f "$ROOTFS/tmp/hearth-test/data/hub.json" ] || { cat "$APP_LOG"; fail "the installed app's hub did not start"; }
  viewable || { cat "$APP_LOG"; fail "the installed app's window is not viewable"; }
  stop_app
  echo "the installed app started on the clean system: its hub up, its window viewable on $DISPLAY"
else
  echo "not started on the clean system: it needs an X display (xvfb-run), xwininfo and HEARTH_IN_NETNS_TOOL" >&2
  [ -z "${HEARTH_REQUIRE_WINDOW:-}" ] || fail "the installed app's window was required"
fi

in_debian apt-get remove -y -qq hearth >/dev/null
[ ! -e "$ROOTFS/usr/bin/hearth-desktop" ] && [ ! -e "$ROOTFS/usr/bin/hearth" ] || fail "remove left the binaries"
echo "both packages install on a clean Debian $SUITE, run, and remove ($(( $(date +%s) - started )) s)"
