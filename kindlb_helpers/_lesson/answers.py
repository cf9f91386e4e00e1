"""A learner's answer, applied as a person would: their YAML through ``kubectl apply -f -`` on the kind
context, or one kubectl command they type.

Nothing is half-applied: every document first goes through ``kubectl apply --dry-run=server`` (the API
server's validation and MetalLB's webhook), and only when all of them pass is the text applied. A mistake
comes back as one line in the server's (or the webhook's) own words and a hint, never a traceback. The
ConfigMap era (MetalLB v0.12.1) has no webhook: the API server stores any ConfigMap, and MetalLB refuses a bad
``config`` only in its log and keeps the last valid one, so here the ConfigMap is checked with MetalLB
v0.12.1's own rules first (``internal/config/config.go``: strict YAML, unique pool names, known protocol,
parseable addresses, no overlaps).

>>> kubectl_error('Error from server (NotFound): error when creating "STDIN": namespaces "nope" not found\\n')
'namespaces "nope" not found'
"""
from __future__ import annotations

import html
import ipaddress
import re
import shlex
from dataclasses import dataclass

import yaml

from .._cluster.commands import run
from .._core import hood as _hood
from .._core.errors import CommandTimeout, ToolMissing
from .._core.manifests import NAMESPACE
from .render import PRE

#: What an exercise's objects are called; anything else belongs to another notebook.
PREFIX = "ex-"
#: The ConfigMap the ConfigMap era reads (metallb-system/config); the one object not named ex-*.
CONFIGMAP = ("ConfigMap", NAMESPACE, "config")
#: The fix for a MetalLB object written outside MetalLB's namespace (the webhook's refusal, or our own).
IN_NAMESPACE = f"add `namespace: {NAMESPACE}` under `metadata:`"

_HINTS = [
    (r"no matches for kind|could not find the requested resource|doesn't have a resource type",
     "check `kind:` and `apiVersion:` (spelling and case): `kubectl api-resources` lists what this cluster serves"),
    (r"overlaps? with", "every pool needs addresses no other pool has: `kubectl -n metallb-system get "
                        "ipaddresspools` (ConfigMap era: `get configmap config -o yaml`) shows theirs"),
    (r"must be created in", IN_NAMESPACE),
    (r"unknown field|strict decoding", "a field name is misspelt or at the wrong indentation: "
                                       "`kubectl explain <kind>.spec` lists the fields"),
    (r"cannot unmarshal|json: cannot|invalid type", "a value has the wrong type (a list where one value goes, "
                                                      "or a number where text goes): quote it or fix the shape"),
    (r"field is immutable", "that field cannot change: delete the object first (`kubectl delete ...`), then apply"),
    (r"Invalid value|is invalid", "the field the message names has a value the API refuses"),
    (r"namespaces? .* not found", "the namespace does not exist: use `default` for Services"),
    (r"duplicate definition of pool", "two pools have the same name: give each its own"),
    (r"unknown protocol", "layer 2 is `protocol: layer2`"),
    (r"invalid (CIDR|IP range)", "write addresses as `172.18.255.200-172.18.255.203` or `172.18.255.200/32`"),
]


def hint_for(message: str) -> str:
    """The hint for an API server / webhook / MetalLB message.

    >>> hint_for('no matches for kind "IPAdressPool" in version "metallb.io/v1beta1"')[:12]
    'check `kind:'
    """
    for pattern, hint in _HINTS:
        if re.search(pattern, message, re.I):
            return hint
    return "the message names the field or object to fix"


