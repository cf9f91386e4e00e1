"""Drive a notebook from outside, as a learner runs it: cell by cell in one kernel, skipping the cells a learner may
skip, typing an answer into an answer cell, and appending cells that read state. The notebook holds nothing for the
tests: every reading the tiers make is a cell appended here, and every verdict on the cluster is the test's own
(raw kubectl).

>>> nb = Notebook.__new__(Notebook)
>>> nb.name, nb.cells = "demo", [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["hint-1"]})]
>>> nb.where(0)
'demo cell [0] (tag hint-1): `x = 1`'

A failure names the notebook, the cell and what the learner saw there (:class:`LearnerSaw`).
"""
from __future__ import annotations

import ast
import re
import time
from pathlib import Path
from typing import Callable, Iterable

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


class LearnerSaw(AssertionError):
    """A cell did not show what a learner should see there: names the notebook, the cell and what it showed."""


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def text_of(outputs: list) -> str:
    """What a learner reads in a cell's output area, as text: streams, then each result's text/plain, errors."""
    parts = []
    for o in outputs:
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        elif o.get("output_type") in ("execute_result", "display_data"):
            parts.append(o.get("data", {}).get("text/plain", ""))
        elif o.get("output_type") == "error":
            parts.append(f"{o.get('ename')}: {o.get('evalue')}")
    return "\n".join(p.rstrip("\n") for p in parts if p)


def declared(nb) -> set[str]:
    """The names the notebook's ``parameters`` cell assigns."""
    cell = next((c for c in nb.cells if c.cell_type == "code" and "parameters" in tags(c)), None)
    if cell is None:
        return set()
    return {t.id for s in ast.parse(cell.source).body if isinstance(s, ast.Assign) for t in s.targets
            if isinstance(t, ast.Name)}


class Ran:
    """One executed cell: its index, the source that ran, its outputs, and what the learner read there."""

    def __init__(self, index: int, source: str, outputs: list, seconds: float) -> None:
        self.index, self.source, self.outputs, self.seconds = index, source, outputs, seconds

    @property
    def text(self) -> str:
        return text_of(self.outputs)

    @property
    def error(self) -> str | None:
        err = next((o for o in self.outputs if o.get("output_type") == "error"), None)
        return f"{err['ename']}: {err['evalue']}" if err else None

    @property
    def html(self) -> str:
        return "\n".join(o.get("data", {}).get("text/html", "") for o in self.outputs)

    def __repr__(self) -> str:
        return f"<cell [{self.index}] {self.text[:200]!r}>"


#: The appended cell's helper: numpy scalars as Python's (their repr is no literal), containers walked.
PLAIN = """def _plain(v):
    if type(v).__module__ == "numpy" and hasattr(v, "item"):
        return v.item()
    if isinstance(v, dict):
        return {_plain(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_plain(x) for x in v)
    return v
"""


class Notebook:
    """One notebook in its own kernel, driven cell by cell.

    ``parameters`` go into a cell after the one tagged ``parameters``, as papermill injects them (only the names
    the notebook declares). ``km``: a started kernel manager to use (e.g. from a ``KernelPool``); else one is
    started. Use as a context manager; the executed copy (with the appended cells) is written to ``save_to``.
    """

    def __init__(self, name: str, parameters: dict | None = None, *, folder: Path = NOTEBOOKS,
                 save_to: Path | None = None, km=None, timeout: float = 900) -> None:
        self.name = name
        self.path = Path(folder) / f"{name}.ipynb"
        self.nb = nbformat.read(self.path, as_version=4)
        known = declared(self.nb)
        given = {k: v for k, v in (parameters or {}).items() if k in known}
        self.injected = None
        if given:
            at = next(i for i, c in enumerate(self.nb.cells) if "parameters" in tags(c))
            cell = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in given.items()),
                                             metadata={"tags": ["injected-parameters"]})
            self.nb.cells.insert(at + 1, cell)
            self.injected = at + 1
        self.cells = self.nb.cells
        self.save_to = save_to
        self.timeout = timeout
        self._km = km
        self.client = None
        self.ran: list[Ran] = []

    # ---------- the kernel
    def __enter__(self) -> "Notebook":
        from nbclient import NotebookClient

        self.client = NotebookClient(self.nb, km=self._km, kernel_name="python3", timeout=self.timeout,
                                     allow_errors=True, resources={"metadata": {"path": str(self.path.parent)}})
        if self.client.km is None:
            self.client.km = self.client.create_kernel_manager()
        if not self.client.km.has_kernel:
            self.client.start_new_kernel(cwd=str(self.path.parent))
        self.client.start_new_kernel_client()
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.save_to is not None:
                self.save_to.mkdir(parents=True, exist_ok=True)
                nbformat.write(self.nb, self.save_to / self.path.name)
        finally:
            client, self.client = self.client, None
            if client is not None:
                from nbclient.util import run_sync

                try:
                    client.kc.stop_channels()
                finally:
                    if self._km is None:  # ours: shut it down; a pool's kernel goes back to the pool
                        run_sync(client.km.shutdown_kernel)(now=True)

    # ---------- finding cells
    def where(self, i: int) -> str:
        c = self.cells[i]
        first = c.source.strip().splitlines()[0] if c.source.strip() else ""
        tag = f" (tag {', '.join(tags(c))})" if tags(c) else ""
        return f"{self.name} cell [{i}]{tag}: `{first[:90]}`"

    def find(self, what: str, start: int = 0) -> int:
        """The first code cell from ``start`` tagged ``what``, else whose source contains ``what``."""
        code = [i for i in range(start, len(self.cells)) if self.cells[i].cell_type == "code"]
        for i in code:
            if what in tags(self.cells[i]):
                return i
        for i in code:
            if what in self.cells[i].source:
                return i
        raise LearnerSaw(f"{self.name}: no code cell tagged or containing {what!r}")

    # ---------- running
    def run(self, i: int, source: str | None = None, *, may_fail: bool = False) -> Ran:
        """Run cell ``i`` (with ``source`` typed over it first, as a learner edits a cell). An error output is a
        :class:`LearnerSaw` naming the cell, unless ``may_fail``."""
        cell = self.cells[i]
        if source is not None:
            cell.source = source
        start = time.monotonic()
        self.client.execute_cell(cell, i)
        ran = Ran(i, cell.source, list(cell.outputs), time.monotonic() - start)
        self.ran.append(ran)
        if ran.error and not may_fail:
            raise LearnerSaw(f"{self.where(i)} ended in an error: the learner saw {ran.error}\n{ran.text[-1500:]}")
        return ran

    def run_range(self, start: int, stop: int, skip: Callable[[int, object], bool] | None = None) -> list[Ran]:
        """Run the code cells ``start`` .. ``stop - 1`` in order, leaving out those ``skip(i, cell)`` says."""
        done = []
        for i in range(start, min(stop, len(self.cells))):
            c = self.cells[i]
            if c.cell_type != "code" or (skip and skip(i, c)):
                continue
            done.append(self.run(i))
        return done

    def run_all(self, skip: Callable[[int, object], bool] | None = None) -> list[Ran]:
        return self.run_range(0, len(self.cells), skip)

    def append(self, source: str) -> Ran:
        """Add a cell at the end (as a learner adds one with ``b``) and run it."""
        self.cells.append(nbformat.v4.new_code_cell(source))
        return self.run(len(self.cells) - 1)

    def value(self, expression: str):
        """The value of ``expression`` in the kernel, read back from an appended cell (a Python literal)."""
        ran = self.append(PLAIN + f"repr(_plain({expression}))")
        text = next((o["data"]["text/plain"] for o in ran.outputs if "text/plain" in o.get("data", {})), None)
        if text is None:
            raise LearnerSaw(f"{self.name}: the appended cell `{expression[:80]}` showed nothing")
        return ast.literal_eval(ast.literal_eval(text))


