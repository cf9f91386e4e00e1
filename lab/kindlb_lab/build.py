"""Build the offline lab: Go binaries, Debian root filesystems, container images, node image.

The heavy lifting is in the shell scripts next to this file; this module runs them in order,
times each step, and writes every step's output to ``<cache>/logs/<step>.log``. Each script
caches its own results (stamp files, image labels), so a second ``build()`` only checks.
"""
from __future__ import annotations

import fcntl
import filecmp
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kindlb_helpers._core import versions as v
from kindlb_helpers._core.errors import BadVersion, LabError
from kindlb_helpers._core.release import release

HERE = Path(__file__).resolve().parent

#: The MetalLB releases the lab can build: the current pin (CRDs) and the last ConfigMap-era one.
METALLB_VERSIONS = (v.METALLB_VERSION, v.METALLB_CONFIGMAP_VERSION)


def cache_dir() -> Path:
    """Where every build output lives: ``$KINDLB_LAB_CACHE`` or ``~/.cache/kindlb/lab``."""
    env = os.environ.get("KINDLB_LAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "kindlb" / "lab"


def bin_dir() -> Path:
    """Where the built ``kind``, ``kubectl`` and ``crictl`` land; put it first on PATH."""
    return cache_dir() / "bin"


#: Set in the build scripts' environment while build() holds the cache lock (its value: the lock's
#: path), so that the scripts, which take the lock themselves when run by hand, do not wait on it.
LOCK_HELD_ENV = "KINDLB_LAB_LOCK_HELD"
#: Seconds a build waits for another one's lock before it gives up; unset or empty: no limit.
LOCK_TIMEOUT_ENV = "KINDLB_LAB_LOCK_TIMEOUT"

_lock_depth = threading.local()  # per thread: lock path -> how many cache_lock() blocks hold it


def lock_path() -> Path:
    """The file whose exclusive ``flock`` every writer of the cache holds: ``<cache>/.lock``."""
    return cache_dir() / ".lock"


def _lock_timeout(timeout: float | None) -> float | None:
    if timeout is not None:
        return timeout
    env = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not env:
        return None
    try:
        return float(env)
    except ValueError:
        raise LabError(f"{LOCK_TIMEOUT_ENV}={env!r} is not a number of seconds") from None


@contextmanager
def cache_lock(timeout: float | None = None) -> Iterator[Path]:
    """Hold the cache's exclusive lock (``flock`` on :func:`lock_path`) for the block.

    A second holder (another process, or another thread here) waits, saying once on stderr who
    holds it; after TIMEOUT seconds (default ``$KINDLB_LAB_LOCK_TIMEOUT``, else no limit) it
    raises LabError. Re-entrant in one thread: ``up()`` and ``load_metallb()`` call ``build()``.
    The lock file holds the holder's pid, for that message.
    """
    path = lock_path()
    depth = getattr(_lock_depth, "held", None)
    if depth is None:
        depth = _lock_depth.held = {}
    if depth.get(path, 0):
        depth[path] += 1
        try:
            yield path
        finally:
            depth[path] -= 1
        return
    wait = _lock_timeout(timeout)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:  # closing it releases the lock
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text().strip() or "?"
            limit = "" if wait is None else f" (at most {wait:g} s)"
            print(f"{time.strftime('%H:%M:%S', time.gmtime())} [lab] another lab build holds {path} "
                  f"(pid {holder}); waiting{limit}...", file=sys.stderr, flush=True)
            if wait is None:
                fcntl.flock(f, fcntl.LOCK_EX)
            else:
                deadline = time.monotonic() + wait
                while True:
                    try:
                        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            raise LabError(f"another lab build still holds {path} (pid {holder}) after {wait:g} s; "
                                           f"wait for it, or raise {LOCK_TIMEOUT_ENV}") from None
                        time.sleep(0.1)
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        depth[path] = 1
        try:
            yield path
        finally:
            depth[path] = 0
            f.truncate(0)


def metallb_version(version: str | None = None) -> str:
    """``version`` (``v`` optional) if the lab can build it, else LabError naming the ones it can.

    >>> metallb_version("0.12.1")
    'v0.12.1'
    """
    if version is None:
        return v.METALLB_VERSION
    can = (f"it builds {v.METALLB_VERSION} (current, CRDs) and {v.METALLB_CONFIGMAP_VERSION} (ConfigMap era, "
           f"configured like the article); the article's {v.METALLB_ARTICLE_VERSION} runs online only")
    try:
        want = release(version).tag
    except BadVersion as exc:
        raise LabError(f"the offline lab cannot build MetalLB {version!r} ({exc}): {can}") from None
    if want not in METALLB_VERSIONS:
        raise LabError(f"the offline lab cannot build MetalLB {version!r}: {can}")
    return want


def metallb_images(version: str | None = None) -> tuple[str, str]:
    """The controller and speaker image references of a MetalLB release the lab builds."""
    images = release(metallb_version(version)).images
    return (images["controller"], images["speaker"])


def _configmap_era(version: str) -> bool:
    return not release(version).uses_crds


def manifest_path(version: str | None = None) -> Path:
    """MetalLB's install manifest, copied out of the go.universe.tf/metallb module by ``build()``:
    ``metallb-native.yaml`` for the current release, ``metallb.yaml`` for the ConfigMap era."""
    ver = metallb_version(version)
    return cache_dir() / "metallb" / ver / ("metallb.yaml" if _configmap_era(ver) else "metallb-native.yaml")


def manifest_source(version: str | None = None) -> Path:
    """What the notebooks' ``metallb_source`` takes for VERSION: the native manifest (current
    release) or the folder with ``namespace.yaml`` + ``metallb.yaml`` (ConfigMap era)."""
    ver = metallb_version(version)
    return manifest_path(ver).parent if _configmap_era(ver) else manifest_path(ver)


def tool_env(metallb: tuple[str, ...] = METALLB_VERSIONS) -> dict[str, str]:
    """``os.environ`` with the lab's bin directory first on PATH and what the scripts read:
    the pins file (kindlb_helpers/_core/versions.env), the cache, the MetalLB releases to build."""
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir()}{os.pathsep}{env.get('PATH', '')}"
    env["KINDLB_LAB_CACHE"] = str(cache_dir())
    env["KINDLB_VERSIONS_ENV"] = str(v.ENV_FILE)
    env["LAB_METALLB_VERSIONS"] = " ".join(metallb)
    return env


