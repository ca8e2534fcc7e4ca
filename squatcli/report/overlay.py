"""A report drawn on pictures (OpenCV): the annotated video (the input video with the skeleton, the joints at fault
in colour, the current rep's verdict and measurements and the verdict banner on every frame; same frame count,
size and fps, mp4v) and the still of each rep's deepest point that the HTML report embeds.

Text sits on a dark box, so it reads on any background; what was not measured is not printed. OpenCV's writer
reports no error (a full disk leaves a truncated file without its index), so `write_video` checks the disk after
every frame written and reads the finished file back before it takes its name.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from squatcli.datasets import atomic_output
from squatcli.errors import SquatError
from squatcli.report.model import TABLE_METRICS, Report, RepLine, Still, ascii_text, metric, rep_joints  # OpenCV's fonts are ASCII
from squatcli.skeleton import BONES, J, squat_class
from squatcli.video import read_frames

GREEN, RED, WHITE, AMBER, BONE = (80, 200, 80), (50, 50, 230), (255, 255, 255), (0, 140, 255), (255, 200, 40)  # BGR
PAPER, INK = (245, 245, 245), (110, 70, 30)  # a stick figure's background and lines
_BONE_INDEX = [(J[a], J[b]) for a, b in BONES]
def rep_lines(rep: RepLine, total: int) -> list[str]:
    """What the video says of the rep on screen: its number and verdict, then its measured values (those outside
    their range marked "!"); nothing for a value that was not measured."""
    said = "" if not rep.judged else ": good" if rep.verdict == "good" else f": {squat_class(rep.fault).name.lower()}"
    values = [f"{metric(m).header} {ascii_text(metric(m).text(rep.values[m]))}{'!' if m in rep.out_of_range else ''}"
              for m in TABLE_METRICS if rep.values.get(m) is not None]  # fmt: skip
    return [f"rep {rep.label}/{total}{said}", "  ".join(values)] if values else [f"rep {rep.label}/{total}{said}"]


def label(frame: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour) -> int:
    """Draw `text` at `origin` (its baseline's left end) on a dark translucent box; returns the line height."""
    import cv2

    thickness = max(1, int(round(scale * 2)))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x, y = origin
    pad = max(3, int(6 * scale))
    x0, y0, x1, y1 = max(0, x - pad), max(0, y - h - pad), min(frame.shape[1], x + w + pad), min(frame.shape[0], y + base + pad)
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = (frame[y0:y1, x0:x1] * 0.35).astype(frame.dtype)
    cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
    return h + base + 2 * pad


def draw_skeleton(frame: np.ndarray, xy: np.ndarray, fault: tuple[str, ...] = (), warn: tuple[str, ...] = (),
                  bone=BONE, dot=WHITE) -> None:  # fmt: skip
    """Draw the skeleton from (19, 2) normalised positions on a BGR frame, in place: bones, joints, and the joints
    at fault (red) or outside a range without being the verdict's fault (amber) ringed large. Joints not found
    (NaN) are skipped."""
    import cv2

    h, w = frame.shape[:2]
    scale = max(0.4, min(w, h) / 900)
    ok = np.isfinite(xy).all(axis=1)
    points = np.round(np.nan_to_num(xy) * [w, h]).astype(int)
    for a, b in _BONE_INDEX:
        if ok[a] and ok[b]:
            cv2.line(frame, tuple(points[a]), tuple(points[b]), bone, max(2, int(3 * scale)), cv2.LINE_AA)
    for k, p in enumerate(points):
        if ok[k]:
            cv2.circle(frame, tuple(p), max(3, int(5 * scale)), dot, -1, cv2.LINE_AA)
    for names, colour in ((warn, AMBER), (fault, RED)):
        for name in names:
            if ok[J[name]]:
                centre = tuple(points[J[name]])
                cv2.circle(frame, centre, max(7, int(14 * scale)), colour, -1, cv2.LINE_AA)
                cv2.circle(frame, centre, max(7, int(14 * scale)), WHITE, max(1, int(2 * scale)), cv2.LINE_AA)


def draw_frame(frame: np.ndarray, xy: np.ndarray, banner: str, good: bool, rep_text: list[str], cues: list[str],
               fault: tuple[str, ...] = (), warn: tuple[str, ...] = ()) -> None:  # fmt: skip
    """Draw on one BGR frame in place: skeleton with the joints at fault, verdict banner, rep text, cues."""
    import cv2

    h, w = frame.shape[:2]
    scale = max(0.4, min(w, h) / 900)
    draw_skeleton(frame, xy, fault, warn)
    bar = int(44 * scale) + 10
    cv2.rectangle(frame, (0, 0), (w, bar), GREEN if good else RED, -1)
    label(frame, ascii_text(banner), (10, bar - 12), 1.1 * scale, WHITE)
    y = bar + int(34 * scale)
    for line, colour in [(t, WHITE) for t in rep_text] + [(c, AMBER) for c in cues]:
        y += label(frame, ascii_text(line), (10, y), 0.8 * scale, colour)


def rep_cues(report: Report, rep: RepLine) -> list[str]:
    """The cue of a rep's named fault, else the cues of its measurements outside their ranges."""
    if rep.fault:
        return [squat_class(rep.fault).cue]
    return list(dict.fromkeys(a.cue for a in report.accounts if rep.index in a.reps and a.cue))


def write_video(report: Report, out_path: str | Path, progress: Callable[[int, int], None] | None = None) -> int:
    """Write the annotated copy of an assessed video; returns the number of frames written."""
    import cv2

    video = report.video
    if video is None:
        raise SquatError("--annotate needs a video input", report.input)
    banner = f"{report.verdict_text}   P(good) {report.p_good:.2f} / threshold {report.threshold:.2f}"
    total = report.rep_count + report.partial_count
    written = 0
    with atomic_output(out_path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), video.fps, (video.width, video.height))
        if not writer.isOpened():
            raise SquatError("cannot write an mp4 video here", out_path)
        try:
            for index, _, rgb in read_frames(video.path, stride=1):
                frame = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
                t = video.frame_times[min(index, len(video.frame_times) - 1)]
                rep = next((r for r in report.reps if r.start_s <= t <= r.end_s), None)
                xy = video.image_xy[min(index, len(video.image_xy) - 1)]
                if rep is None:
                    draw_frame(frame, xy, banner, report.good, [], [])
                else:
                    draw_frame(frame, xy, banner, report.good, rep_lines(rep, total), rep_cues(report, rep),
                               *rep_joints(rep))  # fmt: skip
                writer.write(frame)
                require_room(tmp)
                written += 1
                if progress:
                    progress(written, len(video.frame_times))
        finally:
            writer.release()
        require_frames(tmp, written)
    return written


