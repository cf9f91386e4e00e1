"""Notebook 08 on the learner's path, both MetalLB eras: cell by cell, the guess cells skipped, each case judged from
its evidence alone.

For every case the test reads what the evidence cell showed (the commands and what they printed) and names the
cause with its own reading of kubectl's text (:func:`cause_from`), never with the library's diagnosis. It reads
the cluster itself with raw kubectl the same way, so the evidence shown must match the cluster. Then:

- the case's first cell says only that something changed (no command in sight);
- the evidence alone names the staged cause: a case is *diagnosable* when :func:`cause_from` on the evidence shown
  names it (the count is printed, per era, and must be every case the era has);
- the log lines shown are this Service's (its name, its address, or an error) and of this case's time window;
- the labels are shown so that an empty-valued one is visible;
- the diagnosis, opened after, names the same cause and never names an event the evidence does not show;
- afterwards the cluster is healthy and nothing ``ts-*`` is left.

``drive_08(nb, name, version)`` runs 08's cells on a driven notebook (tests/_driver.py) and returns the report;
``assert_08(report)`` asserts it. The series calls them on its own run of 08; this module runs them alone on a
cluster set up as notebooks 02-04 leave it (``KINDLB_LESSON_07_08=1``, as test_lesson_07_08).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import time

import pytest

import kindlb_helpers as kh

from _cluster_tier import ARTIFACTS, eras
from _driver import LearnerSaw, Notebook

EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"
#: Case n of notebook 08 -> the cause staged, per era ("crds": v0.13+, "configmap": v0.12.1); None: not in that era.
STAGED = {
    1: {"crds": "no pool", "configmap": "config kept"},
    2: {"crds": "no L2Advertisement", "configmap": None},
    3: {"crds": "pool exhausted", "configmap": "pool exhausted"},
    4: {"crds": "speakers not ready", "configmap": "speakers not ready"},
    5: {"crds": "no endpoints", "configmap": "no endpoints"},
    6: {"crds": "Local without announcer", "configmap": "Local without announcer"},
    7: {"crds": "excluded nodes", "configmap": "label ignored"},
    8: {"crds": "ping vs TCP", "configmap": "ping vs TCP"},
}
#: What the library's diagnosis must name first for each cause (a working Service is "healthy").
DIAGNOSIS_KEY = {"ping vs TCP": "healthy"}
REASONS = ("IPAllocated", "AllocationFailed", "nodeAssigned", "ClearAssignment")


# ---------------------------------------------------------------- reading kubectl's text (the test's own)

def at_least(version: str, *release: int) -> bool:
    """Whether MetalLB ``version`` ("v0.16.1") is ``release`` or later."""
    return tuple(int(x) for x in version.lstrip("v").split(".")[:3]) >= release


def sections_of(text: str) -> dict[str, str]:
    """A transcript ``$ command\\noutput\\n\\n$ command...`` -> {command: output}."""
    out: dict[str, str] = {}
    cmd = None
    for line in text.splitlines():
        if line.startswith("$ "):
            cmd = line[2:].strip()
            out[cmd] = ""
        elif cmd is not None:
            out[cmd] += line + "\n"
    return {c: o.strip("\n") for c, o in out.items()}


def pick(sections: dict[str, str], start: str) -> str | None:
    for cmd, out in sections.items():
        if re.sub(r" --context \S+", "", cmd).startswith(start):
            return out
    return None


def describe_facts(text: str) -> dict:
    """From ``kubectl describe service``: the external IP, the policy, the selector, the events (reason, message)."""
    def field(name: str) -> str:
        m = re.search(rf"^{re.escape(name)}:[ \t]*(.*)$", text, re.M)
        return m.group(1).strip() if m else ""

    ingress = re.search(r"(\d+\.\d+\.\d+\.\d+)", field("LoadBalancer Ingress"))
    events = []
    if "Events:" in text:
        tail = text.split("Events:", 1)[1]
        for line in tail.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] in ("Normal", "Warning"):
                events.append((parts[1], line))
    return {"ip": ingress.group(1) if ingress else None, "policy": field("External Traffic Policy"),
            "selector": field("Selector"), "events": events, "no_events": bool(re.search(r"^Events:\s*<none>", text,
                                                                                             re.M))}


def table(text: str | None) -> list[dict[str, str]]:
    """The rows of a kubectl table as {column: value}, by the header's column positions (kubectl aligns its
    columns; a value such as "1 (5m ago)" holds spaces); [] for 'No resources found' or an error."""
    if not text or text.startswith(("No resources found", "Error from server")):
        return []
    lines = [ln for ln in text.splitlines() if ln.strip()]
    heads = [(m.start(), m.group(0)) for m in re.finditer(r"\S+(?: \S+)*", lines[0])]
    rows = []
    for line in lines[1:]:
        row = {}
        for i, (start, name) in enumerate(heads):
            end = heads[i + 1][0] if i + 1 < len(heads) else None
            row[name] = line[start:end].strip()
        rows.append(row)
    return rows


def _ready(row: dict) -> bool:
    have, _, want = row.get("READY", "0/1").partition("/")
    return row.get("STATUS") == "Running" and have == want


def ready_speaker_nodes(pods: str | None) -> set[str]:
    """Nodes with a Running speaker whose containers are all ready (``kubectl get pods -o wide``)."""
    return {r["NODE"] for r in table(pods) if r["NAME"].startswith("speaker-") and _ready(r)}


def labels_by_node(text: str | None) -> dict[str, dict[str, str]]:
    """``kubectl get nodes --show-labels`` -> {node: {key: value}} (an empty value stays visible as "")."""
    return {r["NAME"]: dict(kv.partition("=")[::2] for kv in r["LABELS"].split(",")) for r in table(text)}


def pod_nodes(text: str | None) -> list[str]:
    """Nodes of the ready pods in ``kubectl get pods -o wide``."""
    return [r["NODE"] for r in table(text) if _ready(r)]


def cause_from(sections: dict[str, str], version: str) -> str:
    """The cause, named from kubectl's text alone (describe, endpoints, MetalLB's pods and configuration, the
    nodes' labels, ping/TCP), as a person who knows MetalLB would read it."""
    crds = at_least(version, 0, 13, 0)
    honours = at_least(version, 0, 14, 2)
    d = describe_facts(pick(sections, "kubectl describe service") or "")
    reasons = {r for r, _ in d["events"]}
    if crds:
        if not table(pick(sections, "kubectl -n metallb-system get ipaddresspools")):
            return "no pool"
    else:
        cm = pick(sections, "kubectl -n metallb-system get configmap config") or ""
        if "NotFound" in cm or "address-pools" not in cm:
            return "config kept" if d["ip"] else "no pool"
    if not d["ip"]:
        failed = [line for r, line in d["events"] if r == "AllocationFailed"]
        return "pool exhausted" if any("no available IPs" in line for line in failed) else "no address, cause unseen"
    speakers = ready_speaker_nodes(pick(sections, "kubectl -n metallb-system get pods"))
    if not speakers:
        return "speakers not ready"
    if crds and not table(pick(sections, "kubectl -n metallb-system get l2advertisements")):
        return "no L2Advertisement"
    pods = pod_nodes(pick(sections, "kubectl get pods -l"))
    if not pods:
        return "no endpoints"
    labels = labels_by_node(pick(sections, "kubectl get nodes --show-labels"))
    excluded = {n for n, ls in labels.items() if EXCLUDE in ls}
    eligible = speakers - (excluded if honours else set())
    if d["policy"] == "Local" and not set(pods) & eligible:
        return "Local without announcer"
    if not eligible:
        return "excluded nodes"
    workers = {n for n, ls in labels.items() if "node-role.kubernetes.io/control-plane" not in ls}
    if not honours and workers and workers <= excluded and "nodeAssigned" in reasons:
        return "label ignored"
    probe = next((o for c, o in sections.items() if "ping -c" in c), "")
    if "wget exit 0" in probe and "ping exit 0" not in probe and "nodeAssigned" in reasons:
        return "ping vs TCP"
    return "healthy" if "wget exit 0" in probe else "answers nothing, cause unseen"


