"""One error boundary: the outside systems' exceptions become the package's at one place each,
waits retry only what time can change, bad input is BadInput (exit 2), and a failed notebook is data.
No Docker daemon and no cluster: the Kubernetes client talks to a loopback HTTP server started here."""
from __future__ import annotations

import ast
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from kindlb_helpers._cluster import commands, metallb, waits
from kindlb_helpers._cluster.kube import Kind, get_or_none
from kindlb_helpers._core import objects
from kindlb_helpers._core.errors import (
    BadInput,
    ClusterUnreachable,
    CommandFailed,
    CommandTimeout,
    KubeAPIError,
    MetalLBError,
    ToolMissing,
    WaitTimeout,
    is_transient,
)
from kindlb_helpers._lesson.l2 import neigh as l2  # the client side of layer 2: _ip_neigh, checked_ip, checked_via

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- a loopback "API server"

class _Api(BaseHTTPRequestHandler):
    """Answers /api/v1/namespaces/<status> with that HTTP status and a Kubernetes Status body; counts calls."""

    calls: list[str] = []

    def _answer(self) -> None:
        _Api.calls.append(self.path)
        tail = self.path.rstrip("/").split("/")[-1]
        code = int(tail) if tail.isdigit() else 200
        if code == 200:
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": tail}}
        else:
            msg = ('admission webhook "ipaddresspoolvalidationwebhook.metallb.io" denied the request: '
                   "CIDR 172.19.255.1/32 overlaps with already defined CIDR") if code == 400 else f"status {code}"
            body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": msg, "code": code}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PATCH = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def api():
    from kubernetes import client

    server = HTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cfg = client.Configuration()
    cfg.host = f"http://127.0.0.1:{server.server_address[1]}"
    _Api.calls.clear()
    yield Kind("loop", "kind-loop", client.ApiClient(cfg))
    server.shutdown()


def test_api_errors_become_kube_api_error_with_status_and_cause(api):
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(KubeAPIError) as got:
        api.core.read_namespace("422")
    assert got.value.status == 422 and not got.value.transient
    assert not isinstance(got.value, ApiException)  # no hybrid: callers catch the package's error only
    assert isinstance(got.value.__cause__, ApiException)
    assert "status 422" in str(got.value)
    assert api.core.read_namespace("ok").metadata.name == "ok"
    assert get_or_none(api.core.read_namespace, "404") is None
    with pytest.raises(KubeAPIError):
        get_or_none(api.core.read_namespace, "403")


def test_a_closed_port_is_cluster_unreachable():
    import socket

    from kubernetes import client
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    cfg = client.Configuration()
    cfg.host = f"http://127.0.0.1:{port}"
    cfg.retries = 0
    kind = Kind("gone", "kind-gone", client.ApiClient(cfg))
    with pytest.raises(ClusterUnreachable) as got:
        kind.core.read_namespace("x")
    assert got.value.transient


def test_transient_or_final():
    assert [KubeAPIError("x", status=s).transient for s in (400, 403, 404, 409, 422, 429, 500, 503)] == \
        [False, False, True, True, False, True, True, True]
    assert is_transient(ConnectionRefusedError()) and is_transient(ClusterUnreachable("x"))
    assert not is_transient(MetalLBError("x")) and not is_transient(BadInput("x"))
    assert not is_transient(KeyError("bug")) and not is_transient(WaitTimeout("x"))


# ---------------------------------------------------------------- wait_until

def test_a_final_error_ends_the_wait_at_once():
    calls = []

    def check():
        calls.append(1)
        raise MetalLBError("MetalLB rejected the pool: overlaps")

    start = time.monotonic()
    with pytest.raises(MetalLBError, match="rejected"):
        waits.wait_until(check, timeout=30, desc="x", progress=False)
    assert time.monotonic() - start < 2 and len(calls) == 1


def test_a_bug_in_a_check_is_not_hidden_as_a_timeout():
    with pytest.raises(KeyError):
        waits.wait_until(lambda: {}["status"], timeout=30, desc="x", progress=False)


def test_a_transient_error_is_retried_until_it_passes_and_until_the_deadline():
    seen = []

    def check():
        seen.append(1)
        if len(seen) < 3:
            raise KubeAPIError("webhook not serving", status=503)
        return True, "ok"

    assert waits.wait_until(check, timeout=10, desc="x", progress=False) == "ok" and len(seen) == 3

    def never():
        raise KubeAPIError("still 503", status=503)

    with pytest.raises(WaitTimeout, match="still 503"):
        waits.wait_until(never, timeout=0.5, desc="x", progress=False)


def test_a_webhook_rejection_stops_apply_pool_at_once(api, monkeypatch):
    """The API answers 400 'denied the request' (as MetalLB's webhook does): MetalLBError now, not a WaitTimeout."""
    monkeypatch.setattr(metallb, "server_side_apply", lambda kind, objs: [kind.core.read_namespace("400")])
    start = time.monotonic()
    with pytest.raises(MetalLBError, match="denied the request: CIDR 172.19.255.1/32 overlaps"):
        metallb.apply_pool(api, [{}], timeout=60)
    assert time.monotonic() - start < 5 and len(_Api.calls) == 1


