"""Quick looks with the standard library alone, for the check every notebook starts with: Docker's version, and
GETs to the kind context's API server read as the client's objects.

Importing the kubernetes client's typed APIs costs a notebook's kernel more than a second and the Docker SDK a
fifth of one; the first cell needs three answers, so it asks for them directly, each bounded by (connect, read)
timeouts. :func:`light` gives a :class:`Kind`-like handle whose ``core``/``apps`` answer the few reads the checks
make (``read_namespaced_deployment``, ``read_namespaced_daemon_set``, ``list_namespaced_pod``, ``get_code``) with
plain JSON seen through the client's attribute names, so that :mod:`.metallb`'s readiness reads it unchanged.
Only the context ``kind-<cluster>`` is contacted. A kubeconfig entry this module cannot use (an ``exec`` or
``auth-provider`` user) gives None, and the caller uses the client.
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import socket
import ssl
import tempfile
import threading
import urllib.parse
from pathlib import Path
from typing import Any

from .._core.errors import ClusterUnreachable, DockerUnavailable, KubeAPIError
from .kube.boundary import status_hint, unreachable
from .kube.client import PROBE_TIMEOUT, pinned_context

#: The Docker engine's default address.
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket, with a connect timeout apart from the read timeout."""

    def __init__(self, path: str, timeout: tuple[float, float]) -> None:
        super().__init__("localhost", timeout=timeout[1])
        self._path, self._connect = path, timeout[0]

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self._connect)
        sock.connect(self._path)
        sock.settimeout(self.timeout)
        self.sock = sock


class _TCPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, timeout: tuple[float, float]) -> None:
        super().__init__(host, port, timeout=timeout[1])
        self._connect = timeout[0]

    def connect(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), self._connect)
        self.sock.settimeout(self.timeout)


def docker_version(timeout: tuple[float, float] = PROBE_TIMEOUT) -> str | None:
    """The engine's version (``GET /version``) at DOCKER_HOST (unix:// or plain tcp://); None for any other
    DOCKER_HOST (ssh://, TLS), which the SDK must serve. DockerUnavailable, with what to do, when it does not
    answer within ``timeout`` (connect, read) seconds."""
    got = docker_get("/version", timeout)
    if got is None:
        return None
    status, body = got
    url = os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    if status != 200:
        raise DockerUnavailable(f"Docker at {url} answered {status} to GET /version: restart the Docker "
                                "daemon, then re-run this cell")
    try:
        return str(json.loads(body).get("Version", "?"))
    except ValueError:
        return "?"


def image_present(ref: str, timeout: tuple[float, float] = PROBE_TIMEOUT) -> bool | None:
    """Whether Docker holds image REF (``GET /images/REF/json``); None when DOCKER_HOST needs the SDK."""
    got = docker_get(f"/images/{urllib.parse.quote(ref, safe='')}/json", timeout)
    return None if got is None else got[0] == 200


def docker_get(path: str, timeout: tuple[float, float]) -> tuple[int, bytes] | None:
    """(status, body) of GET PATH at DOCKER_HOST; None for a DOCKER_HOST only the SDK serves."""
    url = os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "unix":
        conn: http.client.HTTPConnection = _UnixConnection(parts.path, timeout)
    elif parts.scheme == "tcp" and not os.environ.get("DOCKER_TLS_VERIFY") and parts.hostname:
        conn = _TCPConnection(parts.hostname, parts.port or 2375, timeout)
    else:
        return None
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
    except (TimeoutError, socket.timeout) as exc:
        raise DockerUnavailable(f"Docker at {url} did not answer within {sum(timeout):g} s: check DOCKER_HOST "
                                "(unset it to use the local socket), or restart the Docker daemon") from exc
    except OSError as exc:
        raise DockerUnavailable(f"Docker is not reachable at {url}: start Docker (e.g. `sudo systemctl start "
                                f"docker`, or `dockerd &`), then re-run this cell ({type(exc).__name__}: {exc})"
                                ) from exc
    finally:
        conn.close()
    return resp.status, body


# ---------- the kind context's API server, read with the standard library ----------

def _camel(name: str) -> str:
    """The JSON key of the client's attribute name: ``observed_generation`` -> ``observedGeneration``."""
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


#: Fields the client's models type as ``Dict[str, str]`` (a plain dict there, and here): a selector's
#: ``matchLabels``, ``labels``, ``annotations``, ``nodeSelector``, a ConfigMap's ``data``; a Service's ``selector``
#: is one too (a workload's ``selector`` is an object with ``matchLabels``: only a mapping of strings counts).
MAPS = frozenset({"labels", "annotations", "matchLabels", "nodeSelector", "data", "binaryData", "stringData"})


class View:
    """A JSON object seen through the client's attribute names (``dep.status.observed_generation``); a missing
    field is None, and a map-typed field (labels, annotations, matchLabels, ...) a plain dict, as in the client's
    models."""

    def __init__(self, data: dict) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        key = _camel(name)
        value = self._data.get(key)
        if isinstance(value, dict) and (key in MAPS or (key == "selector" and all(
                isinstance(v, str) for v in value.values()))):
            return dict(value)
        return _view(value)

    def to_dict(self) -> dict:
        return self._data


