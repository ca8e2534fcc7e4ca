"""Scoring trained classifiers: pick the clips (the model's own test split, or a whole other dataset), predict,
and compute `metrics.Report`s. The CLI's `squat evaluate` renders what this returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from squatcli import metrics
from squatcli.datasets import Dataset
from squatcli.errors import SquatError
from squatcli.skeleton import MODEL_KINDS
from squatcli.train import SYNTHETIC, load_data, test_subset, training_data_match  # noqa: F401

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
    rows: str = "rows"  # what a row is, in words: "reps" (rep models) or "clips" (clip models)

    def to_dict(self, with_roc: bool = False) -> dict[str, Any]:
        md = {} if self.classifier is None else self.classifier.metadata
        training = md.get("training", {})
        return {
            "model": self.name,
            "kind": md.get("kind"),
            "parameters": md.get("parameters"),
            "data": self.source,
            "scope": self.scope,
            "threshold": None if self.classifier is None else self.classifier.threshold,
            "training_time_s": training.get("time_s"),
            "epochs_run": training.get("epochs_run"),
            "notes": self.notes,
            **self.report.to_dict(with_roc=with_roc),
        }


def model_names(model: str) -> list[str]:
    """`all` -> the bundled models; anything else (a name or a path) as is."""
    return list(MODEL_KINDS) if model == ALL else [model]


def model_for(name: str, data_spec: str | list[str] | None) -> str:
    """The model to score on `data_spec`: for a bundled kind (`cnn`, `lstm`) the first of its bundled family
    (models.BUNDLED) whose inputs that data can give, e.g. `cnn-distances` on the paper's dataset; otherwise
    `name` itself."""
    from squatcli.modelfiles import BUNDLED, model_paths, read_metadata, spec_of
    from squatcli.train import unreadable

    if data_spec is None or name not in BUNDLED:
        return name
    specs = [data_spec] if isinstance(data_spec, str) else list(data_spec)
    for candidate in BUNDLED[name]:
        try:
            inputs = spec_of(read_metadata(model_paths(candidate).json))
        except SquatError:  # not bundled here: the next one, or `name` itself to say why
            continue
        if not any(unreadable(s, inputs) for s in specs):
            return candidate
    return name


def evaluate_models(
    names: list[str],
    data_spec: str | list[str] | None = None,
    whole: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[Evaluation]:
    """Score each model on `data_spec` (default: the data it was trained on, where squatcli can make it: the
    synthetic corpus), read as that model's inputs.

    Only what the model never trained or validated on is scored (`score`): its own test split of its training
    data, or the rows of other data whose groups it never saw; `whole` scores every row. Every model's files and
    every data folder are checked before any model loads (modelfiles.check_model, datasets.check_data_spec).
    """
    from squatcli.datasets import check_data_spec
    from squatcli.modelfiles import check_model

    given = None if data_spec is None else ([data_spec] if isinstance(data_spec, str) else list(data_spec))
    plans = []
    for name in names:
        chosen = model_for(name, given)
        metadata = check_model(chosen)[1]
        plans.append((chosen, given or training_data(metadata, str(metadata.get("name") or chosen))))
    for spec in given or []:
        check_data_spec(spec)
    from squatcli.models import load_model

    classifiers = [(load_model(chosen), specs) for chosen, specs in plans]  # fail fast, before loading any data
    cache: dict[tuple, Dataset] = {}
    results = []
    for clf, specs in classifiers:
        key = (tuple(specs), clf.inputs)
        if key not in cache:
            cache[key] = load_data(specs, clf.inputs, progress=progress)[0]
        results.append(score(clf, cache[key], " + ".join(specs), whole))
    return results


def training_data(metadata: dict[str, Any], name: str) -> list[str]:
    """The data specs to score a model on without --data: the data it was trained on, where squatcli makes it
    itself (the synthetic corpus of the parameters the model records); otherwise a SquatError saying which data
    the model needs and how to pass it."""
    from squatcli.modelfiles import spec_of
    from squatcli.train import synthetic_params

    info = metadata.get("data", {})
    sources = info.get("sources") or ([info["source"]] if info.get("source") else [])
    if not sources:
        raise SquatError(f"model {name} does not record its training data; pass it with --data DIR")
    if sources == [SYNTHETIC] and info.get("synthetic_params") == synthetic_params(spec_of(metadata)):
        return [SYNTHETIC]
    needs = "; and ".join(dict.fromkeys(_needed(source, info) for source in sources))
    raise SquatError(f"model {name} was trained on {needs}")


def _needed(source: str, info: dict[str, Any]) -> str:
    """Which data a model's training source is, in words, and how to pass it to `squat evaluate`."""
    from squatcli.datasets import DATA_NEEDED

    fingerprints = [d.get("fingerprint") for d in info.get("datasets", []) if d.get("name") == source]
    if "datasets" not in info and len(info.get("sources", [])) == 1:  # before `datasets`: the data's own
        fingerprints = [info.get("fingerprint")]
    said = f" (fingerprint {', '.join(map(str, fingerprints))})" if any(fingerprints) else ""
    if source in DATA_NEEDED:
        return f"{source}{said}: {DATA_NEEDED[source]}"
    if source == SYNTHETIC:
        p = info.get("synthetic_params") or {}
        return (f"a synthetic corpus{said} other than the one squatcli generates by default: write it with `squat "
                f"synth --out DIR -n {p.get('clips_per_class')} -s {p.get('subjects')} --seed {p.get('seed')}"
                f"{'' if p.get('noise', True) else ' --clean'}` (generator v{p.get('generator_version')}) and pass "
                "--data DIR")  # fmt: skip
    return (f"the data at {source}, a path on the machine that trained it (metadata from before squatcli named its "
            "data): pass that data with --data DIR")  # fmt: skip


