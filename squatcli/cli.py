"""The `squat` command: a thin Typer app that parses options, calls the stage functions and prints their results
through the views of `squatcli.report`; no logic or rendering of its own.

Heavy modules (tensorflow, mediapipe, cv2, matplotlib, scikit-learn) are imported inside the commands, after every
input and output has been checked, so `squat --help` and a mistyped file name answer at once. Errors a user can fix
(SquatError) print one line to stderr and exit 1; usage errors exit 2. Results go to stdout through
files.ResultStream: stdout that cannot take them (a full disk, closed) is an error too, a broken pipe a quiet
exit 141. Every path printed is escaped, so a file named `[red]x.npz` prints as itself.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import inspect
import sys
import time
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from squatcli import interrupts
from squatcli.clock import process_seconds
from squatcli.datasets import AUTO_SPLIT, SPLITS, check_data_spec
from squatcli.errors import SquatError, StdoutError, unexpected
from squatcli.files import check_output_file, check_output_folder, require_input_file, same_file
from squatcli.report.console import err, out
from squatcli.skeleton import DEFAULT_STRIDE, MODEL_KINDS
from squatcli.synth import CLIPS_PER_CLASS, MAX_CLIPS_PER_CLASS, MAX_SUBJECTS, SUBJECTS  # the training corpus

def _no_flag_types(params: list) -> list:
    """Flags take no value: no `<bool>` beside them in --help."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class Command(TyperCommand):
    """A command whose --help shows no type beside its flags."""

    def get_params(self, ctx):
        return _no_flag_types(super().get_params(ctx))


class Group(TyperGroup):
    """The app, whose --help shows no type beside its flags."""

    def get_params(self, ctx):
        return _no_flag_types(super().get_params(ctx))


app = typer.Typer(
    name="squat",
    help="Judge squat form from a video: a pose model finds the joints in every frame, each rep is found and "
    "measured, and a model judges each rep from what the camera's picture shows; you get a verdict, the "
    "measurements behind it and how to film for what the view could not show.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    cls=Group,
)


# Choice options: typer rejects other values with a usage error (exit 2) and lists these in --help.
ModelKind = enum.Enum("ModelKind", [(k, k) for k in MODEL_KINDS], type=str)
Split = enum.Enum("Split", [(k, k) for k in (AUTO_SPLIT, *SPLITS)], type=str)


MAX_SEED = 2**32 - 1  # NumPy, TensorFlow and Python's random all accept seeds 0 .. 2**32 - 1


def learning_rate(value: float | None) -> float | None:
    """Option callback: a learning rate, greater than 0 and at most MAX_LR (typer's `min` cannot exclude 0)."""
    from squatcli.train import MAX_LR

    if value is not None and not 0 < value <= MAX_LR:
        raise typer.BadParameter(f"{value:g} is not greater than 0 and at most {MAX_LR:g}")
    return value


def finite_weight(value: float) -> float:
    """Option callback: a weight, a finite number >= 0 (typer's `min` lets infinity through, and NaN fails oddly)."""
    if not 0 <= value < float("inf"):
        raise typer.BadParameter(f"{value:g} is not a finite number >= 0")
    return value


def print_error(error: Exception) -> None:
    """The one-line form of every error a user sees."""
    err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)


