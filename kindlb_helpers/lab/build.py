"""Build the offline lab: Go binaries, Debian root filesystems, container images, node image.

The heavy lifting is in the shell scripts next to this file; this module runs them in order,
times each step, and writes every step's output to ``<cache>/logs/<step>.log``. Each script
caches its own results (stamp files, image labels), so a second ``build()`` only checks.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..errors import LabError
from . import versions as v

HERE = Path(__file__).resolve().parent


def cache_dir() -> Path:
    """Where every build output lives: ``$KINDLB_LAB_CACHE`` or ``~/.cache/kindlb/lab``."""
    env = os.environ.get("KINDLB_LAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "kindlb" / "lab"


def bin_dir() -> Path:
    """Where the built ``kind``, ``kubectl`` and ``crictl`` land; put it first on PATH."""
    return cache_dir() / "bin"


def manifest_path(version: str = v.METALLB_VERSION) -> Path:
    """MetalLB's native manifest, copied from the go.universe.tf/metallb module by ``build()``."""
    return cache_dir() / "metallb" / version / "metallb-native.yaml"


def tool_env() -> dict[str, str]:
    """``os.environ`` with the lab's bin directory first on PATH and the script variables set."""
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir()}{os.pathsep}{env.get('PATH', '')}"
    env["KINDLB_LAB_CACHE"] = str(cache_dir())
    env.update(v.script_env())
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


def _copy_manifest(times: dict[str, float]) -> Path:
    """Copy config/manifests/metallb-native.yaml out of the MetalLB module in the module cache."""
    t0 = time.monotonic()
    env = tool_env()
    dest = manifest_path()
    r = subprocess.run(["bash", "-c", '. ./common.sh && moddir go.universe.tf/metallb "$METALLB_VERSION"'],
                       cwd=HERE, env=env, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise LabError(f"cannot locate go.universe.tf/metallb@{v.METALLB_VERSION}: {r.stderr.strip()}")
    src = Path(r.stdout.strip()) / "config" / "manifests" / "metallb-native.yaml"
    if not src.is_file():
        raise LabError(f"{src} is not in the MetalLB {v.METALLB_VERSION} module zip")
    text = src.read_text()
    for image in v.METALLB_IMAGES:
        if f"image: {image}" not in text:
            raise LabError(f"{src} does not reference {image}; the images built here would not be used")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists() or dest.read_text() != text:
        dest.write_text(text)
    times["metallb-manifest"] = round(time.monotonic() - t0, 1)
    _log(f"metallb-manifest: {dest}")
    return dest


def build(force: bool = False) -> dict:
    """Build everything the lab needs; cached steps only check. Returns per-step seconds.

    >>> build()["node_image"]          # doctest: +SKIP
    'kindlb.local/node:v1.34.12'
    """
    ensure_docker()
    env = tool_env()
    if force:
        env["KINDLB_LAB_FORCE"] = "1"
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
        for target in ("kind", "crictl", "metallb", "etcd", "coredns"):
            _run(f"go-{target}", ["bash", "build-go.sh", target], env, times)
        _copy_manifest(times)
    finally:
        _finish("kubernetes", k8s, times)
    kbin = cache_dir() / "out" / "kubernetes" / v.K8S_VERSION
    shutil.copy2(kbin / "kubectl", bin_dir() / "kubectl")
    _run("images", ["bash", "build-images.sh"], env, times)
    _run("base-image", ["bash", "build-node.sh", "base"], env, times)
    _run("node-image", ["bash", "build-node.sh", "node"], env, times)
    total = round(time.monotonic() - t0, 1)
    _log(f"build: done in {total} s")
    return {"times": times, "total_seconds": total, "node_image": v.NODE_IMAGE,
            "nginx_image": v.NGINX_IMAGE, "metallb_manifest": str(manifest_path()),
            "bin_dir": str(bin_dir()), "cache_dir": str(cache_dir())}
