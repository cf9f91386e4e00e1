"""The package's layers, read from its source: core -> cluster -> lesson -> tools, each importing only the
layers before it (lazy imports inside functions count too), no import cycles, and the library never names
the offline lab."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "kindlb_helpers"
ORDER = ["core", "cluster", "lesson", "tools"]


def _imports(path: Path) -> set[str]:
    """Every kindlb_helpers module PATH imports, anywhere in it, as 'layer.module' (or 'layer')."""
    layer = path.parent.name
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = [layer] if node.level == 1 else []
            parts = base + (node.module.split(".") if node.module else [])
            if node.module is None or (node.level == 2 and len(parts) == 1):
                found |= {".".join(parts + [a.name]) for a in node.names}
            else:
                found.add(".".join(parts))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kindlb_helpers."):
            found.add(node.module.removeprefix("kindlb_helpers."))
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("kindlb_helpers.") for a in node.names if a.name.startswith("kindlb_helpers.")}
    return found


def _modules() -> dict[str, Path]:
    return {f"{p.parent.name}.{p.stem}": p for layer in ORDER for p in (PKG / layer).glob("*.py")
            if p.stem != "__init__"}


def test_every_module_sits_in_a_layer():
    assert sorted(p.name for p in PKG.glob("*.py")) == ["__init__.py"]
    assert {p.name for p in PKG.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))} == set(ORDER)


def test_a_layer_imports_only_the_layers_before_it():
    wrong = []
    for name, path in _modules().items():
        rank = ORDER.index(name.split(".")[0])
        for target in _imports(path):
            if ORDER.index(target.split(".")[0]) > rank:
                wrong.append(f"{name} imports {target}")
    assert not wrong, wrong


def test_no_import_cycles_lazy_or_not():
    graph = {name: {t for t in _imports(path) if t in _modules()} for name, path in _modules().items()}
    cycles = []

    def visit(node, stack):
        for nxt in graph[node]:
            if nxt in stack:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in done:
                visit(nxt, stack + [nxt])
        done.add(node)

    done: set[str] = set()
    for start in graph:
        if start not in done:
            visit(start, [start])
    assert not cycles, cycles


def test_the_library_never_names_the_lab():
    assert not [p for p in PKG.rglob("*.py") if "kindlb_lab" in p.read_text(encoding="utf-8")]


def test_the_wrong_layer_is_caught(tmp_path):
    """The checker itself: a core module that imports the cluster layer is reported."""
    bad = tmp_path / "core" / "bad.py"
    bad.parent.mkdir()
    bad.write_text("def f():\n    from ..cluster.kube import connect\n")
    assert _imports(bad) == {"cluster.kube"}


def test_star_import_and_the_facade_names():
    code = ("from kindlb_helpers import *; import kindlb_helpers as kh; "
            "missing = [n for n in kh.__all__ if not hasattr(kh, n)]; print(missing)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_core_loads_without_docker_or_kubernetes():
    code = ("import sys, kindlb_helpers; "
            "print(sorted(m for m in ('docker', 'kubernetes', 'ipywidgets', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
