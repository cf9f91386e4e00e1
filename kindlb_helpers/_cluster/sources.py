"""Where each image and manifest comes from: the one resolver the notebooks, ``kindlb run`` and the doctor ask.

Five things come from somewhere: the kind **node** image, MetalLB's install **manifest**, the demo app's
**nginx** image, the **probe** container's image and the BGP **router**'s image. Each notebook parameter
that names one (``node_image``, ``metallb_source``, ``image``, ``probe_image``, ``router_image``) is
resolved here, in this order:

1. the value the learner set (anything but ``None`` / ``"auto"``);
2. a loaded bundle (``kindlb bundle load FILE``: its manifest in ``~/.cache/kindlb/bundle/<version>/``);
3. the offline lab (the ``lab`` plug-in, entry point ``kindlb.offline_sources``, once it has built; or the
   ``KINDLB_LAB_METALLB_SOURCE`` that ``kindlb lab env`` exports);
4. the online default (the pins in ``versions.env``; MetalLB's manifest from GitHub; kind's node image).

``sources`` picks which of them may be used: ``"auto"`` (all four, in that order), ``"online"`` (skip the
bundle and the lab, even where they are here), ``"offline"`` (a bundle or the lab, never online: refused at
once when neither is here), ``"bundle"`` or ``"lab"`` (only that one).

>>> found = resolve_all("online", image=None, probe_image="busybox:1.36")
>>> print(found)
nginx image (image): online: nginx:1.27
probe image (probe_image): your value: busybox:1.36
>>> found.image, found["probe"].origin
('nginx:1.27', 'yours')
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping

from .._core.errors import BadInput, KindlbError, NoOfflineSource
from .._core.inputs import cut
from .._core.release import release
from .._core.versions import METALLB_VERSION, pins
from .._core.views import Viewed

#: Each role and the notebook parameter that names it.
PARAMETERS: dict[str, str] = {"node": "node_image", "metallb": "metallb_source", "nginx": "image",
                              "probe": "probe_image", "router": "router_image"}
ROLES = tuple(PARAMETERS)
_ROLE_OF = {param: role for role, param in PARAMETERS.items()}
#: What a learner reads for each role.
LABELS = {"node": "node image", "metallb": "MetalLB manifest", "nginx": "nginx image", "probe": "probe image",
          "router": "router image"}
#: The values of the ``sources`` parameter.
CHOICES = ("auto", "online", "offline", "bundle", "lab")
#: Where a value came from, in the order they are tried.
ORIGINS = ("yours", "bundle", "lab", "online")
_ALLOWED = {"auto": ("bundle", "lab", "online"), "online": ("online",), "offline": ("bundle", "lab"),
            "bundle": ("bundle",), "lab": ("lab",)}
#: The environment ``kindlb lab env`` exports: the lab's manifest for its release.
LAB_SOURCE_ENV, LAB_VERSION_ENV = "KINDLB_LAB_METALLB_SOURCE", "KINDLB_LAB_METALLB_VERSION"
#: Where loaded bundles keep their manifest (``$KINDLB_BUNDLE_CACHE``, else ``~/.cache/kindlb/bundle``).
BUNDLE_CACHE_ENV = "KINDLB_BUNDLE_CACHE"
BUNDLE_MANIFEST = "manifest.json"
#: What to do when no offline source is here (one line, for ``--offline`` and ``sources="offline"``).
LOAD_HINT = ("load a bundle (`kindlb bundle load FILE`, from a USB stick or `kindlb bundle save`), or build the "
             "offline lab in a clone of kindlb (`pip install -e lab/`, then `kindlb lab up`)")
#: The online images, by role (versions.env).
_ONLINE_PINS = {"nginx": "NGINX_ONLINE_IMAGE", "probe": "PROBE_ONLINE_IMAGE", "router": "FRR_ONLINE_IMAGE"}


# ---------- what a loaded bundle holds ----------

def bundle_cache() -> Path:
    """Where loaded bundles keep their manifest: ``$KINDLB_BUNDLE_CACHE`` or ``~/.cache/kindlb/bundle``."""
    env = os.environ.get(BUNDLE_CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "kindlb" / "bundle"


@dataclass
class Loaded:
    """A bundle loaded on this machine: its version, its folder in the cache, its manifest."""

    metallb_version: str
    folder: Path
    manifest: dict

    @property
    def manifest_source(self) -> Path:
        """The folder the notebooks' ``metallb_source`` takes."""
        return self.folder / "metallb"

    def has(self, role: str) -> bool:
        """Whether it holds an image of ROLE (bundles made before notebook 07_bgp have no router)."""
        return any(img.get("role") == role for img in self.manifest.get("images", ()))

    def image(self, role: str) -> str:
        """The first image reference of ROLE (``node``, ``nginx``, ``probe``, ``router``, ``metallb``)."""
        for img in self.manifest.get("images", ()):
            if img.get("role") == role:
                return img["ref"]
        raise KindlbError(f"the bundle in {self.folder} has no {role} image: load a complete bundle again "
                          "(`kindlb bundle load FILE`)")


