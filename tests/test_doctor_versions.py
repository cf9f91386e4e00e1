"""The environment check remembers kind's and kubectl's versions while their program files stay the same, and asks
again when a file changes, when the last run failed, or when the program is a shim that may run another version."""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from kindlb_helpers._lesson import doctor


def fake_tool(folder: Path, name: str, version: str, code: int = 0) -> Path:
    """A program NAME (a shell script) that counts its runs in runs.log and prints VERSION as kubectl/kind would."""
    log = folder / "runs.log"
    if name == "kubectl":
        say = "{\"clientVersion\": {\"gitVersion\": \"%s\"}}" % version
    else:
        say = f"kind {version} go1.22 linux/amd64"
    path = folder / name
    path.write_bytes(b"#!/bin/sh\n" + (f"echo run >> '{log}'\necho '{say}'\nexit {code}\n").encode())
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def runs(folder: Path) -> int:
    log = folder / "runs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.fixture()
def tools(tmp_path, monkeypatch):
    """A folder first on PATH for fake programs, taken for the tools' own binaries (the rule for shims is tested
    apart, on real binaries); the cache in tmp_path."""
    if shutil.which("sh") is None:
        pytest.skip("needs a POSIX shell")
    monkeypatch.setattr(doctor, "_own_binary", lambda real, tool: Path(real).name == tool)
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("KINDLB_KIND", raising=False)
    return folder


def test_kubectls_version_is_asked_once_while_its_file_stays_the_same(tools):
    fake_tool(tools, "kubectl", "v1.31.0")
    assert doctor._kubectl("kindlb")[:2] == (True, "v1.31.0")
    assert doctor._kubectl("kindlb")[:2] == (True, "v1.31.0")
    assert runs(tools) == 1
    fake_tool(tools, "kubectl", "v1.32.10")  # replaced in place: another size, mtime and ctime
    assert doctor._kubectl("kindlb")[:2] == (True, "v1.32.10")
    assert runs(tools) == 2
    assert (tools.parent / "cache" / "kindlb" / "tool-versions.json").is_file()


def test_kinds_version_is_remembered_and_a_failure_is_not(tools, monkeypatch):
    fake_tool(tools, "kind", "v0.30.0", code=1)
    monkeypatch.setenv("KINDLB_KIND", str(tools / "kind"))
    assert doctor._kind()[0] is False
    assert doctor._kind()[0] is False
    assert runs(tools) == 2  # a failed run is asked again
    fake_tool(tools, "kind", "v0.30.0")
    assert doctor._kind()[:2] == (True, "kind v0.30.0 go1.22 linux/amd64")
    assert doctor._kind()[:2] == (True, "kind v0.30.0 go1.22 linux/amd64")
    assert runs(tools) == 3


def test_only_the_tools_own_binary_is_remembered(tmp_path):
    """A shim or version manager may run another version from the same file: asdf's shims are scripts, mise's
    and snap's are links to their own binary (another name). Only a binary under the tool's name counts."""
    binary = shutil.which("true")
    if binary is None:
        pytest.skip("needs /usr/bin/true")
    real = Path(os.path.realpath(binary)).read_bytes()
    for name, content, expected in (("kubectl", real, True), ("kind", real, True), ("kubectl.exe", real, True),
                                    ("mise", real, False), ("snap", real, False),
                                    ("kubectl", b"#!/bin/sh\nexec mise x -- kubectl", False)):
        path = tmp_path / name
        path.write_bytes(content)
        assert doctor._own_binary(str(path), name.split(".")[0] if expected else "kubectl") is expected, name


def test_a_shim_is_asked_every_time(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fake_tool(folder, "kubectl", "v1.31.0")  # a script: asdf's shims are
    doctor._kubectl("kindlb")
    doctor._kubectl("kindlb")
    assert runs(folder) == 2


def test_an_unreadable_cache_is_asked_around(tools):
    fake_tool(tools, "kubectl", "v1.31.0")
    cache = tools.parent / "cache" / "kindlb" / "tool-versions.json"
    cache.parent.mkdir(parents=True)
    cache.write_text("{not json")
    assert doctor._kubectl("kindlb")[:2] == (True, "v1.31.0")
    assert doctor._kubectl("kindlb")[:2] == (True, "v1.31.0")
    assert runs(tools) == 1  # written whole again
