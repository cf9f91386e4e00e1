"""Run the notebook series headless with papermill (``kindlb run``)."""
from __future__ import annotations

import atexit
import difflib
import functools
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .._core.errors import BadInput, BadParameters, KindlbError


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


@dataclass(frozen=True)
class CellFailure:
    """Where a notebook of the series failed, as a record (a run reports it and goes on to say so; nothing raises it).

    ``message`` is the one-paragraph account (:func:`failing_cell`); ``notebook``; ``cell_index`` (0-based, every
    cell counted); ``exec_count`` (the ``[7]`` JupyterLab shows; None when the cell never got one); ``source_line``
    (its first line of code); ``ename`` and ``evalue`` (the exception's name and text); ``traceback`` (plain text
    lines) and ``cells`` (how many the executed copy has), as papermill's PapermillExecutionError and the executed
    copy have them.
    """

    message: str
    notebook: str | None = None
    cell_index: int | None = None
    exec_count: int | None = None
    source_line: str = ""
    ename: str = ""
    evalue: str = ""
    traceback: tuple[str, ...] = ()
    cells: int | None = None

    def __str__(self) -> str:
        return self.message


@dataclass
class Result:
    """How one notebook's run went: ok, seconds, the executed copy, its HTML, and the error (cell, line)."""

    notebook: str
    ok: bool
    seconds: float
    output: Path
    html: Path | None = None
    error: str | None = None
    #: the failure as data (cell index, execution count, source line, exception name), when it is one
    failure: CellFailure | None = None


def declared_parameters(path: Path) -> dict:
    """The names and defaults of a notebook's ``parameters`` cell."""
    import papermill as pm

    return {name: p["default"] for name, p in pm.inspect_notebook(str(path)).items()}


def run_one(path: Path, out_dir: Path, parameters: dict, kernel: str = "python3",
            html: bool = True, timeout: int = 900, kernels: KernelPool | None = None) -> Result:
    """Execute one notebook with the parameters it declares; export HTML; say which cell failed.

    With ``kernels`` the notebook gets a fresh kernel from that pool, already started (the next one
    starts meanwhile); it is shut down when the notebook ends. Without, a pool of one starts it, so
    that its own output (transport warnings and the like) goes to ``kernels.log`` in ``out_dir`` here
    too, not to the terminal.
    """
    make_output_dir(out_dir)
    if kernels is None:
        with KernelPool(limit=1, output=out_dir / "kernels.log") as own:
            return run_one(path, out_dir, parameters, kernel, html, timeout, own)
    import papermill as pm

    out = out_dir / path.name
    known = declared_parameters(path)
    params = {k: v for k, v in parameters.items() if k in known}
    start = time.monotonic()
    for attempt in (1, 2):
        error = failure = None
        km = None
        try:
            extra = {}
            if kernels is not None:
                km = extra["km"] = kernels.take(kernel, path.parent)
            pm.execute_notebook(str(path), str(out), parameters=params, kernel_name=kernel, cwd=str(path.parent),
                                progress_bar=False, execution_timeout=timeout, start_timeout=120, **extra)
        except pm.PapermillExecutionError as exc:
            failure = cell_failure(exc, path.stem, out)
            error = str(failure)
        except pm.PapermillException as exc:  # papermill's other refusals (parameters, the notebook's form)
            error = f"papermill could not run it: {type(exc).__name__}: {exc}"
        except RuntimeError as exc:  # the kernel did not start (no cell ran): one more try, then report
            error = f"the {kernel!r} kernel did not start: {exc}"
            if attempt == 1 and "kernel" in str(exc).lower():
                continue  # with a pool: its next kernel, a fresh one too
        finally:
            if km is not None:  # papermill shuts down only the kernels it started; the pool, while the next runs
                kernels.retire(km)
        break
    page = None
    if html and out.exists():
        from .export import write_html

        page = write_html(out)  # self-contained: renders with no outside host
    return Result(path.stem, error is None, time.monotonic() - start, out, page, error, failure)


