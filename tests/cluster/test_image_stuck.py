"""A stuck image is named in seconds, on the lab cluster (issue 26 item 3, issue 29 item 2).

The rollout wait (04) and MetalLB's ready wait (02) each meet an image that cannot be pulled (from a registry
address on the node's own loopback that refuses at once, so no packet leaves the machine). Each must stop within 15 s of the first such status that raw kubectl shows, naming the image,
the node raw kubectl shows for that pod, and the fix; MetalLB's wait must not blame the pool. The first status
is timed by the test's own kubectl loop, not by the library.

MetalLB's part installs the tier's MetalLB when the cluster has none. In ``make test`` this file runs after
test_diagnose (which installs it) and before the series (whose 09 uninstalls it), so it costs no install there.
"""
from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid

import pytest

import kindlb_helpers as kh
from _lesson_setup import with_metallb
from kindlb_helpers._cluster.stuck import ImageStuck

RUN = uuid.uuid4().hex[:6]
#: A registry address inside each node that refuses at once: the pull fails with no packet leaving the machine.
NO_REGISTRY = "127.0.0.1:9"
REASONS = {"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "CrashLoopBackOff"}


def kubectl(name: str, *args: str, timeout: float = 60) -> str:
    r = subprocess.run(["kubectl", "--context", f"kind-{name}", *args], capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, r.stderr
    return r.stdout


class FirstStuck:
    """kubectl, every 0.5 s: when a pod of NAMESPACE (SELECTOR) first showed one of REASONS, and on which node."""

    def __init__(self, name: str, namespace: str, selector: str) -> None:
        self.args = (name, "-n", namespace, "get", "pods", "-l", selector, "-o", "json")
        self.at: float | None = None
        self.seen: dict[str, tuple[str, str]] = {}  # pod -> (node, image) while stuck
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                pods = json.loads(kubectl(*self.args, timeout=20))["items"]
            except (AssertionError, subprocess.TimeoutExpired, ValueError):
                pods = []
            now = time.monotonic()
            for p in pods:
                for cs in p.get("status", {}).get("containerStatuses", []):
                    if cs.get("state", {}).get("waiting", {}).get("reason") in REASONS:
                        self.at = self.at or now
                        self.seen[p["metadata"]["name"]] = (p["spec"].get("nodeName"), cs["image"])
            self.stop.wait(0.5)

    def done(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def stuck_rollout(k, name: str, ns: str, image: str) -> tuple[ImageStuck, float, FirstStuck]:
    kh.app.deploy(k, "stuck", ns, image=image, replicas=1)
    watch = FirstStuck(name, ns, "app=stuck")
    t0 = time.monotonic()
    try:
        with pytest.raises(ImageStuck) as exc:
            kh.app.wait_rollout(k, "stuck", ns, timeout=180, progress=False)
        raised = time.monotonic()
    finally:
        time.sleep(1)
        watch.done()
    assert watch.at is not None, "kubectl never saw the pod stuck, yet the wait said so"
    print(f"\n{image}: first stuck status after {watch.at - t0:.1f} s, named {raised - watch.at:.1f} s later")
    assert raised - watch.at <= 15, (raised - watch.at, str(exc.value))
    return exc.value, raised - watch.at, watch


@pytest.fixture
def namespace(cluster):
    ns = f"stuck-{RUN}"
    kubectl(cluster["name"], "create", "namespace", ns)
    yield ns
    kubectl(cluster["name"], "delete", "namespace", ns, "--wait=false")


def test_a_rollout_on_an_image_that_does_not_exist_is_named(cluster, namespace):
    name = cluster["name"]
    k = kh.cluster.connect(name)
    image = f"{NO_REGISTRY}/kindlb-no-such-image:{RUN}"
    err, _, watch = stuck_rollout(k, name, namespace, image)
    text = str(err)
    print(text)
    (pod, (node, shown)), = watch.seen.items()
    assert pod in text and f"on node {node}" in text and image in text, text
    assert f"kind load docker-image {image} --name {name}" in text, text


def test_metallb_ready_names_a_speaker_image_and_never_the_pool(cluster):
    name = cluster["name"]
    k = with_metallb(cluster)["k"]
    speaker = json.loads(kubectl(name, "-n", "metallb-system", "get", "daemonset", "speaker", "-o", "json"))
    container = speaker["spec"]["template"]["spec"]["containers"][0]["name"]
    image = f"{NO_REGISTRY}/kindlb-no-such-speaker:{RUN}"
    watch = FirstStuck(name, "metallb-system", "component=speaker")
    kubectl(name, "-n", "metallb-system", "set", "image", "daemonset/speaker", f"{container}={image}")
    try:
        t0 = time.monotonic()
        with pytest.raises(ImageStuck) as exc:
            kh.metallb.wait_ready(k, timeout=300, progress=False)
        raised = time.monotonic()
        time.sleep(1)
        watch.done()
        text = str(exc.value)
        print(text)
        assert watch.at is not None
        print(f"\nspeaker {image}: first stuck after {watch.at - t0:.1f} s, named {raised - watch.at:.1f} s later")
        assert raised - watch.at <= 15, (raised - watch.at, text)
        assert image in text and "pool" not in text.lower(), text
        node = next(n for n, i in watch.seen.values() if i == image)
        assert f"on node {node}" in text, text
    finally:
        watch.done()
        kubectl(name, "-n", "metallb-system", "rollout", "undo", "daemonset/speaker")
        kh.metallb.wait_ready(k, timeout=300, progress=False)
