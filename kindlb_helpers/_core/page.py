"""An HTTP answer as the lesson shows it (pure data; fetched by ``lesson.app`` or ``cluster.containers``, drawn by
``lesson.render``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import hood as _hood
from .views import Viewed


@dataclass(frozen=True)
class Page(Viewed):
    """An HTTP answer: status, <title>, server header, and how many tries it took."""

    url: str
    status: int
    title: str | None
    server: str | None
    attempts: int
    seconds: float
    body: str = field(repr=False)
    hood: _hood.Hood | None = field(default=None, compare=False, repr=False)
