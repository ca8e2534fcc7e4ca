"""The synthetic squat corpus: a joint-angle-driven skeleton that squats well or with one of the paper's six faults.

The paper's labelled dataset (2001 clips of one person) cannot ship, so the bundled models learn from this.

Kinematics (world frame: metres, y up, x to the subject's left, z forward, floor at y = 0)
* A subject (`Subject`) has a height of 1.50-1.95 m and segment lengths from anthropometric proportions, each
  varied per person: shank, thigh, hip width, lumbar and thoracic spine, shoulder width, upper arm, forearm,
  neck and a rigid head (ears, eyes, nose, vertex), plus a squat style (stance, toe-out, depth, lean, tempo).
* Each frame is driven by angles: the thigh's angle from vertical (depth), the shank's forward angle (ankle
  dorsiflexion) and the trunk's lean are coupled by balance: for the depth of each frame the shank angle is
  solved (bisection, all frames at once) so the centre of mass stays over the mid-foot while the trunk leans
  `lean` times the shank. Knees come from a two-bone solve between hip and ankle with a pole along the foot
  (toe-out), so the feet stay planted and bone lengths are exact. The trunk is a lumbar and a thoracic segment,
  then a cervical segment and the head, each with its own flexion angle; arms take one of six postures
  (forward, crossed, hands on hips, bar on the back, overhead, clasped) through a two-bone solve.
* A clip is 10 s at 30 fps holding 3-5 reps (counted as dips of the hip below mid-depth) at a varying tempo,
  with pauses, standing still, and sometimes a rep cut by the clip's start or end.

Faults: the person's good squat, then `faults.apply` (the one definition of each fault, also applied to real good
reps) at a severity drawn from mild (0) to obvious (1), in proportion to the depth of each frame and to how much
of the fault its rep shows (0.8-1.15 from rep to rep; in 30 % of the clips only some reps show it, the others stay
good): knees caving in, rounded back, arched back, head up, too shallow, knees forward (see faults.FAULTS).
All random draws are made in the same order whatever the label, so one seed gives the same person, tempo,
camera and noise for a good squat and for each fault: a paired comparison isolates the fault.

Observation (`noise=True`): the skeleton's proportions are mixed per clip between a BlazePose-like profile
(MediaPipe, what `squat extract` produces: shorter shanks, head top extrapolated from the ears) and an HMR-like
one (the paper's dataset); the clip is seen from a random camera direction with a small tilt; per-joint jitter
is larger along the camera's depth axis, depth is compressed, the scale wobbles, and frames come from the pose
model at a stride (or are lost) and are filled by linear interpolation as in `pose.extract_video`.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from squatcli import faults
from squatcli.datasets import (
    CORPUS_INFO,
    ClipSet,
    MANIFEST,
    Dataset,
    JointsClip,
    atomic_output,
    corpus_source,
    default_mode,
    paper_clip_path,
    write_joints_npz,
    write_paper_json,
)
from squatcli.errors import SquatError
from squatcli.features import clip_features, distances, fit_window, midpoint
from squatcli.files import nearest_existing, size_text
from squatcli.skeleton import CLASS_KEYS, CLASSES, FPS, HEAD_TOP_EXTENSION, JOINTS, J, N_CLASSES, N_FEATURES, N_JOINTS, WINDOW
from squatcli.video import resample

GENERATOR_VERSION = 3  # bump whenever the output for a given seed changes (invalidates the on-disk cache)
# The corpus the bundled models learn from (seed 0): 4200 clips of 120 people. Twice the paper's 2001-clip size
# because generalising to new people is the hard part: with 60 people (48 to train) the default CNN scored 89.0 %
# on held-out people, with 120 people 93.1 % (same recipe; see models/README.md).
CLIPS_PER_CLASS, SUBJECTS = 600, 120
# The largest corpus `squat synth` writes: 70,000 clips, about 37 GB and an hour on 2 cores.
MAX_CLIPS_PER_CLASS, MAX_SUBJECTS = 10_000, 10_000
BYTES_PER_CLIP = 560_000  # on disk, written by build_corpus: paper JSON ~470 kB + joints .npz ~65 kB (measured)
CLIP_SECONDS = WINDOW / FPS
ARM_POSTURES = ("forward", "crossed", "hips", "bar", "overhead", "clasped")
_DEG = np.pi / 180

# Generator v2 calibrated good squats on the real reps of datasets.read_real_reps (bench/real_vs_synth.py): real
# good squats stop at a thigh angle of 66-101 degrees (10th-90th percentile, median 86) with the trunk at 10-39
# degrees and the shanks at 18-51. Since v3 the faults are faults.py's transforms of these good squats.
GOOD_DEPTH = (68.0, 106.0)
GOOD_LEAN = (0.4, 1.0)


# ---- subjects --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """A synthetic person: anthropometry (metres) and squat style."""

    id: str
    height: float
    thigh: float
    shank: float  # knee to ankle
    ankle_h: float  # ankle joint above the floor
    hip_w: float  # between the hip joints
    lumbar: float  # hip centre to mid-back
    thoracic: float  # mid-back to shoulder midpoint
    shoulder_w: float
    upper_arm: float
    forearm: float
    neck: float  # shoulder midpoint to the head pivot (ear level)
    head: float  # head size factor (1 = reference adult)
    com_ahead: float  # mid-foot (balance point) ahead of the ankle
    # style
    stance: float  # ankle width minus hip width
    toe_out: float  # degrees
    depth: float  # preferred thigh angle at the bottom, degrees from vertical
    lean: float  # trunk lean / shank angle
    tempo: float  # duration factor of a rep
    arms: int  # preferred arm posture (index into ARM_POSTURES)
    spine: float  # habitual thoracic offset, degrees
    head_tilt: float  # habitual neck angle, degrees (+ = extension)


def make_subjects(n: int, rng: np.random.Generator) -> list[Subject]:
    """`n` synthetic people: height 1.50-1.95 m, limb ratios and squat style varying from person to person."""
    subjects = []
    for i in range(n):
        h = rng.uniform(1.50, 1.95)
        v = rng.normal(1.0, 1.0, 12) * np.array([0.035, 0.035, 0.05, 0.05, 0.04, 0.04, 0.045, 0.04, 0.04, 0.05, 0.03, 0.2]) + 1
        thigh = 0.245 * h * v[0]
        subjects.append(
            Subject(
                id=f"s{i:03d}",
                height=float(h),
                thigh=float(thigh),
                shank=float(0.246 * h * v[1]),
                ankle_h=float(0.039 * h),
                hip_w=float(0.55 * thigh * v[2]),
                lumbar=float(0.125 * h * v[3]),
                thoracic=float(0.160 * h * v[4]),
                shoulder_w=float(0.82 * thigh * v[5]),
                upper_arm=float(0.155 * h * v[6]),
                forearm=float(0.158 * h * v[7]),
                neck=float(0.110 * h * v[8]),
                head=float(np.sqrt(h / 1.72) * v[10]),
                com_ahead=float(0.028 * h * v[11]),
                stance=float(rng.uniform(0.02, 0.30)),
                toe_out=float(rng.uniform(5, 30)),
                depth=float(rng.uniform(*GOOD_DEPTH)),
                lean=float(rng.uniform(*GOOD_LEAN)),
                tempo=float(rng.uniform(0.45, 1.05)),
                arms=int(rng.integers(len(ARM_POSTURES))),
                spine=float(rng.normal(0, 3)),
                head_tilt=float(rng.normal(-16, 9)),
            )
        )
    return subjects


# ---- small vectorised geometry ---------------------------------------------------------------------------


def _rot_x(a: np.ndarray) -> np.ndarray:
    """(T,) angles -> (T, 3, 3) rotations about x; positive tips +y towards +z (a forward lean)."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _rot_y(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rot_z(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _apply(r: np.ndarray, v) -> np.ndarray:
    """(T, 3, 3) rotations applied to a (3,) or (T, 3) vector."""
    return np.einsum("tij,tj->ti", r, np.broadcast_to(np.asarray(v, dtype=float), (len(r), 3)))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _two_bone(root: np.ndarray, target: np.ndarray, l1: float, l2: float, pole: np.ndarray):
    """Middle and end joints of a two-segment chain from `root` towards `target`, bending towards `pole`.

    Segment lengths are exact; a target out of reach is pulled in along the root-target line.
    """
    d = target - root
    dist = np.linalg.norm(d, axis=-1, keepdims=True)
    u = d / np.maximum(dist, 1e-9)
    dist = np.clip(dist, abs(l1 - l2) + 1e-4, l1 + l2 - 1e-4)
    a = (l1**2 - l2**2 + dist**2) / (2 * dist)
    h = np.sqrt(np.maximum(l1**2 - a**2, 0.0))
    p = pole - (pole * u).sum(-1, keepdims=True) * u
    p = _unit(p)
    return root + a * u + h * p, root + dist * u


