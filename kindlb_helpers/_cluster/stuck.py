"""Pods that cannot start their image, named within seconds by every wait on pods.

A pod whose container waits with ``ErrImagePull``, ``ImagePullBackOff``, ``ErrImageNeverPull``,
``InvalidImageName`` or ``CrashLoopBackOff`` will not become ready by waiting: the kubelet only retries
with a growing back-off. :func:`guard` wraps a wait's check so that the wait stops with :class:`ImageStuck`
(the pod, its image, its node, the kubelet's words and the fix) as soon as such a status has lasted its
grace (:data:`GRACE`: at most 12 s; ``ImageStuck`` is in ``_core.errors``), instead of sitting out the whole timeout.

The fix is the one that works here: an image that Docker has but the nodes lack is loaded with
``kind load docker-image``; one that Docker lacks is replaced by the local image that the source resolver
(:mod:`.sources`) finds in a loaded bundle or the offline lab, or else loaded into Docker first.

>>> reason_of({"waiting": {"reason": "ImagePullBackOff"}})
'ImagePullBackOff'
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from .._core.errors import ImageStuck, KindlbError

#: Seconds a status may last before the wait stops: a first ErrImagePull may still succeed on the next
#: try (ImagePullBackOff follows within seconds when it does not), and a container that crashed once
#: restarts after kubelet's first 10 s back-off; a back-off on a pull, or an image the node may never pull
#: (imagePullPolicy: Never), is final at once.
GRACE: dict[str, float] = {"ImagePullBackOff": 0.0, "ErrImageNeverPull": 0.0, "InvalidImageName": 0.0,
                           "ErrImagePull": 8.0, "CrashLoopBackOff": 12.0}
#: How often a guarded wait lists the pods (the wait itself may look more often).
EVERY = 1.0
_PULL = ("ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "ErrImagePull")


@dataclass(frozen=True)
class Stuck:
    """One container that cannot start: where, which image, and what the kubelet says."""

    namespace: str
    pod: str
    container: str
    image: str
    node: str | None
    reason: str
    message: str
    restarts: int = 0


def reason_of(state: Any) -> str | None:
    """The waiting reason of a container state (a client object or a dict), when it is one that waiting won't fix."""
    waiting = state.get("waiting") if isinstance(state, dict) else getattr(state, "waiting", None)
    if not waiting:
        return None
    reason = waiting.get("reason") if isinstance(waiting, dict) else getattr(waiting, "reason", None)
    return reason if reason in GRACE else None


def stuck_in(pods: list[Any]) -> list[Stuck]:
    """The containers of PODS (client ``V1Pod`` objects) waiting with one of :data:`GRACE`'s reasons."""
    found: list[Stuck] = []
    for pod in pods:
        if pod.metadata.deletion_timestamp:
            continue
        status = pod.status
        statuses = [*(getattr(status, "init_container_statuses", None) or []),
                    *(getattr(status, "container_statuses", None) or [])] if status else []
        for cs in statuses:
            reason = reason_of(cs.state)
            if reason is None:
                continue
            waiting = cs.state.waiting
            found.append(Stuck(pod.metadata.namespace, pod.metadata.name, cs.name, cs.image,
                               pod.spec.node_name if pod.spec else None, reason,
                               " ".join((waiting.message or "").split())[:400], cs.restart_count or 0))
    return found


def list_stuck(kind: Any, namespace: str, label_selector: str | None = None) -> list[Stuck]:
    """The stuck containers of the pods in NAMESPACE (matching LABEL_SELECTOR), read once."""
    kwargs = {"label_selector": label_selector} if label_selector else {}
    return stuck_in(kind.core.list_namespaced_pod(namespace, **kwargs).items)


def _in_docker(image: str) -> bool | None:
    """Whether the local Docker engine has IMAGE (None: Docker cannot be asked)."""
    from .dockernet import image_id

    try:
        return image_id(image) is not None
    except Exception:  # noqa: BLE001  (the fix is still worth saying without Docker's answer)
        return None


def local_instead(image: str) -> str | None:
    """The local image (a loaded bundle's, the offline lab's) that stands in for IMAGE, when one is here."""
    from .._core.versions import pins
    from .sources import offline_here, resolve

    role = {pins()["NGINX_ONLINE_IMAGE"]: "nginx", pins()["PROBE_ONLINE_IMAGE"]: "probe",
            pins()["FRR_ONLINE_IMAGE"]: "router"}.get(image)
    if role is None or offline_here() is None:
        return None
    try:
        found = resolve(role)
    except KindlbError:
        return None
    return found.value if found.offline and found.value != image else None