# Typer's own exceptions (exits, usage errors), which it turns into exit codes itself. ClickException is the base
# of usage errors, from click or from the copy of click that newer Typer versions carry.
TYPER_EXCEPTIONS = (typer.Exit, typer.Abort,
                    next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"))  # fmt: skip


def paragraphs(doc: str | None) -> str:
    """A docstring as paragraphs of one line each, so that the terminal, not the source, wraps --help."""
    return "\n\n".join(" ".join(p.split()) for p in inspect.cleandoc(doc or "").split("\n\n"))


def command(*examples: str) -> Callable[[Callable], Callable]:
    """Register a command, its docstring as help and `examples` listed under it. Its errors become one red line
    on stderr and exit code 1 (never a traceback); its interruption (Ctrl-C: exit 130, SIGTERM: exit 143) runs
    the same cleanup."""
    epilog = "Examples:\n" + "\n".join(f"  {escape(e)}" for e in examples) if examples else None
    return lambda fn: app.command(cls=Command, help=paragraphs(fn.__doc__), epilog=epilog)(_one_line_errors(fn))


def _one_line_errors(fn: Callable) -> Callable:
    """`fn` with every error as one line and exit code (see `command`)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StdoutError as e:  # nothing more can be printed: a reader that went away ends it quietly
            if not e.broken_pipe:
                print_error(e)
            raise typer.Exit(141 if e.broken_pipe else 1) from None
        except SquatError as e:
            print_error(e)
            raise typer.Exit(1) from None
        except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (Terminated)
            raise stopped(e) from None
        except TYPER_EXCEPTIONS:
            raise
        except Exception as e:  # noqa: BLE001 - the promise: one line, no traceback
            try:
                interrupts.reraise_if_interrupted(e)
            except KeyboardInterrupt as stop:
                raise stopped(stop) from None
            print_error(unexpected(e))
            raise typer.Exit(1) from None

    return wrapper


def stopped(interruption: KeyboardInterrupt, after: str = "") -> typer.Exit:
    """Say that the command was interrupted (Ctrl-C: exit 130) or terminated (SIGTERM: 143), and `after` what."""
    interrupts.handled()
    terminated = isinstance(interruption, interrupts.Terminated)
    err.print(f"[yellow]{'terminated' if terminated else 'interrupted'}{after}[/]")
    return typer.Exit(143 if terminated else 130)


class Bar:
    """A progress callback(done, total) for a rich progress bar on stderr, drawn from the first report (none when
    stderr is not a terminal: it would leave empty lines); `pause` clears it while results are printed."""

    def __init__(self, description: str):
        self.progress = None
        if err.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            self.progress = Progress(*columns, console=err, transient=True)
            self.task = self.progress.add_task(description, total=None)

    def __call__(self, done: int, total: int | None) -> None:
        if self.progress is not None:
            if not self.progress.live.is_started:
                self.progress.start()
            self.progress.update(self.task, completed=done, total=total)

    def pause(self) -> None:
        if self.progress is not None and self.progress.live.is_started:
            self.progress.stop()


@contextlib.contextmanager
def progress_bar(description: str):
    """A progress Bar for the block, cleared at its end."""
    bar = Bar(description)
    try:
        yield bar
    finally:
        bar.pause()


def print_json(data, compact: bool = False) -> None:
    """Machine-readable output on stdout: indented, or one object per line when `compact`; NaN becomes null."""
    from squatcli.datasets import to_json

    out.file.write(to_json(data, indent=None if compact else 2) + "\n")
    out.file.flush()


EXAMPLE_CLIP = Path(__file__).resolve().parent / "data" / "example_squat.npz"


Engine = enum.Enum("Engine", [(k, k) for k in ("local", "ray")], type=str)


@command("squat assess my_squat.mp4", "squat assess my_squat.mp4 --report report.html --annotate annotated.mp4",
         "squat assess --example", "squat assess videos/ --json > results.jsonl",
         "squat assess videos/ --output results.jsonl   # rerun it after a crash: done inputs are skipped",
         "squat assess /shared/videos/ --engine ray --address ray://head:10001 --output results.jsonl")  # fmt: skip
def assess(
    inputs: Annotated[Optional[list[Path]], typer.Argument(help="Videos, joints .npz files, paper-format .json clips, or folders of them.", show_default=False, readable=False)] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="cnn or lstm: the bundled model of that kind that can read each input (with foot points, without, or the 171 distances of a paper .json clip; the output says which); a bundled name (cnn-nofeet, ...); or a path to a trained model (NAME: its NAME.onnx and NAME.json).")] = "cnn",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per input per line on stdout, nothing else (progress goes to stderr).")] = False,
    report: Annotated[Optional[Path], typer.Option("--report", metavar="OUT.html", help="Write a self-contained HTML report of the (single) input: verdict, why, the reps with a still of each one's deepest point, curves over time, what the view could not judge.", show_default=False)] = None,
    annotate: Annotated[Optional[Path], typer.Option("--annotate", metavar="OUT.mp4", help="Write the (single) input video with the skeleton, the joints at fault, each rep's verdict and measurements and the verdict drawn on it.", show_default=False)] = None,
    stride: Annotated[Optional[int], typer.Option("--stride", min=1, max=10, help="Run the pose model on every k-th video frame (default: about 30 times a second during reps and the first 0.5 s, 10 while standing; 1: every frame).", show_default=False)] = DEFAULT_STRIDE,
    example: Annotated[bool, typer.Option("--example", help="Assess the example pose clip that ships with squatcli.")] = False,
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", min=1, envvar="SQUAT_JOBS", help="Inputs assessed at once, each by a worker process with its own pose and rep models (default: the machine's cores, or $SQUAT_JOBS; 1: one after another in this process). With --engine ray: the CPUs of the local Ray (default: all; a cluster: its CPUs).", show_default=False)] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", metavar="RESULTS.jsonl", help="Append each input's JSON line to this file as soon as it is done. Run the same command again (after a crash, Ctrl-C or a full disk) and the inputs it already holds under the same file contents, model and options are skipped; failed inputs are tried again.", show_default=False)] = None,
    engine: Annotated[Engine, typer.Option("--engine", help="local: this machine (--jobs processes); ray: Ray tasks on a Ray cluster (--address) or a local Ray, reading the inputs by path (every node must see them at the same path); needs pip install 'squatcli[cluster]'.")] = Engine.local,
    address: Annotated[Optional[str], typer.Option("--address", help="--engine ray: the cluster to run on (default: $RAY_ADDRESS, else a local Ray started for the run).", show_default=False)] = None,
) -> None:
    """Assess squat form: a verdict with the measurements behind it, a verdict per rep, class probabilities, and
    what the camera's view could not judge.

    Inputs of any length and frame rate are resampled to 30 fps. Rep models judge each rep the input shows
    (time-normalised, so tempo does not matter); clip models read 10 s windows (shorter clips are padded by
    ping-pong repetition). Many inputs are assessed on every core (--jobs) or a Ray cluster (--engine ray) and
    printed in the order given; --output makes a long batch resumable. Exit code 1 if any input could not be
    assessed.
    """
    from squatcli import batch
    from squatcli.assess import expand_inputs
    from squatcli.modelfiles import fingerprint

    paths = expand_inputs(list(inputs or [])) + ([EXAMPLE_CLIP] if example else [])
    if not paths:
        raise typer.BadParameter("give at least one input (or --example)", param_hint="INPUTS")
    if address is not None and engine is not Engine.ray:
        raise typer.BadParameter("--address is for --engine ray", param_hint="'--address'")
    for option, target, suffixes in (("--annotate", annotate, (".mp4",)), ("--report", report, (".html", ".htm"))):
        check_single_output(option, target, suffixes, paths, as_json)
    if engine is Engine.ray:
        from squatcli.batch.cluster import require_ray

        require_ray()
    startup_s = process_seconds()  # Python's start and the imports so far
    errors = check_inputs(paths, model, as_json)  # before any model loads: a typo answers at once
    if output is not None:
        check_results_file(output, paths, [annotate, report])
    options = batch.Options(model, stride, fingerprint(model), keep_report=not as_json or bool(annotate or report),
                            identify=output is not None)  # fmt: skip
    from squatcli.batch.ledger import Ledger

    ledger = Ledger.open(output, paths) if output is not None else None
    try:
        skip = batch.done_before(paths, errors, options, ledger)
        if any(skip):
            err.print(f"{sum(skip)} of {len(paths)} inputs already in {escape(str(output))} (the same files, model "
                      "and options): not assessed again", highlight=False)  # fmt: skip
        todo = sum(error is None and not done for error, done in zip(errors, skip))
        models = None
        if engine is Engine.local and batch.workers_for(jobs, todo) == 1 and todo:  # in this process: model first
            models = batch.load_models(options, startup_s)
            if models.error is not None:
                raise model_failed(models.error, paths, errors, as_json)
        bar = lambda path: progress_bar(f"pose {escape(path.name)}")  # noqa: E731
        work = batch.engine(engine.value, jobs, todo, options, models, bar, address)
        results = assess_all(paths, errors, options, work, ledger, skip, as_json, annotate, report)
    finally:
        if ledger is not None:
            ledger.close()
    if not as_json:
        if len(results) > 1:
            from squatcli.report.terminal import print_batch_summary

            print_batch_summary(results)
        if models is not None and models.cache:
            err.print(f"[dim]model {escape(', '.join(models.cache))} loaded in {models.load_s:.1f} s; "
                      f"{process_seconds():.1f} s since start[/]", highlight=False)  # fmt: skip
    if any(error is not None for _, _, error in results):
        raise typer.Exit(1)


def assess_all(paths: list[Path], errors: list, options, engine, ledger, skip: list[bool], as_json: bool,
               annotate: Path | None, report: Path | None) -> list[tuple]:  # fmt: skip
    """Print each input's result in input order as the engine delivers it (batch.run), writing the views of a
    single input; returns (path, Report or None, error or None) per input assessed (not skipped)."""
    from squatcli import batch
    from squatcli.report.terminal import print_assessment

    results = []
    with progress_bar("assessed") as bar:
        for path, outcome in batch.run(paths, errors, options, engine, ledger, skip, bar if engine.depth > 1 else None):
            bar.pause()
            if outcome is None:
                continue
            if outcome.report is not None:
                try:
                    write_views(outcome.report, annotate, report)
                except Exception as caught:  # noqa: BLE001 - writing a view is this input's error too
                    interrupts.reraise_if_interrupted(caught)
                    outcome = batch.failed(path, caught if isinstance(caught, SquatError) else unexpected(caught, path))
            if as_json:
                print_json(outcome.json(), compact=True)
            elif outcome.error is not None:
                print_error(outcome.error)
            else:
                print_assessment(outcome.report)
            results.append((path, outcome.report, outcome.error))
    return results


def check_results_file(output: Path, paths: list[Path], views: list[Path | None]) -> None:
    """--output, before any work: a file that can be written and is neither an input nor another output."""
    for view in views:
        if view is not None and same_file(view, output):
            raise SquatError("is also given as --annotate or --report; give the results another file", output)
    check_output_file(output, inputs=paths)


def check_single_output(option: str, target: Path | None, suffixes: tuple[str, ...], paths: list[Path], as_json: bool) -> None:
    """An output of one input's views (--annotate, --report), checked before any work: its suffix (a usage error),
    one input, a video for --annotate, and a file that can be written and is not an input (SquatError; under
    --json also the input's failure object)."""
    from squatcli.assess import failure
    from squatcli.video import VIDEO_SUFFIXES

    if target is None:
        return
    if target.suffix.lower() not in suffixes:
        raise typer.BadParameter(f"{target}: the output must end in {' or '.join(suffixes)}", param_hint=f"'{option}'")
    if len(paths) != 1:
        raise typer.BadParameter(f"{option} takes exactly one input", param_hint=f"'{option}'")
    try:
        if option == "--annotate" and paths[0].suffix.lower() not in VIDEO_SUFFIXES:
            raise SquatError("--annotate needs a video input", paths[0])
        check_output_file(target, inputs=paths)
    except SquatError as e:
        if as_json:
            print_json(failure(paths[0], e), compact=True)
        raise


def write_views(story, annotate: Path | None, report: Path | None) -> None:
    """The files of one assessment's report: the annotated video and the HTML page (each whole or not at all)."""
    if annotate is not None:
        from squatcli.report.overlay import write_video

        with progress_bar(f"annotate {escape(annotate.name)}") as bar:
            write_video(story, annotate, progress=bar)
    if report is not None:
        from squatcli.report.html import write_html

        write_html(story, report)
        err.print(f"wrote {escape(str(report))}", highlight=False)


def check_inputs(paths: list[Path], model: str, as_json: bool) -> list[SquatError | None]:
    """Each input's error found without opening it (assess.check_input), or None; the model's files are checked
    too (modelfiles.check_model): a model that fails fails every input (`model_failed`). Nothing heavy is
    imported."""
    from squatcli.assess import check_input
    from squatcli.modelfiles import check_model, first_candidate

    errors: list[SquatError | None] = []
    for path in paths:
        try:
            check_input(path)
            errors.append(None)
        except SquatError as e:
            errors.append(e)
    try:
        check_model(first_candidate(model))
    except SquatError as e:
        raise model_failed(e, paths, errors, as_json) from None
    return errors


def model_failed(error: SquatError, paths: list[Path], errors: list, as_json: bool) -> SquatError:
    """A model that cannot be loaded fails every input: under --json one object per input (its own error where
    it has one), then the command's one line."""
    from squatcli.assess import failure

    if as_json:
        for path, own in zip(paths, errors):
            print_json(failure(path, own or error), compact=True)
    return error


@command("squat extract my_squat.mp4", "squat extract my_squat.mp4 -o joints.npz --json")
def extract(
    video: Annotated[Path, typer.Argument(help="A video file (mp4, mov, avi, ...).", show_default=False, readable=False)],
    output: Annotated[Optional[Path], typer.Option("-o", "--out", help="Joints .npz to write (default: ./VIDEO_NAME.npz).", show_default=False)] = None,
    stride: Annotated[Optional[int], typer.Option("--stride", min=1, max=10, help="Run the pose model on every k-th frame and interpolate the joints between (default: where it matters: about 30 times a second, every frame of a 30 fps video, during reps and the first 0.5 s, every 3rd frame while standing; skipping frames inside reps loses the bottom of fast reps).", show_default=False)] = DEFAULT_STRIDE,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
) -> None:
    """Extract 3D joints (19 per frame, metres, 30 fps) from a video into a joints .npz.

    The .npz (keys joints, fps, confidence) is accepted by every other command in place of the video.
    """
    output = output or Path(video.stem + ".npz")
    if output.suffix != ".npz":
        raise typer.BadParameter(f"{output}: the output must end in .npz", param_hint="'-o'")
    require_input_file(video, "video")
    check_output_file(output, inputs=[video])
    from squatcli.datasets import atomic_output, joints_npz_bytes
    from squatcli.pose import extract_video
    from squatcli.report.tables import print_extraction

    with progress_bar(f"pose {escape(video.name)}") as report:
        result = extract_video(video, stride=stride, progress=report)
    data = joints_npz_bytes(result.clip)
    with atomic_output(output) as tmp:  # the summary is printed before the file appears: no file if it cannot be
        tmp.write_bytes(data)
        summary = result.summary() | {"output": str(output)}
        if as_json:
            print_json(summary)
        else:
            print_extraction(result, summary, video, output)
            out.file.flush()


@command("squat synth --out corpus/", "squat synth --out small/ -n 300 -s 60 --seed 1", "squat synth --preview preview.png")
def synth(
    output: Annotated[Optional[Path], typer.Option("--out", "-o", help="Folder to write the corpus to (paper's Pose_Dataset layout + joints/*.npz + manifest.csv); must be new or empty.", show_default=False)] = None,
    clips_per_class: Annotated[int, typer.Option("--clips-per-class", "-n", min=1, max=MAX_CLIPS_PER_CLASS, help="Clips of each of the 7 classes.")] = CLIPS_PER_CLASS,
    subjects: Annotated[int, typer.Option("--subjects", "-s", min=1, max=MAX_SUBJECTS, help="Synthetic people (each performs every class; use --split subject when training).")] = SUBJECTS,
    seed: Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED, help="Random seed: the same seed writes identical files.")] = 0,
    clean: Annotated[bool, typer.Option("--clean", help="Write the exact joints, without pose-estimator noise.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing synthetic corpus in --out.")] = False,
    preview: Annotated[Optional[Path], typer.Option("--preview", help="Also (or only) write a PNG contact sheet: side and front stick figures of each class at the bottom of a rep.", show_default=False)] = None,
) -> None:
    """Generate the synthetic squat corpus: 10 s clips of good squats and the paper's six faults, 3-5 reps each."""
    from squatcli import synth as synthetic
    from squatcli.report.figures import synth_preview

    if output is None and preview is None:
        raise typer.BadParameter("nothing to do: give --out DIR (the corpus) and/or --preview OUT.png", param_hint="'--out'")
    if preview is not None and preview.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise typer.BadParameter(f"{preview}: the preview must be a .png, .pdf or .svg file", param_hint="'--preview'")
    if output is not None:
        synthetic.check_output_folder(output, overwrite)  # before writing anything
        check_output_folder(Path(output).expanduser().parent, target=output)  # where its temporary folder goes
        synthetic.check_disk_space(output, clips_per_class)
    if preview is not None:
        check_output_file(preview)
        synth_preview(preview, seed=seed)
        err.print(f"preview written to {escape(str(preview))}")
    if output is None:
        return
    start = time.perf_counter()
    with progress_bar("generating clips") as report:
        rows = synthetic.build_corpus(output, clips_per_class, subjects, seed, noise=not clean, overwrite=overwrite, progress=report)
    seconds = time.perf_counter() - start
    from squatcli.report.tables import print_corpus

    print_corpus(rows, Path(output), seed, seconds)


