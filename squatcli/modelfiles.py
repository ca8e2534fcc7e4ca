"""A model's files on disk, checked without TensorFlow or ONNX Runtime: where a bundled model lives, its metadata and
the fingerprints of its weights. `check_model` runs every check the files that `squat assess` and `evaluate` read
can fail before anything heavy loads (so `squat assess -m typo` answers at once); `models.load_model` runs it
first, then ONNX Runtime. `check_keras` does the same for the Keras network (training, `squat export`).

A model is three files (`ModelFiles`): `NAME.keras` (the Keras network: to train on, inspect or export from),
`NAME.onnx` (the same network as an ONNX graph: what assessing and evaluating run) and `NAME.json` (the metadata).
The metadata records the sha256 of each weights file under `weights` (`{"keras_sha256": ..., "onnx_sha256": ...}`),
so a damaged or replaced weights file, or one paired with another model's metadata, is refused instead of
mislabelling. Metadata written before a fingerprint existed has no record for that file: it loads unchecked.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any, NamedTuple

from squatcli.errors import SquatError
from squatcli.files import read_json, require_input_file
from squatcli.inputs import PAPER_INPUTS, InputSpec
from squatcli.skeleton import ALL_CLASS_KEYS, CLASS_KEYS, MODEL_KINDS, N_FEATURES, WINDOW

DEFAULT_MODEL = "cnn"
METADATA_FORMAT = "squatcli-model"
METADATA_VERSION = 2  # 2: `inputs`, any classes, `calibration`; 1 (no `inputs`): clip windows, the paper's 7 classes
MAX_CALIBRATION = 100.0  # Platt a in (0, this], |b| at most this: larger is no fitted calibration, and overflows

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
    """The files of a bundled model name (`cnn`, `cnn-nofeet`, ...) or of a path with or without one of the
    suffixes; a SquatError for a name that names no file (``, `.`, `/`)."""
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
    if path.suffix in MODEL_SUFFIXES:
        path = path.with_suffix("")
    if path.name in ("", ".", ".."):
        raise SquatError(f"is not a model: give {', '.join(MODEL_KINDS)}, a bundled name ({', '.join(bundled_names())}) "
                         "or the path of a trained model (NAME, for NAME.onnx and NAME.json)",
                         repr(text) if not text.strip() else text)  # fmt: skip
    return _files(path)


def _files(stem: Path) -> ModelFiles:
    return ModelFiles(*(stem.with_name(stem.name + suffix) for suffix in MODEL_SUFFIXES))


def candidates(name: str) -> tuple[str, ...]:
    """The models `squat assess -m NAME` may use, in order: for a bundled kind (`cnn`) its bundled models (the first
    each input can feed judges it), else NAME alone (a bundled name or a path)."""
    return BUNDLED[name] if name in BUNDLED and not Path(name).exists() else (name,)


def first_candidate(name: str) -> str:
    """The model `squat assess -m NAME` tries first: for a bundled kind (`cnn`) its first bundled model, else NAME."""
    return candidates(name)[0]


def fingerprint(name: str) -> str:
    """The sha256 of what decides the results of `squat assess -m NAME`: the metadata of each of its candidates
    (which records the sha256 of its ONNX graph under `weights`; metadata without that record adds the graph's own
    sha256), so that another model, a retrained one or another threshold changes it. A candidate without files
    counts as absent. Cheap: reads the small metadata files (and only older models' graphs)."""
    digest = hashlib.sha256()
    for candidate in candidates(name):
        try:
            files = model_paths(candidate)
            text = files.json.read_bytes()
        except (SquatError, OSError):
            digest.update(f"{candidate}: absent\n".encode())
            continue
        digest.update(hashlib.sha256(text).hexdigest().encode())
        try:
            recorded = (json.loads(text).get("weights") or {}).get(weights_key(files.onnx))
        except (ValueError, AttributeError):
            recorded = None
        if not recorded and files.onnx.is_file():
            digest.update(file_sha256(files.onnx).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def check_model(name_or_path: str | Path) -> tuple[ModelFiles, dict[str, Any]]:
    """(the model's files, its metadata) once every check the files a model runs from (NAME.onnx and NAME.json)
    can fail without ONNX Runtime has passed: the metadata valid (`check_metadata`), the graph a regular, readable
    file whose sha256 is the one the metadata records. NAME.keras is not needed (nor read) to run a model."""
    files = model_paths(name_or_path)
    metadata = read_metadata(files.json)
    if not files.onnx.exists():
        raise SquatError(f"no such model file (write it from {files.keras.name} with `squat export "
                         f"{files.onnx.with_suffix('')}`)", files.onnx)  # fmt: skip
    check_weights(require_input_file(files.onnx, "model file"), files.json, metadata)
    return files, metadata


def check_keras(files: ModelFiles, metadata: dict[str, Any]) -> None:
    """Every check NAME.keras can fail before Keras reads it (training on a model, `squat export`): a regular,
    readable file, a sound zip archive holding a Keras model, its sha256 the one the metadata records."""
    if not files.keras.exists():
        raise SquatError("no such model file", files.keras)
    check_keras_archive(require_input_file(files.keras, "model file"))
    check_weights(files.keras, files.json, metadata)


# ---- the weights' fingerprint ---------------------------------------------------------------------------------


def weights_key(path: str | Path) -> str:
    """The `weights` key that records a weights file's sha256: `keras_sha256` for NAME.keras, `onnx_sha256`
    for NAME.onnx."""
    return f"{Path(path).suffix.lstrip('.').lower()}_sha256"


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_weights(weights_path: Path, json_path: Path, metadata: dict[str, Any]) -> None:
    """Refuse a weights file whose sha256 is not the one its metadata records (a damaged or replaced file, another
    model's weights, or another model's metadata); metadata without a record for this kind of file is not
    checked."""
    recorded = metadata.get("weights", {}).get(weights_key(weights_path))
    if recorded is not None and file_sha256(weights_path) != recorded:
        again = (f"; `squat export {weights_path.with_suffix('')}` writes it again from {weights_path.stem}.keras"
                 if weights_path.suffix == ".onnx" else "")  # fmt: skip
        raise SquatError(f"does not belong with {json_path.name}: its sha256 is not the one that metadata records "
                         f"for its weights ({recorded[:12]}...): a damaged or replaced file, or the two files come "
                         f"from different models{again}", weights_path)  # fmt: skip


# ---- the .keras archive and the metadata -----------------------------------------------------------------------


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


def _is_fingerprints(value: Any) -> bool:
    """`weights`: an object of `<suffix>_sha256` -> 64 hex digits."""
    return isinstance(value, dict) and all(
        isinstance(k, str) and k.endswith("_sha256") and isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v)
        for k, v in value.items()
    )  # fmt: skip


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
    "weights": (False, _is_fingerprints, "an object of <suffix>_sha256 -> 64 hex digits"),
}


