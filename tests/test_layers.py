"""The package's layers, read from its source: core -> cluster -> lesson -> tools, each importing only the
layers before it (lazy imports inside functions count too), no import cycles, and the library never names
the offline lab."""
from __future__ import annotations

import ast
import functools
import re
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "kindlb_helpers"
ORDER = ["_core", "_cluster", "_lesson", "_tools"]


def _package_of(path: Path) -> list[str]:
    """The dotted package PATH's code runs in, from its layer down: core/x.py -> [core], lesson/l2/x.py and
    lesson/l2/__init__.py -> [lesson, l2]."""
    try:
        parts = list(path.relative_to(PKG).parts)
    except ValueError:  # a file outside the package (the checker's own test): from its layer folder down
        parts = list(path.parts)
        parts = parts[max(i for i, p in enumerate(parts) if p in ORDER):]
    return parts[:-1]


def _name_of(path: Path) -> str:
    parts = _package_of(path)
    return ".".join(parts if path.stem == "__init__" else parts + [path.stem])


@functools.cache
def _modules() -> dict[str, Path]:
    """Every module, 'layer.module' or 'layer.package.module' (a package's __init__ as 'layer.package'); read
    once per run (the package does not change under the tests)."""
    return {_name_of(p): p for layer in ORDER for p in (PKG / layer).rglob("*.py") if _package_of(p)}


def _graph() -> dict[str, set[str]]:
    """Which of the package's modules each module imports."""
    return {name: {t for t in _imports(path) if t in _modules()} for name, path in _modules().items()}


def _resolve(dotted: str, known: set[str]) -> str:
    """The longest known module DOTTED names (cluster.kube.Kind -> cluster.kube), else DOTTED itself."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in known:
            return ".".join(parts[:n])
    return dotted


def _imports(path: Path) -> set[str]:
    """Every kindlb_helpers module PATH imports, anywhere in it (lazy imports too), as its dotted name from
    the layer down ('cluster.kube', 'lesson.l2.parse'), or the layer when it imports the layer itself."""
    known = set(_modules())
    pkg = _package_of(path)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = pkg[:len(pkg) - (node.level - 1)]
            parts = base + (node.module.split(".") if node.module else [])
            if not parts:  # from .. import core (from the package's root)
                found |= {a.name for a in node.names}
                continue
            for a in node.names:
                whole = ".".join(parts + [a.name])
                found.add(whole if whole in known else _resolve(".".join(parts), known))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kindlb_helpers."):
            found.add(_resolve(node.module.removeprefix("kindlb_helpers."), known))
        elif isinstance(node, ast.Import):
            found |= {_resolve(a.name.removeprefix("kindlb_helpers."), known) for a in node.names
                      if a.name.startswith("kindlb_helpers.")}
    return found


def test_every_module_sits_in_a_layer_or_is_a_topic():
    """Beside __init__.py, the package's top level holds only the public topics (kh.cluster, kh.pool, ...)."""
    import kindlb_helpers as kh
    assert sorted(p.stem for p in PKG.glob("*.py")) == sorted(["__init__", *kh._TOPICS])
    assert {p.name for p in PKG.iterdir() if p.is_dir() and p.name not in ("_notebooks", "__pycache__")} == set(ORDER)


def test_a_layer_imports_only_the_layers_before_it():
    wrong = []
    for name, path in _modules().items():
        rank = ORDER.index(name.split(".")[0])
        for target in _imports(path):
            if ORDER.index(target.split(".")[0]) > rank:
                wrong.append(f"{name} imports {target}")
    assert not wrong, wrong


def test_no_import_cycles_lazy_or_not():
    graph = _graph()
    cycles = []

    def visit(node, stack):
        for nxt in graph[node]:
            if nxt in stack:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in done:
                visit(nxt, stack + [nxt])
        done.add(node)

    done: set[str] = set()
    for start in graph:
        if start not in done:
            visit(start, [start])
    assert not cycles, cycles


def test_the_library_never_names_the_lab():
    assert not [p for p in PKG.rglob("*.py") if "kindlb_lab" in p.read_text(encoding="utf-8")]


def test_the_wrong_layer_is_caught(tmp_path):
    """The checker itself: a core module that imports the cluster layer is reported."""
    bad = tmp_path / "_core" / "bad.py"
    bad.parent.mkdir()
    bad.write_text("def f():\n    from .._cluster.kube import connect\n")
    assert _imports(bad) == {"_cluster.kube"}


def test_imports_are_read_in_subpackages_too(tmp_path):
    """A module two folders down: its relative imports resolve from its own package, as Python's do."""
    bad = tmp_path / "_lesson" / "l2" / "probe.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from ..._core.pool import x\nfrom ..app import y\ndef f():\n    from ..._tools import cli\n")
    assert _imports(bad) == {"_core.pool", "_lesson.app", "_tools.cli"}


