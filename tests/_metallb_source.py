"""MetalLB's source at a release tag, for the tests that check what we say against it: the module
``go.universe.tf/metallb@<tag>`` from the Go module proxy (``go mod download``), into Go's module cache
(``go env GOMODCACHE``: the default one, or the one GOMODCACHE names), fetched once and then read from there.

Never a skip: on a fresh machine the tags are downloaded (a few seconds each, all at once), and a tag that
cannot be had is a failure that says which and why. Not every MetalLB tag is on the proxy (v0.10.0,
v0.13.8, v0.14.0-v0.14.2, v0.14.4, v0.14.6, v0.14.7, v0.15.0, v0.15.1, v0.16.0 answer 403 there); the facts'
evidence therefore sits at served tags (``release.SERVED``), and where a boundary tag is not served its row
says so.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

MODULE = "go.universe.tf/metallb"
_FETCHED: dict[str, Path] = {}


def _env() -> dict[str, str]:
    # the proxy only (no VCS fallback), no checksum database (it is not reachable here), this Go only
    return dict(os.environ, GOFLAGS="-mod=mod", GOSUMDB="off", GONOSUMDB="*", GOTOOLCHAIN="local",
                GOPROXY=os.environ.get("GOPROXY", "https://proxy.golang.org"))


def modules(tags) -> dict[str, Path]:
    """{tag: the module's directory} for every tag in TAGS; downloads what the cache does not hold yet, in one
    ``go mod download -json`` (Go fetches them in parallel). Fails (never skips) when Go or a tag is missing."""
    wanted = sorted(set(tags) - set(_FETCHED))
    if wanted:
        if not shutil.which("go"):
            pytest.fail("Go is needed to read MetalLB's source at its tags (go mod download): install Go")
        with tempfile.TemporaryDirectory() as cwd:  # outside any module: download needs no go.mod
            out = subprocess.run(["go", "mod", "download", "-json", *(f"{MODULE}@{t}" for t in wanted)],
                                 capture_output=True, text=True, env=_env(), cwd=cwd, timeout=900, check=False)
        decoder, text, i, errors = json.JSONDecoder(), out.stdout, 0, []
        while i < len(text):
            if text[i].isspace():
                i += 1
                continue
            info, i = decoder.raw_decode(text, i)
            if info.get("Dir") and Path(info["Dir"]).is_dir():
                _FETCHED[info["Version"]] = Path(info["Dir"])
            else:
                errors.append(f"{info.get('Version')}: {info.get('Error', 'no Dir')}")
        missing = [t for t in wanted if t not in _FETCHED]
        if missing:
            pytest.fail(f"go mod download of {MODULE} {', '.join(missing)} failed: "
                        f"{'; '.join(errors) or out.stderr.strip()[-500:]}")
    return {t: _FETCHED[t] for t in tags}


def module(tag: str) -> Path:
    """The directory of ``go.universe.tf/metallb@TAG`` (downloaded if needed)."""
    return modules([tag])[tag]
