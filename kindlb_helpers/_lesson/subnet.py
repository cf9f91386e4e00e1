"""The subnet as the learner sees it in notebook 03: what is taken, as a table, and the whole subnet with the
taken addresses and the pool, as a figure (matplotlib, loaded on first use)."""
from __future__ import annotations

import ipaddress

import pandas as pd

from .._core.pool import PoolRange, Reserved, as_subnet
from .._core.sipcalc import sipcalc_rows


def taken_frame(taken: list[Reserved]) -> pd.DataFrame:
    """One row per taken entry: what it is, its owner, first and last address, size."""
    rows = []
    for t in taken:
        what, _, owner = t.label.partition(" ")
        rows.append({"what": what, "owner": owner or "", "first": str(t.range.first),
                     "last": str(t.range.last), "addresses": t.range.size})
    return pd.DataFrame(rows, columns=["what", "owner", "first", "last", "addresses"])


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


def sipcalc_table(addr_with_prefix: str) -> pd.DataFrame:
    """sipcalc's [CIDR] (IPv4) or [IPV6 INFO] (IPv6) section as a one-column table (field, value), the values
    strings exactly as sipcalc prints them (``_core/sipcalc.py`` says where this is right and sipcalc is not).

    A plain address means /32 or /128; an IPv4 address may also carry a netmask (``172.19.0.1 255.255.0.0`` or
    ``172.19.0.1 0xffff0000``). Raises ``ValueError`` for anything else.

    >>> t = sipcalc_table("172.19.0.1/16")
    >>> t.loc["Usable range", "value"]
    '172.19.0.1 - 172.19.255.254'
    >>> sipcalc_table("fc00:f853:ccd:e793::1/64").loc["Subnet prefix (masked)", "value"]
    'fc00:f853:ccd:e793:0:0:0:0/64'
    """
    rows = sipcalc_rows(addr_with_prefix)
    index = pd.Index([label for label, _ in rows], name="field")
    return pd.DataFrame({"value": [value for _, value in rows]}, index=index, dtype=object)
