"""A tiny stand-in dataset for the classifier tests, written in the paper's Pose_Dataset layout.

Each clip: 171 plausible distances (a fixed body plus a squat-like oscillation and a random walk), with a
class-dependent offset on its own block of features so that a network can learn the classes in a few epochs.
Clips are short (so files are small) and get padded to 300 frames by the loader, as the real ones would be.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from squatcli.datasets import MANIFEST, paper_clip_path, write_paper_json
from squatcli.skeleton import N_CLASSES, N_FEATURES


def standin_distances(label: int, rng: np.random.Generator, frames: int, strength: float = 0.6) -> np.ndarray:
    base = np.random.default_rng(123).uniform(0.25, 1.2, N_FEATURES)  # the same "body" for every clip
    t = np.arange(frames) / 30.0
    squat = 0.08 * np.sin(2 * np.pi * t / rng.uniform(2.0, 3.0))[:, None] * np.linspace(0, 1, N_FEATURES)[None]
    walk = np.cumsum(rng.normal(0, 0.004, (frames, N_FEATURES)), axis=0)
    offset = np.zeros(N_FEATURES)
    offset[label * 24 : label * 24 + 24] = strength * base[label * 24 : label * 24 + 24]
    return np.abs(base + offset + squat + walk) + 0.01


def write_standin_dataset(root: Path, clips_per_class: int = 6, subjects: int = 6, seed: int = 0,
                          manifest: bool = True, strength: float = 0.6) -> Path:
    """Write clips_per_class x 7 clips under root in the paper's layout (+ manifest.csv with subjects)."""
    rng = np.random.default_rng(seed)
    rows = []
    for label in range(N_CLASSES):
        for n in range(clips_per_class):
            frames = int(rng.choice([60, 90, 120, 310]))
            path = paper_clip_path(root, label, n + 1)
            write_paper_json(path, standin_distances(label, rng, frames, strength))
            rows.append({"path": path.relative_to(root).as_posix(), "subject": f"s{n % subjects:02d}"})
    if manifest:
        with open(root / MANIFEST, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=["path", "subject"])
            w.writeheader()
            w.writerows(rows)
    return root
