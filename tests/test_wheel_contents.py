"""The wheel a learner installs carries the library only: no lab build scripts, nothing that
changes the Docker daemon, no pytest import, no offline lab package (that is lab/, apart)."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker  # the docker tier: a Docker engine, Jupyter kernels or the wheel

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(built_wheel) -> zipfile.ZipFile:
    """kindlb's wheel, the one built once per run (tests/conftest.py)."""
    path = built_wheel
    return zipfile.ZipFile(path)


def test_only_the_library_is_packaged(wheel):
    tops = {n.split("/", 1)[0] for n in wheel.namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"kindlb_helpers"}
    assert not [n for n in wheel.namelist() if "/lab/" in n or n.startswith(("lab/", "kindlb_lab/"))]


def test_no_shell_scripts_or_lab_files(wheel):
    assert not [n for n in wheel.namelist() if n.endswith((".sh", "runc-wrapper", "podnet.yaml", "iptables-detect"))]


def test_nothing_touches_the_docker_daemon_config(wheel):
    for name in wheel.namelist():
        text = wheel.read(name).decode(errors="replace")
        assert "daemon.json" not in text and "default-runtime" not in text, name


def test_no_pytest_import(wheel):
    pattern = re.compile(r"^\s*(import pytest|from pytest\b)", re.MULTILINE)
    offenders = [n for n in wheel.namelist() if n.endswith(".py") and pattern.search(wheel.read(n).decode())]
    assert not offenders


def test_the_pins_ship_with_the_library(wheel):
    assert "kindlb_helpers/_core/versions.env" in wheel.namelist()
    assert wheel.read("kindlb_helpers/_core/versions.env").decode() == (ROOT / "kindlb_helpers" / "_core" / "versions.env").read_text()


def test_every_module_and_data_file_of_the_library_is_in_the_wheel(wheel):
    """The package list in pyproject.toml is explicit (the notebooks are mapped in): a new subpackage that is
    not listed would be missing from an installed wheel while the editable install hides it."""
    src = ROOT / "kindlb_helpers"
    wanted = {f"kindlb_helpers/{p.relative_to(src).as_posix()}" for p in src.rglob("*")
              if p.is_file() and p.suffix in (".py", ".env", ".svg") and "__pycache__" not in p.parts}
    missing = sorted(wanted - set(wheel.namelist()))
    assert not missing, f"add their packages to [tool.setuptools] packages in pyproject.toml: {missing}"
