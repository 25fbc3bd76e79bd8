"""How an interview ends without a report (no_show, cancelled), a take-home's deadline and start
window, and the comparison's overall score.

The lifecycle runs on the real store (SQLite and PostgreSQL, ``store`` in conftest.py); the hub
is a tiny fake subclass of ``HubClient`` that records what it is asked (these interviews never
had a server), and the grader is a real process that leaves a mark when it runs.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from datetime import timedelta

import pytest

from mlinterview.extension.service_compare import (
    Row,
    comparison_csv,
    metric_position,
    overall_score,
    rubric_position,
    sort_rows,
)
from mlinterview.extension.service_hub_client import HubClient
from mlinterview.extension.service_lifecycle import InterviewLifecycle, summarize_report
from mlinterview.extension.service_store import InviteRefused, State
from mlinterview.history import HistoryChain
from store_time import move_back


class RecordingHub(HubClient):
    """The hub's API as a candidate without a server sees it: every call succeeds, and is listed."""

    def __init__(self):
        super().__init__(api_url="http://127.0.0.1:9/hub/api", token="unused")
        self.calls: list[tuple[str, str]] = []

    async def request(self, method, path, body=None, *, allow=(200, 201, 202, 204)):
        self.calls.append((method, path))
        return 204, None

    async def stop_server(self, name, timeout=120):
        self.calls.append(("stop", name))


@pytest.fixture
def lifecycle(store, tmp_path):
    mark = tmp_path / "grader-ran"
    settings = {
        "private_dir": str(tmp_path / "private"), "workspaces_dir": str(tmp_path / "workspaces"), "homes_dir": str(tmp_path / "homes"),
        "scenarios_dir": str(tmp_path / "scenarios"),
        "grade_command": [sys.executable, "-c", f"open({str(mark)!r}, 'a').write('ran\\n')"],
    }
    (tmp_path / "private").mkdir()
    made = InterviewLifecycle(store, RecordingHub(), settings)
    made.grader_mark = mark
    return made


def new_interview(store):
    return store.create_interview(scenario="churn", kernel="cpu", candidate_name="Ada", interviewer="alice", time_budget_minutes=60,
                                  invite_ttl=timedelta(hours=1))


async def settle(lifecycle, interview_id):
    task = lifecycle.tasks.get(interview_id)
    if task is not None:
        await asyncio.wait_for(task, 60)


async def test_ending_a_never_opened_interview_is_a_no_show_and_grades_nothing(store, lifecycle):
    interview, code = new_interview(store)
    assert lifecycle.start_end(interview.id, "alice")
    await settle(lifecycle, interview.id)
    ended = store.get(interview.id)
    assert ended.state == State.no_show.value and ended.started_at is None
    assert ended.ended_by == "alice" and ended.ended_at is not None
    assert json.loads(ended.grade_summary) == {}
    assert not lifecycle.submission_dir(interview.id).exists() and not lifecycle.report_dir(interview.id).exists()
    assert not lifecycle.grader_mark.exists() and interview.id not in lifecycle.tasks
    with pytest.raises(InviteRefused) as refused:
        store.consume_invite(code)
    assert refused.value.reason == "revoked"
    assert not lifecycle.start_end(interview.id, "alice")  # once over, End does nothing more
    assert not lifecycle.regrade(interview.id)  # nothing to grade


async def test_logged_in_without_any_history_is_a_no_show_too(store, lifecycle):
    interview, code = new_interview(store)
    store.consume_invite(code)  # logged in; no server of theirs ever recorded anything
    assert lifecycle.start_end(interview.id, "alice")
    await settle(lifecycle, interview.id)
    assert store.get(interview.id).state == State.no_show.value
    assert ("stop", interview.candidate_user) in lifecycle.hub.calls
    assert ("DELETE", f"users/{interview.candidate_user}") in lifecycle.hub.calls  # the candidate's hub user is removed
    assert not lifecycle.grader_mark.exists() and not lifecycle.report_dir(interview.id).exists()


async def test_an_interview_with_history_is_still_frozen_and_graded(store, lifecycle):
    interview, code = new_interview(store)
    store.consume_invite(code)
    chain = HistoryChain()
    store.append_history(interview.id, [chain.append({"time": "2026-11-25T10:00:00Z", "session": "s", "kind": "session_start", "detail": {}})])
    assert lifecycle.start_end(interview.id, "alice")
    await settle(lifecycle, interview.id)
    assert lifecycle.grader_mark.read_text() == "ran\n"  # the grader ran (and wrote no report: grading_failed)
    assert store.get(interview.id).state == State.grading_failed.value
    assert (lifecycle.submission_dir(interview.id) / "history.jsonl").is_file()


