"""Batch throughput of `squat assess` against the number of workers: paired ratios in one run.

    .venv/bin/python bench/bench_batch.py [--kind joints|video] [--counts 40] [--jobs 1 2] [--repeats 3] [--ray]

Each run is a whole, cold `squat assess --json --jobs J` process over the batch (start-up, workers' imports and
model loads included: what a user waits for). The runs take turns: every repeat runs each worker count once, in a
rotating order, so a load that comes and goes on the machine falls on all of them, and each worker count's speed-up
is the median of its per-repeat ratios to the one-process run of the same repeat (paired). The machine's load
average is printed before and after: on a busy machine the figures say little. `--ray` adds `--engine ray` runs
(a local Ray of J CPUs, started by each run). Every run's results are checked to be the same apart from timings.

Inputs: `joints` (default): copies of the bundled example clip (10 s, 300 frames, 19 joints and foot points), each
with its own small noise so that no two files are alike; `video`: clips of --frames frames cut from a shared real
squat video (bench/testvideo.py), where the pose model dominates.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SQUAT = [sys.executable, "-m", "squatcli.cli", "assess", "--json"]
TIMINGS = ("timings", "model_load_s")  # and the pose summary's seconds


def without_timings(obj: dict) -> dict:
    """A result without what differs between two runs of the same input: its timings."""
    obj = {k: v for k, v in obj.items() if k not in TIMINGS}
    if isinstance(obj.get("pose"), dict):
        obj["pose"] = {k: v for k, v in obj["pose"].items() if k not in ("seconds", "pose_seconds")}
    return obj


def load() -> str:
    return "load average {:.1f} {:.1f} {:.1f} on {} cores".format(*os.getloadavg(), os.cpu_count())


def joints_inputs(folder: Path, count: int) -> list[Path]:
    """`count` distinct 10 s joints clips: the example clip with its own noise each."""
    example = np.load(ROOT / "squatcli" / "data" / "example_squat.npz")
    paths = []
    for k in range(count):
        rng = np.random.default_rng(k)
        path = folder / f"clip{k:03d}.npz"
        np.savez(path, joints=example["joints"] + rng.normal(scale=0.004, size=example["joints"].shape),
                 feet=example["feet"] + rng.normal(scale=0.004, size=example["feet"].shape), fps=example["fps"])  # fmt: skip
        paths.append(path)
    return paths


def video_inputs(folder: Path, count: int, frames: int) -> list[Path]:
    """`count` copies of one short real video (the pose model's work is the same in each)."""
    from testvideo import DEFAULT_SOURCE, make_test_video

    first = make_test_video(DEFAULT_SOURCE, folder / "v000.mp4", frames=frames)
    paths = [first]
    for k in range(1, count):
        path = folder / f"v{k:03d}.mp4"
        path.write_bytes(first.read_bytes())
        paths.append(path)
    return paths


def run(args: list[str], paths: list[Path]) -> tuple[float, float, list[dict]]:
    """(wall seconds, CPU seconds of the command and its workers, results without timings) of one fresh run."""
    before = os.times()
    t = time.perf_counter()
    done = subprocess.run([*SQUAT, *args, *map(str, paths)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})  # fmt: skip
    wall = time.perf_counter() - t
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"squat assess {' '.join(args)} failed: {done.stderr[-600:]}")
    results = [without_timings(json.loads(line)) for line in done.stdout.splitlines()]
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("joints", "video"), default="joints")
    parser.add_argument("--counts", type=int, nargs="+", default=[40], help="batch sizes (default 40)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="worker counts (1: one process)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=90, help="--kind video: frames per video (default 90, 3 s)")
    parser.add_argument("--ray", action="store_true", help="also run --engine ray (a local Ray of J CPUs)")
    a = parser.parse_args()
    jobs = sorted(set(a.jobs) | {1})
    configs = [(f"jobs {j}", ["--jobs", str(j)]) for j in jobs]
    if a.ray:
        configs += [(f"ray {j}", ["--engine", "ray", "--jobs", str(j)]) for j in jobs if j > 1]
    print(load(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for count in a.counts:
            folder = Path(tmp) / f"n{count}"
            folder.mkdir()
            paths = joints_inputs(folder, count) if a.kind == "joints" else video_inputs(folder, count, a.frames)
            walls: dict[str, list[float]] = {name: [] for name, _ in configs}
            cpus: dict[str, list[float]] = {name: [] for name, _ in configs}
            reference = None
            for r in range(a.repeats):
                order = configs[r % len(configs):] + configs[: r % len(configs)]
                for name, args in order:
                    wall, cpu, results = run(args, paths)
                    reference = reference or results
                    if results != reference:
                        raise SystemExit(f"{name}: results differ from the other runs' (apart from timings)")
                    walls[name].append(wall)
                    cpus[name].append(cpu)
            print(f"\n{count} {a.kind} inputs, {a.repeats} repeats (medians; speed-up: median of paired ratios "
                  "to jobs 1 in the same repeat)")  # fmt: skip
            print(f"{'run':<8} {'wall s':>8} {'inputs/s':>9} {'CPU s':>8} {'speed-up':>9}")
            for name, _ in configs:
                wall = statistics.median(walls[name])
                ratio = statistics.median(w1 / w for w1, w in zip(walls["jobs 1"], walls[name]))
                print(f"{name:<8} {wall:8.2f} {count / wall:9.2f} {statistics.median(cpus[name]):8.2f} {ratio:8.2f}x")
    print("\n" + load())


if __name__ == "__main__":
    main()
