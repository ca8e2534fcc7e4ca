"""Which clips `squat evaluate` scores: a model's own test split of its training data, whether that corpus is
generated in memory or written by `squat synth` and read back; every clip of other data. No network: a stand-in
classifier with the metadata a trained model would carry."""

from __future__ import annotations

import numpy as np
import pytest

from squatcli import evaluation, synth
from squatcli import train as T
from squatcli.datasets import load_paper_dataset
from squatcli.errors import SquatError
from squatcli.skeleton import CLASS_KEYS, N_CLASSES

CORPUS = {"clips_per_class": 3, "subjects": 4, "seed": 1}


class StandIn:
    """What evaluation needs of a `models.Classifier`: name, metadata, threshold, classes, calibration, made classes
    and flags, predict."""

    def __init__(self, metadata: dict):
        self.name, self.metadata, self.threshold = "cnn", metadata, metadata["threshold"]
        self.classes, self.calibration = CLASS_KEYS, (1.0, 0.0)
        self.made, self.flags = np.zeros(N_CLASSES, bool), np.full(N_CLASSES, np.inf)

    def predict(self, x, calibrated: bool = True) -> np.ndarray:
        return np.full((len(x["features"]), N_CLASSES), 1 / N_CLASSES, dtype=np.float32)


def trained_on(data, split: str, seed: int = 5) -> StandIn:
    """A model as `train.train` would describe one trained on the synthetic corpus `data`."""
    _, _, test = T.split(data, split, seed)
    info = {"source": "synthetic", "synthetic": data.source, "synthetic_params": synth.corpus_info(**CORPUS),
            "fingerprint": data.fingerprint(), "split": split, "split_seed": seed,
            "test_fingerprint": data.subset(test).fingerprint()}  # fmt: skip
    return StandIn({"threshold": 0.5, "data": info})


@pytest.fixture(scope="module")
def memory(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("SQUATCLI_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield synth.load_synthetic(**CORPUS)
    mp.undo()


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("written") / "corpus"
    synth.build_corpus(root, **CORPUS, workers=1)
    return root


def test_a_written_corpus_has_the_source_of_the_same_corpus_in_memory(memory, written):
    disk = load_paper_dataset(written)
    assert disk.source == memory.source == f"synthetic(clips_per_class=3, subjects=4, seed=1, v{synth.GENERATOR_VERSION})"
    assert disk.fingerprint() != memory.fingerprint()  # the JSON distances are rounded
    assert disk.ids == memory.ids and list(disk.subjects) == list(memory.subjects)


@pytest.mark.parametrize("split", ["subject", "random"])
def test_the_written_training_corpus_is_scored_on_the_models_test_split(memory, written, split):
    model = trained_on(memory, split)
    disk = load_paper_dataset(written)
    _, _, test = T.split(memory, split, 5)
    subset = T.test_subset(disk, model.metadata)
    assert subset.ids == memory.subset(test).ids and list(subset.subjects) == list(memory.subjects[test])
    result = evaluation.score(model, disk, str(written))
    assert result.scope == "test split" and result.report.n == len(test)
    assert any("test split rebuilt from the clip ids and subjects" in n for n in result.notes)
    assert not any("differs from the one recorded" in n for n in result.notes)
    same = evaluation.score(model, memory, "synthetic")  # the very same windows: no rebuilt-split note
    assert same.scope == "test split" and same.report.n == len(test) and len(same.notes) == 1


def test_whole_on_the_training_data_says_it_includes_training_clips(memory, written):
    model = trained_on(memory, "subject")
    for data in (memory, load_paper_dataset(written)):
        result = evaluation.score(model, data, "x", whole=True)
        assert result.scope == "whole dataset" and result.report.n == len(memory)
        assert result.notes == ["includes the model's training and validation rows"]
    other = synth.load_synthetic(**{**CORPUS, "seed": 2})
    result = evaluation.score(model, other, "other", whole=True)
    assert result.notes == [] and result.scope == "whole dataset"


def test_a_clean_corpus_is_other_data(memory, tmp_path):
    root = tmp_path / "clean"
    synth.build_corpus(root, **CORPUS, noise=False, workers=1)
    clean = load_paper_dataset(root)
    assert clean.source == f"synthetic(clips_per_class=3, subjects=4, seed=1, v{synth.GENERATOR_VERSION}, clean)"
    result = evaluation.score(trained_on(memory, "subject"), clean, str(root))
    assert result.scope == "whole dataset" and result.notes == ["not the data this model was trained on: every row scored"]


def test_an_incomplete_copy_of_the_training_corpus_is_refused(memory, written, tmp_path):
    import shutil

    root = tmp_path / "partial"
    shutil.copytree(written, root)
    next(root.glob("bad_head/*/*.json")).unlink()  # one clip gone: the subject split cannot be reproduced
    partial = load_paper_dataset(root)
    assert partial.source == memory.source
    model = trained_on(memory, "subject")
    with pytest.raises(SquatError, match="test split cannot be rebuilt; pass --whole"):
        evaluation.score(model, partial, str(root))
    assert evaluation.score(model, partial, str(root), whole=True).report.n == len(memory) - 1
