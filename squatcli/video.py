"""Reading video frames and their timestamps with OpenCV, and resampling tracks to 30 fps.

Timestamps come from the container (CAP_PROP_POS_MSEC) when they increase strictly, so variable-frame-rate phone
videos keep their real timing; otherwise they are frame index / nominal fps.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from squatcli.errors import SquatError
from squatcli.files import require_input_file
from squatcli.skeleton import FPS, MAX_FPS, MAX_SECONDS, MIN_FPS, MIN_SECONDS

# FFmpeg (inside OpenCV) prints its own warnings ("moov atom not found", "partial file") on stderr; squatcli says
# what went wrong in one line instead. Read when OpenCV first opens a video, so setting them here is in time.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv", ".3gp"}


@dataclass
class VideoInfo:
    """What the container says about a video (frame count and fps may be estimates)."""

    path: Path
    fps: float
    frame_count: int
    width: int
    height: int


def open_video(path: str | Path):
    """A cv2.VideoCapture on `path` that applies the video's rotation metadata, so a portrait phone video stored
    landscape decodes upright (OpenCV 4.11 does not by default); every capture squatcli opens comes from here."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # width and height then report the upright size too
    return cap


def probe(path: str | Path) -> VideoInfo:
    """Open a video and read its header; SquatError if it is missing or OpenCV cannot open it."""
    import cv2

    path = require_input_file(path, "video")
    cap = open_video(path)
    try:
        if not cap.isOpened():
            raise SquatError("not a video OpenCV can open (unknown format or corrupt file)", path)
        fps = cap.get(cv2.CAP_PROP_FPS)
        return VideoInfo(
            path=path,
            fps=float(fps) if fps and np.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS else float(FPS),
            frame_count=int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
            width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
    finally:
        cap.release()


def read_frames(path: str | Path, stride: int | Callable[[int], bool] = 1) -> Iterator[tuple[int, float, np.ndarray | None]]:
    """Yield (frame index, container timestamp in s, RGB frame or None) for every frame of the video.

    Only every `stride`-th frame, or the frames for which `stride(index)` is true (asked just before the frame
    is read, so the answer may depend on the frames seen so far), is decoded to pixels (the others are grabbed,
    which is cheap), so the caller can run the pose model on a subset while still seeing every frame's
    timestamp. Frames are streamed: memory stays flat however long the video is.
    """
    import cv2

    wanted = stride if callable(stride) else lambda index: index % stride == 0
    info = probe(path)
    cap = open_video(info.path)
    try:
        index = 0
        while True:
            if wanted(index):
                ok, frame = cap.read()
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if ok else None
            else:
                ok, rgb = cap.grab(), None
            if not ok:
                break
            yield index, cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, rgb
            index += 1
    finally:
        cap.release()
    if index == 0:
        raise SquatError("no frame could be decoded (corrupt or unsupported video)", info.path)


def frames_at(path: str | Path, indices: set[int] | list[int]) -> dict[int, np.ndarray]:
    """The RGB frames at these indices, read in one pass over the video (the others are grabbed, not converted):
    a report's stills, read again after pose rather than kept, so memory holds only these frames."""
    import cv2

    wanted = {int(i) for i in indices}
    found: dict[int, np.ndarray] = {}
    if not wanted:
        return found
    cap = open_video(require_input_file(path, "video"))
    try:
        for index in range(max(wanted) + 1):
            if not cap.grab():
                break
            if index in wanted:
                ok, frame = cap.retrieve()
                if ok:
                    found[index] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()
    return found


def require_duration(frames_at_30fps: int, path: str | Path) -> None:
    """Refuse a clip under MIN_SECONDS (counted in frames at 30 fps, whatever the input's own rate)."""
    if frames_at_30fps < round(MIN_SECONDS * FPS):
        raise SquatError(f"clip is {frames_at_30fps / FPS:.2f} s long; at least {MIN_SECONDS:g} s (one rep) is needed", path)


def require_max_duration(seconds: float, path: str | Path) -> None:
    """Refuse a clip over MAX_SECONDS (before its 30 fps grid is allocated)."""
    if not seconds <= MAX_SECONDS:
        raise SquatError(f"clip lasts {seconds:,.0f} s; at most {MAX_SECONDS:,.0f} s is accepted", path)


def clean_timestamps(stamps: np.ndarray, fps: float) -> np.ndarray:
    """Container timestamps if they increase strictly, else index / fps; shifted to start at 0."""
    stamps = np.asarray(stamps, dtype=np.float64)
    if len(stamps) > 1 and np.all(np.diff(stamps) > 0) and np.all(np.isfinite(stamps)):
        return stamps - stamps[0]
    return np.arange(len(stamps)) / fps


def resample(times: np.ndarray, values: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """Linearly interpolate a track (K, ...) sampled at `times` onto `new_times`, holding the end values.

    Rows of `values` that contain NaN (no person) are ignored, so short gaps are bridged by interpolation.
    """
    values = np.asarray(values, dtype=np.float64)
    flat = values.reshape(len(values), -1)
    valid = np.all(np.isfinite(flat), axis=1)
    if valid.sum() == 0:
        raise ValueError("no valid samples to resample")
    t, v = np.asarray(times)[valid], flat[valid]
    out = np.empty((len(new_times), flat.shape[1]))
    for c in range(flat.shape[1]):
        out[:, c] = np.interp(new_times, t, v[:, c])
    return out.reshape((len(new_times),) + values.shape[1:])


def uniform_times(duration: float, fps: float = FPS) -> np.ndarray:
    """The frame times 0, 1/fps, ... of a clip lasting `duration` seconds (round(duration * fps) frames)."""
    return np.arange(max(1, int(round(duration * fps)))) / fps


def resample_to_fps(values: np.ndarray, fps: float, new_fps: float = FPS) -> np.ndarray:
    """A (T, ...) track sampled uniformly at `fps` -> the same motion sampled at `new_fps` (linear interpolation)."""
    if abs(fps - new_fps) < 1e-9:
        return np.asarray(values)
    times = np.arange(len(values)) / fps
    return resample(times, values, uniform_times(len(values) / fps, new_fps)).astype(np.asarray(values).dtype)
