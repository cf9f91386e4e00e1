"""``python -m kindlb_helpers.lab build|up|down|status|env|smoke``."""
from __future__ import annotations

import argparse
import json
import shlex
import sys

from ..errors import KindlbError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kindlb lab", description="The offline kind + MetalLB lab.")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build binaries and images (cached)")
    b.add_argument("--force", action="store_true", help="rebuild everything")
    for cmd, text in (("up", "build, then create or reuse the cluster"), ("down", "delete the cluster"),
                      ("status", "show the cluster and the built artefacts"),
                      ("smoke", "MetalLB + pool + nginx LoadBalancer, then GET the page")):
        s = sub.add_parser(cmd, help=text)
        s.add_argument("--name", default="kindlb")
        if cmd == "up":
            s.add_argument("--workers", type=int, default=2)
        if cmd == "smoke":
            s.add_argument("--keep", action="store_true", help="keep the demo namespace and pool")
    sub.add_parser("env", help="print shell exports that put the lab's kind/kubectl on PATH")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 lab error, 2 usage)."""
    from . import bin_dir, build, down, status, up
    from .demo import smoke

    args = _parser().parse_args(argv)
    try:
        if args.cmd == "build":
            result = build(force=args.force)
        elif args.cmd == "up":
            result = up(args.name, workers=args.workers)
        elif args.cmd == "down":
            result = down(args.name)
        elif args.cmd == "status":
            result = status(args.name)
        elif args.cmd == "smoke":
            result = smoke(args.name, keep=args.keep)
        else:  # env
            print(f"export PATH={shlex.quote(str(bin_dir()))}:\"$PATH\"")
            return 0
    except KindlbError as e:
        print(f"kindlb lab {args.cmd}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0