def test_a_webhook_not_serving_yet_is_retried(api, monkeypatch):
    answers = iter(["503", "500", "ok"])
    monkeypatch.setattr(metallb, "server_side_apply", lambda kind, objs: [kind.core.read_namespace(next(answers)).metadata.name])
    assert metallb.apply_pool(api, [{}], timeout=30) == ["ok"]
    assert len(_Api.calls) == 3


# ---------------------------------------------------------------- subprocess

def test_a_missing_program_is_tool_missing():
    with pytest.raises(ToolMissing, match="no-such-program-kindlb.*install it") as got:
        commands.run(["no-such-program-kindlb"], what="demo", hint="install it")
    assert isinstance(got.value.__cause__, FileNotFoundError)


def test_a_slow_program_is_command_timeout_and_a_failing_one_command_failed():
    start = time.monotonic()
    with pytest.raises(CommandTimeout) as got:
        commands.run([sys.executable, "-c", "import time; time.sleep(30)"], what="sleep", timeout=0.5)
    assert time.monotonic() - start < 10 and isinstance(got.value, WaitTimeout)
    with pytest.raises(CommandFailed) as failed:
        commands.run([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"], what="x")
    assert failed.value.status == 3 and "boom" in str(failed.value)
    assert commands.run([sys.executable, "-c", "raise SystemExit(3)"], what="x", check=False).returncode == 3


def test_ip_neigh_without_iproute2_names_the_container_route(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # as on macOS: no `ip`
    with pytest.raises(ToolMissing, match="via='container'"):
        l2._ip_neigh("172.19.255.1")


def test_subprocess_is_called_in_one_place():
    users = []
    for path in (ROOT / "kindlb_helpers").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "subprocess" \
                    and node.attr in ("run", "Popen", "check_output", "check_call", "call"):
                users.append(str(path.relative_to(ROOT)))
    assert set(users) == {"kindlb_helpers/_cluster/commands.py"}, \
        "call programs through kindlb_helpers._cluster.commands.run/start (the one subprocess boundary)"


def test_nothing_outside_the_kube_boundary_names_the_clients_exception():
    named = [str(p.relative_to(ROOT)) for d in ("kindlb_helpers", "lab/kindlb_lab") for p in (ROOT / d).rglob("*.py")
             if "ApiException" in p.read_text(encoding="utf-8")]
    assert named == ["kindlb_helpers/_cluster/kube/boundary.py"], named


# ---------------------------------------------------------------- bad input is BadInput (exit 2)

@pytest.mark.parametrize("kwargs", [{"name": "1app"}, {"name": "nginx\n"}, {"namespace": "Demo"}, {"replicas": 0},
                                    {"port": 70000}, {"image": "nginx latest"}, {"traffic_policy": "local"}])
def test_nginx_objects_refuses_bad_input_as_bad_input(kwargs):
    with pytest.raises(BadInput):
        objects.nginx_objects(**kwargs)


def test_app_names_are_checked_as_params_checks_them():
    from kindlb_helpers._core import params

    for name in ("1app", "app-", "a" * 64, "nginx"):
        by_objects = by_params = None
        try:
            objects.nginx_objects(name=name)
        except BadInput as exc:
            by_objects = str(exc)
        try:
            params.check(app_name=name) if "app_name" in params.KNOWN else params.service_name(name, "app name")
        except BadInput as exc:
            by_params = str(exc)
        assert (by_objects is None) == (by_params is None), (name, by_objects, by_params)
    assert objects.nginx_objects(name="nginx")[0]["metadata"]["name"] == "nginx"


def test_l2_bad_input_is_bad_input():
    with pytest.raises(BadInput):
        l2.checked_ip("not-an-ip")
    with pytest.raises(BadInput):
        l2.checked_via("browser")
    with pytest.raises(BadInput):
        l2.neighbours("not-an-ip")  # refused before anything is contacted


@pytest.mark.docker  # the second tier: a CLI subprocess / a Jupyter kernel
def test_bad_input_from_objects_exits_2_on_the_cli(tmp_path):
    """`kindlb run -p app_name=1app ...`: refused as bad input before anything runs (exit 2, no traceback)."""
    import subprocess

    env = {**os.environ, "KUBECONFIG": str(tmp_path / "none")}
    out = subprocess.run([sys.executable, "-m", "kindlb_helpers._tools.cli", "run", "-p", "replicas=0", "04_deploy_app"],
                         capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr


# ---------------------------------------------------------------- the runner's error is data

@pytest.mark.docker  # the second tier: a CLI subprocess / a Jupyter kernel
def test_a_failing_cell_is_reported_with_index_count_line_and_name(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from kindlb_helpers._tools import runner

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# demo"), nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("\ny = {}\ny['missing']")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "nb" / "99_demo.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    result = runner.run_one(path, tmp_path / "out", {}, html=False, timeout=120)
    assert not result.ok
    f = result.failure
    assert (f.notebook, f.cell_index, f.exec_count, f.source_line, f.ename) == \
        ("99_demo", 2, 2, "y = {}", "KeyError")
    assert "'missing'" in f.evalue and isinstance(f, runner.CellFailure) and not isinstance(f, BaseException)
    assert "cell [2]" in result.error
