"""00 shows how its cluster was made either way (issue 26 item 2): kindlb's record written at creation and read back,
else the config read off kind's node containers, and who made it as far as the node image tells. Client-shaped
fakes here; the cluster tier reads the lab's cluster (tests/cluster/test_offline_cluster.py)."""
from __future__ import annotations

from contextlib import nullcontext
from types import SimpleNamespace as NS

import pytest

from kindlb_helpers._cluster import dockernet, sources
from kindlb_helpers._cluster.kube import lifecycle, origin
from kindlb_helpers._core import versions as v
from kindlb_helpers._core.errors import KubeAPIError
from kindlb_helpers._core.objects import kind_config


class FakeCore:
    def __init__(self):
        self.maps, self.nodes = {}, []

    def create_namespaced_config_map(self, ns, body):
        if (ns, body.metadata.name) in self.maps:
            raise KubeAPIError("exists", status=409)
        self.maps[(ns, body.metadata.name)] = body

    def replace_namespaced_config_map(self, name, ns, body):
        self.maps[(ns, name)] = body

    def read_namespaced_config_map(self, name, ns):
        if (ns, name) not in self.maps:
            raise KubeAPIError("not found", status=404)
        return self.maps[(ns, name)]

    def list_node(self):
        return NS(items=self.nodes)


def fake_docker(monkeypatch, containers):
    api = NS(containers=lambda all, filters: containers)
    monkeypatch.setattr(dockernet, "docker_client", lambda *a, **k: NS(api=api))
    monkeypatch.setattr(dockernet, "translate", lambda *a, **k: nullcontext())


@pytest.fixture(autouse=True)
def no_bundle(tmp_path, monkeypatch):
    monkeypatch.setenv("KINDLB_BUNDLE_CACHE", str(tmp_path / "bundles"))


def test_the_record_written_at_creation_is_read_back():
    kind = NS(cluster="kindlb", core=FakeCore())
    assert origin.record(kind, kind_config(2), v.NODE_IMAGE, "kindlb lab up")
    assert origin.record(kind, kind_config(1), None, "notebook 00_prerequisites")  # again: replaced
    made = origin.read(kind)
    assert made.recorded and made.by == "notebook 00_prerequisites" and made.config == kind_config(1)
    assert made.image is None and made.command() == ("kind create cluster --name kindlb --config kind-config.yaml "
                                                      "--wait 180s")
    assert "notebook 00_prerequisites created it on " in made.sentence()


def test_without_a_record_the_node_containers_say_the_config_and_the_lab_image_says_who(monkeypatch):
    role = "io.x-k8s.kind.role"
    fake_docker(monkeypatch, [{"Labels": {role: "worker"}, "Image": v.NODE_IMAGE},
                              {"Labels": {role: "control-plane"}, "Image": v.NODE_IMAGE},
                              {"Labels": {role: "worker"}, "Image": v.NODE_IMAGE}])
    core = FakeCore()
    core.nodes = [NS(spec=NS(pod_cidrs=["10.244.0.0/24", "fd00:10:244::/64"], pod_cidr="10.244.0.0/24")),
                  NS(spec=NS(pod_cid_rs=["10.244.1.0/24", "fd00:10:244:1::/64"], pod_cidr="10.244.1.0/24"))]  # older client
    made = origin.read(NS(cluster="kl-a", core=core))
    assert not made.recorded and made.image == v.NODE_IMAGE
    assert made.config == kind_config(2, "dual")  # the same YAML 00 writes for that shape
    assert "offline lab's node image" in made.by and "kindlb lab up" in made.by
    assert made.command().endswith(f"--image {v.NODE_IMAGE}") and "no record" in made.sentence()


def test_a_cluster_from_elsewhere_is_said_to_be(monkeypatch):
    fake_docker(monkeypatch, [{"Labels": {"io.x-k8s.kind.role": "control-plane"}, "Image": "kindest/node:v1.34.0"}])
    made = origin.from_nodes("kind")
    assert made.by == "made outside kindlb from kindest/node:v1.34.0 (by `kind create cluster` by hand, or another tool)"
    assert made.config == kind_config(0)


def test_reuse_shows_the_command_that_made_it_and_says_it_is_not_run_again(monkeypatch):
    made = origin.Origin("kindlb", kind_config(2), v.NODE_IMAGE, "kindlb lab up", True, "2026-12-06 06:10 UTC")
    hood = lifecycle._made_hood("kindlb", made)
    first = hood.steps[0]
    assert first.command.startswith("kind create cluster --name kindlb --config kind-config.yaml")
    assert "not run again now" in first.why and "kindlb lab up" in first.why
    assert dict(first.files)["kind-config.yaml"] == kind_config(2)
    assert [s.command for s in hood.steps[1:]] == [s.command for s in lifecycle._hood.reuse_cluster_steps("kindlb").steps]
    assert lifecycle._made_hood("kindlb", None).steps == lifecycle._hood.reuse_cluster_steps("kindlb").steps


def test_a_bundle_node_image_is_named_as_the_bundles(tmp_path, monkeypatch):
    import json

    folder = tmp_path / "bundles" / "v0.16.1"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"metallb_version": "v0.16.1", "images": [
        {"role": "node", "ref": "kindlb-bundle/node:v1", "id": "sha256:" + "0" * 64, "file": "images/n.tar"}]}))
    assert sources.loaded_bundle() is not None
    assert "loaded bundle's node image kindlb-bundle/node:v1" in origin._who("kindlb-bundle/node:v1")
