"""Address pools for MetalLB: parse, plan and validate ranges inside the kind network.

Pure logic: standard library only. Every cost here grows with the number of taken
entries, never with the size of the subnet (a /8 or an IPv6 /64 answers at once).
"""
from __future__ import annotations

import html
import ipaddress
from dataclasses import dataclass
from typing import Iterable, Union

from .errors import PoolError
from .inputs import cut

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]
_INTERFACES = (ipaddress.IPv4Interface, ipaddress.IPv6Interface)
_ADDRESSES = (ipaddress.IPv4Address, ipaddress.IPv6Address)
_NETWORKS = (ipaddress.IPv4Network, ipaddress.IPv6Network)
_SCOPED = ("a scoped address such as fe80::1%eth0 belongs to one interface and cannot be in a pool: "
           "use a global or unique-local address (kind's are like fc00:f853:ccd:e793::10)")


def _unscoped(value):
    """``value``, or PoolError when it is a scoped IPv6 address/network (``fe80::1%eth0``)."""
    if getattr(value, "scope_id", None) or getattr(getattr(value, "network_address", None), "scope_id", None):
        raise PoolError(f"{cut(str(value))}: {_SCOPED}")
    return value


def _plain(value):
    """``value`` as a user gave it, or PoolError when it is scoped or IPv4-mapped IPv6 (``::ffff:1.2.3.4``:
    IPv4 dressed as IPv6, which neither MetalLB nor Docker hands out as either family)."""
    _unscoped(value)
    for addr in (value, getattr(value, "network_address", None)):  # a network lies inside ::ffff:0:0/96 or not
        mapped = getattr(addr, "ipv4_mapped", None)
        if mapped is not None:
            raise PoolError(f"{cut(str(value))} is an IPv4-mapped IPv6 address (::ffff:a.b.c.d): pools and subnets "
                            f"take plain IPv4 or IPv6; write the IPv4 address itself, e.g. {mapped}")
    return value


#: The article's pool for its /16 network: 250 addresses at the top.
DEFAULT_POOL_SIZE = 250


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
    return _plain(addr)


def _one_address(value: object) -> IPAddress:
    """An address from text or an ipaddress object (an interface counts as its address)."""
    if isinstance(value, _INTERFACES):
        value = value.ip
    if isinstance(value, _ADDRESSES):
        return _unscoped(value)
    if isinstance(value, str):
        return _address(value)
    raise PoolError(f"{cut(value)} is not an IP address: write it like 172.19.255.1 or fc00:f853:ccd:e793::1")


@dataclass(frozen=True, init=False)
class PoolRange:
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
        if isinstance(spec, _INTERFACES):  # an interface names one taken address, not its whole network
            spec = spec.ip
        if isinstance(spec, _ADDRESSES):
            return cls(_plain(spec), spec)
        if isinstance(spec, _NETWORKS):  # a range by its ends: never enumerated
            _plain(spec)
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
                _plain(ipaddress.ip_network(text, strict=False))  # ::ffff:a.b.c.d/n: said before its host bits
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
        if isinstance(item, _INTERFACES):
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

    def _repr_html_(self) -> str:
        cidr = self.cidr
        extra = f" = <code>{cidr}</code>" if cidr is not None else ""
        return (
            f"<div><b>PoolRange</b> <code>{html.escape(str(self))}</code>{extra}"
            f" &mdash; IPv{self.version}, {self.size:,} addresses</div>"
        )


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


_SINGLE = (str, PoolRange, Reserved, *_ADDRESSES, *_NETWORKS, *_INTERFACES)


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


_NO_PREFIX = "write it as ip a shows it, e.g. 172.19.0.1/16 (or fc00:f853:ccd:e793::1/64)"


def as_subnet(subnet: str | IPNetwork | IPInterface) -> IPNetwork:
    """The network of ``subnet``; host bits are allowed (``172.19.0.1/16`` as ``ip a`` shows it).

    A bare address has no size, so it is refused rather than taken as a /32.

    >>> as_subnet("172.19.0.1/16")
    IPv4Network('172.19.0.0/16')
    >>> as_subnet("172.19.0.1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kindlb_helpers.core.errors.PoolError: '172.19.0.1' has no prefix length, ...: write it as ip a shows it, e.g. ...
    """
    if isinstance(subnet, _INTERFACES):
        subnet = subnet.network
    if isinstance(subnet, _NETWORKS):
        return _one_host_refused(_plain(subnet), str(subnet))
    if isinstance(subnet, _ADDRESSES):
        raise PoolError(f"{subnet} is an address, not a subnet: {_NO_PREFIX}")
    if not isinstance(subnet, str):
        raise PoolError(f"{cut(subnet)} (a {type(subnet).__name__}) is not a subnet: {_NO_PREFIX}")
    text = subnet.strip()
    if "%" in text:
        raise PoolError(f"{cut(text)} is a scoped address (one interface's), not a subnet: {_NO_PREFIX}")
    if "/" not in text:
        try:
            ipaddress.ip_address(text)
        except ValueError:
            raise PoolError(f"{cut(text)} is not a subnet: {_NO_PREFIX}") from None
        raise PoolError(f"{cut(text)} has no prefix length, so its size is unknown: {_NO_PREFIX}")
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise PoolError(f"{cut(text)} is not a subnet: {_NO_PREFIX}") from None
    return _one_host_refused(_plain(net), text)


def _one_host_refused(net: IPNetwork, text: str) -> IPNetwork:
    """NET, unless it holds one address only (a /32 or /128): that is the bridge itself, with no room for a pool."""
    if net.num_addresses == 1:
        raise PoolError(f"{cut(text)} holds one address only (the bridge's own): give the bridge's subnet as "
                        "ip a shows it, e.g. 172.19.0.1/16 (or fc00:f853:ccd:e793::1/64)")
    return net


def usable_range(subnet: IPNetwork) -> PoolRange:
    """Addresses of ``subnet`` a pool may use: no network address, no IPv4 broadcast."""
    first, last = int(subnet.network_address), int(subnet.broadcast_address)
    make = type(subnet.network_address)
    if subnet.version == 4 and subnet.prefixlen <= 30:
        return PoolRange(make(first + 1), make(last - 1))
    if subnet.version == 6 and subnet.prefixlen <= 126:
        return PoolRange(make(first + 1), make(last))
    return PoolRange(make(first), make(last))  # /31, /32, /127, /128: every address is a host


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
