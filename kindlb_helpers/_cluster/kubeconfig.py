"""The user's kubeconfig, read and written without changing its current context; kind's context names.

Reading opens no connection. Writing replaces the file atomically (mode 0600) and keeps ``current-context``.
"""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from .._core.errors import ClusterNotFound, KindlbError
from .kind import kind as _kind


def kind_context(cluster: str) -> str:
    """The kube context kind writes for ``cluster``.

    >>> kind_context("kindlb")
    'kind-kindlb'
    """
    return f"kind-{cluster}"


def kubeconfig_path() -> Path:
    """The kubeconfig file kind and kubectl write to: the first of $KUBECONFIG, else ~/.kube/config."""
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), None)
    return Path(first).expanduser() if first else Path.home() / ".kube" / "config"


def context_names(kubeconfig: str) -> tuple[list[str], str]:
    """The context names in ``kubeconfig`` (a path, or several joined by os.pathsep, as $KUBECONFIG),
    and why there are none when a file cannot be read. Nothing is contacted."""
    names: list[str] = []
    reasons = []
    for part in (p for p in str(kubeconfig).split(os.pathsep) if p):
        try:
            data = yaml.safe_load(Path(part).expanduser().read_text()) or {}
        except (OSError, ValueError, yaml.YAMLError) as exc:  # ValueError: a binary file (UnicodeDecodeError)
            reasons.append(f"{part}: {type(exc).__name__}")
            continue
        if isinstance(data, dict):
            names += [c["name"] for c in data.get("contexts") or [] if isinstance(c, dict) and c.get("name")]
    return names, (f" ({'; '.join(reasons)})" if reasons and not names else "")


def current_context(path: str | Path | None = None) -> str | None:
    """The kubeconfig's current context (read from the file; nothing is contacted)."""
    path = Path(path) if path else kubeconfig_path()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    return data.get("current-context") or None if isinstance(data, dict) else None


def has_context(cluster: str, path: str | Path | None = None) -> bool:
    """Whether the kubeconfig holds context ``kind-<cluster>``."""
    path = Path(path) if path else kubeconfig_path()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and any(
        (c or {}).get("name") == kind_context(cluster) for c in data.get("contexts") or [])


def merge_kubeconfig(entries: dict, path: str | Path | None = None) -> Path:
    """Add (or replace) ``entries``' clusters, users and contexts in the kubeconfig at ``path``.

    The file's ``current-context`` is left exactly as it was (also when it had none).
    """
    path = Path(path) if path else kubeconfig_path()
    try:
        data = yaml.safe_load(path.read_text()) if path.exists() else None
    except yaml.YAMLError as exc:
        raise KindlbError(f"{path} is not valid YAML ({exc}): fix or move it, then re-run this cell") from exc
    data = data if isinstance(data, dict) else {"apiVersion": "v1", "kind": "Config", "preferences": {}}
    for key in ("clusters", "users", "contexts"):
        mine = entries.get(key) or []
        names = {e["name"] for e in mine}
        data[key] = [e for e in data.get(key) or [] if (e or {}).get("name") not in names] + mine
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.kindlb-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(data, fh, sort_keys=False)
    os.replace(tmp, path)
    return path


def write_context(cluster: str, path: str | Path | None = None) -> Path:
    """Write context ``kind-<cluster>`` into the kubeconfig without changing its current context.

    Unlike ``kind export kubeconfig``, which also makes it the current context.
    """
    out = _kind("get", "kubeconfig", "--name", cluster)
    if out.returncode != 0:
        raise ClusterNotFound(f"kind get kubeconfig --name {cluster} failed: {out.stderr.strip()}")
    return merge_kubeconfig(yaml.safe_load(out.stdout) or {}, path)
