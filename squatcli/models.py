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

A model is three files written together (`save_model`; modelfiles.ModelFiles): `NAME.keras` (Keras 3 format: to
train on or export from), `NAME.onnx` (the same network as a self-contained ONNX graph, what `load_model` runs with
ONNX Runtime) and `NAME.json` (metadata: classes, inputs and their standardisation, Youden threshold and the
calibration of P(good), fitted on validation data, validation metrics, data fingerprint, the sha256 of both weights
files, the command line...). `load_model("cnn")` finds a bundled model. The files are checked without TensorFlow or
ONNX Runtime first (modelfiles.py, whose names are re-exported here). TensorFlow and Keras are imported only to
build, train, load a `.keras` file or export (`import_keras`): judging a squat needs neither.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

import json
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from squatcli import interrupts
from squatcli.datasets import atomic_outputs
from squatcli.errors import SquatError
from squatcli.inputs import InputSpec
from squatcli.modelfiles import (  # noqa: F401 - the files' side, without TensorFlow; re-exported for callers
    BUNDLED,
    DEFAULT_MODEL,
    METADATA_FIELDS,
    METADATA_FORMAT,
    METADATA_VERSION,
    MODEL_SUFFIXES,
    ModelFiles,
    bundled_names,
    candidates as model_candidates,
    check_keras,
    check_keras_archive,
    check_metadata,
    check_model,
    check_weights,
    file_sha256,
    model_paths,
    models_dirs,
    read_metadata,
    spec_of,
    weights_key,
)
from squatcli.skeleton import CLASS_KEYS, GOOD, MODEL_KINDS, N_FEATURES, WINDOW

if TYPE_CHECKING:
    import keras
    import onnxruntime

ONNX_OPSET = 15  # tf2onnx 1.17's default; ONNX Runtime >= 1.10 runs it
ONNX_TOLERANCE = 1e-5  # an exported graph's probabilities may differ from Keras's by at most this (`onnx_graph`)

# Architecture defaults, chosen by measurement (bench/bench_models.py; rep models: `squat evaluate --cv` by
# recording date, bench/real_targets.py).
CNN_DEFAULTS: dict[str, Any] = {"width": 64, "depth": 2, "kernel": 3, "dropout": 0.1, "downsample": 1}
LSTM_DEFAULTS: dict[str, Any] = {"units": 64, "depth": 2, "l2": 1e-4, "dropout": 0.0, "downsample": 4}
# Rep models read each rep as 8 cameras picture it (inputs.py): 8x the rows of the 3D reps, where width 64, dropout
# 0.5 and L2 0.01 cross-validated best (bench/real_targets.py; the 3D-only recipe had width 16, dropout 0.8, L2 0.03).
REP_CNN_DEFAULTS: dict[str, Any] = {"width": 64, "kernel": 5, "dropout": 0.5, "l2": 0.01}
REP_LSTM_DEFAULTS: dict[str, Any] = {"units": 32, "depth": 2, "dropout": 0.5, "l2": 0.01}
# The paper's configurations, for comparison (bench) and for retraining like the paper.
CNN_PAPER: dict[str, Any] = {**CNN_DEFAULTS, "width": 256}
LSTM_PAPER: dict[str, Any] = {**LSTM_DEFAULTS, "units": 256, "downsample": 1}


def import_keras():
    """Keras (TensorFlow underneath), imported on first use with TensorFlow's Python logging quieted: only
    building, training, reading `.keras` files and exporting need it, never judging a squat."""
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # no retracing/deprecation chatter on the user's terminal
    return keras


def _standardise(x, mean: np.ndarray, std: np.ndarray, name: str):
    """(x - mean) / std per channel (last axis) by training-split statistics, as a Normalization layer."""
    mean = np.asarray(mean, dtype=np.float64).reshape(-1)
    std = np.maximum(np.asarray(std, dtype=np.float64).reshape(-1), 1e-6)
    layers = import_keras().layers
    return layers.Normalization(axis=-1, mean=mean.tolist(), variance=(std**2).tolist(), name=name)(x)


def _front(inputs, mean: np.ndarray, std: np.ndarray, downsample: int):
    """Standardise each of the 171 features by training-set statistics, then average `downsample` frames."""
    if np.size(mean) != N_FEATURES or np.size(std) != N_FEATURES:
        raise ValueError(f"mean and std must have {N_FEATURES} values")
    x = _standardise(inputs, mean, std, "standardise")
    if downsample > 1:
        layers = import_keras().layers
        x = layers.AveragePooling1D(pool_size=downsample, strides=downsample, padding="same", name="downsample")(x)
    return x


