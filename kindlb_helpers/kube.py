"""Kubernetes access pinned to one kind cluster, and applying objects idempotently.

Every function takes a :class:`Kind` handle, made by :func:`connect`, which only ever talks to
the kube context ``kind-<cluster>``. Any other context is refused unless the caller passes
``allow_other_context=True`` explicitly: a tutorial must never touch a production cluster.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import yaml

from .errors import ClusterNotFound, KindlbError, WrongContext

FIELD_MANAGER = "kindlb"
DEFAULT_CLUSTER = "kindlb"


def kind_context(cluster: str) -> str:
    """The kube context kind writes for ``cluster``."""
    return f"kind-{cluster}"


@dataclass
class Kind:
    """A handle on one kind cluster: its name, context and API client."""

    cluster: str
    context: str
    api: Any = field(repr=False)
    kubeconfig: str | None = None
    _dynamic: Any = field(default=None, repr=False)

    @property
    def core(self):
        from kubernetes import client

        return client.CoreV1Api(self.api)

    @property
    def apps(self):
        from kubernetes import client

        return client.AppsV1Api(self.api)

    @property
    def custom(self):
        from kubernetes import client

        return client.CustomObjectsApi(self.api)

    @property
    def dynamic(self):
        if self._dynamic is None:
            from kubernetes.dynamic import DynamicClient

            self._dynamic = DynamicClient(self.api)
        return self._dynamic

    def refresh_discovery(self) -> None:
        """Forget cached API discovery (after new CRDs were installed)."""
        self._dynamic = None

    def kubectl(self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120) -> str:
        """Run kubectl against this cluster's context only (for the few things the API lacks)."""
        exe = shutil.which("kubectl")
        if exe is None:
            raise KindlbError("kubectl is not on PATH: install it (https://kubernetes.io/docs/tasks/tools/)")
        cmd = [exe, "--context", self.context]
        if self.kubeconfig:
            cmd += ["--kubeconfig", self.kubeconfig]
        out = subprocess.run(cmd + list(args), input=input, capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise KindlbError(f"kubectl {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout


def connect(
    cluster: str = DEFAULT_CLUSTER,
    *,
    context: str | None = None,
    kubeconfig: str | None = None,
    allow_other_context: bool = False,
) -> Kind:
    """A client for kind cluster ``cluster``, pinned to the context ``kind-<cluster>``.

    >>> k = connect("kindlb")          # doctest: +SKIP
    >>> k.context
    'kind-kindlb'
    """
    from kubernetes import config

    expected = kind_context(cluster)
    wanted = context or expected
    if wanted != expected and not allow_other_context:
        raise WrongContext(
            f"refusing context {wanted!r}: this tutorial only talks to kind cluster {cluster!r} "
            f"(context {expected!r}). Pass allow_other_context=True only if you really mean to use {wanted!r}."
        )
    try:
        contexts, _ = config.list_kube_config_contexts(config_file=kubeconfig)
    except Exception as exc:  # no kubeconfig at all
        contexts = []
        reason = f" ({exc})"
    else:
        reason = ""
    names = [c["name"] for c in contexts or []]
    if wanted not in names:
        raise ClusterNotFound(
            f"kube context {wanted!r} not found{reason}: create the cluster with "
            f"`kind create cluster --name {cluster}` (or run notebook 00_prerequisites); if it exists, "
            f"`kind export kubeconfig --name {cluster}` writes the context"
        )
    api = config.new_client_from_config(config_file=kubeconfig, context=wanted)
    return Kind(cluster=cluster, context=wanted, api=api, kubeconfig=kubeconfig)


# ---------- kind the program ----------

def kind_binary() -> str:
    exe = os.environ.get("KINDLB_KIND") or shutil.which("kind")
    if not exe:
        raise KindlbError(
            "the kind program is not on PATH: install it (go install sigs.k8s.io/kind@v0.30.0, or see "
            "https://kind.sigs.k8s.io/docs/user/quick-start/#installation), or build the offline lab: kindlb lab build"
        )
    return exe


def kind_clusters() -> list[str]:
    """Names of the kind clusters (``kind get clusters``)."""
    out = subprocess.run([kind_binary(), "get", "clusters"], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise KindlbError(f"kind get clusters failed: {out.stderr.strip()}")
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def kind_config(workers: int = 2) -> str:
    """kind's cluster config: one control-plane and ``workers`` workers (the article's shape)."""
    nodes = [{"role": "control-plane"}] + [{"role": "worker"} for _ in range(workers)]
    return yaml.safe_dump({"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "nodes": nodes}, sort_keys=False)


def ensure_cluster(
    cluster: str = DEFAULT_CLUSTER,
    *,
    workers: int = 2,
    image: str | None = None,
    wait: str = "180s",
) -> tuple[bool, str]:
    """Create kind cluster ``cluster`` unless it exists. Returns (created, kind's output)."""
    if cluster in kind_clusters():
        subprocess.run([kind_binary(), "export", "kubeconfig", "--name", cluster], capture_output=True, timeout=60)
        return False, f"kind cluster {cluster!r} exists: reusing it"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        fh.write(kind_config(workers))
    cmd = [kind_binary(), "create", "cluster", "--name", cluster, "--config", fh.name, "--wait", wait]
    if image:
        cmd += ["--image", image]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    finally:
        os.unlink(fh.name)
    if out.returncode != 0:
        raise KindlbError(f"kind create cluster --name {cluster} failed:\n{out.stderr.strip()[-3000:]}")
    return True, out.stderr.strip()


def delete_cluster(cluster: str) -> bool:
    """Delete kind cluster ``cluster``; False when there was none."""
    if cluster not in kind_clusters():
        return False
    out = subprocess.run([kind_binary(), "delete", "cluster", "--name", cluster], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise KindlbError(f"kind delete cluster --name {cluster} failed: {out.stderr.strip()}")
    return True


# ---------- applying objects ----------

def apply(kind: Kind, objects: Iterable[dict], *, namespace: str | None = None) -> list[str]:
    """Server-side apply each object (create or update; re-running changes nothing).

    Returns ``kind/name`` for each object applied.
    """
    done = []
    for obj in objects:
        if not obj:
            continue
        res = kind.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        ns = obj.get("metadata", {}).get("namespace") or (namespace if res.namespaced else None)
        if res.namespaced and ns is None:
            ns = "default"
        kind.dynamic.server_side_apply(
            res, body=obj, name=obj["metadata"]["name"], namespace=ns,
            field_manager=FIELD_MANAGER, force_conflicts=True,
        )
        done.append(f"{obj['kind'].lower()}/{obj['metadata']['name']}")
        if obj["kind"] == "CustomResourceDefinition":
            kind.refresh_discovery()
    return done


def delete(kind: Kind, api_version: str, kind_name: str, name: str, namespace: str | None = None) -> bool:
    """Delete one object; False when it was already gone."""
    from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

    try:
        res = kind.dynamic.resources.get(api_version=api_version, kind=kind_name)
        res.delete(name=name, namespace=namespace)
        return True
    except (NotFoundError, ResourceNotFoundError):
        return False


def served(kind: Kind, api_version: str, kind_name: str) -> bool:
    """Whether the API server serves ``kind_name`` in ``api_version`` (e.g. PodSecurityPolicy)."""
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    try:
        kind.dynamic.resources.get(api_version=api_version, kind=kind_name)
        return True
    except ResourceNotFoundError:
        return False


def events_for(kind: Kind, name: str, namespace: str, kinds: tuple[str, ...] = ("Service",)) -> list[dict]:
    """Events about object ``name``, oldest first, as small dicts."""
    evs = kind.core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
    out = [
        {
            "type": e.type, "reason": e.reason, "message": (e.message or "").strip(),
            "from": (e.source.component if e.source else None) or e.reporting_component,
            "count": e.count or 1, "kind": e.involved_object.kind,
            "time": e.last_timestamp or e.event_time or e.metadata.creation_timestamp,
        }
        for e in evs
        if e.involved_object.kind in kinds
    ]
    return sorted(out, key=lambda e: (e["time"] is None, e["time"] or 0))


def wait_api_ready(kind: Kind, timeout: float = 60) -> None:
    """Poll /version until the API server answers."""
    from kubernetes import client

    deadline = time.monotonic() + timeout
    while True:
        try:
            client.VersionApi(kind.api).get_code()
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise ClusterNotFound(
                    f"the API server of kind cluster {kind.cluster!r} does not answer ({exc}): is the cluster "
                    f"running? `docker ps` should list {kind.cluster}-control-plane; `kind get clusters` lists clusters"
                ) from exc
            time.sleep(1)


def nodes_ready(kind: Kind, expected: int | None = None) -> tuple[bool, str]:
    """(all ready, text): every node Ready, and at least ``expected`` of them when given."""
    nodes = kind.core.list_node().items
    ready = [n.metadata.name for n in nodes
             if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]
    want = max(expected or 0, len(nodes))
    return len(nodes) > 0 and len(ready) == want, f"{len(ready)}/{want} nodes Ready"


def wait_nodes_ready(kind: Kind, expected: int | None = None, timeout: float = 180, progress: bool = True) -> str:
    """Wait until the cluster has ``expected`` nodes and all are Ready."""
    from .waits import wait_until

    return wait_until(lambda: nodes_ready(kind, expected), timeout=timeout, desc="nodes Ready",
                      progress=progress, interval=2)


def get_or_none(call, *args, **kwargs):
    """``call(*args, **kwargs)``, or None when the API answers 404 (the object is not there)."""
    from kubernetes.client.exceptions import ApiException

    try:
        return call(*args, **kwargs)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
