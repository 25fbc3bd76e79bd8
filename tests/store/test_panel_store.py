"""The hiring panel's tables (extension/panel_store.py), on SQLite and PostgreSQL, and revision 0003.

- a panel: the owner invites co-interviewers once each; a member sees the interview in their list;
- a scorecard: drafts change, a submission needs every band, a recommendation and a confidence,
  and never changes afterwards; a vote changes only with a reason, and the change is kept;
- submitted scorecards only are listed for others; disagreements (bands two apart, a split vote);
- decisions: the newest counts, the earlier stay;
- a store at revision 0002 is upgraded: interviews keep their rows and get the scenario as round.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import text

from mlinterview.extension.panel_store import PanelStore, ScorecardRefused, disagreements
from mlinterview.extension.service_store import SCHEMA_REVISION, InterviewStore

from test_store_migrations import connected, migrate, revision_and_rows, schema_differences

SIGNALS = ("data_handling", "model_selection", "optimization", "evaluation")


def new_interview(store: InterviewStore, **fields):
    interview, _ = store.create_interview(scenario="churn", kernel="cpu", candidate_name="Ada", interviewer="alice",
                                          time_budget_minutes=30, invite_ttl=timedelta(hours=1), **fields)
    return interview


def full_ratings(*bands: str) -> dict:
    return {signal: {"band": band, "evidence": f"@12:30 {signal}"} for signal, band in zip(SIGNALS, bands)}


def test_a_panel_member_sees_the_interview_and_is_invited_once(store):
    panel = PanelStore(store)
    interview = new_interview(store, hiring_round="  ML engineers, December ")
    other = new_interview(store)
    assert interview.hiring_round == "ML engineers, December" and other.to_json()["hiring_round"] == "churn"
    assert [i.id for i in store.list("bob")] == []
    assert panel.add_member(interview.id, "bob", "alice") is True
    assert panel.add_member(interview.id, "bob", "alice") is False  # once
    assert panel.add_member(interview.id, "alice", "alice") is False  # the owner is on it already
    assert panel.members(interview.id) == ["bob"] and panel.is_member(interview.id, "bob")
    assert not panel.is_member(other.id, "bob")
    assert [i.id for i in store.list("bob")] == [interview.id]
    assert {i.id for i in store.list("alice")} == {interview.id, other.id}


def test_a_scorecard_is_a_draft_until_submitted_then_only_its_vote_changes_with_a_reason(store):
    panel = PanelStore(store)
    interview = new_interview(store)
    draft = panel.save_scorecard(interview.id, "alice", SIGNALS, {"data_handling": {"band": "weak", "evidence": "-999 kept"}},
                                 None, None)
    assert draft.to_json()["ratings"] == {"data_handling": {"band": "weak", "evidence": "-999 kept"}} and not draft.submitted
    with pytest.raises(ScorecardRefused, match="a band for model_selection, optimization, evaluation and a recommendation"):
        panel.save_scorecard(interview.id, "alice", SIGNALS, full_ratings("weak"), None, "low", submit=True)
    with pytest.raises(ScorecardRefused, match="band of evaluation"):
        panel.save_scorecard(interview.id, "alice", SIGNALS, full_ratings("weak", "weak", "weak", "superb"), None, None)
    with pytest.raises(ScorecardRefused, match="not a rubric signal"):
        panel.save_scorecard(interview.id, "alice", SIGNALS, {"production": {"band": "weak"}}, None, None)
    assert panel.submitted_scorecards(interview.id) == []  # a draft is its author's alone
    card = panel.save_scorecard(interview.id, "alice", SIGNALS, full_ratings("weak", "strong", "strong", "very_strong"),
                                "hire", "medium", "solid", submit=True)
    assert card.submitted and card.recommendation == "hire"
    with pytest.raises(ScorecardRefused, match="submitted and can no longer change"):
        panel.save_scorecard(interview.id, "alice", SIGNALS, full_ratings(*["very_weak"] * 4), "no_hire", "high", submit=True)
    with pytest.raises(ScorecardRefused, match="needs its reason"):
        panel.change_vote(interview.id, "alice", "no_hire", "high", "  ")
    with pytest.raises(ScorecardRefused, match="submit your scorecard"):
        panel.change_vote(interview.id, "bob", "no_hire", "high", "bob has none")
    panel.change_vote(interview.id, "alice", "no_hire", "high", "the leak was never found")
    panel.change_vote(interview.id, "alice", "strong_no_hire", "high", "and the split was random")
    stored = panel.scorecard(interview.id, "alice")
    assert (stored.recommendation, stored.confidence) == ("strong_no_hire", "high")
    assert stored.to_json()["ratings"]["data_handling"] == {"band": "weak", "evidence": "@12:30 data_handling"}  # unchanged
    history = [(c.previous, c.recommendation, c.reason) for c in panel.vote_changes(interview.id)["alice"]]
    assert history == [("hire", "no_hire", "the leak was never found"), ("no_hire", "strong_no_hire", "and the split was random")]


def test_disagreements_and_decisions(store):
    panel = PanelStore(store)
    interview = new_interview(store)
    panel.save_scorecard(interview.id, "alice", SIGNALS, full_ratings("very_weak", "strong", "weak", "strong"), "hire", "low", submit=True)
    panel.save_scorecard(interview.id, "bob", SIGNALS, full_ratings("strong", "strong", "strong", "very_strong"), "no_hire", "high",
                         submit=True)
    panel.save_scorecard(interview.id, "carol", SIGNALS, full_ratings("very_strong"), None, None)  # a draft: not counted
    cards = panel.submitted_scorecards(interview.id)
    assert [card.author for card in cards] == ["alice", "bob"]
    assert disagreements(cards, SIGNALS) == {"signals": ["data_handling"], "split_vote": True}
    assert disagreements(cards[:1], SIGNALS) == {"signals": [], "split_vote": False}
    with pytest.raises(ScorecardRefused):
        panel.record_decision(interview.id, "maybe", "", "hm")
    panel.record_decision(interview.id, "no_hire", "the evaluation", "hm")
    panel.record_decision(interview.id, "hire", "after the debrief", "hm")
    assert [(d.decision, d.note, d.decided_by) for d in panel.decisions(interview.id)] == [
        ("no_hire", "the evaluation", "hm"), ("hire", "after the debrief", "hm")]


def test_a_store_at_revision_0002_is_upgraded_to_the_panel(store_url):
    migrate(store_url, command.upgrade, "0002")
    assert revision_and_rows(store_url) == ("0002", 1)
    with connected(store_url) as connection, connection.begin():
        connection.execute(text(
            "INSERT INTO interviews (id, scenario, kernel, time_out, candidate_name, candidate_user, interviewer, "
            "time_budget_minutes, state, created_at, shared_with, grade_progress, grade_summary) VALUES "
            "('old000000001', 'demand', 'cpu', 'hard', 'Old Candidate', 'cand-old00000', 'alice', 40, 'graded', :at, '[]', '', '{}')"),
            {"at": datetime(2026, 12, 1, 9, 0)})
    store = InterviewStore(store_url)
    try:
        assert revision_and_rows(store_url) == (SCHEMA_REVISION, 1)
        old = store.get("old000000001")
        assert (old.candidate_name, old.time_out, old.hiring_round) == ("Old Candidate", "hard", "demand")
        panel = PanelStore(store)
        assert panel.add_member(old.id, "bob", "alice")
        panel.save_scorecard(old.id, "bob", SIGNALS, full_ratings("weak", "weak", "weak", "weak"), "no_hire", "low", submit=True)
        assert [card.author for card in panel.submitted_scorecards(old.id)] == ["bob"]
    finally:
        store.close()
    assert schema_differences(store_url) == []
    # and back down to 0002: the panel's tables go, the interview stays
    migrate(store_url, command.downgrade, "0002")
    with connected(store_url) as connection:
        tables = set(connection.dialect.get_table_names(connection))
        assert {"panel_members", "scorecards", "vote_changes", "hiring_decisions"} & tables == set()
        assert connection.scalar(text("SELECT candidate_name FROM interviews")) == "Old Candidate"
