"""Reps and per-rep measurements from 3D joints: what explains a verdict, not a second classifier.

Input is a (T, 19, 3) joint sequence in metres at `fps` frames per second. The clip may be in a camera-ish
frame (tilted, any yaw) and noisy (MediaPipe), so nothing here trusts the y axis:

1. `estimate_up`: the body's vertical. In the most extended frames (largest ankle-midpoint -> neck distance,
   i.e. standing), the direction from the ankle midpoint to the midpoint of hip-midpoint and neck, averaged as
   unit vectors. Standing balance keeps the body's centre of mass over the feet, and that midpoint is a cheap
   stand-in for it: when a rep never quite reaches upright, hips behind and shoulders ahead of the ankles
   roughly cancel. (The direction of largest hip motion is not used: hips travel back as well as down, 15-30°
   off vertical.) Accurate to a few degrees; everything downstream is rotation-equivariant.
2. `segment_reps`: hip-midpoint height above the ankle midpoint along `up`, divided by leg length (median
   thigh + shank), median-filtered and lightly smoothed. A zig-zag filter finds alternating peaks and troughs
   at least `MIN_EXCURSION` (10 % of leg length, about 9 cm) apart; each trough is a rep's bottom, the peaks
   around it its standing phases. Peaks that climb less than half-way back to standing are bounces inside one
   rep and are merged. A rep starts where the descent leaves its standing level and ends where the ascent
   reaches its next one (within 10 % of the excursion), so pauses at the top or bottom don't shift it. Reps
   touching the clip's start or end without a standing phase there are `partial` (counted apart). Complete
   reps shorter than `MIN_REP_S`, and partial ones shorter than half of it, are dropped as tracking glitches.
   The standing level is local (`standing_level`, within STAND_WINDOW_S), so a person whose size drifts keeps
   every rep; with a `ground` frame (the picture, or 3D capture), dips made while the ankles travel (`walking`)
   are not reps.
3. `measure_reps`: per rep, from smoothed per-frame signals: depth (lowest hip-midpoint minus knee-midpoint
   height along `up`, in thigh lengths and cm), minimum hip-knee-ankle angle, knee / ankle distance across
   `up` (median over the bottom phase), maximum trunk lean (hip-midpoint -> neck against `up`) and maximum
   neck extension (`head_angle`). Each is checked against `RANGES`; out of range gives the range's cue. A
   partial rep whose bottom lies at the clip's edge gets measurements but no cues (its bottom may be unseen).

Known limits: MediaPipe's depth axis is its noisiest, so a trunk lean towards the camera (front view) reads
low and knee width seen from the side is a guess (pass `confidence` to drop it); knee bends shallower than
~130° are not counted as reps.

The ranges are coaching heuristics (common strength-coaching guidance for a bodyweight / high-bar back squat),
not clinical norms; the cues reuse the form classes' cues from `skeleton.CLASSES`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from squatcli.features import midpoint, segment_lengths
from squatcli.skeleton import CLASSES, FPS, F, J, N_FEET, N_JOINTS

MIN_EXCURSION = 0.10  # hip drop / leg length making a rep: knees to ~120° drop 12-18 %, to 140° only 6-8 %
MIN_REP_S = 0.5  # complete reps faster than this are tracking glitches (the fastest real tempo is ~0.8 s); a
# partial rep showing less than half of it is a fragment (a clip that starts as the person stands up), not a rep
MERGE_RETURN = 0.5  # a peak must climb this fraction of the way back to standing to separate two reps
EDGE_RETURN = 0.9  # a rep edge at the clip's start/end counts as standing when it recovers this fraction
LEVEL_BAND = 0.1  # start/end: where the hip is within this fraction of the excursion of its standing level
BOTTOM_BAND = 0.1  # bottom phase: frames within this fraction of the excursion of the lowest hip height
SMOOTH_S = 0.06  # Gaussian smoothing (standard deviation, seconds) of every per-frame signal
MEDIAN_FRAMES = 5  # median filter on the hip-height signal against single-frame tracking spikes
UPRIGHT_FRACTION = 0.15  # fraction of most extended frames that estimate `up`
STAND_PRIOR = 0.9  # hip height / leg length of someone standing is never below this (legs ~straight)
MIN_CONFIDENCE = 0.5  # joints with lower median confidence over a rep count as hidden (see measure_reps)
EDGE_S = 0.1  # a partial rep whose bottom is this close to a clip edge may not show its true bottom: no cues

NOTE = (
    "Measured from the 3D joints to explain the verdict; these are measurements against documented coaching "
    "ranges, not a second classifier."
)


@dataclass(frozen=True)
class Range:
    """One measurement's acceptable range (None = unbounded) and the cue shown when a rep falls outside it."""

    metric: str
    low: float | None
    high: float | None
    unit: str
    cue: str
    why: str


def _cue(key: str) -> str:
    return next(c.cue for c in CLASSES if c.key == key)


# The documented ranges. Heuristics from common coaching guidance, stated so they can be argued with:
RANGES: tuple[Range, ...] = (
    Range("depth", None, 0.25, "thigh lengths", _cue("shallow"),
          "about parallel: the hip joint centre no more than a quarter thigh (~10 cm) above the knee centre; "
          "the joint centres sit a few cm from the skin marks of the 'hip crease below the knee top' rule, "
          "and pose noise adds a few cm"),
    Range("min_knee_angle", None, 100.0, "degrees", _cue("shallow"),
          "a parallel squat bends the knee to ~55-70° (hip-knee-ankle); above ~100° is a half squat or less"),
    Range("knee_ankle_width_ratio", 0.85, None, "ratio", _cue("knees_in"),
          "knees should track over the toes, about as wide as the ankles or wider; below 0.85 they cave in "
          "(a good wide-stance squat measured ~0.9 on a real clip, so the margin is for pose noise)"),
    Range("max_trunk_lean", None, 50.0, "degrees", _cue("back_round"),
          "torso within ~45-50° of vertical for a bodyweight or high-bar squat; more folds the chest "
          "forward"),
    Range("head_angle", None, 25.0, "degrees", _cue("head_up"),
          "neck extended more than ~25° against the trunk line: looking up instead of keeping the neck "
          "neutral (neutral read 0-10° on real clips)"),
)  # fmt: skip
RANGE_BY_METRIC = {r.metric: r for r in RANGES}

