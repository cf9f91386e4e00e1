"""``kh.trouble``: troubleshooting on purpose (notebook 08): cause a failure, show its evidence, let the
learner guess, then the library's diagnosis, and repair it.

>>> import kindlb_helpers as kh
>>> sorted(kh.trouble.FAILURES)[:2]                          # doctest: +SKIP
"""
from ._lesson.trouble import (
    FAILURES,
    Diagnosis,
    Evidence,
    Finding,
    applies,
    cause,
    cleanup,
    default_pool,
    diagnose,
    evidence,
    not_here,
    observe,
    repair,
    service_of,
)

__all__ = ["FAILURES", "Diagnosis", "Evidence", "Finding", "applies", "cause", "cleanup", "default_pool",
           "diagnose", "evidence", "not_here", "observe", "repair", "service_of"]
