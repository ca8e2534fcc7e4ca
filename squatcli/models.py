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

A model is three files written together (`save_model`): `NAME.keras` (Keras 3 format: to train on or export
from), `NAME.onnx` (the same network as a self-contained ONNX graph, what `load_model` runs with ONNX Runtime)
and `NAME.json` (metadata: classes, inputs and their standardisation, Youden threshold and the calibration of
P(good), fitted on validation data, validation metrics, data fingerprint, the command line, the ONNX graph's
sha256...). `load_model("cnn")` finds a bundled model (`bundled_name`). TensorFlow and Keras are imported only to
build, train, load a `.keras` file or export (`import_keras`): judging a squat needs neither.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

import hashlib
import json
import math
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from squatcli import interrupts
from squatcli.datasets import atomic_outputs
from squatcli.errors import SquatError
from squatcli.files import read_json, require_input_file
from squatcli.inputs import PAPER_INPUTS, InputSpec
from squatcli.skeleton import ALL_CLASS_KEYS, CLASS_KEYS, GOOD, MODEL_KINDS, N_FEATURES, WINDOW

if TYPE_CHECKING:
    import keras
    import onnxruntime

DEFAULT_MODEL = "cnn"
METADATA_FORMAT = "squatcli-model"
METADATA_VERSION = 2  # 2: `inputs`, any classes, `calibration`; 1 (no `inputs`): clip windows, the paper's 7 classes
ONNX_OPSET = 15  # tf2onnx 1.17's default; ONNX Runtime >= 1.10 runs it
ONNX_TOLERANCE = 1e-5  # an exported graph's probabilities may differ from Keras's by at most this (`onnx_graph`)

# Architecture defaults, chosen by measurement (bench/bench_models.py; rep models: `squat evaluate --cv` by
# recording date, bench/real_targets.py).
CNN_DEFAULTS: dict[str, Any] = {"width": 64, "depth": 2, "kernel": 3, "dropout": 0.1, "downsample": 1}
LSTM_DEFAULTS: dict[str, Any] = {"units": 64, "depth": 2, "l2": 1e-4, "dropout": 0.0, "downsample": 4}
REP_CNN_DEFAULTS: dict[str, Any] = {"width": 16, "kernel": 5, "dropout": 0.8, "l2": 0.03}
REP_LSTM_DEFAULTS: dict[str, Any] = {"units": 16, "depth": 2, "dropout": 0.8, "l2": 0.03}
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


def calibrate(probs: np.ndarray, a: float = 1.0, b: float = 0.0) -> np.ndarray:
    """Platt-scaled probabilities (metrics.fit_calibration): P(good) <- sigmoid(a * logit P(good) + b), the faults
    rescaled in proportion to fill the rest, so rows still sum to 1 and the faults keep their order. (1, 0) is
    the identity."""
    probs = np.asarray(probs, dtype=np.float64)
    if (a, b) == (1.0, 0.0) or len(probs) == 0:
        return probs.astype(np.float32)
    good = 1.0 / (1.0 + np.exp(-(a * logit(probs[:, GOOD]) + b)))
    faults = np.delete(probs, GOOD, axis=1)
    total = faults.sum(axis=1, keepdims=True)
    share = np.where(total > 0, faults / np.where(total > 0, total, 1.0), 1.0 / faults.shape[1])
    return np.insert(share * (1.0 - good)[:, None], GOOD, good, axis=1).astype(np.float32)


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
        return calibrate(probs, *self.calibration) if calibrated else probs

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


def spec_of(metadata: dict[str, Any]) -> InputSpec:
    """The inputs a model reads, from its metadata (version 1 models, without `inputs`, read clip windows)."""
    return InputSpec.from_dict(metadata["inputs"]) if "inputs" in metadata else PAPER_INPUTS


# ---- files ---------------------------------------------------------------------------------------------------

