"""Check notebook parameters by type and range, all at once, before anything is applied.

Every notebook's first code cell calls :func:`check` with its parameters (``check(globals())``
works: only the known names are looked at). Each bad value is listed with its fix in one
:class:`~kindlb_helpers._core.errors.BadParameters`; nothing is contacted. Kubernetes names are
checked as the API server checks them (DNS-1123 label / subdomain, their lengths).

Pure logic: standard library only.

>>> check(cluster="kindlb", family=4, subnet="172.19.0.1/16", apply=False)
>>> check(cluster="Kind_LB", apply="maybe")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
kindlb_helpers._core.errors.BadParameters: 2 parameters to fix before anything runs:
- cluster: 'Kind_LB' is not a valid kind cluster name: use lowercase letters, digits and '-', ...
- apply: must be True or False, not 'maybe' (a str)
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from .bgp_config import check_asn, check_hold_time, check_router_ip_text
from .errors import BadInput, BadParameters
from .inputs import cut, known_release
from .manifests import pool_ranges
from .names import dns1123_label, dns1123_subdomain, image_ref, kind_cluster_name, service_name
from .pool import as_subnet, reserved
from .versions import METALLB_KNOWN

__all__ = ["check", "KNOWN", "dns1123_label", "service_name", "dns1123_subdomain", "kind_cluster_name", "image_ref"]

# ---------- one checker per kind of value: return an error text, or None when fine ----------

def _type_name(value: object) -> str:
    return type(value).__name__


def _bool(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    return f"must be True or False, not {cut(value)} (a {_type_name(value)})"


def _fmt(x: float) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def _number(lo: float, hi: float, whole: bool = False, unit: str = "") -> Callable[[object], str | None]:
    def checker(value: object) -> str | None:
        ok_type = isinstance(value, int) if whole else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type or value != value:  # NaN is not a number here
            kind = "a whole number" if whole else "a number"
            return f"must be {kind} from {_fmt(lo)} to {_fmt(hi)}{unit}, not {cut(value)} (a {_type_name(value)})"
        if not lo <= value <= hi:
            return f"{cut(value)} is out of range: use {_fmt(lo)} to {_fmt(hi)}{unit}"
        return None

    return checker


def _optional(inner: Callable[[object], str | None]) -> Callable[[object], str | None]:
    return lambda value: None if value is None else inner(value)


def _via(func: Callable[[object], Any]) -> Callable[[object], str | None]:
    def checker(value: object) -> str | None:
        try:
            func(value)
        except (BadInput, ValueError, TypeError) as exc:
            return str(exc)
        return None

    return checker


def _family(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value not in (4, 6):
        return f"must be 4 or 6 (IPv4 or IPv6), not {cut(value)}" + (f" (a {_type_name(value)})"
                                                                     if not isinstance(value, int) else "")
    return None


def _subnet(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return f"must be text like '172.19.0.1/16' (as `ip a` shows the bridge), or None, not a {_type_name(value)}"
    return _via(as_subnet)(value)


def _taken(value: object) -> str | None:
    if not isinstance(value, (list, tuple)):
        return f"must be a list like ['172.19.0.10', '172.19.1.0/24'], not {cut(value)}"
    return _via(reserved)(value)


def _pool(value: object) -> str | None:
    return None if value is None else _via(pool_ranges)(value)


def _version(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be text like {METALLB_KNOWN[0]!r}, not {cut(value)}"
    try:
        known_release(value, "")
    except BadInput as exc:
        return str(exc).lstrip()
    return None


def _choice(*options: str) -> Callable[[object], str | None]:
    def checker(value: object) -> str | None:
        if value in options and isinstance(value, str):
            return None
        return f"must be one of {', '.join(map(repr, options))}, not {cut(value)}"

    return checker


def _path_or_none(value: object) -> str | None:
    import os

    if value is None or (isinstance(value, (str, os.PathLike)) and str(value).strip()):
        return None
    return f"must be a file or folder path, or None to download, not {cut(value)}"


#: Every parameter any notebook declares, and its check.
KNOWN: dict[str, Callable[[object], str | None]] = {
    "cluster": _via(kind_cluster_name),
    "dual_cluster": _via(kind_cluster_name),  # 07_dual_stack's own dual-stack cluster
    "workers": _number(0, 10, whole=True, unit=" worker nodes"),
    "expected_nodes": _number(1, 11, whole=True, unit=" nodes"),
    "node_image": _optional(_via(image_ref)),
    "create_if_missing": _bool,
    "delete_cluster": _bool,
    "remove_metallb": _bool,
    "avoid_other_clusters": _bool,
    "apply": _bool,
    "interactive": _bool,
    "timeout": _number(1, 3600, unit=" seconds"),
    "family": _family,
    "subnet": _subnet,
    "taken": _taken,
    "pool": _pool,
    "pool_size": _optional(_number(1, 1 << 20, whole=True, unit=" addresses")),
    "pool_name": _via(lambda v: dns1123_subdomain(v, "pool name")),
    "metallb_version": _optional(_version),
    "metallb_source": _path_or_none,
    "app_name": _via(lambda v: service_name(v, "app name")),
    "demo_service": _via(lambda v: service_name(v, "demo Service name")),
    "namespace": _via(lambda v: dns1123_label(v, "namespace")),
    "image": _optional(_via(image_ref)),  # None: the pinned image (versions.env)
    "probe_image": _optional(_via(image_ref)),
    # where images and manifests come from when their parameter is None/"auto" (_cluster/sources.py)
    "sources": _choice("auto", "online", "offline", "bundle", "lab"),
    "replicas": _number(1, 50, whole=True, unit=" pods"),
    "requests": _number(1, 1000, whole=True, unit=" requests"),
    "probe_from": _choice("auto", "host", "container"),
    "failover_timeout": _number(1, 90, unit=" seconds (MetalLB fails over within seconds; 90 is the bound)"),
    "node_failure": _bool,
    "capture": _choice("auto", "host", "node", "off"),
    "solutions": _bool,
    "wrong": _bool,
    # BGP (notebook 07_bgp); the plan re-checks them against the cluster before anything is applied
    "router_asn": _via(lambda v: check_asn(v, "router_asn")),
    "metallb_asn": _via(lambda v: check_asn(v, "metallb_asn")),
    "bgp_pool": _via(lambda v: pool_ranges(v)),
    "router_ip": _via(lambda v: v == "" or check_router_ip_text(v)),
    "router_image": _via(lambda v: v == "auto" or image_ref(v)),
    "hold_time": _via(check_hold_time),
    "withdraw_timeout": _number(1, 300, unit=" seconds (bounded: the hold time plus a margin)"),
    "keep_router": _bool,
}


def check(params: Mapping[str, Any] | None = None, /, **values: Any) -> None:
    """Check every known parameter in ``params`` (e.g. ``globals()``) and ``values``; raise one error for all.

    Unknown names are ignored (a notebook's namespace holds more than its parameters). The
    family must agree with the subnet and the pool. Returns None when all is well; otherwise
    raises :class:`~kindlb_helpers._core.errors.BadParameters`, whose ``problems`` maps each bad name
    to its fix.

    >>> check({"replicas": 3, "requests": 60, "probe_from": "host", "__name__": "__main__"})
    >>> check(family=6, subnet="172.19.0.1/16")
    Traceback (most recent call last):
    ...
    kindlb_helpers._core.errors.BadParameters: 1 parameter to fix before anything runs:
    - family: family=6 but subnet 172.19.0.1/16 is IPv4: set family=4, or give an IPv6 subnet
    """
    if params is not None and not isinstance(params, Mapping):
        raise BadInput(f"check() takes a mapping of parameters (a dict such as globals()), not {cut(params)} "
                       f"(a {_type_name(params)}): call check(cluster=..., ...) or check({{'cluster': ...}})")
    given = {k: v for k, v in {**(params or {}), **values}.items() if k in KNOWN}
    problems: dict[str, str] = {}
    for name, value in given.items():
        why = KNOWN[name](value)
        if why:
            problems[name] = why
    family = given.get("family")
    if "family" not in problems and family is not None:
        for other in ("subnet", "pool"):
            value = given.get(other)
            if value is None or other in problems:
                continue
            version = _version_of(other, value)
            if version is not None and version != family:
                problems["family"] = (f"family={family} but {other} {_show(value)} is IPv{version}: set "
                                      f"family={version}, or give an IPv{family} {other}")
                break
    if problems:
        raise BadParameters(problems)


def _show(value: object) -> str:
    return value if isinstance(value, str) and len(value) <= 60 else cut(value)


def _version_of(name: str, value: object) -> int | None:
    try:
        if name == "subnet":
            return as_subnet(value).version
        versions = {r.version for r in pool_ranges(value)}
        return versions.pop() if len(versions) == 1 else None
    except (BadInput, ValueError):
        return None