# The measurements that show each fault, the one with a documented range (RANGES) first where there is one: what a
# report shows beside a named fault, so a verdict never names a fault without the number behind it.
FAULT_MEASURES: dict[str, tuple[str, ...]] = {
    "knees_in": ("knee_ankle_width_ratio", "min_knee_ankle_width"),
    "shallow": ("depth", "min_knee_angle"),
    "forward_lean": ("max_trunk_lean", "trunk_lean"),
    "back_round": ("trunk_chord", "max_trunk_lean"),
    "back_arch": ("trunk_chord", "max_trunk_lean"),
    "head_up": ("head_angle", "max_head_pitch"),
    "knees_forward": ("max_shank_angle", "max_heel_lift"),
    "toes_up": ("max_toe_lift", "min_foot_pitch"),
}


@dataclass(frozen=True)
class Rep:
    """A rep: descent's first frame, lowest frame, ascent's last frame; partial if the clip cuts it; `whole` for
    the whole clip taken as one rep because no rep was found in it (not counted as a rep)."""

    start: int
    bottom: int
    end: int
    partial: bool = False
    whole: bool = False


# What each rep measurement means (`measure_reps`), by name. Bottom phase: the frames within BOTTOM_BAND of the
# excursion of the rep's lowest hip height. All but `depth_cm` are free of body size and camera position; the
# foot ones need foot points (heels, toe tips) and are None without them.
MEASUREMENTS: dict[str, str] = {
    "depth": "hip midpoint above the knee midpoint along up at the deepest point, in thigh lengths (< 0: below)",
    "depth_cm": "the same in centimetres (metre inputs only)",
    "min_knee_angle": "smallest hip-knee-ankle angle over the rep, degrees, mean of the visible legs",
    "knee_ankle_width_ratio": "knee gap / ankle gap across up, bottom phase median (None when a knee or ankle "
                              "is hidden)",
    "max_trunk_lean": "largest angle of hip midpoint -> neck from up over the rep, degrees",
    "trunk_chord": "hip midpoint -> neck distance, bottom phase median, against standing (a spine bending, rounded "
                   "or arched, shortens it; 1 = as straight as standing)",
    "head_angle": "largest neck extension against the trunk line (neck -> ears), degrees; up > 0",
    "hip_drop": "fraction of the standing hip height lost at the bottom",
    "min_hip_height": "lowest hip height above the ankles, in leg lengths",
    "hip_angle": "shoulder-hip-knee angle, bottom phase median, degrees",
    "trunk_lean": "trunk lean from up, bottom phase median, degrees",
    "shank_angle": "shank tilt from up (knees forward), bottom phase median, degrees",
    "max_shank_angle": "largest shank tilt over the rep, degrees",
    "thigh_angle": "thigh angle from up, bottom phase median, degrees (90 = level)",
    "min_knee_ankle_width": "smallest knee gap / ankle gap over the rep",
    "knee_hip_width_ratio": "knee gap / hip width, bottom phase median",
    "stance_width": "ankle gap / hip width, bottom phase median",
    "head_pitch": "neck -> nose above the horizontal (frame_signals), bottom phase median, degrees (looking up raises it)",
    "max_head_pitch": "largest neck -> nose angle above the horizontal over the rep, degrees",
    "foot_pitch": "heel -> toe tip against the floor, change from standing, bottom phase median, degrees "
                  "(+ toes up, - heels up)",
    "max_foot_pitch": "largest foot pitch change over the rep, degrees",
    "min_foot_pitch": "smallest foot pitch change over the rep, degrees",
    "max_toe_lift": "largest rise of the toe tips against the ankles, in shank lengths",
    "max_heel_lift": "largest rise of the heels against the ankles, in shank lengths",
}  # fmt: skip
_DIGITS = {"depth": 3, "trunk_chord": 3, "knee_ankle_width_ratio": 3, "min_knee_ankle_width": 3, "knee_hip_width_ratio": 3,
           "stance_width": 3, "hip_drop": 3, "min_hip_height": 3, "max_toe_lift": 3, "max_heel_lift": 3}  # fmt: skip


@dataclass
class RepMeasurement:
    """Measurements of one rep by name (MEASUREMENTS; None where undefined) and the cues they give."""

    rep: Rep
    values: dict[str, float | None]
    cues: list[str] = field(default_factory=list)
    out_of_range: list[str] = field(default_factory=list)

    def __getattr__(self, name: str):  # m.depth, m.min_knee_angle, ...: the measurement of that name
        if name in MEASUREMENTS:
            return self.values.get(name)
        raise AttributeError(name)

    def to_dict(self, fps: float = FPS) -> dict:
        r = self.rep
        return {
            "start": r.start, "bottom": r.bottom, "end": r.end, "partial": r.partial, "whole_clip": r.whole,
            "start_s": round(r.start / fps, 3), "end_s": round(r.end / fps, 3),
            **{k: _clean(self.values.get(k), _DIGITS.get(k, 1)) for k in MEASUREMENTS},
            "out_of_range": list(self.out_of_range), "cues": list(self.cues),
        }  # fmt: skip


