"""Training a classifier: data -> split -> fit with early stopping -> calibration and Youden threshold on
validation -> metadata.

`train` is a plain function (the CLI, the cross-validation and the benches call it); saving is
`models.save_model`. Data is the synthetic corpus, the paper's dataset, the real reps (datasets.read_real_reps), or
several of them mixed; what the model reads is an `inputs.InputSpec` (clip windows of the 171 distances, or rep
windows). Splits: the paper's stratified random 80/10/10 over clips, or 80/10/10 by subject or session (no person
or recording session in two parts; mixed data is split source by source). Early stopping keeps the best epoch
(validation accuracy for clip models, validation loss for rep models), also when training is interrupted with
Ctrl-C. The calibration of P(good) and the good-vs-rest threshold are fitted on the validation split, or for
rep models on cross-fitted out-of-fold predictions of the training rows: on their real rows when there are any,
since real people are what the verdict is for.
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
    PAPER_NAME,
    REAL_CITATION,
    REAL_NAME,
    SPLITS,
    SYNTHETIC,
    Dataset,
    concat_datasets,
    is_real_reps_folder,
    load_paper_dataset,
    read_corpus_info,
    read_real_reps,
    split_by_group,
    split_random,
)
from squatcli.errors import SquatError
from squatcli.features import HOP, pad_to_window
from squatcli.camera import TRAIN_VIEWS
from squatcli.inputs import PAPER_INPUTS, WORLD, InputSpec, rep_inputs, to_dataset
from squatcli.skeleton import (
    FPS,
    GOOD,
    JOINTS,
    MODEL_KINDS,
    N_FEATURES,
    PAIR_I,
    PAIR_J,
    WINDOW,
    pair_index,
    squat_class,
)

PLATEAU_PATIENCE = 3  # epochs without a lower validation loss before the learning rate is halved
MAX_LR = 1.0  # Adam diverges (NaN weights) long before this
# Rep models read one rep of each clip of a smaller synthetic corpus (clips per class, people): its 1400 reps
# weigh about as much as the 1323 real ones, and training stays minutes, not hours, on 2 cores.
REP_SYNTHETIC = (200, 120)
# What a model reads (`--inputs`): rep windows with foot points (videos), without (19-joint inputs), or the
# paper's clip windows of the 171 distances (what the paper's dataset allows).
INPUT_CHOICES: dict[str, Callable[[], InputSpec]] = {
    "rep": lambda: rep_inputs(feet=True),
    "rep-nofeet": lambda: rep_inputs(feet=False),
    "rep-world": lambda: rep_inputs(feet=True, plane=WORLD),
    "rep-world-nofeet": lambda: rep_inputs(feet=False, plane=WORLD),
    "clip": lambda: PAPER_INPUTS,
}

# Training recipe defaults per model and window, chosen by measurement (bench/bench_models.py; rep models:
# bench/real_targets.py).
TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "cnn": {"epochs": 60, "batch_size": 32, "lr": 1e-3, "patience": 10, "crossfit": 0, "augment": True},
    "lstm": {"epochs": 80, "batch_size": 32, "lr": 2e-3, "patience": 12, "crossfit": 0, "augment": True},
}
# Rep models train a fixed number of epochs under strong L2 (early stopping on the few validation sessions the
# real reps allow was noisier than the epochs it saved), and fit their calibration and threshold on cross-fitted
# predictions: every training row predicted by a model that never saw its session. Each rep is 8 rows (8 cameras),
# so 10 epochs are as many steps as 80 were on the 3D reps; 4-fold by date, as seen: AUC 0.851 at 10 epochs,
# 0.810 at 6 and 0.820 at 20 (width 32). The LSTM's epochs are scaled the same way, not re-tuned. World-plane rep
# inputs (one row per rep) train camera.TRAIN_VIEWS times as many epochs.
REP_TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "cnn": {"epochs": 10, "batch_size": 64, "lr": 3e-3, "patience": 10, "crossfit": 5, "augment": False},
    "lstm": {"epochs": 8, "batch_size": 64, "lr": 3e-3, "patience": 8, "crossfit": 5, "augment": False},
}
# The paper's recipes (Adam for both here; the paper trained its CNN with Adadelta).
TRAIN_PAPER: dict[str, dict[str, Any]] = {
    "cnn": {"epochs": 100, "batch_size": 32, "lr": 1e-3, "patience": 5},
    "lstm": {"epochs": 250, "batch_size": 128, "lr": 1e-4, "patience": 50},
}


# ---- data ---------------------------------------------------------------------------------------------------


def default_inputs(specs: Sequence[str]) -> str:
    """`--inputs` when not given: clip windows for the paper's dataset or the synthetic corpus alone (the paper's
    road), rep windows with feet once real reps are in the mix."""
    return "rep" if any(s != SYNTHETIC and is_real_reps_folder(Path(s).expanduser()) for s in specs) else "clip"


def load_data(
    spec: str | Path | Sequence[str | Path],
    inputs: InputSpec | None = None,
    progress: Callable[[int, int], None] | None = None,
    transforms: Sequence[str] = (),
    without: Sequence[str] = (),
) -> tuple[Dataset, dict]:
    """One or more data specs (`synthetic`, a folder in the paper's layout, a folder of real reps) -> (dataset of
    `inputs` rows, description). Several specs are mixed (datasets.concat_datasets), each row keeping its origin.

    The description names each source (`sources`: `synthetic`, datasets.REAL_NAME or datasets.PAPER_NAME) with
    its fingerprint and rows (`datasets`), never by a path: a path names a folder of one machine. A synthetic
    corpus, generated here or written by `squat synth` (its corpus.json), is also described by its source string
    and parameters (`synthetic`, `synthetic_params`), so evaluation can recognise it in either form.
    `transforms`: faults (faults.FAULTS) to add to real reps, made from their good reps (faults.with_transformed,
    seed 0); `without`: real classes to leave out (to test a transform against the real fault it stands for).
    """
    specs = [str(spec)] if isinstance(spec, (str, Path)) else [str(s) for s in spec]
    inputs = inputs or PAPER_INPUTS
    parts, info = [], {"sources": [], "datasets": []}
    for text in specs:
        if text == SYNTHETIC:
            from squatcli import synth

            if inputs.window == "clip":
                part = synth.load_synthetic(progress=progress)
            else:
                clips = synth.load_synthetic_clips(*REP_SYNTHETIC, progress=progress)
                part = to_dataset(clips, inputs, SYNTHETIC, reps_per_clip=1)
            info |= {"synthetic": part.source, "synthetic_params": synthetic_params(inputs)}
            origin = name = SYNTHETIC
        else:
            root = Path(text).expanduser()
            if is_real_reps_folder(root):
                clips = read_real_reps(root, progress=progress)
                if transforms or without:
                    from squatcli.faults import TRAINING_SEVERITY, with_transformed

                    clips = with_transformed(clips, tuple(transforms), seed=0, without=tuple(without))
                    info |= {"fault_transforms": {"faults": list(transforms), "without_real": list(without), "seed": 0,
                             "from": "each real good rep, one fault each in turn", "weight": MADE_WEIGHT,
                             "severity": f"uniform over {TRAINING_SEVERITY} (0 mild .. 1 obvious, faults.FAULTS)"}}  # fmt: skip
                part = to_dataset(clips, inputs, "real")
                info |= {"real": REAL_NAME, "real_citation": REAL_CITATION, "real_groups": "recording date"}
                origin, name = "real", REAL_NAME
            else:
                why = unreadable(text, inputs)
                if why:
                    raise SquatError(why, root)
                part = load_paper_dataset(root, progress=progress)
                corpus = read_corpus_info(root)
                if corpus is not None:
                    info |= {"synthetic": part.source, "synthetic_params": corpus}
                origin, name = (SYNTHETIC, SYNTHETIC) if corpus is not None else ("paper", PAPER_NAME)
        part.origin = np.full(len(part), origin)
        info["sources"].append(name)
        info["datasets"].append({"name": name, "fingerprint": part.fingerprint(), "rows": len(part)})
        parts.append(part)
    data = parts[0] if len(parts) == 1 else concat_datasets(parts, " + ".join(p.source for p in parts))
    info["source"] = " + ".join(info["sources"])
    return data, info


def fault_transforms(choice: str, specs: Sequence[str], inputs: InputSpec) -> tuple[str, ...]:
    """`--faults` -> the fault transforms to add: `auto` the paper's faults the real data lacks
    (faults.MISSING_FROM_REAL) when rep models learn from real reps, `none`, or a comma-separated list of keys."""
    from squatcli.faults import FAULTS, MISSING_FROM_REAL

    text = choice.strip().lower()
    real = inputs.window == "rep" and any(s != SYNTHETIC and is_real_reps_folder(Path(s).expanduser()) for s in specs)
    if text == "auto":
        return MISSING_FROM_REAL if real else ()
    if text in ("", "none"):
        return ()
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in keys if k not in FAULTS]
    if unknown:
        raise SquatError(f"unknown fault {', '.join(unknown)} for --faults; expected auto, none or some of {', '.join(FAULTS)}")
    if keys and not real:
        raise SquatError("--faults transforms real reps: give --data a folder of real reps and rep inputs")
    return keys


def synthetic_params(inputs: InputSpec) -> dict:
    """The parameters of the corpus `synthetic` stands for with these inputs (synth.corpus_info): the full corpus
    for clip windows, REP_SYNTHETIC for rep windows."""
    from squatcli import synth

    return synth.corpus_info() if inputs.window == "clip" else synth.corpus_info(*REP_SYNTHETIC)


def unreadable(spec: str | Path, inputs: InputSpec) -> str | None:
    """Why a data spec (`synthetic`, a real-reps folder, a folder in the paper's layout) cannot give `inputs`, judged
    from its layout alone before any clip is read (None if it can)."""
    if str(spec) == SYNTHETIC:
        return None
    if is_real_reps_folder(Path(spec).expanduser()):
        return None if inputs.window == "rep" else ("the real reps hold no eyes, ears or head top, so not the 171 "
                                                    "distances: models on them read rep windows (--inputs rep)")  # fmt: skip
    return None if inputs.window == "clip" else ("a dataset in the paper's layout holds joint distances only: models "
                                                 "on it read the 171 distances (--inputs clip)")  # fmt: skip


def resolve_split(kind: str, data: Dataset) -> str:
    """`auto` -> `subject` when the data records subjects or sessions (the synthetic corpus, the real reps, a
    folder with a manifest.csv), `random` otherwise (the published dataset: one person); others as they are."""
    if kind == AUTO_SPLIT:
        return "random" if data.subjects is None else "subject"
    if kind not in SPLITS:
        raise SquatError(f"unknown split {kind!r}; expected one of {', '.join((AUTO_SPLIT, *SPLITS))}")
    return kind


def split(
    data: Dataset, kind: str, seed: int, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) row indices: `random` (stratified 80/10/10, the paper's), `subject` (by subject or
    session, source by source) or `auto`."""
    if resolve_split(kind, data) == "random":
        return split_random(data.y, seed, fractions)
    return split_by_group(data.subjects, data.y == data.classes.index("good"), seed, fractions, data.origin)


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
    """What to train and how; None means the default for the model and its inputs (TRAIN_DEFAULTS or
    REP_TRAIN_DEFAULTS, models.*_DEFAULTS)."""

    model: str = "cnn"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    patience: int | None = None
    seed: int = 0
    split: str = AUTO_SPLIT  # resolved against the data by `resolve_split`
    arch: dict[str, Any] = field(default_factory=dict)
    augment: bool | None = None  # None: the default of the model's inputs (clip windows on, rep windows off)
    inputs: InputSpec = PAPER_INPUTS
    synthetic_weight: float = 1.0  # weight of each synthetic row against a real one in mixed data
    crossfit: int | None = None  # rep models: calibrate on out-of-fold predictions of this many group folds (0: on validation)

    def resolved(self) -> "TrainConfig":
        if self.model not in MODEL_KINDS:
            raise SquatError(f"unknown model {self.model!r}; expected one of {', '.join(MODEL_KINDS)}")
        if self.lr is not None and not 0 < self.lr <= MAX_LR:
            raise SquatError(f"the learning rate must be greater than 0 and at most {MAX_LR:g}, got {self.lr}")
        if self.seed < 0:
            raise SquatError(f"the seed must be 0 or more, got {self.seed}")
        if not 0 <= self.synthetic_weight < float("inf"):
            raise SquatError(f"the synthetic weight must be a finite number >= 0, got {self.synthetic_weight}")
        d = (REP_TRAIN_DEFAULTS if self.inputs.window == "rep" else TRAIN_DEFAULTS)[self.model]
        if self.inputs.window == "rep" and self.inputs.plane == WORLD:  # one row per rep, not one per camera
            d = d | {"epochs": d["epochs"] * TRAIN_VIEWS, "patience": d["patience"] * TRAIN_VIEWS}
        pick = lambda v, k: d[k] if v is None else v  # noqa: E731
        return TrainConfig(self.model, pick(self.epochs, "epochs"), pick(self.batch_size, "batch_size"),
                           pick(self.lr, "lr"), pick(self.patience, "patience"), self.seed, self.split,
                           dict(self.arch), pick(self.augment, "augment"), self.inputs, self.synthetic_weight,
                           pick(self.crossfit, "crossfit"))  # fmt: skip


def input_spec(choice: str, specs: Sequence[str], paper: bool = False) -> InputSpec:
    """What a model reads for `--inputs CHOICE` (INPUT_CHOICES): "auto" is `default_inputs` of the data, or the
    paper's clip windows under `paper`."""
    choice = "clip" if paper and choice == "auto" else choice
    return INPUT_CHOICES[default_inputs(specs) if choice == "auto" else choice]()


def config_from_options(
    model: str,
    inputs: InputSpec,
    paper: bool = False,
    width: int | None = None,
    depth: int | None = None,
    downsample: int | None = None,
    **options: Any,
) -> TrainConfig:
    """The resolved TrainConfig of `squat train`'s options: the paper's recipe (TRAIN_PAPER) and architecture
    under `paper`, each option that is given (not None) overriding it, the defaults for the rest. `options` are
    TrainConfig's other fields (epochs, batch_size, lr, patience, seed, split, augment, synthetic_weight)."""
    recipe = TRAIN_PAPER[model] if paper else {}
    arch: dict[str, Any] = {}
    if paper:
        from squatcli import models

        arch = dict(models.CNN_PAPER if model == "cnn" else models.LSTM_PAPER)
    for key, value in (("width" if model == "cnn" else "units", width), ("depth", depth), ("downsample", downsample)):
        if value is not None:
            arch[key] = value
    given = {k: v for k, v in options.items() if v is not None}
    return TrainConfig(model=model, arch=arch, inputs=inputs, **(recipe | given)).resolved()


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
    stopped_by: KeyboardInterrupt | None = None  # Ctrl-C, or interrupts.Terminated for SIGTERM


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


def keras_inputs(x: dict[str, np.ndarray]):
    """What Keras expects for a model's inputs: the array itself for a single-input (clip) model, else the dict."""
    return x["features"] if set(x) == {"features"} else x


def _make_batches(x: dict[str, np.ndarray], y: np.ndarray, w: np.ndarray, batch_size: int, seed: int,
                  augment: Callable[[dict[str, np.ndarray], np.random.Generator], dict[str, np.ndarray]] | None):
    import keras

    class Batches(keras.utils.PyDataset):
        """Shuffled (and `augment`ed) weighted training batches, a new order every epoch, reproducible from the
        seed."""

        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng([seed, 1])
            self.order = self.rng.permutation(len(y))

        def __len__(self):
            return -(-len(y) // batch_size)

        def __getitem__(self, i):
            idx = np.sort(self.order[i * batch_size : (i + 1) * batch_size])
            xb = {k: v[idx] for k, v in x.items()}
            if augment is not None:
                xb = augment(xb, self.rng)
            return keras_inputs(xb), y[idx], w[idx]

        def on_epoch_end(self):
            self.order = self.rng.permutation(len(y))

    return Batches()


def _make_monitor(patience: int, epochs: int, on_epoch: Callable[[EpochLog], None] | None, by_loss: bool):
    import keras  # train() has called models.import_keras first, which quiets TensorFlow

    class Monitor(keras.callbacks.Callback):
        """Early stopping keeping the best weights: on validation accuracy (ties: lower loss), or with `by_loss`
        on validation loss alone (imbalanced real validation data makes accuracy a noisy guide)."""

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
            if by_loss:
                improved = vl < self.best[1] - 1e-6
            else:
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


MADE_WEIGHT = 0.5  # a class made from real good reps (faults.with_transformed) weighs this much of a real class


def sample_weights(data: Dataset, synthetic_weight: float = 1.0) -> np.ndarray:
    """(N,) training weights, mean 1: classes balanced (each class weighs as much in total); within a class that
    real rows show too, each synthetic row of mixed data weighs `synthetic_weight` against a real one. Classes
    only the synthetic corpus has (head up, rounded and arched back) keep their synthetic rows at full weight:
    synthetic data is their only source, while where real people exist their squats draw the boundaries. Faults
    made from real good reps weigh MADE_WEIGHT of a class: real people's faults draw the good-vs-rest boundary."""
    w = np.ones(len(data.y))
    if data.origin is not None and len(set(data.origin)) > 1:
        synthetic = data.origin == SYNTHETIC
        real_classes = np.unique(data.y[~synthetic])
        w = np.where(synthetic & np.isin(data.y, real_classes), synthetic_weight, 1.0)
    totals = np.bincount(data.y, weights=w, minlength=len(data.classes))
    w = w / np.where(totals[data.y] > 0, totals[data.y], 1.0)
    w = np.where(data.made, MADE_WEIGHT * w, w)
    return (w / w.mean()).astype(np.float32)


def calibration_rows(data: Dataset) -> np.ndarray:
    """Rows of a validation set the calibration and threshold are fitted on: its real rows, not the faults made
    from real good reps, where it has both good and faulty ones (real people are what the verdict is for), else
    all of them."""
    if data.origin is not None:
        real = np.flatnonzero((data.origin == "real") & ~data.made)
        good = data.y[real] == data.classes.index("good")
        if len(real) < len(data) and 0 < good.sum() < len(real):
            return real
    return np.arange(len(data))


MIN_FLAG = 1e-6  # a flag is never 0: a fault the measurements rule out (probability 0 for most good reps) stays unnamed
FLAG_RATE = 0.05  # the share of real good reps (calibration rows) the made classes' flags may call faulty, together
FLAG_RULE = ("a class made from real good reps (made_classes) is named, and the verdict is NEEDS WORK, when its own "
             "probability reaches its flag: each flag the point that {rate:.0%} / (made classes) of the real good "
             "reps reach, on {on}; P(good) weighs good against the real faults only: it comes from a network that "
             "learned the real rows alone, the made classes' probabilities from one that learned every row "
             "(models.joined)")


def made_classes(data: Dataset) -> tuple[str, ...]:
    """The classes whose every row is a fault made from a real good rep (faults.with_transformed): no real person
    showed them."""
    return tuple(c for k, c in enumerate(data.classes) if np.any(data.y == k) and np.all(data.made[data.y == k]))


def made_flags(y: np.ndarray, probs: np.ndarray, made: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """Class -> the probability at which a made class is named (Classifier.flags): the (1 - FLAG_RATE / M) quantile
    of its probability over the real good rows `y`, `probs` (calibration rows), M made classes."""
    good = probs[np.asarray(y) == classes.index("good")]
    if not np.any(made) or not len(good):
        return {}
    q = 1.0 - FLAG_RATE / int(np.sum(made))
    return {classes[k]: max(round(float(np.quantile(good[:, k], q)), 6), MIN_FLAG) for k in np.flatnonzero(made)}


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
    indices: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> TrainResult:
    """Train `config.model` on the train part of `data`, early-stopped on the validation part.

    The calibration of P(good) (Platt scaling, metrics.fit_calibration) and then the good-vs-rest threshold (Youden's point,
    `pick_threshold`) are fitted on the VALIDATION predictions of the restored best weights (`calibration_rows`).
    `config.split` `auto` is resolved against `data` (`resolve_split`) and recorded resolved; `indices` (train,
    val, test) overrides the split (cross-validation). Ctrl-C (KeyboardInterrupt) during fitting stops training
    and keeps the best epoch so far; if no epoch has finished, the KeyboardInterrupt propagates.
    """
    from squatcli import models

    keras = models.import_keras()  # first: it quiets TensorFlow's logging
    import tensorflow as tf

    cfg = config.resolved()
    spec = cfg.inputs
    if set(data.inputs) != set(spec.shapes()):
        raise SquatError(f"the data gives the inputs {sorted(data.inputs)}, the model reads {sorted(spec.shapes())}")
    arch = models.architecture(cfg.model, spec.window, **cfg.arch)
    split_kind = "given" if indices is not None else resolve_split(cfg.split, data)
    train_idx, val_idx, test_idx = indices if indices is not None else split(data, split_kind, cfg.seed)
    if cfg.crossfit:  # the validation part is trained on too: the out-of-fold predictions calibrate
        train_idx, val_idx = np.union1d(train_idx, val_idx), np.array([], dtype=int)
    tr, va = data.subset(train_idx), data.subset(val_idx)
    if len(tr) == 0 or (len(va) == 0 and not cfg.crossfit):
        raise SquatError(f"the {split_kind} split left {len(tr)} training and {len(va)} validation clips; "
                         "the dataset is too small")  # fmt: skip
    checked = tr if cfg.crossfit else va
    if not 0 < int(metrics.good_labels(checked.y).sum()) < len(checked):
        raise SquatError("the validation split needs both good and faulty clips to pick the good-vs-rest threshold")

    t0 = time.perf_counter()
    made = np.isin(data.classes, made_classes(data))
    if cfg.crossfit:
        raw = _crossfit_predictions(tr, cfg, arch, made)
        va = tr
    model, stats, monitor, stop = _fit_apart(tr, None if cfg.crossfit else va, cfg, arch, made, on_epoch, callbacks)
    train_seconds = time.perf_counter() - t0

    standardisation = _stats_record(stats)
    base = {"classes": list(data.classes), "inputs": spec.to_dict(), "standardisation": standardisation}
    if not cfg.crossfit:
        raw = models.Classifier(model, _stub_metadata(base), name=name or cfg.model).predict(va.inputs, calibrated=False)
    rep = spec.window == "rep"
    if not np.all(np.isfinite(raw)):
        raise SquatError(f"training diverged (the model outputs NaN); try a smaller learning rate than {cfg.lr:g}")
    if rep:  # as at assessment (assess.judged): the faults each rep's measurements rule out go to the other classes
        from squatcli.assess import rule_out

        raw = rule_out(raw, va.ranges)
    cal = calibration_rows(va)
    scores = models.calibrate(raw, made=made)  # P(good) among the real classes (identity without made classes)
    platt = metrics.fit_calibration(metrics.good_labels(va.y[cal]), metrics.good_scores(scores[cal])) if rep else (1.0, 0.0)
    val_probs = models.calibrate(raw, *platt, made=made)
    op = pick_threshold(va.y[cal], val_probs[cal])
    flags = made_flags(va.y[cal], val_probs[cal], made, data.classes)
    val_report = metrics.evaluate(va.y, val_probs, threshold=op.threshold, classes=data.classes)

    clip_features = {
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
            **standardisation.get("features", {}),
        },
    }  # fmt: skip
    rep_features = {
        "kind": "per rep: angles and ratios per frame (reps.FRAME_CHANNELS, reps.FOOT_CHANNELS) resampled to "
                f"{spec.rep_frames} frames, and the rep's measurements (reps.MEASUREMENTS)",
        "windowing": "each rep found by reps.segment_reps (a dataset's cut rep: the deepest found, or the whole "
                     "clip); reps whose bottom is out of view are not judged",
        "standardisation": "inside the model (layers 'standardise_frames', 'standardise_measures') by the "
                           "training split's statistics ('standardisation'); a missing measurement is set to the mean",
    }  # fmt: skip
    calibration_data = va.subset(cal)
    on_what = (f"out-of-fold predictions of the training rows ({cfg.crossfit} folds by subject or session, each "
               "predicted by a model that never saw it)" if cfg.crossfit else "the validation split")
    on_what += " (their real rows)" if len(cal) < len(va) else ""
    metadata = {
        "format": models.METADATA_FORMAT,
        "version": models.METADATA_VERSION,
        "name": name or cfg.model,
        "kind": cfg.model,
        **base,
        "class_names": [squat_class(k).name for k in data.classes],
        "class_folders": [squat_class(k).folder for k in data.classes],
        "window": WINDOW if spec.window == "clip" else spec.rep_frames,
        "fps": FPS,
        "features": clip_features if spec.window == "clip" else rep_features,
        "architecture": arch,
        "parameters": int(model.count_params()),
        "threshold": op.threshold,
        "threshold_rule": f"good-vs-rest: a window or rep is good if P(good) >= threshold; Youden's J on {on_what}"
                          + (", the faults each rep's measurements rule out (reps.FAULT_RANGES) removed first" if rep else ""),
        "rules_out": rep,
        **({"made_classes": list(flags), "flags": flags, "flag_rule": FLAG_RULE.format(rate=FLAG_RATE, on=on_what)} if flags else {}),
        "calibration": {
            "method": "Platt scaling of P(good), sigmoid(a * logit p + b), the faults rescaled to fill the rest; "
                      f"fitted on {on_what}" if rep else "none",
            "a": platt[0],
            "b": platt[1],
            "ece_before": metrics.expected_calibration_error(metrics.good_labels(va.y[cal]), metrics.good_scores(raw[cal])),
            "ece_after": metrics.expected_calibration_error(metrics.good_labels(va.y[cal]), metrics.good_scores(val_probs[cal])),
            "rows": len(cal),
        },  # fmt: skip
        "validation": {
            "on": on_what,
            "n": len(va),
            "accuracy": val_report.accuracy,
            "kappa": val_report.kappa,
            "loss": monitor.best[1] if np.isfinite(monitor.best[1]) else None,
            "auc": metrics.auc(metrics.good_labels(calibration_data.y), metrics.good_scores(val_probs[cal])),
            "sensitivity": op.sensitivity,
            "specificity": op.specificity,
        },
        "training": {
            "epochs_max": cfg.epochs,
            "epochs_run": len(monitor.history),
            "best_epoch": monitor.best_epoch,
            "batch_size": cfg.batch_size,
            "optimizer": "adam" + (" (clipnorm 1.0)" if cfg.model == "lstm" else ""),
            "lr": cfg.lr,
            "loss": "sparse categorical cross-entropy" + (", classes balanced by sample weights" if rep else ""),
            "synthetic_weight": cfg.synthetic_weight if rep else None,
            "lr_schedule": f"halved after {PLATEAU_PATIENCE} epochs without a lower validation loss, down to lr/64",
            "augmentation": AUGMENTATION if cfg.augment and not rep else "none",
            "early_stopping": "none: a fixed number of epochs" if cfg.crossfit else
                              f"validation {'loss' if rep else 'accuracy (ties: lower loss)'}, patience "
                              f"{cfg.patience}, best weights kept",  # fmt: skip
            "crossfit_folds": cfg.crossfit,
            "seed": cfg.seed,
            "time_s": round(train_seconds, 2),
            "time_to_best_s": round(monitor.time_to_best, 2),
            "interrupted": stop is not None,
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
            "class_counts": np.bincount(data.y, minlength=len(data.classes)).tolist(),
            "origins": {str(o): int(n) for o, n in zip(*np.unique(data.origin, return_counts=True))} if data.origin is not None else None,
            "split": split_kind,
            "split_seed": cfg.seed,
            "n_train": len(train_idx),
            "n_val": len(val_idx),
            "n_test": len(test_idx),
            "val_fingerprint": va.fingerprint(),
            "test_fingerprint": data.subset(test_idx).fingerprint(),
            **(group_record(data, (train_idx, val_idx, test_idx)) if data.subjects is not None and split_kind != "random" else {}),
        },  # fmt: skip
        "command": command,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"squatcli": __version__, "tensorflow": tf.__version__, "keras": keras.__version__, "python": platform.python_version()},
    }
    return TrainResult(model, metadata, monitor.history, stop is not None, stop)


def _fit(
    tr: Dataset,
    va: Dataset | None,
    cfg: TrainConfig,
    arch: dict[str, Any],
    n_classes: int,
    on_epoch: Callable[[EpochLog], None] | None = None,
    callbacks: Sequence[Any] = (),
):
    """Build and fit one model on `tr`: (model, input stats, monitor, the KeyboardInterrupt that stopped it early
    or None). With validation data `va`, early-stopped on it with its best weights kept; without, trained for
    `cfg.epochs` and kept as it ends."""
    from squatcli import models

    keras = models.import_keras()
    spec = cfg.inputs
    rep = spec.window == "rep"
    keras.utils.set_random_seed(cfg.seed)
    stats = models.input_stats(tr.inputs)  # of the training rows only (float64, over rows and frames)
    model = models.build(cfg.model, spec, stats, n_classes, **{k: v for k, v in arch.items() if k != "kind"})
    clip = {"clipnorm": 1.0} if cfg.model == "lstm" else {}
    model.compile(optimizer=keras.optimizers.Adam(cfg.lr, **clip), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], weighted_metrics=[])  # fmt: skip
    monitor = _make_monitor(cfg.patience if va is not None else cfg.epochs + 1, cfg.epochs, on_epoch, by_loss=rep)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss" if va is not None else "loss", factor=0.5,
                                                patience=PLATEAU_PATIENCE, min_lr=cfg.lr / 64)  # fmt: skip
    weights = sample_weights(tr, cfg.synthetic_weight) if rep else np.ones(len(tr), np.float32)
    validation = None
    if va is not None:
        va_x = keras_inputs(models.impute(va.inputs, stats))
        validation = (va_x, va.y, sample_weights(va, cfg.synthetic_weight)) if rep else (va_x, va.y)
    interrupted = None
    try:
        augment = None
        if cfg.augment and not rep:
            augment = lambda xb, rng: xb | {"features": augment_batch(xb["features"], rng)}  # noqa: E731
        batches = _make_batches(models.impute(tr.inputs, stats), tr.y, weights, cfg.batch_size, cfg.seed, augment)
        model.fit(batches, validation_data=validation, epochs=cfg.epochs, verbose=0,
                  callbacks=[monitor, plateau, *callbacks])  # fmt: skip
    except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM (interrupts.Terminated): keep the best epoch
        if monitor.best_weights is None and va is not None or not monitor.history:
            raise
        interrupted = stop
    if va is not None and monitor.best_weights is not None:
        model.set_weights(monitor.best_weights)
    return model, stats, monitor, interrupted


