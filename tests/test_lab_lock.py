"""The offline lab's build scripts without Docker: the cache lock, and their EXIT traps.

Lock: every test points ``KINDLB_LAB_CACHE`` at a temp dir. A first holder (a subprocess) takes the
lock; a second one, Python's ``cache_lock()`` or a build script's ``lab_lock`` (common.sh), must say
who holds it and wait until the first lets go, or give up after its timeout. ``build()`` must take it
before any build step; read-only commands must not.

Traps: bash drops a function's ``local`` variables before the EXIT trap runs, so a trap that names
one fails under ``set -u`` ("unbound variable") and leaves behind what it was to remove.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker  # the docker tier: a Docker engine, Jupyter kernels or the wheel

lab_build = pytest.importorskip("kindlb_lab.build", reason="the offline lab is not installed: pip install -e lab/")
cache_lock = lab_build.cache_lock

from kindlb_helpers._core import versions  # noqa: E402
from kindlb_helpers._core.errors import LabError  # noqa: E402

LAB = Path(lab_build.__file__).resolve().parent
# A holder: takes the lock, says so, keeps it until its stdin closes.
HOLD_PY = ("import sys\nfrom kindlb_lab.build import cache_lock\n"
           "with cache_lock():\n    print('held', flush=True)\n    sys.stdin.read()\n")
HOLD_SH = f'. "{LAB}/common.sh"; lab_lock; echo held; cat >/dev/null'
# A second holder: prints when it has the lock.
TAKE_PY = ("import time\nfrom kindlb_lab.build import cache_lock\n"
           "with cache_lock():\n    print('got', time.time(), flush=True)\n")
TAKE_SH = f'. "{LAB}/common.sh"; lab_lock; echo got $(date +%s.%N)'


@pytest.fixture()
def env(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("KINDLB_LAB_CACHE", str(cache))
    monkeypatch.setenv("KINDLB_VERSIONS_ENV", str(versions.ENV_FILE))
    for name in ("KINDLB_LAB_LOCK_HELD", "KINDLB_LAB_LOCK_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    return dict(os.environ)


def argv(code: str, shell: bool) -> list[str]:
    return ["bash", "-euc", code] if shell else [sys.executable, "-c", code]


def hold(env: dict, shell: bool = False) -> subprocess.Popen:
    p = subprocess.Popen(argv(HOLD_SH if shell else HOLD_PY, shell), env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held", p.stderr.read()
    return p


def release(p: subprocess.Popen) -> float:
    t = time.time()
    p.stdin.close()
    assert p.wait(timeout=10) == 0, p.stderr.read()
    return t


def wait_for(what, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if what():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(("first_sh", "second_sh"), [(False, False), (False, True), (True, False)],
                         ids=["python-python", "python-script", "script-python"])
def test_a_second_holder_waits_for_the_first(env, tmp_path, first_sh, second_sh):
    lock = Path(env["KINDLB_LAB_CACHE"]) / ".lock"
    first = hold(env, first_sh)
    err = tmp_path / "second.err"
    with open(err, "w") as e:
        second = subprocess.Popen(argv(TAKE_SH if second_sh else TAKE_PY, second_sh), env=env,
                                  stdout=subprocess.PIPE, stderr=e, text=True)
    try:
        said = f"another lab build holds {lock} (pid {first.pid}); waiting"
        assert wait_for(lambda: said in err.read_text()), err.read_text()
        time.sleep(0.5)
        assert second.poll() is None, "the second holder went on while the first held the lock"
        released = release(first)
        out, _ = second.communicate(timeout=10)
    finally:
        for p in (first, second):
            if p.poll() is None:
                p.kill()
    assert second.returncode == 0, err.read_text()
    assert out.split()[0] == "got" and float(out.split()[1]) >= released - 0.05
    assert err.read_text().count("another lab build holds") == 1


def test_the_timeout_gives_up_with_the_holder_named(env):
    first = hold(env, shell=True)
    try:
        t0 = time.monotonic()
        with pytest.raises(LabError, match=rf"still holds .*\.lock \(pid {first.pid}\) after 0.5 s"):
            with cache_lock(timeout=0.5):
                pytest.fail("got the lock while a script held it")
        assert 0.4 < time.monotonic() - t0 < 5
        r = subprocess.run(argv(TAKE_SH, True), env={**env, "KINDLB_LAB_LOCK_TIMEOUT": "0.5"},
                           capture_output=True, text=True, timeout=10)
        assert r.returncode != 0 and "got" not in r.stdout and "after 0.5 s" in r.stderr, r.stderr
    finally:
        release(first)
    with cache_lock(timeout=0.5):  # free again
        pass


def test_scripts_under_build_do_not_wait_for_it(env):
    """build() names the lock it holds in KINDLB_LAB_LOCK_HELD; its scripts go on. A leftover variable
    with no holder behind it must not let a script skip the lock."""
    lock = str(Path(env["KINDLB_LAB_CACHE"]) / ".lock")
    under = {**env, "KINDLB_LAB_LOCK_HELD": lock, "KINDLB_LAB_LOCK_TIMEOUT": "0.5"}
    with cache_lock():
        r = subprocess.run(argv(TAKE_SH, True), env=under, capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and r.stdout.startswith("got"), r.stderr
        with cache_lock(timeout=0.1):  # re-entrant in one thread (up() -> build())
            pass
    stale = hold(under, shell=True)  # nobody holds it: the script takes the lock for real
    try:
        with pytest.raises(LabError, match=f"pid {stale.pid}"):
            with cache_lock(timeout=0.3):
                pass
    finally:
        release(stale)


def test_build_takes_the_lock_before_any_step(env, monkeypatch):
    def no_step(*a, **k):
        raise AssertionError("build() ran a step without holding the cache lock")

    monkeypatch.setattr(lab_build, "ensure_docker", lambda: None)
    monkeypatch.setattr(lab_build, "_start", no_step)
    monkeypatch.setattr(lab_build, "_run", no_step)
    first = hold(env)
    try:
        with pytest.raises(LabError, match="still holds"):
            lab_build.build(lock_timeout=0.3)
    finally:
        release(first)


def test_every_script_that_writes_the_cache_takes_the_lock():
    for script in sorted(LAB.glob("build-*.sh")):
        assert "lab_lock" in script.read_text(), f"{script.name} writes the cache without lab_lock"


def test_read_only_commands_do_not_wait(env):
    first = hold(env)
    try:
        r = subprocess.run([sys.executable, "-m", "kindlb_lab", "env"], env=env, capture_output=True,
                           text=True, timeout=20)
        assert r.returncode == 0 and "KINDLB_LAB_METALLB_SOURCE" in r.stdout, r.stderr
        assert "another lab build" not in r.stderr
    finally:
        release(first)


# --- EXIT traps ---------------------------------------------------------------------------------

FUNC = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\(\) *\{\n(.*?)^\}", re.S | re.M)
NAME = r"[A-Za-z_][A-Za-z0-9_]*"


def trap_runtime_names(line: str) -> set[str]:
    """Variables a ``trap`` line leaves for the trap to expand when it runs: those in single quotes,
    and escaped ones (``\\$x``) outside them; a double-quoted ``"$x"`` is expanded when it is set."""
    parts = re.split(r"'", line.split("trap", 1)[1])
    quoted = " ".join(parts[1::2])
    unquoted = " ".join(parts[0::2])
    return ({m.group(1) or m.group(2) for m in re.finditer(rf"\$(?:\{{({NAME})|({NAME}))", quoted)}
            | set(re.findall(rf"\\\$\{{?({NAME})", unquoted)))


def locals_of(body: str) -> set[str]:
    names = set()
    for decl in re.findall(r"^\s*local\s+([^;\n]*)", body, re.M):
        names |= set(re.findall(rf"(?:^|\s)({NAME})(?==|\s|$)", decl))
    return names


def test_the_checker_sees_a_trap_on_a_local():
    bad = "f() {\n  local a root=1\n  trap 'rm -rf \"$root\"' EXIT\n}\n"
    (name, body), = FUNC.findall(bad)
    assert locals_of(body) == {"a", "root"}
    assert trap_runtime_names(body.splitlines()[1]) == {"root"}
    assert trap_runtime_names("trap 'docker rm -f '\"$c\"' >/dev/null' EXIT") == set()


def test_no_trap_in_a_lab_script_names_a_local():
    scripts = sorted(LAB.glob("*.sh")) + sorted((LAB / "files").glob("*.sh"))
    assert any(s.name == "build-node.sh" for s in scripts)
    found = []
    for script in scripts:
        text = script.read_text()
        all_locals = set()
        for _, body in FUNC.findall(text):
            all_locals |= locals_of(body)
        for n, line in enumerate(text.splitlines(), 1):
            if re.match(r"\s*trap\s", line):
                for name in trap_runtime_names(line) & all_locals:
                    found.append(f"{script.name}:{n}: the trap expands ${name}, a local of a function: {line.strip()}")
    assert not found, "\n".join(found)


def test_build_base_cleans_up_when_it_fails(tmp_path):
    """build-node.sh's build_base, run alone with a failing tar: its scratch folder must go, quietly."""
    text = (LAB / "build-node.sh").read_text()
    func = next(m.group(0) for m in FUNC.finditer(text) if m.group(1) == "build_base")
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "rootfs" / "node.tar").write_text("")
    (tmp_path / "crictl").write_text("")
    harness = f"""set -euo pipefail
shopt -s inherit_errexit
CACHE={tmp_path}; BIN_DIR={tmp_path}; KIND_VERSION=v0; BASE_IMAGE=base
log() {{ :; }}
moddir() {{ echo {tmp_path}/kind; }}
label_of() {{ :; }}
tar() {{ echo "tar: stub failure" >&2; return 1; }}
{func}
build_base
"""
    r = subprocess.run(["bash", "-c", harness, str(tmp_path / "crictl")], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "stub failure" in r.stderr, r.stderr
    assert "unbound variable" not in r.stderr, r.stderr
    assert list((tmp_path / "rootfs").glob("base.*")) == [], "build_base left its scratch folder behind"
