"""A MetalLB release is one object: parsed once and strictly, asked everything that depends on it,
its answers checked against the releases' own source, fetched from the Go module proxy in the docker tier
(tests/_metallb_source.py: downloaded on a fresh machine, never skipped), and no other module compares versions."""
from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest
from _metallb_source import module

from kindlb_helpers._core.errors import BadInput, BadVersion, MetalLBError
from kindlb_helpers._core.manifests import manifest_url, parse_version, uses_crds
from kindlb_helpers._core.release import FACTS, Release, fact, release

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("text,parts", [("v0.16.1", (0, 16, 1)), ("0.12.1", (0, 12, 1)), ("v0.9.4", (0, 9, 4)),
                                         ("v0.13", (0, 13, 0)), ("v10.0.0", (10, 0, 0))])
def test_a_release_is_read_once(text, parts):
    assert release(text).parts == parts == parse_version(text)
    assert release(text) is release(text)  # parsed once, remembered
    assert release(release(text)) == release(parts) == Release(*parts)


@pytest.mark.parametrize("bad,why", [
    ("v０.16.1", "ASCII"), ("v0.١٦.1", "ASCII"), ("v0.16.¹", "ASCII"),  # fullwidth, Arabic-Indic, superscript
    ("v0.16.1-rc1", "pre-release"), ("v0.16.1+build.5", "pre-release"), ("0.16.1-", "pre-release"),
    ("v0." + "1" * 30 + ".1", "too long"), ("v0.16.1" + " " * 20, "too long"),
    (" v0.16.1", "not a MetalLB version"), ("v0.016.1", "not a MetalLB version"), ("v0.16.1.2", "not a MetalLB"),
    ("latest", "not a MetalLB version"), ("", "not a MetalLB version"), ("vv0.16.1", "not a MetalLB version"),
])
def test_what_is_not_a_release_is_refused_clearly(bad, why):
    with pytest.raises(BadVersion, match=why) as got:
        release(bad)
    assert isinstance(got.value, BadInput) and isinstance(got.value, MetalLBError)  # exit 2; caught as MetalLB's
    assert "v0.16.1" in str(got.value) and len(str(got.value)) < 200


@pytest.mark.parametrize("bad", [None, 16, 0.16, b"v0.16.1", ("0", 16), (0, 16, 1, 2), (True, 1, 1), (-1, 0, 0)])
def test_other_types_are_refused(bad):
    with pytest.raises(BadVersion):
        release(bad)


def test_the_eras_and_what_each_release_knows():
    cur, cm, art = release("v0.16.1"), release("v0.12.1"), release("v0.9.4")
    assert (cur.era, cm.era, art.era) == ("CRDs", "ConfigMap", "ConfigMap")
    assert cur.has_webhook and not cm.has_webhook and uses_crds("v0.13.0") and not uses_crds("v0.12.1")
    assert (cur.memberlist_secret_by, cm.memberlist_secret_by, art.memberlist_secret_by) == \
        ("controller", "controller", "you")
    assert release("v0.14.8").annotation_prefixes == ("metallb.universe.tf",)
    assert release("v0.14.9").annotation_prefixes == ("metallb.io", "metallb.universe.tf")
    assert release("v0.14.9").annotation_prefix == "metallb.io"
    assert (cm.pool_annotation, release("v0.13.9").pool_annotation, cur.pool_annotation) == \
        (None, "metallb.universe.tf/ip-allocated-from-pool", "metallb.io/ip-allocated-from-pool")
    assert cur.honoured_labels == ("node.kubernetes.io/exclude-from-external-load-balancers",)
    assert release("v0.13.12").honoured_labels == () and not cm.honours_exclude_lb_label
    assert cur.has_l2_status and not release("v0.13.12").has_l2_status
    assert cur.speaker_on_control_plane and not cm.speaker_on_control_plane
    assert cur.manifest_urls == ("https://raw.githubusercontent.com/metallb/metallb/v0.16.1/config/manifests/"
                                 "metallb-native.yaml",)
    assert manifest_url("0.12.1") == ["https://raw.githubusercontent.com/metallb/metallb/v0.12.1/manifests/"
                                      "namespace.yaml", "https://raw.githubusercontent.com/metallb/metallb/v0.12.1/"
                                      "manifests/metallb.yaml"]
    assert cur.images == {"controller": "quay.io/metallb/controller:v0.16.1",
                          "speaker": "quay.io/metallb/speaker:v0.16.1"}
    assert art.images == {}  # not checked here: only its manifest can say
    assert cur.known and cm.known and art.known and not release("v0.13.5").known
    assert release("v0.9.4") < release("v0.10.0") < release("v0.12.1") < release("v0.16.1")


