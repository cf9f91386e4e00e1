"""The few exceptions kindlb raises. Every message says what to do next."""
from __future__ import annotations


class KindlbError(Exception):
    """Base class of every error this package raises on purpose."""


class PoolError(KindlbError, ValueError):
    """An address pool that cannot be used; the message names the conflict and a fix."""


class DockerUnavailable(KindlbError):
    """The Docker engine cannot be reached."""


class KindNetworkNotFound(KindlbError):
    """The kind docker network (or a cluster's node containers) does not exist."""


class WrongContext(KindlbError):
    """A kube context other than the kind cluster's was about to be used."""


class ClusterNotFound(KindlbError):
    """The named kind cluster is missing or unreachable."""


class MetalLBError(KindlbError):
    """MetalLB is missing, not ready, or could not be installed/configured."""


class WaitTimeout(KindlbError, TimeoutError):
    """A wait ran out of time; the message explains what was seen."""


class LabError(KindlbError):
    """The offline lab could not build or start something."""
