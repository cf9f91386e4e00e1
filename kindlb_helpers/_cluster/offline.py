"""Offline sources: where the series finds its images, MetalLB manifests and tools without internet.

An offline source is anything with the small :class:`OfflineSource` protocol. The package implements it for
a loaded image bundle (``tools.bundle``); other distributions plug in through the package entry point group
``kindlb.offline_sources`` (the offline lab registers ``lab`` in its ``pyproject.toml``). The library never
imports them by name: it asks :func:`sources` / :func:`source`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from .._core.errors import KindlbError

#: The entry point group offline sources register in (``name = "module:factory"``).
GROUP = "kindlb.offline_sources"
#: The entry point group of ``kindlb <name> ...`` subcommands another distribution adds (``main(argv) -> int``).
COMMANDS = "kindlb.commands"


@runtime_checkable
class OfflineSource(Protocol):
    """Images and manifests for the series, with no registry and no internet."""

    #: Short name (``lab``, ``bundle``), as ``kindlb`` names it to the user.
    name: str

    def metallb_version(self, version: str | None = None) -> str:
        """The MetalLB release it serves for VERSION (None: its default); BadInput/KindlbError if it has none."""

    def manifest_source(self, version: str) -> Path:
        """MetalLB's install manifest (a file, or a folder of them) for VERSION."""

    def image(self, role: str) -> str:
        """The image reference it holds for ROLE: ``node``, ``nginx`` or ``probe``."""

    def kind_binary(self) -> Path | None:
        """A kind program it brings (None: it brings none)."""


def _entry_points(group: str):
    from importlib.metadata import entry_points

    return entry_points(group=group)


def sources() -> dict[str, OfflineSource]:
    """Every installed offline source by name (loaded from the entry points; one that fails to load is skipped)."""
    found: dict[str, OfflineSource] = {}
    for ep in _entry_points(GROUP):
        try:
            made = ep.load()()
        except Exception:  # noqa: BLE001  (a broken plug-in must not break the library; `source` names it)
            continue
        if isinstance(made, OfflineSource):
            found[ep.name] = made
    return found


def source(name: str, hint: str = "") -> OfflineSource:
    """The offline source NAME, else KindlbError saying it is not installed (and HINT: how to install it)."""
    for ep in _entry_points(GROUP):
        if ep.name == name:
            try:
                made = ep.load()()
            except Exception as exc:
                raise KindlbError(f"the offline source {name!r} ({ep.value}) failed to load: {exc}") from exc
            if not isinstance(made, OfflineSource):
                raise KindlbError(f"the offline source {name!r} ({ep.value}) does not offer what kindlb needs")
            return made
    raise KindlbError(f"the offline source {name!r} is not installed" + (f": {hint}" if hint else ""))


def command(name: str):
    """The ``main(argv)`` another distribution registered as ``kindlb NAME``, or None."""
    for ep in _entry_points(COMMANDS):
        if ep.name == name:
            return ep.load()
    return None
