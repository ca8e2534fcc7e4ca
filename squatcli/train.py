"""Training a classifier: data -> split -> fit with early stopping -> Youden threshold on validation -> metadata.

`train` is a plain function (the CLI and the bench call it); saving is `models.save_model`. The split is the
paper's stratified random 80/10/10 over clips, or 80/10/10 by subject (no person in two parts). Early stopping
watches validation accuracy (ties broken by validation loss) and the best weights are restored at the end,
also when training is interrupted with Ctrl-C.
"""

from __future__ import annotations

import datetime as _dt
import functools
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from squatcli import __version__, metrics
from squatcli.datasets import (
    AUTO_SPLIT,
    SPLITS,
    Dataset,
    load_paper_dataset,
    read_corpus_info,
    split_by_subject,
    split_random,
)
from squatcli.errors import SquatError
from squatcli.features import HOP, pad_to_window
from squatcli.skeleton import (
    CLASS_FOLDERS,
    CLASS_KEYS,
    FPS,
    JOINTS,
    MODEL_KINDS,
    N_FEATURES,
    PAIR_I,
    PAIR_J,
    WINDOW,
    pair_index,
)

PLATEAU_PATIENCE = 3  # epochs without a lower validation loss before the learning rate is halved
MAX_LR = 1.0  # Adam diverges (NaN weights) long before this
SYNTHETIC = "synthetic"

# Training recipe defaults per model, chosen by measurement (bench/bench_models.py, models/README.md).
TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "cnn": {"epochs": 60, "batch_size": 32, "lr": 1e-3, "patience": 10},
    "lstm": {"epochs": 80, "batch_size": 32, "lr": 2e-3, "patience": 12},
}
# The paper's recipes (Adam for both here; the paper trained its CNN with Adadelta).
TRAIN_PAPER: dict[str, dict[str, Any]] = {
    "cnn": {"epochs": 100, "batch_size": 32, "lr": 1e-3, "patience": 5},
    "lstm": {"epochs": 250, "batch_size": 128, "lr": 1e-4, "patience": 50},
}


# ---- data ---------------------------------------------------------------------------------------------------


def load_data(spec: str | Path, progress: Callable[[int, int], None] | None = None) -> tuple[Dataset, dict]:
    """`synthetic` (the generated corpus) or a folder in the paper's layout -> (dataset, description).

    A synthetic corpus, generated here or written by `squat synth` (its corpus.json), is described by its source
    string and parameters (`synthetic`, `synthetic_params`), so evaluation can recognise it in either form.
    """
    if str(spec) == SYNTHETIC:
        from squatcli import synth

        data = synth.load_synthetic(progress=progress)
        return data, {"source": SYNTHETIC, "synthetic": data.source, "synthetic_params": synth.corpus_info()}
    root = Path(spec).expanduser()
    data = load_paper_dataset(root, progress=progress)
    corpus = read_corpus_info(root)
    return data, {"source": str(root.resolve()),
                  **({} if corpus is None else {"synthetic": data.source, "synthetic_params": corpus})}  # fmt: skip


def resolve_split(kind: str, data: Dataset) -> str:
    """`auto` -> `subject` when the data records subjects (the synthetic corpus, a folder with a manifest.csv),
    `random` otherwise (the published dataset: one person); `random` and `subject` as they are."""
    if kind == AUTO_SPLIT:
        return "random" if data.subjects is None else "subject"
    if kind not in SPLITS:
        raise SquatError(f"unknown split {kind!r}; expected one of {', '.join((AUTO_SPLIT, *SPLITS))}")
    return kind


