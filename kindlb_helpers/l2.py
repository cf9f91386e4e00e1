"""``kh.l2``: layer 2 mode on the wire: who announces a LoadBalancer IP and who may, which MAC answers ARP
for it, failover when that speaker or node goes, ``externalTrafficPolicy`` and the client address pods see.

>>> import kindlb_helpers as kh
>>> who = kh.l2.announcer(k, "nginx")                       # doctest: +SKIP
"""
from ._lesson.l2 import (
    Failover,
    Location,
    announcer,
    client_addresses,
    compare_failovers,
    compare_policies,
    current_announcer,
    failover,
    failover_figure,
    neighbours,
    node_macs,
    policy_figure,
    policy_summary,
    restore,
    scale,
    set_traffic_policy,
    wait_announcer,
    wait_local_announcer,
    where_is,
    who_may_announce,
)

__all__ = ["Failover", "Location", "announcer", "client_addresses", "compare_failovers", "compare_policies",
           "current_announcer", "failover", "failover_figure", "neighbours", "node_macs", "policy_figure",
           "policy_summary", "restore", "scale", "set_traffic_policy", "wait_announcer", "wait_local_announcer",
           "where_is", "who_may_announce"]
