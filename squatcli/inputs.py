"""What a model reads, and the one function that computes it from any pose input (training, evaluation,
assessment and annotation all call `compute`).

An `InputSpec` names a model's inputs; it is stored in the model's metadata (`inputs`):

* `clip` windows (the paper's road): the clip's 171 body-scale-normalised joint distances per frame, in 300-frame
  (10 s) windows, hop 150, short clips ping-pong padded (features.windows). One Keras input, `features`
  (N, 300, 171). A model trained on the paper's dataset reads exactly this.
* `rep` windows: each rep found by reps.py, resampled to `rep_frames` frames (time-normalised, so tempo and frame
  rate drop out), with per-frame channels from reps.FRAME_CHANNELS (+ reps.FOOT_CHANNELS) as the Keras input
  `frames` (N, rep_frames, C), and the rep's measurements (reps.MEASUREMENTS, the very numbers `squat assess`
  reports) as the input `measures` (N, M). One row per rep, so the model gives a verdict per rep.

Both rep channels and rep measurements are angles and ratios against the body's own vertical (reps.estimate_up)
and its own segment lengths: free of camera position, body size and units, so MediaPipe video, motion capture, the
triangulated real reps and the synthetic corpus all read alike. They need the hips, knees, ankles, shoulders and
nose (`REP_JOINTS`), not the eyes, ears or head top (which the real reps lack); the foot channels need feet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from squatcli.features import windows
from squatcli.skeleton import FPS, JOINTS, N_FEATURES, WINDOW

REP_FRAMES = 48  # frames a rep is resampled to: squats are smooth, 48 points keep every phase
REP_JOINTS: tuple[str, ...] = ("nose", "l_shoulder", "r_shoulder", "l_hip", "r_hip", "l_knee", "r_knee",
                               "l_ankle", "r_ankle", "neck")  # fmt: skip
DISTANCES = "distances"  # the paper's 171 per-frame joint distances

# Rep measurements rep models read (names in reps.MEASUREMENTS). The ear-based `head_angle` is not among them:
# the real reps have no ears; `head_pitch` uses the nose instead.
BODY_MEASURES: tuple[str, ...] = (
    "hip_drop", "min_hip_height", "depth", "min_knee_angle", "hip_angle", "trunk_lean", "max_trunk_lean",
    "shank_angle", "max_shank_angle", "thigh_angle", "knee_ankle_width_ratio", "min_knee_ankle_width",
    "knee_hip_width_ratio", "stance_width", "head_pitch", "max_head_pitch",
)  # fmt: skip
FOOT_MEASURES: tuple[str, ...] = ("foot_pitch", "max_foot_pitch", "min_foot_pitch", "max_toe_lift", "max_heel_lift")


@dataclass(frozen=True)
class InputSpec:
    """A model's inputs: `window` "clip" or "rep", per-frame `frames` channels, per-rep `measures`."""

    window: str
    frames: tuple[str, ...]
    measures: tuple[str, ...] = ()
    rep_frames: int = REP_FRAMES

    @property
    def feet(self) -> bool:
        """Whether it needs foot points."""
        from squatcli.reps import FOOT_CHANNELS

        return any(c in FOOT_CHANNELS for c in self.frames) or any(m in FOOT_MEASURES for m in self.measures)

    @property
    def joints(self) -> tuple[str, ...]:
        """The joints it needs (all 19 for distances)."""
        return JOINTS if self.window == "clip" else REP_JOINTS

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Keras input name -> shape of one row."""
        if self.window == "clip":
            return {"features": (WINDOW, N_FEATURES)}
        return {"frames": (self.rep_frames, len(self.frames)), "measures": (len(self.measures),)}

    def describe(self) -> str:
        if self.window == "clip":
            return f"{WINDOW}-frame windows of the {N_FEATURES} joint distances"
        feet = ", foot points" if self.feet else ""
        return f"each rep: {len(self.frames)} angle/ratio channels x {self.rep_frames} frames + {len(self.measures)} measurements{feet}"

    def to_dict(self) -> dict[str, Any]:
        return {"window": self.window, "frames": list(self.frames), "measures": list(self.measures),
                "rep_frames": self.rep_frames, "joints": list(self.joints), "feet": self.feet}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "InputSpec":
        """From model metadata; ValueError if it names something this squatcli cannot compute."""
        from squatcli.reps import FOOT_CHANNELS, FRAME_CHANNELS, MEASUREMENTS

        if not isinstance(d, dict):
            raise ValueError(f"'inputs' must be an object, got {type(d).__name__}")
        window, frames, measures = d.get("window"), d.get("frames"), d.get("measures", [])
        if window not in ("clip", "rep"):
            raise ValueError(f"unknown input window {window!r} (expected clip or rep)")
        if not all(isinstance(v, list) and all(isinstance(c, str) for c in v) for v in (frames, measures)):
            raise ValueError("'inputs' needs lists of names 'frames' and 'measures'")
        known = {DISTANCES} if window == "clip" else set(FRAME_CHANNELS) | set(FOOT_CHANNELS)
        unknown = [c for c in frames if c not in known] + [m for m in measures if m not in MEASUREMENTS]
        if unknown or (window == "clip" and (frames != [DISTANCES] or measures)) or not frames:
            raise ValueError(f"inputs this squatcli cannot compute: {unknown or frames}")
        rep_frames = d.get("rep_frames", REP_FRAMES)
        if not isinstance(rep_frames, int) or not 4 <= rep_frames <= 1000:
            raise ValueError(f"'rep_frames' must be an integer in 4-1000, got {rep_frames!r}")
        return cls(window, tuple(frames), tuple(measures), rep_frames)


PAPER_INPUTS = InputSpec("clip", (DISTANCES,))


def rep_inputs(feet: bool) -> InputSpec:
    """The rep models' inputs: every frame channel and body measure, plus the foot ones when `feet`."""
    from squatcli.reps import FOOT_CHANNELS, FRAME_CHANNELS

    frames = tuple(FRAME_CHANNELS) + (tuple(FOOT_CHANNELS) if feet else ())
    return InputSpec("rep", frames, BODY_MEASURES + (FOOT_MEASURES if feet else ()))


