"""Troubleshooting on purpose (notebook 08): cause a failure, show its evidence, diagnose it, repair it.

The learner reads the evidence and guesses before opening the library's diagnosis; then on to the next.

This package only re-exports what the notebook, the tests and other modules use (``kh.trouble.cause``, ...):

- :mod:`.failures`: the failures, their ``ts-...`` Services, which ones this release can stage;
- :mod:`.clues`: the evidence (describe, events, log lines, status resources, ping and TCP);
- :mod:`.diagnosis`: the library's diagnosis, and the raw facts the cluster tier judges it by;
- :mod:`.staging`: causing a failure, repairing it, cleaning up.
"""
from ..exercises import configmap_pools  # was trouble's own name before the split; kept for old imports
from .clues import Evidence, evidence, ping_and_tcp
from .diagnosis import Diagnosis, Finding, diagnose, observe
from .failures import FAILURES, HEALTHY, KEPT, applies, default_pool, not_here, service_of
from .staging import cause, cleanup, repair

__all__ = ["FAILURES", "cause", "evidence", "diagnose", "repair", "cleanup", "observe", "applies", "service_of",
           "Diagnosis", "Evidence", "Finding", "HEALTHY", "KEPT", "ping_and_tcp", "configmap_pools", "not_here",
           "default_pool"]
