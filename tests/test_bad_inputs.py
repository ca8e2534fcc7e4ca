"""Issue 9: every bad input gets one clear line, and nothing is lost.

Each case of the issue has a test here that failed before its fix. The bad inputs are made by the tests
themselves (nothing large is committed). A bad input must give exit code 1 (2 for a wrong option value), one line
on stderr `error: FILE: PROBLEM` (for `assess --json`, one JSON object per input instead), no traceback, and no
file left behind or changed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from squatcli.inputs import PAPER_INPUTS
from squatcli import datasets as D
from squatcli.cli import EXAMPLE_CLIP, app
from squatcli.datasets import JointsClip, write_joints_npz, write_paper_json
from squatcli.errors import SquatError
from squatcli.features import distances
from squatcli.skeleton import CLASSES

from conftest import SHARED_VIDEOS, squat_joints, write_video
from mp4tools import index_first, set_rotation

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"


def run(*args, env: dict | None = None):
    result = runner.invoke(app, [str(a) for a in args], env=env)
    return result.exit_code, result.stdout, result.stderr


def squat(*args, timeout: float = 120, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    """The real `squat` command in a new process (what FFmpeg and signals need)."""
    return subprocess.run([sys.executable, "-m", "squatcli.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, **kwargs)  # fmt: skip


def assert_one_line(code: int, stderr: str, path, message: str, stdout: str = "") -> None:
    """Exit 1 and exactly `error: PATH: ...MESSAGE...` on stderr, nothing else, no traceback."""
    lines = stderr.strip().splitlines()
    assert code == 1, (code, stderr)
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"error: {path}: "), lines[0]
    assert message in lines[0], (message, lines[0])
    assert "Traceback" not in stderr + stdout


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time: to assert nothing was written or changed."""
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def write_clip(path: Path, frames: int = 180, fps: float = 30.0, seed: int = 0) -> Path:
    write_joints_npz(path, JointsClip(squat_joints(frames=frames, fps=fps, seed=seed).astype(np.float32), fps))
    return path


def make_fifo(path: Path) -> Path:
    """A FIFO at `path`. If code under test ever blocks opening it, a writer appears after 5 s so the test fails
    instead of hanging (the open then returns and reads nothing)."""
    os.mkfifo(path)

    def unblock():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # ENXIO (nobody waiting) is the good case
        except OSError:
            pass

    timer = threading.Timer(5.0, unblock)
    timer.daemon = True
    timer.start()
    return path


def copy_model(folder: Path, name: str = "m", **changes) -> Path:
    """The bundled CNN copied to folder/name.{keras,onnx,json}, with `changes` made to its metadata."""
    shutil.copy(MODELS / "cnn.keras", folder / f"{name}.keras")
    shutil.copy(MODELS / "cnn.onnx", folder / f"{name}.onnx")
    metadata = json.loads((MODELS / "cnn.json").read_text()) | changes
    (folder / f"{name}.json").write_text(json.dumps(metadata))
    return folder / name


# ---- 6, 16, 20: joints .npz files -----------------------------------------------------------------------------


