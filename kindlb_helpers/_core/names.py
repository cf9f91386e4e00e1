"""One validator per kind of name: Kubernetes names (DNS-1123 label / subdomain, Service names), kind
cluster names and container image references, checked as the API server / kind / Docker check them.

Pure logic: standard library only. A bad name raises :class:`~kindlb_helpers._core.errors.BadInput`.
"""
from __future__ import annotations

import re

from .errors import BadInput
from .inputs import cut

__all__ = ["dns1123_label", "service_name", "dns1123_subdomain", "kind_cluster_name", "image_ref"]

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SERVICE = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# registry[:port]/path[:tag][@digest], as the distribution reference grammar allows (loosely)
_IMAGE = re.compile(
    r"(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?", re.ASCII  # \w: ASCII only, as the registry's grammar
)


def _kube_name(value: object, pattern: re.Pattern, limit: int, what: str, kind: str, rule: str, example: str) -> str:
    """``value`` when it matches ``pattern`` within ``limit`` characters, else BadInput naming the rule."""
    if not isinstance(value, str) or not pattern.fullmatch(value) or len(value) > limit:
        raise BadInput(f"{what} {cut(value)} is not a valid {kind}: use at most {limit} {rule} (e.g. {example!r})")
    return value


def dns1123_label(value: object, what: str = "name") -> str:
    """``value`` if it is a DNS-1123 label (namespaces, Service/Deployment names), else BadInput.

    >>> dns1123_label("nginx")
    'nginx'
    """
    return _kube_name(value, _LABEL, 63, what, "Kubernetes name", "lowercase letters, digits and '-', "
                      "starting and ending with a letter or digit", "nginx")


def service_name(value: object, what: str = "Service name") -> str:
    """``value`` if it can name a Service (a DNS-1035 label: it starts with a letter), else BadInput.

    >>> service_name("lb-demo")
    'lb-demo'
    """
    return _kube_name(value, _SERVICE, 63, what, "Service name", "lowercase letters, digits and '-', "
                      "starting with a letter and ending with a letter or digit", "nginx")


def dns1123_subdomain(value: object, what: str = "name") -> str:
    """``value`` if it is a DNS-1123 subdomain (most object names, e.g. an IPAddressPool), else BadInput.

    >>> dns1123_subdomain("pool-1.example")
    'pool-1.example'
    """
    return _kube_name(value, _SUBDOMAIN, 253, what, "Kubernetes name", "lowercase letters, digits, '-' "
                      "and '.', starting and ending with a letter or digit", "default")


def kind_cluster_name(value: object) -> str:
    """``value`` if kind accepts it as a cluster name (a DNS-1123 label short enough for its node names)."""
    if not isinstance(value, str) or not _LABEL.fullmatch(value) or len(value) > 50:
        raise BadInput(
            f"{cut(value)} is not a valid kind cluster name: use lowercase letters, digits and '-', starting with a "
            "letter or digit, at most 50 characters (e.g. 'kindlb')"
        )
    return value


def image_ref(value: object) -> str:
    """``value`` if it looks like a container image reference (``nginx:1.27``, ``kindlb.local/nginx:1.22.1``)."""
    if not isinstance(value, str) or len(value) > 255 or not _IMAGE.fullmatch(value):
        raise BadInput(
            f"{cut(value)} is not a container image reference: write it like NAME:TAG (registry.example/team/app:v1)"
        )
    return value


_DOCKER_NETWORK = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}", re.ASCII)


def docker_network_name(value: object) -> str:
    """``value`` if Docker accepts it as a network name (as ``docker network create`` does), else BadInput.

    >>> docker_network_name("kind")
    'kind'
    """
    if not isinstance(value, str) or not _DOCKER_NETWORK.fullmatch(value):
        raise BadInput(f"Docker network name {cut(value)} is not one Docker gives: use letters, digits, '_', '.' and "
                       "'-', starting with a letter or digit (e.g. kind; `docker network ls` lists them)")
    return value
