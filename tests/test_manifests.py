"""Rendered MetalLB objects checked against MetalLB's own sources.

The CRD schemas (v0.13+) and the ConfigMap parser's yaml tags (before v0.13) come from the
go.universe.tf/metallb module, fetched with `go mod download` from the Go module proxy.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from kindlb_helpers._core.errors import MetalLBError, PoolError
from kindlb_helpers._core.hood import to_yaml
from kindlb_helpers._core.manifests import manifest_url, metallb_manifests, parse_version, uses_crds


def metallb_module(version: str) -> Path:
    if not shutil.which("go"):
        if os.environ.get("CI"):
            pytest.fail("go is needed to fetch MetalLB's sources for the schema check: install Go")
        pytest.skip("go not installed")
    env = dict(os.environ, GOFLAGS="-mod=mod", GOSUMDB="off")
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"go.universe.tf/metallb@{version}"],
        capture_output=True, text=True, env=env, cwd="/tmp", timeout=300,
    )
    info = json.loads(out.stdout or "{}")
    if "Dir" not in info:
        pytest.fail(f"go mod download of MetalLB {version} failed: {info.get('Error') or out.stderr}")
    return Path(info["Dir"])


def crd_schemas(version: str) -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> openAPIV3Schema for every served version of every MetalLB CRD."""
    schemas = {}
    for path in sorted((metallb_module(version) / "config" / "crd" / "bases").glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            assert spec["scope"] == "Namespaced"
            for v in spec["versions"]:
                if v.get("served"):
                    schemas[(f"{spec['group']}/{v['name']}", spec["names"]["kind"])] = v["schema"]["openAPIV3Schema"]
    return schemas


def check(value, schema: dict, where: str) -> list[str]:
    """Structural check: declared fields only (the API server would prune others), types, required."""
    problems = []
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        props = schema.get("properties")
        for key in schema.get("required", []):
            if key not in value:
                problems.append(f"{where}: required field {key!r} missing")
        for key, sub in value.items():
            if props is not None and key not in props and where.count(".") > 0:
                problems.append(f"{where}.{key}: not a field of the CRD (would be pruned)")
            elif props and key in props:
                problems += check(sub, props[key], f"{where}.{key}")
    elif kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        for i, item in enumerate(value):
            problems += check(item, schema.get("items", {}), f"{where}[{i}]")
    elif kind == "string" and not isinstance(value, str):
        problems.append(f"{where}: expected a string")
    return problems


@pytest.mark.parametrize("version", ["v0.16.1", "v0.13.5"])
@pytest.mark.parametrize("pools", [["172.19.255.1-172.19.255.250"], ["172.19.255.0/24", "fc00:f853:ccd:e793::ff00/120"]])
@pytest.mark.parametrize("auto_assign", [True, False])
def test_crd_objects_match_metallb_schema(version, pools, auto_assign):
    schemas = crd_schemas(version)
    objs = metallb_manifests(pools, version, name="kindlb", auto_assign=auto_assign)
    assert [o["kind"] for o in objs] == ["IPAddressPool", "L2Advertisement"]
    for obj in objs:
        key = (obj["apiVersion"], obj["kind"])
        assert key in schemas, f"{key} is not served by MetalLB {version}: {sorted(schemas)}"
        assert obj["metadata"]["namespace"] == "metallb-system"
        spec_schema = schemas[key]["properties"]["spec"]
        assert check(obj["spec"], spec_schema, "spec") == []
    pool, l2 = objs
    assert pool["spec"]["addresses"] == pools
    assert pool["spec"].get("autoAssign", True) is auto_assign
    if not auto_assign:
        assert schemas[("metallb.io/v1beta1", "IPAddressPool")]["properties"]["spec"]["properties"]["autoAssign"]["type"] == "boolean"
    assert l2["spec"]["ipAddressPools"] == [pool["metadata"]["name"]]


def test_configmap_matches_the_legacy_parser():
    """Before v0.13 the controller parsed ConfigMap `config`; its yaml tags are the schema."""
    src = (metallb_module("v0.12.1") / "internal" / "config" / "config.go").read_text()
    tags = set(re.findall(r'yaml:"([a-z0-9-]+)"', src))
    # yaml.v2 reads an untagged field under its lowercased name
    tags |= {m.lower() for m in re.findall(r"^\t([A-Z]\w*)\s+[][*\w.]+\s*$", src, re.M)}
    (off,) = metallb_manifests("10.0.0.0/30", "v0.9.4", auto_assign=False)
    assert set(yaml.safe_load(off["data"]["config"])["address-pools"][0]) <= tags
    (cm,) = metallb_manifests(["172.19.255.1-172.19.255.250", "fc00::ff00/120"], "v0.9.4")
    assert (cm["kind"], cm["metadata"]["name"], cm["metadata"]["namespace"]) == ("ConfigMap", "config", "metallb-system")
    cfg = yaml.safe_load(cm["data"]["config"])
    assert set(cfg) <= tags
    (pool,) = cfg["address-pools"]
    assert set(pool) <= tags
    assert pool == {"name": "default", "protocol": "layer2", "addresses": ["172.19.255.1-172.19.255.250", "fc00::ff00/120"]}
    # the controller flag default names the ConfigMap we write
    main = (metallb_module("v0.12.1") / "controller" / "main.go").read_text()
    assert 'flag.String("config", "config"' in main


def test_the_article_yaml_round_trips():
    text = to_yaml(metallb_manifests("172.19.255.1-172.19.255.250", "0.9.4"))
    doc = yaml.safe_load(text)
    assert yaml.safe_load(doc["data"]["config"])["address-pools"][0]["addresses"] == ["172.19.255.1-172.19.255.250"]
    assert len(list(yaml.safe_load_all(to_yaml(metallb_manifests("10.0.0.0/30", "v0.14.9"))))) == 2


@pytest.mark.parametrize("version, crds", [("v0.9.4", False), ("0.12.1", False), ("v0.13.0", True), ("v0.16.1", True), ("v1.0.0", True)])
def test_version_switch(version, crds):
    assert uses_crds(version) is crds


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(MetalLBError, match="not a MetalLB version"):
        parse_version("latest")
    with pytest.raises(PoolError, match="not a valid Kubernetes name"):
        metallb_manifests("10.0.0.1-10.0.0.2", "v0.16.1", name="My_Pool")
    with pytest.raises(PoolError, match="overlap"):
        metallb_manifests(["10.0.0.1-10.0.0.9", "10.0.0.5/32"], "v0.16.1")
    with pytest.raises(PoolError, match="no address range"):
        metallb_manifests([], "v0.16.1")
    with pytest.raises(PoolError, match="reversed"):
        metallb_manifests("10.0.0.9-10.0.0.1", "v0.16.1")


def test_manifest_urls():
    assert manifest_url("v0.16.1") == ["https://raw.githubusercontent.com/metallb/metallb/v0.16.1/config/manifests/metallb-native.yaml"]
    assert [u.rsplit("/", 1)[1] for u in manifest_url("v0.9.4")] == ["namespace.yaml", "metallb.yaml"]
