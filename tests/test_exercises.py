"""Notebooks 07 and 08 without a cluster: the answer-cell convention, what each release reads, a learner's bad
YAML answered in one line, MetalLB v0.12.1's ConfigMap rules, and solutions/wrong answers that are valid YAML of
the right shape. (The cluster tier applies them and proves every check says yes to the solution and no to the
wrong answer.)"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import yaml

import kindlb_helpers as kh
from kindlb_helpers._core.release import release
from kindlb_helpers._core.versions import NGINX_ONLINE_IMAGE
from kindlb_helpers._lesson import answers, trouble
from kindlb_helpers._lesson import exercises as ex
from kindlb_helpers._lesson.exercises import base, pools

pytestmark = pytest.mark.docker  # the docker tier: a Docker engine, Jupyter kernels or the wheel

ROOT = Path(__file__).resolve().parent.parent
NB07 = ROOT / "notebooks" / "07_exercises.ipynb"


def _tagged(nb, tag):
    return [c for c in nb.cells if tag in c.metadata.get("tags", [])]


def test_07_has_the_answer_cell_convention_for_six_exercises():
    nb = nbformat.read(NB07, as_version=4)
    assert _tagged(nb, "parameters") and _tagged(nb, "progress") and _tagged(nb, "cleanup")
    params = _tagged(nb, "parameters")[0].source
    assert "solutions" not in params and "wrong" not in params, "no parameter for the automated runs"
    for n in range(1, 7):
        answer = _tagged(nb, f"answer-{n}")
        assert len(answer) == 1, n
        assert f'answer{n} = """\n"""' in answer[0].source and f"kh.exercises.apply(k, answer{n})" in answer[0].source
        assert answer[0].source.strip().endswith(f"kh.exercises.apply(k, answer{n})"), "the apply result shows"
        for tag in ("task", "check", "hint", "solution"):
            assert len(_tagged(nb, f"{tag}-{n}")) == 1, (tag, n)
        assert not _tagged(nb, f"run-solution-{n}")
        order = [i for i, c in enumerate(nb.cells) for t in ("task", "answer", "kubectl", "check", "hint", "solution")
                 if f"{t}-{n}" in c.metadata.get("tags", [])]
        assert order == sorted(order), f"exercise {n}: task, answer, (kubectl), check, then hint and solution"
    for n in (1, 6):  # the exercises answered partly with kubectl: a cell of its own, so the apply result shows
        (cell,) = _tagged(nb, f"kubectl-{n}")
        assert f'command{n} = ""' in cell.source and f"kh.exercises.kubectl(k, command{n})" in cell.source
    # the recap gives no exercise's answer away
    recap = nb.cells[-1].source
    assert "AllocationFailed" not in recap and "address-pool=default" not in recap
    # the solutions are not in the notebook's text: they open from q.solution() (computed for this cluster)
    assert not any("loadBalancerIPs:" in c.source for c in nb.cells if c.cell_type == "markdown")


def test_hints_are_folded():  # 08's folded diagnosis and open evidence: tests/test_trouble.py
    folded = ex.Folded("Hint 1", "a nudge")._repr_html_()
    assert folded.startswith("<details><summary>") and " open" not in folded.split(">")[0]


@pytest.mark.parametrize("version, pool_keys, crds", [
    ("v0.16.1", ("metallb.io/address-pool", "metallb.universe.tf/address-pool"), True),
    ("v0.14.9", ("metallb.io/address-pool", "metallb.universe.tf/address-pool"), True),
    ("v0.14.8", ("metallb.universe.tf/address-pool",), True),
    ("v0.12.1", ("metallb.universe.tf/address-pool",), False),
])
def test_each_release_reads_its_own_prefixes(version, pool_keys, crds):
    era = release(version)
    assert base.annotation_keys(era, "address-pool") == pool_keys and era.uses_crds is crds

    class Svc:
        class metadata:
            annotations = {"metallb.io/allow-shared-ip": "k"}

    value, key = base.annotation(era, Svc, "allow-shared-ip")
    if "metallb.io/address-pool" in pool_keys:
        assert (value, key) == ("k", "metallb.io/allow-shared-ip") and base.unread(era, Svc, "allow-shared-ip") is None
    else:
        assert value is None and base.unread(era, Svc, "allow-shared-ip") == "metallb.io/allow-shared-ip"


@pytest.mark.parametrize("text, words", [
    ("", "the answer is empty"),
    ("   \n# just a comment\n", "only comments"),
    ("apiVersion: v1\nkind: Service\nmetadata:\n  name: ex-a\n spec: {}\n", "does not parse (line"),
    ("- a\n- b\n", "is not an object"),
    ("kind: Service\nmetadata:\n  name: ex-a\n", "has no apiVersion"),
    ("apiVersion: v1\nkind: Service\nmetadata: {}\n", "has no metadata.name"),
])
def test_a_learners_broken_yaml_gets_one_line(text, words):
    docs, why = answers.parse(text)
    assert docs == [] and words in why and "\n" not in why


class _NoCluster:
    cluster, context, kubeconfig = "nowhere", "kind-nowhere", None

    def __getattr__(self, name):
        raise AssertionError(f"the cluster must not be touched ({name})")


@pytest.mark.parametrize("text, words", [
    ("apiVersion: v1\nkind: Service\nmetadata:\n  name: nginx\n", "is not an exercise object"),
    ("apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: default\n  namespace: metallb-system\n",
     "is not an exercise object"),
])
def test_objects_of_other_notebooks_are_refused_before_kubectl(text, words):
    got = kh.exercises.apply(_NoCluster(), text)
    assert not got and words in got.message and repr(got).startswith("Not applied:")


@pytest.mark.parametrize("meta, where", [("", "no namespace, so it would land in default"),
                                         ("\n  namespace: default", "namespace default")])
def test_the_configmap_outside_metallb_system_is_named_as_such_not_as_another_notebooks(meta, where):
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config{meta}\ndata:\n  config: |\n    peers: []\n"
    got = kh.exercises.apply(_NoCluster(), text)
    assert not got and where in got.message and "not an exercise object" not in got.message
    assert got.hint == "add `namespace: metallb-system` under `metadata:`"


@pytest.mark.parametrize("command, words", [
    ("kubectl --context kind-other get svc", "leave out --context"),
    ("rm -rf /", "not one of the commands"),
    ("edit service ex-a", "opens an editor"),
    ("get 'svc", "does not parse"),
])
def test_kubectl_lines_that_would_leave_the_cluster_or_hang_are_refused(command, words):
    got = kh.exercises.kubectl(_NoCluster(), command)
    assert not got and words in got.message and repr(got).startswith("Failed:")


@pytest.mark.parametrize("stderr, line, hint", [
    ('Error from server (Forbidden): error when creating "STDIN": admission webhook "ipaddresspoolvalidationwebhook'
     '.metallb.io" denied the request: CIDR "172.18.255.1/32" overlaps with already defined CIDR "172.18.255.0/24"\n',
     'admission webhook "ipaddresspoolvalidationwebhook.metallb.io" denied the request: CIDR "172.18.255.1/32" '
     'overlaps with already defined CIDR "172.18.255.0/24"', "every pool needs addresses"),
    ('error: resource mapping not found for name: "ex-one" namespace: "metallb-system" from "STDIN": no matches for '
     'kind "IPAdressPool" in version "metallb.io/v1beta1"\nensure CRDs are installed first\n',
     'resource mapping not found for name: "ex-one" namespace: "metallb-system" from "STDIN": no matches for kind '
     '"IPAdressPool" in version "metallb.io/v1beta1"', "check `kind:`"),
    ('Error from server (BadRequest): error when creating "STDIN": IPAddressPool in version "v1beta1" cannot be '
     'handled as a IPAddressPool: strict decoding error: unknown field "spec.adresses"\n',
     'IPAddressPool in version "v1beta1" cannot be handled as a IPAddressPool: strict decoding error: unknown field '
     '"spec.adresses"', "misspelt"),
])
def test_kubectl_errors_become_one_line_and_a_hint(stderr, line, hint):
    assert answers.kubectl_error(stderr) == line
    assert hint in answers.hint_for(line)


DEFAULT = [{"name": "default", "protocol": "layer2", "addresses": ["172.18.255.1-172.18.255.250"]}]


def _cm(pools):
    return {"data": {"config": yaml.safe_dump({"address-pools": pools})}}


@pytest.mark.parametrize("pools, words", [
    (DEFAULT + [{"name": "ex-one", "protocol": "layer2", "addresses": ["172.18.255.251/32"]}], None),
    (DEFAULT + [{"name": "default", "protocol": "layer2", "addresses": ["172.18.255.251/32"]}],
     'duplicate definition of pool "default"'),
    (DEFAULT + [{"name": "ex-one", "protocol": "layer2", "addresses": ["172.18.255.7/32"]}],
     'overlaps with already defined CIDR "172.18.255.1-172.18.255.250"'),
    (DEFAULT + [{"name": "ex-one", "protocol": "layer-2", "addresses": ["172.18.255.251/32"]}],
     'unknown protocol "layer-2"'),
    (DEFAULT + [{"name": "ex-one", "protocol": "layer2", "addresses": ["172.18.255.300"]}], "invalid CIDR"),
    (DEFAULT + [{"name": "ex-one", "protocol": "layer2", "adresses": ["172.18.255.251/32"]}],
     "field adresses not found"),
    ([{"name": "ex-one", "protocol": "layer2", "addresses": ["172.18.255.251/32"]}], "pool default must stay"),
])
def test_the_configmap_era_config_is_checked_with_metallb_v0_12_1s_rules(pools, words):
    why = answers.configmap_problem(_cm(pools), DEFAULT)
    assert (why is None) if words is None else (words in why), why


def _fake(cls, version, monkeypatch):
    """An exercise for ``version`` with this made-up cluster's targets (no cluster)."""
    monkeypatch.setattr(pools, "configmap_pools", lambda kind: [dict(p) for p in DEFAULT])
    q = cls.__new__(cls)
    q.kind = _NoCluster()
    q.t = ex.Targets(one="172.18.254.1", reserved="172.18.254.2-172.18.254.5", l2="172.18.254.6",
                     spare="172.18.254.7", outside="172.18.254.8", pin="172.18.255.250", share="172.18.255.249", worker="kindlb-worker2",
                     image=NGINX_ONLINE_IMAGE, era=release(version))
    q.era, q.version, q.crds = q.t.era, version, q.t.era.uses_crds
    return q