# The bundled models of each kind, in order of preference: `squat assess -m cnn` uses the first whose inputs the
# input can give (a video: feet and joints; a 19-joint .npz: joints; a paper .json clip: distances only).
BUNDLED: dict[str, tuple[str, ...]] = {kind: (kind, f"{kind}-nofeet", f"{kind}-distances") for kind in MODEL_KINDS}


def models_dirs() -> list[Path]:
    """Where bundled models are looked for, in order: $SQUAT_MODELS_DIR, the repo's models/ (a source checkout or
    editable install), and squatcli/bundled_models, where a wheel installs that same folder (pyproject.toml)."""
    dirs = []
    if os.environ.get("SQUAT_MODELS_DIR"):
        dirs.append(Path(os.environ["SQUAT_MODELS_DIR"]))
    here = Path(__file__).resolve().parent
    if (here.parent / "pyproject.toml").exists():  # a checkout, not site-packages (whose models/ is not ours)
        dirs.append(here.parent / "models")
    return [*dirs, here / "bundled_models"]


def bundled_names() -> tuple[str, ...]:
    return tuple(name for family in BUNDLED.values() for name in family)


class ModelFiles(NamedTuple):
    """The three files of one model."""

    keras: Path  # the Keras network: to train on, inspect, or export from
    json: Path  # the metadata
    onnx: Path  # the same network as an ONNX graph: what assessing and evaluating run


MODEL_SUFFIXES = (".keras", ".json", ".onnx")


def model_paths(name_or_path: str | Path) -> ModelFiles:
    """The files of a bundled model name (`cnn`, `cnn-nofeet`, ...) or of a path with or without suffix."""
    text = str(name_or_path)
    if text in bundled_names() and not Path(text).exists():
        for d in models_dirs():
            if (d / f"{text}.json").exists():
                return _files(d / text)
        searched = ", ".join(str(d) for d in models_dirs())
        kind = text.split("-")[0]
        raise SquatError(f"no bundled {text} model (looked in {searched}); "
                         f"train one with `squat train --model {kind} --out PATH`")  # fmt: skip
    path = Path(text)
    return _files(path.with_suffix("") if path.suffix in MODEL_SUFFIXES else path)


def _files(stem: Path) -> ModelFiles:
    return ModelFiles(*(stem.with_name(stem.name + suffix) for suffix in MODEL_SUFFIXES))


def save_model(model: keras.Model, metadata: dict[str, Any], out: str | Path) -> ModelFiles:
    """Write `OUT.keras`, its ONNX graph `OUT.onnx` (`export.onnx_graph`, checked against Keras) and `OUT.json`
    with the graph's sha256 (a suffix on `out` is ignored); the three appear together, whole, or not at all."""
    from squatcli.export import onnx_graph

    files = model_paths(Path(out))
    graph = onnx_graph(model, spec_of(metadata))
    metadata = with_onnx_fingerprint(metadata, graph)
    text = json.dumps(metadata, indent=1, sort_keys=False, default=_json_default)
    with atomic_outputs(*files) as (tmp_model, tmp_json, tmp_onnx):  # all three, or none
        model.save(tmp_model)
        tmp_onnx.write_bytes(graph)
        tmp_json.write_text(text + "\n", encoding="utf-8")
    return files


def export_model(name_or_path: str | Path) -> ModelFiles:
    """Write NAME.onnx from NAME.keras and record its sha256 in NAME.json (both or neither): for models saved
    before squatcli wrote ONNX graphs, and to regenerate the bundled ones (models/README.md)."""
    from squatcli.export import onnx_graph

    files = model_paths(name_or_path)
    metadata = read_metadata(files.json)
    graph = onnx_graph(load_keras(files, metadata), spec_of(metadata))
    text = json.dumps(with_onnx_fingerprint(metadata, graph), indent=1, sort_keys=False, default=_json_default)
    with atomic_outputs(files.json, files.onnx) as (tmp_json, tmp_onnx):
        tmp_onnx.write_bytes(graph)
        tmp_json.write_text(text + "\n", encoding="utf-8")
    return files


