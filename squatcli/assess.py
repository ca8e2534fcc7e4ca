"""The end-to-end assessment: any input (video, joints .npz, paper JSON clip) -> class probabilities, a verdict
at the model's stored Youden threshold, per-rep measurements and, for rep models, a verdict per rep.

The model: for a bundled kind (`cnn`, the default, or `lstm`) the first of models.BUNDLED[kind] whose inputs the
input can give (a video or a joints .npz with feet: the rep model with foot points; a 19-joint .npz: the rep model
without; a paper .json clip, which holds distances only: the clip model on the 171 distances); the output names it.
Rows are 300-frame windows (clip models) or the reps the input shows (rep models, inputs.compute). The
video-level probabilities are the mean over rows; the verdict is GOOD FORM when their P(good) is at or above
the model's threshold, otherwise NEEDS WORK, and the main fault is the most probable of the faults. Each rep a rep
model judges gets the same rule on its own probabilities.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from squatcli.datasets import read_joints_npz, read_paper_json
from squatcli.errors import SquatError
from squatcli.features import clip_features, normalise
from squatcli.files import require_input_file
from squatcli.skeleton import DEFAULT_STRIDE, FPS, GOOD, WINDOW, squat_class
from squatcli.video import VIDEO_SUFFIXES, require_duration, resample_to_fps

INPUT_SUFFIXES = VIDEO_SUFFIXES | {".npz", ".json"}
SCHEMA_VERSION = 3  # 3: camera_view an object (yaw, planes shown); 2: per-rep verdicts, the model's inputs and classes


@dataclass
class Motion:
    """An input brought to the common form: normalised features at 30 fps, and joints (and feet) where the input
    has them."""

    path: Path
    kind: str  # "video" | "joints" | "paper-json"
    features: np.ndarray  # (T, 171) body-scale normalised, 30 fps
    joints: np.ndarray | None = None  # (T, 19, 3) metres at 30 fps
    confidence: np.ndarray | None = None
    extraction: Any = None  # pose.Extraction for videos
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    feet: np.ndarray | None = None  # (T, 4, 3) heels and toe tips at 30 fps
    view: float | None = None  # yaw to the camera of a monocular input (camera.view_yaw); None: a 3D source
    image: Any = None  # camera.ImageLandmarks of a monocular input at 30 fps: what its camera really measured


def rule_out(probs: np.ndarray, ranges: np.ndarray | None) -> np.ndarray:
    """(N, K) probabilities with the faults each row's measurements rule out (`ranges` < 0, (N, K): reps.range_mask)
    set to 0 and the rest rescaled to sum to 1: the classifier's belief given what was measured."""
    if ranges is None or not np.any(ranges < 0):
        return probs
    kept = np.where(ranges < 0, 0.0, np.asarray(probs, dtype=np.float64))
    return (kept / kept.sum(axis=1, keepdims=True)).astype(np.float32)


def judged(clf: Any, arrays: dict[str, np.ndarray], ranges: np.ndarray | None = None) -> np.ndarray:
    """(N, K) the probabilities a verdict reads: the network's, the faults the measurements rule out removed when the
    model was calibrated so (its metadata's `rules_out`), then its calibration of P(good)."""
    from squatcli.models import calibrate

    raw = clf.predict(arrays, calibrated=False)
    if clf.metadata.get("rules_out"):
        raw = rule_out(raw, ranges)
    return calibrate(raw, *clf.calibration, made=clf.made)


def measured_only(clf: Any) -> tuple[str, ...]:
    """The faults a model reading measurements so (a rep model: its metadata's `rules_out`) judges by their
    measurements alone (reps.range_only_faults of its classes), so that a measurement far out of its range is never
    overruled by GOOD."""
    from squatcli.reps import range_only_faults

    if not clf.metadata.get("rules_out"):
        return ()
    return range_only_faults(clf.classes)


def confirmed_by(clf: Any, ranges: np.ndarray | None) -> tuple[int, ...]:
    """Indices of the faults one row's measurements (`ranges`, (K,)) confirm, for a model that reads them so."""
    if ranges is None or not clf.metadata.get("rules_out"):
        return ()
    return tuple(int(i) for i in np.flatnonzero(np.asarray(ranges) > 0))


