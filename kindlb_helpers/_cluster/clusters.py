"""Which kind clusters exist: the one lister, read from Docker as ``kind get clusters`` reads it, so that no kind
program is needed (``kindlb run --offline`` on a machine without one).

Every caller (kube's ensure and delete, the bundle, the doctor, the room, ``kindlb run --offline``, the lab) asks
:func:`kind_clusters`, so a cluster one of them can see the others see too.
"""
from __future__ import annotations

import json
import urllib.parse

from .._core.errors import DockerError
from .commands import run

#: The label kind puts on every node container: its cluster's name (``kind get clusters`` lists its values).
CLUSTER_LABEL = "io.x-k8s.kind.cluster"
#: (connect, read) seconds Docker has to list the containers.
LIST_TIMEOUT = (5.0, 30.0)


def kind_clusters() -> list[str]:
    """Names of the kind clusters that have node containers (running or not), sorted.

    The label io.x-k8s.kind.cluster of every container, over Docker's socket with the standard library (no Docker
    SDK to import in a notebook's first cell), or with the docker CLI for a DOCKER_HOST only it serves (ssh://,
    TLS), as kind itself lists them. DockerUnavailable when Docker does not answer.
    """
    from .quick import docker_get

    query = urllib.parse.urlencode({"all": "1", "filters": json.dumps({"label": [CLUSTER_LABEL]})})
    got = docker_get(f"/containers/json?{query}", LIST_TIMEOUT)
    if got is None:
        out = run(["docker", "ps", "-a", "--filter", f"label={CLUSTER_LABEL}", "--format",
                   f'{{{{.Label "{CLUSTER_LABEL}"}}}}'], what="list the kind clusters", timeout=sum(LIST_TIMEOUT),
                  hint="is Docker answering? (`docker ps`)")
        names = out.stdout.splitlines()
    else:
        status, body = got
        if status != 200:
            raise DockerError(f"list the kind clusters: the Docker engine answered {status} "
                              f"({body[:200].decode(errors='replace').strip()}): fix what it names, then re-run this "
                              "cell", status=status)
        names = [(c.get("Labels") or {}).get(CLUSTER_LABEL, "") for c in json.loads(body)]
    return sorted({n.strip() for n in names} - {""})
