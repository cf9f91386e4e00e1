"""Containers on the kind network: they sit next to the nodes, on the same bridge. Each cluster has one probe
container, started on first use and reused (``docker exec``) by every notebook; a throwaway one serves callers
that name no cluster.

On Docker Desktop (macOS, Windows) the kind network lives inside a VM that the host cannot
reach; a container on that network reaches the LoadBalancer IP just as a Linux host does.
"""
from __future__ import annotations

import re
import shlex
import socket
import time
from dataclasses import dataclass

from .._core import hood as _hood
from .._core.errors import BadInput, DockerError, KindlbError, WaitTimeout
from .._core.objects import http_url
from .._core.page import Page
from .._core.versions import PROBE_ONLINE_IMAGE
from .._core.views import Viewed
from .waits import ticks

PROBE_IMAGE = PROBE_ONLINE_IMAGE  # versions.env; the lab passes its own (versions.PROBE_IMAGE)
MANAGED_BY = {"app.kubernetes.io/managed-by": "kindlb"}


def run_on_kind_network(script: str, image: str = PROBE_IMAGE, network: str | None = None,
                        timeout: float = 120) -> tuple[int, str, str]:
    """Run ``sh -c script`` in a throwaway container on the kind network; (exit code, stdout, stderr).

    The container is removed whatever happens; a run longer than ``timeout`` counts as exit 124.
    """
    from .dockernet import docker_client, kind_network_name, translate

    client = docker_client()
    _ensure_image(client, image)
    with translate(client, f"start a {image} container on the kind network"):
        box = client.containers.run(image, ["sh", "-c", script], network=network or kind_network_name(),
                                    detach=True, labels=MANAGED_BY)
    try:
        with translate(client, f"run the {image} container"):
            try:
                code = box.wait(timeout=timeout).get("StatusCode", 1)
            except OSError:  # the read timed out (requests raises an OSError): the bound ran out, something hangs
                code = 124
            out = box.logs(stdout=True, stderr=False).decode(errors="replace")
            err = box.logs(stdout=False, stderr=True).decode(errors="replace")
    finally:
        with translate(client, f"remove the {image} container"):
            box.remove(force=True)
    return code, out, err


def probe_run(script: str, *, cluster: str | None = None, image: str | None = None, network: str | None = None,
              timeout: float = 120, why: str = "") -> tuple[int, str, str, list]:
    """SCRIPT (``sh -c``) on the kind network: in CLUSTER's probe container (``docker exec``; started on first use),
    or, with no cluster named, in a throwaway container (``docker run --rm``). (exit code, stdout, stderr, the
    hood's steps that do the same by hand); longer than TIMEOUT: exit 124."""
    from .dockernet import kind_network_name
    from .sources import resolve

    if cluster is not None:
        box = probe_box(cluster, image, network)
        return (*box.run(script, timeout), box.steps(script, why))
    image, net = resolve("probe", image).value, network or kind_network_name()
    code, out, err = run_on_kind_network(script, image, net, timeout=timeout)
    return code, out, err, [_hood.Step(shlex.join(["docker", "run", "--rm", "--network", net, image, "sh", "-c",
                                                   script]), why)]


def fetch_in_network(ip, port: int = 80, path: str = "/", network: str | None = None,
                     image: str | None = None, attempts: int = 30, delay: int = 1, cluster: str | None = None):
    """GET the page from a container on the kind network (busybox ``wget``): CLUSTER's probe container, or a
    throwaway one when no cluster is named.

    Returns an :class:`kindlb_helpers._core.page.Page` whose hood shows the ``docker`` lines.
    """
    from .dockernet import kind_network_name

    if not 1 <= attempts <= 300:
        raise BadInput(f"attempts must be between 1 and 300 (got {attempts})")
    net = network or kind_network_name()
    url = http_url(ip, port, path)
    script = (f"i=0; while [ $i -lt {attempts} ]; do i=$((i+1)); "
              f"if wget -q -S -O /tmp/body.$$ '{url}' 2>/tmp/head.$$; then cat /tmp/head.$$ >&2; cat /tmp/body.$$; "
              f"echo \"kindlb-attempts $i\" >&2; busybox rm -f /tmp/body.$$ /tmp/head.$$; exit 0; fi; "
              f"sleep {delay}; done; "
              "cat /tmp/head.$$ >&2; busybox rm -f /tmp/body.$$ /tmp/head.$$; exit 1")
    start = time.monotonic()
    # (no wget -T: Debian's static busybox crashes with it; the container's bound limits the run)
    code, body, head, steps = probe_run(script, cluster=cluster, image=image, network=net,
                                        timeout=attempts * (delay + 5) + 30)
    if code != 0:
        head = head or "no answer in time"
        raise WaitTimeout(f"{url} did not answer from inside network {net} after {attempts} tries: "
                          f"{head.strip()[-300:]}")
    status = re.search(r"HTTP/[\d.]+ (\d{3})", head)
    server = re.search(r"^\s*Server: (.+)$", head, re.M | re.I)
    tries = re.search(r"kindlb-attempts (\d+)", head)
    title = re.search(r"<title>(.*?)</title>", body, re.S | re.I)
    return Page(url, int(status.group(1)) if status else 200, title.group(1).strip() if title else None,
                server.group(1).strip() if server else None, int(tries.group(1)) if tries else 1,
                time.monotonic() - start, body,
                _hood.fetch_steps(url, net, image or PROBE_IMAGE) if cluster is None else
                _hood.Hood(f"GET {url} from {cluster}'s probe container on network {net}", [
                    steps[0], _hood.Step(shlex.join(["docker", "exec", probe_name(cluster), "wget", "-qO-", url]),
                                         "the container sits on the kind bridge, next to the nodes")]))


