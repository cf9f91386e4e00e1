"""The environment check every notebook starts with, and ``kindlb doctor``."""
from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable

from .._cluster.commands import run
from .._core.errors import BadInput, CommandTimeout, KindlbError, ToolMissing
from .checks import Checks

CHECKS = ("python", "docker", "kind", "kubectl", "cluster", "context", "metallb")
#: Asked for by name only: whether the cluster's pools share addresses with another kind cluster's on the network
#: (reads the kind network from Docker and every cluster's pools on it, their kind- contexts only, read-only).
ON_REQUEST = ("pool overlap",)
PACKAGES = ("kubernetes", "docker", "pandas", "ipywidgets", "papermill", "tqdm", "PyYAML")


def _run(cmd: list[str], env: dict | None = None) -> tuple[bool, str]:
    try:
        out = run(cmd, what=cmd[0], timeout=30, env=env, check=False)
    except (ToolMissing, CommandTimeout) as exc:  # reported as a failed check, in the program's own words
        return False, str(exc.__cause__ or exc)
    return out.returncode == 0, (out.stdout or out.stderr).strip()


def _versions_file() -> Path:
    """Where the checks remember a program's version: ``$XDG_CACHE_HOME/kindlb`` (else ``~/.cache/kindlb``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kindlb" / "tool-versions.json"


def _own_binary(real: str, tool: str) -> bool:
    """True when REAL is TOOL's own program (named so, and an executable format, not a script): a shim or
    version manager (asdf's script, mise's or snap's binary under another name) may run another version
    tomorrow from the same file, so its answer is asked every time."""
    if os.path.basename(real).lower() not in (tool, f"{tool}.exe"):
        return False
    try:
        with open(real, "rb") as f:
            magic = f.read(4)
    except OSError:
        return False
    return magic in (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe") or magic[:2] == b"MZ"


def _remembered(exe: str, tool: str, ask: Callable[[], tuple[bool, str]]) -> tuple[bool, str]:
    """``ask()`` (a run of EXE that prints its version), remembered on disk while EXE's program file stays the
    same (its resolved path, device, inode, size, modification and change times): starting kind or kubectl
    costs a first cell 0.1-0.15 s, reading a small file well under a millisecond. A failed run, or a program
    that is not TOOL's own binary, is asked every time."""
    try:
        real = os.path.realpath(exe)
        st = os.stat(real)
    except OSError:
        return ask()
    if not _own_binary(real, tool):
        return ask()
    key = f"{tool} {real} {st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
    path = _versions_file()
    try:
        known = json.loads(path.read_text())
        known = known if isinstance(known, dict) else {}
    except (OSError, ValueError):
        known = {}
    if isinstance(known.get(key), str):
        return True, known[key]
    ok, text = ask()
    if ok:
        kept = {k: v for k, v in known.items() if not k.startswith(f"{tool} {real} ")}  # this file's older self
        kept = dict(list(kept.items())[-30:])
        kept[key] = text
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        try:  # a whole file or none: another kernel may read it meanwhile
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(kept, indent=0))
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)
    return ok, text


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
    from .._cluster.quick import docker_version

    try:
        version = docker_version()  # the standard library over the socket: no SDK to import
        if version is None:  # DOCKER_HOST is ssh:// or TLS: the SDK serves it
            from .._cluster.dockernet import docker_client

            version = docker_client().version().get("Version", "?")
        return True, f"engine {version}", ""
    except KindlbError as exc:
        return False, str(exc), "start Docker (Docker Desktop, or `sudo systemctl start docker`)"


def _kind() -> tuple[bool, str, str]:
    from .._cluster.kube import kind_binary

    try:
        exe = kind_binary()
        ok, text = _remembered(exe, "kind", lambda: _run([exe, "version"]))
    except KindlbError:
        return False, "not on PATH", "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
    return ok, text, "" if ok else "reinstall kind"


def _kubectl(cluster: str) -> tuple[bool, str, str]:
    """kubectl's own version, with a kubeconfig that holds nothing: no context, no server to contact."""
    from .._cluster.kube import kind_context

    exe = shutil.which("kubectl")
    if not exe:
        return False, "not on PATH", "install kubectl: https://kubernetes.io/docs/tasks/tools/"

    def ask() -> tuple[bool, str]:
        with tempfile.TemporaryDirectory(prefix="kindlb-doctor-") as tmp:
            empty = os.path.join(tmp, "kubeconfig")
            open(empty, "w").close()
            env = {**os.environ, "KUBECONFIG": empty}
            return _run([exe, "version", "--client", "-o", "json", "--kubeconfig", empty,
                         "--context", kind_context(cluster), "--request-timeout", "1s"], env=env)

    ok, text = _remembered(exe, "kubectl", ask)
    try:
        return ok, json.loads(text)["clientVersion"]["gitVersion"], ""
    except (ValueError, KeyError):
        return ok, text.splitlines()[0] if text else "?", ""


def _cluster(cluster: str) -> tuple[bool, str, str]:
    from .._cluster.kube import kind_clusters

    try:
        names = kind_clusters()
    except KindlbError as exc:
        return False, str(exc), "fix docker and kind first"
    if cluster in names:
        return True, f"kind cluster {cluster!r} exists (all: {', '.join(names)})", ""
    return False, f"no kind cluster {cluster!r} (have: {', '.join(names) or 'none'})", \
        f"run notebook 00_prerequisites, or: kind create cluster --name {cluster}"


