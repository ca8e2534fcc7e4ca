"""Video -> 3D joints: the `PoseExtractor` interface, its MediaPipe implementation and the 33 -> 19 joint mapping.

MediaPipe's `pose_world_landmarks` are 33 BlazePose landmarks in metres with the origin between the hips, x to the
image's right, y down, z away from the camera. We turn them to y up (x, -y, -z: a rotation, so distances are
unchanged) and map them to the dataset's 19 joints (skeleton.JOINTS), keeping the heels and foot tips (landmarks
29-32) as the foot points (skeleton.FEET). Two joints are not landmarks:
* neck = midpoint of the shoulders;
* head top = the ear midpoint pushed on along the neck -> ears direction by HEAD_TOP_EXTENSION of the neck-to-ears
  distance (the vertex sits ~12 cm above the ears, about half the shoulder-to-ear height).
Their confidence is the smaller of the landmarks they are made from.

Pose where it matters (`PoseSchedule`, the default): the pose model runs on every frame (about 30 a second,
`auto_stride`) while a rep moves fast, every 2nd frame while the person holds still in a squat, and every 3rd while
they stand (and every frame for the first 0.5 s, before it knows what standing looks like), interpolated between.
Why every frame when it moves fast: MediaPipe's tracker crops each frame around the previous frame's landmarks,
so across skipped frames of a fast rep it lags (the shared side-view video's 56-degree trunk lean read 42 at every
2nd frame, 31 at every 3rd), and takes 4-6 consecutive frames to catch up. Its output also depends chaotically on
its history: leaving out any one frame moved later knee angles by up to 7 degrees and per-rep measurements by up
to 3 degrees and 0.06 thigh lengths on the shared videos (bench/bench_schedule.py), so no schedule that skips
frames tracks every-frame pose more closely than that.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import os
import sys
import time
import types
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
# The schedule (`PoseSchedule`; chosen on the shared videos with bench/bench_schedule.py). A rep is under way while
# the knee angle is more than BENT_DEGREES below the straightest seen so far (12 degrees comes 6-10 frames before
# the bottom of the fastest shared rep, 0.9 s), and for HOLD_FRAMES after. Then the pose model sees every frame if
# the knee angle changed faster than FAST_DEGREES_PER_S between any two frames it saw in the last FAST_WINDOW_S
# (a fast rep's turn at the bottom lasts 3-5 frames: the window keeps it), else every SLOW_FACTOR-th; while the
# person stands, every SPARSE_FACTOR-th. Every frame for the first START_SECONDS: the straightest knee angle is not
# known yet, and short clips often start in the first descent.
SPARSE_FACTOR = 3
SLOW_FACTOR = 2
BENT_DEGREES = 12.0
FAST_DEGREES_PER_S = 120.0
FAST_WINDOW_S = 0.2
HOLD_FRAMES = 2
START_SECONDS = 0.5
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
    """One frame's pose: (19, 3) joints in metres (y up), (19,) confidence, (19, 2) normalised image positions
    (x / width, y / height, y down), and (4, 3) foot points (skeleton.FEET) with their (4, 2) image positions when
    the extractor gives them."""

    joints: np.ndarray
    confidence: np.ndarray
    image_xy: np.ndarray
    feet: np.ndarray | None = None
    image_feet: np.ndarray | None = None


class PoseExtractor(Protocol):
    """Anything that turns an RGB frame into a PoseFrame (None when no person is found). Frames come in time
    order with their nominal time in seconds (frame index x frame period), so a tracker knows how far apart
    they are when frames are skipped."""

    def __call__(self, rgb: np.ndarray, seconds: float) -> PoseFrame | None: ...

    def close(self) -> None: ...


# What `import mediapipe` pulls in that the pose solution never uses (measured: 3.0 s of TensorFlow where it is
# installed; matplotlib 0.35 s; sounddevice 0.07 s): TensorFlow (a docs decorator) and sounddevice (audio tasks)
# are imported in try blocks that fall back cleanly, so they are blocked; matplotlib.pyplot (drawing_utils'
# 3D plot) is imported unguarded, so it gets an empty stand-in. Either only while mediapipe is imported, and only
# if not imported already: they import normally afterwards.
MEDIAPIPE_BLOCKED = ("tensorflow", "sounddevice")
MEDIAPIPE_STAND_INS = ("matplotlib", "matplotlib.pyplot")


class _Blocked(importlib.abc.MetaPathFinder):
    """Makes importing the named packages (and their submodules) fail."""

    def __init__(self, names: list[str]):
        self.names = set(names)

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ModuleNotFoundError(name)
        return None


def _import_mediapipe_pose():
    """mediapipe's pose solution, imported without what it never uses (MEDIAPIPE_BLOCKED, MEDIAPIPE_STAND_INS)."""
    if "mediapipe" in sys.modules:
        from mediapipe.python.solutions import pose
        return pose
    blocker = _Blocked([n for n in MEDIAPIPE_BLOCKED if n not in sys.modules])
    stand_ins = [] if MEDIAPIPE_STAND_INS[0] in sys.modules else list(MEDIAPIPE_STAND_INS)
    sys.meta_path.insert(0, blocker)
    sys.modules.update({name: types.ModuleType(name) for name in stand_ins})
    try:
        from mediapipe.python.solutions import pose
    finally:
        sys.meta_path.remove(blocker)
        for name in stand_ins:
            del sys.modules[name]
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

    def __call__(self, rgb: np.ndarray, seconds: float) -> PoseFrame | None:
        if self._pose is not None:
            result = self._process(rgb, seconds)
        else:  # the graph logs its set-up from native threads until the first result: keep that off the terminal
            mp_pose = _import_mediapipe_pose()
            with native_stderr_silenced():
                # model_complexity=1 is the only model inside the wheel; 0 and 2 would try to download theirs.
                self._pose = mp_pose.Pose(static_image_mode=False, model_complexity=1,
                                          min_detection_confidence=self._min_confidence,
                                          min_tracking_confidence=self._min_confidence)  # fmt: skip
                result = self._process(rgb, seconds)
        if result.pose_world_landmarks is None:
            return None
        world = np.array([(p.x, -p.y, -p.z, p.visibility) for p in result.pose_world_landmarks.landmark])
        image = np.array([(p.x, p.y) for p in result.pose_landmarks.landmark])
        joints, conf = blazepose_to_joints(world[:, :3], world[:, 3])
        xy, _ = blazepose_to_joints(image, world[:, 3])
        return PoseFrame(joints, conf, xy, world[list(BLAZEPOSE_FEET), :3], image[list(BLAZEPOSE_FEET)])

    def _process(self, rgb: np.ndarray, seconds: float):
        """One frame at its time: the legacy API stamps each frame one 30 fps period (33333 us) after its own
        counter, as if no frame were ever skipped; its tracker and landmark filters need the real gap. (At 30 fps
        every frame gets exactly the stamps it always had, and with them the same landmarks.)"""
        self._pose._simulated_timestamp = round(seconds * 1e6)  # process() adds 33333 us before stamping
        return self._pose.process(rgb)

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None


