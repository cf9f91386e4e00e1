"""kindlb_helpers._lesson.l2 without a cluster: the parsers, the commands shown, and bad input stopped with a message."""
from __future__ import annotations

import pandas as pd
import pytest

import kindlb_helpers as kh
from kindlb_helpers._lesson import l2


def test_node_assigned_event_names_the_node():
    assert l2.parse_node_assigned('announcing from node "kindlb-worker2" with protocol "layer2"') == "kindlb-worker2"
    assert l2.parse_node_assigned("IP allocated") is None


@pytest.mark.parametrize("text, mac, state", [
    ("172.18.255.200 dev br-9c1 lladdr 02:42:AC:12:00:03 REACHABLE", "02:42:ac:12:00:03", "REACHABLE"),
    ("172.18.255.200 dev eth0 lladdr 02:42:ac:12:00:04 ref 1 used 0/0/0 probes 1 STALE", "02:42:ac:12:00:04", "STALE"),
    ("172.18.255.200 dev br-9c1 FAILED", None, "FAILED"),
])
def test_neighbour_lines_of_iproute2_and_busybox(text, mac, state):
    (row,) = l2.parse_neigh(text)
    assert (row["mac"], row["state"], row["ip"]) == (mac, state, "172.18.255.200")


def test_arping_replies_of_iputils_and_busybox():
    iputils = "ARPING 172.18.255.200 from 172.18.0.1 br-9c1\nUnicast reply from 172.18.255.200 [02:42:AC:12:00:03]  0.6ms"
    busybox = "ARPING 172.18.255.200 from 172.18.0.5 eth0\nUnicast reply from 172.18.255.200 [02:42:ac:12:00:03] 0.05ms"
    assert l2.parse_arping(iputils) == l2.parse_arping(busybox) == ["02:42:ac:12:00:03"]
    assert l2.parse_arping("Sent 2 probe(s) (2 broadcast(s))\nReceived 0 response(s)") == []


def test_access_log_client_addresses_only_for_our_token():
    log = ('10.244.1.1 - - [27/Nov/2026] "GET /?kindlb=ab12-1 HTTP/1.1" 200 615 "-" "Python-urllib/3.11"\n'
           '172.18.0.1 - - [27/Nov/2026] "GET /?kindlb=ab12-2 HTTP/1.1" 200 615\n'
           '10.0.0.9 - - [27/Nov/2026] "GET /?kindlb=other-1 HTTP/1.1" 200 615\n')
    assert l2.parse_access_log(log, "ab12") == ["10.244.1.1", "172.18.0.1"]


def test_policy_summary_says_whether_the_source_ip_was_kept():
    frame = pd.DataFrame([{"pod": "a", "node": "w1", "client address": "172.18.0.1", "requests": 5,
                           "whose address": "this host"},
                          {"pod": "b", "node": "w2", "client address": None, "requests": 0, "whose address": ""}])
    frame.attrs.update(policy="Local", announcer="w1", host="172.18.0.1")
    s = l2.policy_summary(frame)
    assert s["source IP kept"] is True and s["pods hit"] == 1 and s["nodes with pods hit"] == ["w1"]
    frame.loc[0, "client address"] = "10.244.1.1"
    assert l2.policy_summary(frame)["source IP kept"] is False


@pytest.mark.parametrize("call, words", [
    (lambda: l2.neighbours("not-an-ip"), "is not an IP address"),
    (lambda: l2.neighbours("8.8.8.8", via="host"), "is not on the kind network"),
    (lambda: l2.neighbours("172.18.255.1", via="docker"), "via must be 'host' or 'container'"),
])
def test_bad_input_stops_before_any_traffic(call, words, monkeypatch):
    import ipaddress

    class Net:
        def subnet(self, family=4):
            return ipaddress.ip_network("172.18.0.0/16")

    monkeypatch.setattr("kindlb_helpers._cluster.dockernet.kind_network", lambda *a, **k: Net())
    with pytest.raises(kh.KindlbError, match=words):
        call()


def test_bad_traffic_policy_and_replicas_are_refused_before_the_cluster():
    with pytest.raises(kh.KindlbError, match="'Cluster' or 'Local'"):
        l2.set_traffic_policy(None, "Balanced")
    with pytest.raises(kh.KindlbError, match="whole number from 1 to 50"):
        l2.scale(None, 0)


def test_announcer_commands_name_the_context_and_the_event():
    text = l2.announcer_steps("kindlb", "nginx", "default").text()
    assert "kubectl --context kind-kindlb describe service nginx" in text
    assert "nodeAssigned" in text and "serviceAnnounced" in text


def test_documented_behaviour_is_in_our_words():
    for word in ("memberlist", "gratuitous ARP", "cache"):
        assert word in l2.DOCUMENTED
    assert l2.FAILOVER_LIMIT == 90


def test_the_package_names_every_kh_l2_call_of_the_notebooks_and_each_module_keeps_to_its_size():
    import json
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    used = set()
    for nb in (root / "notebooks").glob("*.ipynb"):
        for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
            used |= set(re.findall(r"\bkh\.l2\.(\w+)", "".join(cell["source"])))
    assert used and used <= set(l2.__all__), sorted(used - set(l2.__all__))
    assert all(hasattr(l2, n) for n in l2.__all__)
    # that the __init__ only re-exports, and every module's size: tests/test_layers.py (for every package)


