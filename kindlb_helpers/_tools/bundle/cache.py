"""The cache of loaded bundles: where ``load`` keeps a release's manifest, and what is loaded there."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..._core.versions import METALLB_VERSION
from .format import MANIFEST, BundleError, normalize_version


def cache_dir() -> Path:
    """Where loaded bundles keep their manifest: ``$KINDLB_BUNDLE_CACHE`` or ``~/.cache/kindlb/bundle``."""
    env = os.environ.get("KINDLB_BUNDLE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "kindlb" / "bundle"


@dataclass
class Loaded:
    """A bundle loaded on this machine: its version, its folder in the cache, its manifest."""

    metallb_version: str
    folder: Path
    manifest: dict

    @property
    def manifest_source(self) -> Path:
        """The folder to pass as the notebooks' ``metallb_source``."""
        return self.folder / "metallb"

    def image(self, role: str) -> str:
        """The first image reference of ROLE (``node``, ``nginx``, ``probe``, ``metallb``)."""
        for img in self.manifest["images"]:
            if img["role"] == role:
                return img["ref"]
        raise BundleError(f"the bundle in {self.folder} has no {role} image: load a complete bundle again")


def loaded_bundle(version: str | None = None) -> Loaded | None:
    """The loaded bundle for VERSION (None: the pinned release's, else the only one loaded), or None."""
    root = cache_dir()
    if version is not None:
        candidates = [root / normalize_version(version)]
    else:
        have = sorted(p for p in root.glob("v*") if (p / MANIFEST).is_file()) if root.is_dir() else []
        pinned = root / METALLB_VERSION
        candidates = [pinned] if pinned in have else have[:1] if len(have) == 1 else []
    for folder in candidates:
        if (folder / MANIFEST).is_file():
            manifest = json.loads((folder / MANIFEST).read_text())
            return Loaded(manifest["metallb_version"], folder, manifest)
    return None