# ---------------------------------------------------------------- the cluster, read raw by the test

def kubectl(name: str, *args: str) -> str:
    """kubectl on the kind context of cluster ``name``: stdout, else stderr (as a terminal shows it)."""
    res = subprocess.run(["kubectl", "--context", f"kind-{name}", *args], capture_output=True, text=True, timeout=60,
                         check=False)
    return (res.stdout or res.stderr).strip()


def raw_sections(name: str, service: str, version: str, probe_image: str | None) -> dict[str, str]:
    """The same kinds of reading, made by the test itself with kubectl (and a probe container for ping/TCP)."""
    crds = at_least(version, 0, 13, 0)
    s = {"kubectl describe service": kubectl(name, "describe", "service", service)}
    sel = kubectl(name, "get", "service", service, "-o", "jsonpath={.spec.selector}")
    selector = ",".join(f"{k}={v}" for k, v in (json.loads(sel) if sel.startswith("{") else {}).items())
    s["kubectl get pods -l"] = kubectl(name, "get", "pods", "-l", selector, "-o", "wide") if selector else ""
    s["kubectl -n metallb-system get pods"] = kubectl(name, "-n", "metallb-system", "get", "pods", "-o", "wide")
    if crds:
        for kind_ in ("ipaddresspools", "l2advertisements"):
            s[f"kubectl -n metallb-system get {kind_}"] = kubectl(name, "-n", "metallb-system", "get", kind_)
    else:
        s["kubectl -n metallb-system get configmap config"] = kubectl(name, "-n", "metallb-system", "get",
                                                                      "configmap", "config", "-o", "yaml")
    s["kubectl get nodes --show-labels"] = kubectl(name, "get", "nodes", "--show-labels")
    ip = describe_facts(s["kubectl describe service"])["ip"]
    if ip and probe_image:
        res = subprocess.run(["docker", "run", "--rm", "--network", "kind", probe_image, "sh", "-c",
                              f"ping -c 3 -W 1 {ip} >/dev/null; echo ping exit $?; "
                              f"wget -q -O /dev/null http://{ip}/; echo wget exit $?"],
                             capture_output=True, text=True, timeout=90, check=False)
        s["ping -c 3 (the test's own probe)"] = res.stdout
    return s


