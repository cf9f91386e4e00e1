#!/usr/bin/env bash
# build-rootfs.sh NAME PKG,PKG,...: a minimal Debian root filesystem made by debootstrap, stored
# as $CACHE/rootfs/NAME.tar. Rebuilt only when the suite or the package list change. Downloaded
# .debs are shared between the variants through debootstrap's --cache-dir.
set -euo pipefail
. "$(dirname "$0")/common.sh"
as_root "$0" "$@"
lab_lock

name=$1 include=$2
tarball=$CACHE/rootfs/$name.tar
key="$DEBIAN_SUITE $DEBIAN_MIRROR $include"
if stamp_ok "rootfs-$name" "$key" && [ -f "$tarball" ]; then
  log "rootfs $name: cached"; exit 0
fi

mkdir -p "$CACHE/rootfs" "$CACHE/debs"
work=$(mktemp -d "$CACHE/rootfs/$name.XXXX")
trap 'rm -rf "$work"' EXIT
log "rootfs $name: debootstrap $DEBIAN_SUITE (+ $include)"
debootstrap --variant=minbase --cache-dir="$CACHE/debs" --include="$include" \
  "$DEBIAN_SUITE" "$work/root" "$DEBIAN_MIRROR" >"$CACHE/logs/debootstrap-$name.log" 2>&1 \
  || { tail -20 "$CACHE/logs/debootstrap-$name.log" >&2; exit 1; }
# Apt sources for anyone who extends the image; no package lists or caches in the image.
printf 'deb %s %s main\n' "$DEBIAN_MIRROR" "$DEBIAN_SUITE" >"$work/root/etc/apt/sources.list"
rm -rf "$work/root/var/lib/apt/lists/"* "$work/root/var/cache/apt/"*.bin "$work/root/var/cache/apt/archives/"*.deb
tar --numeric-owner --xattrs -C "$work/root" -cf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
stamp_set "rootfs-$name" "$key"
log "rootfs $name: $(du -h "$tarball" | cut -f1)"