def score(clf: Any, data: Dataset, source: str, whole: bool = False) -> Evaluation:
    """One classifier on `data`: its own test split if `data` is its training data; otherwise the rows whose
    groups (subjects, sessions) it neither trained nor validated on, refusing when there are none; every row
    with `whole`. Rows of classes the model does not predict are left out (noted)."""
    from squatcli.train import group_origin

    match = training_data_match(data, clf.metadata)
    notes: list[str] = []
    subset = None if whole else test_subset(data, clf.metadata, match)
    info = clf.metadata.get("data", {})
    if subset is not None:
        scope = "test split"
        if match == "corpus":
            notes.append(f"the model's training corpus ({data.source}) with other windows than it was trained on "
                         "(e.g. read back from the rounded distances `squat synth` writes): test split rebuilt "
                         "from the clip ids and subjects")  # fmt: skip
        elif subset.fingerprint() != info.get("test_fingerprint"):
            notes.append("the test split differs from the one recorded at training time")
        notes.append(f"{info['split']} split, seed {info['split_seed']}: {len(subset)} rows never used in training")
    else:
        subset, scope = data, "whole dataset"
        seen = set(info.get("train_subjects", [])) | set(info.get("val_subjects", []))
        if match is not None:
            notes.append("includes the model's training and validation rows")
        elif not whole and seen and data.subjects is not None:
            unseen = ~np.isin(group_origin(data), sorted(seen))
            if not unseen.any():
                raise SquatError(f"model {clf.name} trained or validated on every subject or session of this data, so "
                                 "its figures here would not be held out; score its recipe with `squat evaluate "
                                 "--cv`, or pass --whole to score it anyway")  # fmt: skip
            if not unseen.all():
                notes.append(f"{int((~unseen).sum())} rows of subjects or sessions the model trained or validated on "
                             "left out")  # fmt: skip
            subset, scope = data.subset(np.flatnonzero(unseen)), "unseen groups"
            notes.append(f"{len(np.unique(subset.subjects))} subjects or sessions the model never saw")
        elif not whole:
            notes.append("not the data this model was trained on: every row scored")
    subset, y = _in_model_classes(subset, clf.classes, notes)
    probs = predict(clf, subset)
    report = metrics.evaluate(y, probs, threshold=clf.threshold, classes=clf.classes)
    sens, spec = metrics.called_rates(metrics.good_labels(y).astype(bool), called_good(clf, subset, probs))
    report.stored = metrics.OperatingPoint(clf.threshold, sens, spec)  # the verdict `squat assess` gives
    report.balanced_accuracy = float(np.nanmean([sens, spec]))
    from squatcli.modelfiles import spec_of

    return Evaluation(clf.name, clf, report, scope, source, notes, rows_of(spec_of(clf.metadata)))


