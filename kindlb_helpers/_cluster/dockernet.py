"""The Docker side of "find the kind network": subnets, gateways and node addresses.

This is the thin shell that talks to the Docker engine; everything it returns is plain data
(frozen dataclasses, `ipaddress` objects, pandas DataFrames) for the pure core to work on.

>>> net = kind_network()                      # doctest: +SKIP
>>> net.subnet(4), net.gateway(4)             # doctest: +SKIP
(IPv4Network('172.18.0.0/16'), IPv4Address('172.18.0.1'))
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

import docker
import docker.errors

from kindlb_helpers._core.errors import ClusterNotFound, DockerError, DockerUnavailable, KindNetworkNotFound

from .clusters import CLUSTER_LABEL, kind_clusters

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

ROLE_LABEL = "io.x-k8s.kind.role"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DEFAULT_NETWORK = "kind"
NETWORK_ENV = "KIND_EXPERIMENTAL_DOCKER_NETWORK"


def _unreachable(url: str, cause: BaseException) -> DockerUnavailable:
    return DockerUnavailable(
        f"Docker is not reachable at {url}: start Docker (e.g. `sudo systemctl start docker`, "
        f"or `dockerd &`), then re-run this cell ({type(cause).__name__}: {cause})"
    )


def _url_of(client: docker.DockerClient) -> str:
    return getattr(client.api, "base_url", None) or DEFAULT_DOCKER_HOST


@contextmanager
def translate(client: docker.DockerClient | None = None, what: str = "talk to Docker") -> Iterator[None]:
    """Turn the Docker SDK's errors into kindlb's: DockerUnavailable (engine gone), DockerError (it said no).

    KindNetworkNotFound and other kindlb errors raised inside pass through unchanged.
    """
    try:
        yield
    except docker.errors.NotFound as exc:
        raise DockerError(f"{what}: Docker has no such object ({exc.explanation or exc}): check the name, "
                          "or create it first", status=404) from exc
    except docker.errors.APIError as exc:
        status = getattr(exc, "status_code", None)
        raise DockerError(f"{what}: the Docker engine answered {status} ({exc.explanation or exc}): "
                          "fix what it names, then re-run this cell", status=status) from exc
    except (docker.errors.DockerException, OSError) as exc:  # requests' ConnectionError is an OSError
        url = _url_of(client) if client is not None else (os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST)
        raise _unreachable(url, exc) from exc


_talking = translate


#: Seconds the engine has to answer the first request (the API version, then a ping): a daemon that accepts
#: and never answers is reported by then. Later requests may take longer (a busy engine): REQUEST_TIMEOUT.
CONNECT_TIMEOUT = 5.0
REQUEST_TIMEOUT = 60.0


def docker_client(base_url: str | None = None) -> docker.DockerClient:
    """A Docker client that has answered a ping within CONNECT_TIMEOUT: `base_url`, else DOCKER_HOST, else the socket.

    >>> docker_client().ping()                    # doctest: +SKIP
    True
    """
    url = base_url or os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    try:
        client = (docker.DockerClient(base_url=base_url, timeout=CONNECT_TIMEOUT) if base_url
                  else docker.from_env(timeout=CONNECT_TIMEOUT))
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        if "timed out" in str(exc).lower() or isinstance(exc, TimeoutError):
            where = "DOCKER_HOST" if not base_url and os.environ.get("DOCKER_HOST") else "the address"
            raise DockerUnavailable(
                f"Docker at {url} accepted the connection but did not answer within {CONNECT_TIMEOUT:g} s: check "
                f"{where} (unset DOCKER_HOST to use the local socket), or restart the Docker daemon") from exc
        raise _unreachable(url, exc) from exc
    client.api.timeout = REQUEST_TIMEOUT  # it answered: later requests may take longer on a busy engine
    return client


def kind_network_name() -> str:
    """The network kind puts its nodes on: $KIND_EXPERIMENTAL_DOCKER_NETWORK, else "kind"."""
    return os.environ.get(NETWORK_ENV) or DEFAULT_NETWORK


@dataclass(frozen=True)
class Endpoint:
    """A container on a Docker network; `cluster`/`role` come from kind's node labels."""

    name: str
    ipv4: IPv4Address | None
    ipv6: IPv6Address | None
    cluster: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class KindNetwork:
    """A Docker network as kind sees it. `subnets` and `gateways` are keyed by family (4, 6).

    `extra_subnets` holds any further subnet of a family after the first (bridge networks
    have at most one per family, so it is normally empty). `endpoints` lists the running
    containers attached, sorted by name.
    """

    name: str
    id: str
    subnets: dict[int, IPNetwork] = field(hash=False)
    gateways: dict[int, IPAddress] = field(hash=False)
    endpoints: tuple[Endpoint, ...]
    ipv6_enabled: bool
    extra_subnets: tuple[IPNetwork, ...] = ()
    #: Docker's ``--ip-range`` per family: the block it hands container addresses out from (taken for pools).
    ip_ranges: dict[int, IPNetwork] = field(default_factory=dict, hash=False)

    def _family(self, family: int, what: str) -> None:
        if family not in (4, 6):
            raise ValueError(f"family must be 4 or 6, not {family!r}")
        if family not in self.subnets:
            have = ", ".join(f"IPv{f} {s}" for f, s in sorted(self.subnets.items())) or "none"
            hint = ("kind adds an IPv6 subnet only when it creates the network on an engine "
                    "with IPv6; use family=4" if family == 6 else
                    "re-create the network with an IPv4 subnet (delete the kind clusters, then "
                    "the network; kind creates it again)")
            raise KindNetworkNotFound(
                f"Docker network {self.name!r} has no IPv{family} {what} (it has: {have}): {hint}")

    def subnet(self, family: int = 4) -> IPNetwork:
        """The network's subnet of that family (4 or 6)."""
        self._family(family, "subnet")
        return self.subnets[family]

    def gateway(self, family: int = 4) -> IPAddress:
        """The bridge's address in that family: Docker's, or derived as Docker does."""
        self._family(family, "gateway")
        return self.gateways[family]


