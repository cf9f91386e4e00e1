"""Pool planning and validation: properties over generated subnets, and every PoolError case."""
from __future__ import annotations

import ipaddress
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kindlb_helpers._core.errors import PoolError
from kindlb_helpers._core.pool import PoolRange, Reserved, default_size, plan_pool, usable_range, validate_pool

# ---------- PoolRange ----------

def test_range_text_and_cidr_forms():
    r = PoolRange.parse("172.19.255.1-172.19.255.250")
    assert (str(r.first), str(r.last), r.size) == ("172.19.255.1", "172.19.255.250", 250)
    assert str(r) == "172.19.255.1-172.19.255.250"
    assert r.cidr is None and r.as_cidr_or_range() == "172.19.255.1-172.19.255.250"
    c = PoolRange.parse("172.19.255.0/24")
    assert str(c) == "172.19.255.0-172.19.255.255" and c.size == 256
    assert str(c.cidr) == "172.19.255.0/24" and c.as_cidr_or_range() == "172.19.255.0/24"
    assert PoolRange.parse(" 10.0.0.5 ").size == 1
    assert PoolRange.parse("fc00::10 - fc00::1f").as_cidr_or_range() == "fc00::10/124"


def test_range_is_immutable_and_renders_html():
    r = PoolRange.parse("10.0.0.1-10.0.0.9")
    with pytest.raises(Exception):
        r.first = ipaddress.ip_address("10.0.0.2")  # type: ignore[misc]
    assert "10.0.0.1-10.0.0.9" in r._repr_html_() and "9 addresses" in r._repr_html_()
    assert hash(r) == hash(PoolRange.parse("10.0.0.1 -10.0.0.9"))


@pytest.mark.parametrize(
    "text, words",
    [
        ("172.19.255.250-172.19.255.1", ["reversed", "172.19.255.1-172.19.255.250"]),
        ("172.19.255.1-172.19.255.300", ["'172.19.255.300' is not an IP address"]),
        ("172.19.255.1-fc00::1", ["mixes IPv4 and IPv6"]),
        ("172.19.255.7/24", ["host bits set", "172.19.255.0/24"]),
        ("172.19.255.0/33", ["not a CIDR block"]),
        ("1.2.3.4-1.2.3.5-1.2.3.6", ["more than one '-'"]),
        ("", ["empty"]),
        ("banana", ["'banana' is not an IP address"]),
    ],
)
def test_parse_errors_say_what_to_do(text, words):
    with pytest.raises(PoolError) as err:
        PoolRange.parse(text)
    for w in words:
        assert w in str(err.value)
    assert isinstance(err.value, ValueError)


# ---------- plan_pool ----------

def test_article_choice_for_a_16():
    assert str(plan_pool("172.19.0.1/16")) == "172.19.255.1-172.19.255.250"
    assert str(plan_pool("172.18.0.0/16", taken=["172.18.0.1", "172.18.0.2-172.18.0.4"])) == "172.18.255.1-172.18.255.250"


def test_small_subnets_still_work():
    pool = plan_pool("172.18.0.0/24", taken=[("gateway", "172.18.0.1"), ("node a", "172.18.0.2")])
    assert str(pool) == "172.18.0.193-172.18.0.254" and pool.size == default_size("172.18.0.0/24")
    assert str(plan_pool("10.0.0.0/30", taken=["10.0.0.1"])) == "10.0.0.2-10.0.0.2"
    assert plan_pool("10.0.0.0/29").size == 1


def test_second_cluster_gets_the_next_block_down():
    first = plan_pool("172.19.0.0/16", taken=["172.19.0.1"])
    second = plan_pool("172.19.0.0/16", taken=["172.19.0.1", ("pool of cluster kind-a", first)])
    assert str(second) == "172.19.254.1-172.19.254.250"


def test_ipv6_pool_at_the_top_of_the_64():
    pool = plan_pool("fc00:f853:ccd:e793::1/64")
    assert pool.size == 250 and pool.version == 6
    assert str(pool.last) == "fc00:f853:ccd:e793:ffff:ffff:ffff:fffa"


