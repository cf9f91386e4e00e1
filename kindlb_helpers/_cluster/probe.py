"""Requests to a LoadBalancer IP, from the host or from a container on the kind network.

The two routes give the same results, so that a notebook measures the same thing on Linux (the host
sits on the kind bridge) and on Docker Desktop (it does not, but a container on the kind network
does):

- :func:`get_many`: ``n`` tagged requests (``/?kindlb=TOKEN-i``), how many failed, and the client's own
  address on the kind network (the address nginx logs when nothing rewrites it);
- :class:`Prober`: one request every ``interval`` seconds in the background, each answer stamped with
  ``time.monotonic()`` and the MAC the client's neighbour table holds for the IP after it.
"""
from __future__ import annotations

import re
import shlex
import threading
import time
import urllib.request
from dataclasses import dataclass, field

from .._core.errors import BadInput, KindlbError
from .._core.objects import http_url
from .commands import run
from .containers import MANAGED_BY, PROBE_IMAGE, probe_box, probe_name, probe_run

_INET = re.compile(r"inet (\d+\.\d+\.\d+\.\d+)/")
_LLADDR = re.compile(r"lladdr ((?:[0-9a-f]{2}:){5}[0-9a-f]{2})", re.I)


def host_neigh(ip, timeout: float = 10, check: bool = True) -> str:
    """``ip neigh show IP`` on this host: its neighbour-table line for IP (Linux's iproute2; elsewhere
    ToolMissing names the container route)."""
    return run(["ip", "neigh", "show", str(ip)], what="read this host's neighbour table", timeout=timeout,
               check=check, hint="`ip` is Linux's iproute2 (not on macOS/Windows): pass via='container' to look "
                                 "from a container on the kind network").stdout


def neigh_mac(text: str) -> str | None:
    """The MAC of the first ``ip neigh`` line that has one.

    >>> neigh_mac("172.18.255.200 dev br-1 lladdr 02:42:AC:12:00:03 REACHABLE")
    '02:42:ac:12:00:03'
    >>> neigh_mac("172.18.255.200 dev eth0  FAILED") is None
    True
    """
    m = _LLADDR.search(text or "")
    return m.group(1).lower() if m else None


def _get(url: str, timeout: float) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as resp:
            resp.read()
            return True
    except OSError:
        return False


def _check_route(via: str) -> str:
    if via not in ("host", "container"):
        raise BadInput(f"via must be 'host' or 'container' (where the host cannot reach the kind network), "
                       f"not {via!r}")
    return via


@dataclass(frozen=True)
class Sent:
    """What :func:`get_many` did: how many requests failed, from which client address, the MAC the
    client's neighbour table held for the IP afterwards, and the loop as a shell line."""

    failed: int
    client: str | None
    mac: str | None
    loop: str


def get_many(ip, n: int, token: str, via: str = "host", port: int = 80, image: str | None = None,
             timeout: float = 3, cluster: str | None = None) -> Sent:
    """Send ``n`` GETs to ``http://IP:PORT/?kindlb=TOKEN-i`` (i = 1..n), from the host or from a container on
    the kind network (CLUSTER's probe container; a throwaway one when no cluster is named). The client address
    is the container's on the kind network, or None from the host (the caller knows the host's: the bridge's
    gateway)."""
    _check_route(via)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1000:
        raise BadInput(f"requests must be a whole number from 1 to 1000 (got {n!r})")
    url = http_url(ip, port)
    if via == "host":
        failed = sum(not _get(f"{url}?kindlb={token}-{i}", timeout) for i in range(1, n + 1))
        loop = f'for i in $(seq 1 {n}); do curl -s -o /dev/null "{url}?kindlb={token}-$i"; done'
        return Sent(failed, None, neigh_mac(host_neigh(ip)), loop)
    script = (f"busybox ip -4 addr show eth0; i=1; f=0; while [ $i -le {n} ]; do "
              f"busybox timeout {int(timeout)} wget -q -O /dev/null \"{url}?kindlb={token}-$i\" 2>/dev/null "
              f"|| f=$((f+1)); i=$((i+1)); done; echo \"kindlb-failed $f\"; "
              f"echo \"kindlb-neigh $(busybox ip neigh show {ip})\"")
    code, out, err, steps = probe_run(script, cluster=cluster, image=image, timeout=n * (timeout + 1) + 60)
    m, addr, neigh = re.search(r"kindlb-failed (\d+)", out), _INET.search(out), re.search(r"kindlb-neigh (.*)", out)
    if code != 0 or not m:
        raise KindlbError(f"the probe container could not send the requests: {(err or out).strip()[-300:]}")
    shown = shlex.quote(f'i=1; while [ $i -le {n} ]; do wget -q -O /dev/null "{url}?kindlb={token}-$i"; '
                        "i=$((i+1)); done")
    if cluster is not None:  # the container is there (the first step says how it was started)
        loop = f"{steps[0].command}\ndocker exec {probe_name(cluster)} sh -c {shown}"
    else:
        from .dockernet import kind_network_name

        loop = f"docker run --rm --network {kind_network_name()} {image or PROBE_IMAGE} sh -c {shown}"
    return Sent(int(m.group(1)), addr.group(1) if addr else None, neigh_mac(neigh.group(1)) if neigh else None, loop)


