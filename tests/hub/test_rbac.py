"""Who reaches what, through the real proxy with real hub tokens: each refusal is a test.

Two interviewers (alice, bob), an admin (boss), two live candidates (one per interviewer).
"""

from __future__ import annotations


import httpx
import pytest

from hubtools import INTERVIEWER_PASSWORD, SERVICE, run_code, xsrf_of
from mlinterview.extension.history_store import HISTORY_SECRET_HEADER
from mlinterview.history import HistoryChain

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def people(hub, scenario_id):
    tokens = {name: hub.token_for(name) for name in ("alice", "bob", "boss")}
    a = hub.create_interview(tokens["alice"], "Candidate A", scenario_id)
    b = hub.create_interview(tokens["bob"], "Candidate B", scenario_id)
    cand_a, cand_b = a["interview"]["candidate_user"], b["interview"]["candidate_user"]
    browser_a, _ = hub.candidates_open([(a["invite_url"], cand_a), (b["invite_url"], cand_b)])  # both arrive at once
    tokens[cand_a], tokens[cand_b] = hub.token_for(cand_a), hub.token_for(cand_b)
    return {
        "tokens": tokens, "a": a["interview"], "b": b["interview"], "cand_a": cand_a, "cand_b": cand_b,
        "browser_a": browser_a, "invite_a": a["invite_url"],
    }


def get(hub, path, token=None, **kwargs):
    headers = {"Authorization": f"token {token}"} if token else {}
    return httpx.get(f"{hub.url}{path}", headers=headers, follow_redirects=False, timeout=30, **kwargs)


# -- candidates -------------------------------------------------------------------------------------
def test_candidate_token_gets_nothing_of_the_service(hub, people):
    token = people["tokens"][people["cand_a"]]
    assert get(hub, SERVICE, token).status_code == 403
    assert get(hub, f"{SERVICE}api/interviews", token).status_code == 403
    assert get(hub, f"{SERVICE}api/interviews/{people['a']['id']}/events", token).status_code == 403
    assert get(hub, f"{SERVICE}interviews/{people['a']['id']}/report", token).status_code == 403
    ended = httpx.post(f"{hub.url}{SERVICE}api/interviews", headers={"Authorization": f"token {token}"}, json={}, timeout=30)
    assert ended.status_code == 403


def test_candidate_browser_session_gets_nothing_of_the_service(people):
    page = people["browser_a"].get(SERVICE)
    assert page.status_code == 403


def test_candidate_reaches_own_server_only(hub, people):
    token = people["tokens"][people["cand_a"]]
    assert get(hub, f"/user/{people['cand_a']}/api/contents", token).status_code == 200
    assert get(hub, f"/user/{people['cand_b']}/api/contents", token).status_code == 403
    assert people["browser_a"].get(f"/user/{people['cand_b']}/api/contents", follow_redirects=False).status_code in (302, 403)


def test_candidate_token_cannot_use_the_hub_api_for_others(hub, people):
    token = people["tokens"][people["cand_a"]]
    assert hub.api("GET", "users", token).status_code == 403
    assert hub.api("GET", f"users/{people['cand_b']}", token).status_code == 404  # not even its existence
    assert hub.api("DELETE", f"users/{people['cand_b']}/server", token).status_code in (403, 404)
    # no colluding: a candidate cannot share their server with anyone
    assert hub.api("POST", f"shares/{people['cand_a']}/", token, json={"user": people["cand_b"]}).status_code == 403
    escalate = hub.api("POST", f"users/{people['cand_a']}/tokens", token, json={"scopes": ["admin:users"]})
    assert escalate.status_code in (400, 403) and "token" not in escalate.json()


def test_candidate_cannot_log_in_with_a_password(hub, people):
    client = hub.browser()
    page = client.get("/hub/login")
    response = client.post(
        "/hub/login", data={"username": people["cand_a"], "password": INTERVIEWER_PASSWORD, "_xsrf": xsrf_of(page.text)}
    )
    assert response.url.path == "/hub/login" and "Invalid username or password" in response.text


def test_used_and_unknown_invites_get_a_clear_page(hub, people):
    used = hub.browser().get(people["invite_a"])
    assert used.status_code == 410
    assert "already been used" in used.text and "Traceback" not in used.text
    unknown = hub.browser().get("/hub/invite/not-a-real-code")
    assert unknown.status_code == 403 and "not valid" in unknown.text


