"""Bad submissions: each gets a clear verdict in its own report, never a crash or a hang."""

from __future__ import annotations

import json
import pathlib

import nbformat
import pytest

from conftest import TINY_OK_CELLS

pytestmark = pytest.mark.slow


def stopped(report, replay="top_to_bottom"):
    return report["replays"][replay]["stopped"]


def test_good_tiny_submission_is_graded(make_submission, grade):
    report, out = grade(make_submission())
    assert report["verdict"]["status"] == "graded", report["verdict"]
    assert report["holdout"]["value"] > 0.5
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert json.loads((out / "report.json").read_text())["schema"] == "mlinterview.report/1"


def test_infinite_loop_stops_at_the_cell_time_limit(make_submission, grade):
    report, _ = grade(make_submission([*TINY_OK_CELLS, "while True:\n    pass"]))
    hit = stopped(report)
    assert hit["limit"] == "cell_time" and hit["cell"] == "cell 3"
    assert report["verdict"]["status"] == "not_gradable"
    assert "cell_time" in report["verdict"]["headline"]


def test_memory_bomb_stops_at_the_memory_limit(make_submission, grade, fast_grader):
    # Each chunk is written (bytearray zero-fills), so the pages are really taken: give a busy machine time.
    fast_grader.limits.memory_bytes = 512 * 1024**2
    fast_grader.limits.cell_timeout = 60
    report, _ = grade(make_submission(["chunks = []\nwhile True:\n    chunks.append(bytearray(50_000_000))"]))
    hit = stopped(report)
    assert hit["limit"] == "memory" and hit["cell"] == "cell 0", hit
    assert "MemoryError" in hit["detail"]


def test_fork_bomb_stops_at_the_process_limit(make_submission, grade):
    # Forks until refused; every child sleeps. The pids cgroup / RLIMIT_NPROC / watchdog stop it.
    cells = ["import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(120)\n        os._exit(0)"]
    report, _ = grade(make_submission(cells))
    hit = stopped(report)
    assert hit["limit"] == "processes" and hit["cell"] == "cell 0", hit


@pytest.mark.parametrize(
    "code, words",
    [("import os\nos._exit(3)", "exited with status 3"), ("import ctypes\nctypes.string_at(0)", "SIGSEGV")],
    ids=["os_exit", "segfault"],
)
def test_kernel_that_dies_is_a_verdict(make_submission, grade, code, words):
    report, _ = grade(make_submission([*TINY_OK_CELLS, code]))
    hit = stopped(report)
    assert hit["limit"] == "kernel_died" and hit["cell"] == "cell 3"
    assert words in hit["detail"]


def test_100_mb_of_output_is_capped(make_submission, grade, fast_grader):
    fast_grader.limits.output_bytes = 2 * 1024**2
    report, out = grade(make_submission(["for _ in range(100):\n    print('x' * 1_000_000)"]))
    hit = stopped(report)
    assert hit["limit"] == "output" and hit["cell"] == "cell 0"
    assert (out / "replay-top-to-bottom.ipynb").stat().st_size < 4 * 1024**2


