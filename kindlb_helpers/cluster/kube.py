"""Kubernetes access pinned to one kind cluster, and applying objects idempotently.

Every function takes a :class:`Kind` handle, made by :func:`connect`, which only ever talks to
the kube context ``kind-<cluster>``. Any other context is refused unless the caller passes
``allow_other_context=True`` explicitly: a tutorial must never touch a production cluster.
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from ..core import hood as _hood
from ..core.errors import ClusterNotFound, ClusterUnreachable, KindlbError, KubeAPIError, WrongContext
from ..core.objects import kind_config  # noqa: F401  (pure data, re-exported)
from .commands import run
from .kind import kind as _kind
from .kind import kind_binary, kind_clusters  # noqa: F401  (re-exported; cluster/kind.py is the one finder)
from .kubeconfig import (  # noqa: F401  (re-exported: kube.kubeconfig_path, ...)
    context_names,
    current_context,
    has_context,
    kind_context,
    kubeconfig_path,
    merge_kubeconfig,
    write_context,
)

FIELD_MANAGER = "kindlb"
DEFAULT_CLUSTER = "kindlb"
#: (connect, read) seconds for a request that gives no timeout of its own; watches and log follows get none.
DEFAULT_TIMEOUT = (5.0, 60.0)
#: For look-ups that must not stall on a dead cluster (the checks, other clusters' pools).
PROBE_TIMEOUT = (2.0, 3.0)
#: Seconds a wait gives the API server to answer /version before it waits for anything else.
API_FIRST = 4.0


# ---------- errors, translated once at this boundary ----------

def _api_message(exc) -> str:
    """The Status message from an API error body, else its reason."""
    body = getattr(exc, "body", None)
    if body:
        try:
            import json

            return json.loads(body).get("message") or str(body)[:300]
        except (ValueError, AttributeError):
            return str(body).strip()[:300]
    return str(getattr(exc, "reason", "") or "").strip()


def _status_hint(status: int | None, cluster: str) -> str:
    if status in (401, 403):
        return (f"the credentials for kind-{cluster} are refused: write them again with "
                f"`kind export kubeconfig --name {cluster}` (this also makes it the current context)")
    if status == 404:
        return "it does not exist (yet): check the name and namespace, or create it first"
    if status == 409:
        return "it conflicts with what is there: wait a moment and re-run this cell"
    if status in (400, 422):
        return "the API server refused the object as invalid: fix the value it names"
    if status is not None and status >= 500:
        return "the API server (or a webhook behind it) is not ready: wait a moment and re-run this cell"
    return "see the message above"


def _why(cause: BaseException) -> str:
    """A short reason for a failed connection: refused, timed out, or the client's own words."""
    import urllib3.exceptions as u3

    inner = getattr(cause, "reason", None) if isinstance(cause, u3.MaxRetryError) else cause
    inner = inner if isinstance(inner, BaseException) else cause
    if isinstance(inner, u3.ConnectTimeoutError):
        return "connecting timed out"
    if isinstance(inner, (u3.ReadTimeoutError, TimeoutError)):
        return "connected, but no answer in time"
    if isinstance(inner, (u3.NewConnectionError, ConnectionRefusedError)):
        return "connection refused"
    if isinstance(inner, u3.ProtocolError):
        return "the connection broke"
    return f"{type(inner).__name__}: {inner}".splitlines()[0][:160]


def _unreachable(cluster: str, host: str | None, cause: BaseException) -> ClusterUnreachable:
    short = _why(cause)
    return ClusterUnreachable(
        f"the API server of kind cluster {cluster!r} ({host or 'unknown address'}) does not answer ({short}): "
        f"is the cluster running? `docker ps` should list {cluster}-control-plane, `kind get clusters` lists "
        "the clusters; start Docker or re-create the cluster, then re-run this cell"
    )


