"""Bad input: one parametrised test per class of input, each through the public API
(``import kindlb_helpers as kh``) and the ``kindlb`` command line; every case a clear message or the right result.

Classes: lookalike and padded numbers, IPv4-mapped IPv6, single-address subnets, long strings, YAML values of
``-p``, non-mapping parameters, non-ASCII image tags, unbalanced brackets, unchecked object values, the CLI's
early refusals, ``kindlb notebooks`` on a hostile folder, Docker's ``--ip-range`` on a real network, 10,000
single addresses, and a Docker daemon or API server that accepts and never answers (loopback listeners only).
"""
from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest

import kindlb_helpers as kh
from kindlb_helpers import BadInput, KindlbError, PoolError
from kindlb_helpers._cluster.dockernet import docker_client

pytestmark = pytest.mark.docker  # the docker tier: a Docker engine, Jupyter kernels or the wheel

CLI = ("import sys\ntry:\n    from kindlb_helpers._tools.cli import main\nexcept ImportError:\n"
       "    from kindlb_helpers.cli import main\nsys.exit(main())")
RUN = uuid.uuid4().hex[:8]


def kindlb(*args: str, env: dict | None = None, timeout: float = 60, cwd: str | Path | None = None):
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=cwd)


def message_of(r: subprocess.CompletedProcess, limit: int = 400) -> str:
    """The ``kindlb: ...`` message: one or two lines, no traceback, no "(a bug?)", short."""
    assert "kindlb: " in r.stderr, r.stderr[-2000:]
    msg = r.stderr[r.stderr.index("kindlb: "):].strip()
    assert len(msg.splitlines()) <= 2, msg
    assert "Traceback" not in r.stderr and "a bug?" not in msg, msg
    assert len(msg) < limit, f"{len(msg)} characters: {msg[:300]}..."
    return msg


def refused_by(call, *args, match: str, **kwargs) -> str:
    with pytest.raises(BadInput, match=match) as err:
        call(*args, **kwargs)
    text = str(err.value)
    assert len(text) < 600, f"{len(text)} characters: {text[:300]}..."
    return text


# ---------------------------------------------------------------- lookalike and padded numbers

LOOKALIKE = ["２５", "١٠", "२५", "1_0", " 25 ", "25.0", ""]


@pytest.mark.parametrize("text", LOOKALIKE)
def test_numbers_are_ascii_digits_only(text):
    r = kindlb("pool", "--size", text, "--network", "no-such-net")
    msg = message_of(r)
    assert r.returncode == 2 and "--size" in msg and "digits" in msg, msg
    assert r.returncode == 2


@pytest.mark.parametrize("version", ["v０.１６.１", "v0.١٦.1", "v0.16.1-rc1", "v0.16.1+meta", "v 0.16.1", "v0.16.01",
                                     "v0.16", "v0.16.1.0", "0.16.1\n"])
def test_versions_are_ascii_digits_of_a_known_release(version):
    refused_by(kh.params.check, metallb_version=version, match="metallb_version")
    if not version.isascii() or " " in version or version.count(".") > 2:  # the library reads any vX.Y.Z
        with pytest.raises(BadInput, match="ASCII|not a MetalLB version"):
            kh.metallb.manifests("172.19.255.1-172.19.255.250", version)


@pytest.mark.parametrize("value", ["010", "0o10", "1_0", "0x10", "8.0", "1e1", "+8", "８"])
def test_yaml_numbers_in_p_are_plain_decimals(value, stub_series):
    """``-p pool_size=010`` was YAML 1.1's octal 8; refused before any kernel starts."""
    r = kindlb("run", "--notebooks", str(stub_series), "--output", str(stub_series.parent / "out"),
               "-p", f"pool_size={value}")
    msg = message_of(r)
    assert r.returncode == 2 and "pool_size" in msg, msg
    assert not (stub_series.parent / "out").exists()


@pytest.mark.parametrize("value", [4.0, 6.0, True, "4", 4 + 0j])
def test_whole_numbers_refuse_floats_everywhere(value):
    refused_by(kh.params.check, family=value, match="family")
    for name in ("workers", "replicas", "pool_size", "requests"):
        if not isinstance(value, bool):
            refused_by(kh.params.check, **{name: value}, match=name)


