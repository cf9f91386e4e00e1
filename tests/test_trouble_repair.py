"""Case 4's repair (notebook 08) when MetalLB's speakers, all started at once, announce nobody: the repair waits
for an announcement, and only when none comes does it touch the Service, and shows that step with why. No
cluster: the Kubernetes calls are recorded; the cluster tier runs the real repair (tests/cluster/test_learner_08.py).
"""
from __future__ import annotations

import types

import pytest

from kindlb_helpers._core import hood
from kindlb_helpers._lesson.trouble import staging


class _Core:
    def __init__(self):
        self.patched = []

    def patch_namespaced_service(self, name, namespace, body):
        self.patched.append((name, namespace, body))


@pytest.fixture
def repair(monkeypatch):
    """repair(announces_after_touch_only) -> (Done, the Service patches): case 4 repaired on a recorded cluster."""
    monkeypatch.setattr(staging, "ANNOUNCE_WITHIN", 0.4)
    monkeypatch.setattr(staging, "applies", lambda kind, n: True)
    monkeypatch.setattr(staging, "_patch_speakers", lambda kind, sel, why: hood.Step("kubectl patch daemonset", why))
    monkeypatch.setattr(staging, "wait_ready", lambda kind, **kw: hood.Done("ready", hood.Hood("ready", [])))
    monkeypatch.setattr(staging, "_cleanup", lambda kind, prefix: hood.Done("clean", hood.Hood("clean", [])))

    def run(announces_only_after_touch: bool):
        kind = types.SimpleNamespace(cluster="learner", core=_Core())
        monkeypatch.setattr(staging, "_has_event", lambda k, service, reason: (
            reason == "nodeAssigned" and (bool(kind.core.patched) or not announces_only_after_touch)))
        return staging.repair(kind, 4, "172.18.255.200-172.18.255.250", timeout=5), kind.core.patched
    return run


def test_speakers_that_announce_are_left_alone(repair):
    done, patched = repair(announces_only_after_touch=False)
    assert patched == []
    assert not any(staging.RECHECK in s.command for s in done.hood.steps)


def test_speakers_that_announce_nobody_get_the_service_touched_and_the_step_says_why(repair):
    done, patched = repair(announces_only_after_touch=True)
    (name, namespace, body), = patched
    assert (name, namespace) == ("ts-case4", "default") and staging.RECHECK in body["metadata"]["annotations"]
    step, = [s for s in done.hood.steps if staging.RECHECK in s.command]
    assert step.command.startswith("kubectl --context kind-learner annotate service ts-case4 ")
    assert "--overwrite" in step.command and "read the Nodes" in step.why
