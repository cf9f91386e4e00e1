"""The client: a :class:`Kind` handle on one kind cluster, pinned to its context, with timeouts.

Every function takes a :class:`Kind` handle, made by :func:`connect`, which only ever talks to
the kube context ``kind-<cluster>``. Any other context is refused unless the caller passes
``allow_other_context=True`` explicitly: a tutorial must never touch a production cluster.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..._core.errors import ClusterNotFound, KindlbError, WrongContext
from ..._core.hood import kubectl_args
from ..commands import run
from ..kubeconfig import context_names, kind_context
from .boundary import DEFAULT_CLUSTER, Translated, translate

#: (connect, read) seconds for a request that gives no timeout of its own; watches and log follows get none.
DEFAULT_TIMEOUT = (5.0, 60.0)
#: For look-ups that must not stall on a dead cluster (the checks, other clusters' pools).
PROBE_TIMEOUT = (2.0, 3.0)


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
        return Translated(api_class(self.api), self.cluster, self.host)

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
        cmd = [exe, *kubectl_args(self.context, *args, kubeconfig=self.kubeconfig)[1:]]
        return run(cmd, what=f"kubectl {' '.join(args)}", input=input, timeout=timeout,
                   check=check).stdout


def _dynamic_client(api: Any, cluster: str, host: str | None) -> Any:
    from kubernetes.dynamic import DynamicClient

    class TranslatedDynamicClient(DynamicClient):
        def request(self, method, path, body=None, **params):
            with translate(f"{method} {path}", cluster, host):
                return super().request(method, path, body=body, **params)

    return TranslatedDynamicClient(api)


def pinned_context(cluster: str, *, context: str | None = None, kubeconfig: str | None = None,
                   allow_other_context: bool = False) -> tuple[str, str]:
    """(the context, the kubeconfig path(s)) that :func:`connect` uses for CLUSTER: ``kind-<cluster>`` unless
    another is allowed explicitly, read from $KUBECONFIG or ~/.kube/config as kubectl would. WrongContext or
    ClusterNotFound, with what to do, otherwise. Nothing is contacted."""
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
    return wanted, kubeconfig


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

    wanted, kubeconfig = pinned_context(cluster, context=context, kubeconfig=kubeconfig,
                                        allow_other_context=allow_other_context)
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
