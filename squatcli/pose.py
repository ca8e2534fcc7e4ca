"""Video -> 3D joints: the `PoseExtractor` interface, its MediaPipe implementation and the 33 -> 19 joint mapping.

MediaPipe's `pose_world_landmarks` are 33 BlazePose landmarks in metres with the origin between the hips, x to the
image's right, y down, z away from the camera. We turn them to y up (x, -y, -z: a rotation, so distances are
unchanged) and map them to the dataset's 19 joints (skeleton.JOINTS), keeping the heels and foot tips (landmarks
29-32) as the foot points (skeleton.FEET). Two joints are not landmarks:
* neck = midpoint of the shoulders;
* head top = the ear midpoint pushed on along the neck -> ears direction by HEAD_TOP_EXTENSION of the neck-to-ears
  distance (the vertex sits ~12 cm above the ears, about half the shoulder-to-ear height).
Their confidence is the smaller of the landmarks they are made from.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from squatcli.datasets import JointsClip
from squatcli.errors import SquatError
from squatcli.features import segment_lengths
from squatcli.skeleton import DEFAULT_STRIDE, FPS, HEAD_TOP_EXTENSION, J, LIMB_SEGMENTS, N_JOINTS, auto_stride
from squatcli.video import (
    VideoInfo,
    clean_timestamps,
    probe,
    read_frames,
    require_duration,
    require_max_duration,
    resample,
    uniform_times,
)

MIN_PERSON_FRACTION = 0.5  # fewer frames with a person than this is an error
LONG_GAP_S = 0.5  # gaps without a person longer than this are reported (they are still interpolated)
# The legs must be seen to judge a squat. A frame sees them when the six hip, knee and ankle landmarks lie inside
# the picture and the better-seen leg's hip, knee and ankle all have visibility >= LEG_VISIBILITY (a side view
# hides the far leg). Measured on the three shared real videos: 100 % of frames; the same videos cut to their
# upper 50-75 %: 0-33 % (legs guessed, knee angles and depth meaningless); cut at the feet (upper 85 %): 8-100 %.
LEG_VISIBILITY = 0.5
MIN_LEGS_SEEN = 0.5  # fewer analysed frames with the legs seen than this is an error
WARN_LEGS_SEEN = 0.9  # fewer than this is a note on the result
WARN_LEG_BONE_VARIATION = 0.10  # shank or thigh length varying more (MAD/median) is a note (sound tracks: < 6 %)
MISSING_FRAMES_NOTE = 0.05  # decoding fewer than 95 % of the frames the container lists is a note
_LOWER_BODY = [J[n] for n in ("r_hip", "l_hip", "r_knee", "l_knee", "r_ankle", "l_ankle")]
_LEGS = [[J[f"{side}_{n}"] for n in ("hip", "knee", "ankle")] for side in ("r", "l")]

# BlazePose landmark index for each of the 19 joints that is a landmark (neck and head top are derived).
BLAZEPOSE_INDEX = {
    "r_ankle": 28, "r_knee": 26, "r_hip": 24, "l_hip": 23, "l_knee": 25, "l_ankle": 27,
    "r_wrist": 16, "r_elbow": 14, "r_shoulder": 12, "l_shoulder": 11, "l_elbow": 13, "l_wrist": 15,
    "nose": 0, "l_eye": 2, "r_eye": 5, "l_ear": 7, "r_ear": 8,
}  # fmt: skip
_DIRECT = np.array([J[n] for n in BLAZEPOSE_INDEX])
_SOURCE = np.array(list(BLAZEPOSE_INDEX.values()))
BLAZEPOSE_FEET = (29, 30, 31, 32)  # left heel, right heel, left foot index, right foot index: skeleton.FEET


def blazepose_to_joints(landmarks: np.ndarray, visibility: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(33, D) BlazePose landmarks and (33,) visibility -> (19, D) joints and (19,) confidence (see module doc)."""
    joints = np.empty((N_JOINTS, landmarks.shape[1]))
    conf = np.empty(N_JOINTS)
    joints[_DIRECT], conf[_DIRECT] = landmarks[_SOURCE], visibility[_SOURCE]
    neck = (landmarks[11] + landmarks[12]) / 2
    ears = (landmarks[7] + landmarks[8]) / 2
    joints[J["neck"]] = neck
    joints[J["head_top"]] = ears + HEAD_TOP_EXTENSION * (ears - neck)
    conf[J["neck"]] = min(visibility[11], visibility[12])
    conf[J["head_top"]] = min(visibility[7], visibility[8])
    return joints, conf


