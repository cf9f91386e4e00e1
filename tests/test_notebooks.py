"""The notebooks as files (fast), and the one that needs no cluster, run cell by cell in a kernel (tests/_driver.py:
what a test reads comes from a cell appended after the notebook's last; the notebook keeps nothing for it)."""
from __future__ import annotations

import ast
import ipaddress
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill as pm
import pytest
from _driver import LearnerSaw, Notebook

import kindlb_helpers as kh
from kindlb_helpers._tools.runner import series

pytestmark = pytest.mark.docker  # the docker tier: a Docker engine, Jupyter kernels or the wheel

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


#: What the tests read from 03 without a cluster: a cell appended after its last.
PROBE_03 = """{"subnet": str(network), "family": family, "planned": str(planned), "pool": str(chosen),
 "size": chosen.size, "applied": apply, "kinds": [o["kind"] for o in objects], "configured": []}"""


def outputs_of(nb, text: str) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" and text in c.source for o in c.outputs]


def test_series_is_the_files_with_cleanup_last(tmp_path):
    names = series(ROOT / "notebooks")
    assert sorted(names) == [p.stem for p in NOTEBOOKS] and names[-1].endswith("_cleanup")
    assert [int(n[:2]) for n in names[:-1]] == sorted(int(n[:2]) for n in names[:-1])
    # adding a notebook is adding a file: it joins the series in its place, cleanup stays last
    for name in names + ["10_extra"]:
        (tmp_path / f"{name}.ipynb").write_text("{}")
    assert series(tmp_path) == [n for n in names if not n.endswith("_cleanup")] + ["10_extra", names[-1]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean_and_parametrised(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for c in code:
        assert not c.outputs and c.execution_count is None, f"{path.name} carries outputs: strip them (nbstripout)"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    declared = pm.inspect_notebook(str(path))
    assert {"cluster", "interactive"} <= set(declared), "every notebook takes cluster and interactive"
    assert declared["cluster"]["default"] == '"kindlb"'
    assert code.index(params[0]) == 0, "the parameters cell comes first"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "starts with a title"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_uses_only_the_helper_library(path):
    """Imports only kindlb_helpers, and every kh.<name>[.<name>] it calls exists."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert [a.name for a in node.names] == ["kindlb_helpers"], ast.unparse(node)
            elif isinstance(node, ast.ImportFrom):
                raise AssertionError(f"{path.name}: use `import kindlb_helpers as kh`, not {ast.unparse(node)}")
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "kh":
                assert hasattr(kh, node.attr), f"{path.name}: kh.{node.attr} does not exist"
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                  and isinstance(node.value.value, ast.Name) and node.value.value.id == "kh"):
                assert hasattr(getattr(kh, node.value.attr), node.attr), f"{path.name}: kh.{node.value.attr}.{node.attr}"
        if "parameters" not in cell.metadata.get("tags", []):  # that one holds every value a run may change
            assert len(cell.source.strip().splitlines()) <= 12, f"{path.name}: a cell of more than 12 lines"


def run_pool_notebook(tmp_path, **params) -> tuple[nbformat.NotebookNode, dict]:
    """03 with ``apply = False``, every cell in order in one kernel; the executed notebook and what it planned."""
    with Notebook("03_address_pool", {"interactive": False, "apply": False, **params}, save_to=tmp_path) as nb:
        nb.run_all()
        return nb.nb, nb.value(PROBE_03)


@pytest.mark.parametrize(
    "subnet, taken, version, pool",
    [
        ("172.19.0.1/16", [], "v0.16.1", "172.19.255.1-172.19.255.250"),
        ("172.18.0.1/24", ["172.18.0.2-172.18.0.4"], "v0.9.4", "172.18.0.193-172.18.0.254"),
        ("172.20.0.1/16", [], "v0.12.1", "172.20.255.1-172.20.255.250"),
        ("fc00:f853:ccd:e793::1/64", [], "v0.16.1", None),
    ],
)
def test_pool_notebook_without_a_cluster(tmp_path, subnet, taken, version, pool):
    family = ipaddress.ip_interface(subnet).version
    nb, res = run_pool_notebook(tmp_path, subnet=subnet, taken=taken, family=family, metallb_version=version)
    net, reserved = kh.pool.taken_from_text(subnet, taken)
    expected = kh.pool.plan(net, reserved)
    assert res["planned"] == res["pool"] == str(expected)
    if pool:
        assert res["pool"] == pool
    assert res["subnet"] == str(net) and res["family"] == family and res["size"] == expected.size
    assert res["applied"] is False and res["configured"] == []
    assert res["kinds"] == (["IPAddressPool", "L2Advertisement"] if kh.metallb.uses_crds(version) else ["ConfigMap"])
    # the sipcalc table shown is sipcalc's for the bridge address
    (table,) = [o for o in outputs_of(nb, "kh.pool.sipcalc_table") if "text/html" in o.get("data", {})]
    expected_table = kh.pool.sipcalc_table(f"{ipaddress.ip_interface(subnet).ip}/{net.prefixlen}")
    for value in expected_table["value"]:
        assert value in table["data"]["text/html"]
    # the YAML printed is the helper's rendering of the chosen pool
    yaml_text = "".join(o.get("text", "") for o in outputs_of(nb, "kh.metallb.to_yaml"))
    assert kh.metallb.to_yaml(kh.metallb.manifests(expected, version)) in yaml_text
    # the picture was drawn
    assert any("image/png" in o.get("data", {}) for o in outputs_of(nb, "kh.pool.figure"))


def test_pool_notebook_takes_the_parameter_pool(tmp_path):
    nb, res = run_pool_notebook(tmp_path, subnet="10.89.0.1/16", pool="10.89.200.0/28", pool_name="lab")
    assert res["pool"] == "10.89.200.0-10.89.200.15" and res["size"] == 16
    assert "name: lab" in "".join(o.get("text", "") for o in outputs_of(nb, "kh.metallb.to_yaml"))


def test_bad_pool_stops_with_the_pool_error(tmp_path):
    with pytest.raises(LearnerSaw) as err:
        run_pool_notebook(tmp_path, subnet="172.19.0.1/16", pool="172.19.0.1-172.19.0.9")
    assert "the learner saw PoolError: " in str(err.value)
    assert "overlaps gateway 172.19.0.1" in str(err.value)
    nb = nbformat.read(tmp_path / "03_address_pool.ipynb", as_version=4)
    assert not any(o.get("text") for o in outputs_of(nb, "kh.metallb.to_yaml")), "nothing rendered after a bad pool"


def test_runner_cli_runs_and_reports_failures(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "kindlb_helpers._tools.cli", "run", "--output", str(tmp_path / "ok"),
                         "-p", "subnet=172.19.0.1/16", "-p", "apply=false", "03_address_pool"],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "ok" / "03_address_pool.html").stat().st_size > 10_000
    bad = subprocess.run([sys.executable, "-m", "kindlb_helpers._tools.cli", "run", "--output", str(tmp_path / "bad"),
                          "-p", "subnet=172.19.0.1/16", "-p", "apply=false", "-p", "pool=172.19.0.0/24",
                          "03_address_pool"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1
    # one line per notebook, then the cell as JupyterLab numbers it, its first line, the error in one line
    head, cell, error, summary = bad.stderr.strip().splitlines()
    copy = str(tmp_path / "bad" / "03_address_pool.ipynb")
    assert head.startswith("03_address_pool") and "FAILED" in head and head.endswith(copy)
    assert cell.startswith("  cell [") and "in the executed copy): " in cell
    assert error.startswith("  PoolError: ") and "network address 172.19.0.0" in error
    assert summary.startswith("FAILED: 03_address_pool") and summary.endswith(copy)
    assert "IPKernelApp" not in bad.stderr + bad.stdout + ok.stderr + ok.stdout, "kernel chatter on the terminal"
    assert ok.stdout.splitlines()[0].startswith("03_address_pool") and ok.stderr == ""
