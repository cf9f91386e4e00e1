"""How a kind cluster was made: the ``kind create cluster`` command, its config file, and who ran it.

When kindlb creates a cluster (notebook 00, ``kindlb lab up``, ``kindlb run``) it records the config and the
command in the ConfigMap ``kube-public/kindlb-cluster`` (``kube-public`` holds what anyone may read about a
cluster, as ``cluster-info`` does). Notebook 00 on a cluster that exists reads it back (:func:`read`), so the
learner still sees the step that made it. A cluster made some other way has no record: its config is then read
off what kind left (one node container per node, labelled with its role; the node image; the nodes' pod CIDRs
for the IP family), and who made it is said as far as the node image tells.
"""
from __future__ import annotations

import datetime
import shlex
from dataclasses import dataclass
from typing import Any

import yaml

from ..._core.errors import KindlbError
from ..._core.versions import NODE_IMAGE

#: The record: namespace, name, and its keys.
NAMESPACE, NAME = "kube-public", "kindlb-cluster"
CONFIG_FILE = "kind-config.yaml"


@dataclass(frozen=True)
class Origin:
    """How cluster ``cluster`` was made: ``config`` (kind's YAML), the ``--image`` given (None: kind's default),
    ``by`` (who ran it), ``recorded`` (True: from kindlb's record; False: read off the node containers)."""

    cluster: str
    config: str
    image: str | None
    by: str
    recorded: bool
    created: str | None = None
    wait: str = "180s"

    def command(self) -> str:
        """The ``kind create cluster`` line that made it (the config in ``kind-config.yaml``)."""
        cmd = ["kind", "create", "cluster", "--name", self.cluster, "--config", CONFIG_FILE, "--wait", self.wait]
        if self.image:
            cmd += ["--image", self.image]
        return shlex.join(cmd)

    def sentence(self) -> str:
        """Who made it and how we know, in one sentence."""
        when = f" on {self.created}" if self.created else ""
        if self.recorded:
            return f"{self.by} created it{when} (kindlb's record: ConfigMap {NAMESPACE}/{NAME})"
        return f"{self.by}; kindlb has no record of it, so the config below is what its node containers show"


def record(kind: Any, config: str, image: str | None, by: str, wait: str = "180s") -> bool:
    """Write the record of a cluster just created (the config, the image, who); False when it cannot be written
    (the cluster works without it: notebook 00 then reads the config off the node containers)."""
    from kubernetes import client

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=NAME, namespace=NAMESPACE,
                                     labels={"app.kubernetes.io/managed-by": "kindlb"}),
        data={CONFIG_FILE: config, "image": image or "", "by": by, "created": now, "wait": wait})
    try:
        kind.core.create_namespaced_config_map(NAMESPACE, body)
    except KindlbError:
        try:
            kind.core.replace_namespaced_config_map(NAME, NAMESPACE, body)
        except KindlbError:
            return False
    return True


def read(kind: Any) -> Origin:
    """How KIND's cluster was made: kindlb's record, else read off its node containers and nodes."""
    from .objects import get_or_none

    try:
        cm = get_or_none(kind.core.read_namespaced_config_map, NAME, NAMESPACE)
    except KindlbError:
        cm = None
    data = (cm.data or {}) if cm is not None else {}
    if data.get(CONFIG_FILE):
        return Origin(kind.cluster, data[CONFIG_FILE], data.get("image") or None, data.get("by") or "kindlb", True,
                      data.get("created") or None, data.get("wait") or "180s")
    return from_nodes(kind.cluster, kind)


def record_cluster(cluster: str, config: str, image: str | None, by: str, wait: str = "180s") -> bool:
    """:func:`record` for kind cluster CLUSTER, just created; False when it cannot be written."""
    from .client import connect

    try:
        return record(connect(cluster), config, image, by, wait)
    except KindlbError:
        return False


def read_cluster(cluster: str) -> Origin | None:
    """:func:`read` for kind cluster CLUSTER; read off its node containers alone when its API does not answer;
    None when not even Docker can say."""
    from .client import connect

    try:
        return read(connect(cluster))
    except KindlbError:
        try:
            return from_nodes(cluster)
        except KindlbError:
            return None


def from_nodes(cluster: str, kind: Any = None) -> Origin:
    """The config as kind's node containers show it: one node per container with its role, the node image,
    and ``ipFamily`` from the nodes' pod CIDRs (when KIND can ask); who made it, as far as the node image tells."""
    from ..dockernet import CLUSTER_LABEL, ROLE_LABEL, docker_client, translate

    client = docker_client()
    with translate(client, f"list the node containers of {cluster}"):
        summaries = client.api.containers(all=True, filters={"label": f"{CLUSTER_LABEL}={cluster}"})
    roles = sorted(((c.get("Labels") or {}).get(ROLE_LABEL, "worker") for c in summaries),
                   key=lambda r: (r != "control-plane", r))
    images = {c.get("Image") for c in summaries if c.get("Image")}
    image = images.pop() if len(images) == 1 else None
    doc: dict = {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4"}
    family = _ip_family(kind) if kind is not None else None
    if family:
        doc["networking"] = {"ipFamily": family}
    doc["nodes"] = [{"role": r} for r in roles]
    return Origin(cluster, yaml.safe_dump(doc, sort_keys=False), image, _who(image), False)


def _ip_family(kind: Any) -> str | None:
    """``dual`` / ``ipv6`` when the nodes' pod CIDRs say so; None for kind's default (IPv4) or when unknown."""
    import ipaddress

    try:
        nodes = kind.core.list_node().items
    except KindlbError:
        return None
    cidrs = [c for n in nodes if n.spec for c in (_pod_cidrs(n.spec) or [n.spec.pod_cidr]) if c]
    families = {ipaddress.ip_network(c, strict=False).version for c in cidrs}
    return {frozenset({4, 6}): "dual", frozenset({6}): "ipv6"}.get(frozenset(families))


def _pod_cidrs(spec: Any) -> list[str]:
    """A node spec's ``podCIDRs`` (the client names it ``pod_cidrs`` from v37, ``pod_cid_rs`` before)."""
    for name in ("pod_cidrs", "pod_cid_rs"):
        try:
            value = getattr(spec, name)
        except AttributeError:
            continue
        if value:
            return list(value)
    return []


def _who(image: str | None) -> str:
    """Who made a cluster without a record, as far as its node image tells."""
    from ..sources import loaded_bundle

    if image == NODE_IMAGE:
        return f"made from the offline lab's node image {NODE_IMAGE} (by `kindlb lab up`)"
    bundle = loaded_bundle()
    if image and bundle is not None and bundle.has("node") and bundle.image("node") == image:
        return f"made from the loaded bundle's node image {image} (by `kindlb run --offline` or the room command)"
    shown = f" from {image}" if image else ""
    return f"made outside kindlb{shown} (by `kind create cluster` by hand, or another tool)"
