import json

import numpy as np
import pytest

from squatcli import datasets as D
from squatcli import features as F
from squatcli.errors import SquatError
from squatcli.skeleton import CLASSES, N_FEATURES, WINDOW


def write_fixture_dataset(root, per_class=3, frames=301, subjects=None, make=None):
    """A dataset in the paper's exact layout: <root>/<class>/1115_3djoints_index/1115_squat_<NNNNNN>.json."""
    from conftest import squat_joints

    rows = []
    n = 0
    for label in range(len(CLASSES)):
        for k in range(per_class):
            dist = F.distances(squat_joints(frames=frames, seed=n, reps=3 + label % 3)).astype(np.float64)
            path = D.paper_clip_path(root, label, n)
            D.write_paper_json(path, dist)
            rows.append((path.relative_to(root).as_posix(), f"s{k}"))
            n += 1
    if subjects:
        (root / D.MANIFEST).write_text("path,subject\n" + "".join(f"{p},{s}\n" for p, s in rows))
    return n


def test_paper_json_round_trip_is_identical(tmp_path, make_joints):
    dist = F.distances(make_joints(frames=301)).astype(np.float64)
    text = D.paper_json_text(dist)
    src = tmp_path / "0115_squat_000001.json"
    src.write_text(text)
    back = D.read_paper_json(src)
    np.testing.assert_array_equal(back, dist)
    assert D.paper_json_text(back) == text  # JSON -> arrays -> JSON: the same text
    data = json.loads(text)
    assert list(data)[:3] == ["0", "1", "2"] and data["5"]["index"] == 5 and len(data["5"]["3d_joint"]) == N_FEATURES


def test_paper_json_frames_are_ordered_by_index(tmp_path):
    frames = {"1": {"index": 1, "3d_joint": [2.0] * N_FEATURES}, "0": {"index": 0, "3d_joint": [1.0] * N_FEATURES}}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(frames))
    assert D.read_paper_json(path)[:, 0].tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected an object of frames"),
        ('{"0": {"index": 0}}', "has no '3d_joint'"),
        ('{"0": {"index": 0, "3d_joint": [1.0, 2.0]}}', "must hold 171 numbers, got 2"),
        ('{"0": {"index": 0, "3d_joint": [' + ",".join(["NaN"] * 171) + "]}}", "NaN"),
        ('{"0": {"index": 0, "3d_joint": [' + ",".join(['"a"'] * 171) + "]}}", "non-numeric"),
    ],
)
def test_malformed_paper_json_names_file_and_problem(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SquatError, match=message) as e:
        D.read_paper_json(path)
    assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)


def test_joints_npz_round_trip(tmp_path, make_joints):
    clip = D.JointsClip(make_joints(frames=90).astype(np.float32), 30.0, np.full((90, 19), 0.9, np.float32), "knees_in")
    path = tmp_path / "clip.npz"
    D.write_joints_npz(path, clip)
    back = D.read_joints_npz(path)
    np.testing.assert_array_equal(back.joints, clip.joints)
    np.testing.assert_array_equal(back.confidence, clip.confidence)
    assert back.fps == 30.0 and back.label == "knees_in" and back.duration == 3.0
    D.write_joints_npz(path, D.JointsClip(clip.joints, 25.0))
    assert D.read_joints_npz(path).confidence is None and D.read_joints_npz(path).label is None


