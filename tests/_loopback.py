"""Stand-ins on loopback for the docker tier: an API server that accepts and never answers, and a kubeconfig
whose contexts point at such servers (or at a port that refuses). Nothing here leaves 127.0.0.1."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import yaml


class Listener:
    """A loopback TCP listener that accepts, notes when (``accepted``: one monotonic time per connection), and never
    answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[float] = []
        self.held: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(time.monotonic())
            self.held.append(conn)

    def close(self) -> None:
        self._stop = True
        for c in self.held:
            c.close()
        self.sock.close()


def write_kubeconfig(path: Path, servers: dict[str, str], current: str = "prod") -> Path:
    """A kubeconfig with one context per server (a token user each), ``current`` as its current context."""
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": current, "preferences": {},
        "clusters": [{"name": n, "cluster": {"server": url}} for n, url in servers.items()],
        "users": [{"name": n, "user": {"token": "test"}} for n in servers],
        "contexts": [{"name": n, "context": {"cluster": n, "user": n}} for n in servers],
    }
    path.write_text(yaml.safe_dump(cfg))
    return path
