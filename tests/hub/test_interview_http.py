"""End to end over HTTP, the way the people use it: a real hub, proxy, service, server and kernel.

An interviewer logs in and creates an interview with the service's form; the candidate opens the
invite link and lands in their prepared workspace; code runs in the candidate's kernel through
the proxy; the interviewer sees each execution in the live feed within seconds, pins a note,
joins the candidate's notebook (confirmed, recorded; a hub share), ends the interview; the share is revoked,
the server is stopped, and the frozen bundle holds the workspace and a verified history.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from mlinterview.history import read_events, verify_history
from mlinterview.scenarios import load_pack


def settings_of_pack(scenario_id):
    return load_pack(scenario_id).manifest

from hubtools import SERVICE, authorize_if_asked, run_code, wait_for, xsrf_of

pytestmark = pytest.mark.slow


def test_interview_from_invite_to_frozen_submission(hub, scenario_id):
    alice = hub.login_interviewer("alice")
    home = alice.get(SERVICE)
    assert "New interview" in home.text and scenario_id in home.text
    # an interviewer has no server: the hub's home points to the interview list, a spawn is refused with a reason
    hub_home = alice.get("/hub/home")
    assert hub_home.status_code == 200 and 'id="interview-list"' in hub_home.text and "My Server" not in hub_home.text
    refused = alice.get("/hub/spawn")
    assert refused.status_code == 403 and "not a candidate" in refused.text, (refused.status_code, refused.text[-800:])

    created = alice.post(
        f"{SERVICE}interviews",
        data={"_xsrf": xsrf_of(home.text), "candidate_name": "Grace Candidate", "scenario": scenario_id, "kernel": "cpu", "time_budget_minutes": "45"},
    )
    assert created.status_code == 200, created.text
    invite_url = re.search(r'id="invite-url">([^<]+)<', created.text).group(1)
    assert "/hub/invite/" in invite_url
    interview_id = re.search(r"interviews/([a-f0-9]{12})", created.text).group(1)
    listing = alice.get(f"{SERVICE}api/interviews").json()["interviews"]
    interview = next(i for i in listing if i["id"] == interview_id)
    assert interview["state"] == "invited" and interview["time_budget_minutes"] == 45
    candidate = interview["candidate_user"]

    # the candidate: invite -> logged in -> server spawned with the scenario's workspace
    started = time.monotonic()
    candidate_browser = hub.candidate_opens(invite_url, candidate)
    spawn_seconds = time.monotonic() - started
    workspace = hub.state / "workspaces" / candidate
    settings = json.loads((workspace / ".mlinterview" / "workspace.json").read_text())
    assert settings["scenario"] == scenario_id
    lab = candidate_browser.get(f"/user/{candidate}/lab")
    assert lab.status_code == 200 and "JupyterLab" in lab.text
    page_config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', lab.text, re.S).group(1))
    assert "@jupyterlab/apputils-extension:announcements" in page_config["disabledExtensions"]  # no news popup
    assert alice.get(f"{SERVICE}api/interviews/{interview_id}").json()["state"] == "live"

    # the notebook's kernel started with the server: opening the notebook (a session on its path,
    # as JupyterLab asks) joins it, however early, and no second kernel is started
    candidate_token = hub.token_for(candidate)
    notebook = load_pack(scenario_id).manifest.candidate.notebook
    api = {"headers": {"Authorization": f"token {candidate_token}"}, "timeout": 120}
    opened = candidate_browser.post(f"/user/{candidate}/api/sessions", json={"path": notebook, "type": "notebook", "name": notebook, "kernel": {}}, **api)
    assert opened.status_code == 201, opened.text
    kernels = candidate_browser.get(f"/user/{candidate}/api/kernels", **api).json()
    assert [k["id"] for k in kernels] == [opened.json()["kernel"]["id"]] and kernels[0]["name"] == "mlinterview-cpu", kernels

    # code runs in the candidate's kernel; every execution reaches the live feed
    kernel_id, reply = run_code(hub, candidate, candidate_token, "answer = 6 * 7\nprint(answer)")
    assert reply["status"] == "ok" and kernel_id == opened.json()["kernel"]["id"]
    _, failing = run_code(hub, candidate, candidate_token, "1 / 0", kernel_id=kernel_id)
    assert failing["status"] == "error" and failing["ename"] == "ZeroDivisionError"
    sent = time.monotonic()

    def feed_has_both():
        events = alice.get(f"{SERVICE}api/interviews/{interview_id}/events?after=-1").json()["events"]
        replies = [e for e in events if e["kind"] == "execute_reply"]
        return events if len(replies) >= 2 else None

    events = wait_for(feed_has_both, 15, "both executions in the live feed")
    feed_latency = time.monotonic() - sent
    requests = [e for e in events if e["kind"] == "execute_request"]
    assert [r["code"] for r in requests][-2:] == ["answer = 6 * 7\nprint(answer)", "1 / 0"]
    assert all(r["user"] == candidate for r in requests)
    error_reply = [e for e in events if e["kind"] == "execute_reply"][-1]
    assert error_reply["status"] == "error" and error_reply["error"]["ename"] == "ZeroDivisionError"
    assert "duration_ms" in error_reply

    # the live view page, a note pinned to the last execution
    live = alice.get(f"{SERVICE}interviews/{interview_id}")
    assert live.status_code == 200 and "Grace Candidate" in live.text
    noted = alice.post(
        f"{SERVICE}interviews/{interview_id}/note",
        data={"_xsrf": xsrf_of(live.text), "text": "divides by zero on purpose?", "at_seq": str(error_reply["seq"]), "elapsed_s": "12"},
    )
    assert noted.status_code == 200
    notes = alice.get(f"{SERVICE}api/interviews/{interview_id}/events?after=-1").json()["notes"]
    assert notes[0]["text"] == "divides by zero on purpose?" and notes[0]["at_seq"] == error_reply["seq"]

    # the mid-interview twist reaches the live workspace and the running kernel, once
    twist = settings_of_pack(scenario_id).twist
    if twist is not None:
        released = alice.post(f"{SERVICE}interviews/{interview_id}/twist", data={"_xsrf": xsrf_of(live.text)})
        assert released.status_code == 200, released.text
        after = json.loads((workspace / ".mlinterview" / "workspace.json").read_text())
        assert after["twist"]["title"] == twist.title
        notes = alice.get(f"{SERVICE}api/interviews/{interview_id}/events?after=-1").json()["notes"]
        assert any(note["text"].startswith(f"Twist released: {twist.title}") for note in notes)
        again = alice.post(f"{SERVICE}interviews/{interview_id}/twist", data={"_xsrf": xsrf_of(live.text)})
        # a second release changes nothing and says so on the live page (not a bare 409)
        assert again.status_code == 200 and "already released" in again.text, (again.status_code, again.url)
        assert json.loads((workspace / ".mlinterview" / "workspace.json").read_text()) == after
        if twist.kind == "tighter_budget":
            assert after["constraints"]["max_parameters"] == twist.max_parameters
            width = twist.max_parameters  # Linear(1, width): 2 * width parameters, over the new limit only
            assert 2 * width < settings["constraints"]["max_parameters"]
            _, blocked = run_code(
                hub, candidate, candidate_token,
                f"import torch\nsmall = torch.nn.Linear(1, {width})\ntorch.optim.SGD(small.parameters(), lr=0.1)", kernel_id=kernel_id,
            )
            assert blocked["status"] == "error" and blocked["ename"] == "ConstraintViolation", blocked

    # before joining the interviewer cannot reach the candidate's server; joining asks to confirm,
    # is recorded in the timeline, and then they can
    assert alice.get(f"/user/{candidate}/api/contents").status_code in (403, 404)
    asked = alice.get(f"{SERVICE}interviews/{interview_id}/join")
    assert asked.status_code == 200 and "recorded in the interview" in asked.text and 'id="confirm-join"' in asked.text
    unconfirmed = alice.post(f"{SERVICE}interviews/{interview_id}/join", data={"_xsrf": xsrf_of(asked.text)})
    assert unconfirmed.status_code == 400
    assert hub.api("GET", f"shares/{candidate}/").json()["items"] == []
    joined = alice.post(f"{SERVICE}interviews/{interview_id}/join", data={"_xsrf": xsrf_of(asked.text), "confirm": "yes"})
    assert joined.status_code == 200
    lab_url = re.search(r'href="([^"]+)"[^>]*id="open-joined-notebook"', joined.text).group(1)
    notes = alice.get(f"{SERVICE}api/interviews/{interview_id}/events?after=-1").json()["notes"]
    assert any(note["author"] == "alice" and "joined the candidate's live notebook" in note["text"] for note in notes)
    shared = alice.get(lab_url)
    assert "Authorize" in shared.text  # the hub asks the interviewer once to accept the share
    shared = authorize_if_asked(alice, shared)
    assert shared.status_code == 200 and shared.url.path.startswith(f"/user/{candidate}/")
    contents = alice.get(f"/user/{candidate}/api/contents")
    assert contents.status_code == 200
    assert any(item["type"] == "notebook" for item in contents.json()["content"])
    shares = hub.api("GET", f"shares/{candidate}/").json()["items"]
    assert [share["user"]["name"] for share in shares] == ["alice"]

    # End interview: share revoked, server stopped, candidate removed, bundle frozen
    ended = alice.post(f"{SERVICE}interviews/{interview_id}/end", data={"_xsrf": xsrf_of(live.text)})
    assert ended.status_code == 200
    final = wait_for(
        lambda: (m := alice.get(f"{SERVICE}api/interviews/{interview_id}").json())["state"] in ("ended", "graded", "grading_failed") and m,
        90, "the interview to be frozen",
    )
    assert final["ended_at"]
    assert hub.api("GET", f"users/{candidate}").status_code == 404  # the candidate's hub user is gone
    after = candidate_browser.get(f"/user/{candidate}/api/contents", headers={"Authorization": f"token {candidate_token}"}, follow_redirects=False)
    assert after.status_code in (302, 403, 404, 424, 503), after.status_code  # no server, no token: nothing answers
    bundle = hub.state / "private" / "submissions" / interview_id
    assert (bundle / "submission.json").is_file()
    submission = json.loads((bundle / "submission.json").read_text())
    assert submission["scenario"] == scenario_id and submission["notes"][0]["text"] == "divides by zero on purpose?"
    if twist is not None:
        assert submission["twist"]["title"] == twist.title  # from the service's record, for the grader's audit
    assert verify_history(bundle / "history.jsonl").ok
    stored_codes = [e.get("code") for e in read_events(bundle / "history.jsonl") if e["kind"] == "execute_request"]
    assert "1 / 0" in stored_codes
    notebook = [path for path in bundle.glob("*.ipynb")]
    assert notebook, "the final notebook is in the bundle"

    # grading runs in the background (the browser test follows it to the report)
    progress = alice.get(f"{SERVICE}api/interviews/{interview_id}").json()["grade_progress"]
    assert progress.startswith(("grading", "report ready")), progress
    assert (hub.state / "private" / "reports" / interview_id / "grader.log").exists()
    print(f"\nspawn (invite to ready server): {spawn_seconds:.1f} s; live feed latency after the reply: {feed_latency:.2f} s")
