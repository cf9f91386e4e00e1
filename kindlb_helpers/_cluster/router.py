"""The BGP router of the lab: an FRR container on the kind network, and a client container whose route
to the BGP pool goes through it. kindlb starts and removes both; each carries the label
``kindlb.router=<cluster>``.

The router forwards (``ip_forward``), spreads connections over equal routes by their ports
(``fib_multipath_hash_policy=1``: source and destination address and port) and sends no ICMP redirects:
the nodes sit on the same bridge as the client, and a redirect would teach the client to skip the router.
Every setting is a ``docker create`` flag, so :func:`create_steps` shows the very command.
"""
from __future__ import annotations

import io
import shlex
import tarfile
import threading
import time
from dataclasses import dataclass

from .._core import hood as _hood
from .._core.errors import DockerError, KindlbError
from .waits import wait_until

LABEL = "kindlb.router"
ROLE = "kindlb.router.role"
CAPS = ("NET_ADMIN", "NET_RAW", "SYS_ADMIN")
ROUTER_SYSCTLS = {
    "net.ipv4.ip_forward": "1",
    "net.ipv4.fib_multipath_hash_policy": "1",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.eth0.send_redirects": "0",
}
CLIENT_SYSCTLS = {
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv4.conf.eth0.accept_redirects": "0",
}
FRR_FILES = ("frr.conf", "daemons")


def router_name(cluster: str) -> str:
    """The router container's name: ``<cluster>-bgp-router``."""
    return f"{cluster}-bgp-router"


def client_name(cluster: str) -> str:
    """The client container's name: ``<cluster>-bgp-client``."""
    return f"{cluster}-bgp-client"


@dataclass
class Box:
    """A running container of ours: name, image, its address on the kind network."""

    name: str
    image: str
    ip: str
    network: str


_local = threading.local()


def _client():
    """One Docker client per thread (a withdrawal polls the router from two threads at once)."""
    from .dockernet import docker_client

    client = getattr(_local, "client", None)
    if client is None:
        client = _local.client = docker_client()
    return client


def _translate(client, what: str):
    from .dockernet import translate

    return translate(client, what)


def has_image(image: str) -> bool:
    """True when the local Docker engine holds ``image`` (no pull)."""
    client = _client()
    with _translate(client, f"look for image {image}"):
        return bool(client.images.list(name=image))


def ensure_image(image: str) -> None:
    """``image`` is local, or pulled; a clear message when neither works (no registry offline)."""
    if has_image(image):
        return
    client = _client()
    try:
        with _translate(client, f"pull {image}"):
            client.images.pull(image)
    except KindlbError as exc:  # no registry, no internet, no such image: DockerError or DockerUnavailable
        from .stuck import local_instead

        instead = local_instead(image)
        fix = (f"the local image {instead} stands in for it: leave router_image = \"auto\" (the notebook picks it) "
               f"or set router_image = {instead!r}" if instead else
               "offline, build the lab's router (kindlb lab build) or load a bundle (kindlb bundle load FILE); "
               "router_image = \"auto\" then finds it")
        raise KindlbError(f"image {image} is not in Docker and could not be pulled ({type(exc.__cause__).__name__}): "
                          f"{fix}") from exc


def _flags(name: str, network: str, cluster: str, role: str, sysctls: dict, ip: str | None,
           entrypoint: list[str] | None) -> list[str]:
    out = ["--name", name, "--network", network]
    if ip:
        out += ["--ip", ip]
    for cap in CAPS if role == "router" else ("NET_ADMIN",):
        out += ["--cap-add", cap]
    for k, v in sysctls.items():
        out += ["--sysctl", f"{k}={v}"]
    out += ["--label", f"{LABEL}={cluster}", "--label", f"{ROLE}={role}"]
    if entrypoint:
        out += ["--entrypoint", entrypoint[0]]
    return out


def create_steps(cluster: str, image: str, network: str, ip: str | None) -> list[_hood.Step]:
    """``docker create`` / ``docker cp`` / ``docker start`` of the router, as a person types them."""
    name = router_name(cluster)
    steps = [_hood.Step(shlex.join(["docker", "rm", "-f", name]), "a router left from an earlier run goes",
                        may_fail="No such container"),
             _hood.Step(shlex.join(["docker", "create", *_flags(name, network, cluster, "router", ROUTER_SYSCTLS,
                                                                ip, None), image]),
                        "FRR on the kind network, next to the nodes; it forwards, spreads flows by port, "
                        "sends no redirects")]
    for f in FRR_FILES:
        steps.append(_hood.Step(shlex.join(["docker", "cp", f, f"{name}:/etc/frr/{f}"])))
    steps += [_hood.Step(shlex.join(["docker", "start", name]), "watchfrr starts zebra and bgpd"),
              _hood.Step(shlex.join(["docker", "exec", name, "vtysh", "-c", "show bgp summary"]))]
    return steps


