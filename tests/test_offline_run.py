"""`kindlb run --offline` never goes online (issue 29 item 1): with neither a loaded bundle nor a built lab it
refuses at once, in one line that says what to load; with a source whose image is not in Docker it refuses too,
before Docker is asked to pull anything. Every Docker API request of the run goes through a logging socket
(tests/_docker_log.py) on this machine's engine, which has no registry to pull from.
The cluster tier runs the other half, a cluster created and loaded from the lab with no pull
(tests/cluster/test_offline_cluster.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _docker_log import DockerLog

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parent.parent


def kindlb(*args: str, env: dict, timeout: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "kindlb_helpers._tools.cli", *args], capture_output=True, text=True,
                       timeout=timeout, env=env, cwd=ROOT)
    return r, time.monotonic() - t0


@pytest.fixture
def bare(tmp_path):
    """A laptop with no bundle loaded and no lab built (the lab's plug-in may be installed: its cache is empty)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLB_")}
    env.update(KINDLB_BUNDLE_CACHE=str(tmp_path / "bundles"), KINDLB_LAB_CACHE=str(tmp_path / "no-lab"))
    return env


def clusters(env) -> list[str]:
    out = subprocess.run(["docker", "ps", "-a", "--format", '{{.Label "io.x-k8s.kind.cluster"}}'], capture_output=True,
                         text=True, env=env, timeout=60)
    return sorted(set(out.stdout.split()))


def test_offline_with_neither_refuses_at_once_in_one_line(bare, tmp_path):
    name = f"offline-refused-{os.getpid()}"
    with DockerLog(tmp_path) as log:
        env = {**bare, "DOCKER_HOST": log.host}
        r, took = kindlb("run", "--offline", "--cluster", name, "--output", str(tmp_path / "out"), "00_prerequisites",
                         "02_install_metallb", env=env)
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "kindlb bundle load FILE" in lines[0] and "kindlb lab up" in lines[0]
    assert took < 20, took  # at once: no kernel, no cluster, no download started
    assert log.pulls() == [] and not any("/containers/create" in q for q in log.requests), log.requests
    assert not list((tmp_path / "out").glob("*.ipynb"))
    assert name not in clusters(bare)


def test_offline_refuses_a_bundle_image_that_left_docker_before_any_pull(bare, tmp_path):
    """A bundle whose node image is not in Docker (removed since the load): named, and nothing pulled."""
    folder = tmp_path / "bundles" / "v0.16.1"
    (folder / "metallb").mkdir(parents=True)
    (folder / "metallb" / "metallb-native.yaml").write_text("kind: Namespace\n")
    refs = {"node": "kindlb-offline-test/node:gone", "nginx": "kindlb-offline-test/nginx:gone",
            "probe": "kindlb-offline-test/probe:gone", "metallb": "quay.io/metallb/controller:v0.16.1"}
    (folder / "manifest.json").write_text(json.dumps({"metallb_version": "v0.16.1", "images": [
        {"role": role, "ref": ref, "id": "sha256:" + "0" * 64, "file": f"images/{role}.tar"} for role, ref in refs.items()]}))
    name = f"offline-gone-{os.getpid()}"
    with DockerLog(tmp_path) as log:
        env = {**bare, "DOCKER_HOST": log.host}
        r, took = kindlb("run", "--offline", "--cluster", name, "--output", str(tmp_path / "out"), "00_prerequisites", env=env)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "kindlb-offline-test/node:gone" in r.stderr and "kindlb bundle load FILE" in r.stderr, r.stderr
    assert log.pulls() == [], log.pulls()
    assert name not in clusters(bare)
