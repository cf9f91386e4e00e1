"""Withdrawal, timed: a speaker deleted or a node frozen, the time until the router drops that node's next
hop and until it is back, while a prober in the client asks the address a few times a second.

The clock of the measurement is :func:`~kindlb_helpers._cluster.waits.ticks`: a deleted speaker's next hop
goes within about a second (measured 0.2-1.4 s), so the router is read every 0.1 s (each read takes a
docker exec). When FRR already counts the session as dropped while the route still shows the node, the
reset is dated between the two reads of FRR (FRR's own reset timer counts whole seconds).
"""
from __future__ import annotations

import ipaddress
import json
import threading
import time
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from ..._cluster import router as _router
from ..._cluster.dockernet import pause, unpause
from ..._cluster.kube import Kind
from ..._cluster.waits import ticks, wait_until
from ..._core import hood as _hood
from ..._core.errors import BadInput, WaitTimeout
from ..._core.manifests import NAMESPACE
from .client import Client
from .peering import SPEAKER_LABEL, Router, speakers_by_node
from .plan import Plan, neighbour_names
from .routes import kernel_hops
from .show import exec_line

WITHDRAW_LIMIT = 300
#: Seconds the route has, right after a change, to show two next hops again before a withdrawal starts.
SETTLE = 30
#: How often the router's route is read while a withdrawal is timed, and once it is over.
LOOK_EVERY, BACK_EVERY = 0.1, 0.3
#: The prober's clock, and the probes it must send once the route is withdrawn (within PROBES_WITHIN s:
#: a probe to a frozen node may hang for its whole 1 s timeout, and docker exec is slow on a busy host).
PROBE_EVERY, PROBES_AFTER, PROBES_WITHIN = 0.3, 3, 15


@dataclass
class Withdrawal:
    """One withdrawal: what was done to which node, when its next hop left the router and came back,
    and how the address answered meanwhile."""

    case: str
    node: str
    before: list[str]
    withdrawn_after: float | None
    back_after: float | None
    probes: int
    answered: int
    answered_after_withdrawal: int
    probes_after_withdrawal: int
    reason: str
    timeline: pd.DataFrame
    hood: _hood.Hood

    def summary(self) -> dict:
        return {"case": self.case, "node": self.node, "next hops before": ", ".join(self.before),
                "withdrawn after (s)": self.withdrawn_after, "back after (s)": self.back_after,
                "answered": f"{self.answered}/{self.probes}",
                "answered once withdrawn": f"{self.answered_after_withdrawal}/{self.probes_after_withdrawal}",
                "router's reason": self.reason}

    def _repr_html_(self) -> str:
        return pd.DataFrame([self.summary()]).to_html(index=False) + self.hood._repr_html_()


