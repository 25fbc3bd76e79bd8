"""The hiring panel in a real hub, through its real proxy: from the invite to the decision.

One hub with interviewers alice and bob and a hiring manager (hm). alice runs an interview in the
hiring round "December ML" and invites bob onto its panel from the live page; the candidate
works, alice ends it and the grader reports. In Chromium: each interviewer writes a scorecard of
their own (the grader's evidence beside each signal, never filled in); bob cannot read alice's,
not on a page, not through the API, until his is submitted, and can after; the debrief shows both
beside the report's evidence with the disagreements highlighted; alice changes her vote with a
reason; hm records the decision. dana, the hiring manager of "December ML" only, sees and decides
that round's interview, not the other, in the lists, Compare and its CSV included. Every new
endpoint refuses a candidate, an interviewer off the panel, and whoever the role does not allow
(RBAC through the proxy with hub tokens).
Screenshots go to test-artifacts/hiring-panel/.
"""

from __future__ import annotations

import httpx
import pytest

from hubtools import INTERVIEWER_PASSWORD, REPO_ROOT, SERVICE, wait_for
from test_browser_e2e import browser  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = REPO_ROOT / "test-artifacts" / "hiring-panel"
ALICE_EVIDENCE = "alice-saw-the-leak-at-12:30"
SIGNALS = ("data_handling", "model_selection", "optimization", "evaluation")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def panel_hub(make_hub):
    # hm decides in every round; dana only in "December ML"
    return make_hub(settings={"hiring_managers": '["hm"]', "hiring_rounds": '{ "December ML" = ["dana"] }'})


@pytest.fixture(scope="module")
def interviews(panel_hub, scenario_id):
    hub = panel_hub
    tokens = {name: hub.token_for(name) for name in ("alice", "bob", "hm", "dana")}
    made = hub.create_interview(tokens["alice"], "Ada Panel", scenario_id, hiring_round="December ML")
    elsewhere = hub.create_interview(tokens["alice"], "Grace Elsewhere", scenario_id)  # bob is never on its panel
    candidate = made["interview"]["candidate_user"]
    hub.candidate_opens(made["invite_url"], candidate)
    tokens[candidate] = hub.token_for(candidate)
    return {"tokens": tokens, "id": made["interview"]["id"], "elsewhere": elsewhere["interview"]["id"], "candidate": candidate,
            "made": made["interview"]}


def call(hub, method: str, path: str, token: str, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{hub.url}{SERVICE}{path}", headers={"Authorization": f"token {token}"},
                         follow_redirects=False, timeout=30, **kwargs)


def endpoints(interview_id: str) -> list[tuple[str, str, dict]]:
    """Every endpoint of the panel, with a body that would be accepted from someone allowed."""
    scorecard = {"action": "save", "band_data_handling": "weak", "evidence_data_handling": "x"}
    return [
        ("GET", f"interviews/{interview_id}/scorecard", {}),
        ("POST", f"interviews/{interview_id}/scorecard", scorecard),
        ("POST", f"interviews/{interview_id}/panel", {"user": "bob"}),
        ("POST", f"interviews/{interview_id}/vote", {"recommendation": "hire", "confidence": "low", "reason": "r"}),
        ("GET", f"interviews/{interview_id}/debrief", {}),
        ("POST", f"interviews/{interview_id}/decision", {"decision": "hire", "note": "n"}),
        ("GET", f"api/interviews/{interview_id}/scorecards", {}),
    ]


def status_of(hub, token: str, method: str, path: str, body: dict) -> int:
    return call(hub, method, path, token, **({"data": body} if method == "POST" else {})).status_code


def test_a_candidate_reaches_no_panel_endpoint(panel_hub, interviews):
    token = interviews["tokens"][interviews["candidate"]]
    for interview_id in (interviews["id"], interviews["elsewhere"]):
        refused = {(method, path): status_of(panel_hub, token, method, path, body) for method, path, body in endpoints(interview_id)}
        assert set(refused.values()) == {403}, refused


