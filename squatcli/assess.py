"""The end-to-end assessment: any input (video, joints .npz, paper JSON clip) -> class probabilities, a verdict
at the model's stored Youden threshold, and per-rep measurements.

Video-level aggregate: the mean of the per-window probabilities (windows of 300 frames, 50 % overlap; a clip
shorter than 300 frames is one ping-pong-padded window). The verdict is GOOD FORM when the aggregate P(good) is at
or above the model's threshold; otherwise NEEDS WORK, and the main fault is the most probable of the six faults.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from squatcli.datasets import read_joints_npz, read_paper_json
from squatcli.errors import SquatError
from squatcli.features import clip_features, normalise, windows
from squatcli.files import require_input_file
from squatcli.skeleton import CLASSES, DEFAULT_STRIDE, FPS, GOOD, WINDOW
from squatcli.video import VIDEO_SUFFIXES, require_duration, resample_to_fps

INPUT_SUFFIXES = VIDEO_SUFFIXES | {".npz", ".json"}
SCHEMA_VERSION = 1


@dataclass
class Motion:
    """An input brought to the common form: normalised features at 30 fps, and joints where the input has them."""

    path: Path
    kind: str  # "video" | "joints" | "paper-json"
    features: np.ndarray  # (T, 171) body-scale normalised, 30 fps
    joints: np.ndarray | None = None  # (T, 19, 3) metres at 30 fps
    confidence: np.ndarray | None = None
    extraction: Any = None  # pose.Extraction for videos
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class Assessment:
    """What `squat assess` says about one input; `to_dict` is the documented JSON object."""

    motion: Motion
    model: str
    threshold: float
    window_starts: np.ndarray  # (N,) first frame of each window
    window_probs: np.ndarray  # (N, 7)
    reps: Any = None  # reps.RepReport, or None for inputs without joints
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def probabilities(self) -> np.ndarray:
        """(7,) the video-level aggregate: mean over windows."""
        return self.window_probs.mean(axis=0)

    @property
    def good(self) -> bool:
        return bool(self.probabilities[GOOD] >= self.threshold)

    @property
    def main_fault(self) -> int | None:
        """Index of the most probable fault when the verdict is NEEDS WORK."""
        if self.good:
            return None
        probs = self.probabilities.copy()
        probs[GOOD] = -1
        return int(np.argmax(probs))

    @property
    def verdict_text(self) -> str:
        return "GOOD FORM" if self.good else f"NEEDS WORK: {CLASSES[self.main_fault].name.lower()}"

    def to_dict(self) -> dict:
        fault = self.main_fault
        m = self.motion
        return {
            "schema": SCHEMA_VERSION,
            "input": str(m.path),
            "ok": True,
            "kind": m.kind,
            "model": self.model,
            "threshold": round(self.threshold, 4),
            "verdict": "good" if self.good else "needs_work",
            "verdict_text": self.verdict_text,
            "main_fault": None if fault is None else CLASSES[fault].key,
            "cue": CLASSES[GOOD if fault is None else fault].cue,
            "probabilities": {c.key: round(float(p), 4) for c, p in zip(CLASSES, self.probabilities)},
            "frames": len(m.features),
            "duration_s": round(len(m.features) / FPS, 3),
            "windows": [
                {"start_s": round(s / FPS, 3), "end_s": round(min(s + WINDOW, len(m.features)) / FPS, 3),
                 "probabilities": {c.key: round(float(p), 4) for c, p in zip(CLASSES, probs)}}
                for s, probs in zip(self.window_starts, self.window_probs)
            ],  # fmt: skip
            "reps": None if self.reps is None else self.reps.to_dict(),
            "pose": None if m.extraction is None else m.extraction.summary(),
            "notes": list(m.notes),
            "timings": {k: round(v, 3) for k, v in (m.seconds | self.seconds).items()},
        }


def failure(path: Path, error: Exception) -> dict:
    """The JSON object for an input that could not be assessed."""
    return {"schema": SCHEMA_VERSION, "input": str(path), "ok": False, "error": str(error)}


def expand_inputs(paths: list[Path]) -> list[Path]:
    """Files to assess: each path itself, or for a folder the supported files inside it (recursively, sorted).

    A FIFO or other non-regular entry with a supported name is listed too, to be refused by name like any input."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if not p.is_dir() and p.suffix.lower() in INPUT_SUFFIXES)
            found += inside or [path]  # an empty folder stays, to fail with a clear message
        else:
            found.append(path)
    return found


