"""Where the notebook series lives, and ``kindlb notebooks DIR``: a copy of it to work in.

The repo's ``notebooks/`` is the one source. A wheel carries it as ``kindlb_helpers/_notebooks``
(mapped at build time by ``package-dir`` in pyproject.toml, no second copy in git). Copying never
overwrites a notebook the learner changed: ``DIR/.kindlb-notebooks.json`` remembers the sha256 of
what was copied, and a notebook is replaced only when it is still exactly that (or ``force``).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .._core.errors import BadInput, KindlbError
from .._core.paths import path_error

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
    try:
        path.stat()
        found = any(path.glob("00_*.ipynb"))
    except FileNotFoundError:
        found = False
    except OSError as exc:  # a name too long, a file on the way, no permission: the user's path, said as such
        raise path_error(path, exc, "read the notebooks in") from None
    if not found:
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


#: The largest notebook (or record) read from DIR: the series' notebooks are well under 1 MiB.
_MAX_READ = 64 << 20


def _regular(path: Path, dest: Path, what: str) -> os.stat_result | None:
    """The lstat of PATH when it is a regular file, None when it does not exist; BadInput for anything else
    (a link, even to a file inside DIR, a folder, a FIFO, a device): nothing is followed or read there."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BadInput(f"cannot look at {path} ({exc.strerror or exc}): pick a folder you can read and write") \
            from None
    if stat.S_ISLNK(st.st_mode):
        raise BadInput(f"{path} is a link: kindlb notebooks writes only regular files inside {dest}; move the "
                       f"link away (it is not followed), or pick another folder")
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a FIFO, socket or device)"
        raise BadInput(f"{path} is {kind}, where {what} goes: move it away, or pick another folder")
    if st.st_size > _MAX_READ:
        raise BadInput(f"{path} holds {st.st_size:,} bytes, more than a notebook: move it away, or pick another "
                       "folder")
    return st


def _read(path: Path) -> bytes:
    """PATH's bytes, opened without following a link and without blocking on a FIFO swapped in meanwhile."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise BadInput(f"{path} is not a regular file: move it away, or pick another folder")
        return f.read(_MAX_READ + 1)


def _read_record(path: Path, dest: Path) -> dict[str, str]:
    """DIR's record, or {} when it is missing or damaged (then nothing the learner changed is taken as ours)."""
    if _regular(path, dest, "the record of copied notebooks") is None:
        return {}
    try:
        data = json.loads(_read(path))
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _write(target: Path, data: bytes) -> None:
    """Write DATA as TARGET through a temporary file beside it and a rename: never through what TARGET was."""
    fd, tmp = tempfile.mkstemp(prefix=".kindlb-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def copy_series(dest: str | Path, force: bool = False, source: Path | None = None) -> CopyReport:
    """Copy the packaged notebooks into DEST; keep the ones the learner changed unless FORCE.

    A notebook in DEST is replaced when it is missing, when it equals what an earlier copy wrote
    (its hash is in DEST's record), or with FORCE; otherwise it is skipped and reported. Only regular
    files inside DEST are read or written: a link, folder, FIFO or device where a notebook or the record
    goes stops the copy (BadInput) before anything is written.
    """
    src = source or packaged_dir()
    if src is None:
        raise KindlbError(f"no notebooks shipped with kindlb_helpers in {_HERE}: reinstall kindlb")
    if isinstance(dest, str) and not dest.strip():
        raise BadInput("the folder name is empty: give the folder to copy the series into, e.g. kindlb-notebooks")
    dest = Path(dest).expanduser()
    try:
        dest.lstat()
    except FileNotFoundError:
        pass
    except OSError as exc:  # a name too long, a file on the way, no permission
        raise path_error(dest, exc, "copy the series into") from None
    if dest.exists() and not dest.is_dir():
        raise BadInput(f"{dest} is not a folder: give a new or existing folder for the series")
    record_path = dest / RECORD
    record = _read_record(record_path, dest) if dest.is_dir() else {}
    report = CopyReport(dest)
    writes: list[tuple[Path, bytes]] = []
    new_record = dict(record)
    for nb in sorted(src.glob("[0-9][0-9]_*.ipynb")):  # everything is decided before anything is written
        target = dest / nb.name
        data = nb.read_bytes()
        new = hashlib.sha256(data).hexdigest()
        if dest.is_dir() and _regular(target, dest, "a notebook") is not None:
            have = hashlib.sha256(_read(target)).hexdigest()
            if have == new:
                report.unchanged.append(nb.name)
            elif have == record.get(nb.name):
                writes.append((target, data))
                report.updated.append(nb.name)
            elif force:
                writes.append((target, data))
                report.overwritten.append(nb.name)
            else:
                report.skipped.append(nb.name)
                continue
        else:
            writes.append((target, data))
            report.copied.append(nb.name)
        new_record[nb.name] = new
    writes.append((record_path, (json.dumps(new_record, indent=1, sort_keys=True) + "\n").encode()))
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for target, data in writes:
            _write(target, data)
    except OSError as exc:
        raise path_error(dest, exc, "copy the series into") from None
    return report