@dataclass
class RepReport:
    """All reps of a clip with their measurements: `count` complete reps plus `partial_count` cut ones (the whole
    clip taken as one rep is neither)."""

    reps: list[RepMeasurement]
    up: np.ndarray
    fps: float = FPS
    signals: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # frame_signals of the clip

    @property
    def count(self) -> int:
        return sum(not m.rep.partial and not m.rep.whole for m in self.reps)

    @property
    def partial_count(self) -> int:
        return sum(m.rep.partial for m in self.reps)

    def to_dict(self) -> dict:
        """JSON-friendly (plain floats, ints, lists; None instead of NaN)."""
        return {
            "note": NOTE,
            "count": self.count,
            "partial_count": self.partial_count,
            "up": [round(float(v), 4) for v in self.up],
            "ranges": [
                {"metric": r.metric, "low": r.low, "high": r.high, "unit": r.unit, "cue": r.cue, "why": r.why}
                for r in RANGES
            ],
            "reps": [m.to_dict(self.fps) for m in self.reps],
        }


# ---- the body's vertical -----------------------------------------------------------------------------------


def estimate_up(joints: np.ndarray) -> np.ndarray:
    """(T, 19, 3) joints -> (3,) unit vector of the body's vertical (see the module doc for the method)."""
    joints = _check(joints)
    ankle = midpoint(joints, "l_ankle", "r_ankle")
    neck = joints[:, J["neck"]]
    centre = 0.5 * (midpoint(joints, "l_hip", "r_hip") + neck)
    extension = np.linalg.norm(neck - ankle, axis=-1)
    n_top = max(1, math.ceil(UPRIGHT_FRACTION * len(joints)))
    upright = np.argsort(extension)[-n_top:]
    up = _unit(_unit(centre[upright] - ankle[upright]).mean(axis=0))
    if not np.all(np.isfinite(up)):
        raise ValueError("cannot estimate the vertical: ankles, hips and neck coincide")
    return up


# ---- reps --------------------------------------------------------------------------------------------------


def hip_height(joints: np.ndarray, up: np.ndarray, fps: float = FPS) -> np.ndarray:
    """(T,) hip-midpoint height above the ankle midpoint along `up`, in leg lengths, filtered and smoothed."""
    joints = _check(joints)
    per_side = [segment_lengths(joints, f"{s}_hip", f"{s}_knee") + segment_lengths(joints, f"{s}_knee", f"{s}_ankle")
                for s in "lr"]
    leg = np.median(0.5 * (per_side[0] + per_side[1]))
    h = (midpoint(joints, "l_hip", "r_hip") - midpoint(joints, "l_ankle", "r_ankle")) @ up / max(float(leg), 1e-9)
    return _smooth(_median_filter(h, MEDIAN_FRAMES), SMOOTH_S * fps)


def segment_reps(joints: np.ndarray, fps: float = FPS, up: np.ndarray | None = None) -> list[Rep]:
    """Reps (standing -> bottom -> standing) from the hip-height signal; see the module doc for the rules."""
    up = estimate_up(joints) if up is None else up
    return _reps_from_height(hip_height(joints, up, fps), fps)


def _reps_from_height(s: np.ndarray, fps: float) -> list[Rep]:
    stand = standing_level(s, fps)
    points = _merge_bounces(_zigzag(s, MIN_EXCURSION), s, stand)
    reps = []
    for k, (bottom, kind) in enumerate(points):
        if kind != "t":
            continue
        left = points[k - 1][0] if k > 0 else None
        right = points[k + 1][0] if k + 1 < len(points) else None
        rep = _bounded_rep(s, bottom, left, right, stand, edges=(k - 1 == 0, k + 1 == len(points) - 1))
        if rep.end - rep.start >= (MIN_REP_S / 2 if rep.partial else MIN_REP_S) * fps:
            reps.append(rep)
    return reps


def _zigzag(s: np.ndarray, delta: float) -> list[tuple[int, str]]:
    """Alternating peaks ("p") and troughs ("t") of s, each at least `delta` from its neighbours."""
    points: list[tuple[int, str]] = []
    hi = lo = 0
    trend = 0  # +1 rising towards a peak, -1 falling towards a trough, 0 not yet known
    for i in range(1, len(s)):
        hi = i if s[i] > s[hi] else hi
        lo = i if s[i] < s[lo] else lo
        if trend >= 0 and s[hi] - s[i] >= delta:
            points.append((hi, "p"))
            trend, lo = -1, i
        elif trend <= 0 and s[i] - s[lo] >= delta:
            points.append((lo, "t"))
            trend, hi = 1, i
    if trend == 1:
        points.append((hi, "p"))  # already >= delta above the last trough
    elif trend == -1:
        points.append((lo, "t"))  # already >= delta below the last peak
    return points


STAND_WINDOW_S = 2.0  # the standing level is local: the 95th percentile of the hip height within this many seconds


def standing_level(s: np.ndarray, fps: float = FPS) -> np.ndarray:
    """(T,) hip height standing around each frame: the 95th percentile within STAND_WINDOW_S on either side, but at
    least STAND_PRIOR (legs nearly straight). Local, so a person whose size in the picture or in the estimate
    drifts (walking towards the camera) keeps a true standing level; a clip shorter than the window has one."""
    half = max(1, int(round(STAND_WINDOW_S * fps)))
    if len(s) <= 2 * half + 1:
        return np.full(len(s), max(float(np.percentile(s, 95)), STAND_PRIOR))
    padded = np.pad(s, half, mode="edge")
    level = np.percentile(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1), 95, axis=-1)
    return np.maximum(level, STAND_PRIOR)


def _merge_bounces(points: list[tuple[int, str]], s: np.ndarray, stand: np.ndarray) -> list[tuple[int, str]]:
    """Drop interior peaks that climb less than MERGE_RETURN back to standing, keeping the lower trough."""
    points = list(points)
    k = 1
    while k + 1 < len(points):
        (t0, kind), (p, _), (t1, _) = points[k - 1], points[k], points[k + 1]
        low = min(s[t0], s[t1])
        if kind == "t" and s[p] - low < MERGE_RETURN * (stand[p] - low):
            points[k - 1 : k + 2] = [(t0 if s[t0] <= s[t1] else t1, "t")]  # look at the next peak at k
        else:
            k += 1
    return points


