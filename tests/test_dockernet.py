"""kindlb_helpers._cluster.dockernet against a real Docker engine: no mocks.

A module fixture makes a throwaway dual-stack network with two kind-like node containers and a
plain one (all labelled with this run's id, all removed at teardown); each value the module
reports is compared with what the `docker` CLI's inspect output says. No traffic leaves the
host: the containers only sleep.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Network, ip_address, ip_network
from pathlib import Path

import pytest
from _docker import docker

from kindlb_helpers._cluster import clusters
from kindlb_helpers._cluster import dockernet as dn
from kindlb_helpers._core.errors import ClusterNotFound, DockerUnavailable, KindNetworkNotFound
from kindlb_helpers._lesson import tables

pytestmark = pytest.mark.docker  # the docker tier: a Docker engine, Jupyter kernels or the wheel

ENSURE = Path(__file__).resolve().parents[1] / "lab" / "kindlb_lab" / "ensure-docker.sh"
IMAGE = "kindlb-test/busybox:local"
RUN = uuid.uuid4().hex[:8]
RUN_LABEL = f"kindlb.test.run={RUN}"


# --- helpers -------------------------------------------------------------------------------

def engine_ready() -> subprocess.CompletedProcess | None:
    """Run ensure-docker.sh (idempotent; dockerd may have been restarted by someone else).

    None when the engine answers, else the script's result.
    """
    r = subprocess.run(["bash", str(ENSURE)], capture_output=True, text=True, timeout=300,
                       check=False)
    return None if docker("info", check=False).returncode == 0 else r


def ensure_engine() -> None:
    """The engine answers, or the test is skipped (failed when $CI is set)."""
    r = engine_ready()
    if r is None:
        return
    msg = f"no Docker engine; {ENSURE.name} exited {r.returncode}: {r.stderr.strip()[-500:]}"
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


def ensure_image() -> None:
    """Build a tiny image from Debian's busybox-static (no registry here), once."""
    if docker("image", "inspect", IMAGE, check=False).returncode == 0:
        return
    busybox = shutil.which("busybox") or "/bin/busybox"
    if not Path(busybox).exists():
        pytest.skip("busybox is not installed (apt-get install busybox-static)")
    with tempfile.TemporaryDirectory() as d:
        root = Path(d, "rootfs", "bin")
        root.mkdir(parents=True)
        shutil.copy2(busybox, root / "busybox")
        for app in ("sleep", "sh"):
            (root / app).symlink_to("busybox")
        tar = Path(d, "rootfs.tar")
        with tarfile.open(tar, "w") as t:
            t.add(root.parent, arcname=".")
        docker("import", "--change", 'CMD ["/bin/sleep", "3600"]', str(tar), IMAGE)


def used_ipv4() -> list[IPv4Network]:
    """IPv4 subnets of existing docker networks and of the host's routes."""
    used = []
    ids = docker("network", "ls", "-q").stdout.split()
    if ids:
        out = docker("network", "inspect", "--format",
                     "{{range .IPAM.Config}}{{.Subnet}} {{end}}", *ids).stdout
        used += [n for n in (ip_network(s, strict=False) for s in out.split()) if n.version == 4]
    for line in Path("/proc/net/route").read_text().splitlines()[1:]:
        f = line.split()
        dest, mask = (int.from_bytes(bytes.fromhex(x), "little") for x in (f[1], f[7]))
        if mask:  # skip the default route
            used.append(IPv4Network((dest, mask.bit_count()), strict=False))
    return used


def free_ipv4_24s(n: int) -> list[IPv4Network]:
    """n random 10.200.x.0/24 that overlap no docker network and no host route."""
    used = used_ipv4()
    free = [c for c in (IPv4Network(f"10.200.{x}.0/24") for x in range(256))
            if not any(c.overlaps(u) for u in used)]
    return random.sample(free, n)