def test_a_submodule_importing_its_own_package_is_a_cycle():
    graph = _graph()
    own = [f"{m} imports {t}" for m, ts in graph.items() for t in ts if m.startswith(t + ".")]
    assert not own, own


def test_a_topic_only_names_what_the_layers_do():
    """kindlb_helpers/<topic>.py is a public module over the private layers: a docstring, imports, __all__."""
    for path in PKG.glob("*.py"):
        if path.stem == "__init__":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), path.name
        body = [type(n).__name__ for n in tree.body
                if not (isinstance(n, (ast.ImportFrom, ast.Assign)) or (isinstance(n, ast.Expr)
                                                                        and isinstance(n.value, ast.Constant)))]
        assert not body, (path.name, body)
        assert all(n.level == 1 and n.module.startswith("_") for n in tree.body if isinstance(n, ast.ImportFrom)), \
            f"{path.name}: a topic imports from the private layers only"


def test_the_surface_is_the_topics_show_and_the_errors():
    """kh offers the topics, show and the error types; nothing else public (no flat aliases, no layers, no
    module table), and importing it installs no IPython hook."""
    code = ("import kindlb_helpers as kh, kindlb_helpers._core.errors as e, inspect; "
            "errors = {n for n, v in vars(e).items() if inspect.isclass(v) and issubclass(v, e.KindlbError)}; "
            "public = {n for n in dir(kh) if not n.startswith('_')}; "
            "print(sorted(public - set(kh._TOPICS) - {'show'} - errors), sorted(set(kh.__all__) ^ public), "
            "'_short_errors_in_notebooks' in vars(kh), "
            "[t for t in kh._TOPICS if getattr(kh, t).__name__ != 'kindlb_helpers.' + t])")
    assert _fresh_python_prints(code) == "[] [] False []"
    assert 9 <= len(__import__("kindlb_helpers")._TOPICS) <= 14


def test_only_user_input_errors_hide_their_traceback():
    """IPython shows an error with _render_traceback_ as that text: only BadInput (the learner's value) has it;
    every other error, a bug's above all, keeps its traceback."""
    from kindlb_helpers._core import errors
    short = {n for n, v in vars(errors).items() if isinstance(v, type) and hasattr(v, "_render_traceback_")}
    assert short == {n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, errors.BadInput)}
    assert errors.PoolError("pick a range")._render_traceback_() == ["\x1b[31mPoolError\x1b[0m: pick a range"]
    assert not hasattr(errors.WaitTimeout("x"), "_render_traceback_")


def test_every_error_class_is_raised_somewhere():
    """An exception class exists to be raised: each of the errors module's classes is raised (``raise X(...)``, or
    a subclass of it is) by the library or the lab; a record that is never raised is a dataclass, not an error."""
    from kindlb_helpers._core import errors

    classes = {n: v for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, BaseException)
               and v.__module__ == errors.__name__}
    raised = set()
    for path in _library_and_lab():
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                func = node.exc.func
                raised.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
    never = sorted(n for n, cls in classes.items()
                   if not any(issubclass(classes[r], cls) for r in raised if r in classes))
    assert not never, f"never raised: {never}"


