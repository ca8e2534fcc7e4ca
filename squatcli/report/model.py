"""The report of one assessment: one typed story from the verdict to the numbers behind it, that every view (terminal,
JSON, HTML, annotated video) shows. Pure and plain data (numbers, strings, numpy arrays), so a worker process can
build it and hand it back.

Its rules (tests/test_report.py pins them):
* a named fault always comes with the measurements that show it (`reps.FAULT_MEASURES`) and their ranges;
* a measurement outside its documented range always comes with the verdict's account of it;
* faults the camera's view cannot show are marked as not judged wherever probabilities are shown;
* no cue claims what was not measured (the good cue names only what was measured and found in range).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from squatcli import reps as R
from squatcli.skeleton import ALL_CLASSES, FPS, squat_class

# How to film (README "How to film yourself"): said in the output when the view or the framing limits the judgement.
FILMING = "at hip height, 3-4 m away, the whole body (feet included) in the picture"
SMALL_IN_PICTURE = 0.35  # a person filling less of the picture's height than this is too far away to measure well
CURVES = ("knee_angle", "hip_height", "trunk_lean")  # the per-frame signals a report plots (reps.frame_signals)


@dataclass(frozen=True)
class Metric:
    """How a rep measurement (reps.MEASUREMENTS) is shown: a short column header, words, format and unit."""

    header: str
    label: str
    spec: str = ".2f"
    unit: str = ""

    def text(self, value: float | None) -> str:
        """The value with its unit ("" when not measured: nothing is printed for what was not measured)."""
        return "" if value is None else f"{format(value, self.spec)}{self.unit}"


METRICS: dict[str, Metric] = {
    "depth": Metric("depth", "depth: hip above knee at the bottom, in thigh lengths", "+.2f"),
    "min_knee_angle": Metric("knee", "smallest knee angle", ".0f", "°"),
    "knee_ankle_width_ratio": Metric("k/a", "knee/ankle width at the bottom", ".2f"),
    "max_trunk_lean": Metric("lean", "largest trunk lean", ".0f", "°"),
    "head_angle": Metric("head", "largest neck extension", ".0f", "°"),
    "min_knee_ankle_width": Metric("k/a min", "smallest knee/ankle width", ".2f"),
    "trunk_lean": Metric("lean bot", "trunk lean at the bottom", ".0f", "°"),
    "max_head_pitch": Metric("head p", "largest head pitch", ".0f", "°"),
    "trunk_chord": Metric("chord", "hip-neck distance at the bottom against standing", ".2f"),
    "max_shank_angle": Metric("shank", "largest shank tilt (knees forward)", ".0f", "°"),
    "max_heel_lift": Metric("heel", "largest heel lift (shank lengths)", ".2f"),
    "max_toe_lift": Metric("toe", "largest toe lift (shank lengths)", ".2f"),
    "min_foot_pitch": Metric("foot", "smallest foot pitch change", ".0f", "°"),
}
TABLE_METRICS: tuple[str, ...] = tuple(r.metric for r in R.RANGES)  # the reps table: the measurements with ranges

# The joints each measurement is read from: drawn in colour on the stills and the annotated video when it shows a fault.
KNEES, ANKLES, HIPS = ("l_knee", "r_knee"), ("l_ankle", "r_ankle"), ("l_hip", "r_hip")
HEAD = ("neck", "nose", "l_ear", "r_ear", "head_top")
METRIC_JOINTS: dict[str, tuple[str, ...]] = {
    "depth": HIPS + KNEES, "min_knee_angle": KNEES, "knee_ankle_width_ratio": KNEES + ANKLES,
    "min_knee_ankle_width": KNEES + ANKLES, "max_trunk_lean": HIPS + ("neck",), "trunk_lean": HIPS + ("neck",),
    "head_angle": HEAD, "max_head_pitch": HEAD, "max_shank_angle": KNEES + ANKLES, "max_heel_lift": ANKLES,
    "max_toe_lift": ANKLES, "min_foot_pitch": ANKLES,
}  # fmt: skip


def metric(name: str) -> Metric:
    """How to show a measurement; one the table above does not know is shown by its name."""
    return METRICS.get(name) or Metric(name.replace("_", " ")[:8], name.replace("_", " "))


def range_text(name: str) -> str:
    """The documented range of a measurement in symbols ("≥ 0.85", "≤ 50°"), "" if it has none."""
    r = R.RANGE_BY_METRIC.get(name)
    if r is None:
        return ""
    m = metric(name)
    return " and ".join(f"{sign} {m.text(bound)}" for sign, bound in (("≥", r.low), ("≤", r.high)) if bound is not None)


def fault_joints(fault: str | None) -> tuple[str, ...]:
    """The joints whose measurements show a fault (none for good or None)."""
    names = [j for m in R.FAULT_MEASURES.get(fault or "", ()) for j in METRIC_JOINTS.get(m, ())]
    return tuple(dict.fromkeys(names))


def rep_joints(rep: "RepLine") -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A rep's joints to draw in colour: those of its named fault (red), and those of its other measurements
    outside their range (amber)."""
    red = fault_joints(rep.fault)
    amber = tuple(dict.fromkeys(j for m in rep.out_of_range for j in METRIC_JOINTS.get(m, ()) if j not in red))
    return red, amber