def npz_member(archive: zipfile.ZipFile, key: str, shape: tuple, dtype: str = "<f8", data: bytes = b"") -> None:
    """An .npy member whose header declares `shape` but which holds only `data`: what a header costs to read."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros(0, dtype=dtype)) | {"shape": shape}
    with archive.open(f"{key}.npy", "w") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(data)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: dict(joints=squat_joints(frames=60), fps=1e-4), "'fps' is 0.0001; a joints clip must be sampled at 1 to 1000"),
        (lambda: dict(joints=squat_joints(frames=60), fps=1e-300), "'fps' is 1e-300"),
        (lambda: dict(joints=squat_joints(frames=60), fps=5e-324), "'fps' is 4.94066e-324"),
        (lambda: dict(joints=squat_joints(frames=60), fps=1e5), "'fps' is 100000"),
        (lambda: dict(joints=np.zeros((3700, 19, 3), np.float32) + squat_joints(frames=1)[0], fps=1.0),
         "clip lasts 3,700 s; at most 3,600 s is accepted"),
        (lambda: dict(joints=squat_joints(frames=60) * 1e300, fps=30.0), "'joints' holds coordinates up to 2.31e+300"),
        (lambda: dict(joints=squat_joints(frames=60) * 1e30, fps=30.0), "must stay within ±1e+06"),
        (lambda: dict(joints=squat_joints(frames=60).astype(complex), fps=30.0), "non-numeric"),
        (lambda: dict(joints=squat_joints(frames=60), fps=30.0, label=np.array(["good", "good"])), "'label' must be one class"),
    ],
    ids=["fps-1e-4", "fps-1e-300", "fps-5e-324", "fps-1e5", "3700-s", "x1e300", "x1e30", "complex", "two-labels"],
)
def test_joints_npz_out_of_range_is_refused_at_once(tmp_path, make, message):
    path = tmp_path / "clip.npz"
    np.savez(path, **make())
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning on the user's terminal
        code, stdout, stderr = run("assess", "--json", path, EXAMPLE_CLIP)
    seconds = time.perf_counter() - start
    objs = json_lines(stdout)
    assert code == 1 and [o["ok"] for o in objs] == [False, True], stderr
    assert objs[0]["error"].startswith(f"{path}: ") and message in objs[0]["error"], objs[0]["error"]
    assert stderr == "" and seconds < 30  # 12.7 GB and minutes for fps 1e-4 before


def test_negative_and_overflowing_distances_say_so(tmp_path):
    from squatcli.features import normalise

    dist = distances(squat_joints(frames=60))
    for bad, message in ((-dist, "negative distances"), (dist * np.inf, "not finite"), (dist * 0, "all joints coincide")):
        with pytest.raises(ValueError, match=message):
            normalise(bad)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not np.isfinite(distances(squat_joints(frames=2) * 1e300)).any()  # overflow without a warning
    path = tmp_path / "negative.json"
    write_paper_json(path, -dist)
    code, stdout, stderr = run("assess", "--json", path)
    [obj] = json_lines(stdout)
    assert code == 1 and obj["error"] == f"{path}: '3d_joint' holds negative distances (first in frame 0); a distance is never negative"


def test_npz_reads_only_the_keys_it_uses_and_checks_their_size_first(tmp_path):
    path = tmp_path / "padded.npz"
    np.savez(path, joints=squat_joints(frames=90), fps=30.0)
    with zipfile.ZipFile(path, "a") as archive:  # an unused array declaring 4 GB (its data are not even there)
        npz_member(archive, "junk", (500_000_000,))
    start = time.perf_counter()
    clip = D.read_joints_npz(path)
    assert clip.joints.shape == (90, 19, 3) and time.perf_counter() - start < 1.0

    huge = tmp_path / "huge.npz"
    with zipfile.ZipFile(huge, "w") as archive:  # the joints themselves declare 45 GB
        npz_member(archive, "joints", (100_000_000, 19, 3))
        npz_member(archive, "fps", (), data=np.float64(30).tobytes())
    with pytest.raises(SquatError, match=r"'joints' declares 45,600 MB \(shape \(100000000, 19, 3\)\); at most 268 MB"):
        D.read_joints_npz(huge)

    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, joints=np.array([object()] * 3), fps=30.0)
    with pytest.raises(SquatError, match="'joints' holds Python objects"):
        D.read_joints_npz(pickled)


# ---- 7: paper JSON that Python's parser cannot take -----------------------------------------------------------


def paper_text(frames: int = 60) -> str:
    return json.dumps({str(i): {"index": i, "3d_joint": row.tolist()}
                       for i, row in enumerate(distances(squat_joints(frames=frames)).astype(float))})  # fmt: skip


BAD_PAPER_JSON = {
    "deep": ("[" * 100_000 + "]" * 100_000, "not valid JSON (RecursionError: nested too deeply to read)"),
    "index-1e999": (paper_text().replace('"index": 0,', '"index": 1e999,', 1), "frame '0' has an infinite index"),
    "5001-digits": (paper_text().replace('"index": 0,', f'"index": {"9" * 5001},', 1),
                    "not valid JSON (ValueError: Exceeds the limit (4300 digits)"),
}


@pytest.mark.parametrize("name", BAD_PAPER_JSON)
def test_paper_json_that_breaks_the_parser_is_one_error(tmp_path, name):
    text, message = BAD_PAPER_JSON[name]
    path = tmp_path / f"{name}.json"
    path.write_text(text)
    code, stdout, stderr = run("assess", "--json", path, EXAMPLE_CLIP)
    objs = json_lines(stdout)
    assert code == 1 and [o["ok"] for o in objs] == [False, True] and "Traceback" not in stderr
    assert objs[0]["error"].startswith(f"{path}: {message}"), objs[0]["error"]


def test_evaluate_on_a_dataset_holding_a_broken_clip_names_it(tmp_path):
    clips = tmp_path / "data" / CLASSES[0].folder / D.PAPER_SUBDIR
    clips.mkdir(parents=True)
    (clips / "1115_squat_000001.json").write_text(paper_text())
    bad = clips / "1115_squat_000002.json"
    bad.write_text(BAD_PAPER_JSON["deep"][0])
    code, stdout, stderr = run("evaluate", "-m", "cnn", "--data", tmp_path / "data")
    assert_one_line(code, stderr, bad, "not valid JSON (RecursionError", stdout)


# ---- 18, 21: what is not a regular readable file ------------------------------------------------------------


def test_fifos_and_other_non_files_are_refused_without_waiting(tmp_path):
    inputs = [make_fifo(tmp_path / name) for name in ("x.mp4", "x.npz", "x.json")]
    (tmp_path / "folder").mkdir()
    make_fifo(tmp_path / "folder" / "y.mov")  # found by expanding a folder
    write_clip(tmp_path / "folder" / "z.npz")
    start = time.perf_counter()
    done = squat("assess", "--json", *inputs, tmp_path / "folder", timeout=60)
    objs = json_lines(done.stdout)
    assert done.returncode == 1 and time.perf_counter() - start < 30 and "Traceback" not in done.stderr
    assert [o["ok"] for o in objs] == [False, False, False, False, True]
    for obj, path in zip(objs, [*inputs, tmp_path / "folder" / "y.mov"]):
        assert obj["error"] == f"{path}: is a FIFO (named pipe), not a regular file"
    code, _, stderr = run("extract", inputs[0], "-o", tmp_path / "out.npz")
    assert_one_line(code, stderr, inputs[0], "is a FIFO (named pipe), not a regular file")
    assert not (tmp_path / "out.npz").exists()


def test_model_files_that_are_fifos_are_refused(tmp_path):
    from squatcli.models import load_model

    make_fifo(tmp_path / "m.json")
    with pytest.raises(SquatError, match="m.json: is a FIFO"):
        load_model(tmp_path / "m")
    copy_model(tmp_path, "n")
    (tmp_path / "n.onnx").unlink()
    make_fifo(tmp_path / "n.onnx")
    with pytest.raises(SquatError, match="n.onnx: is a FIFO"):
        load_model(tmp_path / "n")


def test_an_unreadable_input_is_that_inputs_error_not_a_usage_error(tmp_path, monkeypatch):
    good, locked = write_clip(tmp_path / "a.npz"), write_clip(tmp_path / "locked.npz")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if Path(p) == locked else real_access(p, mode, *a, **k))
    code, stdout, stderr = run("assess", "--json", good, locked)  # was: a usage box, exit 2, no JSON at all
    objs = json_lines(stdout)
    assert code == 1 and [o["ok"] for o in objs] == [True, False] and stderr == ""
    assert objs[1]["error"] == f"{locked}: cannot be read (permission denied)"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_an_unreadable_input_for_real(tmp_path):
    good, locked = write_clip(tmp_path / "a.npz"), write_clip(tmp_path / "locked.npz")
    locked.chmod(0)
    code, stdout, _ = run("assess", "--json", good, locked)
    assert code == 1 and [o["ok"] for o in json_lines(stdout)] == [True, False]


# ---- 8, 19: model files -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"threshold": "abc"}, "model metadata 'threshold' must be a number from 0 to 1, got \"abc\""),
        ({"threshold": None}, "'threshold' must be a number from 0 to 1, got null"),
        ({"threshold": 1.5}, "'threshold' must be a number from 0 to 1, got 1.5"),
        ({"threshold": True}, "'threshold' must be a number from 0 to 1, got true"),
        ({"features": "oops"}, "model metadata 'features' must be an object, got \"oops\""),
        ({"classes": 5}, "model metadata 'classes' must be a list of class names, got 5"),
        ({"classes": ["good", 1]}, "'classes' must be a list of class names"),
        ({"window": "300"}, "'window' must be an integer"),
        ({"data": []}, "'data' must be an object, got []"),
        ({"training": "x"}, "'training' must be an object"),
    ],
)
def test_model_metadata_of_the_wrong_type_is_refused_when_the_model_loads(tmp_path, changes, message):
    model = copy_model(tmp_path, **changes)
    clip = write_clip(tmp_path / "a.npz")
    code, stdout, stderr = run("assess", clip, "-m", model)
    assert_one_line(code, stderr, f"{model}.json", message, stdout)
    code, stdout, stderr = run("evaluate", "-m", model, "--data", tmp_path / "nowhere")  # the model loads first
    assert_one_line(code, stderr, f"{model}.json", message, stdout)


def damaged_archives(tmp_path: Path) -> dict[str, tuple[bytes, str]]:
    real = (MODELS / "cnn.keras").read_bytes()
    flipped = bytearray(real)
    with zipfile.ZipFile(MODELS / "cnn.keras") as archive:  # one byte of the weights changed: a CRC error
        info = archive.getinfo("model.weights.h5")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 1000
    flipped[start] ^= 0xFF
    no_config = tmp_path / "no_config.zip"
    with zipfile.ZipFile(no_config, "w") as archive:
        archive.writestr("metadata.json", "{}")
    return {
        "truncated": (real[: len(real) // 2], "not a zip archive: truncated or not a .keras file"),
        "garbage": (b"hello", "not a zip archive"),
        "crc": (bytes(flipped), "damaged archive: model.weights.h5 fails its checksum"),
        "no-config": (no_config.read_bytes(), "the archive lacks config.json, model.weights.h5"),
    }


@pytest.mark.parametrize("kind", ["truncated", "garbage", "crc", "no-config"])
def test_a_damaged_keras_file_says_what_is_wrong(tmp_path, kind):
    """Only exporting (and training code) reads the .keras file; assessing does not need it."""
    model = copy_model(tmp_path)
    data, message = damaged_archives(tmp_path)[kind]
    (tmp_path / "m.keras").write_bytes(data)
    code, stdout, stderr = run("export", model)
    assert_one_line(code, stderr, f"{model}.keras", f"not a readable Keras model ({message}", stdout)
    assert "File not found" not in stderr
    code, stdout, stderr = run("assess", EXAMPLE_CLIP, "-m", model)
    assert code == 0, stderr


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda data: data[: len(data) // 2], "does not belong with m.json: its sha256 is not the one that metadata records"),
        (lambda data: b"", "does not belong with m.json"),
        (lambda data: data[:100] + bytes([data[100] ^ 0xFF]) + data[101:], "does not belong with m.json"),
    ],
)
def test_a_damaged_onnx_file_says_what_is_wrong(tmp_path, damage, message):
    model = copy_model(tmp_path)
    (tmp_path / "m.onnx").write_bytes(damage((tmp_path / "m.onnx").read_bytes()))
    code, stdout, stderr = run("assess", EXAMPLE_CLIP, "-m", model)
    assert_one_line(code, stderr, f"{model}.onnx", message, stdout)


def test_an_onnx_file_without_a_fingerprint_is_read_by_onnx_runtime(tmp_path):
    model = copy_model(tmp_path, weights={})  # metadata written before fingerprints: ONNX Runtime judges the file
    (tmp_path / "m.onnx").write_bytes(b"not a protobuf at all")
    code, stdout, stderr = run("assess", EXAMPLE_CLIP, "-m", model)
    assert_one_line(code, stderr, f"{model}.onnx", "not a readable ONNX model (", stdout)
    (tmp_path / "m.onnx").unlink()
    code, stdout, stderr = run("assess", EXAMPLE_CLIP, "-m", model)
    assert_one_line(code, stderr, f"{model}.onnx", f"no such model file (write it from m.keras with `squat export {model}`)", stdout)
    code, stdout, stderr = run("export", model)
    assert code == 0 and "Traceback" not in stderr, stderr
    code, stdout, stderr = run("assess", EXAMPLE_CLIP, "-m", model)
    assert code == 0, stderr
    assert json.loads((tmp_path / "m.json").read_text())["weights"]["onnx_sha256"] == json.loads((MODELS / "cnn.json").read_text())["weights"]["onnx_sha256"]


# ---- 5: a model and its metadata are written together or not at all ------------------------------------------


@pytest.fixture(scope="module")
def small_model():
    from squatcli import models as M
    from squatcli.skeleton import N_FEATURES

    return M.build("cnn", PAPER_INPUTS, {"features": (np.zeros(N_FEATURES), np.ones(N_FEATURES))}, width=4, depth=1)


def minimal_metadata() -> dict:
    metadata = json.loads((MODELS / "cnn.json").read_text())
    return {k: metadata[k] for k in ("format", "version", "name", "classes", "window", "threshold", "features")}


def test_save_model_writes_all_files_or_none(tmp_path, small_model):
    from squatcli.models import save_model

    (tmp_path / "new.keras").mkdir()  # NAME.keras cannot be written
    with pytest.raises(OSError):
        save_model(small_model, minimal_metadata(), tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.keras"]  # no new.json or .onnx, no temporary file

    save_model(small_model, minimal_metadata(), tmp_path / "old")
    before = {p.name: p.read_bytes() for p in tmp_path.glob("old.*")}
    (tmp_path / "old.json").unlink()
    (tmp_path / "old.json").mkdir()  # now the second file cannot be written: the first must be put back
    with pytest.raises(OSError):
        save_model(small_model, minimal_metadata() | {"threshold": 0.9}, tmp_path / "old")
    assert (tmp_path / "old.keras").read_bytes() == before["old.keras"]
    assert (tmp_path / "old.onnx").read_bytes() == before["old.onnx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.keras", "old.json", "old.keras", "old.onnx"]


def test_train_refuses_an_unwritable_model_before_reading_data(tmp_path):
    (tmp_path / "m.keras").mkdir()
    code, stdout, stderr = run("train", "--data", tmp_path / "nowhere", "-o", tmp_path / "m")
    assert_one_line(code, stderr, tmp_path / "m.keras", "is a folder; give a file name", stdout)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]  # and no m.json or m.onnx


# ---- 4, 12: outputs are checked before the work, and never written over an input ------------------------------

# {video}: a video without a person (so work that started would fail on that instead), {file}: a regular file,
# {dir}, {dir_npz} (folder.npz), ...: existing folders, {ro}: a read-only folder, {nowhere}: a dataset that does not exist.
BAD_OUTPUTS = [
    ("extract {video} -o {dir_npz}", "{dir_npz}", "is a folder; give a file name"),
    ("extract {video} -o {file}/x.npz", "{file}/x.npz", "cannot be created: {file} is a file, not a folder"),
    ("extract {video} -o /proc/x.npz", "/proc/x.npz", "cannot be written: /proc does not accept new files"),
    ("extract {video} -o {ro}/x.npz", "{ro}/x.npz", "cannot be written: {ro} does not accept new files"),
    ("assess {video} --annotate {dir_mp4}", "{dir_mp4}", "is a folder; give a file name"),
    ("assess {video} --annotate /proc/a.mp4", "/proc/a.mp4", "cannot be written: /proc does not accept new files"),
    ("assess {video} --annotate {file}/a.mp4", "{file}/a.mp4", "cannot be created: {file} is a file"),
    ("synth --out /proc/corpus -n 1 -s 3", "/proc/corpus", "cannot be written: /proc does not accept new files"),
    ("synth --out {file}/corpus -n 1 -s 3", "{file}/corpus", "{file} exists and is not a folder"),
    ("synth --out {ro}/corpus -n 1 -s 3", "{ro}/corpus", "cannot be written: {ro} does not accept new files"),
    ("synth --preview /proc/p.png", "/proc/p.png", "cannot be written: /proc does not accept new files"),
    ("synth --preview {dir_png}", "{dir_png}", "is a folder; give a file name"),
    ("train --data {nowhere} -o {dir}", "{dir}", "is a folder; give a name (-o NAME writes NAME.keras, NAME.onnx and NAME.json)"),
    ("train --data {nowhere} -o /proc/m", "/proc/m.keras", "cannot be written: /proc does not accept new files"),
    ("train --data {nowhere} -o {ro}/m", "{ro}/m.keras", "cannot be written: {ro} does not accept new files"),
    ("evaluate --data {nowhere} --roc -o /proc/figures", "/proc/figures", "cannot be written: /proc does not accept"),
    ("evaluate --data {nowhere} --roc -o {file}", "{file}", "exists and is not a folder"),
    ("evaluate --data {nowhere} --roc -o {ro}/figures", "{ro}/figures", "cannot be written: {ro} does not accept"),
]


@pytest.fixture
def places(tmp_path):
    """The paths BAD_OUTPUTS names, made in tmp_path."""
    names = {"video": str(write_video(tmp_path / "blank.mp4", 45, value=lambda i: 90)),
             "file": str(tmp_path / "file.txt"), "ro": str(tmp_path / "ro"), "nowhere": str(tmp_path / "nowhere")}  # fmt: skip
    Path(names["file"]).write_text("a file")
    for key, name in (("dir", "folder"), ("dir_npz", "folder.npz"), ("dir_mp4", "folder.mp4"), ("dir_png", "folder.png")):
        (tmp_path / name).mkdir()
        names[key] = str(tmp_path / name)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    yield names
    ro.chmod(0o755)


@pytest.mark.parametrize("command, path, message", BAD_OUTPUTS, ids=[c for c, _, _ in BAD_OUTPUTS])
def test_unwritable_outputs_are_refused_before_the_work(tmp_path, places, command, path, message):
    if "{ro}" in command:
        try:
            (tmp_path / "ro" / "probe").touch()
            pytest.skip("this user (root) can write in a read-only folder; /proc stands in for it")
        except PermissionError:
            pass
    before = snapshot(tmp_path)
    start = time.perf_counter()
    code, stdout, stderr = run(*command.format_map(places).split())
    assert_one_line(code, stderr, path.format_map(places), message.format_map(places), stdout)
    assert snapshot(tmp_path) == before  # nothing written, nothing changed
    assert time.perf_counter() - start < 30


def test_an_input_is_never_written_over(tmp_path, monkeypatch):
    video = write_video(tmp_path / "x.mp4", 45, value=lambda i: 90)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    os.symlink(video, tmp_path / "link.mp4")
    for target in ("x.mp4", tmp_path / "sub" / ".." / "x.mp4", "link.mp4"):
        before = snapshot(tmp_path)
        code, stdout, stderr = run("assess", video, "--annotate", target)  # replaced the input before
        assert_one_line(code, stderr, target, "is also an input of this command; refusing to write over it", stdout)
        assert snapshot(tmp_path) == before
    named_npz = tmp_path / "clip.npz"  # a video with a confusing name: `squat extract clip.npz` -> ./clip.npz
    video.rename(named_npz)
    before = snapshot(tmp_path)
    code, stdout, stderr = run("extract", "clip.npz")
    assert_one_line(code, stderr, "clip.npz", "is also an input of this command", stdout)
    assert snapshot(tmp_path) == before


# ---- 9, 17: option values refused up front ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "command, message",
    [
        ("synth --preview {tmp}/p.png --seed -1", "Invalid value for '--seed'"),
        ("synth --preview {tmp}/p.png --seed 4294967296", "Invalid value for '--seed'"),
        ("train --data {tmp}/nowhere --seed -1", "Invalid value for '--seed'"),
        ("train --data {tmp}/nowhere --lr inf", "inf is not greater than 0 and at most 1"),
        ("train --data {tmp}/nowhere --lr nan", "nan is not greater than 0 and at most 1"),
        ("train --data {tmp}/nowhere --lr 0", "0 is not greater than 0"),
        ("train --data {tmp}/nowhere --lr 2", "2 is not greater than 0 and at most 1"),
        ("synth --out {tmp}/c -n 100000000000000000000", "Invalid value for '--clips-per-class'"),
        ("synth --out {tmp}/c -n 10000000", "Invalid value for '--clips-per-class'"),
        ("synth --out {tmp}/c -s 10000000", "Invalid value for '--subjects'"),
    ],
)
def test_option_values_out_of_range_are_usage_errors(tmp_path, command, message):
    code, stdout, stderr = run(*command.format(tmp=tmp_path).split())
    assert code == 2 and message in " ".join(stderr.replace("│", " ").split()), stderr
    assert "Traceback" not in stderr and list(tmp_path.iterdir()) == []


def test_library_refuses_negative_seeds_and_learning_rates_out_of_range():
    from squatcli import synth
    from squatcli.train import TrainConfig

    for config in (TrainConfig(seed=-1), TrainConfig(lr=float("inf")), TrainConfig(lr=5.0)):
        with pytest.raises(SquatError):
            config.resolved()
    with pytest.raises(SquatError, match="--clips-per-class must be 1 to 10,000"):
        synth.corpus_plan(10**20, 3, 0)
    with pytest.raises(SquatError, match="the seed must be 0 or more"):
        synth.corpus_plan(1, 3, -1)


def test_synth_checks_the_disk_space_it_needs_first(tmp_path, monkeypatch):
    from squatcli import synth

    monkeypatch.setattr(synth.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**12, 10**12 - 10**8, 10**8))
    code, stdout, stderr = run("synth", "--out", tmp_path / "c", "-n", 1000)
    assert_one_line(code, stderr, tmp_path / "c", "7,000 clips need about 3.9 GB; only 100.0 MB is free there", stdout)
    assert list(tmp_path.iterdir()) == []


# ---- 15: two synth runs to one folder -------------------------------------------------------------------------


def test_a_corpus_written_meanwhile_by_another_run_is_not_replaced(tmp_path):
    from squatcli import synth

    out = tmp_path / "corpus"
    inner = []

    def other_run_finishes_first(done, total):
        if done == 1 and not inner:
            inner.append(synth.build_corpus(out, clips_per_class=1, subjects=3, seed=5))

    with pytest.raises(SquatError, match="was written by another process while this corpus was generated"):
        synth.build_corpus(out, clips_per_class=2, subjects=3, seed=1, progress=other_run_finishes_first)
    assert len(D.find_paper_clips(out)) == 7  # the other run's corpus, untouched
    assert json.loads((out / D.CORPUS_INFO).read_text())["seed"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]  # no temporary folder left


def test_two_synth_processes_to_one_folder_one_fails(tmp_path):
    out = tmp_path / "corpus"
    args = [sys.executable, "-m", "squatcli.cli", "synth", "--out", str(out), "-n", "8", "-s", "3"]
    runs = [subprocess.Popen([*args, "--seed", str(seed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for seed in (1, 2)]  # fmt: skip
    results = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
    assert sorted(code for code, _ in results) == [0, 1], results
    [loser] = [text for code, text in results if code == 1]
    assert loser.startswith(f"error: {out}: ") and len(loser.strip().splitlines()) == 1 and "Traceback" not in loser
    winner = [seed for seed, (code, _) in zip((1, 2), results) if code == 0][0]
    assert json.loads((out / D.CORPUS_INFO).read_text())["seed"] == winner
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]


# ---- 11: a batch goes on after any failure --------------------------------------------------------------------


def test_an_unexpected_exception_is_that_inputs_error(tmp_path, monkeypatch):
    from squatcli import assess as A

    clips = [write_clip(tmp_path / f"{k}.npz", seed=k) for k in range(3)]
    real = A.assess

    def flaky(path, *args, **kwargs):
        if path == clips[1]:
            raise RuntimeError("boom\nsecond line")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(A, "assess", flaky)
    code, stdout, stderr = run("assess", "--json", *clips)
    objs = json_lines(stdout)
    assert code == 1 and [o["ok"] for o in objs] == [True, False, True] and stderr == ""
    assert objs[1]["error"] == (f"{clips[1]}: unexpected error (RuntimeError: boom); please report it "
                                "(SQUAT_DEBUG=1 shows the traceback)")  # fmt: skip
    code, stdout, stderr = run("assess", *clips)  # the human output: one line for it, the others assessed
    assert code == 1 and stdout.count("NEEDS WORK") + stdout.count("GOOD FORM") == 4  # 2 panels + 2 summary rows
    assert f"error: {clips[1]}: unexpected error (RuntimeError: boom)" in stderr and "Traceback" not in stderr


def test_an_unexpected_exception_in_any_command_is_one_line(monkeypatch, tmp_path):
    from squatcli import synth

    monkeypatch.setattr(synth, "build_corpus", lambda *a, **k: 1 / 0)
    code, stdout, stderr = run("synth", "--out", tmp_path / "c", "-n", 1, "-s", 3)
    assert code == 1 and stderr.strip() == ("error: unexpected error (ZeroDivisionError: division by zero); "
                                            "please report it (SQUAT_DEBUG=1 shows the traceback)")  # fmt: skip


# ---- 10: a terminal that cannot show UTF-8 ----------------------------------------------------------------------


def test_ascii_stdout_gets_ascii_tables_not_a_crash(tmp_path):
    folder = tmp_path / "caf\u00e9"  # a name the terminal cannot show either
    folder.mkdir()
    clip = shutil.copy(EXAMPLE_CLIP, folder / "clip.npz")
    done = squat("assess", EXAMPLE_CLIP, clip, env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.count("NEEDS WORK: knees caving in") == 4
    assert "\nKnees caving in " in done.stdout and re.search(r"#{3,}", done.stdout)  # the probability bar, in ASCII
    assert "deg" in done.stdout and "+-----" in done.stdout and "caf?" in done.stdout  # "knee deg", ASCII boxes
    done.stdout.encode("ascii")  # nothing but ASCII


# ---- 13, 14: SIGTERM and Ctrl-C ---------------------------------------------------------------------------------


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "squatcli.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def wait_for(condition, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_a_stopped_synth_leaves_nothing_and_no_worker_tracebacks(tmp_path, signum, code, word):
    process = start("synth", "--out", tmp_path / "corpus", "-n", 40, "-s", 3)  # 280 clips, written by 2 workers
    hidden = lambda: [p for p in tmp_path.iterdir() if p.name.startswith(".corpus.")]  # noqa: E731
    wait_for(lambda: hidden() and any((hidden()[0] / "joints").rglob("*.npz")))  # workers are writing clips
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == code and stderr.strip() == word, stderr  # no BrokenPipe or worker tracebacks
    assert list(tmp_path.iterdir()) == []  # the half corpus is gone


@pytest.mark.slow
def test_sigterm_while_annotating_leaves_no_temporary_video(shared_video, tmp_path):
    out = tmp_path / "annotated.mp4"
    process = start("assess", shared_video("front_bodyweight_good.mp4"), "--annotate", out)
    wait_for(lambda: any(p.name.startswith(".annotated.") for p in tmp_path.iterdir()))
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143 and stderr.strip().endswith("terminated") and "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_raised_inside_a_gc_callback_is_not_lost():
    """JAX's gc callback runs all through TensorFlow's import; a KeyboardInterrupt raised in it is swallowed by
    Python ("Exception ignored in"). interrupts.install re-sends it: the program stops instead of running on."""
    code = """if True:
        import gc, os, signal, time
        from squatcli import interrupts
        interrupts.install()
        def callback(phase, info):
            if phase == "start":
                os.kill(os.getpid(), signal.SIGINT)  # handled while the callback runs, where it cannot propagate
                sum(range(1000))
        gc.callbacks.append(callback)
        try:
            gc.collect()
            gc.callbacks.remove(callback)
            time.sleep(5)
            print("ran on")
        except KeyboardInterrupt:
            print("interrupted")
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "interrupted" and done.stderr == "", done


