"""Layer 2 under the hood: who announces a LoadBalancer IP, which MAC answers ARP for it, failover,
and the client address the pods see.

Every helper here reads the cluster, Docker or the neighbour table and returns a DataFrame (its
``attrs["hood"]`` holds the ``kubectl`` / ``docker`` / ``ip`` / ``arping`` lines a person would
type, shown with ``kh.show(frame)``) or an object with ``_repr_html_`` that includes its hood.

Traffic goes only to the LoadBalancer IP, and only when it lies inside the kind docker network.
Where the host has no route to the kind network (Docker Desktop on macOS and Windows), pass
``via="container"``: the ARP part then runs in a throwaway busybox container on that network.

This file only names what the notebooks (``kh.l2.*``), the lab and other modules use; each job lives in
its own module:

- :mod:`.parse`: what ``ip neigh``, ``arping``, the events and the access log print (pure);
- :mod:`.neigh`: the client's side: its neighbour entry, ``arping``, the node containers' MACs;
- :mod:`.announce`: MetalLB's side: who announces, who may, waiting for an announcer;
- :mod:`.where`: the two matched: where the IP lives, and waiting until they agree;
- :mod:`.failovers` and :mod:`.failover_report`: a failover measured, and shown;
- :mod:`.clients`: ``externalTrafficPolicy`` and the client address the pods see.
"""
from __future__ import annotations

from ..._cluster.metallb import l2_status_nodes
from .announce import (
    SPEAKER_LABEL,
    announcements,
    announcer,
    announcer_steps,
    current_announcer,
    wait_announcer,
    wait_local_announcer,
    who_may_announce,
)
from .clients import (
    client_addresses,
    compare_policies,
    policy_figure,
    policy_summary,
    restore,
    scale,
    set_traffic_policy,
)
from .failover_report import (
    DOCUMENTED,
    EXPECTED,
    FAILOVER_LIMIT,
    FAILOVER_MODES,
    Failover,
    compare_failovers,
    failover_figure,
)
from .failovers import failover
from .neigh import entry_node, neighbours, node_macs
from .parse import parse_access_log, parse_arping, parse_neigh, parse_node_assigned
from .where import Location, settle, where_is

__all__ = [
    # who announces
    "SPEAKER_LABEL", "announcements", "announcer", "announcer_steps", "current_announcer", "l2_status_nodes",
    "wait_announcer", "wait_local_announcer", "who_may_announce",
    # the client's neighbour entry, and where the IP lives
    "entry_node", "neighbours", "node_macs", "Location", "settle", "where_is",
    # failover
    "DOCUMENTED", "EXPECTED", "FAILOVER_LIMIT", "FAILOVER_MODES", "Failover", "compare_failovers", "failover",
    "failover_figure",
    # traffic policy and the client address
    "client_addresses", "compare_policies", "policy_figure", "policy_summary", "restore", "scale",
    "set_traffic_policy",
    # parsing
    "parse_access_log", "parse_arping", "parse_neigh", "parse_node_assigned",
]
