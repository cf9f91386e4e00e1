"""The lesson's shape (fast): learn / recap cells, every cluster-changing helper shown with its
commands, commands built from the objects the helpers send, and pages that render offline."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from kindlb_helpers._core import hood
from kindlb_helpers._core.objects import EXTRAS, nginx_objects
from kindlb_helpers._lesson.render import HOOD_CLASS

pytestmark = pytest.mark.docker  # the docker tier: a Docker engine, Jupyter kernels or the wheel

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: Helpers whose result carries a hood (commands + YAML): the cell must display that result.
HOOD_HELPERS = {
    ("cluster", "ensure"), ("metallb", "install"), ("metallb", "wait_ready"), ("metallb", "configure"),
    ("metallb", "uninstall"), ("app", "deploy"), ("app", "wait_rollout"), ("app", "wait_external_ip"),
    ("app", "fetch"), ("app", "fetch_in_network"), ("app", "remove"), ("app", "create_lb_service"),
    ("app", "delete_service"), ("app", "service_state"),
    # 07/08: the learner's YAML and kubectl lines (their result shows the command), the staged failures
    ("exercises", "apply"), ("exercises", "kubectl"), ("exercises", "cleanup"),
    ("trouble", "cause"), ("trouble", "repair"), ("trouble", "cleanup"), ("trouble", "evidence"),
}
#: Helpers that return a table with its hood in ``attrs``: shown with kh.show(...).
TABLE_HELPERS = {("cluster", "nodes_table"), ("cluster", "pods_table"), ("cluster", "services_table"), ("app", "spread"),
                 ("cluster", "node_containers")}


def _kh_path(func: ast.AST) -> tuple[str, ...] | None:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name) and func.id == "kh":
        return tuple(reversed(parts))
    return None


def _shown(last: ast.AST, call: ast.Call, target: str | None, via_show: bool) -> bool:
    for node in ast.walk(last):
        if via_show and not (isinstance(node, ast.Call) and _kh_path(node.func) == ("show",)):
            continue
        for inner in ast.walk(node):
            if inner is call or (target and isinstance(inner, ast.Name) and inner.id == target):
                return True
    return False


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_opens_with_you_will_learn_and_ends_with_what_just_happened(path):
    nb = nbformat.read(path, as_version=4)
    first, last = nb.cells[0], nb.cells[-1]
    assert first.cell_type == "markdown" and "**You will learn**" in first.source, f"{path.name}: no 'You will learn'"
    bullets = re.findall(r"^- ", first.source.split("**You will learn**", 1)[1], re.M)
    assert 2 <= len(bullets) <= 4, f"{path.name}: 'You will learn' needs 2-4 bullets, has {len(bullets)}"
    assert last.cell_type == "markdown" and last.source.startswith("## What just happened"), path.name
    assert "```bash" in last.source, f"{path.name}: the recap names the commands a person would type"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_cluster_changing_helper_is_shown_with_its_commands(path):
    nb = nbformat.read(path, as_version=4)
    found = 0
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        tree = ast.parse(cell.source)
        last = tree.body[-1] if tree.body else None
        for stmt in tree.body:
            assigns = [a for a in ast.walk(stmt) if isinstance(a, ast.Assign) and isinstance(a.targets[0], ast.Name)]
            for node in ast.walk(stmt):
                if not isinstance(node, ast.Call):
                    continue
                name = _kh_path(node.func)
                if name in HOOD_HELPERS or name in TABLE_HELPERS:
                    found += 1
                    target = next((a.targets[0].id for a in assigns if any(n is node for n in ast.walk(a.value))), None)
                    ok = isinstance(last, ast.Expr) and _shown(last, node, target, name in TABLE_HELPERS)
                    assert ok, (f"{path.name}: `{ast.unparse(node)}` must be displayed by its cell's last line "
                                f"({'kh.show(...)' if name in TABLE_HELPERS else 'the result'}), so its commands show")
    assert found, f"{path.name} calls no helper that shows its commands"


def test_params_checked_in_the_first_code_cell_after_the_parameters():
    for path in NOTEBOOKS:
        code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        assert "kh.params.check(globals())" in code[1].source, path.name


def test_deploy_commands_are_built_from_the_objects():
    objs = nginx_objects("web", "demo", "nginx:1.27", 2, 8080, pool="extra", traffic_policy="Local")
    h = hood.deploy_steps("kindlb", objs)
    text = h.script()
    assert "create namespace demo" in text
    assert "create deployment web --image=nginx:1.27 --replicas=2" in text
    assert '"readinessProbe":{"httpGet":{"path":"/","port":8080}' in text
    assert h.objects()[0] == objs[1], "the Service file is the very Service the helper applies"
    assert all(line.startswith(("kubectl --context kind-kindlb", "cat >", "#", "set -e", "KINDLB_EOF")) or
               not line.startswith("kubectl") for line in text.splitlines()), "every kubectl line names the context"


def test_deployment_is_what_kubectl_create_deploy_makes():
    dep, svc = nginx_objects()
    assert dep["metadata"]["labels"] == {"app": "nginx"}
    assert dep["spec"]["selector"] == {"matchLabels": {"app": "nginx"}}
    assert dep["spec"]["template"]["metadata"]["labels"] == {"app": "nginx"}
    assert svc["spec"] == {"type": "LoadBalancer", "selector": {"app": "nginx"},
                           "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}
    extras = set(dep["spec"]["template"]["spec"]["containers"][0]) - {"name", "image"}
    assert extras == set(EXTRAS), "every extra is named (and explained) in EXTRAS"


def test_hood_html_is_collapsible_and_escaped():
    h = hood.apply_steps("kindlb", [{"kind": "ConfigMap", "metadata": {"name": "<x>"}}], "a.yaml", "t")
    page = h._repr_html_()
    assert "<details" in page and HOOD_CLASS in page and "&lt;x&gt;" in page


def test_exported_page_renders_offline(tmp_path):
    """`kindlb run` exports HTML that loads no script, style or image from another host."""
    from kindlb_helpers._tools.export import page_problems
    from kindlb_helpers._tools.runner import run_one

    res = run_one(ROOT / "notebooks" / "03_address_pool.ipynb", tmp_path,
                  {"subnet": "172.19.0.1/16", "apply": False, "interactive": False})
    assert res.ok, res.error
    page = res.html.read_text()
    assert page_problems(page, res.html.parent) == []  # nothing outside, used or dormant; no missing file
    assert "<svg" in page or "data:image/png;base64" in page, "the subnet picture is inline"


@pytest.mark.docker
def test_route_is_chosen_in_a_moment_and_explained():
    """probe_from="auto": the host route where this machine is the bridge's gateway, else a container."""
    import time

    from kindlb_helpers._cluster.containers import _local_address, choose_route
    from kindlb_helpers._cluster.dockernet import kind_network
    from kindlb_helpers._core.errors import KindlbError

    try:
        net = kind_network()
    except KindlbError:
        pytest.skip("no kind network on this machine")
    start = time.monotonic()
    route = choose_route("auto")
    assert time.monotonic() - start < 3
    local = _local_address(str(net.gateway(4)))
    assert route.via == ("host" if local else "container") and route.why
    assert choose_route("container").via == "container"
    with pytest.raises(KindlbError, match="probe_from"):
        choose_route("sideways")


def test_bad_parameter_in_a_notebook_is_a_message_not_a_traceback(tmp_path):
    """A learner's bad value stops the first code cell with what to fix, and no stack."""
    from kindlb_helpers._tools.runner import run_one

    res = run_one(ROOT / "notebooks" / "03_address_pool.ipynb", tmp_path,
                  {"subnet": "172.19.0.1/16", "apply": "maybe", "interactive": False}, html=False)
    assert not res.ok and "apply" in res.error
    nb = nbformat.read(res.output, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "BadParameters"
    text = "\n".join(errors[0].traceback)
    assert "must be True or False" in text and "Traceback" not in text and 'File "' not in text
