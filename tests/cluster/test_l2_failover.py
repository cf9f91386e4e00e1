"""L2 failover: delete the speaker that announces a LoadBalancer IP; another node takes over and
the IP keeps answering HTTP. The test owns its namespace and pool and removes them afterwards."""
from __future__ import annotations

import ipaddress
import os
import time
import uuid

import pytest

from kindlb_helpers.kube import connect

lab = pytest.importorskip("kindlb_lab", reason="the offline lab is not installed: pip install -e lab/")
demo = pytest.importorskip("kindlb_lab.demo")

# lab_cluster is the session fixture of tests/cluster/conftest.py.
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(bool(os.environ.get("KINDLB_CLUSTER")),
                       reason="offline-lab test; KINDLB_CLUSTER selects another cluster"),
]

FAILOVER_TIMEOUT = 90  # seconds for another node to announce and the IP to answer


@pytest.fixture
def l2_service(lab_cluster):
    name = lab_cluster["name"]
    suffix = uuid.uuid4().hex[:6]
    ns, pool = f"kindlb-failover-{suffix}", f"kindlb-failover-{suffix}"
    subnet = lab.kind_subnet_v4()
    try:
        demo.install_metallb(name)
        demo.apply_pool(name, pool, demo.free_range(name, size=11), auto_assign=False)
        demo.deploy_nginx(name, ns, pool=pool)
        ip = demo.lb_ip(name, ns, "nginx", pool=pool)
        yield {"name": name, "namespace": ns, "ip": ip, "subnet": subnet}
    finally:
        demo.remove_demo(name, ns, pool)


def _wait_announcer(name: str, ns: str, exclude: str | None, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nodes = [n for _, n in demo.announcing_nodes(name, ns, "nginx") if n != exclude]
        if nodes:
            return nodes[-1]
        time.sleep(2)
    raise AssertionError(f"no nodeAssigned event (other than {exclude}) within {timeout} s")


def test_ip_survives_speaker_loss(l2_service):
    name, ns, ip = l2_service["name"], l2_service["namespace"], l2_service["ip"]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(l2_service["subnet"])
    assert "<title>Welcome to nginx!</title>" in demo.http_get(ip, subnet=l2_service["subnet"])

    first = _wait_announcer(name, ns, None, 60)
    speakers = connect(name).kubectl("-n", "metallb-system", "get", "pods", "-l", "component=speaker",
                           "--field-selector", f"spec.nodeName={first}", "-o", "name").split()
    assert len(speakers) == 1, speakers
    connect(name).kubectl("-n", "metallb-system", "delete", speakers[0], "--wait=false")

    # Another node announces the IP, and the IP answers again, within the bound.
    t0 = time.monotonic()
    second = _wait_announcer(name, ns, first, FAILOVER_TIMEOUT)
    assert second != first
    page = demo.http_get(ip, timeout=FAILOVER_TIMEOUT, subnet=l2_service["subnet"])
    assert "<title>Welcome to nginx!</title>" in page
    print(f"{ip}: {first} -> {second}, answering again after {time.monotonic() - t0:.1f} s")
