"""``kh.doctor``: the environment check every notebook opens with (python, docker, kind, kubectl, the
cluster, its context, MetalLB) as a small table, and a stop with a clear message when a needed one fails.

>>> import kindlb_helpers as kh
>>> checks = kh.doctor.check("kindlb", checks=("python", "docker"))   # doctest: +SKIP
>>> kh.doctor.require(checks, "python", "docker")                    # doctest: +SKIP
"""
from ._lesson.doctor import CHECKS, require, styled
from ._lesson.doctor import check_environment as check
from ._lesson.laptop import laptop_checks

__all__ = ["CHECKS", "check", "laptop_checks", "require", "styled"]
