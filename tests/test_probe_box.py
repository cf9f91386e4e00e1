"""One probe container per cluster (issue 26 item 4): started once, reused by every caller, removed on request.

Docker tier: a network made here (not kind's), a busybox httpd on it as the "LoadBalancer", and a probe image
with exactly the offline lab's busybox applets (scripts must not need more than the lab's image has).
"""
from __future__ import annotations

import subprocess
import threading
import time
import uuid

import pytest
from _docker import docker

from kindlb_helpers._cluster import containers
from kindlb_helpers._cluster.probe import Prober, get_many
from kindlb_helpers._core.errors import LabError

pytestmark = pytest.mark.docker

IMAGE = "kindlb-test/busybox-probe:local"
NET = f"kindlb-test-probe-{uuid.uuid4().hex[:6]}"
CLUSTER = f"kt-{uuid.uuid4().hex[:6]}"


def _image() -> None:
    """The lab's probe image, built by the lab's own builder under a test tag: Debian's busybox-static and the
    lab's applets."""
    from kindlb_lab.probe import probe_image

    try:
        probe_image(IMAGE)
    except LabError as exc:  # busybox-static is not installed
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def site(monkeypatch_module):
    """A network and an httpd on it: (its address, the page's title)."""
    if docker("info", check=False).returncode != 0:
        pytest.skip("no Docker engine")
    _image()
    docker("network", "create", "--subnet", "10.213.9.0/24", NET)
    monkeypatch_module.setenv("KIND_EXPERIMENTAL_DOCKER_NETWORK", NET)
    web = f"kindlb-test-web-{uuid.uuid4().hex[:6]}"
    try:
        docker("run", "-d", "--name", web, "--network", NET, "--ip", "10.213.9.80", IMAGE, "sh", "-c",
               "mkdir -p /www && echo '<title>probe test</title>' > /www/index.html && httpd -f -p 80 -h /www")
        yield "10.213.9.80"
    finally:
        containers.remove_probe_box(CLUSTER)
        docker("rm", "-f", web, check=False)
        docker("network", "rm", NET, check=False)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_started_once_then_reused_even_by_two_callers_at_once(site):
    containers.remove_probe_box(CLUSTER)
    got: list = []
    threads = [threading.Thread(target=lambda: got.append(containers.probe_box(CLUSTER, IMAGE))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == 3 and sum(b.started for b in got) == 1, got
    ids = docker("ps", "-q", "--filter", f"label={containers.PROBE_FOR}={CLUSTER}").stdout.split()
    assert len(ids) == 1
    again = containers.probe_box(CLUSTER, IMAGE)
    assert not again.started and again.name == containers.probe_name(CLUSTER)
    assert docker("ps", "-q", "--filter", f"label={containers.PROBE_FOR}={CLUSTER}").stdout.split() == ids


def test_a_script_runs_in_it_with_its_exit_code_output_and_bound(site):
    box = containers.probe_box(CLUSTER, IMAGE)
    assert box.run("echo out; echo err >&2; exit 3") == (3, "out\n", "err\n")
    t0 = time.monotonic()
    code, _, _ = box.run("sleep 30", timeout=1)
    assert code == 124 and time.monotonic() - t0 < 10


def test_a_reused_container_is_cheaper_than_a_throwaway_one(site):
    containers.probe_box(CLUSTER, IMAGE)
    t0 = time.monotonic()
    containers.probe_run("true", cluster=CLUSTER, image=IMAGE, network=NET)
    reused = time.monotonic() - t0
    t0 = time.monotonic()
    containers.probe_run("true", image=IMAGE, network=NET)
    throwaway = time.monotonic() - t0
    assert reused < throwaway, (reused, throwaway)


def test_the_page_and_requests_come_from_the_probe_container(site):
    page = containers.fetch_in_network(site, network=NET, image=IMAGE, cluster=CLUSTER, attempts=3)
    assert page.status == 200 and page.title == "probe test"
    shown = page.hood.text()
    assert f"docker exec {containers.probe_name(CLUSTER)} wget -qO- http://{site}:80/" in shown
    assert f"--name {containers.probe_name(CLUSTER)}" in shown and "docker start" in shown
    sent = get_many(site, 5, "tok", via="container", image=IMAGE, cluster=CLUSTER)
    box_ip = docker("inspect", "-f", "{{(index .NetworkSettings.Networks \"" + NET + "\").IPAddress}}",
                    containers.probe_name(CLUSTER)).stdout.strip()
    assert sent.failed == 0 and sent.client == box_ip and sent.mac  # the box's own address and ARP entry


def test_the_neighbour_entry_fresh_and_reused(site):
    from kindlb_helpers._lesson.l2.neigh import forget_line, neighbours

    web_mac = docker("inspect", "-f", "{{(index .NetworkSettings.Networks \"" + NET + "\").MacAddress}}",
                     "--type", "container", _web_name()).stdout.strip().lower()
    fresh = neighbours(site, via="container", image=IMAGE, cluster=CLUSTER, fresh=True)
    assert fresh.attrs["mac"] == web_mac
    assert forget_line(site) in fresh.attrs["hood"].text()
    kept = neighbours(site, via="container", image=IMAGE, cluster=CLUSTER, arping=False)
    assert kept.attrs["mac"] == web_mac and "ip neigh flush" not in kept.attrs["hood"].text()
    # the shown line really forgets: the entry is there (kept just used it), then gone, with no complaint
    box = containers.probe_box(CLUSTER, IMAGE, NET)
    code, out, err = box.run(f"busybox ip neigh show {site}; echo --; {forget_line(site)}; "
                             f"busybox ip neigh show {site}")
    before, _, after = out.partition("--")
    assert code == 0 and not err.strip(), (code, err)
    assert web_mac in before.lower() and site not in after, out


def test_nobody_answers_costs_one_arp_give_up_not_two(site):
    """An address nobody holds: the request's ARP and arping run side by side (about 3 s, not 3 + 2)."""
    from kindlb_helpers._lesson.l2.neigh import neighbours

    t0 = time.monotonic()
    frame = neighbours("10.213.9.99", via="container", image=IMAGE, cluster=CLUSTER, fresh=True)
    took = time.monotonic() - t0
    assert frame.attrs["mac"] is None and not (frame["source"] == "arping (container)").any()
    assert took < 4.8, took


def test_a_prober_loops_in_the_box_and_stops(site):
    name = containers.probe_name(CLUSTER)
    with Prober(site, via="container", image=IMAGE, interval=0.2, cluster=CLUSTER) as p:
        time.sleep(2)
    answers = p.stop()
    assert sum(a.ok for a in answers) >= 3 and all(a.ok for a in answers), answers
    time.sleep(1.5)  # a wget started just before the kill ends within its 1 s bound
    procs = docker("exec", name, "busybox", "ps").stdout
    assert "wget" not in procs and "kindlb-prober" not in procs, procs
    assert docker("ps", "-q", "--filter", f"name={name}").stdout.strip()  # the box stays


def test_removed_and_removed_again(site):
    containers.probe_box(CLUSTER, IMAGE)
    done = containers.remove_probe(CLUSTER)
    assert "removed" in done.headline and f"docker rm -f {containers.probe_name(CLUSTER)}" in done.hood.text()
    assert not docker("ps", "-aq", "--filter", f"label={containers.PROBE_FOR}={CLUSTER}").stdout.strip()
    assert "was not there" in containers.remove_probe(CLUSTER).headline


_WEB: list[str] = []


def _web_name() -> str:
    if not _WEB:
        out = docker("ps", "--filter", f"network={NET}", "--format", "{{.Names}}").stdout.split()
        _WEB.extend(n for n in out if n.startswith("kindlb-test-web-"))
    return _WEB[0]


def teardown_module():
    subprocess.run(["docker", "rm", "-f", containers.probe_name(CLUSTER)], capture_output=True)
