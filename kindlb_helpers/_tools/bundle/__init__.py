"""``kindlb bundle``: every image the series needs, in one archive to hand round on a USB stick.

The names the command line, the offline sources and the tests use, re-exported from the submodules:

- ``format``: what a bundle holds and the checks of its manifest (:class:`BundleError`);
- ``verify``: reading the whole archive once and proving every member (:func:`verify`);
- ``dockercli``: the Docker CLI (save, load, pull, tag, rmi) and :func:`image_id`;
- ``saving``: :func:`save`;
- ``loading``: :func:`load` (rolled back when a step fails; with a cluster named, the room's one command);
- what is loaded, and where (:func:`loaded_bundle`, :class:`Loaded`), from the cluster layer's resolver
  (``_cluster/sources.py``), which the notebooks and the doctor read too.
"""
from ..._cluster.sources import Loaded, loaded_bundle
from .dockercli import image_id
from .format import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    NODE_ROLES,
    REQUIRED_ROLES,
    ROLES,
    BundleError,
    normalize_version,
)
from .loading import load
from .saving import manifest_images, save
from .verify import verify

__all__ = [
    "FORMAT", "FORMAT_VERSION", "MANIFEST", "NODE_ROLES", "REQUIRED_ROLES", "ROLES", "BundleError", "Loaded",
    "image_id", "load", "loaded_bundle", "manifest_images", "normalize_version",
    "save", "verify",
]
