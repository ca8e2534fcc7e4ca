"""The Keras builders, the Classifier and the model files (no training here: weights are as initialised)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from squatcli.inputs import PAPER_INPUTS
from squatcli import models as M
from squatcli.errors import SquatError
from squatcli.skeleton import CLASS_KEYS, N_CLASSES, N_FEATURES, WINDOW

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
REAL = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "chariar2023"
RNG = np.random.default_rng(0)
MEAN = RNG.uniform(0.5, 2.0, N_FEATURES)
STD = RNG.uniform(0.1, 0.5, N_FEATURES)


def minimal_metadata(kind: str = "cnn") -> dict:
    return {"format": M.METADATA_FORMAT, "version": 1, "name": kind, "kind": kind, "classes": list(CLASS_KEYS),
            "window": WINDOW, "features": {"n": N_FEATURES}, "threshold": 0.42}  # fmt: skip


@pytest.fixture(scope="module")
def small_cnn():
    return M.build("cnn", PAPER_INPUTS, {"features": (MEAN, STD)}, width=16)


def test_paper_configurations_have_the_papers_parameter_counts():
    assert round(M.build("cnn", PAPER_INPUTS, {"features": (MEAN, STD)}, **M.CNN_PAPER).count_params() / 1e6, 2) == 1.46
    assert round(M.build("lstm", PAPER_INPUTS, {"features": (MEAN, STD)}, **M.LSTM_PAPER).count_params() / 1e6, 2) == 2.46


def test_cnn_structure_and_options():
    m = M.build("cnn", PAPER_INPUTS, {"features": (MEAN, STD)}, width=8, depth=3, downsample=2)
    names = [layer.name for layer in m.layers]
    assert "downsample" in names and "block3_add" in names and "block4_add" not in names
    assert sum(n.endswith("_conv") for n in names) == 1 + 3 * 4  # stem + (3 convs + skip) per block
    assert m.get_layer("block1_skip_conv").strides == (2,) and m.get_layer("block1_skip_conv").kernel_size == (1,)
    assert m.get_layer("pool").output.shape[-1] == 8
    assert m.output_shape == (None, N_CLASSES)
    lstm = M.build("lstm", PAPER_INPUTS, {"features": (MEAN, STD)}, units=8, depth=1, downsample=5)
    assert lstm.get_layer("downsample").output.shape[1] == WINDOW // 5
    assert lstm.get_layer("bilstm1").output.shape[-1] == 16


def test_standardisation_lives_inside_the_model(small_cnn):
    x = RNG.uniform(0, 3, (2, WINDOW, N_FEATURES)).astype(np.float32)
    import keras

    front = keras.Model(small_cnn.input, small_cnn.get_layer("standardise").output)
    assert np.allclose(front(x).numpy(), (x - MEAN) / STD, atol=1e-4)


def test_unknown_options_are_errors():
    with pytest.raises(SquatError, match="units"):
        M.architecture("cnn", units=3)
    with pytest.raises(SquatError, match="unknown model"):
        M.build("transformer", PAPER_INPUTS, {"features": (MEAN, STD)})
    with pytest.raises(SquatError, match="unknown model kind 'transformer'"):
        M.architecture("transformer")  # not the LSTM's defaults
    assert M.architecture("lstm", units=8) == {"kind": "lstm", **M.LSTM_DEFAULTS, "units": 8}


def test_model_kinds_are_defined_once():
    from squatcli import evaluation, skeleton
    from squatcli import train as T

    assert M.MODEL_KINDS is skeleton.MODEL_KINDS == ("cnn", "lstm")
    assert evaluation.model_names("all") == list(skeleton.MODEL_KINDS) and set(T.TRAIN_DEFAULTS) == set(M.MODEL_KINDS)


def test_classifier_predicts_probabilities_fast(small_cnn):
    clf = M.Classifier(small_cnn, minimal_metadata())
    x = RNG.uniform(0, 3, (5, WINDOW, N_FEATURES)).astype(np.float32)
    p = clf.predict(x)
    assert p.shape == (5, N_CLASSES) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert np.allclose(clf.predict(x[:1]), p[:1], atol=1e-5)  # batch-independent
    assert np.allclose(clf.predict(x, batch_size=2), p, atol=1e-5)
    assert clf.predict(x[:0]).shape == (0, N_CLASSES)
    assert clf.threshold == 0.42
    times = []
    for _ in range(20):
        t = time.perf_counter()
        clf.predict(x[:1])
        times.append(time.perf_counter() - t)
    assert np.median(times) < 0.02  # one window in < 20 ms through the traced function
    with pytest.raises(ValueError, match="shape"):
        clf.predict(np.zeros((1, 100, N_FEATURES)))


def test_save_and_load_round_trip(tmp_path, small_cnn):
    files = M.save_model(small_cnn, minimal_metadata() | {"extra": np.float32(1.5)}, tmp_path / "m.keras")
    assert [f.name for f in files] == ["m.keras", "m.json", "m.onnx"] and files.onnx == tmp_path / "m.onnx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.keras", "m.onnx"]  # no temporary files left
    x = RNG.uniform(0, 3, (3, WINDOW, N_FEATURES)).astype(np.float32)
    for spec in (tmp_path / "m", tmp_path / "m.keras", str(tmp_path / "m.json"), tmp_path / "m.onnx"):
        clf = M.load_model(spec)
        assert clf.name == "cnn" and clf.metadata["extra"] == 1.5
        assert type(clf.model).__name__ == "InferenceSession"  # ONNX Runtime, not Keras
        assert np.allclose(clf.predict(x), M.Classifier(small_cnn, {}).predict(x), atol=1e-6)
    assert json.loads(files.json.read_text())["weights"]["onnx_sha256"] == hashlib.sha256(files.onnx.read_bytes()).hexdigest()
    assert M.load_keras(tmp_path / "m").count_params() == small_cnn.count_params()


def test_the_onnx_graph_is_self_contained_and_reads_the_models_inputs(tmp_path):
    """Normalization statistics are folded into the graph (tf2onnx makes them extra inputs); inputs keep the
    model's names, the output is `probabilities`, and the same model exports to the same bytes."""
    import onnx

    from squatcli import export
    from squatcli.inputs import rep_inputs

    spec = rep_inputs(feet=True)
    stats = {k: (RNG.uniform(-1, 1, shape[-1]), RNG.uniform(0.5, 2, shape[-1])) for k, shape in spec.shapes().items()}
    model = M.build("lstm", spec, stats, n_classes=4, units=4, depth=1)
    graph = export.onnx_graph(model, spec)
    proto = onnx.load_from_string(graph)
    assert [i.name for i in proto.graph.input] == ["frames", "measures"]
    assert [o.name for o in proto.graph.output] == ["probabilities"]
    assert {n.op_type for n in proto.graph.node} >= {"LSTM", "Softmax"}
    assert export.onnx_graph(model, spec) == graph
    x = {k: np.nan_to_num(v) for k, v in export.sample_inputs(spec).items()}
    onnx_probs = M.onnx_session(graph).run(None, x)[0]
    np.testing.assert_allclose(onnx_probs, model(x, training=False).numpy(), atol=1e-5)