def loaded_bundle(version: str | None = None) -> Loaded | None:
    """The loaded bundle for VERSION (None: the pinned release's, else the only one loaded), or None."""
    root = bundle_cache()
    if version is not None:
        candidates = [root / release(version).tag]
    else:
        try:
            have = sorted(p for p in root.glob("v*") if (p / BUNDLE_MANIFEST).is_file()) if root.is_dir() else []
        except OSError:
            have = []
        pinned = root / METALLB_VERSION
        candidates = [pinned] if pinned in have else have[:1] if len(have) == 1 else []
    for folder in candidates:
        try:
            manifest = json.loads((folder / BUNDLE_MANIFEST).read_text())
            return Loaded(manifest["metallb_version"], folder, manifest)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # none here, or not readable: as if not loaded (the doctor and `bundle verify` say more)
    return None


# ---------- the offline lab ----------

@lru_cache(maxsize=1)
def _lab_plugin():
    from .offline import sources

    return sources().get("lab")


def _lab_manifest(version: str) -> Path | None:
    """The lab's MetalLB manifest for VERSION when it is here: ``kindlb lab env``'s export, else the plug-in's
    once it has built it; None when the lab cannot serve VERSION."""
    env_path, env_version = os.environ.get(LAB_SOURCE_ENV), os.environ.get(LAB_VERSION_ENV)
    if env_path and Path(env_path).expanduser().exists() and (env_version or METALLB_VERSION) == version:
        return Path(env_path).expanduser()
    lab = _lab_plugin()
    if lab is None:
        return None
    try:
        path = Path(lab.manifest_source(lab.metallb_version(version)))
    except Exception:  # noqa: BLE001  (a release the lab cannot build, or a plug-in that fails: not the lab)
        return None
    return path if path.exists() else None


def lab_built() -> bool:
    """Whether the offline lab is here and has built (its current release's manifest exists)."""
    return _lab_manifest(METALLB_VERSION) is not None or bool(os.environ.get(LAB_SOURCE_ENV)
                                                               and Path(os.environ[LAB_SOURCE_ENV]).exists())


def _lab_image(role: str) -> str:
    """The lab's image of ROLE: the plug-in's answer (it builds the probe on first use), else its pin."""
    lab = _lab_plugin()
    if lab is not None and role != "router":
        try:
            return lab.image(role)
        except Exception:  # noqa: BLE001  (Docker down while the probe is built: the pin; its use says why)
            pass
    return pins()[{"node": "NODE_IMAGE", "nginx": "NGINX_IMAGE", "probe": "PROBE_IMAGE", "router": "FRR_IMAGE"}[role]]


# ---------- one role ----------

@dataclass(frozen=True)
class Source:
    """Where one role's image or manifest comes from.

    ``value`` is what the notebook passes on: an image reference, or the manifest's file or folder. It is
    None where the online default is the tool's own (kind's node image, MetalLB's manifest from GitHub).
    """

    role: str
    value: str | None
    origin: str
    where: str
    shown: str

    @property
    def parameter(self) -> str:
        """The notebook parameter that names this role."""
        return PARAMETERS[self.role]

    @property
    def offline(self) -> bool:
        """Whether it is served from this machine (a bundle or the lab)."""
        return self.origin in ("bundle", "lab")

    def __str__(self) -> str:
        return f"{LABELS[self.role]} ({self.parameter}): {self.where}: {self.shown}"


def _version(metallb_version: str | None) -> str:
    return release(metallb_version).tag if metallb_version else METALLB_VERSION


