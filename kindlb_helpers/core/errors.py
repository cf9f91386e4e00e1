"""The few exceptions kindlb raises. Every message says what to do next.

The shell modules (``kube``, ``dockernet``) translate the Kubernetes client's, urllib3's and the
Docker SDK's exceptions into these at the boundary, keeping the original as ``__cause__``; the
pure core raises the ``ValueError`` subclasses for bad input.
"""
from __future__ import annotations


class KindlbError(Exception):
    """Base class of every error this package raises on purpose."""


class BadInput(KindlbError, ValueError):
    """A value given by the user (a parameter, an address, a name, a version) that cannot be used."""


class PoolError(BadInput):
    """An address pool that cannot be used; the message names the conflict and a fix."""


class BadParameters(BadInput):
    """One or more notebook/CLI parameters have the wrong type or are out of range.

    ``problems`` maps each bad parameter's name to what is wrong and how to fix it.
    """

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = dict(problems)
        lines = [f"- {name}: {why}" for name, why in self.problems.items()]
        n = len(self.problems)
        super().__init__(f"{n} parameter{'s' if n != 1 else ''} to fix before anything runs:\n" + "\n".join(lines))


class DockerUnavailable(KindlbError):
    """The Docker engine cannot be reached."""


class DockerError(KindlbError):
    """The Docker engine answered with an error (``.status`` is its HTTP status, when known)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class KindNetworkNotFound(KindlbError):
    """The kind docker network (or a cluster's node containers) does not exist."""


class WrongContext(KindlbError):
    """A kube context other than the kind cluster's was about to be used."""


class ClusterNotFound(KindlbError):
    """The named kind cluster is missing or unreachable."""


class ClusterUnreachable(ClusterNotFound):
    """The cluster's API server did not answer (refused, timed out, or the connection broke)."""

    status = None


class KubeAPIError(KindlbError):
    """The Kubernetes API server answered with an error; ``.status`` is the HTTP status (404, 409, ...)."""

    def __init__(self, message: str, status: int | None = None, reason: str | None = None,
                 body: str | None = None) -> None:
        KindlbError.__init__(self, message)
        self.status = status
        self.reason = reason
        self.body = body

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class MetalLBError(KindlbError):
    """MetalLB is missing, not ready, or could not be installed/configured."""


class BadVersion(MetalLBError, BadInput):
    """A MetalLB version string that cannot be read, or one the notebooks do not know."""


class WaitTimeout(KindlbError, TimeoutError):
    """A wait ran out of time; the message explains what was seen."""


class LabError(KindlbError):
    """The offline lab could not build or start something."""