# ---------------------------------------------------------------- checks of what the learner saw

LOG_TS = re.compile(r'"ts":"([^"]+)"')


def _when(stamp: str) -> dt.datetime:
    """A MetalLB log line's ts (RFC 3339, nanoseconds) as an aware datetime."""
    stamp = stamp.replace("Z", "+00:00")
    m = re.match(r"(.*?\.\d{1,6})\d*(\+.*)$", stamp)
    return dt.datetime.fromisoformat(m.group(1) + m.group(2) if m else stamp)


def foreign_log_lines(sections: dict[str, str], service: str, ip: str | None, began: float) -> list[str]:
    """Log lines shown in the evidence that are not this Service's or not of this case's window."""
    bad = []
    for cmd, out in sections.items():
        if " logs " not in f" {cmd} ":
            continue
        errors_box = "'\"level\":\"error\"'" in cmd  # MetalLB's errors of the window, apart
        for line in out.splitlines():
            if not line.startswith("[pod/"):
                continue
            ours = ('"level":"error"' in line if errors_box else
                    f"default/{service}" in line or bool(ip and f'"{ip}"' in line))
            m = LOG_TS.search(line)
            early = m is not None and _when(m.group(1)).timestamp() < int(began)
            if not ours or early:
                bad.append(line[:300])
    return bad


def named_reasons(diagnosis: str) -> set[str]:
    """Event reasons the diagnosis says happened (not those it says are missing: 'no nodeAssigned')."""
    return {r for r in REASONS if re.search(rf"(?<!no )(?<!no `)\b{r}\b", diagnosis)}


