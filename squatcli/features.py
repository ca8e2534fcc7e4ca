"""Joints -> the 171-distance temporal distance matrix, its scale normalisation and 300-frame windows.

One implementation serves training, evaluation and assessment (there is no second feature path):

* `distances`: per frame, the Euclidean distance between every pair of the 19 joints, in
  `numpy.triu_indices(19, 1)` order (the paper's dataset order). Invariant to rotation and translation.
* `normalise`: divides a clip's distances by its body scale, the median over frames of the mean length of
  twelve rigid segments (shanks, thighs, upper arms, forearms, hip and shoulder width, both flanks). Those
  segments are themselves among the 171 distances, so HMR data that ships only distances, MediaPipe joints and
  synthetic joints all normalise the same way, and a 1.5 m and a 1.95 m person become comparable.
* `windows`: clips longer than 300 frames are cut into windows with a hop of 150 frames (50 % overlap), the
  last one aligned to the clip's end so no frame is dropped; shorter clips are padded to 300 frames by
  ping-pong repetition (forward, backward, forward...), which turns one rep into a sequence of reps with no
  jump, like the 3-5-rep clips the models learn from.
"""

from __future__ import annotations

import numpy as np

from squatcli.skeleton import J, N_FEATURES, N_JOINTS, PAIR_I, PAIR_J, SCALE_BONES, WINDOW, pair_index

HOP = WINDOW // 2  # frames between the starts of consecutive windows of a long clip
_SCALE_COLUMNS = np.array([pair_index(a, b) for a, b in SCALE_BONES])


def distances(joints: np.ndarray) -> np.ndarray:
    """(T, 19, 3) joints -> (T, 171) pairwise Euclidean distances, float32."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (N_JOINTS, 3):
        raise ValueError(f"joints must have shape (T, {N_JOINTS}, 3), got {joints.shape}")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow becomes inf, which body_scale names
        diff = joints[:, PAIR_I, :] - joints[:, PAIR_J, :]
        return np.sqrt((diff**2).sum(-1)).astype(np.float32)


def body_scale(dist: np.ndarray) -> float:
    """A clip's body scale: median over frames of the mean length of the rigid SCALE_BONES (≈ 0.35 m in adults)."""
    dist = _check_features(dist)
    if not np.all(np.isfinite(dist)):
        raise ValueError("distances are not finite (NaN, or too large to compute: coordinates far beyond metres?)")
    if np.any(dist < 0):
        raise ValueError("negative distances (a distance is never negative)")
    scale = float(np.median(dist[:, _SCALE_COLUMNS].mean(axis=1)))
    if not scale > 0:
        raise ValueError("body scale is zero: all joints coincide")
    return scale


def normalise(dist: np.ndarray) -> np.ndarray:
    """(T, 171) distances -> the same divided by the clip's body scale (dimensionless, typically 0-5)."""
    dist = _check_features(dist)
    return (dist / body_scale(dist)).astype(np.float32)


def clip_features(joints: np.ndarray) -> np.ndarray:
    """(T, 19, 3) joints at 30 fps -> normalised (T, 171) features: what every model reads."""
    return normalise(distances(joints))


def pad_to_window(seq: np.ndarray, length: int = WINDOW) -> np.ndarray:
    """Pad a (T, ...) sequence with T < length to `length` frames by ping-pong repetition; truncate if longer."""
    t = len(seq)
    if t == 0:
        raise ValueError("cannot pad an empty sequence")
    if t >= length:
        return seq[:length]
    if t == 1:
        return np.repeat(seq, length, axis=0)
    period = 2 * t - 2
    k = np.arange(length) % period
    return seq[np.where(k < t, k, period - k)]


def window_starts(n_frames: int, length: int = WINDOW, hop: int = HOP) -> np.ndarray:
    """First frame of each window over a clip of n_frames (one window, at 0, when the clip is short)."""
    if n_frames <= length:
        return np.zeros(1, dtype=int)
    starts = list(range(0, n_frames - length + 1, hop))
    if starts[-1] != n_frames - length:
        starts.append(n_frames - length)
    return np.array(starts, dtype=int)


def windows(features: np.ndarray, length: int = WINDOW, hop: int = HOP) -> tuple[np.ndarray, np.ndarray]:
    """(T, 171) features -> ((N, length, 171) windows, (N,) start frames), padding short clips (see module doc)."""
    features = _check_features(features)
    starts = window_starts(len(features), length, hop)
    if len(features) < length:
        return pad_to_window(features, length)[None], starts
    return np.stack([features[s : s + length] for s in starts]), starts


def fit_window(features: np.ndarray, length: int = WINDOW) -> np.ndarray:
    """A dataset clip -> exactly one window: truncate to the first `length` frames or pad (paper: 301 -> 300)."""
    return pad_to_window(_check_features(features), length)


def classical_mds(dist: np.ndarray, dims: int = 3) -> np.ndarray:
    """One frame's 171 distances -> (19, dims) coordinates recovering the joints up to a rigid motion.

    Classical (Torgerson) MDS: double-centre the squared distance matrix and take the top eigenvectors. Used to
    check the feature order and metric, and to look at data that ships only distances (the paper's dataset).
    """
    d = np.zeros((N_JOINTS, N_JOINTS))
    d[PAIR_I, PAIR_J] = dist
    d = d + d.T
    centre = np.eye(N_JOINTS) - 1.0 / N_JOINTS
    gram = -0.5 * centre @ (d**2) @ centre
    vals, vecs = np.linalg.eigh(gram)
    top = np.argsort(vals)[::-1][:dims]
    return vecs[:, top] * np.sqrt(np.clip(vals[top], 0, None))


def midpoint(joints: np.ndarray, a: str, b: str) -> np.ndarray:
    """(..., 3) midpoint of joints a and b in every frame of (..., 19, 3) joints."""
    return (joints[..., J[a], :] + joints[..., J[b], :]) / 2


def segment_lengths(joints: np.ndarray, a: str, b: str) -> np.ndarray:
    """(T,) length of the segment between joints a and b in every frame."""
    return np.linalg.norm(joints[:, J[a]] - joints[:, J[b]], axis=-1)


def _check_features(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != N_FEATURES:
        raise ValueError(f"features must have shape (T, {N_FEATURES}), got {x.shape}")
    return x
