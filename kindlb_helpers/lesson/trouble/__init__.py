"""Troubleshooting on purpose (notebook 08): cause one failure, show the evidence, let the learner guess,
then open the library's diagnosis; repair, and on to the next. This module only re-exports."""
from .diagnosis import (
    FAILURES,
    HEALTHY,
    KEPT,
    Diagnosis,
    Evidence,
    Finding,
    applies,
    cause,
    cleanup,
    configmap_pools,
    default_pool,
    diagnose,
    evidence,
    not_here,
    observe,
    ping_and_tcp,
    repair,
    service_of,
)

__all__ = ["FAILURES", "cause", "evidence", "diagnose", "repair", "cleanup", "observe", "applies", "service_of",
           "Diagnosis", "Evidence", "Finding", "HEALTHY", "KEPT", "ping_and_tcp", "configmap_pools", "not_here",
           "default_pool"]
