"""The one source resolver (issue 26 item 1, issue 29 item 1): the learner's value, a loaded bundle, the offline
lab, the online default, in that order; `sources` narrows it; "offline" never falls back to online."""
from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from kindlb_helpers._cluster import offline, sources
from kindlb_helpers._core import versions as v
from kindlb_helpers._core.errors import BadInput


@pytest.fixture(autouse=True)
def nothing_here(tmp_path, monkeypatch):
    """No bundle, no lab, no `kindlb lab env` exports: the online machine a learner starts from."""
    monkeypatch.setenv("KINDLB_BUNDLE_CACHE", str(tmp_path / "bundles"))
    monkeypatch.delenv(sources.LAB_SOURCE_ENV, raising=False)
    monkeypatch.delenv(sources.LAB_VERSION_ENV, raising=False)
    monkeypatch.setattr(sources, "_lab_plugin", lambda: None)


def bundle(tmp_path, version="v0.16.1", roles=("node", "metallb", "nginx", "probe", "router")) -> Path:
    """A loaded bundle as `kindlb bundle load` leaves it in the cache."""
    folder = tmp_path / "bundles" / version
    (folder / "metallb").mkdir(parents=True)
    (folder / "metallb" / "metallb-native.yaml").write_text("kind: Namespace\n")
    images = [{"role": r, "ref": f"bundle.local/{r}:1", "id": "sha256:" + "0" * 64, "file": f"images/{r}.tar"}
              for r in roles]
    if "metallb" in roles:
        images[list(roles).index("metallb")]["ref"] = f"quay.io/metallb/controller:{version}"
        images.append({"role": "metallb", "ref": f"quay.io/metallb/speaker:{version}", "id": "sha256:" + "1" * 64,
                       "file": "images/speaker.tar"})
    (folder / "manifest.json").write_text(json.dumps({"metallb_version": version, "images": images}))
    return folder


class FakeLab:
    """What the lab's plug-in offers (kindlb_lab.offline.LabSource), over a cache in a temporary folder."""

    name = "lab"

    def __init__(self, root: Path, built: bool = True):
        self.root, self.asked = root, []
        if built:
            (root / "v0.16.1").mkdir(parents=True)
            (root / "v0.16.1" / "metallb-native.yaml").write_text("kind: Namespace\n")
            (root / "v0.12.1").mkdir(parents=True)

    def metallb_version(self, version=None):
        if version not in (None, "v0.16.1", "v0.12.1"):
            raise RuntimeError(f"the offline lab cannot build MetalLB {version!r}")
        return version or "v0.16.1"

    def manifest_source(self, version):
        return self.root / version / "metallb-native.yaml" if version == "v0.16.1" else self.root / version

    def image(self, role):
        self.asked.append(role)
        return {"node": v.NODE_IMAGE, "nginx": v.NGINX_IMAGE, "probe": v.PROBE_IMAGE}[role]

    def kind_binary(self):
        return None


@pytest.fixture
def lab(tmp_path, monkeypatch):
    made = FakeLab(tmp_path / "lab")
    monkeypatch.setattr(sources, "_lab_plugin", lambda: made)
    return made


def every(found):
    return {s.role: (s.origin, s.value) for s in found}


ALL = dict(node_image=None, metallb_source=None, image=None, probe_image=None, router_image="auto")


def test_online_machine_gets_the_pins_and_the_tools_defaults():
    found = sources.resolve_all(**ALL)
    assert every(found) == {"node": ("online", None), "metallb": ("online", None), "nginx": ("online", v.NGINX_ONLINE_IMAGE),
                            "probe": ("online", v.PROBE_ONLINE_IMAGE), "router": ("online", v.pins()["FRR_ONLINE_IMAGE"])}
    assert found.params() == {"image": "nginx:1.27", "probe_image": "busybox:1.36", "router_image": "quay.io/frrouting/frr:10.5.3"}
    assert "metallb-native.yaml" in str(found["metallb"]) and "kindest/node" in str(found["node"])
    assert not found.offline


