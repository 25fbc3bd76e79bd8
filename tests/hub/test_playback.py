"""The playback page in Chromium, on the real hub, service, collaboration and kernel.

The candidate works in their JupyterLab as a person would: adds and runs a cell, opens a scaffold
file from the file browser, edits it, goes back to the notebook, changes the cell and runs it into
an error. At three moments the test takes the candidate's document as it was live (the notebook and
the file through their server's contents API, once the edit has been saved, and the cell's text in
their editor). The interviewer then opens the playback, seeks to each moment and must see exactly
those cells and that file; the jumps go to the error; the saves are the candidate's (who had the
document open); leaving the notebook for the file is flagged. Then the stored record is edited
behind the service's back, and the page says the record does not verify.
Screenshots go to test-artifacts/hub-e2e/.
"""

from __future__ import annotations

import sqlite3
import time

import httpx
import pytest

from hubtools import SERVICE, wait_for
from mlinterview.scenarios.pack import load_pack
from test_browser_e2e import browser, click_through_slow_loading, shot, wait_for_idle_kernel  # noqa: F401
from test_cockpit import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LAB = "**/user/cand-*/lab/**"


def live_notebook(hub, candidate: str, token: str, path: str) -> list[tuple[str, str]]:
    model = httpx.get(f"{hub.url}/user/{candidate}/api/contents/{path}?content=1", headers={"Authorization": f"token {token}"},
                      timeout=60).json()
    return [(cell["id"], "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]) for cell in model["content"]["cells"]]


def live_file(hub, candidate: str, token: str, path: str) -> str:
    return httpx.get(f"{hub.url}/user/{candidate}/api/contents/{path}?content=1&type=file&format=text",
                     headers={"Authorization": f"token {token}"}, timeout=60).json()["content"]


def recorded(hub, token: str, interview_id: str) -> list[dict]:
    return hub.service_api(token, "GET", f"interviews/{interview_id}/events?after=-1").json()["events"]


def saved_with(hub, token: str, interview_id: str, kind: str, path: str, text: str) -> float:
    """Wait until a save of ``path`` holding ``text`` is in the authoritative record; returns the time just after."""
    def found():
        for event in recorded(hub, token, interview_id):
            detail = event.get("detail") or {}
            if event["kind"] == kind and detail.get("path") == path:
                body = detail.get("text") or detail.get("diff") or "".join(c.get("source", "") for c in detail.get("changes") or [])
                if text in body:
                    return event
        return None
    wait_for(found, 60, f"a {kind} of {path} with {text!r} in the record")
    time.sleep(1.5)  # nothing else is saved in between: the state then is this save's
    return time.time()


def playback_state(page) -> tuple[list[tuple[str, str]], dict[str, str]]:
    cells = page.eval_on_selector_all("#notebook-cells .pb-cell", "cells => cells.map(c => [c.dataset.cellId, c.querySelector('.pb-source').textContent])")
    files = page.eval_on_selector_all("#file-diffs .pb-file", "boxes => boxes.map(b => [b.dataset.path, (b.querySelector('.pb-file-text') || {}).textContent])")
    return [tuple(cell) for cell in cells], dict(files)


def test_the_playback_shows_what_the_candidate_had_at_three_moments(hub, browser, scenario_id):  # noqa: F811
    token = hub.token_for("alice")
    made = hub.create_interview(token, "Pia Playback", scenario_id)
    interview_id, candidate = made["interview"]["id"], made["interview"]["candidate_user"]
    pack = load_pack(scenario_id)
    notebook_path = pack.manifest.candidate.notebook
    file_path = f"{pack.scaffold_name}/train.py"
    moments = []

    lab_context = browser.new_context(viewport={"width": 1500, "height": 950})
    lab = lab_context.new_page()
    try:
        lab.goto(made["invite_url"])
        lab.wait_for_url(LAB, timeout=180_000)
        candidate_token = hub.token_for(candidate)  # once the hub knows them
        lab.wait_for_selector(".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('BRIEF.md')", timeout=90_000)
        wait_for_idle_kernel(lab)
        # 1. a new cell at the end, run
        click_through_slow_loading(lab, lab.locator(".jp-NotebookPanel .jp-Cell").last)
        lab.keyboard.press("Escape")
        lab.keyboard.press("b")
        lab.keyboard.press("Enter")
        lab.keyboard.type("playback_one = 41 + 1\nprint('playback', playback_one)")
        lab.keyboard.press("Shift+Enter")
        lab.wait_for_selector(".jp-OutputArea-output:has-text('playback 42')", timeout=60_000)
        at = saved_with(hub, token, interview_id, "notebook_saved", notebook_path, "playback_one = 41 + 1")
        moments.append((at, live_notebook(hub, candidate, candidate_token, notebook_path), {}))
        shot(lab, "playback-01-candidate-cell")

        # 2. the scaffold's train.py from the file browser, edited and saved
        lab.locator(".jp-DirListing-item", has_text=pack.scaffold_name).first.dblclick()
        lab.locator(".jp-DirListing-item", has_text="train.py").first.dblclick()
        editor = lab.locator(".jp-FileEditor .cm-content").first
        editor.wait_for(timeout=60_000)
        editor.click()
        lab.keyboard.press("Control+End")
        lab.keyboard.type("\n# playback: the learning rate was too high\n")
        lab.keyboard.press("Control+s")
        at = saved_with(hub, token, interview_id, "file_saved", file_path, "playback: the learning rate was too high")
        moments.append((at, live_notebook(hub, candidate, candidate_token, notebook_path),
                        {file_path: live_file(hub, candidate, candidate_token, file_path)}))
        shot(lab, "playback-02-candidate-file")

        # 3. back to the notebook: the cell changed and run into an error
        lab.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=notebook_path).first.click()
        cell = lab.locator(".jp-NotebookPanel .jp-CodeCell", has_text="playback_one").last
        cell.locator(".cm-content").click()
        lab.keyboard.press("Control+a")
        lab.keyboard.type("playback_two = playback_one / 0")
        lab.keyboard.press("Shift+Enter")
        lab.wait_for_selector(".jp-OutputArea-output:has-text('ZeroDivisionError')", timeout=60_000)
        at = saved_with(hub, token, interview_id, "notebook_saved", notebook_path, "playback_two = playback_one / 0")
        live_cells = live_notebook(hub, candidate, candidate_token, notebook_path)
        editor_text = lab.locator(".jp-NotebookPanel .jp-CodeCell", has_text="playback_two").last.locator(".cm-content").inner_text()
        assert editor_text.strip() == "playback_two = playback_one / 0"
        moments.append((at, live_cells, {file_path: live_file(hub, candidate, candidate_token, file_path)}))
        shot(lab, "playback-03-candidate-error")
    finally:
        lab_context.close()

    model = hub.service_api(token, "GET", f"interviews/{interview_id}/playback").json()
    assert model["integrity"]["verified"] and model["integrity"]["complete"], model["integrity"]
    # the saves are the candidate's: they alone had the documents open
    events = recorded(hub, token, interview_id)
    saves = [e for e in events if e["kind"] in ("notebook_saved", "file_saved")]
    assert saves and all(e.get("user") == candidate and e.get("role") == "candidate" for e in saves), [(e.get("user"), e["detail"].get("editors")) for e in saves]
    assert any(e["kind"] == "document" and e["detail"] == {"action": "open", "path": file_path} for e in events)

    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        log_in(page, hub.url)
        page.goto(f"{hub.url}{SERVICE}interviews/{interview_id}/playback")
        try:
            page.wait_for_selector("body[data-playback-ready='1']", timeout=30_000)
        except Exception:
            shot(page, "playback-00-not-ready")
            raise AssertionError(f"the playback did not load: {errors}; {page.inner_text('main')[:2000]}") from None
        assert "Record verified" in page.inner_text("#playback-integrity") and "Playback complete" in page.inner_text("#playback-integrity")
        for index, (at, cells, files) in enumerate(moments, start=1):
            page.evaluate("(t) => { window.location.hash = 't=' + t; }", f"{at - model['start']:.1f}")
            page.wait_for_function("(t) => Math.abs(Number(document.body.dataset.moment) - t) < 0.06", arg=at - model["start"])
            shown_cells, shown_files = playback_state(page)
            assert shown_cells == cells, (index, shown_cells, cells)
            assert shown_files == files, (index, shown_files.keys(), files.keys())
            shot(page, f"playback-1{index}-moment")
        # the outputs as shown then: the error of the last run, the print of the first at moment 1
        assert "ZeroDivisionError" in page.inner_text("#notebook-cells")
        page.evaluate("(t) => { window.location.hash = 't=' + t; }", f"{moments[0][0] - model['start']:.1f}")
        page.locator("#notebook-cells .pb-output", has_text="playback 42").wait_for(timeout=5_000)
        # the jumps: the next error is the cell run into ZeroDivisionError
        page.click("[data-jump=error]")
        page.locator("#around li.around-now", has_text="ZeroDivisionError").wait_for(timeout=5_000)
        flags = page.inner_text("#flags")
        assert f"opened {file_path} (left the notebook)" in flags, flags
        # play at 32x moves the moment on by itself
        page.evaluate("() => { window.location.hash = 't=0.0'; }")
        page.select_option("#speed", "32")
        page.click("#play")
        page.wait_for_function("() => Number(document.body.dataset.moment) > 3", timeout=10_000)
        page.click("#play")
        shot(page, "playback-20-page")

        # the record edited behind the service's back: the page says it does not verify
        with sqlite3.connect(hub.state / "private" / "interviews.sqlite") as db:
            changed = db.execute("UPDATE history SET event = replace(event, 'playback_one = 41 + 1', 'playback_one = 42') "
                                 "WHERE interview_id = ? AND kind = 'notebook_saved'", (interview_id,)).rowcount
        assert changed >= 1
        page.reload()
        page.wait_for_selector("body[data-playback-ready='1']", timeout=30_000)
        assert "does NOT verify" in page.inner_text("#playback-integrity")
        shot(page, "playback-21-tampered")
    finally:
        context.close()
    assert not errors, errors
