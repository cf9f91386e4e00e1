"""``kindlb doctor``'s laptop warnings, each with its fix: the kind network, host routes over it (a VPN), Docker's
memory, pools of kind clusters that overlap, another LoadBalancer implementation, Linux's inotify limits. They read
Docker, the routing table and /proc; only the pool overlap row contacts kube contexts: the ``kind-<name>`` contexts of
the clusters on the kind network, read-only (:mod:`.doctor_pools`).
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from .._cluster.commands import run
from .._core.errors import CommandTimeout, KindlbError, ToolMissing
from .doctor_pools import overlap_row


def _output(cmd: list[str]) -> tuple[bool, str]:
    """(whether CMD succeeded, its output); a missing or hanging program is a failure, not an error."""
    try:
        out = run(cmd, what=cmd[0], timeout=10, check=False)
    except (ToolMissing, CommandTimeout):
        return False, ""
    return out.returncode == 0, (out.stdout or out.stderr).strip()


# None of these contacts a kube context: they read the host's routes, Docker and /proc.

#: An idle 3-node cluster takes about 1.1 GiB (measured); with MetalLB, nginx and headroom, 4 GiB.
MIN_DOCKER_MEMORY = 4 * 2**30
#: kind's advice for several clusters on one Linux host ("too many open files": new nodes exit at once): the fix.
INOTIFY_MIN = {"max_user_instances": 512, "max_user_watches": 524288}
#: What one 3-node kind cluster holds, measured with scripts/inotify_usage.py (2026-12-06, Kubernetes v1.34.12 lab
#: nodes, cgroup v1, 2 cores): 46-47 inotify instances and 556-705 watches each, idle or with MetalLB and nginx;
#: 4 clusters at once held 187 instances and 2,608 watches, all root's (kind's nodes have no user namespace of their
#: own, so they share root's limits with the host's root daemons). Rounded up: what each cluster is counted for.
INOTIFY_PER_CLUSTER = {"max_user_instances": 50, "max_user_watches": 1000}
#: An allowance for the host's own root processes (systemd, udev, a desktop's daemons hold a few instances each):
#: not measured here (this host runs no systemd: its root held none outside the clusters).
INOTIFY_HOST = {"max_user_instances": 20, "max_user_watches": 5000}
_CLOUD_PROVIDER_KIND = "cloud-provider-kind"


@dataclass(frozen=True)
class HostRoute:
    """One IPv4 host route: destination network and the interface it leaves by."""

    network: ipaddress.IPv4Network
    dev: str

    def __str__(self) -> str:
        return f"{self.network} dev {self.dev}"


def parse_ip_route(text: str) -> list[HostRoute]:
    """Routes from ``ip -4 route`` output; the default route is left out.

    >>> parse_ip_route("default via 192.168.1.1 dev wlan0\\n10.8.0.0/16 dev tun0 scope link\\n")
    [HostRoute(network=IPv4Network('10.8.0.0/16'), dev='tun0')]
    """
    routes = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0] in ("default", "unreachable", "blackhole", "prohibit", "local", "broadcast"):
            continue
        try:
            net = ipaddress.IPv4Network(words[0], strict=False)
        except ValueError:
            continue
        dev = words[words.index("dev") + 1] if "dev" in words[:-1] else "?"
        routes.append(HostRoute(net, dev))
    return routes


def parse_proc_net_route(text: str) -> list[HostRoute]:
    """Routes from Linux's ``/proc/net/route`` (hex, little-endian); the default route is left out."""
    routes = []
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 8:
            continue
        dest, mask = (ipaddress.IPv4Address(int(x, 16).to_bytes(4, "little")) for x in (f[1], f[7]))
        if int(mask) == 0:
            continue
        routes.append(HostRoute(ipaddress.IPv4Network(f"{dest}/{mask}", strict=False), f[0]))
    return routes


