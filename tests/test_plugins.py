"""The lab plugs in: offline sources come from entry points, one kind finder that sees what they
bring, one cluster lister (clusters.kind_clusters, which needs no kind program), one `kind load`, one image inspector,
one delete-ignoring-404."""
from __future__ import annotations

import ast
import functools
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from kindlb_helpers._cluster import clusters, kind, offline
from kindlb_helpers._core.errors import CommandFailed, KindlbError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A distribution registering an offline source ``fake`` (a real module and real EntryPoint objects) whose
    kind program logs every `kind load`."""
    exe = tmp_path / "bin" / "kind"
    exe.parent.mkdir()
    log = tmp_path / "kind.log"
    exe.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo "$@" >> {log}
        if [ "$1" = load ] && [ "$4" = broken ]; then echo "ERROR: no nodes found for cluster broken" >&2; exit 1; fi
        exit 0
        """))
    exe.chmod(0o755)
    modname = "fake_offline_source_" + "".join(c if c.isalnum() else "_" for c in tmp_path.name)  # new each test
    mod = tmp_path / "mods" / f"{modname}.py"
    mod.parent.mkdir()
    mod.write_text(textwrap.dedent(f"""\
        from pathlib import Path
        class Fake:
            name = "fake"
            def metallb_version(self, version=None): return "v0.16.1"
            def manifest_source(self, version): return Path("/nonexistent")
            def image(self, role): return f"fake/{{role}}:1"
            def kind_binary(self): return Path({str(exe)!r})
        class Broken:
            def __init__(self): raise RuntimeError("broken plug-in")
        def main(argv): return 7
        """))
    monkeypatch.syspath_prepend(str(mod.parent))
    eps = {offline.GROUP: [EntryPoint("fake", f"{modname}:Fake", offline.GROUP),
                           EntryPoint("broken", f"{modname}:Broken", offline.GROUP)],
           offline.COMMANDS: [EntryPoint("fake", f"{modname}:main", offline.COMMANDS)]}
    monkeypatch.setattr(offline, "_entry_points", lambda group: eps.get(group, []))
    monkeypatch.delenv("KINDLB_KIND", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no kind on PATH: only the source brings one
    return exe, log


def test_sources_come_from_entry_points_and_a_broken_one_is_skipped(plugin):
    assert list(offline.sources()) == ["fake"]
    assert offline.source("fake").image("nginx") == "fake/nginx:1"
    with pytest.raises(KindlbError, match="broken plug-in"):
        offline.source("broken")
    with pytest.raises(KindlbError, match="not installed: pip install it"):
        offline.source("lab", hint="pip install it")
    assert offline.command("fake")(["x"]) == 7 and offline.command("nope") is None


def test_the_one_kind_finder_sees_the_sources_kind(plugin):
    exe, _ = plugin
    assert kind.kind_binary() == str(exe)


def test_kind_load_goes_through_the_one_kind(plugin):
    """`kindlb bundle load --cluster` and `kindlb run --offline` load the nodes with kind.kind_load (the one kind
    finder's kind): it names the cluster and the images, and says what kind said when it fails."""
    _, log = plugin
    kind.kind_load("beta", ["quay.io/metallb/controller:v0.16.1", "n:1"])
    assert "load docker-image --name beta quay.io/metallb/controller:v0.16.1 n:1" in log.read_text()
    with pytest.raises(CommandFailed, match="kind load docker-image into broken: .* exited 1: ERROR: no nodes found"):
        kind.kind_load("broken", ["n:1"])


def test_without_any_kind_the_message_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(offline, "_entry_points", lambda group: [])
    monkeypatch.delenv("KINDLB_KIND", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    from kindlb_helpers._core.versions import KIND_VERSION

    with pytest.raises(KindlbError, match=f"sigs.k8s.io/kind@{KIND_VERSION}"):
        kind.kind_binary()


def test_the_lab_registers_itself():
    pytest.importorskip("kindlb_lab", reason="the offline lab is not installed: pip install -e lab/")
    lab = offline.sources().get("lab")
    assert lab is not None, "lab/pyproject.toml's entry point is not installed: pip install -e lab/"
    assert isinstance(lab, offline.OfflineSource) and lab.name == "lab"
    from kindlb_helpers._core import versions

    assert lab.metallb_version(None) == versions.METALLB_VERSION and lab.image("nginx") == versions.NGINX_IMAGE
    assert offline.command("lab") is not None


# ---------------------------------------------------------------- one place for each job

@functools.lru_cache(maxsize=1)
def _nodes() -> tuple[tuple[str, tuple], ...]:
    """(file, every AST node) for the library and the lab, parsed once."""
    return tuple((str(path.relative_to(ROOT)), tuple(ast.walk(ast.parse(path.read_text(encoding="utf-8")))))
                 for d in ("kindlb_helpers", "lab/kindlb_lab") for path in (ROOT / d).rglob("*.py"))


def _calls(pattern) -> list[str]:
    return sorted({name for name, nodes in _nodes() if any(pattern(n) for n in nodes)})


def _strs(node) -> list[str]:
    return [e.value for e in getattr(node, "elts", []) if isinstance(e, ast.Constant) and isinstance(e.value, str)]


def test_one_place_for_each_job():
    kind_load = _calls(lambda n: isinstance(n, (ast.List, ast.Tuple)) and "load" in _strs(n)
                       and {"docker-image", "image-archive"} & set(_strs(n)))
    assert kind_load == ["kindlb_helpers/_cluster/kind.py"], kind_load
    inspect = _calls(lambda n: isinstance(n, (ast.List, ast.Tuple)) and _strs(n)[:2] in (["image", "inspect"],
                                                                                     ["docker", "image"]))
    assert inspect == [], inspect  # the one inspector is dockernet.image_id (the SDK)
    which_kind = _calls(lambda n: isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "which"
                        and n.args and isinstance(n.args[0], ast.Constant) and n.args[0].value == "kind")
    assert which_kind == ["kindlb_helpers/_cluster/kind.py"], which_kind
    sets_kind_env = _calls(lambda n: isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store)
                           and isinstance(n.slice, ast.Constant) and n.slice.value == "KINDLB_KIND")
    sets_kind_env += _calls(lambda n: isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "setdefault"
                            and n.args and isinstance(n.args[0], ast.Constant) and n.args[0].value == "KINDLB_KIND")
    assert sets_kind_env in ([], ["lab/kindlb_lab/cluster.py"]), sets_kind_env  # the library never changes it


def test_delete_ignoring_404_is_written_once():
    def ignores_404(n):
        return (isinstance(n, ast.Compare) and isinstance(n.left, ast.Attribute) and n.left.attr == "status"
                and any(isinstance(c, ast.Constant) and c.value == 404 for c in n.comparators))
    # kube/objects.py: delete_if_there, get_or_none, served (a kind not served)
    assert set(_calls(ignores_404)) == {"kindlb_helpers/_cluster/kube/objects.py"}


@pytest.mark.docker
def test_the_one_lister_agrees_with_kind_get_clusters(monkeypatch, tmp_path):
    """The one lister (Docker's labels, no kind program) names what the lab's real ``kind get clusters`` names."""
    lab = offline.sources().get("lab")
    if lab is None or lab.kind_binary() is None:
        pytest.skip("the offline lab's kind is not built (kindlb lab build)")
    try:
        running = clusters.kind_clusters()
    except KindlbError as exc:
        pytest.skip(f"no Docker here: {exc}")
    import shutil

    if not running:
        pytest.skip("no kind cluster runs here: nothing to compare")
    docker_dir = Path(shutil.which("docker") or "/usr/bin/docker").parent
    monkeypatch.delenv("KINDLB_KIND", raising=False)
    monkeypatch.setenv("PATH", f"{docker_dir}:/usr/bin:/bin")  # docker stays reachable
    if shutil.which("kind"):
        pytest.skip("kind is installed system-wide: the lab's would not be the one found")
    assert kind.kind_binary() == str(lab.kind_binary())
    said = kind.kind("get", "clusters", check=True).stdout.split()
    assert sorted(said) == running