def test_the_right_numbers_still_pass(stub_series):
    kh.params.check(family=4, pool_size=10, workers=0, metallb_version="v0.16.1", timeout=2.5)
    kh.params.check(metallb_version="0.12.1")
    r = kindlb("pool", "--size", "25", "--network", "no-such-net-" + RUN)
    assert r.returncode == 1 and "does not exist" in r.stderr, r.stderr  # got past the size: Docker answered
    r = kindlb("pool", "--family", "４", "--network", "no-such-net-" + RUN)  # int() reads it as 4
    assert r.returncode == 2 and "write 4 or 6" in r.stderr, r.stderr


# ---------------------------------------------------------------- IPv4-mapped IPv6

MAPPED = ["::ffff:172.19.0.1/112", "::ffff:ac13:1/112", "[::ffff:1.2.3.4]-[::ffff:1.2.3.5]",
          "::ffff:1.2.3.4-::ffff:1.2.3.5", "::ffff:1.2.3.4", "::ffff:0:0/96"]


@pytest.mark.parametrize("text", MAPPED)
def test_ipv4_mapped_ipv6_is_refused_naming_the_ipv4_form(text):
    if "/" in text:
        for call in (kh.pool.plan, kh.pool.default_size):
            refused_by(call, text, match="IPv4-mapped")
        refused_by(kh.params.check, subnet=text, match="IPv4-mapped")
        refused_by(kh.pool.validate, "fc00::1-fc00::2", text, match="IPv4-mapped")
    refused_by(kh.metallb.manifests, text, match="IPv4-mapped")
    refused_by(kh.params.check, pool=text, match="IPv4-mapped")
    refused_by(kh.pool.plan, "fc00::/64", [text], match="IPv4-mapped")
    obj = ipaddress.ip_network(text, strict=False) if "/" in text else None
    if obj is not None:
        refused_by(kh.pool.plan, obj, match="IPv4-mapped")


def test_mapped_refusal_in_kindlb_run(stub_series):
    r = kindlb("run", "--notebooks", str(stub_series), "-p", "subnet=::ffff:172.19.0.1/112",
               "--output", str(stub_series.parent / "out"))
    assert r.returncode == 2 and "IPv4-mapped" in message_of(r)


# ---------------------------------------------------------------- single-address subnets

@pytest.mark.parametrize("subnet", ["172.19.0.1/32", "fc00::1/128", "172.19.0.0/32", " 10.0.0.9/32 "])
def test_a_single_address_subnet_is_not_a_subnet(subnet):
    refused_by(kh.pool.plan, subnet, match="one address")
    refused_by(kh.pool.taken_from_text, subnet, match="one address")
    refused_by(kh.params.check, subnet=subnet, match="one address")
    refused_by(kh.pool.plan, ipaddress.ip_network(subnet.strip(), strict=False), match="one address")


def test_small_subnets_keep_the_bridge_out():
    net, taken = kh.pool.taken_from_text("172.19.0.1/30")
    pool = kh.pool.plan(net, taken, size=1)
    assert ipaddress.ip_address("172.19.0.1") not in pool and str(pool) == "172.19.0.2-172.19.0.2"


# ---------------------------------------------------------------- long strings

LONG = ["9" * 5000, "v0." + "1" * 5000 + ".1", "172.19.0.1/" + "1" * 100_000, "a" * 100_000, "x-" * 50_000]


@pytest.mark.parametrize("text", LONG, ids=lambda t: f"{t[:6]}..{len(t)}")
def test_long_inputs_are_echoed_cut_short(text):
    for kwargs in ({"metallb_version": text}, {"subnet": text}, {"cluster": text}, {"pool": text},
                   {"image": text}, {"pool_name": text}):
        refused_by(kh.params.check, **kwargs, match=list(kwargs)[0])
    refused_by(kh.metallb.parse_version, text, match="version")
    refused_by(kh.metallb.manifests, text, match=".")
    refused_by(kh.metallb.manifests, "172.19.255.1-172.19.255.9", text, match="version")
    refused_by(kh.pool.plan, text, match=".")
    refused_by(kh.pool.PoolRange, text, match=".")


