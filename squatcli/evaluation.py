"""Scoring trained classifiers: pick the clips (the model's own test split, or a whole other dataset), predict,
and compute `metrics.Report`s. The CLI's `squat evaluate` renders what this returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from squatcli import metrics
from squatcli.datasets import Dataset
from squatcli.errors import SquatError
from squatcli.skeleton import MODEL_KINDS
from squatcli.train import SYNTHETIC, load_data, test_subset, training_data_match

ALL = "all"


@dataclass
class Evaluation:
    """One model scored on one set of clips."""

    name: str
    classifier: Any  # models.Classifier
    report: metrics.Report
    scope: str  # "test split" or "whole dataset"
    source: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self, with_roc: bool = False) -> dict[str, Any]:
        md = self.classifier.metadata
        training = md.get("training", {})
        return {
            "model": self.name,
            "kind": md.get("kind"),
            "parameters": md.get("parameters"),
            "data": self.source,
            "scope": self.scope,
            "threshold": self.classifier.threshold,
            "training_time_s": training.get("time_s"),
            "epochs_run": training.get("epochs_run"),
            "notes": self.notes,
            **self.report.to_dict(with_roc=with_roc),
        }


def model_names(model: str) -> list[str]:
    """`all` -> the bundled models; anything else (a name or a path) as is."""
    return list(MODEL_KINDS) if model == ALL else [model]


def evaluate_models(
    names: list[str],
    data_spec: str | None = None,
    whole: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[Evaluation]:
    """Score each model on its test split of `data_spec` (default: the data it was trained on).

    If `data_spec` is not the dataset the model was trained on (neither its fingerprint nor, for a synthetic
    corpus, its source matches), or `whole` is set, every clip of it is scored (`score`).
    """
    from squatcli.models import load_model

    classifiers = [load_model(n) for n in names]  # fail fast on a missing model, before loading any data
    cache: dict[str, Dataset] = {}
    results = []
    for clf in classifiers:
        spec = data_spec or clf.metadata.get("data", {}).get("source")
        if not spec:
            raise SquatError(f"model {clf.name} does not record its training data; pass --data")
        if spec not in cache:
            try:
                cache[spec] = load_data(spec, progress=progress)[0]
            except SquatError as e:
                if data_spec is None and spec != SYNTHETIC:
                    raise SquatError(f"model {clf.name} was trained on {spec}, which cannot be read ({e}); "
                                     "pass --data") from None  # fmt: skip
                raise
        results.append(score(clf, cache[spec], spec, whole))
    return results


def score(clf: Any, data: Dataset, source: str, whole: bool = False) -> Evaluation:
    """One classifier on `data`: its own test split if `data` is its training data (unless `whole`), else every clip."""
    match = training_data_match(data, clf.metadata)
    notes: list[str] = []
    subset = None if whole else test_subset(data, clf.metadata, match)
    if subset is not None:
        scope = "test split"
        info = clf.metadata["data"]
        if match == "corpus":
            notes.append(f"the model's training corpus ({data.source}) with other windows than it was trained on "
                         "(e.g. read back from the rounded distances `squat synth` writes): test split rebuilt "
                         "from the clip ids and subjects")  # fmt: skip
        elif subset.fingerprint() != info.get("test_fingerprint"):
            notes.append("the test split differs from the one recorded at training time")
        notes.append(f"{info['split']} split, seed {info['split_seed']}: {len(subset)} clips never used in training")
    else:
        subset, scope = data, "whole dataset"
        if match is not None:
            notes.append("includes the model's training and validation clips")
        elif not whole:
            notes.append("not the data this model was trained on: every clip scored")
    report = metrics.evaluate(subset.y, clf.predict(subset.x), threshold=clf.threshold)
    return Evaluation(clf.name, clf, report, scope, source, notes)
