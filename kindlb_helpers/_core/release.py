"""A MetalLB release as one object: parsed once, and asked everything that depends on the release.

``release("v0.16.1")`` reads the text once, strictly (ASCII digits, no pre-release or build suffix, no
padding, at most 20 characters) and answers: its era (ConfigMap or CRDs), whether it has the validating
webhook, where its manifests are published, its images, who makes the ``memberlist`` secret, which
Service annotation prefixes it reads, which node labels it honours, ... Every answer comes from
:data:`FACTS`, the table of what the lesson states about MetalLB releases, each row with the first (and
last) release it holds for and its evidence: source lines (:mod:`kindlb_helpers._core.evidence`) at tags the
Go module proxy serves, on both sides of a boundary, with release notes quoted beside them, never instead.
Nothing else in the package compares versions.

>>> r = release("v0.16.1")
>>> r.era, r.uses_crds, r.annotation_prefixes
('CRDs', True, ('metallb.io', 'metallb.universe.tf'))
>>> release("0.12.1").memberlist_secret_by, release("v0.9.4").memberlist_secret_by
('controller', 'you')
>>> release("v0.16.1-rc1")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
kindlb_helpers._core.errors.BadVersion: 'v0.16.1-rc1' is a pre-release or build, not a MetalLB release: ...
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .errors import BadVersion
from .evidence import Line

__all__ = ["FACTS", "Fact", "Release", "fact", "release", "MAX_LENGTH", "EXCLUDE_LB_LABEL"]

#: The longest text read as a version (v0.16.1 is 7 characters).
MAX_LENGTH = 20
#: The node label v0.14.2+ speakers honour (kubeadm puts it on the control-plane).
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
_NUMBER = r"(0|[1-9][0-9]{0,3})"
_RELEASE = re.compile(rf"v?{_NUMBER}\.{_NUMBER}(?:\.{_NUMBER})?", re.ASCII)
_SUFFIXED = re.compile(rf"v?{_NUMBER}\.{_NUMBER}(?:\.{_NUMBER})?[-+][0-9A-Za-z.+-]*", re.ASCII)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:32]}'... ({len(value) if isinstance(value, str) else '?'} characters)"


@dataclass(frozen=True, order=True)
class Release:
    """One MetalLB release (major, minor, patch); ordered as releases are."""

    major: int
    minor: int
    patch: int

    # ---------- reading ----------

    @classmethod
    def parse(cls, value: object) -> Release:
        """VALUE (``"v0.16.1"``, ``"0.16.1"``, ``"v0.13"``, a Release or a tuple of 1-3 ints) as a Release.

        Refused with BadVersion: non-ASCII digits (``v０.16.1``), a pre-release or build suffix
        (``v0.16.1-rc1``), leading zeros, spaces, more than :data:`MAX_LENGTH` characters.
        """
        if isinstance(value, Release):
            return value
        if isinstance(value, tuple) and 1 <= len(value) <= 3 and all(
                isinstance(p, int) and not isinstance(p, bool) and 0 <= p < 10_000 for p in value):
            return cls(*(tuple(value) + (0, 0, 0))[:3])
        fix = "write it like v0.16.1"
        if not isinstance(value, str):
            raise BadVersion(f"{_shown(value)} (a {type(value).__name__}) is not a MetalLB version: {fix}")
        if len(value) > MAX_LENGTH:
            raise BadVersion(f"{_shown(value)} is too long for a MetalLB version: {fix}")
        m = _RELEASE.fullmatch(value)
        if m:
            return cls(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
        if not value.isascii():
            raise BadVersion(f"{_shown(value)} is not a MetalLB version: {fix} (ASCII digits 0-9)")
        if _SUFFIXED.fullmatch(value):
            raise BadVersion(f"{_shown(value)} is a pre-release or build, not a MetalLB release: {fix}")
        raise BadVersion(f"{_shown(value)} is not a MetalLB version: {fix} (current) or v0.9.4 (the article's)")

    @property
    def parts(self) -> tuple[int, int, int]:
        """(major, minor, patch)."""
        return (self.major, self.minor, self.patch)

    @property
    def tag(self) -> str:
        """The git tag and image tag: ``v0.16.1``."""
        return f"v{self.major}.{self.minor}.{self.patch}"

    def __str__(self) -> str:
        return self.tag

    # ---------- what the release does (from FACTS) ----------

    def holds(self, key: str) -> bool:
        """Whether fact KEY of :data:`FACTS` is true for this release."""
        return fact(key).holds(self)

    @property
    def uses_crds(self) -> bool:
        """Configured with IPAddressPool/L2Advertisement custom resources (else the ConfigMap ``config``)."""
        return self.holds("crds")

    @property
    def era(self) -> str:
        """``"CRDs"`` or ``"ConfigMap"``: how the release is configured."""
        return "CRDs" if self.uses_crds else "ConfigMap"

    @property
    def has_webhook(self) -> bool:
        """Whether the release's validating webhook checks pools before they are stored."""
        return self.holds("crds")

    @property
    def memberlist_secret_by(self) -> str:
        """Who creates the speakers' ``memberlist`` secret: ``"controller"`` or ``"you"`` (before v0.10.0)."""
        return "controller" if self.holds("memberlist_by_controller") else "you"

    @property
    def annotation_prefixes(self) -> tuple[str, ...]:
        """The Service annotation prefixes the release reads, the one to write first."""
        return ("metallb.io", "metallb.universe.tf") if self.holds("metallb_io_prefix") else ("metallb.universe.tf",)

    @property
    def annotation_prefix(self) -> str:
        """The prefix to write Service annotations with (``metallb.io`` from v0.14.9)."""
        return self.annotation_prefixes[0]

    @property
    def pool_annotation(self) -> str | None:
        """The annotation the controller records a Service's pool in (None: the release records none)."""
        return f"{self.annotation_prefix}/ip-allocated-from-pool" if self.holds("pool_annotation") else None

    @property
    def honours_exclude_lb_label(self) -> bool:
        """Whether speakers skip nodes labelled :data:`EXCLUDE_LB_LABEL`."""
        return self.holds("exclude_lb_label")

    @property
    def honoured_labels(self) -> tuple[str, ...]:
        """The node labels the speakers honour (they do not announce from such nodes)."""
        return (EXCLUDE_LB_LABEL,) if self.honours_exclude_lb_label else ()

    @property
    def has_l2_status(self) -> bool:
        """Whether announcing speakers keep ServiceL2Status objects."""
        return self.holds("l2status")

    @property
    def speaker_on_control_plane(self) -> bool:
        """Whether the speaker tolerates the control-plane taint (else it runs on the workers only)."""
        return self.holds("speaker_on_control_plane")

    # ---------- where it comes from ----------

    @property
    def manifest_files(self) -> tuple[str, ...]:
        """The install manifests' paths in the release's source tree, in apply order."""
        if self.uses_crds:
            return ("config/manifests/metallb-native.yaml",)
        return ("manifests/namespace.yaml", "manifests/metallb.yaml")

    @property
    def manifest_urls(self) -> tuple[str, ...]:
        """Where MetalLB publishes those manifests (needs internet)."""
        return tuple(f"https://raw.githubusercontent.com/metallb/metallb/{self.tag}/{f}" for f in self.manifest_files)

    @property
    def images(self) -> dict[str, str]:
        """The controller and speaker images its manifests run; {} where only the manifest can say (older)."""
        if not self.holds("quay_images"):
            return {}
        return {c: f"quay.io/metallb/{c}:{self.tag}" for c in ("controller", "speaker")}

    @property
    def known(self) -> bool:
        """Whether the notebooks know this release (versions.env: current, last ConfigMap, the article's)."""
        from .versions import METALLB_KNOWN

        return self.tag in METALLB_KNOWN


