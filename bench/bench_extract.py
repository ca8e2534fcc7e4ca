"""Pose extraction speed vs accuracy by frame stride, and cold `squat extract` wall time, in one run.

Builds a 10 s 1280x720 30 fps video from a shared real squat video (resized, played forward and backward until it
lasts 300 frames) in a temporary folder, then for each stride runs the extractor REPEATS times and reports the
median frames per second (decode + pose, import excluded), the speed ratio to stride 1, and the median distance
between the stride-k joints (interpolated between sampled frames) and the every-frame joints. Finally it times
the `squat extract` command itself, cold start included.

    .venv/bin/python bench/bench_extract.py [--source ../shared/videos/front_bodyweight_good.mp4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from testvideo import DEFAULT_SOURCE, make_test_video

from squatcli.pose import extract_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--strides", type=int, nargs="+", default=[1, 2, 3, 4])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "squat_10s_720p.mp4"
        make_test_video(args.source, video)
        extract_video(video, stride=1)  # warm up: imports, model load, file cache
        runs: dict[int, list] = {s: [] for s in args.strides}
        for _ in range(args.repeats):  # interleaved, so machine noise hits every stride alike
            for s in args.strides:
                runs[s].append(extract_video(video, stride=s))
        reference = runs[1][0].clip.joints if 1 in runs else None
        print(f"video: {video.name} (from {args.source.name}), {len(runs[args.strides[0]][0].frame_times)} frames")
        print(f"{'stride':>6} {'median s':>9} {'frames/s':>9} {'speed-up':>9} {'median err cm':>14} {'p90 err cm':>11}")
        base = None
        for s in args.strides:
            seconds = statistics.median(r.seconds for r in runs[s])
            fps = len(runs[s][0].frame_times) / seconds
            base = base or fps
            err = np.linalg.norm(runs[s][0].clip.joints - reference, axis=-1) * 100 if reference is not None else None
            print(f"{s:>6} {seconds:>9.2f} {fps:>9.1f} {fps / base:>8.2f}x "
                  f"{np.median(err):>14.2f} {np.percentile(err, 90):>11.2f}")  # fmt: skip
        walls = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "squatcli.cli", "extract", str(video), "-o", str(Path(tmp) / "o.npz")],
                           check=True, capture_output=True)  # fmt: skip
            walls.append(time.perf_counter() - t)
        print(f"`squat extract` (default stride), cold start, wall: median {statistics.median(walls):.2f} s "
              f"over {args.repeats} runs ({', '.join(f'{w:.2f}' for w in walls)})")  # fmt: skip


if __name__ == "__main__":
    main()