def _unset(value: object) -> bool:
    return value is None or value == "auto" or (isinstance(value, str) and not value.strip())


def _from_bundle(role: str, version: str) -> Source | None:
    if role == "metallb":
        bundle = loaded_bundle(version)
        if bundle is None:
            return None
        value = str(bundle.manifest_source)
    else:
        bundle = loaded_bundle(version) or loaded_bundle()
        if bundle is None or not bundle.has(role):
            return None
        value = bundle.image(role)
    return Source(role, value, "bundle", f"loaded bundle {bundle.metallb_version}", value)


def _from_lab(role: str, version: str) -> Source | None:
    if role == "metallb":
        path = _lab_manifest(version)
        return None if path is None else Source(role, str(path), "lab", "offline lab", str(path))
    if not lab_built():
        return None
    value = _lab_image(role)
    return Source(role, value, "lab", "offline lab", value)


def _online(role: str, version: str) -> Source:
    if role == "node":
        kind = pins()["KIND_VERSION"]
        return Source(role, None, "online", "online", f"kind {kind}'s default node image (kindest/node, Docker Hub)")
    if role == "metallb":
        return Source(role, None, "online", "online", ", ".join(release(version).manifest_urls))
    value = pins()[_ONLINE_PINS[role]]
    return Source(role, value, "online", "online", value)


def resolve(role: str, given: object = None, *, sources: str = "auto", metallb_version: str | None = None) -> Source:
    """Where ROLE comes from: GIVEN when set, else the first of a loaded bundle, the offline lab and the online
    default that SOURCES allows. NoOfflineSource (saying what to load) when SOURCES allows only offline ones
    and none is here.

    >>> resolve("nginx", "nginx:1.25").value
    'nginx:1.25'
    >>> str(resolve("router", sources="online"))
    'router image (router_image): online: quay.io/frrouting/frr:10.5.3'
    """
    if role not in PARAMETERS:
        raise BadInput(f"no image role {cut(role)}: use one of {', '.join(ROLES)}")
    check_choice(sources)
    if not _unset(given):
        value = str(given)
        return Source(role, value, "yours", "your value", value)
    version = _version(metallb_version)
    for origin in _ALLOWED[sources]:
        found = (_from_bundle if origin == "bundle" else _from_lab if origin == "lab" else _online)(role, version)
        if found is not None:
            return found
    what = {"offline": "a loaded bundle or the offline lab", "bundle": "a loaded bundle",
            "lab": "the offline lab (built)"}[sources]
    for_version = f" for MetalLB {version}" if role == "metallb" else ""
    run = "an offline run (kindlb run --offline, sources='offline')" if sources == "offline" else f"sources={sources!r}"
    why = _lab_refusal(version) if role == "metallb" and "lab" in _ALLOWED[sources] else None
    if why:  # the lab says which releases it can build: that is the fix
        raise NoOfflineSource(f"{run} cannot take the MetalLB {version} manifest offline: {why}")
    if loaded_bundle() is None and not lab_built():  # nothing offline at all: say that, not which role
        raise NoOfflineSource(f"{run} needs {what}, and neither is here: {LOAD_HINT}")
    raise NoOfflineSource(f"{run} needs {what}{for_version} for the {LABELS[role]}, and it has none: {LOAD_HINT}; "
                          f"or set {PARAMETERS[role]} yourself")


def _lab_refusal(version: str) -> str | None:
    """Why the lab cannot serve MetalLB VERSION (its own words: the releases it builds), or None."""
    lab = _lab_plugin()
    if lab is None:
        return None
    try:
        lab.metallb_version(version)
    except Exception as exc:  # noqa: BLE001  (the plug-in's refusal, said as it says it)
        return str(exc).splitlines()[0] if str(exc) else None
    return None


def check_choice(sources: object) -> str:
    """SOURCES when it is one of :data:`CHOICES`; BadInput saying the choices otherwise."""
    if not isinstance(sources, str) or sources not in CHOICES:
        raise BadInput(f"sources must be one of {', '.join(map(repr, CHOICES))}, not {cut(sources)}")
    return sources


# ---------- several roles: a notebook's first cell, kindlb run ----------