Inputs = enum.Enum("Inputs", [(k, k) for k in ("auto", "rep", "rep-nofeet", "clip")], type=str)


@command("squat train --data synthetic", "squat train --model lstm --data REAL_REPS/ --inputs rep -o models/my_lstm", "squat train --paper --data Pose_Dataset/ --split random")
def train(
    model: Annotated[ModelKind, typer.Option("--model", "-m", help="Which classifier: cnn (1D CNN) or lstm (bidirectional LSTM).")] = ModelKind.cnn,
    data: Annotated[Optional[list[str]], typer.Option("--data", help="'synthetic' (the generated corpus), a folder in the paper's Pose_Dataset layout, or a folder of real reps (data.csv + mediapipe/, Chariar et al. 2023). Repeat to mix: --data REAL --data synthetic.", show_default="synthetic")] = None,
    inputs: Annotated[Inputs, typer.Option("--inputs", help="What the model reads. rep: each rep time-normalised, per-frame angles and ratios plus the rep's measurements, with foot points; rep-nofeet: the same without feet (19-joint inputs); clip: the paper's 300-frame windows of the 171 joint distances (all the paper's dataset allows); auto: rep once real reps are in --data, clip otherwise.")] = Inputs.auto,
    epochs: Annotated[Optional[int], typer.Option("--epochs", min=1, help="Most epochs to run (early stopping usually ends sooner) (default: clip cnn 60, lstm 80; rep 80).", show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", min=1, help="Rows per gradient step (default: clip 32, rep 64).", show_default=False)] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", callback=learning_rate, help="Adam learning rate, greater than 0 and at most 1 (default: clip cnn 1e-3, lstm 2e-3; rep 3e-3).", show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED, help="Seed for the split, the initial weights and the shuffling.")] = 0,
    split: Annotated[Split, typer.Option("--split", help="random: stratified 80/10/10 over clips (the paper's); subject: 80/10/10 by person or recording session, each data source on its own (needs subjects: the synthetic corpus, the real reps' recording dates, or a manifest.csv); auto: subject where the data records subjects, random otherwise (the published dataset, one person).")] = Split.auto,
    output: Annotated[Optional[Path], typer.Option("-o", "--out", help="Writes OUT.keras, OUT.onnx and OUT.json (default: ./MODEL).", show_default=False)] = None,
    width: Annotated[Optional[int], typer.Option("--width", min=1, help="CNN channels or LSTM units per direction (default: clip 64, rep 16; paper 256).", show_default=False)] = None,
    depth: Annotated[Optional[int], typer.Option("--depth", min=1, help="Clip CNN residual blocks or stacked LSTM layers (default: 2).", show_default=False)] = None,
    downsample: Annotated[Optional[int], typer.Option("--downsample", min=1, help="Clip models: average this many frames before the network (default: cnn 1, lstm 4; paper 1).", show_default=False)] = None,
    patience: Annotated[Optional[int], typer.Option("--patience", min=1, help="Stop after this many epochs without a better validation score (default: clip cnn 10, lstm 12; rep 12).", show_default=False)] = None,
    synthetic_weight: Annotated[float, typer.Option("--synthetic-weight", callback=finite_weight, help="Mixed data: weight of a synthetic row against a real one (classes are balanced first).")] = 1.0,
    augment: Annotated[Optional[bool], typer.Option("--augment/--no-augment", help="Clip models (on by default): random left/right mirroring, time reversal, start shifts and short 1.5-5 s crops of the training clips. Rep models read each rep as random cameras picture it instead (image-plane inputs).", show_default=False)] = None,
    fault_transforms: Annotated[str, typer.Option("--faults", help="Faults to add to real reps, made from their good reps by the fault transforms (squatcli/faults.py): none (the default), auto (as the bundled rep models: the paper's faults the real data lacks or shows in part: head up, rounded and arched back, knees forward; each good rep lends one, moderate to obvious), or a comma-separated list of fault keys. A class no real rep shows is learned by a second network and named when its probability reaches its flag, so it never costs P(good) of real people (models/README.md).")] = "none",
    paper: Annotated[bool, typer.Option("--paper", help="Start from the paper's configuration (clip inputs, 256 channels/units, 300 steps; LSTM: lr 1e-4, batch 128, patience 50, 250 epochs); other options override it.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the saved metadata as JSON on stdout.")] = False,
) -> None:
    """Train a CNN or BiLSTM classifier; writes OUT.keras, its ONNX graph OUT.onnx and its metadata OUT.json.

    Early stopping keeps the best epoch; Ctrl-C (or SIGTERM) stops and saves the best so far. The calibration of
    P(good) and the good-vs-rest threshold (Youden's point) are fitted on the validation split (its real rows, if
    any).
    """
    import shlex
    import sys

    from squatcli.datasets import SYNTHETIC
    from squatcli.modelfiles import model_paths

    model = model.value
    output = Path(model) if output is None else output
    if output.is_dir() or not output.name:
        raise SquatError("is a folder; give a name (-o NAME writes NAME.keras, NAME.onnx and NAME.json)", output)
    for path in model_paths(output):  # the files can be written, before the data is read and the model trained
        check_output_file(path)
    specs = list(data or [SYNTHETIC])
    for text in specs:
        check_data_spec(text)
    from squatcli import train as training

    spec = training.input_spec(inputs.value, specs, paper)
    config = training.config_from_options(model, spec, paper, width, depth, downsample, epochs=epochs,
                                          batch_size=batch_size, lr=lr, patience=patience, seed=seed,
                                          split=split.value, augment=augment, synthetic_weight=synthetic_weight)  # fmt: skip
    transforms = training.fault_transforms(fault_transforms, specs, spec)
    with progress_bar("reading clips") as report:
        dataset, data_info = training.load_data(specs, spec, progress=report, transforms=transforms)
    split_kind = training.resolve_split(config.split, dataset)
    err.print(f"[bold]{model}[/] on {escape(data_info['source'])}: {len(dataset)} rows ({spec.describe()}), "
              f"{split_kind} split, seed {seed}", highlight=False)  # fmt: skip

    from squatcli.report.tables import print_epoch, print_training

    command_line = shlex.join(["squat", *sys.argv[1:]])
    name = output.name.removesuffix(".keras").removesuffix(".json").removesuffix(".onnx")
    result = training.train(dataset, config, data_info=data_info, command=command_line, name=name,
                            on_epoch=lambda e: print_epoch(e, config.patience))  # fmt: skip

    from squatcli.models import save_model

    files = save_model(result.model, result.metadata, output)
    md = result.metadata
    if as_json:
        print_json(md | {"files": [str(f) for f in files]})
    else:
        print_training(md, files)
    if result.interrupted:
        tr = md["training"]
        raise stopped(result.stopped_by or KeyboardInterrupt(),
                      f" after epoch {tr['epochs_run']}: saved the best epoch ({tr['best_epoch']})")


