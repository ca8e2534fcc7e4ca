"""`squat assess --output FILE`: every finished input's JSON line appended as it completes, and a rerun with the same
FILE that skips the inputs already done under the same model and options.

Never a torn line: the file is opened with O_APPEND and each line goes out in one `write` of its whole bytes, so it
lands at the end of the file in one piece and reaches the kernel at once (it survives the process being killed,
SIGKILL included; `fsync` runs at most once a second and at the end, so a power cut may lose the last second). A
write that fails part-way (a full disk) is cut back to the line before and ends the run. A line left incomplete all
the same (a power cut) is the file's last, without its newline: the next run drops it and redoes that input.

The resume key of a result (`resume_key`) is the sha256 of: the input file's content (sha256), the model's
fingerprint (modelfiles.fingerprint: its metadata, which records its weights' sha256), the options that change the
result (`batch.Options.result_options`: the stride, for videos), the JSON schema and squatcli's version. A rerun
skips an input whose key the file holds with `"ok": true`; failed inputs are tried again, their old lines removed
first (the file is rewritten atomically when any must go), so the file keeps exactly one line per input. The
content hash is computed where the input is read (by the worker); a rerun reuses the hash recorded for the same
path, size and modification time and reads a file only when its size matches a recorded one under another name or
time (a moved or touched file).

One run writes a file at a time (an exclusive lock, where the system has `fcntl`).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from squatcli.errors import SquatError

FSYNC_EVERY_S = 1.0


@dataclass(frozen=True)
class Identity:
    """An input file's content hash, with the size and modification time it had when hashed."""

    sha256: str
    size: int
    mtime_ns: int


def identify(path: str | Path) -> Identity:
    """The identity of an input file (reads it whole: about 1 s per GB)."""
    from squatcli.modelfiles import file_sha256

    st = os.stat(path)
    return Identity(file_sha256(path), st.st_size, st.st_mtime_ns)


def resume_key(sha256: str, options: Any, path: str | Path) -> str:
    """The key a result is recorded and found under (see the module doc); `options` a batch.Options."""
    from squatcli import __version__
    from squatcli.assess import SCHEMA_VERSION

    fields = {"input_sha256": sha256, "model": options.fingerprint, "options": options.result_options(path),
              "schema": SCHEMA_VERSION, "squatcli": __version__}  # fmt: skip
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


