"""Install MetalLB, wait for it, configure its pools, and explain what is wrong when it is stuck."""
from __future__ import annotations

import base64
import secrets
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from .._core import hood as _hood
from .._core.errors import KindlbError, KubeAPIError, MetalLBError
from .._core.manifests import (
    DEFAULT_VERSION,
    NAMESPACE,
    manifest_url,
    metallb_manifests,
)
from .._core.pool import PoolRange, Reserved
from .._core.release import fact, release
from .._core.versions import METALLB_CHOICES
from .kube import PROBE_TIMEOUT, Kind, connect, delete_if_there, get_or_none, is_ready, served, server_side_apply
from .stuck import guard, not_ready
from .waits import Watch, wait_until

POOL_ANNOTATION = "metallb.io/ip-allocated-from-pool"
#: Where MetalLB records a Service's pool: ``metallb.universe.tf/`` from v0.13.9, ``metallb.io/`` from v0.14.9
#: (release notes of both); v0.12.1 records none.
POOL_ANNOTATIONS = (POOL_ANNOTATION, "metallb.universe.tf/ip-allocated-from-pool")


def check_known_version(version: str) -> str:
    """``version`` when the notebooks know it; otherwise a MetalLBError naming the ones that work.

    >>> check_known_version("v0.12.1")
    'v0.12.1'
    """
    wanted = release(version)
    if wanted.known:
        return wanted.tag
    raise MetalLBError(f"MetalLB {version} is not one the notebooks know: {METALLB_CHOICES}")


def _read_source(version: str, source: str | Path | None) -> tuple[list[dict], list[str]]:
    """The install objects of ``version`` from its URL (online) or a local file/folder (offline)."""
    texts = []
    if source is None:
        for url in manifest_url(version):
            try:
                with urllib.request.urlopen(url, timeout=30) as resp:
                    texts.append(resp.read().decode())
            except OSError as exc:
                raise MetalLBError(
                    f"could not download the MetalLB {version} manifest from {url} ({exc}): without internet, "
                    "pass a local copy as the manifest source (for the offline lab: `kindlb lab env` prints it)"
                ) from exc
        where = list(manifest_url(version))
    else:
        path = Path(source).expanduser()
        if path.is_dir():
            candidates = [path / "metallb-native.yaml", path / version / "metallb-native.yaml",
                          path / "namespace.yaml", path / "metallb.yaml"]
            files = [p for p in candidates if p.is_file()]
            if not files:
                raise MetalLBError(f"{path} holds no metallb-native.yaml (or namespace.yaml + metallb.yaml) "
                                   f"for MetalLB {version}")
        elif path.is_file():
            files = [path]
        else:
            raise MetalLBError(f"MetalLB manifest source {path} does not exist: give a file or a folder, "
                               "or None to download")
        texts = [p.read_text() for p in files]
        where = [str(p) for p in files]
    objects = [o for t in texts for o in yaml.safe_load_all(t) if o]
    return objects, where


def _order(obj: dict) -> int:
    return {"Namespace": 0, "CustomResourceDefinition": 1}.get(obj["kind"], 2)


def installed_version(kind: Kind) -> str | None:
    """The MetalLB version running in the cluster (from the controller's image tag), or None.

    An API server that does not answer raises ClusterUnreachable, with what to do.
    """
    dep = get_or_none(kind.apps.read_namespaced_deployment, "controller", NAMESPACE)
    if dep is None:
        return None
    containers = dep.spec.template.spec.containers or []
    if not containers:
        return None
    image = containers[0].image.split("@", 1)[0]
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"
    return tag


#: Before this release the user creates the ``memberlist`` secret (the article's v0.9.4); from it
#: on, the controller creates it itself (``release.FACTS``: memberlist_by_controller).
CONTROLLER_MAKES_MEMBERLIST = release(fact("memberlist_by_controller").since).parts