# -- interviewers and admins ------------------------------------------------------------------------
def test_interviewer_reaches_only_their_interviews(hub, people):
    bob = people["tokens"]["bob"]
    a = people["a"]["id"]
    listed = hub.service_api(bob, "GET", "interviews").json()["interviews"]
    assert [i["id"] for i in listed] == [people["b"]["id"]]
    assert hub.service_api(bob, "GET", f"interviews/{a}").status_code == 403
    assert hub.service_api(bob, "GET", f"interviews/{a}/events").status_code == 403
    assert get(hub, f"{SERVICE}interviews/{a}", bob).status_code == 403
    assert get(hub, f"{SERVICE}interviews/{a}/join", bob).status_code == 403
    assert hub.service_api(bob, "GET", f"interviews/{a}/notebook").status_code == 403
    for action in ("end", "join", "note", "invite", "twist"):
        refused = httpx.post(f"{hub.url}{SERVICE}interviews/{a}/{action}", headers={"Authorization": f"token {bob}"}, data={"text": "x", "confirm": "yes"}, timeout=30)
        assert refused.status_code == 403, action
    assert hub.service_api(people["tokens"]["alice"], "GET", f"interviews/{a}").json()["state"] == "live"


def test_interviewer_cannot_reach_a_candidate_server_without_a_share(hub, people):
    assert get(hub, f"/user/{people['cand_a']}/api/contents", people["tokens"]["alice"]).status_code == 403
    assert get(hub, f"/user/{people['cand_a']}/api/contents", people["tokens"]["bob"]).status_code == 403


def test_admin_reaches_every_interview(hub, people):
    boss = people["tokens"]["boss"]
    listed = {i["id"] for i in hub.service_api(boss, "GET", "interviews").json()["interviews"]}
    assert {people["a"]["id"], people["b"]["id"]} <= listed
    assert hub.service_api(boss, "GET", f"interviews/{people['a']['id']}/events").status_code == 200


def test_unauthenticated_visitors_are_sent_to_log_in(hub):
    response = get(hub, SERVICE)
    assert response.status_code == 302 and "/hub/api/oauth2/authorize" in response.headers["location"]
    assert get(hub, f"{SERVICE}api/interviews").status_code in (302, 403)


# -- the history inbox ------------------------------------------------------------------------------
def post_history(hub, token, events, secret=None):
    headers = {"Authorization": f"token {token}"} if token else {}
    if secret:
        headers[HISTORY_SECRET_HEADER] = secret
    return httpx.post(f"{hub.url}{SERVICE}api/history", headers=headers, json={"events": events}, timeout=30)


def test_history_inbox_takes_only_the_candidates_own_chain(hub, people):
    chain = HistoryChain()
    event = {"time": "2026-11-25T10:00:00Z", "session": "forged", "kind": "note", "detail": {"text": "hello"}}
    assert post_history(hub, None, []).status_code == 401
    assert post_history(hub, people["tokens"]["alice"], []).status_code == 403  # an interviewer is no candidate
    assert post_history(hub, people["tokens"]["boss"], []).status_code == 403
    # the candidate's server has been streaming its chain
    token_b = people["tokens"][people["cand_b"]]
    kernel_id, reply = run_code(hub, people["cand_b"], token_b, "1 + 1")
    assert reply["status"] == "ok"
    # a token of the candidate's own is not their server: without the interview's history secret, refused
    assert post_history(hub, token_b, [chain.append(event)]).status_code == 403
    secret = (hub.state / "private" / "history_secrets" / people["b"]["id"]).read_text()
    head = httpx.get(f"{hub.url}{SERVICE}api/history", headers={"Authorization": f"token {token_b}", HISTORY_SECRET_HEADER: secret}, timeout=30).json()
    assert head["stored_seq"] >= 1
    # even with it, a second chain from seq 0 is never merged: kept apart as a divergence (an alarm)
    rewrite = post_history(hub, token_b, [HistoryChain().append(event)], secret=secret)
    assert rewrite.status_code == 409 and "append-only" in rewrite.json()["error"] and rewrite.json()["kept_as_divergent"] == 1
    feed = hub.service_api(people["tokens"]["bob"], "GET", f"interviews/{people['b']['id']}/events").json()
    assert all(e.get("session") != "forged" for e in feed["events"])
    assert "append-only" in feed["interview"]["history_alarm"]  # the alarm the live view shows
    assert any(e.get("code") == "1 + 1" for e in feed["events"])