def _log(msg: str) -> None:
    line = f"{time.strftime('%H:%M:%S', time.gmtime())} [lab] {msg}"
    print(line, file=sys.stderr, flush=True)
    logs = cache_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "build.log", "a") as f:
        f.write(line + "\n")


class _Step:
    """A running build script; a thread notes when it ends, so background steps time right."""

    def __init__(self, step: str, argv: list[str], env: dict[str, str]) -> None:
        logs = cache_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.path = logs / f"{step}.log"
        self.t0 = time.monotonic()
        self.t1 = self.t0
        with open(self.path, "w") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=HERE)
        self._waiter = threading.Thread(target=self._wait, daemon=True)
        self._waiter.start()

    def _wait(self) -> None:
        self.proc.wait()
        self.t1 = time.monotonic()

    def join(self) -> int:
        self._waiter.join()
        return self.proc.returncode


def _start(step: str, argv: list[str], env: dict[str, str]) -> _Step:
    return _Step(step, argv, env)


def _finish(step: str, started: _Step, times: dict[str, float]) -> None:
    rc = started.join()
    path = started.path
    times[step] = round(started.t1 - started.t0, 1)
    if rc != 0:
        tail = "".join(path.read_text(errors="replace").splitlines(keepends=True)[-25:])
        raise LabError(f"lab build step {step!r} failed (exit {rc}); full log: {path}\n{tail}")
    _log(f"{step}: ok in {times[step]} s (log {path})")


def _run(step: str, argv: list[str], env: dict[str, str], times: dict[str, float]) -> None:
    _log(f"{step}: start")
    _finish(step, _start(step, argv, env), times)


def ensure_docker() -> None:
    """Install/start Docker and, only on hosts that need it, the runc wrapper (ensure-docker.sh)."""
    if os.geteuid() != 0 and shutil.which("docker") and subprocess.run(
        ["docker", "info"], capture_output=True, check=False).returncode == 0:
        return  # not root: nothing we could fix anyway, and Docker answers
    r = subprocess.run(["bash", str(HERE / "ensure-docker.sh")], capture_output=True, text=True,
                       check=False)
    if r.returncode != 0:
        raise LabError(f"ensure-docker.sh failed: {r.stderr.strip()}\n"
                       "Start Docker (dockerd) by hand, then re-run.")


def _module_dir(module: str, version: str) -> Path:
    """The module's folder in the lab's Go module cache (``moddir`` of common.sh)."""
    r = subprocess.run(["bash", "-c", '. ./common.sh && moddir "$1" "$2"', "moddir", module, version],
                       cwd=HERE, env=tool_env(), capture_output=True, text=True, check=False)
    if r.returncode != 0 or not r.stdout.strip():
        raise LabError(f"cannot locate {module}@{version} in the Go module cache: {r.stderr.strip()}")
    return Path(r.stdout.strip())