def fault_name(key: str) -> str:
    """A class's display name in lower case ("knees caving in")."""
    return squat_class(key).name.lower()


# ASCII stand-ins for the symbols the views use: for terminals that cannot show UTF-8, and OpenCV's fonts.
ASCII = {"°": " deg", "≥": ">=", "≤": "<=", "█": "#", "→": "->", "…": "..."}


def ascii_text(text: str) -> str:
    """`text` with its symbols spelled in ASCII."""
    for fancy, plain in ASCII.items():
        text = text.replace(fancy, plain)
    return text


def model_scope(v: "View") -> str:
    """What the model leaves unjudged, and judges by measurement alone, in words (after the model's name)."""
    parts = [f"does not judge {listed([fault_name(k) for k in v.unknown], 'or')}"] if v.unknown else []
    if v.made:
        parts.append(f"learned {listed([fault_name(k) for k in v.made])} from faults made from real good reps: each "
                     "is named when its probability reaches its flag")  # fmt: skip
    if v.measured:
        parts.append(f"judges {listed([fault_name(k) for k in v.measured])} only by measurement, against the "
                     "coaching ranges")  # fmt: skip
    return "; ".join(parts)


FLAG_NOTE = ("flag: a fault learned from faults made from real good reps, named when its own probability reaches "
             "the flag; good and the faults real people showed share 100 % among themselves")


def listed(words: list[str] | tuple[str, ...], last: str = "and") -> str:
    """ "a", "a and b", "a, b and c" (`last` the word before the last)."""
    words = list(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}" if words else ""


# ---- the typed report -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probability:
    """One class's probability; `judged` False for a fault the camera's view cannot show (never named)."""

    key: str
    p: float
    judged: bool = True
    flag: float | None = None  # a class made from real good reps: named when p reaches this (assess.verdict)


@dataclass(frozen=True)
class RepLine:
    """One rep: when, the model's verdict on it (rep models), its measurements and which lie outside their range."""

    index: int
    label: str  # "1", "4 (cut)", "whole clip"
    start_s: float
    end_s: float
    bottom_s: float
    bottom: int  # frame of the deepest point at 30 fps
    judged: bool
    verdict: str | None  # "good" | "needs_work" | None (not judged by itself)
    fault: str | None
    probabilities: dict[str, float] | None
    values: dict[str, float | None]
    out_of_range: tuple[str, ...]  # measurements outside their range (reps.py judges reps whose bottom is in view)
    partial: bool = False


@dataclass(frozen=True)
class Evidence:
    """The measurements behind a named fault, over the reps that name it (or every rep, for the main fault)."""

    fault: str
    reps: tuple[int, ...]  # rep indices
    metrics: tuple[str, ...]  # FAULT_MEASURES of the fault that were measured, the one with a range first
    values: tuple[tuple[float | None, ...], ...]  # per metric, per rep
    account: str  # what the numbers say about the verdict


@dataclass(frozen=True)
class Account:
    """A measurement outside its range and what the verdict says of it (reps in `reps`, values in `values`)."""

    metric: str
    reps: tuple[int, ...]
    values: tuple[float, ...]
    text: str  # the verdict's account of it
    cue: str  # the range's coaching cue ("" when the verdict's cue already says it)
    explained: bool = False  # a fault named for these reps shows it (its Evidence says so)


