# Shared by scripts/run and scripts/test: installs only what is missing, on Debian/Ubuntu.
# Sourced, not run.

# Absolute: the scripts run cargo from the repository (for its .cargo/config.toml) and run what it
# built from where they were started.
export CARGO_TARGET_DIR="$(realpath -m "${CARGO_TARGET_DIR:-$HOME/.cache/hearth-target}")"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_install PKG...: installs the Debian packages that are not installed yet.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts the Mosquitto it installs as a service on 1883, Hearth's port; the tests and
    # the benchmark start their own Mosquitto on a free port, so the service is not wanted.
    if [[ " ${missing[*]} " == *" mosquitto "* ]] && command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then
      log "stopping the mosquitto service Debian just started (it would hold port 1883, Hearth's)"
      as_root systemctl disable --now mosquitto >/dev/null 2>&1 || true
    fi
  fi
}

need_rust() {
  command -v cargo >/dev/null || {
    echo "Rust is missing: install it from rustup (https://rustup.rs), then run this again." >&2
    exit 1
  }
}

# The engine needs a C compiler and make for SQLite and jemalloc, and libdbus for the Secret
# Service keyring.
ENGINE_PACKAGES=(build-essential pkg-config libdbus-1-dev iproute2 util-linux)
# The desktop shell (Tauri + WebKitGTK, tray icon).
DESKTOP_PACKAGES=(libwebkit2gtk-4.1-dev librsvg2-dev libayatana-appindicator3-dev libssl-dev)
# Only the tests: the window under Xvfb and its WebDriver, the browser, MQTT clients nobody here wrote
# and Mosquitto as the interoperability stories' other broker,
# and the DNS side: dig as the devices, dnsmasq as the upstream, nft for the firewall; debootstrap
# makes the clean Debian system the packages are installed on, xwininfo sees the app's window there.
TEST_PACKAGES=(xvfb x11-utils webkit2gtk-driver chromium mosquitto mosquitto-clients bind9-dnsutils dnsmasq-base nftables debootstrap)

# Node.js may come from elsewhere than Debian (NodeSource, nvm): use what is there if it is new
# enough. Vite 8 needs Node 20.19+ (Debian 13 and Ubuntu 25.04 ship it; Debian 12 ships 18).
need_node() {
  command -v npm >/dev/null || apt_install nodejs npm
  if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=12)||(a===20&&b>=19)||a===21?0:1)'; then
    echo "Node.js $(node --version) is too old for the UI build (Vite 8 needs 20.19+ or 22.12+)." >&2
    echo "Install a current Node.js (Debian 13's nodejs, or NodeSource's Node 22 packages), then run this again." >&2
    exit 1
  fi
}

# The Python test peers (python-zeroconf, paho-mqtt, pytest) live in their own virtual
# environment: Debian's system Python refuses pip installs (PEP 668), and nothing of the
# system's should change for a test. PY is the environment's interpreter.
VENV="${HEARTH_VENV:-$HOME/.cache/hearth-venv}"
PY="$VENV/bin/python"
need_python_peers() {
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  [ -x "$PY" ] || python3 -m venv "$VENV"
  "$PY" -m pip install -q --disable-pip-version-check -r "$ROOT/tests/integration/requirements.txt"
}

build_ui() {
  log "building the web UI"
  (cd "$ROOT/ui" && { [ -d node_modules ] && npm ls --silent >/dev/null 2>&1 || npm ci --no-audit --no-fund --loglevel=error; } && npm run --silent build)
}
