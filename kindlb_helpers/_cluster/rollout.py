"""A Deployment's rollout: its status as ``kubectl rollout status`` reads it, and the wait until it is done (an
image that cannot start is named within seconds, not at the timeout). Plain data: the lesson adds the hood."""
from __future__ import annotations

from typing import Callable

from .._core.errors import KindlbError
from .._core.objects import APP_LABEL
from .kube import Kind, get_or_none
from .stuck import guard
from .waits import Watch, wait_until

#: How often the wait looks again (seconds), besides the Deployment's watch events.
POLL = 0.2


def rollout_status(kind: Kind, name: str, namespace: str) -> tuple[bool, str]:
    """(done, text): every replica of the newest ReplicaSet ready, as ``kubectl rollout status`` sees it."""
    dep = kind.apps.read_namespaced_deployment(name, namespace)
    want = dep.spec.replicas or 0
    st = dep.status
    ready, updated = st.ready_replicas or 0, st.updated_replicas or 0
    done = (st.observed_generation or 0) >= dep.metadata.generation and ready == want and updated == want
    return done, f"{ready}/{want} replicas ready"


def pod_selector(kind: Kind, name: str, namespace: str) -> str:
    """The label selector of Deployment NAME's pods (its own ``matchLabels``; ``app=NAME`` when not readable)."""
    try:
        dep = get_or_none(kind.apps.read_namespaced_deployment, name, namespace)
    except KindlbError:
        dep = None
    labels = (dep.spec.selector.match_labels or {}) if dep is not None and dep.spec.selector else {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or f"{APP_LABEL}={name}"


def wait_rollout(kind: Kind, name: str, namespace: str = "default", timeout: float = 180, progress: bool = False,
                 explain: Callable[[], str] | None = None) -> str:
    """Wait until Deployment NAME's pods are all ready; return the last status text (``3/3 replicas ready``).

    WaitTimeout after ``timeout`` seconds (with ``explain()``'s text, when given), ImageStuck at once when a
    pod's image cannot start.
    """
    follow = [Watch(kind.apps.list_namespaced_deployment, namespace, field_selector=f"metadata.name={name}")]
    check = guard(lambda: rollout_status(kind, name, namespace), kind, namespace, pod_selector(kind, name, namespace),
                  f"deployment {name}")
    return wait_until(check, timeout=timeout, watches=follow, desc=f"deployment {name}", progress=progress,
                      interval=POLL, explain=explain)