def verdict(probs: np.ndarray, threshold: float, unseen: tuple[int, ...] = (), confirmed: tuple[int, ...] = (),
            measured: int = 0, flags: np.ndarray | None = None) -> tuple[bool, int | None]:  # fmt: skip
    """(good, index of the main fault or None) of one probability row: good if P(good) >= threshold and no fault is
    confirmed, by the measurements (`confirmed`: reps.range_verdicts) or by a made class's flag (`flags`, (K,):
    Classifier.flags, reached by a fault the view can show); else the most probable of the confirmed faults if any,
    otherwise of all faults but the made ones, leaving out the `unseen` ones (faults the view cannot show) unless
    all are. `measured` faults judged by measurement alone (measured_only) follow the K classes as indices
    K.. K+measured-1: they have no probability, so a confirmed one is named after every confirmed class."""
    faults = np.concatenate([np.asarray(probs, dtype=float), np.zeros(measured)])
    made = np.zeros(len(faults), bool)
    if flags is not None:
        made[: len(flags)] = np.isfinite(flags)
        flagged = made[: len(flags)] & (faults[: len(flags)] >= flags)
        confirmed = tuple(sorted(set(confirmed) | {int(k) for k in np.flatnonzero(flagged) if k not in unseen}))
    if faults[GOOD] >= threshold and not confirmed:
        return True, None
    faults[GOOD] = -np.inf
    if confirmed:
        faults[[i for i in range(len(faults)) if i not in confirmed]] = -np.inf
    else:
        faults[made] = -np.inf
        if any(k not in unseen for k in np.flatnonzero(np.isfinite(faults))):
            faults[list(unseen)] = -np.inf
    return False, int(np.argmax(faults))


