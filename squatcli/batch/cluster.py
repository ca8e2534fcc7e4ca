"""`--engine ray`: `batch.assess_one` as Ray tasks (Ray Core, one CPU each), on an existing cluster (`--address` or
RAY_ADDRESS) or on a local Ray started for the run (`--jobs` CPUs, default all).

Inputs are read where the task runs, by path: every node must see the inputs at the same path (a shared file
system), as it must have the same squatcli and models installed (a worker whose model files differ refuses).
Shipping the bytes as object refs instead would send every video through this process and the object store
(gigabytes for a large batch, and a copy per video in flight), and each task would then write them back to a
temporary file for OpenCV to decode. Relative paths are read from this process's working directory, which each
task enters (so the JSON names each input exactly as the pool does); a node where that folder does not exist
fails those inputs, saying so.

Ray schedules the tasks; this module only keeps `depth` of them in flight (ray.wait), so a batch of any size holds
a bounded number of results. A task whose worker process dies is retried once by Ray.
"""

from __future__ import annotations

import logging
import os
import signal
import warnings
from pathlib import Path
from typing import Any

from squatcli.batch import Options, Outcome, assess_one, failed
from squatcli.errors import SquatError, unexpected

INSTALL = "pip install 'squatcli[cluster]'"


def require_ray() -> None:
    """Refuse `--engine ray` at once, in one line, when Ray is not installed."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise SquatError(f"--engine ray needs Ray, which is not installed ({INSTALL})")


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Refuse at once a HOST:PORT (or ray://HOST:PORT) where nothing answers: Ray itself retries for minutes, logging
    as it goes. Other forms (`auto`, `local`) are left to Ray."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as e:
        from squatcli.files import os_reason

        raise SquatError(f"no Ray cluster answers there ({os_reason(e)})", address) from None


def _run_task(path: Path, options: Options, cwd: str) -> Outcome:
    """The Ray task: `assess_one` from the submitting process's working directory."""
    if os.getcwd() != cwd:
        try:
            os.chdir(cwd)
        except OSError:
            return failed(path, SquatError(f"the Ray node {os.uname().nodename} has no folder {cwd}: --engine ray reads "
                                           "inputs at the same path on every node (a shared file system)", path))  # fmt: skip
    return assess_one(path, options)


class RayTasks:
    """The engine: one Ray task per input, at most `depth` in flight."""

    def __init__(self, jobs: int | None, options: Options, address: str | None = None):
        import ray

        self.ray, self.options, self.cwd = ray, options, os.getcwd()
        self.started = not ray.is_initialized()
        if self.started:
            existing = address or os.environ.get("RAY_ADDRESS")
            if existing:
                check_reachable(existing)
            handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                with warnings.catch_warnings():  # Ray's own warnings: its error is said in one line below
                    warnings.simplefilter("ignore")
                    ray.init(address=existing or None, num_cpus=None if existing else jobs, include_dashboard=False,
                             log_to_driver=False, logging_level=logging.ERROR, configure_logging=True)  # fmt: skip
            except Exception as e:  # noqa: BLE001 - Ray's own errors (no cluster at that address, ...)
                raise SquatError(f"Ray could not start or connect ({type(e).__name__}: {str(e).strip()[:200]})",
                                 existing) from None  # fmt: skip
            finally:
                for signum, handler in handlers.items():  # Ray's SIGTERM handler would skip the command's cleanup
                    signal.signal(signum, handler)
        slots = jobs or int(ray.cluster_resources().get("CPU", 1))
        self.depth = 2 * max(1, slots)
        self.task = ray.remote(_run_task).options(num_cpus=1, max_retries=1)
        self.running: dict[Any, tuple[int, Path]] = {}  # object ref -> (index, path)

    def submit(self, index: int, path: Path) -> None:
        self.running[self.task.remote(path, self.options, self.cwd)] = (index, path)

    def wait(self) -> list[tuple[int, Outcome]]:
        refs = list(self.running)
        done, rest = self.ray.wait(refs, num_returns=1)
        if rest:  # collect whatever else has finished too
            more, _ = self.ray.wait(rest, num_returns=len(rest), timeout=0)
            done += more
        finished = []
        for ref in done:
            index, path = self.running.pop(ref)
            try:
                finished.append((index, self.ray.get(ref)))
            except Exception as e:  # noqa: BLE001 - a task Ray could not run (its worker died twice, ...)
                finished.append((index, failed(path, unexpected(e, path))))
        return finished

    def close(self, abort: bool) -> None:
        """After the last input, or at once (`abort`): the Ray this command started or joined is shut down (Ray then
        ends this job's workers and tasks; cancelling them first can race with their replies and crash Ray's core
        worker); in a Ray the caller started, the tasks in flight are cancelled, their workers killed."""
        if abort and not self.started:
            for ref in self.running:
                try:
                    self.ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - already finished
                    pass
        self.running.clear()
        if self.started:
            self.ray.shutdown()