def read_metadata(json_path: Path) -> dict[str, Any]:
    """A model's metadata, validated (`check_metadata`) when the model loads, so a bad file fails there in one
    line, never later while assessing or evaluating."""
    if not json_path.exists():
        raise SquatError("no such model metadata file (every model needs its NAME.json)", json_path)
    metadata = read_json(json_path)
    try:
        check_metadata(metadata)
    except (ValueError, TypeError) as e:
        raise SquatError(str(e), json_path) from None
    return metadata


def spec_of(metadata: dict[str, Any]) -> InputSpec:
    """The inputs a model reads, from its metadata (version 1 models, without `inputs`, read clip windows)."""
    return InputSpec.from_dict(metadata["inputs"]) if "inputs" in metadata else PAPER_INPUTS


def check_metadata(metadata: Any) -> None:
    """ValueError unless `metadata` is squatcli model metadata this version can run: known classes including
    good, inputs it can compute, a threshold in [0, 1], finite calibration parameters, statistics per input
    channel."""
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
    if len(set(classes)) != len(classes) or classes[:1] != ["good"] or not set(classes) <= set(ALL_CLASS_KEYS):
        raise ValueError(f"model was trained for classes {classes!r}; expected good first, then some of "
                         f"{', '.join(ALL_CLASS_KEYS[1:])}")  # fmt: skip
    if "inputs" not in metadata and classes != list(CLASS_KEYS):
        raise ValueError(f"model was trained for classes {classes}, expected {list(CLASS_KEYS)}")
    spec = spec_of(metadata)
    features = metadata["features"]
    if spec.window == "clip" and (metadata["window"] != WINDOW or features.get("n") != N_FEATURES):
        raise ValueError(f"model reads {metadata['window']}-frame windows of {features.get('n')} "
                         f"features, expected {WINDOW} x {N_FEATURES}")  # fmt: skip
    _check_calibration(metadata.get("calibration", {}))
    _check_standardisation(metadata.get("standardisation", {}), spec.shapes())


def _check_calibration(calibration: dict[str, Any]) -> None:
    """Platt a in (0, MAX_CALIBRATION] and |b| <= MAX_CALIBRATION (what `metrics.fit_calibration` can give)."""
    a, b = calibration.get("a", 1.0), calibration.get("b", 0.0)
    if not (_is_number(a) and _is_number(b) and 0 < a <= MAX_CALIBRATION and abs(b) <= MAX_CALIBRATION):
        raise ValueError(f"calibration 'a' must be a number in (0, {MAX_CALIBRATION:g}] and 'b' one in "
                         f"[-{MAX_CALIBRATION:g}, {MAX_CALIBRATION:g}], got {json.dumps(a)[:20]} and {json.dumps(b)[:20]}")


def _check_standardisation(stats: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> None:
    """Per model input, a `mean` and a `std` (>= 0) of finite numbers, one per channel."""
    for name, v in stats.items():
        channels = shapes.get(name, (None,))[-1]
        ok = name in shapes and isinstance(v, dict)
        for key in ("mean", "std"):
            values = v.get(key) if ok else None
            ok = ok and isinstance(values, list) and len(values) == channels and all(map(_is_number, values))
        if not ok or min(v["std"], default=0) < 0:
            raise ValueError(f"'standardisation' must give a mean and a std (>= 0) of finite numbers per channel of "
                             f"each model input ({', '.join(f'{k}: {s[-1]}' for k, s in shapes.items())}); "
                             f"{name!r} does not")  # fmt: skip
