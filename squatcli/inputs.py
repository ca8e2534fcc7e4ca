"""What a model reads, and the one function that computes it from any pose input (training, evaluation,
assessment and annotation all call `compute`).

An `InputSpec` names a model's inputs; it is stored in the model's metadata (`inputs`):

* `clip` windows (the paper's road): the clip's 171 body-scale-normalised joint distances per frame, in 300-frame
  (10 s) windows, hop 150, short clips ping-pong padded (features.windows). One Keras input, `features`
  (N, 300, 171). A model trained on the paper's dataset reads exactly this.
* `rep` windows: each rep found by reps.py, resampled to `rep_frames` frames (time-normalised, so tempo and frame
  rate drop out), with per-frame channels from reps.FRAME_CHANNELS (+ reps.FOOT_CHANNELS) as the Keras input
  `frames` (N, rep_frames, C), and the rep's measurements (reps.MEASUREMENTS) as the input `measures` (N, M). One
  row per rep and view, so the model gives a verdict per rep. The `plane` they are measured on:
  - `image` (the bundled models): the picture a camera takes (camera.py), i.e. what one camera really measures. A
    video gives its own 2D image landmarks (one view); a 3D source (motion capture, triangulated reps, the
    example clip) is seen through the cameras of camera.RING, one row per camera, and its reps' probabilities
    are the mean over those views. Training sees each 3D rep through random cameras (camera.random_cameras).
  - `world`: the 3D joints as given (MediaPipe's world landmarks for a video, whose depth axis is a guess).
  Reps are found and reported from the 3D or world joints in either case (reps.measure_reps); only the model's
  rows are measured in the image.

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
    "hip_drop", "min_hip_height", "depth", "min_knee_angle", "hip_angle", "trunk_lean", "max_trunk_lean", "trunk_chord",
    "shank_angle", "max_shank_angle", "thigh_angle", "knee_ankle_width_ratio", "min_knee_ankle_width",
    "knee_hip_width_ratio", "stance_width", "head_pitch", "max_head_pitch",
)  # fmt: skip
FOOT_MEASURES: tuple[str, ...] = ("foot_pitch", "max_foot_pitch", "min_foot_pitch", "max_toe_lift", "max_heel_lift")


WORLD, IMAGE = "world", "image"  # what a rep model's channels are measured on (see the module doc)
PLANES = (WORLD, IMAGE)


@dataclass(frozen=True)
class InputSpec:
    """A model's inputs: `window` "clip" or "rep", per-frame `frames` channels, per-rep `measures`, and for rep
    windows the `plane` they are measured on."""

    window: str
    frames: tuple[str, ...]
    measures: tuple[str, ...] = ()
    rep_frames: int = REP_FRAMES
    plane: str = WORLD

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
        where = " as the camera's picture shows them" if self.plane == IMAGE else ""
        return (f"each rep: {len(self.frames)} angle/ratio channels x {self.rep_frames} frames + {len(self.measures)} "
                f"measurements{feet}{where}")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {"window": self.window, "frames": list(self.frames), "measures": list(self.measures),
                "rep_frames": self.rep_frames, "joints": list(self.joints), "feet": self.feet, "plane": self.plane}  # fmt: skip

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
        plane = d.get("plane", WORLD)
        if plane not in PLANES:
            raise ValueError(f"unknown input plane {plane!r} (expected {' or '.join(PLANES)})")
        return cls(window, tuple(frames), tuple(measures), rep_frames, plane)


PAPER_INPUTS = InputSpec("clip", (DISTANCES,))


def rep_inputs(feet: bool, plane: str = IMAGE) -> InputSpec:
    """The rep models' inputs: every frame channel and body measure, plus the foot ones when `feet`, measured on
    `plane`."""
    from squatcli.reps import FOOT_CHANNELS, FRAME_CHANNELS

    frames = tuple(FRAME_CHANNELS) + (tuple(FOOT_CHANNELS) if feet else ())
    return InputSpec("rep", frames, BODY_MEASURES + (FOOT_MEASURES if feet else ()), plane=plane)


@dataclass
class ModelInput:
    """A spec's inputs for one clip: `arrays` (Keras input name -> (N, ...) float32), the first and last frame each
    row covers, and for rep windows the measured reps (`report`) with the rep each row is (`rep_rows`)."""

    arrays: dict[str, np.ndarray]
    spans: np.ndarray  # (N, 2)
    report: Any = None  # reps.RepReport
    rep_rows: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    views: int = 1  # rows per rep: the arrays hold len(spans) x views rows, rep by rep (image plane, 3D source)

    def __len__(self) -> int:
        return len(self.spans)

    def per_rep(self, probs: np.ndarray) -> np.ndarray:
        """(N x views, K) row probabilities -> (N, K): each rep's mean over its views."""
        return probs.reshape(len(self.spans), self.views, -1).mean(axis=1)


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
    view: float | None = None,
    image: Any = None,
    cameras: Any = None,
) -> ModelInput:
    """The model inputs of one clip at 30 fps: `features` (T, 171) normalised distances for clip windows; `joints`
    (T, 19, 3) (+ `feet`, `confidence`) for rep windows, whose reps are measured here unless `report`
    (reps.measure_reps of these joints) is given. A monocular `view` (its yaw, camera.view_yaw) leaves what lies
    along the camera's depth axis unmeasured in the report; a `world` model reads it as "unknown"
    (models.impute). An `image` model reads the reps in `image` (camera.ImageLandmarks of a video) or, for a 3D
    source, as each of `cameras` (default camera.RING) would picture them. ValueError when the spec cannot be
    computed (`missing`)."""
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
    spans = np.array([(report.reps[k].rep.start, report.reps[k].rep.end) for k in rows], dtype=int).reshape(-1, 2)
    if spec.plane == WORLD:
        seen = [(report, rows)]
    else:
        reps = [report.reps[k].rep for k in rows]
        seen = [(measure_reps(points, FPS, None, foot if spec.feet else None, reps=reps), list(range(len(rows))))
                for points, foot in _pictures(joints, feet if spec.feet else None, image, cameras)]  # fmt: skip
    frames = np.empty((len(rows), len(seen), spec.rep_frames, len(spec.frames)), dtype=np.float32)
    measures = np.empty((len(rows), len(seen), len(spec.measures)), dtype=np.float32)
    for v, (measured, keys) in enumerate(seen):
        for i, k in enumerate(keys):
            m = measured.reps[k]
            frames[i, v] = rep_frames(measured.signals, m.rep.start, m.rep.end, spec)
            measures[i, v] = [np.nan if m.values.get(name) is None else m.values[name] for name in spec.measures]
    arrays = {"frames": frames.reshape(-1, *frames.shape[2:]), "measures": measures.reshape(-1, measures.shape[-1])}
    return ModelInput(arrays, spans, report, rows, notes, len(seen))


