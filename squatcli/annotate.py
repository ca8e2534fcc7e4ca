"""The annotated video: the input video with the skeleton, the current rep's measurements and cues, and the
verdict banner drawn on every frame. Same frame count, size and fps as the input (OpenCV, mp4v).

OpenCV's writer reports no error (a full disk leaves a truncated file without its index), so `annotate_video`
checks the disk after every frame written and reads the finished file back before it takes its name.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from squatcli.datasets import atomic_output
from squatcli.errors import SquatError
from squatcli.skeleton import BONES, GOOD, J, squat_class
from squatcli.video import read_frames

GREEN, RED, WHITE, YELLOW, BLACK = (80, 200, 80), (60, 60, 230), (255, 255, 255), (0, 215, 255), (0, 0, 0)  # BGR
_BONE_INDEX = [(J[a], J[b]) for a, b in BONES]


def rep_lines(rep: dict) -> list[str]:
    """Short text lines describing one rep's measurements (ASCII: OpenCV's fonts have no degree sign)."""
    def num(key, spec):
        return "-" if rep[key] is None else format(rep[key], spec)

    return [
        f"depth {num('depth', '+.2f')} thigh  knee {num('min_knee_angle', '.0f')} deg  "
        f"knees/ankles {num('knee_ankle_width_ratio', '.2f')}",
        f"trunk lean {num('max_trunk_lean', '.0f')} deg  head {num('head_angle', '.0f')} deg",
    ]


def _text(frame: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour) -> None:
    import cv2

    thickness = max(1, int(round(scale * 2)))
    cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, BLACK, thickness + 2, cv2.LINE_AA)
    cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)


def draw_frame(frame: np.ndarray, xy: np.ndarray, banner: str, good: bool, rep_text: list[str], cues: list[str]) -> None:
    """Draw on one BGR frame in place: skeleton from (19, 2) normalised positions, banner, rep text, cues."""
    import cv2

    h, w = frame.shape[:2]
    scale = max(0.4, min(w, h) / 900)
    points = np.round(xy * [w, h]).astype(int)
    for a, b in _BONE_INDEX:
        cv2.line(frame, tuple(points[a]), tuple(points[b]), YELLOW, max(2, int(3 * scale)), cv2.LINE_AA)
    for p in points:
        cv2.circle(frame, tuple(p), max(3, int(5 * scale)), WHITE, -1, cv2.LINE_AA)
    bar = int(44 * scale) + 10
    cv2.rectangle(frame, (0, 0), (w, bar), GREEN if good else RED, -1)
    _text(frame, banner, (10, bar - 12), 1.1 * scale, WHITE)
    y = bar + int(34 * scale)
    for line in rep_text:
        _text(frame, line, (10, y), 0.8 * scale, WHITE)
        y += int(30 * scale)
    for cue in cues:
        _text(frame, cue, (10, y), 0.8 * scale, YELLOW)
        y += int(30 * scale)


def rep_verdict(rep: dict) -> str:
    """': good' or ': <main fault>' for a rep a rep model judged (assess.Assessment.to_dict), else ''."""
    if not rep.get("verdict"):
        return ""
    return ": good" if rep["verdict"] == "good" else f": {squat_class(rep['main_fault']).name.lower()}"


def annotate_video(result, out_path: str | Path, progress: Callable[[int, int], None] | None = None) -> int:
    """Write the annotated copy of an assessed video; returns the number of frames written."""
    import cv2

    extraction = result.motion.extraction
    if extraction is None:
        raise SquatError("--annotate needs a video input", result.motion.path)
    info = extraction.video
    probs = result.probabilities
    banner = f"{result.verdict_text}   P(good) {probs[GOOD]:.2f} / threshold {result.threshold:.2f}"
    reps = [] if result.reps is None else result.to_dict()["reps"]["reps"]  # with each judged rep's verdict
    written = 0
    with atomic_output(out_path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), info.fps, (info.width, info.height))
        if not writer.isOpened():
            raise SquatError("cannot write an mp4 video here", out_path)
        try:
            for index, _, rgb in read_frames(info.path, stride=1):
                frame = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
                t = extraction.frame_times[min(index, len(extraction.frame_times) - 1)]
                current = next((r for r in reps if r["start_s"] <= t <= r["end_s"]), None)
                number = reps.index(current) + 1 if current else 0
                rep_text = [f"rep {number}/{len(reps)}{rep_verdict(current)}"] + rep_lines(current) if current else []
                xy = extraction.image_xy[min(index, len(extraction.image_xy) - 1)]
                draw_frame(frame, xy, banner, result.good, rep_text, current["cues"] if current else [])
                writer.write(frame)
                require_room(tmp)
                written += 1
                if progress:
                    progress(written, len(extraction.frame_times))
        finally:
            writer.release()
        require_frames(tmp, written)
    return written


def require_room(path: Path) -> None:
    """OSError (no space left) when the file system holding `path` is full: OpenCV's writer would go on silently.
    Blocks reserved for root count for root, as its writes may use them."""
    fs = os.statvfs(path)
    if (fs.f_bfree if os.geteuid() == 0 else fs.f_bavail) == 0:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def require_frames(path: Path, frames: int) -> None:
    """OSError unless the video written at `path` opens and lists `frames` frames (a truncated file does not)."""
    import cv2

    from squatcli.video import open_video

    cap = open_video(path)
    try:
        listed = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    finally:
        cap.release()
    if listed != frames:
        full = os.statvfs(path).f_bavail == 0
        reason = os.strerror(errno.ENOSPC) if full else f"the video writer wrote {listed} of {frames} frames"
        raise OSError(errno.ENOSPC if full else errno.EIO, reason)