def parse_netstat_rn(text: str) -> list[HostRoute]:
    """IPv4 routes from macOS's ``netstat -rn`` (``10.8/16``, ``172.16``: BSD's short forms); no default.

    >>> parse_netstat_rn("Internet:\\nDestination Gateway Flags Netif Expire\\n10.8/16 link#17 UCS utun3\\n")
    [HostRoute(network=IPv4Network('10.8.0.0/16'), dev='utun3')]
    """
    routes, inet = [], False
    for line in text.splitlines():
        if line.startswith("Internet"):
            inet = not line.startswith("Internet6")
            continue
        f = line.split()
        if not inet or len(f) < 4 or f[0] in ("default", "Destination"):
            continue
        dest, _, plen = f[0].partition("/")
        parts = dest.split(".")
        if not all(p.isdigit() for p in parts) or len(parts) > 4:
            continue
        prefix = int(plen) if plen else (32 if len(parts) == 4 else 8 * len(parts))
        try:
            net = ipaddress.IPv4Network(f"{'.'.join(parts + ['0'] * (4 - len(parts)))}/{prefix}", strict=False)
        except ValueError:
            continue
        if net.prefixlen == 32 or net.prefixlen == 0:
            continue  # hosts (ARP entries) and default are not what hides a subnet
        routes.append(HostRoute(net, f[3] if len(f) > 3 else "?"))
    return routes


def host_routes() -> list[HostRoute]:
    """This machine's IPv4 routes: /proc/net/route on Linux, ``netstat -rn`` on macOS."""
    proc = Path("/proc/net/route")
    if proc.exists():
        return parse_proc_net_route(proc.read_text())
    ok, text = _output(["netstat", "-rn", "-f", "inet"])
    return parse_netstat_rn(text) if ok else []


def overlapping_routes(subnet, routes: list[HostRoute], own_devs: tuple[str, ...] = ()) -> list[HostRoute]:
    """The routes that overlap SUBNET, apart from those through its own bridge (OWN_DEVS)."""
    net = ipaddress.ip_network(str(subnet), strict=False)
    return [r for r in routes if r.dev not in own_devs and r.network.overlaps(net)]


def free_subnet(routes: list[HostRoute], taken: list = ()) -> ipaddress.IPv4Network | None:
    """A private /16 no route and no TAKEN network overlaps, to suggest for the kind network."""
    avoid = [r.network for r in routes] + [ipaddress.ip_network(str(t), strict=False) for t in taken]
    candidates = [ipaddress.IPv4Network(f"172.{b}.0.0/16") for b in range(18, 32)] + \
        [ipaddress.IPv4Network(f"10.{b}.0.0/16") for b in (201, 202, 203, 210, 220)]
    return next((c for c in candidates if not any(c.overlaps(a) for a in avoid)), None)


def route_warnings(subnet, routes: list[HostRoute], own_devs: tuple[str, ...] = ()) -> tuple[bool, str, str]:
    """(ok, found, fix) for host routes overlapping the kind network's SUBNET."""
    bad = overlapping_routes(subnet, routes, own_devs)
    if not bad:
        return True, f"no host route overlaps {subnet} ({len(routes)} routes read)", ""
    net = ipaddress.ip_network(str(subnet), strict=False)
    hijack = [r for r in bad if r.network.prefixlen >= net.prefixlen]
    what = "takes part of the kind network away (its addresses, the pool's too, leave by that interface)" if hijack \
        else "covers the kind network (the VPN's hosts in it become unreachable while kind runs)"
    spare = free_subnet(routes, [subnet])
    fix = (f"disconnect the VPN while you work, or move kind to a free subnet: kind delete cluster; docker network rm "
           f"kind; docker network create kind --subnet {spare or '<a free /16>'}; then re-create the cluster")
    return False, f"{'; '.join(map(str, bad))} {what}", fix


def memory_warning(mem_total: int | None) -> tuple[bool, str, str]:
    """(ok, found, fix) for Docker's memory (``docker info`` MemTotal, bytes)."""
    if not mem_total:
        return False, "Docker did not say how much memory it has", "check `docker info` (MemTotal)"
    gib = mem_total / 2**30
    if mem_total >= MIN_DOCKER_MEMORY:
        return True, f"{gib:.1f} GiB (a 3-node cluster needs about 1.1 GiB idle; 4 GiB recommended)", ""
    return False, f"Docker has {gib:.1f} GiB: a 3-node cluster with MetalLB and nginx needs about 4 GiB", \
        "Docker Desktop: Settings > Resources > Memory: 4 GB or more (then Apply & restart); " \
        "or run notebook 00 with workers=0 (one node)"


