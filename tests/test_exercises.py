"""The exercises without a cluster: solutions shown = solutions run, verdicts, and a learner's bad input
answered with a message that says what to fix."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

import kindlb_helpers as kh
from kindlb_helpers.lesson import exercises as ex
from kindlb_helpers.lesson import trouble

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = {1: ex.ExhaustPool, 2: ex.PinAddress, 3: ex.ReservedPool}


def test_the_collapsed_solution_is_the_code_the_solution_cell_runs():
    nb = nbformat.read(ROOT / "notebooks" / "07_exercises.ipynb", as_version=4)
    for n, cls in EXERCISES.items():
        code = cls.solution_code.strip()
        details = [c for c in nb.cells if c.cell_type == "markdown" and f"Solution {n}" in c.source]
        assert len(details) == 1 and details[0].source.startswith("<details>"), "collapsed by default"
        assert code in details[0].source
        runs = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("if solutions:")
                and code.splitlines()[0].strip() in c.source]
        assert len(runs) == 1
        body = "\n".join(line[4:] for line in runs[0].source.splitlines()[1:] if line.startswith("    "))
        assert body.strip() == code


def test_every_exercise_has_a_hint_a_check_and_a_solution():
    for n, cls in EXERCISES.items():
        assert cls.number == n and cls.hint_text and cls.solution_code.strip()
        assert callable(cls.check) and callable(cls.hint) and callable(cls.solution)


def test_verdicts_say_right_or_wrong_and_why():
    right, wrong = ex.Verdict(True, "ex-pinned got it"), ex._final("add the annotation")
    assert bool(right) and not bool(wrong) and getattr(wrong, "final", False)
    assert "Correct" in right._repr_html_() and "Not yet" in wrong._repr_html_()
    assert repr(wrong) == "Not yet: add the annotation"


@pytest.mark.parametrize("call, words", [
    (lambda: ex.lb_service(None, "Ex_Pinned"), "not a valid Service name"),
    (lambda: ex.lb_service(None, "ex-pinned", annotations="metallb.io/loadBalancerIPs=1.2.3.4"), "dict of text"),
    (lambda: ex.lb_service(None, "ex-pinned", load_balancer_ip="172.18.255.300"), "not one IP address"),
    (lambda: ex.add_pool(None, "Ex One", "172.18.255.1"), "pool name"),
    (lambda: ex.add_pool(None, "ex-one", "172.18.255.1", auto_assign="no"), "True or False"),
    (lambda: ex.add_pool(None, "ex-one", "172.18.255.300"), "cannot be read"),
    (lambda: trouble.cause(None, "no speakers", "172.18.255.1-172.18.255.9"), "unknown failure"),
])
def test_a_learners_bad_input_gets_a_message_not_a_traceback_from_deep_code(call, words):
    with pytest.raises(kh.KindlbError, match=words):
        call()


def test_a_check_turns_any_failure_into_a_verdict():
    class Broken(ex.Exercise):
        def __init__(self):
            pass

        def _check(self, answer):
            raise RuntimeError("the API server went away")

    class Missing(Broken):
        def _check(self, answer):
            raise kh.KindlbError("there is no Service 'ex-pinned' yet: create it with kh.exercises.lb_service")

    ex_settle, ex.SETTLE = ex.SETTLE, 0
    try:
        assert "could not read the cluster" in Broken().check().why
        assert Missing().check().why.startswith("there is no Service")
    finally:
        ex.SETTLE = ex_settle


def test_each_failure_has_a_phrase_the_diagnosis_uses():
    import inspect

    source = inspect.getsource(kh.metallb.diagnose)
    for phrase in trouble.CAUSES.values():
        assert phrase in source, phrase
