#!/usr/bin/env bash
# build-frr.sh: the lab's BGP router image $FRR_IMAGE (kindlb_helpers/_core/versions.env): a Debian
# root filesystem with the frr package (build-rootfs.sh, cached by its package list) plus
# files/frr-start as the command. The image tag must be the upstream version Debian's frr carries.
# Rebuilt only when the root filesystem or frr-start change (the kindlb.inputs label).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
. "$here/rootfs-sets.sh"
as_root "$0" "$@"
lab_lock
export DOCKER_BUILDKIT=0   # the classic builder, as build-images.sh

t0=$(date +%s)
bash "$here/build-rootfs.sh" frr "$ROOTFS_FRR"
tar=$CACHE/rootfs/frr.tar
frr_deb=$(tar -xOf "$tar" ./var/lib/dpkg/status \
  | awk '/^Package: /{p=$2} /^Version: /{if (p == "frr" && v == "") v=$2} END{print v}')  # no early exit: SIGPIPE
if [ "${FRR_IMAGE##*:}" != "${frr_deb%%-*}" ]; then
  log "Debian's frr is $frr_deb but FRR_IMAGE is $FRR_IMAGE: change the tag in versions.env"; exit 1
fi
base=kindlb.local/debian-frr:$DEBIAN_SUITE
key=$(stat -c '%s-%Y' "$tar")
if [ "$(label_of "$base")" != "$key" ]; then
  log "image $base: docker import $tar"
  docker import --change "LABEL kindlb.inputs=$key" "$tar" "$base" >/dev/null
fi
key=$( { docker image inspect -f '{{.Id}}' "$base"; cat "$here/files/frr-start"; } | sha256sum | cut -c1-16)
if [ "$(label_of "$FRR_IMAGE")" = "$key" ]; then
  log "image $FRR_IMAGE: cached"; exit 0
fi
log "image $FRR_IMAGE: docker build (frr $frr_deb)"
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp -a "$here/files/frr-start" "$ctx/"
printf '%s\n' "FROM $base" "COPY frr-start /usr/local/bin/frr-start" \
  'CMD ["/usr/local/bin/frr-start"]' "LABEL kindlb.inputs=$key" >"$ctx/Dockerfile"
if ! docker build -q -t "$FRR_IMAGE" "$ctx" >"$ctx/.out" 2>&1; then
  grep -v -e DEPRECATED -e BuildKit -e environment-variable "$ctx/.out" >&2; exit 1
fi
log "image $FRR_IMAGE: $(docker image inspect -f '{{.Size}}' "$FRR_IMAGE" | awk '{printf "%.0f MB", $1/1e6}') in $(( $(date +%s) - t0 )) s"
