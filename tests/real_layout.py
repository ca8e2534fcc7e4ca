"""A tiny stand-in for the real reps (Chariar et al. 2023) written in their layout: data.csv + mediapipe/*.npy.

Reps are cut from synthetic clips (squatcli.synth, with foot points) and written as the real files are: 19 points
in the real order (nose, mouth corners, shoulders, elbows, wrists, hips, knees, ankles, heels, foot tips), y and z
negated (y down), in "calibration units" (x 50), either in the published form (float64, padded to 300 rows with
-1) or the trimmed float32 form, optionally with a -1 row (a frame without a pose) inside the rep.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from squatcli import synth
from squatcli.datasets import REAL_CLASSES, REAL_CSV, REAL_POSES
from squatcli.reps import segment_reps
from squatcli.skeleton import FEET, J

UNITS = 50.0  # calibration units per metre in the stand-in
REAL_ORDER = ("nose", "mouth_l", "mouth_r", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
              "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle", "l_heel", "r_heel", "l_toe", "r_toe")  # fmt: skip
# The real class each synthetic class stands in for (the first real name mapping to it).
STAND_IN = {"good": "olympic squat", "knees_in": "knees caving", "shallow": "no depth", "knees_forward": "heels lifting"}


def to_real_points(joints: np.ndarray, feet: np.ndarray) -> np.ndarray:
    """(T, 19, 3) squatcli joints (y up, metres) + (T, 4, 3) feet -> (T, 57) real-layout points (y down, units)."""
    out = np.empty((len(joints), 19, 3))
    for k, name in enumerate(REAL_ORDER):
        if name.startswith("mouth"):
            out[:, k] = joints[:, J["nose"]] + np.array([0.02 if name.endswith("l") else -0.02, -0.03, 0.0])
        elif name in FEET:
            out[:, k] = feet[:, FEET.index(name)]
        else:
            out[:, k] = joints[:, J[name]]
    out = out * np.array([1.0, -1.0, -1.0]) * UNITS
    return out.reshape(len(out), 57)


def one_rep(label: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Joints and feet of one complete rep of a synthetic person squatting with `label` (severity 0.9)."""
    rng = np.random.default_rng([seed, 77])
    person = synth.make_subjects(1, rng)[0]
    clip = synth.simulate(rng, list(synth.CLASS_KEYS).index(label), person, noise=True, severity=0.9)
    rep = next(r for r in segment_reps(clip.joints) if not r.partial)
    lo, hi = max(0, rep.start - 5), min(len(clip.joints), rep.end + 6)
    return clip.joints[lo:hi], clip.feet[lo:hi]


def write_real_layout(root: Path, dates: tuple[str, ...] = ("01042023", "02042023", "03042023", "04042023"),
                      labels: tuple[str, ...] = ("good", "knees_in", "shallow"), per_date: int = 2) -> Path:  # fmt: skip
    """`per_date` reps of each label on each date; the first file padded with -1 rows (published form), every
    third trimmed float32 with a missing frame inside."""
    (root / REAL_POSES).mkdir(parents=True, exist_ok=True)
    columns = list(REAL_CLASSES)
    rows, k = [], 0
    for d, date in enumerate(dates):
        for label in labels:
            for n in range(per_date):
                joints, feet = one_rep(label, seed=100 * d + 10 * labels.index(label) + n)
                points = to_real_points(joints, feet)
                name = f"recording_{date}_1200{k:02d}"
                if k == 0:  # the published form: float64, -1 rows before and after, 300 rows in all
                    padded = -np.ones((300, 57))
                    padded[20 : 20 + len(points)] = points
                    points = padded
                else:
                    points = points.astype(np.float32)
                    if k % 3 == 0:
                        points[len(points) // 2] = -1  # a frame without a pose inside the rep
                np.save(root / REAL_POSES / f"{name}.npy", points)
                rows.append({"filename": name, **{c: "1.0" if c == STAND_IN[label] else "0.0" for c in columns}})
                k += 1
    with open(root / REAL_CSV, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["filename", *columns])
        writer.writeheader()
        writer.writerows(rows)
    return root
