"""The six exercises for the installed release, and the progress table recomputed from the cluster."""
from __future__ import annotations

import pandas as pd

from ..._cluster.kube import Kind
from .address_tasks import PinAddress, ShareAddress
from .base import Exercise
from .node_tasks import LocalPolicy, NodeSelectors
from .pool_tasks import BreakFix, ExhaustPool, ReservedPool
from .pools import era_of

__all__ = ["exercises", "Progress", "progress"]


def exercises(kind: Kind) -> list[Exercise]:
    """The six exercises for the installed release (exercise 5 depends on the era)."""
    fifth = NodeSelectors if era_of(kind).uses_crds else LocalPolicy
    return [ExhaustPool(kind), PinAddress(kind), ReservedPool(kind), ShareAddress(kind), fifth(kind), BreakFix(kind)]


class Progress:
    """Which checks pass now, computed from the cluster (survives a kernel restart)."""

    def __init__(self, rows: list[dict]) -> None:
        self.frame = pd.DataFrame(rows, columns=["exercise", "title", "status", "what the cluster says"])

    @property
    def done(self) -> int:
        return int((self.frame["status"] == "done").sum())

    def __repr__(self) -> str:
        with pd.option_context("display.max_colwidth", None, "display.width", None):
            return f"{self.done}/{len(self.frame)} done\n" + self.frame.to_string(index=False)

    def _repr_html_(self) -> str:
        def colour(v):
            return "color:#1a7f37;font-weight:bold" if v == "done" else "color:#cf222e"

        styled = (self.frame.style.hide(axis="index").map(colour, subset=["status"])
                  .set_properties(**{"text-align": "left", "white-space": "pre-wrap"}))
        return f"<div><b>Progress: {self.done}/{len(self.frame)} done</b></div>" + styled.to_html()


def progress(kind: Kind) -> Progress:
    """A table of the exercises and whether each check passes now (no waiting)."""
    rows = []
    for q in exercises(kind):
        v = q.state()
        rows.append({"exercise": q.number, "title": q.title, "status": "done" if v else "not yet",
                     "what the cluster says": v.why})
    return Progress(rows)
