"""How real is the synthetic corpus? Synthetic reps against the real labelled reps, on the rep models' own inputs.

    .venv/bin/python bench/real_vs_synth.py [REAL_DIR=../shared/realdata/chariar2023] [CLIPS_PER_CLASS=40]

Prints, for each rep measurement the models read, the 10th/50th/90th percentiles of real and synthetic reps of
the matching classes (good with good, knees caving with knees_in, no depth with shallow, heels lifting with
knees_forward: the synthetic fault whose heels rise), and the realism figures: the AUC of a logistic regression
told to separate synthetic reps from real reps of the same class on the models' inputs (measurements, frames,
both; 5-fold cross-validation grouped by person/session); the good reps' is the generator's realism figure.
0.5 = indistinguishable, 1.0 = trivially told apart.
Synthetic people come from a seed the bundled models never trained on (seed 11).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from squatcli import synth
from squatcli.datasets import read_real_reps
from squatcli.inputs import rep_inputs, to_dataset

PAIRS = (("good", "good"), ("knees_in", "knees_in"), ("shallow", "shallow"), ("knees_forward", "knees_forward"),
         ("forward_lean", "back_round"))  # fmt: skip


def realism_auc(real_x: np.ndarray, synth_x: np.ndarray, groups: np.ndarray) -> float:
    """Grouped 5-fold AUC of a logistic regression separating synthetic (1) from real (0) rows."""
    x = np.nan_to_num(np.vstack([real_x, synth_x]))
    y = np.r_[np.zeros(len(real_x)), np.ones(len(synth_x))]
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))
    p = cross_val_predict(model, x, y, groups=groups, cv=GroupKFold(5), method="predict_proba")[:, 1]
    return float(roc_auc_score(y, p))


def main(real_dir: str = "../shared/realdata/chariar2023", clips_per_class: int = 40) -> None:
    spec = rep_inputs(feet=True)
    real = to_dataset(read_real_reps(real_dir), spec, "real")
    syn = to_dataset(synth.load_synthetic_clips(clips_per_class, max(10, clips_per_class // 2), seed=11), spec,
                     "synthetic")  # fmt: skip
    print(f"real reps {len(real)}, synthetic reps {len(syn)} (generator v{synth.GENERATOR_VERSION})")
    for real_key, syn_key in PAIRS:
        r = real.inputs["measures"][real.y == real.classes.index(real_key)]
        s = syn.inputs["measures"][syn.y == syn.classes.index(syn_key)]
        print(f"\n{real_key} (real, {len(r)}) vs {syn_key} (synthetic, {len(s)}): p10 / p50 / p90")
        for k, name in enumerate(spec.measures):
            a, b = np.nanpercentile(r[:, k], [10, 50, 90]), np.nanpercentile(s[:, k], [10, 50, 90])
            flag = "" if b[0] <= a[1] <= b[2] and a[0] <= b[1] <= a[2] else "  !"
            print(f"  {name:22s} {a[0]:8.2f} {a[1]:8.2f} {a[2]:8.2f}   {b[0]:8.2f} {b[1]:8.2f} {b[2]:8.2f}{flag}")
    print("\nrealism: AUC of telling synthetic reps from real reps of the matching class (0.5 = indistinguishable)")
    for real_key, syn_key in PAIRS[:4]:
        print(f"  {real_key:14s} " + "   ".join(f"{k} {v:.3f}" for k, v in class_realism(real, syn, real_key, syn_key).items()))


def class_realism(real, syn, real_key: str, syn_key: str) -> dict[str, float]:
    """Realism AUCs of one matched class on the measurements, the per-frame channels and both."""
    rm, sm = real.y == real.classes.index(real_key), syn.y == syn.classes.index(syn_key)
    groups = np.r_[real.subjects[rm], np.char.add("s:", syn.subjects[sm].astype(str))]
    m_r, m_s = real.inputs["measures"][rm], syn.inputs["measures"][sm]
    f_r, f_s = (d.inputs["frames"][mask].reshape(mask.sum(), -1) for d, mask in ((real, rm), (syn, sm)))
    return {"measurements": realism_auc(m_r, m_s, groups), "frames": realism_auc(f_r, f_s, groups),
            "both": realism_auc(np.hstack([m_r, f_r]), np.hstack([m_s, f_s]), groups)}  # fmt: skip


if __name__ == "__main__":
    main(*(sys.argv[1:2] or []), *(int(a) for a in sys.argv[2:3]))