def _kind_network_check(name: str | None) -> tuple[bool, str, str, object]:
    from .._cluster.dockernet import kind_network, kind_network_name
    from .._core.errors import KindNetworkNotFound

    net_name = name or kind_network_name()
    try:
        net = kind_network(net_name)
    except KindNetworkNotFound:  # not a fault: kind makes it with the first cluster
        return None, f"docker network {net_name!r} does not exist yet: kind creates it with the first cluster " \
            "(notebook 00, or the room command)", "", None
    except KindlbError as exc:
        return False, str(exc), "start Docker first", None
    if 4 not in net.subnets:
        have = ", ".join(str(s) for s in net.subnets.values()) or "none"
        return False, f"docker network {net_name!r} has no IPv4 subnet (has: {have})", \
            ("delete the clusters, `docker network rm " + net_name + "`, and let kind create it again "
             "(it adds an IPv4 subnet); MetalLB's pool and the host route need one"), net
    return True, f"{net_name}: IPv4 {net.subnet(4)}", "", net


def other_load_balancers(docker: bool = True) -> list[str]:
    """cloud-provider-kind found running: containers (by name, image or label; not asked with DOCKER=False)
    and processes."""
    found = []
    try:
        if not docker:
            raise KindlbError("Docker is not asked")
        from .._cluster.dockernet import docker_client, translate

        client = docker_client()
        with translate(client, "list the running containers"):
            running = client.containers.list()
        for c in running:
            image = (c.attrs.get("Config") or {}).get("Image", "")
            labels = " ".join(f"{k}={v}" for k, v in (c.labels or {}).items())
            if any(_CLOUD_PROVIDER_KIND in s for s in (c.name, image, labels)):
                found.append(f"container {c.name}")
    except KindlbError:
        pass
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv0 = (proc / "cmdline").read_bytes().split(b"\0", 1)[0].decode(errors="replace")
        except OSError:
            continue
        if os.path.basename(argv0) == _CLOUD_PROVIDER_KIND:
            found.append(f"process {proc.name} ({argv0})")
    if not Path("/proc/1").exists():  # macOS: no /proc
        ok, text = _output(["pgrep", "-lf", _CLOUD_PROVIDER_KIND])
        found += [f"process {line}" for line in text.splitlines() if ok and line.strip()]
    return found


def inotify_needed(clusters: int) -> dict[str, int]:
    """The inotify limits for the kind clusters here plus one more (the next participant's), and at least two (a
    learner's and a spare: a rehearsal, a second try), from :data:`INOTIFY_PER_CLUSTER` and :data:`INOTIFY_HOST`.
    Linux's default of 128 instances holds two clusters (2 x 47 measured), not three.

    >>> inotify_needed(0)
    {'max_user_instances': 120, 'max_user_watches': 7000}
    >>> inotify_needed(2)["max_user_instances"]
    170
    """
    n = max(clusters + 1, 2)
    return {k: n * INOTIFY_PER_CLUSTER[k] + INOTIFY_HOST[k] for k in INOTIFY_PER_CLUSTER}


def inotify_warning(limits: dict[str, int] | None, clusters: int = 0) -> tuple[bool | None, str, str]:
    """(ok, found, fix) for Linux's inotify limits with CLUSTERS kind clusters here: a warning only when
    :func:`inotify_needed` does not fit (Linux's defaults, 128 instances and at least 8,192 watches, hold a learner's
    cluster and a spare); None when they cannot be read (macOS, Docker Desktop's VM)."""
    if not limits:
        return None, "skipped (no /proc/sys/fs/inotify here; Docker Desktop's VM has its own)", ""
    need = inotify_needed(clusters)
    low = {k: v for k, v in limits.items() if v < need[k]}
    found = ", ".join(f"{k}={v}" for k, v in limits.items())
    here = f"{clusters} kind cluster{'s' if clusters != 1 else ''} here"
    if not low:
        return True, f"{found}: enough for {max(clusters + 1, 2)} kind clusters ({here}; each holds about " \
            f"{INOTIFY_PER_CLUSTER['max_user_instances']} instances and " \
            f"{INOTIFY_PER_CLUSTER['max_user_watches']:,} watches)", ""
    short = ", ".join(f"{k} {v:,} < {need[k]:,}" for k, v in low.items())
    return False, f"{found}: too low for one more cluster beside the {here} ({short}; each cluster holds about " \
        f"{INOTIFY_PER_CLUSTER['max_user_instances']} instances and {INOTIFY_PER_CLUSTER['max_user_watches']:,} " \
        "watches): its nodes would exit at once with 'too many open files'", \
        "sudo sysctl -w " + " ".join(f"fs.inotify.{k}={max(INOTIFY_MIN[k], need[k])}" for k in low) + \
        " (and in /etc/sysctl.d/ to keep it)"


