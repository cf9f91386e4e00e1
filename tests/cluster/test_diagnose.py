"""When no external IP comes, the wait says why, in the words of the lesson's one diagnosis (the one notebook 08
shows): a full pool, a missing L2Advertisement. Each verdict is checked against raw kubectl, never against our
diagnosis code."""
from __future__ import annotations

import subprocess
import time

import pytest

import kindlb_helpers as kh
from kindlb_helpers._cluster import kube, metallb
from kindlb_helpers._cluster.waits import wait_until
from kindlb_helpers._core.objects import nginx_objects
from kindlb_helpers._lesson.no_ip import LISTING, findings

from _lesson_setup import own_pool, with_metallb


@pytest.fixture
def tiny_pool(cluster):
    """MetalLB with a one-address pool that only Services asking for it by name get."""
    k = with_metallb(cluster)["k"]
    with own_pool(k, "kindlb-diag", 1) as own:
        yield k, own["namespace"], own["pool"], own["objects"]


def test_exhausted_pool_is_named_in_the_timeout(tiny_pool, cluster):
    k, ns, pool, _ = tiny_pool
    image = cluster["params"].get("image", kh.app.DEFAULT_IMAGE)
    kh.app.deploy(k, "first", ns, image=image, replicas=1, pool=pool)
    kh.app.deploy(k, "second", ns, image=image, replicas=1, pool=pool)
    got = kh.app.wait_external_ip(k, "first", ns, timeout=60, progress=False, expect_pool=pool)
    assert got.in_range == f"{got.ip}-{got.ip}"
    with pytest.raises(kh.WaitTimeout) as err:
        kh.app.wait_external_ip(k, "second", ns, timeout=20, progress=False)
    text = str(err.value)
    print(text)
    # the cluster, read raw: the pool has one address, "first" holds it, "second" was refused
    if kh.metallb.uses_crds(kh.metallb.installed_version(k)):
        said = kubectl(k, "-n", "metallb-system", "get", "ipaddresspool", pool, "-o", "jsonpath={.spec.addresses}")
    else:
        said = kubectl(k, "-n", "metallb-system", "get", "configmap", "config", "-o", "jsonpath={.data.config}")
    assert str(got.ip) in said, said
    assert kubectl(k, "-n", ns, "get", "service", "first", "-o",
                   "jsonpath={.status.loadBalancer.ingress[0].ip}") == str(got.ip)
    assert "AllocationFailed" in kubectl(k, "-n", ns, "describe", "service", "second")
    assert "EXTERNAL-IP <pending>" in text, text
    # the pool it asked for, not every pool, counted (core.pool_usage), in the first reason
    first = text.split("possible reasons:\n- ", 1)[1].splitlines()[0]
    assert f"pool {pool} is exhausted: 1 address, 1 in use" in first, text
    # notebook 08 shows the same diagnosis
    found = kh.trouble.diagnose(k, "second", ns)
    assert found.first == "pool exhausted" and found.findings[0].text in text, found


