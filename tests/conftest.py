"""Test tiers and what the tiers share.

- unit (``make test-unit``): everything not marked ``docker`` or ``cluster``: no Docker daemon (the Makefile
  proves it with DOCKER_HOST=unix:///nonexistent), no kernels, no wheel; the library's and the lab's doctests.
- docker (``make test-docker``): the test files marked ``pytestmark = pytest.mark.docker`` and tests/browser: a
  Docker engine, Jupyter kernels, the wheel (built once per run: :func:`built_wheel`), the lab's scripts.
- cluster (``make test-cluster``): tests/cluster, a real kind cluster.
A test file joins the docker tier by its own marker, not by a list here.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# the cluster tier's fixtures and failure hook, for tests/cluster and tests/browser alike (one definition)
from _cluster_tier import cluster, lab_cluster, pytest_runtest_makereport  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath))
        if "cluster" in path.parts or item.get_closest_marker("cluster"):
            continue
        if "browser" in path.parts:
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory) -> Path:
    """kindlb's wheel, built once per test run from a copy of the sources (a stale build/ cannot leak in)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    shutil.copytree(ROOT / "kindlb_helpers", src / "kindlb_helpers", ignore=ignore)
    shutil.copytree(ROOT / "notebooks", src / "notebooks", ignore=ignore)  # mapped into kindlb_helpers/_notebooks
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check",
                        "-w", str(out), str(src)], capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = out.glob("kindlb-*.whl")
    return wheel


@contextmanager
def accepting_silently(srv: socket.socket) -> Iterator[socket.socket]:
    """SRV (bound) accepts every connection and never sends a byte, until the block ends; then all is closed."""
    srv.listen(50)
    held, stop = [], threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        stop.set()
        t.join(2)
        for c in held:
            c.close()
        srv.close()


@pytest.fixture
def silent_listener():
    """A loopback TCP port that accepts connections and never sends a byte (a hung Docker or API server)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    with accepting_silently(srv):
        yield srv.getsockname()[1]


@pytest.fixture
def silent_socket(tmp_path):
    """A Unix socket that accepts and never answers (a hung Docker)."""
    path = str(tmp_path / "docker.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    with accepting_silently(srv):
        yield path