class Ledger:
    """An open results file: what it holds, and `append` for each finished input."""

    def __init__(self, path: Path, fd: int, results: list[dict], created: bool):
        self.path, self.fd, self.created = path, fd, created
        self.appended = False
        self.rewrite: bytes | None = None  # the file's new content, written before the first new line
        self.last_sync = time.monotonic()
        self.done_keys: set[str] = set()
        self.hashes: dict[tuple[str, int, int], str] = {}  # (input, size, mtime_ns) -> content sha256
        self.sizes: set[int] = set()
        for result in results:
            self._index(result)

    @classmethod
    def open(cls, path: Path, inputs: list[Path]) -> Ledger:
        """Open (or create) `path` for this run's `inputs`: locked and read. Its torn last line and the failed
        results of these inputs, which this run tries again, are removed when the first new line is written. A file
        that is not one `--output` wrote is refused, and left as it is."""
        created = not os.path.exists(path)
        fd = _open_locked(path)
        try:
            lines, torn = _parse(_read_all(fd), path)
        except BaseException:
            os.close(fd)
            raise
        again = {str(p) for p in inputs}
        kept = [(raw, obj) for raw, obj in lines if obj.get("ok") is True or obj.get("input") not in again]
        ledger = cls(path, fd, [obj for _, obj in kept], created)
        if torn or len(kept) < len(lines):  # done before the first new line: a run that stops first changes nothing
            ledger.rewrite = b"".join(raw + b"\n" for raw, _ in kept)
        return ledger

    def holds(self, path: Path, options: Any) -> bool:
        """Whether the file holds a good result of this input under `options` (the model and what changes it)."""
        try:
            st = os.stat(path)
        except OSError:
            return False
        sha256 = self.hashes.get((str(path), st.st_size, st.st_mtime_ns))
        if sha256 is None:
            if st.st_size not in self.sizes:  # no recorded file has its size: it cannot be one of them
                return False
            try:
                sha256 = identify(path).sha256
            except OSError:
                return False
        return resume_key(sha256, options, path) in self.done_keys

    def append(self, outcome: Any, options: Any) -> None:
        """Append one finished input (a batch.Outcome): its JSON object and its `resume` fields, in one write."""
        from squatcli.datasets import to_json

        line, ident = outcome.json(), outcome.identity
        line["resume"] = None if ident is None else {
            "key": resume_key(ident.sha256, options, line["input"]), "input_sha256": ident.sha256,
            "size": ident.size, "mtime_ns": ident.mtime_ns}  # fmt: skip
        self._write((to_json(line) + "\n").encode("utf-8"))
        self._index(line)

    def close(self) -> None:
        """Sync and close; a file this run created and never wrote to is removed."""
        try:
            os.fsync(self.fd)
        except OSError:
            pass
        os.close(self.fd)
        if self.created and not self.appended and os.path.getsize(self.path) == 0:
            os.remove(self.path)

    def _write(self, data: bytes) -> None:
        if self.rewrite is not None:
            self.fd, self.rewrite = _rewrite(self.path, self.fd, self.rewrite), None
        before = os.fstat(self.fd).st_size
        try:
            if os.write(self.fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as e:
            try:
                os.ftruncate(self.fd, before)  # no torn line: back to the last whole one
            except OSError:
                pass
            from squatcli.files import os_reason

            raise SquatError(f"cannot be written ({os_reason(e)})", self.path) from None
        self.appended = True
        if time.monotonic() - self.last_sync >= FSYNC_EVERY_S:
            os.fsync(self.fd)
            self.last_sync = time.monotonic()

    def _index(self, result: dict) -> None:
        r = result.get("resume")
        if result.get("ok") is True and isinstance(r, dict) and {"key", "input_sha256", "size", "mtime_ns"} <= set(r):
            self.done_keys.add(r["key"])
            self.hashes[(result["input"], r["size"], r["mtime_ns"])] = r["input_sha256"]
            self.sizes.add(r["size"])


def _open_locked(path: Path) -> int:
    """`path` opened for appending (created if need be) and locked against another run."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as e:
        from squatcli.files import os_reason

        raise SquatError(f"cannot be opened ({os_reason(e)})", path) from None
    try:
        import fcntl
    except ImportError:  # no fcntl (Windows): no lock
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise SquatError("another squat assess is writing its results there; wait for it, or give another file",
                         path) from None  # fmt: skip
    return fd


def _read_all(fd: int) -> bytes:
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _result(raw: bytes) -> dict | None:
    """The result object of one line, or None if it is not one."""
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) and isinstance(obj.get("input"), str) and "ok" in obj else None


def _parse(data: bytes, path: Path) -> tuple[list[tuple[bytes, dict]], bool]:
    """The file's results (raw line, object) and whether its last line is torn (no newline, not a whole result:
    dropped). Any other line that is not a result refuses the file: it is not one `--output` wrote."""
    body, _, tail = data.rpartition(b"\n")
    lines = body.split(b"\n") if body or data.endswith(b"\n") else []
    torn = bool(tail) and _result(tail) is None
    if tail and not torn:  # a whole result without its newline (an editor's doing): kept
        lines.append(tail)
    results = []
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        obj = _result(raw)
        if obj is None:
            raise SquatError(f"line {n} is not a result of squat assess: give a new file, or one that an earlier "
                             "--output wrote", path)  # fmt: skip
        results.append((raw, obj))
    return results, torn or bool(tail)


def _rewrite(path: Path, fd: int, text: bytes) -> int:
    """Replace the file by `text` atomically (whole or not at all) and return a locked descriptor of the new file
    (the old one, still locked until then, is closed)."""
    from squatcli.datasets import atomic_output

    with atomic_output(path) as tmp:
        tmp.write_bytes(text)
    new = _open_locked(path)
    os.close(fd)
    return new
