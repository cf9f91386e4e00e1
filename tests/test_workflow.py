"""The GitHub Actions workflow that runs the cluster tier on helm/kind-action passes actionlint."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_actionlint_passes():
    exe = shutil.which("actionlint")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("actionlint missing: `make lint-workflow` installs it from its Go module")
        pytest.skip("actionlint not installed")
    out = subprocess.run([exe, *map(str, WORKFLOWS)], capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_cluster_job_uses_kind_action_with_three_nodes():
    (wf,) = [yaml.safe_load(p.read_text()) for p in WORKFLOWS if p.name == "cluster-tier.yml"]
    steps = wf["jobs"]["cluster"]["steps"]
    kind_step = next(s for s in steps if str(s.get("uses", "")).startswith("helm/kind-action"))
    config = yaml.safe_load((ROOT / kind_step["with"]["config"]).read_text())
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker", "worker"]
    test_step = next(s for s in steps if "pytest" in s.get("run", ""))
    assert test_step["env"]["KINDLB_CLUSTER"] == kind_step["with"]["cluster_name"]


def test_versions_come_from_the_pins_file_and_both_eras_run():
    (wf,) = [yaml.safe_load(p.read_text()) for p in WORKFLOWS if p.name == "cluster-tier.yml"]
    read = next(s for s in wf["jobs"]["pins"]["steps"] if s.get("id") == "read")["run"]
    assert ". kindlb_helpers/_core/versions.env" in read
    assert "$METALLB_VERSION" in read and "$METALLB_ARTICLE_VERSION" in read
    job = wf["jobs"]["cluster"]
    assert job["strategy"]["matrix"]["metallb"] == "${{ fromJSON(needs.pins.outputs.metallb) }}"
    kind_step = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("helm/kind-action"))
    assert kind_step["with"]["version"] == "${{ needs.pins.outputs.kind }}"
    test_step = next(s for s in job["steps"] if "pytest" in s.get("run", ""))
    assert test_step["env"]["KINDLB_METALLB_VERSION"] == "${{ matrix.metallb }}"
