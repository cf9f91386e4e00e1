"""Notebooks 07 and 08 under papermill on a real kind cluster, for both MetalLB eras.

07: on the learner's path (test_learner_path.py): near misses, each followed by the right answer, with no cleanup
between; a learner's bad YAML is refused in one line and leaves nothing behind.
08 on the learner's path lives in test_learner_08.py (``drive_08``, ``assert_08``), alone under the same switch.
The series (test_series.py) runs these same assertions in its order, on the cluster notebooks 00-06 made
(``test_learner_path.learner_07``, ``assert_bad_yaml``, ``test_learner_08.drive_08``). This module runs them alone, on a
cluster set up as notebooks 02-04 leave it (MetalLB of the era, a pool ``default``, nginx with 3 pods), for work on
07/08 without the whole series: ``KINDLB_LESSON_07_08=1`` (otherwise skipped, so that CI pays once).
"""
from __future__ import annotations

import ast
import os
import subprocess

import nbformat
import pytest

import kindlb_helpers as kh
from kindlb_helpers._lesson.exercises import configmap, configmap_pools
from kindlb_helpers._tools.runner import KernelPool, declared_parameters, notebooks_dir, run_one

from _lesson_setup import as_02_to_04_leave_it
from _cluster_tier import ARTIFACTS, eras

KERNELS = KernelPool()
EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"


pytestmark = pytest.mark.skipif(not os.environ.get("KINDLB_LESSON_07_08"),
                                reason="the series runs these; KINDLB_LESSON_07_08=1 runs them alone")


@pytest.fixture(scope="module", autouse=True)
def _kernels():
    yield KERNELS
    KERNELS.close()


def kubectl(name: str, *args: str, check: bool = True) -> str:
    """kubectl on the kind context of cluster ``name``; its stdout."""
    return subprocess.run(["kubectl", "--context", f"kind-{name}", *args], capture_output=True, text=True,
                          check=check, timeout=60).stdout


@pytest.fixture(scope="module", params=eras())
def era(request, cluster) -> dict:
    """MetalLB of this era with a pool ``default`` and nginx, as notebooks 02-04 leave the cluster."""
    state = as_02_to_04_leave_it(cluster, request.param)
    yield state
    k = state["k"]
    kh.trouble.cleanup(k, kh.trouble.default_pool(k))
    kh.exercises.cleanup(k)


def run(cluster: dict, era: dict, notebook: str, **extra) -> dict:
    params = {"cluster": cluster["name"], "interactive": False, **era["params"], **extra}
    path = notebooks_dir() / f"{notebook}.ipynb"
    known = set(declared_parameters(path))
    res = run_one(path, ARTIFACTS / "notebooks" / era["version"], {k: v for k, v in params.items() if k in known},
                  kernels=KERNELS)
    assert res.ok, f"{notebook} failed: {res.error} (executed notebook: {res.output})"
    nb = nbformat.read(res.output, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{notebook} left an error output"
    last = next(c for c in reversed(nb.cells) if c.cell_type == "code")
    return ast.literal_eval(next(o["data"]["text/plain"] for o in last.outputs if "text/plain" in o.get("data", {})))


def _left(name: str) -> dict:
    crd = "ipaddresspools,l2advertisements" if "metallb.io" in kubectl(name, "get", "crd", "-o", "name") else None
    pools = kubectl(name, "-n", "metallb-system", "get", crd, "-o", "name") if crd else \
        kubectl(name, "-n", "metallb-system", "get", "configmap", "config", "-o", "jsonpath={.data.config}")
    return {"services": [s for s in kubectl(name, "get", "services", "-o", "name").split() if "/ex-" in s or "/ts-" in s],
            "deployments": [d for d in kubectl(name, "get", "deployments", "-o", "name").split()
                            if "/ex-" in d or "/ts-" in d],
            "pools": [p for p in pools.split() if "ex-" in p or "ts-" in p],
            "excluded": kubectl(name, "get", "nodes", "-l", EXCLUDE, "-o", "name").split()}


def test_07_every_exercise_near_misses_then_right(cluster, era):
    """07 on the learner's path (test_learner_path.learner_07): near misses, each followed by the right answer."""
    from test_learner_path import learner_07, summary

    print(summary(learner_07(era["name"], era["params"], era["version"])))


BAD = {
    "invalid YAML": ("apiVersion: v1\nkind: Service\nmetadata:\n  name: ex-bad\n spec: {}\n", "does not parse"),
    "wrong kind": ("apiVersion: v1\nkind: Servce\nmetadata:\n  name: ex-bad\n", "Servce"),
    "unknown field": ("apiVersion: v1\nkind: Service\nmetadata:\n  name: ex-bad\nspec:\n  type: LoadBalancer\n"
                      "  selektor: {app: nginx}\n  ports: [{port: 80}]\n", "selektor"),
    "name clash": ("apiVersion: v1\nkind: Service\nmetadata:\n  name: nginx\n", "not an exercise object"),
}


def test_07_a_learners_bad_yaml_gets_one_line_and_applies_nothing(cluster, era):
    assert_bad_yaml(era["k"], era["name"], era["crds"])


def assert_bad_yaml(k, name: str, crds: bool) -> None:
    """Invalid YAML, a wrong kind, an unknown field, a name clash, an address inside another pool: one line and
    a hint each, no traceback, nothing applied."""
    cases = dict(BAD)
    # a pool overlapping pool default: the webhook (CRD era) or MetalLB v0.12.1's own rule refuses it, and the
    # Service in the same answer is not created either
    first = str(dict(kh.metallb.pools(k))["default"].first)
    svc = "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: ex-bad\nspec:\n  type: LoadBalancer\n" \
          "  selector: {app: nginx}\n  ports: [{port: 80}]\n"
    if crds:
        pool = ("apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: ex-bad\n  namespace: "
                f"metallb-system\nspec:\n  addresses: [{first}/32]\n")
    else:
        pools = configmap_pools(k) + [{"name": "ex-bad", "protocol": "layer2",
                                                    "addresses": [f"{first}/32"]}]
        pool = kh.metallb.to_yaml([configmap(pools)])
    cases["address inside another pool"] = (pool + svc, "overlap")
    for what, (text, words) in cases.items():
        got = kh.exercises.apply(k, text)
        assert not got.ok, what
        assert words in got.message and "\n" not in got.message and got.hint, (what, got)
        assert "Traceback" not in repr(got)
        assert "ex-bad" not in kubectl(name, "get", "services", "-o", "name"), f"{what}: half-applied"
        assert "ex-bad" not in str(kh.metallb.pools(k)), f"{what}: half-applied"