def test_a_joined_network_reads_real_classes_from_one_and_made_classes_from_the_other(tmp_path):
    """models.joined: good and the real faults come from the network that learned the real rows alone, the made
    classes from the one that learned every row; it saves, reloads and exports to ONNX with the same outputs."""
    from squatcli import export
    from squatcli.inputs import rep_inputs

    spec = rep_inputs(feet=True)
    stats = {k: (RNG.uniform(-1, 1, shape[-1]), RNG.uniform(0.5, 2, shape[-1])) for k, shape in spec.shapes().items()}
    made = np.array([False, False, True, False, True])
    real, full = M.build("cnn", spec, stats, n_classes=3, width=4), M.build("cnn", spec, stats, n_classes=5, width=4)
    model = M.joined(real, full, made)
    x = {k: RNG.uniform(-1, 1, (4, *shape)).astype(np.float32) for k, shape in spec.shapes().items()}
    p = model(x, training=False).numpy()
    np.testing.assert_allclose(p[:, ~made], real(x, training=False).numpy(), atol=1e-6)
    np.testing.assert_allclose(p[:, made], full(x, training=False).numpy()[:, made], atol=1e-6)
    assert model.count_params() == real.count_params() + full.count_params() + 8 * 5  # the 0/1 column picker
    model.save(tmp_path / "j.keras")
    import keras

    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "j.keras", compile=False)(x, training=False).numpy(), p, atol=1e-6)
    np.testing.assert_allclose(M.onnx_session(export.onnx_graph(model, spec)).run(None, x)[0], p, atol=1e-5)


