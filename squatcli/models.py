"""The classifiers (Keras 3 builders), their files on disk and the `Classifier` that runs them.

Two kinds, each for either kind of input (inputs.InputSpec, recorded in the metadata):
* `cnn` on clip windows (`build_cnn`): the paper's regularised version of Ogata et al.'s ResNet-style 1D CNN:
  a Conv1D stem, residual blocks of three Conv1D whose first convolution and 1x1 skip are strided (each block
  halves the time axis), dropout in the residual and dense layers, global average pooling, softmax.
* `lstm` on clip windows (`build_lstm`): stacked bidirectional LSTMs (L2 on the kernels) and a dense softmax.
* `cnn` / `lstm` on rep windows (`build_rep`): the same two ideas, small, over a rep's per-frame channels (two
  Conv1D and global average pooling, or two bidirectional LSTMs), joined with the rep's measurements before the
  softmax. Dropout on the temporal branch and L2 everywhere keep them from learning one session's quirks.

Every input is standardised inside the model by the training split's mean and standard deviation (Normalization
layers; the statistics are also in the metadata). Clip windows may be averaged over `downsample` frames first.
Missing rep measurements (NaN, e.g. a knee/ankle ratio hidden in a side view) are set to the training mean, i.e.
"no information", by `Classifier.predict`.

A model is two files: `NAME.keras` (Keras 3 format) and `NAME.json` (metadata: classes, inputs and their
standardisation, Youden threshold and the calibration of P(good), fitted on validation data, validation metrics,
data fingerprint, the weights' sha256, the command line...). `load_model("cnn")` finds a bundled model; the
files are checked without TensorFlow first (modelfiles.py, whose names are re-exported here).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

import json
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

tf.get_logger().setLevel("ERROR")  # no retracing/deprecation chatter on the user's terminal

from squatcli.datasets import atomic_outputs
from squatcli.errors import SquatError
from squatcli.inputs import InputSpec
from squatcli.modelfiles import (  # noqa: F401 - the files' side, without TensorFlow; re-exported for callers
    BUNDLED,
    DEFAULT_MODEL,
    METADATA_FIELDS,
    METADATA_FORMAT,
    METADATA_VERSION,
    bundled_names,
    candidates as model_candidates,
    check_keras_archive,
    check_metadata,
    check_model,
    file_sha256,
    model_paths,
    models_dirs,
    read_metadata,
    spec_of,
    weights_key,
)
from squatcli.skeleton import CLASS_KEYS, GOOD, MODEL_KINDS, N_FEATURES, WINDOW

# Architecture defaults, chosen by measurement (bench/bench_models.py; rep models: `squat evaluate --cv` by
# recording date, bench/real_targets.py).
CNN_DEFAULTS: dict[str, Any] = {"width": 64, "depth": 2, "kernel": 3, "dropout": 0.1, "downsample": 1}
LSTM_DEFAULTS: dict[str, Any] = {"units": 64, "depth": 2, "l2": 1e-4, "dropout": 0.0, "downsample": 4}
REP_CNN_DEFAULTS: dict[str, Any] = {"width": 16, "kernel": 5, "dropout": 0.8, "l2": 0.03}
REP_LSTM_DEFAULTS: dict[str, Any] = {"units": 16, "depth": 2, "dropout": 0.8, "l2": 0.03}
# The paper's configurations, for comparison (bench) and for retraining like the paper.
CNN_PAPER: dict[str, Any] = {**CNN_DEFAULTS, "width": 256}
LSTM_PAPER: dict[str, Any] = {**LSTM_DEFAULTS, "units": 256, "downsample": 1}


def _standardise(x, mean: np.ndarray, std: np.ndarray, name: str):
    """(x - mean) / std per channel (last axis) by training-split statistics, as a Normalization layer."""
    mean = np.asarray(mean, dtype=np.float64).reshape(-1)
    std = np.maximum(np.asarray(std, dtype=np.float64).reshape(-1), 1e-6)
    return layers.Normalization(axis=-1, mean=mean.tolist(), variance=(std**2).tolist(), name=name)(x)


def _front(inputs, mean: np.ndarray, std: np.ndarray, downsample: int):
    """Standardise each of the 171 features by training-set statistics, then average `downsample` frames."""
    if np.size(mean) != N_FEATURES or np.size(std) != N_FEATURES:
        raise ValueError(f"mean and std must have {N_FEATURES} values")
    x = _standardise(inputs, mean, std, "standardise")
    if downsample > 1:
        x = layers.AveragePooling1D(pool_size=downsample, strides=downsample, padding="same", name="downsample")(x)
    return x


def _conv_bn(x, width: int, kernel: int, strides: int = 1, name: str = ""):
    x = layers.Conv1D(width, kernel, strides=strides, padding="same", name=f"{name}_conv")(x)
    return layers.BatchNormalization(name=f"{name}_bn")(x)


def build_cnn(
    mean: np.ndarray,
    std: np.ndarray,
    *,
    n_classes: int = len(CLASS_KEYS),
    width: int = 64,
    depth: int = 2,
    kernel: int = 3,
    dropout: float = 0.1,
    downsample: int = 1,
    window: int = WINDOW,
) -> keras.Model:
    """The regularised Ogata CNN: stem, `depth` residual blocks of three Conv1D (strided 1x1 skip), GAP, softmax.

    With width=256 and depth=2 this is the paper's model (1.46 M parameters).
    """
    inputs = keras.Input((window, N_FEATURES), name="features")
    x = _front(inputs, mean, std, downsample)
    x = layers.ReLU(name="stem_relu")(_conv_bn(x, width, kernel, name="stem"))
    for b in range(1, depth + 1):
        skip = _conv_bn(x, width, 1, strides=2, name=f"block{b}_skip")
        y = x
        for c in range(1, 4):
            y = _conv_bn(y, width, kernel, strides=2 if c == 1 else 1, name=f"block{b}_{c}")
            if c < 3:
                y = layers.ReLU(name=f"block{b}_{c}_relu")(y)
                y = layers.Dropout(dropout, name=f"block{b}_{c}_dropout")(y)
        x = layers.ReLU(name=f"block{b}_out")(layers.Add(name=f"block{b}_add")([skip, y]))
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    x = layers.Dropout(dropout, name="dense_dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="cnn")


def build_lstm(
    mean: np.ndarray,
    std: np.ndarray,
    *,
    n_classes: int = len(CLASS_KEYS),
    units: int = 64,
    depth: int = 2,
    l2: float = 1e-4,
    dropout: float = 0.0,
    downsample: int = 4,
    window: int = WINDOW,
) -> keras.Model:
    """`depth` stacked bidirectional LSTMs (L2 on kernels), the last returning its final states, dense softmax.

    With units=256, depth=2, downsample=1 this is the paper's model (2.46 M parameters).
    """
    inputs = keras.Input((window, N_FEATURES), name="features")
    x = _front(inputs, mean, std, downsample)
    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    for i in range(1, depth + 1):
        lstm = layers.LSTM(units, return_sequences=i < depth, kernel_regularizer=reg, name=f"lstm{i}")
        x = layers.Bidirectional(lstm, name=f"bilstm{i}")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="dense_dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="lstm")


def build_rep(
    kind: str,
    spec: InputSpec,
    stats: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    n_classes: int,
    width: int = 16,
    units: int = 16,
    depth: int = 2,
    kernel: int = 5,
    dropout: float = 0.8,
    l2: float = 1e-3,
) -> keras.Model:
    """A rep model: a temporal branch over the rep's frames (`cnn`: two Conv1D(width, kernel) and global average
    pooling; `lstm`: `depth` bidirectional LSTM(units)), dropout, then joined with the rep's measurements and a
    dense softmax. `stats`: input name -> (mean, std) of the training split."""
    shapes = spec.shapes()
    frames = keras.Input(shapes["frames"], name="frames")
    measures = keras.Input(shapes["measures"], name="measures")
    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    x = _standardise(frames, *stats["frames"], name="standardise_frames")
    if kind == "cnn":
        for i in (1, 2):
            x = layers.Conv1D(width, kernel, padding="same", activation="relu", kernel_regularizer=reg, name=f"conv{i}")(x)
        x = layers.GlobalAveragePooling1D(name="pool")(x)
    else:
        for i in range(1, depth + 1):
            lstm = layers.LSTM(units, return_sequences=i < depth, kernel_regularizer=reg, name=f"lstm{i}")
            x = layers.Bidirectional(lstm, name=f"bilstm{i}")(x)
    x = layers.Dropout(dropout, name="temporal_dropout")(x)
    m = _standardise(measures, *stats["measures"], name="standardise_measures")
    x = layers.Concatenate(name="join")([x, m])
    outputs = layers.Dense(n_classes, activation="softmax", kernel_regularizer=reg, name="classes")(x)
    return keras.Model([frames, measures], outputs, name=f"rep_{kind}")


def _defaults(kind: str, window: str = "clip") -> dict[str, Any]:
    """The architecture defaults of a model kind on a kind of window; an unknown kind is an error."""
    if kind not in MODEL_KINDS:
        raise SquatError(f"unknown model kind {kind!r}; expected one of {', '.join(MODEL_KINDS)}")
    if window == "rep":
        return REP_CNN_DEFAULTS if kind == "cnn" else REP_LSTM_DEFAULTS
    return CNN_DEFAULTS if kind == "cnn" else LSTM_DEFAULTS


def build(
    kind: str,
    spec: InputSpec,
    stats: dict[str, tuple[np.ndarray, np.ndarray]],
    n_classes: int = len(CLASS_KEYS),
    **arch: Any,
) -> keras.Model:
    """Build a `cnn` or `lstm` for `spec`'s inputs with the given architecture options (missing ones: defaults)."""
    options = {**_defaults(kind, spec.window), **arch}
    if spec.window == "rep":
        return build_rep(kind, spec, stats, n_classes=n_classes, **options)
    builder = build_cnn if kind == "cnn" else build_lstm
    return builder(*stats["features"], n_classes=n_classes, **options)


