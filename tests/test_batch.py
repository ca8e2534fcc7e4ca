"""Issue 15: many inputs on every core (--jobs), resumable (--output), and the same batch as Ray tasks (--engine ray).

Batch tests use small joints .npz clips, not videos: what is tested is the batch layer (order, errors, files,
processes), which does not care how long an input takes. The pool and Ray run the same tests; Ray's are skipped,
saying why, where Ray is not installed (`pip install 'squatcli[cluster]'`). Worker processes are found by a marker
in their environment (inherited from the command), so a test can tell that none is left behind.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from squatcli import batch
from squatcli.batch.ledger import Ledger
from squatcli.errors import SquatError

from squatcli.datasets import write_paper_json
from test_bad_inputs import copy_model, json_lines, run, write_clip

ENGINES = {"pool": ["--jobs", "2"], "ray": ["--engine", "ray", "--jobs", "2"]}
TIMINGS = ("timings", "model_load_s")


def same_result(obj: dict) -> dict:
    """A JSON object without what may differ between two runs of the same input: its timings."""
    return {k: v for k, v in obj.items() if k not in TIMINGS}


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module (`ray.init(num_cpus=2)`), which `squat assess --engine ray` then uses."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'squatcli[cluster]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield ray
    ray.shutdown()


@pytest.fixture(params=list(ENGINES))
def engine(request) -> list[str]:
    """The options of each engine; Ray's starts the module's local Ray."""
    if request.param == "ray":
        request.getfixturevalue("local_ray")
    return ENGINES[request.param]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> list[Path]:
    """A batch of every kind of outcome: good clips (3D and 19 joints), a paper .json clip, a damaged .npz and a
    missing file (refused before any work)."""
    folder = tmp_path_factory.mktemp("mixed")
    clips = [write_clip(folder / f"clip{k}.npz", seed=k) for k in range(4)]
    paper = folder / "paper.json"
    from squatcli.features import distances
    from conftest import squat_joints

    write_paper_json(paper, distances(squat_joints(frames=120)))
    (folder / "damaged.npz").write_bytes(b"not an npz")
    return [clips[0], folder / "damaged.npz", clips[1], paper, folder / "missing.npz", clips[2], clips[3]]


@pytest.fixture(scope="module")
def reference(mixed) -> list[dict]:
    """The mixed batch assessed one after another in this process (--jobs 1): what every engine must print."""
    code, stdout, stderr = run("assess", "--json", "--jobs", "1", *mixed)
    assert code == 1 and stderr == ""
    return json_lines(stdout)


def test_every_engine_prints_the_same_objects_in_input_order(mixed, reference, engine, monkeypatch):
    from squatcli import assess

    def not_here(*args, **kwargs):
        raise AssertionError("assessed in the command's own process")

    monkeypatch.setattr(assess, "assess", not_here)  # the workers are other processes: they never see this
    code, stdout, stderr = run("assess", "--json", *engine, *mixed)
    objs = json_lines(stdout)
    assert code == 1 and stderr == "", stderr
    assert [o["input"] for o in objs] == [str(p) for p in mixed]
    assert [o["ok"] for o in objs] == [True, False, True, True, False, True, True]
    assert objs[1]["error"] == f"{mixed[1]}: not a readable .npz file (BadZipFile)"
    assert [same_result(o) for o in objs] == [same_result(o) for o in reference]  # identical apart from timings
    assert "Traceback" not in stdout + stderr


def test_every_engine_prints_reports_and_the_summary_as_one_process_does(mixed, engine):
    code, stdout, stderr = run("assess", *engine, *mixed[:3])
    _, alone, _ = run("assess", "--jobs", "1", *mixed[:3])
    assert code == 1 and stderr.strip() == f"error: {mixed[1]}: not a readable .npz file (BadZipFile)"
    assert stdout == alone  # the panels, in input order, and the summary table


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_rerun_skips_what_the_output_holds_and_retries_failures(mixed, engine, tmp_path):
    out = tmp_path / "results.jsonl"
    code, stdout, stderr = run("assess", "--json", *engine, "--output", out, *mixed)
    assert code == 1 and len(json_lines(stdout)) == len(mixed)
    first = lines(out)
    assert sorted(o["input"] for o in first) == sorted(map(str, mixed))  # one line per input, in finishing order
    assert [same_result(o) | {"resume": None} for o in json_lines(stdout)] == [
        next(same_result(o) for o in first if o["input"] == str(p)) | {"resume": None} for p in mixed]  # fmt: skip
    code, stdout, stderr = run("assess", "--json", *engine, "--output", out, *mixed)
    assert code == 1 and stderr == f"5 of 7 inputs already in {out} (the same files, model and options): not assessed again\n"
    assert [o["input"] for o in json_lines(stdout)] == [str(mixed[1]), str(mixed[4])]  # the failures, tried again
    again = lines(out)
    assert sorted(o["input"] for o in again) == sorted(map(str, mixed))  # their old lines replaced, not added to
    assert [o for o in again if o["ok"]] == [o for o in first if o["ok"]]


def test_resume_is_keyed_by_content_model_and_options(tmp_path):
    clips = [write_clip(tmp_path / f"{k}.npz", seed=k) for k in range(3)]
    out = tmp_path / "r.jsonl"
    assert run("assess", "--json", "-o", out, *clips)[0] == 0
    write_clip(clips[1], seed=7)  # new content at the same path
    code, stdout, _ = run("assess", "--json", "-o", out, *clips)
    assert code == 0 and [o["input"] for o in json_lines(stdout)] == [str(clips[1])]
    moved = tmp_path / "moved.npz"
    clips[2].rename(moved)  # the same content under another name: found by its hash
    code, stdout, stderr = run("assess", "--json", "-o", out, clips[0], moved)
    assert code == 0 and stdout == "" and stderr.startswith("2 of 2 inputs already in")
    code, stdout, _ = run("assess", "--json", "-o", out, "-m", "lstm", clips[0])  # another model: assessed again
    assert code == 0 and len(json_lines(stdout)) == 1
    code, stdout, _ = run("assess", "--json", "-o", out, "--stride", "3", clips[0])  # the stride only matters to videos
    assert code == 0 and stdout == ""
    keys = [o["resume"]["key"] for o in lines(out)]
    assert len(keys) == 5 == len(set(keys))  # 3 + the new content + lstm


def test_a_torn_last_line_is_dropped_and_its_input_redone(tmp_path):
    clips = [write_clip(tmp_path / f"{k}.npz", seed=k) for k in range(2)]
    out = tmp_path / "r.jsonl"
    assert run("assess", "--json", "-o", out, *clips)[0] == 0
    whole = out.read_bytes()
    out.write_bytes(whole[: len(whole) - 40])  # the last line cut short, as a power cut might leave it
    code, stdout, _ = run("assess", "--json", "-o", out, *clips)
    assert code == 0 and len(json_lines(stdout)) == 1
    assert sorted(o["input"] for o in lines(out)) == sorted(map(str, clips))


def test_a_file_that_is_not_results_is_refused_and_left_alone(tmp_path):
    clip = write_clip(tmp_path / "a.npz")
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\nmore notes\n")
    code, stdout, stderr = run("assess", "--json", "-o", notes, clip)
    assert code == 1 and stdout == "" and notes.read_text() == "my notes\nmore notes\n"
    assert stderr.strip() == (f"error: {notes}: line 1 is not a result of squat assess: give a new file, or one "
                              "that an earlier --output wrote")  # fmt: skip
    code, _, stderr = run("assess", "-o", clip, clip)
    assert code == 1 and "is also an input of this command" in stderr


def test_a_results_file_is_written_by_one_run_at_a_time(tmp_path):
    out = tmp_path / "r.jsonl"
    held = Ledger.open(out, [])
    try:
        with pytest.raises(SquatError, match="another squat assess is writing its results there"):
            Ledger.open(out, [])
    finally:
        held.close()
    assert not out.exists()  # created, never written: removed


def test_a_line_that_does_not_fit_is_cut_back_whole(tmp_path, monkeypatch):
    from squatcli.batch import ledger as L

    out = tmp_path / "r.jsonl"
    clips = [write_clip(tmp_path / f"{k}.npz", seed=k) for k in range(2)]
    assert run("assess", "--json", "-o", out, clips[0])[0] == 0
    before = out.read_bytes()
    real = os.write
    half = lambda fd, data: real(fd, data[: len(data) // 2] if data.startswith(b'{"schema"') else data)  # noqa: E731
    monkeypatch.setattr(L.os, "write", half)  # the disk fills in the middle of a result's line
    code, stdout, stderr = run("assess", "--json", "-o", out, *clips)
    assert code == 1 and stderr.strip().splitlines()[-1] == f"error: {out}: cannot be written (no space left on device)"
    assert out.read_bytes() == before and "Traceback" not in stderr  # no torn line


def test_engine_ray_without_ray_is_one_line(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    code, stdout, stderr = run("assess", "--engine", "ray", write_clip(tmp_path / "a.npz"))
    assert code == 1 and stdout == ""
    assert stderr.strip() == "error: --engine ray needs Ray, which is not installed (pip install 'squatcli[cluster]')"
    code, _, stderr = run("assess", "--address", "ray://x:1", write_clip(tmp_path / "a.npz"))
    assert code == 2 and "--address is for --engine ray" in stderr


def test_a_ray_address_where_nothing_answers_is_refused_at_once():
    import socket

    from squatcli.batch.cluster import check_reachable

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        with pytest.raises(SquatError, match=r"no Ray cluster answers there \(connection refused\)"):
            check_reachable(address)
    check_reachable("auto")  # left to Ray


def test_the_model_fingerprint_follows_what_decides_the_results(tmp_path):
    from squatcli.modelfiles import fingerprint

    a, b = copy_model(tmp_path, "a"), copy_model(tmp_path, "b")
    assert fingerprint(str(a)) == fingerprint(str(b)) != fingerprint("cnn")  # the same files; cnn has 3 candidates
    c = copy_model(tmp_path, "c", threshold=0.5)
    assert fingerprint(str(c)) != fingerprint(str(a))  # another threshold
    d = copy_model(tmp_path, "d", weights={})  # no recorded sha256: the graph's own counts
    before = fingerprint(str(d))
    (tmp_path / "d.onnx").write_bytes((tmp_path / "d.onnx").read_bytes() + b"\0")
    assert fingerprint(str(d)) != before


def test_jobs_default_to_the_cores_and_never_exceed_the_inputs():
    from squatcli.batch.local import available_cores

    assert batch.workers_for(None, 10_000) == available_cores() == len(os.sched_getaffinity(0))
    assert batch.workers_for(None, 1) == 1 and batch.workers_for(4, 2) == 2 and batch.workers_for(1, 50) == 1


def test_the_report_of_an_input_crosses_processes():
    import pickle

    from squatcli.cli import EXAMPLE_CLIP

    outcome = batch.assess_one(EXAMPLE_CLIP, batch.Options(fingerprint="test"), models=batch.Models())
    again = pickle.loads(pickle.dumps(outcome))
    assert outcome.error is None and again.report.to_dict() == outcome.report.to_dict()


# ---- processes: signals, SIGKILL, a worker that dies --------------------------------------------------------------


class Squat(subprocess.Popen):
    """`squat` in a new process whose every descendant carries `marker` in its environment. Its stdout and stderr
    go to files, not pipes: a test that reads them only at the end must not block the command on a full pipe."""

    def __init__(self, *args, marker: str):
        env = {**os.environ, "SQUAT_TEST_MARKER": marker}
        env.pop("SQUAT_JOBS", None)
        self.streams = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        super().__init__([sys.executable, "-m", "squatcli.cli", *map(str, args)], stdout=self.streams[0],
                         stderr=self.streams[1], text=True, env=env)  # fmt: skip

    def communicate(self, input=None, timeout=None) -> tuple[str, str]:
        self.wait(timeout)
        texts = []
        for stream in self.streams:
            stream.seek(0)
            texts.append(stream.read())
            stream.close()
        return texts[0], texts[1]


squat_process = Squat


def marked(marker: str) -> list[int]:
    """Processes alive with `marker` in their environment."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and f"SQUAT_TEST_MARKER={marker}".encode() in (entry / "environ").read_bytes():
                state = next((l for l in (entry / "status").read_text().splitlines() if l.startswith("State:")), "")
                if "zombie" not in state:
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def assert_none_left(marker: str, within_s: float = 10.0) -> None:
    end = time.monotonic() + within_s
    while marked(marker) and time.monotonic() < end:
        time.sleep(0.1)
    assert marked(marker) == [], "processes left behind"


