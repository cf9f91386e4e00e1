"""The lesson's MetalLB version facts (issue 16): data with the release each came from, in one place
(``kindlb_helpers._core.release.FACTS``), which the library, the generated text and the notebooks read.

The values here are the ones checked against MetalLB's source and release notes (see each fact's evidence);
a change to one of them must be a deliberate change here too. Where the Go module cache holds the releases,
the evidence's file:line references are checked to exist."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _metallb_source import modules

from kindlb_helpers._cluster import metallb
from kindlb_helpers._core.evidence import SERVED
from kindlb_helpers._core.manifests import parse_version
from kindlb_helpers._core.release import FACTS, fact, release
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
    "l2status": ("v0.14.6", None),
    "log_names_service": (None, "v0.12.1"),
    "no_endpoints_no_announce": (None, None),
    "garp": (None, None),
    "graceful_leave": (None, None),
    "no_pool_no_event": (None, None),
    "quay_images": ("v0.10.1", None),
    "garp_on_every_announce": (None, None),
    "auto_assign_only_automatic": (None, None),
    "native_bgp_no_bfd": (None, None),
    "ndp": ("v0.4.0", None),
    "unsolicited_na": (None, None),
    "dual_stack_services": ("v0.12.0", None),
    "one_announcer_per_service": ("v0.12.0", None),
    "prefer_dual_fallback": ("v0.14.9", None),
    "allocation_failed_event": (None, None),
    "config_kept_when_missing": (None, "v0.12.1"),
    "configuration_state": ("v0.15.3", None),
}


def test_every_fact_has_its_releases_and_evidence():
    assert {f.key: (f.since, f.until) for f in FACTS} == EXPECTED
    for f in FACTS:
        assert f.lines, f"{f.key}: no source line"
        assert re.search(r"\.go:\d+|\.yaml:\d+", f.evidence), f.key  # what eras.facts shows names the lines
        if f.since and f.until:
            assert parse_version(f.since) <= parse_version(f.until), f.key
        for line in f.lines:
            assert line.tag in SERVED, f"{f.key}: {line} is not at a tag the Go module proxy serves"
            assert line.holds is f.holds(line.tag), f"{f.key}: {line} says {line.holds}, the row's range says not"
            assert line.shows or line.absent, f"{f.key}: {line} shows nothing"


def _served_before(tag: str) -> str | None:
    return max((t for t in SERVED if release(t) < release(tag)), key=release, default=None)


def _served_from(tag: str) -> str:
    return min((t for t in SERVED if release(t) >= release(tag)), key=release)


@pytest.mark.parametrize("f", [f for f in FACTS if f.since or f.until], ids=lambda f: f.key)
def test_a_boundary_rests_on_both_sides(f):
    """The last served release on the older side and the first on the newer each have a line; where the
    boundary's own release (or the one before) is not served, the row says so in its gap."""
    tags = {(line.tag, line.holds) for line in f.lines}
    for edge, newer_holds in ((f.since, True), (f.until, False)):
        if edge is None:
            continue
        # until: the fact holds up to and including the edge, so the newer side starts after it
        older, newer = ((_served_before(edge), _served_from(edge)) if newer_holds else
                        (max((t for t in SERVED if release(t) <= release(edge)), key=release),
                         min((t for t in SERVED if release(t) > release(edge)), key=release)))
        if older is None:  # no served tag that old: the row must say so, not pretend
            assert "not evidenced" in f.gap and edge in f.gap, f"{f.key}: nothing served before {edge}: say so in gap"
        else:
            assert (older, not newer_holds) in tags, f"{f.key}: no line at {older} (the older side of {edge})"
        assert (newer, newer_holds) in tags, f"{f.key}: no line at {newer} (the newer side of {edge})"
        if edge not in SERVED:
            assert edge in f.gap, f"{f.key}: {edge} is not served; say so, and what its git tag shows, in gap"


