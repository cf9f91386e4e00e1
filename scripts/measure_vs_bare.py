"""Time notebooks 02..05 against a bare script doing the article's steps with `kubectl wait`.

Both run on the same kind cluster with the same images and manifest. The bare script is built
from the notebooks' own "under the hood" commands (install, wait, pool, deploy, rollout, wait for
the IP, curl), so it does exactly the article's steps and nothing more. The notebooks run headless
without HTML export, as ``kindlb run`` runs them (each next kernel starting while one runs).

Two figures: from MetalLB to page (02's install cell starting to 05's page arriving, read from
papermill's cell times: the bare script's span), and the whole run of 02..05 (kernels, environment
checks and 05's extras included), with the extras (60 requests spread over the pods, the chart)
timed apart. Also each notebook's time and its first cell's (the environment check, in a real kernel).

The library is byte-compiled first (``compileall``), as a learner's Python leaves it after its first import (or
``pip install`` at install): where ``PYTHONDONTWRITEBYTECODE`` is set (as in this machine's environment) every
fresh kernel would otherwise compile each kindlb module it imports from source again, about 0.1 s of CPU per kernel.

The two runs of a round are a pair, and the pairs alternate their order (bare first, then notebooks first):
each ratio is taken pair by pair and its median reported, as is the ratio of the medians, with the load
average (``os.getloadavg``) around each round.

Then, on the cluster as the rounds leave it, each notebook's first cell alone in a fresh kernel, as a learner
runs it (``--first-cells N`` times each, default 3; 0: none): wall time inside the kernel from the cell's start to
its end, the kernel's CPU and its child processes' (kind, kubectl), and the heavy libraries it imported (it should
import none of the kubernetes client, the Docker SDK, pandas, matplotlib or ipywidgets).

With ``--per-cell``, last, from where notebook 2 starts: notebooks 02..05 once more, each in a fresh kernel and
cell by cell as papermill runs them, with each cell's wall time, the kernel's CPU, its child processes' CPU, the
heavy libraries it imported first and the load average: where a notebook's time goes. CPU is what the machine's
load does not inflate; the notebooks' time outside their kernels (the cluster, Docker, the probe container) shows
as wall time without CPU.

    python3 scripts/measure_vs_bare.py --cluster kindlb [--offline] [--rounds 3] [--first-cells 3] [--per-cell]
                                       [--json FILE]

Prints one line per round and the medians.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import kindlb_helpers as kh
from kindlb_helpers._core import hood
from kindlb_helpers._core.manifests import manifest_url
from kindlb_helpers._core.objects import nginx_objects
from kindlb_helpers._tools.runner import KernelPool, notebooks_dir, run_one

NOTEBOOKS = ("02_install_metallb", "03_address_pool", "04_deploy_nginx", "05_access_app")


def reset(k) -> None:
    """No app, no demo Service, no MetalLB: where notebook 2 starts."""
    for name in ("nginx", "lb-demo"):
        kh.app.delete_service(k, name)
    kh.app.remove(k, "nginx")
    kh.metallb.uninstall(k, progress=False)
    deadline = time.monotonic() + 120
    while k.core.list_namespaced_pod("default", label_selector="app=nginx").items:
        if time.monotonic() > deadline:
            raise SystemExit("nginx pods did not go away")
        time.sleep(0.5)


def bare(cluster: str, version: str, source: str | None, image: str, pool: str) -> float:
    """The article's steps as one bash script; seconds from MetalLB to the page."""
    if source and Path(source).is_dir():
        sources = [str(Path(source) / "namespace.yaml"), str(Path(source) / "metallb.yaml")]
    else:
        sources = [source] if source else manifest_url(version)
    crds = kh.metallb.uses_crds(version)
    objs = nginx_objects(image=image)
    parts = [
        hood.install_steps(cluster, version, sources, drop_psp=not crds, memberlist=False),
        hood.wait_metallb_steps(cluster, 300),
        hood.apply_steps(cluster, kh.metallb.manifests(pool, version), "metallb-config.yaml", "pool"),
        hood.deploy_steps(cluster, objs),
        hood.rollout_steps(cluster, "nginx", "default", 180),
        hood.wait_ip_steps(cluster, "nginx", "default", 120),
    ]
    script = "\n".join(p.script() for p in parts)
    # the webhook of v0.13+ may not serve yet right after the wait (seconds, on a busy machine): retry the pool
    # like a person would, once a second for up to a minute (the notebook's configure waits for it too)
    apply = f"kubectl --context kind-{cluster} apply --server-side -f metallb-config.yaml"
    script = script.replace(apply, f"for i in $(seq 60); do {apply} && break; [ $i = 60 ] && exit 1; sleep 1; done")
    jsonpath = "{.status.loadBalancer.ingress[0].ip}"
    ip_line = f"ip=$(kubectl --context kind-{cluster} get service nginx -o jsonpath='{jsonpath}')"
    script += f"\n{ip_line}\nuntil curl -sf --max-time 2 http://$ip/ >/dev/null; do sleep 0.2; done\n"
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        done = subprocess.run(["bash", "-c", script], cwd=tmp, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise SystemExit(f"the bare script failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
        return time.monotonic() - start


#: Where "from MetalLB to page" begins and ends in the notebooks: 02's install cell, 05's page cell.
FIRST_CELL = ("02_install_metallb", "kh.metallb.install(")
LAST_CELL = ("05_access_app", "page = kh.app.fetch")
#: Each notebook's first cell after its parameters: the environment check.
CHECK_CELL = "kh.doctor.check("
#: The extras (not among the article's steps), timed apart: the spread of requests and its chart.
EXTRAS = ("kh.app.spread(", "spread.plot.bar(")


def _cells(path: Path) -> list[tuple[str, float, float]]:
    """(source, start, end) of each executed code cell, in epoch seconds (papermill's metadata)."""
    from datetime import datetime

    import nbformat

    out = []
    for cell in nbformat.read(path, as_version=4).cells:
        meta = cell.get("metadata", {}).get("papermill", {})
        if cell.cell_type == "code" and meta.get("start_time") and meta.get("end_time"):
            start, end = (datetime.fromisoformat(meta[k].replace("Z", "+00:00")).timestamp()
                          for k in ("start_time", "end_time"))
            out.append((cell.source, start, end))
    return out


def notebooks(cluster: str, params: dict, out: Path) -> dict:
    """Notebooks 02..05 headless (no HTML), each next kernel starting while one runs as under ``kindlb run``.

    Returns the seconds from MetalLB to page (02's install cell starts .. 05's page cell ends), the
    whole run (kernels, checks and extras included), the extras alone, and each notebook's time.
    """
    per, cells, first = {}, {}, {}
    t0 = time.time()
    with KernelPool(limit=len(NOTEBOOKS)) as kernels:
        for name in NOTEBOOKS:
            res = run_one(notebooks_dir() / f"{name}.ipynb", out, {**params, "cluster": cluster}, html=False,
                          kernels=kernels)
            if not res.ok:
                raise SystemExit(f"{name} failed: {res.error}")
            per[name] = round(res.seconds, 1)
            cells[name] = _cells(res.output)
            first[name] = round(next(e - s for src, s, e in cells[name] if CHECK_CELL in src), 2)
    whole = time.time() - t0
    start = next(s for src, s, _ in cells[FIRST_CELL[0]] if FIRST_CELL[1] in src)
    end = next(e for src, _, e in cells[LAST_CELL[0]] if LAST_CELL[1] in src)
    extras = sum(e - s for name in NOTEBOOKS for src, s, e in cells[name] if any(x in src for x in EXTRAS))
    slowest = {name: sorted(((round(e - s, 2), src.strip().splitlines()[0][:70]) for src, s, e in cells[name]
                             if src.strip()), reverse=True)[:6] for name in NOTEBOOKS}
    return {"to_page": end - start, "whole": whole, "extras": extras, "per": per, "first_cell": first,
            "slowest": slowest}


#: Libraries no first cell should load (each costs a fresh kernel 0.1-1.5 s).
HEAVY = ("kubernetes", "docker", "pandas", "matplotlib", "ipywidgets", "numpy")
_BEFORE = ("import resource as _r, time as _t, sys as _s\n"
           "_m0 = set(_s.modules); _a = _r.getrusage(_r.RUSAGE_SELF); _c = _r.getrusage(_r.RUSAGE_CHILDREN); "
           "_w = _t.perf_counter()")
_AFTER = ("_w = _t.perf_counter() - _w; _b = _r.getrusage(_r.RUSAGE_SELF); _d = _r.getrusage(_r.RUSAGE_CHILDREN)\n"
          "print('KINDLB-FIRST', round(_w, 3), round(_b.ru_utime + _b.ru_stime - _a.ru_utime - _a.ru_stime, 3), "
          "round(_d.ru_utime + _d.ru_stime - _c.ru_utime - _c.ru_stime, 3), "
          "','.join(sorted({m.split('.')[0] for m in set(_s.modules) - _m0} & set(%r))) or '-')" % (HEAVY,))


def _execute(kc, source: str, timeout: float = 300) -> tuple[str, str | None]:
    """Run SOURCE in the kernel; (its printed text, the error's name and value or None)."""
    msg_id = kc.execute(source)
    out, err = "", None
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "error":
            err = f"{content['ename']}: {content['evalue'][:300]}"
        elif kind == "stream":
            out += content["text"]
        elif kind == "status" and content["execution_state"] == "idle":
            return out, err


def _parameters(name: str, cluster: str, params: dict) -> tuple[str, list]:
    """Notebook NAME's parameters cell with PARAMS and the cluster's name appended (those it names), as papermill
    injects them, and the code cells after it."""
    import nbformat

    nb = nbformat.read(notebooks_dir() / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    at = next(i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", []))
    known = {k: v for k, v in {**params, "cluster": cluster}.items() if k in code[at].source}
    return code[at].source + "\n" + "".join(f"{k} = {v!r}\n" for k, v in known.items()), code[at + 1:]


def first_cells(cluster: str, params: dict, times: int) -> dict:
    """Each notebook's first cell after its parameters, alone in a fresh kernel (TIMES kernels per notebook, one
    after another): {notebook: [{"wall", "cpu", "children", "heavy"}, ...]}. The parameters cell runs first with
    PARAMS and the cluster's name, as papermill injects them; the clock runs inside the kernel."""
    from jupyter_client.manager import start_new_kernel

    got: dict = {}
    for name in NOTEBOOKS:
        injected, after = _parameters(name, cluster, params)
        got[name] = []
        for _ in range(times):
            km, kc = start_new_kernel(kernel_name="python3", cwd=str(notebooks_dir()))
            try:
                _execute(kc, injected)
                _execute(kc, _BEFORE)
                _, err = _execute(kc, after[0].source)
                out, _ = _execute(kc, _AFTER)
            finally:
                kc.stop_channels()
                km.shutdown_kernel(now=True)
            if err:
                raise SystemExit(f"{name}'s first cell failed: {err}")
            _, wall, cpu, children, heavy = next(x for x in out.splitlines() if x.startswith("KINDLB-FIRST")).split()
            got[name].append({"wall": float(wall), "cpu": float(cpu), "children": float(children), "heavy": heavy})
    return got


def per_cell(cluster: str, params: dict) -> dict:
    """Notebooks 02..05 in order, each in a fresh kernel, cell by cell (the parameters cell first, with PARAMS as
    papermill injects them): {notebook: [{"cell", "wall", "cpu", "children", "heavy", "load"}, ...]}, where
    "cell" is the cell's last line (its shown value)."""
    from jupyter_client.manager import start_new_kernel

    got: dict = {}
    for name in NOTEBOOKS:
        injected, after = _parameters(name, cluster, params)
        got[name] = []
        km, kc = start_new_kernel(kernel_name="python3", cwd=str(notebooks_dir()))
        try:
            _execute(kc, injected)
            for cell in after:
                _execute(kc, _BEFORE)
                load = _load()
                _, err = _execute(kc, cell.source)
                out, _ = _execute(kc, _AFTER)
                if err:
                    raise SystemExit(f"{name} failed cell by cell: {err}")
                _, wall, cpu, children, heavy = next(x for x in out.splitlines()
                                                     if x.startswith("KINDLB-FIRST")).split()
                got[name].append({"cell": cell.source.strip().splitlines()[-1][:70], "wall": float(wall),
                                  "cpu": float(cpu), "children": float(children), "heavy": heavy, "load": load})
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    return got


def byte_compile() -> list[str]:
    """Byte-compile kindlb_helpers and the offline lab's package where they are imported from (``__pycache__``,
    which git ignores); the folders compiled."""
    import compileall
    import importlib.util

    done = []
    for name in ("kindlb_helpers", "kindlb_lab"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            for folder in spec.submodule_search_locations:
                compileall.compile_dir(folder, quiet=1)
                done.append(folder)
    return done


def _load() -> float:
    return round(os.getloadavg()[0], 1)


def main() -> None:
    """The bare script and the notebooks, ROUNDS pairs, from the same starting state, alternating which goes first."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cluster", default="kindlb")
    ap.add_argument("--offline", action="store_true", help="the offline lab's manifest and images")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--first-cells", type=int, default=3, help="each first cell alone in this many fresh kernels")
    ap.add_argument("--per-cell", action="store_true",
                    help="last, 02..05 once more cell by cell in fresh kernels: each cell's wall time and CPU")
    ap.add_argument("--json", default=None, help="also write every round and the medians to this file")
    args = ap.parse_args()
    version, source, image = kh.metallb.DEFAULT_VERSION, None, kh.app.DEFAULT_IMAGE
    if args.offline:
        import kindlb_lab as lab

        source, image = str(lab.manifest_source(version)), lab.NGINX_IMAGE
    print(f"byte-compiled {', '.join(byte_compile())}", flush=True)
    k = kh.cluster.connect(args.cluster)

    def planned() -> str:
        """The pool notebook 3 plans now: clear of the network's addresses and of other kind clusters' pools
        (which other users of the network may change at any time: notebook 3 plans its own, as a learner's does,
        seconds before it applies it)."""
        net = kh.cluster.network()
        reserved = kh.pool.taken(net, 4) + kh.metallb.other_clusters_pools(args.cluster, kh.cluster.on_network(net))
        return str(kh.pool.plan(net.subnet(4), reserved))

    params = {"interactive": False, "metallb_version": version, "metallb_source": source, "image": image,
              "requests": 60}
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            load_before = _load()
            order = ("bare", "notebooks") if r % 2 == 0 else ("notebooks", "bare")
            got: dict = {}
            for which in order:
                reset(k)
                if which == "bare":  # planned right before: another cluster on the network may take a pool
                    got["bare"] = bare(args.cluster, version, source, image, planned())
                else:
                    got["nb"] = notebooks(args.cluster, {key: v for key, v in params.items() if v is not None},
                                          Path(tmp))
            n, b = got["nb"], got["bare"]
            rounds.append({"bare": round(b, 1), **{key: round(n[key], 1) for key in ("to_page", "whole", "extras")},
                           "per": n["per"], "first_cell": n["first_cell"], "order": order, "slowest": n["slowest"],
                           "load": [load_before, _load()], "ratio_page": round(n["to_page"] / b, 2),
                           "ratio_whole": round(n["whole"] / b, 2)})
            print(f"round {r + 1} ({' then '.join(order)}; load {load_before} -> {_load()}): bare script {b:.1f} s; "
                  f"notebooks from MetalLB to page {n['to_page']:.1f} s ({n['to_page'] / b:.2f}x), whole run "
                  f"{n['whole']:.1f} s ({n['whole'] / b:.2f}x; extras {n['extras']:.1f} s); per notebook {n['per']}; "
                  f"first cells {n['first_cell']}", flush=True)
    med = statistics.median
    summary: dict = {}
    if rounds:  # --rounds 0: only the first cells and/or --per-cell
        b = med(r["bare"] for r in rounds)
        page, whole, extras = (med(r[key] for r in rounds) for key in ("to_page", "whole", "extras"))
        per = {name: med(r["per"][name] for r in rounds) for name in NOTEBOOKS}
        first = {name: med(r["first_cell"][name] for r in rounds) for name in NOTEBOOKS}
        summary = {"bare": b, "to_page": page, "whole": whole, "extras": extras, "per": per, "first_cell": first,
                   "ratio_page_pairs": med(r["ratio_page"] for r in rounds),
                   "ratio_whole_pairs": med(r["ratio_whole"] for r in rounds),
                   "ratio_page": round(page / b, 2), "ratio_whole": round(whole / b, 2),
                   "ratio_whole_without_extras": round((whole - extras) / b, 2),
                   "load": [x for r in rounds for x in r["load"]], "rounds": len(rounds)}
        print(f"median of {len(rounds)} pairs: bare {b:.1f} s; from MetalLB to page {page:.1f} s: "
              f"{summary['ratio_page_pairs']:.2f}x (pair by pair; ratio of medians {summary['ratio_page']:.2f}x); "
              f"whole run {whole:.1f} s: {summary['ratio_whole_pairs']:.2f}x (ratio of medians "
              f"{summary['ratio_whole']:.2f}x; without the extras' {extras:.1f} s "
              f"{summary['ratio_whole_without_extras']:.2f}x); "
              f"per notebook {per}; first cells {first}; load {min(summary['load'])}-{max(summary['load'])}")
    if args.first_cells > 0:
        load_before = _load()
        alone = first_cells(args.cluster, {key: v for key, v in params.items() if v is not None}, args.first_cells)
        summary["first_cell_alone"] = {name: {key: med(r[key] for r in runs) for key in ("wall", "cpu", "children")}
                                       | {"heavy": sorted({r["heavy"] for r in runs})} for name, runs in alone.items()}
        summary["first_cell_alone_load"] = [load_before, _load()]
        shown = [f"{name} {v['wall']:.2f} s wall ({v['cpu']:.2f} s CPU + {v['children']:.2f} s in kind/kubectl; "
                 f"heavy imports: {','.join(v['heavy'])})" for name, v in summary["first_cell_alone"].items()]
        print(f"first cell alone in a fresh kernel, median of {args.first_cells} (load {load_before} -> {_load()}): "
              + "; ".join(shown), flush=True)
    if args.per_cell:
        reset(k)
        cells = summary["per_cell"] = per_cell(args.cluster, {key: v for key, v in params.items() if v is not None})
        for name, rows in cells.items():
            total = {key: round(sum(r[key] for r in rows), 2) for key in ("wall", "cpu", "children")}
            print(f"{name} cell by cell: wall {total['wall']} s, kernel CPU {total['cpu']} s, kind/kubectl/docker "
                  f"CPU {total['children']} s; load {min(r['load'] for r in rows)}-{max(r['load'] for r in rows)}")
            for r in sorted(rows, key=lambda r: -r["cpu"])[:5]:
                print(f"  {r['cpu']:.2f} s CPU, {r['wall']:.2f} s wall, first imports {r['heavy']}: {r['cell']}")
            print("  longest wait (wall - CPU): " + "; ".join(
                f"{r['wall'] - r['cpu'] - r['children']:.1f} s {r['cell']}"
                for r in sorted(rows, key=lambda r: r['cpu'] + r['children'] - r['wall'])[:3]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"rounds": rounds, "median": summary}, indent=1) + "\n")


if __name__ == "__main__":
    main()