def load_motion(path: Path, stride: int = DEFAULT_STRIDE, progress=None) -> Motion:
    """Read any supported input and bring it to 30 fps normalised features (+ joints where available)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            raise SquatError("folder cannot be read (permission denied)", path)
        raise SquatError("folder holds no video, .npz or .json input", path)
    require_input_file(path)
    start = time.perf_counter()
    joints = confidence = dist = extraction = None
    notes: list[str] = []
    if suffix == ".npz":
        clip = read_joints_npz(path)
        kind, joints = "joints", resample_to_fps(clip.joints, clip.fps)
        confidence = None if clip.confidence is None else resample_to_fps(clip.confidence, clip.fps)
        if abs(clip.fps - FPS) > 1e-6:
            notes.append(f"resampled from {clip.fps:g} fps to {FPS} fps")
    elif suffix == ".json":
        kind, dist = "paper-json", read_paper_json(path)
        notes.append("paper-format clips hold distances only: no per-rep measurements")
    elif suffix in VIDEO_SUFFIXES:
        from squatcli.pose import extract_video

        extraction = extract_video(path, stride=stride, progress=progress)
        kind, joints, confidence = "video", extraction.clip.joints, extraction.clip.confidence
        notes += [f"no person for {b - a:.1f} s from {a:.1f} s (interpolated)" for a, b in extraction.long_gaps]
        notes += extraction.notes
    else:
        raise SquatError(f"unsupported input type '{suffix or path.name}' (expected a video, .npz or .json)", path)
    seconds = {"pose_s": extraction.seconds} if extraction else {"read_s": time.perf_counter() - start}
    require_duration(len(joints if joints is not None else dist), path)
    t = time.perf_counter()
    try:  # the one feature path: distances of the joints, divided by the body scale
        features = normalise(dist) if joints is None else clip_features(joints)
    except ValueError as e:
        raise SquatError(str(e), path) from None
    seconds["features_s"] = time.perf_counter() - t
    if len(features) < WINDOW:
        notes.append(f"clip is {len(features) / FPS:.1f} s; padded to {WINDOW / FPS:.0f} s by "
                     "ping-pong repetition (the model reads 10 s windows)")  # fmt: skip
    return Motion(path, kind, features, joints, confidence, extraction, notes, seconds)


def assess_motion(motion: Motion, classifier) -> Assessment:
    """Score a motion with a loaded classifier and measure its reps."""
    from squatcli.reps import measure_reps

    t = time.perf_counter()
    wins, starts = windows(motion.features)
    probs = classifier.predict(wins)
    model_s = time.perf_counter() - t
    reps, reps_s = None, 0.0
    if motion.joints is not None:
        t = time.perf_counter()
        try:
            reps = measure_reps(motion.joints, FPS, motion.confidence)
        except ValueError as e:  # degenerate joints (e.g. all at one point) cannot be measured
            raise SquatError(f"cannot measure reps: {e}", motion.path) from None
        reps_s = time.perf_counter() - t
    return Assessment(motion, classifier.name, classifier.threshold, starts, probs, reps,
                      {"model_s": model_s, "reps_s": reps_s})  # fmt: skip


def assess(path: Path, classifier, stride: int = DEFAULT_STRIDE, progress=None) -> Assessment:
    """One input, end to end."""
    start = time.perf_counter()
    result = assess_motion(load_motion(path, stride, progress), classifier)
    result.seconds["total_s"] = time.perf_counter() - start
    return result