def test_every_fact_names_its_release_and_evidence():
    for f in FACTS:
        assert f.evidence and (f.since is None or release(f.since)) and (f.until is None or release(f.until))
        assert f.since is None or f.until is None or release(f.since) <= release(f.until)
        assert f.releases and f.say("v0.16.1").endswith("for v0.16.1.")
    with pytest.raises(KeyError, match="known"):
        fact("no-such-fact")


# ---------------------------------------------------------------- checked against each release's own source

#: The releases whose manifests and controller the answers are read against: every served tag on either side of
#: a boundary the answers depend on (release.SERVED), and the eras the notebooks run.
CACHED = ["v0.9.6", "v0.10.3", "v0.12.1", "v0.13.0", "v0.13.7", "v0.13.9", "v0.13.12", "v0.14.3", "v0.14.5",
          "v0.14.8", "v0.14.9", "v0.15.2", "v0.15.3", "v0.16.1"]


@pytest.mark.docker  # may download the tags (Go module proxy): not the unit tier
@pytest.mark.parametrize("tag", CACHED)
def test_the_answers_match_the_release_source(tag):
    src = module(tag)
    r = release(tag)
    manifests = [src / f for f in r.manifest_files]
    assert all(m.is_file() for m in manifests), manifests  # the files it names exist in that release
    text = "\n".join(m.read_text() for m in manifests)
    images = set(re.findall(r"image: (quay\.io/metallb/(?:controller|speaker):\S+)", text))
    assert images == set(r.images.values())
    assert ("ValidatingWebhookConfiguration" in text) == r.has_webhook
    assert ("kind: ConfigMap" in text or "config" in text) and (("IPAddressPool" in text) == r.uses_crds)
    assert ("METALLB_ML_SECRET_NAME" in text) == (r.memberlist_secret_by == "controller")
    assert ("node-role.kubernetes.io/control-plane" in text) == r.speaker_on_control_plane
    service_go = (src / "controller" / "service.go").read_text()
    # v0.14.9+: AnnotationPrefix / DeprecatedAnnotationPrefix constants; before: literal "<prefix>/address-pool"
    prefix = re.search(r'\bAnnotationPrefix\s*=\s*"([^"]+)"', service_go) or \
        re.search(r'"([a-z.]+)/address-pool"', service_go)
    deprecated = re.search(r'DeprecatedAnnotationPrefix\s*=\s*"([^"]+)"', service_go)
    assert r.annotation_prefixes == ((prefix.group(1), deprecated.group(1)) if deprecated else (prefix.group(1),))
    assert ("ip-allocated-from-pool" in service_go) == (r.pool_annotation is not None)
    speaker = "\n".join(p.read_text() for p in (src / "speaker").glob("*.go") if not p.name.endswith("_test.go"))
    assert ("LabelNodeExcludeBalancers" in speaker or "exclude-from-external-load-balancers" in speaker
            or "IsNodeExcludedFromBalancers" in speaker) == r.honours_exclude_lb_label
    # ServiceL2Status on by default: the status reconciler runs unless a flag (default false) is needed
    k8s_go = (src / "internal" / "k8s" / "k8s.go").read_text()
    assert ("Layer2Status" in k8s_go and "enable-l2-service-status" not in speaker) == r.has_l2_status


# ---------------------------------------------------------------- nobody else compares versions

def _version_comparisons(path: Path) -> list[str]:
    """Comparisons of a parsed version with a version tuple, or of text with a version string literal."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        if not any(isinstance(o, (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)) for o in node.ops):
            continue
        parsed = any(isinstance(s, ast.Call) and getattr(s.func, "id", getattr(s.func, "attr", "")) == "parse_version"
                     for s in sides)
        triple = any(isinstance(s, ast.Tuple) and len(s.elts) == 3 and all(isinstance(e, ast.Constant) and
                     isinstance(e.value, int) for e in s.elts) for s in sides)
        literal = any(isinstance(s, ast.Constant) and isinstance(s.value, str) and
                      re.fullmatch(r"v?\d+\.\d+(\.\d+)?", s.value) for s in sides)
        if parsed or literal or (triple and any(isinstance(o, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for o in node.ops)):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_the_guard_finds_a_comparison(tmp_path):
    bad = ROOT / "tests" / f".tmp_guard_{os.getpid()}.py"
    bad.write_text("a = parse_version(v) >= (0, 14, 9)\nb = version == 'v0.12.1'\nc = x < (0, 13, 0)\n")
    try:
        assert len(_version_comparisons(bad)) == 3
    finally:
        bad.unlink()


def test_no_module_compares_versions_but_release():
    files = [p for d in ("kindlb_helpers", "lab/kindlb_lab") for p in (ROOT / d).rglob("*.py") if p.name != "release.py"]
    found = [c for p in files for c in _version_comparisons(p)]
    assert not found, f"ask kindlb_helpers._core.release.release(version) instead: {found}"
