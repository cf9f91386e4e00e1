#!/bin/bash
# podnet: the lab's pod network, in place of kindnetd (whose Go module the proxy does not serve).
# Runs on every node (hostNetwork DaemonSet). Every few seconds, for each family the cluster has
# (POD_SUBNET is one CIDR, or kind's dual-stack pair "10.244.0.0/16,fd00:10:244::/56"), it
#  - writes a CNI config (Debian's ptp + host-local on this node's podCIDRs, portmap for hostPort),
#  - routes every other node's podCIDR via that node's InternalIP of the same family (all nodes
#    share one L2 net, which carries both families when Docker's network does),
#  - masquerades pod traffic that leaves the pod subnet (iptables; ip6tables for IPv6).
set -euo pipefail

: "${NODE_NAME:?}" "${POD_SUBNET:?}"
conf_dir=${CNI_CONF_DIR:-/etc/cni/net.d}
interval=${PODNET_INTERVAL:-5}
sa=/var/run/secrets/kubernetes.io/serviceaccount
# kind adds CONTROL_PLANE_ENDPOINT (host:port) so we need not wait for kube-proxy's service rules.
server=https://${CONTROL_PLANE_ENDPOINT:-${KUBERNETES_SERVICE_HOST}:${KUBERNETES_SERVICE_PORT}}

pod_v4="" pod_v6=""
IFS=, read -ra _subnets <<<"$POD_SUBNET"
for s in "${_subnets[@]}"; do
  s=${s//[[:space:]]/}
  case $s in *:*) pod_v6=$s ;; */*) pod_v4=$s ;; esac
done
[ -n "$pod_v4$pod_v6" ] || { echo "podnet: POD_SUBNET=$POD_SUBNET holds no CIDR" >&2; exit 1; }

kc() { kubectl --server="$server" --token="$(cat $sa/token)" --certificate-authority=$sa/ca.crt "$@"; }
say() { echo "$(date -u +%H:%M:%S) podnet: $*"; }

# ensure_masq IPTABLES SUBNET: masquerade what leaves SUBNET (iptables or ip6tables).
ensure_masq() {
  local ipt=$1 subnet=$2
  $ipt -t nat -N KINDLB-PODNET 2>/dev/null || true
  $ipt -t nat -C KINDLB-PODNET -d "$subnet" -j RETURN 2>/dev/null \
    || $ipt -t nat -A KINDLB-PODNET -d "$subnet" -j RETURN || return 1
  $ipt -t nat -C KINDLB-PODNET -j MASQUERADE 2>/dev/null \
    || $ipt -t nat -A KINDLB-PODNET -j MASQUERADE || return 1
  $ipt -t nat -C POSTROUTING -s "$subnet" -j KINDLB-PODNET 2>/dev/null \
    || $ipt -t nat -A POSTROUTING -s "$subnet" -j KINDLB-PODNET || return 1
}

# write_cni V4CIDR V6CIDR: this node's CNI config (either may be empty, not both).
write_cni() {
  local v4=$1 v6=$2 tmp ranges routes
  if [ -n "$v4" ] && [ -n "$v6" ]; then
    ranges="[[{\"subnet\": \"$v4\"}], [{\"subnet\": \"$v6\"}]]"
    routes='[{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]'
  elif [ -n "$v6" ]; then
    ranges="[[{\"subnet\": \"$v6\"}]]"; routes='[{"dst": "::/0"}]'
  else
    ranges="[[{\"subnet\": \"$v4\"}]]"; routes='[{"dst": "0.0.0.0/0"}]'
  fi
  tmp=$(mktemp "$conf_dir/.podnet.XXXX")
  cat >"$tmp" <<CNI
{
  "cniVersion": "0.4.0",
  "name": "kindlb-podnet",
  "plugins": [
    {"type": "ptp", "ipMasq": false,
     "ipam": {"type": "host-local", "ranges": $ranges, "routes": $routes}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CNI
  if cmp -s "$tmp" "$conf_dir/10-kindlb-podnet.conflist"; then rm -f "$tmp"; return; fi
  mv "$tmp" "$conf_dir/10-kindlb-podnet.conflist"
  say "wrote CNI config for ${v4}${v4:+${v6:+ and }}${v6}"
}

# ensure_route FAMILY CIDR VIA NODE: CIDR (another node's pods) via that node's address.
ensure_route() {
  local current
  current=$(ip "-$1" route show "$2")
  case "$current " in *"via $3 "*) ;; *) ip "-$1" route replace "$2" via "$3"; say "route $2 via $3 ($4)" ;; esac
}

masq6_said=""
say "node $NODE_NAME, pod subnet $POD_SUBNET, API $server"
while true; do
  # one node a line: name|podCIDRs|InternalIP(s)
  if nodes=$(kc get nodes -o jsonpath='{range .items[*]}{.metadata.name}|{.spec.podCIDRs[*]} {.spec.podCIDR}|{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' 2>/dev/null); then
    while IFS='|' read -r name cidrs ips; do
      [ -n "$name" ] || continue
      v4="" v6="" ip4="" ip6=""
      for c in $cidrs; do case $c in *:*/*) v6=${v6:-$c} ;; */*) v4=${v4:-$c} ;; esac; done
      [ -n "$pod_v4" ] || v4=""
      [ -n "$pod_v6" ] || v6=""
      if [ "$name" = "$NODE_NAME" ]; then
        # every family the cluster has must be assigned before pods get addresses
        { [ -z "$pod_v4" ] || [ -n "$v4" ]; } && { [ -z "$pod_v6" ] || [ -n "$v6" ]; } && write_cni "$v4" "$v6"
        continue
      fi
      for a in $ips; do case $a in *:*) ip6=${ip6:-$a} ;; *.*.*.*) ip4=${ip4:-$a} ;; esac; done
      if [ -n "$v4" ] && [ -n "$ip4" ]; then ensure_route 4 "$v4" "$ip4" "$name"; fi
      if [ -n "$v6" ] && [ -n "$ip6" ]; then ensure_route 6 "$v6" "$ip6" "$name"; fi
    done <<<"$nodes"
    [ -z "$pod_v4" ] || ensure_masq iptables "$pod_v4"
    if [ -n "$pod_v6" ]; then
      if ! err=$(ensure_masq ip6tables "$pod_v6" 2>&1) && [ -z "$masq6_said" ]; then
        say "ip6tables masquerade failed (pods reach only the cluster over IPv6): $err"; masq6_said=1
      fi
    fi
  else
    say "API not reachable yet"
  fi
  sleep "$interval"
done