def _docker_default_gateway(subnet: IPNetwork, ip_range: IPNetwork | None = None) -> IPAddress:
    """The gateway Docker's default IPAM picks when none was given.

    It is the first free address of the pool (the --ip-range when one is set), and the
    subnet's own network address is never handed out.

    >>> _docker_default_gateway(ip_network("10.1.2.0/24"))
    IPv4Address('10.1.2.1')
    >>> _docker_default_gateway(ip_network("10.1.2.0/24"), ip_network("10.1.2.128/25"))
    IPv4Address('10.1.2.128')
    """
    start = ip_range.network_address if ip_range is not None else subnet.network_address
    return start + 1 if start == subnet.network_address else start


def _strip_prefix(value: str | None) -> IPAddress | None:
    """ "172.18.0.2/16" -> IPv4Address('172.18.0.2'); "" or None -> None."""
    return ip_address(value.split("/", 1)[0]) if value else None


def _parse_network(attrs: dict[str, Any], labels: dict[str, dict[str, str]]) -> KindNetwork:
    """A KindNetwork from `docker network inspect` data and {container id: labels}."""
    subnets: dict[int, IPNetwork] = {}
    gateways: dict[int, IPAddress] = {}
    ranges: dict[int, IPNetwork] = {}
    extra: list[IPNetwork] = []
    for cfg in (attrs.get("IPAM") or {}).get("Config") or []:
        if not cfg.get("Subnet"):
            continue
        subnet = ip_network(cfg["Subnet"], strict=False)
        if subnet.version in subnets:  # picked by family, never by list position
            extra.append(subnet)
            continue
        subnets[subnet.version] = subnet
        if cfg.get("IPRange"):
            ranges[subnet.version] = ip_network(cfg["IPRange"], strict=False)
        if cfg.get("Gateway"):
            gateways[subnet.version] = _strip_prefix(cfg["Gateway"])
        else:
            rng = ip_network(cfg["IPRange"], strict=False) if cfg.get("IPRange") else None
            gateways[subnet.version] = _docker_default_gateway(subnet, rng)
    endpoints = []
    for cid, ep in (attrs.get("Containers") or {}).items():
        lab = labels.get(cid, {})
        endpoints.append(Endpoint(name=ep.get("Name", "").lstrip("/"),
                                  ipv4=_strip_prefix(ep.get("IPv4Address")),
                                  ipv6=_strip_prefix(ep.get("IPv6Address")),
                                  cluster=lab.get(CLUSTER_LABEL), role=lab.get(ROLE_LABEL)))
    return KindNetwork(name=attrs["Name"], id=attrs["Id"], subnets=subnets, gateways=gateways,
                       endpoints=tuple(sorted(endpoints, key=lambda e: e.name)),
                       ipv6_enabled=bool(attrs.get("EnableIPv6")), extra_subnets=tuple(extra), ip_ranges=ranges)


