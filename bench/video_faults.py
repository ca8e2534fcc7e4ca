"""Faults made from the poses of real people's videos: does `squat assess` catch them?

    .venv/bin/python bench/video_faults.py [--videos ../shared/videos] [--severity 0.5] [--model cnn] [--json out.json]

Each good shared video is extracted once (MediaPipe world landmarks, with ears and feet), each fault of
faults.FAULTS is made from its poses at `--severity` (0 mild .. 1 obvious; 0.5 moderate), and the result is judged
by the bundled default (or `--model`) as a 3D source (through the ring of cameras): a transform moves the joints in 3D, which the
picture's 2D landmarks cannot follow, so the made clips keep no picture. Printed per fault: how many videos are
called NEEDS WORK, and how many with that fault as the main one; the untransformed poses are judged the same way
for reference. The videos were looked at while squatcli was built: people the models never trained on, but not a
held-out test set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from real_targets import GOOD_VIDEOS
from testvideo import SHARED_VIDEOS

from squatcli.assess import assess
from squatcli.datasets import JointsClip, write_joints_npz
from squatcli.faults import FAULTS, apply
from squatcli.pose import extract_video


def assessed(clip: JointsClip, path: Path, model: str, cache: dict) -> dict:
    """`squat assess --json` of a clip written without a picture (a 3D source)."""
    write_joints_npz(path, clip)
    return assess(path, model, cache=cache).to_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=SHARED_VIDEOS)
    parser.add_argument("--severity", type=float, default=0.5)
    parser.add_argument("--model", default="cnn", help="a bundled kind, name or a model's path")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/video_faults"), help="folder for the made clips")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    cache: dict = {}
    results: dict[str, list[dict]] = {"none": [], **{k: [] for k in FAULTS}}
    for name in GOOD_VIDEOS:
        clip = extract_video(args.videos / name).clip
        for key in results:
            joints, feet = (clip.joints, clip.feet) if key == "none" else apply(key, clip.joints, clip.feet, args.severity)
            made = JointsClip(joints.astype(np.float32), clip.fps, clip.confidence, None,
                              None if feet is None else feet.astype(np.float32))  # fmt: skip
            obj = assessed(made, args.work / f"{Path(name).stem}-{key}.npz", args.model, cache)
            results[key].append({"video": name, "verdict": obj["verdict"], "main_fault": obj["main_fault"],
                                 "p_good": obj["probabilities"]["good"]})  # fmt: skip
        print(f"{name}: " + ", ".join(f"{k} {r[-1]['main_fault'] or r[-1]['verdict']}" for k, r in results.items()), flush=True)
    print(f"made at severity {args.severity} from the poses of {len(GOOD_VIDEOS)} good videos, judged as 3D sources:")
    for key, rows in results.items():
        needs = sum(r["verdict"] == "needs_work" for r in rows)
        right = sum(r["main_fault"] == key for r in rows)
        what = "as extracted (good)" if key == "none" else key
        print(f"  {what:22s} NEEDS WORK {needs}/{len(rows)}" + ("" if key == "none" else f", main fault {key} {right}/{len(rows)}"))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