def ula64() -> IPv6Network:
    """A random unique-local /64 (fdXX:XXXX:XXXX:YYYY::/64)."""
    return IPv6Network(((0xFD << 120) | (random.getrandbits(56) << 64), 64))


def create_network(name: str, *args: str) -> None:
    docker("network", "create", "--label", RUN_LABEL, *args, name)


def inspect(kind: str, name: str) -> dict:
    return json.loads(docker(kind, "inspect", name).stdout)[0]


def on_network(container: str, network: str) -> dict:
    """`docker inspect` view of one container on one network: IPAddress, Gateway, ..."""
    return inspect("container", container)["NetworkSettings"]["Networks"][network]


def addr(value: str):
    return ip_address(value) if value else None


def cleanup_run() -> None:
    if engine_ready() is not None:
        return  # no engine: nothing can be removed now
    ids = docker("ps", "-aq", "--filter", f"label={RUN_LABEL}", check=False).stdout.split()
    if ids:
        docker("rm", "-f", *ids, check=False)
    nets = docker("network", "ls", "-q", "--filter", f"label={RUN_LABEL}", check=False).stdout.split()
    if nets:
        docker("network", "rm", *nets, check=False)


# --- fixtures ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Lab:
    prefix: str
    cluster: str
    dual: str           # the dual-stack network, IPv6 subnet given first, IPv4 gateway given
    v4: IPv4Network
    v4_gateway: IPv4Address
    v6: IPv6Network
    multi: str          # a config-only network with two IPv4 subnets and one IPv6 subnet
    multi_subnets: tuple
    cp: str
    worker: str
    plain: str

    @property
    def containers(self) -> tuple[str, str, str]:
        return (self.cp, self.worker, self.plain)


@pytest.fixture(scope="module")
def lab_setup():
    ensure_engine()
    ensure_image()
    prefix = f"kindlb-test-dn-{RUN}"
    try:
        for attempt in range(5):  # another run may take the same /24 between pick and create
            v4, m1, m2 = free_ipv4_24s(3)
            v6, m6 = ula64(), ula64()
            try:
                create_network(f"{prefix}-dual", "--ipv6", "--subnet", str(v6),
                               "--subnet", str(v4), "--gateway", str(v4[254]))
                break
            except RuntimeError as exc:
                if "overlap" not in str(exc) or attempt == 4:
                    raise
        create_network(f"{prefix}-multi", "--config-only", "--subnet", str(m6),
                       "--subnet", str(m1), "--subnet", str(m2))
        # Names chosen so that name order (node-a < node-b) disagrees with role order.
        lab = Lab(prefix=prefix, cluster=f"kindlb-test-{RUN}", dual=f"{prefix}-dual", v4=v4,
                  v4_gateway=v4[254], v6=v6, multi=f"{prefix}-multi", multi_subnets=(m1, m2, m6),
                  cp=f"{prefix}-node-b", worker=f"{prefix}-node-a", plain=f"{prefix}-plain")
        for name, role in ((lab.cp, "control-plane"), (lab.worker, "worker"), (lab.plain, None)):
            kind_labels = [] if role is None else [
                "--label", f"io.x-k8s.kind.cluster={lab.cluster}",
                "--label", f"io.x-k8s.kind.role={role}"]
            docker("run", "-d", "--name", name, "--network", lab.dual, "--label", RUN_LABEL,
                   "--restart", "unless-stopped", *kind_labels, IMAGE)
        yield lab
    finally:
        cleanup_run()


@pytest.fixture
def lab(lab_setup: Lab) -> Lab:
    """The module's lab, after making sure the engine (and so the containers) are up again."""
    ensure_engine()
    for name in lab_setup.containers:
        for _ in range(30):
            if inspect("container", name)["State"]["Running"]:
                break
            docker("start", name, check=False)
    return lab_setup


@pytest.fixture
def client(lab: Lab):
    return dn.docker_client()


# --- no engine needed ----------------------------------------------------------------------

