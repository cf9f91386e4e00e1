"""The runner's kernel pool (fast, no cluster): each notebook still gets a fresh kernel of its own, in its
folder, with nothing run before its first cell; the next one starts while a notebook runs; none is left."""
from __future__ import annotations

import ast
import inspect
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from kindlb_helpers._tools.runner import KernelPool, run_one, run_series

pytestmark = [pytest.mark.docker, pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads kernel processes from /proc")]


def child_kernels(parent: int) -> list[int]:
    """The live kernel processes whose parent is PARENT (zombies do not count), from /proc.

    Self-contained (``os`` only): the RECORD cell runs its source inside the kernels too.
    """
    import os

    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline") as f:
                cmd = f.read()
        except OSError:
            continue
        if int(stat[1]) == parent and stat[0] != "Z" and "ipykernel" in cmd:
            found.append(int(entry))
    return found


#: The last cell of every test notebook: what its kernel saw, as a dict literal; its "siblings" are
#: the other kernels of the runner's process, alive now.
RECORD = "import os\n" + inspect.getsource(child_kernels) + """\
{"pid": os.getpid(), "cwd": os.getcwd(), "first_input": In[1], "leak": "LEAK" in globals(),
 "siblings": [p for p in child_kernels(os.getppid()) if p != os.getpid()]}
"""


def write(folder: Path, name: str, *cells: str, then: tuple[str, ...] = ()) -> Path:
    """A notebook NAME: a ``parameters`` cell, CELLS, RECORD, then THEN."""
    params = new_code_cell('cluster = "none"')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[params, *map(new_code_cell, cells), new_code_cell(RECORD), *map(new_code_cell, then)],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def record(output: Path) -> dict:
    """What the executed notebook's RECORD cell returned."""
    nb = nbformat.read(output, as_version=4)
    cell = next(c for c in nb.cells if c.source == RECORD)
    return ast.literal_eval(next(o["data"]["text/plain"] for o in cell.outputs if "text/plain" in o.get("data", {})))


#: Kernels of this process from before the test (another test's), not counted.
EARLIER: set[int] = set()


def kernels_alive() -> list[int]:
    """Kernel processes this test process started during the test and that still run."""
    return [p for p in child_kernels(os.getpid()) if p not in EARLIER]


def gone(pids, within: float = 10) -> bool:
    """Whether none of PIDS is a live kernel of ours (waiting a little for the last to exit)."""
    deadline = time.monotonic() + within
    while set(pids) & set(kernels_alive()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def folder(tmp_path, monkeypatch):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    monkeypatch.setenv("KINDLB_NOTEBOOKS", str(nbs))
    EARLIER.clear()
    EARLIER.update(kernels_alive())
    return nbs


def test_each_notebook_has_its_own_fresh_kernel_in_its_folder_started_while_the_one_before_ran(folder, tmp_path):
    write(folder, "00_first", "LEAK = 1", "import time; time.sleep(1)")
    write(folder, "01_second", "import time; time.sleep(1)")
    write(folder, "02_third")
    results = run_series(parameters={}, output_dir=tmp_path / "out", html=False, log=lambda *_: None)
    assert [r.ok for r in results] == [True] * 3, [r.error for r in results]
    seen = [record(r.output) for r in results]
    pids = [s["pid"] for s in seen]
    assert len(set(pids)) == 3, "a kernel was shared"
    assert all(Path(s["cwd"]).resolve() == folder.resolve() for s in seen)
    assert all(s["first_input"] == 'cluster = "none"' for s in seen), "something ran before the first cell"
    assert seen[0]["leak"] and not seen[1]["leak"] and not seen[2]["leak"], "state leaked between notebooks"
    for r in results:
        assert nbformat.read(r.output, as_version=4).cells[0].execution_count == 1
    # the kernel of each next notebook was already running while the one before ran
    assert pids[1] in seen[0]["siblings"] and pids[2] in seen[1]["siblings"]
    # the kernels before it may still be shutting down in the background; no new one may appear
    assert set(seen[2]["siblings"]) <= set(pids[:2]), "a kernel was started after the last notebook"
    assert gone(pids) and not kernels_alive()


def test_a_failing_notebook_names_its_cell_and_its_kernel_and_the_spare_are_shut_down(folder, tmp_path):
    write(folder, "00_first")
    write(folder, "01_fails", then=('raise ValueError("boom")',))
    write(folder, "02_never")
    results = run_series(parameters={}, output_dir=tmp_path / "out", html=False, log=lambda *_: None)
    assert [r.ok for r in results] == [True, False]
    assert results[1].error.startswith('cell [4] `raise ValueError("boom")` raised ValueError: boom')
    pid = record(results[1].output)["pid"]
    assert gone([pid]) and not kernels_alive(), "the failed notebook's kernel or the spare is still running"


def test_a_spare_kernel_that_died_is_replaced_by_a_fresh_one(folder, tmp_path):
    first = write(folder, "00_first")
    with KernelPool() as pool:
        assert run_one(first, tmp_path / "out", {}, html=False, kernels=pool).ok
        spare = pool._spare[1].result()
        os.kill(spare.provisioner.pid, signal.SIGKILL)
        assert gone([spare.provisioner.pid])
        res = run_one(first, tmp_path / "out", {}, html=False, kernels=pool)
        assert res.ok, res.error
        assert record(res.output)["pid"] != spare.provisioner.pid
        other = tmp_path / "elsewhere"  # another folder than the spare's: a fresh kernel there
        other.mkdir()
        res = run_one(write(other, "00_other"), tmp_path / "out", {}, html=False, kernels=pool)
        assert Path(record(res.output)["cwd"]).resolve() == other.resolve()
    assert not kernels_alive()


def test_a_pool_left_open_shuts_its_spare_down_at_exit(tmp_path):
    script = ("from kindlb_helpers._tools.runner import KernelPool, _shutdown\n"
              "pool = KernelPool()\n"
              "_shutdown(pool.take('python3', '.'))\n"
              "print(pool._spare[1].result().provisioner.pid)\n")  # and exit without close()
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout.split()[-1])
    deadline = time.monotonic() + 10
    while is_kernel(pid):  # orphaned, it would live on under another parent
        assert time.monotonic() < deadline, f"the spare kernel {pid} outlived its pool's process"
        time.sleep(0.1)


def is_kernel(pid: int) -> bool:
    """Whether PID is a running kernel process, whoever its parent (a zombie's command line is empty)."""
    try:
        return "ipykernel" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return False


def test_the_pool_saves_the_kernel_start_of_every_notebook_but_the_first(folder, tmp_path):
    """Four notebooks of 1.5 s: about a second less per notebook after the first (a kernel's start)."""
    paths = [write(folder, f"0{i}_sleep", "import time; time.sleep(1.5)") for i in range(4)]

    def series(pool) -> float:
        start = time.monotonic()
        for path in paths:
            assert run_one(path, tmp_path / "out", {}, html=False, kernels=pool).ok
        return time.monotonic() - start

    plain, pooled = [], []
    for _ in range(3):  # the best rounds: the machine may be busy with other things now and then
        plain.append(series(None))
        with KernelPool(limit=len(paths)) as pool:
            pooled.append(series(pool))
        if min(pooled) < min(plain) - 1.0:
            break
    assert min(pooled) < min(plain) - 1.0, f"with the pool {pooled}, without {plain}"
    assert not kernels_alive()


def test_without_a_pool_the_kernels_own_output_goes_to_kernels_log_and_its_kernel_is_gone(folder, tmp_path, capfd):
    """Library use (no pool given): what the kernel process itself writes (fd 2: transport warnings and the
    like) lands in OUT/kernels.log, not on the terminal; the kernel is shut down after the notebook."""
    path = write(folder, "00_chatty", 'import os\nos.write(2, b"KERNEL-OWN-STDERR\\n")')
    res = run_one(path, tmp_path / "out", {}, html=False)
    assert res.ok, res.error
    seen = record(res.output)
    assert "KERNEL-OWN-STDERR" not in capfd.readouterr().err
    assert "KERNEL-OWN-STDERR" in (tmp_path / "out" / "kernels.log").read_text()
    assert gone([seen["pid"]]), "the notebook's kernel still runs"