def test_inputs_synthetic_clips_cannot_give_are_checked_on_noise(monkeypatch):
    from squatcli import export, inputs
    from squatcli.inputs import rep_inputs

    def cannot(*args, **kwargs):
        raise ValueError("a kind of input the synthetic clips lack")

    monkeypatch.setattr(inputs, "compute", cannot)
    export._sample_inputs.cache_clear()  # computed once per spec in a process: not from the real inputs here
    try:
        x = export.sample_inputs(rep_inputs(feet=True))
    finally:
        export._sample_inputs.cache_clear()
    assert {k: v.shape[1:] for k, v in x.items()} == rep_inputs(feet=True).shapes() and len(x["frames"]) == 16
    assert all(np.isfinite(v).all() for v in x.values())


def test_broken_model_files_are_one_line_errors(tmp_path, small_cnn):
    with pytest.raises(SquatError, match="no such model metadata"):
        M.load_model(tmp_path / "absent")
    M.save_model(small_cnn, minimal_metadata(), tmp_path / "m")
    good = (tmp_path / "m.onnx").read_bytes()
    (tmp_path / "m.onnx").write_bytes(good[:-10])
    with pytest.raises(SquatError, match=r"m.onnx: does not belong with m.json: its sha256 is not the one .*; `squat export .*/m` writes it again from m.keras"):
        M.load_model(tmp_path / "m")
    metadata = json.loads((tmp_path / "m.json").read_text())
    (tmp_path / "m.json").write_text(json.dumps(metadata | {"weights": {}}))  # no fingerprint: ONNX Runtime says
    with pytest.raises(SquatError, match=r"m.onnx: not a readable ONNX model \(\w+"):
        M.load_model(tmp_path / "m")
    (tmp_path / "m.onnx").unlink()
    with pytest.raises(SquatError, match=r"m.onnx: no such model file \(write it from m.keras with `squat export"):
        M.load_model(tmp_path / "m")
    (tmp_path / "m.keras").write_bytes(b"not a zip file")
    with pytest.raises(SquatError, match="m.keras: not a readable Keras model"):
        M.load_keras(tmp_path / "m")
    (tmp_path / "m.keras").unlink()
    with pytest.raises(SquatError, match="no such model file"):
        M.load_keras(tmp_path / "m")
    M.save_model(small_cnn, minimal_metadata(), tmp_path / "m")
    (tmp_path / "m.json").write_text("{broken")
    with pytest.raises(SquatError, match="not valid JSON"):
        M.load_model(tmp_path / "m")
    (tmp_path / "m.json").write_text(json.dumps(minimal_metadata() | {"classes": ["a", "b"]}))
    with pytest.raises(SquatError, match="trained for classes"):
        M.load_model(tmp_path / "m")
    (tmp_path / "m.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(SquatError, match="not squatcli model metadata"):
        M.load_model(tmp_path / "m")
    (tmp_path / "m.json").write_text(json.dumps(minimal_metadata() | {"inputs": PAPER_INPUTS.to_dict(), "classes": list(CLASS_KEYS[:4])}))
    with pytest.raises(SquatError, match=r"m.onnx: model maps .* -> \[\(7,\)\], but its metadata says .* -> \(4,\)"):
        M.load_model(tmp_path / "m")


def test_bundled_names_resolve_through_the_models_dirs(tmp_path, monkeypatch, small_cnn):
    monkeypatch.setenv("SQUAT_MODELS_DIR", str(tmp_path))
    M.save_model(small_cnn, minimal_metadata("lstm"), tmp_path / "lstm")
    assert M.model_paths("lstm")[0] == tmp_path / "lstm.keras"
    assert M.load_model("lstm").name == "lstm"
    assert M.models_dirs()[1] == MODELS_DIR
    # a wheel installs models/ as the package squatcli.bundled_models (pyproject.toml): looked in last
    assert M.models_dirs()[-1] == Path(M.__file__).resolve().parent / "bundled_models"


def test_missing_bundled_model_is_a_clear_error(tmp_path, monkeypatch):
    from squatcli import modelfiles

    monkeypatch.setattr(modelfiles, "models_dirs", lambda: [tmp_path])
    with pytest.raises(SquatError, match="no bundled cnn model"):
        M.load_model("cnn")


@pytest.mark.parametrize("name", M.bundled_names())
def test_bundled_models_load_with_complete_metadata(name):
    clf = M.load_model(name)  # committed in models/: missing ones fail here
    md = clf.metadata
    kind = name.split("-")[0]
    assert clf.name == name and md["kind"] == kind and 0 < clf.threshold < 1
    assert md["command"].startswith(f"squat train --model {kind} ") and md["data"]["split"] == "subject"
    for key in ("fingerprint", "n_train", "n_val", "n_test", "test_subjects", "val_subjects"):
        assert key in md["data"]
    for key in ("time_s", "best_epoch", "epochs_run", "seed", "lr", "batch_size"):
        assert key in md["training"]
    assert set(md["validation"]) >= {"accuracy", "auc", "sensitivity", "specificity"}
    if name.endswith("-distances"):  # the paper's road, on the synthetic corpus
        assert clf.inputs == PAPER_INPUTS and md["data"]["source"] == "synthetic" and md["classes"] == list(CLASS_KEYS)
        assert len(md["features"]["standardisation"]["mean"]) == N_FEATURES
    else:  # rep models, learned from the real reps, calibrated on cross-fitted predictions
        assert clf.inputs.window == "rep" and clf.inputs.feet == (not name.endswith("-nofeet"))
        assert md["data"]["real"].endswith("chariar2023") and md["data"]["real_citation"].startswith("M. Chariar")
        assert md["training"]["crossfit_folds"] == 5 and md["calibration"]["a"] > 0
        assert all(g.startswith("real:") for g in md["data"]["test_subjects"])
    one = {k: np.ones((1, *shape), np.float32) for k, shape in clf.inputs.shapes().items()}
    assert clf.predict(one).shape == (1, len(md["classes"]))


@pytest.mark.parametrize("name", M.bundled_names())
def test_bundled_models_give_keras_probabilities_through_onnx_runtime(name):
    """What assess runs (the .onnx through ONNX Runtime) is what was trained (the .keras through Keras)."""
    from squatcli.export import sample_inputs

    clf = M.load_model(name)
    keras_clf = M.Classifier(M.load_keras(name), clf.metadata)
    x = sample_inputs(clf.inputs)
    n = len(next(iter(x.values())))
    assert n >= 5
    raw = clf.predict(x, calibrated=False)
    assert raw.shape == (n, len(clf.classes)) and raw.std(axis=0).max() > 0.05  # inputs that move the output
    np.testing.assert_allclose(raw, keras_clf.predict(x, calibrated=False), rtol=0, atol=1e-5)
    np.testing.assert_allclose(clf.predict(x), keras_clf.predict(x), rtol=0, atol=1e-5)


def test_cli_help_does_not_import_tensorflow():
    code = "import sys, squatcli.cli, squatcli.metrics, squatcli.evaluation, squatcli.train, squatcli.report.figures; " \
           "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_bundled_models_score_the_figures_in_the_model_card():
    """models/README.md's table of held-out figures is what `squat evaluate` measures: the distance models on their
    synthetic test people, and the rep models on their held-out real recording dates (when the real reps are here)."""
    import re

    from squatcli.evaluation import evaluate_models

    card = (MODELS_DIR / "README.md").read_text(encoding="utf-8")
    rows = {m[0]: tuple(map(float, m[1:])) for m in
            re.findall(r"^\| `([a-z-]+)` \| held-out \S+ \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) / ([0-9.]+) \|", card, re.M)}  # fmt: skip
    assert set(rows) == set(M.bundled_names()), "models/README.md has lost its table of held-out figures"
    results = evaluate_models([n for n in M.bundled_names() if n.endswith("-distances")])
    if REAL.is_dir():  # the rep models learned from the real reps: read from here, wherever they were trained
        results += evaluate_models([n for n in M.bundled_names() if not n.endswith("-distances")], [str(REAL)])
    for r in results:  # a rep model that learned made faults scores the real reps of the dates it never saw
        held_out = ("test split",) if r.name.endswith("-distances") else ("test split", "unseen groups")
        assert r.scope in held_out, f"the data changed since {r.name} was trained: retrain (models/README.md)"
        got = (r.report.accuracy, r.report.auc, r.report.stored.sensitivity, r.report.stored.specificity)
        assert got == pytest.approx(rows[r.name], abs=0.0015), r.name