@contextmanager
def translate(what: str, cluster: str = DEFAULT_CLUSTER, host: str | None = None) -> Iterator[None]:
    """Turn the Kubernetes client's and urllib3's exceptions into kindlb's, keeping the cause.

    ``what`` names the action for the message ("read deployment metallb-system/controller").

    >>> from kindlb_helpers.core.errors import KindlbError
    >>> with translate("demo"):
    ...     pass
    """
    import urllib3.exceptions
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError

    try:
        yield
    except KindlbError:
        raise
    except (ApiException, DynamicApiError) as exc:
        status = getattr(exc, "status", None)
        if not status:  # status 0: the client's own wrapper around TLS/connection failures
            raise _unreachable(cluster, host, exc) from exc
        reason = getattr(exc, "reason", None)
        msg = f"{what}: the API server of kind-{cluster} answered {status} {reason or ''}".rstrip()
        detail = _api_message(exc)
        if detail:
            msg += f" ({detail})"
        raise KubeAPIError(f"{msg}: {_status_hint(status, cluster)}", status=status, reason=reason,
                           body=getattr(exc, "body", None)) from exc
    except ResourceNotFoundError as exc:
        raise KubeAPIError(
            f"{what}: kind-{cluster} does not serve that kind of object ({exc}): install what defines it "
            "(e.g. MetalLB's CRDs, notebook 02_install_metallb) first", status=404, reason="Not Found") from exc
    except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
        raise _unreachable(cluster, host, exc) from exc
    except ConfigException as exc:
        raise ClusterNotFound(
            f"the kubeconfig entry for kind-{cluster} cannot be used ({exc}): write it again with "
            f"`kind export kubeconfig --name {cluster}`, or re-create the cluster"
        ) from exc


class _Translated:
    """A typed API object (CoreV1Api, ...) whose every method call goes through :func:`translate`."""

    def __init__(self, target: Any, cluster: str, host: str | None) -> None:
        self._target, self._cluster, self._host = target, cluster, host

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value) or name.startswith("_"):
            return value

        @functools.wraps(value)
        def call(*args: Any, **kwargs: Any) -> Any:
            with translate(name.replace("_", " "), self._cluster, self._host):
                return value(*args, **kwargs)

        return call


def _with_default_timeout(api: Any, timeout: tuple[float, float] | float | None) -> None:
    """Give every plain request of ``api`` a connect+read timeout; watches and follows keep theirs (none)."""
    rest = api.rest_client
    inner = rest.request

    def request(method, url, *args, **kwargs):
        query = kwargs.get("query_params") or []
        streaming = ("watch=true" in str(url).lower() or "follow=true" in str(url).lower()
                     or any(k in ("watch", "follow") and v for k, v in query))
        if kwargs.get("_request_timeout") is None and timeout is not None and not streaming:
            kwargs["_request_timeout"] = timeout
        return inner(method, url, *args, **kwargs)

    rest.request = request


@dataclass
class Kind:
    """A handle on one kind cluster: its name, context and API client.

    Every API call made through ``core``, ``apps``, ``custom``, ``dynamic`` or :meth:`typed` raises
    kindlb's errors (:class:`KubeAPIError` with ``.status``, :class:`ClusterUnreachable`), never the
    client's own.
    """

    cluster: str
    context: str
    api: Any = field(repr=False)
    kubeconfig: str | None = None
    _dynamic: Any = field(default=None, repr=False)

    @property
    def host(self) -> str | None:
        """The API server's URL."""
        return getattr(getattr(self.api, "configuration", None), "host", None)

    def typed(self, api_class: Any) -> Any:
        """``api_class(self.api)`` (e.g. ``kubernetes.client.RbacAuthorizationV1Api``) with translated errors."""
        return _Translated(api_class(self.api), self.cluster, self.host)

    @property
    def core(self):
        """CoreV1Api for this cluster."""
        from kubernetes import client

        return self.typed(client.CoreV1Api)

    @property
    def apps(self):
        """AppsV1Api for this cluster."""
        from kubernetes import client

        return self.typed(client.AppsV1Api)

    @property
    def custom(self):
        """CustomObjectsApi for this cluster."""
        from kubernetes import client

        return self.typed(client.CustomObjectsApi)

    @property
    def dynamic(self):
        """A DynamicClient for this cluster (API discovery cached until :meth:`refresh_discovery`)."""
        if self._dynamic is None:
            with translate("discover the API", self.cluster, self.host):
                self._dynamic = _dynamic_client(self.api, self.cluster, self.host)
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
        return run(cmd + list(args), what=f"kubectl {' '.join(args)}", input=input, timeout=timeout,
                   check=check).stdout


def _dynamic_client(api: Any, cluster: str, host: str | None) -> Any:
    from kubernetes.dynamic import DynamicClient

    class TranslatedDynamicClient(DynamicClient):
        def request(self, method, path, body=None, **params):
            with translate(f"{method} {path}", cluster, host):
                return super().request(method, path, body=body, **params)

    return TranslatedDynamicClient(api)