class _Prober(threading.Thread):
    """GETs the address from the client every ~0.3 s (1 s timeout each) until stopped or ``limit`` seconds
    have passed; ``results``: (seconds since t0, answered)."""

    def __init__(self, client: str, url: str, t0: float, limit: float) -> None:
        super().__init__(daemon=True)
        self.client, self.url, self.t0, self.limit = client, url, t0, limit
        self.results: list[tuple[float, bool]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        for _ in ticks(self.limit, every=PROBE_EVERY):
            if self.stop.is_set():
                return
            sent = time.monotonic() - self.t0
            code, _ = _router.exec_in(self.client, ["wget", "-q", "-T", "1", "-O", "/dev/null", self.url], check=False)
            self.results.append((round(sent, 2), code == 0))

    def after(self, t: float) -> list[bool]:
        """Whether each probe sent at ``t`` or later was answered."""
        return [ok for sent, ok in list(self.results) if sent >= t]


def _settled(hops: Callable[[], list[str]], ip: str) -> list[str]:
    """The route's next hops once there are two (right after a change the route may be re-learnt)."""
    seen: list[str] = []

    def check() -> tuple[bool, str]:
        seen[:] = hops()
        return len(seen) >= 2, f"{len(seen)} next hop(s): {', '.join(seen) or 'none'}"

    wait_until(check, timeout=SETTLE, desc=f"two next hops for {ip} at the router", progress=False,
               explain=lambda: ("a withdrawal needs two, so that the address keeps answering; scale the app so "
                                "that two nodes advertise"))
    return seen


def _dated_reset(clean: float, seen: float, ago: float) -> float:
    """When a session reset that two reads of FRR bracket happened: after ``clean`` (the last read that showed
    no drop), before ``seen`` (the read that showed it) and, by FRR's ``lastResetTimerMsecs`` (whole seconds,
    so within a second of ``seen - ago``), in the middle of what is left.

    >>> round(_dated_reset(10.0, 10.25, 1.0), 3)   # 'a second ago' in FRR's seconds: between the two reads
    10.125
    >>> _dated_reset(10.0, 13.0, 2.0)               # slow reads: FRR's second narrows it to 10-12
    11.0
    """
    lo, hi = max(clean, seen - ago - 1), min(seen, seen - ago + 1)
    if lo > hi:  # FRR's clock disagrees with ours: keep to what the two reads prove
        lo, hi = clean, seen
    return (lo + hi) / 2


def _time_withdrawal(hops: Callable[[], list[str]], neighbour: Callable[[], dict], dropped: int, clean: float,
                     victim: str, t0: float, timeout: float, timeline: list[dict]) -> float | None:
    """Seconds from t0 until ``victim`` left the route (None: not within ``timeout``), read every 0.1 s.
    ``dropped``: the session's connectionsDropped before the act, read at ``clean``."""
    for _ in ticks(t0 + timeout - time.monotonic(), every=LOOK_EVERY):
        now_hops = hops()
        now = time.monotonic()
        timeline.append({"t (s)": round(now - t0, 2), "next hops": ", ".join(now_hops)})
        if victim not in now_hops:
            return round(now - t0, 2)
        asked = time.monotonic()
        info = neighbour()
        if info.get("connectionsDropped", 0) > dropped:
            # the session went down (and the route with it) between two looks, and a new speaker is
            # already back, or zebra has not updated the kernel yet: date the reset between the reads
            ago = info.get("lastResetTimerMsecs", 0) / 1000
            withdrawn = round(max(_dated_reset(clean, time.monotonic(), ago) - t0, 0.0), 2)
            timeline.append({"t (s)": withdrawn, "next hops": f"session with {victim} reset (FRR)"})
            return withdrawn
        clean = asked
    return None


def _time_return(hops: Callable[[], list[str]], victim: str, t0: float, back_timeout: float,
                 timeline: list[dict]) -> float | None:
    """Seconds from t0 until ``victim`` is a next hop again (None: not within ``back_timeout``)."""
    for _ in ticks(back_timeout, every=BACK_EVERY):
        now_hops = hops()
        timeline.append({"t (s)": round(time.monotonic() - t0, 2), "next hops": ", ".join(now_hops)})
        if victim in now_hops:
            return round(time.monotonic() - t0, 2)
    return None


def _withdraw(kind: Kind, p: Plan, router: Router, client: Client, ip, node: str | None, case: str,
              act, undo, steps: list[_hood.Step], timeout: float, back_timeout: float) -> Withdrawal:
    if not 1 <= timeout <= WITHDRAW_LIMIT:
        raise BadInput(f"timeout must be 1 to {WITHDRAW_LIMIT} seconds (got {timeout!r})")
    ip = str(ipaddress.ip_address(str(ip)))
    names = neighbour_names(p)
    addr_of = {n: a for n, a in p.core.neighbours}

    def hops() -> list[str]:
        return sorted(names.get(h, h) for h in kernel_hops(router, ip))

    before = _settled(hops, ip)
    victim = node or before[-1]
    if victim not in before:
        raise BadInput(f"{victim} does not advertise {ip} (next hops: {before}): pick one of them")
    if p.roles.get(victim) == "control-plane":
        raise BadInput(f"{victim} is the control plane: freezing it stops the whole cluster; pick a worker")

    def neighbour() -> dict:
        info = json.loads(_router.vtysh(router.name, f"show bgp neighbors {addr_of[victim]} json") or "{}")
        return info.get(addr_of[victim], {})

    timeline: list[dict] = []
    t0 = time.monotonic()
    prober = _Prober(client.name, f"http://{ip}/", t0, limit=timeout + PROBES_WITHIN + back_timeout + 60)
    prober.start()
    withdrawn = back = None
    reason = ""
    clean = time.monotonic()
    dropped = neighbour().get("connectionsDropped", 0)
    try:
        try:
            act(victim)
            withdrawn = _time_withdrawal(hops, neighbour, dropped, clean, victim, t0, timeout, timeline)
            info = neighbour()
            keys = ("lastResetDueTo", "lastNotificationReason", "lastErrorCodeSubcode")
            reason = "; ".join(str(info[k]) for k in keys if info.get(k))
            if withdrawn is not None:  # a few probes sent once withdrawn, answered or not
                for _ in ticks(PROBES_WITHIN, every=LOOK_EVERY):
                    if len(prober.after(withdrawn)) >= PROBES_AFTER:
                        break
        finally:
            undo(victim)
        back = _time_return(hops, victim, t0, back_timeout, timeline)
    finally:
        prober.stop.set()
        prober.join(timeout=5)
    if withdrawn is None:
        raise WaitTimeout(f"{case}: the router still had {victim}'s next hop for {ip} after {timeout:g} s: "
                          f"raise the timeout above the hold time ({p.core.hold_time} s)")
    probes = prober.results
    after = prober.after(withdrawn)
    tl = pd.DataFrame(timeline)
    tl.attrs["probes"] = probes
    hood = _hood.Hood(f"{case}: time the withdrawal of {victim}", steps + [
        _hood.Step(f"while sleep 0.2; do date +%T.%N; {exec_line(router.name, f'ip route show {ip}')}; done",
                   "watch the router's route lose, then regain, the node's next hop"),
        _hood.Step(f"while sleep 0.3; do {exec_line(client.name, f'wget -q -T 1 -O /dev/null http://{ip}/')} "
                   "&& echo ok || echo FAIL; done", "meanwhile, from the client: does the address answer?")])
    return Withdrawal(case, victim, before, withdrawn, back, len(probes), sum(ok for _, ok in probes),
                      sum(after), len(after), reason, tl, hood)


def withdraw_speaker(kind: Kind, p: Plan, router: Router, client: Client, ip, node: str | None = None,
                     timeout: float = 60, back_timeout: float = 120) -> Withdrawal:
    """Delete the speaker pod of an advertising node; time until the router drops that next hop, and until
    the DaemonSet's new speaker has it back."""
    def act(victim: str) -> None:
        pod = speakers_by_node(kind)[victim]
        kind.core.delete_namespaced_pod(pod.metadata.name, NAMESPACE)

    steps = [_hood.Step(_hood.kubectl(p.cluster, "delete", "pod", "-l", SPEAKER_LABEL,
                                      "--field-selector", "spec.nodeName=NODE", namespace=NAMESPACE),
                        "the speaker closes its session on the way out; the DaemonSet starts a new one")]
    return _withdraw(kind, p, router, client, ip, node, "speaker deleted", act, lambda v: None, steps,
                     timeout, back_timeout)


def withdraw_node(kind: Kind, p: Plan, router: Router, client: Client, ip, node: str | None = None,
                  timeout: float = 60, back_timeout: float = 120) -> Withdrawal:
    """Freeze an advertising node's container (``docker pause``): no BGP message and no TCP close leave it,
    as from a node that lost power. The router waits out the hold time. Then ``docker unpause``."""
    steps = [_hood.Step("docker pause NODE", "every process of the node stops; its session says nothing"),
             _hood.Step("docker unpause NODE", "after the route is gone: the node, its speaker and pods carry on")]
    return _withdraw(kind, p, router, client, ip, node, "node frozen", pause, unpause, steps,
                     timeout, back_timeout)


def withdrawal_figure(*results: Withdrawal):
    """Each withdrawal on a time line: the client's probes (answered or not) and when the route went and came back."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 1, figsize=(8, 1.6 * len(results) + 0.6), squeeze=False)
    for ax, r in zip(axes[:, 0], results):
        probes = r.timeline.attrs.get("probes", [])
        ok = [t for t, good in probes if good]
        bad = [t for t, good in probes if not good]
        ax.scatter(ok, [1] * len(ok), marker="|", s=200, color="tab:green", label="answered")
        ax.scatter(bad, [1] * len(bad), marker="x", color="tab:red", label="no answer within 1 s")
        if r.withdrawn_after is not None:
            ax.axvline(r.withdrawn_after, color="tab:blue", label=f"route withdrawn ({r.withdrawn_after} s)")
        if r.back_after is not None:
            ax.axvline(r.back_after, color="tab:gray", linestyle="--", label=f"route back ({r.back_after} s)")
        ax.set_yticks([])
        ax.set_title(f"{r.case}: {r.node}", fontsize=10)
        ax.legend(loc="upper right", fontsize=7, ncol=2)
    axes[-1, 0].set_xlabel("seconds since the speaker was deleted / the node was frozen")
    fig.suptitle("Withdrawal: the client's requests, and when the router dropped the node's next hop", fontsize=11)
    fig.tight_layout()
    plt.close(fig)
    return fig


def withdrawals(*results: Withdrawal) -> pd.DataFrame:
    """The withdrawals' summaries, one row each."""
    return pd.DataFrame([r.summary() for r in results])

