"""Every bad input a message, nothing applied: the pure core, the parameter check, the error translation.

No cluster: a loopback HTTP server plays an API server that answers errors.
"""
from __future__ import annotations

import ipaddress
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

import kindlb_helpers as kh
from kindlb_helpers._cluster import kube, metallb
from kindlb_helpers._core.errors import BadInput, BadParameters, BadVersion, ClusterUnreachable, KubeAPIError, PoolError
from kindlb_helpers._core.params import KNOWN

ROOT = Path(__file__).resolve().parent.parent


# ---------- subnets, pools, taken ----------

@pytest.mark.parametrize("subnet", ["172.19.0.1", " 172.19.0.1 ", "fc00:f853:ccd:e793::1"])
def test_subnet_without_prefix_is_refused_with_the_fix(subnet):
    for call in (kh.pool.plan, kh.pool.taken_from_text, kh.pool.default_size):
        with pytest.raises(PoolError, match="write it as ip a shows it, e.g. 172.19.0.1/16"):
            call(subnet)
    with pytest.raises(BadParameters, match="subnet: .*write it as ip a shows it"):
        kh.params.check(subnet=subnet)


def test_networks_are_ranges_never_enumerated():
    start = time.monotonic()
    objs = kh.metallb.manifests(ipaddress.ip_network("172.19.0.0/16"))
    assert objs[0]["spec"]["addresses"] == ["172.19.0.0/16"]
    objs = kh.metallb.manifests(ipaddress.ip_network("fc00:f853:ccd:e793::/64"), "v0.9.4")
    assert "fc00:f853:ccd:e793::/64" in objs[0]["data"]["config"]
    kh.pool.plan("10.0.0.0/8", taken=ipaddress.ip_network("10.255.0.0/16"))
    kh.pool.plan("fc00::/64", taken=[ipaddress.ip_network("fc00::/80")])
    assert time.monotonic() - start < 1


def test_pool_specs_of_every_documented_type():
    rng = kh.pool.PoolRange("172.19.255.1-172.19.255.250")  # the README's form
    assert rng.size == 250 and kh.pool.PoolRange("172.19.255.1", "172.19.255.250") == rng
    specs = ["172.19.251.0/30", "172.19.254.7", ipaddress.ip_address("172.19.253.1"),
             ipaddress.ip_network("172.19.252.0/30"), rng]
    assert len(kh.metallb.manifests(specs)[0]["spec"]["addresses"]) == 5
    for bad in (42, 3.5, True, {"a": 1}, b"172.19.0.1", None):
        with pytest.raises(PoolError, match="is not a pool"):
            kh.metallb.manifests(bad)


def test_taken_interfaces_are_interpreted_not_ignored():
    iface = ipaddress.ip_interface("172.19.255.5/16")
    with pytest.raises(PoolError, match="overlaps taken 172.19.255.5"):
        kh.pool.validate("172.19.255.1-172.19.255.9", "172.19.0.0/16", [iface])
    with pytest.raises(PoolError, match="overlaps"):
        kh.pool.validate("172.19.255.1-172.19.255.9", "172.19.0.0/16", iface)  # a single entry, no list
    assert ipaddress.ip_address("172.19.255.3") not in kh.pool.plan("172.19.0.0/16",
                                                                    taken=[ipaddress.ip_interface("172.19.255.3/16")])


@pytest.mark.parametrize("spec", ["fe80::1%eth0", "fe80::1%eth0-fe80::9%eth0", "fe80::%eth0/64",
                                  ipaddress.ip_address("fe80::1%eth0")])
def test_scoped_ipv6_is_refused(spec):
    with pytest.raises(PoolError, match="scoped address"):
        kh.metallb.manifests(spec)
    with pytest.raises(PoolError, match="scoped"):
        kh.pool.plan("fe80::%eth0/64")


@pytest.mark.parametrize("name", ["default\n", "Default", "-a", "a_b", "", "a" * 254, 7])
def test_pool_names_checked_as_the_api_server_does(name):
    with pytest.raises(PoolError, match="not a valid Kubernetes name"):
        kh.metallb.manifests("172.19.255.1-172.19.255.9", name=name)


def test_subdomain_pool_names_pass():
    assert kh.metallb.manifests("172.19.255.1-172.19.255.9", name="pool-1.team")[0]["metadata"]["name"] == "pool-1.team"


@pytest.mark.parametrize("version", ["0.x", "latest", "", "v1", "v0.16.1\nrm", (0, "x"), None])
def test_malformed_metallb_version_is_a_value_error(version):
    with pytest.raises(BadVersion, match="not a MetalLB version: write it like v0.16.1") as err:
        kh.metallb.manifests("172.19.255.1-172.19.255.9", version)
    assert isinstance(err.value, ValueError)


# ---------- the notebooks' parameters ----------

def notebook_defaults() -> dict[str, dict]:
    out = {}
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                scope: dict = {}
                exec("".join(cell["source"]), {}, scope)
                out[nb.stem] = scope
    return out


@pytest.mark.parametrize("name", sorted(notebook_defaults()))
def test_every_notebook_default_passes_and_every_parameter_is_known(name):
    values = notebook_defaults()[name]
    unknown = set(values) - set(KNOWN)
    assert not unknown, f"{name} declares parameters params.check does not know: {unknown}"
    kh.params.check(values)


