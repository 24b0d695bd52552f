# Shared by scripts/run and scripts/test: installs only what is missing, on Debian/Ubuntu.
# Sourced, not run.

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hearth-target}"
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
  fi
}

need_rust() {
  command -v cargo >/dev/null || {
    echo "Rust is missing: install it from rustup (https://rustup.rs), then run this again." >&2
    exit 1
  }
}

# The engine needs a C compiler for SQLite and libdbus for the Secret Service keyring.
ENGINE_PACKAGES=(build-essential pkg-config libdbus-1-dev iproute2 util-linux)
# The desktop shell (Tauri + WebKitGTK, tray icon).
DESKTOP_PACKAGES=(libwebkit2gtk-4.1-dev librsvg2-dev libayatana-appindicator3-dev libssl-dev)
# Only the tests: the window under Xvfb and its WebDriver, and the browser.
TEST_PACKAGES=(xvfb webkit2gtk-driver chromium)

# Node.js and pip may come from elsewhere than Debian (NodeSource, pyenv): use what is there.
need_node() { command -v npm >/dev/null || apt_install nodejs npm; }
need_pip() { python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip; }

build_ui() {
  log "building the web UI"
  (cd "$ROOT/ui" && { [ -d node_modules ] && npm ls --silent >/dev/null 2>&1 || npm ci --no-audit --no-fund --loglevel=error; } && npm run --silent build)
}