def test_missing_l2advertisement_is_named(tiny_pool, cluster):
    """A Service with an address from a pool no L2Advertisement announces: the diagnosis names it first; with its
    own back, no more. Another user's L2Advertisements (the slot's cluster is left as its last user left it) are set
    aside for the test and put back as they were."""
    k, ns, pool, objs = tiny_pool
    if not kh.metallb.uses_crds(kh.metallb.installed_version(k)):
        pytest.skip("the ConfigMap era has no L2Advertisement")
    image = cluster["params"].get("image", kh.app.DEFAULT_IMAGE)
    kh.app.deploy(k, "third", ns, image=image, replicas=1, pool=pool)
    kh.app.wait_rollout(k, "third", ns, timeout=120, progress=False)
    wait_ready_endpoint(k, "third", ns)
    kh.app.wait_external_ip(k, "third", ns, timeout=60, progress=False, expect_pool=pool)
    others = [a for a in metallb.l2_advertisements(k) if a["metadata"]["name"] != pool]
    for a in others:
        kube.delete(k, "metallb.io/v1beta1", "L2Advertisement", a["metadata"]["name"], "metallb-system")
    try:
        assert kube.delete(k, "metallb.io/v1beta1", "L2Advertisement", pool, "metallb-system")
        found = findings(k, "third", ns)
        # the cluster, read raw: none is left, and the Service holds its address
        assert "No resources found" in kubectl(k, "-n", "metallb-system", "get", "l2advertisements"), \
            "an L2Advertisement came back during the test"
        assert kubectl(k, "-n", ns, "get", "service", "third", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
        assert found[0].key == "no L2Advertisement" and f"from pool {pool}" in found[0].text, found
        metallb.apply_pool(k, objs, timeout=60)
        assert kubectl(k, "-n", "metallb-system", "get", "l2advertisement", pool, "-o", "name")
        again = findings(k, "third", ns)
        assert all(f.key != "no L2Advertisement" for f in again), again
        assert again[0].key == "healthy", again
    finally:
        kube.server_side_apply(k, [{"apiVersion": a["apiVersion"], "kind": a["kind"],
                                    "metadata": {"name": a["metadata"]["name"], "namespace": "metallb-system",
                                                 **({"labels": a["metadata"]["labels"]}
                                                    if a["metadata"].get("labels") else {})},
                                    "spec": a.get("spec") or {}} for a in others])


def test_ready_pods_not_yet_listed_are_told_from_a_selector_that_matches_nothing(cluster):
    """The gap between a ready pod and the EndpointSlice that lists it, held open on purpose: the controller manager
    (which runs the EndpointSlice controller) is paused while a Service for an already ready pod gets its address
    from MetalLB. The diagnosis says the pods are ready and not listed yet, not "no endpoints"; its near miss, a
    Service whose selector matches nothing, still gets "no endpoints"; resumed, the listing comes and the first
    verdict goes. Each state is read raw with kubectl first."""
    k = with_metallb(cluster)["k"]
    with own_pool(k, "kindlb-early", 2) as own:
        held_open(k, own["namespace"], own["pool"], cluster["params"].get("image", kh.app.DEFAULT_IMAGE))


def held_open(k, ns: str, pool: str, image: str) -> None:
    deployment, service = nginx_objects("early", ns, image, 1, 80, pool)
    tpl = deployment["spec"]["template"]
    # a bare pod: a Deployment's pods come from the ReplicaSet controller, which lives in the manager paused below
    kube.server_side_apply(k, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                               {"apiVersion": "v1", "kind": "Pod", "metadata": {**tpl["metadata"], "name": "early",
                                                                               "namespace": ns},
                                "spec": tpl["spec"]}])
    assert "condition met" in kubectl(k, "-n", ns, "wait", "--for=condition=Ready", "pod/early", "--timeout=120s")
    _, nomatch = nginx_objects("nomatch", ns, image, 1, 80, pool)
    nomatch["spec"]["selector"] = {"app": "nobody-has-this-label"}
    kube.server_side_apply(k, [nomatch])  # before the pause: its EndpointSlice exists, with no endpoint
    wait_until(lambda: ("endpointslice" in kubectl(k, "-n", ns, "get", "endpointslices", "-o", "name", "-l",
                                                   "kubernetes.io/service-name=nomatch") and bool(address("nomatch", ns, k)),
                        "no slice or no address yet"),
               timeout=60, desc="nomatch's (empty) EndpointSlice and its address", progress=False)
    node = f"{k.cluster}-control-plane"
    pause = ("for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" = kube-controller ] && kill -{} ${{p#/proc/}}; "
             "done; true")  # comm is the first 15 characters of kube-controller-manager
    docker_exec(node, pause.format("STOP"))
    try:
        kube.server_side_apply(k, [service])
        wait_until(lambda: (bool(address("early", ns, k)), "<pending>"), timeout=30, desc="an address for early",
                   progress=False)  # MetalLB's controller assigns it: it is not part of the paused manager
        found = findings(k, "early", ns)
        listed = kubectl(k, "-n", ns, "get", "endpointslices", "-l", "kubernetes.io/service-name=early")
        ready = kubectl(k, "-n", ns, "get", "pod", "early", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')]"
                        ".status}")
    finally:
        docker_exec(node, pause.format("CONT"))
    # raw: the pod is ready, no EndpointSlice lists it, the Service has its address
    assert ready == "True" and "No resources found" in listed, (ready, listed)
    assert found[0].key == LISTING and "early" in found[0].text and "no ready pod" not in found[0].text, found
    miss = findings(k, "nomatch", ns)
    assert miss[0].key == "no endpoints", miss
    wait_ready_endpoint(k, "early", ns, timeout=180)  # a manager paused past its lease restarts first
    again = findings(k, "early", ns)
    assert all(f.key not in (LISTING, "no endpoints") for f in again), again
    assert findings(k, "nomatch", ns)[0].key == "no endpoints"


def address(name: str, ns: str, k) -> str:
    """The Service's first external address, read raw ("" while pending)."""
    return kubectl(k, "-n", ns, "get", "service", name, "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")


def docker_exec(container: str, script: str) -> None:
    subprocess.run(["docker", "exec", container, "sh", "-c", script], check=True, capture_output=True, timeout=30)


def kubectl(k, *args: str) -> str:
    """Raw kubectl against the test's cluster (stdout and stderr: "No resources found" is on stderr)."""
    r = subprocess.run(["kubectl", "--context", f"kind-{k.cluster}", *args], capture_output=True, text=True,
                       timeout=60)
    return r.stdout + r.stderr


def wait_ready_endpoint(k, service: str, ns: str, timeout: float = 60) -> None:
    """Until the Service's EndpointSlice, read raw, lists a ready endpoint. A finished rollout is not enough: the
    EndpointSlice controller marks the pod ready a moment after the Deployment counts it (CI's stop 32 run diagnosed
    "no endpoints" in that gap, which was true of the cluster then, and not what the test is about)."""
    wait_until(lambda: ("true" in kubectl(k, "-n", ns, "get", "endpointslices", "-l",
                                          f"kubernetes.io/service-name={service}", "-o",
                                          "jsonpath={.items[*].endpoints[*].conditions.ready}"), "none ready"),
               timeout=timeout, desc=f"a ready endpoint of {service}", progress=False)


def test_configmap_era_removed_is_not_never_configured(cluster):
    """v0.12.1 (run with ``KINDLB_METALLB_VERSION=v0.12.1``; the series' 02 and 08 cover both verdicts in both eras):
    with the ConfigMap deleted, a controller that loaded it keeps it (a new Service still gets an address: "config
    kept"); a controller started since has none ("no pool", loaded nothing). Each verdict is checked against raw
    kubectl: the ConfigMap, the Services' addresses and the controller's own log lines. The ConfigMap is put back
    as it was."""
    if kh.metallb.uses_crds(cluster["params"].get("metallb_version") or kh.metallb.DEFAULT_VERSION):
        pytest.skip("only the ConfigMap era keeps a deleted configuration")  # (with_metallb's choice of release)
    info = with_metallb(cluster)
    k, image = info["k"], cluster["params"].get("image", kh.app.DEFAULT_IMAGE)
    ms = ("-n", "metallb-system")
    saved = kubectl(k, *ms, "get", "configmap", "config", "-o", "jsonpath={.data.config}")

    def controller_log() -> str:
        return kubectl(k, *ms, "logs", "deploy/controller", "--tail=-1")

    try:
        with own_pool(k, "kindlb-cm", 2) as own:
            ns, pool = own["namespace"], own["pool"]
            kh.app.deploy(k, "before", ns, image=image, replicas=1, pool=pool)
            kh.app.wait_external_ip(k, "before", ns, timeout=60, progress=False)
            assert "config (re)loaded" in controller_log()
            kube.delete(k, "v1", "ConfigMap", "config", "metallb-system")
            wait_until(lambda: ("configuration is missing" in controller_log(), "no word yet"), timeout=60,
                          desc="the controller's word on the deleted ConfigMap", progress=False)
            kh.app.deploy(k, "after", ns, image=image, replicas=1, pool=pool)
            wait_until(lambda: (bool(address("after", ns, k)), "<pending>"), timeout=60, desc="an address for after",
                       progress=False)  # the raw cluster: a new address, with no ConfigMap
            assert "NotFound" in kubectl(k, *ms, "get", "configmap", "config")
            kh.app.wait_rollout(k, "after", ns, timeout=120, progress=False)
            wait_ready_endpoint(k, "after", ns)
            found = findings(k, "after", ns)
            assert found[0].key == "config kept" and "is gone" in found[0].text, found
            # a controller that starts now finds no ConfigMap and loads nothing
            kubectl(k, *ms, "delete", "pod", "-l", "component=controller", "--wait=true")
            kubectl(k, *ms, "rollout", "status", "deployment/controller", "--timeout=120s")
            wait_until(lambda: ("controller synced" in controller_log(), "not synced yet"), timeout=90,
                          desc="the new controller's start", progress=False)
            log = controller_log()
            assert "config (re)loaded" not in log and "configuration is missing" not in log, log
            kh.app.deploy(k, "fresh", ns, image=image, replicas=1, pool=pool)
            time.sleep(5)  # time to assign, had it a pool (the first wait above took well under that)
            assert address("fresh", ns, k) == ""
            found = findings(k, "fresh", ns)
            assert found[0].key == "no pool" and "loaded no configuration" in found[0].text, found
            assert not any("is gone" in f.text for f in found), found
    finally:
        if saved:
            kube.server_side_apply(k, [{"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": "config", "namespace": "metallb-system"},
                                        "data": {"config": saved}}])
