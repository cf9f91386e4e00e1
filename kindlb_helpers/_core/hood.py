"""Under the hood: the ``kind`` / ``kubectl`` / ``docker`` / ``curl`` lines a person would type
for each helper, and the YAML it sends (pure core: no cluster, no Docker).

Every cluster-changing helper builds its view here from the very objects and names it sends, so
the commands cannot drift from what the helper does; the cluster tier runs :meth:`Hood.script`
literally and compares the outcome with the helper's.

>>> from kindlb_helpers._core.objects import nginx_objects
>>> print(deploy_steps("kindlb", nginx_objects(image="nginx:1.27")).steps[0].command)
kubectl --context kind-kindlb create deployment nginx --image=nginx:1.27 --replicas=3
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Iterable

import yaml

from .manifests import NAMESPACE
from .views import Viewed


def context_of(cluster: str) -> str:
    """The kube context kind writes for ``cluster``."""
    return f"kind-{cluster}"


def kubectl_args(context: str, *args: str, namespace: str | None = None, kubeconfig: str | None = None) -> list[str]:
    """The one kubectl line builder: ``kubectl --context CONTEXT [--kubeconfig FILE] [-n NS] ARGS`` as a list,
    for the lines shown (:func:`kubectl`) and the ones run (``Kind.kubectl``, the exercises' answers) alike.

    >>> kubectl_args("kind-kindlb", "get", "nodes", kubeconfig="/tmp/k")
    ['kubectl', '--context', 'kind-kindlb', '--kubeconfig', '/tmp/k', 'get', 'nodes']
    """
    return ["kubectl", "--context", context, *(["--kubeconfig", kubeconfig] if kubeconfig else []),
            *(["-n", namespace] if namespace and namespace != "default" else []), *args]


def kubectl(cluster: str, *args: str, namespace: str | None = None) -> str:
    """``kubectl --context kind-<cluster> [-n NS] ARGS``, quoted for a POSIX shell.

    >>> kubectl("kindlb", "get", "pods", namespace="metallb-system")
    'kubectl --context kind-kindlb -n metallb-system get pods'
    """
    return shlex.join(kubectl_args(context_of(cluster), *args, namespace=namespace))


def to_yaml(objects: Iterable[dict] | str) -> str:
    """Objects as one multi-document YAML text, as ``kubectl apply -f`` takes it (a string is returned as it is):
    the one YAML dumper."""
    if isinstance(objects, str):
        return objects
    return "---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objects)


@dataclass(frozen=True)
class Step:
    """One command line, the files it reads (name -> objects or text), and why it is there."""

    command: str
    why: str = ""
    files: tuple[tuple[str, object], ...] = ()
    #: A failure text this step is known to print and a person may ignore (the literal run allows it).
    may_fail: str = ""


@dataclass
class Hood(Viewed):
    """What a person would type for one helper call: steps, shown as commands plus collapsible YAML."""

    title: str
    steps: list[Step] = field(default_factory=list)

    def text(self) -> str:
        """The command lines alone, one per line (comments say why)."""
        lines = []
        for s in self.steps:
            if s.why:
                lines.append(f"# {s.why}")
            lines.append(s.command)
        return "\n".join(lines)

    def script(self) -> str:
        """A bash script that does the same: files written with here-documents, then the commands."""
        out = ["set -euo pipefail"]
        for s in self.steps:
            for name, content in s.files:
                out.append(f"cat > {shlex.quote(name)} <<'KINDLB_EOF'\n{to_yaml(content).rstrip()}\nKINDLB_EOF")
            if s.why:
                out.append(f"# {s.why}")
            if s.may_fail:
                out.append(f"if ! {s.command} 2>.kindlb-err; then cat .kindlb-err >&2; "
                           f"grep -q {shlex.quote(s.may_fail)} .kindlb-err; fi")
            else:
                out.append(s.command)
        return "\n".join(out) + "\n"

    def objects(self) -> list[dict]:
        """Every object the steps' files hold."""
        return [o for s in self.steps for _, c in s.files if not isinstance(c, str) for o in c]

    def __str__(self) -> str:
        return f"# under the hood: {self.title}\n{self.text()}"


@dataclass
class Done(Viewed):
    """A helper's result: a headline, details, the value, and its :class:`Hood`."""

    headline: str
    hood: Hood
    details: list[str] = field(default_factory=list)
    value: object = None

    def __str__(self) -> str:
        return "\n".join([self.headline, *(f"  {d}" for d in self.details), str(self.hood)])

    def __iter__(self):
        return iter(self.details)


# ---------- the steps of each helper ----------

def create_cluster_steps(cluster: str, config: str, image: str | None = None, wait: str = "180s") -> Hood:
    """``kind create cluster`` with the embedded config (1 control-plane + workers)."""
    cmd = ["kind", "create", "cluster", "--name", cluster, "--config", "kind-config.yaml", "--wait", wait]
    if image:
        cmd += ["--image", image]
    return Hood(f"create kind cluster {cluster!r}", [
        Step(shlex.join(cmd), "kind starts one Docker container per node and sets kubectl's context to "
             f"{context_of(cluster)}", files=(("kind-config.yaml", config),)),
        Step(kubectl(cluster, "get", "nodes", "-o", "wide"), "the nodes, as the article shows them"),
    ])


def reuse_cluster_steps(cluster: str) -> Hood:
    """What a person checks before reusing a cluster."""
    return Hood(f"reuse kind cluster {cluster!r}", [
        Step("kind get clusters", f"{cluster} is listed: nothing to create"),
        Step(kubectl(cluster, "get", "nodes", "-o", "wide")),
    ])


def apply_steps(cluster: str, objects: list[dict], filename: str, title: str, why: str = "") -> Hood:
    """``kubectl apply --server-side -f FILE`` with FILE holding ``objects``."""
    return Hood(title, [Step(kubectl(cluster, "apply", "--server-side", "-f", filename), why,
                             files=((filename, list(objects)),))])


def install_steps(cluster: str, version: str, sources: list[str], *, drop_psp: bool, memberlist: bool) -> Hood:
    """Installing MetalLB from its manifest URL(s) or local file(s)."""
    steps = []
    for src in sources:
        psp = drop_psp and src.endswith("metallb.yaml")
        steps.append(Step(kubectl(cluster, "apply", "-f", src),
                          "its 2 PodSecurityPolicy objects fail: Kubernetes 1.25+ no longer serves that kind; "
                          "everything else is applied" if psp else "",
                          may_fail="PodSecurityPolicy" if psp else ""))
    if memberlist:
        steps.append(Step(kubectl(cluster, "create", "secret", "generic", "memberlist", "-n", NAMESPACE)
                          + ' --from-literal=secretkey="$(openssl rand -base64 128)"',
                          f"MetalLB {version} speakers need this key for memberlist; from v0.10.0 the controller "
                          "creates it"))
    return Hood(f"install MetalLB {version}", steps)


def wait_metallb_steps(cluster: str, timeout: float) -> Hood:
    """``kubectl wait`` for the controller and ``rollout status`` for the speakers."""
    t = f"--timeout={int(timeout)}s"
    return Hood("wait for MetalLB", [
        Step(kubectl(cluster, "wait", "deployment/controller", "--for=condition=Available", t, namespace=NAMESPACE),
             "the controller hands out addresses"),
        Step(kubectl(cluster, "rollout", "status", "daemonset/speaker", t, namespace=NAMESPACE),
             "a speaker per node it may run on; for each IP the elected one answers ARP"),
        Step(kubectl(cluster, "get", "pods", "-o", "wide", namespace=NAMESPACE)),
    ])


def deploy_steps(cluster: str, objects: list[dict]) -> Hood:
    """The article's ``kubectl create deployment`` + ``kubectl expose``, plus one command per extra.

    Derived from the objects :func:`kindlb_helpers._core.objects.nginx_objects` returns, so running
    these lines gives the same Deployment and Service as the helper's server-side apply.
    """
    dep = next(o for o in objects if o["kind"] == "Deployment")
    svc = next(o for o in objects if o["kind"] == "Service")
    name, ns = dep["metadata"]["name"], dep["metadata"]["namespace"]
    container = dep["spec"]["template"]["spec"]["containers"][0]
    port = svc["spec"]["ports"][0]
    steps = []
    if ns != "default":
        steps.append(Step(kubectl(cluster, "create", "namespace", ns)))
    steps.append(Step(kubectl(cluster, "create", "deployment", name, f"--image={container['image']}",
                              f"--replicas={dep['spec']['replicas']}", namespace=ns),
                      f"labels app={name} on the Deployment and its pods"))
    extras = {k: v for k, v in container.items() if k not in ("name", "image")}
    if extras:
        patch = {"spec": {"template": {"spec": {"containers": [{"name": container["name"], **extras}]}}}}
        steps.append(Step(kubectl(cluster, "patch", "deployment", name, "-p",
                                  json.dumps(patch, separators=(",", ":")), namespace=ns),
                          "the helper's extra: " + ", ".join(extras)))
    if svc["metadata"].get("annotations") or svc["spec"].get("externalTrafficPolicy"):
        # expose cannot set annotations or the traffic policy at creation: write the Service down
        extra = ([k for k in ("externalTrafficPolicy",) if k in svc["spec"]]
                 + list(svc["metadata"].get("annotations") or {}))
        steps.append(Step(kubectl(cluster, "apply", "-f", f"{name}-service.yaml", namespace=ns),
                          "what `kubectl expose` makes, plus " + ", ".join(extra),
                          files=((f"{name}-service.yaml", [svc]),)))
    else:
        expose = ["expose", "deployment", name, f"--port={port['port']}", "--type=LoadBalancer"]
        if port.get("targetPort") not in (None, port["port"]):
            expose.append(f"--target-port={port['targetPort']}")
        steps.append(Step(kubectl(cluster, *expose, namespace=ns),
                          "a Service with the Deployment's labels as selector"))
    steps.append(Step(kubectl(cluster, "get", "deployment,service", name, namespace=ns)))
    return Hood(f"deploy {name} ({dep['spec']['replicas']} replicas) behind a LoadBalancer Service", steps)


def rollout_steps(cluster: str, name: str, namespace: str, timeout: float) -> Hood:
    """``kubectl rollout status`` and the pods it waited for."""
    return Hood(f"wait for deployment {name}", [
        Step(kubectl(cluster, "rollout", "status", f"deployment/{name}", f"--timeout={int(timeout)}s",
                     namespace=namespace)),
        Step(kubectl(cluster, "get", "pods", "-l", f"app={name}", "-o", "wide", namespace=namespace)),
    ])


def wait_ip_steps(cluster: str, name: str, namespace: str, timeout: float) -> Hood:
    """``kubectl wait`` until the Service has an address, then ``get`` and ``describe`` it."""
    return Hood(f"wait for the external IP of {name}", [
        Step(kubectl(cluster, "wait", f"service/{name}", "--for=jsonpath={.status.loadBalancer.ingress}",
                     f"--timeout={int(timeout)}s", namespace=namespace),
             "until MetalLB writes an address into the Service's status"),
        Step(kubectl(cluster, "get", "service", name, namespace=namespace), "EXTERNAL-IP is no longer <pending>"),
        Step(kubectl(cluster, "describe", "service", name, namespace=namespace),
             "Events: IPAllocated (controller) and nodeAssigned (the speaker that announces it)"),
    ])


def fetch_steps(url: str, network: str | None = None, image: str | None = None) -> Hood:
    """``curl`` from the host, or ``wget`` from a throwaway container on the kind network."""
    if network:
        cmd = shlex.join(["docker", "run", "--rm", "--network", network, image or "busybox", "wget", "-qO-", url])
        return Hood(f"GET {url} from a container on network {network}", [
            Step(cmd, "the container sits on the kind bridge, next to the nodes")])
    return Hood(f"GET {url}", [Step(shlex.join(["curl", "-sS", "--max-time", "5", url]))])


def spread_steps(cluster: str, base_url: str, token: str, requests: int, name: str, namespace: str,
                 loop: str | None = None) -> Hood:
    """A request loop with tagged requests (``curl`` from the host unless ``loop`` says otherwise), then
    ``kubectl logs`` counting them per pod."""
    url = f"{base_url}?kindlb={token}-$i"
    loop = loop or f'for i in $(seq 1 {requests}); do curl -s -o /dev/null "{url}"; done'
    count = (kubectl(cluster, "logs", "-l", f"app={name}", "--prefix", "--tail=-1", namespace=namespace)
             + f" | grep -F kindlb={token}- | cut -d' ' -f1 | sort | uniq -c")
    return Hood(f"{requests} requests, counted in each pod's access log", [
        Step(loop, "each request carries a unique query string"),
        Step(count, "nginx logs each request it served: count them per pod"),
    ])


def remove_steps(cluster: str, name: str, namespace: str) -> Hood:
    """``kubectl delete`` of the Service, then the Deployment."""
    return Hood(f"remove {name}", [
        Step(kubectl(cluster, "delete", "service", name, "--ignore-not-found", namespace=namespace),
             "MetalLB takes the address back into the pool"),
        Step(kubectl(cluster, "delete", "deployment", name, "--ignore-not-found", namespace=namespace)),
    ])


def uninstall_steps(cluster: str, cluster_scoped: dict[str, list[str]]) -> Hood:
    """Deleting the namespace, then the cluster-wide objects a namespace does not hold."""
    steps = [Step(kubectl(cluster, "delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait"),
                  "the controller, the speakers, the pools and the L2Advertisements go with it")]
    for kind_name, names in cluster_scoped.items():
        if names:
            steps.append(Step(kubectl(cluster, "delete", kind_name, *names, "--ignore-not-found")))
    return Hood("uninstall MetalLB", steps)