def _view(value: Any) -> Any:
    if isinstance(value, dict):
        return View(value)
    if isinstance(value, list):
        return [_view(v) for v in value]
    return value


def _kubeconfig_entry(context: str, kubeconfig: str) -> tuple[dict, dict] | None:
    """(cluster, user) of CONTEXT in the kubeconfig files (first one wins, as kubectl merges), or None."""
    import yaml

    docs = []
    for part in (p for p in kubeconfig.split(os.pathsep) if p):
        try:
            data = yaml.safe_load(Path(part).expanduser().read_text()) or {}
        except (OSError, ValueError, yaml.YAMLError):
            continue
        if isinstance(data, dict):
            docs.append(data)

    def first(kind: str, name: str) -> dict | None:
        for d in docs:
            for item in d.get(kind) or []:
                if isinstance(item, dict) and item.get("name") == name:
                    return item.get(kind[:-1]) or {}
        return None

    ctx = first("contexts", context)
    if not isinstance(ctx, dict):
        return None
    cluster, user = first("clusters", ctx.get("cluster")), first("users", ctx.get("user"))
    return (cluster, user) if isinstance(cluster, dict) and isinstance(user, dict) else None


class Api:
    """GETs to one API server with the kubeconfig's CA, client certificate or token; JSON back."""

    def __init__(self, cluster: str, server: str, ctx: ssl.SSLContext | None, headers: dict,
                 timeout: tuple[float, float]) -> None:
        self.cluster, self.host, self._ssl, self._headers, self._timeout = cluster, server, ctx, headers, timeout
        self._url = urllib.parse.urlsplit(server)

    def get(self, path: str, what: str) -> dict:
        """GET PATH; the JSON answer. ClusterUnreachable when the server does not answer, KubeAPIError otherwise."""
        u = self._url
        port = u.port or (443 if u.scheme == "https" else 80)
        if u.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(u.hostname, port, context=self._ssl,
                                                                           timeout=self._timeout[1])
        else:
            conn = http.client.HTTPConnection(u.hostname, port, timeout=self._timeout[1])
        try:
            try:
                conn.sock = socket.create_connection((u.hostname, port), self._timeout[0])
            except TimeoutError as exc:
                raise unreachable(self.cluster, self.host, "connecting timed out") from exc
            except ConnectionRefusedError as exc:
                raise unreachable(self.cluster, self.host, "connection refused") from exc
            conn.sock.settimeout(self._timeout[1])
            if u.scheme == "https":
                conn.sock = self._ssl.wrap_socket(conn.sock, server_hostname=u.hostname)
            conn.request("GET", (u.path.rstrip("/") + path), headers=self._headers)
            resp = conn.getresponse()
            body = resp.read()
        except TimeoutError as exc:
            raise unreachable(self.cluster, self.host, "connected, but no answer in time") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise unreachable(self.cluster, self.host, f"{type(exc).__name__}: {exc}".splitlines()[0][:160]) from exc
        finally:
            conn.close()
        if resp.status >= 400:
            try:
                detail = json.loads(body).get("message") or ""
            except (ValueError, AttributeError):
                detail = body.decode(errors="replace").strip()[:300]
            msg = f"{what}: the API server of kind-{self.cluster} answered {resp.status} {resp.reason}".rstrip()
            raise KubeAPIError(f"{msg}{f' ({detail})' if detail else ''}: {status_hint(resp.status, self.cluster)}",
                               status=resp.status, reason=resp.reason, body=body)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ClusterUnreachable(f"the API server of kind cluster {self.cluster!r} ({self.host}) answered "
                                     f"{path} with no JSON: is {self.host} a Kubernetes API server?") from exc


def _ssl_context(cluster: dict, user: dict) -> ssl.SSLContext | None:
    """The TLS context the kubeconfig describes, or None when it needs more than files and data (then the
    client is used)."""
    # create_default_context() would load the system's CA store (40 ms of a first cell) that a kubeconfig
    # naming its own CA never uses: the same defaults (TLS client, hostname checked, certificate required),
    # with the system store loaded only when the kubeconfig names no CA
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cluster.get("insecure-skip-tls-verify"):
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    elif cluster.get("certificate-authority-data"):
        ctx.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    elif cluster.get("certificate-authority"):
        ctx.load_verify_locations(cafile=os.path.expanduser(cluster["certificate-authority"]))
    else:
        ctx.load_default_certs()
    cert, key = user.get("client-certificate-data"), user.get("client-key-data")
    if cert and key:
        with tempfile.TemporaryDirectory(prefix="kindlb-tls-") as tmp:  # load_cert_chain reads files only
            paths = []
            for name, data in (("cert", cert), ("key", key)):
                path = os.path.join(tmp, name)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(base64.b64decode(data))
                paths.append(path)
            ctx.load_cert_chain(*paths)
    elif user.get("client-certificate") and user.get("client-key"):
        ctx.load_cert_chain(os.path.expanduser(user["client-certificate"]), os.path.expanduser(user["client-key"]))
    return ctx


