"""The shell without a cluster: context pinning, the CLI, and pool planning on a real Docker network."""
from __future__ import annotations

import ipaddress
import random
import subprocess
import sys
import uuid

import pytest
import yaml
from _docker import docker
from test_dockernet import IMAGE, ensure_engine, ensure_image  # the engine/image helpers

import kindlb_helpers as kh
from kindlb_helpers._core.errors import ClusterNotFound, WrongContext
from kindlb_lab.probe import probe_image

pytestmark = pytest.mark.docker  # the docker tier: a Docker engine, Jupyter kernels or the wheel


def kubeconfig(tmp_path, *names: str) -> str:
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": names[-1],
        "clusters": [{"name": n, "cluster": {"server": "https://127.0.0.1:6443"}} for n in names],
        "users": [{"name": n, "user": {"token": "x"}} for n in names],
        "contexts": [{"name": n, "context": {"cluster": n, "user": n}} for n in names],
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_connect_is_pinned_to_the_kind_context(tmp_path):
    cfg = kubeconfig(tmp_path, "kind-kindlb", "production")  # production is the *current* context
    k = kh.cluster.connect("kindlb", kubeconfig=cfg)
    assert k.context == "kind-kindlb"
    assert k.api.configuration.host == "https://127.0.0.1:6443"
    with pytest.raises(WrongContext, match="refusing context 'production'.*allow_other_context=True"):
        kh.cluster.connect("kindlb", context="production", kubeconfig=cfg)
    assert kh.cluster.connect("kindlb", context="production", kubeconfig=cfg, allow_other_context=True).context == "production"
    with pytest.raises(ClusterNotFound, match="kind-other.*kind create cluster --name other"):
        kh.cluster.connect("other", kubeconfig=cfg)


def test_cli_sipcalc_prints_the_table():
    out = subprocess.run([sys.executable, "-m", "kindlb_helpers._tools.cli", "sipcalc", "172.19.0.1/16"],
                         capture_output=True, text=True, check=True).stdout
    assert "Usable range\t\t- 172.19.0.1 - 172.19.255.254" in out
    bad = subprocess.run([sys.executable, "-m", "kindlb_helpers._tools.cli", "sipcalc", "300.1.1.1/8"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "try 172.19.0.1/16" in bad.stderr


@pytest.fixture()
def fake_kind_network():
    """A docker network shaped like kind's, with two 'nodes' of cluster A and one plain container."""
    ensure_engine()
    ensure_image()
    name = f"kindlb-shell-{uuid.uuid4().hex[:6]}"
    third = random.randrange(1, 250)
    subnet = f"10.201.{third}.0/24"
    docker("network", "create", "--subnet", subnet, "--label", "kindlb.test=1", name)
    made = []
    try:
        for cname, labels in ((f"{name}-control-plane", ["io.x-k8s.kind.cluster=a", "io.x-k8s.kind.role=control-plane"]),
                              (f"{name}-worker", ["io.x-k8s.kind.cluster=a", "io.x-k8s.kind.role=worker"]),
                              (f"{name}-other", [])):
            args = ["run", "-d", "--name", cname, "--network", name]
            for label in labels:
                args += ["--label", label]
            docker(*args, IMAGE)
            made.append(cname)
        yield name, ipaddress.ip_network(subnet), made
    finally:
        for cname in made:
            docker("rm", "-f", cname, check=False)
        docker("network", "rm", name, check=False)


@pytest.mark.docker
def test_pool_plan_on_a_real_network(fake_kind_network, monkeypatch):
    name, subnet, containers = fake_kind_network
    monkeypatch.setenv("KIND_EXPERIMENTAL_DOCKER_NETWORK", name)
    net = kh.cluster.network()
    taken = kh.pool.taken(net, 4)
    labels = sorted(t.label for t in taken)
    assert labels == sorted(["gateway", f"node {containers[0]}", f"node {containers[1]}", f"container {containers[2]}"])
    frame = kh.pool.taken_table(taken)
    assert set(frame["what"]) == {"gateway", "node", "container"}
    pool, _ = kh.pool.plan_for(net, 4)
    assert str(pool) == f"{subnet.network_address + 193}-{subnet.network_address + 254}"
    # the CLI says the same, and lists what it avoided
    out = subprocess.run([sys.executable, "-m", "kindlb_helpers._tools.cli", "pool", "--cluster", "a", "-v"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(pool)
    assert f"node {containers[1]}" in out.stderr and "gateway" in out.stderr
    # a pool that hits a container is refused with its name
    ip = next(t.range.first for t in taken if t.label.startswith("container"))
    with pytest.raises(kh.PoolError, match=f"overlaps container {containers[2]} {ip}"):
        kh.pool.validate(f"{ip}-{ip + 3}", net.subnet(4), taken)
    assert kh.cluster.on_network(net) == ["a"]


@pytest.mark.docker
def test_fetch_from_inside_the_network(fake_kind_network):
    """The macOS/Windows route: the page is fetched by a container on the network, not by the host."""
    name, subnet, _ = fake_kind_network
    image = probe_image()
    web = f"{name}-web"
    page = "<html><head><title>Hello from the kind network</title></head></html>"
    docker("run", "-d", "--name", web, "--network", name, image, "sh", "-c",
           f"mkdir -p /www && echo '{page}' > /www/index.html && httpd -f -p 80 -h /www")
    try:
        ip = docker("inspect", "-f", f"{{{{(index .NetworkSettings.Networks \"{name}\").IPAddress}}}}", web).stdout.strip()
        assert ipaddress.ip_address(ip) in subnet
        got = kh.app.fetch_in_network(ip, network=name, image=image, attempts=10)
        assert (got.status, got.title) == (200, "Hello from the kind network")
        with pytest.raises(kh.WaitTimeout, match="did not answer from inside network"):
            kh.app.fetch_in_network(ip, port=81, network=name, image=image, attempts=2)
    finally:
        docker("rm", "-f", web, check=False)
    # this test's throwaway probes (on its own network; a cluster's reused probe box lives on the kind network)
    leftovers = docker("ps", "-aq", "--filter", "label=app.kubernetes.io/managed-by=kindlb",
                       "--filter", f"network={name}").stdout.split()
    assert leftovers == [], "probe containers must be removed"
