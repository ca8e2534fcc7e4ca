"""The `squat` command: a thin Typer app that calls library functions and renders with rich.

Heavy modules (tensorflow, mediapipe, cv2, scikit-learn) are imported inside the commands, after every input and
output has been checked, so `squat --help` and a mistyped file name answer at once. Errors a user can fix
(SquatError) print one line to stderr and exit 1; usage errors exit 2. Results go to stdout through
files.ResultStream: stdout that cannot take them (a full disk, closed) is an error too, a broken pipe a quiet
exit 141. Every path printed is escaped, so a file named `[red]x.npz` prints as itself.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Callable, Optional

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape

from squatcli import interrupts
from squatcli.datasets import AUTO_SPLIT, SPLITS, check_data_spec
from squatcli.errors import SquatError, StdoutError
from squatcli.files import ResultStream, check_output_file, check_output_folder, require_input_file
from squatcli.skeleton import DEFAULT_STRIDE, MODEL_KINDS
from squatcli.synth import CLIPS_PER_CLASS, MAX_CLIPS_PER_CLASS, MAX_SUBJECTS, SUBJECTS  # the training corpus

STARTED = time.perf_counter()  # when the CLI's imports were done (process_seconds falls back on it)


def process_seconds() -> float:
    """Seconds since this process started (Linux: from /proc, so Python's start and every import count; elsewhere
    since the CLI's imports were done)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        return float(Path("/proc/uptime").read_text().split()[0]) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - STARTED


app = typer.Typer(
    name="squat",
    help="Judge squat form from a video: 3D pose -> temporal distance matrix -> CNN/BiLSTM verdict.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(file=ResultStream(), soft_wrap=True)  # results
err = Console(stderr=True, soft_wrap=True)  # progress, warnings, errors


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


def show(renderable) -> None:
    """Print a table or panel on stdout, wrapped to the terminal's width but never cut: a cell's word too long
    for its column folds onto the next line (not "…"), and a terminal narrower than the longest words need gets
    it at the width they need (the terminal then wraps its lines), not with columns emptied."""
    from rich.measure import Measurement
    from rich.panel import Panel
    from rich.segment import Segments
    from rich.table import Table

    soft: dict = {}
    if isinstance(renderable, Table):  # title and caption unwrapped, as `out` prints text (soft_wrap)
        soft = {"no_wrap": True, "overflow": "ignore"}
        for column in renderable.columns:
            column.overflow = "fold"
    inner, frame = (renderable.renderable, 4) if isinstance(renderable, Panel) else (renderable, 0)  # border, padding
    need = Measurement.get(out, out.options.update(width=10**4), inner).minimum + frame
    options = out.options.update(width=max(out.options.max_width, need), **soft)
    out.print(Segments(out.render(renderable, options)), end="")


# Typer's own exceptions (exits, usage errors), which it turns into exit codes itself. ClickException is the base
# of usage errors, from click or from the copy of click that newer Typer versions carry.
TYPER_EXCEPTIONS = (typer.Exit, typer.Abort,
                    next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"))  # fmt: skip


def unexpected(error: Exception, path: Path | str | None = None) -> SquatError:
    """An exception squatcli did not foresee, as the one-line error a user sees (SQUAT_DEBUG=1: the traceback)."""
    if os.environ.get("SQUAT_DEBUG"):
        raise error
    text = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    return SquatError(f"unexpected error ({type(error).__name__}{': ' + text if text else ''}); "
                      "please report it (SQUAT_DEBUG=1 shows the traceback)", path)  # fmt: skip


def command(fn: Callable) -> Callable:
    """Register a command whose errors become one red line on stderr and exit code 1 (never a traceback), and
    whose interruption (Ctrl-C: exit 130, SIGTERM: exit 143) runs the same cleanup."""

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

    return app.command()(wrapper)


def stopped(interruption: KeyboardInterrupt, after: str = "") -> typer.Exit:
    """Say that the command was interrupted (Ctrl-C: exit 130) or terminated (SIGTERM: 143), and `after` what."""
    interrupts.handled()
    terminated = isinstance(interruption, interrupts.Terminated)
    err.print(f"[yellow]{'terminated' if terminated else 'interrupted'}{after}[/]")
    return typer.Exit(143 if terminated else 130)


@contextlib.contextmanager
def progress_bar(description: str):
    """A rich progress bar on stderr, shown from the first report; yields a callback(done, total)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not err.is_terminal:  # a log file or a pipe: no bar (it would leave empty lines)
        yield lambda done, total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    progress = Progress(*columns, console=err, transient=True)
    task = progress.add_task(description, total=None)

    def report(done: int, total: int | None) -> None:
        if not progress.live.is_started:
            progress.start()
        progress.update(task, completed=done, total=total)

    try:
        yield report
    finally:
        if progress.live.is_started:
            progress.stop()


def print_json(data, compact: bool = False) -> None:
    """Machine-readable output on stdout: indented, or one object per line when `compact`; NaN becomes null."""
    from squatcli.datasets import to_json

    out.file.write(to_json(data, indent=None if compact else 2) + "\n")
    out.file.flush()


@command
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

    with progress_bar(f"pose {escape(video.name)}") as report:
        result = extract_video(video, stride=stride, progress=report)
    data = joints_npz_bytes(result.clip)
    with atomic_output(output) as tmp:  # the summary is printed before the file appears: no file if it cannot be
        tmp.write_bytes(data)
        summary = result.summary() | {"output": str(output)}
        if as_json:
            print_json(summary)
        else:
            render_extraction(result, summary, video, output)
            out.file.flush()


def render_extraction(result, summary: dict, video: Path, output: Path) -> None:
    """The human-readable summary of `squat extract`."""
    from rich.table import Table

    from squatcli.pose import SPARSE_FACTOR

    table = Table(title=escape(f"{video.name} -> {output}"), show_header=False, title_justify="left")
    table.add_row("frames", f"{summary['frames']} at {summary['video_fps']:g} fps ({summary['duration_s']:.1f} s)")
    every = "every frame" if summary["stride"] == 1 else f"1 in {summary['stride']}"
    how = f"{every} during reps, 1 in {SPARSE_FACTOR * summary['stride']} standing" if summary["schedule"] == "adaptive" else every
    table.add_row("pose model", f"{summary['frames_processed']} of {summary['frames']} frames ({how})")
    table.add_row("person found", f"{summary['frames_with_person']} / {summary['frames_processed']} ({result.person_fraction:.0%})")
    stability = ", ".join(f"{k} {v:.1%}" for k, v in result.bone_variation.items())
    table.add_row("bone-length variation", stability + "  (MAD/median, better-seen side)")
    for a, b in result.long_gaps:
        table.add_row("[yellow]gap without a person[/]", f"{a:.1f}-{b:.1f} s (interpolated)")
    for note in result.notes:
        table.add_row("[yellow]note[/]", escape(note))
    table.add_row("joints written", f"{len(result.clip.joints)} frames at 30 fps")
    table.add_row("time", f"{result.seconds:.1f} s (pose model {result.pose_seconds:.1f} s)")
    show(table)


@command
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
    from squatcli.render import synth_preview

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
    from rich.table import Table

    from squatcli.skeleton import CLASSES

    table = Table(title=escape(f"synthetic corpus -> {output} (seed {seed}, {seconds:.1f} s)"), title_justify="left")
    for col in ("class", "folder", "clips", "subjects", "mild/obvious", "partial", "reps (mean)"):
        table.add_column(col, justify="left" if col in ("class", "folder") else "right")
    for c in CLASSES:
        mine = [r for r in rows if r["label"] == c.key]
        sev = np.array([float(r["severity"]) for r in mine])
        mild = "-" if c.key == "good" else f"{(sev < 0.5).sum()}/{(sev >= 0.5).sum()}"
        partial = "-" if c.key == "good" else str(sum(bool(r["partial"]) for r in mine))
        table.add_row(c.name, c.folder, str(len(mine)), str(len({r["subject"] for r in mine})), mild, partial,
                      f"{np.mean([int(r['reps']) for r in mine]):.1f}")  # fmt: skip
    size = sum(f.stat().st_size for f in Path(output).rglob("*") if f.is_file())
    table.caption = escape(f"{len(rows)} clips, {size / 1e6:.0f} MB; read it with `squat train --data {output}`")
    show(table)


Inputs = enum.Enum("Inputs", [(k, k) for k in ("auto", "rep", "rep-nofeet", "clip")], type=str)


@command
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
    fault_transforms: Annotated[str, typer.Option("--faults", help="Faults to add to real reps, made from their good reps by the fault transforms (squatcli/faults.py): auto (the paper's faults the real data lacks or shows in part: head up, rounded and arched back, knees forward), none, or a comma-separated list of fault keys.")] = "auto",
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

    choice = "clip" if paper and inputs.value == "auto" else inputs.value
    spec = training.INPUT_CHOICES[training.default_inputs(specs) if choice == "auto" else choice]()
    recipe = training.TRAIN_PAPER[model] if paper else {}
    arch: dict = {}
    if paper:
        from squatcli import models

        arch = dict(models.CNN_PAPER if model == "cnn" else models.LSTM_PAPER)
    width_key = "width" if model == "cnn" else "units"
    for key, value in ((width_key, width), ("depth", depth), ("downsample", downsample)):
        if value is not None:
            arch[key] = value
    config = training.TrainConfig(
        model=model,
        epochs=recipe.get("epochs") if epochs is None else epochs,
        batch_size=recipe.get("batch_size") if batch_size is None else batch_size,
        lr=recipe.get("lr") if lr is None else lr,
        patience=recipe.get("patience") if patience is None else patience,
        seed=seed,
        split=split.value,
        arch=arch,
        augment=augment,
        inputs=spec,
        synthetic_weight=synthetic_weight,
    ).resolved()
    transforms = training.fault_transforms(fault_transforms, specs, spec)
    with progress_bar("reading clips") as report:
        dataset, data_info = training.load_data(specs, spec, progress=report, transforms=transforms)
    split_kind = training.resolve_split(config.split, dataset)
    err.print(f"[bold]{model}[/] on {escape(data_info['source'])}: {len(dataset)} rows ({spec.describe()}), "
              f"{split_kind} split, seed {seed}", highlight=False)  # fmt: skip

    def on_epoch(e) -> None:
        star = "[green]*[/]" if e.improved else " "
        left = min(e.epochs - e.epoch, max(0, config.patience - (e.epoch - e.best_epoch)))
        eta = left * e.elapsed / e.epoch
        err.print(
            f"epoch {e.epoch:>3}/{e.epochs}  loss {e.loss:.3f} acc {e.accuracy:.3f}  |  val loss {e.val_loss:.3f} "
            f"acc {e.val_accuracy:.3f} {star} best {e.best_val_accuracy:.3f} @{e.best_epoch}  |  {e.seconds:.1f} s  "
            f"total {e.elapsed:.0f} s  patience {left} (~{eta:.0f} s)",
            highlight=False,
        )

    command_line = shlex.join(["squat", *sys.argv[1:]])
    name = output.name.removesuffix(".keras").removesuffix(".json").removesuffix(".onnx")
    result = training.train(dataset, config, data_info=data_info, command=command_line, name=name, on_epoch=on_epoch)

    from squatcli.models import save_model

    files = save_model(result.model, result.metadata, output)
    md = result.metadata
    tr = md["training"]
    if as_json:
        print_json(md | {"files": [str(f) for f in files]})
    else:
        from rich.table import Table

        v = md["validation"]
        table = Table(title=escape(f"{md['name']}: {md['kind']}, {md['parameters']:,} parameters"), show_header=False, title_justify="left")
        table.add_row("saved", escape("  ".join(str(f) for f in files)))
        table.add_row("data", escape(f"{md['data']['source']} ({md['data']['fingerprint']}): {md['data']['n_train']} train / {md['data']['n_val']} val / {md['data']['n_test']} test, {md['data']['split']} split"))
        if tr.get("crossfit_folds"):
            table.add_row("epochs", f"{tr['epochs_run']} (fixed), and {tr['crossfit_folds']} cross-fitted models for calibration")
            table.add_row("time", f"{tr['time_s']:.1f} s")
            table.add_row("out-of-fold", f"accuracy {v['accuracy']:.3f}, kappa {v['kappa']:.3f}, good-vs-rest AUC {v['auc']:.3f} ({v['n']} training rows, each predicted by a model that never saw its session)")
        else:
            table.add_row("epochs", f"best {tr['best_epoch']} of {tr['epochs_run']} run (max {tr['epochs_max']})")
            table.add_row("time", f"{tr['time_s']:.1f} s ({tr['time_to_best_s']:.1f} s to the best epoch)")
            table.add_row("validation", f"accuracy {v['accuracy']:.3f}, kappa {v['kappa']:.3f}, good-vs-rest AUC {v['auc']:.3f}")
        table.add_row("threshold", f"P(good) >= {md['threshold']:.3f}: sensitivity {v['sensitivity']:.3f}, specificity {v['specificity']:.3f} (Youden on {'out-of-fold predictions' if tr.get('crossfit_folds') else 'validation'})")
        if md["calibration"]["method"] != "none":
            c = md["calibration"]
            table.add_row("calibration", f"Platt a {c['a']:.2f}, b {c['b']:+.2f}: ECE of P(good) {c['ece_before']:.3f} -> {c['ece_after']:.3f} on {c['rows']} rows")
        show(table)
    if result.interrupted:
        raise stopped(result.stopped_by or KeyboardInterrupt(),
                      f" after epoch {tr['epochs_run']}: saved the best epoch ({tr['best_epoch']})")


@command
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


@command
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
        spec = training.INPUT_CHOICES[training.default_inputs(specs) if inputs.value == "auto" else inputs.value]()
        config = training.TrainConfig(model, seed=seed, inputs=spec, synthetic_weight=synthetic_weight).resolved()
        with progress_bar("reading clips") as report:
            dataset, info = training.load_data(specs, spec, progress=report)
        with progress_bar("cross-validation folds") as report:
            result = evaluation.cross_validate(dataset, config, folds, on_fold=lambda done, total, _: report(done, total))
        name = f"{model} ({spec.window} inputs{', feet' if spec.feet else ''})"
        results = [evaluation.Evaluation(name, None, result.report, f"cross-validation, {len(result.folds)} folds by group",
                                         info["source"], [f"held out: {', '.join(f['held_out'])} ({f['n']} rows, threshold {f['threshold']:.2f})" for f in result.folds])]  # fmt: skip
    else:
        with progress_bar("reading clips") as report:
            results = evaluation.evaluate_models(evaluation.model_names(model), data, whole=whole, progress=report)
    figures = []
    if roc:
        from squatcli import render

        figures.append(render.roc_figure({r.name: r.report for r in results}, out_dir / "roc.png"))
        figures.append(render.reliability_figure({r.name: r.report for r in results}, out_dir / "reliability.png"))
        for r in results:
            title = f"{r.name}: {r.scope} ({r.report.n} rows), accuracy {r.report.accuracy:.3f}"
            stem = r.name.split(" ")[0] + ("_cv" if cv else "")
            figures.append(render.confusion_figure(r.report.confusion_normalised, out_dir / f"confusion_{stem}.png", title, r.report.classes))
    if as_json:
        print_json({"models": [r.to_dict(with_roc=True) for r in results], "figures": [str(f) for f in figures],
                    "paper_sensitivity": metrics.PAPER_SENSITIVITY})
        return

    from rich.table import Table

    from squatcli.skeleton import squat_class

    def pct(x: float) -> str:
        return "-" if x != x else f"{x:.3f}"

    for r in results:
        rep = r.report
        title = escape(f"{r.name} on {r.source}, {r.scope}: {rep.n} rows")
        summary = Table(title=title, show_header=False, title_justify="left")
        summary.add_row(f"accuracy ({len(rep.classes)} classes)", pct(rep.accuracy))
        summary.add_row("Cohen's kappa", pct(rep.kappa))
        summary.add_row("good-vs-rest ROC AUC", pct(rep.auc))
        if rep.stored is not None:
            summary.add_row("at the stored threshold", f"P(good) >= {rep.stored.threshold:.3f}: sensitivity {pct(rep.stored.sensitivity)}, specificity {pct(rep.stored.specificity)}, balanced accuracy {pct(rep.balanced_accuracy)}")
        if rep.youden is not None:
            summary.add_row("Youden point on these rows", f"P(good) >= {rep.youden.threshold:.3f}: sensitivity {pct(rep.youden.sensitivity)}, specificity {pct(rep.youden.specificity)}")
        summary.add_row("calibration of P(good)", f"expected calibration error {pct(rep.ece)} ({metrics.CALIBRATION_BINS} bins)")
        for note in r.notes:
            summary.add_row("note", escape(note))
        show(summary)
        per_class = Table("class", "precision", "recall", "F1", "rows", title_justify="left")
        for key in rep.classes:
            m = rep.per_class[key]
            per_class.add_row(squat_class(key).name, pct(m["precision"]), pct(m["recall"]), pct(m["f1"]), str(m["support"]))
        show(per_class)
        short = ["".join(w[0] for w in k.split("_")).upper() if "_" in k else k[:2].upper() for k in rep.classes]
        cm = Table("true \\ predicted", *short, title="confusion matrix, rows normalised (columns: initials of the row names)", title_justify="left")
        for k, (key, row) in enumerate(zip(rep.classes, rep.confusion_normalised)):
            cm.add_row(f"{short[k]} {key}", *[f"[bold]{v:.2f}[/]" if i == k else (f"{v:.2f}" if v else ".") for i, v in enumerate(row)])
        show(cm)
    if len(results) > 1:
        cmp = Table("model", "parameters", "accuracy", "kappa", "AUC", f"spec. at sens. {metrics.PAPER_SENSITIVITY}",
                    "sens. / spec. at stored thr.", "ECE", "training time", title="comparison", title_justify="left")
        for r in results:
            d = r.to_dict()
            stored = f"{pct(r.report.stored.sensitivity)} / {pct(r.report.stored.specificity)}" if r.report.stored else "-"
            t = d["training_time_s"]
            cmp.add_row(escape(r.name), f"{d['parameters']:,}" if d["parameters"] else "-", pct(r.report.accuracy), pct(r.report.kappa),
                        pct(r.report.auc), pct(r.report.specificity_at_paper_sensitivity), stored, pct(r.report.ece),
                        "-" if t is None else f"{t:.0f} s ({d['epochs_run']} epochs)")
        show(cmp)
    for f in figures:
        err.print(f"wrote {escape(str(f))}", highlight=False)


EXAMPLE_CLIP = Path(__file__).resolve().parent / "data" / "example_squat.npz"


@command
def assess(
    inputs: Annotated[Optional[list[Path]], typer.Argument(help="Videos, joints .npz files, paper-format .json clips, or folders of them.", show_default=False, readable=False)] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="cnn or lstm: the bundled model of that kind that can read each input (with foot points, without, or the 171 distances of a paper .json clip; the output says which); a bundled name (cnn-nofeet, ...); or a path to a trained model (NAME: its NAME.onnx and NAME.json).")] = "cnn",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per input per line on stdout, nothing else (progress goes to stderr).")] = False,
    annotate: Annotated[Optional[Path], typer.Option("--annotate", help="Write the (single) input video with skeleton, rep cues and verdict drawn on it.", show_default=False)] = None,
    stride: Annotated[Optional[int], typer.Option("--stride", min=1, max=10, help="Run the pose model on every k-th video frame (default: about 30 times a second during reps and the first 0.5 s, 10 while standing; 1: every frame).", show_default=False)] = DEFAULT_STRIDE,
    example: Annotated[bool, typer.Option("--example", help="Assess the example pose clip that ships with squatcli.")] = False,
) -> None:
    """Assess squat form: a verdict at the model's threshold with class probabilities, a verdict per rep, and
    per-rep measurements.

    Inputs of any length and frame rate are resampled to 30 fps. Rep models judge each rep the input shows (time-
    normalised, so tempo does not matter); clip models read 10 s windows (shorter clips are padded by ping-pong
    repetition). Exit code 1 if any input could not be assessed.
    """
    from squatcli.assess import assess as assess_one
    from squatcli.assess import expand_inputs, failure

    paths = expand_inputs(list(inputs or [])) + ([EXAMPLE_CLIP] if example else [])
    if not paths:
        raise typer.BadParameter("give at least one input (or --example)", param_hint="INPUTS")
    if annotate is not None:
        if annotate.suffix.lower() != ".mp4":
            raise typer.BadParameter(f"{annotate}: the annotated video must end in .mp4", param_hint="'--annotate'")
        if len(paths) != 1:
            raise typer.BadParameter("--annotate takes exactly one input video", param_hint="'--annotate'")
        try:
            check_output_file(annotate, inputs=paths)
        except SquatError as e:
            if as_json:
                print_json(failure(paths[0], e), compact=True)
            raise
    startup_s = process_seconds()  # Python's start and the imports so far
    errors = check_inputs(paths, model, as_json)  # before any model loads: a typo answers at once
    t = time.perf_counter()
    cache: dict = {}
    if any(error is None for error in errors):  # the first model an input may need, loaded before any work
        load_first_model(model, cache, paths, errors, as_json)
    load_s = time.perf_counter() - t
    results = []
    for path, error in zip(paths, errors):
        try:
            if error is not None:
                raise error
            with progress_bar(f"pose {escape(path.name)}") as report:
                result = assess_one(path, model, stride=stride, progress=report, cache=cache)
            if annotate is not None:
                write_annotation(result, annotate)
            if as_json:
                obj = result.to_dict()
                obj["timings"] |= {"startup_s": round(startup_s, 3),
                                   "model_load_s": round(load_s + result.seconds["model_load_s"], 3)}  # fmt: skip
                print_json(obj | {"model_load_s": round(load_s, 3)}, compact=True)
            else:
                render_assessment(result)
            results.append((path, result, None))
        except StdoutError:
            raise
        except Exception as caught:  # any failure is this input's error; the batch goes on
            interrupts.reraise_if_interrupted(caught)
            e = caught if isinstance(caught, SquatError) else unexpected(caught, path)
            results.append((path, None, e))
            if as_json:
                print_json(failure(path, e), compact=True)
            else:
                print_error(e)
    if not as_json:
        if len(paths) > 1:
            render_batch_summary(results)
        if cache:
            err.print(f"[dim]model {escape(', '.join(cache))} loaded in {load_s:.1f} s; "
                      f"{process_seconds():.1f} s since start[/]", highlight=False)  # fmt: skip
    if any(error is not None for _, _, error in results):
        raise typer.Exit(1)


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


def load_first_model(model: str, cache: dict, paths: list[Path], errors: list, as_json: bool) -> None:
    """Load the first model an input may need into `cache` (`model_failed` if Keras cannot read it)."""
    from squatcli.modelfiles import first_candidate
    from squatcli.models import load_model

    first = first_candidate(model)
    try:
        cache[first] = load_model(first)
    except SquatError as e:
        raise model_failed(e, paths, errors, as_json) from None


def model_failed(error: SquatError, paths: list[Path], errors: list, as_json: bool) -> SquatError:
    """A model that cannot be loaded fails every input: under --json one object per input (its own error where
    it has one), then the command's one line."""
    from squatcli.assess import failure

    if as_json:
        for path, own in zip(paths, errors):
            print_json(failure(path, own or error), compact=True)
    return error


def write_annotation(result, out_path: Path) -> None:
    """The input video with skeleton, rep cues and verdict drawn on every frame."""
    from squatcli.annotate import annotate_video

    with progress_bar(f"annotate {escape(out_path.name)}") as report:
        annotate_video(result, out_path, progress=report)


def render_assessment(result) -> None:
    """The human-readable report of one assessment: probabilities, verdict, reps with their verdicts, notes."""
    from rich.panel import Panel
    from rich.table import Table

    from squatcli.skeleton import GOOD, squat_class

    probs = result.probabilities
    table = Table(title=escape(str(result.motion.path)), title_justify="left")
    table.add_column("class")
    table.add_column("probability", justify="right")
    table.add_column("", min_width=20)
    for i in np.argsort(-probs):
        bar = glyph("█", "#") * int(round(probs[i] * 20))
        style = "green" if i == GOOD else ("bold" if i == result.main_fault else "")
        table.add_row(squat_class(result.classes[i]).name, f"{probs[i]:.1%}", bar, style=style)
    show(table)
    colour = "green" if result.good else "red"
    cue = squat_class("good" if result.good else result.classes[result.main_fault]).cue
    show(Panel(f"[bold {colour}]{result.verdict_text}[/]\n{cue}", expand=False))
    rows = f"{len(result.spans)} rep(s)" if result.window == "rep" else f"{len(result.spans)} window(s) of 10 s"
    out.print(f"[dim]P(good) {probs[GOOD]:.2f} vs threshold {result.threshold:.2f} (Youden's index on data the model did not train on); "
              f"model {escape(result.model)} ({result.inputs}); mean over {rows}[/]")  # fmt: skip
    if result.reps is not None:
        render_reps(result.reps, result.rep_verdicts())
    for note in result.motion.notes:
        out.print(f"[yellow]note:[/] {escape(note)}")


SHORT_METRIC_NAMES = {"depth": "depth", "min_knee_angle": "knee angle", "knee_ankle_width_ratio": "knees in",
                      "max_trunk_lean": "trunk lean", "head_angle": "head up"}  # fmt: skip


def render_reps(report, verdicts: dict[int, dict] | None = None) -> None:
    """The reps table: timing, the measurements against their coaching ranges and, for rep models, each rep's
    verdict."""
    from rich.table import Table

    from squatcli.reps import MIN_EXCURSION, NOTE
    from squatcli.skeleton import squat_class

    verdicts = verdicts or {}
    reps = report.to_dict()["reps"]
    if not reps:
        out.print(f"[yellow]no rep found[/] (the hips never dropped {MIN_EXCURSION:.0%} of leg length)")
        return
    table = Table(title=f"{report.count} rep(s)" + (f" + {report.partial_count} partial" if report.partial_count else ""),
                  title_justify="left", caption=NOTE, caption_justify="left")  # fmt: skip
    deg = glyph(" °", " deg")
    columns = ["rep", "time s"] + (["verdict"] if verdicts else []) + ["depth*", f"knee{deg}", "knee/ankle", f"trunk lean{deg}", f"head{deg}", "out of range"]
    for name in columns:
        table.add_column(name, justify="left" if name in ("out of range", "verdict") else "right", no_wrap=name == "rep")

    def fmt(value, spec):
        return "-" if value is None else format(value, spec)

    cues: dict[str, None] = {}
    for k, r in enumerate(reps):
        cues.update(dict.fromkeys(r["cues"]))
        flagged = ", ".join(SHORT_METRIC_NAMES.get(m, m) for m in r["out_of_range"])
        said = []
        if verdicts:
            v = verdicts.get(k)
            said = ["[dim]not judged[/]" if v is None else "[green]good[/]" if v["verdict"] == "good"
                    else f"[red]{squat_class(v['main_fault']).name.lower()}[/]"]  # fmt: skip
        label = "whole clip" if r["whole_clip"] else f"{k + 1}{' (cut)' if r['partial'] else ''}"
        table.add_row(label, f"{r['start_s']:.1f}-{r['end_s']:.1f}", *said,
                      fmt(r["depth"], "+.2f"), fmt(r["min_knee_angle"], ".0f"), fmt(r["knee_ankle_width_ratio"], ".2f"),
                      fmt(r["max_trunk_lean"], ".0f"), fmt(r["head_angle"], ".0f"),
                      f"[yellow]{flagged}[/]" if flagged else "[green]none[/]")  # fmt: skip
    show(table)
    for cue in cues:
        out.print(f"  [yellow]>[/] {escape(cue)}")
    out.print("[dim]* depth: hip above knee at the bottom, in thigh lengths (below 0 = hips below knees); "
              "(cut) = a rep the clip starts or ends inside[/]")


def glyph(fancy: str, plain: str) -> str:
    """`fancy` where stdout can encode it (UTF-8), else its ASCII stand-in."""
    try:
        fancy.encode(out.encoding or "ascii")
        return fancy
    except (UnicodeEncodeError, LookupError):
        return plain


def render_batch_summary(results) -> None:
    from rich.table import Table

    from squatcli.skeleton import GOOD

    table = Table(title="summary", title_justify="left")
    for name in ("input", "verdict", "P(good)", "reps"):
        table.add_column(name)
    for path, result, error in results:
        if error is not None:
            table.add_row(escape(str(path)), f"[red]failed: {escape(str(error))}[/]", "", "")
        else:
            colour = "green" if result.good else "red"
            reps = "-" if result.reps is None else str(result.reps.count)
            table.add_row(escape(str(path)), f"[{colour}]{result.verdict_text}[/]", f"{result.probabilities[GOOD]:.2f}", reps)
    show(table)


def main() -> None:
    interrupts.install()  # before anything slow, so Ctrl-C and SIGTERM are never lost
    if sys.stdout is None:  # started with stdout closed (`>&-`): results would be lost, refuse before any work
        print_error(StdoutError("it is closed"))
        sys.exit(1)
    for stream in (sys.stdout, sys.stderr):  # a terminal that cannot show a character gets "?", not a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    app()


if __name__ == "__main__":
    main()
