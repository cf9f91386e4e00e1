"""Every path the user types on the command line: an OS error on it is one line that names the path and says what
to do (exit 2, or 1 when the path is not at fault), never the OS's raw text with "(a bug?)", never a traceback.

The commands are run in-process (``cli.main``) with Docker out of reach: each path is checked before anything
else starts, so no case needs Docker, a cluster or the lab.
"""
from __future__ import annotations

import errno
import os

import pytest

from kindlb_helpers._core.errors import BadInput, KindlbError
from kindlb_helpers._core.paths import file_to_write, folder_for, path_error
from kindlb_helpers._tools import cli

LONG = "x" * 300  # one name longer than any file system's 255 bytes


@pytest.fixture
def blocker(tmp_path):
    """A regular file where the user's path needs a folder."""
    path = tmp_path / "plain-file"
    path.write_text("not a folder\n")
    return path


def kindlb(capsys, monkeypatch, *argv: str) -> tuple[int, str]:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    code = cli.main(list(argv))
    err = capsys.readouterr().err.strip()
    return code, err


def one_line_naming(err: str, path: str) -> None:
    line = err.splitlines()[-1]
    assert len(err.splitlines()) <= 2, err  # the bundle commands may say what they start first
    assert line.startswith("kindlb: "), err
    assert "a bug?" not in err and "Traceback" not in err and "Errno" not in err, err
    assert path[:60] in line, f"the path is not named: {err}"


def cases(tmp_path, blocker):
    long = str(tmp_path / LONG)
    under = str(blocker / "sub")
    return [
        (["notebooks", long], long, "too long"),
        (["notebooks", under], str(blocker), "is a file, not a folder"),
        (["bundle", "save", str(blocker / "b.tar"), "--from-lab"], str(blocker), "is a file, not a folder"),
        (["bundle", "save", long + ".tar", "--from-lab"], long, "too long"),
        (["bundle", "save", str(tmp_path), "--from-lab"], str(tmp_path), "is a folder"),
        (["bundle", "verify", long], long, "too long"),
        (["bundle", "verify", str(blocker / "b.tar")], str(blocker), "is a file, not a folder"),
        (["bundle", "load", long, "--docker-only"], long, "too long"),
        (["run", "--output", long, "03_address_pool"], long, "too long"),
        (["run", "--output", under, "03_address_pool"], str(blocker), "is a file, not a folder"),
        (["run", "--notebooks", long], long, "too long"),
        (["run", "--notebooks", under], str(blocker), "is a file, not a folder"),
        (["run", long + ".ipynb"], long, "too long"),
        (["run", str(blocker / "a.ipynb")], str(blocker), "is a file, not a folder"),
    ]


@pytest.mark.parametrize("i", range(14))
def test_a_bad_path_is_one_line_with_the_path_and_the_fix(i, tmp_path, blocker, capsys, monkeypatch):
    argv, named, fix = cases(tmp_path, blocker)[i]
    code, err = kindlb(capsys, monkeypatch, *argv)
    assert code == 2, err
    one_line_naming(err, named)
    assert fix in err, err


def test_a_full_disk_is_not_the_paths_fault(tmp_path):
    err = path_error(tmp_path / "b.tar", OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), "write the bundle")
    assert type(err) is KindlbError and "disk is full" in str(err) and str(tmp_path) in str(err)


def test_the_checks_create_nothing_where_they_refuse(tmp_path, blocker):
    with pytest.raises(BadInput, match="a file, not a folder"):
        folder_for(blocker / "a" / "b", "copy the series into")
    with pytest.raises(BadInput, match="too long"):
        file_to_write(tmp_path / "new" / LONG, "write the bundle")
    assert blocker.read_text() == "not a folder\n"
    # the folder on the way of a good file name is made, the file itself is not
    assert file_to_write(tmp_path / "made" / "b.tar", "write the bundle") == tmp_path / "made" / "b.tar"
    assert (tmp_path / "made").is_dir() and not (tmp_path / "made" / "b.tar").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: the permission is not checked for root")
def test_a_folder_without_write_permission(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    with pytest.raises(BadInput, match="pick a folder you own"):
        folder_for(ro / "sub", "copy the series into")