@dataclass(frozen=True)
class Still:
    """A picture of one rep's deepest point: the video frame (or a stick figure of the joints) and where the joints
    are, in image coordinates normalised to [0, 1] (x right, y down), with the joints at fault."""

    rep: int
    caption: str
    xy: np.ndarray  # (19, 2)
    aspect: float  # picture height / width
    frame: int | None = None  # index of the video frame to draw on; None: a plain background
    fault_joints: tuple[str, ...] = ()  # the rep's named fault: red
    warn_joints: tuple[str, ...] = ()  # out of range but not the verdict's fault: amber


@dataclass(frozen=True)
class VideoTrack:
    """What the annotated video and the stills need of the input video: its file, size, frame times and the joints
    as the picture shows them on every frame."""

    path: str
    fps: float
    width: int
    height: int
    frame_times: np.ndarray  # (F,) seconds
    image_xy: np.ndarray  # (F, 19, 2) normalised image positions

    def frame_at(self, seconds: float) -> int:
        """The video frame shown at a time."""
        return int(np.clip(np.searchsorted(self.frame_times, seconds - 1e-6), 0, len(self.frame_times) - 1))


@dataclass(frozen=True)
class View:
    """What the camera's view let be measured and judged (a 3D source: everything)."""

    name: str | None  # "front" | "side" | "oblique" | None (3D)
    yaw: float | None
    unmeasured: tuple[str, ...]  # of TABLE_METRICS: left unmeasured by the view
    unjudged: tuple[str, ...]  # the model's faults the view cannot show
    unknown: tuple[str, ...]  # faults squatcli knows that the model does not judge at all
    measured: tuple[str, ...] = ()  # faults the model has no class for, judged by their measurements' ranges alone
    made: tuple[str, ...] = ()  # classes learned only from faults made from real good reps, named at their flags


@dataclass(frozen=True)
class Report:
    """What `squat assess` says about one input, reconciled: verdict, cue, evidence, accounts, view, advice."""

    input: str
    kind: str
    model: str
    good: bool
    verdict_text: str
    main_fault: str | None
    cue: str
    p_good: float
    threshold: float
    judged_by: str  # "reps" | "windows"
    rows: int  # reps or windows the verdict is the mean over
    probabilities: tuple[Probability, ...]  # judged classes by probability, then the unjudged
    reps: tuple[RepLine, ...]
    rep_count: int
    partial_count: int
    evidence: tuple[Evidence, ...]
    accounts: tuple[Account, ...]
    view: View
    advice: str | None
    notes: tuple[str, ...]
    data: dict  # the assessment's JSON object (assess.Assessment.to_dict), which the JSON view extends
    curves: dict[str, np.ndarray]  # CURVES at 30 fps (NaN where not measured)
    stills: tuple[Still, ...] = ()
    video: VideoTrack | None = None
    duration_s: float = 0.0

    def rep(self, index: int) -> RepLine:
        return next(r for r in self.reps if r.index == index)

    def mean_over(self) -> str:
        """What the verdict's P(good) is the mean over, in words: "3 reps", "1 window"."""
        unit = "rep" if self.judged_by == "reps" else "window"
        return f"{self.rows} {unit}{'s' if self.rows != 1 else ''}"

    def overruled(self) -> str:
        """Why a verdict is NEEDS WORK though P(good) reaches the threshold (a fault its measurements confirm, which
        GOOD never overrules); "" otherwise."""
        if self.good or self.p_good < self.threshold or self.main_fault is None:
            return ""
        flag = next((c.flag for c in self.probabilities if c.key == self.main_fault and c.flag is not None), None)
        if flag is not None and self.data["probabilities"][self.main_fault] >= flag:
            return f"the probability of {fault_name(self.main_fault)} reaches its flag ({flag:.0%})"
        return f"the measurements confirm {fault_name(self.main_fault)}"

    def to_dict(self) -> dict:
        """The JSON view: the assessment's object (`data`) with the reconciled cue and the report's additions."""
        return self.data | {
            "cue": self.cue,
            "not_judged": list(self.view.unjudged),
            "unknown_faults": list(self.view.unknown),
            "evidence": [{"fault": e.fault, "rep_indices": list(e.reps), "account": e.account,
                          "measurements": {m: list(v) for m, v in zip(e.metrics, e.values)}} for e in self.evidence],
            "out_of_range": [{"metric": a.metric, "rep_indices": list(a.reps), "values": list(a.values),
                              "low": R.RANGE_BY_METRIC[a.metric].low, "high": R.RANGE_BY_METRIC[a.metric].high,
                              "account": a.text, "cue": a.cue or None} for a in self.accounts],
            "filming_advice": self.advice,
        }  # fmt: skip