async def test_take_homes_end_at_their_deadline_or_when_their_window_closes(store, lifecycle):
    def take_home(name, window_hours=24):
        return store.create_interview(scenario="churn", kernel="cpu", candidate_name=name, interviewer="alice", time_budget_minutes=120,
                                      invite_ttl=timedelta(hours=window_hours), kind="take_home", deadline_hours=4)

    working, working_code = take_home("Working")
    store.consume_invite(working_code)
    chain = HistoryChain()
    store.append_history(working.id, [chain.append({"time": "2026-11-25T10:00:00Z", "session": "s", "kind": "session_start", "detail": {}})])
    waiting, _ = take_home("Waiting")
    late, late_code = take_home("Late")
    live, live_code = new_interview(store)  # a live interview has no deadline: never swept
    store.consume_invite(live_code)
    started = store.get(working.id)
    assert started.deadline_at == started.started_at + timedelta(hours=4) and store.get(live.id).deadline_at is None
    assert store.take_homes_due() == ([], []) and lifecycle.sweep_take_homes() == []

    move_back(store, working.id, 3)  # an hour left: not yet
    assert lifecycle.sweep_take_homes() == []
    move_back(store, working.id, 1.5)  # past the deadline
    move_back(store, late.id, 25)  # its window closed unused
    move_back(store, live.id, 48)
    assert store.take_homes_due() == ([working.id], [late.id])
    assert sorted(lifecycle.sweep_take_homes()) == sorted([working.id, late.id])
    await settle(lifecycle, working.id)
    submitted = store.get(working.id)
    assert submitted.ended_by == "the take-home's deadline" and lifecycle.grader_mark.read_text() == "ran\n"
    meta = json.loads((lifecycle.submission_dir(working.id) / "submission.json").read_text())
    assert (meta["kind"], meta["deadline_hours"], meta["submitted_by_deadline"], meta["time_budget_minutes"]) == ("take_home", 4, True, 120)
    closed = store.get(late.id)
    assert (closed.state, closed.ended_by) == (State.no_show.value, "the take-home's start window closing")
    with pytest.raises(InviteRefused):
        store.consume_invite(late_code)
    assert store.get(waiting.id).state == State.invited.value and store.get(live.id).state == State.live.value
    assert lifecycle.sweep_take_homes() == []  # once ended, never again

    with pytest.raises(ValueError, match="needs a deadline"):
        store.create_interview(scenario="churn", kernel="cpu", candidate_name="X", interviewer="alice", time_budget_minutes=60,
                               invite_ttl=timedelta(hours=1), kind="take_home")
    with pytest.raises(ValueError, match="kind must be"):
        store.create_interview(scenario="churn", kernel="cpu", candidate_name="X", interviewer="alice", time_budget_minutes=60,
                               invite_ttl=timedelta(hours=1), kind="weekend")


async def test_cancel_revokes_the_invite_and_only_an_invited_interview_can_be(store, lifecycle):
    interview, code = new_interview(store)
    assert lifecycle.cancel(interview.id, "alice")
    cancelled = store.get(interview.id)
    assert cancelled.state == State.cancelled.value and cancelled.ended_by == "alice"
    with pytest.raises(InviteRefused) as refused:
        store.consume_invite(code)
    assert refused.value.reason == "revoked"
    assert not lifecycle.start_end(interview.id, "alice") and store.get(interview.id).state == State.cancelled.value
    assert not lifecycle.cancel(interview.id, "alice")

    live, live_code = new_interview(store)
    store.consume_invite(live_code)
    assert not lifecycle.cancel(live.id, "alice")  # the candidate is in: End it instead
    assert store.get(live.id).state == State.live.value
    assert not lifecycle.grader_mark.exists()


# -- the overall score ------------------------------------------------------------------------------
def graded_summary(value=0.8, baseline=0.7, reference=0.9, bands=("strong", "strong", "weak", "very_strong"), **more):
    signals = dict(zip(("data_handling", "model_selection", "optimization", "evaluation"), ({"band": band} for band in bands)))
    return {"holdout": {"metric": "roc_auc", "value": value, "band": "strong", "baseline": baseline, "reference": reference},
            "signals": signals, "constraints": {"parameters": "ok", "training_time": "ok"}, "bugs_fixed": 3, "bugs_total": 5, **more}


