"""Kubernetes access pinned to one kind cluster: the names the notebooks, the facade, other modules and the
tests use, re-exported from the submodules that do each job.

- ``boundary``: the client's and urllib3's exceptions become kindlb's (:func:`translate`);
- ``client``: :class:`Kind` and :func:`connect`, pinned to the context ``kind-<cluster>``, with timeouts;
- ``lifecycle``: :func:`ensure_cluster`, :func:`delete_cluster`;
- ``objects``: :func:`server_side_apply`, :func:`delete`, :func:`delete_if_there`, :func:`get_or_none`, :func:`served`,
  :func:`events_for`, and a Service's external addresses (:func:`ingress`, :func:`ingress_ips`, :func:`ip_of`);
- ``readiness``: :func:`wait_api_ready`, :func:`nodes_ready`, :func:`wait_nodes_ready`.
"""
from ..._core.errors import ClusterNotFound, ClusterUnreachable, KindlbError, KubeAPIError, WrongContext
from ..._core.objects import kind_config
from ..clusters import kind_clusters
from ..kind import kind_binary
from ..kubeconfig import (
    context_names,
    current_context,
    has_context,
    kind_context,
    kubeconfig_path,
    merge_kubeconfig,
    write_context,
)
from .boundary import DEFAULT_CLUSTER, translate
from .client import DEFAULT_TIMEOUT, PROBE_TIMEOUT, Kind, connect
from .lifecycle import Ensured, delete_cluster, ensure_cluster
from .objects import (
    FIELD_MANAGER,
    delete,
    delete_if_there,
    events_for,
    get_or_none,
    ingress,
    ingress_ips,
    ip_of,
    served,
    server_side_apply,
)
from .readiness import API_FIRST, is_ready, nodes_ready, wait_api_ready, wait_nodes_ready

__all__ = [
    "API_FIRST", "DEFAULT_CLUSTER", "DEFAULT_TIMEOUT", "FIELD_MANAGER", "PROBE_TIMEOUT",
    "ClusterNotFound", "ClusterUnreachable", "KindlbError", "KubeAPIError", "WrongContext",
    "Ensured", "Kind", "connect", "context_names", "current_context", "delete", "delete_cluster",
    "delete_if_there", "ensure_cluster", "events_for", "get_or_none", "has_context", "ingress", "ingress_ips",
    "ip_of", "is_ready", "kind_binary",
    "kind_clusters", "kind_config", "kind_context", "kubeconfig_path", "merge_kubeconfig", "nodes_ready",
    "served", "server_side_apply", "translate", "wait_api_ready", "wait_nodes_ready", "write_context",
]
