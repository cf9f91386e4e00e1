#!/usr/bin/env bash
# build-node.sh: the kind base image and the kind node image, assembled by hand because
# `kind build node-image` needs a registry (ctr content fetch) and a newer ctr than Debian's.
#  1. base: the "node" Debian rootfs + kind's images/base files (from the kind module in the Go
#     module cache) + the steps of kind's base Dockerfile, done in a chroot, then `docker import`.
#  2. node: a container of the base image receives kubeadm/kubelet/kubectl, /kind/version, the
#     default CNI manifest and, through a containerd started inside it, every image kubeadm and
#     the CNI need; `docker commit` turns it into the node image.
# Both images carry a hash of their inputs as a label and are rebuilt only when it changes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

: "${NODE_IMAGE:=kindlb.local/node:$K8S_VERSION}"
: "${PODNET_IMAGE:=kindlb.local/podnet:v1}"
: "${PAUSE_IMAGE:=registry.k8s.io/pause:$PAUSE_VERSION}"
BASE_IMAGE=kindlb.local/kind-base:$KIND_VERSION-$DEBIAN_SUITE
kbin=$OUT/kubernetes/$K8S_VERSION

# build_base's scratch folder: a global, because bash drops a function's locals before the EXIT
# trap runs, so a failure would leave the trap an unbound name (set -u) and the folder behind.
root=
build_base() {
  local kind_dir tar=$CACHE/rootfs/node.tar key
  kind_dir=$(moddir sigs.k8s.io/kind "$KIND_VERSION")
  key=$( { echo "$KIND_VERSION"; stat -c '%s-%Y' "$tar"; cat "$BIN_DIR/crictl" "$0"; } | sha256sum | cut -c1-16)
  [ "$(label_of "$BASE_IMAGE")" = "$key" ] && { log "image $BASE_IMAGE: cached"; return; }
  log "image $BASE_IMAGE: assembling from $tar and $kind_dir/images/base/files"
  root=$(mktemp -d "$CACHE/rootfs/base.XXXX")
  trap 'rm -rf "$root"' EXIT
  tar --numeric-owner -C "$root" -xf "$tar"
  local f=$kind_dir/images/base/files
  # kind's files, with the modes its Dockerfile gives them
  install -m 0755 "$f"/usr/local/bin/* "$root/usr/local/bin/"
  mkdir -p "$root/kind/bin" "$root/LICENSES" "$root/etc/systemd/system/kubelet.service.d"
  cp -r "$f/kind/." "$root/kind/"; chmod -R u+rwX,go+rX "$root/kind"; chmod 0755 "$root"/kind/bin/*
  install -m 0644 "$f"/LICENSES/* "$root/LICENSES/"
  install -m 0644 "$f/etc/crictl.yaml" "$root/etc/"
  install -m 0644 "$f"/etc/containerd/* "$root/etc/containerd/"
  # Where Docker's containers lack CAP_SYS_RESOURCE (see files/runc-wrapper), nothing in a node may
  # lower an oom_score_adj, and runc fails every pod sandbox ("can't get final child's PID from
  # pipe"). Let containerd clamp the scores it sets to its own, as kind does for rootless nodes.
  sed -i 's/^\( *restrict_oom_score_adj *= *\)false/\1true/' "$root/etc/containerd/config.toml"
  grep -q '^ *restrict_oom_score_adj = true' "$root/etc/containerd/config.toml"
  install -m 0644 "$f"/etc/default/* "$root/etc/default/"
  install -m 0644 "$f"/etc/sysctl.d/* "$root/etc/sysctl.d/"
  install -m 0644 "$f"/etc/systemd/system/*.service "$f"/etc/systemd/system/*.slice "$root/etc/systemd/system/"
  install -m 0644 "$f"/etc/systemd/system/kubelet.service.d/* "$root/etc/systemd/system/kubelet.service.d/"
  # Debian puts containerd in /usr/bin and the CNI plugins in /usr/lib/cni; kind expects
  # /usr/local/bin and /opt/cni/bin.
  ln -sf /usr/bin/containerd "$root/usr/local/bin/containerd"
  mkdir -p "$root/opt/cni/bin"
  for p in "$root"/usr/lib/cni/*; do ln -sf "/usr/lib/cni/${p##*/}" "$root/opt/cni/bin/${p##*/}"; done
  install -m 0755 "$BIN_DIR/crictl" "$root/usr/local/bin/crictl"
  # the systemd trimming of kind's base Dockerfile
  chroot "$root" /bin/bash -euc '
    find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
    rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
      /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
      /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
    echo ReadKMsg=no >>/etc/systemd/journald.conf
    ln -sf "$(command -v systemd || echo /lib/systemd/systemd)" /sbin/init
    systemctl enable kubelet.service containerd.service undo-mount-hacks.service
    systemctl mask systemd-binfmt.service
    mkdir -p /etc/kubernetes/manifests
    ctr oci spec \
      | jq ".hooks.createContainer += [{\"path\": \"/kind/bin/mount-product-files.sh\"}]" \
      | jq "del(.process.rlimits)" >/etc/containerd/cri-base.json
    containerd --version'
  # dockerd 20.10's `docker import --change` rejects STOPSIGNAL: import the tree, then set the
  # image config with a classic-builder Dockerfile (no RUN, so no container is started).
  tar --numeric-owner --xattrs -C "$root" -c . | docker import - "$BASE_IMAGE-rootfs" >/dev/null
  rm -rf "$root"
  root=$(mktemp -d)
  printf '%s\n' "FROM $BASE_IMAGE-rootfs" 'ENV container=docker' 'STOPSIGNAL SIGRTMIN+3' \
    'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' "LABEL kindlb.inputs=$key" >"$root/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$BASE_IMAGE" "$root" >/dev/null
  docker rmi "$BASE_IMAGE-rootfs" >/dev/null
  rm -rf "$root"
  trap - EXIT
}

