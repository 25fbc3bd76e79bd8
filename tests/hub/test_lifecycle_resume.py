"""A restarted interview service finishes what it was doing: an interrupted end, an interrupted grading.

The hub is swapped for a tiny fake (``FakeHub``: it records the calls the service makes); the
grader is a small real process (``fake_grader.py``-style script written by the test) that prints
progress and writes a report, so the streaming of progress and the report summary are exercised.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta

import pytest

from mlinterview.extension.service_lifecycle import InterviewLifecycle
from mlinterview.extension.service_store import InterviewStore, State
from mlinterview.history import HistoryChain, verify_history
from mlinterview.scenarios.pack import default_scenarios_dir

FAKE_GRADER = """
import json, pathlib, sys
args = sys.argv[1:]
out = pathlib.Path(args[args.index("--out") + 1])
print("replaying the final notebook", flush=True)
print("scoring on the holdout", flush=True)
(out / "report.json").write_text(json.dumps({"holdout": {"metric": "average_precision", "value": 0.42, "band": "strong"},
                                             "bugs": [{"id": "a", "fixed": True}, {"id": "b", "fixed": False}]}))
(out / "report.html").write_text("<html>report</html>")
"""


class FakeHub:
    def __init__(self):
        self.calls = []

    async def revoke_shares(self, owner):
        self.calls.append(("revoke_shares", owner))

    async def stop_server(self, name, timeout=120):
        self.calls.append(("stop_server", name))

    async def delete_user(self, name):
        self.calls.append(("delete_user", name))


def service_state(tmp_path, grader_source: str, ready_grader_source: str | None = None) -> tuple[InterviewStore, dict]:
    """A store and the service's settings, with the grader (and the grader kept ready) as scripts."""
    grader = tmp_path / "grader.py"
    grader.write_text(grader_source)
    settings = {
        "private_dir": str(tmp_path / "private"), "workspaces_dir": str(tmp_path / "workspaces"), "homes_dir": str(tmp_path / "homes"),
        "scenarios_dir": str(default_scenarios_dir()), "isolated": False, "grade_command": [sys.executable, str(grader)],
    }
    if ready_grader_source is not None:
        ready = tmp_path / "ready_grader.py"
        ready.write_text(ready_grader_source)
        settings["grade_ready_command"] = [sys.executable, str(ready)]
    (tmp_path / "private").mkdir()
    return InterviewStore(f"sqlite:///{tmp_path / 'interviews.sqlite'}"), settings


def test_restarted_service_finishes_an_interrupted_end_and_grading(tmp_path):
    store, settings = service_state(tmp_path, FAKE_GRADER)
    ending, _ = store.create_interview(scenario="churn", kernel="cpu", candidate_name="A", interviewer="alice", time_budget_minutes=60, invite_ttl=timedelta(hours=1))
    grading, _ = store.create_interview(scenario="churn", kernel="cpu", candidate_name="B", interviewer="alice", time_budget_minutes=60, invite_ttl=timedelta(hours=1))
    workspace = tmp_path / "workspaces" / ending.candidate_user
    workspace.mkdir(parents=True)
    (workspace / "interview.ipynb").write_text("{}")
    chain = HistoryChain()
    store.append_history(ending.id, [chain.append({"time": "t", "session": "s", "kind": "execute_request", "code": "1 + 1", "msg_id": "m"})])
    # what a service killed mid-way leaves behind: one interview still 'ending', one 'ended' and never graded
    store.set_state(ending.id, State.ending)
    store.set_state(grading.id, State.ended)
    hub = FakeHub()
    lifecycle = InterviewLifecycle(store, hub, settings)
    lifecycle.freeze(grading.id)

    async def restart():
        resumed = await lifecycle.resume()
        await asyncio.gather(*list(lifecycle.tasks.values()))
        return resumed

    assert sorted(asyncio.run(restart())) == sorted([ending.id, grading.id])
    for interview in (ending, grading):
        done = store.get(interview.id)
        assert done.state == State.graded.value, done.grade_progress
        assert json.loads(done.grade_summary) == {
            "version": 2, "holdout": {"metric": "average_precision", "value": 0.42, "band": "strong"},
            "bugs_fixed": 1, "bugs_total": 2, "signals": {}, "constraints": {},
        }
    assert ("stop_server", ending.candidate_user) in hub.calls and ("delete_user", ending.candidate_user) in hub.calls
    bundle = tmp_path / "private" / "submissions" / ending.id
    assert verify_history(bundle / "history.jsonl").ok and (bundle / "interview.ipynb").exists()
    assert json.loads((bundle / "submission.json").read_text())["schema"] == "mlinterview.submission/1"
    assert "scoring on the holdout" in (tmp_path / "private" / "reports" / ending.id / "grader.log").read_text()
    store.close()


