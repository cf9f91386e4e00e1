"""JupyterLab on the lab cluster: 07's exercise 2, answered in its answer cell, wrong and then right.

The cluster is set up as notebooks 02-04 leave it (MetalLB of the pinned release, a pool ``default``, nginx);
a learner opens 07, sets ``cluster``, runs the cells down to exercise 2, types an answer between the triple
quotes of the answer cell (YAML or a one-line JSON document: 07's answer-cell convention), runs
it and the check, and reads the verdict. The hint and the solution are closed <details> that open on a click.
"""
from __future__ import annotations

import json

import pytest
from _lesson_setup import as_02_to_04_leave_it

import kindlb_helpers as kh

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def prepared(cluster):
    """MetalLB (the pinned release) with a pool ``default`` and nginx, as notebooks 02-04 leave the cluster."""
    k = as_02_to_04_leave_it(cluster, kh.metallb.DEFAULT_VERSION)["k"]
    kh.exercises.cleanup(k)
    try:
        yield {"name": cluster["name"], "k": k}
    finally:
        kh.exercises.cleanup(k)


def _service(name: str, annotations: dict, kind: str = "Service") -> str:
    """A LoadBalancer Service in front of nginx as one line of JSON (a YAML flow document: no auto-indent)."""
    return json.dumps({"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "annotations": annotations},
                       "spec": {"type": "LoadBalancer", "selector": {"app": "nginx"}, "ports": [{"port": 80}]}},
                      separators=(",", ":"))


def _answer(lab, i, text):
    """Type TEXT on a new line after the opening triple quotes of answer cell I, as a learner does."""
    editor = lab.cell(i).locator(".cm-content").first
    editor.scroll_into_view_if_needed()
    editor.click()
    lab.page.keyboard.press("Control+Home")
    lab.page.keyboard.press("End")
    lab.page.keyboard.press("Enter")
    lab.page.keyboard.type(text)
    lab.page.keyboard.press("Escape")


def _clear_answer(lab, i, variable):
    lab.replace_source(i, f'{variable} = """\n"""\nkh.exercises.apply(k, {variable})')


def _has_answer_cells() -> bool:
    import nbformat

    from kindlb_helpers._tools.runner import notebooks_dir

    nb = nbformat.read(notebooks_dir() / "07_exercises.ipynb", as_version=4)
    return any("answer-2" in c.metadata.get("tags", []) for c in nb.cells)


@pytest.mark.skipif(not _has_answer_cells(), reason="07 has no cell tagged answer-2 (the answer-cell "
                    "convention): this test drives that convention")
def test_07_answer_cell_wrong_then_right(lab, prepared):
    # what the task will show this learner: the same cluster, read now (not an earlier test's reading of it in
    # this process: the cluster tier before it may have left other Services on pool default's top addresses)
    kh.exercises.targets(prepared["k"], fresh=True)
    q2 = kh.exercises.PinAddress(prepared["k"])
    address, prefix = q2.address, q2.prefix
    lab.open("07_exercises.ipynb")
    params = lab.find('cluster = "kindlb"')
    lab.type_at_end(params, f'\ncluster = "{prepared["name"]}"\n')
    task, answer, check = lab.find("q2 = kh.exercises.PinAddress(k)"), lab.find('answer2 = """'), lab.find("q2.check()")
    hint, solution = lab.find("q2.hint()"), lab.find("q2.solution()")
    for i in [params, *range(params + 1, lab.find("kh.exercises.progress(k)") + 1), task]:
        if lab.sources()[i].strip() and lab.cell(i).locator(".jp-InputPrompt").count():
            lab.run_cell(i, timeout=180)
    failed = lab.errors()
    lab.expect(not failed, failed[0][0] if failed else params, "no error output in the cells before exercise 2",
               failed[0][1] if failed else "")
    shown = lab.output_text(task)
    lab.expect(address in shown and "ex-pinned" in shown, task, f"the task naming ex-pinned and {address}", shown)
    lab.shot("07-task-2", lab.cell(task))

    # a wrong answer: a typo in the kind -> refused by the API server in one line, nothing applied
    _answer(lab, answer, _service("ex-pinned", {f"{prefix}/loadBalancerIPs": address}, kind="Servce"))
    lab.run_cell(answer, timeout=120)
    said = lab.output_text(answer).strip()
    lab.expect(said.startswith("Not applied:") and "Servce" in said, answer,
               "'Not applied: ...' naming the unknown kind Servce", said)
    lab.run_cell(check, timeout=120)
    verdict = lab.output_text(check).strip()
    lab.expect(verdict.startswith("Not yet"), check, "the check's verdict 'Not yet' (no ex-pinned exists)", verdict)
    lab.shot("07-wrong", lab.cell(check))

    # a valid Service that asks for an address outside every pool: applied, and still 'Not yet'
    _clear_answer(lab, answer, "answer2")
    _answer(lab, answer, _service("ex-pinned", {f"{prefix}/loadBalancerIPs": q2.t.outside}))
    lab.run_cell(answer, timeout=120)
    said = lab.output_text(answer).strip()
    lab.expect(said.startswith("Applied:"), answer, "'Applied: ...' for a well-formed Service", said)
    lab.run_cell(check, timeout=120)
    verdict = lab.output_text(check).strip()
    lab.expect(verdict.startswith("Not yet"), check,
               f"the check's verdict 'Not yet' for ex-pinned asking {q2.t.outside} instead of {address}", verdict)

    # the right answer, typed over it -> 'Correct'
    _clear_answer(lab, answer, "answer2")
    _answer(lab, answer, _service("ex-pinned", {f"{prefix}/loadBalancerIPs": address}))
    lab.run_cell(answer, timeout=120)
    said = lab.output_text(answer).strip()
    lab.expect(said.startswith("Applied:"), answer, "'Applied: ...' for the pinned Service", said)
    lab.run_cell(check, timeout=120)
    verdict = lab.output_text(check).strip()
    lab.expect(verdict.startswith("Correct"), check, f"the check's verdict 'Correct' (ex-pinned got {address})",
               verdict)
    lab.shot("07-right", lab.cell(check))

    # the hint and the solution: closed blocks that open on a click and close again
    for i, label in ((hint, "Hint 2"), (solution, "Solution 2")):
        lab.run_cell(i, timeout=60)
        block = lab.cell(i).locator(".jp-OutputArea details").first
        lab.expect(block.count() == 1 and not block.evaluate("d => d.open"), i, f"a closed <details> '{label}'")
        block.locator("summary").first.click()
        body = block.inner_text()
        lab.expect(block.evaluate("d => d.open") and len(body) > len(label) + 20, i,
                   f"'{label}' open after a click, with its text", body)
        lab.shot(f"07-{label}-open", lab.cell(i))
        block.locator("summary").first.click()
        lab.expect(not block.evaluate("d => d.open"), i, f"'{label}' closed after a second click")


