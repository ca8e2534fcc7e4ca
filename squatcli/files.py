"""The checks every command makes on the files it reads and writes, before any work starts.

* `require_input_file`: an input must be a regular file this process can read. A FIFO, socket or device is
  refused (opening a FIFO named `x.mp4` would wait forever for a writer), and so is a folder.
* `check_output_file` / `check_output_folder`: an output must be writable where it is going (its folder, or the
  nearest folder that exists, accepts new files), must not be a folder (or, for a folder, a file), and must not
  be one of the command's inputs (nothing is ever written over an input).
* `read_json`: any JSON file, with every way Python's parser can fail (bad syntax, bad encoding, nesting deeper
  than the interpreter's recursion limit, integers longer than its digit limit) as one SquatError.

Writing itself goes through `datasets.atomic_output`, so a failure while writing leaves nothing behind; these
checks make the failures whose cause is known up front happen before the expensive work.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from squatcli.errors import SquatError

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))  # fmt: skip


def _file_kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def require_input_file(path: str | Path, what: str = "file") -> Path:
    """`path` if it is a regular file that can be read; otherwise a SquatError saying what it is instead.

    `what` names the expected kind in the message for a folder ("is a folder, not a video").
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode  # stat never opens the file, so a FIFO cannot block here
    except (FileNotFoundError, NotADirectoryError):
        raise SquatError("no such file", path) from None
    except PermissionError:
        raise SquatError("cannot be read (permission denied)", path) from None
    except OSError as e:
        raise SquatError(f"cannot be read ({e.strerror or type(e).__name__})", path) from None
    if stat.S_ISDIR(mode):
        raise SquatError(f"is a folder, not a {what}", path)
    if not stat.S_ISREG(mode):
        raise SquatError(f"is {_file_kind(mode)}, not a regular file", path)
    if not os.access(path, os.R_OK):
        raise SquatError("cannot be read (permission denied)", path)
    return path


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name the same file (through links, `..` or another spelling)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return Path(a).resolve() == Path(b).resolve()


def nearest_existing(path: str | Path) -> Path:
    """`path` or its nearest ancestor that exists: where a new file or folder at `path` would be created."""
    path = Path(path).expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_writable_folder(folder: Path, target: Path) -> None:
    """The nearest existing folder at or above `folder` must accept new files (tried, not guessed from the mode
    bits: root ignores them, and /proc or a read-only mount refuse whatever they say)."""
    probe = nearest_existing(folder)
    if not probe.is_dir():
        raise SquatError(f"cannot be created: {probe} is a file, not a folder", target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".squat-write-test.", dir=probe)
        os.close(fd)
        os.remove(tmp)
    except OSError as e:
        raise SquatError(f"cannot be written: {probe} does not accept new files ({e.strerror or type(e).__name__})",
                         target) from None  # fmt: skip


def check_output_file(path: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """Before the work: `path` can be written as a file and is none of `inputs`; else a SquatError."""
    path = Path(path)
    for source in inputs:
        if same_file(path, source):
            raise SquatError("is also an input of this command; refusing to write over it", path)
    if path.is_dir():
        raise SquatError("is a folder; give a file name", path)
    if path.exists() and not path.is_file():
        raise SquatError(f"is {_file_kind(path.stat().st_mode)}; give a regular file name", path)
    _check_writable_folder(path.parent, path)
    return path


def check_output_folder(path: str | Path, target: str | Path | None = None) -> Path:
    """Before the work: `path` is a folder that exists or can be created, and new files can be written in it.
    The error names `target` (what will be written there) if given."""
    path = Path(path)
    target = path if target is None else Path(target)
    if path.exists() and not path.is_dir():
        raise SquatError(f"{'' if target == path else str(path) + ' '}exists and is not a folder", target)
    _check_writable_folder(path, target)
    return path


def read_json(path: str | Path) -> Any:
    """The JSON value in a file; a SquatError naming the file for anything that is not valid JSON."""
    path = require_input_file(path)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except RecursionError:
        raise SquatError("not valid JSON (RecursionError: nested too deeply to read)", path) from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, and integers over Python's digit limit
        raise SquatError(f"not valid JSON ({type(e).__name__}: {str(e).splitlines()[0][:120]})", path) from None
