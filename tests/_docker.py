"""The ``docker`` CLI as the test modules run it, one copy for both tiers.

The fast tier finds this module on its own (pytest puts ``tests/`` on ``sys.path``); a cluster-tier
module adds ``tests/`` itself, as ``pytest tests/cluster`` puts only ``tests/cluster`` there.
"""
from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """``docker ARGS`` with its output captured as text; RuntimeError with its stderr when it fails and CHECK."""
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and r.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {r.stderr.strip()}")
    return r


def need_docker() -> None:
    """Skip the test when no Docker engine answers (fail under CI, where one must)."""
    if docker("info", check=False).returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("no Docker engine")
        pytest.skip("no Docker engine")


def import_tiny_images(refs: dict[str, str], folder: Path, run: str) -> None:
    """``docker import`` each role's REF: an image of one file, ``ROLE.txt`` holding "ROLE RUN", so that each role
    (and each test run) has an image ID of its own; the tars are written in FOLDER."""
    for role, ref in refs.items():
        tar = folder / f"{role}.tar"
        with tarfile.open(tar, "w") as t:
            data = f"{role} {run}\n".encode()
            info = tarfile.TarInfo(f"{role}.txt")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        docker("import", str(tar), ref)