def split(data: Dataset, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) clip indices: `random` (stratified 80/10/10, the paper's), `subject` or `auto`."""
    if resolve_split(kind, data) == "random":
        return split_random(data.y, seed)
    return split_by_subject(data.subjects, seed)


def training_data_match(data: Dataset, metadata: dict) -> str | None:
    """Whether `data` is the data the model was trained on: `fingerprint` (the very same windows), `corpus` (the
    same synthetic corpus by its source string, e.g. written by `squat synth` and read back, whose stored
    distances are rounded), or None."""
    info = metadata.get("data", {})
    if info.get("fingerprint") == data.fingerprint():
        return "fingerprint"
    if data.source and data.source == info.get("synthetic"):
        return "corpus"
    return None


def test_subset(data: Dataset, metadata: dict, match: str | None = None) -> Dataset | None:
    """The model's own test split of `data`, or None if `data` is not the data the model was trained on.

    `match`: `training_data_match(data, metadata)` if already known. For the same synthetic corpus in another form
    the split is remade from the clips' labels, ids and subjects, which must be exactly the generator's (checked
    against `synth.corpus_layout`); if they are not, the test split cannot be reproduced and this refuses.
    """
    if match is None:
        match = training_data_match(data, metadata)
    if match is None:
        return None
    info = metadata["data"]
    if match == "corpus":
        from squatcli import synth

        params = info.get("synthetic_params") or {}
        try:
            y, ids, subjects = synth.corpus_layout(params["clips_per_class"], params["subjects"], params["seed"])
        except KeyError:
            y, ids, subjects = None, None, None
        same = (y is not None and np.array_equal(data.y, y) and data.ids == ids and data.subjects is not None
                and np.array_equal(data.subjects.astype(str), subjects))  # fmt: skip
        if not same:
            raise SquatError(f"these clips come from the model's training corpus ({data.source}) but are not all of "
                             "it in the generator's order with its subjects, so the model's test split cannot be "
                             "rebuilt; pass --whole to score every clip (training clips included)")  # fmt: skip
    _, _, test = split(data, info["split"], int(info["split_seed"]))
    return data.subset(test)


# ---- training -----------------------------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """What to train and how; None means the model's default (TRAIN_DEFAULTS, models.*_DEFAULTS)."""

    model: str = "cnn"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    patience: int | None = None
    seed: int = 0
    split: str = AUTO_SPLIT  # resolved against the data by `resolve_split`
    arch: dict[str, Any] = field(default_factory=dict)
    augment: bool = True

    def resolved(self) -> "TrainConfig":
        if self.model not in MODEL_KINDS:
            raise SquatError(f"unknown model {self.model!r}; expected one of {', '.join(MODEL_KINDS)}")
        if self.lr is not None and not 0 < self.lr <= MAX_LR:
            raise SquatError(f"the learning rate must be greater than 0 and at most {MAX_LR:g}, got {self.lr}")
        if self.seed < 0:
            raise SquatError(f"the seed must be 0 or more, got {self.seed}")
        d = TRAIN_DEFAULTS[self.model]
        pick = lambda v, k: d[k] if v is None else v  # noqa: E731
        return TrainConfig(self.model, pick(self.epochs, "epochs"), pick(self.batch_size, "batch_size"),
                           pick(self.lr, "lr"), pick(self.patience, "patience"), self.seed, self.split,
                           dict(self.arch), self.augment)  # fmt: skip


@dataclass
class EpochLog:
    """One finished epoch, as reported to the progress callback."""

    epoch: int
    epochs: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    best_epoch: int
    best_val_accuracy: float
    seconds: float  # this epoch
    elapsed: float  # since training started
    improved: bool


@dataclass
class TrainResult:
    model: Any  # keras.Model with the best weights
    metadata: dict[str, Any]
    history: list[EpochLog]
    interrupted: bool


AUGMENTATION = ("each training clip, each epoch: mirrored left/right (p 0.5), played backwards (p 0.5), "
                "started up to 1 s late with the end ping-pong padded, and (p 0.3) cut to a random 1.5-5 s "
                "stretch ping-pong padded to 10 s, like a short phone clip at assessment")  # fmt: skip
SHORT_CROP = (0.3, 45, 150)  # probability, shortest and longest crop in frames
MAX_SHIFT = FPS  # frames


@functools.cache
def mirror_permutation() -> np.ndarray:
    """Feature permutation that swaps the body's left and right sides: x_mirrored = x[..., perm] (computed once,
    read-only)."""
    swap = {"l_": "r_", "r_": "l_"}
    other = [swap[n[:2]] + n[2:] if n[:2] in swap else n for n in JOINTS]
    perm = np.array([pair_index(other[i], other[j]) for i, j in zip(PAIR_I, PAIR_J)])
    perm.setflags(write=False)
    return perm


def augment_batch(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Label-preserving random variants of (B, T, 171) windows (see AUGMENTATION)."""
    x = x.copy()
    mirror = rng.random(len(x)) < 0.5
    x[mirror] = x[mirror][..., mirror_permutation()]
    reverse = rng.random(len(x)) < 0.5
    x[reverse] = x[reverse, ::-1]
    for k, shift in enumerate(rng.integers(0, MAX_SHIFT + 1, len(x))):
        if shift:
            x[k] = pad_to_window(x[k, shift:], x.shape[1])
    p_crop, shortest, longest = SHORT_CROP
    for k in np.flatnonzero(rng.random(len(x)) < p_crop):
        length = int(rng.integers(shortest, longest + 1))
        start = int(rng.integers(0, x.shape[1] - length + 1))
        x[k] = pad_to_window(x[k, start : start + length], x.shape[1])
    return x


def _make_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, augment: bool):
    import keras

    class Batches(keras.utils.PyDataset):
        """Shuffled (and augmented) training batches, a new order every epoch, reproducible from the seed."""

        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng([seed, 1])
            self.order = self.rng.permutation(len(y))

        def __len__(self):
            return -(-len(y) // batch_size)

        def __getitem__(self, i):
            idx = np.sort(self.order[i * batch_size : (i + 1) * batch_size])
            xb = augment_batch(x[idx], self.rng) if augment else x[idx]
            return xb, y[idx]

        def on_epoch_end(self):
            self.order = self.rng.permutation(len(y))

    return Batches()


def _make_monitor(patience: int, epochs: int, on_epoch: Callable[[EpochLog], None] | None):
    import keras  # train() has imported squatcli.models first, which quiets TensorFlow

    class Monitor(keras.callbacks.Callback):
        """Early stopping on validation accuracy (ties: lower validation loss), keeping the best weights."""

        def __init__(self):
            super().__init__()
            self.best_weights = None
            self.best_epoch = 0
            self.best = (-1.0, float("inf"))
            self.time_to_best = 0.0
            self.history: list[EpochLog] = []
            self.t0 = self.te = time.perf_counter()

        def on_train_begin(self, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            self.te = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            now = time.perf_counter()
            va, vl = float(logs.get("val_accuracy", 0.0)), float(logs.get("val_loss", float("inf")))
            improved = va > self.best[0] + 1e-9 or (abs(va - self.best[0]) <= 1e-9 and vl < self.best[1])
            if improved:
                self.best, self.best_epoch = (va, vl), epoch + 1
                self.best_weights = [w.copy() for w in self.model.get_weights()]
                self.time_to_best = now - self.t0
            elif epoch + 1 - self.best_epoch >= patience:
                self.model.stop_training = True
            log = EpochLog(epoch + 1, epochs, float(logs.get("loss", np.nan)), float(logs.get("accuracy", np.nan)),
                           vl, va, self.best_epoch, self.best[0], now - self.te, now - self.t0, improved)  # fmt: skip
            self.history.append(log)
            if on_epoch:
                on_epoch(log)

    return Monitor()


def pick_threshold(val_y: np.ndarray, val_probs: np.ndarray) -> metrics.OperatingPoint:
    """The stored good-vs-rest operating point: Youden's J on the VALIDATION clips' P(good), never the test split's.

    `val_y` (N,) class indices and `val_probs` (N, 7) probabilities of the validation clips -> the threshold and
    the sensitivity and specificity it gives there.
    """
    return metrics.youden(metrics.good_labels(val_y), metrics.good_scores(val_probs))


def train(
    data: Dataset,
    config: TrainConfig,
    *,
    data_info: dict | None = None,
    command: str = "",
    name: str | None = None,
    on_epoch: Callable[[EpochLog], None] | None = None,
    callbacks: Sequence[Any] = (),
) -> TrainResult:
    """Train `config.model` on the train part of `data`, early-stopped on the validation part.

    The good-vs-rest threshold is Youden's point on the VALIDATION predictions of the restored best weights
    (`pick_threshold`). `config.split` `auto` is resolved against `data` (`resolve_split`) and recorded resolved.
    Ctrl-C (KeyboardInterrupt) during fitting stops training and keeps the best epoch so far; if no epoch has
    finished, the KeyboardInterrupt propagates.
    """
    from squatcli import models  # first: it quiets TensorFlow's logging before TensorFlow is imported

    import keras
    import tensorflow as tf

    cfg = config.resolved()
    arch = models.architecture(cfg.model, **cfg.arch)
    split_kind = resolve_split(cfg.split, data)
    train_idx, val_idx, test_idx = split(data, split_kind, cfg.seed)
    tr, va = data.subset(train_idx), data.subset(val_idx)
    if len(tr) == 0 or len(va) == 0:
        raise SquatError(f"the {split_kind} split left {len(tr)} training and {len(va)} validation clips; "
                         "the dataset is too small")  # fmt: skip
    if not 0 < int(metrics.good_labels(va.y).sum()) < len(va):
        raise SquatError("the validation split needs both good and faulty clips to pick the good-vs-rest threshold")

    keras.utils.set_random_seed(cfg.seed)
    # Per-feature statistics of the training clips only (float64 sums over clips and frames).
    mean = tr.x.mean(axis=(0, 1), dtype=np.float64)
    std = tr.x.std(axis=(0, 1), dtype=np.float64)
    model = models.build(cfg.model, mean, std, **{k: v for k, v in arch.items() if k != "kind"})
    clip = {"clipnorm": 1.0} if cfg.model == "lstm" else {}
    model.compile(optimizer=keras.optimizers.Adam(cfg.lr, **clip), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip

    monitor = _make_monitor(cfg.patience, cfg.epochs, on_epoch)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=PLATEAU_PATIENCE,
                                                min_lr=cfg.lr / 64)  # fmt: skip
    interrupted = False
    t0 = time.perf_counter()
    try:
        batches = _make_batches(tr.x, tr.y, cfg.batch_size, cfg.seed, cfg.augment)
        model.fit(batches, validation_data=(va.x, va.y), epochs=cfg.epochs, verbose=0,
                  callbacks=[monitor, plateau, *callbacks])  # fmt: skip
    except KeyboardInterrupt:
        if monitor.best_weights is None:
            raise
        interrupted = True
    train_seconds = time.perf_counter() - t0
    if monitor.best_weights is not None:
        model.set_weights(monitor.best_weights)

    classifier = models.Classifier(model, {}, name=name or cfg.model)
    val_probs = classifier.predict(va.x)
    if not np.all(np.isfinite(val_probs)):
        raise SquatError(f"training diverged (the model outputs NaN); try a smaller learning rate than {cfg.lr:g}")
    op = pick_threshold(va.y, val_probs)
    val_report = metrics.evaluate(va.y, val_probs, threshold=op.threshold)

    metadata = {
        "format": models.METADATA_FORMAT,
        "version": models.METADATA_VERSION,
        "name": name or cfg.model,
        "kind": cfg.model,
        "classes": list(CLASS_KEYS),
        "class_folders": list(CLASS_FOLDERS),
        "window": WINDOW,
        "fps": FPS,
        "features": {
            "n": N_FEATURES,
            "kind": "pairwise Euclidean distances between the 19 joints, per frame",
            "pair_order": "numpy.triu_indices(19, 1)",
            "joints": list(JOINTS),
            "clip_normalisation": "divided by the clip's body scale (squatcli.features.normalise)",
            "windowing": f"dataset clips: first {WINDOW} frames, shorter ones ping-pong padded "
                         f"(features.fit_window); long videos: {WINDOW}-frame windows, hop {HOP} (features.windows)",
            "standardisation": {
                "where": "inside the model (layer 'standardise'): (x - mean) / std per feature",
                "computed_on": "training split, over clips and frames",
                "mean": mean.astype(np.float32).tolist(),
                "std": std.astype(np.float32).tolist(),
            },
        },
        "architecture": arch,
        "parameters": int(model.count_params()),
        "threshold": op.threshold,
        "threshold_rule": "good-vs-rest: a window is good if P(good) >= threshold; Youden's J on the validation split",
        "validation": {
            "n": len(va),
            "accuracy": val_report.accuracy,
            "kappa": val_report.kappa,
            "loss": monitor.best[1],
            "auc": val_report.auc,
            "sensitivity": op.sensitivity,
            "specificity": op.specificity,
        },
        "training": {
            "epochs_max": cfg.epochs,
            "epochs_run": len(monitor.history),
            "best_epoch": monitor.best_epoch,
            "batch_size": cfg.batch_size,
            "optimizer": "adam" + (" (clipnorm 1.0)" if clip else ""),
            "lr": cfg.lr,
            "loss": "sparse categorical cross-entropy",
            "lr_schedule": f"halved after {PLATEAU_PATIENCE} epochs without a lower validation loss, down to lr/64",
            "augmentation": AUGMENTATION if cfg.augment else "none",
            "early_stopping": f"validation accuracy (ties: lower loss), patience {cfg.patience}, best weights kept",
            "seed": cfg.seed,
            "time_s": round(train_seconds, 2),
            "time_to_best_s": round(monitor.time_to_best, 2),
            "interrupted": interrupted,
            "history": [
                {"epoch": h.epoch, "loss": round(h.loss, 5), "accuracy": round(h.accuracy, 5),
                 "val_loss": round(h.val_loss, 5), "val_accuracy": round(h.val_accuracy, 5),
                 "seconds": round(h.seconds, 2)}
                for h in monitor.history
            ],  # fmt: skip
        },
        "data": {
            **(data_info or {"source": data.source}),
            "fingerprint": data.fingerprint(),
            "n_clips": len(data),
            "class_counts": np.bincount(data.y, minlength=len(CLASS_KEYS)).tolist(),
            "split": split_kind,
            "split_seed": cfg.seed,
            "n_train": len(train_idx),
            "n_val": len(val_idx),
            "n_test": len(test_idx),
            "val_fingerprint": va.fingerprint(),
            "test_fingerprint": data.subset(test_idx).fingerprint(),
            **({"val_subjects": sorted(map(str, set(va.subjects))),
                "test_subjects": sorted(map(str, set(data.subjects[test_idx])))}
               if split_kind == "subject" else {}),  # fmt: skip
        },
        "command": command,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"squatcli": __version__, "tensorflow": tf.__version__, "keras": keras.__version__, "python": platform.python_version()},
    }
    return TrainResult(model, metadata, monitor.history, interrupted)

