"""The report of an assessment (squatcli.report): its coherence rules in every view, its plain data, the annotated
video's drawing, and the HTML page rendered in a real browser."""

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from squatcli import reps as R
from squatcli.assess import Assessment, Motion
from squatcli.cli import EXAMPLE_CLIP, app
from squatcli.report import terminal
from squatcli.report.html import page
from squatcli.report.model import GOOD_ASPECTS, build, fault_joints, metric, range_text
from squatcli.report.overlay import draw_skeleton, label, rep_lines
from squatcli.skeleton import J

import browser
from stick_figure import squat_clip

REP_CLASSES = ("good", "knees_in", "shallow", "knees_forward", "forward_lean", "toes_up")  # the bundled rep model's
FRONT, SIDE = 0.0, 90.0


def assessment(view: float | None = None, fault: str | None = None, values: dict | None = None,
               classes: tuple[str, ...] = REP_CLASSES, p_good: float = 0.1, extra: dict | None = None,
               window: str = "rep") -> Assessment:  # fmt: skip
    """An Assessment of a 3-rep stick-figure squat as a rep model would give it: every rep `fault` (None: good),
    seen from a camera at yaw `view` (None: 3D), with the rep measurements `values` set. `extra`: other classes'
    probabilities. `window` "clip": as a clip model would, one window over the clip."""
    joints = squat_clip(n_reps=3)
    report = R.measure_reps(joints, view=view)
    for m in report.reps:
        m.values.update({k: None if k in R.view_hides(view) else v for k, v in (values or {}).items()})
        m.out_of_range, m.cues = R._judge(m)  # as measure_reps judges them
    probs = np.full(len(classes), 0.02)
    probs[classes.index("good")] = p_good if fault else 0.9
    if fault:
        probs[classes.index(fault)] = 0.6
    for key, p in (extra or {}).items():
        probs[classes.index(key)] = p
    probs /= probs.sum()
    n = len(report.reps)
    motion = Motion(Path("squat.npz"), "joints", np.zeros((len(joints), 171)), joints, view=view)
    if window == "clip":
        return Assessment(motion, "cnn", 0.5, np.array([[0, len(joints) - 1]]), probs[None], classes, "clip",
                          "test inputs", report)  # fmt: skip
    spans = np.array([[m.rep.start, m.rep.end] for m in report.reps])
    return Assessment(motion, "cnn", 0.5, spans, np.tile(probs, (n, 1)), classes, "rep", "test inputs", report,
                      list(range(n)))  # fmt: skip


def terminal_text(report, capsys, monkeypatch, width: int = 80) -> str:
    monkeypatch.setenv("COLUMNS", str(width))  # read by rich at each print
    terminal.print_assessment(report)
    return capsys.readouterr().out


def words(text: str) -> str:
    """Text with line breaks and runs of blanks as single spaces (what a reader reads through wrapping)."""
    return " ".join(text.split())


# ---- coherence -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [f for f in R.FAULT_MEASURES if f in REP_CLASSES or f in ("back_round", "head_up")])
def test_a_named_fault_always_shows_its_measurement_and_range(fault, capsys, monkeypatch):
    classes = REP_CLASSES if fault in REP_CLASSES else REP_CLASSES + (fault,)
    story = build(assessment(fault=fault, classes=classes))
    assert story.main_fault == fault and story.evidence[0].fault == fault
    first = R.FAULT_MEASURES[fault][0]
    said = words(terminal_text(story, capsys, monkeypatch))
    html = page(story, [], None)
    assert f"Why {story.verdict_text.split(': ')[1]}" in said
    assert metric(first).label in said and metric(first).label in html  # measured, or said to be not measured
    if first in R.RANGE_BY_METRIC:
        assert range_text(first) in said and range_text(first) in html
    assert story.to_dict()["evidence"][0]["fault"] == fault


def test_a_fault_named_against_its_range_says_so():
    """The shared front-view good squat: "knees caving in" while knee/ankle reads 0.91 (range >= 0.85)."""
    story = build(assessment(view=FRONT, fault="knees_in", values={"knee_ankle_width_ratio": 0.91}))
    [ev] = story.evidence
    assert ev.metrics[0] == "knee_ankle_width_ratio" and ev.values[0] == (0.91, 0.91, 0.91)
    assert "within its range (≥ 0.85)" in ev.account and "the model's call" in ev.account
    story = build(assessment(view=FRONT, fault="knees_in", values={"knee_ankle_width_ratio": 0.5}))
    assert "outside its range (≥ 0.85) in reps 1, 2, 3" in story.evidence[0].account


