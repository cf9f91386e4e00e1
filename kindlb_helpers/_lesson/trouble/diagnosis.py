"""The library's diagnosis of a staged case, as notebook 08 shows it: folded, after the learner's own guess.

The reasoning is the lesson's one diagnosis (:func:`kindlb_helpers._lesson.no_ip.findings`, which the wait for
an address and ``app.service_state`` ask too); this module wraps it for a case, with what was done to the cluster
(the case's commands, kept folded by :func:`~.staging.cause` until now).
"""
from __future__ import annotations

import html
from dataclasses import dataclass

from ..._cluster.kube import Kind
from ..._core import hood as _hood
from ..no_ip import HEALTHY, Finding, findings
from .failures import applies, case_number, not_here, service_of
from .staging import Case, folded_hood


@dataclass
class Diagnosis:
    """The library's verdict, folded until clicked."""

    service: str
    findings: list[Finding]
    #: what was done to the cluster (the case's commands), shown with the verdict
    caused: _hood.Hood | None = None

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.findings]

    @property
    def first(self) -> str:
        return self.findings[0].key if self.findings else HEALTHY

    def names(self, what: str) -> bool:
        return self.first == what

    def __repr__(self) -> str:
        done = f"\nwhat was done:\n{self.caused.text()}" if self.caused and self.caused.steps else ""
        return (f"diagnosis of {self.service} (open it after your guess):\n"
                + "\n".join(f"- [{f.key}] {f.text}" for f in self.findings) + done)

    def _repr_html_(self) -> str:
        items = "".join(f"<li><b>{html.escape(f.key)}</b>: {html.escape(f.text)}</li>" for f in self.findings)
        done = folded_hood(self.caused, "What was done to the cluster") if self.caused and self.caused.steps else ""
        return (f"<details><summary><b>The library's diagnosis of {html.escape(self.service)}</b> (open it after "
                f"your guess)</summary><ol>{items}</ol>{done}</details>")


def diagnose(kind: Kind, service: str | int | Case, namespace: str = "default") -> Diagnosis:
    """Why ``service`` has no working external address, most likely first, read from the cluster.

    ``service``: a Service's name, or one of notebook 08's cases (the :class:`~.staging.Case` that
    :func:`~.staging.cause` returned, whose commands the diagnosis then shows, or its number)."""
    if not isinstance(service, str):
        n = service.number if isinstance(service, Case) else case_number(service)
        if not applies(kind, n):
            return Diagnosis(service_of(n), [Finding(HEALTHY, not_here(kind, n))])
        found = _diagnose(kind, service_of(n), namespace)
        found.caused = service.hood if isinstance(service, Case) else None
        return found
    return _diagnose(kind, service, namespace)


def _diagnose(kind: Kind, service: str, namespace: str) -> Diagnosis:
    return Diagnosis(service, findings(kind, service, namespace))
