"""The ``docker`` CLI as the test modules run it, one copy for both tiers.

The fast tier finds this module on its own (pytest puts ``tests/`` on ``sys.path``); a cluster-tier
module adds ``tests/`` itself, as ``pytest tests/cluster`` puts only ``tests/cluster`` there.
"""
from __future__ import annotations

import subprocess


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """``docker ARGS`` with its output captured as text; RuntimeError with its stderr when it fails and CHECK."""
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and r.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {r.stderr.strip()}")
    return r