def test_needs_work_at_a_p_good_above_the_threshold_says_the_measurements_confirm_the_fault(capsys, monkeypatch):
    import dataclasses

    story = build(assessment(fault="knees_in"))
    assert not story.good and story.p_good < story.threshold and story.overruled() == ""
    confirmed = dataclasses.replace(story, p_good=0.7)  # NEEDS WORK above the threshold: a confirmed fault
    assert confirmed.overruled() == "the measurements confirm knees caving in"
    said = words(terminal_text(confirmed, capsys, monkeypatch))
    assert "P(good) 0.70 vs threshold 0.50" in said and "the measurements confirm knees caving in" in said
    assert "vs threshold 0.50, but the measurements confirm knees caving in" in page(confirmed, [], None)


def test_out_of_range_measurements_come_with_the_verdicts_account(capsys, monkeypatch):
    """The shared side-view faulty squat: GOOD FORM above trunk lean 56° and head 40°, both out of range."""
    story = build(assessment(view=SIDE, values={"max_trunk_lean": 56.0, "head_angle": 40.0, "depth": 0.06}))
    assert story.good and {a.metric for a in story.accounts} == {"max_trunk_lean", "head_angle"}
    lean = next(a for a in story.accounts if a.metric == "max_trunk_lean")
    head = next(a for a in story.accounts if a.metric == "head_angle")
    assert lean.reps == (0, 1, 2) and "judged this rep good (leaning too far forward" in lean.text
    assert "not judged by the model: head tilted up is not among what it learned" in head.text
    said = words(terminal_text(story, capsys, monkeypatch))
    assert "largest trunk lean 56°, 56°, 56° (≤ 50°) in reps 1, 2, 3: the model judged this rep good" in said
    assert "largest neck extension 40°, 40°, 40° (≤ 25°) in reps 1, 2, 3: not judged by the model" in said
    assert said.count("56!") == 3 and said.count("40!") == 3  # marked in the reps table too
    objs = story.to_dict()["out_of_range"]
    assert [o["metric"] for o in objs] == ["max_trunk_lean", "head_angle"] and objs[0]["high"] == 50.0


def test_an_out_of_range_value_the_named_fault_explains_is_not_repeated(capsys, monkeypatch):
    story = build(assessment(fault="knees_in", values={"knee_ankle_width_ratio": 0.5}))
    assert [a.explained for a in story.accounts] == [True]
    assert "Also outside" not in terminal_text(story, capsys, monkeypatch)


@pytest.mark.parametrize(
    "view, values, cue",
    [
        (None, {"depth": 0.1, "max_trunk_lean": 30.0, "knee_ankle_width_ratio": 1.0}, "Keep it up: depth, spine and knees look right."),
        (SIDE, {"depth": 0.1, "max_trunk_lean": 56.0}, "Keep it up: depth looks right."),  # knees unmeasured, lean out
        (SIDE, {"depth": 0.1, "max_trunk_lean": 30.0}, "Keep it up: depth and spine look right."),
        (FRONT, {"depth": 0.1, "knee_ankle_width_ratio": 1.0}, "Keep it up: depth and knees look right."),  # no trunk
        (FRONT, {"depth": 0.5, "knee_ankle_width_ratio": 0.5}, "Keep it up."),
    ],
)
def test_no_cue_claims_what_was_not_measured(view, values, cue):
    story = build(assessment(view=view, values=values))
    assert story.good and story.cue == cue and story.to_dict()["cue"] == cue
    if view == FRONT:
        assert "spine" not in story.cue  # the trunk is not measured from the front
    assert [name for name, _ in GOOD_ASPECTS] == ["depth", "spine", "knees"]


def test_faults_the_view_cannot_show_are_marked_wherever_probabilities_are_shown(capsys, monkeypatch):
    story = build(assessment(view=FRONT, fault="knees_in", extra={"toes_up": 0.8}))
    assert story.main_fault == "knees_in"  # toes lifting is the most probable, but a front view cannot show it
    order = [(c.key, c.judged) for c in story.probabilities]
    assert ("toes_up", False) in order and order.index(("toes_up", False)) > order.index(("knees_in", True))
    assert all(judged for _, judged in order[: [j for _, j in order].index(False)])  # judged ones first
    lines = terminal_text(story, capsys, monkeypatch).splitlines()
    assert "not judged: front view" in next(line for line in lines if line.startswith("Toes lifting"))
    assert "not judged" not in next(line for line in lines if line.startswith("Knees caving in"))
    html = page(story, [], None)
    assert re.search(r'<tr class="dim"><td>Toes lifting</td><td class="n">[\d.]+%</td><td>not judged', html)
    assert story.to_dict()["not_judged"] == ["knees_forward", "forward_lean", "toes_up"]


