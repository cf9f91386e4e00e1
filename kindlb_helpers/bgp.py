"""``kh.bgp``: BGP mode beside layer 2 (notebook 07_bgp): an FRR router peers with MetalLB's speakers; its
sessions and routes, requests through it, ``externalTrafficPolicy: Local``, withdrawal timed, cleanup.

>>> import kindlb_helpers as kh
>>> bgp = kh.bgp.plan(k, router_asn=64500, metallb_asn=64501)   # doctest: +SKIP
"""
from ._lesson.bgp import (
    SERVICE,
    Client,
    Plan,
    Router,
    Withdrawal,
    diagnose,
    expose,
    leftovers,
    modes_table,
    peer,
    plan,
    remove,
    routes,
    sessions,
    spread,
    spread_figure,
    start_client,
    start_router,
    wait_established,
    wait_next_hops,
    withdraw_node,
    withdraw_speaker,
    withdrawal_figure,
    withdrawals,
)

__all__ = ["SERVICE", "Client", "Plan", "Router", "Withdrawal", "diagnose", "expose", "leftovers", "modes_table",
           "peer", "plan", "remove", "routes", "sessions", "spread", "spread_figure", "start_client",
           "start_router", "wait_established", "wait_next_hops", "withdraw_node", "withdraw_speaker",
           "withdrawal_figure", "withdrawals"]