def kubectl_error(stderr: str) -> str:
    """kubectl's error output as one line: the first error, without kubectl's boilerplate."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    first = next((ln for ln in lines if ln.lower().startswith(("error", "the ", "unable"))), lines[0] if lines else "")
    first = re.sub(r'^Error from server(?: \([A-Za-z]+\))?: ', "", first)
    first = re.sub(r'^error: ', "", first)
    first = re.sub(r'^error when (creating|applying patch|retrieving current configuration of)[^:]*"STDIN": ', "",
                   first)
    first = re.sub(r'^error validating "STDIN": error validating data: ', "", first)
    return first[:400]


@dataclass(frozen=True)
class Outcome:
    """What happened to an answer: applied (or run), or why not, in one line, and a hint."""

    ok: bool
    message: str
    hint: str = ""
    command: str = ""
    output: str = ""
    verb: str = "Applied"

    def __bool__(self) -> bool:
        return self.ok

    @property
    def word(self) -> str:
        if self.verb == "Applied":
            return "Applied" if self.ok else "Not applied"
        return "Ran" if self.ok else "Failed"

    def __repr__(self) -> str:
        text = f"{self.word}: {self.message}"
        if self.hint:
            text += f"\nhint: {self.hint}"
        if self.output:
            text += f"\n{self.output.rstrip()}"
        return text

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#cf222e"
        hint = f"<div><i>hint</i>: {html.escape(self.hint)}</div>" if self.hint else ""
        out = (f"<pre style='{PRE};max-height:24em;overflow:auto'>{html.escape(self.output.rstrip())}</pre>"
               if self.output else "")
        cmd = f"<div><code>{html.escape(self.command)}</code></div>" if self.command else ""
        return (f"<div style='border-left:4px solid {colour};padding-left:0.6em'><b style='color:{colour}'>"
                f"{self.word}</b>: {html.escape(self.message)}{hint}{cmd}{out}</div>")


def _identity(doc: dict) -> tuple[str, str | None, str]:
    meta = doc.get("metadata") or {}
    return str(doc.get("kind")), meta.get("namespace"), str(meta.get("name"))


def parse(text) -> tuple[list[dict], str | None]:
    """(documents, None), or ([], why) in one line: YAML that does not parse, or a document that is no object."""
    if not isinstance(text, str) or not text.strip():
        return [], "the answer is empty: write your YAML between the triple quotes, then run the cell again"
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return [], f"the YAML does not parse ({where}{problem})"
    if not docs:
        return [], "the answer holds only comments: write the objects' YAML"
    for i, d in enumerate(docs, 1):
        if not isinstance(d, dict):
            return [], f"document {i} is not an object (it is {type(d).__name__}): each starts with `apiVersion:`"
        missing = [f for f in ("apiVersion", "kind") if not d.get(f)]
        if not (d.get("metadata") or {}).get("name"):
            missing.append("metadata.name")
        if missing:
            return [], f"document {i} ({d.get('kind', 'no kind')}) has no {', '.join(missing)}"
    return docs, None


def _owned(doc: dict) -> tuple[str, str] | None:
    """Why this object is not the learner's to apply, and the fix; or None."""
    kind_name, namespace, name = _identity(doc)
    if (kind_name, namespace or "", name) == CONFIGMAP:
        return None
    if (kind_name, name) == (CONFIGMAP[0], CONFIGMAP[2]):
        where = f"namespace {namespace}" if namespace else "no namespace, so it would land in default"
        return (f"configmap/config is MetalLB's configuration only in namespace {CONFIGMAP[1]}, the one place "
                f"MetalLB reads it; yours has {where}, where MetalLB never looks", IN_NAMESPACE)
    if not name.startswith(PREFIX):
        return (f"{kind_name.lower()}/{name} is not an exercise object: name yours {PREFIX}... (the others belong "
                "to the earlier notebooks, and applying would change them)",
                "rename it (metadata.name) and apply again")
    return None