# ---- building it ---------------------------------------------------------------------------------------------


def build(assessment: Any) -> Report:
    """The report of an assess.Assessment. Reads only its `to_dict()` and, for the pictures, its motion (video
    extraction, joints, image landmarks) and rep signals."""
    data = assessment.to_dict()
    motion = assessment.motion
    classes = tuple(data["classes"])
    yaw = motion.view
    flags = data.get("flags", {})
    view = _view(yaw, classes, tuple(data.get("measured_only", ())), tuple(flags))
    lines = _rep_lines(data)
    main = data["main_fault"]
    probs = [Probability(k, float(p), k not in view.unjudged, flags.get(k)) for k, p in data["probabilities"].items()]
    probs.sort(key=lambda c: (not c.judged, -c.p))
    evidence = tuple(_evidence(main, lines))
    video = _video_track(motion)
    signals = getattr(assessment.reps, "signals", {}) or {}
    return Report(
        input=data["input"], kind=data["kind"], model=data["model"], good=data["verdict"] == "good",
        verdict_text=data["verdict_text"], main_fault=main,
        cue=data["cue"] if main else good_cue(lines, view),
        p_good=float(data["probabilities"].get("good", 0.0)), threshold=float(data["threshold"]),
        judged_by=data["judged_by"], rows=len(data["windows"]), probabilities=tuple(probs), reps=tuple(lines),
        rep_count=data["reps"]["count"] if data["reps"] else 0,
        partial_count=data["reps"]["partial_count"] if data["reps"] else 0,
        evidence=evidence, accounts=tuple(_accounts(lines, main, classes, data)), view=view,
        advice=filming_advice(view, data.get("pose"), video), data=data,
        notes=tuple(n for n in data["notes"] if n not in R.VIEW_NOTES.values()),  # the view is said by `view`
        curves={k: np.asarray(signals[k], dtype=float) for k in CURVES if k in signals},
        stills=tuple(_stills(lines, video, motion, assessment.reps)), video=video,
        duration_s=float(data["duration_s"]),
    )  # fmt: skip


def _view(yaw: float | None, classes: tuple[str, ...], measured: tuple[str, ...] = (), made: tuple[str, ...] = ()) -> View:
    hidden = set(R.view_hides(yaw))
    unseen = set(R.unseen_classes(yaw))
    known = [c.key for c in ALL_CLASSES if c.key != "good"]
    return View(R.view_name(yaw), yaw, tuple(m for m in TABLE_METRICS if m in hidden),
                tuple(k for k in classes + measured if k in unseen),
                tuple(k for k in known if k not in classes + measured), measured, made)  # fmt: skip


def _rep_lines(data: dict) -> list[RepLine]:
    if not data["reps"]:
        return []
    lines = []
    for k, r in enumerate(data["reps"]["reps"]):
        values = {name: r.get(name) for name in R.MEASUREMENTS}
        out = tuple(r["out_of_range"])
        label = "whole clip" if r["whole_clip"] else f"{k + 1}{' (cut)' if r['partial'] else ''}"
        lines.append(RepLine(k, label, r["start_s"], r["end_s"], round(r["bottom"] / FPS, 3), r["bottom"],
                             bool(r.get("judged")), r.get("verdict"), r.get("main_fault"), r.get("probabilities"),
                             values, out, bool(r["partial"])))  # fmt: skip
    return lines


def _evidence(main: str | None, lines: list[RepLine]) -> list[Evidence]:
    """Per named fault (the main one first, then those only reps name), its measurements over the reps naming it."""
    named = [main] if main else []
    named += [r.fault for r in lines if r.fault and r.fault not in named]
    out = []
    for fault in named:
        reps = [r for r in lines if r.fault == fault] or lines
        metrics = [m for m in R.FAULT_MEASURES.get(fault, ()) if any(r.values.get(m) is not None for r in reps)]
        values = tuple(tuple(r.values.get(m) for r in reps) for m in metrics)
        out.append(Evidence(fault, tuple(r.index for r in reps), tuple(metrics), values,
                            _evidence_account(fault, metrics, reps)))  # fmt: skip
    return out


