"""Running a program (kind, kubectl, docker, ip, arping): the one place ``subprocess`` is called.

Its failures become the package's errors, with the cause kept:

- the program is not installed (``FileNotFoundError``, e.g. ``ip`` on macOS) -> :class:`ToolMissing`;
- it ran longer than ``timeout`` (``subprocess.TimeoutExpired``) -> :class:`CommandTimeout`;
- it exited non-zero and ``check`` -> :class:`CommandFailed` (``.status`` is the exit code).

>>> run(["true"], what="nothing").returncode
0
>>> run(["false"], what="fail on purpose")
Traceback (most recent call last):
...
kindlb_helpers._core.errors.CommandFailed: fail on purpose: `false` exited 1
"""
from __future__ import annotations

import shlex
import subprocess
from typing import Mapping, Sequence

from .._core.errors import CommandFailed, CommandTimeout, ToolMissing

__all__ = ["run", "start"]


def run(cmd: Sequence[str], *, what: str, timeout: float = 60, input: str | None = None,
        env: Mapping[str, str] | None = None, check: bool = True, hint: str = "") -> subprocess.CompletedProcess:
    """Run CMD (a list, never a shell line) and capture its text output.

    ``what`` names the step for the message; ``hint`` is the fix appended to it (e.g. how to install the
    program, or what to look at when it fails).
    """
    line = shlex.join(str(c) for c in cmd)
    fix = f": {hint}" if hint else ""
    try:
        out = subprocess.run([str(c) for c in cmd], input=input, capture_output=True, text=True, timeout=timeout,
                             env=dict(env) if env is not None else None, check=False)
    except FileNotFoundError as exc:
        raise ToolMissing(f"{what}: the program {cmd[0]!r} is not installed or not on PATH{fix}") from exc
    except PermissionError as exc:
        raise ToolMissing(f"{what}: {cmd[0]!r} cannot be run ({exc.strerror}){fix}") from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandTimeout(f"{what}: `{line[:200]}` did not finish within {timeout:g} s{fix}") from exc
    if check and out.returncode != 0:
        err = (out.stderr or out.stdout or "").strip()
        raise CommandFailed(f"{what}: `{line[:200]}` exited {out.returncode}" + (f": {err[-600:]}" if err else "")
                            + fix, status=out.returncode, stderr=out.stderr)
    return out


def start(cmd: Sequence[str], *, what: str, hint: str = "", **popen) -> subprocess.Popen:
    """Start CMD in the background (``subprocess.Popen(cmd, **popen)``, e.g. a capture that streams).

    A program that is not there raises :class:`ToolMissing`, as :func:`run` does.
    """
    fix = f": {hint}" if hint else ""
    try:
        return subprocess.Popen([str(c) for c in cmd], **popen)
    except FileNotFoundError as exc:
        raise ToolMissing(f"{what}: the program {cmd[0]!r} is not installed or not on PATH{fix}") from exc
    except PermissionError as exc:
        raise ToolMissing(f"{what}: {cmd[0]!r} cannot be run ({exc.strerror}){fix}") from exc