def test_the_score_spans_200_to_600():
    assert overall_score("graded", graded_summary(value=0.9, bands=("very_strong",) * 4)) == 600
    assert overall_score("graded", graded_summary(value=0.7, bands=("very_weak",) * 4)) == 200
    assert overall_score("graded", graded_summary(value=0.95, bands=("very_strong",) * 4)) == 600  # past the reference: clipped
    assert overall_score("graded", graded_summary(value=0.5, bands=("very_weak",) * 4)) == 200  # under the baseline: clipped
    # metric half-way (0.5) and bands strong, strong, weak, very strong (mean 2/3): 200 + 400 * (0.25 + 1/3)
    assert overall_score("graded", graded_summary()) == 433


def test_the_score_rises_with_each_band_and_with_the_metric():
    steps = ("very_weak", "weak", "strong", "very_strong")
    by_band = [overall_score("graded", graded_summary(bands=(band, "weak", "weak", "weak"))) for band in steps]
    assert by_band == sorted(by_band) and len(set(by_band)) == 4
    by_metric = [overall_score("graded", graded_summary(value=v)) for v in (0.7, 0.75, 0.8, 0.85, 0.9)]
    assert by_metric == sorted(by_metric) and len(set(by_metric)) == 5


def test_a_lower_is_better_metric_counts_the_same_way():
    assert metric_position(graded_summary(value=0.30, baseline=0.50, reference=0.25)) == pytest.approx(0.8)
    assert metric_position(graded_summary(value=0.60, baseline=0.50, reference=0.25)) == 0.0


def test_uncalibrated_packs_use_the_metric_band_and_signals_without_bugs_do_not_count():
    summary = graded_summary(baseline=None, reference=None, bands=("very_strong", None, None, "very_weak"))
    assert metric_position(summary) == pytest.approx(2 / 3)  # the holdout band, strong
    assert rubric_position(summary) == pytest.approx(0.5)
    assert overall_score("graded", summary) == round(200 + 400 * (0.5 * 2 / 3 + 0.5 * 0.5))
    only_metric = graded_summary(bands=(None,) * 4)
    assert overall_score("graded", only_metric) == 400  # the metric alone, half-way


def test_a_broken_constraint_or_no_holdout_earns_nothing_over_the_baseline():
    over = graded_summary(value=0.9, constraints={"parameters": "over", "training_time": "ok"})
    assert metric_position(over) == 0.0 and overall_score("graded", over) == round(200 + 400 * 0.5 * 2 / 3)  # the bands' half only
    tampered = graded_summary(value=0.9, constraints={"parameters": "ok", "training_time": "ok", "tampering": 1})
    assert metric_position(tampered) == 0.0
    no_value = graded_summary(value=None)
    assert metric_position(no_value) == 0.0 and overall_score("graded", no_value) is not None


@pytest.mark.parametrize("state", ["no_show", "cancelled", "grading_failed", "invited", "live", "ending", "ended"])
def test_no_score_without_a_report(state):
    assert overall_score(state, graded_summary()) is None
    assert overall_score("graded", {}) is None  # graded before there were summaries, and no report to read


def test_summarize_report_keeps_what_the_comparison_shows(tmp_path):
    report = {
        "scenario": {"metric": {"name": "roc_auc", "direction": "higher"}},
        "verdict": {"status": "graded", "headline": "fine", "problems": [], "rank_key": [1, 1, 1, 0.8, 3]},
        "holdout": {"metric": "roc_auc", "value": 0.8, "band": "strong", "baseline": 0.7, "reference": 0.9, "problems": []},
        "bugs": [{"id": "a", "fixed": True}, {"id": "b", "fixed": False}],
        "rubric": {"metric_band": "strong", "signals": {
            "data_handling": {"band": "very_strong", "fixed": 1, "total": 1, "evidence": ["long"]},
            "optimization": {"band": None, "fixed": 0, "total": 0}}},
        "constraints": {"parameters": {"verdict": "ok", "limit": 10}, "training_time": {"verdict": "over"}, "tampering": ["x"]},
    }
    (tmp_path / "report.json").write_text(json.dumps(report))
    summary = summarize_report(tmp_path / "report.json")
    assert summary["signals"] == {"data_handling": {"band": "very_strong", "fixed": 1, "total": 1},
                                  "optimization": {"band": None, "fixed": 0, "total": 0}}
    assert summary["constraints"] == {"parameters": "ok", "training_time": "over", "tampering": 1}
    assert summary["direction"] == "higher" and (summary["bugs_fixed"], summary["bugs_total"]) == (1, 2)
    assert overall_score("graded", summary) == 200 + round(400 * 0.5 * 1.0)  # the broken constraint: metric 0