#: api()'s answers by (cluster, timeout, kubeconfig files as they are now): the checks of one first cell ask twice
#: (context, metallb), side by side; a kubeconfig whose bytes changed since is read again
_APIS: dict[tuple, Api | None] = {}
_APIS_LOCK = threading.Lock()


def _kubeconfig_stamp() -> tuple:
    """The kubeconfig file(s) :func:`pinned_context` reads, each with a digest of its bytes now (reading a few
    kilobytes costs microseconds; parsing them, and a TLS context, milliseconds)."""
    paths = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    stamp = []
    for part in (p for p in paths.split(os.pathsep) if p):
        try:
            stamp.append((part, hashlib.sha256(Path(part).expanduser().read_bytes()).digest()))
        except OSError:
            stamp.append((part, None))
    return paths, tuple(stamp)


def api(cluster: str, timeout: tuple[float, float] = PROBE_TIMEOUT) -> Api | None:
    """The kind context's API server for GETs with the standard library; None when the kubeconfig's user needs
    the client (``exec``, ``auth-provider``, a username). ClusterNotFound when the context is not there.
    Read once per process while the kubeconfig stays as it is."""
    key = (cluster, tuple(timeout), _kubeconfig_stamp())
    with _APIS_LOCK:  # the second caller waits for the first's answer instead of reading it all again
        if key not in _APIS:
            if len(_APIS) > 16:
                _APIS.clear()
            _APIS[key] = _api(cluster, timeout)
        return _APIS[key]


def _api(cluster: str, timeout: tuple[float, float]) -> Api | None:
    context, kubeconfig = pinned_context(cluster)
    entry = _kubeconfig_entry(context, kubeconfig)
    if entry is None:
        return None
    cl, user = entry
    if any(k in user for k in ("exec", "auth-provider", "username", "password")) or not cl.get("server"):
        return None
    try:
        url = urllib.parse.urlsplit(str(cl["server"]))
        if url.scheme not in ("http", "https") or not url.hostname:
            return None
        url.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        return None  # the client reads it and says what is wrong
    headers = {"Accept": "application/json", "User-Agent": "kindlb"}
    token = user.get("token")
    if not token and user.get("tokenFile"):
        try:
            token = Path(user["tokenFile"]).expanduser().read_text().strip()
        except OSError:
            return None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        ctx = _ssl_context(cl, user) if str(cl["server"]).startswith("https") else None
    except (OSError, ValueError, ssl.SSLError):
        return None  # the client reads it and says what is wrong
    return Api(cluster, str(cl["server"]), ctx, headers, timeout)


class _Reads:
    """The few reads of CoreV1Api/AppsV1Api/VersionApi the checks make, answered by :class:`Api`."""

    def __init__(self, server: Api) -> None:
        self._api = server

    def get_code(self, **_: Any) -> View:
        return View(self._api.get("/version", "read the API server's version"))

    def read_namespaced_deployment(self, name: str, namespace: str) -> View:
        return View(self._api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
                                  f"read deployment {namespace}/{name}"))

    def read_namespaced_daemon_set(self, name: str, namespace: str) -> View:
        return View(self._api.get(f"/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}",
                                  f"read daemonset {namespace}/{name}"))

    def list_namespaced_pod(self, namespace: str, label_selector: str = "") -> View:
        query = f"?labelSelector={urllib.parse.quote(label_selector)}" if label_selector else ""
        return View(self._api.get(f"/api/v1/namespaces/{namespace}/pods{query}", f"list pods in {namespace}"))

    def read_namespaced_config_map(self, name: str, namespace: str) -> View:
        return View(self._api.get(f"/api/v1/namespaces/{namespace}/configmaps/{name}",
                                  f"read configmap {namespace}/{name}"))

    def list_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str) -> dict:
        """Plain JSON, as CustomObjectsApi gives it."""
        return self._api.get(f"/apis/{group}/{version}/namespaces/{namespace}/{plural}",
                             f"list {plural}.{group} in {namespace}")


class Light:
    """A :class:`~kindlb_helpers._cluster.kube.Kind`-like handle for the checks: ``core``, ``apps``, ``custom``
    and ``version`` answer the reads above (MetalLB's readiness and its pools, both eras), nothing else."""

    def __init__(self, server: Api) -> None:
        self.cluster, self.host = server.cluster, server.host
        self.context = f"kind-{server.cluster}"
        self.core = self.apps = self.custom = self.version = _Reads(server)


def light(cluster: str, timeout: tuple[float, float] = PROBE_TIMEOUT) -> Light | None:
    """:class:`Light` for kind cluster CLUSTER, or None when the client must be used (see :func:`api`)."""
    server = api(cluster, timeout)
    return Light(server) if server is not None else None


