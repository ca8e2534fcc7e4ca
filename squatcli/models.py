"""The two classifiers (Keras 3 builders), their files on disk and the `Classifier` that runs them.

* `build_cnn`: the paper's regularised version of Ogata et al.'s ResNet-style 1D CNN: a Conv1D stem, residual
  blocks of three Conv1D whose first convolution and 1x1 skip are strided (each block halves the time axis),
  dropout in the residual and dense layers, global average pooling, softmax over the 7 classes.
* `build_lstm`: stacked bidirectional LSTMs (L2 on the kernels) and a dense softmax.

Both models start with the same front end, so callers pass plain `features.fit_window` / `features.windows`
output (N, 300, 171), already divided by the clip's body scale:
  1. per-feature standardisation by the training set's mean and standard deviation (a Normalization layer
     whose statistics are part of the saved model and are copied into the metadata), then
  2. optional temporal downsampling by averaging `downsample` consecutive frames (AveragePooling1D).

A model is two files: `NAME.keras` (Keras 3 format) and `NAME.json` (metadata: classes, feature spec and
normalisation, window, Youden threshold picked on the validation split, validation metrics, data fingerprint,
the command line...). `load_model("cnn")` finds the bundled `models/cnn.keras`.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

import json
import math
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

tf.get_logger().setLevel("ERROR")  # no retracing/deprecation chatter on the user's terminal

from squatcli.datasets import atomic_outputs
from squatcli.errors import SquatError
from squatcli.files import read_json, require_input_file
from squatcli.skeleton import CLASS_KEYS, MODEL_KINDS, N_CLASSES, N_FEATURES, WINDOW

DEFAULT_MODEL = "cnn"
METADATA_FORMAT = "squatcli-model"
METADATA_VERSION = 1

# Architecture defaults, chosen by measurement on the synthetic corpus (bench/bench_models.py, models/README.md).
CNN_DEFAULTS: dict[str, Any] = {"width": 64, "depth": 2, "kernel": 3, "dropout": 0.1, "downsample": 1}
LSTM_DEFAULTS: dict[str, Any] = {"units": 64, "depth": 2, "l2": 1e-4, "dropout": 0.0, "downsample": 4}
# The paper's configurations, for comparison (bench) and for retraining like the paper.
CNN_PAPER: dict[str, Any] = {**CNN_DEFAULTS, "width": 256}
LSTM_PAPER: dict[str, Any] = {**LSTM_DEFAULTS, "units": 256, "downsample": 1}


def _front(inputs, mean: np.ndarray, std: np.ndarray, downsample: int):
    """Standardise each of the 171 features by training-set statistics, then average `downsample` frames."""
    mean = np.asarray(mean, dtype=np.float64).reshape(-1)
    std = np.asarray(std, dtype=np.float64).reshape(-1)
    if mean.shape != (N_FEATURES,) or std.shape != (N_FEATURES,):
        raise ValueError(f"mean and std must have {N_FEATURES} values")
    std = np.maximum(std, 1e-6)
    x = layers.Normalization(axis=-1, mean=mean.tolist(), variance=(std**2).tolist(), name="standardise")(inputs)
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
    outputs = layers.Dense(N_CLASSES, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="cnn")


def build_lstm(
    mean: np.ndarray,
    std: np.ndarray,
    *,
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
    outputs = layers.Dense(N_CLASSES, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="lstm")


def _defaults(kind: str) -> dict[str, Any]:
    """The architecture defaults of a model kind; an unknown kind is an error."""
    if kind not in MODEL_KINDS:
        raise SquatError(f"unknown model kind {kind!r}; expected one of {', '.join(MODEL_KINDS)}")
    return CNN_DEFAULTS if kind == "cnn" else LSTM_DEFAULTS


def build(kind: str, mean: np.ndarray, std: np.ndarray, **arch: Any) -> keras.Model:
    """Build a `cnn` or `lstm` with the given architecture options (missing ones take the defaults)."""
    builder = build_cnn if kind == "cnn" else build_lstm
    return builder(mean, std, **{**_defaults(kind), **arch})


def architecture(kind: str, **arch: Any) -> dict[str, Any]:
    """The complete architecture options (defaults filled in) as recorded in the metadata."""
    defaults = _defaults(kind)
    unknown = set(arch) - set(defaults)
    if unknown:
        raise SquatError(f"options {', '.join(sorted(unknown))} do not apply to the {kind} model")
    return {"kind": kind, **defaults, **{k: v for k, v in arch.items() if v is not None}}


# ---- running a model ----------------------------------------------------------------------------------------


class Classifier:
    """A trained model ready to use: `.predict(windows)` -> class probabilities, `.threshold` for good-vs-rest.

    `predict` runs a traced `tf.function` (no `model.predict` per call), so one window costs milliseconds.
    The verdict rule for good-vs-rest: a window is "good" if its probability of "good" >= `threshold`.
    """

    def __init__(self, model: keras.Model, metadata: dict[str, Any], name: str = ""):
        self.model = model
        self.metadata = metadata
        self.name = name or metadata.get("name") or model.name
        self._forward = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, WINDOW, N_FEATURES], tf.float32)],
        )

    @property
    def threshold(self) -> float:
        """Youden's J operating point on P(good), chosen on the validation split at training time."""
        return float(self.metadata["threshold"])

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.metadata.get("classes", CLASS_KEYS))

    def predict(self, windows: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(N, 300, 171) body-scale-normalised features -> (N, 7) probabilities (rows sum to 1), float32."""
        x = np.asarray(windows, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != (WINDOW, N_FEATURES):
            raise ValueError(f"windows must have shape (N, {WINDOW}, {N_FEATURES}), got {np.shape(windows)}")
        if len(x) == 0:
            return np.zeros((0, N_CLASSES), dtype=np.float32)
        parts = [self._forward(tf.constant(x[i : i + batch_size])).numpy() for i in range(0, len(x), batch_size)]
        return np.concatenate(parts)

    def __repr__(self) -> str:
        return f"Classifier({self.name!r}, threshold={self.metadata.get('threshold')})"


# ---- files ---------------------------------------------------------------------------------------------------


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


def model_paths(name_or_path: str | Path) -> tuple[Path, Path]:
    """(NAME.keras, NAME.json) for a bundled model name (`cnn`, `lstm`) or a path with or without suffix."""
    text = str(name_or_path)
    if text in MODEL_KINDS and not Path(text).exists():
        for d in models_dirs():
            if (d / f"{text}.keras").exists():
                return d / f"{text}.keras", d / f"{text}.json"
        searched = ", ".join(str(d) for d in models_dirs())
        raise SquatError(f"no bundled {text} model (looked in {searched}); "
                         f"train one with `squat train --model {text} --out PATH`")  # fmt: skip
    path = Path(text)
    if path.suffix in (".keras", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".keras"), path.with_name(path.name + ".json")


def save_model(model: keras.Model, metadata: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    """Write `OUT.keras` and `OUT.json` (a suffix on `out` is ignored); each file appears whole or not at all."""
    keras_path, json_path = model_paths(Path(out))
    text = json.dumps(metadata, indent=1, sort_keys=False, default=_json_default)
    with atomic_outputs(keras_path, json_path) as (tmp_model, tmp_json):  # both files, or neither
        model.save(tmp_model)
        tmp_json.write_text(text + "\n", encoding="utf-8")
    return keras_path, json_path


def load_model(name_or_path: str | Path = DEFAULT_MODEL) -> Classifier:
    """A bundled model by name (`cnn`, the default, or `lstm`) or a trained model by path, ready to predict."""
    keras_path, json_path = model_paths(name_or_path)
    metadata = read_metadata(json_path)
    if not keras_path.exists():
        raise SquatError("no such model file", keras_path)
    check_keras_archive(require_input_file(keras_path, "model file"))
    try:
        model = keras.saving.load_model(keras_path, compile=False)
    except Exception as e:  # zip, h5 and deserialisation errors all mean "not a model we can read"
        first = str(e).splitlines()[0][:200] if str(e) else ""
        raise SquatError(f"not a readable Keras model ({type(e).__name__}: {first})", keras_path) from None
    shape = tuple(model.input_shape[1:])
    if shape != (WINDOW, N_FEATURES) or tuple(model.output_shape[1:]) != (N_CLASSES,):
        raise SquatError(f"model maps {shape} -> {model.output_shape[1:]}, expected "
                         f"({WINDOW}, {N_FEATURES}) -> ({N_CLASSES},)", keras_path)  # fmt: skip
    return Classifier(model, metadata, name=str(metadata.get("name") or keras_path.stem))


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
}


def read_metadata(json_path: Path) -> dict[str, Any]:
    """A model's metadata, validated: every field's type (METADATA_FIELDS), and the same classes, window and
    features as this squatcli."""
    if not json_path.exists():
        raise SquatError("no such model metadata file (every NAME.keras needs its NAME.json)", json_path)
    metadata = read_json(json_path)
    if not isinstance(metadata, dict) or metadata.get("format") != METADATA_FORMAT:
        raise SquatError(f"not squatcli model metadata (no \"format\": \"{METADATA_FORMAT}\")", json_path)
    missing = [k for k, (required, _, _) in METADATA_FIELDS.items() if required and k not in metadata]
    if missing:
        raise SquatError(f"model metadata lacks {', '.join(missing)}", json_path)
    for key, (_, valid, expected) in METADATA_FIELDS.items():
        if key in metadata and not valid(metadata[key]):
            shown = json.dumps(metadata[key])
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise SquatError(f"model metadata {key!r} must be {expected}, got {shown}", json_path)
    if tuple(metadata["classes"]) != CLASS_KEYS:
        raise SquatError(f"model was trained for classes {metadata['classes']}, expected {list(CLASS_KEYS)}",
                         json_path)  # fmt: skip
    if metadata["window"] != WINDOW or metadata["features"].get("n") != N_FEATURES:
        raise SquatError(f"model reads {metadata['window']}-frame windows of {metadata['features'].get('n')} "
                         f"features, expected {WINDOW} x {N_FEATURES}", json_path)  # fmt: skip
    return metadata


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