@dataclass
class ModelInput:
    """A spec's inputs for one clip: `arrays` (Keras input name -> (N, ...) float32), the first and last frame each
    row covers, and for rep windows the measured reps (`report`) with the rep each row is (`rep_rows`)."""

    arrays: dict[str, np.ndarray]
    spans: np.ndarray  # (N, 2)
    report: Any = None  # reps.RepReport
    rep_rows: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.spans)


def missing(spec: InputSpec, joints: np.ndarray | None, feet: np.ndarray | None) -> str | None:
    """Why `spec` cannot be computed from an input with these joints and feet (None if it can)."""
    if joints is None:
        return "needs 3D joints (this input holds only joint distances)" if spec.window == "rep" else None
    absent = [n for n in spec.joints if not np.all(np.isfinite(joints[:, JOINTS.index(n)]))]
    if absent:
        return f"needs the joints {', '.join(absent)}, which this input lacks"
    if spec.feet and feet is None:
        return "needs foot points (heels and toes), which this input lacks"
    return None


def compute(
    spec: InputSpec,
    *,
    features: np.ndarray | None = None,
    joints: np.ndarray | None = None,
    feet: np.ndarray | None = None,
    confidence: np.ndarray | None = None,
    report: Any = None,
    single_rep: bool = False,
    view: str | None = None,
) -> ModelInput:
    """The model inputs of one clip at 30 fps: `features` (T, 171) normalised distances for clip windows; `joints`
    (T, 19, 3) (+ `feet`, `confidence`) for rep windows, whose reps are measured here unless `report`
    (reps.measure_reps of these joints) is given; a monocular `view` (reps.camera_view) leaves what lies along the
    camera's depth axis NaN, which the model reads as "unknown" (models.impute). ValueError when the spec cannot
    be computed (`missing`)."""
    if spec.window == "clip":
        if features is None:
            raise ValueError("clip windows need the normalised distances")
        wins, starts = windows(features)
        ends = np.minimum(starts + WINDOW, len(features)) - 1
        return ModelInput({"features": wins}, np.stack([starts, ends], 1))
    from squatcli.reps import measure_reps, rep_seen

    why = missing(spec, joints, feet)
    if why:
        raise ValueError(why)
    notes = []
    if report is None:
        report = measure_reps(joints, FPS, confidence, feet if spec.feet else None, single_rep=single_rep, view=view)
    rows = [k for k, m in enumerate(report.reps) if rep_seen(m.rep, len(joints), report.fps)]
    if not rows:  # no rep with a visible bottom: judge the clip as one rep
        report = measure_reps(joints, FPS, confidence, feet if spec.feet else None, single_rep=True, view=view)
        rows = [0]
        notes.append("no complete rep found: the whole clip was judged as one rep")
    frames = np.empty((len(rows), spec.rep_frames, len(spec.frames)), dtype=np.float32)
    measures = np.empty((len(rows), len(spec.measures)), dtype=np.float32)
    spans = np.empty((len(rows), 2), dtype=int)
    for i, k in enumerate(rows):
        m = report.reps[k]
        frames[i] = rep_frames(report.signals, m.rep.start, m.rep.end, spec)
        measures[i] = [np.nan if m.values.get(name) is None else m.values[name] for name in spec.measures]
        spans[i] = (m.rep.start, m.rep.end)
    return ModelInput({"frames": frames, "measures": measures}, spans, report, rows, notes)