def _knee_over_line(hip: np.ndarray, ankle: np.ndarray, thigh: float, shank: float, heading: np.ndarray):
    """Knee of a leg with given hip and ankle, in the vertical plane through the ankle along `heading` (T, 3).

    `heading` is a horizontal unit vector (the way the knee should point: over the toes, or turned in). Where
    that plane is out of reach the knee goes as close to it as the leg allows. Bone lengths are exact.
    """
    d = heading
    up = np.array([0.0, 1.0, 0.0])
    normal = np.cross(d, up)
    v = ankle - hip
    dist = np.linalg.norm(v, axis=-1, keepdims=True)
    u = v / dist
    dist = np.clip(dist, abs(thigh - shank) + 1e-4, thigh + shank - 1e-4)
    ankle = hip + dist * u
    a = (thigh**2 - shank**2 + dist**2) / (2 * dist)
    h = np.sqrt(np.maximum(thigh**2 - a**2, 1e-12))
    centre = hip + a * u
    e1 = _unit(d - (d * u).sum(-1, keepdims=True) * u)
    e2 = np.cross(u, e1)
    ca, cb = (e1 * normal).sum(-1), (e2 * normal).sum(-1)
    dd = ((centre - ankle) * normal).sum(-1)
    phi = np.arctan2(cb, ca)
    spread = np.arccos(np.clip(-dd / (h[:, 0] * np.maximum(np.hypot(ca, cb), 1e-9)), -1, 1))
    k1, k2 = (centre + h * (np.cos(t)[:, None] * e1 + np.sin(t)[:, None] * e2) for t in (phi + spread, phi - spread))
    first_ahead = ((k1 - ankle) * d).sum(-1) >= ((k2 - ankle) * d).sum(-1)
    return np.where(first_ahead[:, None], k1, k2), ankle


def _smooth(x: np.ndarray, sigma: float, axis: int = 0) -> np.ndarray:
    """Gaussian smoothing along `axis` with edge padding."""
    if sigma <= 0:
        return x
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    x = np.moveaxis(x, axis, 0)
    pad = np.concatenate([np.repeat(x[:1], r, 0), x, np.repeat(x[-1:], r, 0)])
    out = np.zeros_like(x, dtype=float)
    for i, w in enumerate(k):
        out += w * pad[i : i + len(x)]
    return np.moveaxis(out, 0, axis)


def _slow_noise(rng: np.random.Generator, shape: tuple, sigma: float) -> np.ndarray:
    """Unit-variance noise smoothed over `sigma` frames (first axis)."""
    x = _smooth(rng.standard_normal(shape), sigma)
    return x / max(float(x.std()), 1e-9)


# ---- the rep schedule ------------------------------------------------------------------------------------


def _schedule(rng: np.random.Generator, tempo: float, n: int = WINDOW):
    """Depth s(t) in [0, 1] per frame (0 standing, 1 bottom) and the rep each frame belongs to.

    3-5 rep bottoms inside the clip; pauses, standing still, and sometimes a rep cut by either end (cut so that
    its bottom is inside the clip, or so that it has barely begun: every counted rep is visible in hip height).
    """
    t = np.arange(n) / FPS
    for _ in range(200):
        events = []  # (start, down, hold, up)
        mode = rng.random()
        clock = -rng.uniform(0.3, 2.5) if mode < 0.3 else rng.uniform(0.0, 1.2)  # < 0: clip starts mid-rep
        while clock < CLIP_SECONDS + 0.5:
            down = rng.uniform(0.7, 2.2) * tempo
            hold = 0.0 if rng.random() < 0.5 else rng.uniform(0.1, 0.7)
            up = rng.uniform(0.7, 1.5) * tempo
            events.append((clock, down, hold, up))
            pause = rng.uniform(1.2, 2.5) if rng.random() < 0.15 else rng.uniform(0.05, 1.0) * tempo
            clock += down + hold + up + pause
        s = np.zeros(n)
        rep = np.full(n, -1)
        for k, (t0, down, hold, up) in enumerate(events):
            u = t - t0
            m = (u >= 0) & (u < down)
            s[m] = 0.5 - 0.5 * np.cos(np.pi * u[m] / down)
            m2 = (u >= down) & (u < down + hold)
            s[m2] = 1.0 - 0.02 * np.sin(np.pi * (u[m2] - down) / max(hold, 1e-3))
            m3 = (u >= down + hold) & (u < down + hold + up)
            s[m3] = 0.5 + 0.5 * np.cos(np.pi * (u[m3] - down - hold) / up)
            rep[(u >= 0) & (u < down + hold + up)] = k
        # every movement inside the clip is either a whole bottom (s >= 0.9) or a barely started rep (s < 0.2)
        moving = s > 0.15
        edges = np.flatnonzero(np.diff(np.r_[0, moving.astype(int), 0]))
        peaks = [s[a:b].max() for a, b in zip(edges[::2], edges[1::2])]
        dips = sum(p >= 0.9 for p in peaks)
        if 3 <= dips <= 5 and all(p >= 0.9 or p < 0.2 for p in peaks):
            break
    # frames between reps belong to the next rep (the last stretch to the previous one)
    idx = np.where(rep >= 0, np.arange(n), n)
    nxt = np.minimum.accumulate(idx[::-1])[::-1]
    rep = np.where(rep >= 0, rep, rep[np.minimum(nxt, n - 1)])
    if rep[-1] < 0 or np.any(rep < 0):
        last = np.maximum.accumulate(np.where(rep >= 0, rep, -1))
        rep = np.where(rep >= 0, rep, np.maximum(last, 0))
    rep = rep - rep.min()
    return s, rep, dips