def configmap_problem(doc: dict, current_pools: list[dict]) -> str | None:
    """Why MetalLB v0.12.1 would refuse this ``config`` ConfigMap, in its own words; None when it would load it.

    ``current_pools`` is what is configured now: the pool ``default`` must stay as it is (nginx's address).

    >>> cm = {"data": {"config": "address-pools:\\n- {name: a, protocol: layer2, addresses: [10.0.0.1/32]}\\n"
    ...                          "- {name: a, protocol: layer2, addresses: [10.0.0.2/32]}\\n"}}
    >>> configmap_problem(cm, [])
    'duplicate definition of pool "a"'
    """
    text = (doc.get("data") or {}).get("config")
    if not isinstance(text, str):
        return "the ConfigMap has no data.config: MetalLB reads its pools from the text under `config: |`"
    try:
        cfg = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        return f"could not parse config: {str(exc).splitlines()[0]}"
    if not isinstance(cfg, dict):
        return "could not parse config: the text under config is not a mapping"
    unknown = set(cfg) - {"peers", "bgp-communities", "address-pools", "bfd-profiles"}
    if unknown:
        return f"could not parse config: field {sorted(unknown)[0]} not found in type config.configFile"
    seen: dict[str, str] = {}
    nets: list[tuple[str, str, set]] = []
    for i, p in enumerate(cfg.get("address-pools") or [], 1):
        if not isinstance(p, dict):
            return f"parsing address pool #{i}: not a mapping"
        bad = set(p) - {"protocol", "name", "addresses", "avoid-buggy-ips", "auto-assign", "bgp-advertisements"}
        if bad:
            return f"could not parse config: field {sorted(bad)[0]} not found in type config.addressPool"
        name = p.get("name")
        if not name:
            return f"parsing address pool #{i}: missing pool name"
        if name in seen:
            return f'duplicate definition of pool "{name}"'
        seen[name] = name
        if p.get("protocol") not in ("layer2", "bgp"):
            return f'parsing address pool #{i}: unknown protocol "{p.get("protocol", "")}"'
        if "auto-assign" in p and not isinstance(p["auto-assign"], bool):
            return f"could not parse config: auto-assign of pool {name} must be true or false"
        for spec in p.get("addresses") or []:
            try:
                addrs = _addresses(str(spec))
            except ValueError:
                return f'invalid CIDR "{spec}" in pool "{name}"'
            for other_name, other_spec, other in nets:
                if addrs & other:
                    return f'CIDR "{spec}" in pool "{name}" overlaps with already defined CIDR "{other_spec}"'
            nets.append((name, str(spec), addrs))
        if not p.get("addresses"):
            return f'parsing address pool #{i}: pool "{name}" has no addresses'
    before = {p.get("name"): p for p in current_pools}
    if "default" in before:
        now = next((p for p in cfg.get("address-pools") or [] if p.get("name") == "default"), None)
        if now is None or [str(a) for a in now.get("addresses") or []] != [str(a) for a in
                                                                          before["default"].get("addresses") or []]:
            return ("pool default must stay as it is (nginx has its address from it; v0.12.1 refuses a config that "
                    "takes an address in use away: \"new config not compatible with assigned IPs\"): copy it from "
                    "`kubectl -n metallb-system get configmap config -o yaml`")
    return None


def _addresses(spec: str) -> set[int]:
    """The addresses of one CIDR or range as ints (capped: pools here are small, /16 at most)."""
    if "-" not in spec and "/" not in spec:  # MetalLB's ParseCIDR: one address needs its /32 (or /128)
        raise ValueError(spec)
    if "-" in spec:
        a, b = (ipaddress.ip_address(s.strip()) for s in spec.split("-", 1))
        if int(b) < int(a):
            raise ValueError(spec)
        lo, hi = int(a), int(b)
    else:
        net = ipaddress.ip_network(spec.strip(), strict=False)
        lo, hi = int(net.network_address), int(net.broadcast_address)
    if hi - lo > 1 << 17:
        raise ValueError(spec)
    return set(range(lo, hi + 1))


def _current_pools(kind) -> list[dict]:
    from .._cluster.metallb import configmap_pools

    try:
        return configmap_pools(kind)
    except yaml.YAMLError:  # the cluster's config is not YAML: check the learner's pools against none
        return []


