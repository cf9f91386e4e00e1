"""Pools of different kind clusters that share addresses (pure: standard library only).

Clusters on one Docker network share one layer-2 segment. When two of them hold the same address in their MetalLB
pools, each may assign it to a Service, and then both clusters' speakers answer ARP/NDP for it: the host's neighbour
entry flips between their MACs and connections break at random. :func:`pool_overlaps` finds every such pair.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .ranges import PoolRange, PoolSpec


@dataclass(frozen=True)
class HeldPool:
    """One address range of one pool of one cluster: ``HeldPool("kl-a", "default", "172.18.255.1-172.18.255.250")``."""

    cluster: str
    pool: str
    range: PoolRange

    def __init__(self, cluster: str, pool: str, spec: PoolSpec) -> None:
        object.__setattr__(self, "cluster", cluster)
        object.__setattr__(self, "pool", pool)
        object.__setattr__(self, "range", PoolRange.parse(spec))

    def __str__(self) -> str:
        return f"pool {self.pool!r} of cluster {self.cluster} ({self.range.as_cidr_or_range()})"


@dataclass(frozen=True)
class PoolOverlap:
    """Two clusters' pools and the addresses both hold (``shared``: the intersection, one contiguous range)."""

    a: HeldPool
    b: HeldPool
    shared: PoolRange

    def __str__(self) -> str:
        n = self.shared.size
        return f"{self.a} and {self.b} share {self.shared.as_cidr_or_range()} ({n:,} address{'es' if n != 1 else ''})"


def shared_range(a: PoolRange, b: PoolRange) -> PoolRange | None:
    """The addresses both ranges hold (one contiguous range), or None; ranges of different families share none.

    >>> str(shared_range(PoolRange("10.0.0.0/24"), PoolRange("10.0.0.200-10.0.1.5")))
    '10.0.0.200-10.0.0.255'
    >>> shared_range(PoolRange("10.0.0.1-10.0.0.9"), PoolRange("10.0.0.10-10.0.0.20")) is None  # adjacent
    True
    """
    if not a.overlaps(b):
        return None
    return PoolRange(max(a.first, b.first), min(a.last, b.last))


def pool_overlaps(held: Iterable[HeldPool]) -> list[PoolOverlap]:
    """Every pair of ranges held by two *different* clusters that share addresses, in the order the ranges came
    (a cluster's own pools are MetalLB's business: its webhook refuses overlapping pools within one cluster).

    >>> [str(o) for o in pool_overlaps([HeldPool("a", "default", "172.18.255.1-172.18.255.250"),
    ...                                 HeldPool("b", "default", "172.18.255.200/29")])]
    ["pool 'default' of cluster a (172.18.255.1-172.18.255.250) and pool 'default' of cluster b (172.18.255.200/29) \
share 172.18.255.200/29 (8 addresses)"]
    """
    items = list(held)
    found = []
    for i, a in enumerate(items):
        for b in items[i + 1:]:
            if a.cluster == b.cluster:
                continue
            shared = shared_range(a.range, b.range)
            if shared is not None:
                found.append(PoolOverlap(a, b, shared))
    return found
