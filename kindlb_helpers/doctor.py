"""The environment check every notebook starts with, and ``kindlb doctor``."""
from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess

import pandas as pd

from .errors import KindlbError

CHECKS = ("python", "docker", "kind", "kubectl", "cluster", "context", "metallb")
PACKAGES = ("kubernetes", "docker", "pandas", "ipywidgets", "papermill", "tqdm", "PyYAML")


def _run(cmd: list[str]) -> tuple[bool, str]:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return out.returncode == 0, (out.stdout or out.stderr).strip()


def _python() -> tuple[bool, str, str]:
    missing, found = [], []
    for pkg in PACKAGES:
        try:
            found.append(f"{pkg} {importlib.metadata.version(pkg)}")
        except importlib.metadata.PackageNotFoundError:
            missing.append(pkg)
    if missing:
        return False, "missing: " + ", ".join(missing), "pip install -e . (or conda env create -f environment.yml)"
    return True, "; ".join(found), ""


def _docker() -> tuple[bool, str, str]:
    from .dockernet import docker_client

    try:
        client = docker_client()
        return True, f"engine {client.version().get('Version', '?')}", ""
    except KindlbError as exc:
        return False, str(exc).split(":")[0], "start Docker (Docker Desktop, or `sudo systemctl start docker`)"


def _kind() -> tuple[bool, str, str]:
    from .kube import kind_binary

    try:
        ok, text = _run([kind_binary(), "version"])
    except KindlbError:
        return False, "not on PATH", "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
    return ok, text, "" if ok else "reinstall kind"


def _kubectl() -> tuple[bool, str, str]:
    exe = shutil.which("kubectl")
    if not exe:
        return False, "not on PATH", "install kubectl: https://kubernetes.io/docs/tasks/tools/"
    ok, text = _run([exe, "version", "--client", "-o", "json"])
    try:
        return ok, json.loads(text)["clientVersion"]["gitVersion"], ""
    except (ValueError, KeyError):
        return ok, text.splitlines()[0] if text else "?", ""


def _cluster(cluster: str) -> tuple[bool, str, str]:
    from .kube import kind_clusters

    try:
        names = kind_clusters()
    except KindlbError as exc:
        return False, str(exc), "fix docker and kind first"
    if cluster in names:
        return True, f"kind cluster {cluster!r} exists (all: {', '.join(names)})", ""
    return False, f"no kind cluster {cluster!r} (have: {', '.join(names) or 'none'})", \
        f"run notebook 00_prerequisites, or: kind create cluster --name {cluster}"


def _context(cluster: str) -> tuple[bool, str, str]:
    from .kube import connect, wait_api_ready

    try:
        k = connect(cluster)
        wait_api_ready(k, timeout=10)
    except KindlbError as exc:
        return False, str(exc).split(":")[0], f"kind export kubeconfig --name {cluster}"
    return True, f"{k.context} answers (the current context is never used)", ""


def _metallb(cluster: str) -> tuple[bool, str, str]:
    from .kube import connect
    from .metallb import installed_version, readiness

    try:
        k = connect(cluster)
        version = installed_version(k)
    except Exception as exc:
        return False, f"cannot tell ({exc.__class__.__name__})", "fix the cluster first"
    if version is None:
        return False, "not installed", "run notebook 02_install_metallb"
    ready, text = readiness(k)
    return ready, f"{version}: {text}", "" if ready else "kubectl -n metallb-system get pods; wait or reinstall"


def check_environment(cluster: str = "kindlb", checks: tuple[str, ...] = CHECKS) -> pd.DataFrame:
    """One row per check: what, ok, what was found, what to do about it.

    Later checks are skipped (not failed) when an earlier one they need has failed.
    """
    funcs = {"python": _python, "docker": _docker, "kind": _kind, "kubectl": _kubectl,
             "cluster": lambda: _cluster(cluster), "context": lambda: _context(cluster),
             "metallb": lambda: _metallb(cluster)}
    needs = {"cluster": ("docker", "kind"), "context": ("cluster",), "metallb": ("context",)}
    rows, ok = [], {}
    for name in checks:
        if any(ok.get(n) is False for n in needs.get(name, ())):
            rows.append({"check": name, "ok": None, "found": "skipped", "fix": "fix the checks above first"})
            ok[name] = False
            continue
        good, found, fix = funcs[name]()
        ok[name] = good
        rows.append({"check": name, "ok": good, "found": found, "fix": fix})
    return pd.DataFrame(rows, columns=["check", "ok", "found", "fix"])


def require(frame: pd.DataFrame, *names: str) -> None:
    """Stop with a clear message when any of the named checks failed."""
    bad = frame[frame["check"].isin(names) & (frame["ok"] != True)]  # noqa: E712
    if len(bad):
        lines = [f"- {r.check}: {r.found} -> {r.fix}" for r in bad.itertuples()]
        raise KindlbError("this notebook cannot go on yet:\n" + "\n".join(lines))


def styled(frame: pd.DataFrame):
    """The check table with a tick or a cross per row."""
    shown = frame.assign(ok=frame["ok"].map({True: "✔", False: "✘", None: "–"}))

    def colour(v):
        return {"✔": "color:#1a7f37;font-weight:bold", "✘": "color:#cf222e;font-weight:bold"}.get(v, "")

    return shown.style.map(colour, subset=["ok"]).hide(axis="index")