def install(kind: Kind, version: str = DEFAULT_VERSION, source: str | Path | None = None) -> _hood.Done:
    """Apply MetalLB ``version`` (idempotent). The result lists what was applied and skipped, and why.

    ``source`` None downloads the release manifest(s); a file or folder installs offline.
    """
    check_known_version(version)
    present = installed_version(kind)
    if present and release(present) != release(version):
        raise MetalLBError(
            f"MetalLB {present} is already installed in {kind.cluster!r}; installing {version} over it would mix "
            "two releases: run the cleanup notebook (or `kubectl delete namespace metallb-system`) first"
        )
    objects, where = _read_source(version, source)
    notes = [f"source: {', '.join(where)}"]
    if not any(o["kind"] == "Deployment" for o in objects):
        raise MetalLBError(f"{', '.join(where)} does not look like a MetalLB install manifest (no Deployment in it)")
    dropped = []
    if not served(kind, "policy/v1beta1", "PodSecurityPolicy"):
        dropped = [o for o in objects if o["kind"] == "PodSecurityPolicy"]
        objects = [o for o in objects if o["kind"] != "PodSecurityPolicy"]
        if dropped:
            notes.append(f"skipped {len(dropped)} PodSecurityPolicy objects: this Kubernetes no longer serves them")
    notes += server_side_apply(kind, sorted(objects, key=_order))
    by_hand = release(version).memberlist_secret_by == "you"
    if by_hand:
        notes.append(ensure_memberlist_secret(kind))
    hood = _hood.install_steps(kind.cluster, version, where, drop_psp=bool(dropped), memberlist=by_hand)
    return _hood.Done(f"MetalLB {version}: applied {len(objects)} objects", hood, notes)


def ensure_memberlist_secret(kind: Kind) -> str:
    """MetalLB before v0.10.0 needs secret ``memberlist`` (a random 128-byte key) for its speakers; from v0.10.0
    the controller creates it (release fact ``memberlist_by_controller``)."""
    from kubernetes import client

    if get_or_none(kind.core.read_namespaced_secret, "memberlist", NAMESPACE) is not None:
        return "secret/memberlist exists"
    key = base64.b64encode(secrets.token_bytes(128)).decode()
    body = client.V1Secret(metadata=client.V1ObjectMeta(name="memberlist", namespace=NAMESPACE),
                           string_data={"secretkey": key})
    kind.core.create_namespaced_secret(NAMESPACE, body)
    return "secret/memberlist created"


def readiness(kind: Kind) -> tuple[bool, str]:
    """(ready, status text): controller Available and every speaker Ready."""
    dep = get_or_none(kind.apps.read_namespaced_deployment, "controller", NAMESPACE)
    ds = get_or_none(kind.apps.read_namespaced_daemon_set, "speaker", NAMESPACE)
    if dep is None or ds is None:
        return False, "MetalLB is not installed (no controller/speaker in metallb-system)"
    # as `kubectl wait --for=condition=Available` and `kubectl rollout status daemonset` decide: the
    # status must describe the current spec (observedGeneration), and every speaker must run the current
    # template (updatedNumberScheduled) and be available; a terminating old speaker still counts as
    # ready in numberReady, so that alone says "ready" right after a change
    dep_current = (dep.status.observed_generation or 0) >= (dep.metadata.generation or 0)
    available = dep_current and any(c.type == "Available" and c.status == "True" for c in dep.status.conditions or [])
    st = ds.status
    want, ready = st.desired_number_scheduled or 0, st.number_ready or 0
    updated, avail = st.updated_number_scheduled or 0, st.number_available or 0
    ds_current = (st.observed_generation or 0) >= (ds.metadata.generation or 0)
    text = f"controller {'Available' if available else 'not available'}, speakers ready {ready}/{want}"
    if ds_current and updated < want:
        text += f" ({updated}/{want} updated)"
    elif not ds_current:
        text += " (the speakers' change not observed yet)"
    if not (available and ds_current and want > 0 and updated == want and avail == want and ready == want):
        return False, text
    # right after a change the DaemonSet's counts include old speakers that are terminating (and, when
    # the template is back to what it was, count them as updated): count the live, Ready pods themselves
    labels = getattr(ds.spec.selector.match_labels, "to_dict", lambda: ds.spec.selector.match_labels or {})()  # View
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    pods = kind.core.list_namespaced_pod(NAMESPACE, label_selector=selector).items
    live = [p for p in pods if not p.metadata.deletion_timestamp]
    live_ready = sum(is_ready(p) for p in live)
    if live_ready < want:
        return False, (f"controller Available, speakers ready {live_ready}/{want} "
                       f"({len(pods) - len(live)} terminating)")
    return True, text


