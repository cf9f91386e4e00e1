"""When no external IP comes, the wait says why: a full pool (as notebook 08's diagnosis counts it too), a missing
L2Advertisement."""
from __future__ import annotations

import pytest

import kindlb_helpers as kh
from kindlb_helpers._cluster import kube, metallb
from kindlb_helpers._lesson.no_ip import reasons_no_ip

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
    assert "EXTERNAL-IP <pending>" in text and "the pool is exhausted" in text, text
    assert f"(pool {pool}: 1 address, all in use)" in text, text  # the pool it asked for, not every pool
    # notebook 08's diagnosis counts the same pool the same way (core.pool_usage), and the address "first" holds
    found = kh.trouble.diagnose(k, "second", ns)
    assert found.first == "pool exhausted", found
    assert f"pool {pool} is exhausted: 1 address, 1 in use" in found.findings[0].text, found


def test_missing_l2advertisement_is_named(tiny_pool):
    """With no L2Advertisement at all the wait names it; with its own back, no more. Another user's L2Advertisements
    (the slot's cluster is left as its last user left it) are set aside for the test and put back as they were."""
    k, ns, pool, objs = tiny_pool
    others = [a for a in metallb.l2_advertisements(k) if a["metadata"]["name"] != pool]
    for a in others:
        kube.delete(k, "metallb.io/v1beta1", "L2Advertisement", a["metadata"]["name"], "metallb-system")
    try:
        assert kube.delete(k, "metallb.io/v1beta1", "L2Advertisement", pool, "metallb-system")
        reasons = reasons_no_ip(k)
        assert metallb.l2_advertisements(k) == [], "an L2Advertisement came back during the test"
        assert any("no L2Advertisement" in r for r in reasons), reasons
        metallb.apply_pool(k, objs, timeout=60)
        assert not any("no L2Advertisement" in r for r in reasons_no_ip(k))
    finally:
        kube.server_side_apply(k, [{"apiVersion": a["apiVersion"], "kind": a["kind"],
                                    "metadata": {"name": a["metadata"]["name"], "namespace": "metallb-system",
                                                 **({"labels": a["metadata"]["labels"]}
                                                    if a["metadata"].get("labels") else {})},
                                    "spec": a.get("spec") or {}} for a in others])
