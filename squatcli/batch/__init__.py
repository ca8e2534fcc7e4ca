"""Many inputs: the one per-input function (`assess_one`) that every engine runs, and `run`, which hands the
outcomes back in input order while recording each as it finishes (`ledger`, for `--output` and resume).

Engines (`local.InProcess`, `local.Pool`, `cluster.RayTasks`) differ only in where `assess_one` runs: in this
process, in worker processes of this machine, or as Ray tasks. Each worker process loads its models once
(`models_for`, keyed by the model's fingerprint) and imports MediaPipe once; a pose graph is made per video, as in
one process (its tracking state belongs to one video). The parent never holds more than `Engine.depth` inputs in
flight and `LOOKAHEAD` finished results waiting for an earlier, slower input, so memory stays bounded however many
inputs there are.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from squatcli import interrupts
from squatcli.errors import SquatError, unexpected
from squatcli.skeleton import DEFAULT_STRIDE

LOOKAHEAD_PER_SLOT = 8  # results that may wait for an earlier input, per input running at once
MIN_LOOKAHEAD = 32


@dataclass(frozen=True)
class Options:
    """What `assess_one` needs besides the input: sent to every worker with every input (small and picklable)."""

    model: str = "cnn"
    stride: int | None = DEFAULT_STRIDE
    fingerprint: str = ""  # modelfiles.fingerprint(model): keys a worker's loaded models and the resume key
    keep_report: bool = True  # hand the typed Report back (the terminal and file views need it); else JSON only
    identify: bool = False  # hash each input where it is read (`--output` records it to resume)

    def result_options(self, path: str | Path) -> dict[str, Any]:
        """The options besides the model that change this input's result: the stride, for a video."""
        from squatcli.video import VIDEO_SUFFIXES

        return {"stride": self.stride} if Path(path).suffix.lower() in VIDEO_SUFFIXES else {}


@dataclass
class Models:
    """One process's loaded models for one `-m` (models.load_for's cache), the time the first took to load, the
    error that stopped it, if any (then every input this process takes fails with it), and the process's start-up."""

    cache: dict = field(default_factory=dict)
    load_s: float = 0.0
    error: SquatError | None = None
    startup_s: float = 0.0  # the process's seconds before its models loaded (Python's start and the imports)


@dataclass
class Outcome:
    """What one input gave: its JSON object (ok or not), its typed report (when asked for), its error as the one
    line a user sees, the start-up and model load times of the process that ran it, and the input's identity (when
    asked for)."""

    data: dict
    report: Any = None
    error: str | None = None
    model_load_s: float = 0.0
    identity: Any = None  # ledger.Identity
    startup_s: float = 0.0

    def json(self) -> dict:
        """The object `--json` prints and `--output` records: a result's `timings` count the start-up and the first
        model's load of the process that ran it (as one process always did), also given as `model_load_s`."""
        if self.error is not None:
            return dict(self.data)
        timings = self.data.get("timings", {})
        timings = timings | {"startup_s": round(self.startup_s, 3),
                             "model_load_s": round(self.model_load_s + timings.get("model_load_s", 0.0), 3)}  # fmt: skip
        return self.data | {"timings": timings, "model_load_s": round(self.model_load_s, 3)}


def failed(path: str | Path, error: Exception, **fields: Any) -> Outcome:
    """The outcome of an input that could not be assessed."""
    from squatcli.assess import failure

    return Outcome(failure(Path(path), error), error=str(error), **fields)


_MODELS: dict[str, Models] = {}  # a worker process's models, by the model's fingerprint


def load_models(options: Options, startup_s: float | None = None) -> Models:
    """Load the first model `-m` may need (the others load when an input needs them), timed; a model that cannot
    load is recorded, not raised. `startup_s`: the process's seconds so far (default: measured now)."""
    from squatcli.clock import process_seconds
    from squatcli.modelfiles import first_candidate

    models = Models(startup_s=process_seconds() if startup_s is None else startup_s)
    start = time.perf_counter()
    try:
        from squatcli.models import load_model

        first = first_candidate(options.model)
        models.cache[first] = load_model(first)
    except SquatError as e:
        models.error = e
    models.load_s = time.perf_counter() - start
    return models


def models_for(options: Options) -> Models:
    """This worker process's models for `options`, loaded on first use and kept for every later input. A worker
    whose model files differ from the ones the parent checked (another install on a cluster node) refuses."""
    models = _MODELS.get(options.fingerprint)
    if models is None:
        from squatcli.modelfiles import fingerprint

        if options.fingerprint and fingerprint(options.model) != options.fingerprint:
            models = Models(error=SquatError(f"model {options.model}: its files on this worker are not the ones the "
                                             "command checked; install the same squatcli and models everywhere"))  # fmt: skip
        else:
            models = load_models(options)
        _MODELS[options.fingerprint] = models
    return models