def _fresh_python_prints(code: str) -> str:
    """What CODE prints in a fresh interpreter (nothing of the test session loaded)."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_star_import_and_the_facade_names():
    assert _fresh_python_prints("from kindlb_helpers import *; import kindlb_helpers as kh; "
                                "print([n for n in kh.__all__ if not hasattr(kh, n)])") == "[]"


def test_the_core_loads_without_docker_or_kubernetes():
    assert _fresh_python_prints("import sys, kindlb_helpers; print(sorted(m for m in ('docker', 'kubernetes', "
                                "'ipywidgets', 'matplotlib') if m in sys.modules))") == "[]"


#: the most lines a module may have (papermill keeps iorw.py, 546 lines, whole: one job; so "about 500")
MAX_LINES = 500


def test_no_module_is_over_500_lines():
    big = {name: n for name, path in _modules().items()
           if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not big, f"split these (one job per module, at most {MAX_LINES} lines): {big}"


def test_a_subpackages_init_only_re_exports():
    """A package inside a layer (lesson/l2/, cluster/kube/, ...) is its modules; its __init__ only gathers their
    names (imports, __all__, its docstring), no code of its own."""
    code = {name: [type(n).__name__ for n in ast.parse(path.read_text(encoding="utf-8")).body
                   if not (isinstance(n, (ast.ImportFrom, ast.Assign))
                           or (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)))]
            for name, path in _modules().items() if path.stem == "__init__" and "." in name}
    assert code and not {n: c for n, c in code.items() if c}, code


def test_every_module_says_its_one_job_first():
    """Each module's docstring opens with the one job it does (a package's __init__ says what it gathers)."""
    silent = [name for name, path in _modules().items()
              if not (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "").strip()]
    assert not silent, silent


def test_the_readmes_map_matches_the_tree():
    """README's "Where things live" names every package of the library (each layer, each subpackage) and no
    file or folder that is not there; single modules it may name or not (their first docstring line says
    their job, checked above), so a new module does not have to be written into the README too."""
    root = PKG.parent
    text = (root / "README.md").read_text(encoding="utf-8")
    block = text.split("## Where things live", 1)[1].split("```", 2)[1]
    packages = {p.parent.name for p in PKG.rglob("__init__.py")} - {PKG.name}
    missing = sorted(f"{name}/" for name in packages if f"{name}/" not in block)
    files = {p.name for p in root.rglob("*") if ".git" not in p.parts}
    stale = sorted(n for n in set(re.findall(r"[\w-]+\.(?:py|sh|env|svg)\b", block)) if n not in files)
    dirs = {p.name for p in root.rglob("*") if p.is_dir() and ".git" not in p.parts}
    stale += sorted(n + "/" for n in set(re.findall(r"(?:^|\s)([a-z_][\w.-]*)/(?=[\s(])", block, re.M)) if n not in dirs)
    assert not missing and not stale, f"README.md's map: add {missing}, drop or fix {stale}"


@functools.cache
def _tree(path: Path) -> ast.Module:
    """PATH parsed, once per run (the guards below walk the same files)."""
    return ast.parse(path.read_text(encoding="utf-8"))


def _library_and_lab() -> list[Path]:
    return [*PKG.rglob("*.py"), *(PKG.parent / "lab" / "kindlb_lab").rglob("*.py")]


def test_no_underscore_name_is_imported_from_another_file():
    """An underscore name is private to its file (STYLE.md): what a topic's modules share has a plain name in
    one module of that topic. The layers' own packages (``_core`` ...) are modules, not names, and may be."""
    layers = set(ORDER)
    found = []
    for path in _library_and_lab():
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                found += [f"{path.relative_to(PKG.parent)}: from {'.' * node.level}{node.module or ''} import {a.name}"
                          for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__") and a.name not in layers]
    assert not found, found


def test_the_checker_finds_an_underscore_import(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("from .neigh import _via, checked_ip\n")
    names = [a.name for n in ast.walk(ast.parse(bad.read_text())) if isinstance(n, ast.ImportFrom) for a in n.names]
    assert [n for n in names if n.startswith("_")] == ["_via"]


def test_the_lab_uses_the_core_and_the_cluster_layer_only():
    """The offline lab is a plug-in beside the library: it imports kindlb_helpers._core and ._cluster, never the
    lesson, the tools or the notebooks' surface."""
    wrong = []
    for path in (PKG.parent / "lab" / "kindlb_lab").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom) else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            wrong += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "kindlb_helpers"
                      and (len(n.split(".")) < 2 or n.split(".")[1] not in ("_core", "_cluster"))]
    assert not wrong, wrong


#: names a concept goes by, each defined (def, class or assignment at a module's top) in one module only
ONE_HOME = ("to_yaml", "kubectl_args", "one_line", "Route", "FAILURES", "apply", "server_side_apply",
            "rollout_status", "free_addresses", "configmap_pools", "kind_clusters", "CLUSTER_LABEL", "CellFailure",
            "Shown", "show", "ip_of", "ingress_ips", "captured_frame")


def test_each_concept_has_one_home():
    homes: dict[str, list[str]] = {n: [] for n in ONE_HOME}
    for path in PKG.rglob("*.py"):
        if path.parent == PKG:  # the topics only re-export
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names = ([node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else
                     [t.id for t in node.targets if isinstance(t, ast.Name)] if isinstance(node, ast.Assign) else [])
            for n in names:
                if n in homes:
                    homes[n].append(str(path.relative_to(PKG)))
    assert {n: h for n, h in homes.items() if len(h) > 1} == {}, homes


def test_each_pin_constant_is_its_own_key():
    """``versions.py`` names each pin it offers as a constant after its key in ``versions.env`` (``X: str =
    _PINS["X"]``, typed data that ruff, mypy and readers see), so a copied line cannot give one name another's
    value; and every such key is in ``versions.env``."""
    from kindlb_helpers._core.versions import pins

    read = {}
    for node in _tree(PKG / "_core" / "versions.py").body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if (isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name) and value.value.id == "_PINS"
                and isinstance(value.slice, ast.Constant)):
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            read[target.id] = value.slice.value
    assert len(read) >= 10 and {n: k for n, k in read.items() if n != k} == {}
    assert set(read) <= set(pins()), set(read) - set(pins())


