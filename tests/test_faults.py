"""Fault transforms on a rep whose angles we set: each moves the measurement it names by about its documented size,
more at higher severity, and leaves the rest alone (segment lengths, the joints it does not move, standing)."""

from __future__ import annotations

import numpy as np
import pytest
from stick_figure import squat_clip

from squatcli import faults
from squatcli.features import segment_lengths
from squatcli.reps import measure_reps
from squatcli.skeleton import F, J

RIGID = [("l_hip", "l_knee"), ("l_knee", "l_ankle"), ("r_hip", "r_knee"), ("r_knee", "r_ankle"), ("l_hip", "r_hip"),
         ("l_shoulder", "r_shoulder"), ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"), ("neck", "head_top")]  # fmt: skip


def person(**kwargs) -> tuple[np.ndarray, np.ndarray]:
    """The stick figure as a real body is handed (left at -z), with feet: heels behind the ankles, toes ahead."""
    joints = squat_clip(n_reps=1, **kwargs) * np.array([1.0, 1.0, -1.0])
    feet = np.empty((len(joints), 4, 3))
    for side in "lr":
        ankle = joints[:, J[f"{side}_ankle"]]
        feet[:, F[f"{side}_heel"]] = ankle + [-0.05, -0.06, 0.0]
        feet[:, F[f"{side}_toe"]] = ankle + [0.17, -0.07, 0.0]
    return joints, feet


def measured(joints: np.ndarray, feet: np.ndarray) -> dict:
    return measure_reps(joints, 30.0, None, feet, single_rep=True).reps[0].values


# fault -> (measurement it moves, sign of the move, how close to its documented size at the bottom, or None)
MOVES = {
    "head_up": ("head_pitch", +1, 8.0),
    "forward_lean": ("max_trunk_lean", +1, 3.0),
    "back_round": ("trunk_chord", -1, None),
    "back_arch": ("trunk_chord", -1, None),
    "knees_in": ("knee_ankle_width_ratio", -1, None),
    "knees_forward": ("max_shank_angle", +1, None),
    "shallow": ("depth", +1, None),
}


@pytest.mark.parametrize("key", sorted(faults.FAULTS))
def test_each_transform_moves_its_measurement_more_with_severity_and_keeps_segment_lengths(key):
    joints, feet = person(trunk_lean=30.0, knee_angle=65.0)
    name, sign, tolerance = MOVES[key]
    assert faults.FAULTS[key].moves == name
    before = measured(joints, feet)[name]
    moved = []
    for severity in (0.0, 1.0):
        j, f = faults.apply(key, joints, feet, severity)
        assert j.shape == joints.shape and f.shape == feet.shape
        moved.append(sign * (measured(j, f)[name] - before))
        for a, b in RIGID:  # a shallower bottom is a blend of two neighbouring frames: lengths within 0.5 %
            assert segment_lengths(j, a, b) == pytest.approx(segment_lengths(joints, a, b), rel=5e-3), (key, a, b)
        standing = slice(0, 5)  # the clip starts standing: no fault shows there (but a head up shows from the start)
        assert np.allclose(j[standing], joints[standing], atol=1e-3) != (key == "head_up"), key
    assert 0 < moved[0] < moved[1], (key, moved)
    if tolerance is not None:
        assert moved[1] == pytest.approx(faults.FAULTS[key].obvious, abs=tolerance)


@pytest.mark.parametrize("key, untouched", [
    ("head_up", ["l_hip", "l_knee", "l_ankle", "l_shoulder", "neck", "l_wrist"]),
    ("forward_lean", ["l_hip", "r_hip", "l_knee", "l_ankle"]),
    ("back_round", ["l_hip", "r_hip", "l_knee", "r_ankle"]),
    ("knees_in", ["l_hip", "l_ankle", "neck", "nose", "l_wrist"]),
])  # fmt: skip
def test_a_transform_leaves_the_joints_it_does_not_move(key, untouched):
    joints, feet = person()
    j, _ = faults.apply(key, joints, feet, 1.0)
    idx = [J[n] for n in untouched]
    assert np.allclose(j[:, idx], joints[:, idx])


def test_too_shallow_keeps_the_tempo_and_shows_only_poses_of_the_same_rep():
    joints, feet = person(knee_angle=60.0)
    j, _ = faults.apply("shallow", joints, feet, 1.0)
    assert len(j) == len(joints)
    bottom = int(np.argmax(faults.depth_profile(joints)))
    assert measured(j, feet)["min_knee_angle"] > measured(joints, feet)["min_knee_angle"] + 20
    hips = lambda x: 0.5 * (x[:, J["l_hip"], 1] + x[:, J["r_hip"], 1])  # noqa: E731
    assert hips(j)[bottom] > hips(joints)[bottom] and hips(j).max() == pytest.approx(hips(joints).max(), abs=1e-6)


def test_a_fault_in_some_reps_only_follows_the_amount():
    joints = squat_clip(n_reps=2) * np.array([1.0, 1.0, -1.0])
    depth = faults.depth_profile(joints)
    half = np.where(np.arange(len(joints)) < len(joints) // 2, depth, 0.0)  # the fault in the first rep only
    j, _ = faults.apply("forward_lean", joints, None, 1.0, amount=half)
    later = slice(len(joints) // 2, None)
    assert np.allclose(j[later], joints[later]) and not np.allclose(j[: len(joints) // 2], joints[: len(joints) // 2])


def test_missing_joints_stay_missing():
    joints, feet = person()
    joints[:, [J["l_ear"], J["r_ear"], J["head_top"]]] = np.nan  # the real reps have no ears or head top
    for key in faults.FAULTS:
        j, _ = faults.apply(key, joints, feet, 0.5)
        assert np.isnan(j[:, J["l_ear"]]).all() and np.isfinite(j[:, J["nose"]]).all(), key


def test_too_shallow_cuts_a_pause_at_the_bottom_too():
    """A pause at the bottom wiggles (pose noise, a small bounce): it is cut with the rep, not left at full depth."""
    joints, feet = person(knee_angle=60.0, pause_bottom_s=1.0, jitter=0.003)
    j, _ = faults.apply("shallow", joints, feet, 1.0)  # obvious: 55 % of the hip drop cut
    hips = lambda x: 0.5 * (x[:, J["l_hip"], 1] + x[:, J["r_hip"], 1])  # noqa: E731
    stand, low = np.percentile(hips(joints), 95), hips(joints).min()
    assert hips(j).min() > low + 0.4 * (stand - low)


def test_each_good_rep_lends_one_fault_in_turn_marked_and_weighted_apart():
    """Training data: each good clip lends one made fault (in turn, so each fault is made from as many), at a
    severity within TRAINING_SEVERITY; the made rows are marked, weigh MADE_WEIGHT of a real class in training,
    and are never what the calibration and threshold are fitted on."""
    from squatcli.datasets import ClipSet, Dataset, JointsClip
    from squatcli.train import MADE_WEIGHT, calibration_rows, sample_weights

    joints, feet = person()
    labels = ["good"] * 6 + ["knees_in"] * 2
    clips = ClipSet([JointsClip(joints, 30.0, None, label, feet) for label in labels], [f"r{k}" for k in range(8)],
                    np.array(["d1"] * 4 + ["d2"] * 4), "test")  # fmt: skip
    keys = ("head_up", "back_round", "back_arch")
    out = faults.with_transformed(clips, keys, seed=3)
    made = out.clips[8:]
    assert len(out.clips) == 14 and out.made == [False] * 8 + [True] * 6
    assert [c.label for c in made] == ["head_up", "back_round", "back_arch"] * 2
    assert out.ids[8:11] == ["r0+head_up", "r1+back_round", "r2+back_arch"] and list(out.groups[8:]) == ["d1"] * 4 + ["d2"] * 2
    lo, hi = faults.TRAINING_SEVERITY
    pitch = measured(joints, feet)["head_pitch"]
    lifted = measured(made[0].joints, made[0].feet)["head_pitch"] - pitch
    size = faults.FAULTS["head_up"].size
    assert size(lo) - 8.0 <= lifted <= size(hi) + 8.0 and size(lo) - 8.0 > size(0.0)  # moderate at least, not mild
    assert len(faults.with_transformed(clips, keys, per_rep=None, only=True).clips) == 18

    classes = ("good", "knees_in", *keys)
    y = np.array([classes.index(c.label) for c in out.clips])
    data = Dataset({"x": np.zeros((len(y), 1))}, y, out.ids, out.groups, "test", classes, np.full(len(y), "real"))
    assert data.made.tolist() == out.made
    w = sample_weights(data)
    per_class = np.bincount(y, weights=w)
    assert per_class[2] == pytest.approx(MADE_WEIGHT * per_class[0]) and per_class[1] == pytest.approx(per_class[0])
    assert calibration_rows(data).tolist() == list(range(8))