def _bounded_rep(
    s: np.ndarray, bottom: int, left: int | None, right: int | None, stand: np.ndarray, edges: tuple[bool, bool]
) -> Rep:
    """The rep around trough `bottom` between peaks `left` and `right` (None = the clip edge).

    `edges` says whether each peak is the clip's first / last turning point: such a peak may just be where the
    clip was cut, so unless it recovers EDGE_RETURN of the way to standing the rep is partial and runs to the
    clip's edge.
    """
    low = s[bottom]
    stood = low + EDGE_RETURN * (stand[bottom] - low)
    partial = False
    if left is None:
        start, partial = 0, True
    else:
        level = s[left] - LEVEL_BAND * (s[left] - low)
        start = left + int(np.flatnonzero(s[left : bottom + 1] >= level)[-1])
        if edges[0] and s[left] < stood:
            start, partial = 0, True
    if right is None:
        end, partial = len(s) - 1, True
    else:
        level = s[right] - LEVEL_BAND * (s[right] - low)
        end = bottom + int(np.flatnonzero(s[bottom : right + 1] >= level)[0])
        if edges[1] and s[right] < stood:
            end, partial = len(s) - 1, True
    return Rep(int(start), int(bottom), int(end), bool(partial))


# ---- measurements ------------------------------------------------------------------------------------------


def measure_reps(
    joints: np.ndarray,
    fps: float = FPS,
    confidence: np.ndarray | None = None,
    feet: np.ndarray | None = None,
    single_rep: bool = False,
    view: float | None = None,
    reps: list[Rep] | None = None,
    ground: np.ndarray | None = None,
) -> RepReport:
    """(T, 19, 3) joints (metres, or any unit but `depth_cm`) -> reps and their measurements with cues: what
    `squat assess` reports and what rep models read (`inputs.py`).

    `confidence` (T, 19) in [0, 1], when given (MediaPipe visibility), drops measurements whose joints are
    mostly hidden: the knee/ankle width ratio when a knee or ankle has median confidence under MIN_CONFIDENCE
    over the rep (in a side view the far leg is occluded and its depth is a guess), and the knee angle of a
    hidden leg. `feet` (T, 4, 3) (skeleton.FEET) adds the foot measurements. `single_rep`: the clip is known to
    hold one rep (a dataset's cut reps): the deepest rep found is kept, or the whole clip if none is found.
    `view` (the yaw of a monocular camera, camera.view_yaw; None for 3D sources) leaves unmeasured what lies along
    that camera's depth axis, where one camera only guesses (`view_hides`): None in the measurements, NaN in the
    signals. `reps`: measure these reps instead of finding them (the same reps seen another way, e.g. in the
    image). `ground` (T, 19, 3): the body in a frame fixed to the floor or the camera (3D capture, or the image
    landmarks of a video; not hip-centred world landmarks), where "reps" made while walking are found and dropped
    (`walking`). Joints that a source lacks (e.g. ears) may be NaN: what needs them is None.
    """
    joints = _check(joints)
    up = estimate_up(joints)
    s = hip_height(joints, up, fps)
    signals = frame_signals(joints, up, fps, feet)
    signals |= {name: np.full(len(joints), np.nan) for name in view_hides(view) if name in signals}
    thigh = float(np.median(0.5 * (segment_lengths(joints, "l_hip", "l_knee") + segment_lengths(joints, "r_hip", "r_knee"))))
    conf = None if confidence is None else np.asarray(confidence, dtype=np.float64)
    if conf is not None and conf.shape != joints.shape[:2]:
        raise ValueError(f"confidence must have shape {joints.shape[:2]}, got {conf.shape}")
    found = list(reps) if reps is not None else _reps_from_height(s, fps)
    if reps is None and ground is not None:
        found = [rep for rep in found if not walking(rep, ground)]
    if single_rep and reps is None:
        whole = Rep(0, int(np.argmin(s)), len(s) - 1, whole=True)
        found = [min(found, key=lambda r: s[r.bottom])] if found else [whole]
    stand = standing_level(s, fps)
    out = []
    for rep in found:
        m = _measure(rep, s, signals, thigh, conf, float(stand[rep.bottom]))
        m.out_of_range, m.cues = _judge(m) if rep_seen(rep, len(s), fps) else ([], [])
        out.append(m)
    return RepReport(out, up, float(fps), signals)


WALK_TRAVEL = 0.3  # ankles moving more than this many leg lengths within a rep: walking, not squatting
HIP_CENTRED = 0.01  # hips moving less than this many leg lengths over a clip: a hip-centred (root-relative) frame


def fixed_frame(joints: np.ndarray) -> bool:
    """Whether 3D joints are in a frame fixed to the floor (their hips move), where walking shows; hip-centred
    joints (MediaPipe's world landmarks, HMR) are not."""
    joints = _check(joints)
    hips = midpoint(joints, "l_hip", "r_hip")
    leg = float(np.nanmedian(segment_lengths(joints, "l_hip", "l_knee") + segment_lengths(joints, "l_knee", "l_ankle")))
    return bool(np.nanmax(np.linalg.norm(hips - np.nanmedian(hips, axis=0), axis=-1)) > HIP_CENTRED * leg)


