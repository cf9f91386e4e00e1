"""docs/workshop.md says what the bundle holds: its table of images must be what ``kindlb bundle save`` writes.

The table (after the ``bundle-contents`` marker) gives, per image, its role, the ``--from-lab`` reference and
size, and the online reference. Here (no Docker) the references are compared with
``kindlb_helpers._tools.bundle.saving.contents``, the defaults ``save`` uses; tests/cluster/test_bundle.py
compares the references and the sizes with a bundle it really saves from the lab (:func:`documented` is shared).
The document also keeps one file name for the bundle, names the room command, and has no parameter list to type.
"""
from __future__ import annotations

import re
from pathlib import Path

from kindlb_helpers._core.versions import KIND_VERSION, METALLB_VERSION
from kindlb_helpers._tools.bundle.saving import contents

DOC = Path(__file__).resolve().parents[1] / "docs" / "workshop.md"
MARKER = "<!-- bundle-contents"
#: The bundle's one file name in the document.
FILE = f"kindlb-{METALLB_VERSION}.tar"


def documented(text: str | None = None) -> dict:
    """The table: ``rows`` [(role, lab ref, MiB, online ref or None)], ``total_mib`` (the whole bundle)."""
    text = DOC.read_text() if text is None else text
    lines = text[text.index(MARKER):].splitlines()[1:]
    rows, total = [], None
    for line in lines:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] in ("role", "") or set(cells[0]) <= set("-:"):
            continue
        size = re.search(r"([\d,]+) MiB", cells[2])
        if cells[0].strip("*") == "the bundle":
            total = int(size.group(1).replace(",", ""))
            continue
        lab = re.search(r"`([^`]+)`", cells[1])
        online = re.search(r"`([^`]+)`", cells[3])
        rows.append((cells[0], lab.group(1) if lab else None, int(size.group(1).replace(",", "")) if size else None,
                     None if cells[0] == "node" else online.group(1) if online else None))
    return {"rows": rows, "total_mib": total}


def test_the_documented_images_are_what_bundle_save_writes():
    doc = documented()
    assert [(role, lab) for role, lab, _, _ in doc["rows"]] == contents(METALLB_VERSION, from_lab=True)
    assert [(role, online) for role, _, _, online in doc["rows"]] == contents(METALLB_VERSION)
    sizes = [mib for _, _, mib, _ in doc["rows"]]
    assert all(sizes) and doc["total_mib"] >= sum(sizes) - len(sizes)  # each rounded to a MiB


def test_the_online_node_image_is_said_as_save_takes_it():
    text = DOC.read_text()
    table = text[text.index(MARKER):]
    node = next(line for line in table.splitlines() if line.startswith("| node "))
    assert "`kindlb` cluster's node image" in node and f"kind {KIND_VERSION}" in node and "--node-image" in node


def test_one_file_name_one_room_command_and_no_parameters_to_type():
    text = DOC.read_text()
    names = set(re.findall(r"kindlb-[\w.-]+\.tar", text))
    assert names <= {FILE, "kindlb-v0.12.1.tar"}, names  # the ConfigMap era's bundle, named once for what it is
    assert f"kindlb bundle load /media/usb/{FILE} --cluster kindlb" in text  # the room's one command
    for param in ("node_image", "metallb_source", "probe_image", "router_image"):
        assert f"set `{param}`" not in text and f"in 00 set `{param}`" not in text, param
    assert "--router-image" in text and "20 laptops" in text and "GB" in text


def test_the_parser_says_no_to_a_drifted_table():
    doc = DOC.read_text()
    drifted = documented(doc.replace("`kindlb.local/nginx:1.22.1`", "`kindlb.local/nginx:1.27`", 1))
    assert [(r, lab) for r, lab, _, _ in drifted["rows"]] != contents(METALLB_VERSION, from_lab=True)
