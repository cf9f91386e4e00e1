"""The command line: bad input is one message (two lines at most), exit 2; failures exit 1; no tracebacks."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.docker  # the docker tier: no Docker, but many `kindlb` subprocesses (a few seconds each): too slow for the unit tier


def kindlb(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kindlb_helpers._tools.cli", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args,words", [
    (["sipcalc", ""], "try 172.19.0.1/16"),
    (["sipcalc", "172.19.0.1/33"], "longer than IPv4's 32 bits"),
    (["run", "-p", "subnett=172.19.0.1/16", "03_address_pool"], "did you mean 'subnet'"),
    (["run", "-p", "apply=maybe", "03_address_pool"], "apply: must be True or False"),
    (["run", "-p", "subnet=172.19.0.1", "-p", "apply=false", "03_address_pool"], "write it as ip a shows it"),
    (["run", "-p", "apply", "03_address_pool"], "must look like name=value"),
    (["run", "-p", "taken=[1", "03_address_pool"], "is not a YAML value"),
    (["run", "no_such_notebook"], "no such notebook"),
    (["pool", "--size", "0"], "pool_size"),
    (["doctor", "--cluster", "Not_Valid"], "not a valid kind cluster name"),
])
def test_bad_input_is_a_short_message_and_exit_2(args, words):
    out = kindlb(*args)
    assert out.returncode == 2, out.stderr
    assert words in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) <= 2, out.stderr


def test_an_output_folder_that_cannot_be_made(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = kindlb("run", "--output", str(blocker / "sub"), "-p", "apply=false", "-p", "subnet=172.19.0.1/16",
                 "03_address_pool")
    assert out.returncode == 2 and "cannot create the output folder" in out.stderr  # bad input: another path
    assert "is a file, not a folder" in out.stderr
    assert "Traceback" not in out.stderr


def test_debug_shows_the_traceback():
    out = kindlb("sipcalc", "", "--debug")
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_runner_names_the_failing_cell_as_jupyterlab_does():
    from kindlb_helpers._tools.runner import failing_cell

    class Exc:
        cell_index, exec_count, ename, evalue = 4, 7, "PoolError", "pool 1-2 overlaps node x\nmore"
        source = "\n# comment-free first line below\nnet, reserved = kh.pool.taken_from_text(subnet, taken)\n"

    assert failing_cell(Exc()) == ("cell [7] `# comment-free first line below` raised PoolError: "
                                   "pool 1-2 overlaps node x\nmore")  # a list of fixes is kept whole
