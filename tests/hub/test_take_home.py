"""Take-home interviews on the real hub, service and candidate JupyterLab, in Chromium.

The interviewer creates a take-home with the service's form (a window to start, an active-time
budget, a deadline); the candidate follows the link, works, answers the pack's start question and
submits, saying how long it took. The graded report shows the answer, the active time measured
from the record and the self-reported time. A second take-home is never submitted: once its
deadline has passed (the test moves its start back in the store, as if the hours had gone by),
the service submits it on its own and the candidate's tab lands on the end page. A third is never
started: once its window has closed, its link refuses to start it, and it becomes a no-show.
"""

from __future__ import annotations

import json

import httpx
import pytest

from hubtools import SERVICE, wait_for, xsrf_of
from mlinterview.extension.hub_settings import load_settings
from mlinterview.extension.service_store import InterviewStore
from mlinterview.scenarios.pack import load_pack
from lab_page import wait_for_the_end_page
from store_time import move_back
from test_browser_e2e import browser, run_new_cell, shot, type_new_cell, wait_for_idle_kernel  # noqa: F401
from test_cockpit import log_in
from test_questions import answer_in_the_panel

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LAB = "**/user/cand-*/lab/**"


@pytest.fixture(scope="module")
def hub(make_hub):
    # the service looks for deadlines every second, not every 30 s
    return make_hub(settings={"take_home_sweep_seconds": "1"})


@pytest.fixture(scope="module")
def store(hub):
    opened = InterviewStore(load_settings(environ={"MLINTERVIEW_HUB_SETTINGS": str(hub.settings_file)}).interview_store_url)
    yield opened
    opened.close()


def ended(hub, token: str, interview_id: str, states=("graded",)):
    def check():
        model = hub.service_api(token, "GET", f"interviews/{interview_id}").json()
        return model if model["state"] in states else None
    return wait_for(check, 240, f"interview {interview_id} in {states}", interval=0.5)


def report_of(hub, interviewer: httpx.Client, interview_id: str) -> str:
    response = interviewer.get(f"{SERVICE}interviews/{interview_id}/report")
    assert response.status_code == 200, response.text[:300]
    return response.text


def test_a_take_home_from_invite_to_report(hub, browser, scenario_id):  # noqa: F811
    token = hub.token_for("alice")
    start = next(q for q in load_pack(scenario_id).manifest.questions if q.shown == "start")
    panel = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = panel.new_page()
    lab_context = browser.new_context(viewport={"width": 1500, "height": 950})
    lab = lab_context.new_page()
    try:
        # the interviewer's form: a take-home, 3 days to start, 150 minutes of work, 24 hours to submit
        log_in(page, hub.url)
        page.fill("input[name=candidate_name]", "Tess Takehome")
        page.select_option("#scenario", scenario_id)
        page.select_option("#kind", "take_home")
        assert page.locator("#time_out").is_hidden() and page.locator("#deadline_hours").is_visible()
        assert page.input_value("#time_budget") == "180"  # a take-home's default: about three hours
        page.fill("#time_budget", "150")
        page.fill("#start_window_days", "3")
        page.fill("#deadline_hours", "24")
        page.click("#create-interview button[type=submit]")
        terms = page.inner_text("#take-home-terms")
        assert "within 3 day(s)" in terms and "24 hours" in terms and "150 min" in terms, terms
        invite_url = page.inner_text("#invite-url").strip()
        shot(page, "take-home-01-invite")
        interview = next(i for i in hub.service_api(token, "GET", "interviews").json()["interviews"] if i["candidate_name"] == "Tess Takehome")
        assert (interview["kind"], interview["start_window_hours"], interview["deadline_hours"], interview["time_out"]) == ("take_home", 72, 24, "soft")
        interview_id = interview["id"]

        # the candidate starts: the clock counts to the deadline, the button submits
        lab.goto(invite_url)
        lab.wait_for_url(LAB, timeout=180_000)
        lab.wait_for_selector(".mli-clock", timeout=90_000)
        clock = lab.inner_text(".mli-clock")
        hours = int(clock.split(":")[0])
        assert clock.endswith(" to the deadline") and 23 <= hours <= 24, clock
        assert "150 min of work" in lab.get_attribute(".mli-clock", "title")
        assert lab.inner_text("#mli-done") == "Submit"
        started = hub.service_api(token, "GET", f"interviews/{interview_id}").json()
        assert started["state"] == "live" and started["deadline_at"]

        # work, and the written answer
        wait_for_idle_kernel(lab)
        run_new_cell(lab, "take_home = 6 * 7\nprint('take-home', take_home)")
        lab.wait_for_selector(".jp-OutputArea-output:has-text('take-home 42')", timeout=60_000)
        lab.click(".jp-SideBar .lm-TabBar-tab[data-id='mli-questions']")
        answer = "The split must keep each customer on one side, or validation flatters the model."
        answer_in_the_panel(lab, start.id, answer)
        # a last cell, typed and neither run nor saved: submitting saves it (the server does, before the end)
        type_new_cell(lab, "# typed just before submitting")

        # submit, with the time they say they spent; a bad number is asked again, nothing is sent
        def submit(screenshot: str | None = None) -> None:
            lab.click("#mli-done")
            dialog = lab.locator(".jp-Dialog", has_text="Submit your take-home?")
            dialog.wait_for(timeout=10_000)
            dialog.locator("#mli-self-reported-minutes").fill("95")
            if screenshot:
                shot(lab, screenshot)
            dialog.locator("button", has_text="Submit").click()

        submit("take-home-02-submit")
        wait_for_the_end_page(lab, confirm_again=submit)
    finally:
        lab_context.close()
        panel.close()

    graded = ended(hub, token, interview_id)
    assert graded["ended_by"] == "Tess Takehome (candidate)"
    frozen = json.loads((hub.state / "private" / "submissions" / interview_id / "interview.ipynb").read_text())
    sources = ["".join(cell["source"]) for cell in frozen["cells"]]
    assert any("take_home = 6 * 7" in source for source in sources), sources
    assert "# typed just before submitting" in sources, sources
    report = report_of(hub, hub.login_interviewer("alice"), interview_id)
    assert 'id="take-home-time"' in report and "150 min" in report
    assert '<b id="self-reported-time">95 min</b>' in report
    assert 'id="active-time"' in report and "submitted the take-home" in report
    assert answer in report
    assert 'id="submitted-by-deadline"' not in report


