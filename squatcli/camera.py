"""The camera model: what one ordinary camera gives of a 3D body, and which way a monocular video saw it.

Training, calibration, thresholds and evaluation all see 3D reps through this one model, so the operating point a
video meets is the one the model was tuned on. A `Camera` stands somewhere around the person (yaw all round,
pitched down a little, a few metres away, a phone's field of view) and looks at the body's centre. Through it a 3D
pose gives:

* `project`: the 2D image landmarks (MediaPipe's `pose_landmarks`: x / width, y / height, y down), an exact
  pinhole projection with perspective;
* `as_monocular_world`: the world landmarks a monocular estimator would guess (MediaPipe's
  `pose_world_landmarks`, turned y up and z toward the camera as pose.py does): metres, hip-centred, axes of
  the camera, with what lies along the camera's depth axis shrunk towards the hips' plane and noisy
  (`MonocularError`: measured on the shared real videos, see its doc).

`view_yaw` reads the view of a monocular input back from its landmarks: 0 degrees facing the camera or turned
away, 90 side on, continuous in between (`depth_share` says how much of a body axis lies along the depth axis).
Coordinates are metres in a y-up frame (skeleton.py); a 3D source in other units is rescaled by `to_metres`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from squatcli.features import midpoint, segment_lengths
from squatcli.skeleton import J

# A real leg (hip joint centre to ankle) is about 0.85 m (thigh ~0.43, shank ~0.42): the scale that turns a 3D
# source in other units (the stereo units of the real reps) into metres for the perspective of a virtual camera.
LEG_M = 0.85

# The cameras a person films a squat with (yaw: around the person, 0 = in front, 90 = at their left; pitch:
# looking down; roll: tilt of the image; distance from the body's centre in metres; focal length in image widths,
# 0.6-1.2 is a phone's main camera, 26-50 mm equivalent; portrait or landscape).
YAW_RANGE = (-180.0, 180.0)
PITCH_RANGE = (-5.0, 25.0)
ROLL_RANGE = (-4.0, 4.0)
DISTANCE_RANGE = (2.5, 6.0)
FOCAL_RANGE = (0.6, 1.2)
ASPECTS = (16 / 9, 9 / 16)  # image height / width: portrait, landscape


@dataclass(frozen=True)
class Camera:
    """A virtual camera looking at the body's centre: angles in degrees, distance in metres, focal length in
    image widths, aspect = image height / width."""

    yaw: float = 0.0
    pitch: float = 10.0
    roll: float = 0.0
    distance: float = 3.5
    focal: float = 0.9
    aspect: float = 9 / 16

    @property
    def side_on(self) -> float:
        """|sin yaw|: 0 facing the camera or turned away, 1 side on."""
        return abs(float(np.sin(np.radians(self.yaw))))

    @property
    def side_on_yaw(self) -> float:
        """The yaw folded to 0-90 degrees (0 front or back, 90 side on), as camera.view_yaw reads it back."""
        return float(np.degrees(np.arcsin(min(self.side_on, 1.0))))


def folded_yaw(yaw: float) -> float | None:
    """A camera's yaw (degrees, all round) folded to 0-90 as view_yaw reads it back (pitch aside); None for NaN
    (a 3D row)."""
    return None if np.isnan(yaw) else float(min(abs(yaw) % 180, 180 - abs(yaw) % 180))


# The cameras a 3D source (motion capture, triangulated reps, the example clip) is pictured by when an image-plane
# model judges it: eight yaws around the person at a typical phone's height, pitch and distance. Its probabilities are
# the mean over them (inputs.compute).
RING: tuple[Camera, ...] = tuple(Camera(yaw=float(y), pitch=10.0, distance=3.5, focal=0.9, aspect=9 / 16) for y in range(0, 360, 45))
TRAIN_VIEWS = 8  # random cameras each 3D rep is seen through when training an image-plane model


def training_cameras(seed: int, index: int, n: int = TRAIN_VIEWS) -> list[Camera]:
    """The `n` random cameras the `index`-th training clip is seen through: reproducible from the seed alone."""
    return random_cameras(np.random.default_rng([seed, 7, index]), n)


def random_cameras(rng: np.random.Generator, n: int) -> list[Camera]:
    """`n` cameras drawn uniformly from the ranges above (yaw all round)."""
    draw = lambda lo_hi: float(rng.uniform(*lo_hi))  # noqa: E731
    return [Camera(draw(YAW_RANGE), draw(PITCH_RANGE), draw(ROLL_RANGE), draw(DISTANCE_RANGE), draw(FOCAL_RANGE),
                   float(rng.choice(ASPECTS))) for _ in range(n)]  # fmt: skip


def to_metres(joints: np.ndarray, feet: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None, float]:
    """(joints, feet, factor) rescaled so that the median leg (hip -> knee -> ankle) is LEG_M: perspective needs
    metres, while everything models read is free of scale."""
    factor = LEG_M / max(float(np.nanmedian(_legs(joints))), 1e-12)
    return joints * factor, None if feet is None else feet * factor, factor


def body_axes(joints: np.ndarray) -> np.ndarray:
    """(3, 3) rows: the body's up, its left (hips' axis across up) and forward (across both, the side the nose is
    on: a skeleton whose left and right are swapped still faces forward), from a whole clip."""
    from squatcli.reps import estimate_up

    up = estimate_up(joints)
    left = np.nanmean(joints[:, J["l_hip"]] - joints[:, J["r_hip"]], axis=0)  # means: the same in any frame
    left = _unit(left - (left @ up) * up)
    forward = np.cross(left, up)
    face = np.nanmean((joints[:, J["nose"]] - joints[:, J["neck"]]) @ forward)
    return np.stack([up, left, -forward if face < 0 else forward])


def camera_frame(camera: Camera, centre: np.ndarray, axes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position (3,), rotation (3, 3) whose rows are the camera's x right, y up, z toward the camera) of a
    camera looking at `centre`, placed by its yaw and pitch about the body's `axes` (body_axes)."""
    up, left, forward = axes
    yaw, pitch, roll = np.radians([camera.yaw, camera.pitch, camera.roll])
    back = np.cos(pitch) * (np.cos(yaw) * forward + np.sin(yaw) * left) + np.sin(pitch) * up  # centre -> camera
    z = _unit(back)
    x = _unit(np.cross(up, z))
    y = np.cross(z, x)
    x, y = np.cos(roll) * x + np.sin(roll) * y, np.cos(roll) * y - np.sin(roll) * x
    return centre + camera.distance * z, np.stack([x, y, z])


