"""The checks every command makes on the files it reads and writes, before any work starts.

* `require_input_file`: an input must be a regular file this process can read. A FIFO, socket or device is
  refused (opening a FIFO named `x.mp4` would wait forever for a writer), and so is a folder.
  `require_input_folder`: the same for a folder (a dataset).
* `check_output_file` / `check_output_folder`: an output must be writable where it is going (its folder, or the
  nearest folder that exists, accepts new files), must not be a folder (or, for a folder, a file), and must not
  be one of the command's inputs (nothing is ever written over an input).
* `read_json`: any JSON file, with every way Python's parser can fail (bad syntax, bad encoding, nesting deeper
  than the interpreter's recursion limit, integers longer than its digit limit) as one SquatError.

Writing itself goes through `datasets.atomic_output`, so a failure while writing leaves nothing behind; these
checks make the failures whose cause is known up front happen before the expensive work.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from squatcli.errors import SquatError, StdoutError

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


def require_input_folder(path: str | Path, what: str = "folder") -> Path:
    """`path` if it is a folder this process can list; otherwise a SquatError saying what is wrong (`what` names
    the expected kind: "no such dataset folder")."""
    path = Path(path)
    if not path.exists():
        raise SquatError(f"no such {what}", path)
    if not path.is_dir():
        raise SquatError(f"is a file, not a {what}", path)
    if not os.access(path, os.R_OK | os.X_OK):
        raise SquatError(f"{what} cannot be read (permission denied)", path)
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


def size_text(n_bytes: float) -> str:
    """A size in words, in the largest unit it fills: "3.9 GB", "536.8 MB", "12.0 kB", "0 bytes"."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{n_bytes:.0f} bytes"


def os_reason(error: OSError) -> str:
    """An OSError in the words of a message: "no space left on device", "read-only file system"."""
    text = error.strerror or type(error).__name__
    return text[:1].lower() + text[1:]


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
        raise SquatError(f"cannot be written: {probe} does not accept new files ({os_reason(e)})", target) from None


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


def read_json(path: str | Path, object_hook: Callable[[dict], Any] | None = None) -> Any:
    """The JSON value in a file; a SquatError naming the file for anything that is not valid JSON. `object_hook`
    (json.load's) sees each object as soon as it is parsed."""
    path = require_input_file(path)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f, object_hook=object_hook)
    except RecursionError:
        raise SquatError("not valid JSON (RecursionError: nested too deeply to read)", path) from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, and integers over Python's digit limit
        raise SquatError(f"not valid JSON ({type(e).__name__}: {str(e).splitlines()[0][:120]})", path) from None


class ResultStream:
    """stdout for results, as the process has it at each write (a test runner swaps sys.stdout), for rich and
    print alike. A write or flush that fails raises StdoutError (disk full, stdout closed, or `broken_pipe` when
    the reader stopped reading) instead of an OSError from deep inside rich, and points fd 1 at /dev/null so
    that Python's own flush at exit cannot print a second error."""

    def write(self, text: str) -> int:
        return self._call(lambda stream: stream.write(text))

    def flush(self) -> None:
        self._call(lambda stream: stream.flush())

    def isatty(self) -> bool:
        try:
            return bool(sys.stdout and sys.stdout.isatty())
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        if sys.stdout is None:
            raise OSError(errno.EBADF, "stdout is closed")
        return sys.stdout.fileno()

    @property
    def encoding(self) -> str:
        return getattr(sys.stdout, "encoding", None) or "utf-8"

    def _call(self, action: Callable) -> Any:
        if sys.stdout is None:  # Python found fd 1 closed at start-up (`>&-`)
            raise StdoutError("it is closed")
        try:
            return action(sys.stdout)
        except ValueError:  # "I/O operation on closed file"
            raise StdoutError("it is closed") from None
        except OSError as e:
            _discard_stdout()
            reason = "it is closed" if e.errno == errno.EBADF else os_reason(e)
            raise StdoutError(reason, broken_pipe=e.errno == errno.EPIPE) from None


def _discard_stdout() -> None:
    """Point fd 1 at /dev/null (for a real process; a test runner's stream has no descriptor)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
