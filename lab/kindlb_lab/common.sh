# Shared settings for the lab build scripts; source it, do not run it.
# Every build output lives under $KINDLB_LAB_CACHE (default ~/.cache/kindlb/lab), never in the repo.
# Versions come from kindlb's one list of pins, kindlb_helpers/_core/versions.env: kindlb_lab passes its
# path in KINDLB_VERSIONS_ENV; run by hand from a clone, the scripts find it in the repo.

# A helper that fails inside $(...) fails the script too (with set -e, which every script sets).
shopt -s inherit_errexit

_lab_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSIONS_ENV=${KINDLB_VERSIONS_ENV:-$_lab_dir/../../kindlb_helpers/_core/versions.env}
if [ ! -f "$VERSIONS_ENV" ]; then
  echo "lab: $VERSIONS_ENV not found: set KINDLB_VERSIONS_ENV to kindlb_helpers/_core/versions.env" >&2
  exit 1
fi
. "$VERSIONS_ENV"
# MetalLB releases to build (kindlb_lab sets it from `build --metallb`); default both eras.
LAB_METALLB_VERSIONS=${LAB_METALLB_VERSIONS:-$METALLB_VERSION $METALLB_CONFIGMAP_VERSION}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

CACHE=${KINDLB_LAB_CACHE:-$HOME/.cache/kindlb/lab}
BIN_DIR=${KINDLB_LAB_BIN:-$CACHE/bin}
OUT=$CACHE/out
STAMPS=$CACHE/stamps
mkdir -p "$CACHE" "$BIN_DIR" "$OUT" "$STAMPS" "$CACHE/logs"

# Go: modules from the proxy only, no checksum database, static binaries, caches inside $CACHE.
export GOSUMDB=off GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOTOOLCHAIN=local
export GOMODCACHE=$CACHE/go/mod GOCACHE=$CACHE/go/build GOPATH=$CACHE/go/path
export GOMAXPROCS=${GOMAXPROCS:-2}

log() { printf '%s [lab] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# lab_lock: hold the cache's exclusive lock, flock on $LAB_LOCK, until this script ends, so that two
# builds never write the cache at once; a second one says who holds it and waits (at most
# $KINDLB_LAB_LOCK_TIMEOUT seconds when set). Every script that writes the cache calls it, after
# as_root (sudo closes the descriptor). kindlb_lab's build() holds the same lock for the whole build
# and names it in KINDLB_LAB_LOCK_HELD; a script run under it then does not wait for its parent.
LAB_LOCK=$CACHE/.lock
lab_lock() {
  local holder
  if [ "${KINDLB_LAB_LOCK_HELD:-}" = "$LAB_LOCK" ]; then
    # trusted while someone does hold the lock; a variable left over from a finished build is not
    flock -n "$LAB_LOCK" true || return 0
  fi
  exec {LAB_LOCK_FD}>>"$LAB_LOCK"
  if ! flock -n "$LAB_LOCK_FD"; then
    holder=$(cat "$LAB_LOCK" 2>/dev/null) || true
    if [ -n "${KINDLB_LAB_LOCK_TIMEOUT:-}" ]; then
      log "another lab build holds $LAB_LOCK (pid ${holder:-?}); waiting (at most $KINDLB_LAB_LOCK_TIMEOUT s)..."
      flock -w "$KINDLB_LAB_LOCK_TIMEOUT" "$LAB_LOCK_FD" || {
        log "another lab build still holds $LAB_LOCK (pid ${holder:-?}) after $KINDLB_LAB_LOCK_TIMEOUT s"; exit 1; }
    else
      log "another lab build holds $LAB_LOCK (pid ${holder:-?}); waiting..."
      flock "$LAB_LOCK_FD"
    fi
  fi
  printf '%s\n' "$$" >"$LAB_LOCK"
  export KINDLB_LAB_LOCK_HELD=$LAB_LOCK
}

# stamp_ok NAME VALUE: true when the stamp file NAME holds VALUE (the inputs did not change).
# KINDLB_LAB_FORCE=1 makes every stamp and image label look stale, so everything is rebuilt.
stamp_ok() { [ "${KINDLB_LAB_FORCE:-}" != 1 ] && [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { printf '%s' "$2" >"$STAMPS/$1"; }

# moddir MODULE VERSION: download a module (no build) and print its directory in the module cache.
# Returns non-zero (and prints nothing) when the download or jq fails or the directory is missing,
# so `dir=$(moddir ...)` stops the calling script.
moddir() {
  local tmp dir rc=0
  tmp=$(mktemp -d) || return 1
  dir=$(cd "$tmp" && go mod download -json "$1@$2" | jq -er '.Dir // empty') || rc=$?
  rm -rf "$tmp"
  if [ "$rc" -ne 0 ] || [ -z "$dir" ] || [ ! -d "$dir" ]; then
    log "moddir: cannot download $1@$2 from the Go module proxy (exit $rc, dir '${dir:-}')"
    return 1
  fi
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
