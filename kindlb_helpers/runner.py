"""Run the notebook series headless with papermill (``kindlb run``)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import KindlbError

SERIES = (
    "00_prerequisites", "01_cluster_nodes", "02_install_metallb", "03_address_pool",
    "04_deploy_nginx", "05_access_app", "06_cleanup",
)


def notebooks_dir() -> Path:
    """The notebooks folder: $KINDLB_NOTEBOOKS, else ``notebooks/`` beside the package."""
    env = os.environ.get("KINDLB_NOTEBOOKS")
    path = Path(env) if env else Path(__file__).resolve().parent.parent / "notebooks"
    if not (path / f"{SERIES[0]}.ipynb").is_file():
        raise KindlbError(f"no notebooks in {path}: run from a clone of kindlb, or set KINDLB_NOTEBOOKS")
    return path


@dataclass
class Result:
    notebook: str
    ok: bool
    seconds: float
    output: Path
    html: Path | None = None
    error: str | None = None


def declared_parameters(path: Path) -> dict:
    """The names and defaults of a notebook's ``parameters`` cell."""
    import papermill as pm

    return {name: p["default"] for name, p in pm.inspect_notebook(str(path)).items()}


def run_one(path: Path, out_dir: Path, parameters: dict, kernel: str = "python3",
            html: bool = True, timeout: int = 900) -> Result:
    """Execute one notebook with the parameters it declares; export HTML; say which cell failed."""
    import papermill as pm

    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / path.name
    known = declared_parameters(path)
    params = {k: v for k, v in parameters.items() if k in known}
    start = time.monotonic()
    for attempt in (1, 2):
        error = None
        try:
            pm.execute_notebook(str(path), str(out), parameters=params, kernel_name=kernel, cwd=str(path.parent),
                                progress_bar=False, execution_timeout=timeout, start_timeout=120)
        except pm.PapermillExecutionError as exc:
            error = f"cell {exc.cell_index} (execution count {exc.exec_count}) raised {exc.ename}: {exc.evalue}"
        except RuntimeError as exc:  # the kernel did not start (no cell ran): one more try, then report
            error = f"the {kernel!r} kernel did not start: {exc}"
            if attempt == 1 and "kernel" in str(exc).lower():
                continue
        break
    page = None
    if html and out.exists():
        import nbformat
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nbformat.read(out, as_version=4))
        page = out.with_suffix(".html")
        page.write_text(body, encoding="utf-8")
    return Result(path.stem, error is None, time.monotonic() - start, out, page, error)


def run_series(cluster: str = "kindlb", parameters: dict | None = None, output_dir: str | Path = "runs/latest",
               notebooks: list[str] | None = None, kernel: str = "python3", html: bool = True,
               log=print) -> list[Result]:
    """Run the series in order; stop at the first failure. ``parameters`` go to every notebook declaring them."""
    params = {"cluster": cluster, "interactive": False, **(parameters or {})}
    folder = notebooks_dir()
    names = notebooks or list(SERIES)
    unknown = [n for n in names if not (folder / f"{n}.ipynb").is_file()]
    if unknown:
        raise KindlbError(f"no such notebook(s): {', '.join(unknown)}; the series is {', '.join(SERIES)}")
    results = []
    for name in names:
        log(f"running {name} ...")
        res = run_one(folder / f"{name}.ipynb", Path(output_dir), params, kernel=kernel, html=html)
        results.append(res)
        log(f"  {'ok' if res.ok else 'FAILED'} in {res.seconds:.0f}s -> {res.output}")
        if not res.ok:
            log(f"  {name}: {res.error}")
            break
    return results


def summary(results: list[Result]) -> pd.DataFrame:
    return pd.DataFrame([{"notebook": r.notebook, "ok": r.ok, "seconds": round(r.seconds, 1),
                          "output": str(r.output), "error": r.error or ""} for r in results])