class PoseSchedule:
    """Which frames the pose model sees, decided frame by frame from what it saw (see the module doc): every
    `dense`-th frame while a rep moves fast, every `slow`-th while it is held, every `sparse`-th while the person
    stands. `dense == slow == sparse`: a plain stride."""

    def __init__(self, dense: int, slow: int, sparse: int, fps: float = 30.0, start: int = 0):
        self.dense, self.slow, self.sparse = dense, slow, sparse
        self.fast = FAST_DEGREES_PER_S / fps  # degrees per frame
        self.window = max(1, round(FAST_WINDOW_S * fps))  # frames
        self.straightest = -np.inf  # the largest knee angle seen: the person standing
        self.recent: list[tuple[int, float]] = []  # (frame, knee angle) seen within the last `window` frames
        self.next = 0  # the next frame to see
        self.gap = dense  # frames to the next one while a rep is under way
        self.busy_until = start - 1  # a rep (or the start) is under way up to this frame

    @classmethod
    def stride(cls, k: int) -> PoseSchedule:
        """Every k-th frame."""
        return cls(k, k, k)

    @classmethod
    def adaptive(cls, fps: float) -> PoseSchedule:
        """About 30 frames a second (`auto_stride`) while a rep moves fast and for the first START_SECONDS, half
        that while it is held, a third of that standing."""
        k = auto_stride(fps)
        return cls(k, SLOW_FACTOR * k, SPARSE_FACTOR * k, fps, round(START_SECONDS * fps))

    def wants(self, index: int) -> bool:
        return index >= self.next

    def saw(self, index: int, pose: PoseFrame | None) -> None:
        """Plan the next frame from the pose of frame `index` (None: nobody found, the plan stands)."""
        if pose is not None and self.dense != self.sparse:
            angle = float(knee_angle(pose.joints[None])[0])
            self.straightest = max(self.straightest, angle)
            self.recent = [(i, a) for i, a in self.recent if i >= index - self.window] + [(index, angle)]
            if angle < self.straightest - BENT_DEGREES:
                speeds = [abs(a1 - a0) / (i1 - i0) for (i0, a0), (i1, a1) in zip(self.recent, self.recent[1:])]
                self.gap = self.dense if max(speeds, default=np.inf) > self.fast else self.slow
                self.busy_until = index + HOLD_FRAMES * self.dense
        self.next = index + (self.gap if index < self.busy_until else self.sparse)


