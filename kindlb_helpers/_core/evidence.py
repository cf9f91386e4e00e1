"""What a release fact rests on: one line of MetalLB's source at a tag the Go module proxy serves.

:class:`Line` is one piece of evidence for a row of :data:`kindlb_helpers._core.release.FACTS`; :data:`SERVED`
lists the tags the tests can read it at on any machine (tests/_metallb_source.py downloads them).

>>> str(Line("v0.14.5", "speaker/main.go", 90, 'flag.Bool("enable-l2-service-status", false', False))
'v0.14.5 speaker/main.go:90'
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SERVED", "Line"]

#: MetalLB tags the Go module proxy serves (``go mod download go.universe.tf/metallb@TAG``), tried one by one on
#: 2026-12-06 from v0.3.1 to v0.16.1 (nothing before v0.9.6 is served); every evidence line sits at one of them, so the
#: tests can read it on any machine. Not served (403): v0.9.3-v0.9.5, v0.9.7, v0.9.8, v0.10.0-v0.10.2, v0.13.1,
#: v0.13.8, v0.13.11, v0.14.0-v0.14.2, v0.14.4, v0.14.6, v0.14.7, v0.15.0, v0.15.1, v0.16.0. Where a boundary release
#: is one of those, the row's ``gap`` names it and what its git tag shows.
SERVED = ("v0.9.6", "v0.10.3", "v0.11.0", "v0.12.0", "v0.12.1", "v0.13.0", "v0.13.2", "v0.13.3", "v0.13.4",
          "v0.13.5", "v0.13.6", "v0.13.7", "v0.13.9", "v0.13.10", "v0.13.12", "v0.14.3", "v0.14.5", "v0.14.8",
          "v0.14.9", "v0.15.2", "v0.15.3", "v0.16.1")


@dataclass(frozen=True)
class Line:
    """One line of MetalLB's source at a served tag, as evidence for a fact: line LINE of PATH at TAG holds
    the text SHOWS, the fact ``holds`` (or not) at TAG, and ABSENT (when given) appears nowhere in that file."""

    tag: str
    path: str
    line: int
    shows: str
    holds: bool
    absent: str = ""

    def __str__(self) -> str:
        return f"{self.tag} {self.path}:{self.line}"