def wait_for_lines(path: Path, count: int, process: subprocess.Popen, timeout: float = 300.0) -> None:
    end = time.monotonic() + timeout
    while not (path.exists() and path.read_bytes().count(b"\n") >= count):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


pytestmark_proc = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc (Linux)")


@pytest.fixture(scope="module")
def sixty(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("sixty")
    return [write_clip(folder / f"{k:02d}.npz", frames=120, seed=k) for k in range(60)]


@pytestmark_proc
@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_ctrl_c_and_sigterm_stop_every_worker(sixty, tmp_path, signum, code, word):
    out, marker = tmp_path / "r.jsonl", uuid.uuid4().hex
    process = squat_process("assess", "--json", "--jobs", "2", "-o", out, *sixty, marker=marker)
    wait_for_lines(out, 1, process)  # the workers are assessing
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == code and stderr.strip() == word, stderr  # no worker tracebacks
    assert_none_left(marker)
    assert all(o["ok"] for o in lines(out)) and out.read_bytes().endswith(b"\n")


@pytestmark_proc
def test_sigkill_mid_batch_and_a_rerun_give_exactly_one_line_per_input(sixty, tmp_path):
    out, marker = tmp_path / "r.jsonl", uuid.uuid4().hex
    args = ["assess", "--json", "--jobs", "2", "-o", out, *sixty]
    at = random.Random().randint(1, 50)
    process = squat_process(*args, marker=marker)
    wait_for_lines(out, at, process)
    process.kill()
    printed, _ = process.communicate(timeout=60)
    assert_none_left(marker)  # the workers exit with their parent
    kept = lines(out)
    assert {o["input"] for o in json_lines(printed)} <= {o["input"] for o in kept}  # printed only once recorded
    assert len({o["input"] for o in kept}) == len(kept) >= at
    rerun = squat_process(*args, marker=marker)
    stdout, stderr = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, (at, stderr)
    redone = [o["input"] for o in json_lines(stdout)]
    assert sorted(redone) == sorted(set(map(str, sixty)) - {o["input"] for o in kept}), at  # only what was missing
    final = lines(out)
    assert sorted(o["input"] for o in final) == sorted(map(str, sixty)) and all(o["ok"] for o in final), at


@pytestmark_proc
def test_an_input_whose_worker_dies_is_tried_again(sixty, tmp_path):
    out, marker = tmp_path / "r.jsonl", uuid.uuid4().hex
    process = squat_process("assess", "--json", "--jobs", "2", "-o", out, *sixty[:20], marker=marker)
    wait_for_lines(out, 1, process)
    workers = [pid for pid in marked(marker) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    os.kill(workers[0], signal.SIGKILL)  # as the out-of-memory killer would
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0 and stderr == "", stderr
    assert [o["input"] for o in json_lines(stdout)] == list(map(str, sixty[:20]))
    assert_none_left(marker)


def test_ray_tasks_are_stopped_and_nothing_is_left_on_sigterm(sixty, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'squatcli[cluster]')")
    if not Path("/proc/self/environ").exists():
        pytest.skip("needs /proc (Linux)")
    out, marker = tmp_path / "r.jsonl", uuid.uuid4().hex
    process = squat_process("assess", "--json", "--engine", "ray", "--jobs", "2", "-o", out, *sixty, marker=marker)
    wait_for_lines(out, 1, process)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 143 and stderr.strip() == "terminated", stderr
    assert_none_left(marker, within_s=30)
    assert all(o["ok"] for o in lines(out))
    np.testing.assert_equal(len(lines(out)), len({o["input"] for o in lines(out)}))