def connect(
    cluster: str = DEFAULT_CLUSTER,
    *,
    context: str | None = None,
    kubeconfig: str | None = None,
    allow_other_context: bool = False,
    timeout: tuple[float, float] | float | None = DEFAULT_TIMEOUT,
    retries: int | None = None,
) -> Kind:
    """A client for kind cluster ``cluster``, pinned to the context ``kind-<cluster>``.

    ``timeout`` is the (connect, read) seconds of every request that sets none (watches excepted);
    ``retries`` (urllib3's) is set before the client exists: pass 0 for quick look-ups.
    Reading the kubeconfig opens no connection.

    >>> k = connect("kindlb")          # doctest: +SKIP
    >>> k.context                      # doctest: +SKIP
    'kind-kindlb'
    """
    from kubernetes import config
    from kubernetes.client import ApiClient, Configuration

    expected = kind_context(cluster)
    wanted = context or expected
    # the client reads $KUBECONFIG once, at import; read it now, as kubectl would
    kubeconfig = kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    if wanted != expected and not allow_other_context:
        raise WrongContext(
            f"refusing context {wanted!r}: this tutorial only talks to kind cluster {cluster!r} "
            f"(context {expected!r}). Pass allow_other_context=True only if you really mean to use {wanted!r}."
        )
    # read the context names ourselves: the client's lister insists on a current-context, which a
    # kubeconfig lacks after `kind delete cluster` removed the current one (kubectl copes, so must we)
    names, reason = context_names(kubeconfig)
    if wanted not in names:
        raise ClusterNotFound(
            f"kube context {wanted!r} not found{reason}: create the cluster with "
            f"`kind create cluster --name {cluster}` (or run notebook 00_prerequisites); if it exists, "
            f"`kind export kubeconfig --name {cluster}` writes the context"
        )
    cfg = type.__call__(Configuration)  # a fresh one, not a copy of the process-wide default
    if retries is not None:
        cfg.retries = retries
    with translate(f"load kube context {wanted}", cluster):
        # load into our Configuration (retries already set), then build the client: works on kubernetes>=28
        try:
            config.load_kube_config(config_file=kubeconfig, context=wanted, client_configuration=cfg,
                                    persist_config=False)
        except (ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError) as exc:  # the client's own parse
            raise ClusterNotFound(
                f"the kubeconfig entry for {wanted} in {kubeconfig[:200]} cannot be read ({type(exc).__name__}: "
                f"{str(exc)[:80]}): write it again with `kind export kubeconfig --name {cluster}`"
            ) from exc
        api = ApiClient(configuration=cfg)
    if retries is not None:
        api.configuration.retries = retries
    _with_default_timeout(api, timeout)
    return Kind(cluster=cluster, context=wanted, api=api,
                kubeconfig=kubeconfig if os.pathsep not in kubeconfig else None)


class Ensured(tuple):
    """``(created, message)`` from :func:`ensure_cluster`, plus ``context_changed``, ``previous_context``
    and ``hood`` (the ``kind`` command and config file, or the checks a reuse amounts to)."""

    def __new__(cls, created: bool, message: str, context_changed: bool = False,
                previous_context: str | None = None, hood=None) -> "Ensured":
        self = super().__new__(cls, (created, message))
        self.created, self.message = created, message
        self.context_changed, self.previous_context = context_changed, previous_context
        self.hood = hood
        return self

    def _repr_html_(self) -> str:
        import html

        lines = self.message.strip().splitlines()
        shown = "\n".join(lines[-6:])
        return (f"<div><b>{'created' if self.created else 'reused'}</b><pre>{html.escape(shown)}</pre></div>"
                + (self.hood._repr_html_() if self.hood else ""))


def ensure_cluster(
    cluster: str = DEFAULT_CLUSTER,
    *,
    workers: int = 2,
    image: str | None = None,
    wait: str = "180s",
) -> Ensured:
    """Create kind cluster ``cluster`` unless it exists. Returns (created, message).

    Reusing a cluster leaves the kubeconfig's current context as it was (a missing
    ``kind-<cluster>`` context is written beside the others). Creating one lets kind make
    ``kind-<cluster>`` the current context, as ``kind create cluster`` always does; the result's
    ``context_changed`` and the message say so.
    """
    before = current_context()
    if cluster in kind_clusters():
        note = ""
        if not has_context(cluster):
            write_context(cluster)
            note = f"; wrote its context kind-{cluster} (your current context is unchanged)"
        return Ensured(False, f"kind cluster {cluster!r} exists: reusing it{note}", False, before,
                       _hood.reuse_cluster_steps(cluster))
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        fh.write(kind_config(workers))
    args = ["create", "cluster", "--name", cluster, "--config", fh.name, "--wait", wait]
    if image:
        args += ["--image", image]
    try:
        out = _kind(*args, timeout=900)
    finally:
        os.unlink(fh.name)
    if out.returncode != 0:
        raise KindlbError(f"kind create cluster --name {cluster} failed:\n{out.stderr.strip()[-3000:]}")
    after = current_context()
    changed = after != before
    text = out.stderr.strip()
    if changed:
        text += (f"\nkind made {after!r} your current kube context (it was {before!r}); "
                 f"`kubectl config use-context {before}` switches back" if before else
                 f"\nkind made {after!r} your current kube context")
    return Ensured(True, text, changed, before, _hood.create_cluster_steps(cluster, kind_config(workers), image, wait))