def _pictures(joints: np.ndarray, feet: np.ndarray | None, image: Any, cameras: Any) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(points, feet) in the image plane (camera.image_plane) of each view an `image` model reads: the clip's own
    image landmarks, or its 3D joints through each camera."""
    from squatcli import camera

    if image is not None:
        return [image.plane()]
    metres, feet_m, _ = camera.to_metres(joints, feet)
    out = []
    for cam in camera.RING if cameras is None else cameras:
        seen = camera.ImageLandmarks(camera.project(metres, cam, metres),
                                     None if feet_m is None else camera.project(feet_m, cam, metres), cam.aspect)  # fmt: skip
        out.append(seen.plane())
    return out


def rep_frames(signals: dict[str, np.ndarray], start: int, end: int, spec: InputSpec) -> np.ndarray:
    """(rep_frames, C) the spec's channels over frames start..end, linearly resampled to `rep_frames` points."""
    t = np.linspace(start, end, spec.rep_frames)
    idx = np.arange(start, end + 1)
    return np.stack([np.interp(t, idx, signals[c][start : end + 1]) for c in spec.frames], axis=-1)


def to_dataset(clips, spec: InputSpec, origin: str, progress=None, reps_per_clip: int | None = None,
               ring: bool = False, seed: int = 0):  # fmt: skip
    """A `datasets.ClipSet` -> `datasets.Dataset` rows of the spec's inputs, through `compute` like every input.

    Clip windows: one row per clip, its first 300 frames or ping-pong padded (features.fit_window, the dataset
    convention). Rep windows: one row per rep and view; a synthetic clip whose fault shows in only some reps
    (`faults`) labels the others good. An image-plane spec sees the `k`-th clip through camera.training_cameras(seed,
    k) (random: each row as a video would give it), or with `ring` through camera.RING (as a 3D source is judged),
    rows rep by rep and view by view; a fault made from a good rep (`clips.made`) is left out of the views that
    cannot show it (reps.unseen_classes), where it is that good rep. `ranges` records what each row's rep measurements say of each class (reps.range_mask), as that
    row's camera (or 3D, for the ring and world-plane rows) measures them. Clips of a class only foot points show
    (skeleton.FEET_CLASSES) are left out when the spec has no feet. SquatError, naming the clip, when a clip cannot
    give the inputs.
    """
    from squatcli import camera
    from squatcli.datasets import Dataset
    from squatcli.errors import SquatError
    from squatcli.reps import range_mask, unseen_classes
    from squatcli.features import clip_features, fit_window
    from squatcli.skeleton import FEET_CLASSES
    from squatcli.video import resample_to_fps

    unseen = () if spec.feet else FEET_CLASSES  # a fault only foot points show is left out of a model without them
    made = clips.made or [False] * len(clips)
    keys = [c.key for c in _classes_of(clips, spec) if c.key not in unseen]
    rows: dict[str, list[np.ndarray]] = {name: [] for name in spec.shapes()}
    y, ids, groups, yaws, ranges = [], [], [], [], []
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
            labels, names = [clip.label], [clips.ids[k]]
            yaws.append(np.nan)
            ranges.append(np.zeros(len(keys), np.int8))
        else:
            views = None if spec.plane != IMAGE else camera.RING if ring else camera.training_cameras(seed, k)
            mi = compute(spec, joints=joints, feet=feet, confidence=None, single_rep=clips.single_rep, cameras=views)
            fault = None if clips.faults is None else resample_to_fps(clips.faults[k], clip.fps)
            amounts = [0.0 if fault is None else _fault_at(fault, mi.report.reps[r].rep) for r in mi.rep_rows]
            keep = np.sort(np.argsort(-np.asarray(amounts), kind="stable")[:reps_per_clip])
            pairs = [(i, v) for i in keep for v in range(mi.views)
                     if not (made[k] and views is not None and not ring and clip.label in unseen_classes(views[v].side_on_yaw))]
            picked = np.array([i * mi.views + v for i, v in pairs], dtype=int)  # each kept rep, each view kept
            for name, arr in mi.arrays.items():
                rows[name].append(arr[picked])
            labels = [clip.label if fault is None or amounts[i] >= FAULT_SHOWN else "good" for i, _ in pairs]
            names = [_row_id(clips.ids[k], i if len(keep) > 1 else None, v if mi.views > 1 else None) for i, v in pairs]
            yaws += [np.nan if views is None else views[v].yaw for _, v in pairs]
            seen_3d = views is None or ring
            ranges += [range_mask(mi.report.reps[mi.rep_rows[i]].values, tuple(keys), None if seen_3d else views[v].side_on_yaw)
                       for i, v in pairs]  # fmt: skip
        y += [keys.index(label) for label in labels]
        ids += names
        groups += [clips.groups[k]] * len(labels)
        if progress:
            progress(k + 1, len(clips))
    arrays = {name: np.concatenate(parts).astype(np.float32) for name, parts in rows.items()}
    yaw = np.array(yaws, dtype=np.float64)
    return Dataset(arrays, np.array(y, dtype=np.int64), ids, np.array(groups).astype(str), clips.source, tuple(keys),
                   np.full(len(y), origin), None if np.isnan(yaw).all() else yaw,
                   np.array(ranges, dtype=np.int8).reshape(len(y), len(keys)))  # fmt: skip


def _row_id(clip_id: str, rep: int | None, view: int | None) -> str:
    """A row's id: the clip's, `#rep` when the clip gave several reps, `@view` when each rep was seen several ways."""
    return clip_id + ("" if rep is None else f"#{rep}") + ("" if view is None else f"@{view}")


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
