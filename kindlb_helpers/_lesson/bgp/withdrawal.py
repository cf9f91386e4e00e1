"""Withdrawal, timed: a speaker deleted or a node frozen, the time until the router drops that node's next
hop and until it is back, while the client asks the address every 0.3 s throughout.

The client's requests run in a loop inside the client container (:class:`ClientProbes`): one request every
:data:`PROBE_EVERY` seconds whatever the earlier ones do, each in the background with its own bound
(:data:`PROBE_TIMEOUT`), each written to a record file in the client (number, sent, done, ok or fail). So a request
to a frozen node fails after its bound and the next ones still go out on time: the failures during the hold time
are counted, and a gap in the requests (a busy host) is itself reported.

The clock of the measurement is :func:`~kindlb_helpers._cluster.waits.ticks`: a deleted speaker's next hop
goes within about a second (measured 0.2-1.4 s), so the router is read every 0.1 s (each read takes a
docker exec). When FRR already counts the session as dropped while the route still shows the node, the
reset is dated between the two reads of FRR (FRR's own reset timer counts whole seconds).
"""
from __future__ import annotations

import ipaddress
import json
import secrets
import shlex
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
#: The client's request clock (seconds between two requests), each request's bound (seconds), the requests
#: sent before the act (the interval before it), and the requests it must send once the route is withdrawn.
PROBE_EVERY, PROBE_TIMEOUT, PROBES_BEFORE, PROBES_AFTER, PROBES_WITHIN = 0.3, 1, 5, 5, 15
#: A gap between two requests longer than this many intervals is reported (the host was too busy to send).
GAP_FACTOR = 3


@dataclass
class Withdrawal:
    """One withdrawal: what was done to which node, when its next hop left the router and came back, and every
    request the client sent meanwhile (``requests``: (seconds since the act, answered), from the client's own
    record ``record`` in the client container)."""

    case: str
    node: str
    before: list[str]
    withdrawn_after: float | None
    back_after: float | None
    hold_time: int
    requests: list[tuple[float, bool]]
    interval: float
    record: str
    reason: str
    timeline: pd.DataFrame
    hood: _hood.Hood

    @property
    def failed(self) -> list[float]:
        """When each failed request was sent (seconds since the act)."""
        return [t for t, ok in self.requests if not ok]

    @property
    def failing(self) -> tuple[float, float] | None:
        """(first, last) failed request's send time, or None when every request was answered."""
        return (min(self.failed), max(self.failed)) if self.failed else None

    @property
    def longest_gap(self) -> float:
        """The longest time between two requests sent (seconds): the interval, unless the host stalled."""
        sent = sorted(t for t, _ in self.requests)
        return round(max((b - a for a, b in zip(sent, sent[1:])), default=0.0), 2)

    def summary(self) -> dict:
        failing = self.failing
        gap = self.longest_gap
        return {"case": self.case, "node": self.node, "next hops before": ", ".join(self.before),
                "hold time (s)": self.hold_time,
                "withdrawn after (s)": self.withdrawn_after,
                "requests sent": len(self.requests), "one every (s)": self.interval,
                "failed": len(self.failed),
                "failing (s after the act)": (f"{failing[0]:.1f} to {failing[1]:.1f}, for "
                                              f"{failing[1] - failing[0] + self.interval:.1f} s"
                                              if failing else "none"),
                "longest gap between requests (s)": gap if gap <= GAP_FACTOR * self.interval
                else f"{gap} (a gap: no request was sent meanwhile)",
                "back after (s)": self.back_after,
                "router's reason": self.reason}

    def _repr_html_(self) -> str:
        return pd.DataFrame([self.summary()]).to_html(index=False) + self.hood._repr_html_()


