"""Kubeconfigs as kind leaves them: connect() needs only the tutorial's own context."""
from __future__ import annotations

import yaml

import kindlb_helpers as kh
from kindlb_helpers._cluster.kubeconfig import context_names, current_context


def _kubeconfig(path, current: str | None) -> str:
    cfg = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "kind-kindlb", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "kind-kindlb", "user": {"token": "x"}}],
        "contexts": [{"name": "kind-kindlb", "context": {"cluster": "kind-kindlb", "user": "kind-kindlb"}}],
    }
    if current is not None:
        cfg["current-context"] = current
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_connect_without_a_current_context(tmp_path):
    """`kind delete cluster` of the current cluster leaves no current-context; kubectl copes, so do we."""
    for current in (None, ""):
        k = kh.cluster.connect("kindlb", kubeconfig=_kubeconfig(tmp_path / "config", current))
        assert k.context == "kind-kindlb"
        assert current_context(tmp_path / "config") is None


def test_contexts_from_a_kubeconfig_list(tmp_path):
    first = _kubeconfig(tmp_path / "a", "kind-kindlb")
    names, why = context_names(f"{tmp_path / 'missing'}:{first}")
    assert names == ["kind-kindlb"] and why == ""
    names, why = context_names(str(tmp_path / "missing"))
    assert names == [] and "missing" in why