def test_kind_clusters_are_listed_one_way():
    """One kind-cluster lister (``_cluster/clusters.py``, Docker's labels): no other code of the library or the lab
    asks the kind program (``kind get clusters``) or filters Docker by the bare cluster label to list them."""
    found = []
    for path in _library_and_lab():
        if path.name == "clusters.py":
            continue
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Call):
                words = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                if any(words[i:i + 2] == ["get", "clusters"] for i in range(len(words))):
                    found.append(f"{path.name}:{node.lineno} runs kind get clusters")
            if isinstance(node, ast.Dict):
                for k, v in zip(node.keys, node.values):
                    if (isinstance(k, ast.Constant) and k.value == "label" and isinstance(v, ast.Name)
                            and v.id == "CLUSTER_LABEL"):
                        found.append(f"{path.name}:{node.lineno} lists containers by the bare cluster label")
    assert not found, found


def test_the_core_and_the_cluster_layer_build_no_html():
    """Display is the lesson's job: no module of ``_core`` or ``_cluster`` builds HTML (imports ``html`` or writes a
    ``_repr_html_`` of its own); their values inherit ``views.Viewed``, whose view ``_lesson/render.py`` registers."""
    found = []
    for path in [*(PKG / "_core").rglob("*.py"), *(PKG / "_cluster").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(a.name == "html" for a in node.names):
                found.append(f"{path.name}: import html")
            if isinstance(node, ast.FunctionDef) and node.name == "_repr_html_" and path.name != "views.py":
                found.append(f"{path.name}:{node.lineno} _repr_html_")
    assert not found, found


#: what builds a table, a figure or a notebook display: the lesson's to import, never the cluster layer's
DISPLAY_MODULES = ("pandas", "matplotlib", "IPython", "ipywidgets")


def test_the_cluster_layer_builds_no_table_or_figure():
    """Display is the lesson's job: no module of ``_cluster`` imports pandas, matplotlib, IPython or ipywidgets (at
    its top or inside a function), nor does the core: sipcalc's section is rows (``sipcalc.sipcalc_rows``), the
    extras a dict (``objects.EXTRAS``), the hood's marks live with the views (``render.HOOD_CLASS``, ``PRE``);
    the lesson makes their tables. Captures return records (``capture.Captured``); the lesson
    makes the table (``tables.captured_frame``)."""
    found = []
    for layer, allowed in (("_cluster", ()), ("_core", ())):
        for path in (PKG / layer).rglob("*.py"):
            for node in ast.walk(_tree(path)):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                for n in names:
                    top = n.split(".")[0]
                    if top in DISPLAY_MODULES and top not in allowed:
                        found.append(f"{layer}/{path.relative_to(PKG / layer)}:{node.lineno} imports {n}")
    assert not found, found


def test_a_services_external_address_is_read_in_one_place():
    """One reader of ``status.loadBalancer.ingress`` (``_cluster/kube/objects.py``: ``ingress``, ``ingress_ips``,
    ``ip_of``); every other module of the library and the lab asks it, whichever layer it is in."""
    found = [f"{path.relative_to(PKG.parent)}:{node.lineno}" for path in _library_and_lab()
             if path != PKG / "_cluster" / "kube" / "objects.py" for node in ast.walk(_tree(path))
             if isinstance(node, ast.Attribute) and node.attr == "ingress" and isinstance(node.value, ast.Attribute)
             and node.value.attr == "load_balancer"]
    assert not found, found


def test_every_view_names_a_viewed_type_and_every_viewed_type_has_one():
    """Views are registered by name (registering imports nothing): each name is a Viewed class of the core or the
    cluster layer, and each Viewed class there has a view (a misspelt name would show a value as bare text)."""
    code = "\n".join([
        "import importlib, pkgutil, kindlb_helpers",
        "from kindlb_helpers._core.views import HTML_VIEWS, Viewed",
        "bad = [k for k in HTML_VIEWS if not issubclass(",
        "       getattr(importlib.import_module(k.rsplit('.', 1)[0]), k.rsplit('.', 1)[1]), Viewed)]",
        "for m in pkgutil.walk_packages(kindlb_helpers.__path__, 'kindlb_helpers.'):",
        "    if m.name.split('.')[1] in ('_core', '_cluster'):",
        "        importlib.import_module(m.name)",
        "def subs(c):",
        "    return [s for d in c.__subclasses__() for s in (d, *subs(d))]",
        "bare = sorted(f'{c.__module__}.{c.__qualname__}' for c in subs(Viewed)",
        "              if not any(f'{b.__module__}.{b.__qualname__}' in HTML_VIEWS for b in c.__mro__))",
        "print(bad, bare)"])
    assert _fresh_python_prints(code) == "[] []"
