"""A Docker engine socket that logs every API request: what a test needs to prove that nothing pulls.

``DOCKER_HOST=unix://<proxy>`` makes the docker CLI, kind and the Docker SDK all talk through it; each
request line (``POST /v1.47/images/create?fromImage=...``) is kept in :attr:`DockerLog.requests`, and the
bytes are passed on unchanged to the real engine (and its answers back).
"""
from __future__ import annotations

import os
import re
import socket
import threading
from pathlib import Path

_REQUEST = re.compile(rb"(GET|HEAD|POST|PUT|DELETE|PATCH) (/\S*) HTTP/1\.[01]\r\n")
#: The API calls that pull an image (``docker pull``, and ``docker run``/``kind`` pulling a missing image).
PULL = re.compile(r"^POST (/v[\d.]+)?/images/create\b")


def engine_socket() -> str:
    """The real engine's socket path, from DOCKER_HOST (unix only) or the default."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        raise RuntimeError(f"DOCKER_HOST={host}: the logging proxy needs a unix socket engine")
    return host[len("unix://"):]


class DockerLog:
    """``with DockerLog(tmp_path) as log: ... env["DOCKER_HOST"] = log.host ...; log.pulls()``."""

    def __init__(self, folder: Path, upstream: str | None = None) -> None:
        self.path = str(Path(folder) / "docker-log.sock")
        self.upstream = upstream or engine_socket()
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.path}"

    def pulls(self) -> list[str]:
        with self._lock:
            return [r for r in self.requests if PULL.match(r)]

    def __enter__(self) -> "DockerLog":
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.close()
        Path(self.path).unlink(missing_ok=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                up.connect(self.upstream)
            except OSError:
                conn.close()
                continue
            threading.Thread(target=self._pump, args=(conn, up, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, conn, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, outgoing: bool) -> None:
        tail = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if outgoing:  # request lines may straddle two reads: look at the end of the last one too
                    seen = tail + data
                    for m in _REQUEST.finditer(seen):
                        if m.end() > len(tail):
                            with self._lock:
                                self.requests.append(f"{m.group(1).decode()} {m.group(2).decode(errors='replace')}")
                    tail = seen[-512:]
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)  # a half-close (a hijacked `docker exec -i` stream) passes on as one
        except OSError:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
