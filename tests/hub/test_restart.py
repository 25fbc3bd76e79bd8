"""Nothing is lost when the interview service or the whole hub restarts mid-interview."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from hubtools import SERVICE, run_code, wait_for
from mlinterview.history import read_events, verify_events, verify_history

pytestmark = pytest.mark.slow


def feed(hub, token, interview_id):
    return hub.service_api(token, "GET", f"interviews/{interview_id}/events").json()["events"]


def codes_in(events):
    return [e["code"] for e in events if e["kind"] == "execute_request"]


def test_service_and_hub_restarts_lose_nothing(make_hub, scenario_id):
    hub = make_hub()
    alice = hub.token_for("alice")
    created = hub.create_interview(alice, "Restart Candidate", scenario_id)
    interview_id, candidate = created["interview"]["id"], created["interview"]["candidate_user"]
    hub.candidate_opens(created["invite_url"], candidate)
    token = hub.token_for(candidate)
    kernel_id, _ = run_code(hub, candidate, token, "x = 1")
    wait_for(lambda: "x = 1" in codes_in(feed(hub, alice, interview_id)), 15, "the first execution in the feed")

    # the interview service dies; the candidate keeps working; the hub brings the service back
    old_service = hub.service_pid()
    assert old_service, "the interview service runs as a child of the hub"
    os.kill(old_service, signal.SIGKILL)
    _, reply = run_code(hub, candidate, token, "x += 1", kernel_id=kernel_id)
    assert reply["status"] == "ok"  # the candidate did not notice
    wait_for(lambda: hub.service_pid() not in (None, old_service) and httpx.get(f"{hub.url}{SERVICE}", timeout=5).status_code == 302, 90, "the service to be restarted by the hub")
    wait_for(lambda: "x += 1" in codes_in(feed(hub, alice, interview_id)), 30, "the execution made while the service was down")

    # the whole hub restarts; the candidate's server and kernel keep running
    hub.stop(stop_servers=False)
    hub.start()
    wait_for(lambda: hub.server_ready(candidate), 60, "the candidate's server to be found again")
    _, reply = run_code(hub, candidate, token, "x += 1\nx", kernel_id=kernel_id)
    assert reply["status"] == "ok" and reply["result"] == 3  # kernel state survived
    events = wait_for(lambda: (ev := feed(hub, alice, interview_id)) and codes_in(ev).count("x += 1") + codes_in(ev).count("x += 1\nx") == 2 and ev, 30, "the execution after the hub restart")
    assert verify_events(events).ok, verify_events(events).problems
    assert hub.service_api(alice, "GET", f"interviews/{interview_id}").json()["state"] == "live"

    # and the end still freezes everything
    ended = httpx.post(f"{hub.url}{SERVICE}interviews/{interview_id}/end", headers={"Authorization": f"token {alice}"}, timeout=30, follow_redirects=False)
    assert ended.status_code == 302
    wait_for(lambda: hub.service_api(alice, "GET", f"interviews/{interview_id}").json()["state"] not in ("live", "ending"), 180, "the end")
    bundle = hub.state / "private" / "submissions" / interview_id / "history.jsonl"
    assert verify_history(bundle).ok
    assert codes_in(read_events(bundle)) == ["x = 1", "x += 1", "x += 1\nx"]
