"""`squat assess` against a plain MediaPipe pass, cold, as whole processes run side by side: wall-time ratios,
peak memory, the start-up of `--example` and `--help`, and the ONNX graphs against their Keras models.

    .venv/bin/python bench/bench_assess.py [--repeats 5] [--long-minutes 3] [--model cnn]

Every command runs in a fresh process, and the commands take turns (interleaved, in a rotating order), so a load
that comes and goes on the machine falls on all of them; figures are medians over the repeats, and the machine's
load average is printed before and after. The videos are built at run time from a shared real squat video
(bench/testvideo.py): 10 s of 1280x720 at 30 fps, and for the memory check one of --long-minutes. The yardstick
is bench/plain_mediapipe.py: mediapipe imported normally (which imports TensorFlow) and BlazePose on every frame.
Peak memory is the child's maximum resident set and CPU its user + system time (getrusage of a wrapper process
that runs only that child): CPU seconds hold better than wall seconds on a busy machine.
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

from testvideo import DEFAULT_SOURCE, make_test_video

BENCH = Path(__file__).resolve().parent
SQUAT = [sys.executable, "-m", "squatcli.cli"]
# Runs one command and reports its wall time and peak memory: a wrapper whose only child is the command.
WRAPPER = """import json, resource, subprocess, sys, time
t = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - t
sys.stdout.write(done.stdout)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
                  "rc": done.returncode, "stderr": done.stderr[-400:]}), file=sys.stderr)
"""


def run(command: list[str]) -> tuple[float, float, str, float]:
    """(wall seconds, peak resident MB, stdout, CPU seconds) of one fresh process; exits on failure."""
    done = subprocess.run([sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    if report["rc"] != 0:
        raise SystemExit(f"{' '.join(command)} failed: {report['stderr']}")
    return report["wall"], report["rss_mb"], done.stdout, report["cpu"]


def load() -> str:
    return "load average {:.1f} {:.1f} {:.1f} on {} cores".format(*os.getloadavg(), os.cpu_count())


def interleaved(commands: dict[str, list[str]], repeats: int) -> dict[str, list[tuple[float, float, str, float]]]:
    """Each command `repeats` times, taking turns in a rotating order."""
    names = list(commands)
    results: dict[str, list] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            results[name].append(run(commands[name]))
    return results


def median(runs: list[tuple[float, float, str, float]], k: int = 0) -> float:
    return statistics.median(r[k] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--long-minutes", type=float, default=3.0, help="peak memory on a video this long (0: skip)")
    args = parser.parse_args()
    print(load(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        video = str(make_test_video(args.source, Path(tmp) / "squat_10s_720p.mp4", frames=300))
        commands = {
            "plain MediaPipe pass": [sys.executable, str(BENCH / "plain_mediapipe.py"), video],
            "squat assess": [*SQUAT, "assess", "--json", video, "-m", args.model],
            "squat assess --stride 1": [*SQUAT, "assess", "--json", video, "-m", args.model, "--stride", "1"],
            "squat assess --example": [*SQUAT, "assess", "--example", "-m", args.model],
            "squat --help": [*SQUAT, "--help"],
        }
        for command in commands.values():  # warm the file cache (Python files, models, the video)
            run(command)
        results = interleaved(commands, args.repeats)
        plain, plain_cpu = median(results["plain MediaPipe pass"]), median(results["plain MediaPipe pass"], 3)
        print(f"\ncold, whole processes, medians of {args.repeats} interleaved runs (10 s 1280x720 video), wall and CPU:")
        for name, runs in results.items():
            walls = ", ".join(f"{r[0]:.2f}" for r in runs)
            ratio = "" if "help" in name else f" = {median(runs) / plain:.2f}x / {median(runs, 3) / plain_cpu:.2f}x the plain pass"
            print(f"  {name:26} {median(runs):6.2f} s wall, {median(runs, 3):6.2f} s CPU{ratio}, peak "
                  f"{max(r[1] for r in runs):.0f} MB  [wall {walls}]")  # fmt: skip
        pairs = [a[0] / p[0] for a, p in zip(results["squat assess"], results["plain MediaPipe pass"])]
        print(f"  squat assess / plain MediaPipe pass, wall, per repeat: {', '.join(f'{x:.2f}' for x in pairs)}")

        objs = [json.loads(r[2].splitlines()[0]) for r in results["squat assess"]]
        timings = {k: statistics.median(o["timings"][k] for o in objs) for k in objs[0]["timings"]}
        poses = objs[0]["pose"]
        print("  where the time of `squat assess` goes (medians, s): " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
        print(f"  the pose model saw {poses['frames_processed']} of {poses['frames']} frames ({poses['schedule']} schedule)")

        if args.long_minutes:
            frames = int(args.long_minutes * 60 * 30)
            long_video = str(make_test_video(args.source, Path(tmp) / "long.mp4", frames=frames))
            wall, rss, out, _ = run([*SQUAT, "assess", "--json", long_video, "-m", args.model])
            obj = json.loads(out.splitlines()[0])
            ten = max(r[1] for r in results["squat assess"])
            print(f"\npeak memory: 10 s video {ten:.0f} MB, {args.long_minutes:g}-minute video {rss:.0f} MB "
                  f"({wall:.0f} s, {obj['reps']['count']} reps, pose on {obj['pose']['frames_processed']} of "
                  f"{obj['pose']['frames']} frames)")  # fmt: skip
    code = ("from squatcli import models as M\nfrom squatcli.export import sample_inputs\nimport numpy as np\n"
            "for name in M.bundled_names():\n    clf = M.load_model(name)\n    x = sample_inputs(clf.inputs)\n"
            "    k = M.Classifier(M.load_keras(name), clf.metadata)\n"
            "    d = np.abs(clf.predict(x, calibrated=False) - k.predict(x, calibrated=False)).max()\n"
            "    print(f'  {name:15} {len(next(iter(x.values()))):3} rows  max |ONNX Runtime - Keras| {d:.1e}')\n")  # fmt: skip
    print("\nbundled models, ONNX Runtime against Keras on inputs computed from synthetic clips (export.sample_inputs):")
    print(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout, end="")
    print(load())


if __name__ == "__main__":
    main()
