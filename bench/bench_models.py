"""Classifier benchmarks on the synthetic corpus, measured side by side in one run (2 CPU cores in mind).

    .venv/bin/python bench/bench_models.py                 # everything (long: see --help for the parts)
    .venv/bin/python bench/bench_models.py --part inference
    .venv/bin/python bench/bench_models.py --part cnn      # default CNN vs the paper-width (256) CNN, full corpus
    .venv/bin/python bench/bench_models.py --part lstm     # default LSTM vs the paper's LSTM, on a subject subset

Every model is trained with `squatcli.train.train` on a split by subject (seed 0) and scored on its held-out
test subjects. The paper's LSTM (256 units, 300 steps, Adam 1e-4, batch 128, patience 50) needs hours here, so
the LSTM part trains the default LSTM and the paper's architecture (with the default recipe) on the clips of a
subset of the subjects and caps the paper architecture's wall time (--paper-lstm-minutes); the paper's own recipe
is timed for a few epochs and projected. Every row says whether it stopped early, hit the epoch limit or the cap.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from squatcli import models  # noqa: E402
from squatcli import evaluation  # noqa: E402
from squatcli import train as T  # noqa: E402
from squatcli.skeleton import N_FEATURES, WINDOW  # noqa: E402


def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)


def time_cap(seconds: float):
    import keras

    class Cap(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.t0 = time.perf_counter()
            self.capped = False

        def on_epoch_end(self, epoch, logs=None):
            if time.perf_counter() - self.t0 > seconds:
                self.model.stop_training = self.capped = True

    return Cap()


def fit_and_score(label: str, data, config: T.TrainConfig, cap_s: float | None = None) -> dict:
    cap = [time_cap(cap_s)] if cap_s else []
    log(f"[{label}] {config}")
    result = T.train(data, config, on_epoch=lambda e: log(
        f"  [{label}] epoch {e.epoch:>3} acc {e.accuracy:.3f} val {e.val_accuracy:.3f} (best {e.best_val_accuracy:.3f}"
        f" @{e.best_epoch}) {e.seconds:.1f} s, total {e.elapsed:.0f} s"), callbacks=cap)  # fmt: skip
    md = result.metadata
    clf = models.Classifier(result.model, md)
    rep = evaluation.score(clf, data, data.source).report  # the model's own test split, as `squat evaluate` scores it
    tr = md["training"]
    row = {
        "label": label,
        "architecture": md["architecture"],
        "parameters": md["parameters"],
        "lr": tr["lr"],
        "batch_size": tr["batch_size"],
        "epochs_run": tr["epochs_run"],
        "best_epoch": tr["best_epoch"],
        "stopped_by": "time cap" if cap and cap[0].capped else ("early stopping" if tr["epochs_run"] < tr["epochs_max"] else "epoch limit"),
        "time_s": tr["time_s"],
        "time_to_best_s": tr["time_to_best_s"],
        "s_per_epoch": round(float(np.median([h["seconds"] for h in tr["history"][1:]] or [tr["time_s"]])), 2),
        "val_accuracy": md["validation"]["accuracy"],
        "test_n": rep.n,
        "test_accuracy": rep.accuracy,
        "test_auc": rep.auc,
        "test_sens_spec_at_val_threshold": [rep.stored.sensitivity, rep.stored.specificity],
    }
    log(f"[{label}] {json.dumps(row)}")
    return row


def bench_cnn(data, args) -> dict:
    base = dict(model="cnn", split="subject", seed=args.seed)
    small = fit_and_score("cnn default", data, T.TrainConfig(**base))
    paper = fit_and_score("cnn paper width 256", data, T.TrainConfig(**base, arch={"width": 256}),
                          cap_s=60 * args.paper_cnn_minutes)
    return {
        "rows": [small, paper],
        "accuracy_points_default_minus_paper": round(100 * (small["test_accuracy"] - paper["test_accuracy"]), 1),
        "time_ratio_paper_over_default": round(paper["time_s"] / small["time_s"], 1),
        "epoch_time_ratio_paper_over_default": round(paper["s_per_epoch"] / small["s_per_epoch"], 1),
    }


def subject_subset(data, n_subjects: int, seed: int):
    people = np.random.default_rng(seed).permutation(np.unique(data.subjects))[:n_subjects]
    return data.subset(np.flatnonzero(np.isin(data.subjects, people)))


def bench_lstm(data, args) -> dict:
    """Default LSTM vs the paper's architecture (256 units, 300 steps) on the same subject subset and recipe, plus
    the paper's own recipe (Adam 1e-4, batch 128) timed for a few epochs to project its full cost."""
    sub = subject_subset(data, args.lstm_subjects, args.seed)
    log(f"LSTM subset: {len(sub)} clips of {args.lstm_subjects} subjects")
    base = dict(model="lstm", split="subject", seed=args.seed)
    fast = fit_and_score("lstm default", sub, T.TrainConfig(**base))
    paper_arch = fit_and_score("lstm paper architecture, default recipe", sub,
                               T.TrainConfig(**base, arch=dict(models.LSTM_PAPER)), cap_s=60 * args.paper_lstm_minutes)
    recipe = dict(T.TRAIN_PAPER["lstm"], epochs=args.paper_recipe_epochs)
    paper_recipe = fit_and_score(f"lstm paper configuration, first {args.paper_recipe_epochs} epochs", sub,
                                 T.TrainConfig(**base, arch=dict(models.LSTM_PAPER), **recipe))  # fmt: skip
    rows = [fast, paper_arch, paper_recipe]
    if args.lstm_full:
        rows.append(fit_and_score("lstm default, full corpus", data, T.TrainConfig(**base)))
    full_epoch_s = paper_recipe["s_per_epoch"] * len(data) / len(sub)
    return {
        "subset": {"subjects": args.lstm_subjects, "clips": len(sub)},
        "rows": rows,
        "accuracy_points_default_minus_paper_architecture": round(100 * (fast["test_accuracy"] - paper_arch["test_accuracy"]), 1),
        "time_ratio_paper_architecture_over_default": round(paper_arch["time_s"] / fast["time_s"], 1),
        "epoch_time_ratio_paper_over_default": round(paper_arch["s_per_epoch"] / fast["s_per_epoch"], 1),
        "paper_configuration_s_per_epoch_full_corpus_projected": round(full_epoch_s, 1),
        "paper_configuration_hours_for_247_epochs_projected": round(full_epoch_s * 247 / 3600, 1),
    }