def _install(src: Path, dst: Path) -> None:
    """Put SRC at DST unless the same file is there (size and mtime, which copy2 keeps); a new one goes in by
    rename, so a kubectl that another process runs right now is never written over ("Text file busy")."""
    if dst.exists() and filecmp.cmp(src, dst, shallow=True):
        return
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}")
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def _copy_manifests(version: str, times: dict[str, float]) -> Path:
    """Copy MetalLB VERSION's install manifests out of its module zip into the cache, after checking
    that they run exactly the images the lab built (no pull from quay.io)."""
    t0 = time.monotonic()
    src = _module_dir("go.universe.tf/metallb", version)
    names = (["manifests/namespace.yaml", "manifests/metallb.yaml"] if _configmap_era(version)
             else ["config/manifests/metallb-native.yaml"])
    texts = {}
    for rel in names:
        if not (src / rel).is_file():
            raise LabError(f"{src / rel} is not in the MetalLB {version} module zip")
        texts[rel] = (src / rel).read_text()
    main = texts[names[-1]]
    for image in metallb_images(version):
        if f"image: {image}" not in main:
            raise LabError(f"{src / names[-1]} does not reference {image}; the images built here would not be used")
    dest = manifest_path(version).parent
    dest.mkdir(parents=True, exist_ok=True)
    for rel, text in texts.items():
        out = dest / Path(rel).name
        if not out.exists() or out.read_text() != text:
            out.write_text(text)
    times[f"metallb-manifest-{version}"] = round(time.monotonic() - t0, 1)
    _log(f"metallb-manifest {version}: {manifest_source(version)}")
    return manifest_source(version)


def build(force: bool = False, metallb: list[str] | tuple[str, ...] | None = None,
          lock_timeout: float | None = None) -> dict:
    """Build everything the lab needs; cached steps only check. Returns per-step seconds.

    ``metallb`` picks the MetalLB releases (default: both the current one and the ConfigMap era's).
    The whole build holds the cache lock (:func:`cache_lock`): a second build waits for the first,
    at most LOCK_TIMEOUT seconds (default ``$KINDLB_LAB_LOCK_TIMEOUT``, else no limit).

    >>> build()["node_image"]          # doctest: +SKIP
    'kindlb.local/node:v1.34.12'
    """
    releases = tuple(dict.fromkeys(metallb_version(m) for m in metallb)) if metallb else METALLB_VERSIONS
    ensure_docker()
    with cache_lock(lock_timeout) as lock:
        env = tool_env(releases)
        env[LOCK_HELD_ENV] = str(lock)
        if force:
            env["KINDLB_LAB_FORCE"] = "1"
        return _build(releases, env)


def _build(releases: tuple[str, ...], env: dict[str, str]) -> dict:
    times: dict[str, float] = {}
    t0 = time.monotonic()
    _log(f"build: cache {cache_dir()}, Kubernetes {v.K8S_VERSION}, kind {v.KIND_VERSION}")
    sets = dict(line.split("=", 1) for line in (HERE / "rootfs-sets.sh").read_text().splitlines()
                if line.startswith("ROOTFS_"))
    # Kubernetes is by far the longest step: run it alongside the others.
    _log("kubernetes: start (background)")
    k8s = _start("kubernetes", ["bash", "build-kubernetes.sh"], env)
    try:
        for name in ("node", "slim", "nginx"):
            pkgs = sets[f"ROOTFS_{name.upper()}"].strip('"')
            _run(f"rootfs-{name}", ["bash", "build-rootfs.sh", name, pkgs], env, times)
        for target in ("kind", "crictl", *(f"metallb@{m}" for m in releases), "etcd", "coredns"):
            _run(f"go-{target.replace('@', '-')}", ["bash", "build-go.sh", target], env, times)
        for m in releases:
            _copy_manifests(m, times)
    finally:
        _finish("kubernetes", k8s, times)
    kbin = cache_dir() / "out" / "kubernetes" / v.K8S_VERSION
    _install(kbin / "kubectl", bin_dir() / "kubectl")
    _run("images", ["bash", "build-images.sh"], env, times)
    _run("frr-image", ["bash", "build-frr.sh"], env, times)  # the BGP router (notebook 07_bgp)
    _run("base-image", ["bash", "build-node.sh", "base"], env, times)
    _run("node-image", ["bash", "build-node.sh", "node"], env, times)
    total = round(time.monotonic() - t0, 1)
    _log(f"build: done in {total} s")
    return {"times": times, "total_seconds": total, "node_image": v.NODE_IMAGE,
            "nginx_image": v.NGINX_IMAGE, "frr_image": v.pins()["FRR_IMAGE"], "metallb_versions": list(releases),
            "metallb_manifests": {m: str(manifest_source(m)) for m in releases},
            "bin_dir": str(bin_dir()), "cache_dir": str(cache_dir())}
