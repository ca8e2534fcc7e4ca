"""How far per-rep measurements move from every-frame pose when the pose model skips frames, against the frames
it saves: the default schedule (pose.PoseSchedule.adaptive), plain strides, and the floor: every frame but one.

    .venv/bin/python bench/bench_schedule.py [--videos ../shared/videos] [--floor 5] [--no-long]

For each shared video (and a 10 s 1280x720 clip built from one, bench/testvideo.py) every schedule's reps are
matched to every-frame pose's by their bottom frame, and the largest difference of each measurement over the
matched reps is printed (knee angle and trunk lean in degrees, depth and knee/ankle width as ratios; "flip":
measured by one and hidden by the other, as a leg's visibility crosses its threshold). Clips under 1 s, which
assess refuses, are measured too. Pose seconds are from this one process: compare frames, not seconds, on a
busy machine.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from squatcli import pose
from squatcli.reps import camera_view, measure_reps
from squatcli.skeleton import FPS
from testvideo import DEFAULT_SOURCE, SHARED_VIDEOS, make_test_video

KEYS = {"min_knee_angle": "knee", "max_trunk_lean": "lean", "depth": "depth", "knee_ankle_width_ratio": "width"}


class AllBut(pose.PoseSchedule):
    """Every frame but one: how far MediaPipe's tracking moves when its history changes by a single frame."""

    def __init__(self, left_out: int):
        super().__init__(1, 1, 1)
        self.left_out = left_out

    def wants(self, index: int) -> bool:
        return index != self.left_out


def measurements(path: Path, stride) -> tuple[list[tuple[int, dict]], int, int, float]:
    """([(bottom frame, {measurement: value})], frames seen, frames, pose seconds) as assess measures them."""
    e = pose.extract_video(path, stride=stride)
    joints = e.clip.joints
    report = measure_reps(joints, FPS, e.clip.confidence, e.clip.feet, view=camera_view(joints))
    return [(m.rep.bottom, {k: m.values.get(k) for k in KEYS}) for m in report.reps], len(e.sampled), len(e.frame_times), e.pose_seconds


def worst(ref: list[tuple[int, dict]], got: list[tuple[int, dict]]) -> dict[str, float]:
    """Largest |difference| of each measurement over the reps of `ref` matched (nearest bottom) in `got`; inf for a
    measurement one has and the other lacks, or for a different number of reps."""
    out = {k: 0.0 for k in KEYS}
    if len(ref) != len(got):
        return {k: float("inf") for k in KEYS}
    for bottom, values in ref:
        _, other = min(got, key=lambda g: abs(g[0] - bottom))
        for k in KEYS:
            a, b = values[k], other[k]
            if (a is None) != (b is None):
                out[k] = float("inf")
            elif a is not None:
                out[k] = max(out[k], abs(a - b))
    return out


def show(d: dict[str, float]) -> str:
    return "  ".join(f"{KEYS[k]} {'flip' if v == float('inf') else f'{v:.3f}' if k in ('depth', 'knee_ankle_width_ratio') else f'{v:.1f}'}"
                     for k, v in d.items())  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=SHARED_VIDEOS)
    parser.add_argument("--floor", type=int, default=5, help="every-frame runs leaving out one frame each")
    parser.add_argument("--no-long", action="store_true", help="skip the 10 s 720p clip")
    args = parser.parse_args()
    pose.require_duration = lambda frames, path: None  # measure the sub-second clips assess refuses too
    with tempfile.TemporaryDirectory() as tmp:
        videos = sorted(p for p in args.videos.iterdir() if p.suffix in (".mp4", ".avi"))
        if not args.no_long:
            videos.append(make_test_video(DEFAULT_SOURCE, Path(tmp) / "squat_10s_720p.mp4", frames=300))
        totals = {}
        summary = {}
        for video in videos:
            ref, _, n, ref_s = measurements(video, 1)
            print(f"{video.name}: {n} frames, {len(ref)} rep(s), every-frame pose {ref_s:.2f} s", flush=True)
            runs = {"adaptive": None, "stride 2": 2, "stride 3": 3}
            runs |= {f"all but frame {j}": AllBut(j) for j in np.linspace(2, n - 3, args.floor).round().astype(int)}
            for label, stride in runs.items():
                got, seen, _, secs = measurements(video, stride)
                d = worst(ref, got)
                group = "floor (all but one)" if label.startswith("all but") else label
                totals.setdefault(group, [0, 0])
                totals[group][0] += seen
                totals[group][1] += n
                summary.setdefault(group, {k: 0.0 for k in KEYS})
                summary[group] = {k: max(summary[group][k], d[k]) for k in KEYS}
                print(f"  {label:18} {seen:3}/{n} frames ({seen / n:4.0%}), pose {secs / ref_s:4.2f}x   {show(d)}", flush=True)
        print("\nworst over all videos (every-frame pose = 0):")
        for group, d in summary.items():
            seen, n = totals[group]
            print(f"  {group:20} {seen / n:4.0%} of the frames   {show(d)}")


if __name__ == "__main__":
    main()
