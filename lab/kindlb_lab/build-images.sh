#!/usr/bin/env bash
# build-images.sh: the container images of the lab, from the Debian root filesystems and the
# binaries built by build-kubernetes.sh / build-go.sh / build-pause (below). Each image carries a
# label with a hash of its inputs and is rebuilt only when that hash changes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
. "$here/rootfs-sets.sh"
lab_lock
export DOCKER_BUILDKIT=0   # the classic builder: no buildx plugin needed, works with dockerd 20.10

: "${PAUSE_IMAGE:=registry.k8s.io/pause:$PAUSE_VERSION}"   # containerd's sandbox_image in kind
SLIM=kindlb.local/debian-slim:$DEBIAN_SUITE
kbin=$OUT/kubernetes/$K8S_VERSION

# The image names kubeadm expects come from kubeadm itself; the binaries must match them.
kubeadm_images=$("$kbin/kubeadm" config images list --kubernetes-version "$K8S_VERSION")
ETCD_IMAGE=$(grep '/etcd:' <<<"$kubeadm_images")
COREDNS_IMAGE=$(grep '/coredns:' <<<"$kubeadm_images")
KUBEADM_PAUSE_IMAGE=$(grep '/pause:' <<<"$kubeadm_images")
[ "${ETCD_IMAGE##*:}" = "${ETCD_VERSION#v}-0" ] || { log "kubeadm wants $ETCD_IMAGE but ETCD_VERSION=$ETCD_VERSION"; exit 1; }
[ "${COREDNS_IMAGE##*:}" = "$COREDNS_VERSION" ] || { log "kubeadm wants $COREDNS_IMAGE but COREDNS_VERSION=$COREDNS_VERSION"; exit 1; }

# hash_inputs FILE...: one hash over the content of the given files (order matters).
hash_inputs() { cat "$@" | sha256sum | cut -c1-16; }
# hash_over TEXT FILE...: one hash over a line of TEXT, then the files (e.g. the base image id).
hash_over() { { echo "$1"; shift; cat "$@"; } | sha256sum | cut -c1-16; }

# import_rootfs NAME IMAGE: docker import of $CACHE/rootfs/NAME.tar when the tarball changed.
import_rootfs() {
  local tar=$CACHE/rootfs/$1.tar key
  key=$(stat -c '%s-%Y' "$tar")
  [ "$(label_of "$2")" = "$key" ] && { log "image $2: cached"; return; }
  log "image $2: docker import $tar"
  docker import --change "LABEL kindlb.inputs=$key" "$tar" "$2" >/dev/null
}

