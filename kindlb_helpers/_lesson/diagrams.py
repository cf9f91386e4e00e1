"""The series' diagrams: SVG files shipped in the package, shown inline (they render offline)."""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent / "diagrams"


def names() -> list[str]:
    """The diagrams there are, by name."""
    return sorted(p.stem for p in HERE.glob("*.svg"))


def diagram(name: str):
    """Diagram ``name`` as an inline SVG (``IPython.display.SVG``), e.g. ``kind-metallb``."""
    from IPython.display import SVG

    path = HERE / f"{name}.svg"
    if not path.is_file():
        raise ValueError(f"no diagram {name!r}: the diagrams are {', '.join(names())}")
    return SVG(path.read_text(encoding="utf-8"))
