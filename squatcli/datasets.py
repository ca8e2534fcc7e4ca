"""Data on disk: the paper's JSON dataset, joints `.npz` clips, labelled datasets in memory and their splits.

Formats
* Paper dataset (Ogata et al. 2019, "Pose_Dataset"): `<root>/<class folder>/1115_3djoints_index/<MMDD>_squat_<NNNNNN>.json`,
  each file `{"0": {"index": 0, "3d_joint": [171 floats]}, ...}`: per frame the 171 joint distances (≈ metres).
  An optional `<root>/manifest.csv` (columns `path,subject`, path relative to root) gives each clip's subject,
  which `split="subject"` needs; the synthetic corpus writes one, the published dataset (one person) has none.
  A corpus written by `squat synth` also holds `<root>/corpus.json`, the generator and its parameters
  (see `corpus_source`).
* Joints clip `.npz`: `joints` (T, 19, 3) float32 metres, `fps` scalar, optional `confidence` (T, 19) in [0, 1],
  `feet` (T, 4, 3) (heels and toe tips, skeleton.FEET), `label` (class key) and `monocular` (True: seen by one
  camera, in its frame, z its depth axis). Written by `squat extract`, accepted by every command in place of a
  video.
* Real reps (Chariar et al. 2023, "AI Trainer"; `read_real_reps`): `<root>/data.csv` (`filename` and one-hot
  class columns) and `<root>/mediapipe/<filename>.npy`, one cut rep each: (T, 57) = 19 triangulated MediaPipe
  points x (x, y, z), y down, rows of -1 where there is no pose (the published files pad the rep with them).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from squatcli.errors import SquatError
from squatcli.features import body_scale, distances, fit_window, normalise
from squatcli.files import os_reason, read_json, require_input_file, require_input_folder
from squatcli.skeleton import (
    ALL_CLASSES,
    CLASSES,
    FEET,
    FPS,
    MAX_FPS,
    MAX_SECONDS,
    MIN_FPS,
    N_CLASSES,
    N_FEATURES,
    N_FEET,
    N_JOINTS,
    WINDOW,
    J,
    class_index,
)
from squatcli.video import require_max_duration

PAPER_SUBDIR = "1115_3djoints_index"
MANIFEST = "manifest.csv"
CORPUS_INFO = "corpus.json"
CORPUS_KEYS = ("generator", "generator_version", "seed", "clips_per_class", "subjects", "noise")
SYNTHETIC = "synthetic"  # the data spec of the generated corpus (squatcli.synth), in place of a folder
# Model metadata names its training data by kind and fingerprint, never by a path (a folder of one machine):
REAL_NAME = "chariar2023"  # a folder in the real reps' layout (Chariar et al. 2023)
PAPER_NAME = "ogata2019"  # a folder in the paper's layout (Ogata et al. 2019's Pose_Dataset) that squat synth did not write
# What to pass for each, when a model trained on it is evaluated without --data:
DATA_NEEDED = {
    REAL_NAME: "the real reps of Chariar et al. 2023, which do not ship with squatcli: pass the folder holding "
               "their data.csv and mediapipe/ with --data DIR",
    PAPER_NAME: "a dataset in the paper's layout (Ogata et al. 2019's Pose_Dataset), which does not ship with "
                "squatcli: pass its root folder with --data DIR",
}  # fmt: skip
SPLITS = ("random", "subject")  # 80/10/10 over clips (stratified, the paper's) or over people or sessions
AUTO_SPLIT = "auto"  # by subject where the data records subjects, random otherwise (train.resolve_split)


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same suffix); move it into place only if the block succeeds.

    So no command ever leaves a partial output file behind, whatever goes wrong. Writing that fails (a full
    disk) is a SquatError naming `path`: "cannot be written (no space left on device)".
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, default_mode(0o666))  # mkstemp makes 0600; give the file the permissions a plain open() would
    try:
        with _write_errors({Path(tmp): path}):
            yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def _write_errors(targets: dict[Path, Path]) -> Iterator[None]:
    """An OSError while writing the temporary files `targets` (tmp -> final path) as a SquatError naming the
    final file (the one the error names, else the first); errors about other files (an input) pass unchanged."""
    try:
        yield
    except OSError as e:
        named = None if e.filename is None else Path(e.filename)
        if named is not None and named not in targets:
            raise
        target = targets.get(named, next(iter(targets.values())))
        raise SquatError(f"cannot be written ({os_reason(e)})", target) from None


@contextlib.contextmanager
def atomic_outputs(*paths: str | Path) -> Iterator[tuple[Path, ...]]:
    """`atomic_output` for files that belong together (a model and its metadata): yields one temporary path per
    file; when the block succeeds all of them are moved into place, and if any move fails the ones already moved
    are undone, so the files there before are left as they were."""
    targets = [Path(p) for p in paths]
    tmps: list[Path] = []
    try:
        for path in targets:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
            os.close(fd)
            os.chmod(tmp, default_mode(0o666))
            tmps.append(Path(tmp))
        with _write_errors(dict(zip(tmps, targets))):
            yield tuple(tmps)
        _replace_together(tmps, targets)
    finally:
        for tmp in tmps:
            if tmp.exists():
                tmp.unlink()


def _replace_together(tmps: list[Path], targets: list[Path]) -> None:
    """Move each tmp onto its target; if a move fails, undo the ones done (an old file is kept as a hard link
    until all moves succeeded)."""
    moved: list[tuple[Path, Path | None]] = []  # (target, the hard link to its old file, or None if it was new)
    backups: list[Path] = []
    try:
        for tmp, target in zip(tmps, targets):
            backup = None
            if target.is_file():
                backup = target.with_name(f".{target.name}.{os.getpid()}.old")
                try:
                    os.link(target, backup)
                except OSError:  # a file system without hard links
                    shutil.copy2(target, backup)
                backups.append(backup)
            os.replace(tmp, target)
            moved.append((target, backup))
    except BaseException:
        for target, backup in reversed(moved):
            if backup is not None:
                os.replace(backup, target)
            else:
                target.unlink()
        raise
    finally:
        for backup in backups:
            if backup.exists():
                backup.unlink()


def default_mode(base: int) -> int:
    """`base` (0o666 for files, 0o777 for folders) less the process umask: what a plain open() or mkdir() gives."""
    umask = os.umask(0)
    os.umask(umask)
    return base & ~umask


def to_json(data, indent: int | None = None) -> str:
    """JSON text with NaN and infinities as null, so every program can parse what squatcli prints or saves."""

    def clean(value):
        if isinstance(value, float):
            return value if np.isfinite(value) else None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, np.generic):
            return clean(value.item())
        if isinstance(value, np.ndarray):
            return clean(value.tolist())
        return value

    return json.dumps(clean(data), indent=indent, allow_nan=False)


# ---- joints .npz -------------------------------------------------------------------------------------------


@dataclass
class JointsClip:
    """A pose sequence: (T, 19, 3) joints in metres (y up), its frame rate, optional confidence, label and (T, 4, 3)
    foot points. A joint that the source lacks (the real reps have no eyes, ears or head top) is NaN throughout.
    A monocular clip (one camera, `squat extract`) also keeps what the camera really measured: the (T, 19, 2) and
    (T, 4, 2) image landmarks (x / width, y / height, y down) and the picture's `aspect` (height / width)."""

    joints: np.ndarray
    fps: float
    confidence: np.ndarray | None = None
    label: str | None = None
    feet: np.ndarray | None = None
    monocular: bool = False  # seen by one camera (squat extract): what lies along its depth axis is a guess
    image_xy: np.ndarray | None = None
    image_feet: np.ndarray | None = None
    aspect: float | None = None

    @property
    def duration(self) -> float:
        return len(self.joints) / self.fps