def test_kind_network_name_default_and_env(monkeypatch):
    monkeypatch.delenv("KIND_EXPERIMENTAL_DOCKER_NETWORK", raising=False)
    assert dn.kind_network_name() == "kind"
    monkeypatch.setenv("KIND_EXPERIMENTAL_DOCKER_NETWORK", "my-net")
    assert dn.kind_network_name() == "my-net"


def test_unreachable_base_url(tmp_path):
    url = f"unix://{tmp_path}/no-docker-here.sock"
    with pytest.raises(DockerUnavailable) as err:
        dn.docker_client(url)
    msg = str(err.value)
    assert msg.startswith(f"Docker is not reachable at {url}: start Docker")
    assert "re-run this cell" in msg


def test_unreachable_docker_host_env(tmp_path, monkeypatch):
    url = f"unix://{tmp_path}/nothing.sock"
    monkeypatch.setenv("DOCKER_HOST", url)
    with pytest.raises(DockerUnavailable, match=f"not reachable at {url}"):
        dn.docker_client()


# --- against the engine --------------------------------------------------------------------

@pytest.mark.docker
def test_client_pings(client):
    assert client.ping() is True


@pytest.mark.docker
def test_subnets_picked_by_family(lab, client):
    net = dn.kind_network(lab.dual, client)
    ref = inspect("network", lab.dual)
    assert (net.name, net.id, net.ipv6_enabled) == (lab.dual, ref["Id"], True)
    assert net.subnets == {4: lab.v4, 6: lab.v6}
    assert {ip_network(c["Subnet"]) for c in ref["IPAM"]["Config"]} == {lab.v4, lab.v6}
    assert (net.subnet(), net.subnet(4), net.subnet(6)) == (lab.v4, lab.v4, lab.v6)
    assert net.extra_subnets == ()
    hash(net)  # frozen and hashable despite the dict fields


@pytest.mark.docker
def test_subnets_by_family_when_ipv6_is_listed_first(lab, client):
    # Docker 20.10 lists IPv4 first; newer engines (and kind networks) may list IPv6 first.
    # Same real inspect data, Config reversed: the result must not change.
    attrs = client.networks.get(lab.dual).attrs
    attrs["IPAM"]["Config"] = list(reversed(attrs["IPAM"]["Config"]))
    assert ip_network(attrs["IPAM"]["Config"][0]["Subnet"]).version == 6
    net = dn._parse_network(attrs, {})
    assert net.subnets == {4: lab.v4, 6: lab.v6}
    assert net.gateways == {4: lab.v4_gateway, 6: lab.v6[1]}


@pytest.mark.docker
def test_gateways_given_and_derived(lab, client):
    net = dn.kind_network(lab.dual, client)
    cfg = {ip_network(c["Subnet"]).version: c for c in inspect("network", lab.dual)["IPAM"]["Config"]}
    assert "Gateway" not in cfg[6] or not cfg[6]["Gateway"]  # so the IPv6 one is derived
    seen = on_network(lab.plain, lab.dual)                  # what Docker actually gave the bridge
    assert net.gateway() == net.gateway(4) == lab.v4_gateway == ip_address(seen["Gateway"])
    assert net.gateway(6) == lab.v6[1] == ip_address(seen["IPv6Gateway"])


