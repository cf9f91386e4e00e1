"""The claims ledger (docs/claims.yaml, issue 25) is whole: every place a learner reads that names one of MetalLB's
event reasons, log messages or status kinds has a ledger entry for that place and that name; every entry says
what each era shows and how the cluster tier observes it (tests/cluster/test_claims.py observes them).

MetalLB's vocabulary (tests/metallb_vocabulary.json) is what its source at the two eras' tags writes: event
reasons (``Infof/Errorf(svc, "Reason", ...)``), log lines' ``"event"`` and ``"msg"`` values, and the status
kinds; the docker tier re-reads it from the source (never a skip: the tags come from the Go module proxy)."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LEDGER = yaml.safe_load((ROOT / "docs" / "claims.yaml").read_text(encoding="utf-8"))
VOCABULARY = json.loads((ROOT / "tests" / "metallb_vocabulary.json").read_text(encoding="utf-8"))
OBSERVERS_FILE = ROOT / "tests" / "cluster" / "test_claims.py"
ERAS = ("CRDs", "ConfigMap")
#: MetalLB's status kinds (objects it writes to report state), matched also in their plural, lower-case form
STATUS_KINDS = ("ServiceL2Status", "ServiceBGPStatus", "ConfigurationState")
#: a log message shorter than this is too common a phrase to mean MetalLB's line ("ok", "start")
MIN_MESSAGE = 12


# ---------------------------------------------------------------- finding what a text names

def named_in(text: str, vocabulary: dict = VOCABULARY) -> set[str]:
    """The reasons, log events or messages and status kinds of MetalLB that TEXT names.

    >>> sorted(named_in("no `nodeAssigned` event, no servicel2statuses; log: pools are empty"))
    ['ServiceL2Status', 'nodeAssigned', 'pools are empty']
    """
    found = {w for w in (*vocabulary["reasons"], *vocabulary["events"])
             if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)}
    found |= {m for m in vocabulary["messages"] if len(m) >= MIN_MESSAGE and m in text}
    found |= {k for k in STATUS_KINDS if re.search(rf"(?i)(?<!\w){k}(es)?(?!\w)", text)}
    return found


def notebook_places(root: Path = ROOT) -> dict[str, str]:
    """``notebook#cell-id`` -> the markdown a learner reads there."""
    places = {}
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "markdown":
                places[f"{path.stem}#{cell.get('id')}"] = "".join(cell["source"])
    return places


def _docstrings(tree: ast.AST) -> set[int]:
    return {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}