@pytest.mark.parametrize("args", [["sipcalc", "1" * 100_000], ["pool", "--network", "n" * 100_000],
                                  ["pool", "--cluster", "c" * 100_000], ["doctor", "--cluster", "C" * 100_000]],
                         ids=["sipcalc", "network", "pool-cluster", "doctor-cluster"])
def test_long_cli_arguments_are_echoed_cut_short(args):
    r = kindlb(*args)
    message_of(r, limit=400)
    assert r.returncode == 2


# ---------------------------------------------------------------- YAML values of -p, non-mapping params

BOMB = "[" + ",".join(["&a [x,x,x,x,x,x,x,x,x]"] + ["*a"] * 9) + "]"
YAML_BAD = ["{a: 1}", "[[1, 2], [3]]", BOMB, "!!python/object:os.system x", "[" + "1," * 300_000 + "1]",
            "x" * 2_000_000, "&a [*a]", "[" + "1," * 50_000 + "{a: 1}]"]


@pytest.mark.parametrize("value", YAML_BAD, ids=["mapping", "nested", "alias-bomb", "python-tag", "long-list",
                                                   "2MB", "self-alias", "mapping-at-the-end"])
def test_p_values_are_scalars_or_short_lists(value, stub_series):
    t0 = time.monotonic()
    if len(value) > 100_000:  # more than one command-line argument holds (128 KiB): the same reader, called
        from kindlb_helpers._core.inputs import yaml_param

        cpu0 = time.process_time()
        with pytest.raises(BadInput, match="taken: .*(characters|items|mapping)"):
            yaml_param("taken", value)
        assert time.process_time() - cpu0 < 5  # CPU seconds: the machine is shared
        return
    r = kindlb("run", "--notebooks", str(stub_series), "--output", str(stub_series.parent / "out"),
               "-p", f"taken={value}", timeout=60)
    took = time.monotonic() - t0
    msg = message_of(r)
    assert r.returncode == 2 and "taken" in msg, msg
    assert took < 30, f"{took:.1f} s"  # a child Python on a loaded machine; the bomb took 45 s and 4 GiB


@pytest.mark.parametrize("params", [[], "cluster", 42, None.__class__, b"cluster=x", [("cluster", "x")]],
                         ids=["list", "str", "int", "type", "bytes", "pairs"])
def test_check_wants_a_mapping(params):
    with pytest.raises(BadInput, match="mapping|dict"):
        kh.params.check(params)


# ---------------------------------------------------------------- image tags, brackets, object values

@pytest.mark.parametrize("image", ["nginx:ｔａｇ", "nginx:tag_é", "ｎｇｉｎｘ:1.27", "nginx:1.27\u200b", "nginx:١"])
def test_image_references_are_ascii(image):
    refused_by(kh.params.check, image=image, match="image")
    with pytest.raises(KindlbError):
        kh.app.nginx_objects(image=image)


@pytest.mark.parametrize("spec", ["[1.2.3.4]-[1.2.3.5", "[1.2.3.4-1.2.3.5]", "1.2.3.4]-1.2.3.5", "[[1.2.3.4]]",
                                  "[1.2.3.4", "[fc00::1", "fc00::1]", "[]"])
def test_brackets_must_balance_around_one_address(spec):
    refused_by(kh.pool.PoolRange, spec, match=".")
    refused_by(kh.params.check, pool=spec, match="pool")


def test_brackets_around_ipv6_still_read():
    assert str(kh.pool.PoolRange("[fc00::1]-[fc00::5]")) == "fc00::1-fc00::5"


@pytest.mark.parametrize("kwargs", [{"pool": "Not A Pool!"}, {"pool": "p" * 300}, {"pool": 7}, {"pool": "pöol"},
                                    {"traffic_policy": "local"}, {"name": "Nginx"}, {"namespace": "a" * 64}])
