"""kindlb_helpers: the library behind the kindlb notebooks (MetalLB on kind).

``import kindlb_helpers as kh`` offers the topics a notebook uses, each a public module that loads on first
use, and the few names every notebook needs (:func:`show` and the error types):

- ``kh.cluster``: the kind cluster: ensure, connect, wait for nodes, delete; nodes, pods, Services as tables;
- ``kh.metallb``: versions and eras, release facts, manifests, install, readiness, configure, uninstall;
- ``kh.pool``: the subnet (``sipcalc``), what is taken, the pool planned, picked, validated and drawn;
- ``kh.app``: nginx deployed, exposed, fetched and removed;
- ``kh.l2``, ``kh.bgp``: layer 2 and BGP on the wire; ``kh.dual``: IPv6 and dual-stack LoadBalancers;
- ``kh.exercises``, ``kh.trouble``: the exercises (07) and the staged failures (08);
- ``kh.doctor``, ``kh.params``, ``kh.diagrams``: the first cell's checks, the parameters, the pictures.

Everything else is private by its name: the layers ``_core`` -> ``_cluster`` -> ``_lesson`` -> ``_tools``
(each imports only the ones before it) hold the implementation; the CLI and the lab import from them.

>>> import kindlb_helpers as kh
>>> str(kh.pool.plan("172.19.0.1/16"))
'172.19.255.1-172.19.255.250'
"""
import importlib as _importlib

from ._core.errors import (
    BadInput,
    BadParameters,
    BadVersion,
    ClusterNotFound,
    ClusterUnreachable,
    CommandFailed,
    DockerError,
    DockerUnavailable,
    ImageStuck,
    KindlbError,
    KindNetworkNotFound,
    KubeAPIError,
    LabError,
    MetalLBError,
    NoOfflineSource,
    PoolError,
    ToolMissing,
    WaitTimeout,
    WrongContext,
)
from ._lesson.render import show

__version__ = "0.1.0"

# the public topics, each a module of this package (kindlb_helpers/<topic>.py), imported on first use
# because they load pandas, docker and kubernetes, which the first line of a notebook does not need
_TOPICS = ("app", "bgp", "cluster", "diagrams", "doctor", "dual", "exercises", "l2", "metallb", "params", "pool",
           "trouble")

__all__ = [
    *_TOPICS, "show",
    "KindlbError", "BadInput", "BadParameters", "BadVersion", "PoolError", "ClusterNotFound", "ClusterUnreachable",
    "CommandFailed", "DockerError", "DockerUnavailable", "ImageStuck", "KindNetworkNotFound", "KubeAPIError",
    "LabError", "MetalLBError", "NoOfflineSource", "ToolMissing", "WaitTimeout", "WrongContext",
]


def __getattr__(name: str):
    if name in _TOPICS:
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'kindlb_helpers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
