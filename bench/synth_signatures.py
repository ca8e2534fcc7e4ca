"""Geometric signature of each fault vs good on clean synthetic clips (world frame): the numbers tests pin.

    .venv/bin/python bench/synth_signatures.py [clips per class] [seed]

Prints each class's 5th-95th percentile of every signature (random severity), then each fault's AUC against good
across people at a random severity and at its obvious one, and the share of pairs (same person and motion, good
and faulty) whose signature moves the fault's way.
"""

from __future__ import annotations

import sys

import numpy as np
from sklearn.metrics import roc_auc_score

from squatcli import synth
from squatcli.skeleton import CLASS_KEYS
from squatcli.synth import FAULT_SIGNATURE as SIGNATURE
from squatcli.synth import fault_signatures as signatures


def table(n: int, seed: int, severity: float | None = None) -> dict[str, dict[str, np.ndarray]]:
    """class -> signature -> (n,) values; clip i of every class has the same person and motion."""
    people = synth.make_subjects(12, np.random.default_rng([seed, 5]))
    values: dict[str, dict[str, list]] = {k: {} for k in CLASS_KEYS}
    for label, key in enumerate(CLASS_KEYS):
        for i in range(n):
            clip = synth.simulate(np.random.default_rng([seed, 77, i]), label, people[i % len(people)], noise=False,
                                  severity=severity)  # fmt: skip
            for name, v in signatures(clip.world, clip.depth).items():
                values[key].setdefault(name, []).append(v)
    return {k: {n_: np.array(v) for n_, v in d.items()} for k, d in values.items()}


def separation(vals: dict[str, dict[str, np.ndarray]], fault: str) -> tuple[float, float]:
    """(AUC of the fault's signature against good, share of pairs moved the fault's way)."""
    sig, sign = SIGNATURE[fault]
    good, bad = vals["good"][sig], vals[fault][sig]
    auc = roc_auc_score(np.r_[np.zeros(len(good)), np.ones(len(bad))], sign * np.r_[good, bad])
    return float(auc), float(np.mean(sign * (bad - good) > 0))


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 12345
    vals, obvious = table(n, seed), table(n, seed, severity=1.0)
    names = list(vals["good"])
    print(f"{'class':14s}" + "".join(f"{m[:18]:>22s}" for m in names))
    for key, d in vals.items():
        print(f"{key:14s}" + "".join(f"{np.percentile(d[m], 5):9.2f}..{np.percentile(d[m], 95):<9.2f}  " for m in names))
    print(f"\n{'fault':14s} {'signature':22s} {'AUC vs good':>12s} {'at obvious':>11s} {'pairs moved':>12s}")
    for fault, (sig, _) in SIGNATURE.items():
        (auc, paired), (auc_1, _) = separation(vals, fault), separation(obvious, fault)
        print(f"{fault:14s} {sig:22s} {auc:12.3f} {auc_1:11.3f} {paired:12.2f}")