def walking(rep: Rep, ground: np.ndarray) -> bool:
    """Whether the ankles travel more than WALK_TRAVEL leg lengths during a rep in `ground` (a frame fixed to the
    floor or the camera): people walk in and out of the picture, and a dip while walking is not a squat."""
    ground = _check(ground)
    legs = [segment_lengths(ground, f"{side}_hip", f"{side}_knee") + segment_lengths(ground, f"{side}_knee", f"{side}_ankle")
            for side in "lr"]  # fmt: skip
    leg = float(np.nanmedian(0.5 * (legs[0] + legs[1])))
    ankles = midpoint(ground, "l_ankle", "r_ankle")[rep.start : rep.end + 1]
    travel = np.linalg.norm(ankles - ankles[0], axis=-1)
    return bool(leg > 0 and np.nanmax(travel) > WALK_TRAVEL * leg)


def rep_seen(rep: Rep, n_frames: int, fps: float = FPS) -> bool:
    """Whether a rep's bottom is in view: complete, or partial with its bottom EDGE_S away from the clip's edges."""
    edge = max(1, round(EDGE_S * fps))
    return not rep.partial or edge <= rep.bottom <= n_frames - 1 - edge


# Per-frame signals (`frame_signals`), free of body size and camera position: the rep measurements are read from
# them, and rep models read them frame by frame (inputs.py).
FRAME_CHANNELS: dict[str, str] = {
    "hip_height": "hip midpoint above the ankle midpoint along up, in leg lengths (~1 standing)",
    "depth": "hip midpoint minus knee midpoint height along up, in thigh lengths (< 0: hips below knees)",
    "knee_angle": "hip-knee-ankle angle, mean of the legs, degrees (180 = straight)",
    "hip_angle": "shoulder-hip-knee angle, mean of the sides, degrees",
    "trunk_lean": "hip midpoint -> neck against up, degrees",
    "shank_angle": "ankle midpoint -> knee midpoint against up, degrees (knees travelling forward)",
    "thigh_angle": "knee midpoint -> hip midpoint against up, degrees (90 = thighs level)",
    "knee_ankle_width": "knee gap / ankle gap across up (< 1: knees inside the ankles)",
    "knee_hip_width": "knee gap across up / hip width",
    "stance_width": "ankle gap across up / hip width",
    "head_pitch": "neck -> nose above the horizontal in the sagittal plane, degrees: 90 straight up, over 90 tilted "
                  "back (looking up raises it)",
}  # fmt: skip
FOOT_CHANNELS: dict[str, str] = {
    "foot_pitch": "heel -> toe tip against the floor plane, change from standing, degrees (+ toes up, - heels up)",
    "toe_lift": "toe tip minus ankle height along up, change from standing, in shank lengths",
    "heel_lift": "heel minus ankle height along up, change from standing, in shank lengths",
}  # fmt: skip
# What one camera cannot measure: whatever lies along its depth axis, which monocular pose estimates worst (a front
# view of a real bodyweight squat read 2-6 degrees of trunk lean and knees 84 degrees at parallel; from behind, a
# foot pitch of 43 degrees with the feet flat). Signals by the plane they lie in:
# widths across the body (left-right, the frontal plane) ...
WIDTH_CHANNELS = ("knee_ankle_width", "knee_hip_width", "stance_width")
WIDTH_MEASURES = ("knee_ankle_width_ratio", "min_knee_ankle_width", "knee_hip_width_ratio", "stance_width")
# ... and angles in the sagittal plane (forward-back: lean, knee and hip bend, knee travel, head and foot pitch).
# Heights along the body's vertical (hip height, depth) lie in the image plane of any upright camera: always kept.
SAGITTAL_CHANNELS = ("knee_angle", "l_knee_angle", "r_knee_angle", "hip_angle", "trunk_lean", "shank_angle",
                     "thigh_angle", "head_pitch", "head_angle", "foot_pitch", "toe_lift", "heel_lift",
                     "trunk_length")  # fmt: skip  # trunk_length: a spine bending forward or back shortens it
SAGITTAL_MEASURES = ("min_knee_angle", "hip_angle", "trunk_lean", "max_trunk_lean", "trunk_chord", "shank_angle", "max_shank_angle",
                     "thigh_angle", "head_angle", "head_pitch", "max_head_pitch", "foot_pitch", "max_foot_pitch",
                     "min_foot_pitch", "max_toe_lift", "max_heel_lift")  # fmt: skip
SAGITTAL, FRONTAL = "sagittal", "frontal"
PLANE_SIGNALS: dict[str, tuple[str, ...]] = {SAGITTAL: SAGITTAL_CHANNELS + SAGITTAL_MEASURES,
                                             FRONTAL: WIDTH_CHANNELS + WIDTH_MEASURES}  # fmt: skip
# The faults each plane shows: a fault whose plane a view hides is never named as a video's or rep's main fault.
PLANE_CLASSES: dict[str, tuple[str, ...]] = {
    SAGITTAL: ("back_round", "back_arch", "head_up", "knees_forward", "forward_lean", "toes_up"),
    FRONTAL: ("knees_in",),
}
# A monocular camera's view is its yaw to the body in degrees (camera.view_yaw: 0 facing it or turned away, 90 side
# on), a continuous quantity: the sagittal plane shows in the picture in proportion to sin(yaw), the frontal plane
# to cos(yaw). A plane showing less than VISIBLE_MIN of itself is not measured (sagittal under 30 degrees of yaw,
# widths over 60), so neither reported nor named; the rep models read the image as it is (inputs.py).
VISIBLE_MIN = 0.5
FRONT, SIDE, OBLIQUE = "front", "side", "oblique"


def plane_visibility(yaw: float | None) -> dict[str, float]:
    """How much of each body plane a view shows: sin and cos of the yaw (both 1 for a 3D source, `yaw` None)."""
    if yaw is None:
        return {SAGITTAL: 1.0, FRONTAL: 1.0}
    rad = math.radians(min(max(float(yaw), 0.0), 90.0))
    return {SAGITTAL: math.sin(rad), FRONTAL: math.cos(rad)}