def _evidence_account(fault: str, metrics: list[str], reps: list[RepLine]) -> str:
    """What a fault's measurements say of its being named."""
    if not reps:
        return "the model read the motion as a whole; no rep was measured"
    if not metrics:
        wanted = listed([metric(m).label for m in R.FAULT_MEASURES.get(fault, ())], "or") or "no measurement"
        return f"not measured ({wanted}): the model's call alone"
    ranged = next((m for m in metrics if m in R.RANGE_BY_METRIC), None)
    if ranged is None:
        return "no documented range for these measurements: the model's call, the numbers for reference"
    out = [r for r in reps if ranged in r.out_of_range]
    label = metric(ranged).label
    if not out:
        return (f"{label} is within its range ({range_text(ranged)}) in {reps_text([r.index for r in reps], reps)}: "
                "the model's call rests on the whole movement, not on this number alone")  # fmt: skip
    return f"{label} is outside its range ({range_text(ranged)}) in {reps_text([r.index for r in out], out)}"


def reps_text(indices: list[int] | tuple[int, ...], lines: list[RepLine] | tuple[RepLine, ...] = ()) -> str:
    """ "rep 2", "reps 1, 3" (numbered from 1), or "the whole clip" for the clip taken as one rep."""
    if any(r.index in indices and r.label == "whole clip" for r in lines):
        return "the whole clip"
    if not indices:
        return "no rep"
    return f"rep {indices[0] + 1}" if len(indices) == 1 else "reps " + ", ".join(str(i + 1) for i in indices)


def _accounts(lines: list[RepLine], main: str | None, classes: tuple[str, ...], data: dict) -> list[Account]:
    """Every measurement outside its range, grouped by measurement and by what the verdict says of it."""
    main_cue = data["cue"] if main else ""
    groups: dict[tuple[str, str, str, bool], list[RepLine]] = {}
    for r in lines:
        for m in r.out_of_range:
            text, cue = _account(m, r, classes, data)
            explained = (r.fault if r.judged else main) in _shows(m)
            groups.setdefault((m, text, "" if cue == main_cue else cue, explained), []).append(r)
    return [Account(m, tuple(r.index for r in rs), tuple(float(r.values[m]) for r in rs), text, cue, explained)
            for (m, text, cue, explained), rs in groups.items()]  # fmt: skip


def _shows(name: str) -> list[str]:
    """The faults a measurement shows (reps.FAULT_MEASURES)."""
    return [f for f, ms in R.FAULT_MEASURES.items() if name in ms]


def _account(name: str, rep: RepLine, classes: tuple[str, ...], data: dict) -> tuple[str, str]:
    """(the verdict's account of one out-of-range measurement of a rep, the range's cue). A rep the model did not
    judge by itself (clip models) is accounted for by the clip's verdict."""
    cue = R.RANGE_BY_METRIC[name].cue
    shows = _shows(name)
    judged = [f for f in shows if f in classes]
    probs = rep.probabilities if rep.judged else data["probabilities"]
    named = rep.fault if rep.judged else data["main_fault"]
    if named in shows:
        return f"the model names {fault_name(named)} for {'it' if rep.judged else 'the clip'}", cue
    if not judged:
        names = listed([fault_name(f) for f in shows], "or") or "this fault"
        return f"not judged by the model: {names} is not among what it learned", cue
    best = max(judged, key=lambda f: probs.get(f, 0.0))
    chance = f"{fault_name(best)} {probs.get(best, 0.0):.0%}"
    if not rep.judged:
        return f"the model judged the clip as a whole ({chance}), not rep by rep", cue
    if rep.verdict == "good":
        return f"the model judged this rep good ({chance}): the ranges are coaching rules of thumb", cue
    return f"the model's fault for this rep is {fault_name(rep.fault)} ({chance})", cue


# The aspects the good cue may name, and the measurements that must be in range in every rep for it to name them.
GOOD_ASPECTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("depth", ("depth",)), ("spine", ("max_trunk_lean",)), ("knees", ("knee_ankle_width_ratio",)))  # fmt: skip


def good_cue(lines: list[RepLine], view: View) -> str:
    """The cue of a GOOD FORM verdict, naming only what was measured in every rep and found in its range."""
    seen = [r for r in lines if not r.partial] or lines
    right = [name for name, ms in GOOD_ASPECTS
             if seen and all(r.values.get(m) is not None and m not in r.out_of_range for m in ms for r in seen)]  # fmt: skip
    if not right:
        return "Keep it up."
    return f"Keep it up: {listed(right)} {'looks' if len(right) == 1 else 'look'} right."


