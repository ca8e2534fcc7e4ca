"""Shared fixtures: a factory for small synthetic pose clips and videos, and the path to the shared real videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from squatcli.skeleton import J, N_JOINTS

SHARED_VIDEOS = Path(__file__).resolve().parents[1].parent / "shared" / "videos"

# A standing adult, metres, y up, facing +z (x to the person's left is negative for right-side joints).
STANDING = {
    "r_ankle": (-0.12, 0.08, 0.0), "r_knee": (-0.11, 0.53, 0.02), "r_hip": (-0.10, 0.98, 0.0),
    "l_hip": (0.10, 0.98, 0.0), "l_knee": (0.11, 0.53, 0.02), "l_ankle": (0.12, 0.08, 0.0),
    "r_wrist": (-0.25, 0.95, 0.05), "r_elbow": (-0.22, 1.22, 0.0), "r_shoulder": (-0.18, 1.50, 0.0),
    "l_shoulder": (0.18, 1.50, 0.0), "l_elbow": (0.22, 1.22, 0.0), "l_wrist": (0.25, 0.95, 0.05),
    "neck": (0.0, 1.52, 0.0), "head_top": (0.0, 1.80, 0.0), "nose": (0.0, 1.64, 0.10),
    "l_eye": (0.03, 1.67, 0.08), "r_eye": (-0.03, 1.67, 0.08), "l_ear": (0.07, 1.65, 0.0),
    "r_ear": (-0.07, 1.65, 0.0),
}  # fmt: skip


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3D rotation matrix."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def squat_joints(frames: int = 300, fps: float = 30.0, reps: float = 4.0, seed: int = 0, noise: float = 0.0) -> np.ndarray:
    """(frames, 19, 3) joints of a simple squat: hips and upper body drop and knees move forward, `reps` times."""
    rng = np.random.default_rng(seed)
    base = np.array([STANDING[name] for name in sorted(J, key=J.get)], dtype=np.float64)
    t = np.arange(frames) / fps
    depth = 0.5 - 0.5 * np.cos(2 * np.pi * reps * t / (frames / fps))  # 0 standing .. 1 bottom
    joints = np.repeat(base[None], frames, axis=0)
    upper = [J[n] for n in ("r_hip", "l_hip", "r_shoulder", "l_shoulder", "r_elbow", "l_elbow", "r_wrist",
                            "l_wrist", "neck", "head_top", "nose", "l_eye", "r_eye", "l_ear", "r_ear")]  # fmt: skip
    joints[:, upper, 1] -= 0.45 * depth[:, None]
    joints[:, upper, 2] -= 0.15 * depth[:, None]
    joints[:, [J["r_knee"], J["l_knee"]], 2] += 0.25 * depth[:, None]
    joints[:, [J["r_knee"], J["l_knee"]], 1] -= 0.10 * depth[:, None]
    joints = joints @ random_rotation(rng).T + rng.normal(size=3)
    return joints + rng.normal(scale=noise, size=joints.shape) if noise else joints


@pytest.fixture(autouse=True)
def one_process(monkeypatch):
    """`squat assess` in one process unless a test asks for workers (--jobs): a worker process imports the models'
    runtime anew (seconds each), and tests that replace a function in this process need it to run here. The batch
    tests (test_batch.py) run the pool and Ray themselves."""
    monkeypatch.setenv("SQUAT_JOBS", "1")


@pytest.fixture
def make_joints():
    return squat_joints


def write_video(path: Path, frames: int, fps: float = 30.0, size: tuple[int, int] = (160, 120), value=None) -> Path:
    """A small mp4. By default frame i encodes i (see frame_index); with value, frame i is flat grey value(i)."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(frames):
        image = np.empty((size[1], size[0], 3), dtype=np.uint8)
        if value is None:  # left half: 16 * (i // 16), right half: 16 * (i % 16), centred in their bins
            image[:, : size[0] // 2] = 16 * ((i // 16) % 16) + 8
            image[:, size[0] // 2 :] = 16 * (i % 16) + 8
        else:
            image[:] = value(i)
        writer.write(image)
    writer.release()
    return path


def frame_index(rgb: np.ndarray) -> int:
    """The index that write_video encoded into a decoded frame (robust to compression noise)."""
    w = rgb.shape[1]
    hi, lo = rgb[:, 4 : w // 2 - 4].mean() // 16, rgb[:, w // 2 + 4 : -4].mean() // 16
    return int(16 * hi + lo)


@pytest.fixture
def shared_video():
    """Path to one of the shared real squat videos; skips when ../shared/videos is absent (as on a user's machine)."""

    def get(name: str) -> Path:
        path = SHARED_VIDEOS / name
        if not path.exists():
            pytest.skip(f"real test videos not available ({SHARED_VIDEOS} is absent)")
        return path

    return get

