"""The one error type users see: a message naming the file and the problem, shown without a traceback."""

from __future__ import annotations

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
