"""The report's account of the interview's time, from the record: the time-out, "I'm done", the
active time, and a take-home's budget, deadline and self-reported time."""

from mlinterview.graders.report import session_time


def event(kind, **fields):
    return {"kind": kind, "time": fields.pop("time", "2026-12-02T10:00:00+00:00"), **fields}


def test_a_soft_time_out_counts_the_cells_run_in_overtime():
    events = [
        event("execute_request", code="a"),
        event("interview", time="2026-12-02T11:00:00+00:00", detail={"event": "time_up", "time_out": "soft"}),
        event("execute_request", code="b"), event("execute_reply"), event("execute_request", code="c"),
    ]
    time = session_time(events)
    assert time["time_up_at"] == "2026-12-02T11:00:00+00:00" and time["time_out"] == "soft"
    assert time["overtime_executions"] == 2 and time["done_by_candidate_at"] is None


def test_a_hard_time_out_counts_the_refusals_and_the_candidate_saying_done():
    events = [
        event("interview", detail={"event": "time_up", "time_out": "hard"}),
        event("refused", detail={"reason": "the interview's time is up"}),
        event("interview", role="candidate", time="2026-12-02T11:01:00+00:00", detail={"event": "done"}),
    ]
    time = session_time(events)
    assert time["time_out"] == "hard" and time["refused_after_time_up"] == 1 and time["overtime_executions"] == 0
    assert time["done_by_candidate_at"] == "2026-12-02T11:01:00+00:00"


def test_no_time_up_in_the_record_says_nothing_ran_over():
    assert session_time([event("execute_request", code="a")]) == {
        "time_up_at": None, "time_out": None, "overtime_executions": 0, "refused_after_time_up": 0, "done_by_candidate_at": None,
        "active_minutes": 0.0, "breaks": 0, "break_minutes": 10.0,
        "kind": "live", "self_reported_minutes": None, "active_budget_minutes": None, "over_active_budget_minutes": None,
        "submitted_by_deadline": False,
    }


def test_active_time_counts_the_work_and_leaves_out_the_breaks():
    def at(minute: float, kind: str = "execute_request", role: str = "candidate"):
        hours, minutes = divmod(minute, 60)
        return event(kind, role=role, time=f"2026-12-02T{10 + int(hours):02d}:{int(minutes):02d}:{int(minute * 60 % 60):02d}+00:00")
    events = [at(0), at(5, "execute_reply", "system"), at(9, "notebook_saved"),  # 9 minutes of work
              at(40, "file_saved"), at(44, "answer"),  # a 31-minute break, then 4 minutes
              at(45, "note", "interviewer"), at(70, "execute_request", "interviewer")]  # the interviewer's acts are not the candidate's
    time = session_time(events)
    assert time["active_minutes"] == 13.0 and time["breaks"] == 1 and time["break_minutes"] == 10


def test_a_take_home_sets_the_self_reported_time_beside_the_active_time_and_its_budget():
    events = [event("execute_request", code="a", role="candidate", time="2026-12-02T10:00:00+00:00"),
              event("execute_request", code="b", role="candidate", time="2026-12-02T10:09:00+00:00"),
              event("interview", role="candidate", time="2026-12-02T10:09:30+00:00", detail={"event": "done", "self_reported_minutes": 45})]
    meta = {"kind": "take_home", "time_budget_minutes": 5, "deadline_hours": 48, "submitted_by_deadline": False}
    time = session_time(events, meta)
    assert (time["kind"], time["self_reported_minutes"], time["active_minutes"]) == ("take_home", 45, 9.0)
    assert time["active_budget_minutes"] == 5 and time["over_active_budget_minutes"] == 4.0 and not time["submitted_by_deadline"]
    by_deadline = session_time(events[:2], dict(meta, time_budget_minutes=60, submitted_by_deadline=True))
    assert by_deadline["self_reported_minutes"] is None and by_deadline["over_active_budget_minutes"] is None and by_deadline["submitted_by_deadline"]
    # a live interview's meta says nothing of the kind: no budget of active time, whatever it holds
    assert session_time(events, {"time_budget_minutes": 5, "submitted_by_deadline": True})["over_active_budget_minutes"] is None
