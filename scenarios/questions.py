"""Pushing one of a pack's open questions to a live candidate, as the interviewer does from the live view.

A question with ``shown = "interviewer"`` is not in the workspace settings materialize writes; the
interview service calls ``push_question``, which adds it (without the interviewer's notes) with the
moment it was pushed. The candidate's server shows it in their Questions panel from then on
(``extension/interview_status.py``). Any other question may be pushed too, to show it before its
time. Nothing is read or written through a link (``scenarios/twist.py``'s ``edit_workspace_settings``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from .pack import ScenarioPack
from .twist import edit_workspace_settings


class QuestionError(Exception):
    """The question cannot be pushed; the message says why."""


def push_question(pack: ScenarioPack, workspace: Path, question_id: str) -> dict:
    """Show the pack's question ``question_id`` to the candidate now; returns what they see."""
    question = next((q for q in pack.manifest.questions if q.id == question_id), None)
    if question is None:
        raise QuestionError(f"scenario '{pack.id}' has no question {question_id[:40]!r}")

    def push(settings: dict, _root: int, _owner) -> dict:
        listed = [q for q in settings.get("questions") or [] if isinstance(q, dict)]
        for entry in listed:
            if entry.get("id") == question.id and (entry.get("pushed_at") or entry.get("shown") == "start"):
                raise QuestionError(f"the question '{question.id}' is already shown to the candidate")
        pushed = {"id": question.id, "prompt": question.prompt, "signal": question.signal, "shown": "interviewer",
                  "after_minutes": None, "pushed_at": datetime.now(timezone.utc).isoformat()}
        settings["questions"] = [q for q in listed if q.get("id") != question.id] + [pushed]
        return pushed

    return edit_workspace_settings(pack, workspace, push, QuestionError)
