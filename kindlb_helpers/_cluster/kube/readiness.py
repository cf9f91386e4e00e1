"""Readiness: wait for the API server to answer and for the nodes to be Ready."""
from __future__ import annotations

from typing import Any

from ..._core.errors import KindlbError, WaitTimeout
from ..kubeconfig import kind_context
from ..waits import Watch, wait_until
from .client import PROBE_TIMEOUT, Kind, connect

#: Seconds a wait gives the API server to answer /version before it waits for anything else.
API_FIRST = 4.0


def wait_api_ready(kind: Kind, timeout: float = 60, interval: float = 0.2,
                   request_timeout: tuple[float, float] = PROBE_TIMEOUT) -> None:
    """Poll /version until the API server answers; ClusterUnreachable (with the cause) after ``timeout``.

    Each try waits at most ``request_timeout`` (connect, read): a server that accepts and never answers is
    reported after ``timeout`` and one try more, not after the client's minute-long read timeout.
    """
    from kubernetes import client

    try:  # a client of its own without urllib3's 3 retries (a handshake that never ends took 4 x 2 s a try)
        probe = connect(kind.cluster, context=kind.context, kubeconfig=kind.kubeconfig, retries=0,
                        timeout=request_timeout, allow_other_context=kind.context != kind_context(kind.cluster))
    except KindlbError:
        probe = kind
    version = probe.typed(client.VersionApi)
    refused: list[KindlbError] = []  # the last refusal: what the learner sees at the deadline, with its cause

    def answers() -> tuple[bool, str]:
        try:
            version.get_code(_request_timeout=request_timeout)
            return True, "the API server answers"
        except KindlbError as exc:  # every refusal is "not yet" until the deadline (a restarting server, ...)
            refused[:] = [exc]
            return False, str(exc).splitlines()[0][:200]

    try:
        wait_until(answers, timeout=timeout, desc="API server answers", interval=interval, progress=False)
    except WaitTimeout:
        if not refused:
            raise
        raise refused[0] from refused[0].__cause__


def is_ready(obj: Any) -> bool:
    """Whether a pod or node has the condition ``Ready=True``."""
    return any(c.type == "Ready" and c.status == "True" for c in (obj.status.conditions or []))


def nodes_ready(kind: Kind, expected: int | None = None) -> tuple[bool, str]:
    """(all ready, text): every node Ready, and at least ``expected`` of them when given."""
    nodes = kind.core.list_node().items
    ready = [n.metadata.name for n in nodes if is_ready(n)]
    want = max(expected or 0, len(nodes))
    return len(nodes) > 0 and len(ready) == want, f"{len(ready)}/{want} nodes Ready"


def wait_nodes_ready(kind: Kind, expected: int | None = None, timeout: float = 180, progress: bool = True,
                     interval: float = 0.2) -> str:
    """Wait until the cluster has ``expected`` nodes and all are Ready (following the watch on nodes).

    The API server is asked first (/version, a few seconds): one that refuses, drops or never answers is
    reported at once (ClusterUnreachable, naming it and the fix), not after the whole ``timeout``.
    """
    wait_api_ready(kind, timeout=min(timeout, API_FIRST))

    return wait_until(lambda: nodes_ready(kind, expected), timeout=timeout, desc="nodes Ready",
                      progress=progress, interval=interval, watches=[Watch(kind.core.list_node)])
