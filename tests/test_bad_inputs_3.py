"""Issue 16, bad input round three: full disks, closed pipes, odd metadata, and errors before the wait.

Each of the issue's 22 cases has a test here (the number in each section's title) that failed before its fix. As in
test_bad_inputs.py, the bad inputs are made by the tests themselves: a 600 KB tmpfs where the tests run as root
(skipped with the reason otherwise), /dev/full, a closed stdout, a pipe whose reader is gone. A bad input must give
exit code 1 (2 for a wrong option value), one line `error: FILE: PROBLEM` on stderr (for `assess --json`, one JSON
object per input), no traceback or warning, and no file left behind or changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from squatcli import datasets as D
from squatcli.cli import EXAMPLE_CLIP
from squatcli.datasets import JointsClip, write_joints_npz, write_paper_json
from squatcli.errors import SquatError
from squatcli.features import distances

from conftest import squat_joints, write_video
from test_bad_inputs import MODELS, assert_one_line, copy_model, json_lines, run, snapshot, squat, write_clip

TESTS = Path(__file__).resolve().parent
HEAVY = ("tensorflow", "keras", "mediapipe", "cv2", "sklearn", "matplotlib", "onnxruntime", "ray")


def assert_clean(stderr: str) -> None:
    """No traceback and no warning text (Python's or a library's) on stderr."""
    assert "Traceback" not in stderr and "Warning" not in stderr and "Exception ignored" not in stderr, stderr


# A `squat` process whose pose model is replaced by test_pose.FakeExtractor (the pose of a known squat for each
# frame of a write_video video), for what needs a real process (stdout, a full disk) without MediaPipe's minutes.
FAKE_POSE = """if True:
    import sys
    sys.path.insert(0, {tests!r})
    from conftest import squat_joints
    from test_pose import FakeExtractor
    from squatcli import cli, pose
    pose.MediaPipePose = lambda: FakeExtractor(squat_joints(frames={frames}))
    sys.argv = ["squat", *{args!r}]
    cli.main()