def write_joints_npz(path: str | Path, clip: JointsClip) -> None:
    """Write a joints clip atomically (see the module doc for the keys)."""
    data = joints_npz_bytes(clip)
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def joints_npz_bytes(clip: JointsClip) -> bytes:
    """A joints clip as the bytes of its .npz, made in memory (~30 MB for an hour), so a disk that fills up fails
    one plain write instead of a zip archive half written (whose clean-up then fails again)."""
    arrays: dict[str, np.ndarray] = {
        "joints": np.asarray(clip.joints, dtype=np.float32),
        "fps": np.float32(clip.fps),
    }
    if clip.confidence is not None:
        arrays["confidence"] = np.asarray(clip.confidence, dtype=np.float32)
    if clip.feet is not None:
        arrays["feet"] = np.asarray(clip.feet, dtype=np.float32)
    if clip.label is not None:
        arrays["label"] = np.array(clip.label)
    if clip.monocular:
        arrays["monocular"] = np.bool_(True)
    if clip.image_xy is not None:
        arrays["image_xy"] = np.asarray(clip.image_xy, dtype=np.float32)
        arrays["image_aspect"] = np.float32(clip.aspect)
    if clip.image_feet is not None:
        arrays["image_feet"] = np.asarray(clip.image_feet, dtype=np.float32)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


NPZ_KEYS = ("joints", "fps", "confidence", "label", "feet", "monocular", "image_xy", "image_feet",
            "image_aspect")  # the only arrays of a joints .npz read  # fmt: skip
MAX_NPZ_ARRAY_BYTES = 256 * 2**20  # per array: ~580,000 frames of float64 joints, far over MAX_SECONDS at 30 fps
MAX_COORDINATE = 1e6  # metres; larger joint coordinates are not a person (and overflow in float32 distances)
MIN_BODY_SCALE = 0.01  # metres: a body whose rigid segments average less (an adult's: ~0.35 m) is not a person


