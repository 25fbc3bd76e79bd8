"""The interviewer's cockpit in Chromium, on the real hub, service and kernel.

- a scaffold file the candidate saves (contents API) shows as a diff in Files within seconds,
  and a cell's output in Now; a planted link in the scaffold is named, never followed;
- re-runs of one cell share a timeline row with a count; the page holds at most 200 rows
  whatever the session's length, the older ones a click away; the filters keep what they say;
- "Give hint" records "Hint N given: ..." as a note pinned to the moment, shown in the
  timeline and the guide; the twist shows when it was released, and a second release (from a
  stale tab) answers with a message on the page, not a bare 409;
- the new endpoints refuse the candidate and an interviewer not on the interview, through the proxy.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from hubtools import INTERVIEWER_PASSWORD, SERVICE, close_websocket, run_code, xsrf_of
from mlinterview.scenarios.pack import load_pack
from test_browser_e2e import browser, shot  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]
MARKER = "cockpit_edit_marker"


def run_cells(hub, user: str, token: str, kernel_id: str, codes: list[str], timeout: float = 300) -> list[dict]:
    """Send ``codes`` as execute requests on one kernel websocket (the kernel queues them, as a
    browser's Run All does); returns, per request, its msg_id and when its reply reached the client."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    async def execute():
        request = HTTPRequest(f"ws://127.0.0.1:{hub.port}/user/{user}/api/kernels/{kernel_id}/channels",
                              headers={"Authorization": f"token {token}"}, connect_timeout=60, request_timeout=120)
        connection = await websocket_connect(request)
        sent = {}
        session = uuid.uuid4().hex
        for index, code in enumerate(codes):
            msg_id = uuid.uuid4().hex
            sent[msg_id] = {"msg_id": msg_id, "index": index}
            await connection.write_message(json.dumps({
                "header": {"msg_id": msg_id, "username": user, "session": session, "msg_type": "execute_request", "version": "5.3",
                           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                "parent_header": {}, "metadata": {"cellId": f"cell-{abs(hash(code)) % 10**8}"},
                "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False, "stop_on_error": False},
                "channel": "shell", "buffers": [],
            }))
        left = set(sent)
        try:
            while left:
                raw = await connection.read_message()
                assert raw is not None, "the kernel websocket closed before the replies"
                reply = json.loads(raw)
                parent = reply["parent_header"].get("msg_id")
                if reply.get("msg_type") == "execute_reply" and parent in left:
                    sent[parent].update(replied_wall=time.time(), status=reply["content"]["status"])
                    left.discard(parent)
        finally:
            await close_websocket(connection)
        return sorted(sent.values(), key=lambda entry: entry["index"])

    # in a thread of its own: Playwright's sync API keeps an event loop running in this one
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(asyncio.wait_for(execute(), timeout))).result()


def log_in(page, hub_url: str, name: str = "alice") -> None:
    page.goto(f"{hub_url}/hub/login?next={SERVICE}")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", INTERVIEWER_PASSWORD)
    page.click("#login_submit")
    page.wait_for_selector("#create-interview")


@pytest.fixture(scope="module")
def live(hub, scenario_id):
    created = hub.create_interview(hub.token_for("alice"), "Cockpit Candidate", scenario_id)
    interview = created["interview"]
    candidate = interview["candidate_user"]
    hub.candidate_opens(created["invite_url"], candidate)
    token = hub.token_for(candidate)
    with ThreadPoolExecutor(1) as pool:  # Chromium's event loop may already run in this thread
        kernel_id, reply = pool.submit(run_code, hub, candidate, token, "1 + 1").result()
    assert reply["status"] == "ok"
    return {"id": interview["id"], "candidate": candidate, "token": token, "kernel": kernel_id}


@pytest.fixture(scope="module")
def cockpit(hub, live, browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, hub.url)
    page.goto(f"{hub.url}{SERVICE}interviews/{live['id']}")
    page.wait_for_selector("#now")
    yield page
    assert not errors, errors
    context.close()


def test_a_saved_scaffold_edit_and_a_cells_output_show_within_seconds(hub, live, cockpit, scenario_id):
    pack = load_pack(scenario_id)
    relative = f"{pack.scaffold_name}/train.py"
    api = f"{hub.url}/user/{live['candidate']}/api/contents/{relative}"
    headers = {"Authorization": f"token {live['token']}"}
    current = httpx.get(api + "?content=1&type=file&format=text", headers=headers, timeout=60).json()["content"]
    edited = current.replace("\n", f"\n# {MARKER}: <script>window.__planted = 1</script>\n", 1)
    saved_at = time.monotonic()
    saved = httpx.put(api, headers=headers, json={"type": "file", "format": "text", "content": edited}, timeout=60)
    assert saved.status_code == 200, saved.text
    diff = cockpit.locator(f"#files-view details.file-diff[data-path='{relative}']")
    diff.locator("pre.diff .add", has_text=MARKER).wait_for(timeout=15_000)
    seen = time.monotonic() - saved_at
    assert seen < 10, seen
    assert "changed +1 −0" in diff.locator("summary").inner_text()
    assert cockpit.locator("#files-view script").count() == 0  # shown as text
    assert cockpit.evaluate("window.__planted") is None
    # the save is in the record, taken by the candidate's server (not their kernel), and in the timeline
    cockpit.locator("#executions tr.event", has_text=f"saved {relative}").first.wait_for(timeout=15_000)
    history = httpx.get(f"{hub.url}{SERVICE}api/interviews/{live['id']}/events?after=-1",
                        headers={"Authorization": f"token {hub.token_for('alice')}"}, timeout=30).json()["events"]
    saves = [e for e in history if e["kind"] == "file_saved" and e["detail"]["path"] == relative]
    assert saves and MARKER in (saves[-1]["detail"].get("diff") or saves[-1]["detail"].get("text", "")), saves[-1:]

    printed = f"cockpit_output_{time.time_ns()}"
    run_cells(hub, live["candidate"], live["token"], live["kernel"], [f"print('{printed}')", "1 / 0"])
    ran_at = time.monotonic()
    cockpit.locator("#now-cell pre.output.error", has_text="ZeroDivisionError").wait_for(timeout=10_000)
    assert time.monotonic() - ran_at < 5
    row = cockpit.locator("#executions tr.execution", has_text=printed)
    assert row.locator(".status.ok").count() == 1
    assert "s" in row.locator(".duration").inner_text()  # a duration, labelled ("incl. queue" until the kernel's own is recorded)
    cockpit.locator("#executions tr.execution", has_text="1 / 0").locator(".status.error").wait_for(timeout=5_000)
    assert "busy" not in cockpit.locator("#kernel-state").inner_text()
    assert " of " in cockpit.locator("#time-left").inner_text()
    shot(cockpit, "cockpit-01-edit-and-output")
    print(f"\ncockpit: a saved scaffold edit shown {seen:.1f} s after the save")


def test_the_files_view_names_a_planted_link_and_never_follows_it(hub, live, cockpit, scenario_id, tmp_path):
    pack = load_pack(scenario_id)
    secret = tmp_path / "secret.py"
    secret.write_text("ROOT ONLY SECRET\n")
    secret.chmod(0o600)
    planted = hub.state / "workspaces" / live["candidate"] / pack.scaffold_name / "planted_link.py"
    os.symlink(secret, planted)
    try:
        box = cockpit.locator("#files-view details.file-diff[data-path$='planted_link.py'], #files-view p.error", has_text="planted_link.py")
        box.first.wait_for(timeout=15_000)
        assert "ROOT ONLY" not in cockpit.locator("#files-view").inner_text()
        assert "not followed" in cockpit.locator("#files-view").inner_text()
    finally:
        planted.unlink()


def test_reruns_share_a_row_and_the_page_stays_bounded(hub, live, cockpit):
    same = "rerun_me = 41 + 1"
    run_cells(hub, live["candidate"], live["token"], live["kernel"], [same] * 3)
    row = cockpit.locator("#executions tr.execution", has_text=same)
    row.locator(".count", has_text="×3 runs").wait_for(timeout=10_000)
    assert row.count() == 1

    # a long session: 230 distinct cells more than a page holds
    replies = run_cells(hub, live["candidate"], live["token"], live["kernel"], [f"many_{i} = {i}" for i in range(230)])
    assert all(reply["status"] == "ok" for reply in replies)
    cockpit.locator("#executions tr.execution", has_text="many_229 = 229").wait_for(timeout=15_000)
    # the box follows the latest: the last row is inside its visible part
    assert cockpit.evaluate("""() => { const box = document.getElementById('timeline-box').getBoundingClientRect();
        const rows = document.querySelectorAll('#executions tbody tr'); const last = rows[rows.length - 1].getBoundingClientRect();
        return last.bottom <= box.bottom + 1 && last.top >= box.top; }""")
    rows = cockpit.locator("#executions tbody tr")
    assert rows.count() == 200
    assert cockpit.locator("#timeline-paging").is_visible()
    height = cockpit.evaluate("document.getElementById('timeline').getBoundingClientRect().height")
    assert height < 1200, height  # the card scrolls; it does not grow with the session
    assert cockpit.locator("#executions tr.execution", has_text="many_0 = 0").count() == 0
    cockpit.click("#timeline-older")
    cockpit.locator("#executions tr.execution", has_text="many_0 = 0").wait_for(timeout=5_000)
    assert rows.count() <= 200
    cockpit.click("#timeline-newer")
    cockpit.locator("#executions tr.execution", has_text="many_229 = 229").wait_for(timeout=5_000)

    cockpit.click("#timeline-filters [data-filter=errors]")
    cockpit.locator("#executions tr.execution", has_text="1 / 0").wait_for(timeout=5_000)
    assert cockpit.locator("#executions tr.execution", has_text="many_").count() == 0
    cockpit.click("#timeline-filters [data-filter=all]")
    shot(cockpit, "cockpit-02-timeline")
    print(f"\ncockpit: {len(replies) + 7} executions, {rows.count()} rows in the page, the timeline card {height:.0f} px high")


def test_give_hint_is_a_note_pinned_to_the_moment(hub, live, cockpit, scenario_id):
    hints = load_pack(scenario_id).manifest.hints
    assert hints, "the pack has hints"
    cockpit.locator("#hints li.hint[data-hint='1'] .give-hint").click()
    cockpit.wait_for_selector("#hints li.hint[data-hint='1'] .hint-given")
    assert cockpit.locator("#hints li.hint[data-hint='1'] .give-hint").inner_text() == "Give it again"
    note = cockpit.locator("#executions tr.note.hint", has_text="Hint 1 given:")
    note.wait_for(timeout=10_000)
    assert hints[0].text.strip()[:40] in note.inner_text()
    notes = hub.service_api(hub.token_for("alice"), "GET", f"interviews/{live['id']}/events").json()["notes"]
    given = [n for n in notes if n["text"].startswith("Hint 1 given: ")]
    assert len(given) == 1 and given[0]["at_seq"] is not None and given[0]["at_seq"] >= 0, given


def test_the_twist_shows_its_release_and_a_second_release_is_answered_on_the_page(hub, live, cockpit, browser):  # noqa: F811
    stale = cockpit.context.new_page()
    stale.goto(cockpit.url.split("?")[0].split("#")[0])
    stale.wait_for_selector("#release-twist")
    cockpit.on("dialog", lambda dialog: dialog.accept())
    stale.on("dialog", lambda dialog: dialog.accept())
    cockpit.click("#release-twist")
    cockpit.wait_for_selector("#twist-state.ok")
    assert cockpit.locator("#twist-state").inner_text().startswith("Released at ")
    assert "released" in cockpit.locator("#notice").inner_text()
    assert cockpit.locator("#release-twist").count() == 0
    stale.click("#release-twist")  # the old tab still has the button
    stale.wait_for_selector("#notice")
    assert "already released" in stale.locator("#notice").inner_text()
    assert stale.locator("#twist-state").inner_text().startswith("Released at ")
    shot(stale, "cockpit-03-twist-again")
    stale.close()
    notes = hub.service_api(hub.token_for("alice"), "GET", f"interviews/{live['id']}/events").json()["notes"]
    assert len([n for n in notes if n["text"].startswith("Twist released")]) == 1


def test_model_size_from_the_kernels_status(hub, live, cockpit):
    """The candidate runtime records ``status`` events (``make test`` rebuilds it from this checkout)."""
    run_cells(hub, live["candidate"], live["token"], live["kernel"], ["import torch\ncockpit_model = torch.nn.Linear(4, 3)"])
    events = hub.service_api(hub.token_for("alice"), "GET", f"interviews/{live['id']}/events").json()["events"]
    statuses = [e for e in events if e["kind"] == "status"]
    assert statuses, "no status event: is the candidate runtime older than this checkout? (make runtime)"
    assert ["cockpit_model", 15] in statuses[-1]["detail"]["models"]
    size = cockpit.locator("#model-size", has_text="cockpit_model 15")
    size.wait_for(timeout=10_000)
    assert "allowed" in size.inner_text()
    replies = [e for e in events if e["kind"] == "execute_reply" and "run_ms" in (e.get("detail") or {})]
    assert replies and all(0 <= e["detail"]["run_ms"] <= e["duration_ms"] for e in replies)


RED_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg=="


def test_the_last_figure_shows_as_an_image_and_an_svg_never_does(hub, live, cockpit):
    code = ("from IPython.display import SVG, display\n"
            "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"planted-svg\"><script>window.__svg = 1</script></svg>'))\n"
            f"display({{'image/png': '{RED_PNG}'}}, raw=True)\n"
            "print('figure shown')")
    run_cells(hub, live["candidate"], live["token"], live["kernel"], [code])
    image = cockpit.locator("#now-cell figure.now-figure img")
    image.wait_for(timeout=10_000)
    assert image.get_attribute("src") == f"data:image/png;base64,{RED_PNG}"
    assert "Its figure" in cockpit.inner_text("#now-cell figcaption")
    assert cockpit.locator("#planted-svg").count() == 0 and cockpit.evaluate("window.__svg") is None
    shot(cockpit, "cockpit-06-figure")
    # the next cell draws nothing: the figure stays, said to be from the earlier cell
    run_cells(hub, live["candidate"], live["token"], live["kernel"], ["'no figure here'"])
    cockpit.locator("#now-cell figcaption", has_text="Last figure, from cell #").wait_for(timeout=10_000)


def test_the_new_endpoints_refuse_the_candidate_and_other_interviewers(hub, live):
    for name in (live["candidate"], "bob"):
        token = hub.token_for(name)
        files = httpx.get(f"{hub.url}{SERVICE}api/interviews/{live['id']}/files", headers={"Authorization": f"token {token}"},
                          follow_redirects=False, timeout=30)
        assert files.status_code == 403, (name, files.status_code)
        assert "diff" not in files.text
    bob = hub.login_interviewer("bob")
    page = bob.get(SERVICE)
    hint = bob.post(f"{SERVICE}interviews/{live['id']}/hint", data={"_xsrf": xsrf_of(page.text), "number": "2"})
    assert hint.status_code == 403, hint.status_code
    notes = hub.service_api(hub.token_for("alice"), "GET", f"interviews/{live['id']}/events").json()["notes"]
    assert not [n for n in notes if n["text"].startswith("Hint 2 given")]