def _lines(*objs: dict) -> str:
    """Objects as one-line JSON documents separated by ``---`` lines (YAML flow: typed with no auto-indent)."""
    return "\n---\n".join(json.dumps(o, separators=(",", ":")) for o in objs)


def _exercise_5(pool: str, worker: str | None, prefix: str) -> str:
    """Exercise 5 as a learner writes it: the pool, its L2Advertisement (nodeSelectors when ``worker``), the Service."""
    ad = {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
          "metadata": {"name": "ex-l2", "namespace": "metallb-system"}, "spec": {"ipAddressPools": ["ex-l2"]}}
    if worker:
        ad["spec"]["nodeSelectors"] = [{"matchLabels": {"kubernetes.io/hostname": worker}}]
    return _lines({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                   "metadata": {"name": "ex-l2", "namespace": "metallb-system"},
                   "spec": {"addresses": [f"{pool}/32"], "autoAssign": False}}, ad,
                  json.loads(_service("ex-node", {f"{prefix}/address-pool": "ex-l2"})))


def test_07_exercise_5_wrong_then_right_without_cleanup(lab, prepared):
    """The exercise whose check read the event history: a learner goes straight to exercise 5, applies an
    L2Advertisement without nodeSelectors (every node may announce), reads 'Not yet', adds the nodeSelectors in the
    same answer cell and gets 'Correct' at once: nothing deleted in between."""
    q5 = kh.exercises.NodeSelectors(prepared["k"])
    lab.open("07_exercises.ipynb")
    params = lab.find('cluster = "kindlb"')
    lab.type_at_end(params, f'\ncluster = "{prepared["name"]}"\n')
    task, answer, check = lab.find("q5 = "), lab.find('answer5 = """'), lab.find("q5.check()")
    for i in (params, lab.find("import kindlb_helpers as kh"), lab.find("k = kh.cluster.connect"), task):
        lab.run_cell(i, timeout=180)
    shown = lab.output_text(task)
    lab.expect(q5.t.worker in shown and "ex-l2" in shown, task, f"the task naming ex-l2 and {q5.t.worker}", shown)

    _answer(lab, answer, _exercise_5(q5.t.l2, None, q5.prefix))
    lab.run_cell(answer, timeout=120)
    said = lab.output_text(answer).strip()
    lab.expect(said.startswith("Applied:"), answer, "'Applied: ...' for the pool, the L2Advertisement and ex-node", said)
    lab.run_cell(check, timeout=120)
    verdict = lab.output_text(check).strip()
    lab.expect(verdict.startswith("Not yet") and "no nodeSelectors" in verdict, check,
               "'Not yet' naming the missing nodeSelectors", verdict)
    lab.shot("07-ex5-wrong", lab.cell(check))

    _clear_answer(lab, answer, "answer5")
    _answer(lab, answer, _exercise_5(q5.t.l2, q5.t.worker, q5.prefix))
    lab.run_cell(answer, timeout=120)
    said = lab.output_text(answer).strip()
    lab.expect(said.startswith("Applied:") and "configured" in said, answer,
               "'Applied: ...' with the L2Advertisement configured in place", said)
    lab.run_cell(check, timeout=120)
    verdict = lab.output_text(check).strip()
    lab.expect(verdict.startswith("Correct") and q5.t.worker in verdict, check,
               f"'Correct' at once: announced now from {q5.t.worker} only", verdict)
    lab.shot("07-ex5-right", lab.cell(check))