@dataclass(frozen=True)
class Sources(Viewed):
    """The sources of several roles, in order. ``found.image`` / ``found["nginx"]`` reach one; ``str()`` is one
    line per role, as the notebooks' first cell prints it."""

    items: tuple[Source, ...]
    sources: str = "auto"
    #: The MetalLB release the manifest was resolved for.
    metallb_version: str = METALLB_VERSION

    def __iter__(self) -> Iterator[Source]:
        return iter(self.items)

    def __getitem__(self, role: str) -> Source:
        for s in self.items:
            if s.role == role:
                return s
        raise KeyError(role)

    def __getattr__(self, name: str) -> Any:
        role = _ROLE_OF.get(name)
        if role is None:
            raise AttributeError(name)
        return self[role].value

    def params(self) -> dict[str, str]:
        """The parameters to pass on (``{"image": ...}``), leaving out the online defaults that are the tools'
        own (None: kind's node image, MetalLB's manifest from GitHub)."""
        return {s.parameter: s.value for s in self.items if s.value is not None}

    @property
    def offline(self) -> bool:
        """Whether every role is served from this machine (or set by the learner)."""
        return all(s.origin != "online" for s in self.items)

    def __str__(self) -> str:
        return "\n".join(map(str, self.items))


def resolve_all(sources: str = "auto", *, metallb_version: str | None = None, **given: object) -> Sources:
    """Resolve each parameter given by name (``image=None, probe_image=None, ...``): see :func:`resolve`.

    >>> [s.origin for s in resolve_all("online", node_image=None, metallb_source="/tmp/m.yaml")]
    ['online', 'yours']
    """
    unknown = [name for name in given if name not in _ROLE_OF]
    if unknown:
        raise BadInput(f"resolve_all() knows the parameters {', '.join(_ROLE_OF)}, not {', '.join(unknown)}")
    return Sources(tuple(resolve(_ROLE_OF[name], value, sources=sources, metallb_version=metallb_version)
                         for name, value in given.items()), sources, _version(metallb_version))


def for_run(params: Mapping[str, object], offline: bool, roles: tuple[str, ...] = ROLES) -> Sources:
    """ROLES for ``kindlb run``: the user's ``-p`` values, then (``--offline``) a loaded bundle or the lab, never
    online, else NoOfflineSource at once. Without ``--offline`` the notebooks resolve themselves."""
    given = {PARAMETERS[role]: params.get(PARAMETERS[role]) for role in roles}
    version = params.get("metallb_version")
    if version is None and offline and loaded_bundle() is not None:  # the one bundle loaded: its release
        version = loaded_bundle().metallb_version  # type: ignore[union-attr]
    found = resolve_all("offline" if offline else str(params.get("sources", "auto")),
                        metallb_version=version, **given)  # type: ignore[arg-type]
    return Sources(found.items, found.sources, _version(version))


def offline_here(metallb_version: str | None = None) -> str | None:
    """Which offline source the notebooks use now: ``"bundle"``, ``"lab"`` or None (online)."""
    origin = resolve("nginx", metallb_version=metallb_version).origin
    return origin if origin in ("bundle", "lab") else None


def now_used(origin: str) -> str:
    """The line ``kindlb bundle load`` and ``kindlb lab up`` end with: the notebooks use it, nothing to set."""
    what = {"bundle": "the loaded bundle's", "lab": "the offline lab's"}[origin]
    return (f"the notebooks now use {what} images and MetalLB manifest, with nothing to set (each notebook's "
            "first cell says where each comes from; sources=\"online\" there uses the online ones)")


def node_images(found: Sources, metallb_version: str | None = None) -> list[str]:
    """The images a cluster's nodes need from this machine, when FOUND serves them offline: MetalLB's controller
    and speaker (from the bundle or the lab) and the nginx image, for ``kind load docker-image``."""
    refs: list[str] = []
    try:
        metallb = found["metallb"]
    except KeyError:
        metallb = None
    if metallb is not None and metallb.offline:
        bundle = loaded_bundle(_version(metallb_version)) if metallb.origin == "bundle" else None
        if bundle is not None:
            refs += [img["ref"] for img in bundle.manifest.get("images", ()) if img.get("role") == "metallb"]
        else:
            refs += list(release(_version(metallb_version)).images.values())
    try:
        nginx = found["nginx"]
    except KeyError:
        nginx = None
    if nginx is not None and nginx.origin != "online":
        refs.append(nginx.value)
    return list(dict.fromkeys(r for r in refs if r))
