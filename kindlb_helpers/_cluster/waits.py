"""Waiting for the cluster, with a progress bar in notebooks (tqdm.auto) or silently.

Two ways to wait, both reacting within 0.2 s:

- :func:`wait_until` looks every ``interval`` seconds (0.2 by default), for states that no
  Kubernetes watch reports (a webhook that starts serving, an ARP answer, a namespace going away);
- :func:`wait_until` with ``watches`` follows the API's watch on the objects that decide (``kubectl
  wait`` and ``kubectl rollout status`` do the same): the check runs again as soon as one of them changes.

A measurement that samples on a clock (a failover timeline, a prober) is not a wait for a state: it
takes its clock from :func:`ticks`. This module is the only one that sleeps in a loop.
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable, Iterator

from .._core.errors import WaitTimeout, is_transient

#: A check returns (done, what it saw). What it saw is shown beside the bar and in the error.
Check = Callable[[], "tuple[bool, str]"]

#: The longest a wait looks away: without a working watch it looks this often.
POLL = 0.2
#: Seconds a watch request stays open on the server before it is renewed (quietly).
WATCH_WINDOW = 30


class Watch:
    """A list call to follow, e.g. ``Watch(k.core.list_namespaced_service, "default",
    field_selector="metadata.name=nginx")``: what ``kubectl get -w`` follows."""

    def __init__(self, list_call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.list_call, self.args, self.kwargs = list_call, args, kwargs

    def __repr__(self) -> str:
        return f"Watch({getattr(self.list_call, '__name__', self.list_call)}, {self.args}, {self.kwargs})"


class _Follower:
    """Threads that follow the watches and put a tick on a queue for every change they see."""

    def __init__(self, watches: list[Watch]) -> None:
        self.changes: queue.Queue = queue.Queue()
        self.stopped = threading.Event()
        self.healthy = [False] * len(watches)
        self.threads = [threading.Thread(target=self._follow, args=(i, w), daemon=True, name="kindlb-watch")
                        for i, w in enumerate(watches)]
        for t in self.threads:
            t.start()

    def _follow(self, index: int, w: Watch) -> None:
        from kubernetes import watch

        while not self.stopped.is_set():
            stream = watch.Watch()
            try:
                self.healthy[index] = True
                # without a resourceVersion the server first sends the objects as they are: a change
                # between the caller's first check and this request is never lost
                for _event in stream.stream(w.list_call, *w.args, timeout_seconds=WATCH_WINDOW,
                                            _request_timeout=(5, WATCH_WINDOW + 5), **w.kwargs):
                    self.changes.put(index)
                    if self.stopped.is_set():
                        break
            except Exception:  # the API went away or the watch expired: look every POLL until it is back
                self.healthy[index] = False
                self.changes.put(index)
                self.stopped.wait(1.0)
            finally:
                stream.stop()

    def wait(self, seconds: float) -> bool:
        """True when something changed (or a watch is down) within ``seconds``."""
        if not all(self.healthy):
            seconds = min(seconds, POLL)
        try:
            self.changes.get(timeout=max(0.0, seconds))
        except queue.Empty:
            return not all(self.healthy)
        while True:  # several events at once: one check covers them all
            try:
                self.changes.get_nowait()
            except queue.Empty:
                return True

    def stop(self) -> None:
        self.stopped.set()


def wait_until(
    check: Check,
    *,
    timeout: float,
    desc: str,
    interval: float = POLL,
    progress: bool = True,
    explain: Callable[[], str] | None = None,
    watches: list[Watch] | None = None,
) -> str:
    """Run ``check`` until it reports done or ``timeout`` passes; return its last status text.

    Without ``watches`` it looks every ``interval`` seconds (at most 0.2). With ``watches`` it looks
    again whenever one of the watched objects changes, and every second for the progress bar; a
    watch that fails falls back to looking every 0.2 s until it is back.

    On timeout raises WaitTimeout with that status and, when given, what ``explain()`` finds out
    about why. An exception from ``check`` that may pass with time (``errors.is_transient``: an API
    server or webhook not ready, a conflict, a dropped connection) counts as "not yet" until the
    deadline, then surfaces in the message; any other (a refusal, bad input, a bug) ends the wait at
    once, unchanged.

    >>> wait_until(lambda: (True, "ok"), timeout=1, desc="demo", progress=False)
    'ok'
    """
    interval = min(interval, POLL)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=round(timeout), desc=desc, unit="s", bar_format="{desc}: {bar} {n:.0f}/{total:.0f}s {postfix}")
    start = time.monotonic()
    status = "not checked yet"
    follower = None
    try:
        while True:
            try:
                done, status = check()
            except Exception as exc:
                if not is_transient(exc):  # waiting cannot change it: say so now, not at the deadline
                    raise
                done, status = False, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            elapsed = time.monotonic() - start
            if bar is not None:
                bar.n = min(round(elapsed), bar.total)
                bar.set_postfix_str(status[:80], refresh=True)
            if done:
                if bar is not None:
                    bar.set_description(f"{desc} (done in {elapsed:.1f}s)")
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
            left = max(0.0, timeout - elapsed)
            if watches:
                follower = follower or _Follower(watches)
                follower.wait(min(1.0, left))
            else:
                time.sleep(min(interval, left))
    finally:
        if follower is not None:
            follower.stop()
        if bar is not None:
            bar.close()



def ticks(seconds: float, every: float = POLL) -> Iterator[float]:
    """The clock of a measurement: yields the seconds since it started, about every ``every`` seconds
    (on a fixed schedule: a slow body skips the ticks it missed), until ``seconds`` have passed.

    It measures; it does not wait for a state (that is :func:`wait_until`, which also explains a timeout).
    A body that has what it came for simply breaks out.

    >>> seen = list(ticks(0.25, every=0.1))
    >>> round(seen[0], 1), 1 <= len(seen) <= 3, all(a < b for a, b in zip(seen, seen[1:]))
    (0.0, True, True)
    """
    if every <= 0:
        raise ValueError("every must be > 0")
    start = time.monotonic()
    step = 0
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= seconds:
            return
        yield elapsed
        step = max(step + 1, int((time.monotonic() - start) / every) + 1)
        time.sleep(max(0.0, min(start + step * every, start + seconds) - time.monotonic()))
