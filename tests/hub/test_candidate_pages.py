"""The candidate's side of the hub, in Chromium through Playwright (real hub, proxy, service, server).

1. No hub chrome for a candidate: on the hub pages they can reach (home, token, an error page,
   "not running", spawn-pending while their server starts) no Logout, Token, Admin, Services,
   Stop Server or user menu, and not their system user name ``cand-…``: their own name instead.
   They cannot make an API token (their user role has no 'tokens' scope), and their server still
   spawns and re-spawns. An interviewer keeps the stock chrome and can make a token.
2. Their own invite link, clicked again in the browser they logged in with, re-opens their
   workspace; in another browser the used link says "already used".
3. After End (the interviewer's POST to the service), the candidate's tab, reloaded, shows the
   thank-you page (/hub/interview-over), not a restart prompt or a login form; so do their invite
   link and the API answers of their gone server (a 424 naming that page).
Screenshots go to test-artifacts/hub-e2e/.
"""

from __future__ import annotations

import threading

import pytest

from hubtools import INTERVIEWER_PASSWORD, SERVICE, wait_for, xsrf_of
from test_browser_e2e import browser, shot  # noqa: F401  (the browser fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CANDIDATE_NAME = "Ada Lovelace-Test"
END_PAGE = "/hub/interview-over"
CHROME_WORDS = ("Logout", "Token", "Stop My Server", "Stop Server", "Admin", "Services", "Login")
CHROME_ELEMENTS = "#logout, #login, #stop, #stop-server-btn, a[href$='/hub/token'], a[href$='/hub/admin'], a[href$='/hub/home'].nav-link"
LAB = "**/user/cand-*/lab/**"


@pytest.fixture(scope="module")
def candidate(hub, browser, scenario_id):  # noqa: F811
    made = hub.create_interview(hub.token_for("alice"), CANDIDATE_NAME, scenario_id)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(made["invite_url"])
    page.wait_for_url(LAB, timeout=180_000)
    yield {
        "page": page, "context": context, "user": made["interview"]["candidate_user"], "invite_url": made["invite_url"],
        "interview_id": made["interview"]["id"],
    }
    context.close()


def assert_no_hub_chrome(page, user: str, name: str | None = CANDIDATE_NAME) -> None:
    text = page.locator("body").inner_text()
    shown = [word for word in CHROME_WORDS if word in text]
    assert not shown, (page.url, shown, text[:500])
    assert page.locator(CHROME_ELEMENTS).count() == 0, (page.url, page.content()[:2000])
    assert user not in text, (page.url, text[:500])
    if name is not None:
        assert page.locator("#candidate-name").inner_text() == name, page.url


def make_token_in_page(page) -> int:
    """What the token page's button does: POST /hub/api/users/<me>/tokens with the page's xsrf token."""
    return page.evaluate(
        """async () => (await fetch(`${jhdata.base_url}api/users/${jhdata.user}/tokens`, {
            method: 'POST', headers: {'X-XSRFToken': jhdata.xsrf_token, 'Content-Type': 'application/json'},
            body: JSON.stringify({note: 'from the page'})})).status"""
    )


