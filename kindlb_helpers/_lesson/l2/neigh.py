"""The client's side of layer 2: which MAC this host (or a container on the kind network) holds for a
LoadBalancer IP, which MACs answer ``arping``, and which node container owns a MAC.

Traffic goes only to the LoadBalancer IP, and only when it lies inside the kind docker network
(:func:`checked_ip`). Where the host has no route to the kind network (Docker Desktop on macOS and
Windows), ``via="container"`` looks from a throwaway busybox container on that network.
"""
from __future__ import annotations

import ipaddress
import shlex
import shutil
import urllib.request

import pandas as pd

from ..._cluster.commands import run
from ..._cluster.containers import probe_run
from ..._cluster.kube import Kind
from ..._cluster.probe import host_neigh
from ..._core import hood as _hood
from ..._core.errors import BadInput, KindlbError
from ..._core.objects import http_url
from .parse import parse_arping, parse_neigh


def checked_ip(ip, subnet=None) -> str:
    """``ip`` as text when it lies in the kind network (only there may the helpers send traffic)."""
    from ..._cluster.dockernet import kind_network

    try:
        addr = ipaddress.ip_address(str(ip))
    except ValueError:
        raise BadInput(f"{ip!r} is not an IP address: pass the Service's external IP (lb.ip)") from None
    net = ipaddress.ip_network(str(subnet)) if subnet else kind_network().subnet(addr.version)
    if addr not in net:
        raise BadInput(f"{addr} is not on the kind network {net}: pass the LoadBalancer IP of a Service "
                       "in this cluster (kindlb sends traffic nowhere else)")
    return str(addr)


def checked_via(via: str) -> str:
    if via not in ("host", "container"):
        raise BadInput(f"via must be 'host' or 'container' (where the host cannot reach the kind network), "
                       f"not {via!r}")
    return via


def node_macs(cluster: str, network: str | None = None) -> pd.DataFrame:
    """The kind node containers' IPv4 and MAC addresses on the kind network, from the Docker API."""
    from ..._cluster.dockernet import docker_client, kind_network_name, translate

    net = network or kind_network_name()
    client = docker_client()
    with translate(client, "list the kind node containers"):
        found = client.api.containers(filters={"label": f"io.x-k8s.kind.cluster={cluster}"})
    rows = []
    for c in found:
        on = ((c.get("NetworkSettings") or {}).get("Networks") or {}).get(net) or {}
        rows.append({"node": (c.get("Names") or ["?"])[0].lstrip("/"), "ip": on.get("IPAddress") or None,
                     "mac": (on.get("MacAddress") or "").lower() or None})
    if not rows:
        raise KindlbError(f"no running node containers of kind cluster {cluster!r}: `kind get clusters` lists them")
    frame = pd.DataFrame(sorted(rows, key=lambda r: r["node"]), columns=["node", "ip", "mac"])
    fmt = "{{.Name}} {{(index .NetworkSettings.Networks \"" + net + "\").IPAddress}} " \
          "{{(index .NetworkSettings.Networks \"" + net + "\").MacAddress}}"
    frame.attrs["hood"] = _hood.Hood(f"the node containers' MACs on network {net}", [
        _hood.Step(f"docker inspect -f {shlex.quote(fmt)} $(kind get nodes --name {shlex.quote(cluster)})",
                   "each node container's interface on the kind bridge has its own MAC")])
    return frame


def mac_to_node(cluster: str) -> dict[str, str]:
    frame = node_macs(cluster)
    return dict(zip(frame["mac"], frame["node"]))


# ---------- the neighbour table, seen from the host or from a container ----------

def _arping_cmd() -> list[str] | None:
    if shutil.which("arping"):
        return ["arping"]
    if shutil.which("busybox"):
        return ["busybox", "arping"]
    return None