BAD = {
    "cluster": ["Kind_LB", "a" * 51, "", 3, "kindlb\n"],
    "apply": ["maybe", "true", 1, None],
    "interactive": ["no"],
    "family": [5, "4", True],
    "timeout": [0, -1, "60", float("nan"), 10**6],
    "replicas": [0, 51, 2.5, "3"],
    "requests": [0, 1001],
    "pool_name": ["default\n", "UPPER"],
    "metallb_version": ["v0.x", "v2.0.0", "v0.8.0", 16, "v0.13.5", "v0.16.2"],
    "probe_from": ["somewhere", None],
    "capture": ["tcpdump", None],
    "node_failure": ["yes", 1],
    "namespace": ["Default", "a.b"],
    "app_name": ["nginx_1", "1nginx"],
    "demo_service": ["Demo"],
    "image": ["NGINX", "nginx:", "a b"],
    "subnet": ["172.19.0.1", 172, "fe80::1%eth0/64"],
    "taken": ["172.19.0.1", ["nonsense"]],
    "pool": ["172.19.255.9-172.19.255.1", 5],
    "pool_size": [0, "250"],
    "workers": [-1, 11],
}


@pytest.mark.parametrize("name,value", [(k, v) for k, vs in BAD.items() for v in vs])
def test_each_bad_parameter_is_named_with_its_fix(name, value):
    with pytest.raises(BadParameters) as err:
        kh.params.check({name: value})
    assert list(err.value.problems) == [name]
    assert isinstance(err.value, ValueError)


def test_all_bad_parameters_in_one_error():
    with pytest.raises(BadParameters) as err:
        kh.params.check(globals_like := {"cluster": "kindlb", "apply": "maybe", "replicas": 0, "x": object()})
    assert set(err.value.problems) == {"apply", "replicas"} and globals_like["x"] is not None
    assert "2 parameters to fix" in str(err.value)


def test_family_must_agree_with_subnet_and_pool():
    kh.params.check(family=6, subnet="fc00:f853:ccd:e793::1/64", pool="fc00:f853:ccd:e793::ff00/120")
    with pytest.raises(BadParameters, match="family=6 but subnet 172.19.0.1/16 is IPv4"):
        kh.params.check(family=6, subnet="172.19.0.1/16")
    with pytest.raises(BadParameters, match="family=4 but pool"):
        kh.params.check(family=4, pool="fc00::1-fc00::9")


# ---------- the API boundary: client errors become kindlb's ----------

class _Api(BaseHTTPRequestHandler):
    status = 404

    def do_GET(self):  # noqa: N802  (http.server's name)
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                           "message": f"deployments.apps \"controller\" answered {self.status}",
                           "code": self.status}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def refusing_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture()
def api_server(tmp_path):
    server = HTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "kind-t",
        "clusters": [{"name": "kind-t", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}},
                     {"name": "kind-down", "cluster": {"server": f"http://127.0.0.1:{refusing_port()}"}}],
        "users": [{"name": "u", "user": {"token": "x"}}],
        "contexts": [{"name": "kind-t", "context": {"cluster": "kind-t", "user": "u"}},
                     {"name": "kind-down", "context": {"cluster": "kind-down", "user": "u"}},
                     {"name": "kind-ghost", "context": {"cluster": "no-such-cluster", "user": "u"}}],
    }))
    yield str(path)
    server.shutdown()


@pytest.mark.parametrize("status", [403, 409, 500])
def test_api_errors_become_kube_api_error_with_status_and_cause(api_server, status):
    from kubernetes.client.exceptions import ApiException

    _Api.status = status
    k = kh.cluster.connect("t", kubeconfig=api_server)
    with pytest.raises(KubeAPIError) as err:
        k.apps.read_namespaced_deployment("controller", "metallb-system")
    assert err.value.status == status and isinstance(err.value.__cause__, ApiException)
    assert not isinstance(err.value, ApiException)  # no hybrid: only the package's error is caught
    assert f"answered {status}" in str(err.value) and ":" in str(err.value)
    with pytest.raises(KubeAPIError):
        metallb.installed_version(k)


def test_404_means_absent(api_server):
    _Api.status = 404
    k = kh.cluster.connect("t", kubeconfig=api_server)
    assert metallb.installed_version(k) is None
    assert kube.get_or_none(k.apps.read_namespaced_deployment, "controller", "metallb-system") is None


def test_api_server_down_during_installed_version(api_server):
    k = kh.cluster.connect("down", kubeconfig=api_server, retries=0)
    with pytest.raises(ClusterUnreachable, match="does not answer .*kind get clusters"):
        metallb.installed_version(k)


def test_a_context_naming_a_missing_cluster(api_server):
    with pytest.raises(kh.ClusterNotFound, match="kind-ghost cannot be used.*kind export kubeconfig --name ghost"):
        kh.cluster.connect("ghost", kubeconfig=api_server)


def test_bad_kubeconfig_is_a_message(tmp_path):
    path = tmp_path / "config"
    path.write_text("{not: yaml: at all")
    with pytest.raises(kh.ClusterNotFound, match="not found"):
        kh.cluster.connect("kindlb", kubeconfig=str(path))


def test_unknown_check_name_is_refused():
    with pytest.raises(BadInput, match="unknown check"):
        kh.doctor.check("kindlb", checks=("pyhton",))
