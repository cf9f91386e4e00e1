#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install Debian's docker.io when dockerd is
# missing, start dockerd when nothing answers, and wait until it does. When the host's capability
# bounding set lacks CAP_SYS_RESOURCE (privileged containers then fail), register files/runc-wrapper
# as Docker's default runtime; dockerd reloads runtimes on SIGHUP, so nothing restarts.
# Idempotent; needs root only for the parts that install or start something.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "$0")" && pwd)
log=${KINDLB_DOCKERD_LOG:-/var/log/kindlb-dockerd.log}
daemon_json=${KINDLB_DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}
runtime_name=kindlb-runc
wrapper_dest=/usr/local/lib/kindlb/runc-wrapper

wait_docker() {
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "ensure-docker: dockerd did not answer within 60 s; see $log" >&2
  return 1
}

# True when bit 24 (CAP_SYS_RESOURCE) is missing from this process's bounding set.
lacks_sys_resource() {
  local bnd
  bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  (( (0x$bnd >> 24 & 1) == 0 ))
}

if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "ensure-docker: installing Debian's docker.io" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io jq >/dev/null
  fi
  # kind mounts /lib/modules into its nodes; some kernels ship without it.
  [ -d /lib/modules ] || mkdir -p /lib/modules
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    echo "ensure-docker: starting dockerd (log: $log)" >&2
    nohup dockerd >"$log" 2>&1 </dev/null &
  fi
  wait_docker
fi
[ -d /lib/modules ] || mkdir -p /lib/modules

if lacks_sys_resource || [ "${KINDLB_FORCE_RUNC_WRAPPER:-}" = 1 ]; then
  # a name of this process's own: two lab commands starting at once must not move each other's copy away
  staged="$wrapper_dest.new.$$"
  install -D -m 0755 "$here/files/runc-wrapper" "$staged"
  if ! cmp -s "$staged" "$wrapper_dest"; then mv -f "$staged" "$wrapper_dest"; else rm -f "$staged"; fi
  mkdir -p "$(dirname "$daemon_json")"
  [ -s "$daemon_json" ] || echo '{}' >"$daemon_json"
  new=$(jq --arg n "$runtime_name" --arg p "$wrapper_dest" \
    '.runtimes[$n] = {path: $p} | .["default-runtime"] = $n' "$daemon_json")
  if [ "$new" != "$(jq . "$daemon_json")" ]; then
    echo "ensure-docker: registering $wrapper_dest as Docker's default runtime ($daemon_json)" >&2
    printf '%s\n' "$new" >"$daemon_json"
    kill -HUP "$(cat /var/run/docker.pid)"
    for _ in $(seq 1 30); do
      [ "$(docker info --format '{{.DefaultRuntime}}' 2>/dev/null)" = "$runtime_name" ] && break
      sleep 1
    done
  fi
  if [ "$(docker info --format '{{.DefaultRuntime}}')" != "$runtime_name" ]; then
    echo "ensure-docker: dockerd did not load runtime $runtime_name from $daemon_json; restart dockerd" >&2
    exit 1
  fi
fi
# Several kind clusters on one host (a workshop's, or one per engineer) use up the kernel's default of
# 128 inotify instances, and new nodes then stop at once; kind's known-issues page advises 512.
# Raised only, never lowered; a host that refuses (no root, a container) keeps its value.
if [ "$(cat /proc/sys/fs/inotify/max_user_instances 2>/dev/null || echo 512)" -lt 512 ]; then
  echo "ensure-docker: raising fs.inotify.max_user_instances to 512 (several kind clusters at once)" >&2
  sysctl -q -w fs.inotify.max_user_instances=512 >/dev/null 2>&1 || true
fi
exit 0