def rows_of(inputs: Any) -> str:
    """What a model's rows are, in words, for tables and figures: "reps" or "clips" (an inputs.InputSpec)."""
    return "reps" if inputs.window == "rep" else "clips"


def ranges_for(data: Dataset, classes: tuple[str, ...]) -> np.ndarray | None:
    """`data.ranges` with its columns in the order of `classes` (0 for a class the data lacks), or None."""
    if data.ranges is None:
        return None
    zero = np.zeros(len(data), np.int8)
    return np.stack([data.ranges[:, data.classes.index(c)] if c in data.classes else zero for c in classes], axis=1)


def predict(clf: Any, data: Dataset) -> np.ndarray:
    """(N, K) a classifier's probabilities of `data`'s rows as `squat assess` gives them (assess.judged): the faults
    each row's measurements rule out (`data.ranges`) removed when the model does so; K = its classes."""
    from squatcli.assess import judged

    return judged(clf, data.inputs, ranges_for(data, clf.classes))


def called_good(clf: Any, data: Dataset, probs: np.ndarray) -> np.ndarray:
    """(N,) whether `squat assess` calls each row of `data` good (assess.verdict) from its probabilities (`predict`):
    P(good) at the threshold or above and, when the model reads measurements so, no fault they confirm, of its
    classes or of those it judges by measurement alone (assess.measured_only), nor a made class's flag reached
    where the row's camera (`data.yaw`) can show it."""
    from squatcli.assess import confirmed_by, measured_only, verdict
    from squatcli.camera import folded_yaw
    from squatcli.reps import unseen_indices

    extra = measured_only(clf)
    ranges = ranges_for(data, clf.classes + extra)
    flags = clf.flags
    yaw = data.yaw if data.yaw is not None and flags is not None else np.full(len(probs), np.nan)
    hidden = [unseen_indices(clf.classes, folded_yaw(a)) for a in yaw]
    return np.array([verdict(p, clf.threshold, h, confirmed_by(clf, r), len(extra), flags)[0] for p, r, h in
                     zip(probs, ranges if ranges is not None else [None] * len(probs), hidden)])  # fmt: skip


def _in_model_classes(data: Dataset, classes: tuple[str, ...], notes: list[str]) -> tuple[Dataset, np.ndarray]:
    """The rows of classes the model predicts, with their labels as indices into the model's classes."""
    known = np.array([data.classes[i] in classes for i in data.y], dtype=bool)
    if not known.all():
        others = sorted({data.classes[i] for i in data.y[~known]})
        notes.append(f"{int((~known).sum())} rows of classes the model does not predict ({', '.join(others)}) left out")
        data = data.subset(np.flatnonzero(known))
    return data, np.array([classes.index(data.classes[i]) for i in data.y], dtype=np.int64)


# ---- cross-validation by group --------------------------------------------------------------------------------


CV_VALIDATION = 0.2  # share of each fold's training groups kept apart to pick its epoch, calibration and threshold


