"""Classification metrics on predicted probabilities, computed with scikit-learn.

Good-vs-rest: the positive class is "good" and the score is the model's probability of "good"; a window is
called good when P(good) >= threshold. Sensitivity is then the share of good clips called good, specificity
the share of faulty clips flagged as faulty. The operating point is Youden's J = argmax(TPR - FPR) over the ROC
curve of the VALIDATION split; it is stored with the model and reported on test data next to the test-set
Youden point (which is optimistic, since it is picked on the data it is scored on).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import warnings

import numpy as np

from squatcli.models import logit  # defined beside `calibrate`, which runs at assessment without scikit-learn
from squatcli.skeleton import CLASS_KEYS, GOOD

PAPER_SENSITIVITY = 0.897  # the paper's Youden sensitivity for both models: where `--model all` compares specificity


@dataclass
class OperatingPoint:
    """A good-vs-rest threshold on P(good) and the sensitivity/specificity it gives."""

    threshold: float
    sensitivity: float
    specificity: float


def _sklearn():
    """scikit-learn's metrics, imported on first use: its 2 s import is not on the way to a refusal of bad input."""
    import sklearn.metrics

    return sklearn.metrics


def good_labels(y: np.ndarray) -> np.ndarray:
    """(N,) class indices -> (N,) 1 where the clip is good, 0 where it is faulty."""
    return (np.asarray(y) == GOOD).astype(int)


def good_scores(probs: np.ndarray) -> np.ndarray:
    """(N, 7) probabilities -> (N,) P(good), the good-vs-rest score."""
    return np.asarray(probs)[:, GOOD]


def _both_classes(y_good: np.ndarray) -> bool:
    return 0 < int(np.sum(y_good)) < len(y_good)


def roc(y_good: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) of the full ROC curve (no points dropped); positive when score >= threshold."""
    return _sklearn().roc_curve(y_good, scores, drop_intermediate=False)


def auc(y_good: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve; NaN when only one of good/faulty is present."""
    return float(_sklearn().roc_auc_score(y_good, scores)) if _both_classes(y_good) else float("nan")


def youden(y_good: np.ndarray, scores: np.ndarray) -> OperatingPoint:
    """Youden's operating point: the threshold maximising sensitivity + specificity - 1 (first one on ties)."""
    y_good = np.asarray(y_good)
    if not _both_classes(y_good):
        raise ValueError("Youden's index needs both good and faulty examples")
    fpr, tpr, thresholds = roc(y_good, scores)
    k = int(np.argmax(tpr - fpr))
    return OperatingPoint(float(min(thresholds[k], 1.0)), float(tpr[k]), float(1 - fpr[k]))


def called_rates(y_good: np.ndarray, called_good: np.ndarray) -> tuple[float, float]:
    """(sensitivity, specificity) of calls `called_good` against the truth `y_good` (NaN where a side is empty)."""
    y_good, called = np.asarray(y_good).astype(bool), np.asarray(called_good).astype(bool)
    sens = float(np.mean(called[y_good])) if y_good.any() else float("nan")
    spec = float(np.mean(~called[~y_good])) if (~y_good).any() else float("nan")
    return sens, spec


def at_threshold(y_good: np.ndarray, scores: np.ndarray, threshold: float) -> OperatingPoint:
    """Sensitivity and specificity when clips with score >= threshold are called good."""
    return OperatingPoint(float(threshold), *called_rates(y_good, np.asarray(scores) >= threshold))


def specificity_at_sensitivity(y_good: np.ndarray, scores: np.ndarray, sensitivity: float) -> float:
    """The best specificity among ROC points whose sensitivity is at least `sensitivity`."""
    if not _both_classes(np.asarray(y_good)):
        return float("nan")
    fpr, tpr, _ = roc(y_good, scores)
    return float(np.max(1 - fpr[tpr >= sensitivity - 1e-12]))


@dataclass
class Report:
    """Everything `squat evaluate` reports for one model on one set of clips."""

    n: int
    accuracy: float
    kappa: float
    per_class: dict[str, dict[str, float]]  # class key -> precision, recall, f1, support
    confusion: list[list[int]]  # rows: true class, columns: predicted class
    confusion_normalised: list[list[float]]  # each row divided by its total (recall on the diagonal)
    auc: float
    youden: OperatingPoint | None  # picked on THESE clips (optimistic on test data)
    stored: OperatingPoint | None  # at the model's stored (validation) threshold
    specificity_at_paper_sensitivity: float
    balanced_accuracy: float = float("nan")  # good vs faulty at the stored threshold: (sensitivity + specificity) / 2
    ece: float = float("nan")  # expected calibration error of P(good) (reliability_bins)
    classes: list[str] = field(default_factory=lambda: list(CLASS_KEYS))
    reliability: list[dict[str, float]] = field(default_factory=list, repr=False)
    roc_fpr: list[float] = field(default_factory=list, repr=False)
    roc_tpr: list[float] = field(default_factory=list, repr=False)

    def to_dict(self, with_roc: bool = False) -> dict[str, Any]:
        d = asdict(self)
        if not with_roc:
            d.pop("roc_fpr")
            d.pop("roc_tpr")
        return d


