"""The candidate's JupyterLab inside a real hub, in Chromium: their clock, their brief, no hub menu, "I'm done".

The interviewer creates a 2-minute interview with a hard time-out through the service's API; the
candidate follows the invite link. In their JupyterLab: the top bar counts down from the
interview's own budget (not the scenario's 60 minutes), the brief is open beside the notebook,
JupyterLab's File menu has no "Hub Control Panel" or "Log Out", JupyterLab knows the
candidate by their name, the status bar shows the constraint panel. "I'm done", confirmed, ends the interview: the tab lands on the hub's end page,
the service says the candidate ended it, and the record holds their "done".
Screenshots go to test-artifacts/hub-e2e/.
"""

from __future__ import annotations

import pytest

from hubtools import SERVICE, wait_for, xsrf_of
from lab_page import wait_for_the_end_page
from test_browser_e2e import browser, shot  # noqa: F401  (the browser fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LAB = "**/user/cand-*/lab/**"


def test_the_candidate_works_against_their_own_clock_and_ends_with_im_done(hub, browser, scenario_id):  # noqa: F811
    token = hub.token_for("alice")
    made = hub.create_interview(token, "Grace Candidate", scenario_id, time_budget_minutes=2, time_out="hard")
    interview_id = made["interview"]["id"]
    assert made["interview"]["time_out"] == "hard"
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        page.goto(made["invite_url"])
        page.wait_for_url(LAB, timeout=180_000)
        page.wait_for_selector(".mli-clock", timeout=90_000)
        clock = page.inner_text(".mli-clock")
        minutes, seconds = clock.removesuffix(" left").split(":")
        assert clock.endswith(" left") and int(minutes) * 60 + int(seconds) <= 120, clock  # the interview's 2 minutes
        # the brief beside the notebook, the constraint panel against the pack's limit
        page.wait_for_selector(".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('BRIEF.md')", timeout=30_000)
        assert "params" in page.inner_text("#mli-constraints")
        # no hub chrome inside JupyterLab either
        page.click(".lm-MenuBar-item:has-text('File')")
        menu = page.inner_text(".lm-Menu")
        assert "Log Out" not in menu and "Hub Control Panel" not in menu, menu
        page.keyboard.press("Escape")
        # JupyterLab knows them by their name, not the system user name
        user = made["interview"]["candidate_user"]
        me = page.request.get(f"{hub.url}/user/{user}/api/me").json()
        assert me["identity"]["display_name"] == "Grace Candidate" and me["identity"]["username"] == user, me
        shot(page, "candidate-lab-01-clock")

        # JupyterLab never asked them about its news (the candidate's lab has no news to offer)
        assert page.locator(".Toastify__toast", has_text="news").count() == 0
        # "I'm done": asked to confirm, recorded, the interview ends, the tab goes to the end page
        def end_it(screenshot: str | None = None) -> None:
            page.click("#mli-done")
            page.wait_for_selector(".jp-Dialog:has-text('End the interview?')", timeout=10_000)
            if screenshot:
                shot(page, screenshot)
            page.click(".jp-Dialog button:has-text('End the interview')")

        end_it("candidate-lab-02-confirm")
        wait_for_the_end_page(page, confirm_again=end_it)
        assert "thank" in page.inner_text("body").lower()
        shot(page, "candidate-lab-03-end")
    finally:
        context.close()

    def ended() -> dict | None:
        model = hub.service_api(token, "GET", f"interviews/{interview_id}").json()
        return model if model["state"] not in ("invited", "live") else None

    interview = wait_for(ended, 60, "the interview to end")
    assert interview["ended_by"] == "Grace Candidate (candidate)", interview
    events = hub.service_api(token, "GET", f"interviews/{interview_id}/events?after=-1").json()["events"]
    done = [e for e in events if e["kind"] == "interview" and e["detail"]["event"] == "done"]
    assert done and done[0]["role"] == "candidate", [e["kind"] for e in events]


def test_when_the_interviewer_ends_it_the_open_tab_goes_to_the_end_page_by_itself(hub, browser, scenario_id):  # noqa: F811
    """No "Server unavailable… Restart?" and no "Kernel died": the candidate's JupyterLab notices the
    end (its server gone, the hub answering for it) and shows the thank-you page, without a reload."""
    made = hub.create_interview(hub.token_for("alice"), "Alan Candidate", scenario_id)
    interview_id = made["interview"]["id"]
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        page.goto(made["invite_url"])
        page.wait_for_url(LAB, timeout=180_000)
        page.wait_for_selector(".mli-clock", timeout=90_000)
        alice = hub.login_interviewer("alice")
        live = alice.get(f"{SERVICE}interviews/{interview_id}")
        ended = alice.post(f"{SERVICE}interviews/{interview_id}/end", data={"_xsrf": xsrf_of(live.text)})
        assert ended.status_code == 200, ended.text[:300]
        dialogs = wait_for_the_end_page(page)
        assert not [text for text in dialogs if "unavailable" in text.lower() or "restart" in text.lower()], dialogs
        shot(page, "candidate-lab-04-ended-by-interviewer")
    finally:
        context.close()