def test_an_interviewer_off_the_panel_reaches_no_panel_endpoint(panel_hub, interviews):
    token = interviews["tokens"]["bob"]
    refused = {(method, path): status_of(panel_hub, token, method, path, body) for method, path, body in endpoints(interviews["elsewhere"])}
    assert set(refused.values()) == {403}, refused
    listed = call(panel_hub, "GET", "api/interviews", token).json()["interviews"]
    assert interviews["elsewhere"] not in [i["id"] for i in listed]


def test_the_roles_keep_to_their_part(panel_hub, interviews):
    hub, tokens, interview_id = panel_hub, interviews["tokens"], interviews["elsewhere"]
    # the hiring manager sees every interview and its debrief, writes no scorecard, invites nobody
    listed = {i["id"]: i for i in call(hub, "GET", "api/interviews", tokens["hm"]).json()["interviews"]}
    assert {interviews["id"], interview_id} <= set(listed)
    assert listed[interviews["id"]]["hiring_round"] == "December ML" and listed[interview_id]["hiring_round"] == interviews["made"]["scenario"]
    assert call(hub, "GET", f"interviews/{interview_id}/debrief", tokens["hm"]).status_code == 200
    redirected = call(hub, "GET", f"interviews/{interview_id}/scorecard", tokens["hm"])
    assert redirected.status_code == 302 and redirected.headers["Location"].endswith(f"/interviews/{interview_id}/debrief")
    for method, path, body in endpoints(interview_id)[1:4]:
        assert status_of(hub, tokens["hm"], method, path, body) == 403, path
    assert call(hub, "POST", f"interviews/{interview_id}/end", tokens["hm"]).status_code == 403  # reads, does not act
    # the owner does not decide; nobody but the hub's interviewers joins a panel
    assert status_of(hub, tokens["alice"], "POST", f"interviews/{interview_id}/decision", {"decision": "hire"}) == 403
    assert status_of(hub, tokens["alice"], "POST", f"interviews/{interview_id}/panel", {"user": "hm"}) == 400
    assert status_of(hub, tokens["alice"], "POST", f"interviews/{interview_id}/panel", {"user": interviews["candidate"]}) == 400


def log_in(browser, hub, name: str):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login?next={SERVICE}")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", INTERVIEWER_PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"**{SERVICE}")
    return page


def fill_scorecard(page, bands: dict[str, str], evidence: str, recommendation: str, confidence: str) -> None:
    for signal, band in bands.items():
        page.check(f"#signal-{signal} input[value={band}]")
        page.fill(f"textarea[name=evidence_{signal}]", f"{evidence} ({signal})")
    page.select_option("select[name=recommendation]", recommendation)
    page.select_option("select[name=confidence]", confidence)


def test_a_hiring_manager_of_one_round_sees_and_decides_that_round_only(panel_hub, interviews, scenario_id):
    hub, tokens, ours, other = panel_hub, interviews["tokens"], interviews["id"], interviews["elsewhere"]
    listed = [i["id"] for i in call(hub, "GET", "api/interviews", tokens["dana"]).json()["interviews"]]
    assert ours in listed and other not in listed
    assert call(hub, "GET", f"interviews/{ours}/debrief", tokens["dana"]).status_code == 200
    assert call(hub, "GET", f"interviews/{ours}", tokens["dana"]).status_code == 200  # its live view, to read
    for path in (f"interviews/{other}", f"interviews/{other}/debrief", f"api/interviews/{other}/scorecards", f"interviews/{other}/playback"):
        assert call(hub, "GET", path, tokens["dana"]).status_code == 403, path
    assert status_of(hub, tokens["dana"], "POST", f"interviews/{other}/decision", {"decision": "hire", "note": "n"}) == 403
    # Compare and its CSV: hm (every round) has both rows, dana only her round's
    for name, expected in (("hm", {ours, other}), ("dana", {ours})):
        rows = call(hub, "GET", f"compare.csv?scenario={scenario_id}", tokens[name]).text.splitlines()[1:]
        assert {row.split(",")[0] for row in rows} == expected, (name, rows)
        page = call(hub, "GET", f"compare?scenario={scenario_id}", tokens[name]).text
        assert all(f'data-interview="{i}"' in page for i in expected) and (other in expected or f'data-interview="{other}"' not in page)
    # a hiring manager reads; the interview's actions are not theirs, nor another interviewer's
    actions = [("POST", f"interviews/{other}/{action}", body) for action, body in
               (("hint", {"hint": "0"}), ("note", {"text": "n"}), ("twist", {}), ("question", {"question": "x"}), ("end", {}))]
    for name in ("hm", "dana", "bob"):
        for method, path, body in actions:
            assert status_of(hub, tokens[name], method, path, body) == 403, (name, path)
    for path in (f"interviews/{other}/playback", f"api/interviews/{other}/playback"):
        assert call(hub, "GET", path, tokens["bob"]).status_code == 403, path
        assert call(hub, "GET", path, tokens[interviews["candidate"]]).status_code == 403, path
    assert call(hub, "GET", f"api/interviews/{other}/playback", tokens["hm"]).status_code == 200


