"""Exercise 5, about nodes: announce a pool from a chosen node, with an L2Advertisement's nodeSelectors
(CRD era) or, where a layer-2 pool has no node selector (ConfigMap era), with externalTrafficPolicy Local."""
from __future__ import annotations

from ..._cluster.kube import get_or_none
from .base import Exercise, Verdict, final, matches
from .objects import docs, svc_yaml

__all__ = ["NodeSelectors", "LocalPolicy"]


class NodeSelectors(Exercise):
    """(e, CRD era) An L2Advertisement with nodeSelectors: only the chosen node announces the pool."""

    number, title = 5, "announce only from a chosen node (nodeSelectors)"
    wrong_says = "no nodeSelectors"

    hint_text = ("An L2Advertisement's spec.nodeSelectors is a list of label selectors (matchLabels: ...); every node "
                 "carries kubernetes.io/hostname=<its name>. Only speakers on matching nodes may announce the pools "
                 "listed in spec.ipAddressPools.")

    def task(self) -> str:
        return (f"1. A pool ex-l2 holding {self.t.l2} (autoAssign false), announced by an L2Advertisement ex-l2 "
                f"whose nodeSelectors select only the node {self.t.worker}.\n"
                "2. A LoadBalancer Service ex-node (selector app: nginx, port 80) that asks for pool ex-l2.\n"
                f"`kubectl describe service ex-node` should then show nodeAssigned from {self.t.worker} only.")

    def solution_text(self) -> str:
        pool, ad = self.pool_yaml("ex-l2", f"{self.t.l2}/32")
        ad["spec"]["nodeSelectors"] = [{"matchLabels": {"kubernetes.io/hostname": self.t.worker}}]
        return docs(pool, ad, svc_yaml("ex-node", {f"{self.prefix}/address-pool": "ex-l2"}))

    def wrong_text(self) -> str:
        return docs(*self.pool_yaml("ex-l2", f"{self.t.l2}/32"),
                    svc_yaml("ex-node", {f"{self.prefix}/address-pool": "ex-l2"}))

    def _check(self) -> Verdict:
        from ..._cluster.metallb import l2_advertisements

        ranges, _ = self._pool("ex-l2")
        ads = l2_advertisements(self.kind)
        mine = next((a for a in ads if a["metadata"]["name"] == "ex-l2"), None)
        if mine is None:
            return final("there is no L2Advertisement ex-l2 (`kubectl -n metallb-system get l2advertisements`)")
        spec = mine.get("spec") or {}
        if "ex-l2" not in (spec.get("ipAddressPools") or []):
            return final("L2Advertisement ex-l2 does not list pool ex-l2 in spec.ipAddressPools")
        selectors = spec.get("nodeSelectors") or []
        if not selectors:
            return final("L2Advertisement ex-l2 has no nodeSelectors: every node may announce its pool "
                         "(`kubectl -n metallb-system get l2advertisement ex-l2 -o yaml`)")
        nodes = {n.metadata.name: n.metadata.labels or {} for n in self.kind.core.list_node().items}
        chosen = sorted(n for n, labels in nodes.items() if any(matches(s, labels) for s in selectors))
        if chosen != [self.t.worker]:
            return final(f"the nodeSelectors of ex-l2 select {chosen or 'no node'}, not only {self.t.worker} "
                         "(`kubectl get nodes --show-labels`)")
        others = [a for a in self._advertised("ex-l2") if a != "ex-l2"]
        if others:
            return final(f"L2Advertisement {others[0]} also announces pool ex-l2 (it lists it, or lists no pool at "
                         "all, which means every pool), from any node")
        svc = self._svc("ex-node")
        wrong = self._asks_pool(svc, "ex-l2")
        if wrong is not None:  # a Verdict is falsy when it says "not yet"
            return wrong
        got = self._ip(svc)
        if not got:
            return self._pending(svc)
        announcers = self._announcers(svc)
        where = ("`kubectl -n metallb-system get servicel2statuses`" if self.era.has_l2_status
                 else "`kubectl describe service ex-node`, event nodeAssigned")
        if not announcers:
            return Verdict(False, f"ex-node has {got} but no speaker announces it yet ({where}); the speaker may "
                                  "need a moment")
        if announcers != [self.t.worker]:
            return Verdict(False, f"ex-node is announced now from {announcers} ({where}), expected only "
                                  f"{self.t.worker}; the speakers may need a moment")
        return Verdict(True, f"ex-node has {got}, announced now from {self.t.worker} only ({where}): the "
                             "L2Advertisement's nodeSelectors chose the node")