@dataclass
class Assessment:
    """What `squat assess` says about one input; `to_dict` is the documented JSON object."""

    motion: Motion
    model: str
    threshold: float
    spans: np.ndarray  # (N, 2) first and last frame of each row (window or rep)
    row_probs: np.ndarray  # (N, K) calibrated probabilities per row
    classes: tuple[str, ...]
    window: str = "clip"  # "clip" (10 s windows) or "rep" (one row per judged rep)
    inputs: str = ""  # what the model read, in words
    reps: Any = None  # reps.RepReport, or None for inputs without joints
    rep_rows: list[int] = field(default_factory=list)  # rep models: index into reps.reps of each row
    seconds: dict[str, float] = field(default_factory=dict)
    ranges: np.ndarray | None = None  # (N, K + E) int8 per row: faults its measurements rule out (-1) or confirm (+1)
    measured_only: tuple[str, ...] = ()  # E faults with a range (reps.FAULT_RANGES) the model has no class for
    flags: np.ndarray | None = None  # (K,) the made classes' flags (Classifier.flags), None for a model without any

    @property
    def keys(self) -> tuple[str, ...]:
        """The faults a verdict can name: the model's classes, then those only measurements judge."""
        return self.classes + self.measured_only

    @property
    def probabilities(self) -> np.ndarray:
        """(K,) the video-level aggregate: mean over rows."""
        return self.row_probs.mean(axis=0)

    @property
    def unseen(self) -> tuple[int, ...]:
        """Indices (into `keys`) of the faults the input's camera view cannot show (reps.unseen_classes)."""
        from squatcli.reps import unseen_indices

        return unseen_indices(self.keys, self.motion.view)

    @property
    def confirmed(self) -> tuple[int, ...]:
        """Indices (into `keys`) of the faults the measurements confirm in at least half of the judged reps
        (reps.FAULT_RANGES)."""
        if self.ranges is None or not len(self.ranges):
            return ()
        return tuple(int(i) for i in np.flatnonzero((self.ranges > 0).mean(axis=0) >= 0.5))

    @property
    def good(self) -> bool:
        return self._verdict(self.probabilities, self.confirmed)[0]

    @property
    def main_fault(self) -> str | None:
        """The main fault when the verdict is NEEDS WORK: of the faults the measurements confirm or a flag names,
        else of those the view can show, the most probable."""
        fault = self._verdict(self.probabilities, self.confirmed)[1]
        return None if fault is None else self.keys[fault]

    def _verdict(self, probs: np.ndarray, confirmed: tuple[int, ...]) -> tuple[bool, int | None]:
        return verdict(probs, self.threshold, self.unseen, confirmed, len(self.measured_only), self.flags)

    def flagged(self, probs: np.ndarray) -> list[str]:
        """The made classes whose flag `probs` reach (named, if the view shows them)."""
        if self.flags is None:
            return []
        return [c for c, p, f in zip(self.classes, probs, self.flags) if np.isfinite(f) and p >= f]

    @property
    def verdict_text(self) -> str:
        return "GOOD FORM" if self.good else f"NEEDS WORK: {squat_class(self.main_fault).name.lower()}"

    def rep_verdicts(self) -> dict[int, dict]:
        """Rep models: per judged rep (index into reps.reps), its verdict, main fault and probabilities."""
        out = {}
        for row, k in enumerate(self.rep_rows):
            said = np.zeros(len(self.keys), np.int8) if self.ranges is None else self.ranges[row]
            good, fault = self._verdict(self.row_probs[row], tuple(int(i) for i in np.flatnonzero(said > 0)))
            out[k] = {"verdict": "good" if good else "needs_work",
                      "main_fault": None if fault is None else self.keys[fault],
                      "probabilities": self._named(self.row_probs[row]),
                      "ruled_out": [c for c, v in zip(self.keys, said) if v < 0],
                      "confirmed": [c for c, v in zip(self.keys, said) if v > 0],
                      "flagged": self.flagged(self.row_probs[row])}  # fmt: skip
        return out

    def _named(self, probs: np.ndarray) -> dict[str, float]:
        return {c: round(float(p), 4) for c, p in zip(self.classes, probs)}

    def to_dict(self) -> dict:
        fault = self.main_fault
        m = self.motion
        reps = None
        if self.reps is not None:
            reps = self.reps.to_dict()
            verdicts = self.rep_verdicts()
            for k, rep in enumerate(reps["reps"]):
                rep["judged"] = k in verdicts
                rep.update(verdicts.get(k, {"verdict": None, "main_fault": None, "probabilities": None, "ruled_out": [],
                                            "confirmed": [], "flagged": []}))  # fmt: skip
        return {
            "schema": SCHEMA_VERSION,
            "input": str(m.path),
            "ok": True,
            "kind": m.kind,
            "model": self.model,
            "model_inputs": self.inputs,
            "classes": list(self.classes),
            "threshold": round(self.threshold, 4),
            "verdict": "good" if self.good else "needs_work",
            "verdict_text": self.verdict_text,
            "main_fault": fault,
            "measured_only": list(self.measured_only),
            "flags": {} if self.flags is None else {c: round(float(f), 4) for c, f in zip(self.classes, self.flags) if np.isfinite(f)},
            "cue": squat_class(fault or "good").cue,
            "probabilities": self._named(self.probabilities),
            "frames": len(m.features),
            "duration_s": round(len(m.features) / FPS, 3),
            "judged_by": "reps" if self.window == "rep" else "windows",
            "camera_view": camera_view(m.view),
            "windows": [
                {"start_s": round(a / FPS, 3), "end_s": round((b + 1) / FPS, 3), "probabilities": self._named(probs)}
                for (a, b), probs in zip(self.spans, self.row_probs)
            ],  # fmt: skip
            "reps": reps,
            "pose": None if m.extraction is None else m.extraction.summary(),
            "notes": list(m.notes),
            "timings": {k: round(v, 3) for k, v in (m.seconds | self.seconds).items()},
        }


def camera_view(yaw: float | None) -> dict | None:
    """The JSON view of a monocular input: its yaw, its name and how much of each body plane the picture shows (None
    for a 3D source)."""
    if yaw is None:
        return None
    from squatcli.reps import hidden_planes, plane_visibility, view_name

    return {"yaw_deg": round(yaw, 1), "name": view_name(yaw),
            "shows": {k: round(v, 3) for k, v in plane_visibility(yaw).items()}, "not_measured": list(hidden_planes(yaw))}  # fmt: skip


