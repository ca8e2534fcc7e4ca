"""The camera model: known 3D points through known cameras, widths and angles as a picture shows them, the view
read back from a picture, and monocular world landmarks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from stick_figure import squat_clip

from squatcli import camera as C
from squatcli import reps
from squatcli.features import midpoint, segment_lengths
from squatcli.skeleton import J


def _flat(points: np.ndarray, cam: C.Camera, clip: np.ndarray) -> np.ndarray:
    return C.image_plane(C.project(points, cam, clip), cam.aspect)


def person(**kwargs) -> np.ndarray:
    """The stick figure as a real body is handed: facing +x, up +y, its left at -z."""
    return squat_clip(**kwargs) * np.array([1.0, 1.0, -1.0])


def test_a_known_point_through_a_known_camera():
    """A person facing +x with their left at -z; a camera in front (yaw 0) at 4 m, level, f = 1 width."""
    clip = person(n_reps=1)
    cam = C.Camera(yaw=0, pitch=0, roll=0, distance=4.0, focal=1.0, aspect=1.0)
    centre = C.body_centre(clip)
    at = lambda offset: C.project(centre + np.asarray(offset, float), cam, clip)  # noqa: E731
    assert at([0, 0, 0]) == pytest.approx([0.5, 0.5], abs=1e-9)  # the camera aims at the body's centre
    assert at([0, 0, -1.0]) == pytest.approx([0.5 + 1.0 / 4.0, 0.5], abs=1e-6)  # their left: the picture's right
    assert at([0, 1.0, 0]) == pytest.approx([0.5, 0.5 - 1.0 / 4.0], abs=1e-6)  # up: towards the top (y down)
    assert at([1.0, 0, -1.0])[0] == pytest.approx(0.5 + 1.0 / 3.0, abs=1e-6)  # nearer the camera: larger
    side = C.Camera(yaw=90, pitch=0, roll=0, distance=4.0, focal=1.0, aspect=1.0)  # at the person's left
    assert C.project(centre + [0, 0, -1.0], side, clip) == pytest.approx([0.5, 0.5], abs=1e-6)  # along its axis
    assert C.project(centre + [1.0, 0, 0], side, clip)[0] < 0.5  # the person's front: the picture's left
    mirrored = squat_clip(n_reps=1)  # left and right swapped: still seen from the front (by the nose)
    assert C.project(centre + [1.0, 0, 0], cam, mirrored) == pytest.approx([0.5, 0.5], abs=1e-6)


def test_pitch_and_roll_move_the_picture_as_a_camera_would():
    clip = person(n_reps=1)
    centre = C.body_centre(clip)
    level = C.Camera(yaw=0, pitch=0, roll=0, distance=4.0, focal=1.0, aspect=1.0)
    high = C.Camera(yaw=0, pitch=30, roll=0, distance=4.0, focal=1.0, aspect=1.0)
    head, feet = centre + [0, 0.8, 0], centre + [0, -0.8, 0]
    span = lambda cam: C.project(feet, cam, clip)[1] - C.project(head, cam, clip)[1]  # noqa: E731
    assert span(high) < span(level)  # looking down foreshortens the body
    tilted = C.Camera(yaw=0, pitch=0, roll=10, distance=4.0, focal=1.0, aspect=1.0)
    u, v = C.project(centre + [0, 1.0, 0], tilted, clip) - 0.5
    assert math.degrees(math.atan2(abs(u), -v)) == pytest.approx(10.0, abs=0.1)


@pytest.mark.parametrize("yaw", [0, 30, 60, 85])
def test_a_side_view_hides_widths_in_proportion(yaw):
    """Far away (nearly orthographic), a standing body's knee gap in the picture is its true gap times cos(yaw)."""
    clip = person(n_reps=1)
    cam = C.Camera(yaw=yaw, pitch=0, roll=0, distance=200.0, focal=50.0, aspect=1.0)
    flat = _flat(clip, cam, clip)
    ratio = segment_lengths(flat, "l_knee", "r_knee")[0] / segment_lengths(flat, "l_hip", "l_knee")[0]
    true = segment_lengths(clip, "l_knee", "r_knee")[0] / segment_lengths(clip, "l_hip", "l_knee")[0]
    assert ratio == pytest.approx(true * math.cos(math.radians(yaw)), rel=0.01, abs=1e-3)


