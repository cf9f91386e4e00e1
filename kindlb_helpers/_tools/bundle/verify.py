"""Verifying: read the whole archive once and prove every member against the manifest (``kindlb bundle verify``).

Each member must be listed once, regular, of its size and sha256; each image tar must tag exactly the
images the manifest lists for it. With a folder to extract to, the same pass writes each member as it is read.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from pathlib import Path
from typing import Callable, Collection

from ..._core.errors import BadInput
from ..._core.inputs import cut
from ..._core.paths import path_error
from .format import (
    CHUNK,
    INNER_JSON_MAX,
    MANIFEST,
    REGULAR_TYPES,
    BundleError,
    check_manifest,
    normalize_version,
    read_manifest,
)


class _Tee(io.RawIOBase):
    """Reads SRC, hashing and counting every byte (and copying it to DST): tar reads an image tar through it."""

    def __init__(self, src, dst=None) -> None:
        self.src, self.dst, self.hash, self.size = src, dst, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self.src.read(CHUNK if n is None or n < 0 else n)
        self.hash.update(data)
        self.size += len(data)
        if self.dst is not None:
            self.dst.write(data)
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def _inner_tags(tee: _Tee, rel: str, name: str) -> tuple[set[str], set[str]]:
    """Read one ``docker save`` archive as it streams by: the tags and image IDs ``docker load`` would make."""
    found: dict[str, bytes] = {}
    members: set[str] = set()

    def bad(why: str) -> BundleError:
        return BundleError(f"{name}: {rel} is not a docker save archive ({why}): the bundle was altered or "
                           "damaged; make it again with `kindlb bundle save`")

    try:
        with tarfile.open(fileobj=tee, mode="r|", bufsize=CHUNK) as inner:
            for m in inner:
                members.add(m.name[2:] if m.name.startswith("./") else m.name)
                if m.name in ("manifest.json", "repositories"):
                    if m.type not in REGULAR_TYPES or m.sparse is not None or m.size > INNER_JSON_MAX:
                        raise bad(f"its {m.name} is not a small regular file")
                    found[m.name] = inner.extractfile(m).read()
    except tarfile.TarError as exc:
        raise bad(str(exc)[:80]) from None
    tee.drain()
    if "manifest.json" not in found:
        raise bad("no manifest.json in it")
    try:
        entries = json.loads(found["manifest.json"])
        repos = json.loads(found["repositories"]) if "repositories" in found else {}
    except (ValueError, RecursionError) as exc:
        raise bad(f"its manifest.json or repositories is not JSON: {type(exc).__name__}") from None
    if not isinstance(entries, list) or not isinstance(repos, dict):
        raise bad("its manifest.json is not a list")
    tags: set[str] = set()
    ids: set[str] = set()
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("Config"), str) \
                or not isinstance(e.get("RepoTags") or [], list) or not isinstance(e.get("Layers"), list):
            raise bad("an entry of its manifest.json has no Config, RepoTags or Layers")
        for ref in [e["Config"], *e["Layers"]]:
            if not isinstance(ref, str) or ref not in members:
                raise bad(f"its manifest.json names {cut(ref, 40)}, which it does not hold")
        m = re.fullmatch(r"(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json)?", e["Config"], re.ASCII)
        if m is None:
            raise bad(f"its image config is {cut(e['Config'], 40)}")
        ids.add(f"sha256:{m.group(1)}")
        tags.update(t if isinstance(t, str) else repr(t) for t in e.get("RepoTags") or [])
    for repo, tagmap in repos.items():
        for tag in (tagmap if isinstance(tagmap, dict) else {"?": None}):
            tags.add(f"{repo}:{tag}")
    return tags, ids


def _familiar(ref: str) -> str:
    """``docker.io/library/nginx:1.27`` -> ``nginx:1.27``: a tag as ``docker save`` may write it, compared as typed."""
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def bundle_file(file: str | Path) -> Path:
    """FILE as a bundle to read: a file that is there; else one line naming it (a name too long, a file on the
    way, no permission, or simply nothing there) and what to give instead."""
    path = Path(file).expanduser()
    try:
        found = path.is_file()
        if not found:
            path.stat()  # nothing there is said below; any other OS error on the path, here
    except FileNotFoundError:
        found = False
    except OSError as exc:
        raise path_error(file, exc, "read the bundle") from None
    if not found:
        raise BadInput(f"no bundle at {cut(str(path), 200)}: give the file `kindlb bundle save` wrote")
    return path


def scan(file: str | Path, metallb_version: str | None, extract_to: Path | None,
          wanted: Callable[[dict], Collection[str]] | None = None) -> dict:
    """Read the whole archive once and prove it: the manifest first (names, release, sizes, entries), then
    every member (regular, listed once, its size and sha256, and what each image tar would tag). With
    EXTRACT_TO, each member is also written there as it is read (``load`` reads the file once); WANTED, given
    the proved manifest, names the members to write (None: all), the others are only read and checked."""
    path = bundle_file(file)
    name = str(path)
    asked = normalize_version(metallb_version) if metallb_version is not None else None
    seen: dict[str, str] = {}
    meta: dict | None = None
    try:
        with tarfile.open(path, "r|") as tar:
            meta = check_manifest(read_manifest(tar, name), name, path.stat().st_size)
            if asked is not None and meta["metallb_version"] != asked:
                raise BundleError(f"{name} holds MetalLB {meta['metallb_version']}, not {asked}: use a bundle "
                                  f"made with `kindlb bundle save FILE --metallb {asked}`, or drop --metallb")
            expected = meta["files"]
            keep = set(expected) if wanted is None else set(wanted(meta))
            by_file: dict[str, list[dict]] = {}
            for img in meta["images"]:
                by_file.setdefault(img["file"], []).append(img)
            while (member := tar.next()) is not None:
                rel = member.name
                if rel not in expected or rel in seen:
                    raise BundleError(f"{name}: unexpected member {cut(rel)}"
                                      + (" (a second time)" if rel in seen else f", not listed in its {MANIFEST}")
                                      + ": the bundle was altered; make it again")
                if member.type not in REGULAR_TYPES or member.sparse is not None:
                    kind = {tarfile.SYMTYPE: "a symbolic link", tarfile.LNKTYPE: "a hard link",
                            tarfile.FIFOTYPE: "a FIFO", tarfile.CHRTYPE: "a character device",
                            tarfile.BLKTYPE: "a block device", tarfile.DIRTYPE: "a folder"}.get(
                        member.type, "a sparse file" if member.issparse() else f"of type {member.type!r}")
                    raise BundleError(f"{name}: member {rel} is {kind}, not a regular file: the bundle was "
                                      "altered; make it again with `kindlb bundle save`")
                if member.size != expected[rel]["size"]:
                    raise BundleError(f"{name}: {rel} is damaged ({member.size:,} bytes, its {MANIFEST} says "
                                      f"{expected[rel]['size']:,}): copy the bundle again")
                dst = None
                if extract_to is not None and rel in keep:
                    (extract_to / rel).parent.mkdir(parents=True, exist_ok=True)
                    dst = open(extract_to / rel, "xb")
                try:
                    tee = _Tee(tar.extractfile(member), dst)
                    if rel in by_file:
                        tags, ids = _inner_tags(tee, rel, name)
                        tags = {_familiar(t) for t in tags}
                        refs = {_familiar(i["ref"]) for i in by_file[rel]}
                        if tags != refs or ids != {i["id"] for i in by_file[rel]}:
                            extra = sorted(tags - refs) or sorted(ids - {i["id"] for i in by_file[rel]})
                            raise BundleError(
                                f"{name}: {rel} would load {cut(', '.join(extra or sorted(refs - tags)), 80)}, "
                                f"not what its {MANIFEST} lists for it: the bundle was altered; make it again")
                    else:
                        tee.drain()
                finally:
                    if dst:
                        dst.close()
                if tee.size != expected[rel]["size"] or tee.hash.hexdigest() != expected[rel]["sha256"]:
                    raise BundleError(f"{name}: {rel} is damaged ({tee.size:,} of {expected[rel]['size']:,} bytes, "
                                      "or a different sha256): the file is truncated or corrupt; copy it again")
                seen[rel] = tee.hash.hexdigest()
    except tarfile.TarError as exc:
        if meta is not None:  # it began as a bundle: the rest is missing or broken
            raise BundleError(f"{name} is truncated ({str(exc)[:80]}, {len(seen)} of {len(meta['files'])} files "
                              "whole): copy the bundle again") from None
        raise BundleError(f"{name} is truncated or not a tar archive ({str(exc)[:80]}): copy the bundle again, or "
                          "make it with `kindlb bundle save FILE`") from None
    except EOFError:
        raise BundleError(f"{name} is truncated: copy the bundle again") from None
    missing = sorted(set(meta["files"]) - set(seen))
    if missing:
        raise BundleError(f"{name} is incomplete (truncated?): missing {cut(', '.join(missing), 120)}; copy it again")
    return meta


def verify(file: str | Path, metallb_version: str | None = None) -> dict:
    """Prove the whole bundle (see :func:`scan`); write and load nothing. Returns the manifest."""
    return scan(file, metallb_version, None)