@pytest.mark.docker
@pytest.mark.parametrize("ip_range", [False, True], ids=["whole-subnet", "ip-range"])
def test_ipv4_only_network_derived_gateway(lab, client, ip_range):
    name = f"{lab.prefix}-v4-{'range' if ip_range else 'plain'}"
    (subnet,) = free_ipv4_24s(1)
    rng = list(subnet.subnets())[1]  # upper half: Docker then puts its gateway at rng[0]
    create_network(name, "--subnet", str(subnet), *(["--ip-range", str(rng)] if ip_range else []))
    try:
        docker("network", "connect", name, lab.plain)
        net = dn.kind_network(name, client)
        seen = on_network(lab.plain, name)
        assert net.subnets == {4: subnet} and not net.ipv6_enabled
        assert net.gateway(4) == ip_address(seen["Gateway"]) == (rng[0] if ip_range else subnet[1])
        assert [(e.name, e.ipv4, e.ipv6) for e in net.endpoints] == [
            (lab.plain, ip_address(seen["IPAddress"]), None)]
        for method in (net.subnet, net.gateway):
            with pytest.raises(KindNetworkNotFound, match=f"{name}' has no IPv6 .*use family=4"):
                method(6)
        assert tables.network_frame(net).to_dict("records") == [
            {"network": name, "family": 4, "subnet": str(subnet), "gateway": str(net.gateway())}]
    finally:
        docker("network", "disconnect", "-f", name, lab.plain, check=False)
        docker("network", "rm", name, check=False)


@pytest.mark.docker
def test_extra_subnets_of_one_family(lab, client):
    # A bridge allows one subnet per family; a config-only network keeps more. "First" means
    # first as the engine lists it: the docker CLI sends --subnet values in random order.
    listed = [ip_network(c["Subnet"]) for c in inspect("network", lab.multi)["IPAM"]["Config"]]
    first4, other4 = [s for s in listed if s.version == 4]
    assert {first4, other4, lab.multi_subnets[2]} == set(lab.multi_subnets)
    net = dn.kind_network(lab.multi, client)
    assert net.subnets == {4: first4, 6: lab.multi_subnets[2]}
    assert net.extra_subnets == (other4,)
    assert net.gateways == {4: first4[1], 6: lab.multi_subnets[2][1]}
    assert str(other4) in tables.shown(net)._repr_html_()


@pytest.mark.docker
def test_endpoints_match_docker_inspect(lab, client):
    net = dn.kind_network(lab.dual, client)
    assert sorted(e.name for e in net.endpoints) == sorted(lab.containers)
    assert [e.name for e in net.endpoints] == sorted(lab.containers)
    roles = {lab.cp: "control-plane", lab.worker: "worker", lab.plain: None}
    for e in net.endpoints:
        seen = on_network(e.name, lab.dual)
        assert e.ipv4 == addr(seen["IPAddress"]) and e.ipv4 in lab.v4
        assert e.ipv6 == addr(seen["GlobalIPv6Address"]) and e.ipv6 in lab.v6
        assert e.role == roles[e.name]
        assert e.cluster == (None if e.name == lab.plain else lab.cluster)


@pytest.mark.docker
def test_frames_and_html(lab, client):
    net = dn.kind_network(lab.dual, client)
    frame = tables.endpoints_frame(net)
    assert list(frame.columns) == ["name", "cluster", "role", "ipv4", "ipv6"]
    plain = frame.set_index("name").loc[lab.plain]
    seen = on_network(lab.plain, lab.dual)
    assert (plain["cluster"], plain["role"]) == ("", "")
    assert (plain["ipv4"], plain["ipv6"]) == (seen["IPAddress"], seen["GlobalIPv6Address"])
    assert tables.network_frame(net).to_dict("records") == [
        {"network": lab.dual, "family": 4, "subnet": str(lab.v4), "gateway": str(lab.v4_gateway)},
        {"network": lab.dual, "family": 6, "subnet": str(lab.v6), "gateway": str(lab.v6[1])}]
    page = tables.shown(net)._repr_html_()
    for text in (lab.dual, str(lab.v4), str(lab.v6), *lab.containers, seen["IPAddress"]):
        assert text in page


@pytest.mark.docker
def test_kind_nodes_control_plane_first(lab, client):
    nodes = dn.kind_nodes(lab.cluster, client, network=lab.dual)
    assert [(n.name, n.role, n.cluster) for n in nodes] == [
        (lab.cp, "control-plane", lab.cluster), (lab.worker, "worker", lab.cluster)]
    for n in nodes:
        seen = on_network(n.name, lab.dual)
        assert (n.ipv4, n.ipv6) == (addr(seen["IPAddress"]), addr(seen["GlobalIPv6Address"]))