def test_the_lab_when_it_has_built(lab):
    found = sources.resolve_all(**ALL)
    assert every(found) == {"node": ("lab", v.NODE_IMAGE), "metallb": ("lab", str(lab.root / "v0.16.1" / "metallb-native.yaml")),
                            "nginx": ("lab", v.NGINX_IMAGE), "probe": ("lab", v.PROBE_IMAGE),
                            "router": ("lab", v.pins()["FRR_IMAGE"])}
    assert str(found["nginx"]) == "nginx image (image): offline lab: kindlb.local/nginx:1.22.1"
    assert found.image == v.NGINX_IMAGE and found.offline
    # the ConfigMap era: the lab's folder; the article's release: the lab cannot, so online
    assert sources.resolve("metallb", metallb_version="v0.12.1").value == str(lab.root / "v0.12.1")
    assert sources.resolve("metallb", metallb_version="0.9.4").origin == "online"


def test_a_lab_installed_but_not_built_is_not_used(tmp_path, monkeypatch):
    unbuilt = FakeLab(tmp_path / "lab", built=False)
    monkeypatch.setattr(sources, "_lab_plugin", lambda: unbuilt)
    assert {s.origin for s in sources.resolve_all(**ALL)} == {"online"}
    assert unbuilt.asked == []  # not even the probe is built for a lab that is not here


def test_kindlb_lab_env_exports_are_the_labs_manifest(tmp_path, monkeypatch):
    """`eval "$(kindlb lab env)"` in the shell that starts JupyterLab: its exports are read (issue 26: they were not)."""
    manifest = tmp_path / "m" / "metallb-native.yaml"
    manifest.parent.mkdir()
    manifest.write_text("kind: Namespace\n")
    monkeypatch.setenv(sources.LAB_SOURCE_ENV, str(manifest))
    monkeypatch.setenv(sources.LAB_VERSION_ENV, "v0.16.1")
    assert every(sources.resolve_all(metallb_source=None, image=None)) == {
        "metallb": ("lab", str(manifest)), "nginx": ("lab", v.NGINX_IMAGE)}
    # exported for another release: not this one's manifest
    assert sources.resolve("metallb", metallb_version="v0.12.1").origin == "online"


def test_a_loaded_bundle_comes_before_the_lab(tmp_path, lab):
    folder = bundle(tmp_path)
    found = sources.resolve_all(**ALL)
    assert every(found) == {"node": ("bundle", "bundle.local/node:1"), "metallb": ("bundle", str(folder / "metallb")),
                            "nginx": ("bundle", "bundle.local/nginx:1"), "probe": ("bundle", "bundle.local/probe:1"),
                            "router": ("bundle", "bundle.local/router:1")}
    assert str(found["probe"]) == "probe image (probe_image): loaded bundle v0.16.1: bundle.local/probe:1"
    assert sources.offline_here() == "bundle"
    assert sources.node_images(found) == ["quay.io/metallb/controller:v0.16.1", "quay.io/metallb/speaker:v0.16.1",
                                          "bundle.local/nginx:1"]


def test_a_bundle_serves_what_it_holds_and_the_rest_falls_through(tmp_path, lab):
    bundle(tmp_path, roles=("node", "metallb", "nginx", "probe"))  # made before 07_bgp: no router
    assert sources.resolve("router").origin == "lab"
    assert sources.resolve("metallb", metallb_version="v0.12.1").origin == "lab"  # the bundle is v0.16.1's
    assert sources.resolve("nginx", metallb_version="v0.12.1").origin == "bundle"  # its images fit any release


def test_the_learners_value_wins_everywhere(tmp_path, lab):
    bundle(tmp_path)
    for choice in sources.CHOICES:
        s = sources.resolve("nginx", "nginx:1.25", sources=choice)
        assert (s.origin, s.value, str(s)) == ("yours", "nginx:1.25", "nginx image (image): your value: nginx:1.25")


def test_online_with_one_parameter_on_a_machine_with_a_bundle(tmp_path, lab):
    bundle(tmp_path)
    assert {s.origin for s in sources.resolve_all("online", **ALL)} == {"online"}


def test_offline_never_falls_back_and_refuses_in_one_line():
    with pytest.raises(sources.NoOfflineSource) as exc:
        sources.resolve("nginx", sources="offline")
    text = str(exc.value)
    assert "\n" not in text and "kindlb bundle load FILE" in text and "kindlb lab up" in text
    with pytest.raises(sources.NoOfflineSource):
        sources.for_run({"metallb_version": None}, offline=True)


