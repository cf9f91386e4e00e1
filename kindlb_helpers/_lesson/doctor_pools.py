"""``kindlb doctor``'s "pool overlap" row: the MetalLB pools of different kind clusters on one Docker network that
share addresses, each pair with the range both hold and the command that moves one of them.

Two clusters planned at the same moment can both take the same free block (each read the other before the other
applied its pool). Then one address can be given to a Service in each cluster, and which of them a client reaches
is not defined. This row reads every cluster on the network (only their ``kind-<name>`` contexts, read-only, all at
once, each request bounded) and says so; a cluster that does not answer is named as not read, never as clear.
"""
from __future__ import annotations

from .._core.errors import KindlbError, KindNetworkNotFound
from .._core.pool.overlap import HeldPool, PoolOverlap, pool_overlaps

CHECK = "pool overlap"


def _row(ok: bool | None, found: str, fix: str = "") -> dict:
    return {"check": CHECK, "ok": ok, "found": found, "fix": fix}


def move_command(overlap: PoolOverlap, network: str, crds: bool) -> str:
    """The commands that give the second cluster of OVERLAP a pool clear of every other (``kindlb pool`` plans it on
    NETWORK, avoiding the others' pools and the containers), in its era's object.

    >>> o = pool_overlaps([HeldPool("a", "default", "172.18.255.0/24"), HeldPool("b", "lab", "172.18.255.0/25")])[0]
    >>> move_command(o, "kind", crds=True)  # doctest: +ELLIPSIS
    'kubectl --context kind-b -n metallb-system patch ipaddresspool lab --type merge -p "{\\\\"spec\\\\": ...'
    """
    b = overlap.b
    plan = f"kindlb pool --cluster {b.cluster}" + (" --family 6" if b.range.version == 6 else "") + \
        (f" --network {network}" if network != "kind" else "")
    if crds:
        return (f"kubectl --context kind-{b.cluster} -n metallb-system patch ipaddresspool {b.pool} --type merge "
                f"-p \"{{\\\"spec\\\": {{\\\"addresses\\\": [\\\"$({plan})\\\"]}}}}\"")
    return (f"{plan}   # a free range; then put it in the addresses of pool {b.pool!r}: kubectl --context "
            f"kind-{b.cluster} -n metallb-system edit configmap config")


def overlap_row(network: str | None = None, docker: bool = True, cluster: str | None = None) -> dict:
    """The "pool overlap" row: ok True when the pools of every kind cluster on the network were read and no two
    clusters share an address; False (a warning) naming each pair, the shared range and the fix; None when there
    was nothing to read or some cluster could not be read (named, with why) and no overlap was found among the rest.
    DOCKER=False: Docker is not asked (nor any cluster).

    CLUSTER: only the overlaps of that cluster's pools count, and the fix moves that cluster's pool (the re-check
    right after it applied its pool: of two clusters that planned at once, the one that applied last sees the other's
    pool here, since both were stored before it read)."""
    if not docker:
        return _row(None, "skipped: Docker did not answer (see the docker line above)")
    from .._cluster.dockernet import kind_network, kind_network_name
    from .._cluster.metallb import read_clusters_pools
    from .._cluster.network import clusters_on
    from .._core.release import release

    name = network or kind_network_name()
    try:
        net = kind_network(name)
    except KindNetworkNotFound:
        return _row(None, f"no docker network {name!r} yet: no cluster, no pool")
    except KindlbError as exc:
        return _row(None, f"skipped ({str(exc).splitlines()[0][:160]})")
    clusters = clusters_on(net)
    if len(clusters) < 2:
        return _row(True, f"{len(clusters) or 'no'} kind cluster{'s' if len(clusters) != 1 else ''} on {name}"
                    f"{': ' + clusters[0] if clusters else ''}: no other cluster's pool to overlap")
    reads = read_clusters_pools(clusters)
    held = [HeldPool(r.cluster, pool, rng) for r in reads if r.pools for pool, rng in r.pools]
    not_read = [r for r in reads if r.pools is None]
    unread = "; not read: " + "; ".join(f"kind-{r.cluster} ({r.why})" for r in not_read) if not_read else ""
    overlaps = pool_overlaps(held)
    if cluster is not None:  # that cluster's overlaps, each with it second: the one the fix moves
        overlaps = [o if o.b.cluster == cluster else PoolOverlap(o.b, o.a, o.shared) for o in overlaps
                    if cluster in (o.a.cluster, o.b.cluster)]
    if not overlaps:
        read = [r for r in reads if r.pools is not None]
        summary = ", ".join(f"{r.cluster} " + (" ".join(rng.as_cidr_or_range() for _, rng in r.pools) or "(none)")
                            for r in read)
        if not_read:
            return _row(None, f"no overlap among the pools read on {name} ({summary or 'none'}){unread}",
                        "check that those clusters run (`docker ps --filter label=io.x-k8s.kind.cluster`), then "
                        "run kindlb doctor again")
        return _row(True, f"no two clusters on {name} share an address: {summary}")
    crds = {r.cluster: release(r.version).uses_crds for r in reads if r.pools}  # pools: a known version
    said = "; ".join(map(str, overlaps))
    fixes = []
    for o in overlaps:
        cmd = move_command(o, name, crds[o.b.cluster])
        if cmd not in fixes:
            fixes.append(cmd)
    return _row(False, f"{said}: each cluster may give these addresses to a Service, so one address can belong to a "
                f"Service in each cluster, and which one a client reaches is not defined{unread}",
                "move one of them: " + "; ".join(fixes) + ". Then a Service of that cluster still showing an "
                "address in the shared range (" + ", ".join(dict.fromkeys(
                    f"`kubectl --context kind-{o.b.cluster} get svc -A`" for o in overlaps)) +
                "): delete and re-create it")
