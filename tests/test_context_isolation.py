"""One context, provably: nothing in kindlb contacts a kube context but kind-<cluster>, and the user's
current context is left as found. No cluster needed: loopback listeners stand in for API servers.

The kubeconfig's current context ``prod`` points at a listener that counts connections; the tutorial's
context ``kind-kindlb`` points at a loopback port that refuses (or at one that accepts and never answers).
"""
from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from _loopback import Listener, write_kubeconfig

import kindlb_helpers as kh
from kindlb_helpers._cluster import clusters, kube, metallb
from kindlb_helpers._cluster.kube import lifecycle
from kindlb_helpers._lesson import doctor

pytestmark = pytest.mark.docker  # the docker tier: a Docker engine, Jupyter kernels or the wheel

ROOT = Path(__file__).resolve().parent.parent


def refusing_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connections are refused
    return port


def fake_kind(tmp_path: Path, kubeconfig_for: dict[str, str] | None = None) -> Path:
    """A stand-in for the kind program: says its version and prints a kubeconfig; talks to nothing."""
    script = tmp_path / "kind"
    blobs = {name: text for name, text in (kubeconfig_for or {}).items()}
    lines = ["#!/bin/sh", 'case "$1 $2" in',
             '  "version ") echo "kind v0.30.0 fake" ;;']
    for name, text in blobs.items():
        blob = tmp_path / f"kubeconfig-{name}.yaml"
        blob.write_text(text)
        lines.append(f'  "get kubeconfig") [ "$4" = "{name}" ] && cat "{blob}" || exit 1 ;;')
    lines += ['  *) echo "fake kind: $*" >&2; exit 1 ;;', "esac"]
    script.write_text("\n".join(lines) + "\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def there(monkeypatch, *names: str) -> None:
    """The one kind-cluster lister (Docker's labels) answers NAMES, where the cluster's life and the doctor ask it."""
    for module in (clusters, lifecycle, kube):
        monkeypatch.setattr(module, "kind_clusters", lambda: list(names))


@pytest.fixture()
def prod(tmp_path, monkeypatch):
    """KUBECONFIG with current context prod (a counting listener) and kind-kindlb (refusing); kind cluster kindlb
    exists as far as the one lister says (no node containers are made for it)."""
    listener = Listener()
    path = write_kubeconfig(tmp_path / "config", {
        "prod": f"https://127.0.0.1:{listener.port}",
        "kind-kindlb": f"https://127.0.0.1:{refusing_port()}",
    })
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setenv("KINDLB_KIND", str(fake_kind(tmp_path)))
    there(monkeypatch, "kindlb")
    before = path.read_text()
    yield listener, path
    time.sleep(0.2)  # let a late connection land before counting
    try:
        assert not listener.accepted, f"{len(listener.accepted)} connection(s) reached the prod context's server"
        assert kube.current_context(path) == "prod"
        assert yaml.safe_load(path.read_text()) == yaml.safe_load(before), "the user's kubeconfig was changed"
    finally:
        listener.close()


def notebook_check_tuples() -> list[tuple[str, ...]]:
    """Every tuple of check names the notebooks pass to check_environment (read from their code)."""
    found = set()
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            src = "".join(cell["source"])
            if cell["cell_type"] != "code" or ("check_environment" not in src and "need =" not in src):
                continue
            for m in re.finditer(r"\((\s*\"[a-z]+\"\s*(?:,\s*\"[a-z]+\"\s*)*,?)\)", src):
                names = tuple(re.findall(r"\"([a-z]+)\"", m.group(1)))
                if set(names) <= set(doctor.CHECKS):
                    found.add(names)
    found.add(doctor.CHECKS)
    return sorted(found)


def test_the_notebooks_check_tuples_are_found():
    tuples = notebook_check_tuples()
    assert len(tuples) >= 3 and any("metallb" in t for t in tuples)


@pytest.mark.parametrize("checks", notebook_check_tuples(), ids=lambda t: "-".join(t))
def test_check_environment_contacts_only_kind_context(prod, checks):
    frame = kh.doctor.check("kindlb", checks=checks)
    assert list(frame["check"]) == list(checks)
    # messages are whole: not cut at the first colon
    for found in frame["found"]:
        assert not re.fullmatch(r"[A-Za-z ]+ at unix", str(found))


def test_context_and_metallb_checks_fail_with_messages_without_touching_prod(prod):
    ok, found, fix = doctor._context("kindlb")
    assert not ok and "does not answer" in found and "kindlb" in fix
    ok, found, _ = doctor._metallb("kindlb")
    assert not ok and "cannot tell" in found
    ok, found, _ = doctor._kubectl("kindlb")  # kubectl version --client with an empty kubeconfig
    assert found


def test_cli_doctor_and_pool_leave_prod_alone(prod):
    _, path = prod
    env = {**os.environ, "KUBECONFIG": str(path)}
    for args in (["doctor", "--cluster", "kindlb"], ["pool", "--cluster", "kindlb"], ["pool", "--cluster", "kindlb", "-v"]):
        out = subprocess.run([sys.executable, "-m", "kindlb_helpers._tools.cli", *args], capture_output=True, text=True,
                             env=env, timeout=120)
        assert "Traceback" not in out.stderr, out.stderr
        assert out.returncode in (0, 1), out.stderr


def test_other_clusters_pools_reads_only_kind_contexts(prod):
    skipped: list[str] = []
    assert metallb.other_clusters_pools("x", ["kindlb", "missing"], skipped=skipped) == []
    assert [s.split(":")[0] for s in skipped] == ["kind-kindlb", "kind-missing"]


def test_ensure_cluster_reuse_keeps_current_context(prod):
    created, message = kube.ensure_cluster("kindlb")
    assert not created and "reusing" in message


def test_ensure_cluster_writes_a_missing_context_without_switching(tmp_path, monkeypatch):
    listener = Listener()
    try:
        path = write_kubeconfig(tmp_path / "config", {"prod": f"https://127.0.0.1:{listener.port}"})
        kind_cfg = yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "kind-kindlb",
            "clusters": [{"name": "kind-kindlb", "cluster": {"server": "https://127.0.0.1:1"}}],
            "users": [{"name": "kind-kindlb", "user": {"token": "t"}}],
            "contexts": [{"name": "kind-kindlb", "context": {"cluster": "kind-kindlb", "user": "kind-kindlb"}}],
        })
        monkeypatch.setenv("KUBECONFIG", str(path))
        monkeypatch.setenv("KINDLB_KIND", str(fake_kind(tmp_path, {"kindlb": kind_cfg})))
        there(monkeypatch, "kindlb")
        result = kube.ensure_cluster("kindlb")
        assert result.created is False and result.context_changed is False
        assert "current context is unchanged" in result.message
        data = yaml.safe_load(path.read_text())
        assert data["current-context"] == "prod"
        assert {c["name"] for c in data["contexts"]} == {"prod", "kind-kindlb"}
        assert kh.cluster.connect("kindlb").host == "https://127.0.0.1:1"
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        assert not listener.accepted
    finally:
        listener.close()


def test_a_dead_cluster_is_skipped_within_seconds(tmp_path, monkeypatch):
    """Another kind cluster's API server accepts and never answers: planning goes on and names it."""
    dead = Listener()
    try:
        path = write_kubeconfig(tmp_path / "config", {
            "prod": "https://127.0.0.1:1", "kind-kindlb": "https://127.0.0.1:1",
            "kind-stuck": f"http://127.0.0.1:{dead.port}",
        })
        monkeypatch.setenv("KUBECONFIG", str(path))
        skipped: list[str] = []
        start = time.monotonic()
        found = metallb.other_clusters_pools("kindlb", ["kindlb", "stuck"], skipped=skipped)
        took = time.monotonic() - start
        assert found == [] and len(skipped) == 1
        assert skipped[0].startswith("kind-stuck:") and "no answer in time" in skipped[0]
        assert took < 8, f"a dead cluster stalled planning for {took:.1f}s"
        assert dead.accepted  # it was asked, and given up on
        start = time.monotonic()
        ok, found_text, _ = doctor._context("stuck")
        assert not ok and "does not answer" in found_text and time.monotonic() - start < 12
    finally:
        dead.close()
