"""Addresses and ranges: read an address, a range or a CIDR as a :class:`PoolRange`; taken ranges as :class:`Reserved`.

Pure logic: standard library only. A range is kept by its two ends, never enumerated (a /8 or an IPv6
/64 costs what a /30 does).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterable, Union

from ..errors import PoolError
from ..inputs import cut
from ..views import Viewed

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]
INTERFACE_TYPES = (ipaddress.IPv4Interface, ipaddress.IPv6Interface)
ADDRESS_TYPES = (ipaddress.IPv4Address, ipaddress.IPv6Address)
NETWORK_TYPES = (ipaddress.IPv4Network, ipaddress.IPv6Network)
_SCOPED = ("a scoped address such as fe80::1%eth0 belongs to one interface and cannot be in a pool: "
           "use a global or unique-local address (kind's are like fc00:f853:ccd:e793::10)")


def _unscoped(value):
    """``value``, or PoolError when it is a scoped IPv6 address/network (``fe80::1%eth0``)."""
    if getattr(value, "scope_id", None) or getattr(getattr(value, "network_address", None), "scope_id", None):
        raise PoolError(f"{cut(str(value))}: {_SCOPED}")
    return value


def plain_address(value):
    """``value`` as a user gave it, or PoolError when it is scoped or IPv4-mapped IPv6 (``::ffff:1.2.3.4``:
    IPv4 dressed as IPv6, which neither MetalLB nor Docker hands out as either family)."""
    _unscoped(value)
    for addr in (value, getattr(value, "network_address", None)):  # a network lies inside ::ffff:0:0/96 or not
        mapped = getattr(addr, "ipv4_mapped", None)
        if mapped is not None:
            raise PoolError(f"{cut(str(value))} is an IPv4-mapped IPv6 address (::ffff:a.b.c.d): pools and subnets "
                            f"take plain IPv4 or IPv6; write the IPv4 address itself, e.g. {mapped}")
    return value


def _address(text: str, what: str = "address") -> IPAddress:
    bare = text.strip()
    if "%" in bare:
        raise PoolError(f"{cut(bare)}: {_SCOPED}")
    if bare.startswith("[") and bare.endswith("]") and bare.count("[") == 1 and bare.count("]") == 1:
        bare = bare[1:-1]  # [fc00::1], as URLs write IPv6
    try:
        if "[" in bare or "]" in bare:
            raise ValueError(bare)
        addr = ipaddress.ip_address(bare)
    except ValueError:
        raise PoolError(
            f"{cut(text.strip())} is not an IP {what}: write it like 172.19.255.1 or fc00:f853:ccd:e793::1"
            + (" (brackets go around one IPv6 address, both of them: [fc00::1])" if "[" in text or "]" in text
               else "")
        ) from None
    return plain_address(addr)


def _one_address(value: object) -> IPAddress:
    """An address from text or an ipaddress object (an interface counts as its address)."""
    if isinstance(value, INTERFACE_TYPES):
        value = value.ip
    if isinstance(value, ADDRESS_TYPES):
        return _unscoped(value)
    if isinstance(value, str):
        return _address(value)
    raise PoolError(f"{cut(value)} is not an IP address: write it like 172.19.255.1 or fc00:f853:ccd:e793::1")


@dataclass(frozen=True, init=False)
class PoolRange(Viewed):
    """A contiguous range of addresses, written ``first-last`` as MetalLB does.

    ``PoolRange("172.19.255.1-172.19.255.250")`` reads any pool spec (as :meth:`parse` does);
    ``PoolRange(first, last)`` takes two addresses (text or ipaddress objects).

    >>> p = PoolRange("172.19.255.1-172.19.255.250")
    >>> p.size, str(p)
    (250, '172.19.255.1-172.19.255.250')
    >>> PoolRange("172.19.255.1", "172.19.255.9").size
    9
    >>> PoolRange.parse("10.0.0.0/30").cidr
    IPv4Network('10.0.0.0/30')
    """

    first: IPAddress
    last: IPAddress

    def __init__(self, first: "PoolSpec", last: IPAddress | str | None = None) -> None:
        if last is None:
            parsed = PoolRange.parse(first)
            first, last = parsed.first, parsed.last
        else:
            first, last = _one_address(first), _one_address(last)
        object.__setattr__(self, "first", first)
        object.__setattr__(self, "last", last)
        self.__post_init__()

    def __post_init__(self) -> None:
        if self.first.version != self.last.version:
            raise PoolError(
                f"{self.first}-{self.last} mixes IPv{self.first.version} and IPv{self.last.version}: "
                "a range must stay in one address family (use two pools for dual stack)"
            )
        if self.first > self.last:
            raise PoolError(
                f"{self.first}-{self.last} is reversed (the first address is above the last): "
                f"write it as {self.last}-{self.first}"
            )

    @classmethod
    def parse(cls, spec: "PoolSpec") -> "PoolRange":
        """Read ``a-b``, a CIDR ``net/len``, a single address, or ipaddress objects."""
        if isinstance(spec, PoolRange):
            return spec
        if isinstance(spec, INTERFACE_TYPES):  # an interface names one taken address, not its whole network
            spec = spec.ip
        if isinstance(spec, ADDRESS_TYPES):
            return cls(plain_address(spec), spec)
        if isinstance(spec, NETWORK_TYPES):  # a range by its ends: never enumerated
            plain_address(spec)
            return cls(spec.network_address, spec.broadcast_address)
        if not isinstance(spec, str):
            raise PoolError(
                f"{cut(spec)} (a {type(spec).__name__}) is not a pool: give text like 172.19.255.1-172.19.255.250, "
                "172.19.255.0/24 or one address, an ipaddress address/network/interface, or a PoolRange"
            )
        text = spec.strip()
        if not text:
            raise PoolError(
                "the pool is empty: give a range like 172.19.255.1-172.19.255.250 or a CIDR like 172.19.255.0/24"
            )
        if "%" in text:
            raise PoolError(f"{cut(text)}: {_SCOPED}")
        if "/" in text:
            try:
                plain_address(ipaddress.ip_network(text, strict=False))  # ::ffff:a.b.c.d/n: said before its host bits
            except ValueError as exc:
                if isinstance(exc, PoolError):
                    raise
            try:
                net = ipaddress.ip_network(text, strict=True)
            except ValueError as exc:
                if "host bits set" in str(exc):
                    loose = ipaddress.ip_network(text, strict=False)
                    raise PoolError(
                        f"{cut(text)} has host bits set, so it is not one CIDR block: did you mean {loose}, "
                        f"or a range like {loose.network_address}-{loose.broadcast_address}?"
                    ) from None
                raise PoolError(
                    f"{cut(text)} is not a CIDR block: write it like 172.19.255.0/24 or fc00:f853:ccd:e793::ff00/120"
                ) from None
            return cls(net.network_address, net.broadcast_address)
        if "-" in text:
            left, sep, right = text.partition("-")
            if "-" in right:
                raise PoolError(f"{cut(text)} has more than one '-': write a range as first-last")
            return cls(_address(left), _address(right))
        addr = _address(text)
        return cls(addr, addr)

    @property
    def version(self) -> int:
        return self.first.version

    @property
    def size(self) -> int:
        return int(self.last) - int(self.first) + 1

    @property
    def cidr(self) -> IPNetwork | None:
        """The one CIDR block that is exactly this range, or None."""
        nets = list(ipaddress.summarize_address_range(self.first, self.last))
        return nets[0] if len(nets) == 1 else None

    def as_cidr_or_range(self) -> str:
        """CIDR text when the range is exactly one block, else ``first-last``."""
        net = self.cidr
        return str(net) if net is not None else str(self)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, INTERFACE_TYPES):
            item = item.ip
        if isinstance(item, str):
            item = _address(item)
        if isinstance(item, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            return item.version == self.version and self.first <= item <= self.last
        if isinstance(item, PoolRange):
            return item.version == self.version and self.first <= item.first and item.last <= self.last
        return False

    def overlaps(self, other: "PoolRange") -> bool:
        return self.version == other.version and self.first <= other.last and other.first <= self.last

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


PoolSpec = Union[str, PoolRange, IPAddress, IPNetwork]


@dataclass(frozen=True)
class Reserved:
    """A taken range with a label that says whose it is: ``Reserved("node kind-worker", "172.19.0.3")``."""

    label: str
    range: PoolRange

    def __init__(self, label: str, spec: PoolSpec) -> None:
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "range", PoolRange.parse(spec))

    def __str__(self) -> str:
        r = self.range
        return f"{self.label} {r.first if r.size == 1 else r}"


TakenSpec = Union[Reserved, PoolSpec, "tuple[str, PoolSpec]"]


_SINGLE = (str, PoolRange, Reserved, *ADDRESS_TYPES, *NETWORK_TYPES, *INTERFACE_TYPES)


def reserved(taken: Iterable[TakenSpec] | TakenSpec | None) -> list[Reserved]:
    """Normalise ``taken`` entries to labelled ranges.

    Entries may be text (an address, ``a-b`` or a CIDR), ipaddress addresses, networks or
    interfaces (an interface is its address), PoolRanges, Reserved, or ``(label, spec)`` pairs;
    a single entry may be given without a list.

    >>> [str(r) for r in reserved(["172.19.0.10", ipaddress.ip_interface("172.19.0.5/16")])]
    ['taken 172.19.0.10', 'taken 172.19.0.5']
    """
    if taken is None:
        return []
    if isinstance(taken, _SINGLE):
        taken = [taken]
    elif isinstance(taken, tuple) and len(taken) == 2 and isinstance(taken[0], str) and isinstance(taken[1], _SINGLE) \
            and not isinstance(taken[1], Reserved):
        try:  # a lone ("label", spec) pair, unless it is two specs
            PoolRange.parse(taken[0])
        except PoolError:
            taken = [taken]
    elif not isinstance(taken, (list, tuple, set, frozenset)) and not hasattr(taken, "__next__"):
        raise PoolError(
            f"taken must be a list of addresses or ranges like ['172.19.0.10', '172.19.1.0/24'], not {cut(taken)}"
        )
    out: list[Reserved] = []
    for item in taken:
        if isinstance(item, Reserved):
            out.append(item)
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            out.append(Reserved(item[0], item[1]))
        else:
            out.append(Reserved("taken", item))
    return out