def failure(path: Path, error: Exception) -> dict:
    """The JSON object for an input that could not be assessed."""
    return {"schema": SCHEMA_VERSION, "input": str(path), "ok": False, "error": str(error)}


def expand_inputs(paths: list[Path]) -> list[Path]:
    """Files to assess: each path itself, or for a folder the supported files inside it (recursively, sorted).

    A FIFO or other non-regular entry with a supported name is listed too, to be refused by name like any input."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if not p.is_dir() and p.suffix.lower() in INPUT_SUFFIXES)
            found += inside or [path]  # an empty folder stays, to fail with a clear message
        else:
            found.append(path)
    return found


def check_input(path: Path) -> Path:
    """`path` if it is a regular readable file of a kind squat assess reads (by its suffix); otherwise a
    SquatError naming it. Cheap (no file is opened): run on every input before any model loads."""
    path = Path(path)
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            raise SquatError("folder cannot be read (permission denied)", path)
        raise SquatError("folder holds no video, .npz or .json input", path)
    require_input_file(path)
    if path.suffix.lower() not in INPUT_SUFFIXES:
        raise SquatError(f"unsupported input type '{path.suffix.lower() or path.name}' (expected a video, .npz or .json)", path)
    return path


def load_motion(path: Path, stride: int | None = DEFAULT_STRIDE, progress=None) -> Motion:
    """Read any supported input and bring it to 30 fps normalised features (+ joints and feet where available)."""
    path = check_input(path)
    suffix = path.suffix.lower()
    start = time.perf_counter()
    joints = confidence = dist = extraction = feet = image = None
    monocular = False
    notes: list[str] = []
    if suffix == ".npz":
        clip = read_joints_npz(path)
        kind, joints = "joints", resample_to_fps(clip.joints, clip.fps)
        confidence = None if clip.confidence is None else resample_to_fps(clip.confidence, clip.fps)
        feet = None if clip.feet is None else resample_to_fps(clip.feet, clip.fps)
        monocular = clip.monocular
        image = _image_of(clip)
        if abs(clip.fps - FPS) > 1e-6:
            notes.append(f"resampled from {clip.fps:g} fps to {FPS} fps")
    elif suffix == ".json":
        kind, dist = "paper-json", read_paper_json(path)
        notes.append("paper-format clips hold distances only: no per-rep measurements")
    else:  # a video (check_input knows the suffix)
        from squatcli.pose import extract_video

        extraction = extract_video(path, stride=stride, progress=progress)
        kind, joints, confidence = "video", extraction.clip.joints, extraction.clip.confidence
        feet = extraction.clip.feet
        monocular = extraction.clip.monocular
        image = _image_of(extraction.clip)
        notes += [f"no person for {b - a:.1f} s from {a:.1f} s (interpolated)" for a, b in extraction.long_gaps]
        notes += extraction.notes
    seconds = {"pose_s": extraction.seconds} if extraction else {"read_s": time.perf_counter() - start}
    require_duration(len(joints if joints is not None else dist), path)
    t = time.perf_counter()
    try:  # the distances of the joints, divided by the body scale: what clip models read
        features = normalise(dist) if joints is None else clip_features(joints)
    except ValueError as e:
        raise SquatError(str(e), path) from None
    seconds["features_s"] = time.perf_counter() - t
    view = None
    if monocular:
        from squatcli.camera import ImageLandmarks, view_yaw
        from squatcli.reps import VIEW_NOTES, view_name

        if image is None:  # an older extraction: its camera-aligned world landmarks, seen square on
            image = ImageLandmarks(joints[..., :2] * [1, -1], None if feet is None else feet[..., :2] * [1, -1], 1.0,
                                   measured=False)
            notes.append("this .npz holds no image landmarks (an older `squat extract`): the model read the picture "
                         "from its world landmarks, seen square on")  # fmt: skip
        view = view_yaw(joints, image if image.measured else None)
        notes += [VIEW_NOTES[view_name(view)]] if view_name(view) in VIEW_NOTES else []
    return Motion(path, kind, features, joints, confidence, extraction, notes, seconds, feet, view, image)


def _image_of(clip) -> Any:
    """The camera.ImageLandmarks of a monocular clip at 30 fps, or None if it has none."""
    if clip.image_xy is None:
        return None
    from squatcli.camera import ImageLandmarks

    feet = None if clip.image_feet is None else resample_to_fps(clip.image_feet, clip.fps)
    return ImageLandmarks(resample_to_fps(clip.image_xy, clip.fps), feet, clip.aspect)


def assess_motion(motion: Motion, model: Any = "cnn", cache: dict | None = None) -> Assessment:
    """Score a motion with the model `model` (a bundled kind, name or path, see the module doc for the choice; or
    a loaded models.Classifier) and measure its reps. `cache` (name -> loaded Classifier) spares reloading models across a batch."""
    from squatcli.inputs import compute
    from squatcli.models import load_for
    from squatcli.reps import measure_reps

    t = time.perf_counter()
    clf = load_for(model, motion.joints, motion.feet, cache)
    load_s = time.perf_counter() - t
    reps, reps_s = None, 0.0
    if motion.joints is not None:
        t = time.perf_counter()
        try:
            reps = measure_reps(motion.joints, FPS, motion.confidence, motion.feet, view=motion.view, ground=ground_of(motion))
        except ValueError as e:  # degenerate joints (e.g. all at one point) cannot be measured
            raise SquatError(f"cannot measure reps: {e}", motion.path) from None
        reps_s = time.perf_counter() - t
    t = time.perf_counter()
    try:
        mi = compute(clf.inputs, features=motion.features, joints=motion.joints, feet=motion.feet,
                     confidence=motion.confidence, report=reps, view=motion.view, image=motion.image)  # fmt: skip
    except ValueError as e:
        raise SquatError(f"model {clf.name}: {e}", motion.path) from None
    ranges, extra = None, measured_only(clf)
    if clf.inputs.window == "rep" and clf.metadata.get("rules_out"):  # what each rep's measurements say of the faults
        from squatcli.reps import range_mask

        ranges = np.stack([range_mask(mi.report.reps[k].values, clf.classes + extra) for k in mi.rep_rows])
    k = len(clf.classes)
    probs = mi.per_rep(judged(clf, mi.arrays, None if ranges is None else np.repeat(ranges[:, :k], mi.views, axis=0)))
    model_s = time.perf_counter() - t
    notes = list(mi.notes)
    if clf.inputs.window == "clip" and len(motion.features) < WINDOW:
        notes.append(f"clip is {len(motion.features) / FPS:.1f} s; padded to {WINDOW / FPS:.0f} s by ping-pong "
                     "repetition (the model reads 10 s windows)")  # fmt: skip
    if model in ("cnn", "lstm") and clf.name != model:
        notes.append(f"judged by the bundled model {clf.name} ({clf.inputs.describe()}): this input lacks what "
                     f"the {model} model reads")  # fmt: skip
    motion.notes += notes
    rep_rows = list(mi.rep_rows)
    if mi.report is not None and mi.report is not reps:  # judged from a report of its own (no usable rep)
        reps, rep_rows = mi.report, list(mi.rep_rows)
    return Assessment(motion, clf.name, clf.threshold, mi.spans, probs, clf.classes, clf.inputs.window,
                      clf.inputs.describe(), reps, rep_rows,
                      {"model_load_s": load_s, "model_s": model_s, "reps_s": reps_s}, ranges, extra,
                      clf.flags)  # fmt: skip


def ground_of(motion: Motion) -> np.ndarray | None:
    """The body in a frame fixed to the floor or the camera, where walking shows (reps.walking): a monocular
    input's image landmarks, or 3D joints whose hips move (not hip-centred); None when there is neither."""
    from squatcli.reps import fixed_frame

    if motion.view is not None:
        return motion.image.plane()[0] if motion.image is not None and motion.image.measured else None
    return motion.joints if fixed_frame(motion.joints) else None


def assess(path: Path, model: Any = "cnn", stride: int | None = DEFAULT_STRIDE, progress=None, cache: dict | None = None) -> Assessment:
    """One input, end to end."""
    start = time.perf_counter()
    result = assess_motion(load_motion(path, stride, progress), model, cache)
    result.seconds["total_s"] = time.perf_counter() - start
    return result