def fix(stuck: Stuck, cluster: str | None) -> str:
    """What to do about STUCK, in this machine's terms."""
    name = f" --name {cluster}" if cluster else ""
    ctx = f" --context kind-{cluster}" if cluster else ""
    if stuck.reason == "CrashLoopBackOff":
        return (f"the image starts and its process exits; read why: `kubectl{ctx} -n {stuck.namespace} logs "
                f"{stuck.pod} -c {stuck.container} --previous`")
    if stuck.reason == "InvalidImageName":
        return f"{stuck.image!r} is not a valid image reference: correct the name"
    load = f"`kind load docker-image {stuck.image}{name}`"
    have = _in_docker(stuck.image)
    if have:
        return f"Docker here has {stuck.image} but the node does not: {load}, then wait again"
    instead = local_instead(stuck.image)
    if instead:
        return (f"the node cannot pull it; the local image {instead} stands in for it: use {instead} (leave the "
                "image parameter at None and the notebooks pick it), then run this cell again")
    where = "Docker here does not have it either" if have is False else "is it in Docker here? (`docker images`)"
    return (f"the node cannot pull {stuck.image} ({where}): with internet, check the name and tag; without, get it "
            f"into Docker (a bundle: `kindlb bundle load FILE`; the offline lab: `kindlb lab up`), then {load}")


def message(stuck: Stuck, cluster: str | None, waited: str = "") -> str:
    """One paragraph: which pod, which image, which node, what the kubelet says, and the fix."""
    node = f" on node {stuck.node}" if stuck.node else ""
    said = f" ({stuck.message})" if stuck.message else ""
    restarts = f", {stuck.restarts} restarts" if stuck.reason == "CrashLoopBackOff" else ""
    head = f"{waited}: " if waited else ""
    return (f"{head}pod {stuck.namespace}/{stuck.pod}{node} cannot start image {stuck.image} (container "
            f"{stuck.container}): {stuck.reason}{restarts}{said}. Fix: {fix(stuck, cluster)}")


Check = Callable[[], "tuple[bool, str]"]


def guard(check: Check, kind: Any, namespace: str, label_selector: str | None = None, desc: str = "",
          every: float = EVERY, clock: Callable[[], float] = time.monotonic) -> Check:
    """CHECK, plus: every EVERY seconds, the pods of NAMESPACE (LABEL_SELECTOR) are read, and once a container
    has been stuck for its :data:`GRACE`, ImageStuck is raised (which ends the wait at once; see waits).

    The pods are read only while CHECK says "not done": a ready wait costs nothing more.
    """
    first_seen: dict[tuple[str, str, str], float] = {}
    last = [float("-inf")]

    def guarded() -> tuple[bool, str]:
        done, status = check()
        now = clock()
        if done or now - last[0] < every:
            return done, status
        last[0] = now
        found = list_stuck(kind, namespace, label_selector)
        seen = set()
        for s in found:
            key = (s.pod, s.container, s.reason)
            seen.add(key)
            since = first_seen.setdefault(key, now)
            if now - since >= GRACE[s.reason]:
                raise ImageStuck(message(s, getattr(kind, "cluster", None), desc), s)
        for key in list(first_seen):
            if key not in seen:
                del first_seen[key]
        if found:
            s = found[0]
            status = f"{status}; {s.pod}: {s.reason} ({s.image})"
        return done, status

    return guarded


def not_ready(kind: Any, namespace: str, what: str) -> str:
    """Why WHAT (the pods of NAMESPACE) is not ready, from its own pods only: each pod that is not Ready, with its
    node, phase and its containers' waiting reasons (what a wait's timeout says; a pool, say, is not a pod's
    readiness)."""
    lines = []
    for p in kind.core.list_namespaced_pod(namespace).items:
        ready = any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
        if ready or p.metadata.deletion_timestamp:
            continue
        waiting = [f"{c.name}: {c.state.waiting.reason}" for c in (p.status.container_statuses or [])
                   if c.state and c.state.waiting]
        lines.append(f"pod {p.metadata.name} on {p.spec.node_name or 'no node yet'}: {p.status.phase}"
                     + (f" ({', '.join(waiting)})" if waiting else ""))
    head = (f"{what}'s pods that are not Ready:\n" + "\n".join(lines) if lines else
            f"every {what} pod is Ready; its Deployment or DaemonSet has not caught up yet")
    return f"{head}\n`kubectl -n {namespace} describe pods` shows their events"
