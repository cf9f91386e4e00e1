"""Run the notebook series headless with papermill (``kindlb run``)."""
from __future__ import annotations

import difflib
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import BadInput, BadParameters, KindlbError


def series(folder: Path | None = None) -> list[str]:
    """The series, from the file names: ``NN_name.ipynb`` in name order, the cleanup notebook last.

    Adding a notebook to the series means adding its file, nothing else.
    """
    folder = folder or notebooks_dir()
    names = sorted(p.stem for p in folder.glob("[0-9][0-9]_*.ipynb"))
    cleanup = [n for n in names if n.endswith("_cleanup")]
    return [n for n in names if n not in cleanup] + cleanup


def notebooks_dir(folder: str | Path | None = None) -> Path:
    """The notebooks folder: FOLDER, else $KINDLB_NOTEBOOKS, else the installed series (a clone's ``notebooks/``)."""
    from .notebooks import notebooks_dir as find

    return find(folder)


@dataclass
class Result:
    """How one notebook's run went: ok, seconds, the executed copy, its HTML, and the error (cell, line)."""

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

    make_output_dir(out_dir)
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
            error = failing_cell(exc)
        except RuntimeError as exc:  # the kernel did not start (no cell ran): one more try, then report
            error = f"the {kernel!r} kernel did not start: {exc}"
            if attempt == 1 and "kernel" in str(exc).lower():
                continue
        break
    page = None
    if html and out.exists():
        from .export import write_html

        page = write_html(out)  # self-contained: renders with no outside host
    return Result(path.stem, error is None, time.monotonic() - start, out, page, error)


def make_output_dir(path: str | Path) -> Path:
    """Create the output folder, or say why it cannot be made."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KindlbError(
            f"cannot create the output folder {path} ({exc.strerror or exc}): pick a folder you can write, "
            "e.g. --output runs/latest"
        ) from exc
    return path


def failing_cell(exc) -> str:
    """A failed cell as a person finds it in JupyterLab: ``[7]``, the first line of its code, and the error.

    ``exc`` is papermill's PapermillExecutionError.
    """
    code = next((line.strip() for line in (getattr(exc, "source", "") or "").splitlines() if line.strip()), "")
    count = getattr(exc, "exec_count", None)
    where = f"cell [{count}]" if count is not None else f"cell #{exc.cell_index + 1} (not numbered)"
    lines = str(exc.evalue).strip().splitlines() or [""]
    value = "\n".join(lines[:6]) + ("\n..." if len(lines) > 6 else "")  # a list of fixes reads whole
    return f"{where} `{code[:100]}` raised {exc.ename}: {value}"


def check_run_parameters(parameters: dict, notebooks: list[str] | None = None) -> None:
    """Refuse parameters that no notebook of the run declares (suggesting the close name), and bad values.

    Nothing runs when this raises BadParameters.
    """
    from .params import check

    folder = notebooks_dir()
    names = notebooks or series(folder)
    missing = [n for n in names if not (folder / f"{n}.ipynb").is_file()]
    if missing:
        raise BadInput(f"no such notebook(s): {', '.join(missing)}; the series is {', '.join(series(folder))}")
    declared: set[str] = set()
    for name in names:
        declared |= set(declared_parameters(folder / f"{name}.ipynb"))
    problems = {}
    for key in parameters:
        if key not in declared:
            close = difflib.get_close_matches(key, sorted(declared), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"they declare {', '.join(sorted(declared))}"
            problems[key] = f"no notebook of this run declares it: {hint}"
    if problems:
        raise BadParameters(problems)
    check(parameters)


def run_series(cluster: str = "kindlb", parameters: dict | None = None, output_dir: str | Path = "runs/latest",
               notebooks: list[str] | None = None, kernel: str = "python3", html: bool = True,
               log=print) -> list[Result]:
    """Run the series in order; stop at the first failure. ``parameters`` go to every notebook declaring them."""
    params = {"cluster": cluster, "interactive": False, **(parameters or {})}
    folder = notebooks_dir()
    names = notebooks or series(folder)
    unknown = [n for n in names if not (folder / f"{n}.ipynb").is_file()]
    if unknown:
        raise BadInput(f"no such notebook(s): {', '.join(unknown)}; the series is {', '.join(series(folder))}")
    make_output_dir(output_dir)
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
    """One row per notebook run: ok, seconds, output, error."""
    return pd.DataFrame([{"notebook": r.notebook, "ok": r.ok, "seconds": round(r.seconds, 1),
                          "output": str(r.output), "error": r.error or ""} for r in results])