def test_nginx_objects_check_every_value(kwargs):
    with pytest.raises(KindlbError) as err:
        kh.app.nginx_objects(**kwargs)
    assert len(str(err.value)) < 400


# ---------------------------------------------------------------- the CLI's early refusals

@pytest.fixture
def stub_series(tmp_path) -> Path:
    """A one-notebook series whose parameters cell declares the parameters these tests give; runs in a second."""
    d = tmp_path / "series"
    d.mkdir()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('cluster = "kindlb"\ninteractive = False\npool_size = None\nsubnet = None\n'
                                     'taken = []\nfamily = 4\npool = None\nmetallb_version = None\nimage = "x"')
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# stub"), cell, nbformat.v4.new_code_cell("print('stub ran')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, d / "00_stub.ipynb")
    return d


@pytest.mark.parametrize("name", ["Bad_Name", "", "a" * 62, "ｋｉｎｄｌｂ", "-x", "kind lb"])
def test_run_refuses_a_bad_cluster_name_before_any_kernel(name, stub_series):
    t0 = time.monotonic()
    r = kindlb("run", "--notebooks", str(stub_series), f"--cluster={name}", "--output", str(stub_series.parent / "o"))
    msg = message_of(r)
    assert r.returncode == 2 and "cluster" in msg, msg
    assert time.monotonic() - t0 < 30 and not (stub_series.parent / "o").exists()  # no kernel: no 'o' either


