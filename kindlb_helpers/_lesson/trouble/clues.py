"""The evidence for one case, before any verdict: what MetalLB's troubleshooting guide reads.

The same boxes for every case (so that which ones appear gives nothing away), each as the command and what it
printed:

- ``kubectl describe service`` (its Events are this incarnation's: describe filters by uid);
- the Service's EndpointSlices and the pods its selector matches;
- MetalLB's pods, its configuration (the pools and L2Advertisements, or the ConfigMap era's ConfigMap) and its
  status resources where the release has them (ServiceL2Status since v0.14.6, ConfigurationState since
  v0.15.3: release facts l2status, configuration_state);
- the nodes with ``--show-labels``, as kubectl prints them (an empty-valued label shows as ``key=``);
- the controller's and the speakers' log lines of this case's time window (``--since-time``: from the moment
  the case began) that name this Service or its address, and MetalLB's errors of that window apart;
- whether the address answers ping and TCP, from a container on the kind network.
"""
from __future__ import annotations

import datetime as _dt
import html
import re
import shlex
from dataclasses import dataclass, field

from ..._cluster.kube import Kind, get_or_none
from ..._core import hood as _hood
from ..._core.errors import KindlbError
from ..._core.manifests import NAMESPACE
from ..render import PRE
from .failures import applies, case_number, installed, ip_of, not_here, service_of
from .staging import Case

#: A pod's log lines shown at most (the latest); the rest are counted.
LOG_LINES = 40


@dataclass
class Evidence:
    """What a person reads first: each command, as typed, and what it printed."""

    service: str
    sections: list[tuple[str, str]] = field(default_factory=list)   # (command, output)
    skipped: str = ""

    def output(self, start: str) -> str | None:
        """What the first command starting with ``start`` (after ``kubectl --context ...``) printed."""
        for cmd, out in self.sections:
            if _short(cmd).startswith(start):
                return out
        return None

    def __repr__(self) -> str:
        if self.skipped:
            return self.skipped
        return "\n\n".join(f"{_prompted(cmd)}\n{out}" for cmd, out in self.sections)

    def _repr_html_(self) -> str:
        if self.skipped:
            return f"<div>{html.escape(self.skipped)}</div>"

        def block(cmd: str, text: str) -> str:
            return (f"<details open><summary><code>{html.escape(_prompted(cmd)).replace(chr(10), '<br>')}</code>"
                    "</summary>"
                    f"<pre style='{PRE};max-height:24em;overflow:auto'>{html.escape(text)}</pre></details>")

        return (f"<div><b>Evidence</b> for Service <code>{html.escape(self.service)}</code> (the commands, as you "
                "would type them, and what they printed)</div>" + "".join(block(c, t) for c, t in self.sections))


def _prompted(cmd: str) -> str:
    """A shown command as a terminal shows it: every line of it after a ``$`` prompt (the probe's is two: start the
    box, then run in it)."""
    return "\n".join(f"$ {line}" for line in _short(cmd).splitlines())


def _short(cmd: str) -> str:
    """A shown command without ``--context kind-NAME`` (the notebook's cluster; the hood texts carry it)."""
    return re.sub(r" --context \S+", "", cmd, count=1)


def _get(kind: Kind, *args: str, namespace: str | None = None, empty: str = "") -> tuple[str, str]:
    """(the command line, what kubectl printed: stdout, else its one-line complaint, else ``empty``)."""
    ns = ["-n", namespace] if namespace else []
    out = kind.kubectl(*ns, *args, check=False).rstrip()
    if not out.strip():
        where = namespace or "default"
        out = empty or f"No resources found in {where} namespace."
    return _hood.kubectl(kind.cluster, *args, namespace=namespace), out


def _window_lines(kind: Kind, selector: str, since: str, needles: list[str]) -> tuple[str, str]:
    """The log lines since ``since`` of the pods ``selector`` picks that contain one of ``needles``: the command
    a person would type (``kubectl logs -l ... --since-time ... | grep -F ...``) and its output."""
    extra = ["-c", "speaker"] if selector == "component=speaker" else []
    args = ["logs", "-l", selector, *extra, "--prefix", "--tail=-1", f"--since-time={since}"]
    grep = "grep -F " + " ".join(f"-e {shlex.quote(n)}" for n in needles)
    cmd = _hood.kubectl(kind.cluster, *args, namespace=NAMESPACE) + " | " + grep
    pods = kind.core.list_namespaced_pod(NAMESPACE, label_selector=selector).items
    if not pods:
        return cmd, f"No resources found in {NAMESPACE} namespace. (no pod: no log)"
    log = kind.kubectl("-n", NAMESPACE, *args, "--max-log-requests=20", check=False, timeout=60)
    hits = [ln for ln in log.splitlines() if any(n in ln for n in needles)]
    if len(hits) > LOG_LINES:
        hits = [f"({len(hits) - LOG_LINES} earlier lines not shown)"] + hits[-LOG_LINES:]
    return cmd, "\n".join(hits) or "(no line)"


