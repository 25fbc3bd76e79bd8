"""Time passing for an interview, in its store: what the take-home tests need to see a deadline or
a start window go by without waiting hours (tests/store and tests/hub import it)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from mlinterview.extension.service_store import Interview, InterviewStore, Invite


def move_back(store: InterviewStore, interview_id: str, hours: float) -> None:
    """As if ``hours`` had passed: the interview's start (once it started) and its invites' expiry, earlier."""
    with store.session.begin() as db:
        interview = db.get(Interview, interview_id)
        if interview.started_at is not None:
            interview.started_at -= timedelta(hours=hours)
        for invite in db.scalars(select(Invite).where(Invite.interview_id == interview_id)):
            invite.expires_at -= timedelta(hours=hours)
