# Shared settings for the lab build scripts; source it, do not run it.
# Every build output lives under $KINDLB_LAB_CACHE (default ~/.cache/kindlb/lab), never in the repo.
# Versions come from the environment (set by kindlb_helpers.lab); the defaults mirror its constants.

CACHE=${KINDLB_LAB_CACHE:-$HOME/.cache/kindlb/lab}
K8S_VERSION=${K8S_VERSION:-v1.34.12}
KIND_VERSION=${KIND_VERSION:-v0.30.0}
ETCD_VERSION=${ETCD_VERSION:-v3.6.5}
COREDNS_VERSION=${COREDNS_VERSION:-v1.12.1}
CRICTL_VERSION=${CRICTL_VERSION:-v1.34.0}
METALLB_VERSION=${METALLB_VERSION:-v0.16.1}
PAUSE_VERSION=${PAUSE_VERSION:-3.10}
DEBIAN_SUITE=${DEBIAN_SUITE:-bookworm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

BIN_DIR=${KINDLB_LAB_BIN:-$CACHE/bin}
OUT=$CACHE/out
STAMPS=$CACHE/stamps
mkdir -p "$CACHE" "$BIN_DIR" "$OUT" "$STAMPS" "$CACHE/logs"

# Go: modules from the proxy only, no checksum database, static binaries, caches inside $CACHE.
export GOSUMDB=off GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOTOOLCHAIN=local
export GOMODCACHE=$CACHE/go/mod GOCACHE=$CACHE/go/build GOPATH=$CACHE/go/path
export GOMAXPROCS=${GOMAXPROCS:-2}

log() { printf '%s [lab] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# stamp_ok NAME VALUE: true when the stamp file NAME holds VALUE (the inputs did not change).
# KINDLB_LAB_FORCE=1 makes every stamp and image label look stale, so everything is rebuilt.
stamp_ok() { [ "${KINDLB_LAB_FORCE:-}" != 1 ] && [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { printf '%s' "$2" >"$STAMPS/$1"; }

# moddir MODULE VERSION: download a module (no build) and print its directory in the module cache.
moddir() {
  local tmp dir
  tmp=$(mktemp -d)
  (cd "$tmp" && go mod download -json "$1@$2" | jq -r .Dir) >"$tmp/dir"
  dir=$(cat "$tmp/dir"); rm -rf "$tmp"
  printf '%s\n' "$dir"
}

# label_of IMAGE: the kindlb.inputs label (hash of the inputs) of a local image, empty if none.
label_of() {
  [ "${KINDLB_LAB_FORCE:-}" = 1 ] && return 0
  docker image inspect -f '{{ index .Config.Labels "kindlb.inputs" }}' "$1" 2>/dev/null || true
}

# as_root "$0" "$@": re-run the calling script as root (debootstrap and chroot need it), keeping
# the environment, PATH included; a no-op when already root.
as_root() {
  [ "$(id -u)" = 0 ] && return 0
  command -v sudo >/dev/null || { log "$1 needs root (or sudo)"; exit 1; }
  exec sudo -n -E env "PATH=$PATH" bash "$@"
}

# image_exists REF: true when the local Docker engine holds image REF.
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
