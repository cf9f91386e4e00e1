"""What a layer-2 failover measured, and how it is shown: the :class:`Failover` record, its table, its
figure on one time axis, and the comparison of failure modes beside what MetalLB's docs say.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

from ..._core import hood as _hood

#: MetalLB's documented behaviour on failover, in our words (shown beside the measured time).
DOCUMENTED = ("Speakers watch each other with memberlist. When the announcing node (or its speaker) goes away, "
              "the remaining speakers agree on a new owner for the IP; that speaker sends gratuitous ARP so "
              "that clients update their ARP caches. MetalLB's docs say this usually takes a few seconds; a "
              "client that ignores gratuitous ARP keeps the old MAC until its cache entry expires.")
#: The upper bound any failover measurement may take (seconds).
FAILOVER_LIMIT = 90

#: The two ways 06 takes the announcer away, in a sentence each.
FAILOVER_MODES = {
    "speaker": "the announcing node's speaker pod is deleted (kubectl delete pod): the node itself keeps running",
    "node": "the announcing node's container is paused (docker pause): the whole node stops answering, as if it "
            "had lost power; afterwards it is unpaused",
}
#: What MetalLB's documentation (concepts/layer2, v0.16.1) and source say about each, beside the measurement.
EXPECTED = {
    "speaker": ("A deleted pod gets SIGTERM and its speaker leaves memberlist on its way out (Leave, within the pod's "
                "2 s grace period), so the other speakers elect a new owner at once. The old node keeps forwarding "
                "traffic that still arrives for the IP, so clients see no gap: this is what MetalLB's docs call a "
                "planned failover (\"keep the old leader node up for a couple of minutes\")."),
    "node": ("A node that dies does not say goodbye: memberlist must notice that it stops answering probes "
             "(one a second, then a suspicion timeout) before the others elect a new owner, which then sends "
             "gratuitous ARP. MetalLB's docs: clients that handle gratuitous ARP fail over \"within a few "
             "seconds\"; \"more than about 10s\" is worth a bug report; until then the IP is unreachable."),
}


@dataclass
class Failover:
    """What happened after the announcer was taken away (``mode``), measured; the requests and the ARP
    packets seen meanwhile are in ``timeline`` and ``arp`` (seconds after the failure)."""

    ip: str
    mode: str
    before: str
    after: str
    mac_before: str | None
    mac_after: str | None
    announced_after: float
    garp_after: float | None
    answered_after: float
    #: how many of :attr:`until_answered` went unanswered (derived from ``timeline``)
    failed_requests: int = field(init=False)
    unanswered_seconds: float
    healthy_after: float
    back_to: str | None
    timeline: pd.DataFrame = field(repr=False)
    arp: pd.DataFrame | None = field(repr=False)
    capture: str = ""
    hood: _hood.Hood | None = field(default=None, repr=False)
    client_uses: str | None = None
    pods_on_failed: tuple[int, int] = (0, 0)
    #: the node whose MAC the first answer counted came through: ``after``, or the node the IP moved on to
    #: before the client ever used ``after`` (see ``failovers._answer_through_announcer``)
    answered_via: str | None = None
    #: the Service's other addresses (``also``): per address, ``answered_after`` (s) and its ``timeline``
    others: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.failed_requests = int((~self.until_answered["answered"]).sum())

    @property
    def until_answered(self) -> pd.DataFrame:
        """The requests sent from the failure until the first answer through a node announcing the IP."""
        t = self.timeline
        return t[t["seconds"].between(0, self.answered_after)]

    @property
    def moved_at(self) -> float:
        """When the client moved (seconds after the failure): its first request that went to another MAC than
        ``mac_before``. The wire moves first: the cluster may record the new announcer a read or two later."""
        t = self.timeline
        other = t[(t["seconds"] >= 0) & t["MAC for the IP"].fillna("").astype(bool)
                  & (t["MAC for the IP"] != self.mac_before)]
        return min([self.answered_after, *other["seconds"].head(1)])

    @property
    def sent_before_move(self) -> pd.DataFrame:
        """The requests sent after the failure and before the client moved to another MAC, answered or not."""
        t = self.timeline
        return t[(t["seconds"] >= 0) & (t["seconds"] < self.moved_at)]

    @property
    def answered_before_move(self) -> pd.DataFrame:
        """The requests answered after the failure and before the client moved to another MAC: all went
        through the old node's MAC (for a paused node, its kernel still forwarding)."""
        sent = self.sent_before_move
        return sent[sent["answered"]]

    @property
    def through(self) -> str:
        """Which node the counted answer came through, in words."""
        if self.answered_via in (None, self.after):
            return "the new node"
        return (f"{self.answered_via}, which announced it again by then ({self.after}'s turn ended before a "
                "request of this client went through it)")

    def summary(self) -> pd.DataFrame:
        """The measurement, row by row."""
        garp = "not captured" if self.arp is None else (
            "none seen" if self.garp_after is None else f"{self.garp_after:.1f} s")
        n_garp = 0 if self.arp is None else int((self.arp["gratuitous"] & (self.arp["node"] == self.after)
                                                 & (self.arp["seconds"] >= 0)).sum())
        return pd.DataFrame([
            ("announcing node", self.before, self.after),
            ("MAC for the IP", self.mac_before, self.mac_after),
            ("new announcer seen in the cluster after", "", f"{self.announced_after:.1f} s"),
            ("first gratuitous ARP from the new MAC after", "", garp),
            ("gratuitous ARP packets from the new MAC", "", str(n_garp) if self.arp is not None else "not captured"),
            (f"IP answered through {self.through} after", "", f"{self.answered_after:.1f} s"),
            ("requests that failed meanwhile", "", str(self.failed_requests)),
            ("the host moved to another MAC after", "", f"{self.moved_at:.1f} s"),
            ("requests answered before that, through the old MAC (of those sent)", "",
             f"{len(self.answered_before_move)} of {len(self.sent_before_move)}"),
            ("longest time without an answer", "", f"{self.unanswered_seconds:.1f} s"),
            ("app pods on the failed node (of all)", f"{self.pods_on_failed[0]} of {self.pods_on_failed[1]}", ""),
            ("all nodes and speakers Ready, IP answering, after", "", f"{self.healthy_after:.1f} s"),
            ("announcer once everything is back (MetalLB)", "", str(self.back_to)),
            ("node the client then sends to (its neighbour entry)", "", str(self.client_uses)),
        ], columns=["", "before", "after"])

    def values(self) -> dict:
        """The measurement as plain values (for a notebook's ``result``)."""
        garp_macs = [] if self.arp is None else sorted(set(
            self.arp.loc[self.arp["gratuitous"] & (self.arp["seconds"] >= 0), "sender MAC"]))
        return {"mode": self.mode, "from": self.before, "to": self.after, "mac_before": self.mac_before,
                "mac_after": self.mac_after, "announced": self.announced_after, "garp": self.garp_after,
                "answered": self.answered_after, "failed": self.failed_requests, "gap": self.unanswered_seconds,
                "healthy": self.healthy_after, "back_to": self.back_to, "client_uses": self.client_uses,
                "pods_on_failed": list(self.pods_on_failed), "garp_macs": garp_macs,
                "capture": self.arp.attrs.get("via") if self.arp is not None else None,
                "answered_via": self.answered_via,
                "sent": len(self.until_answered),
                "moved": round(self.moved_at, 1), "sent_before_move": len(self.sent_before_move),
                "answered_before_move": len(self.answered_before_move)}

    def _repr_html_(self) -> str:
        how = html.escape(FAILOVER_MODES[self.mode])
        return (f"<div><b>Failover: {how}.</b> <b>{html.escape(self.before)}</b> &rarr; <b>{html.escape(self.after)}"
                f"</b>; <code>{self.ip}</code> answered through {html.escape(self.through)} after "
                f"<b>{self.answered_after:.1f} s"
                f"</b> (bound {FAILOVER_LIMIT} s).</div>" + self.summary().to_html(index=False)
                + (f"<p><i>ARP capture:</i> {html.escape(self.capture)}</p>" if self.capture else "")
                + f"<p><i>What to expect:</i> {html.escape(EXPECTED[self.mode])}</p>"
                + (self.hood._repr_html_() if self.hood else ""))


