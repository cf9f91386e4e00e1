"""The first cell's standard-library reads (_cluster/quick.py): Docker's socket, bounded; the API server's JSON read
through the client's attribute names, so that MetalLB's readiness is decided by the same code either way."""
from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest

from kindlb_helpers._cluster import quick
from kindlb_helpers._cluster.metallb import installed_version, readiness
from kindlb_helpers._core.errors import DockerUnavailable


def test_a_json_object_reads_as_the_clients_model():
    v = quick.View({"status": {"observedGeneration": 2, "conditions": [{"type": "Available", "status": "True"}]},
                    "spec": {"selector": {"matchLabels": {"app": "metallb"}}}})
    assert v.status.observed_generation == 2 and v.status.conditions[0].type == "Available"
    assert v.spec.selector.match_labels == {"app": "metallb"}  # a map-typed field is a dict, as in the client
    assert sorted(v.spec.selector.match_labels.items()) == [("app", "metallb")]
    svc = quick.View({"spec": {"selector": {"app": "nginx"}}, "metadata": {"labels": {"items": "x"}}})
    assert svc.spec.selector == {"app": "nginx"} and svc.metadata.labels["items"] == "x"
    assert v.metadata is None and v.status.number_ready is None  # a missing field is None, as in the client


def _metallb(ready: int, want: int = 3, terminating: int = 0) -> dict:
    dep = {"metadata": {"generation": 1}, "spec": {"template": {"spec": {"containers": [
        {"image": "quay.io/metallb/controller:v0.16.1"}]}}},
           "status": {"observedGeneration": 1, "conditions": [{"type": "Available", "status": "True"}]}}
    ds = {"metadata": {"generation": 1}, "spec": {"selector": {"matchLabels": {"app": "metallb", "component": "speaker"}}},
          "status": {"observedGeneration": 1, "desiredNumberScheduled": want, "numberReady": want,
                     "updatedNumberScheduled": want, "numberAvailable": want}}
    old = [{"metadata": {"deletionTimestamp": "2026-12-06T07:00:00Z"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}} for _ in range(terminating)]
    pods = old + [{"metadata": {}, "status": {"conditions": [{"type": "Ready", "status": "True" if i < ready
                                                                    else "False"}]}} for i in range(want)]
    return {"/apis/apps/v1/namespaces/metallb-system/deployments/controller": dep,
            "/apis/apps/v1/namespaces/metallb-system/daemonsets/speaker": ds,
            "/api/v1/namespaces/metallb-system/pods": {"items": pods}}


class _Canned(quick.Api):
    def __init__(self, answers: dict) -> None:
        super().__init__("kindlb", "https://127.0.0.1:6443", None, {}, (1, 1))
        self.answers, self.asked = answers, []

    def get(self, path: str, what: str) -> dict:
        self.asked.append(path)
        return self.answers[path.split("?")[0]]


@pytest.mark.parametrize("ready,terminating,verdict", [(3, 0, True), (2, 0, False), (3, 1, True), (2, 1, False)])
def test_metallb_readiness_reads_the_json_unchanged(ready, terminating, verdict):
    server = _Canned(_metallb(ready, terminating=terminating))
    k = quick.Light(server)
    assert installed_version(k) == "v0.16.1"
    ok, text = readiness(k)
    assert ok is verdict, text
    assert any("labelSelector=app%3Dmetallb%2Ccomponent%3Dspeaker" in p for p in server.asked)


def test_a_docker_that_never_answers_is_said_within_the_bound(silent_socket, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{silent_socket}")
    t0 = time.monotonic()
    with pytest.raises(DockerUnavailable, match="did not answer within"):
        quick.docker_version(timeout=(1.0, 1.5))
    assert time.monotonic() - t0 < 3


def test_docker_version_and_images_over_the_socket(tmp_path, monkeypatch):
    path = str(tmp_path / "d.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    seen: list[str] = []

    def serve():
        for _ in range(3):
            c, _ = srv.accept()
            request = c.recv(4096).decode()
            seen.append(request.split(" ")[1])
            found = "/version" in request or "busybox" in request
            body = json.dumps({"Version": "27.1.0"} if "/version" in request else {}).encode()
            head = "200 OK" if found else "404 Not Found"
            c.sendall(f"HTTP/1.1 {head}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
            c.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    assert quick.docker_version() == "27.1.0"
    assert quick.image_present("kindlb.local/busybox-probe:1") is True
    assert quick.image_present("nope:1") is False
    t.join(5)
    srv.close()
    assert seen == ["/version", "/images/kindlb.local%2Fbusybox-probe%3A1/json", "/images/nope%3A1/json"]


def test_an_ssh_docker_host_is_left_to_the_sdk(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "ssh://me@far")
    assert quick.docker_version() is None and quick.image_present("x") is None


def test_a_kubeconfig_user_the_module_cannot_serve_falls_back(tmp_path, monkeypatch):
    cfg = {"apiVersion": "v1", "kind": "Config",
           "clusters": [{"name": "kind-kindlb", "cluster": {"server": "https://127.0.0.1:1"}}],
           "users": [{"name": "kind-kindlb", "user": {"exec": {"command": "get-token"}}}],
           "contexts": [{"name": "kind-kindlb", "context": {"cluster": "kind-kindlb", "user": "kind-kindlb"}}]}
    (tmp_path / "config").write_text(json.dumps(cfg))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "config"))
    assert quick.light("kindlb") is None
    cfg["users"][0]["user"] = {"token": "t"}
    (tmp_path / "config").write_text(json.dumps(cfg))
    k = quick.light("kindlb")
    assert k is not None and k.context == "kind-kindlb" and k.host == "https://127.0.0.1:1"
    assert os.environ["KUBECONFIG"] == str(tmp_path / "config")