# build_image IMAGE KEY DOCKERFILE_TEXT FILE...: classic docker build in a scratch context that
# holds the given files; skipped when IMAGE already carries label KEY.
build_image() {
  local image=$1 key=$2 dockerfile=$3 ctx; shift 3
  [ "$(label_of "$image")" = "$key" ] && { log "image $image: cached"; return; }
  log "image $image: docker build"
  ctx=$(mktemp -d)
  [ $# -eq 0 ] || cp -a "$@" "$ctx/"
  printf '%s\nLABEL kindlb.inputs=%s\n' "$dockerfile" "$key" >"$ctx/Dockerfile"
  # (the classic builder's deprecation notice is dropped; any other output is an error report)
  if ! docker build -q -t "$image" "$ctx" >"$ctx/.out" 2>&1; then
    grep -v -e DEPRECATED -e BuildKit -e environment-variable "$ctx/.out" >&2; rm -rf "$ctx"; exit 1
  fi
  rm -rf "$ctx"
}

# pause: the sandbox container, a static C program shipped inside the k8s.io/kubernetes module.
build_pause() {
  local src dest=$OUT/pause/$PAUSE_VERSION key
  if ! [ -x "$dest/pause" ] || ! stamp_ok pause "$K8S_VERSION $PAUSE_VERSION"; then
    src=$(moddir k8s.io/kubernetes "$K8S_VERSION")/build/pause/linux/pause.c
    mkdir -p "$dest"
    log "pause: gcc -Os -static $src"
    gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-kindlb" -o "$dest/pause" "$src"
    strip "$dest/pause"
    stamp_set pause "$K8S_VERSION $PAUSE_VERSION"
  fi
  key=$(hash_inputs "$dest/pause")
  build_image "$PAUSE_IMAGE" "$key" \
    $'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]' "$dest/pause"
  # kubeadm lists its own pause tag (3.10.1 for Kubernetes 1.34): the same image under both names.
  docker tag "$PAUSE_IMAGE" "$KUBEADM_PAUSE_IMAGE"
}

import_rootfs slim "$SLIM"
slim_id=$(docker image inspect -f '{{.Id}}' "$SLIM")
iptdetect=$here/files/iptables-detect
# Put iptables-detect ahead of Debian's binaries for every iptables front end.
ipt_links='RUN for n in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -s iptables-detect /usr/local/sbin/$n; done'

for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
  extra=""
  [ "$c" = kube-proxy ] && extra=$'COPY iptables-detect /usr/local/sbin/iptables-detect\n'"$ipt_links"
  key=$(hash_over "$slim_id" "$kbin/$c" "$iptdetect")
  build_image "registry.k8s.io/$c:$K8S_VERSION" "$key" \
    "FROM $SLIM"$'\n'"COPY $c /usr/local/bin/$c"$'\n'"$extra"$'\n'"ENTRYPOINT [\"/usr/local/bin/$c\"]" \
    "$kbin/$c" "$iptdetect"
done

key=$(hash_over "$slim_id" "$OUT/etcd/$ETCD_VERSION/etcd")
build_image "$ETCD_IMAGE" "$key" \
  "FROM $SLIM"$'\nCOPY etcd /usr/local/bin/etcd\nRUN mkdir -p /var/lib/etcd /var/etcd\nCMD ["/usr/local/bin/etcd"]' \
  "$OUT/etcd/$ETCD_VERSION/etcd"

key=$(hash_over "$slim_id" "$OUT/coredns/$COREDNS_VERSION/coredns")
build_image "$COREDNS_IMAGE" "$key" \
  "FROM $SLIM"$'\nCOPY coredns /coredns\nEXPOSE 53 53/udp\nENTRYPOINT ["/coredns"]' \
  "$OUT/coredns/$COREDNS_VERSION/coredns"

build_pause

# MetalLB: a thin layer over the slim rootfs for every release built (both eras by default).
for m in $LAB_METALLB_VERSIONS; do
  for c in controller speaker; do
    key=$(hash_over "$slim_id" "$OUT/metallb/$m/$c")
    build_image "quay.io/metallb/$c:$m" "$key" \
      "FROM $SLIM"$'\n'"COPY $c /$c"$'\n'"ENTRYPOINT [\"/$c\"]" "$OUT/metallb/$m/$c"
  done
done

# podnet: the lab's CNI daemon (files/podnet.sh) with kubectl and the iptables selector.
key=$(hash_over "$slim_id" "$kbin/kubectl" "$here/files/podnet.sh" "$iptdetect")
build_image "$PODNET_IMAGE" "$key" \
  "FROM $SLIM"$'\nCOPY kubectl /usr/local/bin/kubectl\nCOPY podnet.sh /usr/local/bin/podnet\nCOPY iptables-detect /usr/local/sbin/iptables-detect\n'"$ipt_links" \
  "$kbin/kubectl" "$here/files/podnet.sh" "$iptdetect"

# nginx: Debian's package, logs to the container's stdout/stderr, in the foreground.
# The image tag must name the upstream version that Debian's package carries.
nginx_deb=$(tar -xOf "$CACHE/rootfs/nginx.tar" ./var/lib/dpkg/status \
  | awk '/^Package: /{p=$2} /^Version: /{if (p == "nginx" && v == "") v=$2} END{print v}')  # no early exit: SIGPIPE
if [ "${NGINX_IMAGE##*:}" != "${nginx_deb%%-*}" ]; then
  log "Debian's nginx is $nginx_deb but NGINX_IMAGE is $NGINX_IMAGE: change the tag"; exit 1
fi
import_rootfs nginx kindlb.local/debian-nginx:$DEBIAN_SUITE
key=$(docker image inspect -f '{{.Id}}' "kindlb.local/debian-nginx:$DEBIAN_SUITE" | sha256sum | cut -c1-16)
build_image "$NGINX_IMAGE" "$key" \
  "FROM kindlb.local/debian-nginx:$DEBIAN_SUITE"$'\nRUN ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log\nEXPOSE 80\nSTOPSIGNAL SIGQUIT\nCMD ["nginx", "-g", "daemon off;"]'
log "images: done"
