"""The pool a Service draws from and how full it is (core.pool_usage), as the lesson's one diagnosis counts it
(lesson.no_ip.findings, "pool X is exhausted: 1 address, 1 in use"), which the wait for an address and notebook 08
ask. Pools of different sizes, so a wrong pool shows as a wrong size."""
from __future__ import annotations

import pytest

from kindlb_helpers._core.pool_usage import Usage, asked_for, holding, named_in, usage
from kindlb_helpers._core.release import release

#: 250, 1 and 4 addresses; ts-one and ipv6 are not handed out unasked.
POOLS = {"default": ["172.19.255.1-172.19.255.250"], "ts-one": ["172.19.254.7"],
         "two-parts": ["172.19.253.0/31", "172.19.253.10-172.19.253.11"], "ipv6": ["fc00:f853:ccd:e793::/127"]}
AUTO = ("default", "two-parts")
CURRENT, CONFIGMAP = release("v0.16.1").annotation_prefixes, release("v0.12.1").annotation_prefixes


@pytest.mark.parametrize("annotations, prefixes, pool, size", [
    ({"metallb.io/address-pool": "ts-one"}, CURRENT, "ts-one", 1),
    ({"metallb.universe.tf/address-pool": "ts-one"}, CURRENT, "ts-one", 1),  # deprecated, still read
    ({"metallb.universe.tf/address-pool": "ts-one"}, CONFIGMAP, "ts-one", 1),
    ({"metallb.io/address-pool": "two-parts"}, CURRENT, "two-parts", 4),  # a /31 and a range of 2
    # v0.12.1 reads no metallb.io/ annotation: the Service asked for nothing, it draws from the auto pools
    ({"metallb.io/address-pool": "ts-one"}, CONFIGMAP, None, 254),
    ({"metallb.io/address-pool": "no-such-pool"}, CURRENT, None, 254),
    (None, CURRENT, None, 254),
])
def test_the_pool_asked_for_by_the_releases_annotation(annotations, prefixes, pool, size):
    got = usage(POOLS, annotations=annotations, prefixes=prefixes, auto=AUTO)
    assert (got.pool, got.size) == (pool, size)
    assert got.pools == ((pool,) if pool else AUTO)


def test_the_first_prefix_wins_when_both_are_written():
    both = {"metallb.io/address-pool": "ts-one", "metallb.universe.tf/address-pool": "default"}
    assert asked_for(both, CURRENT) == "ts-one"
    assert asked_for(both, CONFIGMAP) == "default"


def test_without_the_auto_assign_flags_every_pool_counts():
    """cluster.metallb reads no autoAssign: a Service that asks for nothing counts every pool (its 'the pools')."""
    assert usage(POOLS, prefixes=CURRENT).size == 250 + 1 + 4 + 2
    assert usage(POOLS, prefixes=CURRENT).pools == tuple(POOLS)


@pytest.mark.parametrize("message, pool", [
    # v0.12.1 internal/allocator/allocator.go:262 (quoted), v0.16.1 internal/allocator/allocator.go:291 (not)
    ('Failed to allocate IP for "default/ts-exhausted": no available IPs in pool "ts-one" for IPv4 IPFamily', "ts-one"),
    ('Failed to allocate IP for "default/ts-exhausted": no available IPs in pool ts-one', "ts-one"),
    ('Failed to allocate IP for "default/x": unknown pool "nope"', "nope"),
    ('Failed to allocate IP for "default/x": no available IPs', None),
    (None, None),
])
def test_the_pool_the_controller_names(message, pool):
    assert named_in(message) == pool


def test_the_controllers_words_count_when_no_annotation_asks():
    said = 'Failed to allocate IP for "default/x": no available IPs in pool ts-one'
    assert usage(POOLS, prefixes=CURRENT, said=said, auto=AUTO).pool == "ts-one"
    # an annotation says it first; a pool that is not there falls back to the auto pools
    assert usage(POOLS, annotations={"metallb.io/address-pool": "two-parts"}, prefixes=CURRENT, said=said).size == 4
    assert usage(POOLS, prefixes=CURRENT, said='unknown pool "nope"', auto=AUTO).pools == AUTO


def test_addresses_in_use_are_counted_in_that_pool_only_and_once():
    held = ["172.19.254.7", "172.19.254.7",  # two Services cannot share it; a repeat counts once
            "172.19.255.9", "172.19.254.8", "10.0.0.1", "", "host.example", "fc00:f853:ccd:e793::1"]
    one = usage(POOLS, annotations={"metallb.io/address-pool": "ts-one"}, prefixes=CURRENT, held=held)
    assert one == Usage("ts-one", ("ts-one",), 1, 1) and one.full
    auto = usage(POOLS, prefixes=CURRENT, auto=AUTO, held=held + ["172.19.253.1", "172.19.253.2"])
    assert (auto.size, auto.used, auto.full) == (254, 2, False)  # .255.9 and .253.1 (.253.2 is in no pool)
    v6 = usage(POOLS, annotations={"metallb.io/address-pool": "ipv6"}, prefixes=CURRENT, held=held)
    assert (v6.size, v6.used) == (2, 1)


def test_an_empty_pool_list_is_full_with_nothing():
    got = usage({}, annotations={"metallb.io/address-pool": "ts-one"}, prefixes=CURRENT, auto=())
    assert got == Usage(None, (), 0, 0) and got.full


def test_the_pool_holding_an_address():
    assert holding(POOLS, "172.19.253.11") == "two-parts"
    assert holding(POOLS, "fc00:f853:ccd:e793::1") == "ipv6"
    assert holding(POOLS, "172.19.252.1") is None and holding(POOLS, None) is None and holding(POOLS, "x") is None
