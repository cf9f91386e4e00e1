"""Which pool a LoadBalancer Service draws from, how many addresses it has, and how many of them Services hold.

Pure: it reads what the caller read from the cluster (the Service's annotations, MetalLB's pools, the
addresses Services hold, the controller's words) and asks nothing. The lesson's one diagnosis
(``lesson.no_ip``) uses it: the wait for an external IP that does not come and notebook 08 ask that.

A Service asks for a pool by the annotation ``<prefix>/address-pool``, with a prefix its MetalLB release reads
(``release(v).annotation_prefixes``); the controller's AllocationFailed message names the pool too ("no
available IPs in pool X", "unknown pool \\"X\\""). A Service that asks for no pool, or for one that does not
exist, draws from the pools MetalLB hands out unasked (``auto``; every pool when the caller cannot tell).

>>> pools = {"default": ["172.19.255.1-172.19.255.250"], "ts-one": ["172.19.255.251"]}
>>> u = usage(pools, annotations={"metallb.io/address-pool": "ts-one"}, prefixes=("metallb.io",),
...           held=["172.19.255.251", "172.19.255.1"])
>>> u.pool, u.size, u.used, u.full
('ts-one', 1, 1, True)
>>> usage(pools, auto=["default"], held=["172.19.255.1"]).pools
('default',)
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from .pool import PoolRange, PoolSpec

__all__ = ["Usage", "asked_for", "named_in", "holding", "usage"]

#: How the controller names a pool in its AllocationFailed message (v0.12.1 quotes it, v0.16.1 does not).
_NAMED = re.compile(r'pool "?([\w.-]+)"?')


@dataclass(frozen=True)
class Usage:
    """The pools a Service draws from and how full they are."""

    pool: str | None          # the pool it asked for, when that pool exists (else None: the fallback pools)
    pools: tuple[str, ...]    # the pools counted: that one, else the ones MetalLB hands out unasked
    size: int                 # their addresses
    used: int                 # how many of those addresses Services hold (each address once)

    @property
    def full(self) -> bool:
        """No address left to hand out."""
        return self.used >= self.size


def asked_for(annotations: Mapping[str, str] | None, prefixes: Sequence[str]) -> str | None:
    """The pool ``annotations`` ask for (``<prefix>/address-pool``, the first prefix that has it), or None.

    >>> asked_for({"metallb.universe.tf/address-pool": "a"}, ("metallb.io", "metallb.universe.tf"))
    'a'
    >>> asked_for({"metallb.io/address-pool": "a"}, ("metallb.universe.tf",)) is None  # v0.12.1 reads no metallb.io/
    True
    """
    notes = annotations or {}
    return next((notes[f"{p}/address-pool"] for p in prefixes if f"{p}/address-pool" in notes), None)


def named_in(message: str | None) -> str | None:
    """The pool the controller's message names, or None.

    >>> named_in('Failed to allocate IP for "default/ts": no available IPs in pool "ts-one" for IPv4 IPFamily')
    'ts-one'
    >>> named_in("Failed to allocate IP for \\"default/x\\": no available IPs") is None
    True
    """
    m = _NAMED.search(message or "")
    return m.group(1) if m else None


def _ranges(specs: Iterable[PoolSpec]) -> list[PoolRange]:
    return [PoolRange.parse(s) for s in specs]


def _address(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:  # a hostname or nothing: holds no pool address
        return None


def holding(pools: Mapping[str, Iterable[PoolSpec]], ip: str | None) -> str | None:
    """The pool whose addresses include ``ip`` (the first, in the pools' order), or None.

    >>> holding({"a": ["10.0.0.0/30"], "b": ["10.0.0.4-10.0.0.5"]}, "10.0.0.5")
    'b'
    """
    addr = _address(ip or "")
    return next((name for name, specs in pools.items() if addr is not None and any(addr in r for r in _ranges(specs))),
                None)


def usage(pools: Mapping[str, Iterable[PoolSpec]], *, annotations: Mapping[str, str] | None = None,
          prefixes: Sequence[str] = (), said: str | None = None, auto: Iterable[str] | None = None,
          held: Iterable[str] = ()) -> Usage:
    """How full the pool(s) are that a Service draws from.

    ``pools``: every pool by name, its address specs; ``annotations``: the Service's; ``prefixes``: the
    annotation prefixes its release reads; ``said``: the controller's message (names the pool when the
    annotations do not); ``auto``: the pools handed out unasked (None: every pool); ``held``: the addresses
    Services hold (any namespace).
    """
    asked = asked_for(annotations, prefixes) or named_in(said)
    unasked = None if auto is None else set(auto)
    names = (asked,) if asked in pools else tuple(p for p in pools if unasked is None or p in unasked)
    ranges = [r for p in names for r in _ranges(pools[p])]
    held_in = {a for a in map(_address, held) if a is not None and any(a in r for r in ranges)}
    return Usage(asked if asked in pools else None, names, sum(r.size for r in ranges), len(held_in))
