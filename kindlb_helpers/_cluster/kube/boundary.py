"""Error translation: the Kubernetes client's and urllib3's exceptions become kindlb's, once, here.

This is the only module that names the client's exception classes (``ApiException``, ...): everything
else catches :class:`KubeAPIError` (with ``.status``), :class:`ClusterUnreachable` or :class:`ClusterNotFound`.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Any, Iterator

from ..._core.errors import ClusterNotFound, ClusterUnreachable, KindlbError, KubeAPIError

#: The cluster a tutorial uses when none is named.
DEFAULT_CLUSTER = "kindlb"


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


def status_hint(status: int | None, cluster: str) -> str:
    """What to do about an API error with this HTTP status."""
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


def unreachable(cluster: str, host: str | None, cause: BaseException | str) -> ClusterUnreachable:
    """ClusterUnreachable for kind cluster CLUSTER at HOST, with a short reason (CAUSE, or the reason it says)."""
    short = cause if isinstance(cause, str) else _why(cause)
    return ClusterUnreachable(
        f"the API server of kind cluster {cluster!r} ({host or 'unknown address'}) does not answer ({short}): "
        f"is the cluster running? `docker ps` should list {cluster}-control-plane, `kind get clusters` lists "
        "the clusters; start Docker or re-create the cluster, then re-run this cell"
    )


@contextmanager
def translate(what: str, cluster: str = DEFAULT_CLUSTER, host: str | None = None) -> Iterator[None]:
    """Turn the Kubernetes client's and urllib3's exceptions into kindlb's, keeping the cause.

    ``what`` names the action for the message ("read deployment metallb-system/controller").

    >>> from kindlb_helpers._core.errors import KindlbError
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
            raise unreachable(cluster, host, exc) from exc
        reason = getattr(exc, "reason", None)
        msg = f"{what}: the API server of kind-{cluster} answered {status} {reason or ''}".rstrip()
        detail = _api_message(exc)
        if detail:
            msg += f" ({detail})"
        raise KubeAPIError(f"{msg}: {status_hint(status, cluster)}", status=status, reason=reason,
                           body=getattr(exc, "body", None)) from exc
    except ResourceNotFoundError as exc:
        raise KubeAPIError(
            f"{what}: kind-{cluster} does not serve that kind of object ({exc}): install what defines it "
            "(e.g. MetalLB's CRDs, notebook 02_install_metallb) first", status=404, reason="Not Found") from exc
    except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
        raise unreachable(cluster, host, exc) from exc
    except ConfigException as exc:
        raise ClusterNotFound(
            f"the kubeconfig entry for kind-{cluster} cannot be used ({exc}): write it again with "
            f"`kind export kubeconfig --name {cluster}`, or re-create the cluster"
        ) from exc


class Translated:
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
