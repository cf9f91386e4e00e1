"""The subnet table the `sipcalc` program prints, computed with :mod:`ipaddress`.

``sipcalc_rows`` gives sipcalc's ``[CIDR]`` (IPv4) or ``[IPV6 INFO]`` (IPv6)
section as (field, value) rows (the lesson shows them as a table: ``kh.pool.sipcalc_table``);
``format_sipcalc`` gives the same as sipcalc's text, for ``kindlb sipcalc CIDR``. Nothing enumerates
hosts, so ``0.0.0.0/0`` or ``::/1`` answer at once. ``tests/test_sipcalc.py`` compares both with the real binary.

Where this module and sipcalc 1.1.6 differ, on purpose:

* ``0.0.0.0/0``: sipcalc counts 4294967295 addresses; the right count,
  4294967296, is shown.
* ``0.0.0.0/32`` and ``255.255.255.255/32``: sipcalc's arithmetic wraps
  around and prints a usable range (``0.0.0.1 - 255.255.255.255``); like
  every other /32 (and /31), they get none.
* ``fc00::/7`` (unique local addresses, RFC 4193 and today's IANA IPv6
  address space registry, e.g. kind's ``fc00:f853:ccd:e793::/64``): sipcalc
  predates the block and says ``Unassigned``; this module says
  ``Unique Local Unicast Addresses``. Every other ``Address type`` and
  ``Comment`` is sipcalc's, including its old labels ``Aggregatable Global
  Unicast Addresses`` (2000::/3) and ``Site-Local Unicast Addresses``
  (fec0::/10, deprecated by RFC 3879).
* Input: IPv4 octets with leading zeros (``010.1.2.3``, octal to some tools,
  decimal to sipcalc) are refused as ambiguous; IPv6 spellings where ``::``
  stands for a single zero group (``::1:2:3:4:5:6:7``), valid per RFC 4291
  but refused by sipcalc, are accepted.
"""
from __future__ import annotations

import ipaddress
import re

from .errors import BadInput
from .inputs import cut

__all__ = ["sipcalc_rows", "format_sipcalc"]

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

_TAB = "\t"
_EXAMPLES = "try 172.19.0.1/16, 172.19.0.1 255.255.0.0 or fc00:f853:ccd:e793::1/64"
_PREFIX_FORM = re.compile(r"(?P<addr>[^/\s]+)(?:/(?P<prefix>[0-9]{1,3}))?")
_MASK_FORM = re.compile(r"(?P<addr>[0-9.]+) (?P<mask>[0-9.]+|0[xX][0-9a-fA-F]{1,8})")


def _bad(addr: object, reason: str) -> BadInput:
    reason = reason if len(reason) <= 120 else reason[:100] + "..."  # ipaddress's reasons echo the input too
    return BadInput(
        f"{cut(addr)} is not an IPv4 or IPv6 address with an optional /prefix "
        f"({reason}): {_EXAMPLES}"
    )


def _mask_bits(addr: str, mask: str) -> int:
    """Prefix length of a dotted or 0x-hex IPv4 netmask; ValueError if not contiguous."""
    if mask[:2].lower() == "0x":
        value = int(mask, 16)
    else:
        try:
            value = int(ipaddress.IPv4Address(mask))
        except ValueError:
            raise _bad(addr, f"{mask} is not a netmask") from None
    inverted = value ^ 0xFFFFFFFF
    if inverted & (inverted + 1):  # host bits must be a run of ones at the end
        raise _bad(addr, f"netmask {mask} is not contiguous")
    return 32 - inverted.bit_length()


def _parse(addr: str) -> tuple[str, Interface]:
    """The input as sipcalc would echo it, and the interface it names."""
    if not isinstance(addr, str):
        raise _bad(addr, f"expected a string, got {type(addr).__name__}")
    text = " ".join(addr.split())
    mask_form = _MASK_FORM.fullmatch(text)
    match = mask_form or _PREFIX_FORM.fullmatch(text)
    if match is None:
        raise _bad(addr, "expected ADDRESS, ADDRESS/PREFIX or IPv4-ADDRESS NETMASK")
    host = match["addr"]
    if "%" in host:
        raise _bad(addr, "scoped addresses such as fe80::1%eth0 have no subnet")
    try:
        ip = (ipaddress.IPv6Address if ":" in host else ipaddress.IPv4Address)(host)
    except ValueError as exc:  # the specific reason, e.g. "Octet 300 (> 255) not permitted"
        raise _bad(addr, str(exc)) from None
    if mask_form:
        bits = _mask_bits(addr, match["mask"])
    else:
        bits = ip.max_prefixlen if match["prefix"] is None else int(match["prefix"])
    if bits > ip.max_prefixlen:
        raise _bad(addr, f"/{bits} is longer than IPv{ip.version}'s {ip.max_prefixlen} bits")
    return text, ipaddress.ip_interface((ip, bits))


def _ipv4_rows(iface: ipaddress.IPv4Interface) -> list[tuple[str, str]]:
    net = iface.network
    first, last = net.network_address, net.broadcast_address
    rows = [
        ("Host address", str(iface.ip)),
        ("Host address (decimal)", str(int(iface.ip))),
        ("Host address (hex)", f"{int(iface.ip):X}"),
        ("Network address", str(first)),
        ("Network mask", str(net.netmask)),
        ("Network mask (bits)", str(net.prefixlen)),
        ("Network mask (hex)", f"{int(net.netmask):X}"),
        ("Broadcast address", str(last)),
        ("Cisco wildcard", str(net.hostmask)),
        # sipcalc prints 4294967295 for /0; num_addresses is right (2**32).
        ("Addresses in network", str(net.num_addresses)),
        ("Network range", f"{first} - {last}"),
    ]
    if net.prefixlen < 31:  # as sipcalc, but not its wrapped 0.0.0.0/32 one
        rows.append(("Usable range", f"{first + 1} - {last - 1}"))
    return rows