def assess_one(path: str | Path, options: Options, progress: Callable | None = None, models: Models | None = None) -> Outcome:
    """One input, end to end, never raising for the input's sake: the report and its JSON object, or the input's
    error (a SquatError's line, or any other exception as `errors.unexpected` words it). The function every engine
    runs; `models` is the calling process's (worker processes: `models_for`)."""
    from squatcli.assess import assess
    from squatcli.report.model import build

    models = models or models_for(options)
    identity = None
    try:
        if options.identify:
            from squatcli.batch.ledger import identify

            identity = identify(path)
        if models.error is not None:
            raise models.error
        report = build(assess(path, options.model, options.stride, progress, models.cache))
        return Outcome(report.to_dict(), report if options.keep_report else None, None, models.load_s, identity,
                       models.startup_s)  # fmt: skip
    except Exception as caught:  # noqa: BLE001 - any failure is this input's error; the batch goes on
        interrupts.reraise_if_interrupted(caught)
        error = caught if isinstance(caught, SquatError) else unexpected(caught, path)
        return failed(path, error, model_load_s=models.load_s, identity=identity, startup_s=models.startup_s)


class Engine(Protocol):
    """Where `assess_one` runs. `depth`: how many inputs may be in flight at once (submitted, not yet collected)."""

    depth: int

    def submit(self, index: int, path: Path) -> None: ...

    def wait(self) -> list[tuple[int, Outcome]]:
        """At least one finished input (blocks until there is one)."""

    def close(self, abort: bool) -> None:
        """Release the workers: after the last input, or at once (`abort`: interrupted), leaving nothing behind."""


def done_before(paths: list[Path], errors: list[SquatError | None], options: Options, ledger: Any) -> list[bool]:
    """Which inputs `ledger` (an open ledger.Ledger, or None) already holds a good result of under `options`."""
    return [ledger is not None and error is None and ledger.holds(path, options) for path, error in zip(paths, errors)]


def run(paths: list[Path], errors: list[SquatError | None], options: Options, engine: Engine, ledger: Any = None,
        skip: list[bool] | None = None, on_done: Callable[[int, int], None] | None = None,
        ) -> Iterator[tuple[Path, Outcome | None]]:  # fmt: skip
    """Each input's outcome, in input order (None: one of `skip`, whose result `ledger` holds from an earlier run).

    `errors` are the inputs' errors found before any work (their outcome without running them). Each finished
    input is appended to `ledger` as soon as it is collected, before anything waits for an earlier input, so a
    crash loses at most the inputs in flight. The engine is closed at the end, or aborted if the caller stops
    early or anything raises (Ctrl-C, SIGTERM, stdout gone)."""
    n, ready, running = len(paths), {}, set()
    lookahead = max(MIN_LOOKAHEAD, LOOKAHEAD_PER_SLOT * engine.depth)
    next_in = next_out = done = 0
    finished = False
    try:
        while next_out < n:
            while next_out in ready:
                yield paths[next_out], ready.pop(next_out)
                next_out += 1
            while next_in < n and len(running) < engine.depth and next_in - next_out < lookahead:
                i, next_in = next_in, next_in + 1
                if errors[i] is not None:
                    ready[i] = failed(paths[i], errors[i])
                elif skip is not None and skip[i]:
                    ready[i] = None
                else:
                    engine.submit(i, paths[i])
                    running.add(i)
                    continue
                if ready[i] is not None and ledger is not None:
                    ledger.append(ready[i], options)
                done += 1
            if next_out < n and next_out not in ready:
                for i, outcome in engine.wait():
                    running.discard(i)
                    if ledger is not None:
                        ledger.append(outcome, options)
                    ready[i] = outcome
                    done += 1
            if on_done:
                on_done(done, n)
        finished = True
    finally:
        engine.close(abort=not finished)


def workers_for(jobs: int | None, todo: int) -> int:
    """How many inputs run at once on this machine: `jobs` (default: the cores this process may use), never more
    than the `todo` inputs; 1 runs them in this process."""
    from squatcli.batch.local import available_cores

    return max(1, min(jobs or available_cores(), todo))


def engine(kind: str, jobs: int | None, todo: int, options: Options, models: Models | None, bar: Callable,
           address: str | None = None) -> Engine:  # fmt: skip
    """The engine for `todo` inputs: `kind` "ray" (Ray tasks, `batch.cluster`), or "local": a pool of
    `workers_for(jobs, todo)` processes, or this process when that is 1 (its `models`, loaded by the caller when
    there is work, and a progress `bar(path)` per input)."""
    from squatcli.batch import cluster, local

    if kind == "ray" and todo > 0:
        return cluster.RayTasks(jobs, options, address)
    workers = workers_for(jobs, todo)
    if workers == 1:
        return local.InProcess(options, models or Models(), bar)
    return local.Pool(workers, options)