def crossfit_folds(data: Dataset, k: int, seed: int) -> list[np.ndarray]:
    """Rows of `data` dealt into `k` folds by group (subject or session), each origin's groups shuffled and dealt
    on their own, so every fold holds some real sessions and some synthetic people."""
    keys = group_origin(data) if data.subjects is not None else np.arange(len(data)).astype(str)
    origin = data.origin if data.origin is not None else np.zeros(len(data), dtype=str)
    fold_of = {}
    for n, o in enumerate(np.unique(origin)):
        groups = np.random.default_rng([seed, 17, n]).permutation(np.unique(keys[origin == o]))
        fold_of |= {g: i % k for i, g in enumerate(groups)}
    assigned = np.array([fold_of[g] for g in keys])
    return [np.flatnonzero(assigned == i) for i in range(k)]


def real_part(data: Dataset, made: np.ndarray) -> Dataset:
    """The rows real people showed (no fault made from a good rep), labelled among the classes not `made`."""
    import dataclasses

    sub = data.subset(np.flatnonzero(~data.made & ~made[data.y]))
    keep = np.flatnonzero(~made)
    index = np.full(len(made), -1)
    index[keep] = np.arange(len(keep))
    return dataclasses.replace(sub, y=index[sub.y], classes=tuple(data.classes[k] for k in keep),
                               ranges=None if sub.ranges is None else sub.ranges[:, keep])  # fmt: skip


