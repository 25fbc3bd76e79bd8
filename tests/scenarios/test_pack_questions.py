"""A pack's open questions reach the candidate's workspace without the interviewer's notes, and the
interviewer pushes the others live (scenarios/questions.py)."""

from __future__ import annotations

import json
import os

import pytest

from mlinterview.scenarios.materialize import WORKSPACE_MANIFEST, materialize
from mlinterview.scenarios.questions import QuestionError, push_question


@pytest.fixture
def workspace(churn_pack, tmp_path):
    materialize(churn_pack, tmp_path / "ws")
    return tmp_path / "ws"


def settings(workspace) -> dict:
    return json.loads((workspace / WORKSPACE_MANIFEST).read_text())


def test_the_workspace_has_the_questions_shown_by_themselves_and_no_notes(churn_pack, workspace):
    listed = settings(workspace)["questions"]
    manifest = churn_pack.manifest
    assert [q["id"] for q in listed] == [q.id for q in manifest.questions if q.shown != "interviewer"]
    assert {q["shown"] for q in listed} == {"start", "after_minutes"}
    text = (workspace / WORKSPACE_MANIFEST).read_text()
    for question in manifest.questions:
        assert question.notes.strip().splitlines()[0] not in text
    interviewer_only = next(q for q in manifest.questions if q.shown == "interviewer")
    assert interviewer_only.prompt not in text


def test_a_pushed_question_is_added_once(churn_pack, workspace):
    pushed = push_question(churn_pack, workspace, "why_will_it_help")
    assert pushed["pushed_at"] and pushed["shown"] == "interviewer"
    listed = {q["id"]: q for q in settings(workspace)["questions"]}
    assert listed["why_will_it_help"]["prompt"] == pushed["prompt"] and "notes" not in listed["why_will_it_help"]
    with pytest.raises(QuestionError, match="already shown"):
        push_question(churn_pack, workspace, "why_will_it_help")
    # a question due later can be shown now
    assert push_question(churn_pack, workspace, "what_if_the_offer_changes")["pushed_at"]
    with pytest.raises(QuestionError, match="already shown"):
        push_question(churn_pack, workspace, "why_the_metric")
    with pytest.raises(QuestionError, match="no question"):
        push_question(churn_pack, workspace, "not_a_question")


def test_settings_replaced_by_a_link_are_never_followed(churn_pack, workspace, tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text((workspace / WORKSPACE_MANIFEST).read_text())
    (workspace / WORKSPACE_MANIFEST).unlink()
    os.symlink(target, workspace / WORKSPACE_MANIFEST)
    with pytest.raises(QuestionError):
        push_question(churn_pack, workspace, "why_will_it_help")
    assert "pushed_at" not in target.read_text()
