"""Notebook 08's helpers (lesson/trouble/) and notebook 08 itself, without a cluster: the names 08 uses are
re-exported, a wrong case is bad input, the waits end as the notebook says, and 08 makes the learner diagnose
(neutral headings and Services, a first cell that says only that something changed, evidence before the question,
the diagnosis and the explanation folded after it). The cluster tier runs the cases: tests/cluster/test_learner_08.py.
"""
from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import time
from pathlib import Path

import nbformat
import pytest

import kindlb_helpers as kh
from kindlb_helpers._core import hood
from kindlb_helpers._core.errors import BadInput, WaitTimeout
from kindlb_helpers._lesson import trouble
from kindlb_helpers._lesson.trouble import clues, diagnosis, failures, staging

PACKAGE = Path(trouble.__file__).parent
ROOT = Path(__file__).resolve().parent.parent
NB08 = ROOT / "notebooks" / "08_troubleshooting.ipynb"


def _tagged(nb, tag):
    return [i for i, c in enumerate(nb.cells) if tag in c.metadata.get("tags", [])]


def test_every_public_name_is_re_exported_from_where_it_lives():
    homes = {"evidence": clues, "Evidence": clues, "ping_and_tcp": clues, "diagnose": diagnosis,
             "Diagnosis": diagnosis, "Finding": diagnosis, "cause": staging, "Case": staging,
             "repair": staging, "cleanup": staging, "FAILURES": failures, "CASES": failures, "service_of": failures,
             "applies": failures, "not_here": failures, "default_pool": failures}
    for name, home in homes.items():
        assert getattr(trouble, name) is getattr(home, name), name
        if name in kh.trouble.__all__:  # the public topic: what notebook 08 uses
            assert getattr(kh.trouble, name) is getattr(home, name), name
    assert {"cause", "evidence", "diagnose", "repair", "cleanup", "default_pool"} <= set(kh.trouble.__all__)
    assert set(homes) <= set(trouble.__all__) and all(hasattr(trouble, n) for n in trouble.__all__)
    assert not hasattr(trouble, "observe"), "raw facts for the tests are the tests' own, not the library's"