def bench_inference(args) -> dict:
    """One 10 s window through each bundled clip model: ONNX Runtime (what assess runs), Keras through a traced
    function (what training's cross-fitting runs) and Keras's `model.predict`."""
    rows = []
    x = np.random.default_rng(0).uniform(0.2, 3, (1, WINDOW, N_FEATURES)).astype(np.float32)
    for name in ("cnn-distances", "lstm-distances"):
        onnx_clf = models.load_model(name)
        keras_model = models.load_keras(name)
        keras_clf = models.Classifier(keras_model, onnx_clf.metadata, name)
        row = {"model": name, "parameters": keras_model.count_params()}
        for label, call, n in (("onnxruntime", lambda: onnx_clf.predict(x), args.calls),
                               ("keras_traced", lambda: keras_clf.predict(x), args.calls),
                               ("keras_model_predict", lambda: keras_model.predict(x, verbose=0), 20)):  # fmt: skip
            call()
            times = []
            for _ in range(n):
                t = time.perf_counter()
                call()
                times.append(time.perf_counter() - t)
            row[f"ms_per_window_{label}_median"] = round(1000 * float(np.median(times)), 2)
        rows.append(row)
        log(rows[-1])
    return {"rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["all", "cnn", "lstm", "inference"], default="all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lstm-subjects", type=int, default=20, help="subjects whose clips the LSTM part uses")
    parser.add_argument("--paper-lstm-minutes", type=float, default=15, help="wall-time cap, paper LSTM architecture")
    parser.add_argument("--paper-recipe-epochs", type=int, default=3, help="epochs timed with the paper's LSTM recipe")
    parser.add_argument("--paper-cnn-minutes", type=float, default=20, help="wall-time cap, paper-width CNN")
    parser.add_argument("--lstm-full", action="store_true", help="also train the default LSTM on the full corpus")
    parser.add_argument("--calls", type=int, default=200, help="single-window calls timed per model")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    results: dict = {"cpu_cores": os.cpu_count(), "load_average_at_start": os.getloadavg()}
    if args.part in ("all", "cnn", "lstm"):
        from squatcli.synth import load_synthetic

        data = load_synthetic(300, 60)  # the 2100-clip corpus, whatever the default corpus is
        results["data"] = {"source": data.source, "clips": len(data), "fingerprint": data.fingerprint()}
        if args.part in ("all", "cnn"):
            results["cnn"] = bench_cnn(data, args)
        if args.part in ("all", "lstm"):
            results["lstm"] = bench_lstm(data, args)
    if args.part in ("all", "inference"):
        results["inference"] = bench_inference(args)
    results["load_average_at_end"] = os.getloadavg()
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