def test_run_of_a_path_says_which_file_ran(stub_series, tmp_path):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    outside = tmp_path / "x.ipynb"
    outside.write_text((stub_series / "00_stub.ipynb").read_text())
    r = kindlb("run", "--notebooks", str(stub_series), "--output", str(tmp_path / "out"), "../../x.ipynb",
               cwd=work, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    assert str(outside.resolve()) in r.stdout, r.stdout
    r = kindlb("run", "--notebooks", str(stub_series), "--output", str(tmp_path / "out2"), "../../nope.ipynb",
               cwd=work)
    assert r.returncode == 2 and "nope.ipynb" in message_of(r)


@pytest.mark.parametrize("network", ["", " ", "../../networks", "kind/../x", "a" * 300, "ｋｉｎｄ", "-rm"])
def test_pool_refuses_a_bad_network_name(network):
    r = kindlb("pool", f"--network={network}")
    msg = message_of(r)
    assert r.returncode == 2 and "network" in msg, msg


# ---------------------------------------------------------------- kindlb notebooks on a hostile folder

def copy_series(dest):
    from kindlb_helpers._tools.notebooks import copy_series

    assert copy_series(dest).copied


def _notebooks(dest, *extra, cwd=None):
    return kindlb("notebooks", str(dest), *extra, cwd=cwd, timeout=30)


def _state(folder: Path) -> dict:
    out = {}
    for p in sorted(folder.rglob("*")):
        out[str(p)] = ("link", os.readlink(p)) if p.is_symlink() else ("dir", "") if p.is_dir() else \
            ("file", p.read_bytes()) if p.is_file() else ("special", "")
    return out


HOSTILE_FOLDERS = ["link-out", "fifo", "dev-zero", "notebook-is-dir", "record-is-dir", "record-link",
                   "late-failure", "dir-is-file"]


@pytest.mark.parametrize("case", HOSTILE_FOLDERS)
def test_notebooks_writes_only_regular_files_inside_dir(tmp_path, case):
    """Everything is checked before anything is written: a refusal leaves DIR and the outside as they were."""
    dest = tmp_path / "nb"
    copy_series(dest)  # (the command's own function: one child process less per case)
    names = sorted(p.name for p in dest.glob("[0-9][0-9]_*.ipynb"))
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (dest / names[0]).write_text((dest / names[0]).read_text().replace("kindlb", "mine", 1))  # a learner's change
    if case == "link-out":
        (dest / names[1]).unlink()
        (dest / names[1]).symlink_to(victim)
    elif case == "fifo":
        (dest / names[1]).unlink()
        os.mkfifo(dest / names[1])
    elif case == "dev-zero":
        (dest / names[1]).unlink()
        (dest / names[1]).symlink_to("/dev/zero")
    elif case == "notebook-is-dir":
        (dest / names[1]).unlink()
        (dest / names[1]).mkdir()
    elif case == "record-is-dir":
        (dest / ".kindlb-notebooks.json").unlink()
        (dest / ".kindlb-notebooks.json").mkdir()
    elif case == "record-link":
        (dest / ".kindlb-notebooks.json").unlink()
        (dest / ".kindlb-notebooks.json").symlink_to(victim)
    elif case == "late-failure":
        (dest / names[-1]).unlink()
        (dest / names[-1]).mkdir()
    elif case == "dir-is-file":
        dest = tmp_path / "victim.txt" / "sub"
    before, outside = _state(tmp_path / "nb"), victim.read_bytes()
    r = _notebooks(dest, "--force")
    msg = message_of(r)
    assert r.returncode == 2, msg
    assert _state(tmp_path / "nb") == before, "changed DIR before refusing"
    assert victim.read_bytes() == outside


@pytest.mark.parametrize("record", ["[]", "null", '"x"', "{", '{"00_a.ipynb": 3}', "\xff"])
def test_a_damaged_record_is_no_record(tmp_path, record):
    dest = tmp_path / "nb"
    copy_series(dest)
    (dest / ".kindlb-notebooks.json").write_text(record, errors="surrogateescape")
    r = _notebooks(dest)
    assert r.returncode == 0, r.stderr
    assert "already current" in r.stdout
    assert isinstance(json.loads((dest / ".kindlb-notebooks.json").read_text()), dict)


def test_notebooks_refuses_an_empty_folder_name(tmp_path):
    r = _notebooks("", cwd=tmp_path)
    assert r.returncode == 2 and "folder" in message_of(r)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the planner

def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    from _docker import docker

    return docker(*args, check=check)


@pytest.fixture
def ip_range_network():
    if _docker("info", check=False).returncode != 0:
        pytest.skip("no Docker engine")
    name = f"kindlb-test-iprange-{RUN}"
    r = _docker("network", "create", "--subnet", "198.18.4.0/22", "--ip-range", "198.18.7.0/24", name, check=False)
    if r.returncode != 0:
        pytest.fail(f"cannot create the test network: {r.stderr.strip()}")
    yield name
    _docker("network", "rm", name, check=False)


def test_the_planner_treats_docker_ip_range_as_taken(ip_range_network):
    net = kh.cluster.network(ip_range_network)
    pool, taken = kh.pool.plan_for(net, 4, None)
    handed_out = ipaddress.ip_network("198.18.7.0/24")
    assert any(t.range.first == handed_out.network_address and t.range.last == handed_out.broadcast_address
               for t in taken), [str(t) for t in taken]
    assert int(pool.last) < int(handed_out.network_address), str(pool)
    assert str(pool) == "198.18.6.1-198.18.6.250"
    r = kindlb("pool", "--network", ip_range_network, "-v")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "198.18.6.1-198.18.6.250"
    assert "198.18.7.0" in r.stderr  # -v lists the range as taken


SINGLES = [str(ipaddress.ip_address("10.0.0.0") + 2 * i) for i in range(10_000)]  # none adjacent: 10,000 ranges


def test_ten_thousand_single_addresses_are_sorted_and_merged():
    """CPU seconds, not wall seconds: the bound is about the algorithm, on a machine others share."""
    t0, cpu0 = time.monotonic(), time.process_time()
    objs = kh.metallb.manifests(SINGLES)
    kh.params.check(pool=SINGLES, family=4)
    pool = kh.pool.plan("10.0.0.0/8", taken=SINGLES, size=250)
    kh.pool.validate(pool, "10.0.0.0/8", taken=SINGLES)
    took, cpu = time.monotonic() - t0, time.process_time() - cpu0
    print(f"10,000 single addresses: manifests + check + plan + validate in {took:.2f} s ({cpu:.2f} s CPU)")
    assert len(objs[0]["spec"]["addresses"]) == 10_000
    assert cpu < 10, f"{cpu:.1f} s CPU"  # (quadratic, it was over 20 s; ~1 s on an idle machine)
    with pytest.raises(PoolError, match="overlap"):
        kh.metallb.manifests([*SINGLES, SINGLES[5000]])  # the one repeat among 10,001 is still found


# ---------------------------------------------------------------- daemons that accept and never answer

def test_a_silent_docker_daemon_is_reported_within_10_s(silent_listener, monkeypatch):
    host = f"tcp://127.0.0.1:{silent_listener}"
    monkeypatch.setenv("DOCKER_HOST", host)
    t0 = time.monotonic()
    with pytest.raises(kh.DockerUnavailable, match=f"127.0.0.1:{silent_listener}.*DOCKER_HOST") as err:
        docker_client()
    took = time.monotonic() - t0
    print(f"silent Docker daemon reported in {took:.1f} s")
    assert took < 10 and len(str(err.value)) < 400
    r = kindlb("pool", "--network", "kind", env={"DOCKER_HOST": host}, timeout=60)  # the CLI says the same
    msg = message_of(r)
    assert r.returncode == 1 and f"127.0.0.1:{silent_listener}" in msg and "DOCKER_HOST" in msg, msg


def test_a_silent_api_server_is_reported_within_10_s(silent_listener, tmp_path):
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "kind-silent",
        "clusters": [{"name": "kind-silent", "cluster": {"server": f"https://127.0.0.1:{silent_listener}",
                                                         "insecure-skip-tls-verify": True}}],
        "contexts": [{"name": "kind-silent", "context": {"cluster": "kind-silent", "user": "kind-silent"}}],
        "users": [{"name": "kind-silent", "user": {"token": "x"}}]}))
    before = cfg.read_bytes()
    k = kh.cluster.connect("silent", kubeconfig=str(cfg))
    t0 = time.monotonic()
    with pytest.raises(kh.ClusterUnreachable, match=f"127.0.0.1:{silent_listener}"):
        kh.cluster.wait_nodes_ready(k, timeout=120, progress=False)
    took = time.monotonic() - t0
    print(f"silent API server reported in {took:.1f} s")
    assert took < 10
    assert cfg.read_bytes() == before