@dataclass
class CrossValidation:
    """A training recipe scored on groups (recording sessions, people) it never saw: every group of `origin` is held
    out once; each fold trains on the rest (validation groups drawn from the rest pick the epoch, calibration and
    threshold) and predicts the held-out rows. `report` pools the held-out predictions; its `stored` operating
    point and balanced accuracy apply each fold's own validation threshold to its held-out rows."""

    report: metrics.Report
    folds: list[dict[str, Any]]
    y: Any  # (N,) held-out rows' labels
    probs: Any  # (N, K) their calibrated probabilities
    called_good: Any  # (N,) P(good) >= that fold's threshold
    groups: Any  # (N,) their groups
    classes: tuple[str, ...]
    seconds: float
    variants: dict[str, Any] = field(default_factory=dict)  # name -> (probs, called_good) of the variant's rows
    rows: Any = None  # (N,) index into the data of each held-out row, in the order of `y`
    others: dict[str, Any] = field(default_factory=dict)  # name -> (rows, probs, called_good) of `others` data

    def flags_of(self, groups: np.ndarray) -> np.ndarray:
        """(N, K) the flags (models.Classifier.flags; inf: none) of the fold that held out each of `groups`."""
        by_group = {g: np.array([f["flags"].get(c, np.inf) for c in self.classes]) for f in self.folds for g in f["held_out"]}
        return np.stack([by_group[str(g)] for g in groups]) if len(groups) else np.zeros((0, len(self.classes)))

    def to_dict(self) -> dict[str, Any]:
        return {"scope": "cross-validation by group", "folds": self.folds, "seconds": round(self.seconds, 1),
                **self.report.to_dict(with_roc=True)}  # fmt: skip


def cross_validation_evaluation(result: CrossValidation, config: Any, source: str) -> Evaluation:
    """A cross-validation of a recipe (train.TrainConfig) as an Evaluation, for the tables and figures of
    `squat evaluate --cv`: named by model and inputs, one note per fold."""
    spec = config.inputs
    name = f"{config.model} ({spec.window} inputs{', feet' if spec.feet else ''})"
    notes = [f"held out: {', '.join(f['held_out'])} ({f['n']} rows, threshold {f['threshold']:.2f})" for f in result.folds]
    return Evaluation(name, None, result.report, f"cross-validation, {len(result.folds)} folds by group", source, notes,
                      rows_of(spec))  # fmt: skip


