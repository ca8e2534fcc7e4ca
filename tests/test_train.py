"""Training and evaluation on a tiny stand-in dataset in the paper's layout: the rules without a network (fast),
then end to end (slow: seconds, not minutes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from classifier_data import write_standin_dataset
from squatcli import features as F
from squatcli import metrics
from squatcli import train as T
from squatcli.cli import app
from squatcli.datasets import load_paper_dataset, read_paper_json
from squatcli.errors import SquatError
from squatcli.skeleton import CLASS_FOLDERS, CLASS_KEYS, N_FEATURES, WINDOW

SQUAT = [sys.executable, "-m", "squatcli.cli"]


def run(*args: str, ok: bool = True):
    result = CliRunner().invoke(app, list(args))
    if ok:
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """42 clips (6 per class, 6 subjects) in the paper's layout, with a manifest.csv naming each clip's subject."""
    return write_standin_dataset(tmp_path_factory.mktemp("tiny") / "Pose_Dataset")


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory) -> Path:
    """A CNN trained for 2 epochs through the CLI, split by subject (the default for data with subjects)."""
    out = tmp_path_factory.mktemp("models") / "cnn"
    result = run("train", "--model", "cnn", "--data", str(tiny), "--epochs", "2",  # --split auto: by subject here
                 "--seed", "1", "--width", "16", "--out", str(out))  # fmt: skip
    assert "epoch   2/2" in result.stderr and "val acc" not in result.stdout and "subject split" in result.stderr
    return out


@pytest.mark.slow
def test_train_writes_a_loadable_model_with_complete_metadata(trained, tiny):
    from squatcli.models import load_keras, load_model

    assert sorted(p.name for p in trained.parent.iterdir()) == ["cnn.json", "cnn.keras", "cnn.onnx"]
    clf = load_model(trained)
    md = clf.metadata
    data = load_paper_dataset(tiny)
    assert md["classes"] == list(CLASS_KEYS) and md["class_folders"] == list(CLASS_FOLDERS)
    assert md["window"] == WINDOW and md["features"]["n"] == N_FEATURES
    assert md["architecture"] == {"kind": "cnn", "width": 16, "depth": 2, "kernel": 3, "dropout": 0.1, "downsample": 1}
    assert md["parameters"] == load_keras(trained).count_params()
    assert md["data"]["source"] == "ogata2019" and md["data"]["fingerprint"] == data.fingerprint()  # a name, no path
    assert md["data"]["datasets"] == [{"name": "ogata2019", "fingerprint": data.fingerprint(), "rows": 42}]
    assert str(tiny) not in json.dumps(md)
    assert (md["data"]["split"], md["data"]["split_seed"]) == ("subject", 1)
    assert md["data"]["n_train"] + md["data"]["n_val"] + md["data"]["n_test"] == len(data) == 42
    assert not set(md["data"]["val_subjects"]) & set(md["data"]["test_subjects"])
    tr = md["training"]
    assert tr["epochs_run"] == 2 and 1 <= tr["best_epoch"] <= 2 and tr["seed"] == 1 and tr["time_s"] > 0
    assert (tr["batch_size"], tr["lr"], tr["interrupted"]) == (32, 1e-3, False) and len(tr["history"]) == 2
    assert md["command"].startswith("squat ") or md["command"].startswith("squat train")
    assert set(md["validation"]) >= {"accuracy", "kappa", "auc", "sensitivity", "specificity"}
    std = md["features"]["standardisation"]
    train_idx, _, _ = T.split(data, "subject", 1)
    assert np.allclose(std["mean"], data.x[train_idx].mean(axis=(0, 1)), atol=1e-5)  # training clips only
    p = clf.predict(data.x[:3])
    assert p.shape == (3, 7) and np.allclose(p.sum(1), 1, atol=1e-5)


@pytest.mark.slow
def test_threshold_is_youden_on_the_validation_split(trained, tiny):
    from squatcli.models import load_model

    clf = load_model(trained)
    data = load_paper_dataset(tiny)
    _, val, test = T.split(data, "subject", 1)
    y_val = metrics.good_labels(data.y[val])
    s_val = metrics.good_scores(clf.predict(data.x[val]))
    op = metrics.youden(y_val, s_val)
    assert clf.threshold == pytest.approx(op.threshold, abs=1e-5)
    assert np.min(np.abs(s_val - clf.threshold)) < 1e-5  # it is one of the validation scores
    md = clf.metadata["validation"]
    assert (md["sensitivity"], md["specificity"]) == pytest.approx((op.sensitivity, op.specificity))


@pytest.mark.slow
def test_threshold_ignores_the_test_split(tiny, monkeypatch):
    """Scrambling every test clip changes nothing in the threshold; Youden is only ever asked about validation."""
    data = load_paper_dataset(tiny)
    _, val, test = T.split(data, "random", 0)
    scrambled = data.subset(np.arange(len(data)))
    scrambled.x = scrambled.x.copy()
    scrambled.x[test] = np.random.default_rng(5).uniform(0, 4, scrambled.x[test].shape).astype(np.float32)
    calls = []
    real = metrics.youden
    monkeypatch.setattr(metrics, "youden", lambda y, s: calls.append(np.asarray(y).copy()) or real(y, s))
    config = T.TrainConfig("cnn", epochs=1, seed=0, split="random", arch={"width": 8, "depth": 1})
    a = T.train(data, config).metadata  # same seed, same split, same training and validation clips
    b = T.train(scrambled, config).metadata
    assert a["threshold"] == pytest.approx(b["threshold"], abs=1e-5)
    assert a["validation"] == pytest.approx(b["validation"], abs=1e-5)
    assert a["data"]["test_fingerprint"] != b["data"]["test_fingerprint"]
    assert calls and all(np.array_equal(c, metrics.good_labels(data.y[val])) for c in calls)


@pytest.mark.slow
def test_interrupt_keeps_the_best_epoch_so_far(tiny):
    import keras

    class StopAtThree(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    data = load_paper_dataset(tiny)
    seen = []
    result = T.train(data, T.TrainConfig("cnn", epochs=50, arch={"width": 8, "depth": 1}),
                     on_epoch=seen.append, callbacks=[StopAtThree()])  # fmt: skip
    assert result.interrupted and result.metadata["training"]["interrupted"]
    assert result.metadata["training"]["epochs_run"] == 3 == len(seen)
    best = max(seen, key=lambda e: (e.val_accuracy, -e.val_loss))
    assert result.metadata["training"]["best_epoch"] == best.epoch
    assert result.metadata["validation"]["accuracy"] == pytest.approx(best.val_accuracy)


@pytest.mark.slow
def test_ctrl_c_on_the_command_line_saves_the_best_model(tiny, tmp_path):
    out = tmp_path / "m"
    env = dict(os.environ, COLUMNS="200")
    proc = subprocess.Popen([*SQUAT, "train", "--data", str(tiny), "--epochs", "500", "--patience", "500",
                             "--width", "8", "--out", str(out)], stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)  # fmt: skip
    lines = []
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if line.startswith("epoch   2/"):
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(lines) + rest
    assert "interrupted after epoch" in rest
    md = json.loads(out.with_suffix(".json").read_text())
    assert md["training"]["interrupted"] and md["training"]["epochs_run"] >= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.keras", "m.onnx"]


@pytest.mark.slow
def test_evaluate_json_on_the_models_test_split(trained, tiny, tmp_path):
    result = run("evaluate", "--model", str(trained), "--data", str(tiny), "--json", "--roc", "-o", str(tmp_path / "figs"))
    doc = json.loads(result.stdout)  # nothing else on stdout
    (m,) = doc["models"]
    md = json.loads(trained.with_suffix(".json").read_text())
    assert m["scope"] == "test split" and m["n"] == md["data"]["n_test"]
    assert m["threshold"] == md["threshold"] and m["stored"]["threshold"] == md["threshold"]
    assert sum(map(sum, m["confusion"])) == m["n"] and len(m["roc_fpr"]) == len(m["roc_tpr"])
    for key in ("accuracy", "kappa", "auc", "per_class", "confusion_normalised", "youden", "stored"):
        assert key in m
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["confusion_cnn.png", "reliability.png", "roc.png"]
    assert (tmp_path / "figs" / "roc.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_evaluate_another_dataset_scores_every_clip(trained, tmp_path):
    other = write_standin_dataset(tmp_path / "other", clips_per_class=3, seed=9, manifest=False)
    m = json.loads(run("evaluate", "--model", str(trained), "--data", str(other), "--json").stdout)["models"][0]
    assert m["scope"] == "whole dataset" and m["n"] == 21


@pytest.mark.slow
def test_lstm_and_the_comparison_of_all_models(trained, tiny, tmp_path, monkeypatch):
    import shutil

    for suffix in (".keras", ".json", ".onnx"):
        shutil.copy(trained.with_suffix(suffix), tmp_path / f"cnn{suffix}")
    run("train", "--model", "lstm", "--data", str(tiny), "--epochs", "1", "--width", "8", "--depth", "1",
        "--downsample", "10", "--split", "subject", "--seed", "1", "--out", str(tmp_path / "lstm"))  # fmt: skip
    monkeypatch.setenv("SQUAT_MODELS_DIR", str(tmp_path))
    result = run("evaluate", "--model", "all", "--data", str(tiny))  # the data is named, not found by a path
    assert "comparison" in result.stdout and "lstm" in result.stdout
    doc = json.loads(run("evaluate", "--model", "all", "--data", str(tiny), "--json").stdout)
    assert [m["model"] for m in doc["models"]] == ["cnn", "lstm"]
    assert doc["models"][1]["kind"] == "lstm" and doc["models"][1]["parameters"] > 0


@pytest.mark.slow
def test_published_layout_without_manifest_trains_with_a_random_split(tmp_path):
    """The dataset as published: class folders (with the 'bad_innner_thigh' typo), 1115_3djoints_index, no manifest."""
    root = write_standin_dataset(tmp_path / "Pose_Dataset", clips_per_class=4, manifest=False)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.json"))
    assert "bad_innner_thigh/1115_3djoints_index/1115_squat_000001.json" in files and len(files) == 28
    data, info = T.load_data(root)
    one = read_paper_json(root / files[0])
    assert np.allclose(data.x[data.ids.index(files[0])], F.fit_window(F.normalise(one)), atol=1e-6)
    result = T.train(data, T.TrainConfig("cnn", epochs=1, arch={"width": 8, "depth": 1}), data_info=info)  # split auto
    assert result.metadata["data"]["n_val"] == 7 and result.metadata["data"]["source"] == "ogata2019"
    assert result.metadata["data"]["split"] == "random" and "test_subjects" not in result.metadata["data"]
    bad = run("train", "--data", str(root), "--split", "subject", "--epochs", "1", ok=False)
    assert bad.exit_code == 1 and "no manifest.csv" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_usage_errors(tmp_path):
    assert run("train", "--model", "svm", ok=False).exit_code == 2
    missing = run("train", "--data", str(tmp_path / "nowhere"), ok=False)
    assert missing.exit_code == 1 and "no such dataset folder" in missing.stderr
    absent = run("evaluate", "--model", str(tmp_path / "nothing"), ok=False)
    assert absent.exit_code == 1 and "no such model metadata" in absent.stderr


# ---- fast: no network is trained ------------------------------------------------------------------------------


def test_auto_split_is_by_subject_only_where_the_data_records_subjects(tmp_path):
    with_subjects = load_paper_dataset(write_standin_dataset(tmp_path / "manifest", clips_per_class=3))
    published = load_paper_dataset(write_standin_dataset(tmp_path / "published", clips_per_class=3, manifest=False))
    assert T.resolve_split("auto", with_subjects) == "subject" and T.resolve_split("auto", published) == "random"
    assert T.resolve_split("random", with_subjects) == "random"
    assert all(np.array_equal(a, b) for a, b in zip(T.split(with_subjects, "auto", 2), T.split(with_subjects, "subject", 2)))
    assert all(np.array_equal(a, b) for a, b in zip(T.split(published, "auto", 2), T.split(published, "random", 2)))
    assert T.TrainConfig().split == "auto"
    with pytest.raises(SquatError, match="unknown split 'people'"):
        T.resolve_split("people", published)


def test_pick_threshold_is_youden_on_the_clips_it_is_given():
    """Youden's J over P(good) (column 0), good vs every fault; another set of clips gives another threshold."""
    val_y = np.array([0, 0, 1, 2, 3])  # two good clips, three faulty ones
    p_good = np.array([0.9, 0.6, 0.7, 0.2, 0.1])
    probs = np.column_stack([p_good, 1 - p_good, np.zeros((5, 5))])
    # thresholds 0.9: sens 1/2, spec 1 (J 0.5); 0.6: sens 1, spec 2/3 (J 0.67); the argmax class plays no part
    op = T.pick_threshold(val_y, probs)
    assert (op.threshold, op.sensitivity, op.specificity) == pytest.approx((0.6, 1.0, 2 / 3))
    test_y, test_good = np.array([0, 0, 4]), np.array([0.95, 0.8, 0.5])
    other = T.pick_threshold(test_y, np.column_stack([test_good, 1 - test_good, np.zeros((3, 5))]))
    assert other.threshold == pytest.approx(0.8) != op.threshold