def hidden_planes(yaw: float | None) -> tuple[str, ...]:
    """The planes a view shows too little of to measure (VISIBLE_MIN)."""
    return tuple(p for p, v in plane_visibility(yaw).items() if v < VISIBLE_MIN)


def view_hides(yaw: float | None) -> tuple[str, ...]:
    """The signals and measurements a view leaves unmeasured."""
    return tuple(name for plane in hidden_planes(yaw) for name in PLANE_SIGNALS[plane])


def unseen_classes(yaw: float | None) -> tuple[str, ...]:
    """The faults a view cannot show."""
    return tuple(key for plane in hidden_planes(yaw) for key in PLANE_CLASSES[plane])


def unseen_indices(keys: tuple[str, ...], yaw: float | None) -> tuple[int, ...]:
    """Indices into `keys` of the faults a view cannot show (unseen_classes)."""
    hidden = unseen_classes(yaw)
    return tuple(k for k, c in enumerate(keys) if c in hidden)


def view_name(yaw: float | None) -> str | None:
    """FRONT (facing the camera or turned away: the sagittal plane hidden), SIDE (widths hidden), OBLIQUE (both
    shown in part), None for a 3D source."""
    if yaw is None:
        return None
    hidden = hidden_planes(yaw)
    return FRONT if SAGITTAL in hidden else SIDE if FRONTAL in hidden else OBLIQUE


VIEW_NOTES = {
    FRONT: "seen from the front or back: trunk lean, knee and hip bend, knee travel, head and foot pitch lie along the "
           "camera's depth axis, where one camera only guesses; they are not measured, and the faults only they "
           "show (leaning forward, knees too far forward, toes lifting, back and head) are not named",
    SIDE: "seen from the side: knee and stance widths lie along the camera's depth axis, where one camera only "
          "guesses; they are not measured, and knees caving in is not named",
}  # fmt: skip


STANDING_BAND = 0.15  # standing frames: hip height within this fraction of the clip's excursion of its top


