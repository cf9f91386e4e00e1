"""HTML pages of executed notebooks that render with no outside host: no CDN scripts, styles or images."""
from __future__ import annotations

import re
from pathlib import Path

#: nbconvert's templates load these from a CDN; the pages need none of them (no math, no live widgets).
_OFF = dict(mathjax_url="", require_js_url="", jquery_url="", widget_renderer_url="", jupyter_widgets_base_url="")
_EMPTY_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"\"[^>]*>\s*</script>\s*", re.I)
#: A script, stylesheet or image fetched from elsewhere (what an offline page must not have).
REMOTE = re.compile(r"<(?:script|img|link|iframe)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//", re.I)


def notebook_html(notebook: str | Path) -> str:
    """The executed notebook as one self-contained HTML page (diagrams and plots inline)."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(**_OFF).from_notebook_node(nbformat.read(str(notebook), as_version=4))
    return _EMPTY_SCRIPT.sub("", body)


def remote_references(page: str) -> list[str]:
    """The tags of ``page`` that would fetch something from another host (should be none).

    >>> remote_references('<img src="data:image/png;base64,AA"><script src="https://cdn/x.js"></script>')
    ['<script src="https://']
    """
    return REMOTE.findall(page)


def write_html(notebook: str | Path, target: str | Path | None = None) -> Path:
    """Write :func:`notebook_html` next to the notebook (or to ``target``); return the path."""
    path = Path(target) if target else Path(notebook).with_suffix(".html")
    path.write_text(notebook_html(notebook), encoding="utf-8")
    return path
