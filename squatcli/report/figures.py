"""Figures: stick figures of pose clips, an assessment's curves over time, and the evaluation figures (good-vs-rest
ROC curves, confusion matrices, reliability).

matplotlib with the Agg backend (no display needed), imported lazily so the CLI stays fast; every figure is
written atomically, in the format its file name's suffix names, or returned as PNG bytes to embed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from squatcli.datasets import atomic_output
from squatcli.skeleton import BONES, CLASSES, J, N_CLASSES, squat_class

if TYPE_CHECKING:
    from squatcli.metrics import Report

LEFT, RIGHT, CENTRE = "#1f77b4", "#d62728", "#333333"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, **savefig) -> Path:
    """Write `fig` atomically in the format of the file's suffix (.png, .pdf, .svg; none: png), then close it."""
    path = Path(path)
    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format=path.suffix.lstrip(".").lower() or "png", **savefig)
    finally:
        _pyplot().close(fig)
    return path


def png_bytes(fig, **savefig) -> bytes:
    """`fig` as PNG bytes (to embed in a page), then closed."""
    import io

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", **savefig)
    finally:
        _pyplot().close(fig)
    return buffer.getvalue()


def _bone_colour(a: str, b: str) -> str:
    if a.startswith("l_") and b.startswith("l_"):
        return LEFT
    if a.startswith("r_") and b.startswith("r_"):
        return RIGHT
    return CENTRE


def draw_stick(ax, joints: np.ndarray, view: str, spine: np.ndarray | None = None, feet: np.ndarray | None = None) -> None:
    """Draw one frame's (19, 3) world joints (y up, x left, z forward) seen from the `side` (right) or `front`."""
    h, v = (2, 1) if view == "side" else (0, 1)
    sign = 1.0 if view == "side" else -1.0  # front view: the subject's left on the viewer's right... mirrored x
    px = lambda p: sign * p[..., h] if view == "front" else p[..., h]  # noqa: E731
    for a, b in BONES:
        if spine is not None and {a, b} <= {"r_hip", "l_hip", "r_shoulder", "l_shoulder"} and a[2:] != b[2:]:
            continue  # the flanks are replaced by the spine curve below
        pa, pb = joints[J[a]], joints[J[b]]
        ax.plot([px(pa), px(pb)], [pa[v], pb[v]], color=_bone_colour(a, b), lw=2, solid_capstyle="round")
    if spine is not None:
        curve = np.concatenate([spine, joints[[J["neck"]]]])
        ax.plot(px(curve), curve[:, v], color=CENTRE, lw=2.5)
        ax.plot(px(spine[1:2]), spine[1:2, v], "o", color=CENTRE, ms=3)
    if feet is not None:  # (2, 2, 3): per side, ankle and toe
        for (a, t), c in zip(feet, (RIGHT, LEFT)):
            ax.plot([px(a), px(t)], [a[v] - 0.04, 0.0], color=c, lw=2, alpha=0.6)
    ax.scatter(px(joints), joints[:, v], s=6, color=CENTRE, zorder=3)
    ax.axhline(0, color="#999999", lw=0.8)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)


