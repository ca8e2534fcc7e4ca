"""Evaluation figures: good-vs-rest ROC curves (several models on one plot) and normalised confusion matrices.

matplotlib with the Agg backend (no display needed); every PNG is written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from squatcli.datasets import atomic_output
from squatcli.metrics import Report
from squatcli.skeleton import CLASSES


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def roc_figure(reports: Mapping[str, Report], path: str | Path, title: str = "Good vs rest") -> Path:
    """One ROC curve per model, with its validation-threshold point (o) and its Youden point on these clips (x)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5.2), dpi=120)
    ax.plot([0, 1], [0, 1], color="0.75", lw=1, ls="--")
    for name, r in reports.items():
        if not r.roc_fpr:
            continue
        (line,) = ax.plot(r.roc_fpr, r.roc_tpr, lw=1.8, label=f"{name} (AUC {r.auc:.3f})")
        if r.stored is not None:
            ax.plot(1 - r.stored.specificity, r.stored.sensitivity, "o", color=line.get_color(), ms=7,
                    label=f"{name} at stored threshold {r.stored.threshold:.3g}")  # fmt: skip
        if r.youden is not None:
            ax.plot(1 - r.youden.specificity, r.youden.sensitivity, "x", color=line.get_color(), ms=8)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="1 - specificity (faulty clips called good)",
           ylabel="sensitivity (good clips called good)", title=title)  # fmt: skip
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def confusion_figure(matrix: Sequence[Sequence[float]], path: str | Path, title: str = "") -> Path:
    """A row-normalised 7x7 confusion matrix (rows: true class, columns: predicted) as a heat map."""
    plt = _pyplot()
    m = np.asarray(matrix, dtype=float)
    names = [c.name for c in CLASSES]
    fig, ax = plt.subplots(figsize=(7, 6), dpi=120)
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
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    plt = _pyplot()
    path = Path(path)
    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format="png", bbox_inches="tight")
    finally:
        plt.close(fig)
    return path