#: Calls that only show something: a cell that is one such call, and assigns nothing, may be skipped by a learner.
LOOKING = re.compile(r"^(show|print|display|diagram|figure|.*_figure|.*_table|table|compare_\w+|groupby|count|styled|"
                     r"head|describe|hint|solution|progress)$")


def only_looks(i: int, cell) -> bool:
    """A ``skip``: a cell a learner may pass over because it only looks (a diagram, a facts table, a figure, a
    value shown again): one expression, no assignment, and its call (or bare name) only displays.

    >>> only_looks(0, nbformat.v4.new_code_cell('kh.diagrams.diagram("kind-metallb")'))
    True
    >>> only_looks(0, nbformat.v4.new_code_cell("kh.metallb.wait_ready(k, timeout=timeout)"))
    False
    >>> only_looks(0, nbformat.v4.new_code_cell("nodes = kh.cluster.nodes_table(k); kh.show(nodes)"))
    False
    """
    if "parameters" in tags(cell) or "injected-parameters" in tags(cell):
        return False
    try:
        body = ast.parse(cell.source).body
    except SyntaxError:
        return False
    if len(body) != 1 or not isinstance(body[0], ast.Expr):
        return False
    node = body[0].value
    while isinstance(node, (ast.Attribute, ast.Subscript)) and not isinstance(node, ast.Call):
        if isinstance(node, ast.Attribute) and not isinstance(node.value, (ast.Call, ast.Attribute, ast.Subscript)):
            break
        node = node.value
    if isinstance(node, ast.Call):
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        return bool(LOOKING.match(name))
    return isinstance(node, (ast.Name, ast.Attribute))


def skip_tagged(*prefixes: str) -> Callable[[int, object], bool]:
    """A ``skip`` for :meth:`Notebook.run_range`: the cells with a tag starting with one of ``prefixes``."""
    return lambda i, c: any(t.startswith(p) for t in tags(c) for p in prefixes)


def skip_sources(snippets: Iterable[str]) -> Callable[[int, object], bool]:
    """A ``skip``: the cells whose source contains one of ``snippets``."""
    snippets = tuple(snippets)
    return lambda i, c: any(s in c.source for s in snippets)


def either(*skips: Callable[[int, object], bool]) -> Callable[[int, object], bool]:
    return lambda i, c: any(s(i, c) for s in skips)


def expect(nb: Notebook, ran: Ran, ok: bool, wanted: str) -> None:
    """Fail naming the notebook, the cell, what a learner should have seen and what they saw."""
    if not ok:
        raise LearnerSaw(f"{nb.where(ran.index)}: expected {wanted}; the learner saw:\n{ran.text[:2000]}")


def first_word(text: str) -> str:
    """``Correct`` / ``Not yet`` / ``Applied`` / ``Not applied`` / ``Ran`` / ``Failed``: how a verdict starts."""
    m = re.match(r"\s*(Correct|Not yet|Not applied|Applied|Ran|Failed)\b", text)
    return m.group(1) if m else ""
