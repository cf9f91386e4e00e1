"""Throwaway containers on the kind network: they sit next to the nodes, on the same bridge.

On Docker Desktop (macOS, Windows) the kind network lives inside a VM that the host cannot
reach; a container on that network reaches the LoadBalancer IP just as a Linux host does.
"""
from __future__ import annotations

import html
import re
import socket
import time
from dataclasses import dataclass

from .._core import hood as _hood
from .._core.errors import BadInput, DockerError, KindlbError, WaitTimeout
from .._core.objects import http_url
from .._core.page import Page
from .._core.versions import PROBE_ONLINE_IMAGE

PROBE_IMAGE = PROBE_ONLINE_IMAGE  # versions.env; the lab passes its own (versions.PROBE_IMAGE)
MANAGED_BY = {"app.kubernetes.io/managed-by": "kindlb"}


def run_on_kind_network(script: str, image: str = PROBE_IMAGE, network: str | None = None,
                        timeout: float = 120) -> tuple[int, str, str]:
    """Run ``sh -c script`` in a throwaway container on the kind network; (exit code, stdout, stderr).

    The container is removed whatever happens; a run longer than ``timeout`` counts as exit 124.
    """
    from .dockernet import docker_client, kind_network_name, translate

    client = docker_client()
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


def fetch_in_network(ip, port: int = 80, path: str = "/", network: str | None = None,
                     image: str = PROBE_IMAGE, attempts: int = 30, delay: int = 1):
    """GET the page from a throwaway container on the kind network (busybox ``wget``).

    Returns an :class:`kindlb_helpers._core.page.Page` whose hood shows the ``docker run`` line.
    """
    from .dockernet import kind_network_name

    if not 1 <= attempts <= 300:
        raise BadInput(f"attempts must be between 1 and 300 (got {attempts})")
    net = network or kind_network_name()
    url = http_url(ip, port, path)
    script = (f"i=0; while [ $i -lt {attempts} ]; do i=$((i+1)); "
              f"if wget -q -S -O /tmp/body '{url}' 2>/tmp/head; then cat /tmp/head >&2; cat /tmp/body; "
              f"echo \"kindlb-attempts $i\" >&2; exit 0; fi; sleep {delay}; done; cat /tmp/head >&2; exit 1")
    start = time.monotonic()
    # (no wget -T: Debian's static busybox crashes with it; the container's bound limits the run)
    code, body, head = run_on_kind_network(script, image, net, timeout=attempts * (delay + 5) + 30)
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
                time.monotonic() - start, body, _hood.fetch_steps(url, net, image))


# ---------- which way the page is fetched: from the host, or from a container on the kind network ----------

@dataclass(frozen=True)
class Route:
    """How notebook 5 reaches the LoadBalancer IP, and why that way."""

    via: str  # "host" or "container"
    why: str
    asked: str = "auto"

    def _repr_html_(self) -> str:
        return (f"<div>Route: <b>{html.escape(self.via)}</b> "
                f"({'chosen automatically' if self.asked == 'auto' else 'as asked'}): {html.escape(self.why)}</div>")


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
