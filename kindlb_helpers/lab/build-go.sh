#!/usr/bin/env bash
# build-go.sh TARGET...: static Go binaries from the module proxy, each cached by version.
# Targets: kind crictl metallb coredns etcd. Tools land in $BIN_DIR, image payloads in $OUT.
set -euo pipefail
. "$(dirname "$0")/common.sh"

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

build_metallb() {
  local dest=$OUT/metallb/$METALLB_VERSION
  stamp_ok metallb "$METALLB_VERSION" && [ -x "$dest/speaker" ] && { log "metallb: cached"; return; }
  log "metallb $METALLB_VERSION: go install controller speaker"
  local v=go.universe.tf/metallb/internal/version
  go_install "$dest" "-X $v.gitCommit=$(origin_hash go.universe.tf/metallb "$METALLB_VERSION") -X $v.gitBranch=$METALLB_VERSION" \
    "go.universe.tf/metallb/controller@$METALLB_VERSION" "go.universe.tf/metallb/speaker@$METALLB_VERSION"
  stamp_set metallb "$METALLB_VERSION"
}

build_coredns() {
  local dest=$OUT/coredns/$COREDNS_VERSION
  stamp_ok coredns "$COREDNS_VERSION" && [ -x "$dest/coredns" ] && { log "coredns: cached"; return; }
  log "coredns $COREDNS_VERSION: go install"
  go_install "$dest" "-X github.com/coredns/coredns/coremain.GitCommit=$(origin_hash github.com/coredns/coredns "$COREDNS_VERSION")" \
    "github.com/coredns/coredns@$COREDNS_VERSION"
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
  local ld="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$(origin_hash go.etcd.io/etcd/server/v3 "$ETCD_VERSION" | cut -c1-9)"
  (cd "$wrap" && go build -p "$GOMAXPROCS" -trimpath -ldflags "$ld" -o "$dest/etcd" go.etcd.io/etcd/server/v3)
  "$dest/etcd" --version >&2
  stamp_set etcd "$ETCD_VERSION"
}

for t in "$@"; do
  start=$(date +%s)
  "build_$t"
  log "$t: $(( $(date +%s) - start )) s"
done
