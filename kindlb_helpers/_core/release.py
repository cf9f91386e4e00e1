"""A MetalLB release as one object: parsed once, and asked everything that depends on the release.

``release("v0.16.1")`` reads the text once, strictly (ASCII digits, no pre-release or build suffix, no
padding, at most 20 characters) and answers: its era (ConfigMap or CRDs), whether it has the validating
webhook, where its manifests are published, its images, who makes the ``memberlist`` secret, which
Service annotation prefixes it reads, which node labels it honours, ... Every answer comes from
:data:`FACTS`, the table of what the lesson states about MetalLB releases, each row with the first (and
last) release it holds for and the evidence (a file:line of that release's source in the Go module cache,
or its release notes). Nothing else in the package compares versions.

RN below is ``website/content/release-notes/_index.md`` of v0.16.1, which holds every release's notes;
its first 0.13 and 0.14 sections are 0.13.2 and 0.14.2 (the proxy serves no v0.14.0-v0.14.2 module, so
those rows rest on RN).

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
    """One claim the lesson makes about MetalLB, the releases it holds for, and the evidence."""

    key: str
    text: str
    since: str | None
    until: str | None
    evidence: str

    def holds(self, version: object) -> bool:
        """True when the fact is true for MetalLB ``version``.

        >>> fact("memberlist_by_controller").holds("v0.9.4"), fact("memberlist_by_controller").holds("v0.12.1")
        (False, True)
        """
        v = release(version)
        return ((self.since is None or release(self.since) <= v)
                and (self.until is None or v <= release(self.until)))

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


#: What the lesson and the library state about MetalLB releases (rows from issue 16's facts.md, checked
#: in the Go module cache and RN); add a row here, with its evidence, before code or a notebook relies on it.
FACTS: tuple[Fact, ...] = (
    Fact("memberlist_by_controller", "the controller creates the memberlist Secret itself", "v0.10.0", None,
         "RN 0.10.0 ('This Secret is now automatically created by the MetalLB controller'); "
         "v0.12.1 manifests/metallb.yaml:440, "
         "v0.16.1 config/manifests/metallb-native.yaml:2132 (METALLB_ML_SECRET_NAME)"),
    Fact("configmap", "configured by the ConfigMap config (address-pools)", None, "v0.12.1",
         "RN 0.13.2 ('the ConfigMap configuration is not supported anymore')"),
    Fact("crds", "configured by custom resources (IPAddressPool, L2Advertisement), checked by a validating webhook",
         "v0.13.0", None, "RN 0.13.2 ('CRD support! ... validating webhooks'); "
         "v0.16.1 config/manifests/metallb-native.yaml:2308"),
    Fact("pool_annotation", "the controller records the pool on the Service (ip-allocated-from-pool)", "v0.13.9", None,
         "RN 0.13.9 ('Annotate the service with the pool'); v0.13.9 controller/service.go:35"),
    Fact("metallb_io_prefix", "Service annotations use the prefix metallb.io/ (metallb.universe.tf/ still read, "
         "deprecated, with a deprecatedAnnotation event)", "v0.14.9", None,
         "RN 0.14.9; v0.14.8 controller/service.go:33 (metallb.universe.tf only); "
         "v0.14.9 controller/service.go:33,40"),
    Fact("universe_prefix_only", "Service annotations use only the prefix metallb.universe.tf/", None, "v0.14.8",
         "v0.12.1 controller/service.go:33-34; v0.14.8 controller/service.go:33"),
    Fact("speaker_on_control_plane", "the speaker DaemonSet tolerates the node-role.kubernetes.io/control-plane taint "
         "(before: only the old master taint)", "v0.13.0", None,
         "v0.12.1 manifests/metallb.yaml:406-409; v0.13.0 and v0.16.1 config/manifests/metallb-native.yaml:2286-2292"),
    Fact("exclude_lb_label", "speakers do not announce from nodes labelled "
         "node.kubernetes.io/exclude-from-external-load-balancers (kubeadm labels the control-plane)", "v0.14.2", None,
         "RN 0.14.2 ('Implement NodeExcludeBalancers', PR 2073); v0.14.8 speaker/layer2_controller.go:232, "
         "speaker/main.go:88 (--ignore-exclude-lb), v0.16.1 speaker/layer2_controller.go:268; absent in v0.13.12"),
    Fact("l2status", "each announcing speaker keeps a ServiceL2Status object naming its node", "v0.14.2", None,
         "RN 0.14.2 (PR 2198); v0.16.1 config/manifests/metallb-native.yaml:1567"),
    Fact("log_names_service", "the speaker's serviceAnnounced / serviceWithdrawn log lines name the Service "
         "(\"service\":\"default/nginx\"); later ones name only its IPs", None, "v0.12.1",
         "v0.12.1 internal/k8s/k8s.go:489, speaker/main.go:324; v0.13.0 speaker/main.go:278,344 "
         "and v0.16.1 speaker/main.go:416,481 (\"ips\", no service)"),
    Fact("no_endpoints_no_announce", "a Service without a ready endpoint gets an IP (IPAllocated) but no speaker "
         "announces it: no nodeAssigned event, no ARP answer", None, None,
         "v0.12.1 speaker/layer2_controller.go:95-97; v0.16.1 speaker/layer2_controller.go:83-86"),
    Fact("no_pool_no_event", "a LoadBalancer Service that MetalLB cannot serve because no pool exists gets no "
         "event; the reason is only a debug-level log line (v0.16.1 also logs 'failed to handle service' without it)",
         None, None, "v0.12.1 controller/main.go:64 (noConfig, debug); v0.16.1 controller/service.go:62-66 "
         "(pools are empty, debug), "
         "v0.16.1 internal/k8s/controllers/service_controller_reload.go:107 (the error line)"),
    Fact("garp", "a speaker that takes over an IP sends gratuitous ARP (a request and a reply) at once, then every "
         "1.1 s for 5 s", None, None,
         "v0.12.1 internal/layer2/announcer.go:141-178; v0.16.1 internal/layer2/announcer.go:157-197, arp.go:54-66"),
    Fact("graceful_leave", "a speaker that is stopped leaves memberlist (Leave, 1 s) within its 2 s grace period",
         None, None, "v0.12.1 internal/speakerlist/speakerlist.go:290-300, manifests/metallb.yaml:405; "
         "v0.16.1 internal/speakerlist/speakerlist.go:323-333, metallb-native.yaml:2285"),
    Fact("config_kept_when_missing", "when the ConfigMap config is deleted or invalid, the controller and the "
         "speakers keep the last valid configuration and go on serving; they log 'configuration is missing, "
         "MetalLB will not function' or 'config (re)load failed, config marked stale'", None, "v0.12.1",
         "v0.12.1 internal/k8s/k8s.go:542-544 (ConfigMap gone: configChanged(nil)), controller/main.go:105-107 "
         "(nil: an error line, returns before c.config = cfg at controller/main.go:114), speaker/main.go:400-402, "
         "internal/k8s/k8s.go:554 and internal/k8s/k8s.go:561 (config marked stale)"),
    Fact("configuration_state", "each MetalLB component reports the configuration errors it found in a "
         "ConfigurationState object", "v0.15.3", None,
         "RN 0.15.3 ('Add ConfigurationState CRD to expose configuration errors', #2881); "
         "v0.16.1 api/v1beta1/configurationstate_types.go:64, v0.16.1 config/manifests/metallb-native.yaml:868; "
         "absent in v0.14.9"),
    Fact("quay_images", "the manifests run quay.io/metallb/controller and quay.io/metallb/speaker at the release's tag "
         "(Docker Hub's metallb/* images are deprecated from 0.13)", "v0.12.1", None,
         "v0.12.1 manifests/metallb.yaml:365,444; v0.13.0 config/manifests/metallb-native.yaml:1579,1675; "
         "v0.16.1 config/manifests/metallb-native.yaml:2136,2233; RN 0.13.2 (dockerhub deprecated); "
         "earlier releases not checked here (their modules are not on the proxy)"),
)

_BY_KEY = {f.key: f for f in FACTS}


def fact(key: str) -> Fact:
    """The fact named ``key`` (a KeyError names the known ones)."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"no fact {key!r}; known: {', '.join(_BY_KEY)}") from None