def group_folds(data: Dataset, folds: int | None, seed: int, origin: str = "real") -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The folds of `cross_validate`: (held-out groups, their rows, the other rows) per fold. The groups of `origin`
    rows (all rows when none has that origin) are dealt into `folds` folds (None: one per group) in an order seeded
    by `seed`; every `origin` row of a held-out group is held out, a fault made from a real good rep too (it keeps its
    rep's group), so nothing of a held-out date trains; rows of other origins are never held out."""
    if data.subjects is None:
        raise SquatError("cross-validation by group needs data that records subjects or sessions")
    held = np.flatnonzero(data.origin == origin) if data.origin is not None else np.arange(len(data))
    held = held if len(held) else np.arange(len(data))
    groups = np.unique(data.subjects[held].astype(str))
    order = np.random.default_rng(seed).permutation(groups)
    n_folds = len(groups) if folds is None else min(int(folds), len(groups))
    if n_folds < 2:
        raise SquatError(f"cross-validation needs at least 2 groups, this data has {len(groups)}")
    out = []
    for k in range(n_folds):
        test_groups = order[k::n_folds]
        test = held[np.isin(data.subjects[held].astype(str), test_groups)]
        out.append((test_groups, test, np.setdiff1d(np.arange(len(data)), test)))
    return out


def cross_validate(
    data: Dataset,
    config: Any,  # train.TrainConfig
    folds: int | None = None,
    origin: str = "real",
    on_fold: Callable[[int, int, dict], None] | None = None,
    variants: dict[str, Dataset] | None = None,
    others: dict[str, Dataset] | None = None,
) -> CrossValidation:
    """Cross-validate `config` on `data` by group: the groups of `origin` rows (all rows when no row has that
    origin) are dealt into `folds` folds (None: one group per fold, leave-one-group-out) in a seeded order; rows
    of other origins (the synthetic corpus) are never held out and train in every fold, except the validation
    people drawn from them. `on_fold(done, total, fold_summary)` reports progress. `variants`: the same rows
    with other inputs (as the ring of cameras sees them, from another skeleton or frame rate), also scored by each
    fold's model on its held-out rows. `others`: other rows with the same inputs and groups (the real reps, when
    the data replaced a real fault by its transform), of which each fold's model scores those of its held-out
    groups: (rows, probabilities in `data`'s class order, called good) per name in `CrossValidation.others`."""
    import time

    from squatcli.datasets import split_by_group
    from squatcli.models import Classifier
    from squatcli.train import train

    t0 = time.perf_counter()
    good_rows = data.y == data.classes.index("good")
    rows, probs, called, summaries = [], [], [], []
    variants = variants or {}
    if any(len(v) != len(data) or not np.array_equal(v.y, data.y) for v in variants.values()):
        raise ValueError("a variant must hold the same rows as the data")
    seen: dict[str, list[tuple]] = {name: [] for name in variants}
    elsewhere: dict[str, list[tuple]] = {name: [] for name in others or {}}
    dealt = group_folds(data, folds, config.seed, origin)
    n_folds = len(dealt)
    for k, (test_groups, test, rest) in enumerate(dealt):
        sub = data.subset(rest)
        tr, va, _ = split_by_group(sub.subjects, good_rows[rest], config.seed + k, (1 - CV_VALIDATION, CV_VALIDATION, 0.0),
                                   sub.origin)  # fmt: skip
        result = train(data, config, indices=(rest[tr], rest[va], test))
        clf = Classifier(result.model, result.metadata)
        columns = [list(result.metadata["classes"]).index(c) for c in data.classes]  # in the data's class order
        held_rows = data.subset(test)
        model_probs = predict(clf, held_rows)
        p = model_probs[:, columns]
        for name, variant in variants.items():
            variant_probs = predict(clf, variant.subset(test))
            seen[name].append((variant_probs[:, columns], called_good(clf, variant.subset(test), variant_probs)))
        for name, other in (others or {}).items():
            mine = np.flatnonzero(np.isin(other.subjects.astype(str), test_groups))
            probs_other = predict(clf, other.subset(mine))
            elsewhere[name].append((mine, probs_other[:, columns], called_good(clf, other.subset(mine), probs_other)))
        rows.append(test)
        probs.append(p)
        called.append(called_good(clf, held_rows, model_probs))
        y_good = metrics.good_labels(data.y[test])
        summary = {"held_out": [str(g) for g in test_groups], "n": int(len(test)), "good": int(y_good.sum()),
                   "threshold": round(clf.threshold, 4), "calibration": [round(v, 4) for v in clf.calibration],
                   "auc": metrics.auc(y_good, p[:, 0]), "epochs": result.metadata["training"]["best_epoch"],
                   "flags": result.metadata.get("flags", {})}  # fmt: skip
        summaries.append(summary)
        if on_fold:
            on_fold(k + 1, n_folds, summary)
    idx = np.concatenate(rows)
    probs_all, called_all = np.concatenate(probs), np.concatenate(called)
    y = data.y[idx]
    report = metrics.evaluate(y, probs_all, classes=data.classes)
    y_good = metrics.good_labels(y).astype(bool)
    sens, spec = metrics.called_rates(y_good, called_all)
    report.stored = metrics.OperatingPoint(float(np.median([f["threshold"] for f in summaries])), sens, spec)
    report.balanced_accuracy = float(np.nanmean([sens, spec]))
    by_view = {v: tuple(np.concatenate(part) for part in zip(*parts)) for v, parts in seen.items()}
    scored_others = {name: tuple(np.concatenate(part) for part in zip(*parts)) for name, parts in elsewhere.items()}
    return CrossValidation(report, summaries, y, probs_all, called_all, data.subjects[idx], data.classes,
                           time.perf_counter() - t0, by_view, idx, scored_others)  # fmt: skip