def _fit_apart(tr: Dataset, va: Dataset | None, cfg: TrainConfig, arch: dict[str, Any], made: np.ndarray,
               on_epoch: Callable[[EpochLog], None] | None = None, callbacks: Sequence[Any] = ()):  # fmt: skip
    """`_fit` of one network over the classes of `tr`, or where some are `made` from real good reps, of two
    (models.joined): one on the real rows and classes alone, which P(good) and the real faults come from (its input
    statistics and monitor are returned), and one on every row, which the made classes' probabilities come from."""
    from squatcli import models

    if not np.any(made):
        return _fit(tr, va, cfg, arch, len(tr.classes), on_epoch, callbacks)
    real_va = None if va is None else real_part(va, made)
    real, stats, monitor, stop = _fit(real_part(tr, made), real_va, cfg, arch, int((~made).sum()), on_epoch, callbacks)
    if stop is not None:  # Ctrl-C before the second network: no model that judges the made classes
        raise stop
    full, _, _, stop = _fit(tr, va, cfg, arch, len(tr.classes), None, callbacks)
    return models.joined(real, full, made), stats, monitor, stop


def _crossfit_predictions(tr: Dataset, cfg: TrainConfig, arch: dict[str, Any], made: np.ndarray) -> np.ndarray:
    """(N, K) uncalibrated probabilities of every training row from a model fitted on the other folds
    (`crossfit_folds`; `made` classes as `_fit_apart`): what the temperature, threshold and flags are fitted on, as
    if on validation data that covers every session."""
    from squatcli import models

    out = np.zeros((len(tr), len(made)), dtype=np.float32)
    for held in crossfit_folds(tr, cfg.crossfit, cfg.seed):
        if len(held) == 0:
            continue
        rest = np.setdiff1d(np.arange(len(tr)), held)
        model, stats, _, _ = _fit_apart(tr.subset(rest), None, cfg, arch, made)
        meta = _stub_metadata({"classes": list(tr.classes), "inputs": cfg.inputs.to_dict(),
                               "standardisation": _stats_record(stats)})  # fmt: skip
        out[held] = models.Classifier(model, meta).predict(tr.subset(held).inputs, calibrated=False)
    return out


def _stats_record(stats: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, dict[str, list[float]]]:
    """Input statistics as the metadata records them."""
    return {k: {"mean": m.astype(np.float32).tolist(), "std": d.astype(np.float32).tolist()} for k, (m, d) in stats.items()}


def _stub_metadata(base: dict) -> dict:
    """Enough metadata for a Classifier around a model being trained (no threshold or calibration yet)."""
    return {**base, "threshold": 0.5}


def group_origin(data: Dataset) -> np.ndarray:
    """(N,) `origin:group` of every row (the group alone for data without origins): how splits are recorded,
    so a model's sessions are recognised in any mix of data."""
    groups = data.subjects.astype(str)
    if data.origin is None:
        return groups
    return np.char.add(np.char.add(data.origin.astype(str), ":"), groups)


def group_record(data: Dataset, parts: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[str, list[str]]:
    """The groups (subjects or sessions) of each part, as recorded in the metadata."""
    keys = group_origin(data)
    train_idx, val_idx, test_idx = parts
    return {"train_subjects": sorted(set(keys[train_idx])), "val_subjects": sorted(set(keys[val_idx])),
            "test_subjects": sorted(set(keys[test_idx]))}  # fmt: skip
