"""This machine's engines: `InProcess` (`--jobs 1`: one input after another in this process, as before) and `Pool`
(worker processes, each running `batch.assess_one` with its own MediaPipe and models).

Workers are spawned, not forked: the parent may hold TensorFlow's or ONNX Runtime's threads, which a fork would copy
in an unknown state, and MediaPipe's graphs cannot be pickled anyway. A worker ignores Ctrl-C (the terminal sends it
to every process in the foreground group; the parent stops the workers itself) and dies at once on SIGTERM, which is
how the parent stops them when it is interrupted or terminated. A worker also exits by itself when its parent is
gone, even killed with SIGKILL (`_exit_with_parent`), so no run leaves processes behind.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager
from pathlib import Path

from squatcli.batch import Models, Options, Outcome, assess_one, failed
from squatcli.errors import SquatError, unexpected

PARENT_POLL_S = 0.5  # how often a worker checks that its parent is alive
STOP_WAIT_S = 5.0  # how long a stopped worker may take to die before it is killed
ATTEMPTS = 2  # an input whose worker died is tried once more (the death may have been another input's doing)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and `taskset` narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class InProcess:
    """`assess_one` in this process, one input at a time, with `models` loaded by the caller and a progress bar
    per input (`bar(path)`: a context manager yielding a progress callback)."""

    depth = 1

    def __init__(self, options: Options, models: Models, bar: Callable[[Path], AbstractContextManager]):
        self.options, self.models, self.bar = options, models, bar
        self.finished: list[tuple[int, Outcome]] = []

    def submit(self, index: int, path: Path) -> None:
        with self.bar(path) as progress:
            self.finished.append((index, assess_one(path, self.options, progress, self.models)))

    def wait(self) -> list[tuple[int, Outcome]]:
        finished, self.finished = self.finished, []
        return finished

    def close(self, abort: bool) -> None:
        pass


class Pool:
    """`jobs` worker processes on this machine; two inputs queued per worker so none waits for the parent."""

    def __init__(self, jobs: int, options: Options):
        self.jobs, self.options, self.depth = jobs, options, 2 * jobs
        self.running: dict = {}  # future -> (index, path, attempt)
        self.known = set(mp.active_children())  # processes that are not this pool's (left alone when it stops)
        self.executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.jobs, mp_context=mp.get_context("spawn"), initializer=_worker_start,
                                   initargs=(os.getpid(),))  # fmt: skip

    def submit(self, index: int, path: Path, attempt: int = 1) -> None:
        with _sigint_blocked():  # a worker spawned here starts with Ctrl-C held until it ignores it
            future = self.executor.submit(assess_one, path, self.options)
        self.running[future] = (index, path, attempt)

    def wait(self) -> list[tuple[int, Outcome]]:
        done, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
        finished, again = [], []
        for future in done:
            index, path, attempt = self.running.pop(future)
            try:
                finished.append((index, future.result()))
            except BrokenProcessPool:  # a worker died (killed by the system: out of memory?)
                if attempt < ATTEMPTS:
                    again.append((index, path, attempt + 1))
                else:
                    finished.append((index, failed(path, SquatError("the worker process assessing it died twice "
                                                                    "(out of memory?)", path))))  # fmt: skip
            except Exception as e:  # noqa: BLE001 - e.g. a result that could not be sent back
                finished.append((index, failed(path, unexpected(e, path))))
        if again:
            self._restart()
            for index, path, attempt in again:
                self.submit(index, path, attempt)
        return finished

    def _restart(self) -> None:
        """A new pool after a worker died (the old one refuses work); the inputs it held are submitted again."""
        pending = [(index, path, attempt + 1) for index, path, attempt in self.running.values()]
        self.running.clear()
        self._stop()
        self.executor = self._start()
        for index, path, attempt in pending:
            self.submit(index, path, min(attempt, ATTEMPTS))

    def close(self, abort: bool) -> None:
        if abort:
            self._stop()
        else:
            self.executor.shutdown(wait=True)

    def _stop(self) -> None:
        """Stop every worker now (SIGTERM, then SIGKILL for any still alive after STOP_WAIT_S) and drop the pool."""
        workers = [p for p in mp.active_children() if p not in self.known]
        for process in workers:
            process.terminate()
        end = time.monotonic() + STOP_WAIT_S
        for process in workers:
            process.join(max(0.0, end - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        self.executor.shutdown(wait=False, cancel_futures=True)


class _sigint_blocked:
    """Hold SIGINT in this thread for the block (a process spawned meanwhile inherits the held mask)."""

    def __enter__(self) -> None:
        self.old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if hasattr(signal, "pthread_sigmask") else None

    def __exit__(self, *exc) -> None:
        if self.old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.old)


def _worker_start(parent: int) -> None:
    """Initialiser of a worker process: Ctrl-C ignored, SIGTERM ends it at once, and it exits with its parent."""
    from squatcli.interrupts import quiet_worker

    quiet_worker()
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """Exit as soon as the parent process is gone (this process is then adopted by another)."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)
