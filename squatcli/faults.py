"""Squat faults as transforms of any skeleton over a rep: the one definition of each fault.

Applied to real good reps, a transform makes a faulty rep in which everything but the fault stays real (the
person, the tempo, the pose estimator's noise); the synthetic generator uses the same transforms. Each is a
documented biomechanical change (FAULTS) whose size a severity sets from mild (0) to obvious (1), and which grows
with the rep's depth (`depth_profile`: 0 standing, 1 at the bottom), as a fault shows most at the bottom.
Joints (T, 19, 3) and feet (T, 4, 3) in any unit and orientation: the body's up, left and forward come from the
clip (camera.body_axes). Every transform keeps the segment lengths (rotations about joints, or real frames of the
same rep); a joint a source lacks (NaN) stays NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from squatcli.features import midpoint
from squatcli.skeleton import F, J


@dataclass(frozen=True)
class Fault:
    """A fault transform: `key` (skeleton class), its size at severity 0 and 1 in `unit`, what it does, and the
    measurement (reps.MEASUREMENTS) it moves."""

    key: str
    mild: float
    obvious: float
    unit: str
    what: str
    moves: str

    def size(self, severity: float) -> float:
        return self.mild + float(np.clip(severity, 0.0, 1.0)) * (self.obvious - self.mild)


FAULTS: dict[str, Fault] = {f.key: f for f in (
    Fault("head_up", 20.0, 45.0, "degrees", "the head (nose, eyes, ears, head top) rotated up about the neck: the neck "
          "extended, the gaze up", "head_pitch"),
    Fault("back_round", 25.0, 55.0, "degrees", "the upper trunk (neck, shoulders, arms, head) rotated forward about the "
          "thoracolumbar junction, 45 % of the way from the hips to the neck, as a flexing spine carries it: the trunk "
          "leans more and its hip-neck chord shortens, each segment's length kept", "trunk_chord"),
    Fault("back_arch", 20.0, 45.0, "degrees", "the upper trunk rotated back about the thoracolumbar junction (an "
          "extending spine: the chest thrown up): the trunk leans less and its chord shortens", "trunk_chord"),
    Fault("forward_lean", 10.0, 30.0, "degrees", "the whole trunk (and head and arms) rotated forward about the hips",
          "max_trunk_lean"),
    Fault("knees_in", 20.0, 60.0, "degrees", "each knee rotated towards the midline about its hip-ankle axis (valgus)",
          "knee_ankle_width_ratio"),
    Fault("knees_forward", 0.08, 0.25, "thigh lengths", "the hips and trunk carried forward over the feet, so the knees "
          "and shins travel past the toes, the ankles raised 0.3 and the heels 0.7 of that (the foot turning about the "
          "toes)", "max_shank_angle"),
    Fault("shallow", 0.25, 0.55, "of the hip drop", "the bottom of the rep cut: each frame shows the frame of the same "
          "rep (descent or ascent) that is this much less deep, tempo kept", "depth"),
)}  # fmt: skip
SPINE_PIVOT = 0.45  # the thoracolumbar junction, as a fraction of the way from the hip midpoint to the neck
HEAD = [J[n] for n in ("nose", "l_eye", "r_eye", "l_ear", "r_ear", "head_top")]
UPPER = HEAD + [J[n] for n in ("neck", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist")]


# The paper's faults the real data here lacks (Chariar et al. 2023 has no head or back faults) or shows only in part
# (its "heels lifting" is one way of knees travelling forward): what training adds, made from real good reps.
MISSING_FROM_REAL: tuple[str, ...] = ("head_up", "back_round", "back_arch", "knees_forward")


# Made faults for training span moderate to obvious: a mild one lies within how real good squatters vary (head up
# at severity 0 moves head pitch 0.6 standard deviations of the real good reps, its best single measure separating it
# from them with AUC 0.69 as cameras see it), so it would teach the model to doubt real good reps.
TRAINING_SEVERITY = (0.5, 1.0)
MADE_MARK = "+"  # a made clip's id: its source clip's id, this mark and the fault (datasets.Dataset.made reads it)


def with_transformed(clips, keys: tuple[str, ...], seed: int = 0, without: tuple[str, ...] = (),
                     severity: float | None = None, only: bool = False, per_rep: int | None = 1):  # fmt: skip
    """A datasets.ClipSet plus, for each of its good clips, that clip showing `per_rep` of the faults in `keys`
    (taken in turn, so each fault is made from as many good clips; None: all of them) at `severity` (default: drawn
    uniformly over TRAINING_SEVERITY, reproducible from `seed`), grouped with its source clip; clips of the classes
    in `without` left out (a real class replaced by its transform, to test the transform); with `only`, the
    transformed clips alone."""
    import dataclasses

    from squatcli.datasets import JointsClip

    keep = [] if only else [k for k, c in enumerate(clips.clips) if c.label not in without]
    out, ids, groups = [clips.clips[k] for k in keep], [clips.ids[k] for k in keep], [clips.groups[k] for k in keep]
    good = [k for k, c in enumerate(clips.clips) if c.label == "good"]
    lo, hi = TRAINING_SEVERITY
    for g, k in enumerate(good):
        for i in range(len(keys) if per_rep is None else min(per_rep, len(keys))):
            n = (g + i) % len(keys)
            drawn = float(np.random.default_rng([seed, 13, n, k]).uniform(lo, hi)) if severity is None else severity
            joints, feet = apply(keys[n], clips.clips[k].joints, clips.clips[k].feet, drawn)
            out.append(JointsClip(joints.astype(np.float32), clips.clips[k].fps, None, keys[n],
                                  None if feet is None else feet.astype(np.float32)))  # fmt: skip
            ids.append(f"{clips.ids[k]}{MADE_MARK}{keys[n]}")
            groups.append(clips.groups[k])
    made = [False] * len(keep) + [True] * (len(out) - len(keep))
    return dataclasses.replace(clips, clips=out, ids=ids, groups=np.asarray(groups), faults=None, made=made)


def depth_profile(joints: np.ndarray, fps: float = 30.0) -> np.ndarray:
    """(T,) 0 standing .. 1 at the clip's deepest frame: the hip drop of each frame against the deepest."""
    from squatcli.reps import estimate_up, hip_height, standing_level

    h = hip_height(joints, estimate_up(joints), fps)
    stand = standing_level(h, fps)
    return np.clip((stand - h) / max(float(np.max(stand - h)), 1e-9), 0.0, 1.0)


