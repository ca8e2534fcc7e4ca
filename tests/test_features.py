import numpy as np
import pytest

from squatcli import features as F
from squatcli.skeleton import J, N_FEATURES, PAIR_I, PAIR_J, WINDOW, pair_index

from conftest import random_rotation


def test_distances_follow_triu_order_and_metric(make_joints):
    joints = make_joints(frames=5)
    d = F.distances(joints)
    assert d.shape == (5, N_FEATURES) and d.dtype == np.float32
    # column k is |joint PAIR_I[k] - joint PAIR_J[k]|; spot-check a few against the definition
    for k in (0, 17, 100, 170):
        expected = np.linalg.norm(joints[:, PAIR_I[k]] - joints[:, PAIR_J[k]], axis=-1)
        np.testing.assert_allclose(d[:, k], expected, rtol=1e-6)
    assert (PAIR_I[0], PAIR_J[0]) == (0, 1) and (PAIR_I[-1], PAIR_J[-1]) == (17, 18)
    assert pair_index("r_ankle", "r_knee") == 0 and pair_index("r_ear", "l_ear") == 170


def test_distances_are_rotation_and_translation_invariant(make_joints):
    joints = make_joints(frames=20)
    moved = joints @ random_rotation(np.random.default_rng(3)).T + np.array([4.0, -2.0, 7.5])
    np.testing.assert_allclose(F.distances(moved), F.distances(joints), atol=1e-5)


def test_classical_mds_recovers_joints_up_to_rigid_motion(make_joints):
    joints = make_joints(frames=3, seed=7)
    for frame in joints:
        recovered = F.classical_mds(F.distances(frame[None])[0])
        # Procrustes (rotation/reflection + translation): the residual must vanish
        a, b = frame - frame.mean(0), recovered - recovered.mean(0)
        u, _, vt = np.linalg.svd(b.T @ a)
        aligned = b @ (u @ vt)
        assert np.abs(aligned - a).max() < 1e-4
        # and a shuffled feature order must NOT be recoverable (the test can fail)
        shuffled = F.distances(frame[None])[0][np.random.default_rng(0).permutation(N_FEATURES)]
        bad = F.classical_mds(shuffled)
        b2 = bad - bad.mean(0)
        u2, _, vt2 = np.linalg.svd(b2.T @ a)
        assert np.abs(b2 @ (u2 @ vt2) - a).max() > 0.05


def test_normalise_removes_body_size(make_joints):
    joints = make_joints(frames=50)
    small, large = F.clip_features(joints * 0.8), F.clip_features(joints * 1.25)
    np.testing.assert_allclose(small, large, rtol=1e-5)
    # shank (~0.45 m) over a body scale of ~0.35 m
    assert 1.0 < small[:, pair_index("r_ankle", "r_knee")].mean() < 1.6
    assert F.body_scale(F.distances(joints)) == pytest.approx(0.37, abs=0.05)


def test_normalise_rejects_degenerate_input():
    with pytest.raises(ValueError, match="body scale"):
        F.normalise(np.zeros((10, N_FEATURES)))
    with pytest.raises(ValueError, match="shape"):
        F.normalise(np.zeros((10, 170)))


def test_pad_to_window_ping_pongs_without_jumps():
    seq = np.arange(40)[:, None].astype(float)
    padded = F.pad_to_window(seq)
    assert padded.shape == (WINDOW, 1)
    assert np.abs(np.diff(padded[:, 0])).max() == 1  # no jump anywhere
    np.testing.assert_array_equal(padded[:40, 0], np.arange(40))
    np.testing.assert_array_equal(padded[40:45, 0], [38, 37, 36, 35, 34])
    assert F.pad_to_window(seq[:1]).shape == (WINDOW, 1)
    np.testing.assert_array_equal(F.pad_to_window(np.arange(301)[:, None]), np.arange(300)[:, None])


@pytest.mark.parametrize("frames, starts", [(120, [0]), (300, [0]), (301, [0, 1]), (600, [0, 150, 300]), (700, [0, 150, 300, 400])])
def test_windows_cover_the_clip(frames, starts):
    feats = np.random.default_rng(0).random((frames, N_FEATURES)).astype(np.float32)
    win, got = F.windows(feats)
    assert got.tolist() == starts
    assert win.shape == (len(starts), WINDOW, N_FEATURES)
    if frames >= WINDOW:
        np.testing.assert_array_equal(win[-1], feats[-WINDOW:])  # the last window ends at the clip's end
        np.testing.assert_array_equal(win[0], feats[:WINDOW])


def test_segment_lengths(make_joints):
    joints = make_joints(frames=10)
    np.testing.assert_allclose(F.segment_lengths(joints, "r_hip", "l_hip"), 0.2, atol=1e-9)
    assert J["neck"] == 12