def test_full_subnet_and_bad_sizes():
    with pytest.raises(PoolError, match="no free range of 10 addresses"):
        plan_pool("10.0.0.0/28", taken=["10.0.0.1-10.0.0.8"], size=10)
    with pytest.raises(PoolError, match="fewer than the 300 asked for"):
        plan_pool("10.0.0.0/24", size=300)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(PoolError, match="whole number"):
            plan_pool("10.0.0.0/24", size=bad)
    with pytest.raises(PoolError, match="is not a subnet"):
        plan_pool("10.0.0.0/40")


def test_cost_does_not_grow_with_the_subnet():
    taken4 = [f"10.{i // 256}.{i % 256}.{j}" for i in range(0, 2000, 3) for j in (1, 7)]
    taken4 += ["10.255.0.0/16", "10.200.0.0-10.254.255.255"]
    taken6 = [f"fd00::{i:x}:0/112" for i in range(3000)] + ["fd00::ffff:ffff:0:0/96"]
    times = []
    for _ in range(3):  # the best of three: a busy host (load 15 on 2 cores) stretched one run past 0.5 s
        t0 = time.perf_counter()
        p4 = plan_pool("10.0.0.0/8", taken=taken4)
        p6 = plan_pool("fd00::/64", taken=taken6, size=1000)
        validate_pool(p4, "10.0.0.0/8", taken4)
        times.append(time.perf_counter() - t0)
    elapsed = min(times)  # walking a /8 address by address would take minutes, not 0.5 s
    assert str(p4) == "10.199.255.1-10.199.255.250"
    assert p6.size == 1000
    assert elapsed < 0.5, f"planning took {elapsed:.3f}s at best ({', '.join(f'{t:.3f}' for t in times)})"


subnets = st.one_of(
    st.builds(lambda a, p: ipaddress.ip_network((a, p), strict=False),
              st.integers(0, 2**32 - 1), st.integers(8, 30)),
    st.builds(lambda a, p: ipaddress.ip_network((a, p), strict=False),
              st.integers(0, 2**128 - 1), st.integers(48, 120)),
)


#: IPv4-mapped IPv6 (::ffff:0:0/96): never in a pool, even when an IPv6 subnet holds it (::/64 does).
MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def _mapped(n: int) -> bool:
    return int(MAPPED.network_address) <= n <= int(MAPPED.broadcast_address)


@st.composite
def subnet_and_taken(draw):
    net = draw(subnets)
    lo, hi = int(net.network_address), int(net.broadcast_address)
    make = type(net.network_address)
    taken = []
    for _ in range(draw(st.integers(0, 12))):
        a = draw(st.integers(lo, hi))
        b = draw(st.integers(a, min(hi, a + draw(st.integers(0, 300)))))
        if net.version == 6 and (_mapped(a) or _mapped(b)):
            continue  # an IPv4-mapped end is refused as input (test_inputs); such a range is never taken
        taken.append(Reserved(f"t{len(taken)}", f"{make(a)}-{make(b)}"))
    # sometimes something from the other family or outside the subnet, which must not matter
    if draw(st.booleans()):
        taken.append(Reserved("elsewhere", "192.0.2.0/24" if net.version == 6 else "2001:db8::/64"))
    size = draw(st.one_of(st.none(), st.integers(1, 600)))
    return net, taken, size


@settings(max_examples=400, deadline=None)
@given(subnet_and_taken())
def test_planned_pools_are_always_valid(case):
    net, taken, size = case
    try:
        pool = plan_pool(net, taken, size)
    except PoolError as exc:
        # only allowed when no free span of that size exists
        want = default_size(net) if size is None else size
        usable = usable_range(net)
        assert "no free range" in str(exc) or want > usable.size
        return
    want = default_size(net) if size is None else size
    assert pool.size == want
    assert pool in usable_range(net)
    assert net.network_address not in pool
    if net.version == 4:
        assert net.broadcast_address not in pool
    for t in taken:
        assert not t.range.overlaps(pool), (t, pool)
    if net.version == 6:
        assert _mapped(int(pool.last)) is _mapped(int(pool.first)) is False and \
            not int(pool.first) < int(MAPPED.network_address) <= int(pool.last), pool
    assert validate_pool(pool, net, taken) == pool
    assert validate_pool(str(pool), str(net), taken) == pool


