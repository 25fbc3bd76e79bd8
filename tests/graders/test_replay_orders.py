"""The two replays: recorded order from the history, fallbacks, hidden state, history integrity."""

from __future__ import annotations

import json

import nbformat
import pytest

from conftest import TINY_OK_CELLS, history_lines
from mlinterview.graders.submission import history_order_plan

pytestmark = pytest.mark.slow


def test_history_plan_keeps_the_last_kernel_since_its_restart():
    history = history_lines(
        [{"code": "a = 1"}, {"code": "b = 2", "role": "interviewer"}, {"code": "c = 3", "status": "aborted"}, {"code": "d = a"}],
        restart_before=1,
    )
    events = [json.loads(line) for line in history.splitlines()]
    plan, order = history_order_plan(events, None)
    assert [step.source for step in plan] == ["b = 2", "d = a"]
    assert [step.role for step in plan] == ["interviewer", "candidate"]
    assert "1 earlier execution(s) belonged to an earlier kernel" in order
    assert "1 aborted request(s) never ran" in order


def test_cells_run_then_deleted_are_hidden_state(make_submission, grade):
    # In the session the candidate added x2 to the features in a cell they later deleted:
    # the recorded order scores well, the final notebook top to bottom does not.
    secret = "from tinylab import features\nfeatures.FEATURES.append('x2')"
    executions = [{"code": TINY_OK_CELLS[0]}, {"code": secret}, {"code": TINY_OK_CELLS[1]}, {"code": TINY_OK_CELLS[2]}]
    report, out = grade(make_submission(history=history_lines(executions)))
    top = report["replays"]["top_to_bottom"]["scores"]["holdout"]["metric"]
    recorded = report["replays"]["history_order"]["scores"]["holdout"]["metric"]
    assert recorded > top + 0.05
    assert report["reproducibility"]["hidden_state"] is True
    assert any("holdout metric" in d for d in report["reproducibility"]["differences"])
    assert report["verdict"]["rank_key"][2] == 0
    assert report["integrity"]["history"]["verified"] is True
    page = (out / "report.html").read_text()
    assert "Hidden state" in page and "<svg" in page


def test_consistent_history_is_reproducible_and_drawn(make_submission, grade):
    executions = [{"code": "x = undefined_name", "status": "error"}] + [{"code": code} for code in TINY_OK_CELLS]
    executions[2]["role"] = "interviewer"
    report, out = grade(make_submission(history=history_lines(executions)))
    assert report["reproducibility"]["hidden_state"] is False, report["reproducibility"]
    assert report["verdict"]["status"] == "graded"
    roles = {entry["role"] for entry in report["timeline"] if entry["kind"] == "execute_request"}
    assert roles == {"candidate", "interviewer"}
    assert [e["status"] for e in report["timeline"] if e["kind"] == "execute_request"][0] == "error"
    assert "interviewer" in (out / "report.html").read_text()


def test_without_history_the_execution_count_order_is_used_and_said(make_submission, grade, tmp_path):
    folder = make_submission()
    nb = nbformat.read(folder / "interview.ipynb", 4)
    for count, cell in zip((2, 1, 3), nb.cells):  # ran the read_csv cell first: harmless here
        cell.execution_count = count
    nbformat.write(nb, folder / "interview.ipynb")
    report, _ = grade(folder)
    order = report["replays"]["history_order"]["order"]
    assert "execution_count order" in order and "no recorded history" in order
    assert [c["label"] for c in report["replays"]["history_order"]["cells"]] == ["cell 1 [1]", "cell 0 [2]", "cell 2 [3]"]


def test_edited_history_is_reported(make_submission, grade):
    history = history_lines([{"code": code} for code in TINY_OK_CELLS])
    lines = history.splitlines()
    edited = next(n for n, line in enumerate(lines) if "read_csv" in line)
    lines[edited] = lines[edited].replace("read_csv", "read_json")  # someone rewrote what ran
    report, _ = grade(make_submission(history="\n".join(lines) + "\n"))
    assert report["integrity"]["history"]["verified"] is False
    assert any("not intact" in p for p in report["verdict"]["problems"])
    assert report["verdict"]["status"] == "graded_with_problems", [r["stopped"] for r in report["replays"].values()]