def test_the_init_only_re_exports_and_each_submodule_has_one_job():
    init = ast.parse((PACKAGE / "__init__.py").read_text())
    assert all(isinstance(n, (ast.ImportFrom, ast.Assign)) or
               (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in init.body)
    for path in PACKAGE.glob("*.py"):
        text = path.read_text()
        doc = ast.get_docstring(ast.parse(text))
        assert doc and doc.splitlines()[0].endswith("."), f"{path.name}: its job in the docstring's first line"
        assert "from . import" not in text and "from .. import trouble" not in text, path.name


def test_cases_are_numbered_and_their_services_name_no_cause():
    assert [trouble.service_of(n) for n in range(1, 9)] == [f"ts-case{n}" for n in range(1, 9)]
    assert trouble.service_of("pool exhausted") == "ts-case3" and failures.case_number("ping vs TCP") == 8
    for wrong in (0, 9, "no speakers"):
        with pytest.raises(BadInput, match="case number 1 to 8|there is no case"):
            trouble.service_of(wrong)


def _case(n: int = 1) -> staging.Case:
    import datetime as dt

    steps = [hood.Step(hood.kubectl("kindlb", "delete", "ipaddresspool", "default", namespace="metallb-system"),
                       "the pool goes")]
    return staging.Case(n, f"ts-case{n}", dt.datetime.now(dt.timezone.utc), hood.Hood(f"case {n}", steps))


def test_a_case_says_only_that_something_changed_and_keeps_how_folded():
    case = _case()
    text, page = repr(case), case._repr_html_()
    assert "something changed" in text and "kubectl" not in text and "delete" not in text
    visible = re.sub(r"<details.*?</details>", "", page, flags=re.S)
    assert "something changed" in visible and "kubectl" not in visible and "ipaddresspool" not in visible
    folded = re.search(r"<details[^>]*>", page).group(0)
    assert " open" not in folded and "kubectl --context kind-kindlb -n metallb-system delete ipaddresspool" in page
    skipped = staging.Case(2, "ts-case2", case.since, None, "case 2 needs ...: nothing was changed")
    assert "nothing was changed" in repr(skipped) and "something changed" not in repr(skipped)


def test_one_diagnosis_which_the_waits_and_08_ask():
    """The reasoning on why a Service has no working address is one function (``_lesson.no_ip.findings``): the wait
    for an address and ``service_state`` say its sentences (``no_ip.reasons``), 08 shows its findings folded. 08's
    module only wraps it: it reads nothing of the cluster itself, and the cluster layer says no such sentence."""
    from kindlb_helpers._lesson import app, no_ip

    assert diagnosis.findings is no_ip.findings and diagnosis.Finding is no_ip.Finding
    assert app.reasons is no_ip.reasons
    assert failures.HEALTHY is no_ip.HEALTHY and failures.ip_of is no_ip.ip_of
    for name, mod in (("wait_external_ip", app), ("service_state", app)):
        assert "reasons(kind, name, namespace)" in inspect.getsource(getattr(mod, name)), name
    wrapped = ast.parse(Path(diagnosis.__file__).read_text())
    names = {a.name for n in ast.walk(wrapped) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert not names & {"events_for", "get_or_none", "readiness", "pool_config", "l2_advertisements"}, names
    cluster = Path(no_ip.__file__).parents[1] / "_cluster"
    for path in cluster.rglob("*.py"):
        text = path.read_text()
        assert "no address pool" not in text and "no ready endpoint" not in text, path.name
        assert "def not_announced_why" not in text and "def reasons_no_ip" not in text, path.name


def test_the_diagnosis_is_folded_and_shows_what_was_done():
    d = trouble.Diagnosis("ts-case1", [trouble.Finding("no pool", "no IPAddressPool")], _case().hood)
    page = d._repr_html_()
    assert page.startswith("<details><summary>") and d.first == "no pool"
    assert "What was done" in page and "delete ipaddresspool default" in page
    assert "delete ipaddresspool default" in repr(d)


def test_evidence_is_a_transcript_of_commands_shown_open():
    ev = trouble.Evidence("ts-case1", [("kubectl --context kind-kindlb describe service ts-case1", "Name: ts-case1"),
                                       ("kubectl --context kind-kindlb get nodes --show-labels", "NAME LABELS")])
    assert repr(ev).startswith("$ kubectl describe service ts-case1\nName: ts-case1")
    assert ev.output("kubectl get nodes --show-labels") == "NAME LABELS"
    assert "<details open>" in ev._repr_html_()
    # a command of two lines (start the probe box, then run in it): a prompt before each, as a terminal shows it,
    # so that a reader of the transcript finds the command's output under its last line, not in its second line
    box = trouble.Evidence("ts-case8", [("docker start box\ndocker exec box sh -c 'ping -c 3 x'", "ping exit 1")])
    assert repr(box) == "$ docker start box\n$ docker exec box sh -c 'ping -c 3 x'\nping exit 1"
    assert "$ docker start box<br>$ docker exec box" in box._repr_html_()


def test_settle_waits_with_the_one_wait_loop():
    seen = []
    assert staging._settle(lambda: seen.append(1) or len(seen) >= 3, "three looks", timeout=5)
    assert len(seen) == 3
    start = time.monotonic()
    assert staging._settle(lambda: False, "never", timeout=0.3, required=False) is False
    with pytest.raises(WaitTimeout, match=r"^never after 0 s: run the cell again$"):
        staging._settle(lambda: False, "never", timeout=0.3)
    assert time.monotonic() - start < 3


def test_settle_stops_at_once_on_a_final_error():
    def refused():
        raise BadInput("no such thing")

    start = time.monotonic()
    with pytest.raises(BadInput):
        staging._settle(refused, "a refusal", timeout=30)
    assert time.monotonic() - start < 2


# ---------------------------------------------------------------- notebook 08 makes the learner diagnose

def test_08_headings_intro_and_code_cells_do_not_name_the_cause():
    nb = nbformat.read(NB08, as_version=4)
    headings = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## ")]
    assert headings[:8] == [f"## Case {n}" for n in range(1, 9)], headings
    causes = [k for k in trouble.FAILURES] + [t for _, t in trouble.FAILURES.values()]
    giveaways = causes + ["exclude-from-external", "selector", "exhausted", "L2Advertisement", "ping",
                          "IPAddressPool", "delete", "label node"]
    first_case = _tagged(nb, "cause-1")[0]
    intro = " ".join(c.source for c in nb.cells[:first_case] if c.cell_type == "markdown")
    for word in giveaways:
        assert word.lower() not in intro.lower(), f"the intro names {word!r}"
    for c in nb.cells:
        if c.cell_type == "code":
            for word in causes:
                assert word not in c.source, f"a code cell names the cause {word!r}: {c.source}"


def test_08_each_case_evidence_then_question_then_folded_diagnosis_and_explanation():
    nb = nbformat.read(NB08, as_version=4)
    for n in range(1, 9):
        idx = {t: _tagged(nb, f"{t}-{n}") for t in ("cause", "evidence", "guess", "diagnosis", "repair")}
        assert all(len(v) == 1 for v in idx.values()), (n, idx)
        i = {t: v[0] for t, v in idx.items()}
        assert i["cause"] < i["evidence"] < i["guess"] < i["diagnosis"] < i["repair"], n
        assert nb.cells[i["cause"] - 1].source.strip() == f"## Case {n}"
        assert "What do you think is wrong?" in nb.cells[i["guess"] - 1].source
        assert f"kh.trouble.cause(k, {n})" in nb.cells[i["cause"]].source
        between = [c for c in nb.cells[i["diagnosis"] + 1:i["repair"]] if c.cell_type == "markdown"]
        assert between and all(c.source.startswith("<details>") for c in between), n  # the explanation folded
    assert "probe_image" in nb.cells[_tagged(nb, "parameters")[0]].source


def test_08_holds_the_lesson_only():
    nb = nbformat.read(NB08, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "result =" not in code and "seen[" not in code and "observe(" not in code
    assert not re.search(r"#.*\b(test|automated|CI)\b", code), "a comment that speaks of tests"


def test_08_recap_makes_no_allocationfailed_claim_for_a_missing_pool():
    nb = nbformat.read(NB08, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "AllocationFailed` event" not in text.split("Case 3")[0]
    assert "describe service ts-case1 " not in text  # the recap's describe line is the full pool's


# ---------------------------------------------------------------- the learner-path test's own reading can say no

def _learner_test():
    spec = importlib.util.spec_from_file_location("learner_08", ROOT / "tests" / "cluster" / "test_learner_08.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _kubectl_table(*rows: tuple[str, ...]) -> str:
    """Rows laid out as kubectl prints them: each column as wide as its widest cell, then three spaces."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


EX = "node.kubernetes.io/exclude-from-external-load-balancers="
POD_HEAD = ("NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES")
PODS = [POD_HEAD,
        ("controller-1", "1/1", "Running", "1 (5m ago)", "1h", "10.244.1.2", "kl-worker", "<none>", "<none>"),
        ("speaker-a", "1/1", "Running", "0", "1h", "172.18.0.2", "kl-control-plane", "<none>", "<none>"),
        ("speaker-b", "1/1", "Running", "0", "1h", "172.18.0.3", "kl-worker", "<none>", "<none>"),
        ("speaker-c", "1/1", "Running", "0", "1h", "172.18.0.4", "kl-worker2", "<none>", "<none>")]
APP = _kubectl_table(POD_HEAD, ("nginx-1", "1/1", "Running", "0", "1h", "10.244.1.5", "kl-worker", "<none>",
                                "<none>"))
DESCRIBE = ("Name:                     ts-case7\nSelector:                 app=nginx\n"
            "LoadBalancer Ingress:     172.18.255.1 (VIP)\nExternal Traffic Policy:  Cluster\nEvents:\n"
            "  Type    Reason       Age  From                Message\n"
            "  ----    ------       ---- ----                -------\n"
            "  Normal  IPAllocated  5s   metallb-controller  Assigned IP [\"172.18.255.1\"]\n")


def _sections(w1=EX, w2=EX, pools=None, l2ads=None, describe=DESCRIBE, pods=PODS):
    nodes = _kubectl_table(("NAME", "STATUS", "ROLES", "AGE", "VERSION", "LABELS"),
                           ("kl-control-plane", "Ready", "control-plane", "1h", "v1.34",
                            "kubernetes.io/hostname=kl-control-plane,node-role.kubernetes.io/control-plane=," + EX),
                           ("kl-worker", "Ready", "<none>", "1h", "v1.34",
                            "kubernetes.io/hostname=kl-worker" + ("," + w1 if w1 else "")),
                           ("kl-worker2", "Ready", "<none>", "1h", "v1.34",
                            "kubernetes.io/hostname=kl-worker2" + ("," + w2 if w2 else "")))
    pools = pools or _kubectl_table(("NAME", "AUTO ASSIGN", "AVOID BUGGY IPS", "ADDRESSES"),
                                    ("default", "true", "false", '["172.18.255.1-172.18.255.9"]'))
    l2ads = l2ads or _kubectl_table(("NAME", "IPADDRESSPOOLS"), ("default", '["default"]'))
    return {"kubectl describe service ts-case7": describe, "kubectl get pods -l app=nginx -o wide": APP,
            "kubectl -n metallb-system get pods -o wide": _kubectl_table(*pods),
            "kubectl -n metallb-system get ipaddresspools": pools,
            "kubectl -n metallb-system get l2advertisements": l2ads, "kubectl get nodes --show-labels": nodes}


def test_the_learner_tests_reading_names_each_cause_and_says_no_to_near_misses():
    t = _learner_test()
    assert t.cause_from(_sections(), "v0.16.1") == "excluded nodes"
    # near misses: one worker without the label, or the label not honoured by the era, is not "excluded nodes"
    assert t.cause_from(_sections(w2=""), "v0.16.1") != "excluded nodes"
    assert t.cause_from(_sections(), "v0.12.1") != "excluded nodes"
    assert t.cause_from(_sections(pools="No resources found in metallb-system namespace."), "v0.16.1") == "no pool"
    assert t.cause_from(_sections(l2ads="No resources found in metallb-system namespace."), "v0.16.1") == \
        "no L2Advertisement"
    assert t.cause_from(_sections(pods=PODS[:2]), "v0.16.1") == "speakers not ready"
    pending = DESCRIBE.replace("LoadBalancer Ingress:     172.18.255.1 (VIP)\n", "")
    full = pending.replace("Normal  IPAllocated  5s   metallb-controller  Assigned IP [\"172.18.255.1\"]",
                           "Warning  AllocationFailed  5s  metallb-controller  Failed to allocate IP for "
                           "\"default/ts-case3\": no available IPs in pool \"ts-case3-pool\"")
    assert t.cause_from(_sections(describe=full), "v0.16.1") == "pool exhausted"
    assert t.cause_from(_sections(describe=pending), "v0.16.1") != "pool exhausted"  # no event: not "exhausted"