class ClientProbes:
    """The client's requests: a loop in the client container sends one GET every ``every`` seconds, each in the
    background bounded by ``bound`` seconds, and appends ``N SENT DONE ok|fail`` to ``record``: the times are the
    kernel's uptime (``/proc/uptime``, 10 ms; every container has it, busybox or not). Its clock does not wait for
    answers, so a request that hangs never delays the next one."""

    def __init__(self, client: str, url: str, every: float = PROBE_EVERY, bound: float = PROBE_TIMEOUT,
                 limit: float = WITHDRAW_LIMIT * 3) -> None:
        token = secrets.token_hex(4)
        self.client, self.url, self.every, self.bound = client, url, every, bound
        self.record, self.stop_file = f"/tmp/kindlb-requests-{token}.log", f"/tmp/kindlb-requests-{token}.stop"
        self.most = int(limit / every) + 1
        now = 'cut -d" " -f1 /proc/uptime'
        get = f'timeout {bound:g} wget -q -T {bound:g} -O /dev/null "{url}?kindlb={token}-$i"'
        self.loop = (f'i=0; while [ ! -e {self.stop_file} ] && [ $i -lt {self.most} ]; do i=$((i+1)); '
                     f'( s=$({now}); if {get} 2>/dev/null; then r=ok; else r=fail; fi; '
                     f'echo "$i $s $({now}) $r" >> {self.record} ) & sleep {every:g}; done')

    def start(self) -> None:
        _router.exec_in(self.client, ["sh", "-c", f"rm -f {self.record} {self.stop_file}; "
                                                  f"( {self.loop} ) >/dev/null 2>&1 &"])

    def now(self) -> float:
        """The client's clock (the kernel's uptime), as the record's times are."""
        return float(_router.exec_in(self.client, ["sh", "-c", "cut -d' ' -f1 /proc/uptime"])[1].split()[0])

    def stop(self) -> None:
        _router.exec_in(self.client, ["sh", "-c", f": > {self.stop_file}"], check=False)
        time.sleep(self.bound + 0.5)  # the last requests end within their bound

    def read(self) -> list[tuple[int, float, float, bool]]:
        """The record: (number, sent, done, answered), the client's clock (seconds), in the order sent."""
        code, out = _router.exec_in(self.client, ["cat", self.record], check=False)
        rows = []
        for line in out.splitlines() if code == 0 else []:
            parts = line.split()
            if len(parts) == 4 and parts[3] in ("ok", "fail"):
                try:
                    rows.append((int(parts[0]), float(parts[1]), float(parts[2]), parts[3] == "ok"))
                except ValueError:
                    continue
        return sorted(rows, key=lambda r: r[1])

    def sent_since(self, t: float) -> int:
        """How many requests were sent at ``t`` (the client's clock) or later, and have ended."""
        return sum(sent >= t for _, sent, _, _ in self.read())

    def steps(self) -> list[_hood.Step]:
        started = f"( {self.loop} ) >/dev/null 2>&1 &"
        return [_hood.Step(shlex.join(["docker", "exec", self.client, "sh", "-c", started]),
                           f"meanwhile, from the client: a request every {self.every:g} s, each given "
                           f"{self.bound:g} s, answered or not: the next one does not wait"),
                _hood.Step(shlex.join(["docker", "exec", self.client, "cat", self.record]),
                           "the client's record: number, sent, done (seconds of uptime), ok or fail")]


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

    before_hops = _settled(hops, ip)
    victim = node or before_hops[-1]
    if victim not in before_hops:
        raise BadInput(f"{victim} does not advertise {ip} (next hops: {before_hops}): pick one of them")
    if p.roles.get(victim) == "control-plane":
        raise BadInput(f"{victim} is the control plane: freezing it stops the whole cluster; pick a worker")

    def neighbour() -> dict:
        info = json.loads(_router.vtysh(router.name, f"show bgp neighbors {addr_of[victim]} json") or "{}")
        return info.get(addr_of[victim], {})

    timeline: list[dict] = []
    probes = ClientProbes(client.name, f"http://{ip}/")
    probes.start()
    for _ in ticks(PROBES_WITHIN, every=LOOK_EVERY):  # the interval before the act, measured
        if len(probes.read()) >= PROBES_BEFORE:
            break
    withdrawn = back = None
    reason = ""
    clean = time.monotonic()
    dropped = neighbour().get("connectionsDropped", 0)
    act_at = probes.now()  # the act's moment on the client's clock
    t0 = time.monotonic()
    try:
        try:
            act(victim)
            withdrawn = _time_withdrawal(hops, neighbour, dropped, clean, victim, t0, timeout, timeline)
            info = neighbour()
            keys = ("lastResetDueTo", "lastNotificationReason", "lastErrorCodeSubcode")
            reason = "; ".join(str(info[k]) for k in keys if info.get(k))
            if withdrawn is not None:  # a few requests sent once withdrawn, answered or not
                for _ in ticks(PROBES_WITHIN, every=LOOK_EVERY):
                    if probes.sent_since(act_at + withdrawn) >= PROBES_AFTER:
                        break
        finally:
            undo(victim)
        back = _time_return(hops, victim, t0, back_timeout, timeline)
    finally:
        probes.stop()
    if withdrawn is None:
        raise WaitTimeout(f"{case}: the router still had {victim}'s next hop for {ip} after {timeout:g} s: "
                          f"raise the timeout above the hold time ({p.core.hold_time} s)")
    record = probes.read()
    requests = [(round(sent - act_at, 2), ok) for _, sent, _, ok in record]
    before = [sent for _, sent, _, _ in record if sent < act_at]
    interval = round((before[-1] - before[0]) / (len(before) - 1), 2) if len(before) > 1 else PROBE_EVERY
    tl = pd.DataFrame(timeline)
    hood = _hood.Hood(f"{case}: time the withdrawal of {victim}", steps + [
        _hood.Step(f"while sleep 0.2; do date +%T.%N; {exec_line(router.name, f'ip route show {ip}')}; done",
                   "watch the router's route lose, then regain, the node's next hop")] + probes.steps())
    return Withdrawal(case, victim, before_hops, withdrawn, back, p.core.hold_time, requests, interval,
                      probes.record, reason, tl, hood)


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
    """Each withdrawal on a time line: every request the client sent (answered, or failed after its bound), the
    time the router kept the node's next hop, the hold time, and any gap in the requests."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 1, figsize=(9, 1.9 * len(results) + 0.8), squeeze=False)
    for ax, r in zip(axes[:, 0], results):
        ok = [t for t, good in r.requests if good]
        bad = r.failed
        if r.withdrawn_after is not None:
            ax.axvspan(0, r.withdrawn_after, color="tab:red", alpha=0.08,
                       label=f"router still routes to {r.node} ({r.withdrawn_after} s)")
        if r.case == "node frozen":
            ax.axvline(r.hold_time, color="tab:purple", linestyle=":", label=f"hold time ({r.hold_time} s)")
        ax.scatter(ok, [1] * len(ok), marker="|", s=200, color="tab:green", label=f"answered ({len(ok)})")
        ax.scatter(bad, [1] * len(bad), marker="x", color="tab:red",
                   label=f"failed: no answer within {PROBE_TIMEOUT:g} s ({len(bad)})")
        sent = sorted(t for t, _ in r.requests)
        for a, b in zip(sent, sent[1:]):
            if b - a > GAP_FACTOR * r.interval:
                ax.axvspan(a, b, color="tab:gray", alpha=0.3, label=f"no request sent ({b - a:.1f} s)")
        if r.back_after is not None:
            ax.axvline(r.back_after, color="tab:gray", linestyle="--", label=f"route back ({r.back_after} s)")
        ax.set_yticks([])
        ax.set_title(f"{r.case}: {r.node} — {len(bad)} of {len(r.requests)} requests failed", fontsize=10)
        handles, labels = ax.get_legend_handles_labels()
        seen = dict(zip(labels, handles))
        ax.legend(seen.values(), seen.keys(), loc="upper right", fontsize=7, ncol=2)
    axes[-1, 0].set_xlabel("seconds since the speaker was deleted / the node was frozen")
    fig.suptitle(f"Withdrawal: a request every {results[0].interval:g} s from the client, and how long the router "
                 "kept sending some to the lost node", fontsize=11)
    fig.tight_layout()
    plt.close(fig)
    return fig


def withdrawals(*results: Withdrawal) -> pd.DataFrame:
    """The withdrawals' summaries, one row each."""
    return pd.DataFrame([r.summary() for r in results])