def wait_ready(kind: Kind, timeout: float = 300, progress: bool = True) -> _hood.Done:
    """Wait until MetalLB's controller is Available and its speakers are Ready.

    Follows the watch on the controller Deployment, the speaker DaemonSet and MetalLB's pods.
    """
    follow = [Watch(kind.apps.list_namespaced_deployment, NAMESPACE, field_selector="metadata.name=controller"),
              Watch(kind.apps.list_namespaced_daemon_set, NAMESPACE, field_selector="metadata.name=speaker"),
              Watch(kind.core.list_namespaced_pod, NAMESPACE)]
    check = guard(lambda: readiness(kind), kind, NAMESPACE, desc="MetalLB ready")  # a stuck image: named in seconds
    text = wait_until(check, timeout=timeout, desc="MetalLB ready", progress=progress,
                      watches=follow, explain=lambda: not_ready(kind, NAMESPACE, "MetalLB"))
    return _hood.Done(f"MetalLB ready: {text}", _hood.wait_metallb_steps(kind.cluster, timeout))


def apply_pool(kind: Kind, objects: list[dict], timeout: float = 120, progress: bool = False) -> list[str]:
    """Apply pool objects, retrying while MetalLB's validating webhook is not serving yet."""

    result: list[str] = []

    def attempt() -> tuple[bool, str]:
        try:
            result[:] = server_side_apply(kind, objects)
            return True, "applied"
        except KubeAPIError as exc:
            if not exc.transient and exc.status is not None and 400 <= exc.status < 500:
                # the webhook answered and denied it (or the API refused it): final, no use waiting
                raise MetalLBError(f"MetalLB rejected the pool: {_denial(exc)}") from exc
            if exc.transient:  # 5xx "failed calling webhook" (not serving yet), or the CRD not served yet
                return False, f"webhook not ready yet ({exc.status})"
            raise

    wait_until(attempt, timeout=timeout, desc="apply pool", progress=progress)  # no watch says "serving"
    return result


def _denial(exc: KubeAPIError) -> str:
    """The API server's own words for a refusal (its Status ``message``), else the error's text."""
    import json

    try:
        return str(json.loads(exc.body or "")["message"])
    except (ValueError, TypeError, KeyError):
        return str(exc.body or exc)


def pools(kind: Kind) -> list[tuple[str, PoolRange]]:
    """The address ranges MetalLB in this cluster is configured with, as (pool name, range)."""
    return _pools_of(kind, installed_version(kind))


def _pools_of(kind: Kind, version: str | None) -> list[tuple[str, PoolRange]]:
    """:func:`pools` for the MetalLB ``version`` installed there (None: not installed, no pools)."""
    if version is None:
        return []
    if release(version).uses_crds:
        listed = get_or_none(kind.custom.list_namespaced_custom_object, "metallb.io", "v1beta1", NAMESPACE,
                             "ipaddresspools") or {"items": []}
        return [(item["metadata"]["name"], PoolRange.parse(spec))
                for item in listed["items"] for spec in item.get("spec", {}).get("addresses", [])]
    return [(pool["name"], PoolRange.parse(spec))
            for pool in configmap_pools(kind) for spec in pool.get("addresses", [])]