def test_a_monocular_npz_keeps_what_the_camera_measured(tmp_path, make_joints):
    joints = make_joints(frames=60).astype(np.float32)
    rng = np.random.default_rng(0)
    xy, feet_xy = rng.uniform(0, 1, (60, 19, 2)).astype(np.float32), rng.uniform(0, 1, (60, 4, 2)).astype(np.float32)
    clip = D.JointsClip(joints, 30.0, feet=rng.normal(size=(60, 4, 3)).astype(np.float32), monocular=True,
                        image_xy=xy, image_feet=feet_xy, aspect=16 / 9)  # fmt: skip
    path = tmp_path / "video.npz"
    D.write_joints_npz(path, clip)
    back = D.read_joints_npz(path)
    np.testing.assert_array_equal(back.image_xy, xy)
    np.testing.assert_array_equal(back.image_feet, feet_xy)
    assert back.aspect == pytest.approx(16 / 9) and back.monocular
    D.write_joints_npz(path, D.JointsClip(joints, 30.0))  # a 3D clip has none
    assert D.read_joints_npz(path).image_xy is None and D.read_joints_npz(path).aspect is None


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"image_xy": np.zeros((10, 19, 2))}, "'image_xy' and 'image_aspect' go together"),
        ({"image_xy": np.zeros((10, 19, 2)), "image_aspect": 0.0}, "'image_aspect' must be one number from 0.1 to 10"),
        ({"image_xy": np.zeros((10, 18, 2)), "image_aspect": 1.0}, r"'image_xy' must have shape \(10, 19, 2\)"),
        ({"image_xy": np.full((10, 19, 2), np.nan), "image_aspect": 1.0}, "'image_xy' contains NaN"),
        ({"image_xy": np.full((10, 19, 2), 1e9), "image_aspect": 1.0}, "out-of-range"),
        ({"image_xy": np.zeros((10, 19, 2)), "image_aspect": 1.0, "feet": np.zeros((10, 4, 3))}, "'image_feet' is missing"),
    ],
)
def test_bad_image_landmarks_in_an_npz_are_refused(tmp_path, make_joints, extra, message):
    path = tmp_path / "bad.npz"
    np.savez(path, joints=make_joints(frames=10), fps=30.0, **extra)
    with pytest.raises(SquatError, match=message) as e:
        D.read_joints_npz(path)
    assert str(e.value).startswith(str(path))


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"fps": 30.0}, "missing key 'joints'"),
        ({"joints": np.zeros((10, 19, 3))}, "missing key 'fps'"),
        ({"joints": np.zeros((10, 18, 3)), "fps": 30.0}, r"shape \(T, 19, 3\), got \(10, 18, 3\)"),
        ({"joints": np.full((10, 19, 3), np.nan), "fps": 30.0}, "NaN"),
        ({"joints": np.zeros((10, 19, 3)), "fps": -1.0}, "'fps' must be one positive number"),
        ({"joints": np.zeros((10, 19, 3)), "fps": 30.0, "confidence": np.ones(3)}, "'confidence' must have shape"),
        ({"joints": np.zeros((10, 19, 3)), "fps": 30.0, "label": "dance"}, "unknown class 'dance'"),
    ],
)
def test_malformed_npz_names_file_and_problem(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(SquatError, match=message) as e:
        D.read_joints_npz(path)
    assert str(e.value).startswith(str(path))


def test_not_an_npz(tmp_path):
    path = tmp_path / "x.npz"
    path.write_bytes(b"hello")
    with pytest.raises(SquatError, match="not a readable .npz"):
        D.read_joints_npz(path)
    with pytest.raises(SquatError, match="no such file"):
        D.read_joints_npz(tmp_path / "missing.npz")


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.npz"
    with pytest.raises(RuntimeError):
        with D.atomic_output(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with D.atomic_output(target) as tmp:
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and (target.stat().st_mode & 0o777) != 0o600


def test_load_paper_dataset_in_the_published_layout(tmp_path):
    n = write_fixture_dataset(tmp_path, per_class=2, frames=301, subjects=True)
    assert (tmp_path / "bad_innner_thigh" / "1115_3djoints_index" / "1115_squat_000002.json").exists()
    ds = D.load_paper_dataset(tmp_path)
    assert ds.x.shape == (n, WINDOW, N_FEATURES) and ds.x.dtype == np.float32
    assert ds.y.tolist() == sorted(ds.y.tolist()) and set(ds.y.tolist()) == set(range(7))
    assert ds.subjects is not None and set(ds.subjects) == {"s0", "s1"}
    # the same normalisation as every other path: features.clip_features then fit_window
    first = D.read_paper_json(tmp_path / ds.ids[0])
    np.testing.assert_allclose(ds.x[0], F.fit_window(F.normalise(first)), rtol=1e-6)
    assert len(ds.fingerprint()) == 16 and ds.fingerprint() == D.load_paper_dataset(tmp_path).fingerprint()


def test_short_clips_are_padded_and_missing_layout_is_an_error(tmp_path):
    write_fixture_dataset(tmp_path / "a", per_class=1, frames=90)
    ds = D.load_paper_dataset(tmp_path / "a")
    assert ds.x.shape[1] == WINDOW and ds.subjects is None
    (tmp_path / "empty").mkdir()
    with pytest.raises(SquatError, match="no clips found"):
        D.load_paper_dataset(tmp_path / "empty")
    with pytest.raises(SquatError, match="no such dataset folder"):
        D.load_paper_dataset(tmp_path / "nope")


def test_random_split_is_stratified_80_10_10():
    y = np.repeat(np.arange(7), 100)
    train, val, test = D.split_random(y, seed=1)
    assert len(train) == 560 and len(val) == 70 and len(test) == 70
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    assert np.bincount(y[val]).tolist() == [10] * 7
    assert D.split_random(y, seed=1)[1].tolist() == val.tolist() and D.split_random(y, seed=2)[1].tolist() != val.tolist()


def test_subject_split_keeps_people_apart():
    subjects = np.repeat(np.arange(20), 10)
    train, val, test = D.split_by_subject(subjects, seed=0)
    assert len(train) + len(val) + len(test) == 200
    assert not set(subjects[train]) & set(subjects[test]) and not set(subjects[val]) & set(subjects[test])
    assert len(set(subjects[test])) == 2
    with pytest.raises(SquatError, match="records no subjects"):
        D.split_by_subject(None, seed=0)