def test_train_usage_errors_exit_2_and_help_lists_the_choices(tmp_path):
    for args, message in ((["--model", "svm"], "'svm' is not one of 'cnn', 'lstm'"),
                          (["--split", "people"], "'people' is not one of 'auto', 'random', 'subject'"),
                          (["--lr", "0"], "0 is not greater than 0"), (["--lr", "-1e-3"], "greater than 0")):  # fmt: skip
        bad = CliRunner().invoke(app, ["train", "--data", str(tmp_path / "nowhere"), *args], env={"COLUMNS": "200"})
        assert bad.exit_code == 2 and message in bad.stderr, (args, bad.stderr)
    with pytest.raises(SquatError, match="greater than 0"):
        T.TrainConfig("cnn", lr=0.0).resolved()  # never silently replaced by the default
    assert T.TrainConfig("cnn", lr=5e-4).resolved().lr == 5e-4
    helptext = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).stdout
    assert "cnn|lstm" in helptext and "auto|random|subject" in helptext and "default: auto" in helptext
    out_option = [line for line in CliRunner().invoke(app, ["evaluate", "--help"], env={"COLUMNS": "200"}).stdout.splitlines()
                  if "│ --out" in line]  # fmt: skip
    assert len(out_option) == 1 and " -o " in out_option[0]  # -o is an alias of --out, as in train