@dataclass
class Answer:
    """One request of a :class:`Prober`: when it finished, whether it was answered, the MAC behind the IP."""

    t: float
    ok: bool
    mac: str | None


@dataclass
class Prober:
    """A request to the IP every ``interval`` seconds, in the background, from the host or a container
    (CLUSTER's probe container, ``docker exec``; a container of its own when no cluster is named)."""

    ip: str
    via: str = "host"
    port: int = 80
    image: str | None = None
    interval: float = 0.3
    cluster: str | None = None
    answers: list = field(default_factory=list, init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _box: object = field(default=None, init=False, repr=False)
    _stream: object = field(default=None, init=False, repr=False)
    _pidfile: str = field(default="", init=False, repr=False)

    def start(self) -> "Prober":
        _check_route(self.via)
        if self.via == "host":
            self._thread = threading.Thread(target=self._host_loop, daemon=True)
        else:
            from .dockernet import docker_client, kind_network_name, translate

            url = http_url(self.ip, self.port)
            script = (f"while :; do if busybox timeout 1 wget -q -O /dev/null {url} 2>/dev/null; then r=ok; "
                      f"else r=fail; fi; echo \"$r $(busybox ip neigh show {self.ip})\"; "
                      f"busybox sleep {self.interval}; done")
            if self.cluster is not None:  # a loop in the cluster's probe container; its pid file stops it
                self._pidfile = f"/tmp/kindlb-prober.{id(self)}.{int(time.monotonic() * 1000)}"
                box = probe_box(self.cluster, self.image)
                self._box = box
                _, self._stream = box.stream(f"echo $$ > {self._pidfile}; {script}")
            else:
                client = docker_client()
                image = self.image or PROBE_IMAGE
                with translate(client, f"start a {image} prober on the kind network"):
                    self._box = client.containers.run(image, ["sh", "-c", script], network=kind_network_name(),
                                                      detach=True, labels=MANAGED_BY)
                self._stream = self._box.logs(stream=True, follow=True, stdout=True, stderr=False)
            self._thread = threading.Thread(target=self._container_loop, daemon=True)
        self._thread.start()
        return self

    def _host_loop(self) -> None:
        url = http_url(self.ip, self.port)
        while not self._stop.is_set():
            ok = _get(url, 1.0)
            self.answers.append(Answer(time.monotonic(), ok, neigh_mac(host_neigh(self.ip, timeout=5, check=False))))
            self._stop.wait(self.interval)

    def _container_loop(self) -> None:
        buf = b""
        try:
            for chunk in self._stream:
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    word, _, neigh = line.decode(errors="replace").partition(" ")
                    if word in ("ok", "fail"):
                        self.answers.append(Answer(time.monotonic(), word == "ok", neigh_mac(neigh)))
                if self._stop.is_set():
                    return
        except Exception:  # the container was removed under the stream: the prober is stopping
            return

    def since(self, t: float) -> list[Answer]:
        return [a for a in list(self.answers) if a.t >= t]

    def stop(self) -> list[Answer]:
        self._stop.set()
        if self._pidfile:  # the loop in the probe container ends; the container stays for the next notebook
            try:
                self._box.run(f"kill $(cat {self._pidfile}) 2>/dev/null; busybox rm -f {self._pidfile}", timeout=10)
            except KindlbError:
                pass
        elif self._box is not None:
            try:
                self._box.remove(force=True)
            except Exception:
                pass
        if self._thread is not None:
            self._thread.join(5)
        return list(self.answers)

    def __enter__(self) -> "Prober":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
