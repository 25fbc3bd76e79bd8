"""Open questions in a live interview, in Chromium, on the real hub, service and candidate JupyterLab.

The candidate sees the pack's start question in their Questions panel. The interviewer pushes the
"why do you think that change will help?" question from the live view's guide; the candidate's page
announces it, they answer it and save. The answer is in the authoritative record, and in the
interviewer's scorecard under its signal, beside the pack's note on what a strong answer covers,
where the interviewer rates it; the rating is kept with the scorecard. The candidate cannot push a
question, and no one can answer one that is not shown.
"""

from __future__ import annotations

import httpx
import pytest

from hubtools import SERVICE, wait_for
from mlinterview.scenarios.pack import load_pack
from test_browser_e2e import browser, shot  # noqa: F401
from test_cockpit import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LAB = "**/user/cand-*/lab/**"


def answer_in_the_panel(lab, question_id: str, text: str, timeout_ms: int = 30_000) -> None:
    """In the candidate's Questions panel (open): type the answer to a shown question and save it."""
    box = lab.locator(f".mli-question[data-question='{question_id}']")
    box.wait_for(timeout=timeout_ms)
    box.locator("textarea").fill(text)
    box.locator("button.mli-save-answer").click()
    lab.wait_for_function(f"() => document.querySelector(\".mli-question[data-question='{question_id}'] .mli-answer-state\").textContent.startsWith('Saved ')")


def test_a_pushed_question_is_answered_and_reaches_the_scorecard(hub, browser, scenario_id):  # noqa: F811
    token = hub.token_for("alice")
    made = hub.create_interview(token, "Quinn Questions", scenario_id)
    interview_id, candidate = made["interview"]["id"], made["interview"]["candidate_user"]
    questions = load_pack(scenario_id).manifest.questions
    start = next(q for q in questions if q.shown == "start")
    pushed = next(q for q in questions if q.shown == "interviewer")

    lab_context = browser.new_context(viewport={"width": 1500, "height": 950})
    lab = lab_context.new_page()
    panel_context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = panel_context.new_page()
    try:
        lab.goto(made["invite_url"])
        lab.wait_for_url(LAB, timeout=180_000)
        lab.wait_for_selector(".mli-clock", timeout=90_000)
        lab.click(".jp-SideBar .lm-TabBar-tab[data-id='mli-questions']")
        lab.locator(f".mli-question[data-question='{start.id}']").wait_for(timeout=30_000)
        assert lab.locator(f".mli-question[data-question='{pushed.id}']").count() == 0

        # the candidate cannot push one themselves
        candidate_token = hub.token_for(candidate)
        refused = httpx.post(f"{hub.url}{SERVICE}interviews/{interview_id}/question", data={"question": pushed.id},
                             headers={"Authorization": f"token {candidate_token}"}, timeout=60)
        assert refused.status_code in (403, 404), refused.status_code

        log_in(page, hub.url)
        page.goto(f"{hub.url}{SERVICE}interviews/{interview_id}")
        question = page.locator(f"#questions .question[data-question='{pushed.id}']")
        question.locator("button.push-question").click()
        page.locator(f"#questions .question[data-question='{pushed.id}'] .question-pushed").wait_for(timeout=30_000)
        assert page.locator("#questions .question", has_text=start.prompt[:40]).locator("button").count() == 0  # shown already

        # the candidate's page announces it within a poll, and they answer it
        lab.locator(".Toastify__toast", has_text="A question for you").wait_for(timeout=20_000)
        answer = "Removing the leaking column should help on later customers: it is not known at prediction time."
        answer_in_the_panel(lab, pushed.id, answer)
        shot(lab, "questions-01-candidate-answered")

        def recorded():
            events = hub.service_api(token, "GET", f"interviews/{interview_id}/events?after=-1").json()["events"]
            return [e for e in events if e["kind"] == "answer"] or None

        answers = wait_for(recorded, 30, "the answer in the authoritative record")
        assert answers[-1]["detail"]["text"] == answer and answers[-1]["user"] == candidate and answers[-1]["role"] == "candidate"

        # the scorecard: the answer under its signal, with what a strong answer covers; rated and kept
        page.goto(f"{hub.url}{SERVICE}interviews/{interview_id}/scorecard")
        written = page.locator(f"#signal-{pushed.signal} .written-answer[data-question='{pushed.id}']")
        written.wait_for(timeout=10_000)
        assert answer in written.locator(".answer-text").inner_text()
        assert pushed.notes.strip().split()[0] in written.locator("details").text_content()
        unanswered = page.locator(f".written-answer[data-question='{start.id}']")
        assert "Not answered" in unanswered.inner_text()
        written.locator("input[value=strong]").check()
        written.locator("textarea").fill("names the mechanism and how to check it")
        page.click("#save-draft")
        page.wait_for_selector("#scorecard-form")
        card = hub.service_api(token, "GET", f"interviews/{interview_id}/scorecards").json()["scorecards"][0]
        assert card["ratings"][f"answer:{pushed.id}"] == {"band": "strong", "evidence": "names the mechanism and how to check it"}
        shot(page, "questions-02-scorecard")
    finally:
        lab_context.close()
        panel_context.close()