ALL = [ex.ExhaustPool, ex.PinAddress, ex.ReservedPool, ex.ShareAddress, ex.NodeSelectors, ex.LocalPolicy,
       ex.BreakFix]


@pytest.mark.parametrize("version", ["v0.16.1", "v0.12.1"])
@pytest.mark.parametrize("cls", ALL)
def test_solutions_and_wrong_answers_are_valid_answers_of_this_era(cls, version, monkeypatch):
    era = release(version)
    if cls is ex.NodeSelectors and not era.uses_crds:
        pytest.skip("nodeSelectors on an L2Advertisement exist only with the CRDs")
    q = _fake(cls, version, monkeypatch)
    texts = [t for how, t in q.solution_steps() if how == "apply"] + [q.wrong_text()]
    for text in texts:
        docs, why = answers.parse(text)
        assert why is None, why
        for d in docs:
            assert answers._owned(d) is None, d
            if d["kind"] == "ConfigMap":
                assert not era.uses_crds and answers.configmap_problem(d, DEFAULT) is None
            else:
                assert d["kind"] not in ("IPAddressPool", "L2Advertisement") or era.uses_crds
            for key in (d["metadata"].get("annotations") or {}):
                if key.startswith(("metallb.io/", "metallb.universe.tf/")):
                    assert key.startswith(era.annotation_prefix + "/"), (key, version)
    assert q.wrong_says and q.hint_text and q.task()
    shown = q.solution()
    assert "ex-broken" not in shown.code or "annotate service ex-broken" in shown.code  # fixed in place
    assert shown.title == f"Solution {q.number}" and shown.code
    assert "kh." not in shown.code, "solutions are YAML and kubectl, not our helpers"


