"""Geometric signature of each fault vs good on clean synthetic clips (world frame): the numbers tests pin.

    .venv/bin/python bench/synth_signatures.py [clips per class] [seed]
"""

from __future__ import annotations

import sys

import numpy as np

from squatcli import synth
from squatcli.skeleton import CLASS_KEYS
from squatcli.synth import FAULT_SIGNATURE as SIGNATURE
from squatcli.synth import fault_signatures as signatures


def table(n: int, seed: int) -> dict[str, dict[str, np.ndarray]]:
    people = synth.make_subjects(12, np.random.default_rng([seed, 5]))
    values: dict[str, dict[str, list]] = {k: {} for k in CLASS_KEYS}
    for label, key in enumerate(CLASS_KEYS):
        for i in range(n):
            clip = synth.simulate(np.random.default_rng([seed, 77, i]), label, people[i % len(people)], noise=False)
            for name, v in signatures(clip.world, clip.depth).items():
                values[key].setdefault(name, []).append(v)
    return {k: {n_: np.array(v) for n_, v in d.items()} for k, d in values.items()}


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 12345
    vals = table(n, seed)
    names = list(vals["good"])
    print(f"{'class':14s}" + "".join(f"{m[:18]:>22s}" for m in names))
    for key, d in vals.items():
        print(f"{key:14s}" + "".join(f"{np.percentile(d[m], 5):9.2f}..{np.percentile(d[m], 95):<9.2f}  " for m in names))
    print()
    from sklearn.metrics import roc_auc_score

    for fault, (sig, sign) in SIGNATURE.items():
        y = np.r_[np.zeros(n), np.ones(n)]
        score = sign * np.r_[vals["good"][sig], vals[fault][sig]]
        print(f"{fault:14s} {sig:26s} AUC vs good {roc_auc_score(y, score):.3f}")
