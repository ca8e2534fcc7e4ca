"""The terminal tables of `squat extract`, `synth`, `train` and `evaluate` (the assessment's are in `terminal`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.markup import escape
from rich.table import Table

from squatcli.report.console import err, show


def print_extraction(result: Any, summary: dict, video: Path, output: Path) -> None:
    """The summary of `squat extract`: frames, person found, bone-length stability, notes, time."""
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


def print_corpus(rows: list[dict], output: Path, seed: int, seconds: float) -> None:
    """The summary of `squat synth`: per class, clips, subjects, severities, partial faults and reps."""
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


def print_epoch(e: Any, patience: int) -> None:
    """One finished epoch of `squat train` (a train.EpochLog) on stderr: losses, accuracies, the best so far, time
    and the patience left."""
    star = "[green]*[/]" if e.improved else " "
    left = min(e.epochs - e.epoch, max(0, patience - (e.epoch - e.best_epoch)))
    eta = left * e.elapsed / e.epoch
    err.print(f"epoch {e.epoch:>3}/{e.epochs}  loss {e.loss:.3f} acc {e.accuracy:.3f}  |  val loss {e.val_loss:.3f} "
              f"acc {e.val_accuracy:.3f} {star} best {e.best_val_accuracy:.3f} @{e.best_epoch}  |  {e.seconds:.1f} s  "
              f"total {e.elapsed:.0f} s  patience {left} (~{eta:.0f} s)", highlight=False)  # fmt: skip


def print_training(md: dict, files: Sequence[Path]) -> None:
    """The summary of `squat train`: files, data, epochs, time, validation, threshold and calibration."""
    v, tr, d = md["validation"], md["training"], md["data"]
    table = Table(title=escape(f"{md['name']}: {md['kind']}, {md['parameters']:,} parameters"), show_header=False, title_justify="left")
    table.add_row("saved", escape("  ".join(str(f) for f in files)))
    table.add_row("data", escape(f"{d['source']} ({d['fingerprint']}): {d['n_train']} train / {d['n_val']} val / {d['n_test']} test, {d['split']} split"))
    if tr.get("crossfit_folds"):
        table.add_row("epochs", f"{tr['epochs_run']} (fixed), and {tr['crossfit_folds']} cross-fitted models for calibration")
        table.add_row("time", f"{tr['time_s']:.1f} s")
        table.add_row("out-of-fold", f"accuracy {v['accuracy']:.3f}, kappa {v['kappa']:.3f}, good-vs-rest AUC {v['auc']:.3f} ({v['n']} training rows, each predicted by a model that never saw its session)")
    else:
        table.add_row("epochs", f"best {tr['best_epoch']} of {tr['epochs_run']} run (max {tr['epochs_max']})")
        table.add_row("time", f"{tr['time_s']:.1f} s ({tr['time_to_best_s']:.1f} s to the best epoch)")
        table.add_row("validation", f"accuracy {v['accuracy']:.3f}, kappa {v['kappa']:.3f}, good-vs-rest AUC {v['auc']:.3f}")
    table.add_row("threshold", f"P(good) >= {md['threshold']:.3f}: sensitivity {v['sensitivity']:.3f}, specificity {v['specificity']:.3f} (Youden on {'out-of-fold predictions' if tr.get('crossfit_folds') else 'validation'})")
    if md.get("flags"):
        table.add_row("flags", ", ".join(f"{k} >= {f:.3f}" for k, f in md["flags"].items())
                      + " (classes made from real good reps: each named when its probability reaches its flag)")
    if md["calibration"]["method"] != "none":
        c = md["calibration"]
        table.add_row("calibration", f"Platt a {c['a']:.2f}, b {c['b']:+.2f}: ECE of P(good) {c['ece_before']:.3f} -> {c['ece_after']:.3f} on {c['rows']} rows")
    show(table)


def pct(x: float) -> str:
    """A rate with three decimals, "-" for NaN."""
    return "-" if x != x else f"{x:.3f}"


def print_evaluations(results: list) -> None:
    """The tables of `squat evaluate`: per model a summary, per-class figures and the confusion matrix; with
    several models a comparison."""
    for r in results:
        print_evaluation(r)
    if len(results) > 1:
        print_comparison(results)


def print_evaluation(r: Any) -> None:
    """One evaluation.Evaluation: summary, per-class precision/recall/F1 and the row-normalised confusion matrix."""
    from squatcli import metrics
    from squatcli.skeleton import squat_class

    rep = r.report
    summary = Table(title=escape(f"{r.name} on {r.source}, {r.scope}: {rep.n} rows"), show_header=False, title_justify="left")
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


def print_comparison(results: list) -> None:
    """Several evaluations side by side."""
    from squatcli import metrics

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