def drive_08(nb: Notebook, name: str, version: str, probe_image: str | None = None) -> dict:
    """Run 08 on the driven notebook ``nb`` as a learner would (guess cells skipped), reading the cluster raw at
    each case between its evidence and its repair; the per-case report."""
    era = "crds" if at_least(version, 0, 13, 0) else "configmap"
    nb.run_range(0, nb.find("cause-1"))
    probe_image = probe_image or nb.value("probe_image")  # the image the notebook resolved, for the test's own probe
    cases = {}
    for n in range(1, 9):
        c, e, d, r = (nb.find(f"{t}-{n}") for t in ("cause", "evidence", "diagnosis", "repair"))
        began = time.time()
        caused = nb.run(c)
        shown = nb.run(e)
        staged = STAGED[n][era]
        service = f"ts-case{n}"
        row = {"cell": nb.where(e), "staged": staged, "caused_text": caused.text, "caused_html": caused.html}
        if staged is not None:
            sections = sections_of(shown.text)
            row["from_evidence"] = cause_from(sections, version)
            row["from_cluster"] = cause_from(raw_sections(name, service, version, probe_image), version)
            ip = describe_facts(pick(sections, "kubectl describe service") or "")["ip"]
            row["foreign_lines"] = foreign_log_lines(sections, service, ip, began)
            row["labels_shown"] = pick(sections, "kubectl get nodes --show-labels") or ""
            row["evidence_text"] = shown.text
        diag = nb.run(d)
        row["diagnosis"] = diag.text
        first = re.search(r"^- \[([^\]]+)\]", diag.text, re.M)
        row["diagnosed"] = first.group(1) if first else None
        nb.run_range(d + 1, r)  # the cells between (prose) and any a learner would run
        nb.run(r)
        cases[n] = row
    nb.run_range(nb.find("repair-8") + 1, len(nb.cells))
    left = {"services": [s for s in kubectl(name, "get", "services", "-o", "name").split() if "/ts-" in s],
            "deployments": [s for s in kubectl(name, "get", "deployments", "-o", "name").split() if "/ts-" in s],
            "excluded": kubectl(name, "get", "nodes", "-l", EXCLUDE, "-o", "name").split()}
    return {"version": version, "era": era, "cases": cases, "left": left,
            "nginx_ip": kubectl(name, "get", "service", "nginx", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")}


def _shortened(text: str, room: int = 6000) -> str:
    """TEXT whole when short; else its head and its tail (where the ping/TCP section is), marked as cut."""
    if len(text) <= room:
        return text
    return f"{text[:room // 3]}\n[... {len(text) - room} characters left out ...]\n{text[-(2 * room) // 3:]}"


def assert_08(report: dict) -> int:
    """Every case of the era diagnosable from its evidence alone and matching the cluster; the number of them."""
    problems = []
    diagnosable = 0
    for n, row in report["cases"].items():
        where = row["cell"]
        visible = re.sub(r"<details.*?</details>", "", row["caused_html"], flags=re.S)
        if "kubectl" in visible or "kubectl" in row["caused_text"]:
            problems.append(f"case {n}: its first cell shows how it broke the cluster: {row['caused_text'][:300]}")
        if row["staged"] is None:
            if "nothing was changed" not in row["caused_text"]:
                problems.append(f"case {n}: not in this era, but the cell does not say so: {row['caused_text']}")
            continue
        if "something changed" not in row["caused_text"]:
            problems.append(f"case {n}: the first cell should say only that something changed: {row['caused_text']}")
        if row["from_evidence"] == row["staged"]:
            diagnosable += 1
        else:
            problems.append(f"case {n} ({where}): staged {row['staged']!r}, but the evidence shown reads as "
                            f"{row['from_evidence']!r}; the learner saw:\n{_shortened(row['evidence_text'])}")
        if row["from_cluster"] != row["staged"]:
            problems.append(f"case {n}: staged {row['staged']!r}, the cluster read raw says {row['from_cluster']!r}")
        if row["foreign_lines"]:
            problems.append(f"case {n}: log lines of another Service or another case: {row['foreign_lines'][:3]}")
        if row["staged"] in ("excluded nodes", "label ignored", "Local without announcer") and \
                f"{EXCLUDE}=" not in row["labels_shown"]:
            problems.append(f"case {n}: the exclude label is not visible in the labels shown")
        if row["staged"] == "pool exhausted" and "1 address," not in row["diagnosis"]:
            problems.append(f"case {n}: the diagnosis does not count the one address of the pool asked for: "
                            f"{row['diagnosis'][:400]}")
        want = DIAGNOSIS_KEY.get(row["staged"], row["staged"])
        if row["diagnosed"] != want:
            problems.append(f"case {n}: the diagnosis names {row['diagnosed']!r}, the evidence {want!r}: "
                            f"{row['diagnosis'][:500]}")
        shown = {r for r, _ in describe_facts(pick(sections_of(row["evidence_text"]),
                                                    "kubectl describe service") or "")["events"]}
        contradicted = named_reasons(row["diagnosis"].split("what was done:")[0]) - shown
        if contradicted:
            problems.append(f"case {n}: the diagnosis names event(s) {sorted(contradicted)} that describe does not "
                            f"show ({sorted(shown) or 'Events: <none>'})")
    in_era = sum(row["staged"] is not None for row in report["cases"].values())
    print(f"08 ({report['version']}): {diagnosable} of {in_era} cases diagnosable from the evidence alone")
    record = ARTIFACTS / "learner-08.json"
    data = json.loads(record.read_text()) if record.exists() else {}
    data[report["version"]] = {"diagnosable": diagnosable, "cases": in_era,
                               "read_as": {n: r.get("from_evidence") for n, r in report["cases"].items()}}
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    if report["left"]["services"] or report["left"]["deployments"]:
        problems.append(f"ts-* objects left: {report['left']}")
    if any("control-plane" not in n for n in report["left"]["excluded"]):
        problems.append(f"a worker keeps the exclude label: {report['left']['excluded']}")
    if not report["nginx_ip"]:
        problems.append("nginx has no address after 08")
    if problems:
        raise LearnerSaw("\n".join(problems))
    return diagnosable


# ---------------------------------------------------------------- alone (KINDLB_LESSON_07_08=1)

pytestmark = pytest.mark.skipif(not os.environ.get("KINDLB_LESSON_07_08"),
                                reason="the series runs drive_08/assert_08; KINDLB_LESSON_07_08=1 runs them alone")


@pytest.fixture(scope="module", params=eras())
def era(request, cluster) -> dict:
    from _lesson_setup import as_02_to_04_leave_it

    state = as_02_to_04_leave_it(cluster, request.param)
    yield state
    k = state["k"]
    kh.trouble.cleanup(k, kh.trouble.default_pool(k))


def test_08_each_case_is_diagnosable_from_its_evidence_alone(cluster, era):
    params = {"cluster": cluster["name"], "interactive": False, **era["params"]}
    with Notebook("08_troubleshooting", params, save_to=ARTIFACTS / "learner" / era["version"]) as nb:
        report = drive_08(nb, cluster["name"], era["version"], params.get("probe_image"))
    assert assert_08(report) == sum(v[report["era"]] is not None for v in STAGED.values())
