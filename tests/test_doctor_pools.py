"""The doctor's "pool overlap" row and the parallel reading of other clusters' pools, with no cluster: loopback
listeners stand in for API servers that accept and never answer (or refuse), as in tests/test_context_isolation.py.

- The clusters are read at once: the second dead API server is asked before the first one's read timeout (3 s)
  has run out, which a one-by-one reading cannot do; the results keep the order given; the kubeconfig is left
  byte for byte as it was.
- A cluster that cannot be read is named as not read and the row does not pass.
- An overlap names both clusters, both pools, the shared range, and the command for that cluster's era.
"""
from __future__ import annotations

import pytest
from _loopback import Listener, write_kubeconfig

from kindlb_helpers._cluster import dockernet, metallb, network
from kindlb_helpers._cluster.kube import PROBE_TIMEOUT
from kindlb_helpers._cluster.metallb import ClusterPools, read_clusters_pools
from kindlb_helpers._core.pool import PoolRange
from kindlb_helpers._lesson.doctor_pools import overlap_row

pytestmark = pytest.mark.docker  # the docker tier: loopback servers and seconds of waiting (no Docker is asked)


@pytest.fixture
def silent():
    made: list[Listener] = []
    yield lambda: made.append(Listener()) or made[-1]
    for s in made:
        s.close()


def test_clusters_are_read_at_once_in_order(tmp_path, monkeypatch, silent):
    one, two = silent(), silent()
    path = write_kubeconfig(tmp_path / "config", {"prod": "https://127.0.0.1:1", "kind-one": f"http://127.0.0.1:{one.port}",
                                            "kind-refused": "http://127.0.0.1:1",
                                            "kind-two": f"http://127.0.0.1:{two.port}"})
    monkeypatch.setenv("KUBECONFIG", str(path))
    before = path.read_bytes()
    reads = read_clusters_pools(["one", "refused", "gone", "two"])
    assert [r.cluster for r in reads] == ["one", "refused", "gone", "two"]
    assert all(r.pools is None and r.why for r in reads), reads
    assert "no answer in time" in reads[0].why and "no answer in time" in reads[3].why
    assert "not found" in reads[2].why  # no context kind-gone: named, not an error
    assert one.accepted and two.accepted
    # one by one, the second is asked only after the first's read timed out: at least PROBE_TIMEOUT[1] later
    apart = abs(two.accepted[0] - one.accepted[0])
    assert apart < PROBE_TIMEOUT[1] - 0.5, f"the second cluster was asked {apart:.1f} s after the first"
    assert path.read_bytes() == before
    [gone] = read_clusters_pools(["gone"], kubeconfig=str(path))  # a kubeconfig named: the client reads, same words
    assert gone.pools is None and gone.why == reads[2].why

    skipped: list[str] = []  # the planner's view: this cluster left out, the others' failures in order
    assert metallb.other_clusters_pools("prod", ["refused", "prod", "gone"], skipped=skipped) == []
    assert [s.split(":")[0] for s in skipped] == ["kind-refused", "kind-gone"]


def _network(monkeypatch, clusters: list[str]) -> None:
    """The kind network holds CLUSTERS (the one thing here not read from a real Docker)."""
    monkeypatch.setattr(dockernet, "kind_network", lambda name=None: object())
    monkeypatch.setattr(network, "clusters_on", lambda net: list(clusters))


def test_a_cluster_that_does_not_answer_is_not_read_not_passing(tmp_path, monkeypatch, silent):
    dead = silent()
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "config", {
        "kind-dead": f"http://127.0.0.1:{dead.port}", "kind-refused": "http://127.0.0.1:1"})))
    _network(monkeypatch, ["dead", "refused"])
    row = overlap_row("kind")
    assert row["ok"] is None, row
    assert "not read: kind-dead (" in row["found"] and "kind-refused (" in row["found"], row
    assert "no answer in time" in row["found"] and row["fix"], row


def held(**pools) -> list[ClusterPools]:
    return [ClusterPools(c, [(p, PoolRange(s)) for p, s in specs], version=v) for c, (v, specs) in pools.items()]


