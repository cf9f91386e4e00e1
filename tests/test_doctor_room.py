"""``kindlb doctor`` in the workshop room (issue 29 item 3, issue 26 item 5), against a real Docker engine.

- A Docker that accepts and never answers: the doctor says so and finishes in 6 s at most (it took 21-22 s when
  every Docker-reading check waited its own timeout), asking Docker nothing more.
- A laptop with the bundle loaded and no cluster yet: the bundle row lists each image and that it is in Docker;
  the cluster row is OK and names who creates the cluster, from the bundle's node image; the exit status is 0.
  An image removed from Docker turns the bundle row (and, for the node image, the cluster row) into a FIX naming it.

The bundle is one of tiny images made here (``docker import``), loaded into a bundle cache of this run
(``KINDLB_BUNDLE_CACHE``); the cluster name is one no cluster has. tests/cluster/test_bundle.py does the same with
the lab's real images, then runs the room command and the series.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest
from _docker import docker, import_tiny_images, need_docker

pytestmark = pytest.mark.docker

RUN = uuid.uuid4().hex[:8]
VERSION = "v0.16.1"
REPO = f"kindlb-test-room-{RUN}"
REFS = {"node": f"{REPO}/node:{RUN}", "controller": f"{REPO}/controller:{VERSION}",
        "speaker": f"{REPO}/speaker:{VERSION}", "nginx": f"{REPO}/nginx:{RUN}", "probe": f"{REPO}/probe:{RUN}",
        "router": f"{REPO}/router:{RUN}"}
CLUSTER = f"room-doc-{RUN}"


def doctor(*args: str, env: dict) -> tuple[subprocess.CompletedProcess, float, dict]:
    """``kindlb doctor``: its result, how long it took, and its rows by check (mark, found, fix)."""
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "kindlb_helpers._tools.cli", "doctor", *args], capture_output=True,
                       text=True, timeout=120, env={**os.environ, **env})
    took = time.monotonic() - t0
    rows, last = {}, None
    for line in r.stdout.splitlines():
        m = re.match(r"\[(.{4})\] (\S+(?: \S+)*?)\s{2,}(.*)$", line)
        if m:
            last = m.group(2)
            rows[last] = {"mark": m.group(1).strip(), "found": m.group(3), "fix": ""}
        elif line.strip().startswith("-> ") and last:
            rows[last]["fix"] = line.strip()[3:]
    return r, took, rows


@pytest.fixture
def hung_docker():
    """A loopback TCP port that accepts and never sends a byte (a hung Docker), and what it saw: for each connection,
    when it was accepted and when the client closed it (None while open), on this process's monotonic clock."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(50)
    srv.settimeout(0.2)
    seen: list[list] = []
    stop = threading.Event()

    def hold(c: socket.socket, row: list) -> None:
        c.settimeout(0.2)
        while not stop.is_set():
            try:
                if not c.recv(4096):  # the client gave up and closed: EOF
                    row[1] = time.monotonic()
                    break
            except TimeoutError:
                continue
            except OSError:
                row[1] = time.monotonic()
                break
        c.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                c = srv.accept()[0]
            except OSError:
                continue
            row = [time.monotonic(), None]
            seen.append(row)
            threading.Thread(target=hold, args=(c, row), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1], seen
    finally:
        stop.set()
        t.join(2)
        srv.close()