# ---- one clip --------------------------------------------------------------------------------------------


@dataclass
class SynthClip(JointsClip):
    """A generated clip: joints as observed, plus what went into it (`meta`) and the clean world joints."""

    meta: dict = field(default_factory=dict)
    world: np.ndarray | None = None  # (T, 19, 3) before observation, fault included: world frame, exact bone lengths
    depth: np.ndarray | None = None  # (T,) s(t): 0 standing, 1 bottom of the rep
    fault: np.ndarray | None = None  # (T,) how much of the clip's fault each frame shows (0 = none; good: 0)
    spine: np.ndarray | None = None  # (T, 3, 3) hip centre, mid-back, top of the thoracic spine (world frame; drawing)


class _Squat(NamedTuple):
    """A person's good squat over one clip, before observation (world frame)."""

    world: np.ndarray  # (T, 19, 3)
    feet: np.ndarray  # (T, 4, 3)
    spine: np.ndarray  # (T, 3, 3) hip centre, mid-back, top of the thoracic spine
    depth: np.ndarray  # (T,) s(t): 0 standing, 1 bottom of the rep
    rep: np.ndarray  # (T,) the rep each frame belongs to
    dips: int  # rep bottoms inside the clip
    meta: dict  # what was drawn for it (arms, stance, toe-out)


def simulate(rng: np.random.Generator, label: int, subject: Subject, noise: bool = True,
             severity: float | None = None, arms: str | None = None) -> SynthClip:  # fmt: skip
    """One 10 s clip of `subject` squatting with class `label` (index into skeleton.CLASSES): the person's good
    squat, then the fault as `faults.apply` defines it (the same transform made from real good reps) in the reps
    that show it, then what a pose estimator would report (`_observe`).

    The draws from `rng` do not depend on `label`, `severity` or `arms`: one seed, one person and motion, so a good
    clip and a faulty one of the same seed differ by the fault alone.
    """
    key = CLASS_KEYS[label]
    sev = rng.random() if severity is None else float(severity)
    rng.random()  # keep the stream aligned whether or not severity was given
    squat = _good_squat(rng, subject, arms)
    share, partial = _fault_share(rng, squat.rep)
    world, feet, spine = squat.world, squat.feet, squat.spine
    if key != "good":
        world, feet = faults.apply(key, world, feet, sev, amount=share * squat.depth, share=share)
        spine = _carry_spine(spine, squat.world, world)
    obs, obs_meta = _observe(rng, np.concatenate([world, feet], axis=1), subject)
    meta = {"label": key, "subject": subject.id, "severity": round(sev, 4) if key != "good" else 0.0,
            "partial": partial if key != "good" else False, "reps": squat.dips, **squat.meta,
            "shank_deg_bottom": _shank_deg_bottom(world, squat.depth), **obs_meta}  # fmt: skip
    joints, feet = (obs[:, :N_JOINTS], obs[:, N_JOINTS:]) if noise else (world, feet)
    return SynthClip(joints.astype(np.float32), float(FPS), None, key, feet.astype(np.float32), meta=meta, world=world,
                     depth=squat.depth, fault=np.zeros(len(share)) if key == "good" else share, spine=spine)  # fmt: skip


