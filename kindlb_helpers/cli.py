"""``kindlb``: the helpers for people without notebooks.

Every error ends as one line (two at most) on stderr: exit 2 for bad input, 1 for failures;
``kindlb --debug ...`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import sys

from .errors import BadInput, KindlbError


def _sipcalc(args) -> int:
    from .sipcalc import format_sipcalc

    print(format_sipcalc(args.address))
    return 0


def _pool(args) -> int:
    from .dockernet import kind_network
    from .metallb import other_clusters_pools
    from .network import clusters_on, plan_for
    from .params import check

    check(cluster=args.cluster, pool_size=args.size)
    net = kind_network(args.network)
    skipped: list[str] = []
    extra = [] if args.ignore_other_clusters else other_clusters_pools(args.cluster, clusters_on(net), skipped=skipped)
    pool, taken = plan_for(net, args.family, args.size, extra)
    if args.verbose:
        print(f"network {net.name}: IPv{args.family} {net.subnet(args.family)}; avoided {len(taken)} taken entries:",
              file=sys.stderr)
        for t in taken:
            print(f"  {t}", file=sys.stderr)
        for why in skipped:
            print(f"  skipped the pools of {why}", file=sys.stderr)
    print(pool)
    return 0


def _doctor(args) -> int:
    from .doctor import check_environment
    from .params import check

    check(cluster=args.cluster)
    frame = check_environment(args.cluster)
    width = max(len(c) for c in frame["check"])
    for row in frame.itertuples():
        mark = {True: "ok ", False: "FIX", None: " - "}[row.ok]
        print(f"[{mark}] {row.check:<{width}}  {row.found}" + (f"\n        -> {row.fix}" if row.fix else ""))
    return 0 if frame["ok"].eq(True).all() else 1


def _parse_params(pairs: list[str]) -> dict:
    """``-p name=value`` pairs; each value is read as YAML (``true``, ``3``, ``[a, b]``, ``null``)."""
    import yaml

    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise BadInput(f"-p {pair!r} must look like name=value, e.g. -p apply=false or -p subnet=172.19.0.1/16")
        try:
            params[key] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            where = str(exc).splitlines()[0]
            raise BadInput(f"-p {key}: {value!r} is not a YAML value ({where}): quote text, e.g. -p {key}='\"...\"'") \
                from None
    return params


LAB_HINT = "it lives beside the package, in a clone of kindlb: `pip install -e lab/` (scripts/setup.sh does it)"


def _lab():
    """The offline lab package (``kindlb_lab``, a distribution of its own), or None when absent."""
    import importlib
    import importlib.util

    return importlib.import_module("kindlb_lab") if importlib.util.find_spec("kindlb_lab") else None


def _run(args) -> int:
    from .runner import check_run_parameters, run_series

    params = _parse_params(args.param)
    check_run_parameters(params, args.notebooks or None)  # what the user typed; nothing has run yet
    if args.offline:
        lab = _lab()
        if lab is None:
            raise KindlbError(f"--offline needs the offline lab, which is not installed: {LAB_HINT}")
        version = lab.metallb_version(params.get("metallb_version"))  # a version the lab cannot build stops here
        params["metallb_version"] = version
        params.setdefault("metallb_source", str(lab.manifest_source(version)))
        params.setdefault("image", lab.NGINX_IMAGE)
        if params.get("probe_from") == "container":
            params.setdefault("probe_image", lab.probe_image())
    if args.delete_cluster:
        params["delete_cluster"] = True
    results = run_series(args.cluster, params, args.output, args.notebooks or None)
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"FAILED: {failed[0].notebook}: {failed[0].error}\nexecuted notebook: {failed[0].output}",
              file=sys.stderr)
        return 1
    print(f"all {len(results)} notebooks ran; executed copies and HTML in {args.output}")
    return 0




def build_parser() -> argparse.ArgumentParser:
    """The ``kindlb`` argument parser (``lab`` is dispatched before it)."""
    p = argparse.ArgumentParser(prog="kindlb",
                                description="MetalLB on kind: subnet tables, pools, checks, the notebook series")
    p.add_argument("--debug", action="store_true", help="show the full traceback when something fails")
    debug = argparse.ArgumentParser(add_help=False)  # also accepted after the command
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sipcalc", parents=[debug], help="print sipcalc's table for an address/prefix")
    s.add_argument("address", help="e.g. 172.19.0.1/16 or fc00:f853:ccd:e793::1/64")
    s.set_defaults(func=_sipcalc)
    s = sub.add_parser("pool", parents=[debug], help="plan a MetalLB pool on the live kind network")
    s.add_argument("--cluster", default="kindlb", help="the cluster the pool is for (its own pool is not avoided)")
    s.add_argument("--size", type=int, default=None, help="addresses in the pool (default: 250, less on small subnets)")
    s.add_argument("--family", type=int, choices=(4, 6), default=4)
    s.add_argument("--network", default=None,
                   help="docker network (default: $KIND_EXPERIMENTAL_DOCKER_NETWORK or kind)")
    s.add_argument("--ignore-other-clusters", action="store_true", help="do not read other kind clusters' pools")
    s.add_argument("-v", "--verbose", action="store_true", help="list what was avoided (on stderr)")
    s.set_defaults(func=_pool)
    s = sub.add_parser("doctor", parents=[debug],
                       help="check docker, kind, kubectl, the cluster, its context and MetalLB")
    s.add_argument("--cluster", default="kindlb")
    s.set_defaults(func=_doctor)
    s = sub.add_parser("run", parents=[debug], help="run the notebook series headless with papermill")
    s.add_argument("--cluster", default="kindlb")
    s.add_argument("--output", default="runs/latest", help="folder for the executed notebooks and their HTML")
    s.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter for every notebook that declares it (YAML value), repeatable")
    s.add_argument("--offline", action="store_true", help="use the offline lab's MetalLB manifest and nginx image")
    s.add_argument("--delete-cluster", action="store_true", help="let the cleanup notebook delete the cluster")
    s.add_argument("notebooks", nargs="*", help="run only these (e.g. 03_address_pool)")
    s.set_defaults(func=_run)
    s = sub.add_parser("lab",
                       help="the offline lab: build kind, Kubernetes, MetalLB and nginx here (see `kindlb lab -h`)",
                       add_help=False)
    s.set_defaults(func=None)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``kindlb``; the exit status (0 ok, 1 failure, 2 bad input)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["lab"]:
        lab = _lab()
        if lab is None:
            print(f"kindlb lab: the offline lab is not installed: {LAB_HINT}", file=sys.stderr)
            return 2
        return lab.main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as exc:
        if args.debug:
            raise
        print(_one_or_two_lines(exc), file=sys.stderr)
        return 2 if isinstance(exc, BadInput) else 1


def _one_or_two_lines(exc: BaseException) -> str:
    """``kindlb: <message>``: the first line, then everything else joined into a second one."""
    text = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, KindlbError):
        text = f"{type(exc).__name__}: {text} (a bug? `kindlb --debug ...` shows where)"
    first, *rest = [line.strip() for line in text.splitlines() if line.strip()]
    return f"kindlb: {first}" + (f"\n  {'; '.join(rest)}" if rest else "")


if __name__ == "__main__":
    sys.exit(main())
