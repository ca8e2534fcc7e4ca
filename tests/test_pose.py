import numpy as np
import pytest

from squatcli import pose as P
from squatcli.errors import SquatError
from squatcli.skeleton import J

from conftest import frame_index, squat_joints, write_video


class FakeExtractor:
    """Reads the frame index that write_video encoded and returns a known trajectory's pose for it."""

    def __init__(self, trajectory, missing=()):
        self.trajectory, self.missing, self.calls, self.times = trajectory, set(missing), [], []

    def __call__(self, rgb, seconds):
        i = frame_index(rgb)
        self.times.append(seconds)
        self.calls.append(i)
        if i in self.missing:
            return None
        xy = 0.5 + 0.2 * (self.trajectory[i, :, :2] - self.trajectory[i, :, :2].mean(axis=0))  # inside the picture
        return P.PoseFrame(self.trajectory[i], np.ones(19), xy)

    def close(self):
        pass


def test_blazepose_mapping_and_derived_joints():
    landmarks = np.arange(33 * 3, dtype=float).reshape(33, 3)
    vis = np.linspace(0, 1, 33)
    joints, conf = P.blazepose_to_joints(landmarks, vis)
    assert joints.shape == (19, 3) and conf.shape == (19,)
    np.testing.assert_array_equal(joints[J["r_ankle"]], landmarks[28])
    np.testing.assert_array_equal(joints[J["l_wrist"]], landmarks[15])
    np.testing.assert_array_equal(joints[J["nose"]], landmarks[0])
    np.testing.assert_array_equal(joints[J["r_ear"]], landmarks[8])
    neck = (landmarks[11] + landmarks[12]) / 2
    ears = (landmarks[7] + landmarks[8]) / 2
    np.testing.assert_allclose(joints[J["neck"]], neck)
    np.testing.assert_allclose(joints[J["head_top"]], ears + 0.5 * (ears - neck))
    assert conf[J["neck"]] == vis[11] and conf[J["head_top"]] == vis[7]


def test_auto_stride_runs_the_pose_model_about_30_times_a_second():
    from squatcli.skeleton import auto_stride

    assert [auto_stride(f) for f in (12, 24, 25, 30, 44, 50, 60, 120, 240)] == [1, 1, 1, 1, 1, 2, 2, 4, 8]


def test_stride_interpolates_between_sampled_frames(tmp_path):
    traj = squat_joints(frames=120, reps=2, seed=1)
    video = write_video(tmp_path / "v.mp4", 120)
    every = P.extract_video(video, stride=1, extractor=FakeExtractor(traj))
    fake = FakeExtractor(traj)
    third = P.extract_video(video, stride=3, extractor=fake)
    assert fake.calls == list(range(0, 120, 3))  # the model saw every third frame only
    assert every.clip.joints.shape == (120, 19, 3) and every.clip.fps == 30.0
    np.testing.assert_allclose(every.clip.joints, traj, atol=1e-5)
    err = np.linalg.norm(third.clip.joints - traj, axis=-1)
    assert np.median(err) < 0.01 and err.max() < 0.05  # interpolation over 0.1 s of a squat is within cm
    assert third.person_fraction == 1.0 and third.long_gaps == []


def test_the_pose_model_sees_every_frame_of_a_moving_rep_every_2nd_held_and_every_3rd_standing(tmp_path):
    """The default schedule: every frame for the first 0.5 s and while a rep moves fast; every 2nd frame while
    the squat is held; every 3rd while the person stands. The frames come with their nominal times."""
    rep = squat_joints(frames=30, reps=1, seed=5)  # down in 0.5 s, up in 0.5 s
    hold = np.repeat(rep[15:16], 30, axis=0)  # 1 s still at the bottom
    traj = np.concatenate([np.repeat(rep[:1], 60, axis=0), rep[:15], hold, rep[15:], np.repeat(rep[-1:], 45, axis=0)])
    video = write_video(tmp_path / "v.mp4", len(traj))
    fake = FakeExtractor(traj)
    result = P.extract_video(video, extractor=fake)
    calls = np.array(fake.calls)
    assert list(calls[:15]) == list(range(15))  # the first 0.5 s
    assert list(calls[15:22]) == [17, 20, 23, 26, 29, 32, 35]  # then standing: every 3rd frame
    bent = np.flatnonzero(P.knee_angle(traj) < P.knee_angle(traj[:1])[0] - P.BENT_DEGREES)
    first = calls[np.isin(calls, bent)][0]  # where the schedule saw the rep begin: at most 2 frames late
    assert first <= bent[0] + 2
    down, held, up = bent[(bent >= first) & (bent < 75)], np.arange(82, 105), bent[bent >= 110]  # up: once it is fast
    assert set(down) <= set(calls) and set(up) <= set(calls)  # moving: every frame
    assert set(np.diff(calls[np.isin(calls, held)])) == {2}  # held (after the window of fast frames): every 2nd
    assert set(np.diff(calls[-8:])) == {3}  # standing again
    assert len(calls) < 0.6 * len(traj) and list(result.sampled) == fake.calls
    assert fake.times == pytest.approx([i * 33333e-6 for i in fake.calls])
    assert (result.schedule, result.stride) == ("adaptive", 1)
    seen = np.concatenate([down, up])
    np.testing.assert_allclose(result.clip.joints[seen], traj[seen], atol=1e-5)  # seen, not interpolated
    assert np.abs(result.clip.joints - traj).max() < 0.01  # between still frames interpolation is exact enough