"""


def squat_fake_pose(*args, frames: int = 300, **kwargs) -> subprocess.CompletedProcess:
    code = FAKE_POSE.format(tests=str(TESTS), frames=frames, args=[str(a) for a in args])
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, timeout=300, **kwargs)


def squat_to(stdout, *args) -> subprocess.CompletedProcess:
    """The real `squat` command writing its stdout to `stdout` (a file or a descriptor)."""
    return subprocess.run([sys.executable, "-m", "squatcli.cli", *map(str, args)], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=300)  # fmt: skip


def fake_pose(monkeypatch, frames: int = 300) -> None:
    """The same in this process (for CliRunner)."""
    from squatcli import pose

    from test_pose import FakeExtractor

    monkeypatch.setattr(pose, "MediaPipePose", lambda: FakeExtractor(squat_joints(frames=frames)))


def noisy_video(path: Path, frames: int = 300) -> Path:
    """A 320x240 video of test_pose's frame-index pattern under pixel noise: its annotated copy (mp4v) is over
    1 MB, too big for a 600 KB disk."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    rng = np.random.default_rng(0)
    for i in range(frames):
        image = np.empty((240, 320, 3), np.int16)
        image[:, :160] = 16 * ((i // 16) % 16) + 8
        image[:, 160:] = 16 * (i % 16) + 8
        writer.write(np.clip(image + rng.integers(-5, 6, image.shape), 0, 255).astype(np.uint8))
    writer.release()
    return path


@pytest.fixture
def small_disk(tmp_path):
    """A 600 KB tmpfs at tmp_path/disk: a disk that fills up. Mounting needs root; skipped otherwise."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a 600 KB tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(disk)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield disk
    subprocess.run(["umount", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Fill a file system to its last byte with one file."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                continue
    finally:
        os.close(fd)
    return filler


# ---- 1, 4, 19: full disks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("check", ["every write", "the final file"])
def test_an_annotation_that_does_not_fit_is_refused_and_removed(tmp_path, small_disk, monkeypatch, check):
    from squatcli.report import overlay as annotate

    fake_pose(monkeypatch)
    if check == "the final file":  # without the check after each frame, reading the result back catches it
        monkeypatch.setattr(annotate, "require_room", lambda path: None)
    video = noisy_video(tmp_path / "squat.mp4")
    out = small_disk / "annotated.mp4"
    code, stdout, stderr = run("assess", video, "--annotate", out, "--json")  # was: exit 0, a 614 KB broken mp4
    [obj] = json_lines(stdout)
    assert code == 1 and not obj["ok"] and stderr == ""
    assert obj["error"] == f"{out}: cannot be written (no space left on device)"
    assert list(small_disk.iterdir()) == []


def test_an_annotation_that_fits_is_written_whole(tmp_path, monkeypatch):
    import cv2

    fake_pose(monkeypatch)
    out = tmp_path / "annotated.mp4"
    code, _, stderr = run("assess", write_video(tmp_path / "squat.mp4", 90), "--annotate", out)
    assert code == 0, stderr
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == 90


def test_extract_onto_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, small_disk):
    video = write_video(tmp_path / "squat.mp4", 90)
    filler = fill(small_disk)
    out = small_disk / "joints.npz"
    done = squat_fake_pose("extract", video, "-o", out)  # was: one line, then ZipFile.__del__'s 6-line traceback
    assert done.returncode == 1 and done.stderr == f"error: {out}: cannot be written (no space left on device)\n"
    assert list(small_disk.iterdir()) == [filler]


def test_a_write_that_fails_names_the_output_not_an_oserror(tmp_path):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with pytest.raises(SquatError, match=r"out.npz: cannot be written \(no space left on device\)"):
        with D.atomic_output(tmp_path / "out.npz") as tmp:
            full(tmp)
    with pytest.raises(FileNotFoundError):  # an error about another file (an input) is not the output's
        with D.atomic_output(tmp_path / "out.npz"):
            open(tmp_path / "missing-input.txt")
    assert list(tmp_path.iterdir()) == []


def test_synth_disk_check_says_mb_and_kb_where_small(tmp_path, monkeypatch):
    from squatcli import synth
    from squatcli.files import size_text

    assert [size_text(n) for n in (3.9e9, 5e6, 614400, 0)] == ["3.9 GB", "5.0 MB", "614.4 kB", "0 bytes"]
    monkeypatch.setattr(synth.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 5 * 10**6, 5 * 10**6))
    code, stdout, stderr = run("synth", "--out", tmp_path / "c", "-n", 3)  # was: "about 0.0 GB; only 0.0 GB is free"
    assert_one_line(code, stderr, tmp_path / "c", "21 clips need about 11.8 MB; only 5.0 MB is free there", stdout)
    assert list(tmp_path.iterdir()) == []


def test_synth_onto_a_small_disk_says_how_small(small_disk):
    code, stdout, stderr = run("synth", "--out", small_disk / "c", "-n", 3)
    assert_one_line(code, stderr, small_disk / "c", "21 clips need about 11.8 MB; only ", stdout)
    assert re.search(r"only \d+\.\d kB is free there$", stderr.strip()), stderr
    assert list(small_disk.iterdir()) == []


# ---- 5, 9: stdout that cannot take the results ------------------------------------------------------------------


def close_stdout() -> None:
    os.close(1)


@pytest.mark.parametrize("args", [["assess", "--example"], ["assess", "--json", "--example"],
                                  ["extract", "{video}", "-o", "{out}"]], ids=["assess", "assess-json", "extract"])  # fmt: skip
def test_a_closed_stdout_is_refused_before_the_work(tmp_path, args):
    video, out = write_video(tmp_path / "squat.mp4", 45), tmp_path / "out.npz"
    args = [a.format(video=video, out=out) for a in args]
    code = ("import sys; from squatcli.cli import main; sys.argv = ['squat', *sys.argv[1:]]\n"
            "try:\n    main()\nfinally:\n    print(sorted(m for m in sys.modules if m in %r), file=sys.stderr)" % (HEAVY,))  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, *args], stderr=subprocess.PIPE, text=True, timeout=120,
                          preexec_fn=close_stdout)  # fmt: skip
    assert done.returncode == 1, done.stderr  # was: exit 0, the results silently lost
    assert done.stderr == "error: stdout: cannot be written (it is closed)\n[]\n"  # nothing heavy was loaded
    assert not out.exists()


@pytest.mark.parametrize("as_json", [False, True])
def test_stdout_on_a_full_disk_is_one_line(as_json):
    with open("/dev/full", "w") as full:
        done = squat_to(full, "assess", *(["--json"] if as_json else []), "--example")
    assert done.returncode == 1 and done.stderr == "error: stdout: cannot be written (no space left on device)\n"


def test_extract_to_a_full_stdout_leaves_no_file(tmp_path):
    out = tmp_path / "out.npz"
    with open("/dev/full", "w") as full:
        done = squat_fake_pose("extract", write_video(tmp_path / "squat.mp4", 45), "-o", out, stdout=full)
    assert done.returncode == 1 and done.stderr == "error: stdout: cannot be written (no space left on device)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["squat.mp4"]  # was: the .npz written, yet exit 1


def test_a_broken_pipe_ends_quietly():  # rich's printing: test_a_broken_pipe_during_extract
    args = ["assess", "--json", "--example", "--example"]
    read, write = os.pipe()
    os.close(read)  # the reader is gone (`| head -c 10` once it has its bytes)
    try:
        done = squat_to(write, *args)
    finally:
        os.close(write)
    assert done.returncode == 141 and done.stderr == ""  # was: "unexpected error ... please report it"


def test_a_broken_pipe_during_extract_leaves_no_file(tmp_path):
    read, write = os.pipe()
    os.close(read)
    out = tmp_path / "out.npz"
    try:
        done = squat_fake_pose("extract", write_video(tmp_path / "squat.mp4", 45), "-o", out, stdout=write)
    finally:
        os.close(write)
    assert done.returncode == 141 and done.stderr == "" and not out.exists()


# ---- 2, 10: what is printed ----------------------------------------------------------------------------------------


def test_file_names_with_rich_markup_print_as_themselves(tmp_path):
    names = ["a[/x].npz", "[red]x.npz", "b.npz"]  # the first: x].npz in a folder a[, a path holding "[/x]"
    (tmp_path / "a[").mkdir()
    for name in names:
        shutil.copy(EXAMPLE_CLIP, tmp_path / name)
    missing = tmp_path / "[bold]gone.npz"
    paths = [tmp_path / name for name in names] + [missing]
    code, stdout, stderr = run("assess", "--json", *paths)  # was: MarkupError, empty stdout
    objs = json_lines(stdout)
    assert code == 1 and [o["input"] for o in objs] == [str(p) for p in paths] and stderr == ""
    assert [o["ok"] for o in objs] == [True, True, True, False]
    code, stdout, stderr = run("assess", *paths, env={"COLUMNS": "300"})
    assert code == 1 and stderr.startswith(f"error: {missing}: no such file\n"), stderr
    for path in paths[:3]:
        assert stdout.count(str(path)) == 2, stdout  # its title and its row of the summary
    assert stdout.count(str(missing)) == 2 and stdout.count("NEEDS WORK") == 6  # its row: its name, its error


def test_a_narrow_terminal_wraps_the_verdict_and_cuts_nothing():
    code, stdout, stderr = run("assess", "--example", env={"COLUMNS": "20"})
    assert code == 0, stderr
    words = " ".join(re.sub(r"[│╭╮╰╯─┃┏┓┗┛━┡┩┠┨╇┳┻┣┫╋]", " ", stdout).split())
    assert "NEEDS WORK: knees caving in Push your knees out so they track over your toes." in words  # was: cut
    assert "…" not in stdout and {"caving", "Leaning", "forward", "Toes", "lifting"} <= set(words.split())
    lines = stdout.splitlines()
    panel = lines[[line[:1] for line in lines].index("╭") : [line[:1] for line in lines].index("╰") + 1]
    assert len(panel) > 4 and {len(line) for line in panel} == {20}  # wrapped inside the terminal's 20 columns


# ---- 3: SIGTERM while training ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_while_training_saves_the_best_epoch_and_exits_143(tmp_path):
    from classifier_data import write_standin_dataset

    data = write_standin_dataset(tmp_path / "data", clips_per_class=4, subjects=4)
    out = tmp_path / "m"
    process = subprocess.Popen([sys.executable, "-m", "squatcli.cli", "train", "--data", data, "--epochs", "500",
                                "--patience", "500", "--width", "8", "--out", out], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    deadline, lines = time.monotonic() + 120, []
    while time.monotonic() < deadline:
        lines.append(process.stderr.readline())
        if lines[-1].startswith("epoch   2/"):
            break
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=60)
    assert process.returncode == 143, "".join(lines) + rest  # was: 130, "interrupted"
    assert re.search(r"^terminated after epoch \d+: saved the best epoch \(\d+\)$", rest.strip().splitlines()[-1])
    assert json.loads(out.with_suffix(".json").read_text())["training"]["interrupted"]
    assert "Traceback" not in rest


# ---- 6, 7, 8, 13, 20: model files --------------------------------------------------------------------------------


BAD_METADATA = {
    "frames-lists": ({"inputs": "frames", "value": [["hip_height"], ["depth"]]}, "'inputs' needs lists of names 'frames' and 'measures'"),
    "measures-numbers": ({"inputs": "measures", "value": [1, 2]}, "'inputs' needs lists of names"),
    "mean-strings": ({"standardisation": "mean"}, "'standardisation' must give a mean and a std (>= 0) of finite numbers"),
    "std-negative": ({"standardisation": "std-negative"}, "'standardisation' must give a mean and a std (>= 0)"),
    "mean-short": ({"standardisation": "short"}, "'standardisation' must give a mean and a std"),
    "a-1e308": ({"calibration": {"a": 1e308, "b": 0.0}}, "calibration 'a' must be a number in (0, 100] and 'b' one in [-100, 100], got 1e+308 and 0.0"),
    "b-minus-1e308": ({"calibration": {"a": 1.0, "b": -1e308}}, "calibration 'a' must be a number in (0, 100]"),
    "a-zero": ({"calibration": {"a": 0, "b": 0.0}}, "calibration 'a' must be a number in (0, 100]"),
    "a-string": ({"calibration": {"a": "1", "b": 0.0}}, "calibration 'a' must be a number in (0, 100] and 'b' one in [-100, 100], got \"1\" and 0.0"),
    "weights-not-hex": ({"weights": {"keras_sha256": "abc"}}, "model metadata 'weights' must be an object of <suffix>_sha256"),
}  # fmt: skip


def bad_metadata(kind: dict) -> dict:
    """The bundled CNN's metadata with one field broken as `kind` says."""
    metadata = json.loads((MODELS / "cnn.json").read_text())
    if "inputs" in kind:
        metadata["inputs"][kind["inputs"]] = kind["value"]
    elif kind.get("standardisation") == "mean":
        metadata["standardisation"]["frames"]["mean"] = [str(v) for v in metadata["standardisation"]["frames"]["mean"]]
    elif kind.get("standardisation") == "std-negative":
        metadata["standardisation"]["measures"]["std"][0] = -1.0
    elif kind.get("standardisation") == "short":
        metadata["standardisation"]["frames"]["mean"] = metadata["standardisation"]["frames"]["mean"][:-1]
    else:
        metadata |= kind
    return metadata


@pytest.mark.parametrize("name", BAD_METADATA)
def test_odd_model_metadata_is_refused_at_load_for_every_input(tmp_path, name):
    change, message = BAD_METADATA[name]
    model = copy_model(tmp_path)
    (tmp_path / "m.json").write_text(json.dumps(bad_metadata(change)))
    clips = [write_clip(tmp_path / "a.npz"), EXAMPLE_CLIP]
    code, stdout, stderr = run("assess", "--json", "-m", model, *clips)  # frames lists: TypeError, no JSON objects
    objs = json_lines(stdout)
    assert code == 1 and [o["ok"] for o in objs] == [False, False], stderr
    assert all(o["error"] == f"{model}.json: {message}" or o["error"].startswith(f"{model}.json: {message}") for o in objs), objs
    assert_one_line(code, stderr, f"{model}.json", message, stdout)
    assert_clean(stderr)


@pytest.mark.parametrize("model", ["", ".", "/", ".."])
def test_a_model_option_that_names_no_file_is_refused_per_input(tmp_path, model):
    clips = [write_clip(tmp_path / "a.npz"), EXAMPLE_CLIP]
    code, stdout, stderr = run("assess", "--json", "-m", model, *clips)  # was: unexpected error (ValueError), no JSON
    objs = json_lines(stdout)
    shown = repr(model) if not model else model
    message = f"{shown}: is not a model: give cnn, lstm, a bundled name (cnn, cnn-nofeet"
    assert code == 1 and len(objs) == 2 and all(not o["ok"] and o["error"].startswith(message) for o in objs), objs
    assert stderr.startswith(f"error: {message}") and len(stderr.splitlines()) == 1
    code, stdout, stderr = run("evaluate", "-m", model)
    assert code == 1 and stderr.startswith(f"error: {message}") and len(stderr.splitlines()) == 1


def test_calibration_at_its_bounds_overflows_without_a_warning():
    from squatcli.models import calibrate

    probs = np.array([[1e-9] + [(1 - 1e-9) / 5] * 5, [1 - 1e-9] + [1e-9 / 5] * 5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = calibrate(probs, 100.0, -100.0)
    assert out[0, 0] == 0.0 and np.allclose(out.sum(axis=1), 1)


def test_a_weights_file_with_another_models_metadata_is_refused(tmp_path):
    for suffix in (".keras", ".onnx"):
        shutil.copy(MODELS / f"cnn{suffix}", tmp_path / f"m{suffix}")
    shutil.copy(MODELS / "cnn-nofeet.json", tmp_path / "m.json")  # was: accepted, mislabelled
    clips = [write_clip(tmp_path / "a.npz"), EXAMPLE_CLIP]
    code, stdout, stderr = run("assess", "--json", "-m", tmp_path / "m", *clips)  # assess reads the .onnx
    message = "does not belong with m.json: its sha256 is not the one that metadata records for its weights"
    objs = json_lines(stdout)
    assert code == 1 and [o["error"].startswith(f"{tmp_path / 'm.onnx'}: {message}") for o in objs] == [True, True]
    assert_one_line(code, stderr, tmp_path / "m.onnx", message, stdout)
    code, stdout, stderr = run("export", tmp_path / "m")  # export reads the .keras
    assert_one_line(code, stderr, tmp_path / "m.keras", message, stdout)


def test_save_model_records_the_weights_fingerprint_and_older_metadata_loads_unchecked(tmp_path):
    from squatcli import models as M
    from squatcli.inputs import PAPER_INPUTS
    from squatcli.skeleton import N_FEATURES

    small = M.build("cnn", PAPER_INPUTS, {"features": (np.zeros(N_FEATURES), np.ones(N_FEATURES))}, width=4, depth=1)
    metadata = {k: v for k, v in json.loads((MODELS / "cnn-distances.json").read_text()).items() if k != "weights"}
    M.save_model(small, metadata, tmp_path / "a")
    written = json.loads((tmp_path / "a.json").read_text())["weights"]
    assert written == {f"{suffix}_sha256": hashlib.sha256((tmp_path / f"a.{suffix}").read_bytes()).hexdigest()
                       for suffix in ("keras", "onnx")}  # fmt: skip
    assert M.load_model(tmp_path / "a").name == metadata["name"]
    assert M.load_keras(tmp_path / "a").count_params() == small.count_params()
    for suffix in (".keras", ".onnx"):  # the same kind of model, other weights
        shutil.copy(MODELS / f"cnn-distances{suffix}", tmp_path / f"a{suffix}")
    with pytest.raises(SquatError, match="a.onnx: does not belong with a.json"):
        M.load_model(tmp_path / "a")
    with pytest.raises(SquatError, match="a.keras: does not belong with a.json"):
        M.load_keras(tmp_path / "a")
    (tmp_path / "a.json").write_text(json.dumps(metadata))  # metadata from before the fingerprint: not checked
    assert M.load_model(tmp_path / "a").name == metadata["name"]
    assert M.load_keras(tmp_path / "a").count_params() > 0


def test_bundled_models_record_their_weights_fingerprint():
    from squatcli.modelfiles import bundled_names

    for name in bundled_names():
        recorded = json.loads((MODELS / f"{name}.json").read_text())["weights"]
        for suffix in ("keras", "onnx"):
            assert recorded[f"{suffix}_sha256"] == hashlib.sha256((MODELS / f"{name}.{suffix}").read_bytes()).hexdigest(), name


# ---- 11, 12: paper JSON ---------------------------------------------------------------------------------------------


def paper_frames(rows: list[str]) -> str:
    return "{" + ",".join(f'"{i}": {{"index": {i}, "3d_joint": {row}}}' for i, row in enumerate(rows)) + "}"


def test_a_paper_json_over_an_hour_is_refused_while_it_is_read(tmp_path):
    path = tmp_path / "two_hours.json"
    row = "[" + ",".join(["1"] * 171) + "]"
    path.write_text(paper_frames([row] * 216_000))  # 74 MB, 2 h at 30 fps
    code = (f"import re\nfrom squatcli.datasets import read_paper_json\n"
            f"try:\n    read_paper_json({str(path)!r})\nexcept Exception as e:\n    print(e)\n"
            "print(int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) // 1024)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    message, peak_mb = done.stdout.splitlines()
    assert message == f"{path}: clip holds over 108,000 frames; at most 3,600 s at 30 fps is accepted", done.stderr
    assert int(peak_mb) < 600  # MB, this process's peak (~300); was: judged, 1.9 GB at its peak


BAD_PAPER_VALUES = {
    "string": ('"0.5"', "frame '0': '3d_joint' holds a non-numeric value"),
    "true": ("true", "frame '0': '3d_joint' holds a non-numeric value"),
    "null": ("null", "frame '0': '3d_joint' holds a non-numeric value"),
    "huge-int": ("1" + "0" * 400, "frame '0': '3d_joint' holds a non-numeric value"),
}


@pytest.mark.parametrize("name", BAD_PAPER_VALUES)
def test_paper_json_values_that_are_not_numbers_are_refused(tmp_path, name):
    value, message = BAD_PAPER_VALUES[name]
    row = json.dumps(distances(squat_joints(frames=1))[0].astype(float).tolist())
    rows = [row] * 45
    rows[0] = "[" + value + row[row.index(",") :]  # was: "0.5" and true read as numbers, and judged
    path = tmp_path / f"{name}.json"
    path.write_text(paper_frames(rows))
    code, stdout, stderr = run("assess", "--json", path, EXAMPLE_CLIP)
    objs = json_lines(stdout)
    assert code == 1 and [o["ok"] for o in objs] == [False, True] and stderr == ""
    assert objs[0]["error"].startswith(f"{path}: {message}"), objs[0]["error"]


@pytest.mark.parametrize("index, message", [("true", "has an index that is not a whole number (true)"),
                                            ("2.5", "has an index that is not a whole number (2.5)"),
                                            ('"x"', "has a non-numeric index")])  # fmt: skip
def test_paper_json_index_that_is_not_a_whole_number_is_refused(tmp_path, index, message):
    path = tmp_path / "clip.json"
    write_paper_json(path, distances(squat_joints(frames=45)).astype(float))
    path.write_text(path.read_text().replace('"index": 0,', f'"index": {index},', 1))
    code, stdout, stderr = run("assess", "--json", path)
    [obj] = json_lines(stdout)
    assert code == 1 and obj["error"] == f"{path}: frame '0' {message}", obj


# ---- 17, 18: joints .npz --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: dict(joints=squat_joints(frames=60) * 1e-30, fps=30.0),
         "'joints' describe a body whose rigid segments average 3.67e-31 m (an adult's: about 0.35 m); joints are "
         "in metres, and a body under 1 cm is not a person"),
        (lambda: dict(joints=squat_joints(frames=60) * 1e-3, fps=30.0), "'joints' describe a body whose rigid segments average 0.000367 m"),
        (lambda: dict(joints=squat_joints(frames=60), fps=30.0, confidence=np.full((60, 19), -5.0)),
         "'confidence' holds values from -5 to -5; a confidence is from 0 to 1"),
        (lambda: dict(joints=squat_joints(frames=60), fps=30.0, confidence=np.full((60, 19), 1e300)),
         "'confidence' holds values from 1e+300 to 1e+300; a confidence is from 0 to 1"),
    ],
    ids=["x1e-30", "x1e-3", "confidence-5", "confidence-1e300"],
)  # fmt: skip
def test_joints_npz_of_no_person_size_or_odd_confidence_is_refused(tmp_path, make, message):
    path = tmp_path / "clip.npz"
    np.savez(path, **make())
    code, stdout, stderr = run("assess", "--json", path, EXAMPLE_CLIP)  # was: judged, another verdict than in metres
    objs = json_lines(stdout)
    assert code == 1 and [o["ok"] for o in objs] == [False, True] and stderr == ""
    assert objs[0]["error"] == f"{path}: {message}" or objs[0]["error"].startswith(f"{path}: {message}"), objs[0]


def test_a_body_at_any_plausible_size_reads_the_same():
    joints = squat_joints(frames=90)
    for scale in (0.05, 1.0, 1000.0):  # a doll, metres, millimetres: measured alike
        D.require_body_size(joints * scale, Path("clip.npz"))


# ---- 14, 15: evaluate and train options ---------------------------------------------------------------------------


def test_evaluate_on_one_class_says_nothing_of_undefined_metrics(tmp_path):
    for n in range(3):
        write_paper_json(D.paper_clip_path(tmp_path / "good_only", 0, n + 1), distances(squat_joints(frames=90, seed=n)))
    shutil.copy(MODELS / "cnn-distances.onnx", tmp_path / "m.onnx")
    metadata = json.loads((MODELS / "cnn-distances.json").read_text())
    metadata["calibration"] |= {"a": 1.0, "b": 100.0}  # every row called good: kappa on one class, undefined
    (tmp_path / "m.json").write_text(json.dumps(metadata))
    done = squat("evaluate", "-m", tmp_path / "m", "--data", tmp_path / "good_only", "--json")
    assert done.returncode == 0 and done.stderr == "", done.stderr  # was: sklearn's UndefinedMetricWarning
    [model] = json.loads(done.stdout)["models"]
    assert model["n"] == 3 and model["accuracy"] == 1.0 and model["kappa"] is None


@pytest.mark.parametrize("command", ["train --synthetic-weight inf", "train --synthetic-weight nan",
                                     "train --synthetic-weight -1", "evaluate --cv --synthetic-weight inf"])  # fmt: skip
def test_a_synthetic_weight_that_is_no_weight_is_a_usage_error(tmp_path, command):
    code, stdout, stderr = run(*command.split(), "--data", tmp_path / "nowhere")  # inf: exit 1 before
    assert code == 2 and "Invalid value for '--synthetic-weight'" in " ".join(stderr.replace("│", " ").split())
    assert "is not a finite number >= 0" in " ".join(stderr.replace("│", " ").split()) and list(tmp_path.iterdir()) == []


# ---- 16: standing still ---------------------------------------------------------------------------------------------


def test_a_minute_of_standing_still_counts_no_rep(tmp_path):
    from squatcli.reps import measure_reps

    still = squat_joints(frames=1800, reps=0, noise=0.003)  # 60 s of a person standing, a little tracking noise
    report = measure_reps(still, single_rep=True)
    assert report.count == 0 and report.partial_count == 0 and report.reps[0].rep.whole
    path = tmp_path / "standing.npz"
    write_joints_npz(path, JointsClip(still.astype(np.float32), 30.0))
    code, stdout, stderr = run("assess", "--json", path)
    [obj] = json_lines(stdout)
    assert code == 0 and obj["ok"], stderr
    reps = obj["reps"]
    assert (reps["count"], reps["partial_count"]) == (0, 0)  # was: 1, with one non-partial 60 s "rep"
    [whole] = reps["reps"]
    assert whole["whole_clip"] and not whole["partial"] and whole["judged"] and (whole["start_s"], whole["end_s"]) == (0, 59.967)
    assert "no complete rep found: the whole clip was judged as one rep" in obj["notes"]
    code, stdout, _ = run("assess", path)
    assert code == 0 and "0 reps" in stdout and "whole clip" in stdout


# ---- 21: every input and output checked before anything heavy loads --------------------------------------------------


BEFORE_THE_WAIT = [
    ("assess /nonexistent.mp4", "/nonexistent.mp4", "no such file"),
    ("assess --json /nonexistent.mp4 {txt}", None, None),
    ("assess {txt}", "{txt}", "unsupported input type '.txt'"),
    ("assess {dir}", "{dir}", "folder holds no video, .npz or .json input"),
    ("assess {clip} -m /nowhere/m", "/nowhere/m.json", "no such model metadata file"),
    ("assess {clip} -m {model}", "{model}.onnx", "does not belong with m.json: its sha256 is not the one"),
    ("export {model}", "{model}.keras", "not a readable Keras model (not a zip archive"),
    ("extract /nonexistent.mp4", "/nonexistent.mp4", "no such file"),
    ("train --data /nowhere", "/nowhere", "no such dataset folder"),
    ("train --data {txt}", "{txt}", "is a file, not a dataset folder"),
    ("evaluate --data /nowhere", "/nowhere", "no such dataset folder"),
    ("evaluate -m /nowhere/m", "/nowhere/m.json", "no such model metadata file"),
    ("evaluate --cv --data /nowhere", "/nowhere", "no such dataset folder"),
]


@pytest.mark.parametrize("command, path, message", BEFORE_THE_WAIT, ids=[c.translate({123: None, 125: None}) for c, _, _ in BEFORE_THE_WAIT])
def test_a_mistyped_input_is_refused_before_anything_heavy_loads(tmp_path, command, path, message):
    places = {"clip": str(write_clip(tmp_path / "a.npz")), "txt": str(tmp_path / "notes.txt"), "dir": str(tmp_path / "empty"),
              "model": str(tmp_path / "m")}  # fmt: skip
    Path(places["txt"]).write_text("notes")
    Path(places["dir"]).mkdir()
    (tmp_path / "m.keras").write_bytes(b"not a zip")
    (tmp_path / "m.onnx").write_bytes(b"not a graph")
    shutil.copy(MODELS / "cnn.json", tmp_path / "m.json")
    code = ("import sys\nfrom squatcli.cli import main\nsys.argv = ['squat', *sys.argv[1:]]\n"
            "try:\n    main()\nfinally:\n    print(sorted(m for m in sys.modules if m in %r))" % (HEAVY,))  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, *command.format_map(places).split()], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    *printed, loaded = done.stdout.splitlines()
    assert loaded == "[]", (command, loaded)  # was: TensorFlow and the model loaded first, ~5-16 s
    if path is None:  # a batch of bad inputs: one object each
        errors = [json.loads(line)["error"] for line in printed]
        assert done.returncode == 1 and errors == ["/nonexistent.mp4: no such file", f"{places['txt']}: unsupported "
                                                   "input type '.txt' (expected a video, .npz or .json)"], done  # fmt: skip
        return
    assert_one_line(done.returncode, done.stderr, path.format_map(places), message, done.stdout)


def test_a_batch_with_one_mistyped_input_still_assesses_the_others(tmp_path):
    clip = write_clip(tmp_path / "a.npz")
    code, stdout, stderr = run("assess", "--json", clip, "/nonexistent.mp4", tmp_path / "notes.txt")
    objs = json_lines(stdout)
    assert code == 1 and [o["ok"] for o in objs] == [True, False, False] and stderr == ""
    assert [o["error"] for o in objs[1:]] == ["/nonexistent.mp4: no such file", f"{tmp_path / 'notes.txt'}: no such file"]


# ---- 22: training data recorded by name, never a machine's path ------------------------------------------------------


def absolute_paths(value, where: str = "") -> list[str]:
    """Every string in a JSON value that is an absolute path (where it is)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in absolute_paths(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in absolute_paths(v, f"{where}[{i}]")]
    return [f"{where}: {value}"] if isinstance(value, str) and Path(value).is_absolute() else []


def test_bundled_models_name_their_data_and_record_no_machine_path():
    from squatcli.modelfiles import bundled_names

    for name in bundled_names():
        md = json.loads((MODELS / f"{name}.json").read_text())
        assert absolute_paths(md) == [], name  # was: data.sources, data.real and data.source held /work/...
        assert md["data"]["sources"] in (["synthetic"], ["chariar2023"]) and md["data"]["source"] == md["data"]["sources"][0]


def test_training_data_is_described_by_name_and_fingerprint(tmp_path):
    from squatcli import train as T

    from classifier_data import write_standin_dataset
    from real_layout import write_real_layout

    paper = write_standin_dataset(tmp_path / "paper", clips_per_class=2, subjects=3)
    real = write_real_layout(tmp_path / "real", dates=("01042023", "02042023"), per_date=1)
    data, info = T.load_data([str(real)], T.INPUT_CHOICES["rep"]())
    assert info["sources"] == ["chariar2023"] and info["real"] == "chariar2023" and info["source"] == "chariar2023"
    assert info["datasets"] == [{"name": "chariar2023", "fingerprint": data.fingerprint(), "rows": len(data)}]
    _, info = T.load_data([str(paper)])
    assert info["sources"] == ["ogata2019"] and absolute_paths(info) == [] and str(tmp_path) not in json.dumps(info)


def test_evaluate_without_data_says_which_data_a_model_needs(tmp_path):
    from squatcli.evaluation import training_data

    code, stdout, stderr = run("evaluate")  # the bundled cnn learned from the real reps: was a read of /work/...
    fingerprint = json.loads((MODELS / "cnn.json").read_text())["data"]["datasets"][0]["fingerprint"]
    assert len(fingerprint) == 16 and code == 1 and stderr == (f"error: model cnn was trained on chariar2023 (fingerprint {fingerprint}): the "
                                    "real reps of Chariar et al. 2023, which do not ship with squatcli: pass the folder "
                                    "holding their data.csv and mediapipe/ with --data DIR\n"), stderr  # fmt: skip
    assert training_data(json.loads((MODELS / "cnn-distances.json").read_text()), "cnn-distances") == ["synthetic"]
    model = copy_model(tmp_path)
    metadata = json.loads((tmp_path / "m.json").read_text())
    metadata["data"] |= {"sources": ["/elsewhere/chariar2023"], "source": "/elsewhere/chariar2023"}  # an older file
    (tmp_path / "m.json").write_text(json.dumps(metadata))
    code, stdout, stderr = run("evaluate", "-m", model)
    assert code == 1 and stderr == ("error: model cnn was trained on the data at /elsewhere/chariar2023, a path on the "
                                    "machine that trained it (metadata from before squatcli named its data): pass that "
                                    "data with --data DIR\n"), stderr  # fmt: skip