def test_from_invite_to_decision(panel_hub, interviews, browser):  # noqa: F811
    hub, tokens, interview_id = panel_hub, interviews["tokens"], interviews["id"]
    scorecard_url = f"{hub.url}{SERVICE}interviews/{interview_id}/scorecard"
    api = f"api/interviews/{interview_id}/scorecards"
    # bob is not on the panel yet: the interview is not his to see
    assert interview_id not in [i["id"] for i in call(hub, "GET", "api/interviews", tokens["bob"]).json()["interviews"]]
    assert call(hub, "GET", f"interviews/{interview_id}", tokens["bob"]).status_code == 403

    # alice invites bob from the live page
    alice = log_in(browser, hub, "alice")
    alice.goto(f"{hub.url}{SERVICE}interviews/{interview_id}")
    alice.click("#open-scorecard")
    alice.select_option("#invite-co-interviewer select[name=user]", "bob")
    alice.click("#invite-co-interviewer button")
    assert alice.inner_text("#panel-members") == "alice, bob"
    assert call(hub, "GET", f"interviews/{interview_id}", tokens["bob"]).status_code == 200  # the live view, now his too
    assert status_of(hub, tokens["bob"], "POST", f"interviews/{interview_id}/panel", {"user": "bob"}) == 403  # only the owner invites

    # alice ends the interview; the grader reports
    ended = call(hub, "POST", f"interviews/{interview_id}/end", tokens["alice"])
    assert ended.status_code in (200, 302), ended.text
    final = wait_for(lambda: (m := call(hub, "GET", f"api/interviews/{interview_id}", tokens["alice"]).json())["state"]
                     in ("graded", "grading_failed") and m, 400, "the report")
    assert final["state"] == "graded", final["grade_progress"]

    # alice's scorecard: the grader's evidence beside each signal, nothing filled in
    alice.goto(scorecard_url)
    for signal in SIGNALS:
        assert "Grader's suggestion" in alice.inner_text(f"#signal-{signal} aside")
        assert alice.input_value(f"textarea[name=evidence_{signal}]") == ""
        assert alice.locator(f"#signal-{signal} input:checked").count() == 0
    fill_scorecard(alice, {"data_handling": "very_weak", "model_selection": "strong", "optimization": "weak", "evaluation": "weak"},
                   ALICE_EVIDENCE, "no_hire", "medium")
    alice.click("#save-draft")
    assert alice.input_value("textarea[name=evidence_data_handling]").startswith(ALICE_EVIDENCE)  # the draft kept
    # a draft is alice's alone: the hiring manager sees no scorecard yet
    assert call(hub, "GET", api, tokens["hm"]).json()["scorecards"] == []
    alice.goto(scorecard_url)
    alice.click("#submit-scorecard")
    alice.wait_for_selector("#debrief")
    shot(alice, "01-alice-submitted")
    # submitted: it never changes again
    again = status_of(hub, tokens["alice"], "POST", f"interviews/{interview_id}/scorecard",
                      {"action": "submit", **{f"band_{s}": "very_strong" for s in SIGNALS}, "recommendation": "hire", "confidence": "high"})
    assert again == 409

    # bob, before he submits: nothing of alice's, on the page or through the API
    bob = log_in(browser, hub, "bob")
    assert bob.locator(f"tr[data-interview='{interview_id}']").count() == 1  # in his list now
    bob.goto(scorecard_url)
    assert ALICE_EVIDENCE not in bob.content()
    seen = call(hub, "GET", api, tokens["bob"]).json()
    assert seen["withheld"] is True and seen["scorecards"] == [] and ALICE_EVIDENCE not in str(seen)
    assert call(hub, "GET", f"interviews/{interview_id}/debrief", tokens["bob"]).status_code == 403
    fill_scorecard(bob, {"data_handling": "strong", "model_selection": "strong", "optimization": "strong", "evaluation": "very_strong"},
                   "bob-found-grouped-split", "hire", "high")
    bob.click("#save-draft")
    seen = call(hub, "GET", api, tokens["bob"]).json()
    assert [card["author"] for card in seen["scorecards"]] == ["bob"] and seen["scorecards"][0]["submitted_at"] is None
    assert ALICE_EVIDENCE not in str(seen) and "bob-found-grouped-split" not in str(call(hub, "GET", api, tokens["alice"]).json())
    bob.click("#submit-scorecard")
    bob.wait_for_selector("#debrief")

    # bob, after: both scorecards side by side with the report's evidence, the disagreements highlighted
    assert ALICE_EVIDENCE in bob.inner_text("#scorecards")
    assert bob.locator("tr.disagree[data-signal=data_handling]").count() == 1  # very weak against strong
    assert bob.locator("tr.disagree[data-signal=model_selection]").count() == 0
    assert bob.locator("#split-vote").count() == 1
    assert "Grader" in bob.inner_text("#scorecards") and "planted bug" in bob.inner_text("tr[data-signal=data_handling]")
    seen = call(hub, "GET", api, tokens["bob"]).json()
    assert [card["author"] for card in seen["scorecards"]] == ["alice", "bob"] and seen["withheld"] is False
    assert bob.locator("tr.disagree[data-signal=evaluation]").count() == 1  # weak against very strong
    assert seen["disagreements"] == {"signals": ["data_handling", "evaluation"], "split_vote": True}
    shot(bob, "02-bob-debrief")

    # alice changes her vote, with a reason (none: refused); the history is kept
    assert status_of(hub, tokens["alice"], "POST", f"interviews/{interview_id}/vote",
                     {"recommendation": "hire", "confidence": "low", "reason": ""}) == 400
    alice.goto(f"{hub.url}{SERVICE}interviews/{interview_id}/debrief")
    alice.select_option("#change-vote select[name=recommendation]", "hire")
    alice.select_option("#change-vote select[name=confidence]", "low")
    alice.fill("#change-vote textarea[name=reason]", "bob's grouped split convinced me")
    alice.click("#change-vote button")
    assert "bob's grouped split convinced me" in alice.inner_text("td.vote[data-author=alice]")
    assert alice.locator("#split-vote").count() == 0  # both vote hire now
    assert alice.locator("#decision-form").count() == 0  # the decision is not hers

    # the hiring manager: every submitted scorecard, the vote change, and the decision is theirs
    hm = log_in(browser, hub, "hm")
    assert hm.locator(f"tr[data-interview='{interview_id}']").count() == 1
    hm.goto(scorecard_url)  # no scorecard of theirs: the debrief
    hm.wait_for_selector("#debrief")
    assert ALICE_EVIDENCE in hm.inner_text("#scorecards") and "bob-found-grouped-split" in hm.inner_text("#scorecards")
    hm.check("#decision-form input[value=hire]")
    hm.fill("#decision-form textarea[name=note]", "hire: strong evaluation")
    hm.click("#record-decision")
    assert "hire" in hm.inner_text("#current-decision") and "by hm" in hm.inner_text("#current-decision")
    shot(hm, "03-decision")
    final = call(hub, "GET", api, tokens["hm"]).json()
    assert final["decision"]["decision"] == "hire" and final["decision"]["note"] == "hire: strong evaluation"
    changes = {card["author"]: card["vote_changes"] for card in final["scorecards"]}
    assert [(c["from"], c["to"], c["reason"]) for c in changes["alice"]] == [("no_hire", "hire", "bob's grouped split convinced me")]
    assert changes["bob"] == []
    bob.goto(f"{hub.url}{SERVICE}interviews/{interview_id}/debrief")
    assert "hire: strong evaluation" in bob.inner_text("#current-decision")