@settings(max_examples=200, deadline=None)
@given(subnet_and_taken())
@example(case=(ipaddress.IPv6Network("::/80"), [], None))  # its top 2**32 addresses are ::ffff:0:0/96
def test_planned_pool_is_the_highest_aligned_free_block(case):
    net, taken, size = case
    try:
        pool = plan_pool(net, taken, size)
    except PoolError:
        return
    # nothing above the pool is a free aligned block of the same shape
    block = 1 << pool.size.bit_length()
    start = (int(pool.first) - 1) // block * block
    if (int(pool.first) - 1) % block == 0:  # aligned placement
        make = type(net.network_address)
        nxt = start + block
        usable = usable_range(net)
        while nxt + pool.size <= int(usable.last) and nxt + 1 >= int(usable.first):
            cand = PoolRange(make(nxt + 1), make(nxt + pool.size))
            mapped = net.version == 6 and (_mapped(int(cand.first)) or _mapped(int(cand.last)))
            assert mapped or any(t.range.overlaps(cand) for t in taken), f"{cand} was free and above {pool}"
            nxt += block
            if nxt - start > 64 * block:
                break


# ---------- validate_pool: every error names the conflict and a fix ----------

TAKEN = [
    Reserved("gateway", "172.19.0.1"),
    Reserved("node kind-control-plane", "172.19.0.2"),
    Reserved("node kind-worker", "172.19.0.3"),
    Reserved("pool of cluster kind-b", "172.19.254.1-172.19.254.250"),
]


@pytest.mark.parametrize(
    "pool, subnet, words",
    [
        ("172.19.255.250-172.19.255.1", "172.19.0.0/16", ["reversed", "172.19.255.1-172.19.255.250"]),
        ("172.19.255.1-172.19.255.x", "172.19.0.0/16", ["not an IP address"]),
        ("fc00:f853:ccd:e793::10-fc00:f853:ccd:e793::20", "172.19.0.0/16", ["is IPv6 but subnet 172.19.0.0/16 is IPv4"]),
        ("172.20.0.1-172.20.0.9", "172.19.0.0/16", ["not inside 172.19.0.0/16", "172.20.0.1 and 172.20.0.9 lie outside", "e.g. 172.19.255.241-172.19.255.249"]),
        ("172.19.255.200-172.20.0.5", "172.19.0.0/16", ["172.20.0.5 lies outside"]),
        ("172.19.0.0-172.19.0.0", "172.19.0.0/16", ["network address 172.19.0.0", "start at 172.19.0.1"]),
        ("172.19.255.200-172.19.255.255", "172.19.0.0/16", ["broadcast address 172.19.255.255", "end at 172.19.255.254"]),
        ("172.19.0.1-172.19.0.1", "172.19.0.0/16", ["overlaps gateway 172.19.0.1"]),
        ("172.19.0.2-172.19.0.10", "172.19.0.0/16", ["node kind-control-plane 172.19.0.2", "node kind-worker 172.19.0.3", "pick a range above 172.19.0.4"]),
        ("172.19.254.200-172.19.255.10", "172.19.0.0/16", ["pool of cluster kind-b 172.19.254.1-172.19.254.250", "above 172.19.254.251"]),
        ("fc00::/64", "fc00::/64", ["network address fc00::"]),
        ("10.0.0.1-10.0.0.5", "nonsense", ["is not a subnet"]),
    ],
)
def test_validate_pool_errors(pool, subnet, words):
    with pytest.raises(PoolError) as err:
        validate_pool(pool, subnet, TAKEN)
    for w in words:
        assert w in str(err.value), str(err.value)


def test_validate_accepts_all_spellings_and_ignores_other_family():
    ok = validate_pool("172.19.255.0/25", "172.19.0.1/16", TAKEN + [("ipv6 gw", "fc00::1")])
    assert str(ok) == "172.19.255.0-172.19.255.127"
    assert validate_pool(PoolRange.parse("172.19.255.1-172.19.255.250"), "172.19.0.0/16", TAKEN).size == 250
    assert validate_pool("fc00::ffff", "fc00::/64", ["fc00::1"]).size == 1


def test_many_clashes_are_summarised():
    taken = [Reserved(f"container c{i}", f"10.0.0.{i}") for i in range(2, 20)]
    with pytest.raises(PoolError, match=r"and 13 more: pick a range above 10\.0\.0\.20"):
        validate_pool("10.0.0.2-10.0.0.30", "10.0.0.0/24", taken)
