"""This cluster's exercise targets: the names and addresses the tasks ask for, found in the cluster itself,
so that they are the same after a kernel restart and :func:`progress` can recompute every check."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..._cluster.kube import Kind, get_or_none, ingress_ips
from ..._core.errors import KindlbError
from ..._core.release import Release
from ..._core.versions import NGINX_ONLINE_IMAGE
from ..answers import PREFIX
from .pools import era_of, free_addresses, pool_config, to_ranges

__all__ = ["Targets", "targets"]


@dataclass(frozen=True)
class Targets:
    """The names and addresses the exercises ask for, found in this cluster (the same after a restart)."""

    one: str            # exercise 1: the one-address pool
    reserved: str       # exercise 3: the reserved pool's range
    l2: str             # exercise 5: the pool announced from one node
    spare: str          # a free address no solution uses (exercise 1's wrong answer)
    outside: str        # an address in no pool (a wrong answer's)
    pin: str            # exercise 2: a free address of pool default
    share: str          # exercise 4: another free address of pool default
    worker: str         # exercise 5: the node to announce from
    image: str          # the nginx Deployment's image
    era: Release = field(compare=False)  # the installed MetalLB release


_TARGETS: dict[str, Targets] = {}


def targets(kind: Kind, fresh: bool = False) -> Targets:
    """This cluster's exercise targets: free addresses beside every pool (ignoring the exercises' own),
    two free addresses at the top of pool ``default``, the last worker node, nginx's image."""
    if kind.cluster in _TARGETS and not fresh:
        return _TARGETS[kind.cluster]
    era = era_of(kind)
    block = free_addresses(kind, 8, ignore=(PREFIX, "ts-"))
    first = int(block.first)
    ip = lambda i: str(ipaddress.ip_address(first + i))  # noqa: E731
    cfg = pool_config(kind)
    if "default" not in cfg:
        raise KindlbError("there is no pool 'default': run notebook 03_address_pool first")
    used = {a for s in kind.core.list_service_for_all_namespaces().items
            if not s.metadata.name.startswith(PREFIX) for a in ingress_ips(s)}
    top = [str(a) for r in reversed(to_ranges(cfg["default"]["addresses"]))
           for a in (ipaddress.ip_address(int(r.last) - i) for i in range(min(r.size, 64))) if str(a) not in used]
    if len(top) < 2:
        raise KindlbError("pool default has fewer than 2 free addresses: delete a LoadBalancer Service first")
    workers = sorted(n.metadata.name for n in kind.core.list_node().items
                     if "node-role.kubernetes.io/control-plane" not in (n.metadata.labels or {}))
    if not workers:
        raise KindlbError("this cluster has no worker node: notebook 01 makes two")
    dep = get_or_none(kind.apps.read_namespaced_deployment, "nginx", "default")
    # no nginx Deployment (notebook 04 makes it): the image the online series runs
    image = dep.spec.template.spec.containers[0].image if dep else NGINX_ONLINE_IMAGE
    t = Targets(one=ip(0), reserved=f"{ip(1)}-{ip(4)}", l2=ip(5), spare=ip(6), outside=ip(7), pin=top[0], share=top[1],
                worker=workers[-1], image=image, era=era)
    _TARGETS[kind.cluster] = t
    return t
