"""One pool, both families: check every range of a dual-stack pool against the cluster and the kind network.

A MetalLB pool may hold IPv4 and IPv6 ranges side by side (an ``IPAddressPool``'s ``addresses``, or the
ConfigMap's). Each range must sit on the bridge's own segment of its family (the kind network's IPv4 subnet,
or its IPv6 /64), clear of the bridge's own address (Docker's gateway), the nodes and the containers; and
the cluster must serve that family, or no Service ever asks for it. :func:`validate_families` says what is
wrong before anything is applied. Pure: standard library only.
"""
from __future__ import annotations

from typing import Iterable, Mapping

from ..errors import PoolError
from ..inputs import cut
from .plan import plan_pool, validate_pool
from .ranges import IPAddress, IPNetwork, PoolRange, PoolSpec, Reserved, TakenSpec, reserved
from .subnets import as_subnet

FAMILY_NAMES = {4: "IPv4", 6: "IPv6"}
_DUAL_HOW = ("make a dual-stack cluster (kind's networking.ipFamily: dual; offline: "
             "kindlb lab up --ip-family dual)")


def family_word(families: Iterable[int]) -> str:
    """``"IPv4 only"``, ``"IPv6 only"`` or ``"IPv4 and IPv6"``.

    >>> family_word([4]), family_word({6, 4})
    ('IPv4 only', 'IPv4 and IPv6')
    """
    fams = sorted(set(families))
    if len(fams) == 1:
        return f"{FAMILY_NAMES[fams[0]]} only"
    return " and ".join(FAMILY_NAMES[f] for f in fams)


def _families(value: Iterable[int] | str, what: str) -> tuple[int, ...]:
    words = {"ipv4": (4,), "ipv6": (6,), "dual": (4, 6), "4": (4,), "6": (6,)}
    if isinstance(value, str):
        if value.strip().lower() not in words:
            raise PoolError(f"{what} must be 'ipv4', 'ipv6' or 'dual' (got {cut(value)})")
        return words[value.strip().lower()]
    try:
        fams = tuple(sorted(set(value)))
    except TypeError:
        raise PoolError(f"{what} must be families like (4, 6) or 'dual' (got {cut(value)})") from None
    if not fams or any(f not in (4, 6) for f in fams):
        raise PoolError(f"{what} must be families like (4, 6) or 'dual' (got {cut(value)})")
    return fams


def validate_families(
    ranges: Iterable[PoolSpec] | PoolSpec,
    subnets: Mapping[int, str | IPNetwork],
    cluster: Iterable[int] | str,
    taken: Mapping[int, Iterable[TakenSpec]] | None = None,
    gateways: Mapping[int, str | IPAddress] | None = None,
    require: Iterable[int] | str = (),
) -> list[PoolRange]:
    """Check a pool's ranges against the cluster's families and the kind network's subnets, before anything
    is applied; return them as PoolRanges. PoolError says what is wrong and what to do.

    ``subnets``: the kind network's subnet per family ({4: "172.19.0.0/16", 6: "fc00:...::/64"}); ``cluster``:
    the families the cluster gives Services ((4,), (4, 6), or "ipv4" / "dual"); ``taken``: per family, what
    is in use (nodes, containers, other pools); ``gateways``: per family, the bridge's own address (Docker's
    gateway), always refused in a pool; ``require``: families the pool must cover (a dual-stack lesson pool:
    "dual").

    >>> nets = {4: "172.19.0.0/16", 6: "fc00:f853:ccd:e793::/64"}
    >>> [str(r) for r in validate_families(["172.19.255.1-172.19.255.250", "fc00:f853:ccd:e793::ff00/120"],
    ...                                     nets, "dual", require="dual")]
    ['172.19.255.1-172.19.255.250', 'fc00:f853:ccd:e793::ff00-fc00:f853:ccd:e793::ffff']
    >>> validate_families(["fc00:f853:ccd:e793::ff01-fc00:f853:ccd:e793::fffa"], nets, "ipv4")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kindlb_helpers._core.errors.PoolError: pool range fc00:f853:ccd:e793::ff01-... is IPv6, but the cluster ...
    """
    items = [ranges] if isinstance(ranges, (str, PoolRange)) else list(ranges)
    if not items:
        raise PoolError("the pool has no ranges: give at least one, e.g. ['172.19.255.1-172.19.255.250']")
    fams = _families(cluster, "the cluster's families")
    must = _families(require, "require") if require else ()
    nets = {int(f): as_subnet(s) for f, s in (subnets or {}).items()}
    for f, net in nets.items():
        if net.version != f:
            raise PoolError(f"subnet {net} is given as the IPv{f} subnet but is IPv{net.version}")
    parsed = [PoolRange.parse(r) for r in items]  # refuses IPv4-mapped (::ffff:a.b.c.d) and scoped addresses
    out: list[PoolRange] = []
    for rng in parsed:
        fam = rng.version
        if fam not in fams:
            raise PoolError(
                f"pool range {rng} is IPv{fam}, but the cluster serves {family_word(fams)}: its Services get "
                f"only {family_word(fams).replace(' only', '')} ClusterIPs, so MetalLB never hands out this range. "
                f"Drop it, or {_DUAL_HOW}")
        if fam not in nets:
            have = ", ".join(str(n) for n in nets.values()) or "none"
            raise PoolError(f"pool range {rng} is IPv{fam}, but the kind network has no IPv{fam} subnet (it has "
                            f"{have}): an address there would be on no segment the nodes share")
        net = nets[fam]
        entries = reserved(list((taken or {}).get(fam, ())))
        gw = (gateways or {}).get(fam)
        if gw is not None:
            entries.insert(0, Reserved("the bridge's own address (Docker's gateway)", gw))
        try:
            out.append(validate_pool(rng, net, entries))
        except PoolError as exc:
            raise PoolError(f"{exc} (the IPv{fam} range must sit on the bridge's own segment, {net})") from None
    for i, a in enumerate(out):
        for b in out[i + 1:]:
            if a.overlaps(b):
                raise PoolError(f"pool ranges {a} and {b} overlap: give each address once")
    missing = [f for f in must if f not in {r.version for r in out}]
    if missing:
        f = missing[0]
        hint = ""
        if f in nets:
            try:
                gw = (gateways or {}).get(f)
                extra = [Reserved("gateway", gw)] if gw is not None else []
                hint = f", e.g. {plan_pool(nets[f], extra + reserved(list((taken or {}).get(f, ()))))}"
            except PoolError:
                hint = ""
        raise PoolError(f"the pool has no IPv{f} range, so a Service that asks for IPv{f} (SingleStack IPv{f}, "
                        f"RequireDualStack) gets no address: add an IPv{f} range from {nets.get(f, 'its subnet')}"
                        f"{hint}")
    return out


__all__ = ["FAMILY_NAMES", "family_word", "validate_families"]