def test_candidate_pages_show_their_name_and_no_hub_chrome(hub, candidate):
    page, user = candidate["page"], candidate["user"]
    page.goto(f"{hub.url}/hub/home")
    assert_no_hub_chrome(page, user)
    assert page.locator("#start").inner_text() == "Open your interview"
    shot(page, "candidate-01-home")

    page.goto(f"{hub.url}/hub/token")
    assert_no_hub_chrome(page, user)
    assert page.locator("#no-tokens").is_visible() and page.locator("form").count() == 0
    assert make_token_in_page(page) == 403  # not through the page's API either: no 'tokens' scope
    assert [t for t in hub.api("GET", f"users/{user}/tokens").json()["api_tokens"] if t["note"] == "from the page"] == []

    missing = page.goto(f"{hub.url}/hub/no-such-page")
    assert missing.status == 404
    assert_no_hub_chrome(page, user)

    # their server stops while the interview is live: "not running", then it starts again
    assert hub.api("DELETE", f"users/{user}/server").status_code in (202, 204)
    wait_for(lambda: hub.spawn_states([user])[user] == "none", 60, "the candidate's server to stop")
    stopped = page.goto(f"{hub.url}/user/{user}/lab")
    assert stopped.status == 424 and page.locator("h1").inner_text() == "Your workspace is not open"
    assert_no_hub_chrome(page, user)
    assert page.locator("#start").inner_text() == "Open your workspace"
    shot(page, "candidate-02-not-running")

    # spawn-pending while it starts (started from the API, so that the page is seen however fast the spawn is)
    started = []
    starter = threading.Thread(target=lambda: started.append(hub.api("POST", f"users/{user}/server").status_code))
    starter.start()
    wait_for(lambda: hub.spawn_states([user])[user] in ("spawn", "ready"), 30, "the spawn to begin", interval=0.05)
    page.goto(f"{hub.url}/hub/spawn-pending/{user}")
    if "/spawn-pending/" in page.url:
        assert page.locator("#progress-bar").count() == 1
        assert_no_hub_chrome(page, user)
        shot(page, "candidate-03-spawn-pending")
    else:  # the server was ready before the page was asked for: the pending page was not seen this time
        print("spawn-pending not seen: the server was ready first")
    page.wait_for_url(LAB, timeout=180_000)
    starter.join(120)
    assert started and started[0] in (201, 202), started  # the server spawns without the user's 'tokens' scope
    wait_for(lambda: hub.server_ready(user), 120, "the candidate's server to be ready again")


def test_interviewer_keeps_the_hub_chrome(hub, browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", INTERVIEWER_PASSWORD)
    page.click("#login_submit")
    page.goto(f"{hub.url}/hub/home")
    assert page.locator("#logout").is_visible() and page.locator("a.nav-link[href$='/hub/token']").is_visible()
    assert "bob" in page.locator("#login_widget").inner_text() and page.locator("#candidate-name").count() == 0
    page.goto(f"{hub.url}/hub/token")
    assert make_token_in_page(page) == 201
    context.close()


def test_own_invite_link_reopens_the_workspace_in_that_browser_only(hub, browser, candidate):  # noqa: F811
    page = candidate["page"]
    page.goto(candidate["invite_url"])
    page.wait_for_url(LAB, timeout=120_000)
    assert f"/user/{candidate['user']}/" in page.url
    other = browser.new_context()
    elsewhere = other.new_page()
    refused = elsewhere.goto(candidate["invite_url"])
    assert refused.status == 410 and "already been used" in elsewhere.locator("body").inner_text()
    other.close()


def test_after_the_end_the_candidate_sees_the_thank_you_page(hub, browser, candidate):  # noqa: F811
    page, user, interview_id = candidate["page"], candidate["user"], candidate["interview_id"]
    alice = hub.login_interviewer("alice")
    live = alice.get(f"{SERVICE}interviews/{interview_id}")
    assert alice.post(f"{SERVICE}interviews/{interview_id}/end", data={"_xsrf": xsrf_of(live.text)}).status_code == 200
    wait_for(lambda: hub.spawn_states([user])[user] == "none", 60, "the candidate's server to stop")

    def shows_the_end_page() -> None:
        assert page.url == f"{hub.url}{END_PAGE}", page.url
        assert page.locator("h1").inner_text() == "Interview over — thank you"
        assert page.locator("input[name=password]").count() == 0
        assert_no_hub_chrome(page, user, name=None)

    page.reload()
    shows_the_end_page()
    shot(page, "candidate-04-interview-over")
    # what JupyterLab's polling gets: the status of a stopped server, and where the end page is
    polled = page.request.get(f"{hub.url}/user/{user}/api/kernels")
    assert polled.status == 424 and polled.json()["interview_over_url"] == END_PAGE

    # once the candidate's hub user is gone (their cookie names no one), still the end page, not a login form
    wait_for(lambda: hub.api("GET", f"users/{user}").status_code == 404, 90, "the candidate's hub user to be removed")
    page.goto(f"{hub.url}/user/{user}/lab")
    shows_the_end_page()
    page.goto(candidate["invite_url"])
    shows_the_end_page()

    # the page itself, for anyone: it names no one
    other = browser.new_context()
    anyone = other.new_page()
    assert anyone.goto(f"{hub.url}{END_PAGE}").status == 200
    assert "thank you" in anyone.locator("h1").inner_text() and anyone.locator("#login").count() == 0
    other.close()