def _fault_share(rng: np.random.Generator, rep: np.ndarray) -> tuple[np.ndarray, bool]:
    """(T,) how much of the fault each frame shows: per rep 0.8-1.15 (rep-to-rep variation), in all reps or (30 % of
    clips with 3 or more reps) only some, 0 in the others; smooth between reps. And whether it is in only some."""
    n_reps = int(rep.max()) + 1
    jitter = rng.uniform(0.8, 1.15, n_reps)
    partial = rng.random() < 0.3
    order = rng.permutation(n_reps)
    keep = rng.integers(max(1, n_reps // 2), max(2, n_reps))  # reps that keep the fault when partial
    mask = np.ones(n_reps, dtype=bool)
    if partial and n_reps > 2:
        mask[:] = False
        mask[order[: max(keep, 2)]] = True
    return _smooth(np.where(mask, jitter, 0.0)[rep], 6.0), bool(partial and not mask.all())


def _carry_spine(spine: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The drawn spine of a faulty clip: the mid-back carried with the hips, the top with the neck (the faults move
    the trunk above the thoracolumbar junction, or the whole body)."""
    hips = lambda j: midpoint(j, "l_hip", "r_hip")  # noqa: E731
    moved = spine + (hips(after) - hips(before))[:, None]
    moved[:, 2] = spine[:, 2] + after[:, J["neck"]] - before[:, J["neck"]]
    return moved


def _shank_deg_bottom(world: np.ndarray, s: np.ndarray) -> float:
    """Mean shank angle from vertical (degrees, both legs) at the bottoms of the reps (s > 0.95)."""
    bottom = s > 0.95
    if not np.any(bottom):
        return float("nan")
    shank = world[bottom][:, [J["l_knee"], J["r_knee"]]] - world[bottom][:, [J["l_ankle"], J["r_ankle"]]]
    return round(float(np.degrees(np.arccos(np.clip(_unit(shank)[..., 1], -1, 1))).mean()), 1)


def _good_squat(rng: np.random.Generator, sj: Subject, arms: str | None) -> _Squat:
    """`sj`'s good squat for one clip: their depth, lean, stance and tempo, 3-5 reps, an arm posture, and the small
    variation good squats show (knee track within a few degrees of the toes, a little spinal flexion or extension at
    the bottom, the neck's habitual angle and how much it keeps the gaze forward, sway)."""
    n = WINDOW
    stance = max(0.0, sj.stance + rng.normal(0, 0.03))
    toe = sj.toe_out + rng.normal(0, 4)
    depth = float(np.clip(sj.depth + rng.normal(0, 5), *GOOD_DEPTH))
    lean = float(np.clip(sj.lean + rng.normal(0, 0.06), *GOOD_LEAN))
    valgus = rng.uniform(-6, 5.0)  # knees track over the toes, give or take
    round_, arch = rng.uniform(0, 8), rng.uniform(0, 5)  # degrees at the bottom
    neck = sj.head_tilt + rng.normal(0, 3)
    heel_mark = rng.uniform(0.0, 0.012)  # the heel landmark's apparent rise at the bottom (fraction of height)
    gaze = rng.uniform(0.1, 0.6)  # how much of the trunk's lean the neck undoes to keep the eyes forward
    arm_pick = sj.arms if rng.random() < 0.6 else int(rng.integers(len(ARM_POSTURES)))
    posture = arms or ARM_POSTURES[arm_pick]
    arm_u = rng.random(8)
    s, rep, dips = _schedule(rng, sj.tempo * rng.uniform(0.85, 1.15), n)
    rep_depth = rng.normal(0, 3.0, int(rep.max()) + 1)  # degrees of thigh angle, rep to rep
    sway = _slow_noise(rng, (n, 4), 20.0)

    gamma = (5.0 + (depth + rep_depth[rep] - 5.0) * s) * _DEG  # thigh angle from vertical
    arm_reach = {"forward": 0.45, "crossed": 0.08, "hips": 0.0, "bar": -0.05, "overhead": 0.02, "clasped": 0.15}[posture]
    arm_dz = arm_reach * (sj.upper_arm + sj.forearm) * (0.5 + 0.5 * s if posture == "forward" else 1.0)
    legs, hip, beta = _legs(sj, stance, (toe - valgus * s) * _DEG, gamma, lean, arm_dz, sway)
    trunk, frames, spine = _trunk(sj, hip, beta, round_ * s * _DEG, arch * s * _DEG, (neck + 5.0 * sway[:, 3]) * _DEG,
                                  gaze, sway)  # fmt: skip
    hands = _arms(sj, posture, arm_u, s, sway, {**legs, **trunk}, frames, spine[:, 2])
    joints = {**legs, **trunk, **hands}
    world = np.stack([joints[name] for name in JOINTS], axis=1)
    feet = _feet(sj, legs["l_ankle"], legs["r_ankle"], toe, heel_mark * s)
    meta = {"arms": posture, "stance_m": round(stance, 3), "toe_out_deg": round(float(toe), 1)}
    return _Squat(world, feet, spine, s, rep, dips, meta)


def _legs(sj: Subject, stance: float, heading: np.ndarray, gamma: np.ndarray, lean: float, arm_dz: np.ndarray,
          sway: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:  # fmt: skip
    """Hips, knees and ankles of a balanced squat whose thighs are `gamma` (T,) radians from vertical: the shank's
    forward angle is solved (bisection, all frames at once) so the centre of mass stays over the mid-foot while the
    trunk leans `lean` times the shank; feet planted; each knee over the line `heading` (T,) radians out from
    straight ahead (a two-bone solve: bone lengths exact). Returns the joints, the hip centre and the trunk's lean."""
    n = len(gamma)
    k = np.sqrt(1 - (stance / 2 / (sj.thigh + sj.shank)) ** 2)  # each ankle is stance/2 out from its hip
    S, T = sj.shank * k, sj.thigh * k
    trunk = sj.lumbar + sj.thoracic

    def com_z(alpha):
        beta = lean * alpha
        kz = S * np.sin(alpha)
        hz = kz - T * np.sin(gamma)
        return (0.122 * 0.5 * kz + 0.2 * (kz - 0.567 * T * np.sin(gamma)) + 0.578 * (hz + 0.58 * trunk * np.sin(beta))
                + 0.1 * (hz + trunk * np.sin(beta) + arm_dz))  # fmt: skip

    lo_a, hi_a = np.full(n, -5 * _DEG), np.full(n, 65 * _DEG)
    for _ in range(30):
        mid = 0.5 * (lo_a + hi_a)
        ahead = com_z(mid) > sj.com_ahead
        hi_a = np.where(ahead, mid, hi_a)
        lo_a = np.where(ahead, lo_a, mid)
    alpha = 0.5 * (lo_a + hi_a)
    beta = lean * alpha + 1.5 * _DEG * sway[:, 0]

    knee_y = sj.ankle_h + S * np.cos(alpha)
    hip = np.stack([0.012 * sway[:, 1], knee_y + T * np.cos(gamma), S * np.sin(alpha) - T * np.sin(gamma)], -1)
    pelvis = _rot_y(2.0 * _DEG * sway[:, 2])
    half = (sj.hip_w + stance) / 2
    ank_l = np.stack([np.full(n, half), np.full(n, sj.ankle_h), np.zeros(n)], -1)
    ank_r = np.stack([np.full(n, -half), np.full(n, sj.ankle_h), np.zeros(n)], -1)
    for _ in range(3):  # sway must not pull a straight leg off its planted foot: lower the pelvis if it would
        hip_l = hip + _apply(pelvis, [sj.hip_w / 2, 0, 0])
        hip_r = hip + _apply(pelvis, [-sj.hip_w / 2, 0, 0])
        reach = sj.thigh + sj.shank - 2e-3
        over = np.maximum(np.linalg.norm(hip_l - ank_l, axis=-1), np.linalg.norm(hip_r - ank_r, axis=-1)) - reach
        hip[:, 1] -= 1.2 * np.maximum(over, 0)
    zero = np.zeros(n)
    knee_l, ank_l = _knee_over_line(hip_l, ank_l, sj.thigh, sj.shank, np.stack([np.sin(heading), zero, np.cos(heading)], -1))
    knee_r, ank_r = _knee_over_line(hip_r, ank_r, sj.thigh, sj.shank, np.stack([-np.sin(heading), zero, np.cos(heading)], -1))
    joints = {"l_hip": hip_l, "r_hip": hip_r, "l_knee": knee_l, "r_knee": knee_r, "l_ankle": ank_l, "r_ankle": ank_r}
    return joints, hip, beta


def _trunk(sj: Subject, hip: np.ndarray, beta: np.ndarray, flex: np.ndarray, ext: np.ndarray, neck_ext: np.ndarray,
           gaze: float, sway: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:  # fmt: skip
    """Shoulders, neck and head over a trunk leaning `beta` (T,) radians: a lumbar and a thoracic segment, a cervical
    segment and a rigid head. `flex` and `ext` (T,) radians of spinal flexion and extension (small in a good squat:
    flexion tucks the pelvis, extension tilts it forward), `neck_ext` the neck's extension against the thorax, `gaze`
    the share of the trunk's lean the neck undoes. Returns the joints, the lumbar and thoracic rotations (T, 3, 3)
    and the spine (T, 3, 3: hip centre, mid-back, top of the thoracic spine)."""
    lumbar_ang = beta + (sj.spine * 0.3) * _DEG - 0.20 * flex + 0.35 * ext
    thor_ang = beta + sj.spine * _DEG + 0.45 * flex - 0.60 * ext
    twist = _rot_y(2.5 * _DEG * sway[:, 2])
    r_lumbar = twist @ _rot_x(lumbar_ang)
    r_thor = twist @ _rot_x(thor_ang)
    mid_back = hip + sj.lumbar * _apply(r_lumbar, [0, 1, 0])
    spine_top = mid_back + sj.thoracic * _apply(r_thor, [0, 1, 0])
    protract = 0.40 * flex - 0.30 * ext  # shoulders forward when flexed, back when extended
    drop = 0.02 * np.sin(flex)
    half = sj.shoulder_w / 2
    sh_l = spine_top + _apply(r_thor, np.stack([half * np.cos(protract), -drop, half * np.sin(protract)], -1))
    sh_r = spine_top + _apply(r_thor, np.stack([-half * np.cos(protract), -drop, half * np.sin(protract)], -1))
    neck_flex = 0.35 * flex + 0.25 * ext - neck_ext - gaze * beta  # + = head forward/down relative to the thorax
    r_cerv = r_thor @ _rot_x(0.4 * neck_flex)
    r_head = r_cerv @ _rot_x(0.6 * neck_flex)
    pivot = spine_top + sj.neck * _apply(r_cerv, [0, 1, 0])
    head = {name: pivot + sj.head * _apply(r_head, offset) for name, offset in HEAD_POINTS.items()}
    joints = {"l_shoulder": sh_l, "r_shoulder": sh_r, "neck": (sh_l + sh_r) / 2, **head}
    return joints, {"lumbar": r_lumbar, "thorax": r_thor}, np.stack([hip, mid_back, spine_top], 1)


# points of a reference adult's head about the top of the cervical spine (ear level), metres: x left, y up, z forward
HEAD_POINTS = {"l_ear": (0.078, 0, -0.005), "r_ear": (-0.078, 0, -0.005), "l_eye": (0.030, 0.04, 0.088),
               "r_eye": (-0.030, 0.04, 0.088), "nose": (0, 0.012, 0.118), "head_top": (0, 0.125, -0.015)}  # fmt: skip


def _arms(sj: Subject, posture: str, u: np.ndarray, s: np.ndarray, sway: np.ndarray, body: dict[str, np.ndarray],
          frames: dict[str, np.ndarray], spine_top: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    """Elbows and wrists of one of ARM_POSTURES (a two-bone solve from each shoulder to a wrist target; `u` (8,)
    uniform draws place it), given the shoulders and hips in `body` and the lumbar and thoracic rotations."""
    n = len(s)
    reach = sj.upper_arm + sj.forearm
    r_thor, r_lumbar = frames["thorax"], frames["lumbar"]
    out = {}
    for side, sgn in (("l", 1.0), ("r", -1.0)):
        sh, other = body[f"{side}_shoulder"], body[f"{'r' if side == 'l' else 'l'}_shoulder"]
        if posture == "forward":
            p0, p1 = (-45 + 50 * u[0]) * _DEG, (-5 + 20 * u[1]) * _DEG  # standing, bottom
            pitch = p0 + (p1 - p0) * np.minimum(1.0, 1.3 * s)
            d = np.stack([np.full(n, -sgn * 0.08 * u[2]), np.sin(pitch), np.cos(pitch)], -1)
            target, pole = sh + (0.93 + 0.06 * u[3]) * reach * _unit(d), np.broadcast_to([sgn * 0.4, -1.0, 0.0], (n, 3))
        elif posture == "crossed":
            target = other + _apply(r_thor, [sgn * 0.03, -0.03 - 0.03 * u[0], 0.07 + 0.03 * u[1]])
            pole = _apply(r_thor, [sgn * 0.6, -0.7, 0.3])
        elif posture == "hips":
            target = body[f"{side}_hip"] + _apply(r_lumbar, [sgn * (0.04 + 0.03 * u[0]), 0.08 + 0.04 * u[1], 0.0])
            pole = _apply(r_lumbar, [sgn * 1.0, 0.0, -0.6])
        elif posture == "bar":
            target, pole = sh + _apply(r_thor, [sgn * (0.16 + 0.16 * u[0]), 0.04, -0.08]), _apply(r_thor, [sgn * 0.3, -1.0, -0.4])
        elif posture == "overhead":
            kk = 0.2 + 0.4 * u[0]
            d = (1 - kk) * np.array([0.0, 1.0, 0.0]) + kk * _apply(r_thor, [0, 1, 0]) + _apply(r_thor, [sgn * (0.15 + 0.2 * u[1]), 0, 0])
            target, pole = sh + 0.97 * reach * _unit(d), _apply(r_thor, [sgn * 0.5, 0.0, -0.6])
        else:  # clasped in front of the chest
            target = spine_top + _apply(r_thor, [sgn * 0.03, -0.10 - 0.08 * u[0], 0.2 + 0.1 * u[1]])
            pole = _apply(r_thor, [sgn * 0.8, -0.6, 0.0])
        elbow, wrist = _two_bone(sh, target + 0.01 * sway[:, 3:4], sj.upper_arm, sj.forearm, np.asarray(pole, dtype=float))
        out[f"{side}_elbow"], out[f"{side}_wrist"] = elbow, wrist
    return out


FOOT_LENGTH = 0.152  # heel to toe tip, fraction of height
HEEL_BACK = 0.22  # fraction of the foot behind the ankle joint
HEEL_H, TOE_H = 0.012, 0.008  # heel and toe-tip landmark heights above the floor, fraction of height


def _feet(sj: Subject, ank_l: np.ndarray, ank_r: np.ndarray, toe_out: float, mark: np.ndarray) -> np.ndarray:
    """(T, 4, 3) heels and toe tips (skeleton.FEET order) of feet planted along the toe-out direction. `mark`
    (fraction of height per frame) raises the heel landmark alone: on real reps it rides up a few degrees at the
    bottom of good squats too (the shoe and the pose model, not the heel)."""
    length = FOOT_LENGTH * sj.height
    a = np.radians(toe_out)
    out = np.empty((len(ank_l), 4, 3))
    for side, ankle, sgn in ((0, ank_l, 1.0), (1, ank_r, -1.0)):
        d = np.array([sgn * np.sin(a), 0.0, np.cos(a)])
        heel = ankle - HEEL_BACK * length * d
        tip = ankle + (1 - HEEL_BACK) * length * d
        heel[:, 1] = (HEEL_H + mark) * sj.height
        tip[:, 1] = TOE_H * sj.height
        out[:, side], out[:, 2 + side] = heel, tip
    return out


# ---- the observation model -------------------------------------------------------------------------------


def _observe(rng: np.random.Generator, world: np.ndarray, sj: Subject) -> tuple[np.ndarray, dict]:
    """Clean world joints -> what a monocular 3D pose estimator would report, in a camera-ish frame."""
    n, points = len(world), world.shape[1]  # the 19 joints, then any foot points
    x = world.copy()
    # estimator profile: 1 = BlazePose-like (MediaPipe), 0 = HMR-like (the paper's dataset)
    w = rng.random() ** 0.6
    knee, ank = x[:, [J["r_knee"], J["l_knee"]]], x[:, [J["r_ankle"], J["l_ankle"]]]
    moved = knee + (ank - knee) * (1.02 - 0.09 * w)  # BlazePose shanks come out shorter; the feet follow
    if points > N_JOINTS:
        x[:, N_JOINTS:] += (moved - ank)[:, [1, 0, 1, 0]]  # l_heel, r_heel, l_toe, r_toe follow their ankle
    x[:, [J["r_ankle"], J["l_ankle"]]] = moved
    sh_mid = x[:, J["neck"]]
    ears = (x[:, J["l_ear"]] + x[:, J["r_ear"]]) / 2
    extrap = ears + HEAD_TOP_EXTENSION * (ears - sh_mid)  # how pose.py makes the head top from BlazePose
    up_t = _unit(x[:, J["neck"]] - (x[:, J["r_hip"]] + x[:, J["l_hip"]]) / 2)
    x[:, J["head_top"]] = w * extrap + (1 - w) * x[:, J["head_top"]]
    x[:, J["neck"]] = sh_mid + (1 - w) * 0.05 * up_t  # HMR's neck sits above the shoulder line
    # camera: direction around the person, small tilt and roll; y stays roughly up
    yaw = rng.uniform(-np.pi, np.pi)
    tilt = np.clip(rng.normal(0, 4), -8, 8) * _DEG
    roll = np.clip(rng.normal(0, 2.5), -6, 6) * _DEG
    rot = (_rot_z(np.array([roll])) @ _rot_x(np.array([tilt])) @ _rot_y(np.array([yaw])))[0]
    centre = ((x[:, J["r_hip"]] + x[:, J["l_hip"]]) / 2).mean(0)
    cam = (x - centre) @ rot.T  # camera depth axis is z
    hipc = (cam[:, J["r_hip"]] + cam[:, J["l_hip"]]) / 2
    # monocular depth: compressed about the hips, slow per-joint drift, and jitter 2-4x larger than across
    depth_scale = rng.uniform(0.75, 1.05)
    cam[..., 2] = hipc[:, None, 2] + (cam[..., 2] - hipc[:, None, 2]) * depth_scale
    sigma = rng.uniform(0.002, 0.010) * (1.8 if rng.random() < 0.15 else 1.0)
    depth_factor = rng.uniform(2.0, 4.0)
    per_joint = np.ones(points)
    per_joint[N_JOINTS:] = 1.3
    per_joint[[J["r_wrist"], J["l_wrist"]]] = 1.8
    per_joint[[J["r_elbow"], J["l_elbow"]]] = 1.4
    per_joint[[J["r_ankle"], J["l_ankle"], J["r_knee"], J["l_knee"]]] = 1.2
    per_joint[[J["nose"], J["l_eye"], J["r_eye"], J["l_ear"], J["r_ear"]]] = 0.6
    axis_scale = np.array([1.0, 1.0, depth_factor])
    jitter = _slow_noise(rng, (n, points, 3), rng.uniform(0.6, 1.5))
    drift = _slow_noise(rng, (n, points, 3), 15.0)
    cam += sigma * per_joint[None, :, None] * axis_scale * (jitter + 0.6 * drift)
    scale = 1 + 0.012 * _slow_noise(rng, (n,), 10.0)
    cam = hipc[:, None] + (cam - hipc[:, None]) * scale[:, None, None]
    # the pose model runs on every `stride`-th frame (pose.extract_video) and some frames have no person;
    # frames in between are linear interpolations
    stride = int(rng.choice([1, 2, 3], p=[0.25, 0.25, 0.5]))
    keep = np.zeros(n, dtype=bool)
    keep[rng.integers(stride) :: stride] = True
    lost = 0
    if rng.random() < 0.3:
        for _ in range(rng.integers(1, 4)):
            a = int(rng.integers(0, n - 4))
            b = min(n, a + int(rng.integers(2, 13)))
            lost += int(keep[a:b].sum())
            keep[a:b] = False
    keep[[0, -1]] = keep[[0, -1]] | (keep.sum() < 2)
    idx = np.flatnonzero(keep)
    filled = resample(idx, cam[idx], np.arange(n))
    meta = {"camera_yaw_deg": round(float(np.degrees(yaw)), 1), "tilt_deg": round(float(np.degrees(tilt)), 1),
            "estimator_blazepose": round(float(w), 3), "noise_m": round(float(sigma), 4), "stride": stride,
            "lost_frames": lost}  # fmt: skip
    return filled, meta


# ---- corpora ---------------------------------------------------------------------------------------------


def _clip_rng(seed: int, label: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, GENERATOR_VERSION, 1 + label, index])


def corpus_plan(clips_per_class: int, subjects: int, seed: int) -> tuple[list[Subject], list[tuple[int, int, int]]]:
    """The subjects and, for every clip, (label, index within class, subject index): a pure function of seed."""
    if not (1 <= clips_per_class <= MAX_CLIPS_PER_CLASS and 1 <= subjects <= MAX_SUBJECTS):
        raise SquatError(f"--clips-per-class must be 1 to {MAX_CLIPS_PER_CLASS:,} and --subjects 1 to "
                         f"{MAX_SUBJECTS:,}")  # fmt: skip
    if seed < 0:
        raise SquatError(f"the seed must be 0 or more, got {seed}")
    people = make_subjects(subjects, np.random.default_rng([seed, GENERATOR_VERSION, 0]))
    plan = []
    for label in range(N_CLASSES):
        perm = np.random.default_rng([seed, GENERATOR_VERSION, 100 + label]).permutation(subjects)
        plan += [(label, i, int(perm[i % subjects])) for i in range(clips_per_class)]
    return people, plan


def generate_corpus(clips_per_class: int = CLIPS_PER_CLASS, subjects: int = SUBJECTS, seed: int = 0, noise: bool = True,
                    progress: Callable[[int, int], None] | None = None) -> tuple[list[SynthClip], np.ndarray]:  # fmt: skip
    """`clips_per_class` clips of each of the 7 classes by `subjects` people -> (clips, subject id per clip).

    Deterministic by seed: each clip's random stream depends only on (seed, class, index), so any subset or order
    of generation gives the same clips.
    """
    people, plan = corpus_plan(clips_per_class, subjects, seed)
    clips, ids = [], []
    for k, (label, i, p) in enumerate(plan):
        clips.append(simulate(_clip_rng(seed, label, i), label, people[p], noise))
        ids.append(people[p].id)
        if progress:
            progress(k + 1, len(plan))
    return clips, np.array(ids)


def _cache_dir() -> Path:
    return Path(os.environ.get("SQUATCLI_CACHE") or Path.home() / ".cache" / "squatcli")


def cache_path(clips_per_class: int, subjects: int, seed: int) -> Path:
    key = f"v{GENERATOR_VERSION}-{clips_per_class}x7-{subjects}subj-seed{seed}"
    return _cache_dir() / f"synthetic-{key}.npz"


def corpus_info(clips_per_class: int = CLIPS_PER_CLASS, subjects: int = SUBJECTS, seed: int = 0,
                noise: bool = True) -> dict:  # fmt: skip
    """What identifies a corpus: the generator and its parameters (written as corpus.json, kept in model metadata)."""
    return {"generator": "squatcli.synth", "generator_version": GENERATOR_VERSION, "seed": seed,
            "clips_per_class": clips_per_class, "subjects": subjects, "noise": noise}  # fmt: skip


def corpus_layout(clips_per_class: int, subjects: int, seed: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(label, id, subject id) of every clip, in the order both `load_synthetic` and a written corpus read back by
    `datasets.load_paper_dataset` list them (class by class, by index): what a split of the corpus depends on."""
    people, plan = corpus_plan(clips_per_class, subjects, seed)
    y = np.array([label for label, _, _ in plan], dtype=np.int64)
    ids = [paper_clip_path("", label, i).as_posix() for label, i, _ in plan]
    return y, ids, np.array([people[p].id for _, _, p in plan])


def load_synthetic_clips(clips_per_class: int = CLIPS_PER_CLASS, subjects: int = SUBJECTS, seed: int = 0,
                         progress: Callable[[int, int], None] | None = None) -> ClipSet:  # fmt: skip
    """The synthetic corpus as labelled clips (joints, feet, and each clip's per-frame fault amount, so rep models
    can label the reps that do not show the fault good), grouped by subject, cached on disk.

    The cache (`$SQUATCLI_CACHE` or `~/.cache/squatcli/`) is keyed by the parameters and GENERATOR_VERSION.
    `progress(done, total)` reports the clips generated when there is no cache yet.
    """
    path = cache_path(clips_per_class, subjects, seed)
    arrays = None
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as d:
                arrays = {k: d[k] for k in ("joints", "feet", "fault", "y", "subjects")}
        except Exception:  # a damaged or older cache is regenerated
            arrays = None
    if arrays is None:
        clips, subj = generate_corpus(clips_per_class, subjects, seed, progress=progress)
        arrays = {"joints": np.stack([c.joints for c in clips]).astype(np.float32),
                  "feet": np.stack([c.feet for c in clips]).astype(np.float32),
                  "fault": np.stack([c.fault for c in clips]).astype(np.float32),
                  "y": np.array([CLASS_KEYS.index(c.label) for c in clips], dtype=np.int64), "subjects": subj}  # fmt: skip
        try:
            with atomic_output(path) as tmp, open(tmp, "wb") as f:
                np.savez(f, **arrays)
        except OSError:
            pass  # an unwritable cache only costs time
    _, ids, _ = corpus_layout(clips_per_class, subjects, seed)
    clips = [JointsClip(j, float(FPS), None, CLASS_KEYS[int(label)], feet)
             for j, feet, label in zip(arrays["joints"], arrays["feet"], arrays["y"])]  # fmt: skip
    source = corpus_source(corpus_info(clips_per_class, subjects, seed))
    return ClipSet(clips, ids, np.asarray(arrays["subjects"]).astype(str), source, faults=list(arrays["fault"]))


def load_synthetic(clips_per_class: int = CLIPS_PER_CLASS, subjects: int = SUBJECTS, seed: int = 0,
                   progress: Callable[[int, int], None] | None = None) -> Dataset:  # fmt: skip
    """The synthetic corpus as normalised 300-frame windows of the 171 distances, one per clip (the paper's
    road), through the one feature path (inputs.to_dataset)."""
    from squatcli.inputs import PAPER_INPUTS, to_dataset

    return to_dataset(load_synthetic_clips(clips_per_class, subjects, seed, progress), PAPER_INPUTS, "synthetic")


def _write_one(root: Path, label: int, index: int, clip: SynthClip) -> tuple[str, str]:
    json_path = paper_clip_path(root, label, index)
    write_paper_json(json_path, np.round(distances(clip.joints).astype(np.float64), 5))
    npz_path = root / "joints" / CLASSES[label].folder / f"{json_path.stem}.npz"
    write_joints_npz(npz_path, JointsClip(clip.joints, clip.fps, None, clip.label, clip.feet))
    return json_path.relative_to(root).as_posix(), npz_path.relative_to(root).as_posix()


MANIFEST_COLUMNS = ("path", "subject", "label", "severity", "partial", "reps", "arms", "joints", "camera_yaw_deg",
                    "estimator_blazepose", "stride")  # fmt: skip


def _generate_and_write(args) -> dict:
    root, seed, label, index, subject, noise = args
    clip = simulate(_clip_rng(seed, label, index), label, subject, noise)
    rel_json, rel_npz = _write_one(Path(root), label, index, clip)
    return {"path": rel_json, "subject": subject.id, "label": clip.label, "joints": rel_npz,
            **{c: clip.meta[c] for c in MANIFEST_COLUMNS if c in clip.meta and c not in ("label", "subject")}}  # fmt: skip


def check_output_folder(out_dir: str | Path, overwrite: bool) -> Path:
    """The corpus folder, if it may be written: new, empty, or (with overwrite) an earlier synthetic corpus."""
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise SquatError("exists and is not a folder", out)
    if out.is_dir() and any(out.iterdir()):
        ours = {c.folder for c in CLASSES} | {"joints", MANIFEST, CORPUS_INFO}
        if not overwrite:
            raise SquatError("folder is not empty; choose a new folder or pass --overwrite", out)
        strangers = [p.name for p in out.iterdir() if p.name not in ours]
        if strangers:
            raise SquatError(f"folder holds files that are not a synthetic corpus ({', '.join(sorted(strangers)[:3])}); "
                             "refusing to overwrite it", out)  # fmt: skip
    return out


def check_disk_space(out_dir: str | Path, clips_per_class: int) -> None:
    """Refuse up front a corpus that would not fit on the disk it goes to (BYTES_PER_CLIP per clip)."""
    need = BYTES_PER_CLIP * clips_per_class * N_CLASSES
    free = shutil.disk_usage(nearest_existing(out_dir)).free
    if need > free:
        raise SquatError(f"{clips_per_class * N_CLASSES:,} clips need about {size_text(need)}; only "
                         f"{size_text(free)} is free there", out_dir)  # fmt: skip


def build_corpus(out_dir: str | Path, clips_per_class: int = CLIPS_PER_CLASS, subjects: int = SUBJECTS, seed: int = 0,
                 noise: bool = True, workers: int | None = None, overwrite: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> list[dict]:  # fmt: skip
    """Generate and write a corpus to `out_dir` in parallel: paper-layout JSON distances, joints/<class>/*.npz,
    manifest.csv (path, subject, ...) and corpus.json (`corpus_info`), read back by `datasets.load_paper_dataset`.
    The folder appears complete or not at all.

    Returns the manifest rows. Everything is written into a hidden sibling folder that replaces `out_dir` at the end.
    """
    out = check_output_folder(out_dir, overwrite)
    people, plan = corpus_plan(clips_per_class, subjects, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        jobs = [(str(tmp), seed, label, i, people[p], noise) for label, i, p in plan]
        workers = workers or min(2, os.cpu_count() or 1)
        rows = []
        if workers > 1 and len(jobs) >= 50:
            import multiprocessing as mp

            from squatcli.interrupts import quiet_worker

            with mp.get_context("fork").Pool(workers, initializer=quiet_worker) as pool:
                for k, row in enumerate(pool.imap(_generate_and_write, jobs, chunksize=8)):
                    rows.append(row)
                    if progress:
                        progress(k + 1, len(jobs))
        else:
            for k, job in enumerate(jobs):
                rows.append(_generate_and_write(job))
                if progress:
                    progress(k + 1, len(jobs))
        with open(tmp / MANIFEST, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS, restval="")
            writer.writeheader()
            writer.writerows(rows)
        (tmp / CORPUS_INFO).write_text(json.dumps(corpus_info(clips_per_class, subjects, seed, noise), indent=1) + "\n",
                                       encoding="utf-8")  # fmt: skip
        os.chmod(tmp, default_mode(0o777))
        if overwrite and out.exists():
            check_output_folder(out, overwrite)  # still a synthetic corpus (another process may have written there)
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / "x")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:  # atomic: fails if `out` was filled meanwhile (by another `squat synth`), replaces an empty folder
                os.rename(tmp, out)
            except OSError as e:
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                    raise
                raise SquatError("was written by another process while this corpus was generated; left it as it "
                                 "is (pass --overwrite to replace a synthetic corpus)", out) from None  # fmt: skip
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return rows


def _dips(s: np.ndarray, level: float = 0.9) -> list[np.ndarray]:
    deep = s >= level
    edges = np.flatnonzero(np.diff(np.r_[0, deep.astype(int), 0]))
    return [np.arange(a, b) for a, b in zip(edges[::2], edges[1::2])]


def fault_signatures(w: np.ndarray, s: np.ndarray) -> dict[str, float]:
    """Each fault's geometric signature for one clip: its most faulty value over the bottoms of the reps.

    `w` (T, 19, 3) world joints (y up, exact: `SynthClip.world`), `s` (T,) depth (`SynthClip.depth`). Signatures:
    knee width / ankle width, hip-ankle distance / leg length, hip-neck chord / its standing length (spinal
    flexion or extension shortens it), trunk angle minus shank angle, neck extension (face direction vs the
    trunk's normal, degrees) and shank angle from vertical (knee forward of the ankle).
    """
    up = np.array([0.0, 1.0, 0.0])
    knee_w = np.linalg.norm(w[:, J["l_knee"]] - w[:, J["r_knee"]], axis=-1)
    ankle_w = np.linalg.norm(w[:, J["l_ankle"]] - w[:, J["r_ankle"]], axis=-1)
    leg = np.linalg.norm(w[0, J["l_hip"]] - w[0, J["l_knee"]]) + np.linalg.norm(w[0, J["l_knee"]] - w[0, J["l_ankle"]])
    hip_ankle = (np.linalg.norm(w[:, J["l_hip"]] - w[:, J["l_ankle"]], axis=-1)
                 + np.linalg.norm(w[:, J["r_hip"]] - w[:, J["r_ankle"]], axis=-1)) / 2 / leg  # fmt: skip
    hipc, neck = midpoint(w, "l_hip", "r_hip"), w[:, J["neck"]]
    trunk = neck - hipc
    chord = np.linalg.norm(trunk, axis=-1)
    u_t = trunk / chord[:, None]
    trunk_deg = np.degrees(np.arccos(np.clip(u_t @ up, -1, 1)))
    shank = (w[:, J["l_knee"]] - w[:, J["l_ankle"]] + w[:, J["r_knee"]] - w[:, J["r_ankle"]]) / 2
    shank_deg = np.degrees(np.arccos(np.clip((shank / np.linalg.norm(shank, axis=-1, keepdims=True)) @ up, -1, 1)))
    face = w[:, J["nose"]] - midpoint(w, "l_ear", "r_ear")
    face /= np.linalg.norm(face, axis=-1, keepdims=True)
    neck_ext = 90 - np.degrees(np.arccos(np.clip((face * u_t).sum(-1), -1, 1)))
    stand = chord[s < 0.05].mean() if np.any(s < 0.05) else chord.max()
    per_rep = []
    for idx in _dips(s):
        per_rep.append({
            "knee_ankle_width": float(np.min(knee_w[idx] / ankle_w[idx])),
            "hip_ankle_per_leg": float(np.min(hip_ankle[idx])),
            "trunk_chord_ratio": float(np.min(chord[idx] / stand)),
            "trunk_minus_shank_deg": float(np.mean(trunk_deg[idx] - shank_deg[idx])),
            "neck_ext_deg": float(np.max(neck_ext[idx])),
            "shank_deg": float(np.max(shank_deg[idx])),
        })  # fmt: skip
    # most faulty rep: min for ratios that faults lower, max for angles that faults raise
    lower = {"knee_ankle_width", "trunk_chord_ratio"}
    out = {}
    for k in per_rep[0]:
        vals = [r[k] for r in per_rep]
        out[k] = min(vals) if k in lower else max(vals)
    out["trunk_minus_shank_deg_min"] = min(r["trunk_minus_shank_deg"] for r in per_rep)
    return out


FAULT_SIGNATURE = {  # fault -> (signature, direction: +1 if the fault raises it)
    "knees_in": ("knee_ankle_width", -1),
    "back_round": ("trunk_chord_ratio", -1),
    "back_arch": ("trunk_chord_ratio", -1),
    "head_up": ("neck_ext_deg", +1),
    "shallow": ("hip_ankle_per_leg", +1),
    "knees_forward": ("shank_deg", +1),
}


EXAMPLE_RECIPE = {"seed": 2026, "label": "knees_in", "severity": 0.9}  # a person outside every training corpus


def example_clip(seed: int = EXAMPLE_RECIPE["seed"], label: str = EXAMPLE_RECIPE["label"],
                 severity: float = EXAMPLE_RECIPE["severity"]) -> JointsClip:  # fmt: skip
    """The clip shipped as squatcli/data/example_squat.npz (`squat assess --example`): one synthetic person, drawn
    from their own seed, squatting with an obvious fault, as a pose estimator would report it."""
    from squatcli.skeleton import class_index

    rng = np.random.default_rng([seed, GENERATOR_VERSION])
    clip = simulate(rng, class_index(label), make_subjects(1, rng)[0], noise=True, severity=severity)
    return JointsClip(clip.joints, clip.fps, None, clip.label, clip.feet)
