"""The interview store: one-time invite codes and the append-only authoritative history.

Each test runs on SQLite and on PostgreSQL (``store`` in conftest.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from mlinterview.extension.service_store import HistoryConflict, Interview, Invite, InviteRefused, State, utcnow
from mlinterview.history import HistoryChain, seal


def new_interview(store, ttl=timedelta(hours=1), **options):
    return store.create_interview(scenario="churn", kernel="cpu", candidate_name="Ada", interviewer="alice", time_budget_minutes=60,
                                  invite_ttl=ttl, **options)


def events(count: int, start_chain: HistoryChain | None = None):
    chain = start_chain or HistoryChain()
    return [
        chain.append({"time": "2026-11-25T10:00:00Z", "session": "s", "kind": "execute_request", "user": "cand", "role": "candidate", "msg_id": f"m{i}", "code": f"x = {i}"})
        for i in range(count)
    ], chain


def test_an_invite_logs_in_once(store):
    interview, code = new_interview(store)
    assert interview.candidate_user.startswith("cand-") and interview.state == "invited"
    assert store.consume_invite(code).id == interview.id
    assert store.get(interview.id).state == State.live.value
    with pytest.raises(InviteRefused) as refused:
        store.consume_invite(code)
    assert refused.value.reason == "used"
    with pytest.raises(InviteRefused) as unknown:
        store.consume_invite("not-a-code")
    assert unknown.value.reason == "unknown"


def test_expired_revoked_and_ended_invites_are_refused(store):
    interview, code = new_interview(store)
    with store.session.begin() as db:
        db.execute(update(Invite).values(expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(InviteRefused, match="expired"):
        store.consume_invite(code)
    fresh = store.reissue_invite(interview.id, timedelta(hours=1))
    newer = store.reissue_invite(interview.id, timedelta(hours=1))  # withdraws `fresh`
    with pytest.raises(InviteRefused, match="revoked"):
        store.consume_invite(fresh)
    store.set_state(interview.id, State.ending)
    with pytest.raises(InviteRefused, match="ended"):
        store.consume_invite(newer)


def test_history_is_append_only_and_resends_are_acknowledged(store):
    interview, _ = new_interview(store)
    batch, chain = events(3)
    assert store.append_history(interview.id, batch) == 2
    assert store.append_history(interview.id, batch[1:]) == 2  # a resend after a lost reply
    more, chain = events(2, chain)
    assert store.append_history(interview.id, more[1:]) == 2  # a gap: nothing stored, resend from 3
    assert store.append_history(interview.id, more) == 4
    assert [e["seq"] for e in store.history(interview.id)] == [0, 1, 2, 3, 4]
    assert store.history_head(interview.id) == (4, more[-1]["hash"])

    rewritten = seal(dict(batch[1], code="x = 'innocent'"), 1, batch[0]["hash"])
    with pytest.raises(HistoryConflict, match="append-only"):
        store.append_history(interview.id, [rewritten])
    forged = dict(events(1, HistoryChain(4, more[-1]["hash"]))[0][0], code="tampered after sealing")
    with pytest.raises(HistoryConflict, match="does not match its hash"):
        store.append_history(interview.id, [forged])
    unlinked = seal({"time": "t", "session": "s", "kind": "note", "detail": {"text": "hi"}}, 5, "f" * 64)
    with pytest.raises(HistoryConflict, match="'prev'"):
        store.append_history(interview.id, [unlinked])
    assert len(store.history(interview.id)) == 5


def test_an_interview_times_out_softly_unless_told_hard(store):
    soft, _ = new_interview(store)
    hard, _ = new_interview(store, time_out="hard")
    assert store.get(soft.id).time_out == "soft" and store.get(soft.id).to_json()["time_out"] == "soft"
    assert store.get(hard.id).to_json()["time_out"] == "hard"
    with pytest.raises(ValueError, match="soft, hard"):
        new_interview(store, time_out="never")
    assert len(store.list()) == 2


def test_a_listing_can_add_the_interviews_of_hiring_rounds(store):
    def made(name, scenario, hiring_round, interviewer="alice"):
        return store.create_interview(scenario=scenario, kernel="cpu", candidate_name=name, interviewer=interviewer,
                                      time_budget_minutes=60, invite_ttl=timedelta(hours=1), hiring_round=hiring_round)[0].id

    december, other, unnamed = made("A", "churn", "December ML"), made("B", "churn", "Other"), made("C", "digits", "")
    with store.session.begin() as db:  # a store from before rounds: no round, which means its scenario's
        db.execute(update(Interview).where(Interview.id == unnamed).values(hiring_round=None))
    mine = made("D", "demand", "Other", interviewer="dana")
    assert {i.id for i in store.list("dana")} == {mine}
    assert {i.id for i in store.list("dana", ["December ML"])} == {mine, december}
    assert {i.id for i in store.list("dana", ["digits"])} == {mine, unnamed}
    assert {i.id for i in store.list(None)} == {december, other, unnamed, mine}