def _run(kind, *args: str, input: str | None = None, timeout: float = 60) -> tuple[int, str, str]:
    """kubectl on this cluster's context only: (exit code, stdout, stderr). A missing kubectl or one that does
    not finish in ``timeout`` seconds is an error line in stderr (the learner reads one line, not a traceback)."""
    cmd = _hood.kubectl_args(kind.context, *args, kubeconfig=kind.kubeconfig)
    try:
        out = run(cmd, what="kubectl", timeout=timeout, input=input, check=False,
                  hint="notebook 00_prerequisites shows how to install it")
    except (ToolMissing, CommandTimeout) as exc:
        return 1, "", f"error: {exc}"
    return out.returncode, out.stdout, out.stderr


def apply(kind, text) -> Outcome:
    """Apply the learner's YAML with ``kubectl apply -f -`` after a server-side dry run of all of it.

    Never raises for a learner's mistake: the :class:`Outcome` says what happened, in one line.
    """
    shown = _hood.kubectl(kind.cluster, "apply", "-f", "-")
    docs, why = parse(text)
    if why:
        return Outcome(False, why, "YAML is `key: value` indented with spaces; objects are separated by a line ---",
                       shown)
    for doc in docs:
        refused = _owned(doc)
        if refused:
            return Outcome(False, *refused, shown)
        if _identity(doc) == CONFIGMAP:
            why = configmap_problem(doc, _current_pools(kind))
            if why:
                return Outcome(False, f"MetalLB v0.12.1 would refuse this config and keep the last valid one "
                                      f"(its log: config (re)load failed): {why}", hint_for(why), shown)
    body = yaml.safe_dump_all(docs, sort_keys=False)
    code, _, err = _run(kind, "apply", "--dry-run=server", "-f", "-", input=body)
    if code != 0:
        msg = kubectl_error(err)
        return Outcome(False, f"{msg} (nothing was applied)", hint_for(msg), shown)
    code, stdout, err = _run(kind, "apply", "-f", "-", input=body)
    if code != 0:
        msg = kubectl_error(err)
        return Outcome(False, msg, hint_for(msg), shown, stdout)
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    return Outcome(True, "; ".join(lines) or "nothing changed", "", shown)


#: kubectl verbs a learner types in 07/08; each touches only this cluster's context.
VERBS = {"get", "describe", "annotate", "label", "apply", "delete", "logs", "explain", "api-resources", "events",
         "patch", "edit", "create", "expose", "scale", "rollout", "top", "wait"}


def kubectl(kind, command: str) -> Outcome:
    """Run one kubectl command the learner typed (``"describe service ex-second"``) on this cluster's context.

    A leading ``kubectl`` is optional; ``--context``/``--kubeconfig`` are refused (the context is the kind
    cluster's, always).
    """
    try:
        args = shlex.split(command or "")
    except ValueError as exc:
        return Outcome(False, f"the command does not parse ({exc})", "close every quote", verb="Ran")
    if args[:1] == ["kubectl"]:
        args = args[1:]
    if not args:
        return Outcome(False, "no command given", 'e.g. kh.exercises.kubectl(k, "get services")', verb="Ran")
    if any(a.startswith(("--context", "--kubeconfig", "--cluster", "--server")) for a in args):
        return Outcome(False, "leave out --context/--kubeconfig: this runs on the kind cluster's context only",
                       verb="Ran")
    if args[0] not in VERBS:
        return Outcome(False, f"kubectl {args[0]} is not one of the commands used here",
                       f"use one of: {', '.join(sorted(VERBS))}", verb="Ran")
    if args[0] == "edit":
        return Outcome(False, "kubectl edit opens an editor, which a notebook cell does not have",
                       "use `kubectl patch`, `kubectl annotate`, or apply changed YAML", verb="Ran")
    shown = _hood.kubectl(kind.cluster, *args)
    code, stdout, err = _run(kind, *args)
    if code != 0:
        msg = kubectl_error(err)
        return Outcome(False, msg, hint_for(msg), shown, verb="Ran")
    lines = stdout.splitlines()
    first = next((ln for ln in lines if ln.strip()), "done")
    return Outcome(True, first if len(lines) <= 1 else f"{len(lines)} lines", "", shown,
                   stdout if len(lines) > 1 else "", verb="Ran")
