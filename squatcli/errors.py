"""The one error type users see: a message naming the file and the problem, shown without a traceback."""

from __future__ import annotations

import os
from pathlib import Path


class SquatError(Exception):
    """A problem with the user's input or environment; the CLI prints it on one line and exits 1."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class StdoutError(SquatError):
    """stdout cannot take the results (a full disk, a closed stdout, a reader that stopped reading): nothing more
    can be printed, so the command ends. `broken_pipe`: the reader went away, which ends it quietly."""

    def __init__(self, reason: str, broken_pipe: bool = False):
        self.broken_pipe = broken_pipe
        super().__init__(f"cannot be written ({reason})", "stdout")


def unexpected(error: Exception, path: str | Path | None = None) -> SquatError:
    """An exception squatcli did not foresee, as the one-line error a user sees (SQUAT_DEBUG=1: the traceback).
    Here rather than in the CLI so that a worker process words an input's failure the same way."""
    if os.environ.get("SQUAT_DEBUG"):
        raise error
    text = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    return SquatError(f"unexpected error ({type(error).__name__}{': ' + text if text else ''}); "
                      "please report it (SQUAT_DEBUG=1 shows the traceback)", path)  # fmt: skip