def still_images(report: Report, max_height: int = 420) -> list[bytes]:
    """JPEG bytes of each of the report's stills: the video frame (read again from the video, one pass) or a plain
    background, with the skeleton and the joints at fault drawn on it."""
    import cv2

    from squatcli.video import frames_at

    frames = frames_at(report.video.path, {s.frame for s in report.stills if s.frame is not None}) if report.video else {}
    out = []
    for still in report.stills:
        picture = _canvas(still, frames.get(still.frame))
        h, w = picture.shape[:2]
        if h > max_height:
            picture = cv2.resize(picture, (int(round(w * max_height / h)), max_height), interpolation=cv2.INTER_AREA)
        colours = (BONE, WHITE) if still.frame is not None else (INK, INK)
        draw_skeleton(picture, still.xy, still.fault_joints, still.warn_joints, *colours)
        ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 85])
        out.append(data.tobytes() if ok else b"")
    return out


def _canvas(still: Still, rgb: np.ndarray | None) -> np.ndarray:
    """A BGR picture to draw a still on: its video frame, or a plain one of the still's aspect."""
    if rgb is not None:
        return np.ascontiguousarray(rgb[..., ::-1])
    width = 300
    return np.full((int(round(width * still.aspect)), width, 3), PAPER, dtype=np.uint8)


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