BROKEN_KUBECONFIGS = {
    "binary": b"\xff\xfe\x00garbage\x80", "garbage": b"::: not yaml [", "list": b"[]",
    "bad-ipv6-url": b"apiVersion: v1\nclusters:\n- name: kind-kindlb\n  cluster: {server: 'https://[::1'}\ncontexts:\n"
                    b"- name: kind-kindlb\n  context: {cluster: kind-kindlb, user: u}\ncurrent-context: kind-kindlb\n"
                    b"users:\n- name: u\n  user: {token: x}\n"}


def test_doctor_on_a_broken_kubeconfig(tmp_path):
    """The doctor's context check (the one that reads the kubeconfig) says what is wrong and leaves the file.
    One child process goes through the sample (the client reads $KUBECONFIG at import)."""
    for name, content in BROKEN_KUBECONFIGS.items():
        (tmp_path / name).write_bytes(content)
    code = ("import os, kindlb_helpers as kh\nfor name in os.environ['SAMPLE'].split(','):\n"
            "    os.environ['KUBECONFIG'] = os.path.join(os.environ['DIR'], name)\n"
            "    row = kh.doctor.check('kindlb', ('context',)).row('context')\n"
            "    print(name, '|', row.ok, '|', row.found, '|', row.fix)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "SAMPLE": ",".join(BROKEN_KUBECONFIGS), "DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert len(lines) == len(BROKEN_KUBECONFIGS), r.stdout
    for line in lines:
        name, ok, found, fix = (p.strip() for p in line.split("|"))
        assert ok == "False" and "kind export kubeconfig --name kindlb" in found + fix, line
        assert "kind-kindlb" in found and len(found) < 400 and "Error:" not in found[:20], line
        assert (tmp_path / name).read_bytes() == BROKEN_KUBECONFIGS[name]
