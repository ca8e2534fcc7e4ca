"""Realism check: good squats, synthetic (as observed) vs real (MediaPipe joints extracted from shared videos).

    .venv/bin/python bench/synth_realism.py [REAL_DIR=/tmp/real] [N_SYNTH=200]

Real clips are `squat extract` outputs (joints .npz). Each row is a shape statistic that does not depend on the
camera or the person's size; synthetic is summarised by its 5th-95th percentile over N good clips (noise on),
real by each clip's value. A real value outside the synthetic band is flagged.
"""

from __future__ import annotations

import glob
import sys
from pathlib import Path

import numpy as np

from squatcli import synth
from squatcli.features import clip_features, segment_lengths
from squatcli.skeleton import J


def _mid(j, a, b):
    return (j[:, J[a]] + j[:, J[b]]) / 2


def _len(j, a, b):
    return float(np.median(segment_lengths(j, a, b)))


def stats(j: np.ndarray, fps: float = 30.0) -> dict[str, float]:
    shank = (_len(j, "r_ankle", "r_knee") + _len(j, "l_ankle", "l_knee")) / 2
    thigh = (_len(j, "r_knee", "r_hip") + _len(j, "l_knee", "l_hip")) / 2
    uarm = (_len(j, "r_shoulder", "r_elbow") + _len(j, "l_shoulder", "l_elbow")) / 2
    farm = (_len(j, "r_elbow", "r_wrist") + _len(j, "l_elbow", "l_wrist")) / 2
    hipw, shw = _len(j, "r_hip", "l_hip"), _len(j, "r_shoulder", "l_shoulder")
    leg = shank + thigh
    v = _mid(j, "l_hip", "r_hip") - _mid(j, "l_ankle", "r_ankle")
    up = v[np.argmax(np.linalg.norm(v, axis=-1))]
    up = up / np.linalg.norm(up)
    h = v @ up
    hs = np.convolve(np.r_[h[:2], h, h[-2:]], np.ones(5) / 5, mode="valid")
    speed = -np.diff(hs) * fps / leg
    f = clip_features(j)
    rng_ = np.percentile(f, 95, axis=0) - np.percentile(f, 5, axis=0)
    shank_series = segment_lengths(j, "l_ankle", "l_knee")
    return {
        "thigh / shank": thigh / shank,
        "upper arm / thigh": uarm / thigh,
        "forearm / upper arm": farm / uarm,
        "shoulder w / hip w": shw / hipw,
        "hip w / leg": hipw / leg,
        "neck-head top / shoulder w": _len(j, "neck", "head_top") / shw,
        "neck-nose / shoulder w": _len(j, "neck", "nose") / shw,
        "ear-ear / shoulder w": _len(j, "l_ear", "r_ear") / shw,
        "hip-shoulder / leg": (_len(j, "r_hip", "r_shoulder") + _len(j, "l_hip", "l_shoulder")) / 2 / leg,
        "depth range (hip height / leg)": float((h.max() - h.min()) / leg),
        "descent speed (legs/s, max)": float(np.max(speed)),
        "feature range, median of 171": float(np.median(rng_)),
        "feature range, 90th pct": float(np.percentile(rng_, 90)),
        "frame-to-frame jitter (median |d feature|)": float(np.median(np.abs(np.diff(f, axis=0)))),
        "shank length CV": float(shank_series.std() / np.median(shank_series)),
    }


def main() -> None:
    real_dir = sys.argv[1] if len(sys.argv) > 1 else "/tmp/real"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    real = {Path(p).stem: np.load(p)["joints"].astype(float) for p in sorted(glob.glob(f"{real_dir}/*.npz"))}
    people = synth.make_subjects(40, np.random.default_rng([2024, 1]))
    syn = [stats(synth.simulate(np.random.default_rng([2024, 2, i]), 0, people[i % 40]).joints.astype(float)) for i in range(n)]
    rows = list(syn[0])
    names = list(real)
    short = {k: k.split("_")[0] + ("*" if "incorrect" in k else "") for k in names}
    print(f"{'statistic':44s} {'synthetic good p5..p95':>22s} " + " ".join(f"{short[k]:>9s}" for k in names))
    for r in rows:
        vals = np.array([s[r] for s in syn])
        lo, hi = np.percentile(vals, [5, 95])
        cells = []
        for k in names:
            x = stats(real[k])[r]
            flag = " " if lo <= x <= hi else "!"
            cells.append(f"{x:8.3f}{flag}")
        print(f"{r:44s} {lo:10.3f}..{hi:<10.3f} " + " ".join(cells))
    print("\n* side_bodyweight_incorrect is labelled incorrect (fault unknown); shown for reference.")
    print("! = outside the synthetic 5-95% band. Real clips: 35-140 frames (1-3 reps); synthetic: 300 frames.")


if __name__ == "__main__":
    main()
