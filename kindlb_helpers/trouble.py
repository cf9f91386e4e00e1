"""``kh.trouble``: troubleshooting on purpose (notebook 08): cause a case (saying only that something changed),
show its evidence, let the learner guess, then the library's diagnosis with what was done, and repair it.

>>> import kindlb_helpers as kh
>>> sorted(kh.trouble.FAILURES)[:2]                          # doctest: +SKIP
"""
from ._lesson.trouble import (
    CASES,
    FAILURES,
    Case,
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
    repair,
    service_of,
)

__all__ = ["CASES", "FAILURES", "Case", "Diagnosis", "Evidence", "Finding", "applies", "cause", "cleanup",
           "default_pool", "diagnose", "evidence", "not_here", "repair", "service_of"]
