"""How a notebook shows the core's and the cluster layer's values, as HTML: the hood (the command lines, each
file's YAML folded), a helper's result (:class:`~kindlb_helpers._core.hood.Done`), an HTTP answer
(:class:`~kindlb_helpers._core.page.Page`), a pool range, a cluster created or reused, the sources of a run's
images, and a table with the hood of the helper that made it (:func:`show`).

Those layers return plain data; this module gives each type its view (``_core.views.HTML_VIEWS``, by name) when it
is imported, which ``import kindlb_helpers`` does.
"""
from __future__ import annotations

import html

from .._core.hood import Done, Hood, to_yaml
from .._core.page import Page
from .._core.views import HTML_VIEWS

#: The hood's marks in a page: its HTML class (tests count hoods by it) and the style of command lines and
#: outputs, which every view of the lesson uses.
HOOD_CLASS = "kindlb-hood"
PRE = "margin:0.3em 0;font-family:monospace;white-space:pre-wrap;font-size:0.9em"


def hood_html(hood: Hood) -> str:
    """The hood as a page shows it: its command lines open, each file it writes folded under its name."""
    cmds = html.escape(hood.text())
    files = "".join(
        f"<details><summary><code>{html.escape(name)}</code> "
        f"({_count(content)})</summary><pre style='{PRE};margin-left:1em'>"
        f"{html.escape(to_yaml(content))}</pre></details>"
        for s in hood.steps for name, content in s.files
    )
    return (f"<details class='{HOOD_CLASS}' open style='border-left:3px solid #0969da;padding-left:0.6em;"
            f"margin:0.3em 0'><summary><b>Under the hood</b>: {html.escape(hood.title)}</summary>"
            f"<pre style='{PRE}'>{cmds}</pre>{files}</details>")


def _count(content) -> str:
    if isinstance(content, str):
        return f"{len(content.splitlines())} lines"
    n = len(list(content))
    return f"{n} object{'s' if n != 1 else ''}"


def done_html(done: Done) -> str:
    """A helper's result: its headline, its details (a long list folded), then its hood."""
    items = "".join(f"<li><code>{html.escape(d)}</code></li>" for d in done.details)
    listed = f"<ul style='margin:0.2em'>{items}</ul>" if items else ""
    if len(done.details) > 5:  # a long list (an install's 26 objects) stays folded
        listed = f"<details><summary>{len(done.details)} lines</summary>{listed}</details>"
    return f"<div><b>{html.escape(done.headline)}</b>{listed}</div>{done.hood._repr_html_()}"


def page_html(page: Page) -> str:
    """An HTTP answer in one line (the GET, the status, the title, the server, the tries), then its hood."""
    return (f"<div><code>GET {html.escape(page.url)}</code> &rarr; <b>{page.status}</b>, title "
            f"<b>{html.escape(page.title or '')}</b>, server <code>{html.escape(page.server or '?')}</code> "
            f"({page.attempts} {'try' if page.attempts == 1 else 'tries'}, {page.seconds:.2f}s)</div>"
            + (page.hood._repr_html_() if page.hood else ""))


def pool_range_html(r) -> str:
    """A pool range (:class:`~kindlb_helpers._core.pool.PoolRange`): first-last, its CIDR when it is one, its size."""
    cidr = r.cidr
    extra = f" = <code>{cidr}</code>" if cidr is not None else ""
    return (
        f"<div><b>PoolRange</b> <code>{html.escape(str(r))}</code>{extra}"
        f" &mdash; IPv{r.version}, {r.size:,} addresses</div>"
    )


def ensured_html(ensured) -> str:
    """A kind cluster created or reused (``kh.cluster.ensure``): which, kind's last lines, then its hood."""
    lines = ensured.message.strip().splitlines()
    shown = "\n".join(lines[-6:])
    return (f"<div><b>{'created' if ensured.created else 'reused'}</b><pre>{html.escape(shown)}</pre></div>"
            + (ensured.hood._repr_html_() if ensured.hood else ""))


def sources_html(found) -> str:
    """Where each image and manifest of a run comes from (``kh.params.resolve``), one line per role."""
    from .._cluster.sources import LABELS

    rows = "".join(f"<li>{html.escape(LABELS[s.role])} (<code>{s.parameter}</code>): {html.escape(s.where)}: "
                   f"<code>{html.escape(s.shown)}</code></li>" for s in found.items)
    return f"<ul style='margin:0'>{rows}</ul>"


def route_html(route) -> str:
    """Which way notebook 5 reaches the LoadBalancer IP (``kh.l2`` / ``kh.app``'s route choice), and why."""
    how = "chosen automatically" if route.asked == "auto" else "as asked"
    return f"<div>Route: <b>{html.escape(route.via)}</b> ({how}): {html.escape(route.why)}</div>"


HTML_VIEWS.update({
    "kindlb_helpers._cluster.containers.Route": route_html,
    "kindlb_helpers._core.hood.Hood": hood_html,
    "kindlb_helpers._core.hood.Done": done_html,
    "kindlb_helpers._core.page.Page": page_html,
    "kindlb_helpers._core.pool.ranges.PoolRange": pool_range_html,
    "kindlb_helpers._cluster.kube.lifecycle.Ensured": ensured_html,
    "kindlb_helpers._cluster.sources.Sources": sources_html,
})


class Shown:
    """A table (DataFrame or Styler) and the hood of the helper that made it, shown together."""

    def __init__(self, table, hood: Hood | None) -> None:
        self.table, self.hood = table, hood

    def _repr_html_(self) -> str:
        table = self.table.to_html(index=False) if hasattr(self.table, "columns") else self.table.to_html()
        return table + (self.hood._repr_html_() if self.hood else "")

    def __repr__(self) -> str:
        return f"{self.table!r}\n{self.hood or ''}"


def show(table, hood: Hood | None = None) -> Shown:
    """Show a helper's table with the command behind it (its ``attrs["hood"]``, or ``hood``).

    ``table`` may be a DataFrame or a pandas Styler made from one.
    """
    frame = getattr(table, "data", table)
    return Shown(table, hood or getattr(frame, "attrs", {}).get("hood"))
