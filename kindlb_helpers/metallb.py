"""``kh.metallb``: MetalLB itself: its versions and eras (ConfigMap before v0.13, CRDs after), the facts
the lesson states about each release, its manifests, install, readiness, the pool's configuration, uninstall.

>>> import kindlb_helpers as kh
>>> kh.metallb.uses_crds("v0.12.1"), kh.metallb.uses_crds("v0.16.1")
(False, True)
"""
from ._cluster.metallb import (
    check_known_version,
    configure,
    install,
    installed_version,
    other_clusters_pools,
    pools,
    readiness,
    uninstall,
    wait_ready,
)
from ._core.hood import to_yaml
from ._core.manifests import ARTICLE_VERSION, DEFAULT_VERSION, parse_version, uses_crds
from ._core.manifests import metallb_manifests as manifests
from ._core.release import Fact, Release, fact, release
from ._lesson.eras import facts_table
from ._lesson.eras import table as eras_table

__all__ = ["ARTICLE_VERSION", "DEFAULT_VERSION", "Fact", "Release", "check_known_version", "configure",
           "eras_table", "fact", "facts_table", "install", "installed_version", "manifests", "other_clusters_pools",
           "parse_version", "pools", "readiness", "release", "to_yaml", "uninstall", "uses_crds", "wait_ready"]