def read_npz_arrays(path: str | Path, keys: tuple[str, ...],
                    max_bytes: int = MAX_NPZ_ARRAY_BYTES) -> tuple[dict[str, np.ndarray], list[str]]:  # fmt: skip
    """(the arrays named `keys` that an .npz holds, the names of all it holds). Other arrays are never
    decompressed, and each one read is refused before reading if its header declares more than `max_bytes`;
    pickled (object) arrays are refused too."""
    path = require_input_file(path, "joints .npz file")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise SquatError(f"not a readable .npz file ({type(e).__name__})", path) from None
    arrays = {}
    with archive:
        members = {name.removesuffix(".npy"): name for name in archive.namelist()}
        for key in keys:
            if key not in members:
                continue
            try:
                with archive.open(members[key]) as f:
                    version = np.lib.format.read_magic(f)
                    shape, _, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                                       else np.lib.format.read_array_header_2_0(f))  # fmt: skip
                size = int(np.prod(shape, dtype=np.float64) * dtype.itemsize)
                if dtype.hasobject:
                    raise SquatError(f"{key!r} holds Python objects (pickle); refusing to load it", path)
                if size > max_bytes:
                    raise SquatError(f"{key!r} declares {size / 1e6:,.0f} MB (shape {shape}); at most "
                                     f"{max_bytes / 1e6:,.0f} MB is read", path)  # fmt: skip
                with archive.open(members[key]) as f:
                    arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
            except SquatError:
                raise
            except Exception as e:  # zip, zlib, CRC and npy format errors all mean "not a joints file"
                raise SquatError(f"not a readable .npz file ({type(e).__name__} in {key!r})", path) from None
    return arrays, sorted(members)


def read_joints_npz(path: str | Path) -> JointsClip:
    """Read and validate a joints clip; any problem is a SquatError naming the file."""
    path = Path(path)
    contents, present = read_npz_arrays(path, NPZ_KEYS)
    for key in ("joints", "fps"):
        if key not in contents:
            raise SquatError(f"missing key {key!r} (has {present or 'nothing'})", path)
    joints = contents["joints"]
    if joints.ndim != 3 or joints.shape[1:] != (N_JOINTS, 3) or len(joints) == 0:
        raise SquatError(f"'joints' must have shape (T, {N_JOINTS}, 3), got {joints.shape}", path)
    if joints.dtype.kind not in "iuf" or not np.all(np.isfinite(joints)):
        raise SquatError("'joints' contains NaN, infinite or non-numeric values", path)
    largest = float(np.abs(joints).max())
    if largest > MAX_COORDINATE:
        raise SquatError(f"'joints' holds coordinates up to {largest:.3g}; joints are in metres and must stay within "
                         f"±{MAX_COORDINATE:g}", path)  # fmt: skip
    fps = contents["fps"]
    if fps.size != 1 or fps.dtype.kind not in "iuf" or not np.isfinite(float(fps)) or float(fps) <= 0:
        raise SquatError(f"'fps' must be one positive number, got {fps.tolist()!r}", path)
    if not MIN_FPS <= float(fps) <= MAX_FPS:
        raise SquatError(f"'fps' is {float(fps):g}; a joints clip must be sampled at {MIN_FPS:g} to {MAX_FPS:g} "
                         "frames per second", path)  # fmt: skip
    require_max_duration(len(joints) / float(fps), path)
    require_body_size(joints, path)
    confidence = contents.get("confidence")
    if confidence is not None:
        if confidence.shape != joints.shape[:2]:
            raise SquatError(f"'confidence' must have shape {joints.shape[:2]}, got {confidence.shape}", path)
        if confidence.dtype.kind not in "iuf" or not np.all(np.isfinite(confidence)):
            raise SquatError("'confidence' contains NaN, infinite or non-numeric values", path)
        if confidence.min() < 0 or confidence.max() > 1:
            raise SquatError(f"'confidence' holds values from {confidence.min():.3g} to {confidence.max():.3g}; a "
                             "confidence is from 0 to 1", path)  # fmt: skip
    feet = contents.get("feet")
    if feet is not None:
        if feet.shape != (len(joints), N_FEET, 3):
            raise SquatError(f"'feet' must have shape ({len(joints)}, {N_FEET}, 3), got {feet.shape}", path)
        if feet.dtype.kind not in "iuf" or not np.all(np.isfinite(feet)) or np.abs(feet).max() > MAX_COORDINATE:
            raise SquatError(f"'feet' contains NaN, infinite, non-numeric or out-of-range (beyond ±{MAX_COORDINATE:g}) "
                             "values", path)  # fmt: skip
        feet = feet.astype(np.float32)
    label = contents.get("label")
    if label is not None:
        if label.size != 1:
            raise SquatError(f"'label' must be one class name, got shape {label.shape}", path)
        label = str(label.reshape(()))
        try:
            label = ALL_CLASSES[class_index(label, ALL_CLASSES)].key
        except KeyError as e:
            raise SquatError(str(e.args[0]), path) from None
    monocular = contents.get("monocular")
    if monocular is not None and (monocular.size != 1 or monocular.dtype.kind not in "biu"):
        raise SquatError(f"'monocular' must be one boolean, got {monocular.tolist()!r}", path)
    image_xy, image_feet, aspect = _image_landmarks(contents, len(joints), feet is not None, path)
    return JointsClip(joints.astype(np.float32), float(fps), confidence, label, feet,
                      bool(monocular) if monocular is not None else False, image_xy, image_feet, aspect)  # fmt: skip


MAX_IMAGE_COORDINATE = 100.0  # image landmarks are fractions of the picture; a person may step a little outside it