@functools.lru_cache(maxsize=64)
def _cached(value: str) -> Release:
    return Release.parse(value)


def release(value: object) -> Release:
    """VALUE as a :class:`Release` (text is parsed once and remembered)."""
    if isinstance(value, str) and len(value) <= MAX_LENGTH:
        return _cached(value)
    return Release.parse(value)


# ---------------------------------------------------------------- the facts, with their releases

@dataclass(frozen=True)
class Fact:
    """One claim the lesson makes about MetalLB, the releases it holds for, and the evidence: source lines at
    tags (``lines``; for a boundary, the last served release on each side of it), and notes (release notes
    quoted beside the code, never instead)."""

    key: str
    text: str
    since: str | None
    until: str | None
    lines: tuple[Line, ...]
    notes: str = ""
    gap: str = ""

    def holds(self, version: object) -> bool:
        """True when the fact is true for MetalLB ``version``.

        >>> fact("memberlist_by_controller").holds("v0.9.4"), fact("memberlist_by_controller").holds("v0.12.1")
        (False, True)
        """
        v = release(version)
        return ((self.since is None or release(self.since) <= v)
                and (self.until is None or v <= release(self.until)))

    @property
    def evidence(self) -> str:
        """The evidence in words: each source line (with or without the behaviour), the gap, the notes."""
        said = "; ".join(f"{x} ({'with' if x.holds else 'without'})" for x in self.lines)
        return "; ".join(p for p in (said, self.gap, self.notes) if p)

    @property
    def releases(self) -> str:
        """Where it holds, in words: "from v0.10.0", "up to v0.12.1", "v0.13.0 to v0.14.8", "every release here"."""
        if self.since and self.until:
            return f"{self.since} to {self.until}"
        if self.since:
            return f"from {self.since}"
        if self.until:
            return f"up to {self.until}"
        return "v0.12.1 and v0.16.1 alike"

    def say(self, version: object) -> str:
        """One sentence: the fact, where it holds, and whether it holds for ``version``.

        >>> fact("metallb_io_prefix").say("v0.12.1").startswith("Service annotations use the prefix metallb.io/")
        True
        """
        yes = "true" if self.holds(version) else "not true"
        return f"{self.text[0].upper()}{self.text[1:]} ({self.releases}): {yes} for {release(version)}."


