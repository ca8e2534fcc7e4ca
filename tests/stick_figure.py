"""A kinematic stick figure squatting with the angles a test sets: knee angle, shank tilt, trunk lean, head tilt,
knee travel outwards, tempo and pauses (x forward, y up, z to its left, metres)."""

from __future__ import annotations

import math

import numpy as np

from squatcli.skeleton import FPS, J, N_JOINTS

SHANK = THIGH = 0.45
TRUNK = 0.5


def _profile(n_reps: int, rep_s: float, pause_top: float, pause_bottom: float, stand_s: float) -> np.ndarray:
    """Depth fraction p(t) in [0, 1]: stand, then n reps (cosine down and up, optional pauses), then stand."""
    half = np.sin(np.linspace(0, np.pi / 2, round(rep_s * FPS / 2))) ** 2  # 0 -> 1
    rep = np.concatenate([half, np.ones(round(pause_bottom * FPS)), half[::-1]])
    parts = [np.zeros(round(stand_s * FPS))]
    for i in range(n_reps):
        parts += [rep] + ([np.zeros(round(pause_top * FPS))] if i < n_reps - 1 else [])
    parts.append(np.zeros(round(stand_s * FPS)))
    return np.concatenate(parts)


def squat_clip(
    n_reps: int = 3,
    rep_s: float = 2.0,
    knee_angle: float = 60.0,  # hip-knee-ankle at the bottom, degrees
    shank_tilt: float = 35.0,  # shank forward from vertical at the bottom, degrees
    trunk_lean: float = 35.0,  # trunk forward from vertical at the bottom, degrees
    head_tilt: float = 0.0,  # head extension relative to the trunk (looking up > 0), degrees, constant
    knee_out: float = 0.04,  # metres each knee moves outward at the bottom (negative = caving in)
    pause_top_s: float = 0.0,
    pause_bottom_s: float = 0.0,
    stand_s: float = 0.7,
    rotation: np.ndarray | None = None,
    jitter: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """(T, 19, 3) joints of a stick figure squatting: x forward, y up, z to its left, metres."""
    p = _profile(n_reps, rep_s, pause_top_s, pause_bottom_s, stand_s)
    flex = np.radians(180.0 - knee_angle) * p
    alpha = np.radians(shank_tilt) * p  # shank from vertical, knee ahead of ankle
    phi = flex - alpha  # thigh from vertical, hip behind knee
    lean = np.radians(trunk_lean) * p
    t = len(p)
    x = np.zeros((t, N_JOINTS, 3))

    def put(name: str, fwd: np.ndarray, up: np.ndarray, side: float | np.ndarray) -> None:
        x[:, J[name]] = np.stack([fwd, up, np.broadcast_to(side, (t,))], axis=-1)

    knee_f, knee_u = SHANK * np.sin(alpha), SHANK * np.cos(alpha)
    hip_f, hip_u = knee_f - THIGH * np.sin(phi), knee_u + THIGH * np.cos(phi)
    for sign, side in ((1, "l"), (-1, "r")):
        put(f"{side}_ankle", 0 * p, 0 * p, sign * 0.15)
        put(f"{side}_knee", knee_f, knee_u, sign * (0.14 + knee_out * p))
        put(f"{side}_hip", hip_f, hip_u, sign * 0.125)
    neck_f, neck_u = hip_f + TRUNK * np.sin(lean), hip_u + TRUNK * np.cos(lean)
    put("neck", neck_f, neck_u, 0.0)
    for sign, side in ((1, "l"), (-1, "r")):  # arms held forward
        put(f"{side}_shoulder", neck_f, neck_u, sign * 0.18)
        put(f"{side}_elbow", neck_f + 0.28, neck_u, sign * 0.18)
        put(f"{side}_wrist", neck_f + 0.53, neck_u, sign * 0.18)
    head = lean - np.radians(head_tilt)  # head axis from vertical; looking up rotates it back
    ax_f, ax_u, fa_f, fa_u = np.sin(head), np.cos(head), np.cos(head), -np.sin(head)

    def at(along: float, ahead: float) -> tuple[np.ndarray, np.ndarray]:
        return neck_f + along * ax_f + ahead * fa_f, neck_u + along * ax_u + ahead * fa_u

    put("head_top", *at(0.25, 0.0), 0.0)
    put("nose", *at(0.12 - 0.03, 0.10), 0.0)
    for sign, side in ((1, "l"), (-1, "r")):
        put(f"{side}_eye", *at(0.12 + 0.02, 0.08), sign * 0.03)
        put(f"{side}_ear", *at(0.12, 0.0), sign * 0.07)
    if rotation is not None:
        x = x @ rotation.T + np.array([0.3, -1.0, 2.5])
    if jitter:
        x = x + np.random.default_rng(seed).normal(0, jitter, x.shape)
    return x


def random_rotation(rng: np.random.Generator, max_tilt_deg: float = 15.0) -> np.ndarray:
    """Any yaw about y, then a tilt of up to max_tilt_deg about a random horizontal axis."""
    yaw = rng.uniform(0, 2 * np.pi)
    c, s = np.cos(yaw), np.sin(yaw)
    r_yaw = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    axis = np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), 0.0, np.sin(a)])
    tilt = np.radians(rng.uniform(0, max_tilt_deg))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    r_tilt = np.eye(3) + np.sin(tilt) * k + (1 - np.cos(tilt)) * k @ k
    return r_tilt @ r_yaw


def expected_depth(knee_angle: float, shank_tilt: float) -> float:
    return math.cos(math.radians(180 - knee_angle - shank_tilt))  # (hip - knee) height / thigh