def evaluate(y: np.ndarray, probs: np.ndarray, threshold: float | None = None,
             classes: tuple[str, ...] | list[str] = CLASS_KEYS) -> Report:  # fmt: skip
    """Metrics of (N, K) predicted probabilities against (N,) true indices into `classes` (good first)."""
    y = np.asarray(y, dtype=int)
    probs = np.asarray(probs, dtype=np.float64)
    k = len(classes)
    if probs.shape != (len(y), k):
        raise ValueError(f"probabilities must have shape ({len(y)}, {k}), got {probs.shape}")
    pred = probs.argmax(axis=1)
    labels = list(range(k))
    sk = _sklearn()
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")  # one class only: kappa is undefined (NaN, reported as null), not a warning
        prec, rec, f1, support = sk.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
        kappa = float(sk.cohen_kappa_score(y, pred, labels=labels))
        accuracy = float(sk.accuracy_score(y, pred))
    cm = sk.confusion_matrix(y, pred, labels=labels)
    with np.errstate(invalid="ignore", divide="ignore"):
        cm_norm = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    y_good, scores = good_labels(y), good_scores(probs)
    both = _both_classes(y_good)
    fpr, tpr, _ = roc(y_good, scores) if both else (np.array([]), np.array([]), None)
    stored = at_threshold(y_good, scores, threshold) if threshold is not None else None
    return Report(
        n=len(y),
        accuracy=accuracy,
        kappa=kappa,
        per_class={
            key: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]), "support": int(support[i])}
            for i, key in enumerate(classes)
        },
        confusion=cm.tolist(),
        confusion_normalised=cm_norm.tolist(),
        auc=auc(y_good, scores),
        youden=youden(y_good, scores) if both else None,
        stored=stored,
        specificity_at_paper_sensitivity=specificity_at_sensitivity(y_good, scores, PAPER_SENSITIVITY),
        balanced_accuracy=float("nan") if stored is None else float(np.nanmean([stored.sensitivity, stored.specificity])),
        ece=expected_calibration_error(y_good, scores),
        classes=list(classes),
        reliability=reliability_bins(y_good, scores),
        roc_fpr=fpr.tolist(),
        roc_tpr=tpr.tolist(),
    )


# ---- calibration ---------------------------------------------------------------------------------------------

CALIBRATION_BINS = 10  # equal-width bins of P(good) for the reliability diagram and the ECE


def reliability_bins(y_good: np.ndarray, scores: np.ndarray, bins: int = CALIBRATION_BINS) -> list[dict[str, float]]:
    """The reliability diagram of P(good): per equal-width bin of the predicted probability, its count, mean
    prediction and the share of rows that are good (empty bins omitted)."""
    y_good, scores = np.asarray(y_good, dtype=float), np.asarray(scores, dtype=float)
    which = np.minimum((scores * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        m = which == b
        if m.any():
            out.append({"low": b / bins, "high": (b + 1) / bins, "n": int(m.sum()),
                        "predicted": float(scores[m].mean()), "observed": float(y_good[m].mean())})  # fmt: skip
    return out


def expected_calibration_error(y_good: np.ndarray, scores: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """ECE of P(good): the row-weighted mean |observed share of good - mean P(good)| over the reliability bins
    (0 = perfectly calibrated: of the rows given 0.8, 80 % are good). NaN with no rows."""
    rows = reliability_bins(y_good, scores, bins)
    n = sum(r["n"] for r in rows)
    return float(sum(r["n"] * abs(r["observed"] - r["predicted"]) for r in rows) / n) if n else float("nan")


def fit_calibration(y_good: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Platt scaling of P(good): (a, b) such that sigmoid(a * logit p + b) fits the good/faulty labels on these
    rows (a logistic regression on logit P(good)). Monotone, so the ranking, AUC and Youden point are kept; it
    undoes both the over- or under-confidence of the network and its class-balanced training (which makes it
    answer as if good were as common as each fault). Two parameters: fitted on out-of-fold predictions that
    cover many sessions, not on a few validation sessions whose share of good reps swings from 0 to 100 %."""
    from sklearn.linear_model import LogisticRegression

    y_good = np.asarray(y_good, dtype=int)
    if not _both_classes(y_good):
        return 1.0, 0.0
    fit = LogisticRegression(C=100.0, max_iter=1000).fit(logit(scores)[:, None], y_good)
    a, b = float(fit.coef_[0, 0]), float(fit.intercept_[0])
    return (a, b) if a > 0 else (1.0, 0.0)  # a model whose P(good) does not rank the good rows first is not inverted