def test_the_deadline_submits_a_take_home_on_its_own(hub, browser, store, scenario_id):  # noqa: F811
    token = hub.token_for("alice")
    made = hub.create_interview(token, "Dana Deadline", scenario_id, kind="take_home", deadline_hours=2, time_budget_minutes=60)
    interview_id = made["interview"]["id"]
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    lab = context.new_page()
    try:
        lab.goto(made["invite_url"])
        lab.wait_for_url(LAB, timeout=180_000)
        wait_for_idle_kernel(lab)
        run_new_cell(lab, "print('before the deadline')")
        lab.wait_for_selector(".jp-OutputArea-output:has-text('before the deadline')", timeout=60_000)
        move_back(store, interview_id, hours=2)
        # the service submits it within a sweep; the candidate's tab goes to the end page
        ended(hub, token, interview_id, states=("ending", "ended", "graded"))
        wait_for_the_end_page(lab, timeout_s=120)
    finally:
        context.close()
    graded = ended(hub, token, interview_id)
    assert graded["ended_by"] == "the take-home's deadline"
    report = report_of(hub, hub.login_interviewer("alice"), interview_id)
    assert 'id="submitted-by-deadline"' in report and '<b id="self-reported-time">not given</b>' in report


def test_a_take_home_window_that_closed_refuses_to_start(hub, store, scenario_id):
    token = hub.token_for("alice")
    made = hub.create_interview(token, "Wes Window", scenario_id, kind="take_home", start_window_days=1)
    interview_id = made["interview"]["id"]
    move_back(store, interview_id, hours=25)
    candidate = hub.browser()
    refused = candidate.get(made["invite_url"])
    assert refused.status_code == 410 and "time to start this take-home has passed" in refused.text, refused.text[:500]
    # the sweep marks it a no-show; the link still says why
    assert ended(hub, token, interview_id, states=("no_show",))["ended_by"] == "the take-home's start window closing"
    again = hub.browser().get(made["invite_url"])
    assert again.status_code == 410 and "time to start this take-home has passed" in again.text

    # what the service refuses to create, with a reason
    for body, says in [
        ({"kind": "weekend"}, "kind must be"),
        ({"kind": "take_home", "deadline_hours": 0}, "deadline must be between"),
        ({"kind": "take_home", "start_window_days": 45}, "start window must be between"),
        ({"kind": "take_home", "deadline_hours": 2, "time_budget_minutes": 180}, "does not fit before the deadline"),
        ({"kind": "take_home", "deadline_hours": "soon"}, "whole number of hours"),
    ]:
        response = hub.service_api(token, "POST", "interviews", json={"scenario": scenario_id, "candidate_name": "Nope", **body})
        assert response.status_code == 400 and says in response.json()["error"], (body, response.text)
    # the form, too, in the interviewer's browser session
    alice = hub.login_interviewer("alice")
    form = alice.post(f"{SERVICE}interviews", data={"_xsrf": xsrf_of(alice.get(SERVICE).text), "candidate_name": "Nope",
                                                    "scenario": scenario_id, "kind": "take_home", "deadline_hours": "999"})
    assert form.status_code == 400 and "deadline must be between" in form.text