def test_exercise_one_records_the_reason_with_kubectl_after_reading_it(monkeypatch):
    q = _fake(ex.ExhaustPool, "v0.16.1", monkeypatch)
    steps = q.solution_steps()
    assert [h for h, _ in steps] == ["apply", "apply", "kubectl", "kubectl"]
    assert steps[-1][1].startswith("annotate service ex-second kindlb.example/reason=")
    assert "kindlb.example/reason" not in steps[0][1] + steps[1][1], "the reason is read, then recorded"


@pytest.mark.parametrize("selector, labels, yes", [
    ({"matchLabels": {"kubernetes.io/hostname": "w2"}}, {"kubernetes.io/hostname": "w2"}, True),
    ({"matchLabels": {"kubernetes.io/hostname": "w2"}}, {"kubernetes.io/hostname": "w1"}, False),
    ({"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["w1", "w2"]}]},
     {"kubernetes.io/hostname": "w1"}, True),
    ({"matchExpressions": [{"key": "x", "operator": "Exists"}]}, {}, False),
])
def test_node_selectors_are_matched_as_kubernetes_does(selector, labels, yes):
    assert base.matches(selector, labels) is yes


def test_verdicts_say_right_or_wrong_and_why():
    right, wrong = ex.Verdict(True, "ex-pinned got it"), base.final("add the annotation")
    assert bool(right) and not bool(wrong) and wrong.final
    assert "Correct" in right._repr_html_() and "Not yet" in wrong._repr_html_()
    assert repr(wrong) == "Not yet: add the annotation"


def test_a_check_turns_any_failure_into_a_verdict(monkeypatch):
    class Broken(ex.Exercise):
        # what the check's waits follow (never called with SETTLE 0)
        kind = SimpleNamespace(core=SimpleNamespace(list_namespaced_service=None, list_namespaced_event=None))

        def __init__(self):
            pass

        def _check(self):
            raise RuntimeError("the API server went away")

    class Missing(Broken):
        def _check(self):
            raise kh.KindlbError("there is no Service 'ex-pinned' yet")

    monkeypatch.setattr(base, "SETTLE", 0)
    assert "could not read the cluster" in Broken().check().why
    assert Missing().check().why.startswith("there is no Service")


def test_an_unknown_failure_is_named():
    with pytest.raises(kh.KindlbError, match="unknown failure"):
        trouble.service_of("no speakers")


# ---------------------------------------------------------------- kubectl through the one subprocess boundary

def _fake_kubectl(tmp_path, monkeypatch, body: str) -> None:
    """A kubectl on PATH (and nothing else) that records its arguments and then runs BODY (sh)."""
    script = tmp_path / "kubectl"
    script.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\n{body}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))