def _conv_bn(x, width: int, kernel: int, strides: int = 1, name: str = ""):
    layers = import_keras().layers
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
    keras = import_keras()
    layers = keras.layers
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
    keras = import_keras()
    layers = keras.layers
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
    keras = import_keras()
    layers = keras.layers
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


def joined(real: keras.Model, full: keras.Model, made: np.ndarray) -> keras.Model:
    """One network of two for a model with classes made from real good reps (`made`, (K,) bool): its outputs are
    `real`'s (trained on the real rows and classes alone) for good and the real faults, and `full`'s (trained on
    every row) for the made classes, so that made classes never cost P(good) of real people. A fixed 0/1 dense layer
    picks the columns: plain layers, so the network saves, reloads and exports to ONNX like any other."""
    keras = import_keras()
    layers = keras.layers
    made = np.asarray(made, dtype=bool)
    inputs = [keras.Input(tuple(t.shape[1:]), name=t.name.split(":")[0]) for t in real.inputs]
    parts = [keras.Model(m.inputs, m.output, name=n)(inputs if len(inputs) > 1 else inputs[0])
             for m, n in ((real, "real_classes"), (full, "all_classes"))]  # fmt: skip
    pick = np.zeros((int((~made).sum()) + len(made), len(made)), dtype=np.float32)
    pick[np.arange(int((~made).sum())), np.flatnonzero(~made)] = 1.0
    pick[int((~made).sum()) + np.flatnonzero(made), np.flatnonzero(made)] = 1.0
    choose = layers.Dense(len(made), use_bias=False, trainable=False, name="classes")
    outputs = choose(layers.Concatenate(name="both")(parts))
    choose.set_weights([pick])
    return keras.Model(inputs, outputs, name=f"{real.name}_made_apart")


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


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), p clipped to [1e-7, 1 - 1e-7]."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def calibrate(probs: np.ndarray, a: float = 1.0, b: float = 0.0, made: np.ndarray | None = None) -> np.ndarray:
    """Platt-scaled probabilities (metrics.fit_calibration): P(good) <- sigmoid(a * logit P(good) + b), the faults
    rescaled in proportion to fill the rest, so rows still sum to 1 and the faults keep their order. (1, 0) is
    the identity. `made` (K,) bool: the classes learned only from faults made from good reps (made_apart)."""
    probs = np.asarray(probs, dtype=np.float64)
    if made is not None and np.any(made):
        return made_apart(probs, made, a, b)
    if (a, b) == (1.0, 0.0) or len(probs) == 0:
        return probs.astype(np.float32)
    with np.errstate(over="ignore"):  # exp(-x) of a large negative x is inf, and 1 / (1 + inf) is 0: as meant
        good = 1.0 / (1.0 + np.exp(-(a * logit(probs[:, GOOD]) + b)))
    faults = np.delete(probs, GOOD, axis=1)
    total = faults.sum(axis=1, keepdims=True)
    share = np.where(total > 0, faults / np.where(total > 0, total, 1.0), 1.0 / faults.shape[1])
    return np.insert(share * (1.0 - good)[:, None], GOOD, good, axis=1).astype(np.float32)


def made_apart(probs: np.ndarray, made: np.ndarray, a: float = 1.0, b: float = 0.0) -> np.ndarray:
    """(N, K) probabilities of a model with classes made from good reps (`made`, (K,) bool): the other classes (good
    and the faults real people showed) renormalised among themselves and Platt-scaled, so P(good) weighs good
    against real faults only; each made class keeps the network's own probability, a score its flag reads
    (Classifier.flags). Why: a made class draws probability from real good reps too, which costs the good-vs-rest
    ranking of real people (models/README.md)."""
    made = np.asarray(made, dtype=bool)
    out = np.array(probs, dtype=np.float64)
    real = out[:, ~made]
    total = real.sum(axis=1, keepdims=True)
    out[:, ~made] = calibrate(np.where(total > 0, real / np.where(total > 0, total, 1.0), 1.0 / real.shape[1]), a, b)
    return out.astype(np.float32)


# ---- running a model ----------------------------------------------------------------------------------------