def architecture(kind: str, window: str = "clip", **arch: Any) -> dict[str, Any]:
    """The complete architecture options (defaults filled in) as recorded in the metadata."""
    defaults = _defaults(kind, window)
    unknown = set(arch) - set(defaults)
    if unknown:
        raise SquatError(f"options {', '.join(sorted(unknown))} do not apply to the {kind} model on {window} windows")
    return {"kind": kind, **defaults, **{k: v for k, v in arch.items() if v is not None}}


def input_stats(arrays: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-channel (mean, std) of each input over every row and frame, ignoring NaN (float64)."""
    out = {}
    for name, x in arrays.items():
        flat = np.asarray(x, dtype=np.float64).reshape(-1, x.shape[-1])
        with warnings.catch_warnings():  # an all-NaN channel (never measured) warns; it gets mean 0, std 1
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, std = np.nanmean(flat, axis=0), np.nanstd(flat, axis=0)
        out[name] = (np.nan_to_num(mean), np.nan_to_num(std, nan=1.0))
    return out


def impute(arrays: dict[str, np.ndarray], stats: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Copies of the inputs with NaN (a measurement the input cannot give) set to the training mean."""
    out = {}
    for name, x in arrays.items():
        x = np.asarray(x, dtype=np.float32)
        if np.isnan(x).any():
            x = np.where(np.isnan(x), np.asarray(stats[name][0], dtype=np.float32), x)
        out[name] = x
    return out


def calibrate(probs: np.ndarray, a: float = 1.0, b: float = 0.0) -> np.ndarray:
    """Platt-scaled probabilities (metrics.fit_calibration): P(good) <- sigmoid(a * logit P(good) + b), the faults
    rescaled in proportion to fill the rest, so rows still sum to 1 and the faults keep their order. (1, 0) is
    the identity."""
    probs = np.asarray(probs, dtype=np.float64)
    if (a, b) == (1.0, 0.0) or len(probs) == 0:
        return probs.astype(np.float32)
    from squatcli.metrics import logit

    with np.errstate(over="ignore"):  # exp(-x) of a large negative x is inf, and 1 / (1 + inf) is 0: as meant
        good = 1.0 / (1.0 + np.exp(-(a * logit(probs[:, GOOD]) + b)))
    faults = np.delete(probs, GOOD, axis=1)
    total = faults.sum(axis=1, keepdims=True)
    share = np.where(total > 0, faults / np.where(total > 0, total, 1.0), 1.0 / faults.shape[1])
    return np.insert(share * (1.0 - good)[:, None], GOOD, good, axis=1).astype(np.float32)


# ---- running a model ----------------------------------------------------------------------------------------


class Classifier:
    """A trained model ready to use: `.predict(inputs)` -> calibrated class probabilities, `.threshold` for
    good-vs-rest, `.classes` and `.inputs` (what it reads) from the metadata.

    `predict` runs a traced `tf.function` (no `model.predict` per call), so one window costs milliseconds.
    The verdict rule for good-vs-rest: a window or rep is "good" if its probability of "good" >= `threshold`.
    """

    def __init__(self, model: keras.Model, metadata: dict[str, Any], name: str = ""):
        self.model = model
        self.metadata = metadata
        self.name = name or metadata.get("name") or model.name
        self.inputs = spec_of(metadata)
        self.stats = {k: (np.asarray(v["mean"]), np.asarray(v["std"])) for k, v in metadata.get("standardisation", {}).items()}
        shapes = self.inputs.shapes()
        signature = {k: tf.TensorSpec([None, *shape], tf.float32) for k, shape in shapes.items()}
        if self.inputs.window == "clip":
            self._forward = tf.function(lambda x: model(x, training=False), input_signature=[signature["features"]])
        else:
            self._forward = tf.function(lambda x: model(x, training=False), input_signature=[signature])

    @property
    def threshold(self) -> float:
        """Youden's J operating point on P(good), chosen on the validation split at training time."""
        return float(self.metadata["threshold"])

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.metadata.get("classes", CLASS_KEYS))

    @property
    def calibration(self) -> tuple[float, float]:
        """(a, b) of the Platt scaling of P(good) fitted at training time ((1, 0): none)."""
        c = self.metadata.get("calibration", {})
        return float(c.get("a", 1.0)), float(c.get("b", 0.0))

    def predict(self, inputs: np.ndarray | dict[str, np.ndarray], batch_size: int = 256, calibrated: bool = True) -> np.ndarray:
        """Inputs (a dict as `inputs.compute` gives, or the (N, 300, 171) windows of a clip model) -> (N, classes)
        probabilities (rows sum to 1), float32, calibrated (`calibration`) unless `calibrated` is False."""
        arrays = inputs if isinstance(inputs, dict) else {"features": inputs}
        arrays = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}
        shapes = self.inputs.shapes()
        if set(arrays) != set(shapes):
            raise ValueError(f"this model reads {sorted(shapes)}, got {sorted(arrays)}")
        for k, x in arrays.items():
            if x.ndim == len(shapes[k]):
                arrays[k] = x = x[None]
            if x.shape[1:] != shapes[k]:
                raise ValueError(f"{k} must have shape (N, {', '.join(map(str, shapes[k]))}), got {x.shape}")
        n = len(next(iter(arrays.values())))
        if n == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        arrays = impute(arrays, self.stats) if self.stats else arrays
        parts = []
        for i in range(0, n, batch_size):
            batch = {k: tf.constant(v[i : i + batch_size]) for k, v in arrays.items()}
            parts.append(self._forward(batch["features"] if self.inputs.window == "clip" else batch).numpy())
        probs = np.concatenate(parts)
        return calibrate(probs, *self.calibration) if calibrated else probs

    def __repr__(self) -> str:
        return f"Classifier({self.name!r}, threshold={self.metadata.get('threshold')})"