def test_a_missing_kubectl_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no kubectl at all
    for got in (kh.exercises.kubectl(_NoCluster(), "get services"),
                kh.exercises.apply(_NoCluster(), "apiVersion: v1\nkind: Service\nmetadata:\n  name: ex-a\n")):
        assert not got and "'kubectl' is not installed or not on PATH" in got.message, got
        assert "\n" not in got.message and "Traceback" not in repr(got)


def test_a_kubectl_that_hangs_is_one_line(monkeypatch, tmp_path):
    import shutil

    sleep = shutil.which("sleep")
    _fake_kubectl(tmp_path, monkeypatch, f"exec {sleep} 30")
    code, out, err = answers._run(_NoCluster(), "get", "services", timeout=0.5)
    assert code != 0 and out == "" and "did not finish within 0.5 s" in answers.kubectl_error(err)


def test_kubectls_own_error_is_the_learners_line(monkeypatch, tmp_path):
    _fake_kubectl(tmp_path, monkeypatch, 'echo \'Error from server (NotFound): services "ex-x" not found\' >&2; exit 1')
    got = kh.exercises.kubectl(_NoCluster(), "kubectl describe service ex-x")
    assert not got and got.message == 'services "ex-x" not found' and repr(got).startswith("Failed:")
    assert (tmp_path / "args").read_text().split() == ["--context", "kind-nowhere", "describe", "service", "ex-x"]


def test_kubectls_output_is_shown(monkeypatch, tmp_path):
    _fake_kubectl(tmp_path, monkeypatch, 'echo "NAME   TYPE"; echo "ex-a   LoadBalancer"')
    got = kh.exercises.kubectl(_NoCluster(), "get services")
    assert got and got.message == "2 lines" and "ex-a   LoadBalancer" in got.output
