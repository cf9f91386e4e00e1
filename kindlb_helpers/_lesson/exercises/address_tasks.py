"""Exercises 2 and 4, about addresses: pin a Service to one address (2), share one address between two
Services (4); every way the installed release reads is accepted."""
from __future__ import annotations

import ipaddress

from .base import NEW_PREFIX_SINCE, Exercise, Verdict, annotation, annotation_keys, final, unread
from .objects import docs, svc_yaml

__all__ = ["PinAddress", "ShareAddress"]


class PinAddress(Exercise):
    """(b) A Service that gets one particular address; every way the release reads is accepted."""

    number, title = 2, "pin a Service to an address"
    wrong_says = "not allowed in config"

    @property
    def hint_text(self) -> str:
        ways = " or ".join(f"the annotation {k}" for k in annotation_keys(self.era, "loadBalancerIPs"))
        return (f"MetalLB {self.version} reads {ways}, and also the Service's own field spec.loadBalancerIP "
                "(deprecated by Kubernetes since 1.24, still honoured). Use one of them, not the annotation and the "
                "field together: MetalLB refuses a Service with both.")

    def task(self) -> str:
        return (f"Create the LoadBalancer Service ex-pinned (selector app: nginx, port 80) so that MetalLB gives it "
                f"exactly {self.t.pin}, a free address of pool default. Any way MetalLB {self.version} reads counts.")

    @property
    def address(self) -> str:
        return self.t.pin

    def solution_text(self) -> str:
        return docs(svc_yaml("ex-pinned", {f"{self.prefix}/loadBalancerIPs": self.t.pin}))

    def wrong_text(self) -> str:
        return docs(svc_yaml("ex-pinned", {f"{self.prefix}/loadBalancerIPs": self.t.outside}))

    def _check(self) -> Verdict:
        svc = self._svc("ex-pinned")
        value, key = annotation(self.era, svc, "loadBalancerIPs")
        field_ip = svc.spec.load_balancer_ip
        ignored = unread(self.era, svc, "loadBalancerIPs")
        if not value and not field_ip:
            if ignored:
                return final(f"ex-pinned has {ignored}, which MetalLB {self.version} does not read (the metallb.io/ "
                             f"prefix came with {NEW_PREFIX_SINCE}): use the prefix {self.prefix}/")
            return final("ex-pinned does not ask for an address (`kubectl get service ex-pinned -o yaml` shows its "
                         f"annotations): MetalLB {self.version} reads the request from the annotation the section "
                         "above names, or from spec.loadBalancerIP")
        if value and field_ip:
            return final(f"ex-pinned asks twice, with {key} and with spec.loadBalancerIP: MetalLB refuses a Service "
                         "with both (its event LoadBalancerFailed, `kubectl describe service ex-pinned`); keep one")
        asked = (value or field_ip).strip()
        how = key if value else "spec.loadBalancerIP"
        if not _addresses(asked):
            said = self._warning(svc)
            return final(f"{how} of ex-pinned is {asked!r}: MetalLB wants plain addresses there (no /32, no range)"
                         + (f"; the controller says {said}" if said else ""))
        got = self._ip(svc)
        if not got:
            return self._pending(svc)
        if asked != self.t.pin:
            return final(f"ex-pinned asks for {asked} with {how} and got {got}: the task asks for another address")
        if got != self.t.pin:
            return Verdict(False, f"ex-pinned asks for {self.t.pin} but has {got} (MetalLB may need a moment)")
        note = ""
        if key and key.split("/", 1)[0] in self.era.annotation_prefixes[1:]:  # read, but not the one to write
            note = f" ({key} still works in {self.version} but is deprecated: a deprecatedAnnotation event says so)"
        return Verdict(True, f"ex-pinned got {got}, asked for with {how}{note}")


def _addresses(text: str) -> bool:
    """Whether ``text`` is one address or a comma-separated list of them, as loadBalancerIPs takes.

    >>> _addresses("172.19.255.250"), _addresses("172.19.255.250/32"), _addresses("10.0.0.1,fd00::1")
    (True, False, True)
    """
    try:
        return all(ipaddress.ip_address(p.strip()) for p in text.split(","))
    except ValueError:
        return False


class ShareAddress(Exercise):
    """(d) Two Services on one IP, with the era's allow-shared-ip annotation."""

    number, title = 4, "share one address between two Services"
    wrong_says = "allow-shared-ip"

    @property
    def hint_text(self) -> str:
        return (f"Both Services carry {self.prefix}/allow-shared-ip with the same value (any text, the sharing "
                f"key), ask for the same address ({self.prefix}/loadBalancerIPs), and use different ports.")

    def task(self) -> str:
        return (f"Create two LoadBalancer Services in front of nginx that share the address {self.t.share}: "
                "ex-share-web on port 80 and ex-share-alt on port 8080 (targetPort 80).")

    def solution_text(self) -> str:
        ann = {f"{self.prefix}/allow-shared-ip": "ex-share", f"{self.prefix}/loadBalancerIPs": self.t.share}
        return docs(svc_yaml("ex-share-web", ann), svc_yaml("ex-share-alt", ann, port=8080))

    def wrong_text(self) -> str:
        ips = {f"{self.prefix}/loadBalancerIPs": self.t.share}
        return docs(svc_yaml("ex-share-web", {**ips, f"{self.prefix}/allow-shared-ip": "ex-share"}),
                    svc_yaml("ex-share-alt", ips, port=8080))

    def _check(self) -> Verdict:
        svcs = [self._svc("ex-share-web"), self._svc("ex-share-alt")]
        keys = {}
        for svc in svcs:
            value, _ = annotation(self.era, svc, "allow-shared-ip")
            ignored = unread(self.era, svc, "allow-shared-ip")
            if value is None:
                said = self._warning(svc) if not self._ip(svc) else None
                why = (f"{svc.metadata.name} has {ignored}, which MetalLB {self.version} does not read"
                       if ignored else f"{svc.metadata.name} has no {self.prefix}/allow-shared-ip")
                return final(why + (f"; the controller says {said}" if said else "")
                             + f" (`kubectl describe service {svc.metadata.name}`): both Services need "
                             f"{self.prefix}/allow-shared-ip with the same value")
            keys[svc.metadata.name] = value
        if len(set(keys.values())) != 1:
            return final(f"the sharing keys differ ({keys}): MetalLB shares an address only between Services with "
                         f"the same {self.prefix}/allow-shared-ip value")
        ports = [{p.port for p in s.spec.ports} for s in svcs]
        if ports[0] & ports[1]:
            return final(f"both Services use port {sorted(ports[0] & ports[1])[0]}: one address can carry each port "
                         "once; give ex-share-alt port 8080")
        got = [self._ip(s) for s in svcs]
        for svc, ip in zip(svcs, got):
            if not ip:
                return self._pending(svc)
        if got[0] != got[1]:
            return Verdict(False, f"ex-share-web has {got[0]} and ex-share-alt has {got[1]}: ask both for "
                                  f"{self.t.share} with {self.prefix}/loadBalancerIPs")
        if got[0] != self.t.share:
            return final(f"both share {got[0]}, but the task asks for {self.t.share}")
        return Verdict(True, f"ex-share-web (port 80) and ex-share-alt (port 8080) both have {got[0]}: the same "
                             f"sharing key ({keys['ex-share-web']!r}) and different ports")