def _image_landmarks(contents: dict[str, np.ndarray], frames: int, feet: bool, path: Path):
    """(image_xy, image_feet, aspect) of a joints .npz, checked: all three or none (image_feet only with feet)."""
    xy, xy_feet, aspect = contents.get("image_xy"), contents.get("image_feet"), contents.get("image_aspect")
    if xy is None and xy_feet is None and aspect is None:
        return None, None, None
    if xy is None or aspect is None:
        raise SquatError("'image_xy' and 'image_aspect' go together (the image landmarks and the picture's shape)", path)
    if aspect.size != 1 or aspect.dtype.kind not in "iuf" or not 0.1 <= float(aspect) <= 10:
        raise SquatError(f"'image_aspect' must be one number from 0.1 to 10 (height / width), got {aspect.tolist()!r}", path)
    for key, arr, points in (("image_xy", xy, N_JOINTS), ("image_feet", xy_feet, N_FEET)):
        if arr is None:
            continue
        if arr.shape != (frames, points, 2):
            raise SquatError(f"{key!r} must have shape ({frames}, {points}, 2), got {arr.shape}", path)
        if arr.dtype.kind not in "iuf" or not np.all(np.isfinite(arr)) or np.abs(arr).max() > MAX_IMAGE_COORDINATE:
            raise SquatError(f"{key!r} contains NaN, infinite, non-numeric or out-of-range (beyond ±{MAX_IMAGE_COORDINATE:g} "
                             "picture widths) values", path)  # fmt: skip
    if feet and xy_feet is None:
        raise SquatError("'image_feet' is missing: a clip with 'feet' and 'image_xy' needs both", path)
    return xy.astype(np.float32), None if xy_feet is None else xy_feet.astype(np.float32), float(aspect)