class KernelPool:
    """Fresh kernels for a series, each started while the notebook before it runs.

    ``take(name, cwd)`` returns a started, ready kernel (a jupyter_client KernelManager) of its own and
    at once starts the next one, for the same name and folder, in the background. Nothing runs in a
    kernel before its notebook: a learner's first cell is still ``[1]`` and its timing honest. Every
    kernel is used once, then given back to :meth:`retire`, which shuts it down in the background.
    ``close()`` (also at the end of a ``with`` block and at exit) shuts down the spare and waits for that.
    ``limit`` caps how many kernels are started ahead in all, e.g. the series' length, so none starts
    after the last notebook. A spare starts in the environment of the moment it is started, i.e.
    while the notebook before runs.
    """

    def __init__(self, limit: int | None = None, startup_timeout: float = 120, output: Path | None = None):
        self.limit = limit
        self.startup_timeout = startup_timeout
        #: a file for the kernels' own stdout/stderr (their transport warnings, ...); None: inherited
        self.output = output
        self.taken = 0
        self._spare: tuple[tuple[str, str], Future] | None = None
        self._starter: ThreadPoolExecutor | None = None
        self._retirer: ThreadPoolExecutor | None = None

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def take(self, kernel_name: str, cwd: str | Path):
        """A fresh kernel NAME started in CWD and ready; the next one starts in the background."""
        key = (kernel_name, str(Path(cwd).resolve()))
        km = None
        if self._spare is not None:
            spare_key, started = self._spare
            self._spare = None
            try:
                spare = started.result()
            except Exception:  # it failed to start: a fresh one below says why, if it fails again
                spare = None
            if spare is not None and spare_key == key and _alive(spare):
                km = spare
            elif spare is not None:
                _shutdown(spare, now=True)  # another name or folder, or it died: a fresh one
        if km is None:
            km = self._start(*key).result()
        self.taken += 1
        if self.limit is None or self.taken < self.limit:
            self._spare = (key, self._start(*key))
        return km

    def retire(self, km) -> None:
        """Shut a used kernel down in the background (0.3 s, up to 3 s when it ignores the request);
        ``close()`` waits for it."""
        if self._retirer is None:
            self._retirer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kindlb-kernel-stop")
            atexit.register(self.close)
        self._retirer.submit(_shutdown, km)

    def close(self) -> None:
        """Shut down the spare kernel, if any; the pool can still be used (it starts afresh)."""
        spare, self._spare = self._spare, None
        if spare is not None:
            try:
                km = spare[1].result()
            except Exception:  # never started: nothing to shut down
                km = None
            if km is not None:
                _shutdown(km, now=True)
        for attr in ("_starter", "_retirer"):
            executor = getattr(self, attr)
            if executor is not None:
                executor.shutdown(wait=True)
                setattr(self, attr, None)
        atexit.unregister(self.close)

    def _start(self, kernel_name: str, cwd: str) -> Future:
        if self._starter is None:
            self._starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kindlb-kernel")
            atexit.register(self.close)
        return self._starter.submit(_start_kernel, kernel_name, cwd, self.startup_timeout, self.output)


def _start_kernel(kernel_name: str, cwd: str, timeout: float, output: Path | None = None):
    """Start a kernel as nbclient starts one for papermill (same manager class and arguments); wait for it.

    With ``output`` the kernel process writes its own stdout/stderr there (appended), not to the terminal.
    """
    import asyncio

    async def start():
        km = _manager_class()(kernel_name=kernel_name)
        args = ["--HistoryManager.hist_file=:memory:"] if km.ipykernel else []  # as nbclient does
        if output is not None:
            with open(output, "ab") as log:  # the child keeps its own copy of the descriptor
                await km.start_kernel(cwd=cwd, extra_arguments=args, stdout=log, stderr=log)
        else:
            await km.start_kernel(cwd=cwd, extra_arguments=args)
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=timeout)  # a kernel_info request: runs no code
        except BaseException:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
            raise
        kc.stop_channels()
        return km

    return asyncio.run(start())


@functools.cache
def _manager_class():
    """nbclient's AsyncKernelManager, remembering its clients (papermill leaves its own open on a given kernel)."""
    from jupyter_client import AsyncKernelManager

    class PoolKernelManager(AsyncKernelManager):
        def client(self, **kwargs):
            kc = super().client(**kwargs)
            self.__dict__.setdefault("clients", []).append(kc)
            return kc

    return PoolKernelManager


def _alive(km) -> bool:
    from jupyter_core.utils import run_sync

    try:
        return bool(run_sync(km.is_alive)())
    except Exception:
        return False


def _shutdown(km, now: bool = False) -> None:
    """Shut a kernel down (politely unless NOW), as nbclient does its own; never raises."""
    from jupyter_core.utils import run_sync

    pid = getattr(getattr(km, "provisioner", None), "pid", None)
    try:
        run_sync(km.shutdown_kernel)(now=now)
    except Exception:  # already gone: kill whatever is left
        if pid:
            import os
            import signal

            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    for kc in km.__dict__.pop("clients", []):  # then the clients' channels, as nbclient does after its own
        try:
            kc.stop_channels()
        except Exception:
            pass


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