def with_onnx_fingerprint(metadata: dict[str, Any], graph: bytes) -> dict[str, Any]:
    """`metadata` with `weights.onnx_sha256` set to the graph's: `load_model` refuses a graph that does not match."""
    return metadata | {"weights": {**metadata.get("weights", {}), "onnx_sha256": hashlib.sha256(graph).hexdigest()}}


def _stats(metadata: dict[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Input name -> (mean, std) of the training split, from the metadata (empty if it has none)."""
    return {k: (np.asarray(v["mean"]), np.asarray(v["std"])) for k, v in metadata.get("standardisation", {}).items()}


def load_model(name_or_path: str | Path = DEFAULT_MODEL) -> Classifier:
    """A bundled model by name (`cnn`, the default, `lstm`, `cnn-nofeet`, ...) or a trained model by path, run by
    ONNX Runtime from NAME.onnx (NAME.keras is not read)."""
    files = model_paths(name_or_path)
    metadata = read_metadata(files.json)
    return Classifier(load_onnx(files.onnx, metadata), metadata, name=str(metadata.get("name") or files.json.stem))


def load_onnx(path: Path, metadata: dict[str, Any]) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session on a model's graph, refused in one line naming the file when it is missing,
    damaged, not the graph its metadata fingerprints, or reads or gives other shapes than the metadata says."""
    if not path.exists():
        raise SquatError(f"no such model file (write it from {path.stem}.keras with `squat export "
                         f"{path.with_suffix('')}`)", path)  # fmt: skip
    data = require_input_file(path, "model file").read_bytes()
    expected = metadata.get("weights", {}).get("onnx_sha256")
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise SquatError(f"not the ONNX graph {path.stem}.json describes (its sha256 differs: a damaged or "
                         "replaced file; `squat export` writes it again from the .keras file)", path)  # fmt: skip
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
    """The Keras network of a model (to train on, inspect or export; imports TensorFlow), checked against its
    metadata's inputs and classes."""
    files = name_or_path if isinstance(name_or_path, ModelFiles) else model_paths(name_or_path)
    metadata = read_metadata(files.json) if metadata is None else metadata
    if not files.keras.exists():
        raise SquatError("no such model file", files.keras)
    check_keras_archive(require_input_file(files.keras, "model file"))
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
    candidates = BUNDLED.get(name, (name,)) if not Path(name).exists() else (name,)
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


def check_keras_archive(path: Path) -> None:
    """A `.keras` file is a zip archive holding config.json and the weights: say plainly when it is not (Keras
    itself answers "File not found" for a file that exists but is damaged)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            damaged = archive.testzip()  # CRC of every member: catches a truncated or altered file
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise SquatError(f"not a readable Keras model (not a zip archive: truncated or not a .keras file; "
                         f"{type(e).__name__})", path) from None  # fmt: skip
    if damaged is not None:
        raise SquatError(f"not a readable Keras model (damaged archive: {damaged} fails its checksum)", path)
    missing = sorted({"config.json", "model.weights.h5"} - names)
    if missing:
        raise SquatError(f"not a readable Keras model (the archive lacks {', '.join(missing)})", path)


def _is_number(value: Any) -> bool:
    """A finite JSON number (not a bool; ints of any length)."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and math.isfinite(value))


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


# The type of each metadata field squatcli reads: (required, check, what it must be). `read_metadata` checks them
# all when a model loads, so a bad file fails there in one line, never later while assessing or evaluating.
# Extend this table with any new field the code reads.
METADATA_FIELDS: dict[str, tuple[bool, Any, str]] = {
    "classes": (True, _is_str_list, "a list of class names"),
    "window": (True, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "threshold": (True, lambda v: _is_number(v) and 0 <= v <= 1, "a number from 0 to 1"),
    "features": (True, lambda v: isinstance(v, dict), "an object"),
    "name": (False, lambda v: isinstance(v, str), "a string"),
    "kind": (False, lambda v: isinstance(v, str), "a string"),
    "parameters": (False, lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)), "an integer"),
    "data": (False, lambda v: isinstance(v, dict), "an object"),
    "training": (False, lambda v: isinstance(v, dict), "an object"),
    "validation": (False, lambda v: isinstance(v, dict), "an object"),
    "inputs": (False, lambda v: isinstance(v, dict), "an object"),
    "calibration": (False, lambda v: isinstance(v, dict), "an object"),
    "standardisation": (False, lambda v: isinstance(v, dict), "an object"),
    "weights": (False, lambda v: isinstance(v, dict) and all(isinstance(h, str) for h in v.values()),
                "an object of sha256 strings"),
}


def read_metadata(json_path: Path) -> dict[str, Any]:
    """A model's metadata, validated (`check_metadata`) when the model loads, so a bad file fails there in one
    line, never later while assessing or evaluating."""
    if not json_path.exists():
        raise SquatError("no such model metadata file (every NAME.keras needs its NAME.json)", json_path)
    metadata = read_json(json_path)
    try:
        check_metadata(metadata)
    except ValueError as e:
        raise SquatError(str(e), json_path) from None
    return metadata


def check_metadata(metadata: Any) -> None:
    """ValueError unless `metadata` is squatcli model metadata this version can run: known classes including
    good, inputs it can compute, a threshold in [0, 1], finite calibration parameters."""
    if not isinstance(metadata, dict) or metadata.get("format") != METADATA_FORMAT:
        raise ValueError(f"not squatcli model metadata (no \"format\": \"{METADATA_FORMAT}\")")
    missing = [k for k, (required, _, _) in METADATA_FIELDS.items() if required and k not in metadata]
    if missing:
        raise ValueError(f"model metadata lacks {', '.join(missing)}")
    for key, (_, valid, expected) in METADATA_FIELDS.items():
        if key in metadata and not valid(metadata[key]):
            shown = json.dumps(metadata[key])
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise ValueError(f"model metadata {key!r} must be {expected}, got {shown}")
    classes = metadata["classes"]
    if (not isinstance(classes, list) or not all(isinstance(c, str) for c in classes) or len(set(classes)) != len(classes)
            or classes[:1] != ["good"] or not set(classes) <= set(ALL_CLASS_KEYS)):  # fmt: skip
        raise ValueError(f"model was trained for classes {classes!r}; expected good first, then some of "
                         f"{', '.join(ALL_CLASS_KEYS[1:])}")  # fmt: skip
    if "inputs" not in metadata and classes != list(CLASS_KEYS):
        raise ValueError(f"model was trained for classes {classes}, expected {list(CLASS_KEYS)}")
    spec = InputSpec.from_dict(metadata["inputs"]) if "inputs" in metadata else PAPER_INPUTS
    features = metadata["features"]
    if not isinstance(features, dict):
        raise ValueError(f"'features' must be an object, got {type(features).__name__}")
    if spec.window == "clip" and (metadata["window"] != WINDOW or features.get("n") != N_FEATURES):
        raise ValueError(f"model reads {metadata['window']}-frame windows of {features.get('n')} "
                         f"features, expected {WINDOW} x {N_FEATURES}")  # fmt: skip
    threshold = metadata["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ValueError(f"'threshold' must be a number in [0, 1], got {threshold!r}")
    calibration = metadata.get("calibration", {})
    if any(not _is_number(calibration.get(k, 0.0)) for k in ("a", "b")):
        raise ValueError("calibration 'a' and 'b' must be finite numbers")
    stats = metadata.get("standardisation", {})
    shapes = spec.shapes()
    if not isinstance(stats, dict) or any(
        not isinstance(v, dict) or k not in shapes or np.shape(v.get("mean")) != shapes[k][-1:] or np.shape(v.get("std")) != shapes[k][-1:]
        for k, v in stats.items()
    ):  # fmt: skip
        raise ValueError("'standardisation' must give a mean and std per channel of each model input")


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