build_node() {
  local images key c id
  # kubeadm itself says which images a control plane of this version needs.
  images=$("$kbin/kubeadm" config images list --kubernetes-version "$K8S_VERSION")
  images=$(printf '%s\n%s\n%s\n' "$images" "$PAUSE_IMAGE" "$PODNET_IMAGE" | sort -u)
  for i in $images; do image_exists "$i" || { log "missing image $i (run build-images.sh)"; exit 1; }; done
  key=$( { docker image inspect -f '{{.Id}}' "$BASE_IMAGE" $images; cat "$kbin/kubeadm" "$kbin/kubelet" "$kbin/kubectl" "$here/files/podnet.yaml" "$0"; } | sha256sum | cut -c1-16)
  [ "$(label_of "$NODE_IMAGE")" = "$key" ] && { log "image $NODE_IMAGE: cached"; return; }
  log "image $NODE_IMAGE: images to preload: $(echo $images)"
  c=kindlb-nodebuild-$$
  docker run -d --name "$c" --privileged --entrypoint=sleep "$BASE_IMAGE" infinity >/dev/null
  trap 'docker rm -f '"$c"' >/dev/null 2>&1 || true' EXIT
  for b in kubeadm kubelet kubectl; do docker cp "$kbin/$b" "$c:/usr/bin/$b"; done
  docker exec "$c" mkdir -p /kind/manifests
  sed "s|PODNET_IMAGE|$PODNET_IMAGE|" "$here/files/podnet.yaml" | docker exec -i "$c" sh -c 'cat >/kind/manifests/default-cni.yaml'
  echo "$K8S_VERSION" | docker exec -i "$c" sh -c 'cat >/kind/version'
  # containerd inside the build container, only long enough to import the images
  docker exec -d "$c" sh -c 'containerd >/tmp/containerd.log 2>&1 & echo $! >/tmp/containerd.pid; wait'
  for _ in $(seq 1 30); do docker exec "$c" ctr version >/dev/null 2>&1 && break; sleep 1; done
  for i in $images; do
    log "  import $i"
    docker save "$i" | docker exec -i "$c" ctr -n k8s.io images import --all-platforms --no-unpack --digests -
  done
  docker exec "$c" ctr -n k8s.io images ls -q >&2
  docker exec "$c" sh -c 'kill $(cat /tmp/containerd.pid); while kill -0 $(cat /tmp/containerd.pid) 2>/dev/null; do sleep 0.2; done; rm -f /tmp/containerd.*'
  docker commit --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' \
    --change "LABEL kindlb.inputs=$key" "$c" "$NODE_IMAGE" >/dev/null
  docker rm -f "$c" >/dev/null
  trap - EXIT
  log "image $NODE_IMAGE: $(docker image inspect -f '{{.Size}}' "$NODE_IMAGE" | numfmt --to=iec)"
}

case ${1:-all} in
  base) as_root "$0" "$@"; lab_lock; build_base ;;
  node) lab_lock; build_node ;;
  all) lab_lock; build_base; build_node ;;
esac