def kind_network(name: str | None = None, client: docker.DockerClient | None = None) -> KindNetwork:
    """Inspect the kind network (default: `kind_network_name()`) and the containers on it.

    >>> kind_network().endpoints_frame()          # doctest: +SKIP
                   name cluster           role        ipv4                   ipv6
    0  kind-control-plane    kind  control-plane  172.18.0.2  fc00:f853:ccd:e793::2
    """
    name = name or kind_network_name()
    client = client or docker_client()
    with _talking(client, f"inspect network {name}"):
        try:
            net = client.networks.get(name)  # a full inspect, Containers included
        except docker.errors.NotFound as exc:
            raise KindNetworkNotFound(
                f"Docker network {name!r} does not exist: create a kind cluster first (kind "
                f"create cluster), or set {NETWORK_ENV} to the network your clusters use") from exc
        summaries = client.api.containers(filters={"network": net.id})
    labels = {c["Id"]: c.get("Labels") or {} for c in summaries}
    return _parse_network(net.attrs, labels)


def _node_sort_key(e: Endpoint) -> tuple[bool, str]:
    return (e.role != "control-plane", e.name)


def image_id(ref: str, client: docker.DockerClient | None = None) -> str | None:
    """The ID (``sha256:...``) of image REF (a tag or an ID) in the local Docker engine; None when it is not there.

    The one image inspector (``docker image inspect -f {{.Id}} REF``).
    """
    client = client or docker_client()
    with translate(client, f"inspect image {ref}"):
        try:
            return client.images.get(ref).id
        except docker.errors.ImageNotFound:
            return None


def kind_nodes(cluster: str, client: docker.DockerClient | None = None, *,
               network: str | None = None) -> list[Endpoint]:
    """The node containers of kind cluster `cluster`, control-plane first, then by name.

    Addresses are those on `network` (default: `kind_network_name()`); a stopped node has none.

    >>> [n.name for n in kind_nodes("kind")]      # doctest: +SKIP
    ['kind-control-plane', 'kind-worker']
    """
    client = client or docker_client()
    network = network or kind_network_name()
    with _talking(client):
        summaries = client.api.containers(all=True, filters={"label": f"{CLUSTER_LABEL}={cluster}"})
    if not summaries:
        known = ", ".join(kind_clusters()) or "none"
        raise ClusterNotFound(
            f"no kind cluster named {cluster!r} (clusters with node containers: {known}): "
            f"`kind get clusters` lists them; create one with `kind create cluster --name {cluster}`")
    nodes = []
    for c in summaries:
        labels = c.get("Labels") or {}
        nets = (c.get("NetworkSettings") or {}).get("Networks") or {}
        on = nets.get(network) or {}
        nodes.append(Endpoint(name=(c.get("Names") or [c["Id"][:12]])[0].lstrip("/"),
                              ipv4=_strip_prefix(on.get("IPAddress")),
                              ipv6=_strip_prefix(on.get("GlobalIPv6Address")),
                              cluster=labels.get(CLUSTER_LABEL), role=labels.get(ROLE_LABEL)))
    return sorted(nodes, key=_node_sort_key)


def pause(name: str, client: docker.DockerClient | None = None) -> None:
    """``docker pause NAME``: freeze every process of the container (a node that lost power says nothing)."""
    client = client or docker_client()
    with translate(client, f"docker pause {name}"):
        client.containers.get(name).pause()


def unpause(name: str, client: docker.DockerClient | None = None) -> None:
    """``docker unpause NAME`` when it is paused (safe to call twice)."""
    client = client or docker_client()
    with translate(client, f"docker unpause {name}"):
        c = client.containers.get(name)
        c.reload()
        if c.status == "paused":
            c.unpause()
