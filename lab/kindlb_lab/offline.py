"""The offline lab as a kindlb offline source (entry point ``kindlb.offline_sources: lab``, lab/pyproject.toml):
what ``kindlb run --offline`` and ``kindlb bundle save --from-lab`` take from it, without kindlb naming it."""
from __future__ import annotations

from pathlib import Path

from kindlb_helpers._core import versions as v

from .build import bin_dir, manifest_source, metallb_version
from .probe import probe_image


class LabSource:
    """Images, manifests and the kind program the lab builds here."""

    name = "lab"

    def metallb_version(self, version: str | None = None) -> str:
        """The release the lab builds for VERSION (LabError names the two it can)."""
        return metallb_version(version)

    def manifest_source(self, version: str) -> Path:
        """MetalLB's manifest file (current) or folder (ConfigMap era), copied out of its Go module."""
        return manifest_source(version)

    def image(self, role: str) -> str:
        """The lab's node, nginx or probe image (the probe is built on first use)."""
        if role == "probe":
            return probe_image()
        return {"node": v.NODE_IMAGE, "nginx": v.NGINX_IMAGE}[role]

    def kind_binary(self) -> Path | None:
        """The kind the lab built, when it has."""
        exe = bin_dir() / "kind"
        return exe if exe.exists() else None