def synth_preview(path: str | Path, seed: int = 0, severity: float = 0.8, arms: str = "crossed") -> Path:
    """Contact sheet: for each class, side and front view of one synthetic subject at the bottom of a faulty rep."""
    from squatcli import synth

    plt = _pyplot()
    subject = synth.make_subjects(1, np.random.default_rng([seed, 7]))[0]
    fig, axes = plt.subplots(2, N_CLASSES, figsize=(2.1 * N_CLASSES, 5.6))
    for label in range(N_CLASSES):
        clip = synth.simulate(np.random.default_rng([seed, 11]), label, subject, noise=False, severity=severity, arms=arms)
        score = clip.depth * (1.0 if label == 0 else clip.fault)
        f = int(np.argmax(score))
        w = clip.world[f]
        toe = np.radians(clip.meta["toe_out_deg"])
        foot = 0.14 * subject.height / 1.75
        feet = []
        for name, sgn in (("r_ankle", -1), ("l_ankle", 1)):
            a = w[J[name]]
            feet.append([a, a + foot * np.array([sgn * np.sin(toe), 0, np.cos(toe)])])
        for row, view in enumerate(("side", "front")):
            ax = axes[row, label]
            draw_stick(ax, w, view, clip.spine[f], np.array(feet))
            ax.set_xlim(-0.75, 0.75) if view == "front" else ax.set_xlim(-0.6, 0.9)
            ax.set_ylim(-0.05, 1.55)
            if row == 0:
                ax.set_title(CLASSES[label].name, fontsize=9)
        axes[0, 0].set_ylabel("side", fontsize=9)
        axes[1, 0].set_ylabel("front", fontsize=9)
    fig.suptitle(f"squat synth: bottom of a rep, severity {severity:g} (left side blue, right red)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


# ---- evaluation figures ---------------------------------------------------------------------------------------


def _unit_square():
    """A square figure for curves on [0, 1] x [0, 1] with the dashed diagonal: (figure, axes)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5.2), dpi=120)
    ax.plot([0, 1], [0, 1], color="0.75", lw=1, ls="--")
    return fig, ax


def _finish_unit_square(fig, ax, path: str | Path, legend: str, **labels) -> Path:
    ax.set(xlim=(0, 1), ylim=(0, 1.01), **labels)
    ax.legend(loc=legend, fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, path, bbox_inches="tight")


def roc_figure(reports: Mapping[str, Report], path: str | Path, title: str = "Good vs rest", rows: str = "rows") -> Path:
    """One ROC curve per model, with its validation-threshold point (o) and its Youden point on these rows (x);
    `rows` names what was scored ("reps", "clips")."""
    fig, ax = _unit_square()
    for name, r in reports.items():
        if not r.roc_fpr:
            continue
        (line,) = ax.plot(r.roc_fpr, r.roc_tpr, lw=1.8, label=f"{name} (AUC {r.auc:.3f})")
        if r.stored is not None:
            ax.plot(1 - r.stored.specificity, r.stored.sensitivity, "o", color=line.get_color(), ms=7,
                    label=f"{name} at stored threshold {r.stored.threshold:.3g}")  # fmt: skip
        if r.youden is not None:
            ax.plot(1 - r.youden.specificity, r.youden.sensitivity, "x", color=line.get_color(), ms=8)
    return _finish_unit_square(fig, ax, path, "lower right", xlabel=f"1 - specificity (faulty {rows} called good)",
                               ylabel=f"sensitivity (good {rows} called good)", title=title)  # fmt: skip


def confusion_figure(matrix: Sequence[Sequence[float]], path: str | Path, title: str = "",
                     classes: Sequence[str] | None = None) -> Path:  # fmt: skip
    """A row-normalised confusion matrix (rows: true class, columns: predicted) as a heat map; `classes` are the
    class keys in order (default: the paper's seven)."""
    plt = _pyplot()
    m = np.asarray(matrix, dtype=float)
    names = [squat_class(k).name for k in classes] if classes is not None else [c.name for c in CLASSES]
    fig, ax = plt.subplots(figsize=(0.8 * len(names) + 1.6, 0.7 * len(names) + 1.5), dpi=120)
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if m[i, j] > 0.5 else "black")  # fmt: skip
    ax.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return save_figure(fig, path, bbox_inches="tight")


def reliability_figure(reports: Mapping[str, Report], path: str | Path, rows: str = "rows") -> Path:
    """Reliability diagram of P(good) per model: in each bin of predicted P(good), the share of `rows` (reps,
    clips) that are good (a calibrated model lies on the diagonal), marker area by their number; the ECE in the
    legend."""
    fig, ax = _unit_square()
    for name, r in reports.items():
        if not r.reliability:
            continue
        x = [b["predicted"] for b in r.reliability]
        y = [b["observed"] for b in r.reliability]
        n = np.array([b["n"] for b in r.reliability], dtype=float)
        (line,) = ax.plot(x, y, lw=1.5, label=f"{name} (ECE {r.ece:.3f}, {r.n} {rows})")
        ax.scatter(x, y, s=15 + 200 * n / n.max(), color=line.get_color(), alpha=0.6)
    return _finish_unit_square(fig, ax, path, "upper left", xlabel="predicted P(good)",
                               ylabel=f"observed share of good {rows}", title="Calibration of P(good)")  # fmt: skip

# ---- an assessment over time ----------------------------------------------------------------------------------

# The curves of a report (report.model.CURVES): title, unit and the measurement whose documented range they show.
CURVE_PANELS = {"knee_angle": ("knee angle", "degrees", "min_knee_angle"),
                "hip_height": ("hip height above the ankles", "leg lengths", None),
                "trunk_lean": ("trunk lean from vertical", "degrees", "max_trunk_lean")}  # fmt: skip
VERDICT_COLOURS = {"good": "#3a9d3a", "needs_work": "#d62728", None: "#999999"}


def curves_figure(report) -> bytes:
    """Knee angle, hip height and trunk lean over time (a report.Report's curves), each rep shaded in the colour of
    its verdict and numbered, the documented ranges drawn; a signal the view hid says so. PNG bytes."""
    from squatcli.report.model import range_text
    from squatcli.reps import RANGE_BY_METRIC

    plt = _pyplot()
    names = [k for k in CURVE_PANELS if k in report.curves]
    fig, axes = plt.subplots(max(1, len(names)), 1, figsize=(8, 1.9 * max(1, len(names)) + 0.4), dpi=100, sharex=True,
                             squeeze=False)  # fmt: skip
    for ax, name in zip(axes[:, 0], names):
        title, unit, ranged = CURVE_PANELS[name]
        y = report.curves[name]
        t = np.arange(len(y)) / 30.0
        for r in report.reps:
            ax.axvspan(r.start_s, r.end_s, color=VERDICT_COLOURS[r.verdict], alpha=0.12, lw=0)
        if np.isfinite(y).any():
            ax.plot(t, y, color="#1f3b73", lw=1.6)
            limit = RANGE_BY_METRIC.get(ranged) if ranged else None
            for bound in () if limit is None else (limit.low, limit.high):
                if bound is not None:
                    ax.axhline(bound, color="#e08a00", lw=1.2, ls="--", label=f"coaching range {range_text(ranged)}")
            if limit is not None:
                ax.legend(loc="best", fontsize=7, framealpha=0.8)
        else:
            ax.text(0.5, 0.5, "not measured from this view", transform=ax.transAxes, ha="center", va="center",
                    color="#666666", fontsize=9)  # fmt: skip
        for r in report.reps:
            ax.text((r.start_s + r.end_s) / 2, 1.0, r.label, transform=ax.get_xaxis_transform(), ha="center",
                    va="bottom", fontsize=7, color="#444444")  # fmt: skip
        ax.set_ylabel(unit, fontsize=8)
        ax.set_title(title, fontsize=9, loc="left", pad=10)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.25)
    axes[-1, 0].set_xlabel("time (s); reps shaded: green good, red a fault, grey not judged by itself", fontsize=8)
    axes[-1, 0].set_xlim(0, max(report.duration_s, 1e-3))
    fig.tight_layout()
    return png_bytes(fig)