class LocalPolicy(Exercise):
    """(e, ConfigMap era) The announcing node chosen by where the pods are: externalTrafficPolicy Local.

    v0.12.1's layer-2 pools have no node selector (``internal/config/config.go``: an address pool has protocol,
    name, addresses, avoid-buggy-ips, auto-assign and bgp-advertisements; only BGP peers take node-selectors),
    so the node is chosen the other way: under ``Local`` only a node with a ready pod of the Service may announce.
    """

    number, title = 5, "announce from a chosen node (externalTrafficPolicy: Local)"
    wrong_says = "externalTrafficPolicy Cluster"

    hint_text = ("A Deployment's pod template takes spec.nodeSelector: {kubernetes.io/hostname: <node>}. A Service "
                 "with spec.externalTrafficPolicy: Local is announced only from nodes that run one of its ready pods.")

    def task(self) -> str:
        return (f"MetalLB {self.version} cannot restrict a layer-2 pool to nodes (its ConfigMap has no node selector "
                "for layer2 pools; L2Advertisement.nodeSelectors came with the CRDs in v0.13). Choose the node the "
                f"other way:\n1. A Deployment ex-lone: 1 replica of {self.t.image}, pod label app: ex-lone, "
                f"pinned to the node {self.t.worker}.\n2. A LoadBalancer Service ex-local (selector app: ex-lone, "
                f"port 80) with externalTrafficPolicy: Local.\nIt should be announced from {self.t.worker} only.")

    def _objects(self, policy: str) -> list[dict]:
        dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ex-lone"},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "ex-lone"}},
                        "template": {"metadata": {"labels": {"app": "ex-lone"}},
                                     "spec": {"nodeSelector": {"kubernetes.io/hostname": self.t.worker},
                                              "containers": [{"name": "nginx", "image": self.t.image,
                                                              "ports": [{"containerPort": 80}]}]}}}}
        return [dep, svc_yaml("ex-local", app="ex-lone", extra_spec={"externalTrafficPolicy": policy})]

    def solution_text(self) -> str:
        return docs(*self._objects("Local"))

    def wrong_text(self) -> str:
        return docs(*self._objects("Cluster"))

    def _check(self) -> Verdict:
        svc = self._svc("ex-local")
        if svc.spec.external_traffic_policy != "Local":
            return final(f"ex-local has externalTrafficPolicy {svc.spec.external_traffic_policy}: under Cluster any "
                         "node with a speaker may announce it; set spec.externalTrafficPolicy: Local")
        if (svc.spec.selector or {}) != {"app": "ex-lone"}:
            return final(f"ex-local selects {svc.spec.selector or 'no pods'}: under Local only nodes with a ready pod "
                         "of the Service announce, so it must select the ex-lone pods alone (selector app: ex-lone)")
        dep = get_or_none(self.kind.apps.read_namespaced_deployment, "ex-lone", "default")
        pinned = ((dep.spec.template.spec.node_selector or {}) if dep else {}).get("kubernetes.io/hostname")
        if pinned and pinned != self.t.worker:
            return final(f"the Deployment ex-lone pins its pod to {pinned}, not {self.t.worker} (`kubectl get "
                         "deployment ex-lone -o yaml`, spec.template.spec.nodeSelector)")
        pods = self.kind.core.list_namespaced_pod("default", label_selector="app=ex-lone").items
        if not pods:
            return final("no pod has the label app=ex-lone (`kubectl get pods -l app=ex-lone -o wide`): the "
                         "Deployment ex-lone makes it")
        where = sorted({p.spec.node_name for p in pods if p.spec.node_name})
        if where != [self.t.worker]:
            return Verdict(False, f"the ex-lone pods run on {where or 'no node yet'}, not only {self.t.worker} "
                                  "(`kubectl get pods -l app=ex-lone -o wide`); a rollout may need a moment")
        got = self._ip(svc)
        if not got:
            return self._pending(svc)
        announcers = self._announcers(svc)
        if not announcers:
            return Verdict(False, "ex-local has an address but no nodeAssigned event yet (its pod may not be ready: "
                                  "`kubectl get pods -l app=ex-lone`)")
        if announcers != [self.t.worker]:
            return Verdict(False, f"ex-local is announced now from {announcers[0]} (its newest nodeAssigned event, "
                                  f"`kubectl describe service ex-local`), expected {self.t.worker}; the speakers may "
                                  "need a moment")
        return Verdict(True, f"ex-local has {got}, announced from {self.t.worker}, the only node with its pod: under "
                             "Local a node without a ready pod never announces")
