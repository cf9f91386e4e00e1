#!/usr/bin/env bash
# build-go.sh TARGET...: static Go binaries from the module proxy, each cached by version.
# Targets: kind crictl coredns etcd metallb@VERSION (metallb alone: every version in
# $LAB_METALLB_VERSIONS). Tools land in $BIN_DIR, image payloads in $OUT.
set -euo pipefail
. "$(dirname "$0")/common.sh"
lab_lock

# origin_hash MODULE VERSION: the git commit the proxy recorded for a tagged version.
origin_hash() {
  (cd "$CACHE" && go mod download -json "$1@$2" | jq -r '.Origin.Hash // "unknown"')
}

# go_install DEST LDFLAGS PKG@VERSION...: `go install` outside any main module (honours the
# module's own go.mod, which must not carry replace directives).
go_install() {
  local dest=$1 ld=$2; shift 2
  mkdir -p "$dest"
  (cd "$CACHE" && GOFLAGS=-buildvcs=false GOBIN=$dest go install -p "$GOMAXPROCS" -trimpath -ldflags "-s -w $ld" "$@")
}

build_kind() {
  stamp_ok kind "$KIND_VERSION" && [ -x "$BIN_DIR/kind" ] && { log "kind: cached"; return; }
  log "kind $KIND_VERSION: go install"
  go_install "$BIN_DIR" "" "sigs.k8s.io/kind@$KIND_VERSION"
  stamp_set kind "$KIND_VERSION"
}

build_crictl() {
  stamp_ok crictl "$CRICTL_VERSION" && [ -x "$BIN_DIR/crictl" ] && { log "crictl: cached"; return; }
  log "crictl $CRICTL_VERSION: go install"
  go_install "$BIN_DIR" "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
    "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
  stamp_set crictl "$CRICTL_VERSION"
}

# build_metallb VERSION: controller and speaker of MetalLB VERSION in $OUT/metallb/VERSION.
# Releases whose go.mod carries replace directives (v0.12.1, the ConfigMap era) are refused by
# `go install pkg@version`; those are built as the main module, in a writable copy of the module.
build_metallb() {
  local version=$1 dest=$OUT/metallb/$1 stamp=metallb-$1 src commit ld
  # the current pin keeps the stamp name it always had, so a warm cache stays warm
  [ "$version" = "$METALLB_VERSION" ] && stamp=metallb
  stamp_ok "$stamp" "$version" && [ -x "$dest/speaker" ] && [ -x "$dest/controller" ] && { log "metallb $version: cached"; return; }
  src=$(moddir go.universe.tf/metallb "$version")
  commit=$(origin_hash go.universe.tf/metallb "$version")
  ld="-X go.universe.tf/metallb/internal/version.gitCommit=$commit -X go.universe.tf/metallb/internal/version.gitBranch=$version"
  if ! grep -q '^replace' "$src/go.mod"; then
    log "metallb $version: go install controller speaker"
    go_install "$dest" "$ld" "go.universe.tf/metallb/controller@$version" "go.universe.tf/metallb/speaker@$version"
  else
    local work
    log "metallb $version: go build controller speaker (its go.mod has replace directives)"
    mkdir -p "$CACHE/src" "$dest"
    work=$(mktemp -d "$CACHE/src/metallb-$version.XXXX")   # its own copy: two builds may run at once
    cp -r "$src/." "$work"; chmod -R u+w "$work"
    (cd "$work" && go build -p "$GOMAXPROCS" -trimpath -ldflags "-s -w $ld" -o "$dest/" ./controller ./speaker) \
      || { rm -rf "$work"; exit 1; }
    rm -rf "$work"
  fi
  [ -x "$dest/controller" ] && [ -x "$dest/speaker" ] || { log "metallb $version: binaries missing in $dest"; exit 1; }
  stamp_set "$stamp" "$version"
}

build_coredns() {
  local dest=$OUT/coredns/$COREDNS_VERSION
  stamp_ok coredns "$COREDNS_VERSION" && [ -x "$dest/coredns" ] && { log "coredns: cached"; return; }
  log "coredns $COREDNS_VERSION: go install"
  local commit
  commit=$(origin_hash github.com/coredns/coredns "$COREDNS_VERSION")
  go_install "$dest" "-X github.com/coredns/coredns/coremain.GitCommit=$commit" "github.com/coredns/coredns@$COREDNS_VERSION"
  stamp_set coredns "$COREDNS_VERSION"
}

# etcd's server module replaces its sibling modules with relative paths, so `go install` refuses
# it; a wrapper module requires it (the siblings then resolve to their published tags).
build_etcd() {
  local dest=$OUT/etcd/$ETCD_VERSION wrap=$CACHE/src/etcd-$ETCD_VERSION
  stamp_ok etcd "$ETCD_VERSION" && [ -x "$dest/etcd" ] && { log "etcd: cached"; return; }
  log "etcd $ETCD_VERSION: go build (wrapper module)"
  mkdir -p "$wrap" "$dest"
  printf 'module kindlb.local/etcd-build\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$wrap/go.mod"
  local sha ld
  sha=$(origin_hash go.etcd.io/etcd/server/v3 "$ETCD_VERSION")
  ld="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${sha:0:9}"
  (cd "$wrap" && go build -p "$GOMAXPROCS" -trimpath -ldflags "$ld" -o "$dest/etcd" go.etcd.io/etcd/server/v3)
  "$dest/etcd" --version >&2
  stamp_set etcd "$ETCD_VERSION"
}

for t in "$@"; do
  start=$(date +%s)
  case $t in
    metallb@*) build_metallb "${t#metallb@}" ;;
    metallb) for m in $LAB_METALLB_VERSIONS; do build_metallb "$m"; done ;;
    kind|crictl|coredns|etcd) "build_$t" ;;
    *) log "build-go.sh: unknown target $t"; exit 2 ;;
  esac
  log "$t: $(( $(date +%s) - start )) s"
done