class Classifier:
    """A trained model ready to use: `.predict(inputs)` -> calibrated class probabilities, `.threshold` for
    good-vs-rest, `.classes` and `.inputs` (what it reads) from the metadata.

    `model` is an ONNX Runtime session (what `load_model` gives: no TensorFlow) or an in-memory Keras model
    (training's cross-fitting and cross-validation, before any file exists; run through a traced `tf.function`).
    The verdict rule for good-vs-rest: a window or rep is "good" if its probability of "good" >= `threshold`.
    """

    def __init__(self, model: onnxruntime.InferenceSession | keras.Model, metadata: dict[str, Any], name: str = ""):
        self.model = model
        self.metadata = metadata
        self.name = name or metadata.get("name") or getattr(model, "name", "model")
        self.inputs = spec_of(metadata)
        self.stats = _stats(metadata)
        self._forward = _onnx_forward(model) if _is_session(model) else _keras_forward(model, self.inputs)

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

    @property
    def made(self) -> np.ndarray:
        """(K,) bool: the classes learned only from faults made from real good reps (metadata `made_classes`)."""
        return np.isin(self.classes, self.metadata.get("made_classes", []))

    @property
    def flags(self) -> np.ndarray | None:
        """(K,) the score at which each made class is named, never overruled by GOOD (metadata `flags`); inf for
        the other classes, which the good-vs-rest threshold judges; None for a model without made classes."""
        flags = self.metadata.get("flags", {})
        return np.array([float(flags.get(c, np.inf)) for c in self.classes]) if flags else None

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
        parts = [self._forward({k: v[i : i + batch_size] for k, v in arrays.items()}) for i in range(0, n, batch_size)]
        probs = np.concatenate(parts).astype(np.float32)
        return calibrate(probs, *self.calibration, made=self.made) if calibrated else probs

    def __repr__(self) -> str:
        return f"Classifier({self.name!r}, threshold={self.metadata.get('threshold')})"


def _is_session(model: Any) -> bool:
    """Whether `model` is an ONNX Runtime session (onnxruntime is imported by whoever made one)."""
    ort = sys.modules.get("onnxruntime")
    return ort is not None and isinstance(model, ort.InferenceSession)


def _onnx_forward(session: onnxruntime.InferenceSession):
    """Named float32 batches -> the graph's probabilities."""
    return lambda batch: session.run(None, batch)[0]


def _keras_forward(model: keras.Model, spec: InputSpec):
    """Named float32 batches -> probabilities through a traced `tf.function` (no `model.predict` per call, so one
    window costs milliseconds)."""
    import tensorflow as tf

    signature = {k: tf.TensorSpec([None, *shape], tf.float32) for k, shape in spec.shapes().items()}
    if spec.window == "clip":
        forward = tf.function(lambda x: model(x, training=False), input_signature=[signature["features"]])
        return lambda batch: forward(tf.constant(batch["features"])).numpy()
    forward = tf.function(lambda x: model(x, training=False), input_signature=[signature])
    return lambda batch: forward({k: tf.constant(v) for k, v in batch.items()}).numpy()