_L = Line
_NATIVE = "config/manifests/metallb-native.yaml"
_OLD = "manifests/metallb.yaml"

#: What the lesson and the library state about MetalLB releases; add a row here, with its evidence, before code
#: or a notebook relies on it. A row with ``since`` or ``until`` names a boundary: its lines include the last
#: served release on the older side and the first on the newer (tests/test_facts.py reads both tags). RN is
#: ``website/content/release-notes/_index.md`` of v0.16.1 (its first 0.13 and 0.14 sections are 0.13.2 and
#: 0.14.2: the tags v0.13.0, v0.13.1, v0.13.8, v0.14.0 and v0.14.1 have no notes of their own).
FACTS: tuple[Fact, ...] = (
    Fact("memberlist_by_controller", "the controller creates the memberlist Secret itself", "v0.10.0", None, (
        _L("v0.9.6", _OLD, 314, "name: memberlist", False, absent="METALLB_ML_SECRET_NAME"),
        _L("v0.10.3", _OLD, 422, "METALLB_ML_SECRET_NAME", True),
        _L("v0.10.3", "controller/main.go", 133, "name of the memberlist secret to create", True),
        _L("v0.12.1", _OLD, 440, "METALLB_ML_SECRET_NAME", True)),
         notes="RN 0.10.0 ('This Secret is now automatically created by the MetalLB controller')",
         gap="v0.10.0-v0.10.2 are not on the proxy; the git tag v0.10.0 has the same line at "
             "manifests/metallb.yaml:422 and v0.9.8, the last 0.9 tag, none"),
    Fact("configmap", "configured by the ConfigMap config (address-pools)", None, "v0.12.1", (
        _L("v0.12.1", "controller/main.go", 126, "Kubernetes ConfigMap containing MetalLB's configuration", True),
        _L("v0.13.0", "controller/main.go", 121, 'flag.String("namespace"', False, absent="ConfigMap")),
         notes="RN 0.13.2 ('the ConfigMap configuration is not supported anymore')"),
    Fact("crds", "configured by custom resources (IPAddressPool, L2Advertisement), checked by a validating webhook",
         "v0.13.0", None, (
        _L("v0.12.1", _OLD, 126, "", False, absent="CustomResourceDefinition"),
        _L("v0.13.0", _NATIVE, 875, "kind: IPAddressPool", True),
        _L("v0.13.0", _NATIVE, 1725, "kind: ValidatingWebhookConfiguration", True)),
         notes="RN 0.13.2 ('CRD support! ... validating webhooks')"),
    Fact("pool_annotation", "the controller records the pool on the Service (ip-allocated-from-pool)",
         "v0.13.9", None, (
        _L("v0.13.7", "controller/service.go", 35, '"metallb.universe.tf/address-pool"', False,
           absent="ip-allocated-from-pool"),
        _L("v0.13.9", "controller/service.go", 35, '"metallb.universe.tf/ip-allocated-from-pool"', True)),
         notes="RN 0.13.9 ('Annotate the service with the pool')",
         gap="the tag v0.13.8 (a day before v0.13.9, no release notes, not on the proxy) has the line too"),
    Fact("metallb_io_prefix", "Service annotations use the prefix metallb.io/ (metallb.universe.tf/ still read, "
         "deprecated, with a deprecatedAnnotation event)", "v0.14.9", None, (
        _L("v0.14.8", "controller/service.go", 33, 'AnnotationPrefix             = "metallb.universe.tf"', False,
           absent="DeprecatedAnnotationPrefix"),
        _L("v0.14.9", "controller/service.go", 33, 'AnnotationPrefix             = "metallb.io"', True),
        _L("v0.14.9", "controller/service.go", 40, 'DeprecatedAnnotationPrefix             = "metallb.universe.tf"',
           True),
        _L("v0.16.1", "controller/main.go", 107, '"deprecatedAnnotation"', True)),
         notes="RN 0.14.9"),
    Fact("universe_prefix_only", "Service annotations use only the prefix metallb.universe.tf/", None, "v0.14.8", (
        _L("v0.12.1", "controller/service.go", 33, '"metallb.universe.tf/address-pool"', True),
        _L("v0.14.8", "controller/service.go", 33, 'AnnotationPrefix             = "metallb.universe.tf"', True,
           absent="DeprecatedAnnotationPrefix"),
        _L("v0.14.9", "controller/service.go", 33, 'AnnotationPrefix             = "metallb.io"', False))),
    Fact("speaker_on_control_plane", "the speaker DaemonSet tolerates the node-role.kubernetes.io/control-plane taint "
         "(before: only the old master taint)", "v0.13.0", None, (
        _L("v0.12.1", _OLD, 408, "key: node-role.kubernetes.io/master", False,
           absent="node-role.kubernetes.io/control-plane"),
        _L("v0.13.0", _NATIVE, 1721, "key: node-role.kubernetes.io/control-plane", True),
        _L("v0.16.1", _NATIVE, 2291, "key: node-role.kubernetes.io/control-plane", True))),
    Fact("exclude_lb_label", "speakers do not announce from nodes labelled "
         "node.kubernetes.io/exclude-from-external-load-balancers (kubeadm labels the control-plane)",
         "v0.14.2", None, (
        _L("v0.13.12", "speaker/layer2_controller.go", 98, "func (c *layer2Controller) ShouldAnnounce(", False,
           absent="IsNodeExcludedFromBalancers"),
        _L("v0.14.3", "speaker/layer2_controller.go", 215, "k8snodes.IsNodeExcludedFromBalancers(nodes[s])", True)),
         notes="RN 0.14.2 ('Implement NodeExcludeBalancers', PR 2073)",
         gap="v0.14.2, the first release with it, is not on the proxy; its git tag has the same check, and so do "
             "the tags v0.14.0 and v0.14.1 (made the same hour, never released: no release notes)"),
    Fact("l2status", "each announcing speaker keeps a ServiceL2Status object naming its node, by default "
         "(v0.14.4 and v0.14.5 only with the speaker flag --enable-l2-service-status, off by default; none before)",
         "v0.14.6", None, (
        _L("v0.14.3", "internal/k8s/k8s.go", 100, "type Config struct", False, absent="L2Status"),
        _L("v0.14.5", "speaker/main.go", 90, 'flag.Bool("enable-l2-service-status", false', False),
        _L("v0.14.8", "internal/k8s/k8s.go", 281, "if cfg.Layer2StatusChan != nil {", True,
           absent="EnableL2Status"),
        _L("v0.16.1", _NATIVE, 1571, "kind: ServiceL2Status", True)),
         notes="RN 0.14.2 lists the status (PR 2198), yet the code at that tag has none of it, and v0.14.4 put it "
               "behind the flag (speaker/main.go:90, 'because of issue 2311'): the code, not the note",
         gap="v0.14.6, the first release on by default, is not on the proxy: its git tag has no flag and reports "
             "the status unconditionally (speaker/main.go:172); v0.14.4 (the flag's first) is not served either"),
    Fact("log_names_service", "the speaker's serviceAnnounced / serviceWithdrawn log lines name the Service "
         "(\"service\":\"default/nginx\"); later ones name only its IPs", None, "v0.12.1", (
        _L("v0.12.1", "internal/k8s/k8s.go", 489, 'l := log.With(c.logger, "service", string(k))', True),
        _L("v0.12.1", "speaker/main.go", 324, '"serviceAnnounced"', True),
        _L("v0.13.0", "speaker/main.go", 278, 'l = log.With(l, "ips", lbIPs)', False),
        _L("v0.16.1", "speaker/main.go", 416, 'l = log.With(l, "ips", lbIPs)', False))),
    Fact("no_endpoints_no_announce", "a Service without a ready endpoint gets an IP (IPAllocated) but no speaker "
         "announces it: no nodeAssigned event, no ARP answer", None, None, (
        _L("v0.12.1", "speaker/layer2_controller.go", 96, "if !activeEndpointExists(eps) {", True),
        _L("v0.16.1", "speaker/layer2_controller.go", 84, "if !activeEndpointExists(eps) {", True))),
    Fact("no_pool_no_event", "a LoadBalancer Service that MetalLB cannot serve because no pool exists gets no "
         "event; the reason is only a debug-level log line (v0.16.1 also logs 'failed to handle service' without it)",
         None, None, (
        _L("v0.12.1", "controller/main.go", 64, '"not processing, still waiting for config"', True),
        _L("v0.16.1", "controller/service.go", 64, '"pools are empty"', True),
        _L("v0.16.1", "internal/k8s/controllers/service_controller_reload.go", 107,
           '"failed to handle service, no retry"', True))),
    Fact("garp", "a speaker that takes over an IP sends gratuitous ARP (a request and a reply) at once, then every "
         "1.1 s for 5 s", None, None, (
        _L("v0.12.1", "internal/layer2/announcer.go", 152, "ticker.Reset(1100 * time.Millisecond)", True),
        _L("v0.12.1", "internal/layer2/announcer.go", 157, "time.Now().Add(5 * time.Second)", True),
        _L("v0.16.1", "internal/layer2/announcer.go", 172, "ticker.Reset(1100 * time.Millisecond)", True),
        _L("v0.16.1", "internal/layer2/announcer.go", 177, "time.Now().Add(5 * time.Second)", True))),
    Fact("garp_on_every_announce", "a speaker sends gratuitous ARP every time it (re)processes a Service it "
         "announces (SetBalancer), not only when it takes an IP over", None, None, (
        _L("v0.12.1", "internal/layer2/announcer.go", 224, "defer a.doSpam(ip)", True),
        _L("v0.16.1", "internal/layer2/announcer.go", 260, "defer a.doSpam(adv)", True))),
    Fact("graceful_leave", "a speaker that is stopped leaves memberlist (Leave, 1 s) within its 2 s grace period",
         None, None, (
        _L("v0.12.1", "internal/speakerlist/speakerlist.go", 296, "sl.ml.Leave(time.Second)", True),
        _L("v0.12.1", _OLD, 405, "terminationGracePeriodSeconds: 2", True),
        _L("v0.16.1", "internal/speakerlist/speakerlist.go", 329, "sl.ml.Leave(time.Second)", True),
        _L("v0.16.1", _NATIVE, 2285, "terminationGracePeriodSeconds: 2", True))),
    Fact("auto_assign_only_automatic", "a pool with autoAssign false is skipped only when MetalLB picks an address "
         "itself: a Service that names the pool, or requests one of its addresses, still gets one", None, None, (
        _L("v0.12.1", "internal/allocator/allocator.go", 281, "if !a.pools[poolName].AutoAssign {", True),
        _L("v0.16.1", "internal/allocator/allocator.go", 386, "if !pool.AutoAssign", True)),
         notes="both lines are in Allocate (the automatic choice); Assign (a requested IP) and AllocateFromPool "
               "(a named pool) do not read AutoAssign; docs _advanced_ipaddresspool_configuration.md"),
    Fact("native_bgp_no_bfd", "the native BGP speaker has no BFD: a peer with a BFD profile is refused by the speakers "
         "(v0.16.1's webhook admits it), which keep their last configuration and log why", None, None, (
        _L("v0.12.1", "internal/bgp/native/native.go", 95, "bfd profiles not supported in native mode", True),
        _L("v0.12.1", "speaker/bgp_controller.go", 97, '"failed to sync bfd profiles"', True),
        _L("v0.12.1", "internal/k8s/k8s.go", 561, "config (re)load failed, config marked stale", True),
        _L("v0.16.1", "internal/config/validation.go", 37, "has bfd-profile set on native bgp mode", True),
        _L("v0.16.1", "internal/config/validation.go", 68, "bfd profiles section set", True),
        _L("v0.16.1", "internal/k8s/controllers/config_controller.go", 183, '"failed to parse the configuration"',
           True))),
    Fact("config_kept_when_missing", "when the ConfigMap config is deleted or invalid, the controller and the "
         "speakers keep the last valid configuration and go on serving; they log 'configuration is missing, "
         "MetalLB will not function' or 'config (re)load failed, config marked stale'", None, "v0.12.1", (
        _L("v0.12.1", "controller/main.go", 106, "configuration is missing, MetalLB will not function", True),
        _L("v0.12.1", "internal/k8s/k8s.go", 561, "config (re)load failed, config marked stale", True),
        _L("v0.12.1", "internal/k8s/k8s.go", 569, '"event", "configLoaded", "msg", "config (re)loaded"', True),
        _L("v0.13.0", "internal/k8s/controllers/config_controller.go", 106, "Pools:              ipAddressPools.Items,",
           False)),
         notes="v0.12.1 internal/k8s/k8s.go:542-544 (ConfigMap gone: configChanged(nil)), controller/main.go:105-107 "
               "(nil: an error line, returns before c.config = cfg at controller/main.go:114); only what was loaded "
               "is kept: each load logs 'config (re)loaded' (k8s.go:569), and a controller that starts with no "
               "ConfigMap queues no config key (k8s.go:278, an informer on that one name) and logs neither line; "
               "from v0.13.0 the pools are whatever IPAddressPools exist (none: none)"),
    Fact("configuration_state", "each MetalLB component reports the configuration errors it found in a "
         "ConfigurationState object", "v0.15.3", None, (
        _L("v0.15.2", _NATIVE, 1304, "name: servicel2statuses.metallb.io", False, absent="ConfigurationState"),
        _L("v0.15.3", "api/v1beta1/configurationstate_types.go", 68, "type ConfigurationState struct", True)),
         notes="RN 0.15.3 ('Add ConfigurationState CRD to expose configuration errors', #2881)"),
    Fact("quay_images", "the manifests run quay.io/metallb/controller and quay.io/metallb/speaker at the release's tag "
         "(Docker Hub's metallb/* images are deprecated from 0.13)", "v0.10.1", None, (
        _L("v0.9.6", _OLD, 316, "image: metallb/speaker:v0.9.6", False, absent="quay.io"),
        _L("v0.10.3", _OLD, 366, "image: quay.io/metallb/speaker:v0.10.3", True),
        _L("v0.12.1", _OLD, 365, "image: quay.io/metallb/speaker:v0.12.1", True),
        _L("v0.16.1", _NATIVE, 2233, "quay.io/metallb/speaker:v0.16.1", True)),
         notes="RN 0.13.2 (dockerhub deprecated)",
         gap="v0.10.0's git tag names quay.io/metallb/speaker:main (not its own tag), v0.10.1 its own; neither is on "
             "the proxy; the tags v0.9.7/v0.9.8 (not served) are 0.9 patches made after the move"),
    # IPv6 and dual stack (issue 28; rows from "ipv6", evidence moved to served tags)
    Fact("ndp", "layer 2 mode answers IPv6 with NDP: the announcing speaker answers Neighbor Solicitations for the IP "
         "with a Neighbor Advertisement carrying its node's MAC", "v0.4.0", None, (
        _L("v0.9.6", "internal/layer2/ndp.go", 1, "package layer2", True),
        _L("v0.12.1", "internal/layer2/ndp.go", 99, "func (n *ndpResponder) processRequest() dropReason {", True),
        _L("v0.16.1", "internal/layer2/ndp.go", 100, "func (n *ndpResponder) processRequest() dropReason {", True)),
         gap="v0.4.0 brought it (git tags: v0.3.1 has internal/arp only, v0.4.0 internal/ndp/ndp.go); no tag before "
             "v0.9.6 is served, so the older side is not evidenced by the tests: the lesson relies on it only for "
             "v0.12.1 and v0.16.1, whose lines are read"),
    Fact("unsolicited_na", "a speaker that takes over an IPv6 address sends unsolicited Neighbor Advertisements "
         "(Solicited clear, Override set) to all nodes (ff02::1) at once, then every 1.1 s for 5 s, as it sends "
         "gratuitous ARP for IPv4; its solicited answers carry Override clear", None, None, (
        _L("v0.12.1", "internal/layer2/ndp.go", 55, "n.advertise(net.IPv6linklocalallnodes, ip, true)", True),
        _L("v0.12.1", "internal/layer2/ndp.go", 156, "Override:      gratuitous,", True),
        _L("v0.16.1", "internal/layer2/ndp.go", 56, "n.advertise(net.IPv6linklocalallnodes, ip, true)", True),
        _L("v0.16.1", "internal/layer2/ndp.go", 161, "Override:      gratuitous,", True),
        _L("v0.16.1", "internal/layer2/announcer.go", 172, "ticker.Reset(1100 * time.Millisecond)", True))),
    Fact("dual_stack_services", "a dual-stack Service (two ClusterIPs) gets one LoadBalancer address of each family "
         "from one pool that holds both", "v0.12.0", None, (
        _L("v0.11.0", "internal/allocator/allocator.go", 268, "isIPv6 bool, ports []Port", False, absent="ipfamily"),
        _L("v0.12.0", "internal/allocator/allocator.go", 241, "case ipfamily.DualStack:", True),
        _L("v0.12.0", "internal/ipfamily/ipfamily.go", 20, 'DualStack Family = "dual"', True)),
         notes="RN 0.12.0 ('Dual stack services are now supported. L2 works out of the box')"),
    Fact("one_announcer_per_service", "in layer 2 mode one node announces all of a Service's addresses (IPv4 and "
         "IPv6 together): the election hashes node names with the Service's first address", "v0.12.0", None, (
        _L("v0.11.0", "speaker/layer2_controller.go", 125, "lbIP net.IP, pool *config.Pool", False),
        _L("v0.12.0", "speaker/layer2_controller.go", 105, "Using the first IP should work for both single and dual",
           True),
        _L("v0.16.1", "speaker/layer2_controller.go", 110, "Using the first IP should work for both single and dual",
           True))),
    Fact("prefer_dual_fallback", "a PreferDualStack Service on a dual-stack cluster whose pools cannot give both "
         "families gets one address (single-stack) instead of none", "v0.14.9", None, (
        _L("v0.14.8", "internal/allocator/allocator.go", 306, "func (a *Allocator) Allocate(", False,
           absent="PreferDualStack"),
        _L("v0.14.9", "internal/allocator/allocator.go", 309, "if !isPreferDualStack(serviceIPFamilyPolicy", True)),
         notes="RN 0.14.9 ('Added support for prefer-dual-stack IPFamilyPolicy ... gracefully falling back to "
               "single-stack', #2587); before, the family comes from the ClusterIPs alone: both or AllocationFailed "
               "(v0.12.1 controller/service.go:184)"),
    Fact("allocation_failed_event", "a Service whose family no suitable pool holds gets a Warning event "
         "AllocationFailed, 'Failed to allocate IP for \"ns/name\": ...', and stays <pending>", None, None, (
        _L("v0.12.1", "controller/service.go", 136, '"AllocationFailed", "Failed to allocate IP for %q: %s"', True),
        _L("v0.16.1", "controller/service.go", 180, '"AllocationFailed", "Failed to allocate IP for %q: %s"', True)),
         notes="v0.12.1 internal/allocator/allocator.go:262 ('no available IPs in pool %q for %s IPFamily'); "
               "v0.16.1 internal/allocator/allocation.go:62-67, allocator.go:172-175"),
)

_BY_KEY = {f.key: f for f in FACTS}


def fact(key: str) -> Fact:
    """The fact named ``key`` (a KeyError names the known ones)."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"no fact {key!r}; known: {', '.join(_BY_KEY)}") from None