def configmap_pools(kind: Kind) -> list[dict]:
    """The ``address-pools`` entries of the ConfigMap era's ``config`` (empty when there is none); text that is
    not YAML raises ``yaml.YAMLError``."""
    cm = get_or_none(kind.core.read_namespaced_config_map, "config", NAMESPACE)
    return (yaml.safe_load(((cm.data or {}).get("config") if cm else None) or "") or {}).get("address-pools", [])


def l2_advertisements(kind: Kind) -> list[dict]:
    """MetalLB's L2Advertisement objects (v0.13+), as dicts; empty when there are none."""
    listed = get_or_none(kind.custom.list_namespaced_custom_object, "metallb.io", "v1beta1", NAMESPACE,
                         "l2advertisements")
    return listed["items"] if listed else []


def configure(kind: Kind, pool, name: str = "default", timeout: float = 120, auto_assign: bool = True) -> _hood.Done:
    """Render the pool for the installed MetalLB version and apply it (the article's ``metallb-config.yaml``)."""
    version = installed_version(kind)
    if version is None:
        raise MetalLBError(f"MetalLB is not installed in {kind.cluster!r}: run notebook 02_install_metallb first")
    objects = metallb_manifests(pool, version, name=name, auto_assign=auto_assign)
    done = apply_pool(kind, objects, timeout=timeout)
    what = "IPAddressPool + L2Advertisement" if release(version).uses_crds else "ConfigMap config"
    hood = _hood.apply_steps(kind.cluster, objects, "metallb-config.yaml", f"configure MetalLB {version}: {what}",
                             "the webhook checks the pool before it is stored" if release(version).uses_crds
                             else "the controller and speakers re-read this ConfigMap")
    return _hood.Done(f"applied {', '.join(done)}", hood, done, value=objects)


#: How many clusters' API servers are asked at once (each read is a few requests, each bounded by its timeout).
READ_THREADS = 8


@dataclass(frozen=True)
class ClusterPools:
    """What one kind cluster's MetalLB pools are: ``pools`` as (pool name, range), or None when the cluster could
    not be read (``why``: its first line, e.g. "no answer in time"); ``version``: its MetalLB (None: none)."""

    cluster: str
    pools: list[tuple[str, PoolRange]] | None
    why: str = ""
    version: str | None = None


def read_clusters_pools(clusters: list[str], kubeconfig: str | None = None, *,
                        timeout: tuple[float, float] = PROBE_TIMEOUT) -> list[ClusterPools]:
    """Every cluster's MetalLB pools (read-only), in the order given, read in parallel (at most
    :data:`READ_THREADS` at once): the slowest cluster's time, not their sum.

    Only the context ``kind-<cluster>`` of each is read, from the kubeconfig (nothing is written or switched), and
    only MetalLB's pool objects (both eras). Each request has a ``timeout`` of (connect, read) seconds and no
    retries. A cluster that cannot be read (unreachable, no context, MetalLB not readable) comes back with
    ``pools=None`` and why; any other error is raised, as reading them one by one would.
    """
    from concurrent.futures import ThreadPoolExecutor

    from .quick import light

    def read(name: str) -> ClusterPools:
        try:  # plain GETs when the kubeconfig allows (no typed API to import: seconds on a busy laptop)
            kind = (light(name, timeout) if kubeconfig is None else None) or \
                connect(name, kubeconfig=kubeconfig, timeout=timeout, retries=0)
            version = installed_version(kind)
            return ClusterPools(name, _pools_of(kind, version), version=version)
        except KindlbError as exc:  # unreachable, no context, or MetalLB not readable
            return ClusterPools(name, None, str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__)

    if len(clusters) <= 1:
        return [read(c) for c in clusters]
    with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(clusters)), thread_name_prefix="kindlb-pools") as pool:
        return list(pool.map(read, clusters))  # in order; the first error raised in that order


