"""``kindlb doctor``: the environment check as a workshop laptop needs it, rows of plain data.

A laptop prepared for a workshop has the bundle loaded and, before notebook 00, no cluster yet. That is not
a fault: notebook 00 (or the room command, ``kindlb bundle load FILE --cluster NAME``) creates the cluster
from the bundle's node image, and notebook 02 installs MetalLB. So here a missing cluster whose node image is
in Docker is OK and says who will create it and from what; a MetalLB not installed yet is OK too. A bundle
row lists what is loaded and whether each image is in Docker (same image ID). A Docker that does not answer
ends every check that needs it: the doctor reports it and finishes in a few seconds.

The rows are ``{"check", "ok", "found", "fix"}``; ``ok`` is True, False (a fault: the doctor exits 1) or
None (skipped, or nothing to check).
"""
from __future__ import annotations

from .._core.errors import KindlbError
from .._core.versions import KIND_VERSION

#: The rows of the room view, in order (the laptop warnings follow them).
ROWS = ("python", "docker", "kind", "kubectl", "bundle", "cluster", "context", "metallb")


def _row(check: str, ok: bool | None, found: str, fix: str = "") -> dict:
    return {"check": check, "ok": ok, "found": found, "fix": fix}


def rows_of(table) -> list[dict]:
    """The rows of a check table (the notebooks' :class:`Checks`, or a DataFrame) as plain dicts."""
    return [_row(r.check, r.ok, r.found, r.fix) for r in table.itertuples()]


def room_command(cluster: str) -> str:
    """The one command that prepares a laptop, with the file the loaded bundle came from when it is known.

    >>> room_command("kindlb").startswith("kindlb bundle load ")
    True
    """
    from .._cluster.sources import loaded_bundle

    bundle = loaded_bundle()
    file = (bundle.manifest.get("loaded_from") if bundle is not None else None) or "FILE"
    return f"kindlb bundle load {file} --cluster {cluster}"


def bundle_row() -> dict:
    """What bundle is loaded here, and whether each of its images is in Docker under the same image ID."""
    from .._cluster.dockernet import image_id
    from .._cluster.sources import loaded_bundle, offline_here

    bundle = loaded_bundle()
    if bundle is None:
        where = offline_here()
        used = "the offline lab's images" if where == "lab" else \
            "the online images (Docker Hub, quay.io; MetalLB's manifest from GitHub)"
        return _row("bundle", None, f"none loaded: the notebooks use {used}",
                    "in a workshop room without internet: kindlb bundle load FILE --cluster NAME" if where is None
                    else "")
    there, missing = [], []
    for img in bundle.manifest.get("images", ()):
        try:
            have = image_id(img["ref"])
        except KindlbError as exc:
            return _row("bundle", False, f"MetalLB {bundle.metallb_version} bundle loaded; cannot ask Docker: {exc}",
                        "fix docker first")
        shown = f"{img['role']} {img['ref']}"
        if have == img.get("id"):
            there.append(shown)
        else:
            missing.append(shown + (" (not in Docker)" if have is None else " (another image under that tag)"))
    made = str(bundle.manifest.get("created", ""))[:10]
    head = f"MetalLB {bundle.metallb_version} bundle" + (f" (made {made})" if made else "")
    if not missing:
        return _row("bundle", True, f"{head}: all {len(there)} images in Docker: {', '.join(there)}")
    return _row("bundle", False, f"{head}: {', '.join(missing)}; in Docker: {', '.join(there) or 'none'}",
                f"load it again: {room_command('NAME').rsplit(' --cluster', 1)[0]} (what Docker has is not loaded "
                "twice)")


def cluster_row(cluster: str) -> dict:
    """The cluster, or (when it does not exist yet) who will create it, from which node image, and whether
    Docker has that image: OK when it does, offline or online."""
    from .._cluster.clusters import kind_clusters
    from .._cluster.dockernet import image_id
    from .._cluster.sources import resolve

    try:
        names = kind_clusters()
    except KindlbError as exc:
        return _row("cluster", False, str(exc), "fix docker and kind first")
    if cluster in names:
        return _row("cluster", True, f"kind cluster {cluster!r} exists (all: {', '.join(names)})")
    node = resolve("node")
    others = f" (have: {', '.join(names)})" if names else ""
    if node.origin == "online":
        return _row("cluster", True, f"none yet{others}: notebook 00_prerequisites creates kind cluster {cluster!r} "
                    f"from kind {KIND_VERSION}'s default node image (pulled from Docker Hub, about 1 GB, unless "
                    "Docker has it)")
    if node.origin == "bundle":
        who = f"notebook 00_prerequisites (or the room command `{room_command(cluster)}`)"
        bring = room_command(cluster)
    elif node.origin == "lab":
        who, bring = "notebook 00_prerequisites (or `kindlb lab up`)", "kindlb lab build"
    else:  # the learner's own value cannot be set here: only the three above
        who, bring = "notebook 00_prerequisites", f"docker pull {node.value}"
    try:
        have = image_id(node.value)
    except KindlbError as exc:
        return _row("cluster", False, str(exc), "fix docker first")
    if have is None:
        return _row("cluster", False, f"no kind cluster {cluster!r}{others}, and the {node.where}'s node image "
                    f"{node.value} is not in Docker", bring)
    return _row("cluster", True, f"none yet{others}: {who} creates kind cluster {cluster!r} from the "
                f"{node.where}'s node image {node.value} (in Docker)")


def report(cluster: str = "kindlb") -> tuple[list[dict], bool]:
    """The room view's rows, and whether Docker answered (the laptop warnings need it).

    Every check is bounded: Docker's by the check itself; what needs Docker is skipped when it did not answer.
    """
    from .doctor import check_environment

    rows = rows_of(check_environment(cluster, ("python", "docker", "kind", "kubectl")))
    ok = {r["check"]: r["ok"] for r in rows}
    skipped = "skipped: fix the checks above first"
    rows.append(bundle_row() if ok["docker"] else _row("bundle", None, skipped))
    there = ok["docker"] and ok["kind"]
    row = cluster_row(cluster) if there else _row("cluster", None, skipped)
    rows.append(row)
    exists = row["ok"] and row["found"].startswith("kind cluster ")
    if not exists:
        later = "after the cluster is created" if row["ok"] else skipped
        rows += [_row("context", None, later), _row("metallb", None, later)]
        return rows, bool(ok["docker"])
    for r in rows_of(check_environment(cluster, ("context", "metallb"))):
        if r["check"] == "metallb" and r["found"] == "not installed":
            r = _row("metallb", True, "not installed yet: notebook 02_install_metallb installs it")
        rows.append(r)
    return rows, bool(ok["docker"])