def test_a_side_view_pictures_the_sagittal_angles_and_a_front_view_loses_them():
    clip = person(n_reps=1, knee_angle=70.0, trunk_lean=40.0)
    truth = reps.measure_reps(clip).reps[0].values
    side = reps.measure_reps(_flat(clip, C.Camera(yaw=90, pitch=0, distance=30.0, focal=8.0), clip)).reps[0].values
    front = reps.measure_reps(_flat(clip, C.Camera(yaw=0, pitch=0, distance=30.0, focal=8.0), clip)).reps[0].values
    assert side["min_knee_angle"] == pytest.approx(truth["min_knee_angle"], abs=1.0)
    assert side["max_trunk_lean"] == pytest.approx(truth["max_trunk_lean"], abs=1.0)
    assert front["max_trunk_lean"] < 5.0 and front["min_knee_angle"] > truth["min_knee_angle"] + 40
    assert front["depth"] == pytest.approx(truth["depth"], abs=0.05)  # heights show from any upright camera


@pytest.mark.parametrize("yaw", [0, 45, 90, 180 + 60])
def test_the_view_is_read_back_from_a_picture(yaw):
    clip = person(n_reps=2)
    cam = C.Camera(yaw=yaw, pitch=8, distance=4.0)
    seen = C.ImageLandmarks(C.project(clip, cam, clip), None, cam.aspect)
    folded = abs(math.degrees(math.asin(math.sin(math.radians(yaw)))))
    assert C.picture_yaw(clip, seen) == pytest.approx(folded, abs=12)
    world = C.as_monocular_world(clip, None, cam, np.random.default_rng(0), C.MonocularError((1, 1), (1, 1), 0.0))[0]
    assert C.view_yaw(world) == pytest.approx(folded, abs=9)  # exact world landmarks: the hips' axis (pitched 8°)


def test_monocular_world_landmarks_are_hip_centred_in_the_cameras_axes_with_depth_shrunk():
    clip = person(n_reps=1, trunk_lean=40.0)
    cam = C.Camera(yaw=0, pitch=0, roll=0, distance=4.0)
    exact = C.as_monocular_world(clip, None, cam, np.random.default_rng(0), C.MonocularError((1, 1), (1, 1), 0.0))[0]
    assert np.abs(midpoint(exact, "l_hip", "r_hip")).max() < 1e-9
    for a, b in (("l_hip", "l_knee"), ("l_shoulder", "r_shoulder"), ("neck", "l_hip")):  # a rigid motion
        assert segment_lengths(exact, a, b) == pytest.approx(segment_lengths(clip, a, b), abs=1e-9)
    flat = C.as_monocular_world(clip, None, cam, np.random.default_rng(0), C.MonocularError((0, 0), (1, 1), 0.0))[0]
    assert np.abs(flat[:, J["neck"], 2]).max() < 1e-9  # the trunk's lean towards the camera: gone
    assert np.abs(flat[:, J["l_knee"], 2] - exact[:, J["l_knee"], 2]).max() < 1e-9  # the legs' depth: kept
    noisy = C.as_monocular_world(clip, None, cam, np.random.default_rng(0))[0]
    depth_error = np.std(noisy[..., 2] - exact[..., 2] * 1.0)
    assert 0.0 < np.std(noisy[..., 0] - exact[..., 0]) < depth_error  # most error along the depth axis


def test_cameras_are_reproducible_and_in_range():
    a, b = C.training_cameras(0, 5), C.training_cameras(0, 5)
    assert a == b and a != C.training_cameras(0, 6) and len(a) == C.TRAIN_VIEWS
    many = C.random_cameras(np.random.default_rng(1), 500)
    for name, (lo, hi) in (("pitch", C.PITCH_RANGE), ("distance", C.DISTANCE_RANGE), ("focal", C.FOCAL_RANGE)):
        values = [getattr(c, name) for c in many]
        assert lo <= min(values) and max(values) <= hi, name
    assert sorted({round(c.yaw) % 360 for c in C.RING}) == list(range(0, 360, 45))


def test_to_metres_scales_any_unit_to_a_real_leg():
    clip = person(n_reps=1) * 23.0 / 0.45  # a shin of 23 units, as the real reps' stereo calibration
    metres, _, factor = C.to_metres(clip)
    leg = np.median(segment_lengths(metres, "l_hip", "l_knee") + segment_lengths(metres, "l_knee", "l_ankle"))
    assert leg == pytest.approx(C.LEG_M, rel=0.02) and factor == pytest.approx(0.45 / 23.0 * C.LEG_M / 0.9, rel=0.02)