def other_clusters_pools(this_cluster: str, clusters: list[str], kubeconfig: str | None = None, *,
                         skipped: list[str] | None = None,
                         timeout: tuple[float, float] = PROBE_TIMEOUT) -> list[Reserved]:
    """Pools that other kind clusters on the same Docker network already use (read-only look).

    Only contexts named ``kind-<cluster>`` for clusters whose node containers sit on the kind
    network are read, and only MetalLB's pool objects, all clusters at once
    (:func:`read_clusters_pools`). Each request has a ``timeout`` of (connect, read) seconds and no
    retries, so a cluster that does not answer is left out within a few seconds: its name and why
    go to ``skipped`` (when given) and to the ``kindlb`` logger, in the order of ``clusters``.
    """
    import logging

    found: list[Reserved] = []
    for read in read_clusters_pools([c for c in clusters if c != this_cluster], kubeconfig, timeout=timeout):
        if read.pools is None:  # nothing to avoid there
            why = f"kind-{read.cluster}: {read.why}"
            logging.getLogger("kindlb").info("skipped other cluster %s", why)
            if skipped is not None:
                skipped.append(why)
            continue
        found += [Reserved(f"pool of cluster kind-{read.cluster}", rng) for _, rng in read.pools]
    return found


def l2_status_nodes(kind: Kind, name: str = "nginx", namespace: str = "default") -> list[str] | None:
    """The nodes MetalLB's ``ServiceL2Status`` objects name for the Service (v0.14.6+: each announcing
    speaker keeps one, and deletes it when it stops; v0.14.4-v0.14.5 only with --enable-l2-service-status), newest
    first; None where MetalLB has no such kind."""
    listed = get_or_none(kind.custom.list_namespaced_custom_object, "metallb.io", "v1beta1", NAMESPACE,
                         "servicel2statuses")
    if listed is None:
        return None
    mine = [i for i in listed.get("items", []) if (i.get("status") or {}).get("serviceName") == name
            and (i.get("status") or {}).get("serviceNamespace") == namespace and (i.get("status") or {}).get("node")]
    mine.sort(key=lambda i: i["metadata"].get("creationTimestamp") or "", reverse=True)
    return [i["status"]["node"] for i in mine]


def controller_log(kind: Kind, grep: str, since_seconds: int = 1800, tail: int = 8) -> list[str]:
    """The last ``tail`` lines of MetalLB's controller log that contain ``grep`` (as ``kubectl -n metallb-system
    logs deploy/controller | grep -F GREP | tail`` shows them); empty when there is no controller pod."""
    pods = kind.core.list_namespaced_pod(NAMESPACE, label_selector="component=controller").items
    live = [p for p in pods if not p.metadata.deletion_timestamp and p.status.phase == "Running"]
    if not live:
        return []
    try:
        log = kind.core.read_namespaced_pod_log(live[0].metadata.name, NAMESPACE, container="controller",
                                                since_seconds=since_seconds)
    except KindlbError:  # a controller that is starting has no log yet
        return []
    return [line for line in log.splitlines() if grep in line][-tail:]


def _endpoints(kind: Kind, name: str, namespace: str) -> list:
    """Every endpoint of the Service's EndpointSlices (what the speakers read)."""
    from kubernetes import client

    slices = kind.typed(client.DiscoveryV1Api).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={name}").items
    return [e for s in slices for e in (s.endpoints or [])]


def ready_endpoints(kind: Kind, name: str, namespace: str = "default") -> int:
    """How many endpoints of the Service can serve (Ready), from its EndpointSlices (what the speakers read)."""
    return sum(1 for e in _endpoints(kind, name, namespace)
               if e.conditions is not None and (e.conditions.ready or e.conditions.serving))


def ready_endpoint_nodes(kind: Kind, name: str, namespace: str = "default") -> set[str]:
    """The nodes holding a Ready endpoint of the Service (its EndpointSlices): with ``externalTrafficPolicy: Local``
    only their speakers may announce it (``ShouldAnnounce`` in both eras)."""
    return {e.node_name for e in _endpoints(kind, name, namespace)
            if e.node_name and (e.conditions is None or e.conditions.ready is None or e.conditions.ready)}


