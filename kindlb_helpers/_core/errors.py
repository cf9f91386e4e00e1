"""The few exceptions kindlb raises. Every message says what to do next.

One translation point per outside system turns its exceptions into these, keeping the original as
``__cause__``: ``cluster.kube.translate`` (the Kubernetes client, urllib3), ``cluster.dockernet.translate``
(the Docker SDK), ``cluster.commands.run`` (subprocess). Nothing else names the outside exceptions.
Bad input raises :class:`BadInput` (the CLI exits 2); everything else is a :class:`KindlbError` (exit 1).
"""
from __future__ import annotations


class KindlbError(Exception):
    """Base class of every error this package raises on purpose.

    ``transient`` says whether the same step may succeed a little later without anyone changing
    anything (an API server restarting, a webhook not serving yet): a wait retries only those and
    ends at once on every other error (a rejected pool, a bad name, a missing program).
    """

    transient = False


class BadInput(KindlbError, ValueError):
    """A value given by the user (a parameter, an address, a name, a version) that cannot be used.

    In IPython and Jupyter it shows as its message alone (``_render_traceback_``, IPython's own protocol): the
    learner's value is wrong, and the stack says nothing to them. Every other error, a bug above all, keeps
    its traceback.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31m{type(self).__name__}\x1b[0m: {self}"]


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

    transient = True


class DockerError(KindlbError):
    """The Docker engine answered with an error (``.status`` is its HTTP status, when known)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def transient(self) -> bool:  # type: ignore[override]
        """The engine's own trouble (5xx, or no status) may pass; its refusals (4xx) do not."""
        return self.status is None or self.status >= 500


class KindNetworkNotFound(KindlbError):
    """The kind docker network (or a cluster's node containers) does not exist."""


class WrongContext(KindlbError):
    """A kube context other than the kind cluster's was about to be used."""


class ClusterNotFound(KindlbError):
    """The named kind cluster is missing or unreachable."""


class ClusterUnreachable(ClusterNotFound):
    """The cluster's API server did not answer (refused, timed out, or the connection broke)."""

    status = None
    transient = True


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

    @property
    def transient(self) -> bool:  # type: ignore[override]
        """Not found yet (404), a conflict (409), too many requests (429), a server or webhook not ready (5xx)."""
        return self.status in (404, 409, 429) or (self.status or 0) >= 500


class MetalLBError(KindlbError):
    """MetalLB is missing, not ready, or could not be installed/configured."""


class BadVersion(MetalLBError, BadInput):
    """A MetalLB version string that cannot be read, or one the notebooks do not know."""


class WaitTimeout(KindlbError, TimeoutError):
    """A wait ran out of time; the message explains what was seen."""


class ImageStuck(KindlbError):
    """A pod cannot start its image (it cannot be pulled, may not be pulled, or its process keeps exiting): waiting
    will not help. ``.stuck`` holds the pod, node, image and reason the message names with the fix."""

    def __init__(self, message: str, stuck: object = None) -> None:
        super().__init__(message)
        self.stuck = stuck


class NoOfflineSource(KindlbError):
    """An offline-only run (``kindlb run --offline``, ``sources="offline"``) with neither a loaded bundle nor the
    offline lab here; the message says what to load."""


class ToolMissing(KindlbError):
    """A program kindlb runs (kind, kubectl, docker, ip, ...) is not installed or cannot be run."""


class CommandFailed(KindlbError):
    """A program kindlb ran exited non-zero; ``.status`` is its exit code, ``.stderr`` what it said."""

    def __init__(self, message: str, status: int | None = None, stderr: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.stderr = stderr


class CommandTimeout(WaitTimeout):
    """A program kindlb ran did not finish in time."""


def is_transient(exc: BaseException) -> bool:
    """Whether waiting longer may turn EXC into success: kindlb's errors say so themselves; a raw
    connection error (``OSError``) may pass; any other exception is final (a bug, shown at once)."""
    if isinstance(exc, KindlbError):
        return bool(exc.transient)
    return isinstance(exc, OSError)


class ExportError(KindlbError):
    """A notebook's HTML page would not be self-contained (it fetches from another host or misses a file)."""


class LabError(KindlbError):
    """The offline lab could not build or start something."""