def filming_advice(view: View, pose: dict | None, video: VideoTrack | None) -> str | None:
    """One line on how to film, when the view or the framing limited the judgement; None when nothing did."""
    parts = []
    if view.name in (R.FRONT, R.SIDE) and (view.unjudged or view.unmeasured):
        other = "the side" if view.name == R.FRONT else "the front"
        hidden = [fault_name(k) for k in view.unjudged] or [metric(m).label for m in view.unmeasured[:3]]
        parts.append(f"filmed from the {'front' if view.name == R.FRONT else 'side'}: {listed(hidden)} "
                     f"{'is' if len(hidden) == 1 else 'are'} not judged; film from {other} {FILMING} for "
                     f"{'that' if len(hidden) == 1 else 'those'}")  # fmt: skip
    from squatcli.pose import WARN_LEGS_SEEN

    if pose and pose.get("legs_seen", 1.0) < WARN_LEGS_SEEN:
        parts.append(f"the legs were out of the picture or hidden in {1 - pose['legs_seen']:.0%} of the frames: "
                     f"keep the whole body, feet included, in the picture")  # fmt: skip
    size = body_height(video)
    if size is not None and size < SMALL_IN_PICTURE:
        parts.append(f"you fill {size:.0%} of the picture's height: film closer, 3-4 m away")
    return "; ".join(parts) or None


def body_height(video: VideoTrack | None) -> float | None:
    """The median share of the picture's height the person fills (ankles to head top), or None."""
    if video is None or not np.isfinite(video.image_xy).any():
        return None
    y = video.image_xy[..., 1]
    with np.errstate(invalid="ignore"):
        return float(np.nanmedian(np.nanmax(y, axis=1) - np.nanmin(y, axis=1)))


# ---- pictures ---------------------------------------------------------------------------------------------------


def _video_track(motion: Any) -> VideoTrack | None:
    ex = getattr(motion, "extraction", None)
    if ex is None:
        return None
    info = ex.video
    return VideoTrack(str(info.path), float(info.fps), int(info.width), int(info.height),
                      np.asarray(ex.frame_times, dtype=float), np.asarray(ex.image_xy, dtype=np.float32))  # fmt: skip


def _stills(lines: list[RepLine], video: VideoTrack | None, motion: Any, rep_report: Any) -> list[Still]:
    """Per rep, its deepest point: the video frame with the joints on it, or for joints inputs a stick figure (as
    the camera saw it for a monocular clip, else seen from the side, or from the front for a fault that shows in
    the frontal plane)."""
    out = []
    for r in lines:
        red, amber = rep_joints(r)
        caption = f"rep {r.label} at {r.bottom_s:.1f} s"
        if video is not None:
            frame = video.frame_at(r.bottom_s)
            out.append(Still(r.index, caption, video.image_xy[frame], video.height / video.width, frame, red, amber))
        elif getattr(motion, "image", None) is not None and motion.image.measured:
            xy = motion.image.xy[min(r.bottom, len(motion.image.xy) - 1)]
            out.append(Still(r.index, caption + ", as the camera saw it", xy, motion.image.aspect, None, red, amber))
        elif motion.joints is not None and rep_report is not None:
            side = "front" if r.fault in R.PLANE_CLASSES[R.FRONTAL] else "side"
            xy, aspect = project(motion.joints[r.bottom], rep_report.up, side)
            out.append(Still(r.index, f"{caption}, seen from the {side}", xy, aspect, None, red, amber))
    return out


def project(joints: np.ndarray, up: np.ndarray, side: str) -> tuple[np.ndarray, float]:
    """(19, 3) joints seen from the body's `side` ("side": its right; "front") with `up` vertical, as (19, 2)
    image coordinates in [0, 1] (y down) with a margin, and the picture's aspect (height / width)."""
    from squatcli.skeleton import J

    up = up / np.linalg.norm(up)
    left = joints[J["l_hip"]] - joints[J["r_hip"]]
    left = left - (left @ up) * up
    left = left / max(np.linalg.norm(left), 1e-9)
    horizontal = np.cross(left, up) if side == "side" else left  # forward (to the right), or the body's left
    pts = np.stack([joints @ horizontal, -(joints @ up)], axis=-1)
    lo, hi = np.nanmin(pts, axis=0), np.nanmax(pts, axis=0)
    span = float(max(hi[1] - lo[1], 1e-9)) * 1.2
    width = max(float(hi[0] - lo[0]) * 1.2, 0.6 * span)
    centre = (lo + hi) / 2
    xy = (pts - centre) / [width, span] + 0.5
    return xy, span / width
