"""BGP mode beside layer 2 (notebook 07_bgp): an FRR router on the kind network peers with MetalLB's
speakers; the router's sessions and routes as tables; ECMP over the nodes; requests counted by the node
they entered; ``externalTrafficPolicy: Local``; withdrawal timed; cleanup.

NETWORK RULE: the BGP pool lies outside the kind subnet, so only a machine whose route to it goes
through the router can reach it. Nothing here sends a packet to a BGP address from the host: every
request runs inside the client container (``docker exec``), whose route to the pool goes via the
router, or inside the router itself. ``tests/test_bgp.py`` checks it.

Every helper returns a DataFrame (``attrs["hood"]``, shown with ``kh.show``) or an object with
``_repr_html_`` that includes the ``docker`` / ``kubectl`` / ``vtysh`` lines a person would type.

One job per module: ``plan`` (inputs checked, nothing applied), ``peering`` (the router and its
sessions), ``routes`` (the Service in the BGP pool and its next hops), ``client`` (a client behind the
router, the spread of its requests), ``withdrawal`` (timed), ``summary`` (side by side, the notebook's
result), ``cleanup``; ``show`` (tables and command lines). This file only re-exports.
"""
from .cleanup import leftovers, remove
from .client import Client, spread, spread_figure, start_client
from .peering import (
    SPEAKER_LABEL,
    Router,
    diagnose,
    expected_peers,
    peer,
    sessions,
    speakers_by_node,
    start_router,
    wait_established,
)
from .plan import Plan, plan, resolve_image
from .routes import SERVICE, expose, routes, should_advertise, wait_next_hops
from .summary import modes_table
from .withdrawal import WITHDRAW_LIMIT, Withdrawal, withdraw_node, withdraw_speaker, withdrawal_figure, withdrawals

__all__ = [
    "SERVICE", "SPEAKER_LABEL", "WITHDRAW_LIMIT",
    "Plan", "plan", "resolve_image",
    "Router", "start_router", "peer", "speakers_by_node", "sessions", "expected_peers",
    "diagnose", "wait_established",
    "expose", "should_advertise", "routes", "wait_next_hops",
    "Client", "start_client", "spread", "spread_figure",
    "Withdrawal", "withdraw_speaker", "withdraw_node", "withdrawal_figure", "withdrawals",
    "modes_table",
    "remove", "leftovers",
]