def delete_cluster(cluster: str) -> bool:
    """Delete kind cluster ``cluster``; False when there was none."""
    if cluster not in kind_clusters():
        return False
    out = _kind("delete", "cluster", "--name", cluster, timeout=300)
    if out.returncode != 0:
        raise KindlbError(f"kind delete cluster --name {cluster} failed: {out.stderr.strip()}")
    return True


# ---------- applying objects ----------

def _resource(kind: Kind, api_version: str, kind_name: str) -> Any:
    """The dynamic client's resource for ``kind_name``; KubeAPIError 404 when the cluster does not serve it."""
    with translate(f"find {kind_name} in {api_version}", kind.cluster, kind.host):
        return kind.dynamic.resources.get(api_version=api_version, kind=kind_name)


def apply(kind: Kind, objects: Iterable[dict], *, namespace: str | None = None) -> list[str]:
    """Server-side apply each object (create or update; re-running changes nothing).

    Returns ``kind/name`` for each object applied.
    """
    done = []
    for obj in objects:
        if not obj:
            continue
        res = _resource(kind, obj["apiVersion"], obj["kind"])
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


def delete_if_there(call, *args, **kwargs) -> bool:
    """``call(*args, **kwargs)`` (a delete); False when the API answers 404 (already gone). The one
    delete-ignoring-404, as :func:`get_or_none` is the one read-ignoring-404."""
    try:
        call(*args, **kwargs)
        return True
    except KubeAPIError as exc:
        if exc.status == 404:
            return False
        raise


def delete(kind: Kind, api_version: str, kind_name: str, name: str, namespace: str | None = None) -> bool:
    """Delete one object; False when it was already gone."""
    return delete_if_there(lambda: _resource(kind, api_version, kind_name).delete(name=name, namespace=namespace))


def served(kind: Kind, api_version: str, kind_name: str) -> bool:
    """Whether the API server serves ``kind_name`` in ``api_version`` (e.g. PodSecurityPolicy)."""
    try:
        _resource(kind, api_version, kind_name)
        return True
    except KubeAPIError as exc:
        if exc.status == 404:
            return False
        raise


def events_for(kind: Kind, name: str, namespace: str, kinds: tuple[str, ...] = ("Service",),
               uid: str | None = None) -> list[dict]:
    """Events about object ``name``, oldest first, as small dicts.

    With ``uid``, only that incarnation's (as ``kubectl describe`` shows them): events outlive a
    deleted object by an hour, and a new object of the same name must not inherit them.
    """
    selector = f"involvedObject.name={name}" + (f",involvedObject.uid={uid}" if uid else "")
    evs = kind.core.list_namespaced_event(namespace, field_selector=selector).items
    out = [
        {
            "type": e.type, "reason": e.reason, "message": (e.message or "").strip(),
            "from": (e.source.component if e.source else None) or e.reporting_component,
            "count": e.count or 1, "kind": e.involved_object.kind,
            # an event seen again is counted, not repeated: its latest sighting is the series' (events API)
            # or last_timestamp (core API); event_time is the FIRST sighting, so it comes last
            "time": ((e.series.last_observed_time if e.series else None) or e.last_timestamp or e.event_time
                     or e.metadata.creation_timestamp),
        }
        for e in evs
        if e.involved_object.kind in kinds
    ]
    return sorted(out, key=lambda e: (e["time"] is None, e["time"] or 0))


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
    deadline = time.monotonic() + timeout
    while True:
        try:
            version.get_code(_request_timeout=request_timeout)
            return
        except KindlbError:
            if time.monotonic() > deadline:
                raise
            time.sleep(interval)


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
    from .waits import Watch, wait_until

    wait_api_ready(kind, timeout=min(timeout, API_FIRST))

    return wait_until(lambda: nodes_ready(kind, expected), timeout=timeout, desc="nodes Ready",
                      progress=progress, interval=interval, watches=[Watch(kind.core.list_node)])


def get_or_none(call, *args, **kwargs):
    """``call(*args, **kwargs)``, or None when the API answers 404 (the object is not there)."""
    try:
        return call(*args, **kwargs)
    except KubeAPIError as exc:
        if exc.status == 404:
            return None
        raise