def test_ctrl_c_swallowed_inside_an_import_is_sent_again(tmp_path):
    """jaxlib's compiled initialisation runs Python code and drops an exception raised in it: the import just
    finishes. A signal raised during an import that the command has not handled within 0.5 s is sent again."""
    (tmp_path / "swallower.py").write_text("""if True:
        import os, signal
        try:
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(1000))  # the handler raises in here...
        except KeyboardInterrupt:
            pass  # ...and this module drops it, as jaxlib's initialisation does
    """)
    code = """if True:
        import time
        from squatcli import interrupts
        interrupts.install()
        try:
            import swallower
            time.sleep(5)
            print("ran on")
        except KeyboardInterrupt:
            interrupts.handled()
            print("interrupted")
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})  # fmt: skip
    assert done.stdout.strip() == "interrupted" and done.stderr == "", done


@pytest.mark.slow
def test_ctrl_c_during_start_up_always_stops_the_command():
    """Real SIGINTs during start-up and the first inputs: about one in three used to be swallowed while
    TensorFlow imported (assessing no longer imports it, so 400 inputs keep the command running past 3.4 s)."""
    for delay in (1.0, 1.4, 1.8, 2.2, 2.6, 3.0, 3.4):
        process = start("assess", "--json", *[EXAMPLE_CLIP] * 400)  # runs on for seconds after start-up
        time.sleep(delay)
        assert process.poll() is None, "finished before the signal"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        # -2: killed by SIGINT once Python has begun to exit, which shells also report as 130
        assert process.returncode in (130, -2) and stderr.strip().endswith("interrupted"), (delay, process.returncode, stderr[-500:])
        assert stdout.count("\n") < 400  # stopped, not run to the end


# ---- 1, 2, 3, 22: videos ------------------------------------------------------------------------------------------


def copy_frames(source: Path, target: Path, edit=lambda frame: frame, keep=lambda i: True) -> Path:
    """Re-encode a video frame by frame (mp4v), each frame passed through `edit` (an OpenCV BGR image)."""
    import cv2

    cap = cv2.VideoCapture(str(source))
    fps, writer, i = cap.get(cv2.CAP_PROP_FPS), None, 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if keep(i):
            frame = np.ascontiguousarray(edit(frame))
            if writer is None:
                writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, frame.shape[1::-1])
            writer.write(frame)
        i += 1
    writer.release()
    return target


def test_a_rotated_phone_video_decodes_upright(tmp_path):
    import cv2

    from squatcli.video import probe, read_frames

    upright = np.zeros((160, 96, 3), np.uint8)  # portrait, 96 wide and 160 tall, white band at the top
    upright[:40] = 255
    stored = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)  # how a phone stores it: landscape...
    path = tmp_path / "portrait.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (160, 96))
    for _ in range(30):
        writer.write(stored)
    writer.release()
    set_rotation(path, 90)  # ...with "rotate 90 degrees clockwise to show"
    info = probe(path)
    assert (info.width, info.height) == (96, 160)
    frames = [rgb for _, _, rgb in read_frames(path)]
    assert len(frames) == 30 and all(f.shape == (160, 96, 3) for f in frames)
    grey = frames[0].mean(axis=2)
    assert grey[:30].mean() > 200 and grey[-100:].mean() < 50  # the band is at the top: upright


@pytest.mark.slow
def test_a_rotated_real_video_gets_upright_joints_and_an_upright_annotation(shared_video, tmp_path):
    import cv2

    from squatcli.skeleton import J

    path = copy_frames(shared_video("front_bodyweight_good.mp4"), tmp_path / "sideways.mp4",
                       edit=lambda f: cv2.rotate(f, cv2.ROTATE_90_COUNTERCLOCKWISE))  # fmt: skip
    set_rotation(path, 90)  # stored 480 x 852 lying on its side, shown 852 x 480 upright
    code, stdout, stderr = run("extract", path, "-o", tmp_path / "j.npz", "--json")
    assert code == 0, stderr
    joints = D.read_joints_npz(tmp_path / "j.npz").joints
    height = np.median(joints[:, J["head_top"], 1] - (joints[:, J["r_ankle"], 1] + joints[:, J["l_ankle"], 1]) / 2)
    assert height > 1.0  # metres, y up: the person stands (seen sideways, head and feet would be level)
    out = tmp_path / "annotated.mp4"
    code, _, stderr = run("assess", path, "--annotate", out)
    assert code == 0, stderr
    cap = cv2.VideoCapture(str(out))
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (852, 480)


def test_legs_out_of_the_picture_are_refused_or_noted(tmp_path):
    from squatcli import pose as P
    from squatcli.skeleton import J

    joints = squat_joints(frames=90, seed=3)
    conf = np.ones((90, 19))
    xy = np.full((90, 19, 2), 0.5)
    variations = {k: (0.02, 0.03) for k in ("shank", "thigh", "upper arm", "forearm")}
    assert P.check_body_seen(xy, conf, variations, "v.mp4") == (1.0, [])
    low = xy.copy()
    low[:60, J["r_ankle"], 1] = 1.2  # an ankle below the picture in 2/3 of the frames
    with pytest.raises(SquatError, match=r"v.mp4: the legs are out of the picture or hidden in 67% of the frames"):
        P.check_body_seen(low, conf, variations, "v.mp4")
    low[:60, J["r_ankle"], 1] = 0.5
    low[:20, J["l_knee"], 0] = -0.1  # a knee left of the picture in 22 % of them
    seen, notes = P.check_body_seen(low, conf, variations | {"thigh": (0.14, 0.2)}, "v.mp4")
    assert seen == pytest.approx(70 / 90)
    assert notes == ["the legs are out of the picture or hidden in 22% of the frames: knee angles and depth there "
                     "are guesses",
                     "leg lengths vary from frame to frame (thigh 14%; under 6 % when the legs are tracked well): "
                     "the legs may be partly hidden or out of the picture"]  # fmt: skip
    hidden = conf.copy()
    hidden[:, [J["r_knee"], J["l_ankle"]]] = 0.2  # each leg has a joint the model cannot see
    with pytest.raises(SquatError, match="hidden in 100% of the frames"):
        P.check_body_seen(xy, hidden, variations, "v.mp4")
    assert joints.shape == (90, 19, 3)


@pytest.mark.slow
def test_a_real_video_cut_above_the_knees_is_refused(shared_video, tmp_path):
    full = shared_video("front_bodyweight_good.mp4")
    cut = copy_frames(full, tmp_path / "upper_half.mp4", edit=lambda f: f[: f.shape[0] // 2])
    code, stdout, stderr = run("assess", "--json", cut, full)
    objs = json_lines(stdout)
    assert code == 1 and [o["ok"] for o in objs] == [False, True], stderr
    assert objs[0]["error"].startswith(f"{cut}: the legs are out of the picture or hidden in 100% of the frames")
    assert objs[1]["pose"]["legs_seen"] == 1.0 and not any("legs" in n for n in objs[1]["notes"])


def test_fewer_decoded_frames_than_the_file_lists_is_noted(tmp_path):
    from squatcli import pose as P

    from test_pose import FakeExtractor

    whole = write_video(tmp_path / "whole.mp4", 90)
    data = index_first(whole.read_bytes())  # the index in front: a cut file still lists all 90 frames
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    result = P.extract_video(cut, stride=1, extractor=FakeExtractor(squat_joints(frames=256)))
    assert len(result.frame_times) < 60
    assert result.notes == [f"only {len(result.frame_times)} of the 90 frames the file lists could be decoded (a "
                            "truncated or damaged file?): the rest of the video was not assessed"]  # fmt: skip
    assert P.extract_video(whole, stride=1, extractor=FakeExtractor(squat_joints(frames=256))).notes == []


@pytest.mark.slow
def test_a_truncated_real_video_is_assessed_with_a_note(shared_video, tmp_path):
    data = index_first(shared_video("front_bodyweight_good.mp4").read_bytes())
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    code, stdout, stderr = run("assess", "--json", cut)
    [obj] = json_lines(stdout)
    assert code == 0 and obj["ok"], stderr
    decoded = obj["pose"]["frames"]
    assert decoded < 120 and f"only {decoded} of the 140 frames the file lists could be decoded" in " ".join(obj["notes"])
    code, stdout, stderr = run("extract", cut, "-o", tmp_path / "cut.npz")  # the human summary says so too
    assert code == 0 and f"only {decoded} of the 140 frames" in " ".join(stdout.split()), stdout


def test_ffmpeg_says_nothing_and_no_empty_lines_come_before_the_error(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")  # FFmpeg: "moov atom not found"
    data = index_first(write_video(tmp_path / "pattern.mp4", 90).read_bytes())  # no person in it
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # FFmpeg: "partial file", "illegal dc vlc", "Error at MB"
    for video, message in ((text, "not a video OpenCV can open"), (cut, "a person was found in only 0 of")):
        done = squat("extract", video, "-o", tmp_path / "out.npz")
        assert done.returncode == 1 and done.stderr.startswith(f"error: {video}: {message}"), done.stderr
        assert len(done.stderr.splitlines()) == 1, done.stderr