def test_offline_names_the_release_it_cannot_serve(tmp_path, lab):
    bundle(tmp_path)
    with pytest.raises(sources.NoOfflineSource, match="MetalLB v0.9.4"):
        sources.resolve("metallb", sources="offline", metallb_version="v0.9.4")


def test_for_run_takes_the_users_p_values(tmp_path, lab):
    found = sources.for_run({"image": "mine:1", "metallb_version": "v0.16.1"}, offline=True)
    assert found.params()["image"] == "mine:1" and found["node"].origin == "lab" and found.offline


def test_bad_choices_are_refused():
    with pytest.raises(BadInput, match="sources must be one of"):
        sources.resolve("nginx", sources="internet")
    with pytest.raises(BadInput, match="no image role"):
        sources.resolve("nginxx")
    with pytest.raises(BadInput, match="not imagee"):
        sources.resolve_all(imagee=None)


def test_unreadable_bundle_cache_is_no_bundle(tmp_path):
    folder = tmp_path / "bundles" / "v0.16.1"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{not json")
    assert sources.loaded_bundle() is None and sources.resolve("nginx").origin == "online"


def test_the_real_lab_plugin_is_asked_through_its_entry_point(tmp_path, monkeypatch):
    """The lab's entry point (lab/pyproject.toml), loaded as kindlb loads it: with an empty cache it has not built."""
    monkeypatch.undo()
    monkeypatch.setenv("KINDLB_BUNDLE_CACHE", str(tmp_path / "bundles"))
    monkeypatch.setenv("KINDLB_LAB_CACHE", str(tmp_path / "empty-lab"))
    monkeypatch.delenv(sources.LAB_SOURCE_ENV, raising=False)
    eps = [ep for ep in offline._entry_points(offline.GROUP) if ep.name == "lab"]
    if not eps:
        pytest.skip("the offline lab is not installed here (pip install -e lab/)")
    assert isinstance(eps[0], EntryPoint)
    sources._lab_plugin.cache_clear()
    try:
        assert sources._lab_plugin() is not None
        assert sources.resolve("nginx").origin == "online"
        lab_manifest = tmp_path / "empty-lab" / "metallb" / "v0.16.1" / "metallb-native.yaml"
        lab_manifest.parent.mkdir(parents=True)
        lab_manifest.write_text("kind: Namespace\n")
        assert sources.resolve("metallb").value == str(lab_manifest)
        assert sources.resolve("nginx").value == v.NGINX_IMAGE
    finally:
        sources._lab_plugin.cache_clear()


def test_offline_run_prepares_only_what_the_run_uses_and_refuses_an_image_docker_lacks(tmp_path, lab, monkeypatch):
    """kindlb run --offline's preparation (_tools/offline_run.py): the resolver's values as -p parameters, the node
    image only where 00 will create the cluster, and every image proven in Docker first (no pull is asked)."""
    from kindlb_helpers._cluster import clusters, dockernet
    from kindlb_helpers._tools import offline_run

    have = {"mine:1", v.NODE_IMAGE, v.NGINX_IMAGE, v.PROBE_IMAGE, "quay.io/metallb/controller:v0.16.1",
            "quay.io/metallb/speaker:v0.16.1"}
    monkeypatch.setattr(dockernet, "image_id", lambda ref, client=None: "sha256:x" if ref in have else None)
    monkeypatch.setattr(clusters, "kind_clusters", lambda: ["existing"])
    params = {"image": "mine:1"}
    found = offline_run.prepare("new", params, ["00_prerequisites", "02_install_metallb", "05_access_app"])
    assert params == {"image": "mine:1", "node_image": v.NODE_IMAGE, "metallb_version": "v0.16.1",
                      "metallb_source": str(lab.root / "v0.16.1" / "metallb-native.yaml"),
                      "probe_image": v.PROBE_IMAGE, "sources": "offline"}
    assert [s.role for s in found] == ["node", "metallb", "nginx", "probe"]  # no router: 07_bgp is not in the run
    have.discard(v.NODE_IMAGE)
    offline_run.prepare("existing", {}, ["00_prerequisites", "02_install_metallb"])  # 00 reuses it: no node image
    with pytest.raises(sources.NoOfflineSource, match=f"{v.NODE_IMAGE} \\(the offline lab's node image\\) is not in Docker here.*kindlb lab build"):
        offline_run.prepare("new", {}, ["00_prerequisites"])