def test_sorting_puts_empty_cells_last_and_the_csv_parses(store):
    rows = []
    for name, summary, state in [("Bea, \"B\"", graded_summary(value=0.9), "graded"), ("=Cy", graded_summary(value=0.7), "graded"),
                                 ("Al", {}, "no_show")]:
        interview, _ = store.create_interview(scenario="churn", kernel="cpu", candidate_name=name, interviewer="alice",
                                              time_budget_minutes=60, invite_ttl=timedelta(hours=1))
        interview.state = state
        rows.append(Row(interview, summary, overall_score(state, summary), {}))
    assert [r.interview.candidate_name for r in sort_rows(rows, "score", True)] == ['Bea, "B"', "=Cy", "Al"]
    assert [r.interview.candidate_name for r in sort_rows(rows, "score", False)] == ["=Cy", 'Bea, "B"', "Al"]
    assert [r.interview.candidate_name for r in sort_rows(rows, "candidate", False)] == ["=Cy", "Al", 'Bea, "B"']
    parsed = list(csv.DictReader(io.StringIO(comparison_csv(sort_rows(rows, "score", True), "roc_auc"))))
    assert [row["Candidate"] for row in parsed] == ['Bea, "B"', "'=Cy", "Al"]  # quoted; a formula neutralised
    assert parsed[0]["Overall (200-600)"] == str(rows[0].score) and parsed[2]["Overall (200-600)"] == ""
    assert parsed[0]["Holdout metric (roc_auc)"] == "0.9" and parsed[2]["State"] == "no-show"


def test_the_production_column_shows_only_for_rows_that_rate_it(store):
    """A serving pack's reports rate production; the other packs' tables and CSVs keep their four signals."""
    from mlinterview.extension.service_compare import shown_columns

    def rows_of(scenario, summary):
        interview, _ = store.create_interview(scenario=scenario, kernel="cpu", candidate_name="Sam", interviewer="alice",
                                              time_budget_minutes=60, invite_ttl=timedelta(hours=1))
        interview.state = "graded"
        return [Row(interview, summary, overall_score("graded", summary), {})]

    served = graded_summary()
    served["signals"]["production"] = {"band": "very_strong"}
    columns, signals = shown_columns(rows_of("serve", served))
    assert signals[-1] == "production" and "production" in [column.key for column in columns]
    assert overall_score("graded", served) > overall_score("graded", graded_summary())  # it counts in the rubric position
    header = comparison_csv(rows_of("serve", served), "mae").splitlines()[0]
    assert header.split(",")[header.split(",").index("Evaluation") + 1] == "Production"
    columns, signals = shown_columns(rows_of("churn", graded_summary()))
    assert "production" not in signals and "production" not in [column.key for column in columns]
    assert "Production" not in comparison_csv(rows_of("churn", graded_summary()), "roc_auc").splitlines()[0]


def test_the_scorecards_cell_hides_the_others_votes_until_ones_own_is_in(store):
    from mlinterview.extension.panel_store import PanelStore
    from mlinterview.extension.service_compare import panel_cells, scorecards_text

    panel = PanelStore(store)
    interview, _ = new_interview(store)
    assert panel.add_member(interview.id, "bob", added_by="alice")
    full = {signal: {"band": "strong", "evidence": "seen"} for signal in ("data_handling", "model_selection", "optimization", "evaluation")}
    panel.save_scorecard(interview.id, "bob", full, full, "hire", "high", submit=True)

    def cell(viewer, admin=False):
        cells = panel_cells(store, [store.get(interview.id)], viewer, [interview.id] if admin else [])
        return cells[interview.id], scorecards_text(Row(store.get(interview.id), {}, None, cells[interview.id]))

    alice_cell, alice_text = cell("alice")
    assert alice_cell["hidden"] and alice_cell["recommendations"] == [] and alice_text == "1 submitted (submit yours to see them)"
    panel.save_scorecard(interview.id, "alice", full, {}, "no_hire", None)  # a draft is not submitted
    assert cell("alice")[0]["hidden"] and "hire" not in cell("alice")[1]
    assert cell("bob")[1] == "bob: hire"  # his own, and no one else's is in
    assert cell("carol")[0]["hidden"]  # an interviewer off the panel sees no votes (nor the interview: store.list)
    assert cell("boss", admin=True)[1] == "bob: hire"  # an admin off the panel casts none: sees them
    panel.save_scorecard(interview.id, "alice", full, full, "no_hire", "medium", submit=True)
    assert cell("alice")[1] == "bob: hire; alice: no hire"
    panel.record_decision(interview.id, "no_hire", "not this time", decided_by="boss")
    panel.record_decision(interview.id, "hire", "on reflection", decided_by="boss")
    assert cell("alice")[0]["decision"] == "hire"  # the newest counts