def require_body_size(joints: np.ndarray, path: Path) -> None:
    """Refuse joints whose body is implausibly small (MIN_BODY_SCALE): not metres. What is measured in them
    (thresholds in metres, float32 precision) would not be the same motion at a person's size."""
    try:
        scale = body_scale(distances(joints[:: max(1, len(joints) // 1000)]))  # a median: 1,000 frames tell it
    except ValueError:  # all joints at one point: refused by name where the distances are normalised
        return
    if scale < MIN_BODY_SCALE:
        raise SquatError(f"'joints' describe a body whose rigid segments average {scale:.3g} m (an adult's: about "
                         f"0.35 m); joints are in metres, and a body under {MIN_BODY_SCALE * 100:g} cm is not a "
                         "person", path)  # fmt: skip


# ---- the paper's JSON -------------------------------------------------------------------------------------


MAX_PAPER_FRAMES = round(MAX_SECONDS * FPS)  # the one-hour bound of every input, at the paper's 30 fps
_NUMBER_TYPES = {int, float}  # JSON numbers; not bool (a subclass of int), not strings


def read_paper_json(path: str | Path) -> np.ndarray:
    """One clip in the paper's JSON format -> (T, 171) distances, float64 exactly as stored, frames in index order.

    Each frame's numbers become an array as soon as the parser has read them, and a clip over MAX_PAPER_FRAMES
    is refused there: an hours-long file is never held as Python floats (about 24 bytes each) all at once."""
    path = Path(path)
    count = [0]

    def compact(obj: dict) -> dict:
        values = obj.get("3d_joint")
        if isinstance(values, list) and set(map(type, values)) <= _NUMBER_TYPES:
            count[0] += 1
            if count[0] > MAX_PAPER_FRAMES:
                raise SquatError(f"clip holds over {MAX_PAPER_FRAMES:,} frames; at most {MAX_SECONDS:,.0f} s at "
                                 f"{FPS} fps is accepted", path)  # fmt: skip
            try:
                obj["3d_joint"] = np.array(values, dtype=np.float64)
            except OverflowError:  # an integer beyond float64: left as a list, refused below
                pass
        return obj

    data = read_json(path, object_hook=compact)
    if not isinstance(data, dict) or not data:
        raise SquatError('expected an object of frames {"0": {"index": 0, "3d_joint": [...]}, ...}', path)
    frames = sorted(((_frame_index(key, frame, path), _frame_values(key, frame, path)) for key, frame in data.items()),
                    key=lambda frame: frame[0])
    dist = np.stack([values for _, values in frames])
    if not np.all(np.isfinite(dist)):
        raise SquatError("'3d_joint' contains NaN or infinite values", path)
    if np.any(dist < 0):
        first = int(np.flatnonzero((dist < 0).any(axis=1))[0])
        raise SquatError(f"'3d_joint' holds negative distances (first in frame {first}); a distance is never negative",
                         path)  # fmt: skip
    return dist


def _frame_values(key: str, frame, path: Path) -> np.ndarray:
    """A paper frame's 171 distances (made an array by read_paper_json when they were all JSON numbers)."""
    if not isinstance(frame, dict) or "3d_joint" not in frame:
        raise SquatError(f"frame {key!r} has no '3d_joint' list", path)
    values = frame["3d_joint"]
    if isinstance(values, list) and len(values) == N_FEATURES:
        raise SquatError(f"frame {key!r}: '3d_joint' holds a non-numeric value (a string, true/false, null, or an "
                         "integer too large for a float)", path)  # fmt: skip
    if not isinstance(values, np.ndarray) or values.shape != (N_FEATURES,):
        n = len(values) if isinstance(values, (list, np.ndarray)) else type(values).__name__
        raise SquatError(f"frame {key!r}: '3d_joint' must hold {N_FEATURES} numbers, got {n}", path)
    return values


def _frame_index(key: str, frame, path: Path) -> int:
    """A paper frame's `index` (its key when it has none): a whole number, not true/false or a fraction."""
    index = frame.get("index", key) if isinstance(frame, dict) else key
    if isinstance(index, float) and not np.isfinite(index):  # "index": 1e999 reads as infinity
        raise SquatError(f"frame {key!r} has an infinite index", path)
    if isinstance(index, bool) or (isinstance(index, float) and not index.is_integer()):
        raise SquatError(f"frame {key!r} has an index that is not a whole number ({json.dumps(index)})", path)
    try:
        return int(index)
    except (TypeError, ValueError):
        raise SquatError(f"frame {key!r} has a non-numeric index", path) from None


def paper_json_text(dist: np.ndarray) -> str:
    """The paper's JSON for (T, 171) distances (frames numbered from 0)."""
    dist = np.asarray(dist, dtype=np.float64)
    if dist.ndim != 2 or dist.shape[1] != N_FEATURES:
        raise ValueError(f"distances must have shape (T, {N_FEATURES}), got {dist.shape}")
    return json.dumps({str(i): {"index": i, "3d_joint": row.tolist()} for i, row in enumerate(dist)})


def write_paper_json(path: str | Path, dist: np.ndarray) -> None:
    """Write one clip in the paper's JSON format, atomically."""
    text = paper_json_text(dist)
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def paper_clip_path(root: str | Path, label: int, number: int, date: str = "1115") -> Path:
    """Where clip `number` of class `label` lives in the paper's layout."""
    return Path(root) / CLASSES[label].folder / PAPER_SUBDIR / f"{date}_squat_{number:06d}.json"


# ---- real reps (Chariar et al. 2023) ------------------------------------------------------------------------

REAL_CSV, REAL_POSES = "data.csv", "mediapipe"
REAL_CITATION = ("M. Chariar, S. Rao, A. Irani, S. Suresh, C. S. Asha, \"AI Trainer: Autoencoder Based Approach for "
                 "Squat Analysis and Correction\", IEEE Access 11:107135-107149, 2023, doi:10.1109/ACCESS.2023.3316009")
# The data's classes -> squatcli's. Both kinds of good squat are good form. Heels lifting is the paper's "knees
# too far forward" (its folder: bad_toe): the knees travel past the toes and the heels come up, the pattern the
# synthetic knees_forward fault draws and whose cue is "keep your heels down". Bending forward (the trunk folding
# over, the hips hinging, little knee bend) and toes lifting (the weight rocked back onto the heels) are not
# among the paper's seven: they have their own classes (skeleton.EXTRA_CLASSES).
REAL_CLASSES: dict[str, str] = {
    "olympic squat": "good", "powerlifting squat": "good", "knees caving": "knees_in", "no depth": "shallow",
    "bending forward": "forward_lean", "heels lifting": "knees_forward", "toes lifting": "toes_up",
}  # fmt: skip
# Its 19 points (MediaPipe landmarks 0, 9-16, 23-32): squatcli joint (or foot point) of each; the mouth corners
# are not used. Neck = shoulder midpoint as everywhere; eyes, ears and head top are missing (NaN).
REAL_POINTS: dict[int, str] = {
    0: "nose", 3: "l_shoulder", 4: "r_shoulder", 5: "l_elbow", 6: "r_elbow", 7: "l_wrist", 8: "r_wrist",
    9: "l_hip", 10: "r_hip", 11: "l_knee", 12: "r_knee", 13: "l_ankle", 14: "r_ankle",
    15: "l_heel", 16: "r_heel", 17: "l_toe", 18: "r_toe",
}  # fmt: skip
REAL_FPS = 30.0


@dataclass
class ClipSet:
    """Labelled pose clips before featurisation: one class key per clip and a group (subject or session) for
    splits. `single_rep`: every clip is one cut rep (a dataset of reps), not a recording of several."""

    clips: list[JointsClip]
    ids: list[str]
    groups: np.ndarray
    source: str
    single_rep: bool = False
    unit: str = "m"
    faults: list[np.ndarray] | None = None  # synthetic clips: per-frame amount of the clip's fault (SynthClip.fault)
    made: list[bool] | None = None  # per clip: a fault made from a good clip by faults.py (not a real faulty one)

    def __len__(self) -> int:
        return len(self.clips)


def check_data_spec(spec: str) -> None:
    """`synthetic` or a dataset folder that exists and can be read; checked before anything heavy loads."""
    if spec != SYNTHETIC:
        require_input_folder(Path(spec).expanduser(), "dataset folder")


def is_real_reps_folder(root: str | Path) -> bool:
    """Whether `root` holds data in the real-reps layout (data.csv beside a mediapipe/ folder)."""
    root = Path(root)
    return (root / REAL_CSV).is_file() and (root / REAL_POSES).is_dir()


def real_pose(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 57) or (T, 19, 3) real-layout points (y down) -> (T, 19, 3) squatcli joints (y up) and (T, 4, 3) feet.

    y and z are negated together (a rotation by 180 degrees about x, so distances and handedness are kept)."""
    points = np.asarray(points, dtype=np.float64).reshape(len(points), 19, 3) * np.array([1.0, -1.0, -1.0])
    joints = np.full((len(points), N_JOINTS, 3), np.nan)
    feet = np.empty((len(points), N_FEET, 3))
    for k, name in REAL_POINTS.items():
        if name in FEET:
            feet[:, FEET.index(name)] = points[:, k]
        else:
            joints[:, J[name]] = points[:, k]
    joints[:, J["neck"]] = 0.5 * (points[:, 3] + points[:, 4])
    return joints, feet


def read_real_rep(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One real rep `.npy` -> (T, 19, 3) joints and (T, 4, 3) feet, y up.

    Accepts the published form (float64 (300, 57) padded with rows of -1) and the trimmed float32 form: rows
    that are all -1 are missing frames; those at the ends are dropped, those inside are interpolated."""
    path = Path(path)
    if not path.exists():
        raise SquatError("no such file (listed in data.csv)", path)
    try:
        points = np.load(require_input_file(path, "real rep .npy file"), allow_pickle=False)
    except SquatError:
        raise
    except Exception as e:
        raise SquatError(f"not a readable .npy file ({type(e).__name__})", path) from None
    if points.ndim != 2 or points.shape[1] != 57 or not np.issubdtype(points.dtype, np.number):
        raise SquatError(f"expected (T, 57) numbers (19 points x 3), got {points.shape} {points.dtype}", path)
    points = points.astype(np.float64)
    missing = np.all(points == -1, axis=1) | ~np.all(np.isfinite(points), axis=1)
    missing |= _implausible(points, ~missing)
    seen = np.flatnonzero(~missing)
    if len(seen) < 2:
        raise SquatError("holds fewer than 2 frames with a pose", path)
    points, missing = points[seen[0] : seen[-1] + 1], missing[seen[0] : seen[-1] + 1]
    if missing.any():  # a frame without a pose inside the rep: linear interpolation in time
        t = np.arange(len(points))
        points[missing] = np.stack([np.interp(t[missing], t[~missing], col) for col in points[~missing].T], 1)
    return real_pose(points)


REAL_MAX_REACH = 5.0  # a body point further than this many shank lengths from the hips is a triangulation failure


def _implausible(points: np.ndarray, posed: np.ndarray) -> np.ndarray:
    """(T,) frames of real-layout points with a point implausibly far from the hip midpoint (REAL_MAX_REACH
    shank lengths, the median over the `posed` frames): a few reps hold frames where triangulation failed, with
    points metres away."""
    p = points.reshape(len(points), 19, 3)
    hips = 0.5 * (p[:, 9] + p[:, 10])
    shanks = 0.5 * (np.linalg.norm(p[:, 11] - p[:, 13], axis=-1) + np.linalg.norm(p[:, 12] - p[:, 14], axis=-1))
    shank = np.median(shanks[posed]) if posed.any() else 0.0
    with np.errstate(invalid="ignore"):
        return np.linalg.norm(p - hips[:, None], axis=-1).max(axis=1) > REAL_MAX_REACH * shank


def real_group(filename: str) -> str:
    """The recording date (DDMMYYYY) in `recording_DDMMYYYY_HHMMSS`: the only grouping the data records (people
    are not identified), or the name itself when it does not follow that pattern."""
    parts = filename.split("_")
    return parts[1] if len(parts) == 3 and parts[1].isdigit() and len(parts[1]) == 8 else filename


def read_real_reps(root: str | Path, progress: Callable[[int, int], None] | None = None) -> ClipSet:
    """A folder in the real-reps layout -> its reps as labelled clips (REAL_CLASSES), grouped by recording date.

    Units are the stereo calibration's (a shin is ~23 units), not metres: everything models read is free of scale.
    """
    root = Path(root)
    csv_path = require_input_file(root / REAL_CSV, "class table")
    try:
        with open(csv_path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise SquatError(f"cannot read the class table ({type(e).__name__})", csv_path) from None
    columns = set(rows[0]) if rows else set()
    if "filename" not in columns or not set(REAL_CLASSES) <= columns:
        raise SquatError(f"expected columns filename, {', '.join(REAL_CLASSES)}", csv_path)
    clips, ids, groups = [], [], []
    for k, row in enumerate(rows):
        try:
            hot = [name for name in REAL_CLASSES if float(row[name]) == 1.0]
        except (TypeError, ValueError):
            hot = []
        if len(hot) != 1:
            raise SquatError(f"row {k + 2} ({row.get('filename')}) must have exactly one class column set to 1",
                             csv_path)  # fmt: skip
        name = row["filename"]
        joints, feet = read_real_rep(root / REAL_POSES / f"{name}.npy")
        clips.append(JointsClip(joints, REAL_FPS, None, REAL_CLASSES[hot[0]], feet))
        ids.append(name)
        groups.append(real_group(name))
        if progress:
            progress(k + 1, len(rows))
    if not clips:
        raise SquatError("the class table lists no reps", csv_path)
    return ClipSet(clips, ids, np.array(groups), f"real reps {root.resolve()}", single_rep=True,
                   unit="stereo calibration units")  # fmt: skip


# ---- labelled datasets ------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """Labelled rows ready for a model: its `inputs` (input name -> (N, ...) array; a plain array means the clip
    windows (N, 300, 171) of the paper's road, input `features`, also `x`), `y` (N,) indices into `classes`, a group per row
    (`subjects`: person or session, when known), for mixed data the `origin` of each row, and for rows seen through
    a camera (image-plane rep inputs) its `yaw` to the body (camera.Camera.yaw)."""

    inputs: dict[str, np.ndarray]
    y: np.ndarray
    ids: list[str]
    subjects: np.ndarray | None = None  # (N,) subject or session per row, when known
    source: str = ""
    classes: tuple[str, ...] = tuple(c.key for c in CLASSES)
    origin: np.ndarray | None = None  # (N,) e.g. "real" / "synthetic" for mixed data
    yaw: np.ndarray | None = None  # (N,) degrees, NaN for a row not seen through a camera
    ranges: np.ndarray | None = None  # (N, K) int8: what each row's rep measurements say of each class (reps.range_mask)

    def __post_init__(self):
        if not isinstance(self.inputs, dict):
            self.inputs = {"features": self.inputs}

    @property
    def x(self) -> np.ndarray:
        """The clip windows (N, 300, 171) of data for the paper's road (input `features`)."""
        return self.inputs["features"]

    @x.setter
    def x(self, value: np.ndarray) -> None:
        self.inputs["features"] = value

    def __len__(self) -> int:
        return len(self.y)

    @property
    def made(self) -> np.ndarray:
        """(N,) bool: rows of a fault made from a real good rep (faults.with_transformed marks their ids)."""
        from squatcli.faults import MADE_MARK

        return np.array([MADE_MARK in i for i in self.ids], dtype=bool)

    def subset(self, idx: np.ndarray) -> "Dataset":
        idx = np.asarray(idx, dtype=int)
        pick = lambda a: None if a is None else a[idx]  # noqa: E731
        return Dataset({k: v[idx] for k, v in self.inputs.items()}, self.y[idx], [self.ids[i] for i in idx],
                       pick(self.subjects), self.source, self.classes, pick(self.origin), pick(self.yaw),
                       pick(self.ranges))  # fmt: skip

    def fingerprint(self) -> str:
        """sha256 (first 16 hex digits) of the inputs and labels: identifies the data a model saw."""
        h = hashlib.sha256()
        for name in sorted(self.inputs):
            h.update(np.ascontiguousarray(self.inputs[name], dtype=np.float32).tobytes())
        h.update(np.asarray(self.y, dtype=np.int64).tobytes())
        if tuple(self.classes) != tuple(c.key for c in CLASSES):
            h.update(",".join(self.classes).encode())
        return h.hexdigest()[:16]


def concat_datasets(parts: list[Dataset], source: str) -> Dataset:
    """Rows of several datasets with the same inputs as one, labels re-indexed into the union of their classes
    (in ALL_CLASSES order) and each row's `origin` kept (a part without one is named by its index)."""
    keys = [c.key for c in ALL_CLASSES if any(c.key in d.classes for d in parts)]
    names = set(parts[0].inputs)
    if any(set(d.inputs) != names for d in parts):
        raise SquatError("the datasets to mix give different model inputs")
    y = np.concatenate([np.array([keys.index(d.classes[i]) for i in d.y], dtype=np.int64) for d in parts])
    groups = None
    if all(d.subjects is not None for d in parts):
        groups = np.concatenate([d.subjects.astype(str) for d in parts])
    origin = np.concatenate([d.origin if d.origin is not None else np.full(len(d), str(k)) for k, d in enumerate(parts)])
    yaw = np.concatenate([d.yaw if d.yaw is not None else np.full(len(d), np.nan) for d in parts])
    ranges = None
    if any(d.ranges is not None for d in parts):  # columns into the union of the classes (unknown: nothing said)
        ranges = np.concatenate([np.zeros((len(d), len(keys)), np.int8) if d.ranges is None else
                                 d.ranges[:, [d.classes.index(k) if k in d.classes else 0 for k in keys]]
                                 * np.array([k in d.classes for k in keys], np.int8) for d in parts])  # fmt: skip
    return Dataset({n: np.concatenate([d.inputs[n] for d in parts]) for n in names}, y,
                   [i for d in parts for i in d.ids], groups, source, tuple(keys), origin, yaw, ranges)  # fmt: skip


def find_paper_clips(root: str | Path) -> list[tuple[Path, int]]:
    """All (json path, class index) under a dataset root in the paper's layout, sorted; errors if none."""
    root = require_input_folder(root, "dataset folder")
    clips = []
    for label, c in enumerate(CLASSES):
        folder = root / c.folder
        if folder.is_dir():
            clips += [(p, label) for p in sorted(folder.rglob("*.json"))]
    if not clips:
        folders = ", ".join(CLASSES[i].folder for i in range(N_CLASSES))
        raise SquatError(f"no clips found: expected <class>/{PAPER_SUBDIR}/*.json under class folders {folders}", root)
    return clips


def read_manifest_subjects(root: Path) -> dict[str, str] | None:
    """`manifest.csv` (path relative to root -> subject id), or None if the dataset has none."""
    manifest = root / MANIFEST
    if not manifest.exists():
        return None
    try:
        with open(require_input_file(manifest), newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as e:
        raise SquatError(f"not a readable CSV file ({type(e).__name__})", manifest) from None
    if rows and not {"path", "subject"} <= set(rows[0]):
        raise SquatError("manifest needs columns 'path' and 'subject'", manifest)
    return {r["path"]: r["subject"] for r in rows}


def corpus_source(info: dict) -> str:
    """`Dataset.source` of a synthetic corpus, from its parameters (a `synth.corpus_info` dict): the same string
    whether the corpus was generated in memory (`synth.load_synthetic`) or written by `squat synth` and read
    back, so evaluation recognises a model's training corpus. A clean corpus (noise=False, `squat synth --clean`)
    holds other clips than the noisy one with the same seed, so its source differs."""
    text = (f"synthetic(clips_per_class={info['clips_per_class']}, subjects={info['subjects']}, "
            f"seed={info['seed']}, v{info['generator_version']}")  # fmt: skip
    return text + ("" if info["noise"] else ", clean") + ")"


def read_corpus_info(root: Path) -> dict | None:
    """`corpus.json` of a written synthetic corpus (its generator and parameters), or None if there is none."""
    path = root / CORPUS_INFO
    if not path.exists():
        return None
    info = read_json(path)
    missing = [k for k in CORPUS_KEYS if not isinstance(info, dict) or k not in info]
    if missing:
        raise SquatError(f"corpus description lacks {', '.join(missing)}", path)
    return info


def load_paper_dataset(root: str | Path, progress: Callable[[int, int], None] | None = None) -> Dataset:
    """Read a dataset in the paper's layout into normalised 300-frame windows (one per clip).

    Each clip is truncated to 300 frames or padded with the same policy as every other path (features.fit_window).
    The source is the folder, or for a synthetic corpus with a corpus.json, its `corpus_source`.
    """
    root = Path(root)
    clips = find_paper_clips(root)
    corpus = read_corpus_info(root)
    subjects_by_path = read_manifest_subjects(root)
    x = np.empty((len(clips), WINDOW, N_FEATURES), dtype=np.float32)
    y = np.empty(len(clips), dtype=np.int64)
    ids, subjects = [], []
    for k, (path, label) in enumerate(clips):
        dist = read_paper_json(path)
        try:
            x[k] = fit_window(normalise(dist))
        except ValueError as e:
            raise SquatError(str(e), path) from None
        y[k] = label
        rel = path.relative_to(root).as_posix()
        ids.append(rel)
        if subjects_by_path is not None:
            if rel not in subjects_by_path:
                raise SquatError(f"clip {rel} is not listed in {MANIFEST}", root)
            subjects.append(subjects_by_path[rel])
        if progress:
            progress(k + 1, len(clips))
    subj = None if subjects_by_path is None else np.array(subjects)
    return Dataset(x, y, ids, subj, source=str(root) if corpus is None else corpus_source(corpus))


def split_random(y: np.ndarray, seed: int, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)):
    """Stratified random split of clip indices into (train, val, test), the paper's 80/10/10."""
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[], [], []]
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_val = max(1, round(fractions[1] * len(idx))) if len(idx) >= 3 and fractions[1] > 0 else 0
        n_test = max(1, round(fractions[2] * len(idx))) if len(idx) >= 3 and fractions[2] > 0 else 0
        parts[1] += idx[:n_val].tolist()
        parts[2] += idx[n_val : n_val + n_test].tolist()
        parts[0] += idx[n_val + n_test :].tolist()
    return tuple(np.array(sorted(p), dtype=int) for p in parts)


def split_by_subject(subjects: np.ndarray | None, seed: int, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)):
    """Split clip indices into (train, val, test) so that no subject appears in two parts."""
    return split_by_group(subjects, None, seed, fractions)


def split_by_group(
    groups: np.ndarray | None,
    good: np.ndarray | None,
    seed: int,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    origin: np.ndarray | None = None,
):
    """(train, val, test) row indices with no group (subject or recording session) in two parts.

    Each origin of mixed data (real reps, synthetic corpus) is split on its own, so every part holds some of
    each. Where `good` (N,) is given, the groups are re-drawn (up to 100 times, from the seed) until the
    validation and test parts each hold good and faulty rows, as the threshold and the test need both; data
    where no draw manages it keeps the first draw. A fraction of 0 gives an empty part.
    """
    if groups is None:
        raise SquatError("this dataset records no subjects (no manifest.csv), so it cannot be split by subject; "
                         "use --split random")  # fmt: skip
    groups = np.asarray(groups).astype(str)
    origin = np.zeros(len(groups), dtype=int) if origin is None else np.asarray(origin)
    parts: list[list[np.ndarray]] = [[], [], []]
    for k, o in enumerate(np.unique(origin)):
        rows = np.flatnonzero(origin == o)
        people = np.unique(groups[rows])
        if len(people) < 3:
            raise SquatError(f"a subject split needs at least 3 subjects, this dataset has {len(people)}")
        n_val = max(1, round(fractions[1] * len(people))) if fractions[1] > 0 else 0
        n_test = max(1, round(fractions[2] * len(people))) if fractions[2] > 0 else 0
        rng = np.random.default_rng(seed if k == 0 else [seed, k])
        first = None
        for _ in range(100):
            order = rng.permutation(people)
            chosen = (order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test])
            split = [rows[np.isin(groups[rows], g)] for g in chosen]
            first = first or split
            if good is None or all(len(part) == 0 or 0 < good[part].sum() < len(part) for part in split[1:]):
                break
        else:
            split = first
        for part, idx in zip(parts, split):
            part.append(idx)
    return tuple(np.sort(np.concatenate(p)).astype(int) for p in parts)
