"""``kh.pool``: the address pool MetalLB hands out: the subnet as ``sipcalc`` shows it, what on it is taken,
the range planned or picked inside it, checked, and drawn.

>>> import kindlb_helpers as kh
>>> str(kh.pool.plan("172.19.0.1/16"))
'172.19.255.1-172.19.255.250'
"""
from ._cluster.network import plan_for, taken_from_text
from ._cluster.network import taken_on as taken
from ._core.pool import PoolRange, Reserved, default_size
from ._core.pool import plan_pool as plan
from ._core.pool import validate_pool as validate
from ._core.sipcalc import format_sipcalc
from ._lesson.subnet import sipcalc_table
from ._lesson.subnet import subnet_figure as figure
from ._lesson.subnet import taken_frame as taken_table
from ._lesson.widgets import PoolPicker
from ._lesson.widgets import pool_picker as picker

__all__ = ["PoolPicker", "PoolRange", "Reserved", "default_size", "figure", "format_sipcalc", "picker", "plan",
           "plan_for", "sipcalc_table", "taken", "taken_from_text", "taken_table", "validate"]
