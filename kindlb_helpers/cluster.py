"""``kh.cluster``: the kind cluster a notebook works on: create or reuse it, connect to it (pinned to the
context ``kind-<cluster>``), wait for its nodes, delete it, and its nodes, pods and Services as tables.

>>> import kindlb_helpers as kh
>>> k = kh.cluster.connect("kindlb")                        # doctest: +SKIP
>>> kh.show(kh.cluster.nodes_table(k))                      # doctest: +SKIP
"""
from ._cluster.dockernet import KindNetwork
from ._cluster.kube import Kind, connect, wait_nodes_ready
from ._cluster.kube import delete_cluster as delete
from ._cluster.kube import ensure_cluster as ensure
from ._cluster.network import clusters_on as on_network
from ._lesson.tables import highlight, network, node_containers
from ._lesson.tables import nodes_frame as nodes_table
from ._lesson.tables import pods_frame as pods_table
from ._lesson.tables import services_frame as services_table

__all__ = ["Kind", "KindNetwork", "connect", "delete", "ensure", "highlight", "network", "node_containers",
           "nodes_table", "on_network", "pods_table", "services_table", "wait_nodes_ready"]