def _context(cluster: str) -> tuple[bool, str, str]:
    from .._cluster.kube import PROBE_TIMEOUT, ClusterUnreachable, connect, wait_api_ready
    from .._cluster.quick import light

    try:
        k = light(cluster)  # GET /version with the standard library, when the kubeconfig allows
        if k is not None:
            k.version.get_code()
        else:
            k = connect(cluster, timeout=PROBE_TIMEOUT, retries=0)
            wait_api_ready(k, timeout=0.5)  # one try (two if the first is refused at once)
    except ClusterUnreachable as exc:
        return False, str(exc), f"docker start {cluster}-control-plane (or re-create the cluster)"
    except KindlbError as exc:
        return False, str(exc), f"kind export kubeconfig --name {cluster} (this also makes it the current context)"
    return True, f"{k.context} answers (the current context is never used)", ""


def _metallb(cluster: str) -> tuple[bool, str, str]:
    from .._cluster.kube import PROBE_TIMEOUT, connect
    from .._cluster.metallb import installed_version, readiness
    from .._cluster.quick import light

    try:  # the same reads as with the client, as plain JSON: no typed API to import
        k = light(cluster) or connect(cluster, timeout=PROBE_TIMEOUT, retries=0)
        version = installed_version(k)
        if version is not None:
            ready, text = readiness(k)
    except KindlbError as exc:
        return False, f"cannot tell: {exc}", "fix the cluster first"
    if version is None:
        return False, "not installed", "run notebook 02_install_metallb"
    return ready, f"{version}: {text}", "" if ready else "kubectl -n metallb-system get pods; wait or reinstall"


def _pool_overlap(cluster: str) -> tuple[bool | None, str, str]:
    from .doctor_pools import overlap_row

    row = overlap_row(cluster=cluster)
    return row["ok"], row["found"], row["fix"]


def check_environment(cluster: str = "kindlb", checks: tuple[str, ...] = CHECKS) -> Checks:
    """One row per check: what, ok, what was found, what to do about it (:class:`Checks`).

    Only the context ``kind-<cluster>`` is ever contacted, with short timeouts; the kubectl check
    runs ``kubectl version --client`` with an empty kubeconfig, so it contacts nothing. kind's and kubectl's
    versions are remembered on disk while their program files stay the same (:func:`_remembered`). Unknown
    check names are refused; ``"pool overlap"`` (:data:`ON_REQUEST`) runs only when named, and reads the other
    kind clusters' pools too (their kind- contexts, read-only). Later checks are skipped (not failed) when an
    earlier one they need has failed.
    Docker and the API server are asked with the standard library (:mod:`~kindlb_helpers._cluster.quick`):
    the check imports neither the Docker SDK, nor the kubernetes client's typed APIs, nor pandas.
    """
    funcs = {"python": _python, "docker": _docker, "kind": _kind, "kubectl": lambda: _kubectl(cluster),
             "cluster": lambda: _cluster(cluster), "context": lambda: _context(cluster),
             "metallb": lambda: _metallb(cluster), "pool overlap": lambda: _pool_overlap(cluster)}
    needs = {"cluster": ("docker", "kind"), "context": ("cluster",), "metallb": ("context",),
             "pool overlap": ("docker",)}
    if isinstance(checks, str):
        checks = (checks,)
    unknown = [c for c in checks if c not in funcs]
    if unknown:
        raise BadInput(f"unknown check(s) {', '.join(map(repr, unknown))}: choose from "
                       f"{', '.join(CHECKS + ON_REQUEST)}")
    # the checks wait on processes and sockets, not on each other: run them side by side (a check
    # whose prerequisite failed is still reported as skipped, as if it had never run)
    from concurrent.futures import ThreadPoolExecutor

    # the modules the checks import, here first: two threads must not start the same import
    from .._cluster import kube, metallb, quick  # noqa: F401
    if "pool overlap" in checks:
        from .._cluster import dockernet, network  # noqa: F401
        from . import doctor_pools  # noqa: F401

    futures: dict = {}
    if "docker" in checks:  # `kind get clusters` against a Docker that never answers would wait the command's
        plain = funcs["cluster"]  # 30 s: the cluster check asks only once Docker has answered

        def after_docker() -> tuple[bool, str, str]:
            return plain() if futures["docker"].result()[0] else (False, "skipped", "fix docker first")
        funcs["cluster"] = after_docker
    with ThreadPoolExecutor(max_workers=len(checks) or 1, thread_name_prefix="kindlb-check") as pool:
        for name in sorted(dict.fromkeys(checks), key=lambda n: n != "docker"):  # docker's future first
            futures[name] = pool.submit(funcs[name])
    rows, ok = [], {}
    for name in checks:
        if any(ok.get(n) is False for n in needs.get(name, ())):
            rows.append({"check": name, "ok": None, "found": "skipped", "fix": "fix the checks above first"})
            ok[name] = False
            continue
        good, found, fix = futures[name].result()
        ok[name] = good
        rows.append({"check": name, "ok": good, "found": found, "fix": fix})
    return Checks(rows)


def require(frame, *names: str) -> None:
    """Stop with a clear message when any of the named checks failed (a :class:`Checks` or a DataFrame)."""
    bad = [r for r in frame.itertuples() if r.check in names and r.ok != True]  # noqa: E712 (numpy's bool too)
    if bad:
        lines = [f"- {r.check}: {r.found} -> {r.fix}" for r in bad]
        raise KindlbError("this notebook cannot go on yet:\n" + "\n".join(lines))


def styled(frame):
    """The check table with a tick or a cross per row (a :class:`Checks` shows itself so)."""
    if isinstance(frame, Checks):
        return frame
    shown = frame.assign(ok=frame["ok"].map({True: "✔", False: "✘", None: "–"}))

    def colour(v):
        return {"✔": "color:#1a7f37;font-weight:bold", "✘": "color:#cf222e;font-weight:bold"}.get(v, "")

    return shown.style.map(colour, subset=["ok"]).hide(axis="index")