def body_centre(joints: np.ndarray) -> np.ndarray:
    """(3,) where a camera aims: the mean over the clip of the point half-way from the hips to the neck."""
    return np.nanmean(0.5 * (midpoint(joints, "l_hip", "r_hip") + joints[:, J["neck"]]), axis=0)


def in_camera(points: np.ndarray, camera: Camera, joints: np.ndarray) -> np.ndarray:
    """(..., 3) points (metres, the frame of the clip `joints`) in the camera's coordinates (x right, y up, z toward
    the camera; a point in front of it has z < 0)."""
    position, rotation = camera_frame(camera, body_centre(joints), body_axes(joints))
    return (points - position) @ rotation.T


def project(points: np.ndarray, camera: Camera, joints: np.ndarray) -> np.ndarray:
    """(..., 2) image landmarks of 3D points through `camera` (placed about the clip `joints`), as MediaPipe gives
    them: x / image width, y / image height, y down, (0.5, 0.5) the image centre."""
    c = in_camera(points, camera, joints)
    depth = np.maximum(-c[..., 2], 1e-3)
    u = 0.5 + camera.focal * c[..., 0] / depth
    v = 0.5 - camera.focal * c[..., 1] / depth / camera.aspect
    return np.stack([u, v], axis=-1)


@dataclass(frozen=True)
class ImageLandmarks:
    """What a camera measured of a clip: (T, 19, 2) joints and (T, 4, 2) foot points (or None) as MediaPipe gives
    image landmarks (x / width, y / height, y down), and the picture's aspect (height / width). `measured` is False
    for a stand-in (camera-aligned world landmarks seen square on, when a clip kept no image landmarks)."""

    xy: np.ndarray
    feet: np.ndarray | None
    aspect: float
    measured: bool = True

    def plane(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(joints, feet) as points of a y-up plane (`image_plane`), for the measurements of reps.py."""
        return image_plane(self.xy, self.aspect), None if self.feet is None else image_plane(self.feet, self.aspect)


def image_plane(image_xy: np.ndarray, aspect: float) -> np.ndarray:
    """(..., 3) normalised image landmarks as points in a y-up plane (x and y in image widths, z = 0): the 2D
    pose in a form every 3D measurement can read (reps.py), angles and ratios as the picture shows them."""
    xy = np.asarray(image_xy, dtype=np.float64)
    return np.stack([xy[..., 0], -xy[..., 1] * aspect, np.zeros(xy.shape[:-1])], axis=-1)


@dataclass(frozen=True)
class MonocularError:
    """How a monocular estimator's world landmarks differ from the truth, drawn per clip.

    Measured on the shared real videos (bench/camera_errors.py): seen from the front, MediaPipe's world landmarks
    gave a peak trunk lean of 12-21 degrees where the foreshortening of the trunk in the image says 27-49 (the
    lean towards the camera shrunk to 0.33-0.48 of itself), while the thigh's angle to the vertical agreed within
    a degree on the clearest clip: limbs pointing at the camera keep more of their depth than the trunk. In the
    image plane world and image landmarks agree (side view: peak trunk lean 56 vs 55 degrees).
    So: each joint's offset from the hips along the camera's depth axis is scaled by `trunk` (upper body) or
    `legs` (knees, ankles, feet), drawn per clip, plus smooth noise of `noise` metres (s.d., `smooth_s` seconds
    correlation) along depth and a fifth of it across.
    """

    trunk: tuple[float, float] = (0.25, 1.0)
    legs: tuple[float, float] = (0.6, 1.1)
    noise: float = 0.03
    smooth_s: float = 0.2


MONOCULAR = MonocularError()
_LEG_JOINTS = [J[n] for n in ("r_ankle", "r_knee", "l_knee", "l_ankle")]


def as_monocular_world(
    joints: np.ndarray,
    feet: np.ndarray | None,
    camera: Camera,
    rng: np.random.Generator,
    error: MonocularError = MONOCULAR,
    fps: float = 30.0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """(joints, feet) as a monocular estimator would give them from `camera`: hip-centred, in the camera's axes
    (x right, y up, z toward the camera), depth offsets shrunk and noisy (`MonocularError`). Metres in, metres out."""
    rotation = camera_frame(camera, body_centre(joints), body_axes(joints))[1]
    hips = midpoint(joints, "l_hip", "r_hip")[:, None]
    shrink = np.full(joints.shape[1], rng.uniform(*error.trunk))
    shrink[_LEG_JOINTS] = rng.uniform(*error.legs)
    legs = float(shrink[_LEG_JOINTS[0]])

    def seen(points: np.ndarray, scale: np.ndarray) -> np.ndarray:
        c = (points - hips) @ rotation.T
        c[..., 2] *= scale
        noise = _smooth_noise(rng, c.shape, error.smooth_s * fps) * error.noise
        return c + noise * np.array([0.2, 0.2, 1.0])

    return seen(joints, shrink), None if feet is None else seen(feet, np.full(feet.shape[1], legs))


def depth_share(axis: np.ndarray) -> np.ndarray:
    """|sin| of the angle between body axes (..., 3) and the image plane of a camera-aligned frame (z = depth):
    how much of a width or length lies along the camera's depth axis (0: in the picture, 1: pointing at it)."""
    return np.abs(_unit(axis)[..., 2])


def view_yaw(world: np.ndarray, image: ImageLandmarks | None = None) -> float:
    """Degrees (0-90) between the body's left-right axis and the image plane: 0 facing the camera or turned away,
    90 side on. Two estimates with different failings, averaged when there is a picture: the world landmarks' hip
    axis (camera-aligned, z = depth; a monocular estimator guesses the far hip's depth) and `picture_yaw`. On the
    shared real videos they read 2 and 0 degrees for a square front view, 81 and 86 for a side view, 54 and 21 for
    a rear three-quarter view (bench/camera_errors.py)."""
    axis = world[:, J["l_hip"]] - world[:, J["r_hip"]]
    from_world = float(np.degrees(np.arcsin(np.clip(np.nanmedian(depth_share(axis)), 0, 1))))
    return from_world if image is None else 0.5 * (from_world + picture_yaw(world, image))


def picture_yaw(world: np.ndarray, image: ImageLandmarks) -> float:
    """The yaw from the picture: the hips' and shoulders' width in the image against their width in the world
    landmarks, each relative to the legs of the most upright frames (standing legs are upright, so they lie in the
    picture from any side; MediaPipe keeps the proportions of its world landmarks whatever the view). Hips read
    narrower and shoulders wider in the image than in the world landmarks (20 and 0 degrees on a square front
    view), so the two are averaged."""
    flat = image.plane()[0]
    upright = np.argsort(-_extension(world))[: max(1, len(world) // 6)]
    cosines = []
    for a, b in (("l_hip", "r_hip"), ("l_shoulder", "r_shoulder")):
        seen = np.nanmedian(segment_lengths(flat, a, b)[upright] / _legs(flat)[upright])
        true = np.nanmedian(segment_lengths(world, a, b)[upright] / _legs(world)[upright])
        cosines.append(seen / max(float(true), 1e-9))
    return float(np.degrees(np.arccos(np.clip(np.nanmean(cosines), 0.0, 1.0))))


def _legs(joints: np.ndarray) -> np.ndarray:
    """(T,) mean hip -> knee -> ankle length of the two legs."""
    return 0.5 * sum(segment_lengths(joints, f"{s}_hip", f"{s}_knee") + segment_lengths(joints, f"{s}_knee", f"{s}_ankle")
                     for s in "lr")  # fmt: skip


def _extension(joints: np.ndarray) -> np.ndarray:
    """(T,) ankle midpoint -> neck distance: largest when standing."""
    return np.linalg.norm(joints[:, J["neck"]] - midpoint(joints, "l_ankle", "r_ankle"), axis=-1)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_frames: float) -> np.ndarray:
    """Unit-variance Gaussian noise smoothed along the first (time) axis with a Gaussian of `sigma_frames`."""
    white = rng.normal(size=shape)
    radius = int(3 * sigma_frames)
    if radius < 1 or shape[0] < 2:
        return white
    t = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (t / sigma_frames) ** 2)
    kernel /= np.sqrt((kernel**2).sum())  # keeps unit variance
    padded = np.pad(white, [(radius, radius)] + [(0, 0)] * (len(shape) - 1), mode="reflect" if shape[0] > radius else "edge")
    flat = padded.reshape(len(padded), -1)
    out = np.stack([np.convolve(col, kernel, mode="valid") for col in flat.T], axis=1)
    return out.reshape(shape)


def _unit(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)
