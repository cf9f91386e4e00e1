"""Subnets: a subnet as ``ip a`` shows it (host bits allowed, a bare address refused), and its usable addresses."""
from __future__ import annotations

import ipaddress

from ..errors import PoolError
from ..inputs import cut
from .ranges import (
    ADDRESS_TYPES,
    INTERFACE_TYPES,
    NETWORK_TYPES,
    IPInterface,
    IPNetwork,
    PoolRange,
    plain_address,
)

_NO_PREFIX = "write it as ip a shows it, e.g. 172.19.0.1/16 (or fc00:f853:ccd:e793::1/64)"


def as_subnet(subnet: str | IPNetwork | IPInterface) -> IPNetwork:
    """The network of ``subnet``; host bits are allowed (``172.19.0.1/16`` as ``ip a`` shows it).

    A bare address has no size, so it is refused rather than taken as a /32.

    >>> as_subnet("172.19.0.1/16")
    IPv4Network('172.19.0.0/16')
    >>> as_subnet("172.19.0.1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kindlb_helpers._core.errors.PoolError: '172.19.0.1' has no prefix length, ...: write it as ip a shows it, e.g. ...
    """
    if isinstance(subnet, INTERFACE_TYPES):
        subnet = subnet.network
    if isinstance(subnet, NETWORK_TYPES):
        return _one_host_refused(plain_address(subnet), str(subnet))
    if isinstance(subnet, ADDRESS_TYPES):
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
    return _one_host_refused(plain_address(net), text)


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
