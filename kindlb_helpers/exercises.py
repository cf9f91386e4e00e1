"""``kh.exercises``: exercises graded on the cluster's state (notebook 07_exercises): ``q1`` shows a task,
``q1.check()`` reads the cluster, ``q1.hint()`` and ``q1.solution()`` open when clicked. The learner answers
with YAML (:func:`apply`, which is ``kubectl apply -f -``) or a kubectl line (:func:`kubectl`).

>>> import kindlb_helpers as kh
>>> q1 = kh.exercises.ExhaustPool(k)                        # doctest: +SKIP
"""
from ._lesson.exercises import (
    BreakFix,
    Exercise,
    ExhaustPool,
    LocalPolicy,
    NodeSelectors,
    Outcome,
    PinAddress,
    ReservedPool,
    ShareAddress,
    Verdict,
    apply,
    cleanup,
    era_of,
    kubectl,
    progress,
    targets,
)

__all__ = ["BreakFix", "Exercise", "ExhaustPool", "LocalPolicy", "NodeSelectors", "Outcome", "PinAddress",
           "ReservedPool", "ShareAddress", "Verdict", "apply", "cleanup", "era_of", "kubectl", "progress",
           "targets"]
