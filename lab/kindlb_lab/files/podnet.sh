#!/bin/bash
# podnet: the lab's pod network, in place of kindnetd (whose Go module the proxy does not serve).
# Runs on every node (hostNetwork DaemonSet). Every few seconds it
#  - writes a CNI config (Debian's ptp + host-local on this node's podCIDR, portmap for hostPort),
#  - routes every other node's podCIDR via that node's InternalIP (all nodes share one L2 net),
#  - masquerades pod traffic that leaves the pod subnet.
set -euo pipefail

: "${NODE_NAME:?}" "${POD_SUBNET:?}"
conf_dir=${CNI_CONF_DIR:-/etc/cni/net.d}
interval=${PODNET_INTERVAL:-5}
sa=/var/run/secrets/kubernetes.io/serviceaccount
# kind adds CONTROL_PLANE_ENDPOINT (host:port) so we need not wait for kube-proxy's service rules.
server=https://${CONTROL_PLANE_ENDPOINT:-${KUBERNETES_SERVICE_HOST}:${KUBERNETES_SERVICE_PORT}}

kc() { kubectl --server="$server" --token="$(cat $sa/token)" --certificate-authority=$sa/ca.crt "$@"; }
say() { echo "$(date -u +%H:%M:%S) podnet: $*"; }

ensure_masq() {
  iptables -t nat -N KINDLB-PODNET 2>/dev/null || true
  iptables -t nat -C KINDLB-PODNET -d "$POD_SUBNET" -j RETURN 2>/dev/null \
    || iptables -t nat -A KINDLB-PODNET -d "$POD_SUBNET" -j RETURN
  iptables -t nat -C KINDLB-PODNET -j MASQUERADE 2>/dev/null \
    || iptables -t nat -A KINDLB-PODNET -j MASQUERADE
  iptables -t nat -C POSTROUTING -s "$POD_SUBNET" -j KINDLB-PODNET 2>/dev/null \
    || iptables -t nat -A POSTROUTING -s "$POD_SUBNET" -j KINDLB-PODNET
}

write_cni() {
  local cidr=$1 tmp
  tmp=$(mktemp "$conf_dir/.podnet.XXXX")
  cat >"$tmp" <<CNI
{
  "cniVersion": "0.4.0",
  "name": "kindlb-podnet",
  "plugins": [
    {"type": "ptp", "ipMasq": false,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$cidr"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CNI
  if cmp -s "$tmp" "$conf_dir/10-kindlb-podnet.conflist"; then rm -f "$tmp"; return; fi
  mv "$tmp" "$conf_dir/10-kindlb-podnet.conflist"
  say "wrote CNI config for $cidr"
}

say "node $NODE_NAME, pod subnet $POD_SUBNET, API $server"
while true; do
  # one node a line: name podCIDR InternalIP(s)
  if nodes=$(kc get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' 2>/dev/null); then
    while read -r name cidr ips; do
      [[ $cidr == */* && $cidr != *:* ]] || continue  # IPv4 podCIDR assigned yet?
      if [ "$name" = "$NODE_NAME" ]; then
        write_cni "$cidr"
        continue
      fi
      ip=""
      for a in $ips; do [[ $a == *.*.*.* ]] && { ip=$a; break; }; done
      [ -n "$ip" ] || continue
      current=$(ip -4 route show "$cidr")
      case "$current " in *"via $ip "*) ;; *) ip route replace "$cidr" via "$ip"; say "route $cidr via $ip ($name)" ;; esac
    done <<<"$nodes"
    ensure_masq
  else
    say "API not reachable yet"
  fi
  sleep "$interval"
done
