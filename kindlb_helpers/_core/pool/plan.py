"""Planning: where a pool goes in the kind network (:func:`plan_pool`), and whether a given one fits (validate).

Every cost here grows with the number of taken entries, never with the size of the subnet (a /8 or an
IPv6 /64 answers at once).
"""
from __future__ import annotations

import ipaddress
from typing import Iterable

from ..errors import PoolError
from ..inputs import cut
from .ranges import IPNetwork, PoolRange, PoolSpec, Reserved, TakenSpec, reserved
from .subnets import as_subnet, usable_range

#: The article's pool for its /16 network: 250 addresses at the top.
DEFAULT_POOL_SIZE = 250


def default_size(subnet: str | IPNetwork) -> int:
    """The article's 250 addresses, or a quarter of a small subnet.

    >>> default_size("172.19.0.0/16"), default_size("10.0.0.0/24"), default_size("10.0.0.0/29")
    (250, 62, 1)
    """
    n = as_subnet(subnet).num_addresses
    if n >= 1024:
        return DEFAULT_POOL_SIZE
    return max(1, n // 4 - 2)


def _merged(ranges: Iterable[PoolRange]) -> list[tuple[int, int]]:
    return _merged_spans([(int(r.first), int(r.last)) for r in ranges])


def _merged_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, overlapping and touching spans joined: one pass after one sort."""
    spans = sorted(spans)
    merged: list[tuple[int, int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


#: IPv4-mapped IPv6 (::ffff:0:0/96): inside an IPv6 subnet such as ::/80, never part of a pool.
_MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def _free_gaps(space: PoolRange, taken: list[Reserved]) -> list[tuple[int, int]]:
    """Free spans of ``space`` outside every taken range (and the IPv4-mapped block), highest first."""
    lo, hi = int(space.first), int(space.last)
    busy = _merged(t.range for t in taken if t.range.overlaps(space))
    if space.version == 6 and lo <= int(_MAPPED.broadcast_address) and int(_MAPPED.network_address) <= hi:
        busy = _merged_spans(busy + [(int(_MAPPED.network_address), int(_MAPPED.broadcast_address))])
    gaps: list[tuple[int, int]] = []
    cursor = hi
    for b_lo, b_hi in reversed(busy):
        if b_hi < cursor:
            gaps.append((max(b_hi + 1, lo), cursor))
        cursor = min(cursor, b_lo - 1)
        if cursor < lo:
            break
    if cursor >= lo:
        gaps.append((lo, cursor))
    return gaps


def plan_pool(
    subnet: str | IPNetwork,
    taken: Iterable[TakenSpec] = (),
    size: int | None = None,
) -> PoolRange:
    """A free range of ``size`` addresses at the top of ``subnet``, clear of ``taken``.

    Docker hands out container addresses from the bottom of its subnet, so the pool goes to
    the top. It is placed in the highest free block of the next power of two above ``size``,
    skipping the block's first address: for a /16 that gives the article's choice.

    >>> str(plan_pool("172.19.0.1/16"))
    '172.19.255.1-172.19.255.250'
    >>> str(plan_pool("172.19.0.0/16", taken=["172.19.255.0/24"]))
    '172.19.254.1-172.19.254.250'
    >>> str(plan_pool("172.18.0.0/24", taken=["172.18.0.1-172.18.0.4"]))
    '172.18.0.193-172.18.0.254'
    """
    net = as_subnet(subnet)
    want = default_size(net) if size is None else size
    if not isinstance(want, int) or isinstance(want, bool) or want < 1:
        raise PoolError(f"pool size must be a whole number of addresses, at least 1 (got {cut(size)})")
    space = usable_range(net)
    entries = [t for t in reserved(taken) if t.range.version == net.version]
    if want > space.size:
        raise PoolError(
            f"{net} has only {space.size:,} usable addresses, fewer than the {want:,} asked for: "
            "ask for a smaller pool"
        )
    gaps = _free_gaps(space, entries)
    block = 1 << want.bit_length()  # smallest power of two above want
    make = type(net.network_address)
    for g_lo, g_hi in gaps:  # aligned placement, highest first
        start = ((g_hi - want) // block) * block
        if start + 1 >= g_lo:
            return PoolRange(make(start + 1), make(start + want))
    for g_lo, g_hi in gaps:  # else flush with the top of the highest gap that fits
        if g_hi - g_lo + 1 >= want:
            return PoolRange(make(g_hi - want + 1), make(g_hi))
    largest = max((hi - lo + 1 for lo, hi in gaps), default=0)
    raise PoolError(
        f"no free range of {want:,} addresses is left in {net}: the largest free span holds {largest:,} "
        "(taken: gateway, nodes, containers and other pools); ask for a smaller pool or free some addresses"
    )


def validate_pool(
    pool: PoolSpec,
    subnet: str | IPNetwork,
    taken: Iterable[TakenSpec] = (),
) -> PoolRange:
    """Check that ``pool`` is a usable MetalLB range inside ``subnet``; return it as a PoolRange.

    Raises PoolError naming the exact conflict and a fix.

    >>> validate_pool("172.19.255.1-172.19.255.250", "172.19.0.0/16", [("gateway", "172.19.0.1")])
    PoolRange(first=IPv4Address('172.19.255.1'), last=IPv4Address('172.19.255.250'))
    """
    rng = PoolRange.parse(pool)
    net = as_subnet(subnet)
    entries = reserved(taken)

    def hint() -> str:
        try:
            return f", e.g. {plan_pool(net, entries, size=min(rng.size, usable_range(net).size))}"
        except PoolError:
            return ""

    if rng.version != net.version:
        raise PoolError(
            f"pool {rng} is IPv{rng.version} but subnet {net} is IPv{net.version}: "
            f"pick a range from an IPv{rng.version} subnet of the kind network, or an IPv{net.version} range{hint()}"
        )
    span = PoolRange(net.network_address, net.broadcast_address)
    if rng not in span:
        outside = [str(a) for a in (rng.first, rng.last) if a not in span]
        raise PoolError(
            f"pool {rng} is not inside {net} ({span}): {' and '.join(outside)} "
            f"{'lies' if len(outside) == 1 else 'lie'} outside it; pick a range inside the subnet{hint()}"
        )
    usable = usable_range(net)
    if rng.first < usable.first:
        raise PoolError(
            f"pool {rng} includes the network address {net.network_address} of {net}: "
            f"start at {usable.first} or above{hint()}"
        )
    if rng.last > usable.last:
        raise PoolError(
            f"pool {rng} includes the broadcast address {net.broadcast_address} of {net}: "
            f"end at {usable.last} or below{hint()}"
        )
    clashes = [t for t in entries if t.range.overlaps(rng)]
    if clashes:
        shown = ", ".join(str(t) for t in clashes[:5])
        more = f" and {len(clashes) - 5} more" if len(clashes) > 5 else ""
        top = max(int(t.range.last) for t in clashes)
        above = type(rng.first)(top + 1) if top < int(usable.last) else None
        fix = f"pick a range above {above}" if above is not None else "pick another range"
        raise PoolError(f"pool {rng} overlaps {shown}{more}: {fix}{hint()}")
    return rng
