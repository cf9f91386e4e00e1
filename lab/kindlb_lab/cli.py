"""``python -m kindlb_lab build|up|down|status|env|load-metallb`` (also ``kindlb lab ...``)."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys

from kindlb_helpers._core.errors import KindlbError
from kindlb_helpers._core.versions import METALLB_CONFIGMAP_VERSION, METALLB_VERSION

_VERSIONS = f"{METALLB_VERSION} or {METALLB_CONFIGMAP_VERSION}"
_LOCK_HELP = ("give up after this many seconds when another build holds the cache's lock "
              "(default $KINDLB_LAB_LOCK_TIMEOUT, else wait as long as it takes)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kindlb lab", description="The offline kind + MetalLB lab.")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build binaries and images (cached)")
    b.add_argument("--force", action="store_true", help="rebuild everything")
    b.add_argument("--metallb", action="append", metavar="VERSION",
                   help=f"only this MetalLB release ({_VERSIONS}; repeatable; default both)")
    b.add_argument("--lock-timeout", type=float, metavar="SECONDS", help=_LOCK_HELP)
    for cmd, text in (("up", "build, then create or reuse the cluster and load the images"),
                      ("down", "delete the cluster"),
                      ("status", "show the cluster and the built artefacts"),
                      ("load-metallb", "load a MetalLB release's images into an existing cluster")):
        s = sub.add_parser(cmd, help=text)
        if cmd == "load-metallb":
            s.add_argument("version", metavar="VERSION", help=_VERSIONS)
        s.add_argument("--name", default="kindlb")
        if cmd in ("up", "load-metallb"):  # they build what is missing
            s.add_argument("--lock-timeout", type=float, metavar="SECONDS", help=_LOCK_HELP)
        if cmd == "up":
            s.add_argument("--workers", type=int, default=2)
            s.add_argument("--ip-family", choices=("ipv4", "dual"), default="ipv4", dest="ip_family",
                           help="kind's networking.ipFamily: ipv4 (default) or dual (IPv4 and IPv6: pods, "
                                "Services and the lab's CNI in both families)")
            s.add_argument("--metallb", metavar="VERSION",
                           help=f"build and load only this MetalLB release ({_VERSIONS}; default: all built)")
    e = sub.add_parser("env", help="print shell exports: the lab's kind/kubectl on PATH, its MetalLB source")
    e.add_argument("--metallb", metavar="VERSION", help=f"{_VERSIONS} (default {METALLB_VERSION})")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 lab error, 2 usage)."""
    from . import (
        bin_dir,
        build,
        down,
        load_metallb,
        manifest_source,
        metallb_version,
        status,
        up,
    )
    from .build import LOCK_TIMEOUT_ENV

    args = _parser().parse_args(argv)
    saved = os.environ.get(LOCK_TIMEOUT_ENV)
    if getattr(args, "lock_timeout", None) is not None:  # build() reads it, also when up() calls it
        os.environ[LOCK_TIMEOUT_ENV] = str(args.lock_timeout)
    try:
        if args.cmd == "build":
            result = build(force=args.force, metallb=args.metallb)
        elif args.cmd == "up":
            result = up(args.name, workers=args.workers, metallb=args.metallb, ip_family=args.ip_family)
        elif args.cmd == "down":
            result = down(args.name)
        elif args.cmd == "status":
            result = status(args.name)
        elif args.cmd == "load-metallb":
            result = load_metallb(args.name, args.version)
        else:  # env
            ver = metallb_version(args.metallb)
            print(f"export PATH={shlex.quote(str(bin_dir()))}:\"$PATH\"")
            print(f"export KINDLB_LAB_METALLB_VERSION={shlex.quote(ver)}")
            print(f"export KINDLB_LAB_METALLB_SOURCE={shlex.quote(str(manifest_source(ver)))}")
            return 0
    except KindlbError as e:
        print(f"kindlb lab {args.cmd}: {e}", file=sys.stderr)
        return 1
    finally:
        if saved is None:
            os.environ.pop(LOCK_TIMEOUT_ENV, None)
        else:
            os.environ[LOCK_TIMEOUT_ENV] = saved
    print(json.dumps(result, indent=2, default=str))
    if args.cmd == "up":  # after the JSON (scripts read it), on stderr: what changes for the learner
        from kindlb_helpers._cluster.sources import now_used

        print(now_used("lab"), file=sys.stderr)
    return 0
