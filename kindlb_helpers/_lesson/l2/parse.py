"""Pure parsing of what the layer-2 tools print: MetalLB's ``nodeAssigned`` events, ``ip neigh``,
``arping`` and nginx's access log (no cluster, no Docker).
"""
from __future__ import annotations

import re

_MAC = re.compile(r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}", re.I)


def parse_node_assigned(message: str) -> str | None:
    """The node named in a ``nodeAssigned`` event.

    >>> parse_node_assigned('announcing from node "kindlb-worker2" with protocol "layer2"')
    'kindlb-worker2'
    """
    m = re.search(r'node "([^"]+)"', message or "")
    return m.group(1) if m else None


def parse_neigh(text: str) -> list[dict]:
    """Rows of ``ip neigh show`` output: ip, dev, mac, state.

    >>> parse_neigh("172.18.255.200 dev br-1 lladdr 02:42:ac:12:00:03 REACHABLE")
    [{'ip': '172.18.255.200', 'dev': 'br-1', 'mac': '02:42:ac:12:00:03', 'state': 'REACHABLE'}]
    """
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        dev = parts[parts.index("dev") + 1] if "dev" in parts[:-1] else None
        mac = parts[parts.index("lladdr") + 1].lower() if "lladdr" in parts[:-1] else None
        state = parts[-1] if parts[-1].isupper() else None
        rows.append({"ip": parts[0], "dev": dev, "mac": mac, "state": state})
    return rows


def parse_arping(text: str) -> list[str]:
    """The MACs in ``arping`` replies (iputils' and busybox's formats), in order.

    >>> parse_arping("Unicast reply from 172.18.255.200 [02:42:AC:12:00:03]  0.071ms")
    ['02:42:ac:12:00:03']
    """
    return [m.lower() for line in text.splitlines() if "reply" in line.lower() for m in _MAC.findall(line)]


def parse_access_log(log: str, token: str) -> list[str]:
    """The client address of each access-log line that carries ``kindlb=TOKEN-``.

    >>> parse_access_log('10.244.1.1 - - [x] "GET /?kindlb=ab-1 HTTP/1.1" 200', "ab")
    ['10.244.1.1']
    """
    return [line.split()[0] for line in log.splitlines() if f"kindlb={token}-" in line and line.split()]
