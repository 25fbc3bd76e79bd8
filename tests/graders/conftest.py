"""Fixtures for the grader tests.

Fixtures:

- ``tiny_pack``: a copy of ``tests/graders/tinypack`` (a two-feature numpy scenario with one
  breaking and one non-breaking bug, its probes, calibration figures) loaded as a ScenarioPack.
  Bad-input submissions use it so they fail fast instead of training the churn model.
- ``make_submission``: builds a submission folder of the tiny pack from a list of code cells:
  ``make_submission(cells, fixes=(...), meta=..., history=..., raw_notebook=...)``.
- ``fast_grader``: a Grader with short limits (5 s per cell, 30 s per replay, 1 GiB) and the
  plain ``python3`` kernelspec, so a bad input is decided in seconds.
- ``grade``: ``grade(submission, pack=tiny_pack, grader=fast_grader)`` grades into a fresh folder
  and returns ``(report, out_dir)``.
- ``holdout_seed``: the seed the tests grade with (the secret of a test installation).
- ``build_churn_submission(source, target, pack)`` (a function): a churn submission folder from
  ``churn_submissions/<name>`` (files + ``scaffold.toml``: fixes and edits on the shipped scaffold).
- ``grade_churn_folders(sources, root, pack)`` (a function): builds each source folder's submission
  under ``root`` and grades them with ``mlinterview grade-batch --workers 2``; returns
  ``(reports by name, summary.csv rows, the report folder)``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from mlinterview.graders.grade import Grader
from mlinterview.scenarios.fixes import load_fixes, apply_edits
from mlinterview.scenarios.pack import ScenarioPack

TINY_PACK = Path(__file__).parent / "tinypack"
HOLDOUT_SEED = 424242
TINY_OK_CELLS = [
    "import pandas as pd\nfrom tinylab import model",
    "train = pd.read_csv('data/train.csv')",
    "predict = model.fit(train)",
]


@pytest.fixture(scope="session")
def tiny_pack(tmp_path_factory) -> ScenarioPack:
    folder = tmp_path_factory.mktemp("packs") / "tinypack"
    shutil.copytree(TINY_PACK, folder)
    return ScenarioPack.from_folder(folder)


@pytest.fixture(scope="session")
def holdout_seed() -> int:
    return HOLDOUT_SEED


def write_notebook(path: Path, cells: list[str], kernel: str = "python3") -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)


@pytest.fixture
def make_submission(tmp_path, tiny_pack):
    counter = {"n": 0}

    def make(cells=TINY_OK_CELLS, *, fixes=("wrong_label_name",), meta=None, history=None, raw_notebook=None, pack=None):
        pack = pack or tiny_pack
        counter["n"] += 1
        folder = tmp_path / f"submission-{counter['n']}"
        folder.mkdir()
        scaffold = folder / pack.scaffold_name
        shutil.copytree(pack.scaffold_dir, scaffold)
        edits = load_fixes(pack)
        for bug in fixes:
            apply_edits(scaffold, edits[bug])
        notebook = folder / pack.manifest.candidate.notebook
        if raw_notebook is not None:
            notebook.write_bytes(raw_notebook)
        elif cells is not None:
            write_notebook(notebook, list(cells))
        (folder / "submission.json").write_text(
            json.dumps({"schema": "mlinterview.submission/1", "scenario": pack.id, "candidate": f"candidate-{counter['n']}", **(meta or {})})
        )
        if history is not None:
            (folder / "history.jsonl").write_text(history)
        return folder

    return make


@pytest.fixture
def fast_grader() -> Grader:
    grader = Grader(kernel_name="python3")
    grader.limits.cell_timeout = 5
    grader.limits.total_timeout = 30
    grader.limits.memory_bytes = 1024**3
    grader.predict_timeout = 10
    return grader


@pytest.fixture
def grade(tmp_path, tiny_pack, fast_grader):
    counter = {"n": 0}

    def run(submission, *, pack=None, grader=None):
        counter["n"] += 1
        out = tmp_path / f"report-{counter['n']}"
        report = (grader or fast_grader).grade(Path(submission), pack or tiny_pack, out, HOLDOUT_SEED)
        return report, out

    return run


def history_lines(executions, *, session="s1", kernel_id="k1", restart_before=None) -> str:
    """A hash-chained history (mlinterview/history.py) of ``executions``: dicts with code, cell_id,
    role (candidate/interviewer), status (ok/error/aborted), error ({ename, evalue}). ``restart_before``: index of the
    execution a kernel restart precedes."""
    from mlinterview.history import HistoryChain, dumps_line

    chain = HistoryChain()
    lines = []
    clock = iter(range(0, 3600, 7))  # one event every 7 seconds from 10:00:00

    def add(**event):
        seconds = next(clock)
        event.setdefault("time", f"2026-11-25T10:{seconds // 60:02d}:{seconds % 60:02d}+00:00")
        event.setdefault("session", session)
        lines.append(dumps_line(chain.append(event)))

    add(kind="session_start", role="system", notebook="interview.ipynb")
    add(kind="kernel_event", role="system", kernel_id=kernel_id, detail={"event": "started"})
    for number, execution in enumerate(executions):
        if restart_before == number:
            add(kind="kernel_event", role="candidate", kernel_id=kernel_id, detail={"event": "restarted"})
        msg_id = f"m{number}"
        add(kind="execute_request", role=execution.get("role", "candidate"), user="ada", msg_id=msg_id, kernel_id=kernel_id,
            notebook="interview.ipynb", cell_id=execution.get("cell_id"), code=execution["code"])
        status = execution.get("status", "ok")
        reply = dict(kind="execute_reply", role="system", msg_id=msg_id, kernel_id=kernel_id, status=status, execution_count=number + 1,
                     duration_ms=12.0)
        if status == "error":
            reply["error"] = execution.get("error", {"ename": "KeyError", "evalue": "'labell'"})
        add(**reply)
    return "".join(lines)


CHURN_SUBMISSIONS = Path(__file__).parent / "churn_submissions"


def build_churn_submission(source: Path, target: Path, pack: ScenarioPack) -> Path:
    """A submission folder from ``source`` (see churn_submissions/README.md): its files, plus the
    shipped scaffold with the fixes and edits its ``scaffold.toml`` lists."""
    import tomllib

    from mlinterview.scenarios.fixes import Edit

    shutil.copytree(source, target, ignore=shutil.ignore_patterns("scaffold.toml"))
    spec = tomllib.loads((source / "scaffold.toml").read_text())
    scaffold = target / pack.scaffold_name
    shutil.copytree(pack.scaffold_dir, scaffold, ignore=shutil.ignore_patterns("__pycache__"))
    fixes = load_fixes(pack)
    for bug in spec.get("fixes", []):
        apply_edits(scaffold, fixes[bug])
    apply_edits(scaffold, [Edit("candidate", e["file"], e["old"], e["new"]) for e in spec.get("edit", [])])
    return target


def grade_churn_folders(sources, root: Path, pack: ScenarioPack):
    """Build each submission folder of ``sources`` under ``root`` and grade them as a batch, as a user would."""
    import csv
    import os
    import subprocess
    import sys

    for source in sources:
        build_churn_submission(source, root / "submissions" / source.name, pack)
    out = root / "reports"
    env = dict(os.environ, MLINTERVIEW_HOLDOUT_SEED=str(HOLDOUT_SEED))
    process = subprocess.run(
        [sys.executable, "-m", "mlinterview.cli", "grade-batch", str(root / "submissions"), "--workers", "2", "--out", str(out)],
        capture_output=True, text=True, env=env, cwd=root, timeout=900,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    reports = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/report.json")}
    with open(out / "summary.csv", newline="") as handle:
        summary = list(csv.DictReader(handle))
    return reports, summary, out
