"""A pool in both families, checked before anything is applied (issue 28, item 4): pure logic, no cluster."""
from __future__ import annotations

import pytest

from kindlb_helpers._core.errors import BadInput, PoolError
from kindlb_helpers._core.pool import plan_pool
from kindlb_helpers._core.pool.families import family_word, validate_families

NETS = {4: "172.19.0.0/16", 6: "fc00:f853:ccd:e793::/64"}
GW = {4: "172.19.0.1", 6: "fc00:f853:ccd:e793::1"}
V4 = "172.19.255.1-172.19.255.250"
V6 = "fc00:f853:ccd:e793:ffff:ffff:ffff:ff01-fc00:f853:ccd:e793:ffff:ffff:ffff:fffa"
NODES = {4: [("node kl-dual-worker", "172.19.0.3")], 6: [("node kl-dual-worker", "fc00:f853:ccd:e793::3")]}


def test_the_planned_ipv6_range_sits_at_the_top_of_the_64_as_03_plans_ipv4():
    assert str(plan_pool(NETS[6], [("gateway", GW[6])])) == V6
    assert str(plan_pool(NETS[4], [("gateway", GW[4])])) == V4


def test_one_pool_with_both_families_passes_on_a_dual_stack_cluster():
    got = validate_families([V4, V6], NETS, "dual", NODES, GW, require="dual")
    assert [r.version for r in got] == [4, 6] and [str(r) for r in got] == [V4, V6]
    assert [str(r) for r in validate_families([V4, V6], NETS, (4, 6))] == [V4, V6]


@pytest.mark.parametrize("cluster", ["ipv4", (4,), [4]])
def test_an_ipv6_range_typed_for_an_ipv4_only_cluster_is_refused(cluster):
    with pytest.raises(PoolError) as e:
        validate_families([V4, V6], NETS, cluster, gateways=GW)
    msg = str(e.value)
    assert "is IPv6, but the cluster serves IPv4 only" in msg and "never hands out" in msg
    assert "kindlb lab up --ip-family dual" in msg and "networking.ipFamily: dual" in msg


def test_a_family_missing_from_the_pool_on_a_dual_stack_lesson_is_named_with_a_range_to_add():
    with pytest.raises(PoolError) as e:
        validate_families([V4], NETS, "dual", NODES, GW, require="dual")
    assert "has no IPv6 range" in str(e.value) and V6 in str(e.value)
    with pytest.raises(PoolError, match="has no IPv4 range"):
        validate_families([V6], NETS, "dual", NODES, GW, require=(4, 6))


def test_a_family_the_kind_network_lacks_is_refused():
    with pytest.raises(PoolError, match="kind network has no IPv6 subnet"):
        validate_families([V6], {4: NETS[4]}, "dual")


@pytest.mark.parametrize("rng", ["::ffff:172.19.255.1-::ffff:172.19.255.9", "::ffff:ac13:ff01", "::ffff:0:0/120"])
def test_ipv4_mapped_addresses_stay_refused(rng):
    with pytest.raises(PoolError, match="IPv4-mapped"):
        validate_families([rng], NETS, "dual", gateways=GW)


@pytest.mark.parametrize("fam, rng", [
    (6, "fc00:f853:ccd:e793::1-fc00:f853:ccd:e793::10"),      # the bridge's own IPv6 address
    (6, "fc00:f853:ccd:e793::/120"),                           # the network address and the gateway
    (4, "172.19.0.1-172.19.0.20"),                             # Docker's IPv4 gateway
])
def test_a_range_holding_the_bridge_address_or_dockers_gateway_is_refused(fam, rng):
    with pytest.raises(PoolError) as e:
        validate_families([rng], NETS, "dual", gateways=GW)
    msg = str(e.value)
    assert ("the bridge's own address (Docker's gateway)" in msg or "network address" in msg), msg
    assert "e.g." in msg  # a range that works


def test_the_gateway_is_refused_even_when_taken_lists_nothing():
    with pytest.raises(PoolError, match="Docker's gateway"):
        validate_families(["fc00:f853:ccd:e793::1"], NETS, "dual", taken={}, gateways=GW)


def test_an_ipv6_range_outside_the_64_names_the_segment():
    with pytest.raises(PoolError) as e:
        validate_families(["fc00:f853:ccd:e794::1-fc00:f853:ccd:e794::10"], NETS, "dual", gateways=GW)
    msg = str(e.value)
    assert "is not inside fc00:f853:ccd:e793::/64" in msg and "bridge's own segment" in msg


def test_a_node_address_in_the_range_is_refused():
    with pytest.raises(PoolError, match="node kl-dual-worker"):
        validate_families(["fc00:f853:ccd:e793::2-fc00:f853:ccd:e793::9"], NETS, "dual", NODES, GW)


def test_overlapping_ranges_in_one_pool_are_refused():
    with pytest.raises(PoolError, match="overlap"):
        validate_families([V6, "fc00:f853:ccd:e793:ffff:ffff:ffff:ff10"], NETS, "dual", gateways=GW)


@pytest.mark.parametrize("bad", [[], "", "ipv5", (4, 5), 7])
def test_bad_families_and_empty_pools_are_clear_errors(bad):
    with pytest.raises(BadInput):
        if bad == []:
            validate_families(bad, NETS, "dual")
        else:
            validate_families([V4], NETS, bad)


def test_family_words():
    assert family_word([4]) == "IPv4 only" and family_word([6, 4]) == "IPv4 and IPv6"
