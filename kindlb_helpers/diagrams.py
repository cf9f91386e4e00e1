"""``kh.diagrams``: the series' diagrams, committed SVGs that render offline.

>>> import kindlb_helpers as kh
>>> "kind-metallb" in kh.diagrams.names()
True
"""
from ._lesson.diagrams import diagram, names

__all__ = ["diagram", "names"]
