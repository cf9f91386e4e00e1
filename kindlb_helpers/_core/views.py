"""The hook by which the lesson layer shows the core's and the cluster layer's values: those layers return plain
data, and a value a notebook shows inherits :class:`Viewed`, whose ``_repr_html_`` asks the view the lesson layer
registered for its type (``kindlb_helpers._lesson.render``, which ``import kindlb_helpers`` loads). A value with no
view shows as its text.
"""
from __future__ import annotations

from typing import Any, Callable

#: "module.Class" -> the lesson layer's HTML view of such a value (filled by ``_lesson/render.py``; by name, so
#: that registering a view imports nothing).
HTML_VIEWS: dict[str, Callable[[Any], str]] = {}


class Viewed:
    """A value a notebook shows: Jupyter asks for ``_repr_html_``, and the lesson layer's view answers."""

    def _repr_html_(self) -> str | None:
        for cls in type(self).__mro__:
            view = HTML_VIEWS.get(f"{cls.__module__}.{cls.__qualname__}")
            if view is not None:
                return view(self)
        return None
