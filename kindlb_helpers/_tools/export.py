"""HTML pages of executed notebooks that render with nothing from outside and nothing missing.

nbconvert's ``lab`` template loads RequireJS, MathJax and (dormant, behind ``import()``) Mermaid from a CDN,
and, when the notebook saved widget state, the widgets' HTML manager from a CDN or a relative path that does
not exist. The pages here need none of them: every one of those blocks is emptied (one small template of
our own on top of ``lab``), and each widget is replaced by a static picture of its saved state (a box of
its parts: texts, values, the HTML it showed), so a page shows the chosen range and the validation text
that the learner saw. :func:`page_problems` finds what an offline page must not have; :func:`write_html`
refuses to write a page that has any.
"""
from __future__ import annotations

import copy
import html
import re
from pathlib import Path

from .._core.errors import ExportError

#: nbconvert's CDN locations, emptied (the template below drops the tags that would use them).
_OFF = dict(mathjax_url="", require_js_url="", jquery_url="", widget_renderer_url="", jupyter_widgets_base_url="")
_TEMPLATE = "kindlb_offline.html.j2"
#: The lab template with every block that fetches from elsewhere emptied (unknown blocks are ignored by
#: older nbconvert releases: nothing breaks there).
_TEMPLATE_TEXT = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""
_EMPTY_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"\"[^>]*>\s*</script>\s*", re.I)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
#: Kept for callers of the old name: a script, stylesheet or image fetched from elsewhere.


def notebook_html(notebook) -> str:
    """The executed notebook (a path or a notebook node) as one self-contained HTML page."""
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4) if isinstance(notebook, (str, Path)) else copy.deepcopy(notebook)
    static_widgets(nb)
    exporter = HTMLExporter(extra_loaders=[DictLoader({_TEMPLATE: _TEMPLATE_TEXT})], template_file=_TEMPLATE, **_OFF)
    body, _ = exporter.from_notebook_node(nb)
    return _EMPTY_SCRIPT.sub("", body)


# --- widgets as a static picture of their saved state -------------------------------------------------

_BOXES = {"VBoxModel": "column", "BoxModel": "row", "HBoxModel": "row", "GridBoxModel": "row"}
_STYLE = ("border:1px dashed #8c959f;border-radius:4px;padding:0.4em 0.6em;margin:0.2em 0;display:inline-block;"
          "max-width:100%")


def static_widgets(nb) -> int:
    """Replace every widget view in ``nb``'s outputs by HTML drawn from the saved widget state, drop that
    state from the metadata (nothing left for a widget manager to load); return how many were replaced."""
    saved = nb.metadata.pop("widgets", {}) or {}
    state = (saved.get(WIDGET_STATE) or {}).get("state", {})
    count = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data") or {}
            if WIDGET_VIEW not in data:
                continue
            model = (data[WIDGET_VIEW] or {}).get("model_id", "")
            if model in state:
                body = _widget(model, state, set())
                note = "a widget: its state when the notebook ran (interactive in JupyterLab)"
            else:
                body = f"<pre>{html.escape(str(data.get('text/plain', '')))}</pre>"
                note = "a widget whose state was not saved: its text form"
            data.pop(WIDGET_VIEW)
            data.pop("text/plain", None)
            data["text/html"] = f"<div class='kindlb-widget' title='{note}' style='{_STYLE}'>{body}</div>"
            count += 1
    return count


def _label(text: str) -> str:
    return f"<span style='color:#57606a;min-width:5em;display:inline-block'>{html.escape(text)}</span> " if text else ""


