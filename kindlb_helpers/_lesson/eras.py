"""The article's ConfigMap beside today's IPAddressPool + L2Advertisement, field by field (pure core).

Both columns are read out of :func:`~kindlb_helpers._core.manifests.metallb_manifests` for the same
pool, so the table shows what each release would really be given.

>>> compare("172.19.255.1-172.19.255.250").iloc[1].tolist()[:2]
['address-pools[0].name: default', 'IPAddressPool metadata.name: default']
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

from .._core.manifests import DEFAULT_VERSION, metallb_manifests
from .._core.release import FACTS, fact
from .._core.versions import METALLB_CONFIGMAP_VERSION as CONFIGMAP_ERA

if TYPE_CHECKING:  # pandas loads when a table is made (0.4 s): not at `import kindlb_helpers.metallb`
    import pandas as pd


def compare(pool, name: str = "default", version: str = DEFAULT_VERSION) -> pd.DataFrame:
    """One row per idea: how the ConfigMap era (v0.9-v0.12) writes it, how v0.13+ writes it, what it does."""
    import pandas as pd

    cm = metallb_manifests(pool, CONFIGMAP_ERA, name=name)[0]
    entry = yaml.safe_load(cm["data"]["config"])["address-pools"][0]
    ipp, l2 = metallb_manifests(pool, version, name=name)
    rows = [
        (f"ConfigMap {cm['metadata']['name']!r} in {cm['metadata']['namespace']}",
         f"kind: {ipp['kind']} and kind: {l2['kind']} in {ipp['metadata']['namespace']}",
         "where MetalLB reads its configuration: one text blob then, typed objects (checked by a webhook) now"),
        (f"address-pools[0].name: {entry['name']}", f"IPAddressPool metadata.name: {ipp['metadata']['name']}",
         "the pool's name: Services can ask for a pool by it"),
        (f"address-pools[0].addresses: {entry['addresses']}",
         f"IPAddressPool spec.addresses: {ipp['spec']['addresses']}",
         "the addresses the controller hands out to LoadBalancer Services"),
        (f"address-pools[0].protocol: {entry['protocol']}",
         f"L2Advertisement spec.ipAddressPools: {l2['spec']['ipAddressPools']}",
         "announce the pool's addresses in layer 2: one node answers ARP (IPv4) / NDP (IPv6) for each"),
        ("address-pools[0].auto-assign: false", "IPAddressPool spec.autoAssign: false",
         "MetalLB never picks from it by itself: only Services that name the pool, or request one of its "
         "addresses, get one"),
        (f"Service annotation {_prefix(CONFIGMAP_ERA)}/address-pool",
         f"Service annotation {_prefix(version)}/address-pool" + _prefix_note(version),
         "ask for an address from a named pool"),
        (f"Service spec.loadBalancerIP, or annotation {_prefix(CONFIGMAP_ERA)}/loadBalancerIPs (v0.12.0+)",
         f"Service annotation {_prefix(version)}/loadBalancerIPs" + _prefix_note(version),
         "ask for one particular address (the field is deprecated since Kubernetes 1.24)"),
    ]
    return pd.DataFrame(rows, columns=[f"ConfigMap era ({CONFIGMAP_ERA} and the article)",
                                       f"{version} (custom resources, v0.13+)",
                                       "what it does"])


def _prefix(version: str) -> str:
    """The Service annotation prefix MetalLB ``version`` writes (metallb.io from v0.14.9)."""
    return "metallb.io" if fact("metallb_io_prefix").holds(version) else "metallb.universe.tf"


def _prefix_note(version: str) -> str:
    f = fact("metallb_io_prefix")
    return (f" ({f.since}+; v0.13.0-v0.14.8 read only metallb.universe.tf/, which {f.since}+ still reads)"
            if f.holds(version) else f" (metallb.io/ from {f.since})")


def facts(version: str, *keys: str) -> pd.DataFrame:
    """The lesson's version facts (``keys``; all when none), each with the releases it holds for, whether it
    holds for ``version``, and the evidence in MetalLB's source or release notes
    (:data:`kindlb_helpers._core.release.FACTS`).

    >>> [str(x) for x in facts("v0.12.1", "memberlist_by_controller").iloc[0, 1:3]]
    ['from v0.10.0', 'True']
    """
    import pandas as pd

    chosen = [fact(k) for k in keys] if keys else list(FACTS)
    frame = pd.DataFrame([(f.text, f.releases, f.holds(version), f.evidence) for f in chosen],
                         columns=["fact", "releases", f"true for {version}",
                                  "evidence (MetalLB source / release notes)"])
    frame.attrs["version"] = version
    return frame


def facts_table(version: str, *keys: str):
    """:func:`facts` as a left-aligned table without the index, for notebooks."""
    return (facts(version, *keys).style.hide(axis="index")
            .set_properties(**{"text-align": "left"})
            .set_table_styles([{"selector": "th", "props": [("text-align", "left")]}]))


def table(pool, name: str = "default", version: str = DEFAULT_VERSION):
    """:func:`compare` as a left-aligned table without the index, for notebooks."""
    return (compare(pool, name, version).style.hide(axis="index")
            .set_properties(**{"text-align": "left"})
            .set_table_styles([{"selector": "th", "props": [("text-align", "left")]}]))
