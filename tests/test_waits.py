"""The waits' own rules, without a cluster: how often they look, and what happens when a watch fails.

The cluster tier proves the watch itself (tests/cluster/test_series.py: an assigned address is
noticed within 0.2 s of MetalLB writing it).
"""
from __future__ import annotations

import ast
import http.server
import socket
import threading
import time
from pathlib import Path

import pytest

from kindlb_helpers._cluster.waits import POLL, Watch, ticks, wait_until
from kindlb_helpers._core.errors import WaitTimeout


def counting(done_after: int):
    calls: list[float] = []

    def check() -> tuple[bool, str]:
        calls.append(time.monotonic())
        return len(calls) >= done_after, f"call {len(calls)}"

    return check, calls


def test_a_poll_never_looks_away_longer_than_a_fifth_of_a_second():
    check, calls = counting(5)
    assert wait_until(check, timeout=10, desc="demo", progress=False, interval=5) == "call 5"
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    assert max(gaps) < POLL + 0.1, gaps  # interval=5 asked for; 0.2 is the most a wait looks away


def test_a_watch_that_cannot_be_opened_falls_back_to_looking_every_fifth_of_a_second():
    opened = []

    def list_call(*args, **kwargs):
        opened.append(kwargs.get("watch"))
        raise ConnectionRefusedError("the API server is not there")

    from kubernetes import watch  # noqa: F401  (imported here, not in the follower: slow on a loaded machine)

    count, calls = counting(4)

    def check():  # done once it looked 4 times and the follower has tried its watch at least once
        done, status = count()
        return done and bool(opened), status

    start = time.monotonic()
    wait_until(check, timeout=10, desc="demo", progress=False, watches=[Watch(list_call, "default")])
    assert time.monotonic() - start < 3.0
    assert opened and opened[0] is True, "the follower asked for a watch"
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    assert max(gaps) < POLL + 0.15, gaps


def test_no_watch_thread_outlives_its_wait():
    def list_call(*args, **kwargs):
        raise ConnectionRefusedError("no server")

    check, _ = counting(3)
    wait_until(check, timeout=5, desc="demo", progress=False, watches=[Watch(list_call)])
    deadline = time.monotonic() + 3
    while any(t.name == "kindlb-watch" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name == "kindlb-watch"]


def test_a_timeout_says_what_was_seen_last_and_why():
    with pytest.raises(WaitTimeout) as err:
        wait_until(lambda: (False, "EXTERNAL-IP <pending>"), timeout=0.5, desc="external IP of nginx",
                   progress=False, explain=lambda: "no IPAddressPool")
    assert "last seen: EXTERNAL-IP <pending>" in str(err.value) and "no IPAddressPool" in str(err.value)


def test_ticks_keep_a_schedule_and_stop_on_time():
    start = time.monotonic()
    seen = []
    for t in ticks(0.5, every=0.1):
        seen.append(t)
        if len(seen) == 2:
            time.sleep(0.25)  # a slow body: the ticks it missed are skipped, not made up in a burst
    took = time.monotonic() - start
    assert seen[0] < 0.05 and all(a < b for a, b in zip(seen, seen[1:])), seen
    assert 3 <= len(seen) <= 4, seen  # 0.0, 0.1, (skips 0.2, 0.3), 0.4 or so
    assert all(b - a >= 0.09 for a, b in zip(seen, seen[1:])), seen
    assert 0.45 <= took < 1.5, took
    with pytest.raises(ValueError):
        next(ticks(1, every=0))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fetch_tries_on_its_clock_and_says_how_many_tries_it_took():
    """app.fetch against a real HTTP server on loopback: nothing listens at first, then a server starts."""
    from kindlb_helpers._lesson import app

    port = _free_port()
    with pytest.raises(WaitTimeout, match="did not answer after 3 tries"):
        t0 = time.monotonic()
        app.fetch("127.0.0.1", port=port, attempts=3, delay=0.1, timeout=0.5)
    assert time.monotonic() - t0 < 2

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = b"<html><title>Welcome to nginx!</title></html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    servers = []

    def serve():  # bound only now: until then a connection is refused
        servers.append(http.server.HTTPServer(("127.0.0.1", port), Page))
        servers[0].serve_forever()

    late = threading.Timer(0.35, serve)
    late.daemon = True
    late.start()
    try:
        page = app.fetch("127.0.0.1", port=port, attempts=20, delay=0.1, timeout=0.5)
    finally:
        late.cancel()
        for server in servers:
            server.shutdown()
            server.server_close()
        late.join(5)
    assert page.status == 200 and page.title == "Welcome to nginx!"
    assert 3 <= page.attempts <= 10, page.attempts  # refused until the server came up, 0.35 s in


ROOT = Path(__file__).resolve().parent.parent


def _sleeps_in_a_loop(path: Path) -> list[str]:
    """`time.sleep(...)` (or a bare `sleep(...)`) inside a for/while loop of this file."""
    found = []
    for loop in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(loop, (ast.For, ast.While, ast.AsyncFor)):
            for node in ast.walk(loop):
                if isinstance(node, ast.Call) and (getattr(node.func, "attr", None) == "sleep"
                                                   or getattr(node.func, "id", None) == "sleep"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return sorted(set(found))


def test_the_loop_guard_finds_a_sleep_in_a_loop(tmp_path):
    bad = ROOT / "tests" / f".tmp_loop_{id(tmp_path)}.py"
    bad.write_text("import time\nwhile True:\n    if x():\n        time.sleep(1)\nfor i in y:\n    sleep(2)\n"
                   "time.sleep(3)\n")
    try:
        assert len(_sleeps_in_a_loop(bad)) == 2
    finally:
        bad.unlink()


def test_only_the_waits_sleep_in_a_loop():
    """One wait loop (wait_until) and one clock (ticks): no other module of the library sleeps in a loop."""
    found = [hit for p in sorted((ROOT / "kindlb_helpers").rglob("*.py"))
             if p.name != "waits.py" for hit in _sleeps_in_a_loop(p)]
    assert not found, f"wait with kindlb_helpers._cluster.waits.wait_until, or take a clock from waits.ticks: {found}"