def test_config_from_options_starts_from_the_paper_and_lets_given_options_override_it():
    spec = T.input_spec("auto", ["synthetic"], paper=True)
    assert spec.window == "clip" and T.input_spec("rep-nofeet", ["synthetic"]).feet is False
    lstm = T.config_from_options("lstm", spec, paper=True, width=64, lr=5e-4, epochs=None, seed=3)
    assert (lstm.epochs, lstm.batch_size, lstm.lr, lstm.patience, lstm.seed) == (250, 128, 5e-4, 50, 3)
    assert lstm.arch["units"] == 64 and lstm.arch["downsample"] == 1  # the paper's LSTM, narrower
    cnn = T.config_from_options("cnn", spec, depth=3)
    assert cnn.epochs == T.TRAIN_DEFAULTS["cnn"]["epochs"] and cnn.arch == {"depth": 3}


def test_made_classes_train_apart_and_their_flags_let_the_share_of_real_good_reps_through():
    """A class only faults made from good reps show is `made`; the network that gives P(good) learns the real rows
    and classes alone (train.real_part); each flag is reached by FLAG_RATE / (made classes) of the real good rows."""
    from squatcli import train as T
    from squatcli.datasets import Dataset

    classes = ("good", "knees_in", "back_round", "knees_forward")
    ids = ["a", "b", "c", "d", "a+back_round", "b+knees_forward", "e"]
    y = np.array([0, 1, 0, 3, 2, 3, 1])
    data = Dataset({"measures": np.arange(7, dtype=np.float32)[:, None]}, y, ids, np.array(list("aabbccd")),
                   classes=classes, ranges=np.tile(np.arange(4, dtype=np.int8), (7, 1)))  # fmt: skip
    assert T.made_classes(data) == ("back_round",)  # knees forward has a real row: not made
    made = np.isin(classes, T.made_classes(data))
    real = T.real_part(data, made)
    assert real.ids == ["a", "b", "c", "d", "e"] and real.classes == ("good", "knees_in", "knees_forward")
    assert real.y.tolist() == [0, 1, 0, 2, 1] and real.ranges[0].tolist() == [0, 1, 3]
    rows = np.zeros((400, 4))
    rows[:, 2] = np.linspace(0.0, 0.99, 400)
    flags = T.made_flags(np.zeros(400, int), rows, made, classes)
    assert list(flags) == ["back_round"] and np.mean(rows[:, 2] >= flags["back_round"]) == pytest.approx(T.FLAG_RATE, abs=0.005)
    assert T.made_flags(np.zeros(400, int), rows, np.zeros(4, bool), classes) == {}
    rows[:390, 2] = 0.0  # ruled out by the measurements in most good reps: the flag stays above 0
    flags = T.made_flags(np.zeros(400, int), rows, made, classes)
    assert flags["back_round"] == T.MIN_FLAG and np.mean(rows[:, 2] >= flags["back_round"]) <= T.FLAG_RATE
