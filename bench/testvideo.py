"""Builds benchmark videos from a shared real squat video at run time (the shared videos are never copied into
the repository): resized to 1280x720 and played forward and backward until it lasts the wanted number of frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from squatcli.features import pad_to_window

SHARED_VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "videos"
DEFAULT_SOURCE = SHARED_VIDEOS / "front_bodyweight_good.mp4"


def make_test_video(source: Path, out: Path, frames: int = 300, size: tuple[int, int] = (1280, 720)) -> Path:
    """Write `frames` frames at 30 fps of `source`, resized to `size`, ping-ponged (no jump in the motion)."""
    cap = cv2.VideoCapture(str(source))
    clip = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        clip.append(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR))
    if not clip:
        raise SystemExit(f"{source}: cannot read the source video (is ../shared/videos there?)")
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, size)
    order = pad_to_window(np.arange(len(clip)), 2 * len(clip) - 2)  # one forward-backward cycle
    for k in range(frames):
        writer.write(clip[order[k % len(order)]])
    writer.release()
    return out
