"""House habits the fast tier enforces: ruff (pyflakes, pycodestyle, isort, pydocstyle for public names) and
the lab too. The doctests of the library and the lab run in the unit tier itself (``make test-unit``:
``--doctest-modules kindlb_helpers lab/kindlb_lab``), not in a nested pytest."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    pytest.importorskip("ruff")
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "kindlb_helpers", "tests", "lab"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
