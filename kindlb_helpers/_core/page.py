"""An HTTP answer as the lesson shows it (pure data; fetched by ``lesson.app`` or ``cluster.containers``)."""
from __future__ import annotations

import html
from dataclasses import dataclass, field

from . import hood as _hood


@dataclass(frozen=True)
class Page:
    """An HTTP answer: status, <title>, server header, and how many tries it took."""

    url: str
    status: int
    title: str | None
    server: str | None
    attempts: int
    seconds: float
    body: str = field(repr=False)
    hood: _hood.Hood | None = field(default=None, compare=False, repr=False)

    def _repr_html_(self) -> str:
        return (f"<div><code>GET {html.escape(self.url)}</code> &rarr; <b>{self.status}</b>, title "
                f"<b>{html.escape(self.title or '')}</b>, server <code>{html.escape(self.server or '?')}</code> "
                f"({self.attempts} {'try' if self.attempts == 1 else 'tries'}, {self.seconds:.2f}s)</div>"
                + (self.hood._repr_html_() if self.hood else ""))
