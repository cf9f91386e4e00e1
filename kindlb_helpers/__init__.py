"""kindlb_helpers: the library behind the kindlb notebooks (MetalLB on kind).

The package is four layers, each a subpackage; a layer imports only the layers before it:

- ``core``: pure logic and data (errors, version pins, names, pools, sipcalc, manifests, objects, params,
  the hood). Loads at once and needs neither Docker nor a cluster.
- ``cluster``: what talks to Docker, kind, Kubernetes and MetalLB (kube, dockernet, containers, metallb,
  waits, network).
- ``lesson``: what the notebooks show and do (app, l2, exercises, trouble, doctor, widgets, diagrams,
  eras, tables).
- ``tools``: the ``kindlb`` command and the series runner (cli, runner, bundle, export, notebooks).

This module is the curated facade the notebooks use (``import kindlb_helpers as kh``): the names below,
and every module by its short name (``kh.app``, ``kh.l2``, ...), loaded on first use.

>>> import kindlb_helpers as kh
>>> str(kh.plan_pool("172.19.0.1/16"))
'172.19.255.1-172.19.255.250'
"""
from __future__ import annotations

import importlib
import sys

from ._core import params
from ._core.errors import (
    BadInput,
    BadParameters,
    BadVersion,
    ClusterNotFound,
    ClusterUnreachable,
    DockerError,
    DockerUnavailable,
    KindlbError,
    KindNetworkNotFound,
    KubeAPIError,
    LabError,
    MetalLBError,
    PoolError,
    WaitTimeout,
    WrongContext,
)
from ._core.manifests import ARTICLE_VERSION, DEFAULT_VERSION, metallb_manifests, parse_version, to_yaml, uses_crds
from ._core.params import check as check_parameters
from ._core.pool import PoolRange, Reserved, default_size, plan_pool, validate_pool
from ._core.sipcalc import format_sipcalc, sipcalc_table

__version__ = "0.1.0"

# name -> module, loaded on first access (they import docker, kubernetes, ipywidgets, matplotlib)
_LAZY = {
    "docker_client": "dockernet", "kind_network": "dockernet", "kind_nodes": "dockernet",
    "kind_network_name": "dockernet", "network_frame": "dockernet", "KindNetwork": "dockernet",
    "connect": "kube", "Kind": "kube", "ensure_cluster": "kube", "delete_cluster": "kube", "apply": "kube",
    "kind_context": "kube", "nodes_frame": "tables", "services_frame": "tables", "pods_frame": "tables",
    "highlight": "tables", "wait_until": "waits", "pool_picker": "widgets", "PoolPicker": "widgets",
    "taken_on": "network", "taken_frame": "network", "plan_for": "network", "subnet_figure": "network",
    "clusters_on": "network", "taken_from_text": "network", "wait_nodes_ready": "kube",
    "check_environment": "doctor", "run_series": "runner", "show": "hood", "nginx_objects": "objects",
}
# every module by its short name (kh.app, kh.l2, ...) -> its layer; loaded on first access
_LAYERS = {
    "core": ("errors", "versions", "names", "pool", "sipcalc", "manifests", "objects", "params", "hood", "page",
             "bgp_config", "release"),
    "cluster": ("kube", "kubeconfig", "kind", "commands", "offline", "dockernet", "containers", "metallb", "waits",
                "network", "router", "capture", "probe"),
    "lesson": ("app", "l2", "exercises", "trouble", "doctor", "widgets", "diagrams", "eras", "tables", "bgp"),
    "tools": ("cli", "runner", "bundle", "export", "notebooks"),
}
_SUBMODULES = {name: f"_{layer}.{name}" for layer, names in _LAYERS.items() for name in names}
_LAZY = {name: _SUBMODULES[module] for name, module in _LAZY.items()}

__all__ = [
    "BadInput", "BadParameters", "BadVersion", "ClusterUnreachable", "DockerError", "KubeAPIError",
    "check_parameters", "params", "ClusterNotFound", "DockerUnavailable", "KindlbError", "KindNetworkNotFound",
    "LabError", "MetalLBError",
    "PoolError", "WaitTimeout", "WrongContext", "ARTICLE_VERSION", "DEFAULT_VERSION", "metallb_manifests",
    "parse_version", "to_yaml", "uses_crds", "PoolRange", "Reserved", "default_size", "plan_pool",
    "validate_pool", "format_sipcalc", "sipcalc_table", *_LAZY, *sorted(_SUBMODULES), *_LAYERS,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{_SUBMODULES[name]}", __name__)
    if name in _LAYERS:
        return importlib.import_module(f"._{name}", __name__)
    raise AttributeError(f"module 'kindlb_helpers' has no attribute {name!r}")


def _short_errors_in_notebooks() -> None:
    """In IPython/Jupyter, show this package's errors as their message only, not a traceback:
    they are meant for the learner ("what to do next"), and the stack says nothing to them.
    The cell still fails (papermill stops there). Other exceptions keep their full traceback."""
    ipython = sys.modules.get("IPython")  # loaded in every IPython shell; never imported here (0.5 s)
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or KindlbError in getattr(shell, "custom_exceptions", ()):
        return

    def handler(shell, etype, value, tb, tb_offset=None):
        stb = [f"\x1b[31m{etype.__name__}\x1b[0m: {value}"]
        shell._showtraceback(etype, value, stb)  # the kernel sends it as the cell's error output
        return stb

    shell.set_custom_exc((KindlbError,), handler)


_short_errors_in_notebooks()