def test_filming_advice_when_the_view_or_framing_limits_the_judgement():
    front = build(assessment(view=FRONT, fault="knees_in")).advice
    assert front.startswith("filmed from the front: knees too far forward, leaning too far forward and toes lifting "
                            "are not judged; film from the side at hip height, 3-4 m away")  # fmt: skip
    side = build(assessment(view=SIDE)).advice
    assert side.startswith("filmed from the side: knees caving in is not judged; film from the front")
    assert build(assessment()).advice is None  # a 3D source: nothing hidden
    a = assessment(view=SIDE)
    a.to_dict = lambda original=a.to_dict: original() | {"pose": {"legs_seen": 0.7}}
    assert "the legs were out of the picture or hidden in 30% of the frames" in build(a).advice


def test_a_clip_model_accounts_for_the_reps_by_the_clips_verdict(capsys, monkeypatch):
    story = build(assessment(fault="knees_in", values={"knee_ankle_width_ratio": 0.5, "max_trunk_lean": 56.0},
                             window="clip"))  # fmt: skip
    assert story.judged_by == "windows" and not any(r.judged for r in story.reps)
    assert story.evidence[0].reps == (0, 1, 2) and "outside its range" in story.evidence[0].account
    knees, lean = sorted(story.accounts, key=lambda a: a.metric != "knee_ankle_width_ratio")
    assert knees.explained and knees.text == "the model names knees caving in for the clip"
    assert not lean.explained and lean.text.startswith("the model judged the clip as a whole (leaning too far forward")
    said = words(terminal_text(story, capsys, monkeypatch))
    assert said.count("0.50, 0.50, 0.50") == 1 and "verdict" not in said.split("3 reps")[1].split("depth")[0]


def test_the_report_is_plain_data_a_worker_process_can_return():
    story = build(assessment(view=SIDE, values={"max_trunk_lean": 56.0}))
    again = pickle.loads(pickle.dumps(story))
    assert again.to_dict() == story.to_dict() and again.accounts == story.accounts
    json.dumps(story.to_dict())  # and the JSON view is JSON


def test_the_reps_table_leaves_out_what_no_rep_could_measure(capsys, monkeypatch):
    said = terminal_text(build(assessment(view=FRONT, fault="knees_in")), capsys, monkeypatch)
    header = next(line for line in said.splitlines() if line.startswith("rep "))
    assert header.split() == ["rep", "time", "s", "verdict", "depth", "k/a"]  # knee, lean, head: not from the front
    assert "seen from the front (yaw 0°): not measured: smallest knee angle, largest trunk lean" in words(said)


# ---- the annotated video and the stills -------------------------------------------------------------------------


def test_fault_joints_are_drawn_in_colour_and_text_reads_on_any_background():
    frame = np.full((400, 400, 3), 255, dtype=np.uint8)
    xy = np.full((19, 2), np.nan)
    xy[J["l_knee"]], xy[J["r_knee"]], xy[J["neck"]] = (0.3, 0.5), (0.7, 0.5), (0.5, 0.2)
    draw_skeleton(frame, xy, fault=fault_joints("knees_in"))
    for name in ("l_knee", "r_knee"):
        b, g, r = frame[200, int(xy[J[name], 0] * 400)]
        assert r > 150 and g < 100 and b < 100  # red
    assert (frame[80, 200] == 255).all()  # the neck is not at fault: its dot is white, no red ring
    label(frame, "rep 1/3: good", (20, 380), 0.6, (255, 255, 255))
    assert frame[379, 18].max() < 120 and (frame[379, 5] == 255).all()  # a dark box behind the white text only


def test_the_video_prints_nothing_for_what_was_not_measured():
    story = build(assessment(view=FRONT, fault="knees_in", values={"knee_ankle_width_ratio": 0.5}))
    lines = rep_lines(story.reps[0], 3)
    assert lines[0] == "rep 1/3: knees caving in"
    assert "knee " not in lines[1] and "lean" not in lines[1] and "-" not in lines[1].replace("depth -", "")
    assert "k/a 0.50!" in lines[1]


# ---- the HTML page --------------------------------------------------------------------------------------------


def chromium_or_skip() -> None:
    if browser.chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")


def test_the_console_check_catches_a_page_error(tmp_path):
    """The browser test below can fail: a page that logs an error is caught."""
    chromium_or_skip()
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><p>x</p><script>console.error("boom"); nope();</script></body></html>')
    messages = browser.render(bad, tmp_path / "bad.png", tmp_path / "profile", (400, 300))
    assert any('"boom"' in m for m in messages) and any("nope is not defined" in m for m in messages)


