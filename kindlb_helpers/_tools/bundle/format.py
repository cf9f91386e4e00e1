"""The archive format: what a bundle holds, and the checks of its manifest (a bundle from a USB stick is hostile).

A bundle is a plain tar. Its first member is ``manifest.json``: the format, the MetalLB version,
each image (role, reference, Docker image ID, the file holding its ``docker save``) and the sha256
and size of every other member. Then ``images/<name>.tar`` (one ``docker save`` per image) and
``metallb/`` (the release's install manifest: ``metallb-native.yaml``, or ``namespace.yaml`` +
``metallb.yaml`` in the ConfigMap era). Nothing later trusts more than :func:`check_manifest` proved.
"""
from __future__ import annotations

import json
import re
import tarfile

from ..._core.errors import BadInput, KindlbError
from ..._core.inputs import cut, known_release
from ..._core.names import image_ref
from ..._core.versions import METALLB_KNOWN, METALLB_VERSION

FORMAT = "kindlb-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Roles loaded into the cluster's nodes (the node image runs them; the probe runs beside, in Docker).
NODE_ROLES = ("metallb", "nginx")
CHUNK = 1 << 20
#: Every role a bundle holds, once at least.
ROLES = ("node", "metallb", "nginx", "probe", "router")
#: The roles every bundle holds (bundles made before notebook 07_bgp have no router).
REQUIRED_ROLES = ("node", "metallb", "nginx", "probe")
#: A member's name: one plain file in images/ or metallb/, nothing else (no "..", no absolute path, no folder).
_MEMBER = re.compile(r"(images/[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}\.tar|metallb/[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}\.yaml)",
                     re.ASCII)
_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
_MAX_FILES = 64
_MAX_IMAGES = 32
#: The most a docker save archive's own manifest.json/repositories may hold (they are a few hundred bytes).
INNER_JSON_MAX = 1 << 20


class BundleError(KindlbError):
    """A bundle that cannot be used: truncated, foreign, for another version, or failing to load."""


def normalize_version(version: str | None) -> str:
    """``0.16.1`` -> ``v0.16.1``; None -> the pinned release; a release the notebooks do not know is refused.

    >>> normalize_version("0.12.1")
    'v0.12.1'
    """
    return known_release(METALLB_VERSION if version is None else version)


def read_manifest(tar: tarfile.TarFile, name: str) -> dict:
    first = tar.next()
    if first is None or first.name != MANIFEST or first.type not in REGULAR_TYPES or first.sparse is not None \
            or first.size > 1 << 20:
        raise BundleError(f"{name} is not a kindlb bundle (it does not start with {MANIFEST}): "
                          "make one with `kindlb bundle save FILE`")
    try:
        meta = json.loads(tar.extractfile(first).read())
    except (ValueError, RecursionError, tarfile.TarError) as exc:  # UnicodeDecodeError is a ValueError
        raise BundleError(f"{name}: its {MANIFEST} is damaged ({type(exc).__name__}): copy the bundle again") \
            from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BundleError(f"{name} is not a kindlb bundle ({MANIFEST} says format {cut(meta.get('format'))}): "
                          "make one with `kindlb bundle save FILE`" if isinstance(meta, dict) else
                          f"{name} is not a kindlb bundle: its {MANIFEST} is not a JSON object; make one with "
                          "`kindlb bundle save FILE`")
    if meta.get("format_version") != FORMAT_VERSION or isinstance(meta.get("format_version"), bool):
        raise BundleError(f"{name} is a version-{cut(meta.get('format_version'))} bundle ({MANIFEST}); this kindlb "
                          f"reads version {FORMAT_VERSION}: save it again with this kindlb")
    return meta


REGULAR_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE)


def check_manifest(meta: dict, name: str, archive_size: int) -> dict:
    """Prove the manifest names plain members, a known release, sane sizes and whole image entries.

    Nothing is read beyond the manifest yet: every later step trusts only what this returned.
    """
    def bad(why: str) -> BundleError:
        return BundleError(f"{name}: its {MANIFEST} {why}: the bundle was altered or damaged; make it again with "
                           "`kindlb bundle save`")

    version = meta.get("metallb_version")
    try:
        if known_release(version) != version:
            raise BadInput("not written as vX.Y.Z")
    except BadInput:
        raise BundleError(f"{name}: its {MANIFEST} names MetalLB {cut(version)}, not a release this kindlb knows "
                          f"({', '.join(METALLB_KNOWN)}): use a bundle made by `kindlb bundle save` for one of them") \
            from None
    files = meta.get("files")
    if not isinstance(files, dict) or not 0 < len(files) <= _MAX_FILES:
        raise bad(f"lists its files as {cut(files, 40)}, not as a mapping of up to {_MAX_FILES} members")
    for rel, entry in files.items():
        if not isinstance(rel, str) or not _MEMBER.fullmatch(rel):
            raise bad(f"lists member {cut(rel)}, which is not a plain file in images/ or metallb/")
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str) \
                or not _SHA256.fullmatch(entry["sha256"]):
            raise bad(f"gives {rel} no sha256 (64 hex digits)")
        size = entry.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise bad(f"gives {rel} the size {cut(size, 30)}, not a whole number of bytes")
        if size > archive_size:
            raise BundleError(f"{name}: its {MANIFEST} gives {rel} a size of {size:,} bytes, more than the whole "
                              f"archive ({archive_size:,}): the file is truncated or altered; copy the bundle again")
    total = sum(e["size"] for e in files.values())
    if total > archive_size:
        raise BundleError(f"{name}: its {MANIFEST} declares {total:,} bytes of members, more than the whole "
                          f"archive's size ({archive_size:,}): the file is truncated or altered; copy the bundle again")
    if not any(f.startswith("metallb/") for f in files):
        raise bad("lists no MetalLB manifest (metallb/*.yaml)")
    images = meta.get("images")
    if not isinstance(images, list) or not 0 < len(images) <= _MAX_IMAGES:
        raise bad(f"lists its images as {cut(images, 40)}, not as a list of up to {_MAX_IMAGES}")
    for n, img in enumerate(images):
        if not isinstance(img, dict):
            raise bad(f"has image entry {n} as {cut(img, 40)}, not an object")
        if img.get("role") not in ROLES:
            raise bad(f"gives image {n} the role {cut(img.get('role'), 30)}, not one of {', '.join(ROLES)}")
        try:
            image_ref(img.get("ref"))
        except BadInput:
            raise bad(f"gives image {n} the reference {cut(img.get('ref'), 40)}, not an image reference") from None
        if not isinstance(img.get("id"), str) or not _IMAGE_ID.fullmatch(img["id"]):
            raise bad(f"gives {img['ref']} the ID {cut(img.get('id'), 30)}, not sha256:<64 hex digits>")
        file = img.get("file")
        if not isinstance(file, str) or not file.startswith("images/") or file not in files:
            raise bad(f"loads {img['ref']} from {cut(file, 40)}, not a member of images/ listed in it")
        if img["role"] == "metallb" and not img["ref"].endswith(f":{version}"):
            raise bad(f"lists {img['ref']} as MetalLB {version}'s image")
    missing = [r for r in REQUIRED_ROLES if r not in {i["role"] for i in images}]
    if missing:
        raise bad(f"lists no {', '.join(missing)} image")
    return meta
