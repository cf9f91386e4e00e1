"""``kh.params``: the notebooks' parameters: checked all at once before anything runs, and where each image and
manifest comes from when its parameter is left at None (``resolve``: your value, else a loaded bundle, else the
offline lab, else the pinned online image).

>>> import kindlb_helpers as kh
>>> kh.params.check(cluster="kindlb", pool_size=250)
"""
from ._cluster.sources import resolve_all as resolve
from ._core.params import check
from ._core.versions import NGINX_ONLINE_IMAGE, PROBE_ONLINE_IMAGE

__all__ = ["NGINX_ONLINE_IMAGE", "PROBE_ONLINE_IMAGE", "check", "resolve"]
