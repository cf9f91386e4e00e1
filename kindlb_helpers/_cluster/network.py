"""What is taken on the kind network, the planned pool, and a picture of both."""
from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

import pandas as pd

from .._core.pool import PoolRange, Reserved, as_subnet, plan_pool

if TYPE_CHECKING:  # a type only: kh.pool.plan and the sipcalc table must not load docker
    from .dockernet import KindNetwork


def taken_on(net: KindNetwork, family: int = 4) -> list[Reserved]:
    """The gateway, Docker's ``--ip-range`` and every container address of ``family`` on the kind network, labelled.

    Kind nodes are labelled ``node <name>``, anything else ``container <name>``; the ip-range (the block
    Docker hands container addresses out from, when the network has one) ``ip-range docker``.
    """
    out = []
    if family in net.subnets:
        out.append(Reserved("gateway", net.gateway(family)))
    if family in getattr(net, "ip_ranges", {}):
        out.append(Reserved("ip-range docker", net.ip_ranges[family]))
    for e in net.endpoints:
        ip = e.ipv4 if family == 4 else e.ipv6
        if ip is not None:
            out.append(Reserved(f"node {e.name}" if e.cluster else f"container {e.name}", ip))
    return out


def clusters_on(net: KindNetwork) -> list[str]:
    """Names of the kind clusters with node containers on this network."""
    return sorted({e.cluster for e in net.endpoints if e.cluster})


def taken_frame(taken: list[Reserved]) -> pd.DataFrame:
    """One row per taken entry: what it is, its owner, first and last address, size."""
    rows = []
    for t in taken:
        what, _, owner = t.label.partition(" ")
        rows.append({"what": what, "owner": owner or "", "first": str(t.range.first),
                     "last": str(t.range.last), "addresses": t.range.size})
    return pd.DataFrame(rows, columns=["what", "owner", "first", "last", "addresses"])


def plan_for(net: KindNetwork, family: int = 4, size: int | None = None,
             extra: list[Reserved] = ()) -> tuple[PoolRange, list[Reserved]]:
    """The planned pool for ``family`` on ``net``, and what it had to avoid."""
    taken = taken_on(net, family) + [t for t in extra if t.range.version == family]
    return plan_pool(net.subnet(family), taken, size), taken


def subnet_figure(subnet, taken: list[Reserved], pool: PoolRange | None = None):
    """A matplotlib figure: the whole subnet with taken addresses and the pool, and a zoom on the pool."""
    import matplotlib.pyplot as plt

    net = as_subnet(subnet)
    base, total = int(net.network_address), net.num_addresses
    width = min(total, 256)
    views = [(base, total, f"whole subnet {net} ({total:,} addresses)")]
    if total > width:  # zoom on the bottom (gateway, nodes) and on the pool's block
        anchor = int(pool.first) if pool else base + total - 1
        z0 = max(base, anchor - (anchor - base) % width)
        views.append((base, width, f"bottom: {net.network_address} + {width} (Docker hands these out)"))
        if z0 != base:
            views.append((z0, width, f"zoom: {ipaddress.ip_address(z0)} + {width}"))
    fig, axes = plt.subplots(len(views), 1, figsize=(10, 1.6 * len(views)), constrained_layout=True, squeeze=False)
    views = [(ax, lo, span, title) for ax, (lo, span, title) in zip(axes[:, 0], views)]
    for ax, lo, span, title in views:
        # positions as fractions of the view: an IPv6 /64 has more addresses than floats count exactly
        frac = lambda addr: (int(addr) - lo) / span  # noqa: E731
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.set_title(title, fontsize=9, loc="left")
        ax.axvspan(0, 1, color="#eef2f7")
        for t in taken:
            a, b = frac(t.range.first), frac(int(t.range.last) + 1)
            b = max(b, a + 0.004)  # a single address stays visible on a /8
            if b <= 0 or a >= 1:
                continue
            colour = "#cf222e" if t.label.startswith(("node", "gateway")) else "#bf8700"
            ax.axvspan(max(a, 0), min(b, 1), color=colour, alpha=0.9, lw=0, ymin=0.15, ymax=0.85)
            ax.axvline(max(a, 0), color=colour, lw=1.2, ymin=0.15, ymax=0.85)
        if pool:
            a, b = frac(pool.first), frac(int(pool.last) + 1)
            b = max(b, a + 0.004)
            if b > 0 and a < 1:
                ax.axvspan(max(a, 0), min(b, 1), color="#1a7f37", alpha=0.55, lw=0, ymin=0.25, ymax=0.75)
                ax.axvline(max(a, 0), color="#1a7f37", lw=1.5)
        ticks = [0, span // 2, span - 1]
        ax.set_xticks([t / span for t in ticks], [str(ipaddress.ip_address(lo + t)) for t in ticks], fontsize=8)
    from matplotlib.patches import Patch

    handles = [Patch(color="#cf222e", label="gateway / nodes"),
               Patch(color="#bf8700", label="containers / other pools"),
               Patch(color="#1a7f37", alpha=0.55, label=f"pool {pool}" if pool else "pool")]
    axes[-1, 0].legend(handles=handles, loc="upper left", fontsize=8, ncol=3, bbox_to_anchor=(0, -0.4))
    plt.close(fig)
    return fig


def taken_from_text(subnet: str, taken=()) -> tuple:
    """For a subnet typed by hand (``172.19.0.1/16`` as ``ip a`` shows the bridge): the network, and
    the taken list with the typed host address marked as the gateway.

    A subnet without a prefix length is refused (PoolError): its size cannot be guessed.

    >>> net, entries = taken_from_text("172.19.0.1/16", ["172.19.0.10"])
    >>> str(net), [str(e) for e in entries]
    ('172.19.0.0/16', ['gateway 172.19.0.1', 'taken 172.19.0.10'])
    """
    from .._core.pool import reserved

    net = as_subnet(subnet)  # refuses "172.19.0.1": write it as ip a shows it
    host = ipaddress.ip_interface(subnet.strip()).ip if isinstance(subnet, str) else None
    entries = reserved(taken)
    if host is not None and host != net.network_address:
        entries.insert(0, Reserved("gateway", host))
    return net, entries
