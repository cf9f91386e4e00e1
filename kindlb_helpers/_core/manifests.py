"""MetalLB configuration as Kubernetes objects (plain dicts), for the MetalLB version at hand.

Before v0.13 MetalLB read a ConfigMap ``config`` in ``metallb-system`` (the article's format);
from v0.13 on it reads ``IPAddressPool`` and ``L2Advertisement`` custom resources.
"""
from __future__ import annotations

import ipaddress  # noqa: F401  (the doctests use it)
from typing import Iterable

import yaml

from .errors import BadInput, PoolError
from .names import dns1123_subdomain
from .pool import PoolRange, PoolSpec
from .release import release

NAMESPACE = "metallb-system"
#: The release the notebooks install by default, and the article's.
from .versions import METALLB_ARTICLE_VERSION as ARTICLE_VERSION  # noqa: E402, F401  (pins: versions.env)
from .versions import METALLB_VERSION as DEFAULT_VERSION  # noqa: E402

API_VERSION = "metallb.io/v1beta1"



def parse_version(version: str | tuple[int, ...]) -> tuple[int, int, int]:
    """``"v0.13.12"`` -> ``(0, 13, 12)``; a clear BadVersion for anything else (see :mod:`.release`).

    >>> parse_version("v0.9.4")
    (0, 9, 4)
    """
    return release(version).parts


def uses_crds(version: str | tuple[int, ...]) -> bool:
    """True when this MetalLB version is configured with IPAddressPool/L2Advertisement."""
    return release(version).uses_crds


def pool_ranges(pool: PoolSpec | Iterable[PoolSpec]) -> list[PoolRange]:
    """One pool spec, or a list/tuple of them, as non-overlapping ranges.

    A spec is text (``a-b``, a CIDR or one address), an ipaddress address or network, or a
    PoolRange. A network is a range by its two ends: it is never enumerated.

    >>> [str(r) for r in pool_ranges(ipaddress.ip_network("fc00:f853:ccd:e793::/64"))]
    ['fc00:f853:ccd:e793::-fc00:f853:ccd:e793:ffff:ffff:ffff:ffff']
    """
    items = list(pool) if isinstance(pool, (list, tuple)) else [pool]
    ranges = [PoolRange.parse(p) for p in items]
    if not ranges:
        raise PoolError("no address range given: pass at least one range like 172.19.255.1-172.19.255.250")
    ordered = sorted(ranges, key=lambda r: (r.version, int(r.first)))  # sorted once: neighbours are the only risk
    for a, b in zip(ordered, ordered[1:]):
        if a.overlaps(b):
            raise PoolError(f"ranges {a} and {b} overlap: give each address once")
    return ranges


def configmap(pools: list[dict]) -> dict:
    """The ConfigMap era's one object: ConfigMap ``config`` in ``metallb-system`` whose ``config`` holds these
    ``address-pools`` entries (each as MetalLB v0.12.1 reads it: name, protocol, addresses, auto-assign).

    >>> configmap([{"name": "a", "protocol": "layer2", "addresses": ["10.0.0.1/32"]}])["data"]["config"]
    'address-pools:\\n- name: a\\n  protocol: layer2\\n  addresses:\\n  - 10.0.0.1/32\\n'
    """
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"namespace": NAMESPACE, "name": "config"},
        "data": {"config": yaml.safe_dump({"address-pools": list(pools)}, sort_keys=False)},
    }


def metallb_manifests(
    pool: PoolSpec | Iterable[PoolSpec],
    version: str = DEFAULT_VERSION,
    name: str = "default",
    auto_assign: bool = True,
) -> list[dict]:
    """The objects that give MetalLB ``version`` a layer-2 pool named ``name``.

    ``pool`` is one range or several (say one IPv4 and one IPv6 range); all go into one pool.
    A malformed ``version`` raises BadVersion (a ValueError), a bad pool or name PoolError.
    With ``auto_assign=False`` only Services that ask for the pool by name get its addresses.

    >>> [o["kind"] for o in metallb_manifests("172.19.255.1-172.19.255.250", "v0.16.1")]
    ['IPAddressPool', 'L2Advertisement']
    >>> metallb_manifests("172.19.255.1-172.19.255.250", "v0.9.4")[0]["kind"]
    'ConfigMap'
    """
    try:
        dns1123_subdomain(name, "pool name")
    except BadInput as exc:
        raise PoolError(str(exc)) from None
    if not isinstance(auto_assign, bool):
        raise PoolError(f"auto_assign must be True or False, not {auto_assign!r}")
    ranges = pool_ranges(pool)
    addresses = [r.as_cidr_or_range() for r in ranges]
    if not uses_crds(version):
        entry = {"name": name, "protocol": "layer2", "addresses": addresses}
        if not auto_assign:
            entry["auto-assign"] = False
        return [configmap([entry])]
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "IPAddressPool",
            "metadata": {"namespace": NAMESPACE, "name": name},
            "spec": {"addresses": addresses, **({} if auto_assign else {"autoAssign": False})},
        },
        {
            "apiVersion": API_VERSION,
            "kind": "L2Advertisement",
            "metadata": {"namespace": NAMESPACE, "name": name},
            "spec": {"ipAddressPools": [name]},
        },
    ]


def manifest_url(version: str = DEFAULT_VERSION) -> list[str]:
    """Where MetalLB publishes the install manifests of ``version`` (needs internet)."""
    return list(release(version).manifest_urls)
