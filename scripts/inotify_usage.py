#!/usr/bin/env python3
"""How many inotify instances and watches this host's processes hold, per kind cluster and per user.

Linux counts both against the user that created them (``fs.inotify.max_user_instances`` and
``fs.inotify.max_user_watches``, per user namespace). A kind node is a privileged container with no user
namespace of its own, so its systemd, containerd, kubelet and pods all count against root's limits,
together with the host's own root processes. This reads ``/proc/*/fd`` (an inotify instance is a link to
``anon_inode:inotify``) and ``/proc/*/fdinfo/*`` (one ``inotify wd:`` line per watch), finds each
process's container from its cgroup, and prints the totals per kind cluster, per other container, for the
host itself and per user, as JSON. Run it as root to see every process; use it with 0, 1, 2, 3 clusters
up to see what each adds (docs/workshop.md gives the figures the doctor's threshold rests on).

    sudo python3 scripts/inotify_usage.py
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

_ID = re.compile(r"[0-9a-f]{64}")


def containers() -> dict[str, tuple[str, str | None]]:
    """Docker container ID -> (name, kind cluster or None), for the running containers."""
    try:
        out = subprocess.run(["docker", "ps", "--no-trunc", "--format",
                              '{{.ID}} {{.Names}} {{.Label "io.x-k8s.kind.cluster"}}'],
                             capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    found = {}
    for line in out.splitlines():
        cid, name, *cluster = line.split()
        found[cid] = (name, cluster[0] if cluster else None)
    return found


def owner(pid: Path, known: dict[str, tuple[str, str | None]]) -> str:
    """``cluster NAME``, ``container NAME`` or ``host``: where process PID runs, read from its cgroup."""
    try:
        text = (pid / "cgroup").read_text()
    except OSError:
        return "host"
    for cid in _ID.findall(text):
        if cid in known:
            name, cluster = known[cid]
            return f"cluster {cluster}" if cluster else f"container {name}"
    return "host"


def scan() -> dict:
    """Instances and watches per owner and per uid (an instance shared by forked processes is counted once)."""
    known = containers()
    per_owner: dict[str, dict[str, int]] = defaultdict(lambda: {"instances": 0, "watches": 0})
    per_uid: dict[int, dict[str, int]] = defaultdict(lambda: {"instances": 0, "watches": 0})
    seen: set[tuple] = set()
    for pid in Path("/proc").glob("[0-9]*"):
        try:
            uid = int(next(line.split()[1] for line in (pid / "status").read_text().splitlines()
                           if line.startswith("Uid:")))
            fds = list((pid / "fd").iterdir())
        except (OSError, StopIteration, ValueError):
            continue
        where = None
        for fd in fds:
            try:
                if os.readlink(fd) != "anon_inode:inotify":
                    continue
                info = (pid / "fdinfo" / fd.name).read_text()
            except OSError:
                continue
            watches = tuple(sorted(line for line in info.splitlines() if line.startswith("inotify wd:")))
            key = (uid, watches) if watches else (uid, pid.name, fd.name)
            if key in seen:  # the same instance, inherited by a child
                continue
            seen.add(key)
            where = where or owner(pid, known)
            for table, k in ((per_owner, where), (per_uid, uid)):
                table[k]["instances"] += 1
                table[k]["watches"] += len(watches)
    limits = {}
    for k in ("max_user_instances", "max_user_watches"):
        try:
            limits[k] = int(Path("/proc/sys/fs/inotify", k).read_text())
        except (OSError, ValueError):
            pass
    return {"limits": limits, "per_owner": dict(sorted(per_owner.items())),
            "per_uid": {str(k): v for k, v in sorted(per_uid.items())}}


if __name__ == "__main__":
    json.dump(scan(), sys.stdout, indent=1)
    print()
