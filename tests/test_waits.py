"""The waits' own rules, without a cluster: how often they look, and what happens when a watch fails.

The cluster tier proves the watch itself (tests/cluster/test_series.py: an assigned address is
noticed within 0.2 s of MetalLB writing it).
"""
from __future__ import annotations

import threading
import time

import pytest

from kindlb_helpers.cluster.waits import POLL, Watch, wait_until
from kindlb_helpers.core.errors import WaitTimeout


def counting(done_after: int):
    calls: list[float] = []

    def check() -> tuple[bool, str]:
        calls.append(time.monotonic())
        return len(calls) >= done_after, f"call {len(calls)}"

    return check, calls


def test_a_poll_never_looks_away_longer_than_a_fifth_of_a_second():
    check, calls = counting(5)
    assert wait_until(check, timeout=10, desc="demo", progress=False, interval=5) == "call 5"
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    assert max(gaps) < POLL + 0.1, gaps  # interval=5 asked for; 0.2 is the most a wait looks away


def test_a_watch_that_cannot_be_opened_falls_back_to_looking_every_fifth_of_a_second():
    opened = []

    def list_call(*args, **kwargs):
        opened.append(kwargs.get("watch"))
        raise ConnectionRefusedError("the API server is not there")

    check, calls = counting(4)
    start = time.monotonic()
    wait_until(check, timeout=10, desc="demo", progress=False, watches=[Watch(list_call, "default")])
    assert time.monotonic() - start < 2.0
    assert opened and opened[0] is True, "the follower asked for a watch"
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    assert max(gaps) < POLL + 0.15, gaps


def test_no_watch_thread_outlives_its_wait():
    def list_call(*args, **kwargs):
        raise ConnectionRefusedError("no server")

    check, _ = counting(3)
    wait_until(check, timeout=5, desc="demo", progress=False, watches=[Watch(list_call)])
    deadline = time.monotonic() + 3
    while any(t.name == "kindlb-watch" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name == "kindlb-watch"]


def test_a_timeout_says_what_was_seen_last_and_why():
    with pytest.raises(WaitTimeout) as err:
        wait_until(lambda: (False, "EXTERNAL-IP <pending>"), timeout=0.5, desc="external IP of nginx",
                   progress=False, explain=lambda: "no IPAddressPool")
    assert "last seen: EXTERNAL-IP <pending>" in str(err.value) and "no IPAddressPool" in str(err.value)
