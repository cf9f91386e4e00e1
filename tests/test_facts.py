"""The lesson's MetalLB version facts (issue 16): data with the release each came from, in one place
(``kindlb_helpers._core.release.FACTS``), which the library, the generated text and the notebooks read.

The values here are the ones checked against MetalLB's source and release notes (see each fact's evidence);
a change to one of them must be a deliberate change here too. Where the Go module cache holds the releases,
the evidence's file:line references are checked to exist."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from kindlb_helpers._cluster import metallb
from kindlb_helpers._core.manifests import parse_version
from kindlb_helpers._core.release import FACTS, fact
from kindlb_helpers._lesson import eras

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

#: key -> (since, until): what the source and release notes say (facts.md in the issue-16 work).
EXPECTED = {
    "memberlist_by_controller": ("v0.10.0", None),
    "configmap": (None, "v0.12.1"),
    "crds": ("v0.13.0", None),
    "pool_annotation": ("v0.13.9", None),
    "metallb_io_prefix": ("v0.14.9", None),
    "universe_prefix_only": (None, "v0.14.8"),
    "speaker_on_control_plane": ("v0.13.0", None),
    "exclude_lb_label": ("v0.14.2", None),
    "l2status": ("v0.14.2", None),
    "log_names_service": (None, "v0.12.1"),
    "no_endpoints_no_announce": (None, None),
    "garp": (None, None),
    "graceful_leave": (None, None),
    "no_pool_no_event": (None, None),
    "quay_images": ("v0.12.1", None),
    "config_kept_when_missing": (None, "v0.12.1"),
    "configuration_state": ("v0.15.3", None),
}


def test_every_fact_has_its_releases_and_evidence():
    assert {f.key: (f.since, f.until) for f in FACTS} == EXPECTED
    for f in FACTS:
        assert f.evidence and (re.search(r"\.go:\d+|\.yaml:\d+|RN \d", f.evidence)), f.key
        if f.since and f.until:
            assert parse_version(f.since) <= parse_version(f.until), f.key


@pytest.mark.parametrize("key, version, holds", [
    ("memberlist_by_controller", "v0.9.4", False), ("memberlist_by_controller", "v0.12.1", True),
    ("metallb_io_prefix", "v0.14.8", False), ("metallb_io_prefix", "v0.14.9", True),
    ("metallb_io_prefix", "v0.16.1", True), ("universe_prefix_only", "v0.13.9", True),
    ("pool_annotation", "v0.12.1", False), ("pool_annotation", "v0.13.9", True),
    ("exclude_lb_label", "v0.13.12", False), ("exclude_lb_label", "v0.16.1", True),
    ("l2status", "v0.12.1", False), ("log_names_service", "v0.12.1", True), ("log_names_service", "v0.16.1", False),
    ("config_kept_when_missing", "v0.12.1", True), ("config_kept_when_missing", "v0.16.1", False),
    ("configuration_state", "v0.14.9", False), ("configuration_state", "v0.16.1", True),
    ("speaker_on_control_plane", "v0.12.1", False), ("crds", "v0.12.1", False), ("configmap", "v0.12.1", True),
])
def test_holds_by_release(key, version, holds):
    assert fact(key).holds(version) is holds


def test_the_library_reads_the_facts():
    assert tuple(metallb.CONTROLLER_MAKES_MEMBERLIST) == parse_version(fact("memberlist_by_controller").since) == (0, 10, 0)
    assert metallb.POOL_ANNOTATIONS == ("metallb.io/ip-allocated-from-pool", "metallb.universe.tf/ip-allocated-from-pool")
    then, now = eras.compare("172.19.255.1-172.19.255.250", version="v0.16.1").iloc[5, :2]
    assert then.startswith("Service annotation metallb.universe.tf/") and "metallb.io/address-pool (v0.14.9+" in now
    mid = eras.compare("172.19.255.1-172.19.255.250", version="v0.13.9").iloc[5, 1]
    assert mid.startswith("Service annotation metallb.universe.tf/address-pool")
    table = eras.facts("v0.12.1")
    assert len(table) == len(FACTS) and table.columns[2] == "true for v0.12.1"
    with pytest.raises(KeyError, match="known: memberlist_by_controller"):
        fact("no such fact")


def _markdown(name: str) -> str:
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def _code(name: str) -> str:
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def test_the_notebooks_say_nothing_the_facts_contradict():
    md = {n: _markdown(n) for n in ("02_install_metallb", "03_address_pool", "05_access_app", "06_layer2")}
    # the memberlist Secret: the controller makes it from v0.10.0
    assert not re.search(r"from \*\*v0\.1[1-9]\*\* on the controller creates", md["02_install_metallb"])
    assert "v0.10.0" in md["02_install_metallb"]
    # the metallb.io/ prefix is no v0.13 thing
    for name, text in md.items():
        assert not re.search(r"v0\.13\+[^\n]*metallb\.io/", text), name
    # lb-demo selects no pods: no nodeAssigned is promised for it
    assert "`nodeAssigned` from the speaker that announces it" not in md["03_address_pool"]
    # the speaker log is read by the IP, which every era's line carries
    assert "grep -F default/nginx" not in _code("06_layer2") + md["06_layer2"]
    # ServiceL2Status and the exclude-from-external-load-balancers label came with v0.14.2, not v0.14.0
    texts = {p.name: p.read_text(encoding="utf-8") for p in (*NOTEBOOKS.glob("*.ipynb"),
                                                              *(NOTEBOOKS.parent / "kindlb_helpers").rglob("*.py"))}
    assert fact("l2status").since == fact("exclude_lb_label").since == "v0.14.2"
    said = [name for name, text in texts.items() if re.search(r"\bv0\.14\+|from v0\.14\b(?!\.)", text)]
    assert not said, f"say v0.14.2 (the release that brought them), not v0.14: {said}"
    # the generated text reads the facts
    assert "kh.metallb.facts_table(" in _code("02_install_metallb")
    assert "kh.metallb.facts_table(" in _code("06_layer2")


def _modcache() -> Path | None:
    try:
        root = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    base = Path(root, "go.universe.tf")
    return base if (base / "metallb@v0.16.1").is_dir() and (base / "metallb@v0.12.1").is_dir() else None


@pytest.mark.skipif(_modcache() is None, reason="no MetalLB v0.12.1/v0.16.1 in the Go module cache")
def test_evidence_points_at_lines_that_exist():
    base = _modcache()
    checked = 0
    for f in FACTS:
        for version, path, line in re.findall(r"(v0\.\d+\.\d+) ([\w/.-]+\.(?:go|yaml)):(\d+)", f.evidence):
            src = base / f"metallb@{version}" / path
            if not (base / f"metallb@{version}").exists():
                continue  # that release is not in this cache
            assert src.is_file(), f"{f.key}: {src}"
            assert len(src.read_text().splitlines()) >= int(line), f"{f.key}: {src}:{line}"
            checked += 1
    assert checked >= 10
