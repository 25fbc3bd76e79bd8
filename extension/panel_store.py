"""The hiring panel's part of the interview store: co-interviewers, scorecards, vote changes, decisions.

The tables share ``service_store.Base`` (one schema, one migration history: revision 0003 made
them); ``service_store`` imports this module, so every opener of the store knows them.

Classes:

- ``PanelMember``: a co-interviewer the interview's owner invited (the owner is ``Interview.interviewer``).
- ``Scorecard``: one interviewer's independent feedback on one interview: a band and evidence per
  rubric signal, an overall recommendation and its confidence. A draft until submitted; after
  that only the recommendation may change, through a ``VoteChange`` with its reason.
- ``VoteChange``: a submitted recommendation changed (in the debrief), with the reason; never edited.
- ``HiringDecision``: the hiring manager's decision on the candidate; the newest one counts, the
  earlier ones stay.
- ``PanelStore``: the operations the service's panel pages need (``service_panel.py``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from .service_store import Base, Interview, InterviewStore, _iso, utcnow

BANDS = ("very_weak", "weak", "strong", "very_strong")  # the scenario packs' rubric bands, weakest first
RECOMMENDATIONS = ("strong_no_hire", "no_hire", "hire", "strong_hire")
CONFIDENCES = ("low", "medium", "high")
DECISIONS = ("hire", "no_hire")
MAX_EVIDENCE_CHARS = 5000


class PanelMember(Base):
    __tablename__ = "panel_members"

    interview_id: Mapped[str] = mapped_column(ForeignKey("interviews.id"), primary_key=True)
    user: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Scorecard(Base):
    __tablename__ = "scorecards"
    __table_args__ = (UniqueConstraint("interview_id", "author", name="uq_scorecards_interview_author"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    interview_id: Mapped[str] = mapped_column(ForeignKey("interviews.id"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    ratings: Mapped[str] = mapped_column(Text, default="{}")  # JSON {signal: {"band": ..., "evidence": ...}}
    recommendation: Mapped[str | None] = mapped_column(String(16), nullable=True)  # one of RECOMMENDATIONS
    confidence: Mapped[str | None] = mapped_column(String(8), nullable=True)  # one of CONFIDENCES
    summary: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    @property
    def submitted(self) -> bool:
        return self.submitted_at is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "author": self.author,
            "ratings": json.loads(self.ratings or "{}"),
            "recommendation": self.recommendation,
            "confidence": self.confidence,
            "summary": self.summary,
            "updated_at": _iso(self.updated_at),
            "submitted_at": _iso(self.submitted_at),
        }


class VoteChange(Base):
    __tablename__ = "vote_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("scorecards.id"), index=True)
    previous: Mapped[str] = mapped_column(String(16))
    previous_confidence: Mapped[str] = mapped_column(String(8))
    recommendation: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    def to_json(self) -> dict[str, Any]:
        return {"from": self.previous, "from_confidence": self.previous_confidence, "to": self.recommendation,
                "confidence": self.confidence, "reason": self.reason, "time": _iso(self.changed_at)}


class HiringDecision(Base):
    __tablename__ = "hiring_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    interview_id: Mapped[str] = mapped_column(ForeignKey("interviews.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))  # one of DECISIONS
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    def to_json(self) -> dict[str, Any]:
        return {"decision": self.decision, "note": self.note, "decided_by": self.decided_by, "time": _iso(self.decided_at)}


class ScorecardRefused(ValueError):
    """A scorecard change that is not allowed (submitted already, incomplete, an unknown band...); says why."""


class PanelStore:
    """The panel's operations on an ``InterviewStore``'s database (one short transaction each)."""

    def __init__(self, store: InterviewStore):
        self.session = store.session

    # -- the panel -------------------------------------------------------------------------------
    def add_member(self, interview_id: str, user: str, added_by: str) -> bool:
        """Invite ``user`` onto the interview's panel; False when they are on it already (or own it)."""
        with self.session.begin() as db:
            interview = db.get(Interview, interview_id)
            if interview is None or interview.interviewer == user or db.get(PanelMember, (interview_id, user)):
                return False
            db.add(PanelMember(interview_id=interview_id, user=user, added_by=added_by))
            return True

    def members(self, interview_id: str) -> list[str]:
        """Co-interviewers, in the order they were invited (the owner is not among them)."""
        with self.session() as db:
            query = select(PanelMember.user).where(PanelMember.interview_id == interview_id).order_by(PanelMember.added_at)
            return list(db.scalars(query))

    def is_member(self, interview_id: str, user: str) -> bool:
        with self.session() as db:
            return db.get(PanelMember, (interview_id, user)) is not None

    # -- scorecards ------------------------------------------------------------------------------
    def scorecard(self, interview_id: str, author: str) -> Scorecard | None:
        with self.session() as db:
            return db.scalars(select(Scorecard).where(Scorecard.interview_id == interview_id, Scorecard.author == author)).first()

    def save_scorecard(self, interview_id: str, author: str, signals: Iterable[str], ratings: dict[str, dict[str, str]],
                       recommendation: str | None, confidence: str | None, summary: str = "", *, submit: bool = False,
                       optional: Iterable[str] = ()) -> Scorecard:
        """Save ``author``'s draft (and submit it, when asked); a submitted scorecard is never changed here.

        ``signals``: the pack's rubric signals; ``ratings`` {signal: {band, evidence}} may leave
        some out while a draft, never when submitted. ``optional``: more keys ``ratings`` may rate,
        never required (the candidate's written answers, ``answer:<question id>``).
        """
        signals = list(signals)
        allowed = signals + list(optional)
        clean: dict[str, dict[str, str]] = {}
        for signal, rating in ratings.items():
            if signal in optional and not (rating.get("band") or rating.get("evidence") or "").strip():
                continue
            if signal not in allowed:
                raise ScorecardRefused(f"'{signal}' is not a rubric signal of this scenario ({', '.join(signals)})")
            band = (rating.get("band") or "").strip() or None
            if band is not None and band not in BANDS:
                raise ScorecardRefused(f"band of {signal} must be one of {', '.join(BANDS)}, not {band!r}")
            clean[signal] = {"band": band, "evidence": (rating.get("evidence") or "").strip()[:MAX_EVIDENCE_CHARS]}
        recommendation, confidence = recommendation or None, confidence or None
        if recommendation is not None and recommendation not in RECOMMENDATIONS:
            raise ScorecardRefused(f"recommendation must be one of {', '.join(RECOMMENDATIONS)}")
        if confidence is not None and confidence not in CONFIDENCES:
            raise ScorecardRefused(f"confidence must be one of {', '.join(CONFIDENCES)}")
        if submit:
            missing = [signal for signal in signals if not (clean.get(signal) or {}).get("band")]
            if missing or recommendation is None or confidence is None:
                what = [f"a band for {', '.join(missing)}"] if missing else []
                what += [] if recommendation else ["a recommendation"]
                what += [] if confidence else ["a confidence"]
                raise ScorecardRefused(f"to submit, give {' and '.join(what)} (or save it as a draft)")
        with self.session.begin() as db:
            card = db.scalars(select(Scorecard).where(Scorecard.interview_id == interview_id, Scorecard.author == author)
                              .with_for_update()).first()
            if card is None:
                card = Scorecard(interview_id=interview_id, author=author)
                db.add(card)
            elif card.submitted:
                raise ScorecardRefused("this scorecard is submitted and can no longer change; change your vote with a reason instead")
            card.ratings = json.dumps(clean, sort_keys=True)
            card.recommendation, card.confidence = recommendation, confidence
            card.summary = (summary or "").strip()[:MAX_EVIDENCE_CHARS]
            card.updated_at = utcnow()
            if submit:
                card.submitted_at = card.updated_at
            db.flush()
            return card

    def change_vote(self, interview_id: str, author: str, recommendation: str, confidence: str, reason: str) -> VoteChange:
        """Change a submitted scorecard's recommendation, with a reason; the change is kept."""
        reason = (reason or "").strip()
        if not reason:
            raise ScorecardRefused("a changed vote needs its reason")
        if recommendation not in RECOMMENDATIONS or confidence not in CONFIDENCES:
            raise ScorecardRefused(f"recommendation must be one of {', '.join(RECOMMENDATIONS)}, confidence one of {', '.join(CONFIDENCES)}")
        with self.session.begin() as db:
            card = db.scalars(select(Scorecard).where(Scorecard.interview_id == interview_id, Scorecard.author == author)
                              .with_for_update()).first()
            if card is None or not card.submitted:
                raise ScorecardRefused("submit your scorecard before changing its vote")
            if (card.recommendation, card.confidence) == (recommendation, confidence):
                raise ScorecardRefused("that is the vote already recorded")
            change = VoteChange(scorecard_id=card.id, previous=card.recommendation, previous_confidence=card.confidence,
                                recommendation=recommendation, confidence=confidence, reason=reason[:MAX_EVIDENCE_CHARS])
            card.recommendation, card.confidence = recommendation, confidence
            db.add(change)
            db.flush()
            return change

    def submitted_scorecards(self, interview_id: str) -> list[Scorecard]:
        """The submitted scorecards, in the order they were submitted (drafts are their author's alone)."""
        with self.session() as db:
            query = (select(Scorecard).where(Scorecard.interview_id == interview_id, Scorecard.submitted_at.is_not(None))
                     .order_by(Scorecard.submitted_at, Scorecard.id))
            return list(db.scalars(query))

    def vote_changes(self, interview_id: str) -> dict[str, list[VoteChange]]:
        """Each author's vote changes, oldest first."""
        with self.session() as db:
            rows = db.execute(select(Scorecard.author, VoteChange).join(VoteChange, VoteChange.scorecard_id == Scorecard.id)
                              .where(Scorecard.interview_id == interview_id).order_by(VoteChange.id))
            changes: dict[str, list[VoteChange]] = {}
            for author, change in rows:
                changes.setdefault(author, []).append(change)
            return changes

    # -- the decision ----------------------------------------------------------------------------
    def record_decision(self, interview_id: str, decision: str, note: str, decided_by: str) -> HiringDecision:
        if decision not in DECISIONS:
            raise ScorecardRefused(f"the decision is one of {', '.join(DECISIONS)}")
        with self.session.begin() as db:
            row = HiringDecision(interview_id=interview_id, decision=decision, note=(note or "").strip()[:MAX_EVIDENCE_CHARS],
                                 decided_by=decided_by)
            db.add(row)
            db.flush()
            return row

    def decisions(self, interview_id: str) -> list[HiringDecision]:
        """Every decision recorded, oldest first; the last one counts."""
        with self.session() as db:
            return list(db.scalars(select(HiringDecision).where(HiringDecision.interview_id == interview_id).order_by(HiringDecision.id)))


def disagreements(scorecards: list[Scorecard], signals: Iterable[str]) -> dict[str, Any]:
    """What the debrief highlights: signals whose bands lie two or more apart, and a split vote."""
    far_apart = []
    for signal in signals:
        bands = [BANDS.index(band) for card in scorecards
                 if (band := (json.loads(card.ratings or "{}").get(signal) or {}).get("band")) in BANDS]
        if len(bands) >= 2 and max(bands) - min(bands) >= 2:
            far_apart.append(signal)
    votes = {card.recommendation in ("hire", "strong_hire") for card in scorecards if card.recommendation}
    return {"signals": far_apart, "split_vote": votes == {True, False}}