def test_a_docker_that_never_answers_is_reported_within_6_s(hung_docker):
    """The doctor asks the hung Docker once, gives up after its read timeout, and asks Docker nothing more; the
    run takes one bounded wait more than the same doctor against a Docker that refuses at once (the machine's own
    cost: starting Python and its checks), so 6 s in all where that cost is under 2.4 s.

    What the listener saw decides the count and the wait, whatever the load: a second ask (the 21-22 s doctor
    asked once per Docker-reading check) is a second connection; a longer wait is a longer hold. The wall clock
    only says no to a wait elsewhere (not on Docker); its margin is half the refusing run's own time, since two
    runs of the same program one after the other on a loaded 2-core machine differ by the load's swing, which
    scales with the run (0.6 s at least: the margin the quiet machine needed)."""
    from kindlb_helpers._cluster.kube.client import PROBE_TIMEOUT

    port, seen = hung_docker
    _, base, _ = doctor("--cluster", CLUSTER, env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    r, took, rows = doctor("--cluster", CLUSTER, env={"DOCKER_HOST": f"tcp://127.0.0.1:{port}"})
    held = [round(closed - accepted, 2) if closed else None for accepted, closed in seen]
    said = (f"kindlb doctor took {took:.1f} s against a Docker that never answers ({base:.1f} s when it refuses); "
            f"the Docker saw {len(seen)} connection(s), held {held} s\n{r.stdout}")
    assert len(seen) == 1, said  # one ask; nothing after it asks Docker
    (wait,) = held
    read = PROBE_TIMEOUT[1]  # connecting to a listening port succeeds at once: the read timeout is the wait
    # closed once its timeout ran out; 1.5 s for the client to get the CPU back at the timer on a loaded machine
    assert wait is not None and wait <= read + 1.5, said
    assert took - base <= wait + max(0.6, 0.5 * base), said
    assert took <= 6 or took - wait > 2.4, said  # over 6 s only where the run's own work, all but the wait, took that
    assert r.returncode == 1, r.stdout + r.stderr
    assert rows["docker"]["mark"] == "FIX" and "did not answer" in rows["docker"]["found"]
    for check in ("bundle", "cluster", "context", "metallb"):
        assert rows[check]["mark"] == "-" and "skipped" in rows[check]["found"], (check, rows[check])
    for check in ("kind network", "routes", "docker memory"):  # the laptop rows that would ask Docker
        assert "Docker did not answer" in rows[check]["found"], (check, rows[check])
    assert rows["python"]["mark"] == "ok" and "inotify" in rows  # what needs no Docker is still checked


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The laptop before the first notebook: the bundle loaded into Docker (and this run's cache), no cluster."""
    need_docker()
    from kindlb_helpers._tools import bundle

    d = tmp_path_factory.mktemp("room")
    import_tiny_images(REFS, d, RUN)
    (d / "metallb-native.yaml").write_text("".join(
        f"---\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: {r}\n        image: {REFS[r]}\n"
        for r in ("controller", "speaker")))
    file = d / f"kindlb-{VERSION}.tar"
    cache = d / "cache"
    old = os.environ.get("KINDLB_BUNDLE_CACHE")
    os.environ["KINDLB_BUNDLE_CACHE"] = str(cache)
    try:
        bundle.save(file, VERSION, node_image=REFS["node"], nginx_image=REFS["nginx"], probe_image=REFS["probe"],
                    router_image=REFS["router"], manifest=d / "metallb-native.yaml")
        bundle.load(file, VERSION, docker_only=True)
    finally:
        os.environ.pop("KINDLB_BUNDLE_CACHE") if old is None else os.environ.update(KINDLB_BUNDLE_CACHE=old)
    yield {"KINDLB_BUNDLE_CACHE": str(cache)}, file
    docker("rmi", "-f", *REFS.values(), check=False)


def test_the_doctor_on_a_laptop_with_the_bundle_loaded_and_no_cluster(loaded):
    env, file = loaded
    r, took, rows = doctor("--cluster", CLUSTER, env=env)
    assert took <= 30, took
    bundle_row = rows["bundle"]
    assert bundle_row["mark"] == "ok", rows
    assert f"MetalLB {VERSION} bundle" in bundle_row["found"] and "all 6 images in Docker" in bundle_row["found"]
    for role, ref in REFS.items():  # each image, by its role
        assert f"{'metallb' if role in ('controller', 'speaker') else role} {ref}" in bundle_row["found"], role
    kind_here = rows["kind"]["mark"] == "ok"
    if kind_here:  # kind lists the clusters; without it the cluster row is skipped (said so)
        cluster = rows["cluster"]
        assert cluster["mark"] == "ok", cluster  # not FIX: 00 (or the room command) will create it
        assert f"creates kind cluster {CLUSTER!r} from the loaded bundle {VERSION}'s node image {REFS['node']} " \
               "(in Docker)" in cluster["found"]
        assert f"kindlb bundle load {file} --cluster {CLUSTER}" in cluster["found"]  # the room command, its file
        assert rows["context"]["mark"] == "-" and "after the cluster is created" in rows["context"]["found"]
        assert rows["metallb"]["mark"] == "-"
    fixes = [c for c, row in rows.items() if row["mark"] == "FIX"]
    assert fixes == [] and r.returncode == 0 or not kind_here, (fixes, r.stdout)


def test_an_image_gone_from_docker_is_named(loaded):
    env, file = loaded
    alias = f"{REPO}/keep:{RUN}"
    docker("tag", REFS["probe"], alias)  # the image itself stays (under the alias), only its tag goes
    docker("tag", REFS["node"], f"{alias}-node")
    try:
        docker("rmi", REFS["probe"], REFS["node"])
        r, _, rows = doctor("--cluster", CLUSTER, env=env)
        assert r.returncode == 1, r.stdout
        row = rows["bundle"]
        assert row["mark"] == "FIX" and f"probe {REFS['probe']} (not in Docker)" in row["found"], row
        assert f"nginx {REFS['nginx']}" in row["found"].split("in Docker:", 1)[1]
        assert row["fix"].startswith(f"load it again: kindlb bundle load {file}")
        if rows["kind"]["mark"] == "ok":
            assert rows["cluster"]["mark"] == "FIX" and f"node image {REFS['node']} is not in Docker" in \
                rows["cluster"]["found"]
            assert rows["cluster"]["fix"] == f"kindlb bundle load {file} --cluster {CLUSTER}"
    finally:
        docker("tag", alias, REFS["probe"])
        docker("tag", f"{alias}-node", REFS["node"])
        docker("rmi", alias, f"{alias}-node", check=False)