def controller_loaded_config(kind: Kind) -> bool | None:
    """ConfigMap era (v0.12.1): whether the running controller has loaded a configuration since it started; None
    when no controller's log can be read.

    v0.12.1 logs ``"event":"configLoaded"`` ("config (re)loaded", ``internal/k8s/k8s.go``) each time it loads the
    ConfigMap, and nothing when there is none at its start (the informer lists no ConfigMap, so no config key is
    ever queued). It never drops what it loaded: a deleted ConfigMap reaches ``SetConfig(nil)``, which logs
    "configuration is missing" and returns before ``c.config = cfg`` (``controller/main.go``). So with no ConfigMap,
    a line in this container's log means "removed, the last one kept", and none means "never configured" (or
    removed before this controller started: it then has none either)."""
    pods = kind.core.list_namespaced_pod(NAMESPACE, label_selector="component=controller").items
    live = [p for p in pods if not p.metadata.deletion_timestamp and p.status.phase == "Running"]
    seen = None
    for pod in live:
        try:
            log = kind.core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE, container="controller")
        except KindlbError:  # a controller that is starting has no log yet
            continue
        seen = bool(seen) or '"event":"configLoaded"' in log
    return seen


def uninstall(kind: Kind, timeout: float = 180, progress: bool = True) -> _hood.Done:
    """Delete the metallb-system namespace (and with it MetalLB and its pools), then MetalLB's
    cluster-wide objects; wait until gone. Safe to run twice."""

    text = "" if delete_if_there(kind.core.delete_namespace, NAMESPACE) else "namespace metallb-system was not there"

    def gone() -> tuple[bool, str]:
        if get_or_none(kind.core.read_namespace, NAMESPACE) is None:
            return True, "namespace metallb-system deleted"
        return False, "namespace metallb-system terminating"

    if not text:
        text = wait_until(gone, timeout=timeout, desc="remove MetalLB", progress=progress, interval=0.2)
    removed = remove_cluster_scoped(kind)
    n = sum(len(v) for v in removed.values())
    details = [f"{k} {' '.join(v)}" for k, v in removed.items() if v]
    headline = f"{text}; removed {n} cluster-wide objects" if n else f"{text}; no cluster-wide objects left"
    return _hood.Done(headline, _hood.uninstall_steps(kind.cluster, removed), details)


def remove_cluster_scoped(kind: Kind) -> dict[str, list[str]]:
    """Delete MetalLB's cluster-wide objects: its CRDs, ClusterRoles/Bindings and webhook config.

    Returns what was deleted, by kubectl resource name.
    """
    from kubernetes import client

    ext = kind.typed(client.ApiextensionsV1Api)
    rbac = kind.typed(client.RbacAuthorizationV1Api)
    adm = kind.typed(client.AdmissionregistrationV1Api)
    targets = {
        "customresourcedefinition": (ext.delete_custom_resource_definition,
                                     [c.metadata.name for c in ext.list_custom_resource_definition().items
                                      if c.spec.group == "metallb.io"]),
        "clusterrole": (rbac.delete_cluster_role, [r.metadata.name for r in rbac.list_cluster_role().items
                                                   if r.metadata.name.startswith("metallb-system:")]),
        "clusterrolebinding": (rbac.delete_cluster_role_binding,
                               [b.metadata.name for b in rbac.list_cluster_role_binding().items
                                if b.metadata.name.startswith("metallb-system:")]),
        "validatingwebhookconfiguration": (adm.delete_validating_webhook_configuration,
                                           [w.metadata.name for w in adm.list_validating_webhook_configuration().items
                                            if w.metadata.name.startswith("metallb")]),
    }
    removed: dict[str, list[str]] = {}
    for kind_name, (delete_fn, names) in targets.items():
        removed[kind_name] = []
        for name in names:
            if delete_if_there(delete_fn, name):
                removed[kind_name].append(name)
    return removed