def _widget(model: str, state: dict, seen: set) -> str:
    """One widget model (and its children) as static HTML."""
    if model in seen or model not in state:
        return ""
    seen = seen | {model}
    name, s = state[model].get("model_name", ""), state[model].get("state", {})
    desc, value = str(s.get("description", "") or ""), s.get("value")
    if name in _BOXES:
        kids = [_widget(str(c).removeprefix("IPY_MODEL_"), state, seen) for c in s.get("children", [])]
        direction = _BOXES[name]
        return (f"<div style='display:flex;flex-direction:{direction};gap:0.3em 1.2em;flex-wrap:wrap'>"
                + "".join(f"<div>{k}</div>" for k in kids if k) + "</div>")
    if name in ("HTMLModel", "HTMLMathModel"):
        return _label(desc) + str(value or "")  # the HTML the kernel sent, as JupyterLab showed it
    if name == "LabelModel":
        return _label(desc) + html.escape(str(value or ""))
    if name.endswith(("RangeSliderModel",)) and isinstance(value, list) and len(value) == 2:
        return (_label(desc) + f"<code>{html.escape(str(value[0]))}</code> to <code>{html.escape(str(value[1]))}</code>"
                f" <span style='color:#57606a'>(of {s.get('min')}..{s.get('max')})</span>")
    if name.endswith(("ProgressModel",)):
        top = s.get("max") or 1
        return (_label(desc) + f"<progress value='{html.escape(str(value))}' max='{html.escape(str(top))}'></progress>"
                f" {html.escape(str(value))}/{html.escape(str(top))}")
    if name in ("CheckboxModel", "ToggleButtonModel", "ValidModel"):
        return _label(desc) + ("&#10003;" if value else "&#10007;")
    if name in ("DropdownModel", "RadioButtonsModel", "ToggleButtonsModel", "SelectModel", "SelectionSliderModel"):
        labels, index = s.get("_options_labels", []), s.get("index")
        chosen = labels[index] if isinstance(index, int) and 0 <= index < len(labels) else ""
        return _label(desc) + f"<code>{html.escape(str(chosen))}</code>"
    if name == "ButtonModel":
        return f"<span style='border:1px solid #8c959f;border-radius:3px;padding:0 0.4em'>{html.escape(desc)}</span>"
    if name == "OutputModel":
        texts = []
        for o in s.get("outputs", []):
            text = o.get("text") or (o.get("data") or {}).get("text/plain") or "\n".join(o.get("traceback", []))
            texts.append(html.escape(text if isinstance(text, str) else "".join(text)))
        return f"<pre style='margin:0'>{''.join(texts)}</pre>" if any(texts) else ""
    if value is not None:  # Text, IntText, BoundedIntText, sliders, ...: the value as the learner left it
        return _label(desc) + f"<code>{html.escape(str(value))}</code>"
    return _label(desc) + f"<span style='color:#57606a'>[{html.escape(name.removesuffix('Model'))}]</span>"


# --- what an offline page must not have ---------------------------------------------------------------

_TAG = re.compile(r"<(script|style)\b([^>]*)>(.*?)</\1\s*>", re.I | re.S)
_FETCHING_ATTR = re.compile(
    r"<(script|img|link|iframe|source|video|audio|embed|track|input|image|use|object)\b([^>]*)>", re.I)
_ATTR = re.compile(r"\b(src|href|xlink:href|data|poster|srcset)\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)", re.I)
_CSS_URL = re.compile(r"url\(\s*(['\"]?)([^'\")]*)\1\s*\)|@import\s+(['\"])([^'\"]+)\3", re.I)
_IMPORT = re.compile(r"\bimport\s*\(\s*(['\"`])([^'\"`]*)\1|\bimport\s+[^;'\"]*?\bfrom\s+(['\"])([^'\"]+)\3", re.I)
_URL_IN_CODE = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s'\"`)]*")
_FILE_IN_CODE = re.compile(r"(['\"`])([^'\"`\s]+\.(?:m?js|css|json|wasm))\1")
_COMMENTS = re.compile(r"/\*.*?\*/|(?m:^\s*//[^\n]*$)", re.S)
_DATA_TYPES = ("application/json", "application/ld+json", "application/vnd.jupyter", "text/x-", "text/plain")


