"""Troubleshooting on purpose (notebook 08): cause a case, show its evidence, diagnose it, repair it.

The learner reads the evidence and guesses before opening the library's diagnosis; then on to the next.

This package only re-exports what the notebook and other modules use (``kh.trouble.cause``, ...):

- :mod:`.failures`: the cases, the failure each shows, their ``ts-case<N>`` Services, which this release has;
- :mod:`.staging`: causing a case (saying only that something changed), repairing it, cleaning up;
- :mod:`.clues`: the evidence (describe, endpoints, MetalLB's pods, configuration and status, the nodes' labels,
  this case's log lines, ping and TCP), the same boxes for every case;
- :mod:`.diagnosis`: the library's diagnosis, with what was done.
"""
from .clues import Evidence, evidence, ping_and_tcp
from .diagnosis import Diagnosis, Finding, diagnose
from .failures import CASES, FAILURES, HEALTHY, KEPT, applies, default_pool, not_here, service_of
from .staging import Case, cause, cleanup, repair

__all__ = ["FAILURES", "CASES", "Case", "cause", "evidence", "diagnose", "repair", "cleanup", "applies",
           "service_of", "Diagnosis", "Evidence", "Finding", "HEALTHY", "KEPT", "ping_and_tcp", "not_here",
           "default_pool"]
