"""A learner with no clone: the wheel built from this repo, installed into a fresh virtualenv, runs
notebook 03 headless from its own copy of the series; ``kindlb notebooks DIR`` keeps changed notebooks.

The venv sees the system's site-packages (``--system-site-packages``: papermill, pandas ... are not
downloaded again), but kindlb itself comes from the wheel: the test runs from a temporary folder and
checks that neither the clone nor its editable install is what Python imports.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.docker  # the docker tier: a Docker engine, Jupyter kernels or the wheel

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory, built_wheel):
    """(python of a fresh venv with kindlb installed from its wheel, a temp cwd, seconds it took)."""
    t0 = time.monotonic()
    wheel = built_wheel  # built once per run (tests/conftest.py)
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                        "--disable-pip-version-check", str(wheel)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    cwd = tmp_path_factory.mktemp("learner")
    return python, cwd, time.monotonic() - t0


def _env(python: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KINDLB_NOTEBOOKS", "VIRTUAL_ENV")}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    # nbconvert's templates are data files of the system's install (sys.prefix/share/jupyter), which a
    # --system-site-packages venv does not search; a venv that installed nbconvert itself has them
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [env.get("JUPYTER_PATH"), f"{sys.prefix}/share/jupyter"]))
    return env


def _kindlb(python: Path, cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(python.parent / "kindlb"), *args], cwd=cwd, env=_env(python), capture_output=True,
                          text=True, timeout=timeout)


def test_kindlb_comes_from_the_wheel_not_the_clone(installed):
    python, cwd, _ = installed
    code = ("import sys, kindlb_helpers, kindlb_helpers._tools.notebooks as n; print(kindlb_helpers.__file__); "
            "print(n.notebooks_dir()); print(any(p.rstrip('/') == sys.argv[1] for p in sys.path))")
    r = subprocess.run([str(python), "-c", code, str(ROOT)], cwd=cwd, env=_env(python), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    module, folder, clone_on_path = r.stdout.split()
    venv_dir = str(python.parent.parent)
    assert module.startswith(venv_dir) and not module.startswith(str(ROOT)), module
    assert folder.startswith(venv_dir) and folder.endswith("kindlb_helpers/_notebooks"), folder
    assert clone_on_path == "False"
    shipped = sorted(p.name for p in Path(folder).glob("*.ipynb"))
    assert shipped == sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_notebook_03_runs_headless_from_the_installed_series(installed):
    python, cwd, setup_seconds = installed
    t0 = time.monotonic()
    r = _kindlb(python, cwd, "run", "-p", "subnet=172.19.0.1/16", "-p", "apply=false", "--output", "out",
                "03_address_pool")
    run_seconds = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok: 1 notebook in" in r.stdout  # kindlb run's summary line
    executed = nbformat.read(cwd / "out" / "03_address_pool.ipynb", as_version=4)
    assert executed.metadata.papermill.input_path.startswith(str(python.parent.parent))  # the installed copy
    text = json.dumps([c.get("outputs", []) for c in executed.cells])
    assert "172.19.255.1-172.19.255.250" in text and "172.19.0.0/16" in text
    assert (cwd / "out" / "03_address_pool.html").is_file()
    print(f"\nwheel build + venv + install: {setup_seconds:.1f} s; kindlb run 03: {run_seconds:.1f} s")


def test_kindlb_notebooks_copies_and_keeps_what_the_learner_changed(installed):
    python, cwd, _ = installed
    r = _kindlb(python, cwd, "notebooks", "work")
    assert r.returncode == 0, r.stderr
    assert "copied: 00_prerequisites.ipynb" in r.stdout
    work = cwd / "work"
    mine = work / "03_address_pool.ipynb"
    nb = nbformat.read(mine, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("my notes"))
    nbformat.write(nb, mine)
    changed = mine.read_bytes()
    (work / "01_cluster_nodes.ipynb").unlink()
    r = _kindlb(python, cwd, "notebooks", "work")
    assert r.returncode == 0, r.stderr
    assert "skipped, changed by you: 03_address_pool.ipynb" in r.stdout
    assert "copied: 01_cluster_nodes.ipynb" in r.stdout
    assert mine.read_bytes() == changed
    # the copy runs too: --notebooks DIR
    r = _kindlb(python, cwd, "run", "--notebooks", "work", "-p", "subnet=172.19.0.1/16", "-p", "apply=false",
                "--output", "out2", "03_address_pool")
    assert r.returncode == 0, r.stdout + r.stderr
    executed = nbformat.read(cwd / "out2" / "03_address_pool.ipynb", as_version=4)
    assert Path(executed.metadata.papermill.input_path) == mine.resolve()
    assert any(c.source == "my notes" for c in executed.cells)
    r = _kindlb(python, cwd, "notebooks", "work", "--force")
    assert "overwritten (--force): 03_address_pool.ipynb" in r.stdout
    assert mine.read_bytes() != changed