def _stats(metadata: dict[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Input name -> (mean, std) of the training split, from the metadata (empty if it has none)."""
    return {k: (np.asarray(v["mean"]), np.asarray(v["std"])) for k, v in metadata.get("standardisation", {}).items()}


# ---- files ---------------------------------------------------------------------------------------------------


def save_model(model: keras.Model, metadata: dict[str, Any], out: str | Path) -> ModelFiles:
    """Write `OUT.keras`, its ONNX graph `OUT.onnx` (`export.onnx_graph`, checked against Keras) and `OUT.json`
    (a suffix on `out` is ignored); the three appear together, whole, or not at all. The metadata written records
    the sha256 of both weights files under `weights` (modelfiles.check_weights)."""
    from squatcli.export import onnx_graph

    files = model_paths(Path(out))
    graph = onnx_graph(model, spec_of(metadata))
    with atomic_outputs(*files) as (tmp_model, tmp_json, tmp_onnx):  # all three, or none
        model.save(tmp_model)
        tmp_onnx.write_bytes(graph)
        metadata = with_fingerprints(metadata, {files.keras: tmp_model, files.onnx: tmp_onnx})
        tmp_json.write_text(json.dumps(metadata, indent=1, sort_keys=False, default=_json_default) + "\n", encoding="utf-8")
    return files


def export_model(name_or_path: str | Path) -> ModelFiles:
    """Write NAME.onnx from NAME.keras and record its sha256 in NAME.json (both or neither; the other records,
    such as `keras_sha256`, are kept): for models saved before squatcli wrote ONNX graphs, and to regenerate the
    bundled ones (models/README.md)."""
    from squatcli.export import onnx_graph

    files = model_paths(name_or_path)
    metadata = read_metadata(files.json)
    graph = onnx_graph(load_keras(files, metadata), spec_of(metadata))
    with atomic_outputs(files.json, files.onnx) as (tmp_json, tmp_onnx):
        tmp_onnx.write_bytes(graph)
        metadata = with_fingerprints(metadata, {files.onnx: tmp_onnx})
        tmp_json.write_text(json.dumps(metadata, indent=1, sort_keys=False, default=_json_default) + "\n", encoding="utf-8")
    return files


def with_fingerprints(metadata: dict[str, Any], written: dict[Path, Path]) -> dict[str, Any]:
    """`metadata` with `weights` recording the sha256 of each weights file in `written` (the file's final path,
    whose suffix names its key (modelfiles.weights_key) -> the file holding its bytes now); other records are kept.
    Loading refuses a weights file that does not match (modelfiles.check_weights)."""
    fingerprints = {weights_key(path): file_sha256(data) for path, data in written.items()}
    return metadata | {"weights": {**metadata.get("weights", {}), **fingerprints}}


def load_model(name_or_path: str | Path = DEFAULT_MODEL) -> Classifier:
    """A bundled model by name (`cnn`, the default, `lstm`, `cnn-nofeet`, ...) or a trained model by path, run by
    ONNX Runtime from NAME.onnx (NAME.keras is not read) once its files pass `modelfiles.check_model`."""
    files, metadata = check_model(name_or_path)
    return Classifier(load_onnx(files.onnx, metadata), metadata, name=str(metadata.get("name") or files.json.stem))


def load_onnx(path: Path, metadata: dict[str, Any]) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session on a model's graph (a file `modelfiles.check_model` has passed), refused in one line
    naming the file when ONNX Runtime cannot read it, or it reads or gives other shapes than the metadata says."""
    data = path.read_bytes()
    import onnxruntime  # noqa: F401  (outside the try: a Ctrl-C that breaks its initialisation is no model error)

    try:
        session = onnx_session(data)
    except Exception as e:  # protobuf and graph errors all mean "not a graph we can run"
        interrupts.reraise_if_interrupted(e)
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        raise SquatError(f"not a readable ONNX model ({type(e).__name__}: {first})", path) from None
    shapes = spec_of(metadata).shapes()
    got = {i.name: tuple(i.shape[1:]) for i in session.get_inputs()}
    outputs = [tuple(o.shape[1:]) for o in session.get_outputs()]
    if got != shapes or outputs != [(len(metadata["classes"]),)]:
        raise SquatError(f"model maps {got} -> {outputs}, but its metadata says "
                         f"{shapes} -> ({len(metadata['classes'])},)", path)  # fmt: skip
    return session


def onnx_session(graph: bytes) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session on a serialised graph, on the CPU, quiet and single-threaded."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no initializer/optimizer notes on the user's terminal
    options.intra_op_num_threads = 1  # the models are small: threads cost more than they give (and batch runs a pool)
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def load_keras(name_or_path: str | Path | ModelFiles, metadata: dict[str, Any] | None = None) -> keras.Model:
    """The Keras network of a model (to train on, inspect or export; imports TensorFlow), once NAME.keras passes
    `modelfiles.check_keras` (its sha256 included), checked against its metadata's inputs and classes."""
    files = name_or_path if isinstance(name_or_path, ModelFiles) else model_paths(name_or_path)
    metadata = read_metadata(files.json) if metadata is None else metadata
    check_keras(files, metadata)  # before TensorFlow loads: a damaged or swapped file answers at once
    keras = import_keras()
    try:
        model = keras.saving.load_model(files.keras, compile=False)
    except Exception as e:  # zip, h5 and deserialisation errors all mean "not a model we can read"
        first = str(e).splitlines()[0][:200] if str(e) else ""
        raise SquatError(f"not a readable Keras model ({type(e).__name__}: {first})", files.keras) from None
    shapes = spec_of(metadata).shapes()
    got = {t.name.split(":")[0]: tuple(t.shape[1:]) for t in model.inputs}
    if got != shapes or tuple(model.output_shape[1:]) != (len(metadata["classes"]),):
        raise SquatError(f"model maps {got} -> {model.output_shape[1:]}, but its metadata says "
                         f"{shapes} -> ({len(metadata['classes'])},)", files.keras)  # fmt: skip
    return model


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