def test_an_overlap_names_clusters_pools_range_and_the_era_s_command(monkeypatch):
    reads = held(**{"kl-a": ("v0.16.1", [("default", "172.18.255.0/24")]),
                    "kl-b": ("v0.12.1", [("default", "172.18.255.200-172.18.255.210")]),
                    "kl-c": ("v0.16.1", [("lab", "172.18.254.0/24"), ("more", "172.18.255.250/31")])})
    reads.append(ClusterPools("kl-d", None, "no answer in time"))
    _network(monkeypatch, [r.cluster for r in reads])
    monkeypatch.setattr(metallb, "read_clusters_pools", lambda clusters, *a, **k: reads)
    row = overlap_row("kind")
    assert row["ok"] is False, row
    assert "pool 'default' of cluster kl-a (172.18.255.0/24) and pool 'default' of cluster kl-b " \
           "(172.18.255.200-172.18.255.210) share 172.18.255.200-172.18.255.210 (11 addresses)" in row["found"]
    assert "pool 'default' of cluster kl-a (172.18.255.0/24) and pool 'more' of cluster kl-c (172.18.255.250/31) " \
           "share 172.18.255.250/31 (2 addresses)" in row["found"]
    assert "kl-c/lab" not in row["found"] and "172.18.254.0/24" not in row["found"]  # clear of the others
    assert "not read: kind-kl-d (no answer in time)" in row["found"]
    assert "kindlb pool --cluster kl-b   # a free range; then put it in the addresses of pool 'default'" in row["fix"]
    assert "kubectl --context kind-kl-b -n metallb-system edit configmap config" in row["fix"]  # v0.12.1
    assert "kubectl --context kind-kl-c -n metallb-system patch ipaddresspool more --type merge" in row["fix"]
    assert "$(kindlb pool --cluster kl-c)" in row["fix"]
    assert "(`kubectl --context kind-kl-b get svc -A`, `kubectl --context kind-kl-c get svc -A`)" in row["fix"]


def test_clear_pools_pass_and_one_cluster_has_nothing_to_overlap(monkeypatch):
    reads = held(**{"kl-a": ("v0.16.1", [("default", "172.18.255.0/25")]),
                    "kl-b": ("v0.16.1", [("default", "172.18.255.128/25")]),  # adjacent: clear
                    "kl-c": (None, [])})
    _network(monkeypatch, [r.cluster for r in reads])
    monkeypatch.setattr(metallb, "read_clusters_pools", lambda clusters, *a, **k: reads)
    row = overlap_row("kind")
    assert row["ok"] is True and "kl-a 172.18.255.0/25, kl-b 172.18.255.128/25, kl-c (none)" in row["found"], row
    _network(monkeypatch, ["kl-a"])
    row = overlap_row("kind")
    assert row["ok"] is True and "no other cluster's pool" in row["found"], row
    assert overlap_row("kind", docker=False)["ok"] is None


def test_the_recheck_after_applying_names_only_that_cluster_and_moves_it(monkeypatch):
    """``kh.doctor.check(cluster, checks=("pool overlap",))`` right after a pool was applied: that cluster's
    overlaps only, each fixed by moving that cluster's pool (the one that came last), not the other's."""
    from kindlb_helpers._lesson.doctor import check_environment

    reads = held(**{"kl-a": ("v0.16.1", [("default", "172.18.255.0/24")]),
                    "kl-b": ("v0.12.1", [("default", "172.18.255.200-172.18.255.210")]),
                    "kl-c": ("v0.16.1", [("lab", "172.18.254.0/24")])})
    _network(monkeypatch, [r.cluster for r in reads])
    monkeypatch.setattr(metallb, "read_clusters_pools", lambda clusters, *a, **k: reads)
    row = overlap_row("kind", cluster="kl-a")
    assert row["ok"] is False and row["found"].startswith("pool 'default' of cluster kl-b"), row
    assert "kubectl --context kind-kl-a -n metallb-system patch ipaddresspool default" in row["fix"], row
    assert "kind-kl-b" not in row["fix"], row
    row = overlap_row("kind", cluster="kl-c")
    assert row["ok"] is True, row  # kl-a and kl-b overlap, but not with kl-c: not kl-c's to fix
    [checked] = check_environment("kl-a", checks=("pool overlap",)).rows
    assert checked.check == "pool overlap" and checked.ok is False and "kl-b" in checked.found, checked
