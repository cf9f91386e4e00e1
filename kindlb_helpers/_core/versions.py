"""Version pins, read from ``versions.env`` beside this file: the one place they live.

The same file is sourced by the offline lab's shell scripts and included by the Makefile, so
its format is the subset all three understand: ``KEY=value`` lines, ``#`` comments, and
``${KEY}`` for a key defined above.

>>> METALLB_CONFIGMAP_VERSION
'v0.12.1'
>>> NODE_IMAGE == f"kindlb.local/node:{K8S_VERSION}"
True
"""
from __future__ import annotations

import re
from pathlib import Path

#: The file every consumer reads (shipped as package data).
ENV_FILE = Path(__file__).with_name("versions.env")

_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=([^\s\"']*)$")
_REF = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def parse(text: str) -> dict[str, str]:
    """``KEY=value`` lines to a dict, expanding ``${KEY}`` from earlier lines.

    >>> parse("A=v1\\n# note\\nB=x:${A}\\n")
    {'A': 'v1', 'B': 'x:v1'}
    """
    pins: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            raise ValueError(f"versions.env line {n}: {raw!r} is not KEY=value (no quotes, no spaces)")

        def ref(r: re.Match, n: int = n) -> str:
            if r.group(1) not in pins:
                raise ValueError(f"versions.env line {n}: ${{{r.group(1)}}} is not defined above it")
            return pins[r.group(1)]

        pins[m.group(1)] = _REF.sub(ref, m.group(2))
    return pins


def pins() -> dict[str, str]:
    """Every pin of ``versions.env``, in file order."""
    return parse(ENV_FILE.read_text())


_PINS = pins()
KIND_VERSION: str = _PINS["KIND_VERSION"]
K8S_VERSION: str = _PINS["K8S_VERSION"]
ETCD_VERSION: str = _PINS["ETCD_VERSION"]
COREDNS_VERSION: str = _PINS["COREDNS_VERSION"]
PAUSE_VERSION: str = _PINS["PAUSE_VERSION"]
CRICTL_VERSION: str = _PINS["CRICTL_VERSION"]
DEBIAN_SUITE: str = _PINS["DEBIAN_SUITE"]
#: The current MetalLB release (CRDs), the newest patch the Go module proxy serves.
METALLB_VERSION: str = _PINS["METALLB_VERSION"]
#: The last ConfigMap-era MetalLB (namespace.yaml + metallb.yaml, configured like the article).
METALLB_CONFIGMAP_VERSION: str = _PINS["METALLB_CONFIGMAP_VERSION"]
#: The release the Habr article installs (online only: its images come from Docker Hub).
METALLB_ARTICLE_VERSION: str = _PINS["METALLB_ARTICLE_VERSION"]
#: The MetalLB releases the notebooks know, newest first: what every version check accepts.
METALLB_KNOWN: tuple[str, ...] = (METALLB_VERSION, METALLB_CONFIGMAP_VERSION, METALLB_ARTICLE_VERSION)
#: How every refusal of another release says what to use instead.
METALLB_CHOICES: str = (f"use {METALLB_VERSION} (current, IPAddressPool), {METALLB_CONFIGMAP_VERSION} (the last "
                        f"ConfigMap release, configured like the article) or {METALLB_ARTICLE_VERSION} "
                        "(the article's, online only)")
NODE_IMAGE: str = _PINS["NODE_IMAGE"]
NGINX_IMAGE: str = _PINS["NGINX_IMAGE"]
PODNET_IMAGE: str = _PINS["PODNET_IMAGE"]
PROBE_IMAGE: str = _PINS["PROBE_IMAGE"]
#: The images the series pulls online (Docker Hub): the demo app and the probe container.
NGINX_ONLINE_IMAGE: str = _PINS["NGINX_ONLINE_IMAGE"]
PROBE_ONLINE_IMAGE: str = _PINS["PROBE_ONLINE_IMAGE"]
ACTIONLINT_VERSION: str = _PINS["ACTIONLINT_VERSION"]

__all__ = [
    "ACTIONLINT_VERSION", "COREDNS_VERSION", "CRICTL_VERSION", "DEBIAN_SUITE", "ENV_FILE", "ETCD_VERSION",
    "K8S_VERSION", "KIND_VERSION", "METALLB_ARTICLE_VERSION", "METALLB_CHOICES",
    "METALLB_KNOWN", "METALLB_CONFIGMAP_VERSION", "METALLB_VERSION",
    "NGINX_IMAGE", "NGINX_ONLINE_IMAGE", "NODE_IMAGE", "PAUSE_VERSION", "PODNET_IMAGE", "PROBE_IMAGE",
    "PROBE_ONLINE_IMAGE", "parse", "pins",
]