def _outside(url: str) -> bool:
    return bool(re.match(r"(?:[a-z][a-z0-9+.-]*:)?//", url.strip(), re.I)) and not url.strip().lower().startswith(
        ("data:", "blob:"))


def page_problems(page: str, folder: str | Path | None = None) -> list[str]:
    """What in ``page`` would fetch from another host (used or dormant), or names a file that is not there.

    Looks at every tag that fetches (script, img, link, iframe, source, ...), every ``url()`` and
    ``@import`` in styles, every ``import()`` / ``import ... from`` in scripts, and any absolute URL at all
    inside a script or style (a dormant one too). Links a reader may click (``<a href>``) are not fetches.
    A relative reference is a missing file unless it exists under ``folder`` (the page's folder).

    >>> page_problems('<img src="data:image/png;base64,AA"><script src="https://cdn.x/y.js"></script>')
    ['script src=https://cdn.x/y.js (outside)']
    """
    problems: list[str] = []

    def local(kind: str, ref: str) -> None:
        ref = html.unescape(ref.strip().strip("'\""))
        if not ref or ref.startswith(("#", "data:", "blob:", "about:", "javascript:")):
            return
        if _outside(ref):
            problems.append(f"{kind}={ref} (outside)")
            return
        target = ref.split("#")[0].split("?")[0]
        if folder is None or not (Path(folder) / target).exists():
            problems.append(f"{kind}={ref} (missing file)")

    for tag, attrs in _FETCHING_ATTR.findall(page):
        for attr, ref in _ATTR.findall(attrs):
            if attr.lower() == "srcset":
                for part in ref.strip("'\"").split(","):
                    local(f"{tag.lower()} srcset", part.strip().split(" ")[0])
            else:
                local(f"{tag.lower()} {attr.lower()}", ref)
    for tag, attrs, body in _TAG.findall(page):
        kind = tag.lower()
        if kind == "script" and any(t in attrs.lower() for t in _DATA_TYPES):
            continue  # data, not code: nothing in it is fetched
        body = _COMMENTS.sub("", body)  # a URL in a comment names a source, it fetches nothing
        for m in _CSS_URL.finditer(body):
            local(f"{kind} url()" if m.group(2) is not None else f"{kind} @import", m.group(2) or m.group(4) or "")
        if kind == "script":
            for m in _IMPORT.finditer(body):
                local("script import()", m.group(2) if m.group(2) is not None else m.group(4))
            for m in _FILE_IN_CODE.finditer(body):  # a file a script would load (e.g. a script tag it makes)
                if not _outside(m.group(2)):
                    local("script loads", m.group(2))
        for url in _URL_IN_CODE.findall(body):
            if url.startswith(("http://www.w3.org/", "//www.w3.org/")):
                continue  # XML namespaces and DTD names, never fetched
            problems.append(f"{kind} mentions {url} (outside, dormant)")
    for m in re.finditer(r"\bstyle\s*=\s*(\"[^\"]*\"|'[^']*')", page, re.I):
        for u in _CSS_URL.finditer(html.unescape(m.group(1))):
            local("style attribute url()", u.group(2) or u.group(4) or "")
    return list(dict.fromkeys(problems))


def write_html(notebook: str | Path, target: str | Path | None = None) -> Path:
    """Write :func:`notebook_html` next to the notebook (or to ``target``); return the path.

    Raises :class:`~kindlb_helpers._core.errors.ExportError` naming the problems if the page would fetch from
    elsewhere or miss a file.
    """
    path = Path(target) if target else Path(notebook).with_suffix(".html")
    page = notebook_html(notebook)
    problems = page_problems(page, path.parent)
    if problems:
        raise ExportError(f"the page of {Path(notebook).name} is not self-contained: {'; '.join(problems[:5])}")
    path.write_text(page, encoding="utf-8")
    return path
