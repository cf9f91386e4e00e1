"""``kindlb``: the helpers for people without notebooks.

Every error ends as one line (two at most) on stderr: exit 2 for bad input, 1 for failures;
``kindlb --debug ...`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import functools
import sys
import time

from .._core.errors import BadInput, KindlbError


def _sipcalc(args) -> int:
    from .._core.inputs import cut
    from .._core.sipcalc import format_sipcalc

    if len(args.address) > 100:
        raise BadInput(f"{cut(args.address)} is too long for an address: write it like 172.19.0.1/16")

    print(format_sipcalc(args.address))
    return 0


def _family(text: str) -> int:
    """``--family 4``: ASCII 4 or 6 only (``int()`` would read a fullwidth ４ as 4)."""
    if text not in ("4", "6"):
        raise argparse.ArgumentTypeError(f"{text[:20]!r}: write 4 or 6")
    return int(text)


def _pool(args) -> int:
    from .._cluster.dockernet import kind_network
    from .._cluster.metallb import other_clusters_pools
    from .._cluster.network import clusters_on, plan_for
    from .._core.inputs import whole_number
    from .._core.names import docker_network_name
    from .._core.params import check

    size = None if args.size is None else whole_number(args.size, "--size")
    check(cluster=args.cluster, pool_size=size)
    if args.network is not None:
        docker_network_name(args.network)
    net = kind_network(args.network)
    skipped: list[str] = []
    extra = [] if args.ignore_other_clusters else other_clusters_pools(args.cluster, clusters_on(net), skipped=skipped)
    pool, taken = plan_for(net, args.family, size, extra)
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
    from .._core.params import check
    from .._lesson.laptop import laptop_rows
    from .._lesson.room import report

    check(cluster=args.cluster)
    rows, docker_answered = report(args.cluster)  # a Docker that does not answer is asked nothing more
    laptop = laptop_rows(docker=docker_answered)
    width = max(len(r["check"]) for r in [*rows, *laptop])
    for table, bad in ((rows, "FIX"), (laptop, "WARN")):
        for row in table:
            mark = {True: "ok", False: bad, None: "-"}[row["ok"]]
            print(f"[{mark:^4}] {row['check']:<{width}}  {row['found']}" + (f"\n         -> {row['fix']}"
                                                                           if row["fix"] else ""))
    return 1 if any(r["ok"] is False for r in rows) else 0


def _parse_params(pairs: list[str]) -> dict:
    """``-p name=value`` pairs; each value is read as YAML (``true``, ``3``, ``[a, b]``, ``null``): a plain scalar
    or a flat list of them, numbers in plain digits (``010`` is refused, not YAML 1.1's 8)."""
    from .._core.inputs import cut, yaml_param

    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier() or not key.isascii():
            raise BadInput(f"-p {cut(pair)} must look like name=value, e.g. -p apply=false or "
                           "-p subnet=172.19.0.1/16")
        params[key] = yaml_param(key, value)
    return params


LAB_HINT = "it lives beside the package, in a clone of kindlb: `pip install -e lab/` (scripts/setup.sh does it)"


def _run(args) -> int:
    import os

    from .._core.names import kind_cluster_name
    from .notebooks import notebooks_dir
    from .runner import check_run_parameters, run_series

    kind_cluster_name(args.cluster)  # before anything starts: a kernel, a cluster, a folder
    args.notebooks = [_notebook_arg(n) for n in args.notebooks]
    if args.notebooks_dir:  # the runner reads the folder from here: one place, like KINDLB_NOTEBOOKS
        os.environ["KINDLB_NOTEBOOKS"] = str(notebooks_dir(args.notebooks_dir).resolve())
    params = _parse_params(args.param)
    check_run_parameters(params, args.notebooks or None)  # what the user typed; nothing has run yet
    from .._core.paths import folder_for

    folder_for(args.output, "create the output folder")  # a name too long, a file on the way: said before any run
    found = None
    if args.offline:  # the one resolver: a loaded bundle, else the lab, never online; refused here otherwise
        from .offline_run import prepare
        from .runner import series

        found = prepare(args.cluster, params, args.notebooks or series())
        for line in str(found).splitlines():  # where each image and manifest comes from: one line each
            print(f"--offline: {line}")
    if args.delete_cluster:
        params["delete_cluster"] = True
    quiet_libraries(args.output, args.verbose)
    start = time.monotonic()
    run = functools.partial(run_series, verbose=args.verbose, log_failure=functools.partial(print, file=sys.stderr))
    if found is None:
        results = run(args.cluster, params, args.output, args.notebooks or None)
    else:  # 00 may create the cluster from the offline node image; MetalLB's and nginx's go into the nodes
        from . import offline_run
        from .runner import series

        results = offline_run.run(run, args.cluster, params, args.output, args.notebooks or None, found,
                                  series())
    failed = [r for r in results if not r.ok]
    ran = f"{len(results)} notebook{'s' if len(results) != 1 else ''} in {time.monotonic() - start:.0f} s"
    if failed:
        print(f"FAILED: {failed[0].notebook} ({ran}, {len(results) - 1} ok before it); "
              f"the executed copy: {failed[0].output}", file=sys.stderr)
        return 1
    print(f"ok: {ran}; executed copies and HTML in {args.output}")
    return 0


def quiet_libraries(output: str, verbose: bool) -> None:
    """Keep the libraries' chatter (papermill, nbconvert, traitlets, Python warnings) off the terminal:
    into ``kindlb-run.log`` in OUTPUT; with ``verbose`` on stderr, papermill's cell progress included."""
    import logging
    import warnings
    from pathlib import Path

    root = logging.getLogger()
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
        return
    warnings.simplefilter("ignore")
    try:
        Path(output).mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(Path(output) / "kindlb-run.log")
    except OSError:  # the runner says why the folder cannot be used
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in ("traitlets", "papermill", "nbconvert", "nbclient"):
        logging.getLogger(name).propagate = True




def _notebook_arg(name: str) -> str:
    """A series name (``03_address_pool``) as it is; a path (``../x.ipynb``, ``nb/03.ipynb``) taken from the
    current folder, said out loud, and given to the runner as its absolute path without ``.ipynb``."""
    from pathlib import Path

    from .._core.inputs import cut

    if "/" not in name and "\\" not in name and not name.endswith(".ipynb"):
        return name
    from .._core.paths import path_error

    try:
        path = Path(name).expanduser().resolve()
        found = path.is_file()
    except OSError as exc:  # a name too long, a loop of links
        raise path_error(name, exc, "run the notebook") from None
    if path.suffix == ".ipynb" and not found:
        try:
            path.lstat()
        except FileNotFoundError:
            pass
        except OSError as exc:  # a file on the way (not a folder), no permission
            raise path_error(name, exc, "run the notebook") from None
    if path.suffix != ".ipynb" or not found:
        raise BadInput(f"no notebook file {cut(name)} ({path}): give a series name such as 03_address_pool, "
                       "or the path of an .ipynb file")
    print(f"running {path}: the notebook file you named")
    return str(path.with_suffix(""))


def _notebooks(args) -> int:
    from .notebooks import copy_series

    if not args.dir.strip():
        raise BadInput("kindlb notebooks '': give the folder to copy the series into, e.g. kindlb notebooks "
                       "kindlb-notebooks")
    report = copy_series(args.dir, force=args.force)
    for line in report.lines():
        print(line)
    print(f"the series is in {report.folder}: `jupyter lab {report.folder}`, or "
          f"`kindlb run --notebooks {report.folder}`")
    return 0


def _bundle(args) -> int:
    from . import bundle

    if args.action == "save":
        info = bundle.save(args.file, metallb_version=args.metallb, from_lab=args.from_lab,
                           node_image=args.node_image, nginx_image=args.nginx_image, probe_image=args.probe_image,
                           router_image=args.router_image,
                           manifest=args.manifest, log=lambda m: print(m, file=sys.stderr))
        print(f"wrote {info['file']}: MetalLB {info['metallb_version']}, {len(info['images'])} images, "
              f"{info['size'] / 2**20:.0f} MiB in {info['seconds']:.0f} s")
    elif args.action == "load":
        from .._cluster.sources import now_used

        info = bundle.load(args.file, metallb_version=args.metallb, cluster=args.cluster,
                           docker_only=args.docker_only, workers=args.workers,
                           log=lambda m: print(m, file=sys.stderr))
        for line in _loaded_lines(info):
            print(line)
        print(now_used("bundle"))
    else:
        info = bundle.verify(args.file, metallb_version=args.metallb)
        print(f"{args.file}: a complete kindlb bundle for MetalLB {info['metallb_version']}: "
              + ", ".join(i["ref"] for i in info["images"]))
    return 0


def _loaded_lines(info: dict) -> list[str]:
    """What ``kindlb bundle load`` did, in a few lines: Docker, the cluster, the manifest, the time."""
    n, again = len(info["images"]), len(info["already"])
    docker = (f"loaded {n} images into Docker" if not again else
              f"all {n} images were in Docker already with the same image ID: none loaded again" if again == n else
              f"loaded {n - again} of {n} images into Docker ({again} were there already with the same image ID)")
    lines = [f"{docker}; MetalLB {info['metallb_version']} manifest in {info['manifest_dir']}"]
    created = info.get("created")
    if created:
        lines.append(f"created kind cluster {created['name']!r} from {created['image']} ({created['nodes']} nodes, "
                     "the config notebook 00 writes)")
        if created.get("context_changed"):
            before = created.get("previous_context")
            lines.append(f"kind made kind-{created['name']} your current kube context"
                         + (f" (it was {before!r}: `kubectl config use-context {before}` switches back)"
                            if before else ""))
    for name in info["clusters"]:
        lines.append(f"loaded {', '.join(info['node_images'])} into the nodes of {name}")
    lines.append(f"done in {info['seconds']:.0f} s")
    return lines


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
    s.add_argument("--size", default=None, help="addresses in the pool (default: 250, less on small subnets)")
    s.add_argument("--family", type=_family, choices=(4, 6), default=4, help="4 or 6")
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
    s.add_argument("--offline", action="store_true",
                   help="use a loaded bundle's (else the offline lab's) MetalLB manifest and images")
    s.add_argument("--notebooks", dest="notebooks_dir", metavar="DIR", default=None,
                   help="run the notebooks in DIR (default: $KINDLB_NOTEBOOKS, else the installed series)")
    s.add_argument("--delete-cluster", action="store_true", help="let the cleanup notebook delete the cluster")
    s.add_argument("-v", "--verbose", action="store_true",
                   help="show more: papermill's progress, the kernels' own output, a failure's whole traceback")
    s.add_argument("notebooks", nargs="*", help="run only these (e.g. 03_address_pool)")
    s.set_defaults(func=_run)
    s = sub.add_parser("notebooks", parents=[debug], help="copy the notebook series into a folder to work in")
    s.add_argument("dir", nargs="?", default="kindlb-notebooks", help="the folder (default: ./kindlb-notebooks)")
    s.add_argument("--force", action="store_true", help="also replace notebooks you changed")
    s.set_defaults(func=_notebooks)
    s = sub.add_parser("bundle", parents=[debug], help="save/load one archive with every image the series needs")
    bsub = s.add_subparsers(dest="action", required=True)
    b = bsub.add_parser("save", parents=[debug], help="write the bundle (images from the local Docker engine)")
    b.add_argument("file")
    b.add_argument("--metallb", metavar="VERSION", default=None, help="MetalLB release (default: the pinned one)")
    b.add_argument("--from-lab", action="store_true", help="the offline lab's images and manifest")
    b.add_argument("--node-image", default=None, help="kind node image (default: kind's, or the lab's)")
    b.add_argument("--nginx-image", default=None)
    b.add_argument("--probe-image", default=None)
    b.add_argument("--router-image", default=None, help="the BGP router of notebook 07_bgp (default: FRR's pinned "
                   "image; --from-lab: the lab's FRR_IMAGE)")
    b.add_argument("--manifest", default=None,
                   help="MetalLB manifest file or folder (default: downloaded, or the lab's)")
    b = bsub.add_parser("load", parents=[debug], help="verify the bundle, then load it into Docker and the cluster")
    b.add_argument("file")
    b.add_argument("--metallb", metavar="VERSION", default=None, help="refuse a bundle for another release")
    b.add_argument("--cluster", default=None,
                   help="also load MetalLB and nginx into this kind cluster's nodes, creating it from the bundle's "
                   "node image when it does not exist (default: kindlb's nodes, when that cluster exists)")
    b.add_argument("--workers", type=int, default=2,
                   help="worker nodes of a cluster it creates (default 2, as notebook 00; 0 on a small laptop)")
    b.add_argument("--docker-only", action="store_true", help="load into Docker only, into no cluster")
    b = bsub.add_parser("verify", parents=[debug], help="check the bundle without loading anything")
    b.add_argument("file")
    b.add_argument("--metallb", metavar="VERSION", default=None)
    s.set_defaults(func=_bundle)
    s = sub.add_parser("lab",
                       help="the offline lab: build kind, Kubernetes, MetalLB and nginx here (see `kindlb lab -h`)",
                       add_help=False)
    s.set_defaults(func=None)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``kindlb``; the exit status (0 ok, 1 failure, 2 bad input)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["lab"]:  # `kindlb lab ...`: the command the lab registers (entry point kindlb.commands)
        from .._cluster.offline import command

        lab_main = command("lab")
        if lab_main is None:
            print(f"kindlb lab: the offline lab is not installed: {LAB_HINT}", file=sys.stderr)
            return 2
        return lab_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as exc:
        if args.debug:
            raise
        print(_one_or_two_lines(exc), file=sys.stderr)
        return 2 if isinstance(exc, BadInput) or _paths_fault(exc) else 1


def _paths_fault(exc: BaseException) -> bool:
    """An OS error on a path that another path would avoid (a name too long, a file on the way): bad input."""
    if not isinstance(exc, OSError) or not exc.filename or isinstance(exc, KindlbError):
        return False
    from .._core.paths import path_error

    return isinstance(path_error(exc.filename, exc, "use"), BadInput)


def _one_or_two_lines(exc: BaseException) -> str:
    """``kindlb: <message>``: the first line, then everything else joined into a second one."""
    if isinstance(exc, OSError) and exc.filename and not isinstance(exc, KindlbError):
        from .._core.paths import path_error  # an OS error on a path: the path and the fix, not "a bug?"

        exc = path_error(exc.filename, exc, "use")
    text = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, KindlbError):
        text = f"{type(exc).__name__}: {text} (a bug? `kindlb --debug ...` shows where)"
    first, *rest = [line.strip() for line in text.splitlines() if line.strip()]
    return f"kindlb: {first}" + (f"\n  {'; '.join(rest)}" if rest else "")


if __name__ == "__main__":
    sys.exit(main())