def as_seen(arrays: dict[str, np.ndarray], spec: InputSpec, view: str, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Copies of rep inputs (`compute`'s arrays) as a monocular camera with this view (reps.camera_view) gives
    them: what lies along its depth axis (reps.VIEW_HIDES) NaN, in `rows` (default: all). Training reads real 3D
    reps this way too, so a model knows what to make of a front or side view."""
    from squatcli.reps import VIEW_HIDES

    hidden = VIEW_HIDES.get(view, ())
    rows = slice(None) if rows is None else rows
    out = {k: np.array(v, dtype=np.float32) for k, v in arrays.items()}
    for name, channels in (("frames", spec.frames), ("measures", spec.measures)):
        cols = [i for i, c in enumerate(channels) if c in hidden]
        if cols and name in out:
            block = out[name][rows]
            block[..., cols] = np.nan
            out[name][rows] = block
    return out


def rep_frames(signals: dict[str, np.ndarray], start: int, end: int, spec: InputSpec) -> np.ndarray:
    """(rep_frames, C) the spec's channels over frames start..end, linearly resampled to `rep_frames` points."""
    t = np.linspace(start, end, spec.rep_frames)
    idx = np.arange(start, end + 1)
    return np.stack([np.interp(t, idx, signals[c][start : end + 1]) for c in spec.frames], axis=-1)


def to_dataset(clips, spec: InputSpec, origin: str, progress=None, reps_per_clip: int | None = None):
    """A `datasets.ClipSet` -> `datasets.Dataset` rows of the spec's inputs, through `compute` like every input.

    Clip windows: one row per clip, its first 300 frames or ping-pong padded (features.fit_window, the dataset
    convention). Rep windows: one row per rep; a synthetic clip whose fault shows in only some reps (`faults`)
    labels the others good. Clips of a class only foot points show (skeleton.FEET_CLASSES) are left out when the
    spec has no feet. SquatError, naming the clip, when a clip cannot give the inputs.
    """
    from squatcli.datasets import Dataset
    from squatcli.errors import SquatError
    from squatcli.features import clip_features, fit_window
    from squatcli.video import resample_to_fps

    from squatcli.skeleton import FEET_CLASSES

    unseen = () if spec.feet else FEET_CLASSES  # a fault only foot points show is left out of a model without them
    keys = [c.key for c in _classes_of(clips, spec) if c.key not in unseen]
    rows: dict[str, list[np.ndarray]] = {name: [] for name in spec.shapes()}
    y, ids, groups = [], [], []
    for k, clip in enumerate(clips.clips):
        if clip.label in unseen:
            continue
        joints = resample_to_fps(clip.joints, clip.fps)
        feet = None if clip.feet is None else resample_to_fps(clip.feet, clip.fps)
        why = missing(spec, joints, feet)
        if why:
            raise SquatError(f"clip {clips.ids[k]}: the model inputs ({spec.describe()}) {why}", clips.source)
        if spec.window == "clip":
            rows["features"].append(fit_window(clip_features(joints))[None])
            labels = [clip.label]
        else:
            mi = compute(spec, joints=joints, feet=feet, confidence=None, single_rep=clips.single_rep)
            fault = None if clips.faults is None else resample_to_fps(clips.faults[k], clip.fps)
            amounts = [0.0 if fault is None else _fault_at(fault, mi.report.reps[r].rep) for r in mi.rep_rows]
            keep = np.sort(np.argsort(-np.asarray(amounts), kind="stable")[:reps_per_clip])
            for name, arr in mi.arrays.items():
                rows[name].append(arr[keep])
            labels = [clip.label if fault is None or amounts[i] >= FAULT_SHOWN else "good" for i in keep]
        y += [keys.index(label) for label in labels]
        ids += [clips.ids[k] if len(labels) == 1 else f"{clips.ids[k]}#{r}" for r in range(len(labels))]
        groups += [clips.groups[k]] * len(labels)
        if progress:
            progress(k + 1, len(clips))
    arrays = {name: np.concatenate(parts).astype(np.float32) for name, parts in rows.items()}
    return Dataset(arrays, np.array(y, dtype=np.int64), ids, np.array(groups).astype(str), clips.source, tuple(keys),
                   np.full(len(y), origin))  # fmt: skip


FAULT_SHOWN = 0.5  # a synthetic rep shows its clip's fault when the fault amount at its bottom is at least this


def _fault_at(fault: np.ndarray, rep) -> float:
    """How much of a synthetic clip's fault (SynthClip.fault, per frame) a rep shows at its bottom."""
    lo, hi = max(0, rep.bottom - 3), min(len(fault), rep.bottom + 4)
    return float(np.max(fault[lo:hi]))


def _classes_of(clips, spec: InputSpec):
    """The classes a ClipSet's labels use, in ALL_CLASSES order: for clip windows the paper's seven when they
    suffice (a model on the paper's road predicts its seven classes), else the classes present."""
    from squatcli.skeleton import ALL_CLASSES, CLASSES

    used = {c.label for c in clips.clips} | {"good"}
    if spec.window == "clip" and used <= {c.key for c in CLASSES}:
        return CLASSES
    return tuple(c for c in ALL_CLASSES if c.key in used)
