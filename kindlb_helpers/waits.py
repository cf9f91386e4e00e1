"""Waiting for the cluster, with a progress bar in notebooks (tqdm.auto) or silently."""
from __future__ import annotations

import time
from typing import Callable

from .errors import WaitTimeout

#: A check returns (done, what it saw). What it saw is shown beside the bar and in the error.
Check = Callable[[], "tuple[bool, str]"]


def wait_until(
    check: Check,
    *,
    timeout: float,
    desc: str,
    interval: float = 0.2,
    progress: bool = True,
    explain: Callable[[], str] | None = None,
) -> str:
    """Poll ``check`` every ``interval`` seconds (default 0.2) until it reports done or ``timeout`` passes.

    Returns the last status text. On timeout raises WaitTimeout with that status and, when
    given, what ``explain()`` finds out about why. Exceptions from ``check`` count as "not yet"
    until the deadline, then surface in the message.

    >>> wait_until(lambda: (True, "ok"), timeout=1, desc="demo", progress=False)
    'ok'
    """
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=round(timeout), desc=desc, unit="s", bar_format="{desc}: {bar} {n:.0f}/{total:.0f}s {postfix}")
    start = time.monotonic()
    status = "not checked yet"
    try:
        while True:
            try:
                done, status = check()
            except Exception as exc:  # the API may be briefly unavailable; keep the reason
                done, status = False, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            elapsed = time.monotonic() - start
            if bar is not None:
                bar.n = min(round(elapsed), bar.total)
                bar.set_postfix_str(status[:80], refresh=True)
            if done:
                if bar is not None:
                    bar.set_description(f"{desc} (done in {elapsed:.0f}s)")
                return status
            if elapsed >= timeout:
                why = ""
                if explain is not None:
                    try:
                        why = explain()
                    except Exception as exc:  # explaining must not hide the timeout
                        why = f"(could not find out why: {exc})"
                raise WaitTimeout(f"{desc}: still not done after {timeout:.0f}s; last seen: {status}"
                                  + (f"\n{why}" if why else ""))
            time.sleep(min(interval, max(0.0, timeout - elapsed)))
    finally:
        if bar is not None:
            bar.close()