def failover_figure(moved: Failover):
    """The failover on one time axis, seconds after the failure: each request (answered or not) coloured by
    the node whose MAC the client used for it, and each ARP packet from the IP coloured by its sender."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    tl, arp = moved.timeline, moved.arp
    nodes = sorted(set(tl["node with that MAC"].dropna()) | (set(arp["node"].dropna()) if arp is not None else set())
                   | {moved.before, moved.after})
    colour = dict(zip(nodes, ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df"]))
    grey = "#8c959f"
    fig, ax = plt.subplots(figsize=(11, 3.4))
    ok, bad = tl[tl["answered"]], tl[~tl["answered"]]
    ax.scatter(ok["seconds"], [1] * len(ok), c=[colour.get(n, grey) for n in ok["node with that MAC"]], marker="o",
               s=22)
    ax.scatter(bad["seconds"], [1] * len(bad), c=[colour.get(n, grey) for n in bad["node with that MAC"]], marker="x",
               s=40, linewidths=1.6)
    if arp is not None and len(arp):
        ax.scatter(arp["seconds"], [0] * len(arp), c=[colour.get(n, grey) for n in arp["node"]], marker="|", s=400)
    via_new = moved.answered_via in (None, moved.after)
    marks = [(0, "failure"), (moved.announced_after, "new announcer"),
             (moved.answered_after, "answered via new node" if via_new else f"answered via {moved.answered_via}")]
    if moved.garp_after is not None:
        marks.append((moved.garp_after, "first gratuitous ARP"))
    right = max([*tl["seconds"], *(arp["seconds"] if arp is not None else []), moved.answered_after, 1.0])
    for i, (x, text) in enumerate(sorted(marks)):
        ax.axvline(x, color="#57606a", ls="--", lw=0.8)
        late = x > 0.7 * right
        ax.annotate(text, (x, 1.55 + 0.28 * (i % 3)), fontsize=7, ha="right" if late else "left",
                    xytext=(-2 if late else 2, 0), textcoords="offset points")
    legend = [Line2D([], [], marker="o", ls="", color="#57606a", label="request answered"),
              Line2D([], [], marker="x", ls="", color="#57606a", label="request not answered (1 s)"),
              Line2D([], [], marker="|", ls="", color="#57606a", markersize=12, label="ARP packet from the IP")]
    legend += [Line2D([], [], color=c, lw=6, label=f"{n}{' (failed)' if n == moved.before else ''}")
               for n, c in colour.items()]
    ax.legend(handles=legend, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              title="colour: the node whose MAC\nthe client used / that sent it", title_fontsize=7)
    ax.set_yticks([0, 1], ["ARP on the bridge", "requests to the IP"])
    ax.set_ylim(-0.6, 2.5)
    ax.set_xlabel("seconds after the failure")
    what = "speaker pod deleted" if moved.mode == "speaker" else "node paused"
    ax.set_title(f"{moved.ip}: {what} on {moved.before}; {moved.after} took over; answered through "
                 f"{'it' if via_new else moved.answered_via} after {moved.answered_after:.1f} s", fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


def compare_failovers(*runs: Failover) -> pd.DataFrame:
    """One column per failure mode: the measured times beside what MetalLB's docs lead one to expect (the first
    column names each row)."""
    rows = {}
    for r in runs:
        rows[r.mode] = {
            "how": FAILOVER_MODES[r.mode],
            "new announcer after (s)": r.announced_after,
            "first gratuitous ARP after (s)": r.garp_after,
            "answered through the new node after (s)": (
                r.answered_after if r.answered_via in (None, r.after) else
                f"{r.answered_after} (through {r.answered_via}: {r.after}'s turn ended before a request went "
                "through it)"),
            "longest time without an answer (s)": r.unanswered_seconds,
            "requests that failed": r.failed_requests,
            "what MetalLB's docs and source say": EXPECTED[r.mode],
        }
    return pd.DataFrame(rows).rename_axis("").reset_index()  # the row names as a column: kh.show shows it whole
