"""Time notebooks 02..05 against a bare script doing the article's steps with `kubectl wait`.

Both run on the same kind cluster with the same images and manifest. The bare script is built
from the notebooks' own "under the hood" commands (install, wait, pool, deploy, rollout, wait for
the IP, curl), so it does exactly the article's steps and nothing more. The notebooks run headless
without HTML export and with one request instead of 60 (the spread is an extra, timed apart).

    python3 scripts/measure_vs_bare.py --cluster kindlb [--offline] [--rounds 2]

Prints one line per round and the ratio of the medians.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import kindlb_helpers as kh
from kindlb_helpers import hood
from kindlb_helpers.objects import nginx_objects
from kindlb_helpers.runner import KernelPool, notebooks_dir, run_one

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
        sources = [source] if source else kh.manifests.manifest_url(version)
    crds = kh.uses_crds(version)
    objs = nginx_objects(image=image)
    parts = [
        hood.install_steps(cluster, version, sources, drop_psp=not crds, memberlist=False),
        hood.wait_metallb_steps(cluster, 300),
        hood.apply_steps(cluster, kh.metallb_manifests(pool, version), "metallb-config.yaml", "pool"),
        hood.deploy_steps(cluster, objs),
        hood.rollout_steps(cluster, "nginx", "default", 180),
        hood.wait_ip_steps(cluster, "nginx", "default", 120),
    ]
    script = "\n".join(p.script() for p in parts)
    # the webhook of v0.13+ may not serve yet right after the wait: retry the pool like a person would
    script = script.replace("apply --server-side -f metallb-config.yaml",
                            "apply --server-side -f metallb-config.yaml || { sleep 1; kubectl --context "
                            f"kind-{cluster} apply --server-side -f metallb-config.yaml; }}")
    jsonpath = "{.status.loadBalancer.ingress[0].ip}"
    ip_line = f"ip=$(kubectl --context kind-{cluster} get service nginx -o jsonpath='{jsonpath}')"
    script += f"\n{ip_line}\nuntil curl -sf --max-time 2 http://$ip/ >/dev/null; do sleep 0.2; done\n"
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        subprocess.run(["bash", "-c", script], cwd=tmp, check=True, capture_output=True, text=True, timeout=900)
        return time.monotonic() - start


def notebooks(cluster: str, params: dict, out: Path) -> tuple[float, dict[str, float]]:
    """Notebooks 02..05 headless (no HTML, one request), each next kernel starting while one runs as under
    ``kindlb run``: total seconds and per notebook."""
    per = {}
    with KernelPool(limit=len(NOTEBOOKS)) as kernels:
        for name in NOTEBOOKS:
            res = run_one(notebooks_dir() / f"{name}.ipynb", out, {**params, "cluster": cluster}, html=False,
                          kernels=kernels)
            if not res.ok:
                raise SystemExit(f"{name} failed: {res.error}")
            per[name] = round(res.seconds, 1)
    return sum(per.values()), per


def main() -> None:
    """Alternate the bare script and the notebooks, ROUNDS times each, from the same starting state."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cluster", default="kindlb")
    ap.add_argument("--offline", action="store_true", help="the offline lab's manifest and images")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    version, source, image = kh.DEFAULT_VERSION, None, kh.objects.DEFAULT_IMAGE
    if args.offline:
        import kindlb_lab as lab

        source, image = str(lab.manifest_source(version)), lab.NGINX_IMAGE
    k = kh.connect(args.cluster)
    net = kh.kind_network()
    pool = str(kh.plan_pool(net.subnet(4), kh.taken_on(net, 4)))
    params = {"interactive": False, "metallb_version": version, "metallb_source": source, "image": image,
              "requests": 1, "pool": pool, "probe_from": "host"}
    bare_times, nb_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            reset(k)
            bare_times.append(bare(args.cluster, version, source, image, pool))
            reset(k)
            total, per = notebooks(args.cluster, {key: v for key, v in params.items() if v is not None}, Path(tmp))
            nb_times.append(total)
            print(f"round {r + 1}: bare script {bare_times[-1]:.1f} s, notebooks 02-05 {total:.1f} s {per}")
    b, n = statistics.median(bare_times), statistics.median(nb_times)
    print(f"median: bare {b:.1f} s, notebooks {n:.1f} s, ratio {n / b:.2f}")


if __name__ == "__main__":
    main()
