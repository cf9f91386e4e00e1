#!/usr/bin/env bash
# Build the Kubernetes binaries (kubeadm, kubelet, kubectl and the four control-plane/proxy
# components) from the Go module proxy. k8s.io/kubernetes maps its staging modules to ./staging,
# which a module consumer cannot see, so a small wrapper module replaces each of them with the
# published k8s.io/<name> v0.<minor>.<patch>.
set -euo pipefail
. "$(dirname "$0")/common.sh"
lab_lock

dest=$OUT/kubernetes/$K8S_VERSION
cmds="kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy"
if stamp_ok kubernetes "$K8S_VERSION" && [ -x "$dest/kubelet" ]; then
  log "kubernetes $K8S_VERSION: cached"; exit 0
fi

wrap=$CACHE/src/kubernetes-$K8S_VERSION
mkdir -p "$wrap" "$dest"
staging_version=v0.${K8S_VERSION#v1.}
src=$(moddir k8s.io/kubernetes "$K8S_VERSION")

# The wrapper: require kubernetes, replace every staging module with its published tag.
{
  echo "module kindlb.local/kubernetes-build"
  echo
  echo "go $(awk '$1=="go"{print $2; exit}' "$src/go.mod")"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  awk -v v="$staging_version" '
    $0 ~ /=> \.\/staging\/src\/k8s\.io\// { print "replace " $1 " => " $1 " " v }
  ' "$src/go.mod"
} >"$wrap/go.mod"
# A blank import makes `go mod tidy`-free resolution work for the commands we build.
cat >"$wrap/tools.go" <<'GO'
//go:build tools

package tools
GO

# Commit and date of the release as the proxy recorded them: the binaries come out identical on
# every machine (and so do the image labels that hash them).
info=$(cd "$wrap" && go list -m -json "k8s.io/kubernetes@$K8S_VERSION")
commit=$(jq -r '.Origin.Hash // empty' <<<"$info")
date=$(jq -r '.Time // empty' <<<"$info")
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ld="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ld="$ld -X $pkg.gitCommit=${commit:-unknown} -X $pkg.gitTreeState=clean -X $pkg.buildDate=${date:-1970-01-01T00:00:00Z}"
done

pkgs=""
for c in $cmds; do pkgs="$pkgs k8s.io/kubernetes/cmd/$c"; done
log "kubernetes $K8S_VERSION: go build ($cmds)"
(cd "$wrap" && go build -p "${GOMAXPROCS}" -trimpath -ldflags "$ld" -o "$dest/" $pkgs)
"$dest/kubeadm" version -o short
stamp_set kubernetes "$K8S_VERSION"
log "kubernetes $K8S_VERSION: done"