def apply(key: str, joints: np.ndarray, feet: np.ndarray | None, severity: float, amount: np.ndarray | None = None,
          share: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
    """(joints, feet) showing fault `key` at `severity` (0 mild .. 1 obvious) in proportion to `amount` (T,) per
    frame (default: `depth_profile`; the synthetic generator passes its own, e.g. a fault in some reps only).
    `share` (T,), optional: how much of the fault each frame's rep shows (0 in a rep without it), for the parts of a
    fault that do not grow with depth: a head up from the start, how much shallower a rep is (default: a head up in
    every rep, too shallow by amount / depth)."""
    joints = np.array(joints, dtype=np.float64)
    feet = None if feet is None else np.array(feet, dtype=np.float64)
    depth = depth_profile(joints)
    amount = depth if amount is None else np.clip(np.asarray(amount, dtype=np.float64), 0.0, None)
    if key == "shallow":
        return _shallow(joints, feet, FAULTS[key].size(severity), amount if share is None else share * depth, depth)
    if key == "head_up" and share is not None:
        return _head_up(joints, feet, FAULTS[key].size(severity), amount, np.asarray(share, dtype=np.float64))
    return _TRANSFORMS[key](joints, feet, FAULTS[key].size(severity), amount)


# ---- the transforms ------------------------------------------------------------------------------------------


def _axes(joints: np.ndarray) -> np.ndarray:
    from squatcli.camera import body_axes

    return body_axes(joints)  # rows: up, left, forward


def _tilt(points: np.ndarray, pivot: np.ndarray, angle: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Points (T, N, 3) rotated about `pivot` (T, 3) in the body's sagittal plane by `angle` (T,) radians:
    positive tips up towards forward (flexion, leaning), negative forward towards up (extension)."""
    up, _, forward = axes
    v = points - pivot[:, None]
    u, f = v @ up, v @ forward
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    du, df = u * c - f * s - u, f * c + u * s - f
    return points + du[..., None] * up + df[..., None] * forward


def _head_up(joints, feet, size, amount, share=1.0):
    profile = 0.35 * share + 0.65 * amount  # people look up from the start and most at the bottom
    angle = -np.radians(size) * profile
    joints[:, HEAD] = _tilt(joints[:, HEAD], joints[:, J["neck"]], angle, _axes(joints))
    return joints, feet


def _spine(joints, feet, size, amount, sign):
    hips = midpoint(joints, "l_hip", "r_hip")
    pivot = hips + SPINE_PIVOT * (joints[:, J["neck"]] - hips)
    joints[:, UPPER] = _tilt(joints[:, UPPER], pivot, sign * np.radians(size) * amount, _axes(joints))
    return joints, feet


def _forward_lean(joints, feet, size, amount):
    hips = midpoint(joints, "l_hip", "r_hip")
    joints[:, UPPER] = _tilt(joints[:, UPPER], hips, np.radians(size) * amount, _axes(joints))
    return joints, feet


KNEE_MIDLINE = 0.25  # a caving knee stops this fraction of its ankle's distance from the midline: it never crosses


def _knees_in(joints, feet, size, amount):
    """Each knee turned about its hip-ankle axis towards the midline by up to `size` degrees x amount, but never
    nearer the midline than KNEE_MIDLINE of its ankle's offset (bisection on the angle)."""
    left = _axes(joints)[1]
    mid = midpoint(joints, "l_hip", "r_hip")
    for side in "lr":
        hip, knee, ankle = (joints[:, J[f"{side}_{n}"]] for n in ("hip", "knee", "ankle"))
        outward = np.sign(np.nanmean((ankle - mid) @ left))  # +1 for the left leg
        axis, arm = _unit(ankle - hip), knee - hip
        floor = KNEE_MIDLINE * np.abs((ankle - mid) @ left)
        direction = -1.0 if np.nanmean((_rotate(arm, axis, np.full(len(arm), 0.1)) - arm) @ left * outward) > 0 else 1.0
        full = direction * np.radians(size) * amount
        lo, hi = np.zeros(len(arm)), np.ones(len(arm))
        for _ in range(20):  # the largest share of the turn that keeps the knee off the midline
            mid_share = 0.5 * (lo + hi)
            offset = (hip + _rotate(arm, axis, full * mid_share) - mid) @ left * outward
            ok = offset >= floor
            lo, hi = np.where(ok, mid_share, lo), np.where(ok, hi, mid_share)
        share = np.where(((hip + _rotate(arm, axis, full) - mid) @ left * outward) >= floor, 1.0, lo)
        joints[:, J[f"{side}_knee"]] = hip + _rotate(arm, axis, full * share)
    return joints, feet


def _knees_forward(joints, feet, size, amount):
    """Hips and trunk carried forward by `size` thigh lengths (x amount), ankles and heels raised (FAULTS), the
    knees re-solved over their ankles with the thigh and shank lengths kept."""
    up, left, forward = _axes(joints)
    thigh = np.nanmedian(np.linalg.norm(joints[:, J["l_hip"]] - joints[:, J["l_knee"]], axis=-1))
    shift = (size * thigh * amount)[:, None] * forward
    lift = (0.3 * size * thigh * amount)[:, None] * up
    above = [i for i in range(joints.shape[1]) if i not in [J[f"{s}_{n}"] for s in "lr" for n in ("knee", "ankle")]]
    for side in "lr":
        hip, knee, ankle = (joints[:, J[f"{side}_{n}"]].copy() for n in ("hip", "knee", "ankle"))
        lengths = np.linalg.norm(hip - knee, axis=-1), np.linalg.norm(knee - ankle, axis=-1)
        new_ankle = ankle + lift
        pole = knee - 0.5 * (hip + ankle)
        joints[:, J[f"{side}_knee"]] = _two_bone_knee(hip + shift + lift, new_ankle, *lengths, pole)
        joints[:, J[f"{side}_ankle"]] = new_ankle
        if feet is not None:
            feet[:, F[f"{side}_heel"]] += lift * 0.7 / 0.3
    joints[:, above] += (shift + lift)[:, None]
    return joints, feet


def _shallow(joints, feet, size, amount, depth):
    """Each frame shows the frame of the same descent or ascent whose depth is (1 - size x weight) of its own, the
    weight being the share of the fault the frame's rep shows (amount / depth; 1 by default): poses of the same
    person, so nothing but the depth changes."""
    weight = np.clip(amount / np.maximum(depth, 1e-6), 0.0, 1.0)
    out_j, out_f = joints.copy(), None if feet is None else feet.copy()
    for run in _monotone_runs(depth):
        d = depth[run]
        order = np.argsort(d, kind="stable")
        pos = np.interp((1.0 - size * weight[run]) * d, d[order], np.arange(len(run)))
        lo, hi = np.floor(pos).astype(int), np.ceil(pos).astype(int)
        w = (pos - lo)[:, None, None]
        a, b = run[order[lo]], run[order[hi]]
        out_j[run] = (1 - w) * joints[a] + w * joints[b]
        if feet is not None:
            out_f[run] = (1 - w) * feet[a] + w * feet[b]
    return out_j, out_f


def _monotone_runs(x: np.ndarray, turn: float = 0.1) -> list[np.ndarray]:
    """Frame indices of the descents and ascents: the stretches between the turning points where x reverses by at
    least `turn` (reps._zigzag), so a pause's wiggles at the bottom stay inside the stretch they interrupt and are
    cut with it; turning points shared by the two stretches they join."""
    from squatcli.reps import _zigzag

    turns = sorted({0, len(x) - 1, *(i for i, _ in _zigzag(x, turn))})
    return [np.arange(a, b + 1) for a, b in zip(turns[:-1], turns[1:])]


_TRANSFORMS = {
    "head_up": _head_up,
    "back_round": lambda j, f, s, a: _spine(j, f, s, a, +1.0),
    "back_arch": lambda j, f, s, a: _spine(j, f, s, a, -1.0),
    "forward_lean": _forward_lean,
    "knees_in": _knees_in,
    "knees_forward": _knees_forward,
}


# ---- small geometry ------------------------------------------------------------------------------------------


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _rotate(v: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Vectors v (T, 3) rotated about unit axes (T, 3) by angles (T,) radians (Rodrigues)."""
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    return v * c + np.cross(axis, v) * s + axis * (axis * v).sum(-1, keepdims=True) * (1 - c)


def _two_bone_knee(hip: np.ndarray, ankle: np.ndarray, thigh: np.ndarray, shank: np.ndarray, pole: np.ndarray) -> np.ndarray:
    """The knee between `hip` and `ankle` (T, 3) with these segment lengths (T,), bending towards `pole`; an ankle
    out of reach is treated as at full reach."""
    d = ankle - hip
    dist = np.clip(np.linalg.norm(d, axis=-1), np.abs(thigh - shank) + 1e-6, thigh + shank - 1e-6)
    u = _unit(d)
    a = (thigh**2 - shank**2 + dist**2) / (2 * dist)
    h = np.sqrt(np.maximum(thigh**2 - a**2, 0.0))
    p = _unit(pole - (pole * u).sum(-1, keepdims=True) * u)
    return hip + a[:, None] * u + h[:, None] * p