def _knock(ip: str, port: int = 80) -> None:
    """One HTTP request to the IP, so that the kernel resolves it with ARP (failure is fine)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(http_url(ip, port), timeout=2) as resp:
            resp.read()
    except OSError:
        pass


def forget_line(ip: str) -> str:
    """The shell line that makes the probe container forget its neighbour entry for IP. busybox's ``ip neigh``
    knows only show and flush (``ip neigh del`` is refused: "invalid argument 'del'"); flush says what it
    deleted on stdout, which is not the table."""
    return f"busybox ip neigh flush to {ip} dev eth0 >/dev/null"


def neighbours(ip, via: str = "host", image: str | None = None, port: int = 80, arping: bool = True,
               cluster: str | None = None, fresh: bool = False) -> pd.DataFrame:
    """The neighbour-table entry for ``ip`` after one request to it, and the MACs that answer ``arping``.

    ``via="host"`` reads this machine's table (``ip neigh show IP``); ``via="container"`` does the same
    inside a busybox container on the kind network (for hosts without a route to it): CLUSTER's probe
    container, or a throwaway one when no cluster is named. ``fresh``: the container first forgets its entry
    for ``ip``, so what it shows is what ARP answers now, as in a new container. The request and ``arping``
    run side by side. One row per source: ``ip neigh`` and ``arping`` (when an arping is installed).
    ``attrs``: ``mac``, ``hood``.
    """
    ip, via = checked_ip(ip), checked_via(via)
    url = http_url(ip, port)
    rows: list[dict] = []
    v6 = ":" in ip
    arping = arping and not v6  # arping asks ARP: IPv4's; an IPv6 address is asked by NDP (notebook 07_dual_stack)
    if via == "host":
        _knock(ip, port)
        found = parse_neigh(_ip_neigh(ip))
        dev = found[0]["dev"] if found else None
        rows += [{"source": "ip neigh", "ip": r["ip"], "mac": r["mac"], "state": r["state"], "dev": r["dev"]}
                 for r in found]
        asks = "NDP (a Neighbor Solicitation)" if v6 else "ARP"
        curl = ["curl", "-g", "-s", "-o", "/dev/null", url] if v6 else ["curl", "-s", "-o", "/dev/null", url]
        steps = [_hood.Step(shlex.join(curl), f"one request: the kernel asks {asks}"),
                 _hood.Step(f"ip neigh show {ip}", "the neighbour table: the MAC this host sends the IP's packets to")]
        tool = _arping_cmd()
        if arping and tool and dev:
            cmd = [*tool, "-c", "2", "-I", dev, ip]
            got = run(cmd, what="arping", timeout=15, check=False)
            rows += [{"source": "arping", "ip": ip, "mac": m, "state": "reply", "dev": dev}
                     for m in dict.fromkeys(parse_arping(got.stdout))]
            steps.append(_hood.Step(shlex.join(cmd), "ask who has the IP; the announcing speaker replies"))
        hood = _hood.Hood(f"the neighbour entry for {ip} on this host", steps)
    else:
        # the request and arping side by side: an address nobody announces costs the kernel's ARP give-up
        # (3 s) once, not that plus arping's 2 s
        script = ((forget_line(ip) + "; " if fresh else "")
                  + f"wget -q -O /dev/null {url} 2>/dev/null & w=$!; "
                  + (f"busybox arping -c 2 -I eth0 {ip} >/tmp/arping.$$ 2>&1; " if arping else "")
                  + f"wait $w; echo --neigh; busybox ip neigh show {ip}; echo --arping; "
                  + ("cat /tmp/arping.$$; busybox rm -f /tmp/arping.$$; " if arping else "") + "true").format(ip=ip)
        why = "busybox's wget, ip and arping, next to the nodes on the kind bridge"
        code, out, err, steps = probe_run(script, cluster=cluster, image=image, timeout=60, why=why)
        neigh, _, arp = out.partition("--arping")
        for r in parse_neigh(neigh.replace("--neigh", "")):
            rows.append({"source": "ip neigh (container)", "ip": r["ip"], "mac": r["mac"], "state": r["state"],
                         "dev": r["dev"]})
        if arping:
            rows += [{"source": "arping (container)", "ip": ip, "mac": m, "state": "reply", "dev": "eth0"}
                     for m in dict.fromkeys(parse_arping(arp))]
        if code != 0 and not rows:
            raise KindlbError(f"the probe container could not look at the neighbour table: {err.strip()[-300:]}")
        hood = _hood.Hood(f"the neighbour entry for {ip}, seen from a container on the kind network", steps)
    frame = pd.DataFrame(rows, columns=["source", "ip", "mac", "state", "dev"])
    macs = [m for m in frame["mac"] if m]
    frame.attrs.update(mac=macs[0] if macs else None, via=via, hood=hood)
    return frame


def _ip_neigh(ip: str) -> str:
    """``ip neigh show IP`` on this host (Linux's iproute2; elsewhere ToolMissing names the container route)."""
    return host_neigh(ip)


def _host_mac(ip: str) -> str | None:
    rows = parse_neigh(_ip_neigh(ip))
    return rows[0]["mac"] if rows else None


def entry_node(kind: Kind, ip, via: str = "host", image: str | None = None) -> str | None:
    """The node whose MAC the client (the host, or the cluster's probe container) uses for ``ip``."""
    if via == "host":
        _knock(ip)
        mac = _host_mac(ip)
    else:
        mac = neighbours(ip, "container", image, arping=False, cluster=kind.cluster).attrs["mac"]
    return mac_to_node(kind.cluster).get(mac or "")