def _scripted(monkeypatch, entries, announcers):
    """settle() with the client's entry and MetalLB's announcer read from lists, one item per look (the
    last one repeats); patched where settle reads them (kindlb_helpers._lesson.l2.where)."""
    from kindlb_helpers._lesson.l2 import where

    looks = []

    def nxt(seq):
        return seq[min(len(looks), len(seq) - 1)]

    def entry(kind, ip, via, image):
        got = nxt(entries)
        looks.append(got)
        return got

    monkeypatch.setattr(where, "entry_node", entry)
    monkeypatch.setattr(where, "current_announcer", lambda kind, name, namespace: nxt(announcers))
    monkeypatch.setattr(where, "checked_ip", lambda ip: str(ip))
    return looks


def test_settle_waits_until_client_and_metallb_agree_for_a_second(monkeypatch):
    import time

    looks = _scripted(monkeypatch, ["w1", "w1", "w2"], ["w2"])  # the entry moves to w2 at the 3rd look, and stays
    start = time.monotonic()
    assert l2.settle(None, "172.18.255.200", timeout=10) == "w2"
    took = time.monotonic() - start
    assert 1.0 <= took < 5 and looks[:2] == ["w1", "w1"]


def test_settle_gives_none_when_they_never_agree_for_a_second(monkeypatch):
    import time

    _scripted(monkeypatch, ["w1", "w2"] * 50, ["w2"])  # agrees every other look only: never for a second
    start = time.monotonic()
    assert l2.settle(None, "172.18.255.200", timeout=1.5) is None
    assert 1.5 <= time.monotonic() - start < 5


class _Prober:
    def __init__(self, answers):
        self.answers = answers

    def since(self, t):
        return [a for a in self.answers if a.t >= t]


def test_the_counted_answer_comes_through_the_node_that_announces_the_ip_then():
    from kindlb_helpers._cluster.probe import Answer
    from kindlb_helpers._lesson.l2.failovers import _answer_through_announcer

    macs = {"w1": "02:00:00:00:00:01", "w2": "02:00:00:00:00:02"}
    old = [Answer(10.1, True, macs["w1"]), Answer(10.4, True, macs["w1"])]  # the old node keeps forwarding
    # w2 takes over at 10.2; the client's entry follows: counted through w2
    got = _answer_through_announcer(_Prober([*old, Answer(10.6, True, macs["w2"])]),
                                    [(10.0, "w1"), (10.2, "w2"), (10.4, "w2")], 10.0, "w2", macs)
    assert got.t == 10.6
    # w2 announces only until w1's new speaker takes the IP back at 11.0; the client never used w2:
    # counted is the first answer through w1 once w1 announces again, not one from before
    samples = [(10.0, "w1"), (10.2, "w2"), (10.8, "w2"), (11.0, "w1"), (11.2, "w1")]
    later = Answer(11.3, True, macs["w1"])
    assert _answer_through_announcer(_Prober([*old, later]), samples, 10.0, "w2", macs) is later
    assert _answer_through_announcer(_Prober(old), samples, 10.0, "w2", macs) is None
    assert _answer_through_announcer(_Prober([*old, Answer(11.3, False, None)]), samples, 10.0, "w2", macs) is None
    # while w2 still announces, answers through the old node do not count
    assert _answer_through_announcer(_Prober([*old, later]), samples[:3], 10.0, "w2", macs) is None


def test_answers_before_the_move_end_where_the_host_first_uses_another_mac_not_at_the_clusters_record():
    from kindlb_helpers._lesson.l2.failover_report import Failover

    old, new = "02:00:00:00:00:01", "02:00:00:00:00:02"
    # the host uses the new MAC from 5.6 s; the cluster records the new announcer at 5.9 s
    rows = [(-0.5, True, old), (0.2, True, old), (0.5, False, old), (0.8, True, old), (5.0, True, None),
            (5.6, True, new), (5.9, True, new), (6.2, True, new)]
    timeline = pd.DataFrame([{"seconds": s, "answered": ok, "MAC for the IP": m} for s, ok, m in rows])

    def moved(answered_after):
        return Failover("172.18.255.200", "node", "w1", "w2", old, new, 5.9, 5.7, answered_after, 4.2,
                        30.0, "w1", timeline, None)

    f = moved(5.6)
    assert f.moved_at == 5.6
    # after the failure, before the move, answered: 0.2, 0.8 and 5.0 (no MAC read then); not -0.5 or the failed 0.5
    assert list(f.answered_before_move["seconds"]) == [0.2, 0.8, 5.0]
    assert f.values()["answered_before_move"] == 3 and f.values()["moved"] == 5.6
    assert f.values()["sent_before_move"] == 4 and f.values()["sent"] == 5  # 0.2 .. 5.6, the first answer through w2
    assert f.values()["failed"] == 1  # 0.5, of the same requests
    row = f.summary().set_index("").loc["requests answered before that, through the old MAC (of those sent)", "after"]
    assert row == "3 of 4"
    # no request shows another MAC before the first counted answer (which went through the new announcer):
    # the move is bounded by that answer
    assert moved(0.7).moved_at == 0.7 and len(moved(0.7).answered_before_move) == 1