@pytest.fixture(scope="module")
def example_report(tmp_path_factory) -> Path:
    """The page `squat assess --example --report` writes."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = CliRunner().invoke(app, ["assess", "--example", "--report", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith(f"wrote {out}\n")
    return out


@pytest.mark.slow
def test_the_html_report_renders_in_a_browser_without_errors(example_report, tmp_path):
    from PIL import Image

    chromium_or_skip()
    out = example_report
    html = out.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)|url\(\s*["']?(https?:|//)|@import""", html)
    reps = sum(int(n) for n in re.findall(r"\d+", re.search(r"<h2>(\d+ reps?( \+ \d+ partial)?)</h2>", html).group(1)))
    assert reps >= 3 and html.count('src="data:image/jpeg;base64,') == reps  # a still of each rep
    assert html.count('src="data:image/png;base64,') == 1
    assert "NEEDS WORK: knees caving in" in html and "Why knees caving in" in html
    assert "<script" not in html
    assert browser.render(out, tmp_path / "report.png", tmp_path / "profile") == []  # no console message at all
    pixels = np.asarray(Image.open(tmp_path / "report.png").convert("RGB")).astype(int)
    assert pixels.std() > 20  # not blank
    banner = pixels[20:120, 40:900]
    red = (banner[..., 0] > 170) & (banner[..., 1] < 90) & (banner[..., 2] < 90)
    assert red.mean() > 0.5  # the NEEDS WORK banner rendered where the page puts it


@pytest.mark.slow
def test_the_readmes_screenshot_shows_the_current_report(example_report):
    """docs/report.png records the digest of the page it shows: regenerate it with `python tests/browser.py`."""
    from PIL import Image

    recorded = Image.open(browser.SCREENSHOT).text.get(browser.DIGEST_KEY)
    assert recorded == browser.text_digest(example_report.read_text(encoding="utf-8")), "run: python tests/browser.py"
    assert "](docs/report.png)" in (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_video_report_has_a_still_of_each_rep_and_says_how_to_film(shared_video, tmp_path):
    video = shared_video("front_bodyweight_good.mp4")
    out = tmp_path / "front.html"
    result = CliRunner().invoke(app, ["assess", str(video), "--report", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    obj = json.loads(result.stdout)
    html = out.read_text(encoding="utf-8")
    assert html.count('src="data:image/jpeg;base64,') == len(obj["reps"]["reps"]) >= 1
    assert "How to film" in html and "film from the side" in html and obj["filming_advice"].startswith("filmed from the front")
    assert "not judged" in html and "camera_view" in obj and obj["schema"] == 3


def test_a_failed_report_leaves_no_file(tmp_path):
    out = tmp_path / "report.html"
    missing = tmp_path / "missing.npz"
    result = CliRunner().invoke(app, ["assess", str(missing), "--report", str(out)])
    assert result.exit_code == 1 and f"{missing}: no such file" in result.stderr and not out.exists()
    for args in ([str(EXAMPLE_CLIP), str(EXAMPLE_CLIP)], [str(EXAMPLE_CLIP)]):  # two inputs; a .txt report
        bad = CliRunner().invoke(app, ["assess", *args, "--report", str(out if len(args) == 2 else tmp_path / "r.txt")])
        assert bad.exit_code == 2 and "--report" in bad.stderr
    (tmp_path / "folder.html").mkdir()
    refused = CliRunner().invoke(app, ["assess", "--example", "--report", str(tmp_path / "folder.html")])
    assert refused.exit_code == 1 and "is a folder; give a file name" in refused.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.html"]


def test_evaluation_figures_name_what_was_scored(tmp_path):
    import matplotlib

    from squatcli import metrics
    from squatcli.report.figures import reliability_figure, roc_figure

    y = np.array([0, 0, 1, 2, 0, 1])
    probs = np.array([[0.8, 0.1, 0.1], [0.6, 0.2, 0.2], [0.3, 0.6, 0.1], [0.2, 0.2, 0.6], [0.4, 0.3, 0.3], [0.5, 0.4, 0.1]])
    report = metrics.evaluate(y, probs, threshold=0.5, classes=("good", "knees_in", "shallow"))
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        roc = roc_figure({"cnn": report}, tmp_path / "roc.svg", rows="reps").read_text()
        reliability = reliability_figure({"cnn": report}, tmp_path / "rel.svg", rows="reps").read_text()
    assert "faulty reps called good" in roc and "good reps called good" in roc and "clips" not in roc
    assert "observed share of good reps" in reliability and "6 reps" in reliability