@pytest.mark.docker
def test_env_var_route(lab, client, monkeypatch):
    monkeypatch.setenv("KIND_EXPERIMENTAL_DOCKER_NETWORK", lab.dual)
    net = dn.kind_network(client=client)
    assert net.name == lab.dual and len(net.endpoints) == 3
    nodes = dn.kind_nodes(lab.cluster, client)  # addresses on the env's network
    assert [n.ipv4 for n in nodes] == [addr(on_network(n.name, lab.dual)["IPAddress"]) for n in nodes]
    assert all(n.ipv4 is not None for n in nodes)


@pytest.mark.docker
def test_kind_clusters_lists_ours(lab, client, monkeypatch, tmp_path):
    """The one lister reads Docker's labels: it needs no kind program (kindlb run --offline without kind), and it
    names what `docker ps` shows by the label kind writes."""
    monkeypatch.setenv("KINDLB_KIND", str(tmp_path / "no-kind-here"))  # were kind asked, this would fail
    names = clusters.kind_clusters()
    assert lab.cluster in names and names == sorted(names)
    seen = docker("ps", "-a", "--filter", f"label={clusters.CLUSTER_LABEL}", "--format",
                  f'{{{{.Label "{clusters.CLUSTER_LABEL}"}}}}').stdout.split()
    assert names == sorted(set(seen))


def test_kind_clusters_through_the_docker_cli(monkeypatch, tmp_path):
    """A DOCKER_HOST the standard library cannot serve (ssh://): the docker CLI lists them, as kind does."""
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho \"$@\" > " + str(tmp_path / "args") + "\nprintf 'b\\na\\n\\nb\\n'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("DOCKER_HOST", "ssh://user@docker-host")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert clusters.kind_clusters() == ["a", "b"]
    assert (tmp_path / "args").read_text().split()[:4] == ["ps", "-a", "--filter", f"label={clusters.CLUSTER_LABEL}"]


@pytest.mark.docker
def test_unknown_cluster(lab, client):
    name = f"{lab.prefix}-nope"
    with pytest.raises(ClusterNotFound) as err:
        dn.kind_nodes(name, client)
    msg = str(err.value)
    assert f"no kind cluster named '{name}'" in msg and lab.cluster in msg
    assert "`kind get clusters`" in msg and f"kind create cluster --name {name}" in msg


@pytest.mark.docker
def test_missing_network(lab, client, monkeypatch):
    name = f"{lab.prefix}-missing"
    with pytest.raises(KindNetworkNotFound) as err:
        dn.kind_network(name, client)
    assert str(err.value) == (
        f"Docker network '{name}' does not exist: create a kind cluster first (kind create "
        "cluster), or set KIND_EXPERIMENTAL_DOCKER_NETWORK to the network your clusters use")
    monkeypatch.setenv("KIND_EXPERIMENTAL_DOCKER_NETWORK", name)
    with pytest.raises(KindNetworkNotFound, match=f"'{name}' does not exist"):
        dn.kind_network(client=client)


def test_two_lab_commands_starting_at_once_both_find_the_engine_ready():
    """ensure-docker.sh run twice at the same moment (two `kindlb_lab up` on one host, as a workshop host or two
    engineers do): both succeed. The runc wrapper is staged under a name of each process's own; with a shared
    staging name the second `mv` found the first one's copy gone ('cannot stat runc-wrapper.new')."""
    env = {**os.environ, "KINDLB_FORCE_RUNC_WRAPPER": "1"}
    runs = [subprocess.Popen(["bash", str(ENSURE)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env) for _ in range(4)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
    assert all(rc == 0 for rc, _ in results), [err[-300:] for rc, err in results if rc]
    assert docker("info", check=False).returncode == 0
