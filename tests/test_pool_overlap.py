"""Pools of different kind clusters that share addresses: the pure computation behind the doctor's "pool overlap"
row. Near misses first: ranges that touch but share nothing, other families, one cluster's own pools; then the
forms MetalLB accepts (CIDR, first-last, one address) against each other, IPv6 included. The expected shared
range is computed here from the addresses, never from the code under test."""
from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kindlb_helpers._core.errors import PoolError
from kindlb_helpers._core.pool import PoolRange
from kindlb_helpers._core.pool.overlap import HeldPool, pool_overlaps, shared_range


def held(*specs: tuple[str, str, str]) -> list[HeldPool]:
    return [HeldPool(c, p, s) for c, p, s in specs]


@pytest.mark.parametrize("a, b", [
    ("172.18.255.1-172.18.255.9", "172.18.255.10-172.18.255.20"),      # adjacent: .9 then .10
    ("172.18.255.0/25", "172.18.255.128/25"),                          # two halves of a /24
    ("172.18.255.0/25", "172.18.255.128-172.18.255.200"),              # CIDR then a range right after it
    ("172.18.255.127", "172.18.255.128/25"),                           # one address just below a block
    ("fc00:f853:ccd:e793::ff00/120", "fc00:f853:ccd:e793::1:0/120"),   # IPv6: ::ffff, then ::1:0
    ("fc00:f853:ccd:e793::ff00-fc00:f853:ccd:e793::ffff", "fc00:f853:ccd:e793::1:0-fc00:f853:ccd:e793::1:ff"),  # the same, as ranges
    ("172.18.255.0/24", "fc00:f853:ccd:e793::/64"),                    # other family: nothing shared
    ("0.0.255.0/24", "::ff00/120"),                                    # same integers, other family
])
def test_near_misses_share_nothing(a, b):
    assert shared_range(PoolRange(a), PoolRange(b)) is None
    assert shared_range(PoolRange(b), PoolRange(a)) is None
    assert pool_overlaps(held(("kl-a", "default", a), ("kl-b", "default", b))) == []


@pytest.mark.parametrize("a, b, shared", [
    ("172.18.255.1-172.18.255.10", "172.18.255.10-172.18.255.20", "172.18.255.10-172.18.255.10"),  # one address
    ("172.18.255.0/24", "172.18.255.200-172.18.255.255", "172.18.255.200-172.18.255.255"),
    ("172.18.255.0/24", "172.18.255.64/26", "172.18.255.64-172.18.255.127"),                      # CIDR inside CIDR
    ("172.18.255.1-172.18.255.250", "172.18.255.248/29", "172.18.255.248-172.18.255.250"),        # CIDR over the end
    ("172.18.255.77", "172.18.255.0/24", "172.18.255.77-172.18.255.77"),                          # one address
    ("172.18.0.0/16", "172.18.255.1-172.18.255.250", "172.18.255.1-172.18.255.250"),              # whole network
    ("fc00:f853:ccd:e793::ff00/120", "fc00:f853:ccd:e793::fff0-fc00:f853:ccd:e793::1:f",
     "fc00:f853:ccd:e793::fff0-fc00:f853:ccd:e793::ffff"),
    ("fc00:f853:ccd:e793::/64", "fc00:f853:ccd:e793::1:0/112",
     "fc00:f853:ccd:e793::1:0-fc00:f853:ccd:e793::1:ffff"),
])
def test_overlaps_name_the_shared_range(a, b, shared):
    want = PoolRange(shared)
    assert shared_range(PoolRange(a), PoolRange(b)) == want
    assert shared_range(PoolRange(b), PoolRange(a)) == want
    [found] = pool_overlaps(held(("kl-a", "default", a), ("kl-b", "lab", b)))
    assert (found.a.cluster, found.a.pool, found.b.cluster, found.b.pool) == ("kl-a", "default", "kl-b", "lab")
    assert found.shared == want
    text = str(found)
    assert "kl-a" in text and "kl-b" in text and "'lab'" in text and want.as_cidr_or_range() in text


def test_a_clusters_own_pools_are_not_an_overlap_between_clusters():
    assert pool_overlaps(held(("kl-a", "one", "172.18.255.0/24"), ("kl-a", "two", "172.18.255.128/25"))) == []


def test_every_pair_of_clusters_is_named_once_in_order():
    found = pool_overlaps(held(("kl-a", "default", "172.18.255.0/24"),
                               ("kl-b", "default", "172.18.255.128/25"),
                               ("kl-b", "v6", "fc00:f853:ccd:e793::ff00/120"),
                               ("kl-c", "default", "172.18.255.250-172.18.255.255"),
                               ("kl-c", "v6", "fc00:f853:ccd:e793::ff80/121"),
                               ("kl-d", "default", "172.18.254.0/24")))  # kl-d: clear of all
    assert [(o.a.cluster, o.a.pool, o.b.cluster, o.b.pool, str(o.shared)) for o in found] == [
        ("kl-a", "default", "kl-b", "default", "172.18.255.128-172.18.255.255"),
        ("kl-a", "default", "kl-c", "default", "172.18.255.250-172.18.255.255"),
        ("kl-b", "default", "kl-c", "default", "172.18.255.250-172.18.255.255"),
        ("kl-b", "v6", "kl-c", "v6", "fc00:f853:ccd:e793::ff80-fc00:f853:ccd:e793::ffff"),
    ]
    assert str(found[0]).endswith("share 172.18.255.128/25 (128 addresses)")
    assert str(found[1]).endswith("share 172.18.255.250-172.18.255.255 (6 addresses)")


def test_a_spec_that_is_not_an_address_is_refused():
    with pytest.raises(PoolError):
        HeldPool("kl-a", "default", "172.18.255.1-")


@given(st.integers(0, 2**32 - 1), st.integers(0, 300), st.integers(-300, 300), st.integers(0, 300))
def test_shared_range_is_exactly_the_common_addresses(start, len_a, offset, len_b):
    """Against set arithmetic on small ranges: the addresses in both, and nothing else."""
    a_first, a_last = start, min(start + len_a, 2**32 - 1)
    b_first = min(max(start + offset, 0), 2**32 - 1)
    b_last = min(b_first + len_b, 2**32 - 1)
    addr = ipaddress.IPv4Address
    got = shared_range(PoolRange(addr(a_first), addr(a_last)), PoolRange(addr(b_first), addr(b_last)))
    common = set(range(a_first, a_last + 1)) & set(range(b_first, b_last + 1))
    if not common:
        assert got is None
    else:
        assert (int(got.first), int(got.last)) == (min(common), max(common)) and got.size == len(common)