# ---- files ---------------------------------------------------------------------------------------------------

def save_model(model: keras.Model, metadata: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    """Write `OUT.keras` and `OUT.json` (a suffix on `out` is ignored); each file appears whole or not at all. The
    metadata written records the sha256 of the .keras file under `weights` (modelfiles.check_weights)."""
    keras_path, json_path = model_paths(Path(out))
    with atomic_outputs(keras_path, json_path) as (tmp_model, tmp_json):  # both files, or neither
        model.save(tmp_model)
        weights = {**metadata.get("weights", {}), weights_key(keras_path): file_sha256(tmp_model)}
        text = json.dumps(metadata | {"weights": weights}, indent=1, sort_keys=False, default=_json_default)
        tmp_json.write_text(text + "\n", encoding="utf-8")
    return keras_path, json_path


def load_model(name_or_path: str | Path = DEFAULT_MODEL) -> Classifier:
    """A bundled model by name (`cnn`, the default, `lstm`, `cnn-nofeet`, ...) or a trained model by path, once
    its files pass `modelfiles.check_model`."""
    keras_path, _, metadata = check_model(name_or_path)
    try:
        model = keras.saving.load_model(keras_path, compile=False)
    except Exception as e:  # zip, h5 and deserialisation errors all mean "not a model we can read"
        first = str(e).splitlines()[0][:200] if str(e) else ""
        raise SquatError(f"not a readable Keras model ({type(e).__name__}: {first})", keras_path) from None
    spec = spec_of(metadata)
    shapes = spec.shapes()
    got = {t.name.split(":")[0]: tuple(t.shape[1:]) for t in model.inputs}
    if got != shapes or tuple(model.output_shape[1:]) != (len(metadata["classes"]),):
        raise SquatError(f"model maps {got} -> {model.output_shape[1:]}, but its metadata says "
                         f"{shapes} -> ({len(metadata['classes'])},)", keras_path)  # fmt: skip
    return Classifier(model, metadata, name=str(metadata.get("name") or keras_path.stem))


def load_for(
    name: str | Classifier, joints: np.ndarray | None, feet: np.ndarray | None, cache: dict | None = None
) -> Classifier:
    """The model to judge an input with these joints and feet: for a bundled kind (`cnn`, `lstm`) the first of
    BUNDLED[kind] that can read it; any other name or path (or a loaded Classifier) exactly that model, refused
    with the reason if it cannot. `cache` (name -> Classifier) spares reloading across a batch."""
    from squatcli.inputs import missing

    if isinstance(name, Classifier):
        why = missing(name.inputs, joints, feet)
        if why:
            raise SquatError(f"model {name.name} {why}")
        return name
    name = str(name)
    cache = {} if cache is None else cache
    candidates = model_candidates(name)
    reasons = []
    for candidate in candidates:
        if candidate not in cache:
            try:
                cache[candidate] = load_model(candidate)
            except SquatError as e:
                if len(candidates) == 1 or candidate == candidates[0]:
                    raise
                reasons.append(str(e))
                continue
        clf = cache[candidate]
        why = missing(clf.inputs, joints, feet)
        if why is None:
            return clf
        reasons.append(f"{clf.name} {why}")
    raise SquatError(f"no model of {name!r} can read this input: {'; '.join(reasons)}")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