@command("squat export", "squat export models/my_cnn")
def export(
    names: Annotated[Optional[list[str]], typer.Argument(help="Trained models (NAME, NAME.keras or NAME.json) or bundled names (default: every bundled model).", show_default=False)] = None,
) -> None:
    """Write each model's ONNX graph NAME.onnx, what assess and evaluate run, from its NAME.keras, and the
    graph's sha256 into NAME.json.

    For models trained before squatcli wrote ONNX graphs (`squat train` writes all three files), and to
    regenerate the bundled ones. Needs TensorFlow; the graph must give Keras's probabilities to 1e-5.
    """
    from squatcli.modelfiles import bundled_names, check_keras, model_paths, read_metadata

    targets = list(names or bundled_names())
    for name in targets:  # every input can be read and every output written, before TensorFlow loads
        files = model_paths(name)
        check_keras(files, read_metadata(files.json))
        check_output_file(files.onnx)
        check_output_file(files.json)
    from squatcli.models import export_model

    for name in targets:
        files = export_model(name)
        err.print(f"wrote {escape(str(files.onnx))} and its sha256 in {escape(str(files.json))}", highlight=False)


@command("squat evaluate", "squat evaluate -m all --roc -o figures/", "squat evaluate -m cnn --data REAL_REPS/ --cv")
def evaluate(
    model: Annotated[str, typer.Option("--model", "-m", help="cnn, lstm (the bundled models), all (both, compared), a bundled name (cnn-nofeet, lstm-distances, ...) or a path to a trained model (NAME: its NAME.onnx and NAME.json). With --cv: the kind of model to cross-validate (cnn or lstm).")] = "cnn",
    data: Annotated[Optional[list[str]], typer.Option("--data", help="'synthetic', a folder in the paper's layout or a folder of real reps; repeat to mix (default: the data the model was trained on, where squatcli makes it itself: the synthetic corpus; other data the model says how to pass). Only rows the model never trained or validated on are scored: its test split, or the subjects and sessions it never saw.", show_default=False)] = None,
    whole: Annotated[bool, typer.Option("--whole", help="Score every row of --data, including what the model trained on.")] = False,
    cv: Annotated[bool, typer.Option("--cv", help="Cross-validate the training recipe by group instead: each recording session (real reps) or subject is held out once, the model trained on the rest; the honest figure for data a bundled model learned from.")] = False,
    folds: Annotated[Optional[int], typer.Option("--folds", min=2, help="--cv: deal the groups into this many folds (default: leave one group out).", show_default=False)] = None,
    inputs: Annotated[Inputs, typer.Option("--inputs", help="--cv: what the models read (see squat train --help).")] = Inputs.auto,
    synthetic_weight: Annotated[float, typer.Option("--synthetic-weight", callback=finite_weight, help="--cv: weight of a synthetic row against a real one.")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED, help="--cv: seed for the folds, splits and weights.")] = 0,
    roc: Annotated[bool, typer.Option("--roc", help="Write roc.png (all models on one plot), confusion_MODEL.png and reliability.png (calibration of P(good)) to --out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON on stdout.")] = False,
    out_dir: Annotated[Path, typer.Option("-o", "--out", help="Folder for the --roc figures.")] = Path("."),
) -> None:
    """Evaluate classifiers: accuracy, per-class precision/recall/F1, confusion matrix, kappa, ROC AUC, calibration.

    Good-vs-rest (positive class: good, score: P(good)): ROC AUC, Youden's point on these rows, the
    sensitivity/specificity and balanced accuracy at the threshold the model picked on its validation split, and
    the expected calibration error of P(good).
    """
    from squatcli.datasets import SYNTHETIC

    if roc:  # the figures can be written there, before any model is loaded or clip scored
        check_output_file(check_output_folder(out_dir) / "roc.png")
    if cv and model not in MODEL_KINDS:
        raise typer.BadParameter(f"--cv trains models: give the kind (cnn or lstm), not {model!r}", param_hint="'--model'")
    for text in (data or []) if cv else []:  # without --cv, evaluate_models checks the models' files, then these
        check_data_spec(text)
    from squatcli import evaluation, metrics

    if cv:
        from squatcli import train as training

        specs = list(data or [SYNTHETIC])
        spec = training.input_spec(inputs.value, specs)
        config = training.config_from_options(model, spec, seed=seed, synthetic_weight=synthetic_weight)
        with progress_bar("reading clips") as report:
            dataset, info = training.load_data(specs, spec, progress=report)
        with progress_bar("cross-validation folds") as report:
            result = evaluation.cross_validate(dataset, config, folds, on_fold=lambda done, total, _: report(done, total))
        results = [evaluation.cross_validation_evaluation(result, config, info["source"])]
    else:
        with progress_bar("reading clips") as report:
            results = evaluation.evaluate_models(evaluation.model_names(model), data, whole=whole, progress=report)
    figures = []
    if roc:
        from squatcli.report import figures as draw

        rows = results[0].rows if len({r.rows for r in results}) == 1 else "rows"
        figures.append(draw.roc_figure({r.name: r.report for r in results}, out_dir / "roc.png", rows=rows))
        figures.append(draw.reliability_figure({r.name: r.report for r in results}, out_dir / "reliability.png", rows=rows))
        for r in results:
            title = f"{r.name}: {r.scope} ({r.report.n} {r.rows}), accuracy {r.report.accuracy:.3f}"
            stem = r.name.split(" ")[0] + ("_cv" if cv else "")
            figures.append(draw.confusion_figure(r.report.confusion_normalised, out_dir / f"confusion_{stem}.png", title, r.report.classes))
    if as_json:
        print_json({"models": [r.to_dict(with_roc=True) for r in results], "figures": [str(f) for f in figures],
                    "paper_sensitivity": metrics.PAPER_SENSITIVITY})
        return
    from squatcli.report.tables import print_evaluations

    print_evaluations(results)
    for f in figures:
        err.print(f"wrote {escape(str(f))}", highlight=False)


def main() -> None:
    interrupts.install()  # before anything slow, so Ctrl-C and SIGTERM are never lost
    if sys.stdout is None:  # started with stdout closed (`>&-`): results would be lost, refuse before any work
        print_error(StdoutError("it is closed"))
        sys.exit(1)
    for stream in (sys.stdout, sys.stderr):  # a terminal that cannot show a character gets "?", not a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    try:
        app()
    except KeyboardInterrupt as caught:  # a signal while Typer builds the commands, before any runs
        sys.exit(stopped(caught).exit_code)
    except SystemExit as done:  # Typer ends a signal outside a command (while it parses) with a silent exit 130
        caught = getattr(done.__context__, "__cause__", None)
        if isinstance(caught, KeyboardInterrupt):
            sys.exit(stopped(caught).exit_code)
        raise


if __name__ == "__main__":
    main()
