"""The offline lab cluster is the real thing: nodes, CoreDNS, preloaded images, MetalLB manifests
of both eras (the current release and the ConfigMap era's v0.12.1)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from kindlb_helpers._core import versions as pins
from kindlb_helpers._cluster.kube import connect

lab = pytest.importorskip("kindlb_lab", reason="the offline lab is not installed: pip install -e lab/")

# lab_cluster is the session fixture of tests/cluster/conftest.py.
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(bool(os.environ.get("KINDLB_CLUSTER")),
                       reason="offline-lab test; KINDLB_CLUSTER selects another cluster"),
]


def _get(cluster: dict, *args: str) -> dict:
    lab.use_lab_tools()
    return json.loads(connect(cluster["name"]).kubectl("get", *args, "-o", "json"))


def test_up_reports_the_lab(lab_cluster):
    assert lab_cluster["context"] == f"kind-{lab_cluster['name']}"
    assert lab_cluster["node_image"] == lab.NODE_IMAGE
    assert lab_cluster["metallb_version"] == pins.METALLB_VERSION
    assert set(lab_cluster["metallb_loaded"]) == {pins.METALLB_VERSION, pins.METALLB_CONFIGMAP_VERSION}
    assert lab_cluster["nginx_image"] == lab.NGINX_IMAGE


def test_three_nodes_ready_with_the_pinned_kubelet(lab_cluster):
    nodes = _get(lab_cluster, "nodes")["items"]
    assert len(nodes) == 3
    for n in nodes:
        ready = {c["type"]: c["status"] for c in n["status"]["conditions"]}["Ready"]
        assert ready == "True", n["metadata"]["name"]
        assert n["status"]["nodeInfo"]["kubeletVersion"] == lab.K8S_VERSION
        assert n["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")
    roles = sorted("control-plane" if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"]
                   else "worker" for n in nodes)
    assert roles == ["control-plane", "worker", "worker"]


def test_coredns_and_podnet_running(lab_cluster):
    pods = _get(lab_cluster, "-n", "kube-system", "pods")["items"]
    dns = [p for p in pods if p["metadata"].get("labels", {}).get("k8s-app") == "kube-dns"]
    net = [p for p in pods if p["metadata"].get("labels", {}).get("k8s-app") == "kindlb-podnet"]
    assert len(dns) == 2 and len(net) == 3
    for p in dns + net:
        assert p["status"]["phase"] == "Running", p["metadata"]["name"]
        assert all(c["ready"] for c in p["status"]["containerStatuses"]), p["metadata"]["name"]


def test_built_images_present_in_every_node(lab_cluster):
    v = lab.K8S_VERSION
    expected = {
        f"registry.k8s.io/kube-apiserver:{v}", f"registry.k8s.io/kube-controller-manager:{v}",
        f"registry.k8s.io/kube-scheduler:{v}", f"registry.k8s.io/kube-proxy:{v}",
        f"registry.k8s.io/etcd:{lab.ETCD_VERSION[1:]}-0",
        f"registry.k8s.io/coredns/coredns:{lab.COREDNS_VERSION}",
        f"registry.k8s.io/pause:{lab.PAUSE_VERSION}", lab.PODNET_IMAGE, lab.NGINX_IMAGE,
        *(image for m in lab_cluster["metallb_loaded"] for image in lab.metallb_images(m)),
    }
    nodes = lab.node_containers(lab_cluster["name"])
    assert len(nodes) == 3
    for node in nodes:
        images = {i.replace("docker.io/", "", 1) if i.startswith("docker.io/kindlb.local") else i
                  for i in lab.node_images(lab_cluster["name"], node)}
        missing = expected - images
        assert not missing, f"{node} lacks {sorted(missing)}"


def test_metallb_manifest_from_the_module(lab_cluster):
    path = lab.manifest_path()
    assert path == lab.cache_dir() / "metallb" / pins.METALLB_VERSION / "metallb-native.yaml"
    assert lab.manifest_source(pins.METALLB_VERSION) == path
    text = path.read_text()
    for image in lab.METALLB_IMAGES:
        assert f"image: {image}" in text
    assert "imagePullPolicy: Always" not in text


def test_configmap_era_manifests_from_the_module(lab_cluster):
    """v0.12.1: namespace.yaml + metallb.yaml from the module zip, running the images built here."""
    import yaml

    folder = lab.manifest_source(pins.METALLB_CONFIGMAP_VERSION)
    assert folder == lab.cache_dir() / "metallb" / pins.METALLB_CONFIGMAP_VERSION
    assert sorted(p.name for p in folder.glob("*.yaml")) == ["metallb.yaml", "namespace.yaml"]
    docs = [d for d in yaml.safe_load_all((folder / "metallb.yaml").read_text()) if d]
    images = {c["image"] for d in docs if d["kind"] in ("Deployment", "DaemonSet")
              for c in d["spec"]["template"]["spec"]["containers"]}
    assert images == set(lab.metallb_images(pins.METALLB_CONFIGMAP_VERSION))
    assert not any(d["kind"] == "CustomResourceDefinition" for d in docs)


def test_runc_wrapper_strips_sys_resource(tmp_path):
    """The Docker runtime wrapper removes CAP_SYS_RESOURCE on create and exec, and nothing else."""
    wrapper = Path(lab.__file__).parent / "files" / "runc-wrapper"
    caps = ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"]
    lists = {k: caps for k in ("bounding", "effective", "permitted")}
    (tmp_path / "config.json").write_text(json.dumps({"process": {"capabilities": lists}}))
    (tmp_path / "proc.json").write_text(json.dumps({"capabilities": lists}))
    env = {**os.environ, "KINDLB_REAL_RUNC": "/bin/true"}
    for args in (["--root", "/x", "create", "--bundle", str(tmp_path), "id"],
                 ["exec", "--process", str(tmp_path / "proc.json"), "id"]):
        subprocess.run([str(wrapper), *args], env=env, check=True)
    spec = json.loads((tmp_path / "config.json").read_text())["process"]["capabilities"]
    proc = json.loads((tmp_path / "proc.json").read_text())["capabilities"]
    for got in (spec, proc):
        assert got == {k: ["CAP_CHOWN", "CAP_NET_ADMIN"] for k in lists}
