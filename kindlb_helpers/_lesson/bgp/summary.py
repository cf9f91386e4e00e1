"""What a run of notebook 07_bgp measured, summed up: layer 2 and BGP side by side with this run's numbers."""
from __future__ import annotations

import pandas as pd

from .withdrawal import Withdrawal


def modes_table(l2: pd.DataFrame | None = None, bgp: pd.DataFrame | None = None,
                speaker: Withdrawal | None = None, node: Withdrawal | None = None) -> pd.DataFrame:
    """Layer 2 and BGP side by side, with this run's numbers where we measured them."""
    def entered(f):
        if f is None:
            return ""
        used = f.loc[f["requests entered"] > 0]
        return "; measured: " + ", ".join(f"{r.node} {r._2}" for r in used.itertuples())

    def lost(w: Withdrawal) -> str:
        span = w.failing
        return (f"{len(w.failed)} of {len(w.requests)} requests failed"
                + (f", for {span[1] - span[0] + w.interval:.1f} s" if span else ""))

    t_speaker = f"; measured: speaker deleted {speaker.withdrawn_after} s ({lost(speaker)})" if speaker else ""
    t_node = (f", node frozen {node.withdrawn_after} s (hold time {node.hold_time} s; {lost(node)})"
              if node else "")
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
