"""The check table every notebook opens with: one row per check, shown with a tick or a cross, built without
pandas (importing pandas alone would cost the first cell most of its 0.4 s).

>>> t = Checks([{"check": "docker", "ok": True, "found": "engine 20.10", "fix": ""}])
>>> t["check"], t.ok("docker")
(['docker'], True)
"""
from __future__ import annotations

import html
from collections import namedtuple
from typing import Any, Iterator

COLUMNS = ("check", "ok", "found", "fix")
Row = namedtuple("Row", COLUMNS)
_MARK = {True: ("✔", "color:#1a7f37;font-weight:bold"), False: ("✘", "color:#cf222e;font-weight:bold"),
         None: ("–", "")}


class Checks:
    """The rows of an environment check (check, ok, found, fix). ``checks["found"]`` is that column as a list,
    ``checks.ok("context")`` one row's verdict, :meth:`frame` the same as a DataFrame."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = [Row(*(r[c] for c in COLUMNS)) for r in rows]

    def __getitem__(self, column: str) -> list:
        if column not in COLUMNS:
            raise KeyError(f"{column!r}: the columns are {', '.join(COLUMNS)}")
        return [getattr(r, column) for r in self.rows]

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def itertuples(self) -> Iterator[Row]:
        """The rows, as ``DataFrame.itertuples(index=False)`` gives them."""
        return iter(self.rows)

    def row(self, name: str) -> Row:
        """The row of check NAME (KeyError naming the checks there are)."""
        for r in self.rows:
            if r.check == name:
                return r
        raise KeyError(f"no check {name!r} here: {', '.join(self['check'])}")

    def ok(self, name: str) -> bool | None:
        """Whether check NAME passed (None: skipped)."""
        return self.row(name).ok

    def all_ok(self) -> bool:
        """Whether every check passed."""
        return all(r.ok is True for r in self.rows)

    def frame(self) -> Any:
        """The rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([r._asdict() for r in self.rows], columns=list(COLUMNS))

    def __repr__(self) -> str:
        return "\n".join(f"{_MARK[r.ok][0]} {r.check:<8} {r.found}" + (f"  -> {r.fix}" if r.fix else "")
                         for r in self.rows)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in COLUMNS)
        body = "".join(
            "<tr>" + f"<td>{html.escape(r.check)}</td><td style='{_MARK[r.ok][1]}'>{_MARK[r.ok][0]}</td>"
            + f"<td style='text-align:left'>{html.escape(str(r.found))}</td>"
            + f"<td style='text-align:left'>{html.escape(str(r.fix))}</td></tr>"
            for r in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