# ---------- which way the page is fetched: from the host, or from a container on the kind network ----------

@dataclass(frozen=True)
class Route(Viewed):
    """How notebook 5 reaches the LoadBalancer IP, and why that way (shown by the lesson layer's view)."""

    via: str  # "host" or "container"
    why: str
    asked: str = "auto"


def _local_address(ip: str) -> bool:
    """True when ``ip`` is an address of this machine (binding to it succeeds); sends nothing."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.bind((ip, 0))
            return True
        except OSError:
            return False


def choose_route(asked: str = "auto", network: str | None = None) -> Route:
    """``"host"`` where this machine sits on the kind bridge, ``"container"`` where it cannot
    (Docker Desktop on macOS/Windows keeps the bridge inside a VM). Decides in well under a second.

    ``asked="host"`` where the host cannot reach the bridge fails at once with the fix, instead of
    letting requests time out.
    """
    from .dockernet import docker_client, kind_network, translate

    if asked not in ("auto", "host", "container"):
        raise BadInput(f"probe_from must be 'auto', 'host' or 'container' (got {asked!r})")
    if asked == "container":
        return Route("container", "asked for (probe_from=\"container\"): a throwaway container on the kind network "
                                  "sends the requests, next to the nodes on the bridge", asked)
    client = docker_client()
    with translate(client, "ask Docker what it runs on"):
        info = client.info()
    desktop = "docker desktop" in str(info.get("OperatingSystem", "")).lower()
    net = kind_network(network)
    gateway = str(net.gateway(4) if 4 in net.gateways else net.gateway(6))
    if desktop or not _local_address(gateway):
        why = ("Docker Desktop keeps the kind network inside its VM" if desktop else
               f"the kind bridge's gateway {gateway} is not an address of this machine")
        if asked == "host":
            raise KindlbError(f"the host cannot reach the kind network ({why}): set probe_from = \"auto\" or "
                              "\"container\" and run the notebook again")
        return Route("container", why + ": a container on the kind network fetches the page instead", asked)
    return Route("host", f"this machine is the kind bridge's gateway ({gateway}): it reaches the pool's "
                         "addresses directly, by ARP on the bridge", asked)


# ---------- the probe container: one per cluster, started once, reused by every notebook, removed by 09 ----------

#: The label that says which kind cluster a probe container serves (``docker ps --filter label=...``).
PROBE_FOR = "io.kindlb.probe-for"
#: What the probe container runs: nothing, until a notebook ``docker exec``s a script in it.
_IDLE = "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"
#: busybox ``timeout`` ends a script that runs too long with SIGTERM (exit 143), or SIGKILL (137).
_TIMED_OUT = (124, 137, 143)


def probe_name(cluster: str) -> str:
    """The probe container of kind cluster CLUSTER.

    >>> probe_name("kindlb")
    'kindlb-probe-kindlb'
    """
    return f"kindlb-probe-{cluster}"


@dataclass(frozen=True)
class ProbeBox:
    """The probe container of one cluster: a busybox on the kind network that scripts are ``docker exec``-ed in.

    It has ``NET_ADMIN`` in its own network namespace only, so that a script may forget a neighbour entry
    (``ip neigh flush to IP``) and ask ARP afresh, as a new container would.
    """

    cluster: str
    name: str
    image: str
    network: str
    started: bool  # True: this call started it; False: it was running and is reused

    def start_line(self) -> str:
        """The shell line that starts it, or keeps the running one (what a person types)."""
        run = shlex.join(["docker", "run", "-d", "--name", self.name, "--network", self.network, "--cap-add",
                          "NET_ADMIN", "--label", f"{PROBE_FOR}={self.cluster}", self.image, "sh", "-c", _IDLE])
        return f"docker start {self.name} >/dev/null 2>&1 || {run}"

    def exec_line(self, script: str) -> str:
        """The ``docker exec`` line that runs SCRIPT in it."""
        return shlex.join(["docker", "exec", self.name, "sh", "-c", script])

    def steps(self, script: str, why: str) -> list:
        """The hood's two steps: the container (started once per cluster), then SCRIPT in it."""
        return [_hood.Step(self.start_line(), f"the cluster's probe container on network {self.network}: "
                                              "started once, reused by every notebook, removed by notebook 9"),
                _hood.Step(self.exec_line(script), why)]

    def run(self, script: str, timeout: float = 120) -> tuple[int, str, str]:
        """``sh -c script`` in the container; (exit code, stdout, stderr). Longer than TIMEOUT: exit 124."""
        from .dockernet import docker_client, translate

        client = docker_client()
        argv = ["busybox", "timeout", str(max(1, int(timeout))), "sh", "-c", script]
        with translate(client, f"run a script in the probe container {self.name}"):
            exec_id = client.api.exec_create(self.name, argv)["Id"]
            out, err = client.api.exec_start(exec_id, demux=True)
            code = client.api.exec_inspect(exec_id).get("ExitCode")
        code = 124 if code in _TIMED_OUT else (1 if code is None else code)
        return code, (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace")

    def stream(self, script: str):
        """Start SCRIPT in the container and return (exec id, a generator of its output chunks)."""
        from .dockernet import docker_client, translate

        client = docker_client()
        with translate(client, f"start a script in the probe container {self.name}"):
            exec_id = client.api.exec_create(self.name, ["sh", "-c", script], stderr=False)["Id"]
            return exec_id, client.api.exec_start(exec_id, stream=True)


def _ensure_image(client, image: str) -> None:
    from .dockernet import translate

    with translate(client, f"look for image {image}"):
        present = bool(client.images.list(name=image))
    if not present:
        try:
            with translate(client, f"pull {image}"):
                client.images.pull(image)
        except DockerError as exc:  # no registry, no internet, no such image
            raise DockerError(f"image {image} is not in Docker and could not be pulled ({exc}): "
                              "without internet load the offline lab's or a bundle's probe image "
                              "(kindlb bundle load FILE) and pass it as probe_image", status=exc.status) from exc


def probe_box(cluster: str, image: str | None = None, network: str | None = None) -> ProbeBox:
    """The probe container of CLUSTER on the kind network, running IMAGE: the one already there, else a new one.

    IMAGE None: the one the resolver picks (a loaded bundle's, the offline lab's, else the pinned busybox).

    A container of that name with another image or on another network is replaced; a stopped one is started.
    Two callers at once get the same container (the second finds the first's).
    """
    import docker

    from .._core.names import kind_cluster_name
    from .dockernet import docker_client, kind_network_name, translate
    from .sources import resolve

    kind_cluster_name(cluster)
    image = resolve("probe", image).value
    net = network or kind_network_name()
    name = probe_name(cluster)
    client = docker_client()
    for _ in ticks(10.0, every=0.1):  # another caller may be making or starting it: look again, 10 s at most
        try:
            box = client.containers.get(name)
        except docker.errors.NotFound:
            box = None
        except (docker.errors.DockerException, OSError):
            with translate(client, f"look for the probe container {name}"):
                raise
        if box is not None:
            attrs = box.attrs
            same = (attrs.get("Config", {}).get("Image") == image
                    and net in (attrs.get("NetworkSettings", {}).get("Networks") or {}))
            if same and attrs.get("State", {}).get("Running"):
                return ProbeBox(cluster, name, image, net, started=False)
            try:  # the same one stopped (or just created by another caller): start it; another one: replace it
                box.start() if same else box.remove(force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if getattr(exc, "status_code", None) != 409:  # 409: another caller is at it: look again
                    with translate(client, f"{'start' if same else 'replace'} the probe container {name}"):
                        raise
            continue
        _ensure_image(client, image)
        try:
            client.containers.run(image, ["sh", "-c", _IDLE], name=name, network=net, detach=True,
                                  cap_add=["NET_ADMIN"], labels={**MANAGED_BY, PROBE_FOR: cluster})
            return ProbeBox(cluster, name, image, net, started=True)
        except docker.errors.APIError as exc:
            if getattr(exc, "status_code", None) != 409:  # 409: another caller made it meanwhile: look again
                with translate(client, f"start the probe container {name}"):
                    raise
    raise DockerError(f"the probe container {name} keeps changing under us: `docker rm -f {name}`, then re-run "
                      "this cell")


def remove_probe_box(cluster: str) -> bool:
    """Remove CLUSTER's probe container; True when there was one (notebook 9 calls this)."""
    from .dockernet import docker_client, translate

    client = docker_client()
    with translate(client, f"look for the probe container {probe_name(cluster)}"):
        found = client.containers.list(all=True, filters={"label": f"{PROBE_FOR}={cluster}"})
    for box in found:
        with translate(client, f"remove the probe container {box.name}"):
            box.remove(force=True)
    return bool(found)


def remove_probe(cluster: str) -> _hood.Done:
    """Remove CLUSTER's probe container (notebook 9); safe to run twice."""
    gone = remove_probe_box(cluster)
    name = probe_name(cluster)
    hood = _hood.Hood(f"the probe container of {cluster}", [
        _hood.Step(f"docker rm -f {name}", "it sits on the kind network, outside the cluster: deleting the "
                                           "cluster would leave it behind")])
    return _hood.Done(f"probe container {name} {'removed' if gone else 'was not there'}", hood)