@pytest.mark.parametrize("key, version, holds", [
    ("memberlist_by_controller", "v0.9.4", False), ("memberlist_by_controller", "v0.12.1", True),
    ("metallb_io_prefix", "v0.14.8", False), ("metallb_io_prefix", "v0.14.9", True),
    ("metallb_io_prefix", "v0.16.1", True), ("universe_prefix_only", "v0.13.9", True),
    ("pool_annotation", "v0.12.1", False), ("pool_annotation", "v0.13.9", True),
    ("exclude_lb_label", "v0.13.12", False), ("exclude_lb_label", "v0.16.1", True),
    ("l2status", "v0.12.1", False), ("l2status", "v0.14.3", False), ("l2status", "v0.14.5", False),
    ("l2status", "v0.14.6", True), ("quay_images", "v0.9.6", False), ("quay_images", "v0.10.3", True),
    ("log_names_service", "v0.12.1", True), ("log_names_service", "v0.16.1", False),
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
    # the exclude-from-external-load-balancers label came with v0.14.2 (not v0.14.0); ServiceL2Status is on by
    # default from v0.14.6 (v0.14.4-v0.14.5 behind --enable-l2-service-status), not v0.14.2 as RN 0.14.2 implies
    texts = {p.name: p.read_text(encoding="utf-8") for p in (*NOTEBOOKS.glob("*.ipynb"),
                                                              *(NOTEBOOKS.parent / "kindlb_helpers").rglob("*.py"))}
    assert fact("exclude_lb_label").since == "v0.14.2" and fact("l2status").since == "v0.14.6"
    said = [name for name, text in texts.items() if re.search(r"\bv0\.14\+|from v0\.14\b(?!\.)", text)]
    assert not said, f"say the release that brought it (v0.14.2, v0.14.6), not v0.14: {said}"
    l2s = re.compile(r"(?i)(servicel2status\w*[^\n]{0,40}v0\.14\.2|v0\.14\.2\+?[^\n]{0,40}servicel2status)")
    said = [name for name, text in texts.items() if l2s.search(text)]
    assert not said, f"ServiceL2Status is v0.14.6+ (fact l2status), not v0.14.2: {said}"
    # the generated text reads the facts
    assert "kh.metallb.facts_table(" in _code("02_install_metallb")
    assert "kh.metallb.facts_table(" in _code("06_layer2")


@pytest.mark.docker  # downloads the tags on a fresh machine (a few seconds each, once): not the unit tier
def test_both_sides_of_every_fact_hold_in_the_source():
    """Every line of every fact, read at its tag: the file exists, the line holds the text it should, the text
    that must be absent is, and the fact holds (or not) at that tag as the row's range says."""
    tags = sorted({line.tag for f in FACTS for line in f.lines}, key=release)
    src = modules(tags)
    checked = 0
    for f in FACTS:
        for line in f.lines:
            path = src[line.tag] / line.path
            assert path.is_file(), f"{f.key}: {line}: no such file at {line.tag}"
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines()
            assert len(lines) >= line.line, f"{f.key}: {line}: the file has {len(lines)} lines"
            assert line.shows in lines[line.line - 1], f"{f.key}: {line} reads {lines[line.line - 1].strip()!r}, " \
                                                       f"not {line.shows!r}"
            assert not line.absent or line.absent not in text, f"{f.key}: {line.path} at {line.tag} has {line.absent!r}"
            checked += 1
    assert checked >= 2 * len([f for f in FACTS if f.since or f.until])


def test_the_lab_as_numbers_are_called_what_they_are():
    """64500/64501 are documentation AS numbers (RFC 5398), outside the private range (RFC 6996) the old comment named."""
    from kindlb_helpers._core import bgp_config as b

    for asn in (b.ROUTER_ASN, b.METALLB_ASN):
        assert any(lo <= asn <= hi for lo, hi in b.DOCUMENTATION_ASNS) and not any(lo <= asn <= hi for lo, hi in b.PRIVATE_ASNS), asn
    params = next(c for c in json.loads((NOTEBOOKS / "07_bgp.ipynb").read_text())["cells"] if c.get("id") == "07-bgp-02")
    comment = "".join(params["source"])
    assert "RFC 5398" in comment and not re.search(r"router_asn = 6450\d +# private", comment)
