"""Rep segmentation and per-rep measurements on a kinematic stick figure whose angles we set ourselves."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from stick_figure import SHANK, THIGH, TRUNK, expected_depth, random_rotation, squat_clip

from squatcli import reps
from squatcli.skeleton import CLASSES, FPS, J, N_JOINTS

CUE = {c.key: c.cue for c in CLASSES}


# ---- the vertical ------------------------------------------------------------------------------------------


def test_estimate_up_ignores_the_y_axis():
    rng = np.random.default_rng(1)
    for _ in range(5):
        rot = random_rotation(rng)
        up = reps.estimate_up(squat_clip(rotation=rot))
        assert np.degrees(np.arccos(np.clip(up @ (rot @ [0, 1, 0]), -1, 1))) < 1.0


# ---- rep counts --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 3, 5])
def test_counts_reps(n):
    report = reps.measure_reps(squat_clip(n_reps=n))
    assert (report.count, report.partial_count) == (n, 0)


@pytest.mark.parametrize("rep_s", [0.8, 1.5, 4.0])
def test_counts_reps_at_any_tempo_with_jitter(rep_s):
    clip = squat_clip(n_reps=4, rep_s=rep_s, jitter=0.01, seed=int(rep_s * 10))
    report = reps.measure_reps(clip)
    assert (report.count, report.partial_count) == (4, 0)


def test_pauses_at_top_and_bottom_do_not_split_or_merge_reps():
    clip = squat_clip(n_reps=3, pause_top_s=1.5, pause_bottom_s=1.0, jitter=0.008)
    found = reps.segment_reps(clip)
    assert len(found) == 3 and not any(r.partial for r in found)
    for r in found:  # each rep spans its descent, its bottom pause and its ascent, not the standing pauses
        assert 2.0 * FPS <= r.end - r.start <= 3.2 * FPS


def test_small_knee_bends_are_not_reps():
    fidget = squat_clip(n_reps=3, knee_angle=150, shank_tilt=10, jitter=0.005)  # hips drop ~4 % of leg length
    assert reps.segment_reps(fidget) == []


def test_a_brief_tracking_glitch_is_not_a_rep():
    clip = squat_clip(n_reps=2, stand_s=1.5)
    legs = (J["l_ankle"], J["r_ankle"], J["l_knee"], J["r_knee"])
    above_knees = [i for i in range(N_JOINTS) if i not in legs]
    clip[10:18, above_knees, 1] -= 0.25  # hips and up drop 25 cm for 8 frames (0.27 s) while standing
    report = reps.measure_reps(clip)
    assert (report.count, report.partial_count) == (2, 0)


def test_standing_still_has_no_reps():
    still = squat_clip(n_reps=0, stand_s=3.0, jitter=0.01)
    assert reps.segment_reps(still) == []
    report = reps.measure_reps(still)
    assert (report.count, report.partial_count, report.reps) == (0, 0, [])


def test_a_rep_cut_by_the_clip_is_partial():
    clip = squat_clip(n_reps=3, stand_s=0.5)
    rep_frames = round(2.0 * FPS)
    cut_end = clip[: round(0.5 * FPS) + 2 * rep_frames + rep_frames // 2 + 5]  # ends just after a bottom
    report = reps.measure_reps(cut_end)
    assert (report.count, report.partial_count) == (2, 1)
    assert report.reps[-1].rep.partial and report.reps[-1].rep.end == len(cut_end) - 1
    mid_ascent = clip[: round(0.5 * FPS) + 2 * rep_frames + 3 * rep_frames // 4]  # ends half-way up
    report = reps.measure_reps(mid_ascent)
    assert (report.count, report.partial_count) == (2, 1)
    assert report.reps[-1].rep.partial and report.reps[-1].rep.end == len(mid_ascent) - 1
    cut_start = clip[round(0.5 * FPS) + rep_frames // 4 :]  # starts mid-descent
    report = reps.measure_reps(cut_start)
    assert (report.count, report.partial_count) == (2, 1)
    assert report.reps[0].rep.partial and report.reps[0].rep.start == 0


def test_a_bounce_at_the_bottom_is_one_rep():
    clip = squat_clip(n_reps=2, pause_bottom_s=1.0)
    # Mid-way through the first bottom pause, raise the hips by 18 % of leg length over 0.6 s: a zig-zag swing
    # bigger than MIN_EXCURSION, but far from standing, so still one rep.
    mid = round(0.7 * FPS) + FPS + FPS // 2
    bump = 0.18 * (SHANK + THIGH) * np.sin(np.linspace(0, np.pi, 18)) ** 2
    for name in ("l_hip", "r_hip", "neck", "l_shoulder", "r_shoulder"):
        clip[mid - 9 : mid + 9, J[name], 1] += bump
    assert len(reps._zigzag(reps.hip_height(clip, np.array([0.0, 1.0, 0.0])), reps.MIN_EXCURSION)) == 7
    report = reps.measure_reps(clip)
    assert (report.count, report.partial_count) == (2, 0)


# ---- measurements ------------------------------------------------------------------------------------------


def test_depth_and_knee_angle_match_the_generated_pose():
    for knee_angle, shank_tilt in ((50.0, 35.0), (70.0, 30.0), (115.0, 20.0)):
        report = reps.measure_reps(squat_clip(n_reps=2, knee_angle=knee_angle, shank_tilt=shank_tilt))
        want = expected_depth(knee_angle, shank_tilt)
        for m in report.reps:
            assert m.depth == pytest.approx(want, abs=0.03)
            assert m.depth_cm == pytest.approx(100 * want * THIGH, abs=1.5)
            assert m.min_knee_angle == pytest.approx(knee_angle, abs=3.0)


def test_depth_sign_deep_versus_shallow():
    deep = reps.measure_reps(squat_clip(n_reps=1, knee_angle=45, shank_tilt=35, jitter=0.01))
    shallow = reps.measure_reps(squat_clip(n_reps=1, knee_angle=115, shank_tilt=20, jitter=0.01))
    assert deep.reps[0].depth < -0.1 and shallow.reps[0].depth > 0.4


def test_knee_width_ratio_valgus_and_neutral():
    neutral = reps.measure_reps(squat_clip(n_reps=2, knee_out=0.04))
    valgus = reps.measure_reps(squat_clip(n_reps=2, knee_out=-0.07))
    for m in neutral.reps:  # knees 0.36 m apart over ankles 0.30 m apart
        assert m.knee_ankle_width_ratio == pytest.approx(0.36 / 0.30, abs=0.03)
    for m in valgus.reps:  # knees 0.14 m apart
        assert m.knee_ankle_width_ratio == pytest.approx(0.14 / 0.30, abs=0.03)


@pytest.mark.parametrize("lean", [20.0, 45.0, 65.0])
def test_trunk_lean(lean):
    for m in reps.measure_reps(squat_clip(n_reps=2, trunk_lean=lean)).reps:
        assert m.max_trunk_lean == pytest.approx(lean, abs=2.0)


def test_head_angle_sign_and_size():
    up = reps.measure_reps(squat_clip(n_reps=1, head_tilt=35.0)).reps[0].head_angle
    neutral = reps.measure_reps(squat_clip(n_reps=1, head_tilt=0.0)).reps[0].head_angle
    down = reps.measure_reps(squat_clip(n_reps=1, head_tilt=-20.0)).reps[0].head_angle
    assert down < neutral < up
    assert neutral == pytest.approx(0.0, abs=1.0) and up == pytest.approx(35.0, abs=2.0)


def test_rotation_invariance():
    rng = np.random.default_rng(7)
    clip = squat_clip(n_reps=3, knee_angle=65, trunk_lean=40, head_tilt=10, jitter=0.005)
    base = reps.measure_reps(clip).to_dict()
    for _ in range(4):
        rot = random_rotation(rng)
        turned = reps.measure_reps(clip @ rot.T + rng.normal(0, 1, 3)).to_dict()
        assert turned["count"] == base["count"] == 3
        for a, b in zip(base["reps"], turned["reps"]):
            assert (a["start"], a["bottom"], a["end"]) == (b["start"], b["bottom"], b["end"])
            for key in ("depth", "min_knee_angle", "knee_ankle_width_ratio", "max_trunk_lean", "head_angle"):
                assert a[key] == pytest.approx(b[key], abs=0.011), key


def test_tilted_clip_still_measures_the_generated_angles():
    rng = np.random.default_rng(3)
    for _ in range(3):
        report = reps.measure_reps(squat_clip(n_reps=2, trunk_lean=40, rotation=random_rotation(rng)))
        assert report.count == 2
        for m in report.reps:
            assert m.max_trunk_lean == pytest.approx(40, abs=2.0)
            assert m.min_knee_angle == pytest.approx(60, abs=3.0)
            assert m.depth == pytest.approx(expected_depth(60, 35), abs=0.03)


# ---- ranges and cues ---------------------------------------------------------------------------------------


def test_good_squat_gets_no_cues():
    report = reps.measure_reps(squat_clip(n_reps=3, jitter=0.005))
    assert report.count == 3
    assert all(m.cues == [] and m.out_of_range == [] for m in report.reps)


@pytest.mark.parametrize(
    ("kwargs", "metrics", "cue"),
    [
        ({"knee_angle": 115, "shank_tilt": 20}, {"depth", "min_knee_angle"}, CUE["shallow"]),
        ({"knee_angle": 80, "shank_tilt": 30}, {"depth"}, CUE["shallow"]),  # hips ~15 cm above the knees
        ({"knee_out": -0.07}, {"knee_ankle_width_ratio"}, CUE["knees_in"]),
        ({"trunk_lean": 62}, {"max_trunk_lean"}, CUE["back_round"]),
        ({"head_tilt": 40}, {"head_angle"}, CUE["head_up"]),
    ],
)
def test_out_of_range_values_give_their_cue(kwargs, metrics, cue):
    report = reps.measure_reps(squat_clip(n_reps=2, **kwargs))
    for m in report.reps:
        assert set(m.out_of_range) == metrics
        assert m.cues == [cue]


def test_a_rep_cut_before_its_bottom_gets_no_cues():
    clip = squat_clip(n_reps=1)[: round(0.7 * FPS) + FPS - 8]  # ends mid-descent, hips still above the knees
    report = reps.measure_reps(clip)
    assert (report.count, report.partial_count) == (0, 1)
    m = report.reps[0]
    assert m.depth > reps.RANGE_BY_METRIC["depth"].high  # would read as shallow...
    assert m.cues == [] and m.out_of_range == []  # ...but the bottom was never seen


def test_ranges_table_is_documented_and_reuses_class_cues():
    assert {r.metric for r in reps.RANGES} == {
        "depth", "min_knee_angle", "knee_ankle_width_ratio", "max_trunk_lean", "head_angle"
    }  # fmt: skip
    for r in reps.RANGES:
        assert r.cue in CUE.values() and r.why and (r.low is not None or r.high is not None)


def test_hidden_joints_drop_their_measurements():
    clip = squat_clip(n_reps=2, knee_out=-0.07)
    confidence = np.ones(clip.shape[:2])
    confidence[:, [J["l_knee"], J["l_ankle"]]] = 0.2  # a side view: the far leg is occluded
    clip[:, J["l_knee"]] += np.random.default_rng(0).normal(0, 0.05, (len(clip), 3))  # ... its depth a guess
    for m in reps.measure_reps(clip, confidence=confidence).reps:
        assert m.knee_ankle_width_ratio is None and "knee_ankle_width_ratio" not in m.out_of_range
        assert m.min_knee_angle == pytest.approx(60.0, abs=3.0)  # from the visible leg only
    assert all(m.knee_ankle_width_ratio is not None for m in reps.measure_reps(clip).reps)


def test_to_dict_is_json_and_nan_free():
    clip = squat_clip(n_reps=2)
    clip[:, J["l_ankle"]] = clip[:, J["r_ankle"]]  # ankle width 0: the width ratio is undefined
    d = reps.measure_reps(clip).to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text)["count"] == 2 and "not a second classifier" in d["note"]
    assert d["reps"][0]["knee_ankle_width_ratio"] is None


def test_rejects_bad_shapes():
    with pytest.raises(ValueError):
        reps.measure_reps(np.zeros((10, 18, 3)))


@pytest.mark.parametrize("yaw, name, sagittal", [(0, reps.FRONT, 0.0), (20, reps.FRONT, 0.342), (45, reps.OBLIQUE, 0.707),
                                                (70, reps.SIDE, 0.940), (90, reps.SIDE, 1.0), (None, None, 1.0)])  # fmt: skip
def test_the_view_is_continuous_and_hides_a_plane_shown_less_than_half(yaw, name, sagittal):
    shows = reps.plane_visibility(yaw)
    assert shows[reps.SAGITTAL] == pytest.approx(sagittal, abs=1e-3)
    assert shows[reps.FRONTAL] == pytest.approx(1.0 if yaw is None else math.cos(math.radians(yaw)), abs=1e-3)
    assert reps.view_name(yaw) == name
    hidden = reps.hidden_planes(yaw)
    assert (reps.SAGITTAL in hidden) == (sagittal < reps.VISIBLE_MIN)
    assert ("knees_in" in reps.unseen_classes(yaw)) == (yaw is not None and yaw > 60)
    assert ("forward_lean" in reps.unseen_classes(yaw)) == (yaw is not None and yaw < 30)


@pytest.mark.parametrize("view, hidden, kept", [
    (10.0, reps.SAGITTAL_MEASURES, reps.WIDTH_MEASURES),
    (80.0, reps.WIDTH_MEASURES, reps.SAGITTAL_MEASURES),
])  # fmt: skip
def test_a_view_leaves_unmeasured_what_lies_along_the_cameras_depth_axis(view, hidden, kept):
    joints = squat_clip(n_reps=2)
    full = reps.measure_reps(joints).reps
    seen = reps.measure_reps(joints, view=view).reps
    assert len(seen) == len(full) == 2
    for a, b in zip(full, seen):
        for name in reps.MEASUREMENTS:
            if name in hidden:
                assert b.values.get(name) is None, name
            elif a.values.get(name) is not None:  # everything else is measured exactly as without a view
                assert b.values[name] == pytest.approx(a.values[name]), name
        assert b.values["depth"] is not None and b.values["hip_drop"] is not None  # heights: any upright camera
        assert all(b.values[name] is not None for name in kept if a.values.get(name) is not None)
    assert reps.measure_reps(joints, view=45.0).reps[0].values == full[0].values  # nothing hidden


# ---- reps as a person films them ---------------------------------------------------------------------------


def _walk_in(clip: np.ndarray, metres: float, frames: int, bob: float) -> np.ndarray:
    """`frames` of the clip's first pose walking `metres` forward (x) with the hips bobbing `bob` metres (a dip
    of each step) before the clip: a person walking up to their spot."""
    t = np.linspace(0.0, 1.0, frames)[:, None, None]
    walk = np.repeat(clip[:1], frames, axis=0) + np.array([metres, 0.0, 0.0]) * (t - 1.0)
    upper = [J[n] for n in J if not n.endswith(("ankle", "knee"))]
    walk[:, upper, 1] -= bob * np.sin(np.pi * 3 * t[:, 0]) ** 2
    return np.concatenate([walk, clip])


def test_a_dip_while_walking_in_is_not_a_rep():
    clip = squat_clip(n_reps=2)
    walked = _walk_in(clip, metres=2.0, frames=90, bob=0.12)  # 12 cm dips: above the 10 % of a leg a rep needs
    assert reps.measure_reps(walked).count > 2  # the dips look like reps to the hips alone...
    report = reps.measure_reps(walked, ground=walked)  # ...but the ankles travel 2 m meanwhile
    assert report.count == 2 and all(m.rep.start >= 90 for m in report.reps)


def test_hip_centred_joints_are_not_a_frame_to_see_walking_in():
    clip = squat_clip(n_reps=2)
    centred = clip - 0.5 * (clip[:, [J["l_hip"]]] + clip[:, [J["r_hip"]]])
    assert reps.fixed_frame(clip) and not reps.fixed_frame(centred)


def test_a_person_growing_in_the_picture_keeps_every_rep():
    """Walking towards a camera, a person's size in the picture grows (here 0.6 -> 1.4 over the clip): the
    standing level is local (reps.standing_level), so every rep still reaches standing."""
    clip = squat_clip(n_reps=4, stand_s=1.5)
    scale = np.linspace(0.6, 1.4, len(clip))[:, None, None]
    grown = clip * scale
    assert reps.measure_reps(grown).count == 4


def test_a_single_fast_rep_of_nine_tenths_of_a_second_is_judged():
    clip = squat_clip(n_reps=1, rep_s=0.8, stand_s=0.05)
    assert len(clip) / FPS < 1.0
    report = reps.measure_reps(clip)
    assert report.count == 1 and report.reps[0].values["depth"] is not None
