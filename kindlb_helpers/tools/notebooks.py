"""Where the notebook series lives, and ``kindlb notebooks DIR``: a copy of it to work in.

The repo's ``notebooks/`` is the one source. A wheel carries it as ``kindlb_helpers/_notebooks``
(mapped at build time by ``package-dir`` in pyproject.toml, no second copy in git). Copying never
overwrites a notebook the learner changed: ``DIR/.kindlb-notebooks.json`` remembers the sha256 of
what was copied, and a notebook is replaced only when it is still exactly that (or ``force``).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import KindlbError

#: The record of what ``copy_series`` wrote into a folder (file name -> sha256).
RECORD = ".kindlb-notebooks.json"
_HERE = Path(__file__).resolve().parent.parent  # the kindlb_helpers package


def packaged_dir() -> Path | None:
    """The series shipped with the package: the installed copy, else the clone's ``notebooks/``."""
    for path in (_HERE / "_notebooks", _HERE.parent / "notebooks"):
        if any(path.glob("00_*.ipynb")):
            return path
    return None


def notebooks_dir(folder: str | Path | None = None) -> Path:
    """The folder to run the series from: FOLDER, else $KINDLB_NOTEBOOKS, else the packaged series."""
    chosen = folder or os.environ.get("KINDLB_NOTEBOOKS")
    path = Path(chosen).expanduser() if chosen else packaged_dir()
    if path is None:
        raise KindlbError(f"no notebooks shipped with kindlb_helpers in {_HERE}: reinstall kindlb "
                          "(`pip install --force-reinstall kindlb`), or pass --notebooks DIR / set KINDLB_NOTEBOOKS")
    if not any(path.glob("00_*.ipynb")):
        how = "--notebooks DIR" if folder else "KINDLB_NOTEBOOKS"
        raise KindlbError(f"no notebooks in {path}: point {how} at a folder made by `kindlb notebooks DIR`, "
                          "or unset it to use the installed copy")
    return path


def sha256(path: Path) -> str:
    """The sha256 of a file, hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class CopyReport:
    """What ``copy_series`` did with each notebook."""

    folder: Path
    copied: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per kind of outcome, for the command line."""
        out = []
        for label, names in (("copied", self.copied), ("updated", self.updated), ("already current", self.unchanged),
                             ("overwritten (--force)", self.overwritten)):
            if names:
                out.append(f"{label}: {', '.join(names)}")
        if self.skipped:
            out.append(f"skipped, changed by you: {', '.join(self.skipped)} "
                       "(kept as they are; --force replaces them with the packaged copy)")
        return out


def copy_series(dest: str | Path, force: bool = False, source: Path | None = None) -> CopyReport:
    """Copy the packaged notebooks into DEST; keep the ones the learner changed unless FORCE.

    A notebook in DEST is replaced when it is missing, when it equals what an earlier copy wrote
    (its hash is in DEST's record), or with FORCE; otherwise it is skipped and reported.
    """
    src = source or packaged_dir()
    if src is None:
        raise KindlbError(f"no notebooks shipped with kindlb_helpers in {_HERE}: reinstall kindlb")
    dest = Path(dest).expanduser()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KindlbError(f"cannot create {dest} ({exc.strerror or exc}): pick a folder you can write") from exc
    record_path = dest / RECORD
    try:
        record = json.loads(record_path.read_text()) if record_path.exists() else {}
    except ValueError:
        record = {}
    report = CopyReport(dest)
    for nb in sorted(src.glob("[0-9][0-9]_*.ipynb")):
        target = dest / nb.name
        new = sha256(nb)
        if not target.exists():
            shutil.copyfile(nb, target)
            report.copied.append(nb.name)
        else:
            have = sha256(target)
            if have == new:
                report.unchanged.append(nb.name)
            elif have == record.get(nb.name):
                shutil.copyfile(nb, target)
                report.updated.append(nb.name)
            elif force:
                shutil.copyfile(nb, target)
                report.overwritten.append(nb.name)
            else:
                report.skipped.append(nb.name)
                continue
        record[nb.name] = new
    record_path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return report
