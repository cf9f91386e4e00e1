"""The failures notebook 08 stages: their names, their Services, which ones this release can show.

Every object made for them is named ``ts-...`` (:data:`PREFIX`), so that cleaning up finds them all. The
release is asked what it can do (``core.release``): the ConfigMap era has no L2Advertisement to break.
"""
from __future__ import annotations

from ..._cluster.kube import Kind
from ..._cluster.metallb import installed_version
from ..._core.errors import BadInput, KindlbError
from ..._core.release import EXCLUDE_LB_LABEL, Release, release
from ..exercises import pool_config

PREFIX = "ts-"
#: The node label v0.14.2+ speakers honour (``release(v).honoured_labels``).
EXCLUDE = EXCLUDE_LB_LABEL
#: A label no node carries: a DaemonSet that must run on nodes with it runs nowhere.
NOWHERE = {"kindlb.example/nowhere": "true"}

#: The failures, in the notebook's order: key -> (Service, title).
FAILURES = {
    "no pool": ("ts-no-pool", "no address pool"),
    "no L2Advertisement": ("ts-no-l2", "no L2Advertisement"),
    "pool exhausted": ("ts-exhausted", "the pool is exhausted"),
    "speakers not ready": ("ts-no-speakers", "no speaker is ready"),
    "no endpoints": ("ts-typo", "a selector that matches no pod"),
    "Local without announcer": ("ts-local", "externalTrafficPolicy: Local, and no node may announce"),
    "excluded nodes": ("ts-excluded", "every node carries the exclude-from-external-load-balancers label"),
    "ping vs TCP": ("ts-ping", "ping does not answer, TCP does"),
}
#: What a diagnosis says when nothing is broken for the Service (a finding, too).
HEALTHY = "healthy"
#: The ConfigMap era's answer to a deleted ConfigMap: not a failure (yet).
KEPT = "config kept"


def _key(what: str) -> str:
    if what not in FAILURES:
        raise BadInput(f"unknown failure {what!r}: choose one of {', '.join(map(repr, FAILURES))}")
    return what


def service_of(what: str) -> str:
    """The Service that shows failure ``what``."""
    return FAILURES[_key(what)][0]


def installed(kind: Kind) -> Release | None:
    """The MetalLB release running in the cluster, or None."""
    version = installed_version(kind)
    return None if version is None else release(version)


def uses_crds_here(kind: Kind) -> bool:
    """Whether the installed MetalLB is configured with custom resources (False: the ConfigMap, or none)."""
    here = installed(kind)
    return here is not None and here.uses_crds


def applies(kind: Kind, what: str) -> bool:
    """Whether failure ``what`` can be staged with this release (no L2Advertisement before v0.13)."""
    return what != "no L2Advertisement" or uses_crds_here(kind)


def not_here(kind: Kind, what: str) -> str:
    """Why failure ``what`` is not staged with this release."""
    return (f"MetalLB {installed_version(kind)} has no L2Advertisement: each ConfigMap pool's `protocol: layer2` says "
            "how to announce it, so there is nothing to break here")


def default_pool(kind: Kind) -> str:
    """Pool ``default``'s addresses (notebook 03's), to put back after breaking it."""
    have = pool_config(kind).get("default")
    if not have:
        raise KindlbError("pool default is missing (an interrupted run of this notebook?): run notebook "
                          "03_address_pool again, then this one")
    return ",".join(have["addresses"]) if len(have["addresses"]) > 1 else have["addresses"][0]


def ip_of(svc) -> str | None:
    """The Service's external address, or None."""
    ing = (svc.status.load_balancer.ingress if svc.status and svc.status.load_balancer else None) or []
    return next((i.ip for i in ing if i.ip), None)