def _kind_cluster_count() -> int:
    """How many kind clusters have node containers here (0 when Docker cannot tell)."""
    from .._cluster.clusters import kind_clusters

    try:
        return len(kind_clusters())
    except KindlbError:
        return 0


def _inotify_limits() -> dict[str, int] | None:
    base = Path("/proc/sys/fs/inotify")
    try:
        return {k: int((base / k).read_text()) for k in INOTIFY_MIN}
    except (OSError, ValueError):
        return None


def _docker_laptop_rows(network: str | None) -> list[dict]:
    """The kind network, the host routes over it, Docker's memory: the laptop rows that ask Docker."""
    rows = []
    ok, found, fix, net = _kind_network_check(network)
    rows.append({"check": "kind network", "ok": ok, "found": found, "fix": fix})
    if net is not None and 4 in net.subnets:
        own = (f"br-{net.id[:12]}",)
        try:
            from .._cluster.dockernet import docker_client, translate

            client = docker_client()
            with translate(client, "inspect the kind network"):
                opts = client.api.inspect_network(net.id).get("Options") or {}
            own += (opts.get("com.docker.network.bridge.name", own[0]),)
        except KindlbError:  # the default bridge name is enough
            pass
        ok, found, fix = route_warnings(net.subnet(4), host_routes(), own)
    else:
        ok, found, fix = None, "skipped (no IPv4 kind network to compare with)", ""
    rows.append({"check": "routes", "ok": ok, "found": found, "fix": fix})
    try:
        from .._cluster.dockernet import docker_client, translate

        client = docker_client()
        with translate(client, "read Docker's memory"):
            mem = client.info().get("MemTotal")
        ok, found, fix = memory_warning(mem)
    except KindlbError as exc:
        ok, found, fix = None, f"skipped ({exc})", ""
    rows.append({"check": "docker memory", "ok": ok, "found": found, "fix": fix})
    return rows


def laptop_checks(network: str | None = None, docker: bool = True):
    """Warnings for a learner's laptop, each with its fix, as a DataFrame: see :func:`laptop_rows`."""
    import pandas as pd

    return pd.DataFrame(laptop_rows(network, docker), columns=["check", "ok", "found", "fix"])


def laptop_rows(network: str | None = None, docker: bool = True) -> list[dict]:
    """Warnings for a learner's laptop, each with its fix: the kind network, VPN routes, Docker's memory, pools of
    kind clusters that overlap, another LoadBalancer implementation, the inotify limits. Reads Docker, the routing
    table and /proc, and (pool overlap) other kind clusters' pools through their kind- contexts only; no pandas
    (``kindlb doctor`` prints them). DOCKER=False (the doctor found that Docker does not answer): Docker is not
    asked at all, nor any cluster."""
    rows = []
    if not docker:
        skipped = "skipped: Docker did not answer (see the docker line above)"
        rows += [{"check": c, "ok": None, "found": skipped, "fix": ""}
                 for c in ("kind network", "routes", "docker memory")]
    else:
        rows += _docker_laptop_rows(network)
    rows.append(overlap_row(network, docker=docker))  # reads other clusters' pools: their kind- contexts only
    others = other_load_balancers(docker=docker)
    rows.append({"check": "other load balancer", "ok": not others,
                 "found": "; ".join(others) if others else "no cloud-provider-kind running",
                 "fix": ("stop it (`docker rm -f NAME` / `kill PID`): it hands out LoadBalancer IPs too and races "
                         "MetalLB for every Service") if others else ""})
    ok, found, fix = inotify_warning(_inotify_limits(), _kind_cluster_count() if docker else 0)
    rows.append({"check": "inotify", "ok": ok, "found": found, "fix": fix})
    return rows
