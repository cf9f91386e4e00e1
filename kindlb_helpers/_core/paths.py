"""Paths the user typed (a folder for the series, a bundle file, a notebook, an output folder).

An OS error on such a path ends as one line that names the path and says what to do, never the OS's raw
text with a traceback: :func:`path_error` turns an ``OSError`` into :class:`BadInput` (a path the user can
change) or :class:`KindlbError` (a full disk, a failing device), and :func:`folder_for` /
:func:`file_to_write` check a place before any long work starts.

>>> import errno
>>> print(path_error("/data/kindlb.tar", OSError(errno.ENOSPC, "No space left on device"), "write the bundle"))
cannot write the bundle '/data/kindlb.tar': the disk is full: free some space, or pick a folder on another disk
"""
from __future__ import annotations

import errno
import os
from pathlib import Path

from .errors import BadInput, KindlbError
from .inputs import cut

#: What to do, by the OS's error number; the ones a user fixes by typing another path are BadInput.
_FIX = {
    errno.ENAMETOOLONG: "the name is too long (a name may have at most 255 bytes, a path 4,096): pick a shorter one",
    errno.ENOENT: "a folder on the way does not exist: create it first, or pick another path",
    errno.EACCES: "you may not use that place: pick a folder you own, or change its permissions",
    errno.EPERM: "the system does not allow it there: pick a folder you own",
    errno.EROFS: "it is on a read-only file system: pick a folder on a writable disk",
    errno.EISDIR: "it is a folder: give a file name inside it",
    errno.ELOOP: "it goes through a loop of symbolic links: pick a path without them",
    errno.EINVAL: "the name is not allowed here: pick one of plain letters, digits, '-', '_' and '.'",
}
#: Not the path's fault: the same path may work once this is fixed.
_NOT_INPUT = {
    errno.ENOSPC: "the disk is full: free some space, or pick a folder on another disk",
    errno.EDQUOT: "your disk quota is used up: free some space, or pick a folder on another disk",
    errno.EIO: "the disk reported an input/output error: check the disk, or pick a folder on another one",
}


def _file_on_the_way(path: Path) -> Path | None:
    """The first part of PATH (itself included) that exists and is not a folder, if any."""
    for part in [*reversed(path.parents), path]:
        try:
            if part.exists() and not part.is_dir():
                return part
        except OSError:
            return None
    return None


def path_error(path: str | os.PathLike, exc: OSError, doing: str) -> KindlbError:
    """One line for an OS error while DOING (a verb: "write", "create the folder") on the user's PATH.

    ``FileExistsError``/``ENOTDIR`` under a regular file names that file; a long path is cut, its length said.
    """
    shown = cut(str(path), 160)
    code = exc.errno
    if code in (errno.ENOTDIR, errno.EEXIST):
        blocker = _file_on_the_way(Path(os.path.abspath(os.path.expanduser(str(path)))))
        if blocker is not None:
            if str(blocker) == os.path.abspath(os.path.expanduser(str(path))):
                return BadInput(f"cannot {doing} {shown}: it is a file, not a folder; pick a folder (or move that "
                                "file away)")
            return BadInput(f"cannot {doing} {shown}: {cut(str(blocker), 160)} on its way is a file, not a folder; "
                            "pick a path under a folder (or move that file away)")
        if code == errno.EEXIST:
            return BadInput(f"cannot {doing} {shown}: it exists already; pick a new name, or remove it first")
    if code in _NOT_INPUT:
        return KindlbError(f"cannot {doing} {shown}: {_NOT_INPUT[code]}")
    if code in _FIX:
        return BadInput(f"cannot {doing} {shown}: {_FIX[code]}")
    return BadInput(f"cannot {doing} {shown} ({exc.strerror or type(exc).__name__}): pick another path")


def folder_for(path: str | os.PathLike, doing: str, named: str | os.PathLike | None = None) -> Path:
    """PATH as a folder that exists (created, with its parents, when missing) and can be written to; an error
    names NAMED (the path the user typed, when PATH is its folder), else PATH."""
    folder = Path(os.path.expanduser(str(path)))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise path_error(named or path, exc, doing) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise path_error(named or path, OSError(errno.EACCES, os.strerror(errno.EACCES)), doing)
    return folder


def file_to_write(path: str | os.PathLike, doing: str) -> Path:
    """PATH as a file that can be written: its folder exists (created when missing) and is writable, its
    name fits, and it is not a folder. Nothing is written at PATH itself."""
    target = Path(os.path.expanduser(str(path)))
    try:
        if target.is_dir():
            raise BadInput(f"cannot {doing} {cut(str(path), 160)}: it is a folder; give a file name inside it")
    except OSError as exc:
        raise path_error(path, exc, doing) from None
    folder_for(target.parent, doing, named=path)
    try:  # the name's length: the OS is the judge (255 bytes on most file systems)
        os.stat(target)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise path_error(path, exc, doing) from None
    return target
