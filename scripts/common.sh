# Shared by scripts/test and scripts/demo: install what is missing, build.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD:-$ROOT/build}"

# Debian packages hostless needs to build and to test against real peers.
BUILD_PACKAGES=(
  meson ninja-build pkg-config g++ clang-format
  libtorrent-rasterbar-dev libsodium-dev libsqlite3-dev libboost-filesystem-dev
  libcpp-httplib-dev nlohmann-json3-dev libcli11-dev catch2
  libicu-dev  # Unicode case folding of site file names
  libnetfilter-queue-dev  # tests/support/netsim's delayer (built with the tests)
)
TEST_PACKAGES=(
  python3 python3-libtorrent python3-websocket curl qbittorrent-nox chromium firefox-esr
  bash-completion
  wrk nginx-light mktorrent openssl python3-matplotlib
  clang libclang-rt-14-dev llvm
  # the network simulator (tests/support/netsim.py): namespaces, tc, iptables
  # (legacy: NFQUEUE, MASQUERADE), a home router's UPnP/NAT-PMP and a client
  iproute2 iptables iputils-ping miniupnpd-iptables miniupnpc
  dnsmasq-base  # a DNS server for sites' DNS names (tests/integration/test_names.py)
  aria2 transmission-cli  # BitTorrent v1-only clients: a site's v1 twin (test_v1_twin.py)
  lintian  # checks the .deb scripts/package builds (test_package.py)
)

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# install_packages PKG...: installs the ones not yet installed, non-interactively.
install_packages() {
  local missing=()
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# install_webtorrent DIR: WebTorrent's DHT (npm's bittorrent-dht, the version
# tests/support/webtorrent/package-lock.json pins) and its reader script in
# DIR, for the test webtorrent_resolves. Node.js from the system's packages
# (apt's nodejs, with npm if it does not bring it); `npm ci` again only when
# the lock file changed.
install_webtorrent() {
  local dir="$1" src="$ROOT/tests/support/webtorrent"
  command -v node >/dev/null || install_packages nodejs || return 1
  command -v npm >/dev/null || install_packages npm || return 1
  mkdir -p "$dir" && cp "$src/package.json" "$src/resolve.mjs" "$dir/" || return 1
  if [ -d "$dir/node_modules" ] && cmp -s "$src/package-lock.json" "$dir/package-lock.json"; then
    return 0
  fi
  log "installing bittorrent-dht in $dir"
  cp "$src/package-lock.json" "$dir/" &&
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

# build DIR [MESON_ARGS...]: configures (once) and builds.
build() {
  local dir="$1"; shift
  if [ ! -f "$dir/build.ninja" ]; then
    log "configuring $dir"
    meson setup "$dir" "$ROOT" "$@" >/dev/null
  fi
  log "building $dir"
  ninja -C "$dir" >/dev/null
}
