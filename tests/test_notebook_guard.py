"""The notebooks hold the lesson and nothing for the tests (issue 24): no cell that reads what happened into
``result``, no ``seen[...]`` bookkeeping, no parameter that exists only for the automated runs, no cell or comment
that speaks of tests or automated runs. The tiers drive the notebooks from outside (tests/_driver.py)."""
from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: parameters that only an automated run sets (a learner has no use for them)
TEST_ONLY_PARAMETERS = {"solutions", "wrong", "seen", "result", "automated", "testing", "test", "ci", "record"}
#: words of a comment written for the tests, not for the learner
ABOUT_TESTS = re.compile(r"\b(tests?(?!-net)|testing|tested|automated|cluster tier|test tier|CI|for the checker|"
                         r"by hand this does nothing)\b", re.I)


def problems(nb) -> list[str]:
    """What in notebook ``nb`` is there for the tests: one line per finding, naming the cell."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"cell [{i}] `{(cell.source.strip().splitlines() or [''])[0][:60]}`"
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython magics: read line by line below
            tree = None
        for node in ast.walk(tree) if tree else ():
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, (ast.AugAssign, ast.AnnAssign)) else []
            for t in targets:
                base = t
                while isinstance(base, (ast.Subscript, ast.Attribute)):
                    base = base.value
                if isinstance(base, ast.Name) and base.id in ("result", "seen"):
                    found.append(f"{where}: assigns {ast.unparse(t)} (what happened, recorded for the tests)")
                if ("parameters" in cell.metadata.get("tags", []) and isinstance(t, ast.Name)
                        and t.id in TEST_ONLY_PARAMETERS):
                    found.append(f"{where}: the parameter {t.id!r} exists only for automated runs")
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(cell.source).readline))
        except (tokenize.TokenError, IndentationError):
            tokens = []
        for tok in tokens:
            if tok.type == tokenize.COMMENT and ABOUT_TESTS.search(tok.string):
                found.append(f"{where}: a comment about tests: {tok.string.strip()!r}")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_holds_the_lesson_only(path):
    found = problems(nbformat.read(path, as_version=4))
    assert not found, f"{path.name} holds cells for the tests:\n" + "\n".join(found)


def test_the_guard_finds_each_kind_of_plumbing():
    """The guard says no to each thing it looks for, and yes to a lesson cell."""
    def nb(*sources, params="cluster = 'kindlb'"):
        p = nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]})
        return nbformat.v4.new_notebook(cells=[p, *map(nbformat.v4.new_code_cell, sources)])

    assert problems(nb("k = kh.cluster.connect(cluster)  # pinned to kind-<cluster>")) == []
    assert problems(nb('result = {"ip": ip}\nresult'))
    assert problems(nb('seen["no pool"] = kh.trouble.evidence(k)'))
    assert problems(nb(params="cluster = 'kindlb'\nsolutions = False"))
    assert problems(nb(params="cluster = 'kindlb'\nwrong = False"))
    assert problems(nb("x = 1  # raw kubectl facts, for the automated test"))
    assert problems(nb("# automated runs only (by hand this does nothing)\nran = []"))
    assert problems(nb("pool = '198.51.100.0/28'  # TEST-NET-2 (RFC 5737)")) == []
