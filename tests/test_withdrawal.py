"""07_bgp's withdrawal measurement without a cluster: what its table and figure say about the client's requests.
A frozen node's failed requests are counted and their span shown beside the hold time, and a gap in the requests
is reported, never counted as answered (the cluster tier measures the real thing: tests/cluster/test_bgp.py)."""
from __future__ import annotations

import pandas as pd

from kindlb_helpers._core import hood
from kindlb_helpers._lesson.bgp.withdrawal import ClientProbes, Withdrawal, withdrawal_figure


def _frozen(requests, withdrawn=8.4) -> Withdrawal:
    return Withdrawal("node frozen", "kl-worker2", ["kl-worker", "kl-worker2"], withdrawn, 30.2, 9, requests, 0.3,
                      "/tmp/kindlb-requests-x.log", "Hold Timer Expired", pd.DataFrame(), hood.Hood("t", []))


def test_failed_requests_are_counted_with_their_span_beside_the_hold_time():
    reqs = [(round(-1.5 + 0.3 * i, 2), not (0 <= -1.5 + 0.3 * i <= 8.4 and i % 2)) for i in range(40)]
    w = _frozen(reqs)
    row = w.summary()
    failed = [t for t, ok in reqs if not ok]
    assert row["failed"] == len(failed) > 10 and row["hold time (s)"] == 9
    assert row["failing (s after the act)"].startswith(f"{min(failed):.1f} to {max(failed):.1f}, for ")
    assert row["longest gap between requests (s)"] == 0.3


def test_a_gap_in_the_requests_is_reported_and_drawn():
    reqs = [(-0.6, True), (-0.3, True), (0.0, True), (0.6, True), (9.9, True), (10.2, True)]  # 0.6 -> 9.9: nothing
    w = _frozen(reqs)
    assert w.summary()["failed"] == 0
    assert "a gap" in str(w.summary()["longest gap between requests (s)"]), w.summary()
    fig = withdrawal_figure(w)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(label.startswith("no request sent (9.3 s)") for label in labels), labels


def test_the_client_loop_does_not_wait_for_answers():
    p = ClientProbes("kl-bgp-client", "http://198.51.100.1/", every=0.3, bound=1)
    assert ") & sleep 0.3; done" in p.loop  # each request in the background, the clock goes on
    assert "timeout 1 wget" in p.loop and "/proc/uptime" in p.loop
    assert all("docker exec kl-bgp-client" in s.command for s in p.steps())
