"""The cases notebook 08 stages: which failure each case is, its Service, which ones this release can show.

The notebook names its cases by number only ("Case 1" ... "Case 8") and every object made for them is named
``ts-case<N>...`` (:data:`PREFIX` ``ts-``), so that neither the headings nor the objects give the cause away and
cleaning up finds them all. The release is asked what it can do (``core.release``): the ConfigMap era has no
L2Advertisement to break.
"""
from __future__ import annotations

from ..._cluster.kube import Kind
from ..._cluster.metallb import installed_version
from ..._core.errors import BadInput, KindlbError
from ..._core.release import EXCLUDE_LB_LABEL, Release, release
from ..exercises import pool_config
from ..no_ip import HEALTHY, KEPT, ip_of  # noqa: F401  (re-exported: the cases' answers, one reader)

PREFIX = "ts-"
#: The node label v0.14.2+ speakers honour (``release(v).honoured_labels``).
EXCLUDE = EXCLUDE_LB_LABEL
#: A label no node carries: a DaemonSet that must run on nodes with it runs nowhere.
NOWHERE = {"kindlb.example/nowhere": "true"}

#: The failures, in the notebook's order (case 1 is the first): key -> (Service, title). The keys and titles are
#: the answers: the notebook shows them only inside the folded diagnosis.
FAILURES = {
    "no pool": ("ts-case1", "no address pool"),
    "no L2Advertisement": ("ts-case2", "no L2Advertisement"),
    "pool exhausted": ("ts-case3", "the pool is exhausted"),
    "speakers not ready": ("ts-case4", "no speaker is ready"),
    "no endpoints": ("ts-case5", "a selector that matches no pod"),
    "Local without announcer": ("ts-case6", "externalTrafficPolicy: Local, and no node may announce"),
    "excluded nodes": ("ts-case7", "every node carries the exclude-from-external-load-balancers label"),
    "ping vs TCP": ("ts-case8", "ping does not answer, TCP does"),
}
CASES = tuple(FAILURES)


def _key(what: str | int) -> str:
    if isinstance(what, int) and not isinstance(what, bool):
        if not 1 <= what <= len(CASES):
            raise BadInput(f"there is no case {what}: the cases are 1 to {len(CASES)}")
        return CASES[what - 1]
    if what not in FAILURES:
        raise BadInput(f"unknown failure {what!r}: choose a case number 1 to {len(CASES)}, or one of "
                       f"{', '.join(map(repr, FAILURES))}")
    return what


def case_number(what: str | int) -> int:
    """The case (1 to 8) that shows failure ``what`` (a case number is returned as it is)."""
    return CASES.index(_key(what)) + 1


def failure_of(what: str | int) -> str:
    """The failure a case shows (its key in :data:`FAILURES`)."""
    return _key(what)


def service_of(what: str | int) -> str:
    """The Service that shows case ``what`` (a number 1 to 8, or a failure's key)."""
    return FAILURES[_key(what)][0]


def installed(kind: Kind) -> Release | None:
    """The MetalLB release running in the cluster, or None."""
    version = installed_version(kind)
    return None if version is None else release(version)


def uses_crds_here(kind: Kind) -> bool:
    """Whether the installed MetalLB is configured with custom resources (False: the ConfigMap, or none)."""
    here = installed(kind)
    return here is not None and here.uses_crds


def applies(kind: Kind, what: str | int) -> bool:
    """Whether case ``what`` can be staged with this release (no L2Advertisement before v0.13)."""
    return _key(what) != "no L2Advertisement" or uses_crds_here(kind)


def not_here(kind: Kind, what: str | int) -> str:
    """Why case ``what`` is not staged with this release (without naming what it would break)."""
    return (f"case {case_number(what)} needs a kind of object that MetalLB {installed_version(kind)} does not have: "
            "nothing was changed; go on to the next case")


def default_pool(kind: Kind) -> str:
    """Pool ``default``'s addresses (notebook 03's), to put back after breaking it."""
    have = pool_config(kind).get("default")
    if not have:
        raise KindlbError("pool default is missing (an interrupted run of this notebook?): run notebook "
                          "03_address_pool again, then this one")
    return ",".join(have["addresses"]) if len(have["addresses"]) > 1 else have["addresses"][0]

