"""How the bundled rep recipes hold when the pose source differs from the real reps they learned from.

    .venv/bin/python bench/real_robustness.py [--real ../shared/realdata/chariar2023] [--folds N] [--json out.json]

Cross-validation by recording date as in bench/real_targets.py (each fold trained on the real reps as they are),
with each held-out rep also scored as another source would give it:
* `hip centres`: hip joint centres 4 cm lower and 2 cm nearer the midline, as motion-capture (functional or
  regression) hip centres sit against MediaPipe's hip landmarks;
* `joint offsets`: every hip, knee, ankle, shoulder and nose moved by its own fixed offset, 2 cm standard deviation
  per axis of the body's frame (another skeleton's joint centres), mirrored left and right;
* `12 fps`: the rep sampled at 12 frames a second (a cheap phone or a side-view upload) and brought back to 30;
* `front view` / `side view`: what a monocular camera with that view hides left unknown (as `squat assess` does).
Centimetres are in the rep's own units: the median shank is taken as 42 cm. Prints good-vs-faulty AUC, balanced
accuracy at each fold's own threshold and P(good) of the real good reps, for the reps as they are and each source.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from squatcli import evaluation, metrics
from squatcli import train as T
from squatcli.datasets import read_real_reps
from squatcli.features import midpoint, segment_lengths
from squatcli.inputs import to_dataset
from squatcli.reps import estimate_up
from squatcli.skeleton import J
from squatcli.video import resample_to_fps

REAL = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "chariar2023"
SHANK_CM = 42.0
OFFSET_JOINTS = ("l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle", "l_shoulder", "r_shoulder", "nose")


def body_axes(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(up, left, forward) unit vectors of the body over the clip."""
    up = estimate_up(joints)
    left = np.nanmean(joints[:, J["l_hip"]] - joints[:, J["r_hip"]], axis=0)
    left = left - (left @ up) * up
    left /= np.linalg.norm(left)
    return up, left, np.cross(up, left)


def centimetre(joints: np.ndarray) -> float:
    return float(np.nanmedian(segment_lengths(joints, "l_knee", "l_ankle"))) / SHANK_CM


def hip_centres(joints: np.ndarray, feet, rng) -> tuple[np.ndarray, np.ndarray | None]:
    up, left, _ = body_axes(joints)
    cm, out = centimetre(joints), joints.copy()
    for name, side in (("l_hip", 1.0), ("r_hip", -1.0)):
        out[:, J[name]] += cm * (-4.0 * up - side * 2.0 * left)
    return out, feet


def joint_offsets(joints: np.ndarray, feet, rng) -> tuple[np.ndarray, np.ndarray | None]:
    axes = np.stack(body_axes(joints))  # rows: up, left, forward
    cm, out = centimetre(joints), joints.copy()
    for base in {n[2:] if n[:2] in ("l_", "r_") else n for n in OFFSET_JOINTS}:
        offset = rng.normal(0.0, 2.0, 3) * cm  # up, outward, forward
        for name, side in ((f"l_{base}", 1.0), (f"r_{base}", -1.0)) if f"l_{base}" in J else ((base, 1.0),):
            out[:, J[name]] += np.array([offset[0], side * offset[1], offset[2]]) @ axes
    out[:, J["neck"]] = midpoint(out, "l_shoulder", "r_shoulder")
    return out, feet


def twelve_fps(joints: np.ndarray, feet, rng) -> tuple[np.ndarray, np.ndarray | None]:
    def down_and_up(track: np.ndarray) -> np.ndarray:
        missing = ~np.isfinite(track[0])  # joints the source lacks stay NaN
        low = resample_to_fps(np.nan_to_num(track), 30.0, 12.0)
        back = resample_to_fps(low, 12.0, 30.0)
        back[:, missing] = np.nan
        return back

    return down_and_up(joints), None if feet is None else down_and_up(feet)


SOURCES = {"hip centres": hip_centres, "joint offsets": joint_offsets, "12 fps": twelve_fps}


def variant(clips, spec, change) -> object:
    """The real reps as another source gives them, through the one feature path (inputs.to_dataset)."""
    rng = np.random.default_rng(7)
    changed = []
    for clip in clips.clips:
        joints, feet = change(np.asarray(clip.joints, dtype=np.float64), None if clip.feet is None else np.asarray(clip.feet, np.float64), rng)
        changed.append(dataclasses.replace(clip, joints=joints, feet=feet))
    return to_dataset(dataclasses.replace(clips, clips=changed), spec, "real")


def summary(y: np.ndarray, probs: np.ndarray, called: np.ndarray) -> dict:
    good = metrics.good_labels(y).astype(bool)
    sens, spec = metrics.called_rates(good, called)
    return {"auc": metrics.auc(good, probs[:, 0]), "balanced_accuracy": (sens + spec) / 2, "sensitivity": sens,
            "specificity": spec, "median_p_good_of_good": float(np.median(probs[good, 0]))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--folds", type=int, default=None, help="deal the dates into N folds (default: leave one out)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    clips = read_real_reps(args.real)
    for inputs in ("rep", "rep-nofeet"):
        spec = T.INPUT_CHOICES[inputs]()
        data = to_dataset(clips, spec, "real")
        variants = {name: variant(clips, spec, change) for name, change in SOURCES.items()}
        variants |= {f"{view} view": evaluation.seen_as(data, spec, view) for view in ("front", "side")}
        t = time.perf_counter()
        cv = evaluation.cross_validate(data, T.TrainConfig("cnn", inputs=spec, seed=0), args.folds, variants=variants)
        rows = {"as they are": summary(cv.y, cv.probs, cv.called_good)}
        rows |= {name: summary(cv.y, *cv.variants[name]) for name in variants}
        results[inputs] = rows
        print(f"cnn, {inputs} inputs: {len(cv.folds)} folds by date, {len(cv.y)} held-out reps, {time.perf_counter() - t:.0f} s")
        for name, r in rows.items():
            print(f"  {name:14s} AUC {r['auc']:.3f}  balanced accuracy {r['balanced_accuracy']:.3f} (sens "
                  f"{r['sensitivity']:.3f}, spec {r['specificity']:.3f})  median P(good) of good reps "
                  f"{r['median_p_good_of_good']:.2f}", flush=True)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
