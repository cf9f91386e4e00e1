"""pyproject.toml is the one dependency list; environment.yml must say the same for conda users."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
# PyPI name -> conda-forge name, where they differ
CONDA_NAMES = {"kubernetes": "python-kubernetes", "docker": "docker-py", "pyyaml": "pyyaml",
               "playwright": "playwright-python"}


def _split(req: str) -> tuple[str, str]:
    m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*(.*)", req)
    return m.group(1).lower(), m.group(2).replace(" ", "")


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["test"])
    wanted = {CONDA_NAMES.get(k, k): v for k, v in wanted.items()}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    have = dict(_split(d) for d in conda if not d.startswith(("python>", "python=", "pip")) or d.startswith("python-"))
    assert have == wanted, "environment.yml and pyproject.toml disagree: update environment.yml from pyproject.toml"
    python = next(d for d in conda if d.startswith("python>") or d.startswith("python="))
    assert python.replace("python", "") == project["requires-python"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["--no-deps", "-e ."], "the package itself comes from pyproject.toml via pip"


def test_console_script_and_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["kindlb"] == "kindlb_helpers._tools.cli:main"
    import kindlb_helpers

    assert kindlb_helpers.__version__ == project["version"]


def test_pure_core_imports_neither_docker_nor_kubernetes():
    import subprocess

    code = ("import sys, kindlb_helpers as kh; kh.pool.plan('10.0.0.0/8'); kh.pool.sipcalc_table('10.0.0.1/8');"
            "kh.metallb.manifests('10.255.255.1-10.255.255.9', 'v0.16.1');"
            "bad = [m for m in ('docker', 'kubernetes', 'ipywidgets', 'matplotlib') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