GRADER_FAILING_AFTER_ITS_REPORT = """
import pathlib, sys, time
args = sys.argv[1:]
out = pathlib.Path(args[args.index("--out") + 1])
(out / "report.html").write_text("<html>half a report</html>")
print("report written", flush=True)
while not (out / "go-on").exists():
    time.sleep(0.05)
sys.exit(3)
"""


def test_the_report_is_offered_only_once_the_grader_has_finished_well(tmp_path):
    store, settings = service_state(tmp_path, GRADER_FAILING_AFTER_ITS_REPORT)
    interview, _ = store.create_interview(scenario="churn", kernel="cpu", candidate_name="C", interviewer="alice", time_budget_minutes=60, invite_ttl=timedelta(hours=1))
    store.set_state(interview.id, State.ended)
    lifecycle = InterviewLifecycle(store, FakeHub(), settings)
    lifecycle.freeze(interview.id)
    report_dir = lifecycle.report_dir(interview.id)

    async def grade_while_watching():
        grading = asyncio.create_task(lifecycle.grade(interview.id))
        while lifecycle.report_html(interview.id) is None:
            await asyncio.sleep(0.05)
        # the file is there but the grader has not finished: the pages do not offer it yet
        offered_while_running = lifecycle.report_ready(store.get(interview.id))
        (report_dir / "go-on").touch()
        return offered_while_running, await grading

    offered_while_running, graded = asyncio.run(grade_while_watching())
    assert not offered_while_running
    assert not graded
    failed = store.get(interview.id)
    assert failed.state == State.grading_failed.value and "status 3" in failed.grade_progress
    assert lifecycle.report_html(interview.id) is not None and not lifecycle.report_ready(failed)
    store.close()


READY_GRADER = """
import json, pathlib, sys
job = json.loads(sys.stdin.readline())
args = job["args"]
out = pathlib.Path(job["cwd"]) / pathlib.Path(args[args.index("--out") + 1])
print("graded by the grader started ahead", flush=True)
(out / "report.json").write_text(json.dumps({"bugs": []}))
(out / "report.html").write_text("<html>report</html>")
"""


@pytest.mark.parametrize("ready_grader", ["waits for its job", "died while waiting"])
def test_a_grader_started_ahead_takes_the_next_job(tmp_path, ready_grader):
    ready = READY_GRADER if ready_grader == "waits for its job" else "import sys; sys.exit(1)"
    store, settings = service_state(tmp_path, FAKE_GRADER, ready)
    interview, _ = store.create_interview(scenario="churn", kernel="cpu", candidate_name="D", interviewer="alice", time_budget_minutes=60, invite_ttl=timedelta(hours=1))
    store.set_state(interview.id, State.ended)
    lifecycle = InterviewLifecycle(store, FakeHub(), settings)
    lifecycle.freeze(interview.id)

    async def ready_then_grade():
        lifecycle.keep_a_grader_ready()
        await asyncio.sleep(1.0)  # the ready one is started (and, in the second case, gone)
        return await lifecycle.grade(interview.id)

    assert asyncio.run(ready_then_grade())
    assert store.get(interview.id).state == State.graded.value
    log = (lifecycle.report_dir(interview.id) / "grader.log").read_text()
    if ready_grader == "waits for its job":
        assert "graded by the grader started ahead" in log
    else:  # the job is not lost: a grader is started for it as before
        assert "scoring on the holdout" in log
    store.close()
