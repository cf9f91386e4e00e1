"""Exercises graded on the cluster's state, as iximiuz Labs and Killercoda grade them, with Kaggle Learn's
objects: ``q1`` shows the task, ``q1.check()`` reads the cluster, ``q1.hint()`` and ``q1.solution()`` open
when clicked.

The learner writes YAML (applied with :func:`apply`, which is ``kubectl apply -f -``) or types a kubectl
command (:func:`kubectl`); a check never reads their code. It says right, or what is wrong in the cluster and
the command that shows it. Names, addresses and nodes come from this cluster (:func:`targets`), the same after
a kernel restart, so :func:`progress` can recompute every check from the cluster alone.

What each MetalLB release reads is asked of :func:`kindlb_helpers._core.release.release` (its facts name the
source, ``controller/service.go``): from v0.14.9 the annotations ``metallb.io/address-pool``,
``metallb.io/loadBalancerIPs``, ``metallb.io/allow-shared-ip``, with the old ``metallb.universe.tf/`` names
still read (deprecated: the controller writes a ``deprecatedAnnotation`` warning event); before, only the
``metallb.universe.tf/`` names. ``spec.loadBalancerIP`` works in both. A Service may not set both the
loadBalancerIPs annotation and ``spec.loadBalancerIP`` (either release).

The rooms: :mod:`.pools` (the cluster's pools as the exercises read and edit them), :mod:`.targets`,
:mod:`.objects` (Service YAML, a LoadBalancer Service, cleanup), :mod:`.base` (Exercise, Verdict, Folded),
the exercises in :mod:`.pool_tasks` (1, 3, 6), :mod:`.address_tasks` (2, 4) and
:mod:`.node_tasks` (5), and :mod:`.progress`.
"""
from __future__ import annotations

from ..answers import Outcome, apply, kubectl
from .address_tasks import PinAddress, ShareAddress
from .base import Exercise, Folded, Verdict
from .node_tasks import LocalPolicy, NodeSelectors
from .objects import cleanup, lb_service
from .pool_tasks import REASON_KEY, BreakFix, ExhaustPool, ReservedPool
from .pools import add_pool, configmap, configmap_pools, era_of, free_addresses, pool_config, remove_pool
from .progress import Progress, exercises, progress
from .targets import Targets, targets

__all__ = [
    # answering
    "apply", "kubectl", "Outcome",
    # the exercises
    "Exercise", "ExhaustPool", "PinAddress", "ReservedPool", "ShareAddress", "NodeSelectors", "LocalPolicy",
    "BreakFix", "exercises", "Verdict", "Folded", "REASON_KEY",
    # this cluster
    "targets", "Targets", "era_of", "progress", "Progress", "cleanup",
    # pools and Services (notebook 08 stages failures with them)
    "pool_config", "configmap_pools", "configmap", "add_pool", "remove_pool", "free_addresses", "lb_service",
]
