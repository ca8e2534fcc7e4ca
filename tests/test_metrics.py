"""Metrics checked against values computed by hand on crafted predictions."""

from __future__ import annotations

import numpy as np
import pytest

from squatcli import metrics as M
from squatcli.skeleton import CLASS_KEYS, N_CLASSES

# 12 clips: true classes, predicted classes (argmax) and P(good) chosen by hand (see the comments in the tests).
Y = np.array([0, 0, 0, 1, 1, 2, 2, 3, 4, 5, 6, 6])
PRED = np.array([0, 0, 1, 1, 1, 2, 3, 3, 4, 6, 6, 0])
P_GOOD = np.array([0.9, 0.8, 0.3, 0.35, 0.25, 0.2, 0.15, 0.1, 0.05, 0.04, 0.02, 0.7])


def crafted_probs() -> np.ndarray:
    """Rows summing to 1 with argmax PRED and column "good" equal to P_GOOD."""
    probs = np.zeros((len(Y), N_CLASSES))
    for i, (p, s) in enumerate(zip(PRED, P_GOOD)):
        if p == 0:
            probs[i] = (1 - s) / (N_CLASSES - 1)
            probs[i, 0] = s
        else:
            probs[i] = (1 - 0.6 - s) / (N_CLASSES - 2)
            probs[i, 0], probs[i, p] = s, 0.6
    assert np.allclose(probs.sum(1), 1) and (probs.argmax(1) == PRED).all()
    return probs


def test_binary_auc_youden_and_thresholds_by_hand():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    s = np.array([0.9, 0.8, 0.4, 0.7, 0.3, 0.2, 0.1, 0.6])
    # 16 good/faulty pairs; the good 0.6 and 0.4 lose to the faulty 0.7: 14/16.
    assert M.auc(y, s) == pytest.approx(14 / 16)
    # Cut at 0.8: 2/4 good, 0 faulty -> J .5; at 0.6: 3/4, 1/4 -> .5; at 0.4: 4/4, 1/4 -> .75 (the best).
    op = M.youden(y, s)
    assert (op.threshold, op.sensitivity, op.specificity) == pytest.approx((0.4, 1.0, 0.75))
    at = M.at_threshold(y, s, 0.6)
    assert (at.sensitivity, at.specificity) == pytest.approx((0.75, 0.75))
    assert M.specificity_at_sensitivity(y, s, 0.5) == pytest.approx(1.0)
    assert M.specificity_at_sensitivity(y, s, 0.9) == pytest.approx(0.75)


def test_seven_class_report_by_hand():
    r = M.evaluate(Y, crafted_probs(), threshold=0.5)
    assert r.n == 12
    assert r.accuracy == pytest.approx(8 / 12)
    cm = np.zeros((N_CLASSES, N_CLASSES), int)
    for t, p in zip(Y, PRED):
        cm[t, p] += 1
    assert r.confusion == cm.tolist()
    assert r.confusion[0] == [2, 1, 0, 0, 0, 0, 0] and r.confusion[6] == [1, 0, 0, 0, 0, 0, 1]
    assert np.allclose(r.confusion_normalised[0], [2 / 3, 1 / 3, 0, 0, 0, 0, 0])
    assert np.allclose(np.sum(r.confusion_normalised, axis=1), 1)
    # Class good: predicted for clips 0, 1, 11 (true good, good, knees_forward) -> precision 2/3; recall 2/3.
    assert r.per_class["good"]["precision"] == pytest.approx(2 / 3)
    assert r.per_class["good"]["recall"] == pytest.approx(2 / 3)
    assert r.per_class["good"]["f1"] == pytest.approx(2 / 3)
    # knees_forward: predicted for clips 9 (shallow) and 10 -> precision 1/2; recall 1/2. shallow: never predicted.
    assert r.per_class["knees_forward"]["precision"] == pytest.approx(0.5)
    assert r.per_class["shallow"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert [r.per_class[k]["support"] for k in CLASS_KEYS] == [3, 2, 2, 1, 1, 1, 2]
    # Kappa: p_o = 8/12; row totals 3,2,2,1,1,1,2 and column totals 3,3,1,2,1,0,2 give p_e = 24/144; (2/3-1/6)/(5/6).
    assert r.kappa == pytest.approx(0.6)
    # Good vs rest: good scores .9 .8 .3 against 9 faulty ones; .3 loses to .7 and .35: 25/27.
    assert r.auc == pytest.approx(25 / 27)
    # Youden: cutting at .3 calls all 3 good clips good and 2 of 9 faulty ones (.7, .35) good: J = 1 - 2/9.
    assert (r.youden.threshold, r.youden.sensitivity, r.youden.specificity) == pytest.approx((0.3, 1.0, 7 / 9))
    # At the stored 0.5: good .9 .8 called good, .3 not (2/3); faulty .7 called good (8/9).
    assert (r.stored.sensitivity, r.stored.specificity) == pytest.approx((2 / 3, 8 / 9))
    d = r.to_dict()
    assert "roc_fpr" not in d and d["youden"]["threshold"] == pytest.approx(0.3)
    assert len(r.to_dict(with_roc=True)["roc_fpr"]) == len(r.roc_tpr) > 2


def test_one_sided_sets_do_not_crash():
    y = np.array([1, 2, 3])
    probs = np.full((3, N_CLASSES), 1 / N_CLASSES)
    r = M.evaluate(y, probs, threshold=0.5)
    assert np.isnan(r.auc) and r.youden is None and r.stored.specificity == 1.0
    with pytest.raises(ValueError, match="both good and faulty"):
        M.youden(np.zeros(3), np.zeros(3))


def test_wrong_shape_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        M.evaluate(Y, np.zeros((len(Y), 3)))