def cell_failure(exc, notebook: str | None = None, executed: str | Path | None = None) -> CellFailure:
    """The one failure locator: papermill's PapermillExecutionError as a :class:`CellFailure` record (the cell, its
    first line, the error, the traceback, and how many cells the executed copy has)."""
    import re

    code = next((line.strip() for line in (getattr(exc, "source", "") or "").splitlines() if line.strip()), "")
    cells = None
    if executed is not None and Path(executed).exists():
        import nbformat

        cells = len(nbformat.read(str(executed), as_version=4).cells)
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", t) for t in (getattr(exc, "traceback", None) or [])]
    return CellFailure(failing_cell(exc), notebook=notebook, cell_index=getattr(exc, "cell_index", None),
                       exec_count=getattr(exc, "exec_count", None), source_line=code,
                       ename=str(getattr(exc, "ename", "")), evalue=str(getattr(exc, "evalue", "")),
                       traceback=tuple(plain), cells=cells)


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
    from .._core.params import check

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
               log=print, verbose: bool = False, log_failure=None) -> list[Result]:
    """Run the series in order; stop at the first failure. ``parameters`` go to every notebook declaring them.

    ``log`` gets one line per notebook (:func:`result_line`), and for a failure the cell, its first line
    and the error in one line each (:func:`failure_lines`), through ``log_failure`` if given (the CLI: stderr).
    The kernels' own output (transport warnings
    and the like) goes to ``kernels.log`` in ``output_dir``, or with ``verbose`` to the terminal, where the
    failure is then shown whole too.
    """
    params = {"cluster": cluster, "interactive": False, **(parameters or {})}
    folder = notebooks_dir()
    names = notebooks or series(folder)
    unknown = [n for n in names if not (folder / f"{n}.ipynb").is_file()]
    if unknown:
        raise BadInput(f"no such notebook(s): {', '.join(unknown)}; the series is {', '.join(series(folder))}")
    out = make_output_dir(output_dir)
    results = []
    width = max(len(n) for n in names)
    chatter = None if verbose else out / "kernels.log"
    with KernelPool(limit=len(names), output=chatter) as kernels:  # the next one's kernel starts while one runs
        for name in names:
            res = run_one(folder / f"{name}.ipynb", out, params, kernel=kernel, html=html, kernels=kernels)
            results.append(res)
            if res.ok:
                log(result_line(res, width))
                continue
            say = log_failure or log
            say(result_line(res, width))
            for line in failure_lines(res, verbose=verbose):
                say(f"  {line}")
            break
    return results


def result_line(res: Result, width: int = 24) -> str:
    """One notebook's run in one line: name, result, seconds, the executed copy."""
    return f"{Path(res.notebook).name:<{width}}  {'ok' if res.ok else 'FAILED':<6} {res.seconds:6.1f} s  {res.output}"


def failure_lines(res: Result, verbose: bool = False) -> list[str]:
    """Where a failed notebook stopped, as JupyterLab shows it: the cell (``[16]`` and its position in the
    executed copy), its first line of code, and the error in one line; ``verbose``: the error whole."""
    f = res.failure
    if f is None:  # no cell failed (the kernel did not start, papermill refused): what was said
        first, *rest = (res.error or "no error recorded").strip().splitlines() or [""]
        return [one_line(res.error or "no error recorded")] + ([*rest] if verbose else [])
    number = f"[{f.exec_count}]" if f.exec_count is not None else "(not numbered)"
    of = f" of {f.cells}" if f.cells is not None else ""
    code = f.source_line[:120] + ("\u2026" if len(f.source_line) > 120 else "")
    lines = [f"cell {number} (cell {f.cell_index + 1}{of} in the executed copy): {code}",
             one_line(f"{f.ename or 'Error'}: {f.evalue}")]
    if verbose and res.error:
        lines += ["", *res.error.splitlines(), *f.traceback]
    return lines


def one_line(text: str, limit: int = 300) -> str:
    """TEXT on one line (its lines joined with ' / '), cut at LIMIT characters."""
    joined = " / ".join(line.strip() for line in str(text).strip().splitlines() if line.strip())
    return joined if len(joined) <= limit else joined[: limit - 1] + "\u2026"


def summary(results: list[Result]) -> pd.DataFrame:
    """One row per notebook run: ok, seconds, output, error."""
    return pd.DataFrame([{"notebook": r.notebook, "ok": r.ok, "seconds": round(r.seconds, 1),
                          "output": str(r.output), "error": r.error or ""} for r in results])
