"""The cache of loaded bundles: where ``load`` keeps a release's manifest, and what is loaded there.

The one copy lives in the cluster layer's resolver (``_cluster/sources.py``: the notebooks and the doctor
read it there); these are its names as the bundle commands use them.
"""
from __future__ import annotations

from ..._cluster.sources import Loaded, loaded_bundle
from ..._cluster.sources import bundle_cache as cache_dir

__all__ = ["Loaded", "cache_dir", "loaded_bundle"]
