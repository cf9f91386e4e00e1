"""The pages `kindlb run` writes: nothing from outside (used or dormant), no missing file, widgets as their state."""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from kindlb_helpers._core.errors import ExportError
from kindlb_helpers._tools import export
from kindlb_helpers._tools.runner import notebooks_dir, run_one, series

pytestmark = pytest.mark.docker  # the docker tier: a Docker engine, Jupyter kernels or the wheel

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def page_03(tmp_path_factory):
    """03 executed as `kindlb run` does (no cluster: apply=False), with the picker shown (interactive=True)."""
    out = tmp_path_factory.mktemp("pages")
    res = run_one(notebooks_dir() / "03_address_pool.ipynb", out,
                  {"apply": False, "subnet": "172.19.0.1/16", "interactive": True})
    assert res.html is not None and res.html.exists(), res.error
    return res


def test_the_executed_pool_page_is_self_contained_and_shows_the_picker_state(page_03):
    page = page_03.html.read_text(encoding="utf-8")
    assert export.page_problems(page, page_03.html.parent) == []
    # the widget as a static picture of its state: the chosen range and the validation text
    assert "kindlb-widget" in page
    assert "172.19.255.1-172.19.255.250</code>: 250 free addresses inside 172.19.0.0/16" in page
    assert "&#10003;" in page or "\u2713" in page
    # nothing left for a widget manager: no state, no view placeholders, no loader
    assert export.WIDGET_STATE not in page and export.WIDGET_VIEW not in page
    assert "embed-amd" not in page and "mermaid" not in page.lower() and "require.js" not in page


@pytest.mark.parametrize("name", series())
def test_every_series_page_has_nothing_outside(name, tmp_path):
    """Each notebook's page (its own cells: markdown, diagrams, links) through the same exporter."""
    nb = nbformat.read(notebooks_dir() / f"{name}.ipynb", as_version=4)
    page = export.notebook_html(nb)
    assert export.page_problems(page, tmp_path) == [], name


def _pages_made_earlier() -> list[Path]:
    roots = [ROOT / "runs"] + ([Path(os.environ["KINDLB_ARTIFACTS"])] if os.environ.get("KINDLB_ARTIFACTS") else [])
    return sorted({p.resolve() for r in roots if r.is_dir() for p in r.rglob("*.html")})


@pytest.mark.parametrize("page", _pages_made_earlier(), ids=lambda p: str(p.relative_to(p.parents[2])))
def test_pages_the_tiers_exported_have_nothing_outside(page):
    """Every page an earlier run of the tiers left (runs/, $KINDLB_ARTIFACTS): the same check, on the files."""
    assert export.page_problems(page.read_text(encoding="utf-8"), page.parent) == [], page


CASES = [
    ('<script src="https://cdn.example/x.js"></script>', "script src=https://cdn.example/x.js (outside)"),
    ('<script src="//cdn.example/x.js"></script>', "script src=//cdn.example/x.js (outside)"),
    ('<link rel="stylesheet" href="https://fonts.example/a.css">', "link href=https://fonts.example/a.css (outside)"),
    ('<img src="http://img.example/a.png">', "img src=http://img.example/a.png (outside)"),
    ('<img srcset="a.png 1x, https://img.example/b.png 2x">', "img srcset=https://img.example/b.png (outside)"),
    ("<style>body{background:url('https://img.example/bg.png')}</style>",
     "style url()=https://img.example/bg.png (outside)"),
    ('<style>@import "https://fonts.example/f.css";</style>', "style @import=https://fonts.example/f.css (outside)"),
    ('<div style="background:url(https://img.example/x.png)"></div>',
     "style attribute url()=https://img.example/x.png (outside)"),
    ('<script type="module">if (false) { await import("https://cdnjs.example/m.mjs"); }</script>',
     "script import()=https://cdnjs.example/m.mjs (outside)"),
    ('<script>const later = "https://cdnjs.example/lib.js";</script>',
     "script mentions https://cdnjs.example/lib.js (outside, dormant)"),
    ("<script>var s = '@jupyter-widgets/html-manager@*/dist/embed-amd.js';</script>",
     "script loads=@jupyter-widgets/html-manager@*/dist/embed-amd.js (missing file)"),
    ('<script src="custom.js"></script>', "script src=custom.js (missing file)"),
    ('<img src="plot.png">', "img src=plot.png (missing file)"),
]


@pytest.mark.parametrize("snippet, problem", CASES)
def test_the_check_catches_each_kind_of_reference(snippet, problem, tmp_path):
    assert problem in export.page_problems(f"<html><body>{snippet}</body></html>", tmp_path)


def test_the_check_lets_pass_what_fetches_nothing(tmp_path):
    (tmp_path / "here.png").write_bytes(b"\x89PNG")
    page = ('<a href="https://metallb.io/">MetalLB</a><img src="data:image/png;base64,AA"><img src="here.png">'
            '<svg xmlns="http://www.w3.org/2000/svg"></svg><script type="application/json">{"u":"https://x.example"}'
            '</script><style>/* from https://github.com/x/y */ a{color:red}</style><a href="#top">top</a>')
    assert export.page_problems(page, tmp_path) == []


def test_the_check_catches_what_nbconverts_own_page_has(page_03, tmp_path):
    """nbconvert's stock page of the same executed notebook: the dormant Mermaid import and the widgets' loader."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(**export._OFF).from_notebook_node(nbformat.read(page_03.output, as_version=4))
    problems = export.page_problems(body, tmp_path)
    assert any("import()=https://cdnjs.cloudflare.com/" in p and "mermaid" in p for p in problems), problems
    assert any("embed-amd.js (missing file)" in p for p in problems), problems


def test_write_html_refuses_a_page_with_an_outside_image(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("show()", outputs=[nbformat.v4.new_output(
        "display_data", data={"text/html": '<img src="https://img.example/chart.png">', "text/plain": "chart"})]))
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ExportError, match=r"x.ipynb is not self-contained: img src=https://img.example/chart.png"):
        export.write_html(path)
    assert not (tmp_path / "x.html").exists()


def test_widgets_without_saved_state_and_other_kinds():
    nb = nbformat.v4.new_notebook()
    view = {"model_id": "m1", "version_major": 2, "version_minor": 0}
    lost = {"model_id": "gone", "version_major": 2, "version_minor": 0}
    nb.cells.append(nbformat.v4.new_code_cell("w", outputs=[
        nbformat.v4.new_output("display_data", data={export.WIDGET_VIEW: view, "text/plain": "VBox(...)"}),
        nbformat.v4.new_output("display_data", data={export.WIDGET_VIEW: lost, "text/plain": "IntProgress(value=3)"})]))
    state = {"m1": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_p", "IPY_MODEL_d", "IPY_MODEL_c"]}},
             "p": {"model_name": "FloatProgressModel", "state": {"value": 7, "max": 10, "description": "pods"}},
             "d": {"model_name": "DropdownModel", "state": {"_options_labels": ["v0.12.1", "v0.16.1"], "index": 1,
                                                            "description": "era"}},
             "c": {"model_name": "CheckboxModel", "state": {"value": True, "description": "apply"}}}
    nb.metadata["widgets"] = {export.WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    assert export.static_widgets(nb) == 2
    first, second = (o["data"]["text/html"] for o in nb.cells[0].outputs)
    assert "<progress value='7' max='10'>" in first and "<code>v0.16.1</code>" in first and "&#10003;" in first
    assert "IntProgress(value=3)" in second and "not saved" in second
    assert "widgets" not in nb.metadata
