import json
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from squatcli.cli import app
from squatcli.datasets import read_joints_npz

from conftest import write_video

runner = CliRunner()


def run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_help_is_instant_and_imports_nothing_heavy():
    code = "import sys, squatcli.cli; print(sorted(m for m in ('tensorflow', 'mediapipe', 'cv2', 'keras', 'matplotlib', 'sklearn', 'ray') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    times = []
    for _ in range(3):
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "squatcli.cli", "--help"], capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        assert done.returncode == 0
    assert sorted(times)[1] < 1.0, times
    for name in ("assess", "train", "evaluate", "extract", "synth"):
        assert name in done.stdout


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.mp4", "no such file"),
        (lambda d: (d / "notes.mp4").write_text("hello") and d / "notes.mp4", "not a video OpenCV can open"),
        (lambda d: d, "is a folder, not a video"),
        (lambda d: write_video(d / "short.mp4", 12), r"clip is 0.40 s long"),
    ],
)
def test_extract_errors_are_one_line_with_exit_1(tmp_path, make, message):
    target = make(tmp_path)
    out = tmp_path / "out.npz"
    code, stdout, stderr = run("extract", target, "-o", out)
    assert code == 1
    assert stderr.strip().startswith("error: ") and str(target) in stderr and len(stderr.strip().splitlines()) == 1
    assert __import__("re").search(message, stderr)
    assert "Traceback" not in stderr + stdout
    assert not out.exists()


def test_extract_usage_errors_exit_2(tmp_path):
    assert run("extract", tmp_path / "x.mp4", "-o", tmp_path / "x.txt")[0] == 2
    assert run("extract", tmp_path / "x.mp4", "--stride", "0")[0] == 2
    assert run("extract")[0] == 2


@pytest.mark.slow
def test_extract_with_no_person_leaves_no_file(tmp_path):
    video = write_video(tmp_path / "blank.mp4", 45, value=lambda i: 90)
    out = tmp_path / "blank.npz"
    code, _, stderr = run("extract", video, "-o", out)
    assert code == 1 and "person was found in only 0 of 25 analysed frames" in stderr  # 15 + every 3rd of 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank.mp4"]


@pytest.mark.slow
def test_extract_real_video_writes_joints_and_json_summary(shared_video, tmp_path):
    video = shared_video("front_bodyweight_good.mp4")
    out = tmp_path / "front.npz"
    code, stdout, stderr = run("extract", video, "-o", out, "--json")
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["frames"] == 140 and summary["stride"] == 1 and summary["schedule"] == "adaptive"
    assert 47 < summary["frames_processed"] < 140  # every frame of the two reps, every 3rd while standing
    assert summary["person_fraction"] >= 0.95 and summary["output"] == str(out)
    assert set(summary["bone_variation"]) == {"shank", "thigh", "upper arm", "forearm"}
    clip = read_joints_npz(out)
    assert clip.joints.shape == (140, 19, 3) and clip.fps == 30 and clip.confidence.shape == (140, 19)
    assert np.isfinite(clip.joints).all()
    assert clip.monocular  # one camera: assess judges it from what its view shows, as it would the video


def test_real_console_script_has_no_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "squatcli.cli", "extract", str(tmp_path / "nope.mov")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == f"error: {tmp_path / 'nope.mov'}: no such file"


@pytest.fixture(scope="module")
def example_at_80_columns():
    """What `squat assess --example` prints on an 80-column terminal (the repository's root left out of paths)."""
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "squatcli.cli", "assess", "--example"], capture_output=True, text=True,
                          cwd=root, env={**os.environ, "COLUMNS": "80", "PYTHONIOENCODING": "utf-8"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.replace(str(root) + os.sep, "")


@pytest.mark.slow
def test_readme_shows_what_assess_example_prints(example_at_80_columns):
    """The README's example output is the real one: regenerate it (COLUMNS=80) when the bundled model changes."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"```\n(squatcli/data/example_squat\.npz\n.*?)```", readme, re.S)
    assert shown is not None and example_at_80_columns == shown.group(1)


@pytest.mark.slow
def test_the_example_reads_whole_at_80_columns(example_at_80_columns):
    """Nothing is cut ("…") or wider than the terminal, and every rep is one line of whole cells."""
    import re

    lines = example_at_80_columns.splitlines()
    assert "…" not in example_at_80_columns and max(map(len, lines)) <= 80
    title = next(k for k, line in enumerate(lines) if re.match(r"\d+ reps?( \+ \d+ partial)?$", line))
    reps = sum(int(n) for n in re.findall(r"\d+", lines[title]))
    header, rule, rows = lines[title + 1], lines[title + 2], lines[title + 3 : title + 3 + reps]
    assert header.split()[:4] == ["rep", "time", "s", "verdict"] and set(rule) == {"─"}
    for row in rows:
        assert re.match(r"(\d+|\d+ \(cut\)) +\d+\.\d-\d+\.\d +(good|[a-z]+ [a-z]+|[a-z]+)( +[-+]?\d+\.?\d*!?)+$", row), row
    assert lines[title + 3 + reps].startswith("depth: hip above knee")  # the legend, right after the last rep
    assert "NEEDS WORK: knees caving in" in example_at_80_columns and "Why knees caving in" in example_at_80_columns


def test_help_is_wrapped_by_the_terminal_and_shows_examples():
    from typer.testing import CliRunner as Runner

    top = Runner().invoke(app, ["--help"], env={"COLUMNS": "200"}).stdout
    assert top.index("│ assess") < top.index("│ extract") < top.index("│ train")  # assess first
    assert "--install-completion" in top and "a model judges each rep from what the camera's picture shows" in top
    assert "temporal distance matrix" not in top
    for name in ("assess", "extract", "synth", "train", "evaluate"):
        text = Runner().invoke(app, [name, "--help"], env={"COLUMNS": "200"}).stdout
        assert "<bool>" not in text and "Examples:" in text and f"squat {name}" in text.split("Examples:")[1], name
    text = Runner().invoke(app, ["assess", "--help"], env={"COLUMNS": "200"}).stdout
    assert "Rep models judge each rep the input shows (time-normalised, so tempo does not matter); clip models" in text


@pytest.mark.parametrize("signal_error, code, said", [(KeyboardInterrupt, 130, "interrupted"), ("Terminated", 143, "terminated")])
def test_a_signal_while_typer_parses_is_reported_like_one_in_a_command(monkeypatch, capsys, signal_error, code, said):
    """Typer ends a KeyboardInterrupt outside a command with a silent exit 130 (seen under load: Ctrl-C at start-up)."""
    from squatcli import cli, interrupts

    error = interrupts.Terminated if signal_error == "Terminated" else signal_error

    def interrupted(*args, **kwargs):
        raise error()

    monkeypatch.setattr(interrupts, "install", lambda: None)  # this test process keeps its own handlers
    monkeypatch.setattr(cli.Group, "make_context", interrupted)
    monkeypatch.setattr(sys, "argv", ["squat", "assess", "--example"])
    with pytest.raises(SystemExit) as done:
        cli.main()
    assert done.value.code == code and capsys.readouterr().err.strip() == said
