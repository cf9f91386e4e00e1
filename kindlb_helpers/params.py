"""``kh.params``: the notebooks' parameters: checked all at once before anything runs, and the pinned
images a parameter left at None stands for.

>>> import kindlb_helpers as kh
>>> kh.params.check(cluster="kindlb", pool_size=250)
"""
from ._core.params import check
from ._core.versions import NGINX_ONLINE_IMAGE, PROBE_ONLINE_IMAGE

__all__ = ["NGINX_ONLINE_IMAGE", "PROBE_ONLINE_IMAGE", "check"]