def evidence(kind: Kind, case: Case | int, probe_image: str | None = None) -> Evidence:
    """The evidence for ``case`` (the :class:`Case` that :func:`cause` returned, or its number) on its Service,
    before any verdict."""
    n = case.number if isinstance(case, Case) else case_number(case)
    service = service_of(n)
    if not applies(kind, n):
        return Evidence(service, skipped=not_here(kind, n))
    svc = get_or_none(kind.core.read_namespaced_service, service, "default")
    if svc is None:
        raise KindlbError(f"there is no Service {service}: run case {n}'s first cell (the one that changes "
                          "something) first")
    here = installed(kind)
    began = case.since if isinstance(case, Case) else svc.metadata.creation_timestamp
    since = began.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ip = ip_of(svc)
    sections = [(_hood.kubectl(kind.cluster, "describe", "service", service),
                 kind.kubectl("describe", "service", service, check=False).rstrip())]
    sections.append(_get(kind, "get", "endpointslices", "-l", f"kubernetes.io/service-name={service}"))
    selector = ",".join(f"{k}={v}" for k, v in (svc.spec.selector or {}).items())
    if selector:
        sections.append(_get(kind, "get", "pods", "-l", selector, "-o", "wide"))
    sections.append(_get(kind, "get", "pods", "-o", "wide", namespace=NAMESPACE))
    if here is not None and here.uses_crds:
        sections.append(_get(kind, "get", "ipaddresspools", namespace=NAMESPACE))
        sections.append(_get(kind, "get", "l2advertisements", namespace=NAMESPACE))
        if here.holds("l2status"):
            sections.append(_get(kind, "get", "servicel2statuses", "-l", f"metallb.io/service-name={service}", "-o",
                                 "custom-columns=NAME:.metadata.name,NODE:.status.node,SERVICE:.status.serviceName",
                                 namespace=NAMESPACE))
        if here.holds("configuration_state"):
            sections.append(_get(kind, "get", "configurationstates", namespace=NAMESPACE))
    else:
        cmd, out = _get(kind, "get", "configmap", "config", "-o", "yaml", namespace=NAMESPACE)
        if out.startswith("No resources found"):
            out = 'Error from server (NotFound): configmaps "config" not found'
        sections.append((cmd, out))
    sections.append(_get(kind, "get", "nodes", "--show-labels"))
    needles = [f"default/{service}"] + ([f'"{ip}"'] if ip else [])  # its name, its address: its lines only
    sections.append(_window_lines(kind, "component=controller", since, needles))
    sections.append(_window_lines(kind, "component=speaker", since, needles))
    # MetalLB's errors of this case's window, whatever they name (a configuration it rejects names no Service)
    sections.append(_window_lines(kind, "app=metallb", since, ['"level":"error"']))
    if ip:
        sections.append(ping_and_tcp(ip, probe_image, cluster=kind.cluster))
    else:
        sections.append(("ping -c 3 -W 1 <EXTERNAL-IP>; wget -q -O - http://<EXTERNAL-IP>/",
                         f"(nothing to ask: {service} has no external address)"))
    return Evidence(service, sections)


def ping_and_tcp(ip: str, image: str | None = None, cluster: str | None = None) -> tuple[str, str]:
    """ping (ICMP echo) and a TCP GET to ``ip``, from a container on the kind network (CLUSTER's probe container,
    which first forgets its entry for ``ip`` as a new container would; a throwaway one when no cluster is named),
    and the container's neighbour (ARP) table afterwards: (the commands, what it printed)."""
    from ..._cluster.containers import probe_name, probe_run
    from ..._cluster.sources import resolve
    from ..l2.neigh import forget_line

    image = resolve("probe", image).value  # yours, else a loaded bundle's, the offline lab's, the online one
    # (no wget -T: the offline lab's static busybox crashes with it; the container's bound is the limit)
    forget = f"{forget_line(ip)}; " if cluster else ""  # as a new container would ask ARP afresh
    script = (f"{forget}ping -c 3 -W 1 {ip}; echo \"ping exit $?\"; "
              f"wget -q -O /tmp/page.$$ http://{ip}/; echo \"wget exit $?\"; echo kindlb-page; "
              "cat /tmp/page.$$ 2>/dev/null; busybox rm -f /tmp/page.$$; echo kindlb-arp; cat /proc/net/arp")
    code, out, err, steps = probe_run(script, cluster=cluster, image=image, timeout=60)
    head, _, rest = out.partition("kindlb-page")
    page, _, arp = rest.partition("kindlb-arp")
    title = re.search(r"<title>(.*?)</title>", page, re.S | re.I)
    shown_script = shlex.quote(f"{forget}ping -c 3 -W 1 {ip}; echo ping exit $?; wget -q -O - http://{ip}/; "
                               "echo wget exit $?; cat /proc/net/arp")
    cmd = (f"{steps[0].command}\ndocker exec {probe_name(cluster)} sh -c {shown_script}" if cluster else
           f"docker run --rm --network kind {image} sh -c {shown_script}")
    shown = (f"{head.strip()}\npage title: {title.group(1).strip() if title else '(none)'}\n"
             f"neighbour table:\n{arp.strip()}")
    return cmd, shown + (f"\n{err.strip()}" if err.strip() else "")
