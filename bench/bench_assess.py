"""`squat assess` wall time (cold start, and per video in a batch), where the time goes, and peak memory.

    .venv/bin/python bench/bench_assess.py [--repeats 3] [--batch 4] [--long-minutes 10] [--model cnn]

Videos are built at run time from a shared real squat video (bench/testvideo.py): a 10 s 1280x720 30 fps clip, and
with --long-minutes a long one for the memory check (peak resident memory of the whole process, from
/usr/bin/time or resource.getrusage of the child).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testvideo import DEFAULT_SOURCE, make_test_video


def run_assess(args: list[str]) -> tuple[float, list[dict], float]:
    """Run `squat assess --json ARGS` in a fresh process: (wall s, JSON objects, peak RSS of children in GB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "squatcli.cli", "assess", "--json", *args], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"squat assess failed: {done.stderr.strip()[-500:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, [json.loads(line) for line in done.stdout.splitlines()], max(peak, before) / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--long-minutes", type=float, default=0.0, help="also measure peak memory on a video this long")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = make_test_video(args.source, Path(tmp) / "squat_10s_720p.mp4", frames=300)
        run_assess([str(video), "-m", args.model])  # warm the file cache
        cold = [run_assess([str(video), "-m", args.model]) for _ in range(args.repeats)]
        walls = [c[0] for c in cold]
        print(f"cold `squat assess` of a 10 s 1280x720 video: median {statistics.median(walls):.2f} s wall over "
              f"{args.repeats} runs ({', '.join(f'{w:.2f}' for w in walls)})")  # fmt: skip
        timings = [c[1][0]["timings"] | {"model_load_s": c[1][0]["model_load_s"]} for c in cold]
        med = {k: statistics.median(t[k] for t in timings) for k in timings[0]}
        accounted = med["total_s"] + med["model_load_s"]
        print("  where the time goes (medians): start-up and imports {:.2f} s, model load {:.2f} s, pose (decode + "
              "MediaPipe) {:.2f} s, features {:.3f} s, model {:.3f} s, reps {:.3f} s".format(
                  statistics.median(walls) - accounted, med["model_load_s"], med["pose_s"], med["features_s"],
                  med["model_s"], med["reps_s"]))  # fmt: skip
        batch = [str(video)] * args.batch
        wall, objs, _ = run_assess(batch + ["-m", args.model])
        print(f"batch of {args.batch} x 10 s videos in one process: {wall:.2f} s wall, {wall / args.batch:.2f} s per video "
              f"(per-video total_s: {', '.join(str(o['timings']['total_s']) for o in objs)})")  # fmt: skip
        print(f"peak memory, 10 s video: {max(c[2] for c in cold):.2f} GB")
        if args.long_minutes:
            frames = int(args.long_minutes * 60 * 30)
            t = time.perf_counter()
            long_video = make_test_video(args.source, Path(tmp) / "long.mp4", frames=frames)
            print(f"built a {args.long_minutes:g}-minute video ({frames} frames) in {time.perf_counter() - t:.0f} s")
            code = ("import resource, runpy, sys; sys.argv = ['squat', 'assess', '--json', %r, '-m', %r]\n"
                    "try:\n    runpy.run_module('squatcli.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
                    "print('PEAK_GB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, file=sys.stderr)"
                    ) % (str(long_video), args.model)  # fmt: skip
            t = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            peak = float(done.stderr.split("PEAK_GB")[-1])
            obj = json.loads(done.stdout.splitlines()[0])
            print(f"{args.long_minutes:g}-minute video: {time.perf_counter() - t:.0f} s wall, {len(obj['windows'])} windows, "
                  f"verdict {obj['verdict']}, peak memory {peak:.2f} GB")  # fmt: skip


if __name__ == "__main__":
    main()