def library_places(root: Path = ROOT) -> dict[str, str]:
    """Module path -> the texts it shows: its string literals (and f-strings' literal parts) that are sentences
    (they hold a space), not docstrings; a bare ``"nodeAssigned"`` is code reading events, not a claim."""
    places = {}
    for path in sorted((root / "kindlb_helpers").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs, texts = _docstrings(tree), []
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                texts.append(" ".join(v.value for v in node.values if isinstance(v, ast.Constant)))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                texts.append(node.value)
        shown = "\n".join(t for t in texts if " " in t.strip())
        if shown:
            places[str(path.relative_to(root))] = shown
    return places


def uncovered(places: dict[str, str], ledger: list[dict]) -> list[str]:
    """``place: name`` for every MetalLB name a place's text names that no ledger entry covers there."""
    covered = {(w, n) for e in ledger for w in e.get("where", []) for n in e.get("names", [])}
    return [f"{place}: {name}" for place, text in places.items() for name in sorted(named_in(text))
            if (place, name) not in covered]


def observers(path: Path = OBSERVERS_FILE) -> set[str]:
    """The observation names tests/cluster/test_claims.py fills (``obs["name"] = ...``)."""
    return set(re.findall(r'obs\["([a-z0-9_.]+)"\]\s*=', path.read_text(encoding="utf-8")))


# ---------------------------------------------------------------- the tests

def test_every_entry_says_what_each_era_shows_and_how_it_is_observed():
    ids = [e["id"] for e in LEDGER]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    assert len(LEDGER) >= 35
    for e in LEDGER:
        assert e.get("says") and e.get("where") and e.get("how", e.get("observed_by")), e["id"]
        assert set(e["expect"]) == set(ERAS) and all(str(v).strip() for v in e["expect"].values()), e["id"]
        assert ("observe" in e) != ("observed_by" in e), f"{e['id']}: observe (here) or observed_by (another test)"


def test_every_observation_is_made_and_every_made_one_is_in_the_ledger():
    made, wanted = observers(), {e["observe"] for e in LEDGER if "observe" in e}
    assert wanted <= made, f"test_claims.py observes none of: {sorted(wanted - made)}"
    assert made <= wanted, f"test_claims.py observes what no entry claims: {sorted(made - wanted)}"


def test_observed_by_names_a_cluster_test_that_exists():
    for e in LEDGER:
        if "observed_by" in e:
            path, _, name = e["observed_by"].partition("::")
            source = (ROOT / path).read_text(encoding="utf-8")
            assert path.startswith("tests/cluster/") and re.search(rf"^def {re.escape(name)}\(", source, re.M), e["id"]


def test_every_place_exists():
    notebooks, modules = notebook_places(), {str(p.relative_to(ROOT)) for p in (ROOT / "kindlb_helpers").rglob("*.py")}
    for e in LEDGER:
        for where in e["where"]:
            assert where in notebooks or where in modules, f"{e['id']}: no markdown cell or module {where}"


def test_no_sentence_names_a_reason_log_line_or_status_the_ledger_does_not_cover():
    missing = uncovered({**notebook_places(), **library_places()}, LEDGER)
    assert not missing, ("these places name MetalLB events, log lines or status kinds that no entry of "
                         "docs/claims.yaml covers (add the place to an entry's where and the name to its names, or a "
                         "new entry the cluster tier observes):\n" + "\n".join(missing))


def test_the_guard_finds_an_uncovered_name():
    ledger = [{"id": "x", "where": ["nb#a"], "names": ["nodeAssigned"]}]
    places = {"nb#a": "a `nodeAssigned` event names the node", "nb#b": "it stays pending with `AllocationFailed`",
              "nb#c": "the controller logs configuration is missing, MetalLB will not function",
              "nb#d": "look at the ServiceL2Statuses", "nb#e": "nothing of MetalLB's here: pending, an address"}
    assert uncovered(places, ledger) == ["nb#b: AllocationFailed",
                                         "nb#c: configuration is missing, MetalLB will not function",
                                         "nb#d: ServiceL2Status"]


# ---------------------------------------------------------------- the vocabulary, from MetalLB's source

def vocabulary_from(sources: dict[str, Path]) -> dict:
    """Event reasons, log events and log messages MetalLB's controller and speaker write, at each tag."""
    reasons, events, messages = set(), set(), set()
    for root in sources.values():
        for path in [*root.glob("controller/*.go"), *root.glob("speaker/*.go"), *root.glob("internal/**/*.go")]:
            if path.name.endswith("_test.go"):
                continue
            text = path.read_text(encoding="utf-8")
            reasons |= set(re.findall(r'\.(?:Infof|Errorf)\(\w+, "([A-Za-z ]+)"', text))
            events |= set(re.findall(r'"event", "([^"]+)"', text))
            messages |= set(re.findall(r'"msg", "([^"]+)"', text))
    return {"tags": sorted(sources), "reasons": sorted(reasons), "events": sorted(events - reasons),
            "messages": sorted(messages)}


@pytest.mark.docker  # reads MetalLB's source at the eras' tags (downloaded on a fresh machine)
def test_the_vocabulary_is_metallbs_own():
    from _metallb_source import modules

    got = vocabulary_from(modules(VOCABULARY["tags"]))
    assert got == VOCABULARY, "tests/metallb_vocabulary.json differs from MetalLB's source: regenerate it with " \
                              "tests.test_claims_ledger.vocabulary_from"
    assert {"IPAllocated", "AllocationFailed", "nodeAssigned", "deprecatedAnnotation"} <= set(got["reasons"])
