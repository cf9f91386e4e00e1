"""What a run of notebook 07_bgp measured, summed up: layer 2 and BGP side by side with this run's numbers,
and the notebook's ``result`` (plain values, what the cluster tier asserts on).
"""
from __future__ import annotations

import pandas as pd

from ..._cluster.kube import Kind
from ..._core import hood as _hood
from .cleanup import leftovers
from .peering import Router
from .plan import Plan
from .withdrawal import Withdrawal


def modes_table(l2: pd.DataFrame | None = None, bgp: pd.DataFrame | None = None,
                speaker: Withdrawal | None = None, node: Withdrawal | None = None) -> pd.DataFrame:
    """Layer 2 and BGP side by side, with this run's numbers where we measured them."""
    def entered(f):
        if f is None:
            return ""
        used = f.loc[f["requests entered"] > 0]
        return "; measured: " + ", ".join(f"{r.node} {r._2}" for r in used.itertuples())

    t_speaker = f"; measured: speaker deleted {speaker.withdrawn_after} s" if speaker else ""
    t_node = f", node frozen {node.withdrawn_after} s" if node else ""
    rows = [
        ("who answers for the IP", "one node per IP: it answers ARP with its MAC",
         "every node that advertises: the router holds one route per node"),
        ("how traffic spreads", "all of it enters that one node" + entered(l2),
         "the router spreads connections over the nodes (ECMP, by hash of addresses and ports)" + entered(bgp)),
        ("failover", "the speakers elect a new owner (memberlist), which sends gratuitous ARP: seconds",
         "the router drops the lost node's route: within a second or two when the speaker closes its session, "
         "after the hold time when the node dies silently" + t_speaker + t_node),
        ("what the network must do", "nothing: the IP is in the nodes' own subnet",
         "run a BGP router that peers with every node and forwards; clients route the pool through it"),
        ("addresses", "from the nodes' subnet", "any range the router can route: here outside the kind subnet"),
    ]
    return pd.DataFrame(rows, columns=["", "layer 2", "BGP"])


def report(kind: Kind, p: Plan, router: Router, svc, sessions_: pd.DataFrame, routes_: pd.DataFrame,
           local: pd.DataFrame, lone: pd.DataFrame, bgp_view: pd.DataFrame, l2_view: pd.DataFrame,
           speaker: Withdrawal, node: Withdrawal, removed: _hood.Done | None) -> dict:
    """The notebook's ``result``: what the cluster tier asserts on (plain values only)."""
    return {"version": p.version, "router_ip": router.ip, "ip": str(svc.ip), "pool": p.pool,
            "sessions": sessions_[["node", "state", "prefixes received"]].to_dict("records"),
            "expected_peers": sessions_.attrs.get("expected", []),
            "next_hops": routes_.attrs["nodes"], "advertising": routes_.attrs.get("expected", []),
            "local_next_hops": local.attrs["nodes"], "local_expected": local.attrs.get("expected", []),
            "lone_next_hops": lone.attrs["nodes"], "lone_expected": lone.attrs.get("expected", []),
            "bgp_spread": {n: int(c) for n, c in zip(bgp_view["node"], bgp_view["requests entered"])},
            "bgp_answered": int(bgp_view.attrs["answered"]),
            "l2_spread": {n: int(c) for n, c in zip(l2_view["node"], l2_view["requests entered"])},
            "l2_answered": int(l2_view.attrs["answered"]),
            "withdrawals": [speaker.summary(), node.summary()],
            "speaker_withdrawn_after": speaker.withdrawn_after, "node_withdrawn_after": node.withdrawn_after,
            "speaker_answered_after": [speaker.answered_after_withdrawal, speaker.probes_after_withdrawal],
            "node_answered_after": [node.answered_after_withdrawal, node.probes_after_withdrawal],
            "hold_time": p.core.hold_time, "removed": list(removed.details) if removed else [],
            "leftovers": leftovers(kind) if removed else []}