def frame_signals(joints: np.ndarray, up: np.ndarray, fps: float = FPS, feet: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Smoothed per-frame signals: FRAME_CHANNELS (and FOOT_CHANNELS with `feet`), plus the per-leg knee angles
    and the hip-knee height in the joints' unit that the measurements need."""
    joints = _check(joints)
    hip, knee, ankle = (midpoint(joints, f"l_{n}", f"r_{n}") for n in ("hip", "knee", "ankle"))
    neck = joints[:, J["neck"]]
    thigh = float(np.nanmedian(0.5 * (segment_lengths(joints, "l_hip", "l_knee") + segment_lengths(joints, "r_hip", "r_knee"))))
    hip_w = float(np.nanmedian(segment_lengths(joints, "l_hip", "r_hip")))
    knee_gap = _across(joints[:, J["l_knee"]] - joints[:, J["r_knee"]], up)
    ankle_gap = _across(joints[:, J["l_ankle"]] - joints[:, J["r_ankle"]], up)
    l_knee, r_knee = _angle(joints, "l_hip", "l_knee", "l_ankle"), _angle(joints, "r_hip", "r_knee", "r_ankle")
    raw = {
        "depth_m": (hip - knee) @ up,
        "trunk_length": np.linalg.norm(neck - hip, axis=-1),
        "l_knee_angle": l_knee,
        "r_knee_angle": r_knee,
        "depth": (hip - knee) @ up / max(thigh, 1e-9),
        "knee_angle": 0.5 * (l_knee + r_knee),
        "hip_angle": 0.5 * (_angle(joints, "l_shoulder", "l_hip", "l_knee") + _angle(joints, "r_shoulder", "r_hip", "r_knee")),
        "trunk_lean": _tilt(neck - hip, up),
        "shank_angle": _tilt(knee - ankle, up),
        "thigh_angle": _tilt(hip - knee, up),
        "knee_ankle_width": _ratio(knee_gap, ankle_gap, 0.05 * hip_w),
        "knee_hip_width": knee_gap / max(hip_w, 1e-9),
        "stance_width": ankle_gap / max(hip_w, 1e-9),
        "head_pitch": head_pitch(joints, up),
        "head_angle": head_angle(joints),
    }  # fmt: skip
    out = {k: _smooth(v, SMOOTH_S * fps) for k, v in raw.items()}
    out["hip_height"] = hip_height(joints, up, fps)
    if feet is not None:
        out.update(_foot_signals(joints, np.asarray(feet, dtype=np.float64), up, out["hip_height"], fps))
    return out


def _foot_signals(joints: np.ndarray, feet: np.ndarray, up: np.ndarray, height: np.ndarray, fps: float) -> dict[str, np.ndarray]:
    """FOOT_CHANNELS: heel and toe-tip movement against the ankles and the floor, as change from standing.
    Relative to the body's own points, so they hold in MediaPipe's hip-centred frame as in a fixed one."""
    if feet.shape != (len(joints), N_FEET, 3):
        raise ValueError(f"feet must have shape ({len(joints)}, {N_FEET}, 3), got {feet.shape}")
    shank = float(np.nanmedian(0.5 * (segment_lengths(joints, "l_knee", "l_ankle") + segment_lengths(joints, "r_knee", "r_ankle"))))
    ankles = joints[:, [J["l_ankle"], J["r_ankle"]]]
    heels, toes = feet[:, [F["l_heel"], F["r_heel"]]], feet[:, [F["l_toe"], F["r_toe"]]]
    foot = toes - heels
    raw = {
        "foot_pitch": np.degrees(np.arcsin(np.clip((foot @ up) / np.maximum(np.linalg.norm(foot, axis=-1), 1e-9), -1, 1))).mean(1),
        "toe_lift": ((toes - ankles) @ up).mean(1) / max(shank, 1e-9),
        "heel_lift": ((heels - ankles) @ up).mean(1) / max(shank, 1e-9),
    }  # fmt: skip
    top = float(np.percentile(height, 95))
    standing = height >= top - STANDING_BAND * (top - float(height.min()))
    smooth = {k: _smooth(v, SMOOTH_S * fps) for k, v in raw.items()}
    return {k: v - np.median(v[standing]) for k, v in smooth.items()}


def head_pitch(joints: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(T,) degrees of neck -> nose above the horizontal, in the plane of `up` and the way the nose points on average
    over the clip (forward): 0 straight ahead, 90 straight up, beyond 90 tilted back. Needs the nose only (the real
    reps have no ears), and keeps rising as a head tilts back, where an angle to the vertical would turn."""
    v = joints[:, J["nose"]] - joints[:, J["neck"]]
    flat = v - np.outer(v @ up, up)
    forward = _unit(np.nanmean(flat, axis=0))
    return np.degrees(np.arctan2(v @ up, flat @ forward))


def head_angle(joints: np.ndarray) -> np.ndarray:
    """(T,) neck flexion/extension in degrees: the neck -> ear-midpoint line against the trunk line.

    Positive = extended (head tilted back, looking up), negative = flexed (chin down), 0 = ears in line with
    hip-midpoint -> neck (ears over the shoulders, the textbook neutral posture). The sign comes from the face
    direction (ear midpoint -> nose, across the trunk): ears behind the trunk line mean extension.
    Why not the face's own pitch (ears -> eyes/nose)? On real MediaPipe clips its neutral reading moved by
    ~30° with the camera view (the face landmarks' depth is poorly estimated), while neck -> ears read 0-10°
    standing in front, back and side views. Not seen: a pure nod about the ears, which barely moves them.
    """
    hip, neck, ears = midpoint(joints, "l_hip", "r_hip"), joints[:, J["neck"]], midpoint(joints, "l_ear", "r_ear")
    trunk = _unit(neck - hip)
    head = ears - neck
    face = joints[:, J["nose"]] - ears
    forward = _unit(face - (face * trunk).sum(-1, keepdims=True) * trunk)
    return np.degrees(np.arctan2(-(head * forward).sum(-1), (head * trunk).sum(-1)))


def _measure(
    rep: Rep, s: np.ndarray, sig: dict[str, np.ndarray], thigh: float, conf: np.ndarray | None, stand: float
) -> RepMeasurement:
    """One rep's MEASUREMENTS: extremes over the rep and medians over its bottom phase."""
    span = slice(rep.start, rep.end + 1)
    top = max(s[rep.start], s[rep.end])
    band = np.arange(rep.start, rep.end + 1)[s[span] <= s[rep.bottom] + BOTTOM_BAND * (top - s[rep.bottom])]

    def bottom(name: str) -> float:
        return float(np.median(sig[name][band]))

    def over(name: str, reduce=np.max) -> float:
        return float(reduce(sig[name][span]))

    depth_m = over("depth_m", np.min)
    legs = [side for side in "lr" if _visible(conf, span, f"{side}_hip", f"{side}_knee", f"{side}_ankle")]
    knee_angle = np.mean([sig[f"{side}_knee_angle"][span] for side in legs or "lr"], axis=0)
    width_seen = _visible(conf, span, "l_knee", "r_knee", "l_ankle", "r_ankle") and np.isfinite(sig["knee_ankle_width"][span]).any()
    values: dict[str, float | None] = {
        "depth": depth_m / thigh if thigh > 0 else None,
        "depth_cm": 100.0 * depth_m,
        "min_knee_angle": float(knee_angle.min()),
        "knee_ankle_width_ratio": bottom("knee_ankle_width") if width_seen else None,
        "max_trunk_lean": over("trunk_lean"),
        "trunk_chord": bottom("trunk_length") / max(_standing_median(sig["trunk_length"], s, rep), 1e-12),
        "head_angle": over("head_angle"),
        "hip_drop": 1.0 - float(s[rep.bottom]) / stand,
        "min_hip_height": float(s[rep.bottom]),
        "hip_angle": bottom("hip_angle"),
        "trunk_lean": bottom("trunk_lean"),
        "shank_angle": bottom("shank_angle"),
        "max_shank_angle": over("shank_angle"),
        "thigh_angle": bottom("thigh_angle"),
        "min_knee_ankle_width": over("knee_ankle_width", np.min) if width_seen else None,
        "knee_hip_width_ratio": bottom("knee_hip_width"),
        "stance_width": bottom("stance_width"),
        "head_pitch": bottom("head_pitch"),
        "max_head_pitch": over("head_pitch"),
    }
    if "foot_pitch" in sig:
        values |= {"foot_pitch": bottom("foot_pitch"), "max_foot_pitch": over("foot_pitch"),
                   "min_foot_pitch": over("foot_pitch", np.min), "max_toe_lift": over("toe_lift"),
                   "max_heel_lift": over("heel_lift")}  # fmt: skip
    return RepMeasurement(rep, {k: v if v is None or np.isfinite(v) else None for k, v in values.items()})


def _standing_median(signal: np.ndarray, s: np.ndarray, rep: Rep) -> float:
    """Median of a signal over the clip's most upright frames: hip height within BOTTOM_BAND of the excursion from
    the clip's highest (never empty: the highest frame is one)."""
    top = float(np.max(s))
    return float(np.median(signal[s >= top - BOTTOM_BAND * (top - s[rep.bottom])]))


def _visible(conf: np.ndarray | None, span: slice, *names: str) -> bool:
    """Whether every named joint has median confidence >= MIN_CONFIDENCE over `span` (True when unknown)."""
    return conf is None or min(float(np.median(conf[span, J[n]])) for n in names) >= MIN_CONFIDENCE


# How a rep's own measurements bear on the faults the documented ranges (RANGES) define: a fault is ruled out when
# its measurements (those measured) are all inside their ranges by a margin (pose noise: a few centimetres, a few
# degrees), and confirmed when one is outside by the same margin. The classifier's probability of a ruled-out fault
# goes to the other classes, and a confirmed fault is never overruled by GOOD (assess): a verdict never names a fault
# the numbers beside it contradict, nor calls good a squat they put clearly out of range. (metric, margin) per fault:
FAULT_RANGES: dict[str, tuple[tuple[str, float], ...]] = {
    "shallow": (("depth", 0.10), ("min_knee_angle", 10.0)),
    "knees_in": (("knee_ankle_width_ratio", 0.15),),
    "forward_lean": (("max_trunk_lean", 10.0),),
    "back_round": (("max_trunk_lean", 10.0),),  # the range's cue: chest up
    "head_up": (("head_angle", 10.0),),
}
RULED_OUT, CONFIRMED = -1, 1


def range_verdicts(values: dict[str, float | None]) -> dict[str, int]:
    """Fault -> RULED_OUT or CONFIRMED by a rep's measurements `values` (None: not measured), for the faults of
    FAULT_RANGES on which the measurements take a side; back_round is never ruled out (a lean in range may hide a
    rounded spine), only confirmed."""
    out = {}
    for fault, metrics in FAULT_RANGES.items():
        seen = [(RANGE_BY_METRIC[m], margin, values[m]) for m, margin in metrics if values.get(m) is not None]
        inside = [(r.low is None or v >= r.low + margin) and (r.high is None or v <= r.high - margin) for r, margin, v in seen]
        outside = [(r.low is not None and v < r.low - margin) or (r.high is not None and v > r.high + margin)
                   for r, margin, v in seen]  # fmt: skip
        if any(outside):
            out[fault] = CONFIRMED
        elif seen and all(inside) and fault != "back_round":
            out[fault] = RULED_OUT
    return out


def range_only_faults(classes: tuple[str, ...]) -> tuple[str, ...]:
    """The faults with a documented range (FAULT_RANGES) that `classes` lack, less those whose measurements all
    belong to a fault before them (of `classes`, or listed earlier): the same number cannot tell them apart (a
    rounded back's trunk lean is leaning forward's)."""
    covered = {m for f in classes for m, _ in FAULT_RANGES.get(f, ())}
    out = []
    for fault, ranges in FAULT_RANGES.items():
        used = {m for m, _ in ranges}
        if fault not in classes and not used <= covered:
            out.append(fault)
            covered |= used
    return tuple(out)


def range_mask(values: dict[str, float | None], classes: tuple[str, ...], view: float | None = None) -> np.ndarray:
    """(K,) int8 for `classes`: RULED_OUT, CONFIRMED or 0, as a camera with this `view` (yaw; None: 3D) measures the
    rep (what lies along its depth axis unmeasured)."""
    hidden = set(view_hides(view))
    said = range_verdicts({k: None if k in hidden else v for k, v in values.items()})
    return np.array([said.get(c, 0) for c in classes], dtype=np.int8)


def _judge(m: RepMeasurement) -> tuple[list[str], list[str]]:
    """Metrics of a rep outside RANGES and their cues (each cue once, in RANGES order)."""
    bad, cues = [], []
    for r in RANGES:
        v = getattr(m, r.metric)
        if v is None or not np.isfinite(v):
            continue
        if (r.low is not None and v < r.low) or (r.high is not None and v > r.high):
            bad.append(r.metric)
            if r.cue not in cues:
                cues.append(r.cue)
    return bad, cues


# ---- small numeric helpers ---------------------------------------------------------------------------------


def _check(joints: np.ndarray) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (N_JOINTS, 3) or len(joints) == 0:
        raise ValueError(f"joints must have shape (T, {N_JOINTS}, 3) with T > 0, got {joints.shape}")
    return joints


def _unit(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _angle(joints: np.ndarray, a: str, b: str, c: str) -> np.ndarray:
    """(T,) angle a-b-c at joint b in degrees."""
    return _between(joints[:, J[a]] - joints[:, J[b]], joints[:, J[c]] - joints[:, J[b]])


def _between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(T,) angle in degrees between the vectors u and v (T, 3)."""
    return np.degrees(np.arccos(np.clip((_unit(u) * _unit(v)).sum(-1), -1, 1)))


def _tilt(v: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(T,) angle in degrees between the vectors v (T, 3) and `up`."""
    return _between(v, np.broadcast_to(up, v.shape))


def _across(v: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(T,) length of vectors v projected on the plane perpendicular to `up`."""
    return np.linalg.norm(v - np.outer(v @ up, up), axis=-1)


def _ratio(a: np.ndarray, b: np.ndarray, min_b: float) -> np.ndarray:
    """a / b, NaN where b is under `min_b` (there the ratio would be meaningless) or either is NaN (not measured)."""
    with np.errstate(invalid="ignore"):  # NaN / NaN: a width the view hides, NaN without a warning
        return np.where(b >= min_b, a / np.maximum(b, min_b), np.nan)


def _median_filter(x: np.ndarray, k: int) -> np.ndarray:
    if len(x) < k:
        return x.copy()
    pad = np.pad(x, k // 2, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(pad, k), axis=-1)


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along time with reflected edges; NaNs (degenerate frames) are interpolated first."""
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        ok = np.isfinite(x)
        if not ok.any():
            return x
        x = np.interp(np.arange(len(x)), np.flatnonzero(ok), x[ok])
    radius = int(3 * sigma)
    if sigma <= 0 or radius < 1 or len(x) < 2:
        return x
    t = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (t / sigma) ** 2)
    kernel /= kernel.sum()
    pad = np.pad(x, radius, mode="reflect" if len(x) > radius else "edge")
    return np.convolve(pad, kernel, mode="valid")


def _clean(v: float | None, digits: int) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), digits)
