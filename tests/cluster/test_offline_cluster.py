"""`kindlb run --offline` with the lab and no cluster yet (issue 29 item 1): the cluster is created from the lab's
node image, MetalLB's and nginx's images are loaded into its node, and no Docker API request pulls anything
(every request goes through tests/_docker_log.py's logging socket; this machine has no registry anyway, so a
pull would also fail, late). The lab's exports are left out of the environment: the lab is found by its plug-in,
as a learner's shell without `kindlb lab env` finds it. One node (workers=0), deleted at the end."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
from _docker_log import DockerLog  # noqa: E402


ROOT = TESTS.parent


def test_offline_run_creates_and_loads_from_the_lab_without_a_pull(tmp_path):
    lab = pytest.importorskip("kindlb_lab", reason="the offline lab is not installed: pip install -e lab/")
    if not lab.manifest_source(lab.METALLB_VERSION).exists():
        pytest.skip("the offline lab has not built yet (kindlb lab build)")
    from kindlb_helpers._cluster.kube import delete_cluster, kind_clusters

    lab.use_lab_tools()
    name = f"{os.environ.get('KINDLB_LAB_NAME', 'kl')}-off-{uuid.uuid4().hex[:4]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLB_LAB_METALLB")}
    env["KINDLB_BUNDLE_CACHE"] = str(tmp_path / "no-bundles")  # the lab's route, whatever this user loaded
    try:
        with DockerLog(tmp_path) as log:
            env["DOCKER_HOST"] = log.host
            t0 = time.monotonic()
            r = subprocess.run([sys.executable, "-m", "kindlb_helpers._tools.cli", "run", "--offline", "--cluster",
                                name, "-p", "workers=0", "--output", str(tmp_path / "out"), "00_prerequisites"],
                               capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
            took = time.monotonic() - t0
        print(f"\nkindlb run --offline (create + load, 1 node): {took:.0f} s; {len(log.requests)} Docker requests")
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert log.pulls() == [], log.pulls()
        node = f"{name}-control-plane"
        inspect = json.loads(subprocess.run(["docker", "inspect", node], capture_output=True, text=True,
                                            check=True).stdout)[0]
        assert inspect["Config"]["Image"] == lab.NODE_IMAGE
        listed = subprocess.run(["docker", "exec", node, "crictl", "images", "-o", "json"], capture_output=True,
                                text=True, check=True).stdout
        tags = {t for img in json.loads(listed)["images"] for t in img.get("repoTags") or []}
        wanted = [*lab.metallb_images(lab.METALLB_VERSION), lab.NGINX_IMAGE]
        assert all(any(t.endswith(w.split("/", 1)[-1]) for t in tags) for w in wanted), (wanted, sorted(tags))
        assert "the offline lab" in r.stdout or "offline lab" in r.stdout, r.stdout
    finally:
        if name in kind_clusters():
            delete_cluster(name)
