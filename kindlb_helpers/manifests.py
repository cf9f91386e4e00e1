"""MetalLB configuration as Kubernetes objects (plain dicts), for the MetalLB version at hand.

Before v0.13 MetalLB read a ConfigMap ``config`` in ``metallb-system`` (the article's format);
from v0.13 on it reads ``IPAddressPool`` and ``L2Advertisement`` custom resources.
"""
from __future__ import annotations

import re
from typing import Iterable

import yaml

from .errors import MetalLBError, PoolError
from .pool import PoolRange, PoolSpec

NAMESPACE = "metallb-system"
#: First MetalLB release configured by custom resources instead of the ConfigMap.
CRD_SINCE = (0, 13, 0)
#: The release the notebooks install by default, and the article's.
from .versions import METALLB_VERSION as DEFAULT_VERSION  # noqa: E402  (the pin lives in versions.env)
ARTICLE_VERSION = "v0.9.4"
API_VERSION = "metallb.io/v1beta1"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def parse_version(version: str | tuple[int, ...]) -> tuple[int, int, int]:
    """``"v0.13.12"`` -> ``(0, 13, 12)``; a clear error for anything else.

    >>> parse_version("v0.9.4")
    (0, 9, 4)
    """
    if isinstance(version, tuple):
        parts = tuple(int(p) for p in version) + (0, 0, 0)
        return parts[:3]  # type: ignore[return-value]
    m = re.fullmatch(r"\s*v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+][0-9A-Za-z.-]+)?\s*", str(version))
    if not m:
        raise MetalLBError(
            f"{version!r} is not a MetalLB version: write it like v0.16.1 (current) or v0.9.4 (the article's)"
        )
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def uses_crds(version: str | tuple[int, ...]) -> bool:
    """True when this MetalLB version is configured with IPAddressPool/L2Advertisement."""
    return parse_version(version) >= CRD_SINCE


def _pools(pool: PoolSpec | Iterable[PoolSpec]) -> list[PoolRange]:
    items = [pool] if isinstance(pool, (str, PoolRange)) or not hasattr(pool, "__iter__") else list(pool)
    ranges = [PoolRange.parse(p) for p in items]
    if not ranges:
        raise PoolError("no address range given: pass at least one range like 172.19.255.1-172.19.255.250")
    for i, a in enumerate(ranges):
        for b in ranges[i + 1 :]:
            if a.overlaps(b):
                raise PoolError(f"ranges {a} and {b} overlap: give each address once")
    return ranges


def metallb_manifests(
    pool: PoolSpec | Iterable[PoolSpec],
    version: str = DEFAULT_VERSION,
    name: str = "default",
    auto_assign: bool = True,
) -> list[dict]:
    """The objects that give MetalLB ``version`` a layer-2 pool named ``name``.

    ``pool`` is one range or several (say one IPv4 and one IPv6 range); all go into one pool.
    With ``auto_assign=False`` only Services that ask for the pool by name get its addresses.

    >>> [o["kind"] for o in metallb_manifests("172.19.255.1-172.19.255.250", "v0.16.1")]
    ['IPAddressPool', 'L2Advertisement']
    >>> metallb_manifests("172.19.255.1-172.19.255.250", "v0.9.4")[0]["kind"]
    'ConfigMap'
    """
    if not _DNS_LABEL.match(name) or len(name) > 63:
        raise PoolError(
            f"pool name {name!r} is not a valid Kubernetes name: use lowercase letters, digits and '-', "
            "starting and ending with a letter or digit (e.g. 'default')"
        )
    ranges = _pools(pool)
    addresses = [r.as_cidr_or_range() for r in ranges]
    if not uses_crds(version):
        entry = {"name": name, "protocol": "layer2", "addresses": addresses}
        if not auto_assign:
            entry["auto-assign"] = False
        config = {"address-pools": [entry]}
        return [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"namespace": NAMESPACE, "name": "config"},
                "data": {"config": yaml.safe_dump(config, sort_keys=False)},
            }
        ]
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


def to_yaml(objects: list[dict]) -> str:
    """The objects as one multi-document YAML text, as ``kubectl apply -f`` takes it."""
    return yaml.safe_dump_all(objects, sort_keys=False)


def manifest_url(version: str = DEFAULT_VERSION) -> list[str]:
    """Where MetalLB publishes the install manifests of ``version`` (needs internet)."""
    major, minor, patch = parse_version(version)
    tag = f"v{major}.{minor}.{patch}"
    base = f"https://raw.githubusercontent.com/metallb/metallb/{tag}"
    if (major, minor, patch) >= CRD_SINCE:
        return [f"{base}/config/manifests/metallb-native.yaml"]
    return [f"{base}/manifests/namespace.yaml", f"{base}/manifests/metallb.yaml"]
