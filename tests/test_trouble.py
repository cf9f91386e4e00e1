"""Notebook 08's helpers as a package (lesson/trouble/): the names 08 and the tests use are re-exported, each
submodule does one job in at most 450 lines, a wrong failure name is bad input, and its waits end as the
notebook says (the cluster tier runs the failures themselves: tests/cluster/test_lesson_07_08.py)."""
from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

import kindlb_helpers as kh
from kindlb_helpers._core.errors import BadInput, WaitTimeout
from kindlb_helpers._lesson import trouble
from kindlb_helpers._lesson.trouble import clues, diagnosis, failures, staging

PACKAGE = Path(trouble.__file__).parent


def test_every_public_name_is_re_exported_from_where_it_lives():
    homes = {"evidence": clues, "Evidence": clues, "ping_and_tcp": clues, "diagnose": diagnosis,
             "Diagnosis": diagnosis, "Finding": diagnosis, "observe": diagnosis, "cause": staging,
             "repair": staging, "cleanup": staging, "FAILURES": failures, "service_of": failures,
             "applies": failures, "not_here": failures, "default_pool": failures}
    for name, home in homes.items():
        assert getattr(trouble, name) is getattr(home, name), name
        assert name not in kh.trouble.__all__ or getattr(kh.trouble, name) is getattr(home, name), name
    assert set(homes) < set(trouble.__all__) and all(hasattr(trouble, n) for n in trouble.__all__)
    assert callable(trouble.evidence) and callable(trouble.diagnose)  # functions, not the submodules


def test_the_init_only_re_exports_and_each_submodule_is_small_with_one_job():
    init = ast.parse((PACKAGE / "__init__.py").read_text())
    assert all(isinstance(n, (ast.ImportFrom, ast.Assign)) or
               (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in init.body)
    for path in PACKAGE.glob("*.py"):  # the size of every module: tests/test_layers.py
        text = path.read_text()
        doc = ast.get_docstring(ast.parse(text))
        assert doc and doc.splitlines()[0].endswith("."), f"{path.name}: its job in the docstring's first line"
        assert "from . import" not in text and "from .. import trouble" not in text, path.name


def test_a_wrong_failure_name_is_bad_input():
    with pytest.raises(BadInput, match="unknown failure 'no speakers': choose one of 'no pool'"):
        trouble.service_of("no speakers")
    assert trouble.service_of("pool exhausted") == "ts-exhausted"


def test_settle_waits_with_the_one_wait_loop():
    seen = []
    assert staging._settle(lambda: seen.append(1) or len(seen) >= 3, "three looks", timeout=5)
    assert len(seen) == 3
    start = time.monotonic()
    assert staging._settle(lambda: False, "never", timeout=0.3, required=False) is False
    with pytest.raises(WaitTimeout, match=r"^never after 0 s: run the cell again$"):
        staging._settle(lambda: False, "never", timeout=0.3)
    assert time.monotonic() - start < 3


def test_settle_stops_at_once_on_a_final_error():
    def refused():
        raise BadInput("no such thing")

    start = time.monotonic()
    with pytest.raises(BadInput):
        staging._settle(refused, "a refusal", timeout=30)
    assert time.monotonic() - start < 2
