"""BGP mode beside layer 2 (notebook 07_bgp). Transitional: the whole module moved here as it was; the next
commit splits it into one submodule per job."""
from .withdrawal import (SERVICE, SPEAKER_LABEL, WITHDRAW_LIMIT, Client, Plan, Router, Withdrawal, current_router,
                         diagnose, expected_peers, expose, leftovers, modes_table, peer, plan, remove, report,
                         resolve_image, routes, sessions, should_advertise, speakers_by_node, spread, spread_figure,
                         start_client, start_router, wait_established, wait_next_hops, withdraw_node,
                         withdraw_speaker, withdrawal_figure, withdrawals)

__all__ = ["SERVICE", "SPEAKER_LABEL", "WITHDRAW_LIMIT", "Client", "Plan", "Router", "Withdrawal", "current_router",
           "diagnose", "expected_peers", "expose", "leftovers", "modes_table", "peer", "plan", "remove", "report",
           "resolve_image", "routes", "sessions", "should_advertise", "speakers_by_node", "spread", "spread_figure",
           "start_client", "start_router", "wait_established", "wait_next_hops", "withdraw_node",
           "withdraw_speaker", "withdrawal_figure", "withdrawals"]