def knee_angle(joints: np.ndarray) -> np.ndarray:
    """(T,) mean hip-knee-ankle angle of the two legs in degrees (180: straight), as reps.py measures it."""
    from squatcli.reps import _angle

    return 0.5 * (_angle(joints, "l_hip", "l_knee", "l_ankle") + _angle(joints, "r_hip", "r_knee", "r_ankle"))


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
    stride: int = 1  # the pose model ran on every `stride`-th frame (during reps, with the adaptive schedule)
    schedule: str = "uniform"  # "uniform": every `stride`-th frame; "adaptive": `PoseSchedule.adaptive`
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
            "schedule": self.schedule,
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
    stride: int | PoseSchedule | None = DEFAULT_STRIDE,
    extractor: PoseExtractor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Extraction:
    """Video -> 19 joints per frame at 30 fps, running the pose model where it matters (None, the default:
    `PoseSchedule.adaptive`), on every `stride`-th frame, or on the frames a given PoseSchedule wants.

    Joints between the sampled frames, in gaps without a person, and at the 30 fps grid are linear interpolations
    in time; frames are streamed so memory does not grow with the video's length.
    """
    if isinstance(stride, int) and stride < 1:
        raise ValueError("stride must be >= 1")
    start = time.perf_counter()
    info = probe(path)
    schedule = (PoseSchedule.adaptive(info.fps) if stride is None else
                PoseSchedule.stride(stride) if isinstance(stride, int) else stride)  # fmt: skip
    if info.frame_count > 0:  # refuse an hours-long video before decoding it (the count may be an estimate)
        require_max_duration(info.frame_count / info.fps, info.path)
    own = extractor is None
    extractor = extractor or MediaPipePose()
    frame_us = round(1e6 / info.fps)  # nominal frame times in whole microseconds (see MediaPipePose._process)
    stamps, sampled, poses = [], [], []
    pose_seconds, aspect = 0.0, None
    try:
        for index, stamp, rgb in read_frames(info.path, schedule.wants):
            stamps.append(stamp)
            if rgb is not None:
                aspect = aspect or rgb.shape[0] / rgb.shape[1]  # height / width, rotation applied
                t = time.perf_counter()
                poses.append(extractor(rgb, index * frame_us / 1e6))
                pose_seconds += time.perf_counter() - t
                schedule.saw(index, poses[-1])
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
    has_feet = all(p.feet is not None and p.image_feet is not None for p in poses if p)
    feet = np.stack([p.feet if p else nan[:4] for p in poses]) if has_feet else None
    image_feet = np.stack([p.image_feet if p else nan[:4, :2] for p in poses]) if has_feet else None
    t_sampled = frame_times[sampled_arr]
    variations = side_variations(joints[found], conf[found])
    seen, body_notes = check_body_seen(xy[found], conf[found], variations, info.path)
    joints30 = resample(t_sampled, joints, grid).astype(np.float32)
    conf30 = resample(t_sampled, conf, grid).astype(np.float32)
    return Extraction(
        clip=JointsClip(joints30, float(FPS), conf30, None,
                        None if feet is None else resample(t_sampled, feet, grid).astype(np.float32), monocular=True,
                        image_xy=resample(t_sampled, xy, grid).astype(np.float32),
                        image_feet=None if image_feet is None else resample(t_sampled, image_feet, grid).astype(np.float32),
                        aspect=aspect),
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
        stride=schedule.dense,
        schedule="uniform" if schedule.dense == schedule.sparse else "adaptive",
        legs_seen=seen,
        notes=notes + body_notes,
    )