@pytest.mark.parametrize(
    "raw, words",
    [(b'{"cells": [', "not valid notebook JSON"), (b"\x00\x01garbage", "not valid notebook JSON"),
     (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "sou', "not valid notebook JSON")],
    ids=["truncated", "binary", "truncated_mid_cell"],
)
def test_malformed_notebook_json(make_submission, grade, raw, words):
    report, _ = grade(make_submission(raw_notebook=raw))
    assert report["verdict"]["status"] == "not_gradable"
    assert any(words in p for p in report["verdict"]["problems"])
    assert report["bugs"], "the probes still ran on the scaffold"


def test_nbformat_v3_notebook_is_converted_and_graded(make_submission, grade):
    v3 = {
        "nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "old"},
        "worksheets": [{"cells": [
            {"cell_type": "code", "collapsed": False, "input": source, "language": "python", "metadata": {}, "outputs": []}
            for source in TINY_OK_CELLS
        ], "metadata": {}}],
    }
    report, _ = grade(make_submission(raw_notebook=json.dumps(v3).encode()))
    assert report["verdict"]["status"] == "graded", report["verdict"]
    assert any("nbformat v3" in note for note in report["submission"]["notes"])


def test_non_utf8_source_is_replaced_and_said(make_submission, grade):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in TINY_OK_CELLS]
    raw = nbformat.writes(nb).replace('"predict = model.fit(train)"', '"# café\\npredict = model.fit(train)"')
    raw = raw.encode("utf-8").replace("é".encode(), b"\xe9")  # a latin-1 byte in a cell
    report, _ = grade(make_submission(raw_notebook=raw))
    assert any("not valid UTF-8" in note for note in report["submission"]["notes"])
    assert report["holdout"]["value"] is not None


def test_missing_notebook(make_submission, grade):
    folder = make_submission()
    (folder / "interview.ipynb").unlink()
    report, _ = grade(folder)
    assert report["verdict"]["status"] == "not_gradable"
    assert "interview.ipynb is missing" in report["verdict"]["headline"]


def test_deleted_scaffold_file(make_submission, grade):
    folder = make_submission()
    (folder / "tinylab" / "features.py").unlink()
    report, _ = grade(folder)
    assert report["verdict"]["status"] == "not_gradable"
    assert any("deleted by the candidate: features.py" in p for p in report["verdict"]["problems"])
    assert {"file": "features.py", "status": "deleted"}.items() <= next(f for f in report["scaffold"]["files"] if f["file"] == "features.py").items()
    assert "ImportError" in report["replays"]["top_to_bottom"]["first_error"] or "ModuleNotFound" in report["replays"]["top_to_bottom"]["first_error"]


@pytest.mark.parametrize(
    "code, words",
    [
        ("predict = lambda df: [0.5] * 3", "returned 3 predictions for 300 holdout rows"),
        ("import numpy as np\npredict = lambda df: np.full(len(df), np.nan)", "300 of 300 predictions are NaN"),
        ("predict = lambda df: ['yes'] * len(df)", "non-numeric values"),
        ("import numpy as np\npredict = lambda df: np.zeros((len(df), 2))", "shape (300, 2)"),
        ("predict = 3", "not a function"),
        ("def predict(df):\n    raise RuntimeError('boom')", "RuntimeError: boom"),
    ],
    ids=["wrong_length", "nan", "strings", "two_columns", "not_callable", "raises"],
)
def test_bad_predictions_are_rejected(make_submission, grade, code, words):
    report, _ = grade(make_submission([*TINY_OK_CELLS, code]))
    assert report["verdict"]["status"] == "not_gradable"
    assert report["holdout"]["value"] is None
    assert any(words in p for p in report["verdict"]["problems"]), report["verdict"]["problems"]


def test_writes_outside_the_working_copy_are_refused(make_submission, grade, tiny_pack, tmp_path):
    folder = make_submission()
    targets = [folder / "planted.txt", tiny_pack.private_dir / "planted.txt", tiny_pack.candidate_dir / "planted.txt",
               tmp_path / "planted.txt", "/tmp/planted-by-candidate.txt"]
    code = (
        "import pathlib\n"
        f"for target in {[str(t) for t in targets]!r}:\n"
        "    try:\n"
        "        pathlib.Path(target).write_text('x')\n"
        "        print('WROTE', target)\n"
        "    except OSError as error:\n"
        "        print('REFUSED', target, type(error).__name__)\n"
        "pathlib.Path('/usr/lib/planted-by-candidate.txt').write_text('x')"
    )
    report, out = grade(make_submission([*TINY_OK_CELLS, code]))
    assert not any(pathlib.Path(t).exists() for t in [*targets, "/usr/lib/planted-by-candidate.txt"])
    replayed = (out / "replay-top-to-bottom.ipynb").read_text()
    # /tmp is the kernel's own, private and thrown away: the write there lands nowhere the host sees
    assert "WROTE /tmp/planted-by-candidate.txt" in replayed
    assert replayed.count("WROTE /") == 1 and replayed.count("REFUSED /") == len(targets) - 1
    assert report["replays"]["top_to_bottom"]["cells"][3]["ename"] in ("OSError", "PermissionError")
    assert any("outside its working copy" in flag for flag in report["integrity"]["flags"])


def test_reaching_for_the_holdout_gets_nothing(make_submission, grade, tiny_pack, monkeypatch, tmp_path):
    seed_file = tmp_path / "holdout-seed"
    seed_file.write_text("424242")
    monkeypatch.setenv("MLINTERVIEW_HOLDOUT_SEED_FILE", str(seed_file))
    monkeypatch.setenv("MLINTERVIEW_HOLDOUT_SEED", "424242")
    spy = (
        "import os, pathlib\n"
        "seen = {'env': os.environ.get('MLINTERVIEW_HOLDOUT_SEED'),\n"
        f"        'file': pathlib.Path({str(seed_file)!r}).read_text() if pathlib.Path({str(seed_file)!r}).exists() else None,\n"
        # hidden, or (the test's pack lives under /tmp) absent from the kernel's private /tmp
        f"        'private': sorted(os.listdir({str(tiny_pack.private_dir)!r})) if os.path.exists({str(tiny_pack.private_dir)!r}) else []}}\n"
        "print('SPY', seen)"
    )
    report, out = grade(make_submission([*TINY_OK_CELLS, spy]))
    replayed = (out / "replay-top-to-bottom.ipynb").read_text()
    assert "SPY" in replayed
    assert "424242" not in replayed
    assert "generator.py" not in replayed
    assert "'private': []" in replayed
    assert any("holdout-seed variable" in flag for flag in report["integrity"]["flags"])
    assert report["holdout"]["value"] is not None


def test_submission_for_another_scenario(make_submission, grade):
    report, out = grade(make_submission(meta={"scenario": "churn"}))
    assert report["verdict"]["status"] == "not_gradable"
    assert "grade it with --scenario churn" in report["verdict"]["headline"]
    assert "grade it with --scenario churn" in (out / "report.html").read_text()


def test_the_kernel_cannot_undo_its_sandbox(make_submission, grade, tiny_pack):
    # Even a kernel running as root: no unmounting the hidden private part, no remounting rw,
    # no reading the grader's memory (where the holdout labels are) through /proc.
    attack = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"print('UMOUNT', libc.umount2({str(tiny_pack.private_dir).encode()!r}, 2), ctypes.get_errno())\n"
        "print('REMOUNT', libc.mount(None, b'/', None, 32 | 4096, None), ctypes.get_errno())\n"
        f"print('PRIVATE', os.listdir({str(tiny_pack.private_dir)!r}) if os.path.exists({str(tiny_pack.private_dir)!r}) else [])\n"
        "try:\n"
        "    open(f'/proc/{os.getppid()}/mem', 'rb').read(1)\n"
        "    print('MEM readable')\n"
        "except OSError as error:\n"
        "    print('MEM refused', type(error).__name__)\n"
    )
    report, out = grade(make_submission([*TINY_OK_CELLS, attack]))
    replayed = (out / "replay-top-to-bottom.ipynb").read_text()
    # EPERM; ENOENT where the test's pack (under /tmp) is absent from the kernel's private /tmp
    assert "UMOUNT -1 1\\n" in replayed or "UMOUNT -1 2\\n" in replayed
    assert "REMOUNT -1 1\\n" in replayed
    assert "PRIVATE []" in replayed
    assert replayed.count("MEM refused") == 2  # the source, then the output
    assert report["replays"]["top_to_bottom"]["sandbox"]["capabilities"] == "none"


def test_a_kernel_that_cannot_start_is_a_verdict(make_submission, grade, fast_grader, monkeypatch, tmp_path):
    spec = tmp_path / "jupyter" / "kernels" / "broken"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": ["python", "-c", "import sys; print('no kernel today', file=sys.stderr); sys.exit(5)", "{connection_file}"],
        "display_name": "broken", "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    fast_grader.kernel_name = "broken"
    fast_grader.limits.startup_timeout = 20
    report, _ = grade(make_submission())
    hit = report["replays"]["top_to_bottom"]["stopped"]
    assert hit["limit"] == "kernel_start"
    assert "no kernel today" in hit["detail"]
    assert any("failed to start once" in note for note in report["replays"]["top_to_bottom"]["notes"])
    assert report["verdict"]["status"] == "not_gradable"
