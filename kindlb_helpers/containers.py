"""Throwaway containers on the kind network: they sit next to the nodes, on the same bridge.

On Docker Desktop (macOS, Windows) the kind network lives inside a VM that the host cannot
reach; a container on that network reaches the LoadBalancer IP just as a Linux host does.
"""
from __future__ import annotations

import re
import time

from . import hood as _hood
from .errors import KindlbError, WaitTimeout
from .objects import http_url

PROBE_IMAGE = "busybox:1.36"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kindlb"}


def run_on_kind_network(script: str, image: str = PROBE_IMAGE, network: str | None = None,
                        timeout: float = 120) -> tuple[int, str, str]:
    """Run ``sh -c script`` in a throwaway container on the kind network; (exit code, stdout, stderr).

    The container is removed whatever happens; a run longer than ``timeout`` counts as exit 124.
    """
    from .dockernet import docker_client, kind_network_name

    client = docker_client()
    box = client.containers.run(image, ["sh", "-c", script], network=network or kind_network_name(),
                                detach=True, labels=MANAGED_BY)
    try:
        try:
            code = box.wait(timeout=timeout).get("StatusCode", 1)
        except Exception:  # the bound ran out: something hangs
            code = 124
        out = box.logs(stdout=True, stderr=False).decode(errors="replace")
        err = box.logs(stdout=False, stderr=True).decode(errors="replace")
    finally:
        box.remove(force=True)
    return code, out, err


def fetch_in_network(ip, port: int = 80, path: str = "/", network: str | None = None,
                     image: str = PROBE_IMAGE, attempts: int = 30, delay: int = 1):
    """GET the page from a throwaway container on the kind network (busybox ``wget``).

    Returns an :class:`kindlb_helpers.app.Page` whose hood shows the ``docker run`` line.
    """
    from .app import Page
    from .dockernet import kind_network_name

    if not 1 <= attempts <= 300:
        raise KindlbError(f"attempts must be between 1 and 300 (got {attempts})")
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