def _files_tar(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _create(client, cluster: str, role: str, image: str, network: str, ip: str | None, sysctls: dict,
            entrypoint: list[str] | None = None, command: list[str] | None = None):
    api = client.api
    host = api.create_host_config(cap_add=list(CAPS if role == "router" else ("NET_ADMIN",)), sysctls=sysctls)
    endpoint = api.create_endpoint_config(ipv4_address=ip) if ip else api.create_endpoint_config()
    net = api.create_networking_config({network: endpoint})
    name = router_name(cluster) if role == "router" else client_name(cluster)
    return api.create_container(image, name=name, host_config=host, networking_config=net,
                                labels={LABEL: cluster, ROLE: role}, entrypoint=entrypoint, command=command,
                                detach=True)


def _address(client, name: str, network: str) -> str:
    c = client.containers.get(name)
    ip = ((c.attrs.get("NetworkSettings") or {}).get("Networks") or {}).get(network, {}).get("IPAddress")
    if not ip:
        raise DockerError(f"container {name} has no address on network {network}: is it running? "
                          f"(docker inspect {name})")
    return ip


def remove(cluster: str, role: str | None = None) -> list[str]:
    """Remove our router and/or client containers of ``cluster`` (by label); their names."""
    client = _client()
    labels = [f"{LABEL}={cluster}"] + ([f"{ROLE}={role}"] if role else [])
    with _translate(client, "remove the BGP containers"):
        found = client.containers.list(all=True, filters={"label": labels})
        for c in found:
            c.remove(force=True)
    return sorted(c.name for c in found)


def start_router(cluster: str, image: str, files: dict[str, str], network: str, ip: str | None = None,
                 timeout: float = 60) -> Box:
    """(Re)create the router with ``files`` in /etc/frr, start it, wait until bgpd answers vtysh."""
    ensure_image(image)
    client = _client()
    remove(cluster, "router")
    name = router_name(cluster)
    with _translate(client, f"start the router {name}"):
        created = _create(client, cluster, "router", image, network, ip, ROUTER_SYSCTLS)
        client.api.put_archive(created["Id"], "/etc/frr", _files_tar(files))
        client.api.start(created["Id"])
    stopped: list[str] = []

    def check() -> tuple[bool, str]:
        code, out = exec_in(name, ["vtysh", "-c", "show bgp summary json"], check=False)
        if code == 0 and out.strip().startswith("{"):
            return True, "bgpd answers"
        with _translate(client, f"look at the router {name}"):
            state = client.containers.get(name).status
        if state not in ("running", "created"):  # it will not answer: stop waiting, say why below
            stopped.append(state)
            return True, f"stopped ({state})"
        return False, out.strip()[-300:] or state

    wait_until(check, timeout=timeout, desc=f"router {name}: bgpd answers vtysh", progress=False,
               explain=lambda: f"see docker logs {name}")
    if stopped:
        with _translate(client, f"docker logs {name}"):
            logs = client.containers.get(name).logs(tail=20).decode(errors="replace")
        raise DockerError(f"router {name} stopped ({stopped[0]}): {logs.strip()[-500:]} (docker logs {name})")
    return Box(name, image, _address(client, name, network), network)


def start_client(cluster: str, image: str, network: str, routes: dict[str, str]) -> Box:
    """(Re)create the client: a container from the router image that idles, with ``routes``
    (prefix -> via) added, so that its packets for the BGP pool go to the router."""
    client = _client()
    remove(cluster, "client")
    name = client_name(cluster)
    with _translate(client, f"start the client {name}"):
        created = _create(client, cluster, "client", image, network, None, CLIENT_SYSCTLS,
                          entrypoint=["tail"], command=["-f", "/dev/null"])
        client.api.start(created["Id"])
    for prefix, via in routes.items():
        exec_in(name, ["ip", "route", "replace", prefix, "via", via])
    return Box(name, image, _address(client, name, network), network)


def client_steps(cluster: str, image: str, network: str, routes: dict[str, str]) -> list[_hood.Step]:
    """The ``docker run`` and ``ip route add`` lines of :func:`start_client`."""
    name = client_name(cluster)
    steps = [_hood.Step(shlex.join(["docker", "run", "-d", *_flags(name, network, cluster, "client", CLIENT_SYSCTLS,
                                                                   None, ["tail"]), image, "-f", "/dev/null"]),
                        "a client on the kind network, as a machine behind the router would be")]
    for prefix, via in routes.items():
        steps.append(_hood.Step(shlex.join(["docker", "exec", name, "ip", "route", "add", prefix, "via", via]),
                                "the BGP pool is reached through the router; nothing else knows the way"))
    steps.append(_hood.Step(shlex.join(["docker", "exec", name, "ip", "route"])))
    return steps


def exec_in(name: str, argv: list[str], check: bool = True, timeout: float | None = None) -> tuple[int, str]:
    """Run ``argv`` in container ``name``; (exit code, stdout+stderr). ``check``: raise on non-zero."""
    client = _client()
    with _translate(client, f"docker exec in {name}"):
        res = client.containers.get(name).exec_run(argv, demux=False)
    out = (res.output or b"").decode(errors="replace")
    if check and res.exit_code != 0:
        raise DockerError(f"`docker exec {name} {shlex.join(argv)}` failed ({res.exit_code}): {out.strip()[-300:]}")
    return res.exit_code, out


def vtysh(name: str, command: str) -> str:
    """``vtysh -c COMMAND`` in the router; its output."""
    return exec_in(name, ["vtysh", "-c", command])[1]
