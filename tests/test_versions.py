"""Version pins live in one file, kindlb_helpers/_core/versions.env, and everything reads it: the library,
the offline lab's shell scripts, the Makefile, the tests. The lab refuses MetalLB releases it cannot
build, and its scripts stop when a helper fails inside $(...)."""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kindlb_helpers._core import manifests, versions
from kindlb_helpers._core.errors import LabError

pytestmark = pytest.mark.docker  # the docker tier: no Docker, but many `kindlb` subprocesses (a few seconds each): too slow for the unit tier

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "lab" / "kindlb_lab"
#: Pins whose values would be a hard-coded copy if they showed up anywhere else.
WATCHED = ("KIND_VERSION", "K8S_VERSION", "ETCD_VERSION", "COREDNS_VERSION", "CRICTL_VERSION", "METALLB_VERSION",
           "NODE_IMAGE", "NGINX_IMAGE", "PROBE_IMAGE", "ACTIONLINT_VERSION")
#: ... and, in the library and the notebooks, the images the series pulls online too.
WATCHED_LIBRARY = (*WATCHED, "NGINX_ONLINE_IMAGE", "PROBE_ONLINE_IMAGE")


def _notebook_code(path: Path) -> list[str]:
    """The string constants of a notebook's code cells (magics and shell lines dropped)."""
    import json

    out = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            src = "".join(ln for ln in "".join(cell["source"]).splitlines(True) if not ln.lstrip().startswith(("%", "!")))
            try:
                tree = ast.parse(src)
            except SyntaxError:
                continue
            out += [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return out


def test_no_pin_in_the_library_or_the_notebooks():
    """Every pin is read from versions.env: no module of the library (docstrings aside) and no notebook code cell
    writes one itself."""
    pins = versions.pins()
    # release.py is the table of facts about MetalLB releases and evidence.py the tags its evidence is read at:
    # they name releases (v0.16.1 ...) by design
    files = [p for p in (ROOT / "kindlb_helpers").rglob("*.py")
             if p.name not in ("versions.py", "release.py", "evidence.py")]
    found = [f"{f.relative_to(ROOT)}: {pins[k]}" for f in files
             for s in _code_strings(f) for k in WATCHED_LIBRARY if pins[k] in s]
    # a parameters cell too: an image parameter is None there, and the next cell fills in the pin
    found += [f"{nb.relative_to(ROOT)}: {pins[k]}" for nb in sorted((ROOT / "notebooks").glob("*.ipynb"))
              for s in _notebook_code(nb) for k in WATCHED_LIBRARY if pins[k] in s]
    assert not found, "read these from kindlb_helpers._core.versions (or versions.env) instead"


def test_the_pin_guard_finds_a_pin(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(f'"""{versions.KIND_VERSION} in a docstring is fine"""\nIMAGE = "{versions.NGINX_ONLINE_IMAGE}"\n')
    assert [s for s in _code_strings(bad) if versions.NGINX_ONLINE_IMAGE in s] and \
        not [s for s in _code_strings(bad) if versions.KIND_VERSION in s]


def test_pins_parse_and_expand():
    pins = versions.pins()
    assert pins["NODE_IMAGE"] == f"kindlb.local/node:{pins['K8S_VERSION']}"
    assert versions.METALLB_VERSION == manifests.DEFAULT_VERSION
    assert (versions.METALLB_CONFIGMAP_VERSION, versions.METALLB_ARTICLE_VERSION) == ("v0.12.1", "v0.9.4")
    with pytest.raises(ValueError, match="line 1"):
        versions.parse('A="quoted"')
    with pytest.raises(ValueError, match=r"\$\{B\} is not defined"):
        versions.parse("A=${B}")


def test_the_lab_scripts_source_the_same_pins(tmp_path):
    keys = list(versions.pins())
    script = ". ./common.sh; " + "; ".join(f'echo "{k}=${k}"' for k in keys)
    env = {**os.environ, "KINDLB_LAB_CACHE": str(tmp_path)}
    env.pop("KINDLB_VERSIONS_ENV", None)  # found in the repo, as when a script is run by hand
    out = subprocess.run(["bash", "-c", script], cwd=LAB, env=env, capture_output=True, text=True, check=True)
    assert dict(line.split("=", 1) for line in out.stdout.splitlines()) == versions.pins()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_makefile_includes_them():
    env = {**os.environ, "PATH": "/nonexistent"}  # so `command -v kind` would install: -n only prints it
    out = subprocess.run([shutil.which("make"), "-n", "kind", "lint-workflow"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert f"sigs.k8s.io/kind@{versions.KIND_VERSION}" in out
    assert f"actionlint@{versions.ACTIONLINT_VERSION}" in out


def _code_strings(path: Path) -> list[str]:
    """Lines of code (shell/make/yaml without comments; Python string constants without docstrings)."""
    text = path.read_text()
    if path.suffix != ".py":
        return [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")
                and not ln.lstrip().startswith(': "${')]  # build-node.sh's fallbacks, kept for its image hash
    tree = ast.parse(text)
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def test_no_hard_coded_pins_in_code_that_reads_them():
    files = [*LAB.glob("*.sh"), *LAB.glob("*.py"), ROOT / "Makefile", ROOT / "scripts" / "setup.sh",
             ROOT / ".ci" / "run", *(ROOT / "tests" / "cluster").glob("*.py"), *(ROOT / ".github" / "workflows").glob("*.yml"),
             ROOT / "kindlb_helpers" / "_tools" / "cli.py"]
    pins = versions.pins()
    found = [f"{f.relative_to(ROOT)}: {pins[k]}" for f in files for s in _code_strings(f) for k in WATCHED if pins[k] in s]
    assert not found, "read these from kindlb_helpers._core.versions (or versions.env) instead"


def test_every_lab_script_stops_on_a_failing_substitution():
    for script in LAB.glob("*.sh"):
        text = script.read_text()
        if script.name in ("common.sh", "rootfs-sets.sh"):
            continue
        assert "common.sh" in text or "shopt -s inherit_errexit" in text, script.name
    assert "shopt -s inherit_errexit" in (LAB / "common.sh").read_text()


@pytest.mark.skipif(not (shutil.which("go") and shutil.which("jq")), reason="needs go and jq")
def test_a_failing_moddir_stops_the_caller(tmp_path):
    env = {**os.environ, "KINDLB_LAB_CACHE": str(tmp_path), "GOPROXY": "off"}  # no download can succeed
    script = 'set -euo pipefail; . ./common.sh; dir=$(moddir example.invalid/none v0.0.1); echo "went on with [$dir]"'
    out = subprocess.run(["bash", "-c", script], cwd=LAB, env=env, capture_output=True, text=True, check=False)
    assert out.returncode != 0 and "went on" not in out.stdout
    assert "cannot download example.invalid/none@v0.0.1" in out.stderr


def test_the_lab_refuses_a_metallb_it_cannot_build():
    lab = pytest.importorskip("kindlb_lab", reason="the offline lab is not installed: pip install -e lab/")
    assert lab.metallb_version("0.12.1") == versions.METALLB_CONFIGMAP_VERSION
    assert lab.manifest_source(versions.METALLB_CONFIGMAP_VERSION).name == versions.METALLB_CONFIGMAP_VERSION
    assert lab.manifest_source(versions.METALLB_VERSION).name == "metallb-native.yaml"
    for bad in ("v0.13.5", versions.METALLB_ARTICLE_VERSION, "latest"):
        with pytest.raises(LabError) as err:
            lab.metallb_version(bad)
        assert versions.METALLB_VERSION in str(err.value) and versions.METALLB_CONFIGMAP_VERSION in str(err.value)


def test_the_cli_stops_before_anything_runs(tmp_path):
    pytest.importorskip("kindlb_lab", reason="the offline lab is not installed: pip install -e lab/")
    for argv in (["lab", "load-metallb", "v0.13.5", "--name", "kindlb-no-such-cluster"],
                 ["lab", "build", "--metallb", "v0.9.4"],
                 ["run", "--offline", "--output", str(tmp_path), "-p", "metallb_version=v0.9.4", "03_address_pool"]):
        out = subprocess.run(["kindlb", *argv], capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode in (1, 2), (argv, out.stderr)
        assert f"{versions.METALLB_VERSION} (current, CRDs) and {versions.METALLB_CONFIGMAP_VERSION}" in out.stderr
        assert "Traceback" not in out.stderr
    assert not list(tmp_path.iterdir())


def test_a_release_the_notebooks_do_not_know_is_refused_with_the_same_choices_everywhere(tmp_path):
    """The parameter check and the install refuse the same releases, naming the same three pins."""
    from kindlb_helpers._cluster import metallb
    from kindlb_helpers._core import params
    from kindlb_helpers._core.errors import BadParameters, MetalLBError

    for bad in ("v0.13.5", "v0.16.2", "v0.16.0"):
        with pytest.raises(BadParameters) as by_params:
            params.check({"metallb_version": bad})
        with pytest.raises(MetalLBError) as by_install:
            metallb.check_known_version(bad)
        for err in (by_params, by_install):
            assert versions.METALLB_CHOICES in str(err.value)
    for good in versions.METALLB_KNOWN:
        params.check({"metallb_version": good})
        assert metallb.check_known_version(good) == good
    out = subprocess.run(["kindlb", "run", "--output", str(tmp_path), "-p", "metallb_version=v0.13.5",
                          "03_address_pool"], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2 and versions.METALLB_CHOICES.split(" (")[0] in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and not list(tmp_path.iterdir())