def test_frame_rate_is_resampled_to_30_fps(tmp_path):
    traj60 = squat_joints(frames=120, fps=60, reps=2, seed=2)  # 2 s at 60 fps
    video = write_video(tmp_path / "v60.mp4", 120, fps=60)
    result = P.extract_video(video, stride=1, extractor=FakeExtractor(traj60))
    assert result.video.fps == 60 and len(result.frame_times) == 120
    assert len(result.clip.joints) == 60  # 119/60 s -> 0..1.983 s at 30 fps
    np.testing.assert_allclose(result.clip.joints, traj60[::2][:60], atol=1e-5)


def test_short_gaps_are_interpolated_and_long_gaps_reported(tmp_path):
    traj = squat_joints(frames=120, reps=2, seed=3)
    video = write_video(tmp_path / "v.mp4", 120)
    missing = set(range(10, 14)) | set(range(60, 90))  # 0.13 s and 1 s without a person
    result = P.extract_video(video, stride=1, extractor=FakeExtractor(traj, missing))
    assert not np.isnan(result.clip.joints).any()
    assert result.found.sum() == 120 - len(missing)
    assert result.long_gaps == [pytest.approx((59 / 30, 90 / 30))]
    assert np.linalg.norm(result.clip.joints[10:14] - traj[10:14], axis=-1).max() < 0.02


def test_too_few_frames_with_a_person_is_an_error(tmp_path):
    traj = squat_joints(frames=60, seed=4)
    video = write_video(tmp_path / "v.mp4", 60)
    with pytest.raises(SquatError, match=r"person was found in only 20 of 60 analysed frames \(33%\)") as e:
        P.extract_video(video, stride=1, extractor=FakeExtractor(traj, missing=range(20, 60)))
    assert str(e.value).startswith(str(video))


def test_clip_under_half_a_second_is_an_error(tmp_path):
    video = write_video(tmp_path / "short.mp4", 12)
    with pytest.raises(SquatError, match=r"clip is 0.40 s long; at least 0.5 s"):
        P.extract_video(video, stride=1, extractor=FakeExtractor(squat_joints(frames=20)))


def test_missing_not_a_video_and_corrupt_files(tmp_path):
    with pytest.raises(SquatError, match="no such file"):
        P.extract_video(tmp_path / "nope.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video")
    with pytest.raises(SquatError, match="not a video OpenCV can open"):
        P.extract_video(text)
    good = write_video(tmp_path / "good.mp4", 60)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 3])  # cut before the index
    with pytest.raises(SquatError, match="not a video OpenCV can open|no frame could be decoded"):
        P.extract_video(corrupt)


def test_bone_variation_prefers_the_better_seen_side():
    rng = np.random.default_rng(0)
    joints = np.repeat(squat_joints(frames=1)[0][None], 100, axis=0).copy()
    joints[:, J["l_wrist"]] += rng.normal(scale=0.08, size=(100, 3))  # a hidden, wobbling left forearm
    conf = np.ones((100, 19))
    conf[:, J["l_wrist"]] = 0.1
    seen, worst = P.bone_variation(joints, conf), P.bone_variation_worst(joints, conf)
    assert seen["forearm"] == pytest.approx(0.0, abs=1e-9) and worst["forearm"] > 0.1
    assert seen["shank"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.slow
def test_mediapipe_finds_nobody_in_blank_frames(tmp_path):
    video = write_video(tmp_path / "blank.mp4", 40, value=lambda i: 128)
    with pytest.raises(SquatError, match="person was found in only 0 of"):
        P.extract_video(video, stride=2)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["front_bodyweight_good.mp4", "back_barbell_correct.mp4", "side_bodyweight_incorrect.mp4"])
def test_real_videos_person_found_and_bones_stable(shared_video, name):
    result = P.extract_video(shared_video(name))
    assert result.person_fraction >= 0.95
    v = result.bone_variation
    # legs, which every measurement reads, hold their length within 6 %; arms within 12 % (with the pose model on
    # every frame, not interpolated between every 3rd, the back view's forearms on the bar wobble 10.6 %)
    assert max(v["shank"], v["thigh"]) < 0.06 and max(v["upper arm"], v["forearm"]) < 0.12, v
    assert result.clip.fps == 30 and abs(result.clip.duration - len(result.frame_times) / 30) < 0.05
    joints = result.clip.joints
    thigh = np.median(np.linalg.norm(joints[:, J["r_knee"]] - joints[:, J["r_hip"]], axis=-1))
    assert 0.3 < thigh < 0.6  # metres: a human thigh
    assert result.image_xy.shape == (len(result.frame_times), 19, 2)


LANDMARKS = """
import sys

import numpy as np

if sys.argv[2] == "tensorflow":
    import tensorflow  # noqa: F401  (as squat assess did before: mediapipe then imported it as well)
from squatcli.pose import extract_video

e = extract_video(sys.argv[1], stride=1)
np.savez(sys.argv[3], joints=e.clip.joints, confidence=e.clip.confidence, feet=e.clip.feet)
print(sorted(m for m in ("tensorflow", "matplotlib", "sounddevice") if m in sys.modules))
"""


@pytest.mark.slow
def test_mediapipe_loaded_without_tensorflow_gives_the_same_landmarks(shared_video, tmp_path):
    import subprocess
    import sys

    video = shared_video("side_bodyweight_incorrect.mp4")
    out = {}
    for mode in ("tensorflow", "plain"):
        done = subprocess.run([sys.executable, "-c", LANDMARKS, str(video), mode, str(tmp_path / f"{mode}.npz")],
                              capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        out[mode] = (done.stdout.strip(), np.load(tmp_path / f"{mode}.npz"))
    assert "'tensorflow'" in out["tensorflow"][0] and out["plain"][0] == "[]"
    for key in ("joints", "confidence", "feet"):
        np.testing.assert_allclose(out["plain"][1][key], out["tensorflow"][1][key], rtol=0, atol=1e-6)