def _hextets(value: int) -> list[int]:
    return [(value >> (112 - 16 * i)) & 0xFFFF for i in range(8)]


def _short(value: int) -> str:
    """sipcalc's uncompressed short form: 2001:db8:0:0:0:0:0:0."""
    return ":".join(f"{h:x}" for h in _hextets(value))


def _compressed(value: int) -> str:
    """Longest run of two or more zero groups becomes '::' (first one on a tie)."""
    groups = _hextets(value)
    best_start, best_len, start = -1, 1, None
    for i, group in enumerate(groups + [1]):  # the sentinel closes a final run
        if group == 0 and start is None:
            start = i
        elif group != 0 and start is not None:
            if i - start > best_len:
                best_start, best_len = start, i - start
            start = None
    text = [f"{g:x}" for g in groups]
    if best_start < 0:
        return ":".join(text)
    head = ":".join(text[:best_start])
    tail = ":".join(text[best_start + best_len:])
    return f"{head}::{tail}"


def _ipv6_type(first: int) -> str:
    """sipcalc's address type by the first 16 bits, plus fc00::/7 (RFC 4193)."""
    if first & 0xFFC0 == 0xFEC0:
        return "Site-Local Unicast Addresses"
    if first & 0xFFC0 == 0xFE80:
        return "Link-Local Unicast Addresses"
    if first & 0xFF00 == 0xFF00:
        return "Multicast Addresses"
    if first <= 0x00FF:
        return "Reserved"
    if first & 0xE000 == 0x2000:
        return "Aggregatable Global Unicast Addresses"
    if first & 0xFE00 == 0xFC00:
        return "Unique Local Unicast Addresses"  # sipcalc: "Unassigned"
    return "Unassigned"


def _ipv6_rows(iface: ipaddress.IPv6Interface) -> list[tuple[str, str]]:
    net = iface.network
    host, mask, bits = int(iface.ip), int(net.netmask), net.prefixlen
    rows = [
        ("Expanded Address", iface.ip.exploded),
        ("Compressed address", _compressed(host)),
        ("Subnet prefix (masked)", f"{_short(host & mask)}/{bits}"),
        ("Address ID (masked)", f"{_short(host & ~mask & (2**128 - 1))}/{bits}"),
        ("Prefix address", _short(mask)),
        ("Prefix length", str(bits)),
        ("Address type", _ipv6_type(host >> 112)),
    ]
    if host == 0:
        rows.append(("Comment", "Unspecified"))
    elif host == 1:
        rows.append(("Comment", "Loopback"))
    first, last = net.network_address.exploded, net.broadcast_address.exploded
    rows.append(("Network range", f"{first} - {last}"))
    return rows


def _rows(iface: Interface) -> list[tuple[str, str]]:
    if isinstance(iface, ipaddress.IPv4Interface):
        return _ipv4_rows(iface)
    return _ipv6_rows(iface)


def sipcalc_rows(addr_with_prefix: str) -> list[tuple[str, str]]:
    """sipcalc's [CIDR] (IPv4) or [IPV6 INFO] (IPv6) section as (field, value) rows, in sipcalc's order.

    A plain address means /32 or /128; an IPv4 address may also carry a netmask
    (``172.19.0.1 255.255.0.0`` or ``172.19.0.1 0xffff0000``). Values are
    strings exactly as sipcalc prints them (see the module docstring for where
    this is right and sipcalc is not). Raises ``ValueError``
    for anything else.

    >>> dict(sipcalc_rows("172.19.0.1/16"))["Usable range"]
    '172.19.0.1 - 172.19.255.254'
    >>> dict(sipcalc_rows("fc00:f853:ccd:e793::1/64"))["Subnet prefix (masked)"]
    'fc00:f853:ccd:e793:0:0:0:0/64'
    """
    _, iface = _parse(addr_with_prefix)
    return _rows(iface)


def _line(label: str, value: str) -> str:
    # sipcalc pads labels with tabs so every value starts at column 24.
    return f"{label}{_TAB * (3 - len(label) // 8)}- {value}"


def format_sipcalc(addr: str) -> str:
    """The text ``sipcalc ADDR`` prints (without the final newline).

    >>> print(format_sipcalc("10.0.0.1/31"))  # doctest: +NORMALIZE_WHITESPACE
    -[ipv4 : 10.0.0.1/31] - 0
    <BLANKLINE>
    [CIDR]
    Host address            - 10.0.0.1
    Host address (decimal)  - 167772161
    Host address (hex)      - A000001
    Network address         - 10.0.0.0
    Network mask            - 255.255.255.254
    Network mask (bits)     - 31
    Network mask (hex)      - FFFFFFFE
    Broadcast address       - 10.0.0.1
    Cisco wildcard          - 0.0.0.1
    Addresses in network    - 2
    Network range           - 10.0.0.0 - 10.0.0.1
    <BLANKLINE>
    -
    """
    text, iface = _parse(addr)
    v4 = isinstance(iface, ipaddress.IPv4Interface)
    lines = [f"-[ipv{iface.version} : {text}] - 0", "", "[CIDR]" if v4 else "[IPV6 INFO]"]
    for label, value in _rows(iface):
        if label == "Network range" and not v4:  # sipcalc wraps the IPv6 range
            first, last = value.split(" - ")
            lines += [_line(label, f"{first} -"), _TAB * 3 + "  " + last]
        else:
            lines.append(_line(label, value))
    return "\n".join(lines + ["", "-"])