@dataclass
class PoseFrame:
    """One frame's pose: (19, 3) joints in metres (y up), (19,) confidence, (19, 2) normalised image positions,
    and (4, 3) foot points (skeleton.FEET) when the extractor gives them."""

    joints: np.ndarray
    confidence: np.ndarray
    image_xy: np.ndarray
    feet: np.ndarray | None = None


class PoseExtractor(Protocol):
    """Anything that turns an RGB frame into a PoseFrame (None when no person is found)."""

    def __call__(self, rgb: np.ndarray) -> PoseFrame | None: ...

    def close(self) -> None: ...


class _NoTensorFlow(importlib.abc.MetaPathFinder):
    """Makes `import tensorflow` fail while mediapipe is imported: mediapipe imports it only for a docs decorator,
    falls back cleanly, and so starts in ~0.5 s instead of ~4 s. TensorFlow imports normally afterwards."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(name)
        return None


def _import_mediapipe_pose():
    if "tensorflow" in sys.modules:  # already paid for: nothing to save
        from mediapipe.python.solutions import pose
        return pose
    blocker = _NoTensorFlow()
    sys.meta_path.insert(0, blocker)
    try:
        from mediapipe.python.solutions import pose
    finally:
        sys.meta_path.remove(blocker)
    return pose


@contextlib.contextmanager
def native_stderr_silenced():
    """Silence what native code writes to file descriptor 2 (MediaPipe's start-up log lines) for a moment."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class MediaPipePose:
    """MediaPipe BlazePose (full model, bundled in the mediapipe 0.10.21 wheel) in video/tracking mode."""

    def __init__(self, min_confidence: float = 0.5):
        os.environ.setdefault("GLOG_minloglevel", "2")
        self._min_confidence = min_confidence
        self._pose = None

    def __call__(self, rgb: np.ndarray) -> PoseFrame | None:
        if self._pose is not None:
            result = self._pose.process(rgb)
        else:  # the graph logs its set-up from native threads until the first result: keep that off the terminal
            mp_pose = _import_mediapipe_pose()
            with native_stderr_silenced():
                # model_complexity=1 is the only model inside the wheel; 0 and 2 would try to download theirs.
                self._pose = mp_pose.Pose(static_image_mode=False, model_complexity=1,
                                          min_detection_confidence=self._min_confidence,
                                          min_tracking_confidence=self._min_confidence)  # fmt: skip
                result = self._pose.process(rgb)
        if result.pose_world_landmarks is None:
            return None
        world = np.array([(p.x, -p.y, -p.z, p.visibility) for p in result.pose_world_landmarks.landmark])
        image = np.array([(p.x, p.y) for p in result.pose_landmarks.landmark])
        joints, conf = blazepose_to_joints(world[:, :3], world[:, 3])
        xy, _ = blazepose_to_joints(image, world[:, 3])
        return PoseFrame(joints, conf, xy, world[list(BLAZEPOSE_FEET), :3])

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None


@dataclass
class Extraction:
    """The result of running pose extraction over a video, with what a user needs to trust it."""

    clip: JointsClip  # joints resampled to 30 fps
    video: VideoInfo
    frame_times: np.ndarray  # (F,) seconds, every video frame
    sampled: np.ndarray  # (K,) indices of the frames the pose model saw
    found: np.ndarray  # (K,) whether a person was found in each
    image_xy: np.ndarray  # (F, 19, 2) normalised image positions on every video frame (for annotation)
    long_gaps: list[tuple[float, float]] = field(default_factory=list)  # (start s, end s) without a person
    bone_variation: dict[str, float] = field(default_factory=dict)  # MAD / median per limb, better-seen side
    bone_variation_worst: dict[str, float] = field(default_factory=dict)  # the same, worse side
    seconds: float = 0.0  # wall time of the whole extraction
    pose_seconds: float = 0.0  # of which in the pose model
    stride: int = 1  # the pose model ran on every `stride`-th frame
    legs_seen: float = 1.0  # fraction of the analysed frames with a person whose legs are seen (see LEG_VISIBILITY)
    notes: list[str] = field(default_factory=list)  # what the user should know about this extraction

    @property
    def person_fraction(self) -> float:
        return float(self.found.mean())

    def summary(self) -> dict:
        """JSON-friendly facts about the extraction."""
        return {
            "video": str(self.video.path), "frames": len(self.frame_times), "video_fps": round(self.video.fps, 3),
            "duration_s": round(self.clip.duration, 3), "frames_processed": len(self.sampled),
            "frames_with_person": int(self.found.sum()), "person_fraction": round(self.person_fraction, 4),
            "long_gaps_s": [[round(a, 2), round(b, 2)] for a, b in self.long_gaps],
            "bone_variation": {k: round(v, 4) for k, v in self.bone_variation.items()},
            "bone_variation_worst_side": {k: round(v, 4) for k, v in self.bone_variation_worst.items()},
            "seconds": round(self.seconds, 3), "pose_seconds": round(self.pose_seconds, 3), "stride": self.stride,
            "legs_seen": round(self.legs_seen, 4), "notes": list(self.notes),
        }  # fmt: skip


def bone_variation(joints: np.ndarray, confidence: np.ndarray) -> dict[str, float]:
    """Per limb segment, MAD / median of its length across frames (0 = rigid), on the better-seen side.

    A limb hidden behind the body (the far arm in a side view) has guessed positions whose length wobbles; the
    stability of what the camera saw is what tells whether tracking is sound. `bone_variation_worst` gives both.
    """
    return {name: values[0] for name, values in side_variations(joints, confidence).items()}


def bone_variation_worst(joints: np.ndarray, confidence: np.ndarray) -> dict[str, float]:
    """Like bone_variation but the worse of the two sides, hidden or not."""
    return {name: max(values) for name, values in side_variations(joints, confidence).items()}


def side_variations(joints: np.ndarray, confidence: np.ndarray) -> dict[str, tuple[float, float]]:
    """Per segment: (variation of the better-seen side, of the other side)."""
    result = {}
    for name, sides in LIMB_SEGMENTS.items():
        scored = []
        for a, b in sides:
            lengths = segment_lengths(joints, a, b)
            med = float(np.median(lengths))
            variation = float(np.median(np.abs(lengths - med)) / med) if med > 0 else float("inf")
            seen = float(np.minimum(confidence[:, J[a]], confidence[:, J[b]]).mean())
            scored.append((seen, variation))
        scored.sort(reverse=True)
        result[name] = (scored[0][1], scored[1][1])
    return result


def legs_seen(image_xy: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """(K,) per analysed frame with a person: whether its legs are seen (see LEG_VISIBILITY)."""
    lower = image_xy[:, _LOWER_BODY]
    inside = np.all((lower >= 0.0) & (lower <= 1.0), axis=(1, 2))
    visible = np.max([confidence[:, leg].min(axis=1) for leg in _LEGS], axis=0) >= LEG_VISIBILITY
    return inside & visible


def check_body_seen(image_xy: np.ndarray, confidence: np.ndarray, variations: dict[str, tuple[float, float]],
                    path: str | Path) -> tuple[float, list[str]]:  # fmt: skip
    """Refuse a video whose legs are out of the picture or hidden in most frames; otherwise (fraction of frames
    with the legs seen, notes warning about a partly seen body). Inputs: the analysed frames with a person."""
    seen = float(legs_seen(image_xy, confidence).mean())
    if seen < MIN_LEGS_SEEN:
        raise SquatError(f"the legs are out of the picture or hidden in {1 - seen:.0%} of the frames with a person "
                         f"(hips, knees and ankles must be seen in at least {MIN_LEGS_SEEN:.0%}); film the whole "
                         "body, feet included", path)  # fmt: skip
    notes = []
    if seen < WARN_LEGS_SEEN:
        notes.append(f"the legs are out of the picture or hidden in {1 - seen:.0%} of the frames: knee angles "
                     "and depth there are guesses")  # fmt: skip
    unstable = {k: variations[k][0] for k in ("shank", "thigh") if variations[k][0] > WARN_LEG_BONE_VARIATION}
    if unstable:
        text = ", ".join(f"{k} {v:.0%}" for k, v in unstable.items())
        notes.append(f"leg lengths vary from frame to frame ({text}; under 6 % when the legs are tracked well): "
                     "the legs may be partly hidden or out of the picture")  # fmt: skip
    return seen, notes


def find_gaps(times: np.ndarray, found: np.ndarray, min_seconds: float) -> list[tuple[float, float]]:
    """Spans (start, end) in seconds of consecutive samples without a person lasting at least min_seconds."""
    gaps, start = [], None
    for k, ok in enumerate(np.append(found, True)):
        if not ok and start is None:
            start = k
        elif ok and start is not None:
            t0 = times[start - 1] if start > 0 else times[0]
            t1 = times[k] if k < len(times) else times[-1]
            if t1 - t0 >= min_seconds:
                gaps.append((float(t0), float(t1)))
            start = None
    return gaps


def extract_video(
    path: str | Path,
    stride: int | None = DEFAULT_STRIDE,
    extractor: PoseExtractor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Extraction:
    """Video -> 19 joints per frame at 30 fps, running the pose model on every `stride`-th frame (None: the
    video's `skeleton.auto_stride`).

    Joints between the sampled frames, in gaps without a person, and at the 30 fps grid are linear interpolations
    in time; frames are streamed so memory does not grow with the video's length.
    """
    if stride is not None and stride < 1:
        raise ValueError("stride must be >= 1")
    start = time.perf_counter()
    info = probe(path)
    stride = auto_stride(info.fps) if stride is None else stride
    if info.frame_count > 0:  # refuse an hours-long video before decoding it (the count may be an estimate)
        require_max_duration(info.frame_count / info.fps, info.path)
    own = extractor is None
    extractor = extractor or MediaPipePose()
    stamps, sampled, poses = [], [], []
    pose_seconds = 0.0
    try:
        for index, stamp, rgb in read_frames(info.path, stride):
            stamps.append(stamp)
            if rgb is not None:
                t = time.perf_counter()
                poses.append(extractor(rgb))
                pose_seconds += time.perf_counter() - t
                sampled.append(index)
            if progress:
                progress(index + 1, max(info.frame_count, index + 1))
    finally:
        if own:
            extractor.close()
    notes = []
    if info.frame_count - len(stamps) > max(2, MISSING_FRAMES_NOTE * info.frame_count):
        notes.append(f"only {len(stamps)} of the {info.frame_count} frames the file lists could be decoded (a "
                     "truncated or damaged file?): the rest of the video was not assessed")  # fmt: skip
    frame_times = clean_timestamps(np.array(stamps), info.fps)
    frame_seconds = float(np.median(np.diff(frame_times))) if len(frame_times) > 1 else 1 / info.fps
    require_max_duration(frame_times[-1] + frame_seconds, info.path)
    grid = uniform_times(frame_times[-1] + frame_seconds, FPS)  # n frames last n frame intervals
    require_duration(len(grid), info.path)
    sampled_arr = np.array(sampled)
    found = np.array([p is not None for p in poses])
    if found.mean() < MIN_PERSON_FRACTION:
        raise SquatError(f"a person was found in only {found.sum()} of {len(found)} analysed frames "
                         f"({found.mean():.0%}); at least {MIN_PERSON_FRACTION:.0%} is needed", info.path)  # fmt: skip
    nan = np.full((N_JOINTS, 3), np.nan)
    joints = np.stack([p.joints if p else nan for p in poses])
    conf = np.stack([p.confidence if p else np.zeros(N_JOINTS) for p in poses])
    xy = np.stack([p.image_xy if p else nan[:, :2] for p in poses])
    has_feet = all(p.feet is not None for p in poses if p)
    feet = np.stack([p.feet if p else nan[:4] for p in poses]) if has_feet else None
    t_sampled = frame_times[sampled_arr]
    variations = side_variations(joints[found], conf[found])
    seen, body_notes = check_body_seen(xy[found], conf[found], variations, info.path)
    joints30 = resample(t_sampled, joints, grid).astype(np.float32)
    conf30 = resample(t_sampled, conf, grid).astype(np.float32)
    return Extraction(
        clip=JointsClip(joints30, float(FPS), conf30, None,
                        None if feet is None else resample(t_sampled, feet, grid).astype(np.float32), monocular=True),
        video=info,
        frame_times=frame_times,
        sampled=sampled_arr,
        found=found,
        image_xy=resample(t_sampled, xy, frame_times).astype(np.float32),
        long_gaps=find_gaps(t_sampled, found, LONG_GAP_S),
        bone_variation={name: v[0] for name, v in variations.items()},
        bone_variation_worst={name: max(v) for name, v in variations.items()},
        seconds=time.perf_counter() - start,
        pose_seconds=pose_seconds,
        stride=stride,
        legs_seen=seen,
        notes=notes + body_notes,
    )
