"""A stuck image ends a pod wait within seconds (issue 26 item 3, issue 29 item 2): the guard's timing and the
fix it names, on pod objects as the Kubernetes client returns them (the cluster tier proves it on a real cluster:
tests/cluster/test_image_stuck.py)."""
from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from kindlb_helpers._cluster import sources, stuck
from kindlb_helpers._cluster.waits import wait_until
from kindlb_helpers._core.errors import WaitTimeout, is_transient


def pod(name, reason=None, image="nginx:1.27", node="kindlb-worker", message="", restarts=0, init=False,
        deleting=False):
    state = NS(waiting=NS(reason=reason, message=message) if reason else None)
    cs = NS(name="c", image=image, state=state, restart_count=restarts)
    status = NS(container_statuses=[] if init else [cs], init_container_statuses=[cs] if init else None)
    return NS(metadata=NS(name=name, namespace="default", deletion_timestamp="now" if deleting else None),
              spec=NS(node_name=node), status=status)


class FakeKind:
    cluster = "kindlb"

    def __init__(self):
        self.pods, self.lists = [], 0
        self.core = NS(list_namespaced_pod=self._list)

    def _list(self, namespace, label_selector=None):
        self.lists += 1
        return NS(items=list(self.pods))


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture(autouse=True)
def nothing_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("KINDLB_BUNDLE_CACHE", str(tmp_path / "bundles"))
    monkeypatch.delenv(sources.LAB_SOURCE_ENV, raising=False)
    monkeypatch.setattr(sources, "_lab_plugin", lambda: None)
    monkeypatch.setattr(stuck, "_in_docker", lambda image: False)


def test_only_the_reasons_waiting_cannot_fix():
    pods = [pod("a", "ContainerCreating"), pod("b", "ImagePullBackOff"), pod("c"), pod("d", "CrashLoopBackOff"),
            pod("e", "ErrImageNeverPull", init=True), pod("f", "ImagePullBackOff", deleting=True)]
    assert [(s.pod, s.reason) for s in stuck.stuck_in(pods)] == [("b", "ImagePullBackOff"), ("d", "CrashLoopBackOff"),
                                                                 ("e", "ErrImageNeverPull")]


def test_backoff_stops_at_once_naming_image_node_and_fix():
    kind, clock = FakeKind(), Clock()
    kind.pods = [pod("nginx-1", "ImagePullBackOff", image="nginx:9.99", node="kindlb-worker2",
                     message='Back-off pulling image "nginx:9.99"')]
    check = stuck.guard(lambda: (False, "0/3 ready"), kind, "default", "app=nginx", "deployment nginx", clock=clock)
    with pytest.raises(stuck.ImageStuck) as exc:
        check()
    text = str(exc.value)
    assert text.startswith("deployment nginx: pod default/nginx-1 on node kindlb-worker2 cannot start image nginx:9.99")
    assert "ImagePullBackOff" in text and "kind load docker-image nginx:9.99 --name kindlb" in text
    assert not is_transient(exc.value)  # wait_until ends at once on it


def test_a_first_pull_error_gets_its_grace_and_a_recovery_clears_it():
    kind, clock = FakeKind(), Clock()
    check = stuck.guard(lambda: (False, "0/1 ready"), kind, "default", clock=clock)
    kind.pods = [pod("p", "ErrImagePull")]
    assert check() == (False, "0/1 ready; p: ErrImagePull (nginx:1.27)")
    clock.now += 5
    assert check()[0] is False  # 5 s < 8 s
    kind.pods = [pod("p")]  # pulled on the next try
    clock.now += 4
    assert check() == (False, "0/1 ready")
    kind.pods = [pod("p", "ErrImagePull")]  # a new episode starts its own grace
    clock.now += 1
    check()
    clock.now += stuck.GRACE["ErrImagePull"]
    with pytest.raises(stuck.ImageStuck, match="ErrImagePull"):
        check()


def test_a_crash_loop_is_named_with_the_command_that_shows_why():
    kind, clock = FakeKind(), Clock()
    kind.pods = [pod("speaker-x", "CrashLoopBackOff", restarts=3)]
    check = stuck.guard(lambda: (False, "speakers 2/3"), kind, "metallb-system", clock=clock)
    check()
    clock.now += stuck.GRACE["CrashLoopBackOff"]
    with pytest.raises(stuck.ImageStuck) as exc:
        check()
    assert "3 restarts" in str(exc.value)
    assert "kubectl --context kind-kindlb -n default logs speaker-x -c c --previous" in str(exc.value)


def test_pods_are_read_at_most_every_second_and_not_once_done():
    kind, clock = FakeKind(), Clock()
    done = [False]
    check = stuck.guard(lambda: (done[0], "x"), kind, "default", clock=clock)
    for _ in range(5):
        check()
    assert kind.lists == 1
    clock.now += 1
    check()
    assert kind.lists == 2
    done[0] = True
    clock.now += 5
    assert check() == (True, "x") and kind.lists == 2


def test_fix_is_kind_load_when_docker_has_it(monkeypatch):
    monkeypatch.setattr(stuck, "_in_docker", lambda image: True)
    s = stuck.Stuck("default", "p", "c", "kindlb.local/nginx:1.22.1", "n", "ErrImageNeverPull", "")
    assert stuck.fix(s, "kl-a") == ("Docker here has kindlb.local/nginx:1.22.1 but the node does not: "
                                    "`kind load docker-image kindlb.local/nginx:1.22.1 --name kl-a`, then wait again")


def test_fix_names_the_local_image_that_stands_in(tmp_path, monkeypatch):
    lab = tmp_path / "lab" / "metallb-native.yaml"
    lab.parent.mkdir()
    lab.write_text("kind: Namespace\n")
    monkeypatch.setenv(sources.LAB_SOURCE_ENV, str(lab))
    s = stuck.Stuck("default", "p", "c", "nginx:1.27", "n", "ImagePullBackOff", "")
    assert "the local image kindlb.local/nginx:1.22.1 stands in for it" in stuck.fix(s, "kl-a")


def test_a_guarded_wait_ends_long_before_its_timeout():
    import time

    kind = FakeKind()
    kind.pods = [pod("p", "ImagePullBackOff")]
    t0 = time.monotonic()
    with pytest.raises(stuck.ImageStuck):
        wait_until(stuck.guard(lambda: (False, "0/1"), kind, "default"), timeout=60, desc="d", progress=False)
    assert time.monotonic() - t0 < 2
    kind.pods = []
    with pytest.raises(WaitTimeout):
        wait_until(stuck.guard(lambda: (False, "0/1"), kind, "default"), timeout=0.3, desc="d", progress=False)
