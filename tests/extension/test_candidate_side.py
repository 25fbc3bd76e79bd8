"""The candidate's side of an interview: the clock, the time-out, the constraint panel, the brief, a twist.

Real parts: a jupyter-server with JupyterLab, the mlinterview server extension and the candidate's
JupyterLab extension (``extension/candidate-lab``, installed by ``make setup``), the interview
kernel; Playwright drives Debian's Chromium for what the candidate sees. The interview's clock
comes from the environment the hub's spawner sets (``MLINTERVIEW_STARTED_AT``, ``..._TIME_BUDGET_MINUTES``,
``..._TIME_OUT``); a 2-minute interview is started in the past so that the test sees its end soon.
The hard time-out is also tried without a browser, as a candidate who skips the page would.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from browser import KernelSocket, output_text
from lab_page import click_through_slow_loading
from workspace_factory import make_workspace

pytestmark = [pytest.mark.slow]

BRIEF = "# The tiny brief\n\nMake the model better.\n"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "candidate-side"
LABEXTENSION = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "mlinterview-candidate" / "package.json"


def interview_workspace(root: Path) -> Path:
    make_workspace(root)
    settings_path = root / ".mlinterview" / "workspace.json"
    settings = json.loads(settings_path.read_text())
    settings["brief"] = "BRIEF.md"
    settings["questions"] = [
        {"id": "why_it_helps", "prompt": "Why do you think your change will help?", "signal": "model_selection", "shown": "start"},
        {"id": "later_on", "prompt": "What are the limitations of your model?", "signal": "evaluation", "shown": "after_minutes",
         "after_minutes": 30},
    ]
    settings_path.write_text(json.dumps(settings))
    (root / "BRIEF.md").write_text(BRIEF)
    notebook = {"cells": [{"cell_type": "code", "id": "model-cell", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": "import torch\nmodel = torch.nn.Linear(10, 5)\nprint('built')"}],
                "metadata": {"kernelspec": {"name": "mlinterview-cpu", "display_name": "mlinterview (CPU)", "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    (root / "interview.ipynb").write_text(json.dumps(notebook))
    return root


def clock_env(root: Path, *, seconds_left: float, time_out: str, budget_minutes: int = 2) -> dict[str, str]:
    return {
        "MLINTERVIEW_WORKSPACE": str(root),
        "MLINTERVIEW_STARTED_AT": str(time.time() - (budget_minutes * 60 - seconds_left)),
        "MLINTERVIEW_TIME_BUDGET_MINUTES": str(budget_minutes),
        "MLINTERVIEW_TIME_OUT": time_out,
    }


@pytest.fixture
def lab_server(start_server, tmp_path):
    """start(seconds_left=..., time_out=...) -> a JupyterLab server of a 2-minute interview."""
    assert LABEXTENSION.is_file(), f"the candidate's JupyterLab extension is not installed ({LABEXTENSION}): run `make setup`"

    def start(*, seconds_left: float, time_out: str):
        root = interview_workspace(tmp_path / "workspace")
        return start_server(root, lab=True, env=clock_env(root, seconds_left=seconds_left, time_out=time_out),
                            extra_config={"MappingKernelManager": {"default_kernel_name": "mlinterview-cpu"},
                                          "LabApp": {"news_url": None}})
    return start


def open_lab(chromium, server):
    context = chromium.new_context(viewport={"width": 1400, "height": 850})
    page = context.new_page()
    page.goto(f"{server.url}/lab/tree/interview.ipynb?token=tok-alice")
    try:
        page.wait_for_selector(".mli-clock", timeout=90_000)
        page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content", timeout=90_000)
    except Exception:
        shot(page, "not-open")
        raise
    return context, page


def run_first_cell(page) -> None:
    # once the kernel is ready (JupyterLab's kernel status in the status bar) and the page has
    # settled (the brief opens beside the notebook on its own the first time), as a person would
    page.wait_for_selector(".jp-StatusBar-Item :text-matches('\\| Idle$')", timeout=90_000)
    page.wait_for_selector(".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('BRIEF.md')", timeout=30_000)
    click_through_slow_loading(page, page.locator(".jp-Notebook .jp-Cell .cm-content").first)
    page.keyboard.press("Shift+Enter")


def toasts(page) -> str:
    return " | ".join(page.locator(".Toastify__toast").all_inner_texts())


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def history(server) -> list[dict]:
    """The server's history, read over plain HTTP (Playwright's sync API holds this thread's event loop)."""
    request = urllib.request.Request(f"{server.url}/mlinterview/history", headers={"Authorization": "token tok-alice"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["events"]


@pytest.mark.browser
def test_a_hard_time_out_warns_twice_then_freezes_the_notebook(lab_server, chromium):
    server = lab_server(seconds_left=45, time_out="hard")
    context, page = open_lab(chromium, server)
    try:
        clock = page.inner_text(".mli-clock")
        assert clock.endswith("left") and clock.startswith("0:"), clock
        # both warnings (10 and 2 minutes) were crossed: a 2-minute interview gets both at its start
        wait_until(lambda: "Less than 10 minutes left" in toasts(page) and "Less than 2 minutes left" in toasts(page), 15, "both warnings")
        assert "cells stop running" in toasts(page)
        # the brief is open beside the notebook, the first time
        page.wait_for_selector(".jp-RenderedMarkdown h1:has-text('The tiny brief')", timeout=15_000)
        assert page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="BRIEF.md").count() == 1
        # the constraint panel follows the model the cell builds
        assert "limit 1,000 params" in page.inner_text("#mli-constraints")
        run_first_cell(page)
        wait_until(lambda: "model: 55 / 1,000 params" in page.inner_text("#mli-constraints"), 30, "the model in the status bar")
        shot(page, "hard-before")
        # the end: a dialog, the cells read-only, and the server refuses to run anything
        page.wait_for_selector(".jp-Dialog:has-text(\"Time's up\")", timeout=60_000)
        assert page.inner_text(".mli-clock") == "Time's up"
        shot(page, "hard-frozen")
        page.click(".jp-Dialog button:has-text('OK')")
        assert page.evaluate("document.body.classList.contains('mli-frozen')")
        events = wait_until(lambda: [e for e in history(server) if e["kind"] == "interview"], 10, "the time_up event")
        assert events[0]["detail"]["event"] == "time_up" and events[0]["detail"]["time_out"] == "hard"
    finally:
        context.close()


def test_after_a_hard_time_out_the_server_runs_no_cell_whatever_the_client(lab_server, tmp_path):
    """A candidate skipping the page (their own websocket client) gets the same refusal."""
    server = lab_server(seconds_left=40, time_out="hard")
    marker = tmp_path / "ran.txt"

    async def scenario():
        kernel_id = await server.open_notebook()
        socket = await KernelSocket(server, kernel_id).connect()
        try:
            before = await socket.execute("print('in time')", timeout=120)
            assert "in time" in output_text(before)
            facts = await server.api("GET", "/mlinterview/interview")
            assert facts["state"] == "live" and facts["time_out"] == "hard"
            await asyncio.sleep(max(0.0, facts["deadline"] - facts["now"]) + 0.5)
            after = await socket.execute(f"open({str(marker)!r}, 'w').write('x')")
            return before, after
        finally:
            await socket.close()

    # in a thread of its own: a browser test's Playwright may hold this thread's event loop
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        before, after = pool.submit(asyncio.run, scenario()).result()
    assert after["reply"]["status"] == "error" and after["reply"]["ename"] == "InterviewTimeUp", after["reply"]
    assert "time is up" in output_text(after)
    assert not marker.exists(), "the kernel ran a cell after the hard time-out"
    events = history(server)
    kinds = [(e["kind"], (e.get("detail") or {}).get("event") or (e.get("detail") or {}).get("reason")) for e in events]
    time_up = kinds.index(("interview", "time_up"))
    refused = [i for i, (kind, reason) in enumerate(kinds) if kind == "refused" and "time is up" in (reason or "")]
    assert refused and refused[0] > time_up, kinds
    # the refused cell is not an execution of the record: only the one that ran in time is
    assert [e["code"] for e in events if e["kind"] == "execute_request"] == ["print('in time')"]


@pytest.mark.browser
def test_a_soft_time_out_keeps_running_and_marks_the_overtime(lab_server, chromium):
    server = lab_server(seconds_left=-5, time_out="soft")
    context, page = open_lab(chromium, server)
    try:
        wait_until(lambda: page.inner_text(".mli-clock").endswith("overtime"), 10, "the overtime clock")
        wait_until(lambda: "Time's up. You may keep working" in toasts(page), 10, "the time-up notice")
        run_first_cell(page)
        try:
            page.wait_for_selector(".jp-OutputArea-output:has-text('built')", timeout=60_000)
        finally:
            shot(page, "soft-overtime")
        events = history(server)
        kinds = [e["kind"] for e in events]
        assert "interview" in kinds and kinds.index("interview") < kinds.index("execute_request"), kinds
        reply = next(e for e in events if e["kind"] == "execute_reply")
        assert reply["status"] == "ok"
        # the candidate's JupyterLab does not ask for kernel subshells, which the record refuses
        assert not [e for e in events if e["kind"] == "refused"], [e["detail"] for e in events if e["kind"] == "refused"]
    finally:
        context.close()


@pytest.mark.browser
def test_a_released_twist_is_announced_with_the_new_limit(lab_server, chromium):
    server = lab_server(seconds_left=110, time_out="soft")
    context, page = open_lab(chromium, server)
    try:
        assert "limit 1,000 params" in page.inner_text("#mli-constraints")
        settings_path = server.root / ".mlinterview" / "workspace.json"
        settings = json.loads(settings_path.read_text())
        settings["constraints"]["max_parameters"] = 40
        settings["twist"] = {"title": "Smaller device", "kind": "tighter_budget", "released_at": "2026-12-02T10:00:00+00:00",
                             "files": [], "max_parameters": 40}
        settings_path.write_text(json.dumps(settings))
        wait_until(lambda: "released a twist: Smaller device" in toasts(page), 15, "the twist notice")
        assert "The parameter limit is now 40." in toasts(page)
        wait_until(lambda: "limit 40 params" in page.inner_text("#mli-constraints"), 10, "the new limit")
        run_first_cell(page)
        # the kernel enforces the new limit too; the panel shows the model over it
        wait_until(lambda: "model: 55 / 40 params" in page.inner_text("#mli-constraints"), 30, "the model against the new limit")
        assert "mli-over" in page.get_attribute("#mli-constraints", "class")
        shot(page, "twist")
        # a reload does not announce the same twist again, nor reopen the brief the candidate may have closed
        page.reload()
        page.wait_for_selector(".mli-clock", timeout=60_000)
        time.sleep(2)
        assert "released a twist" not in toasts(page)
    finally:
        context.close()


def post_answer(server, question: str, text: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{server.url}/mlinterview/answer", method="POST", data=json.dumps({"question": question, "text": text}).encode(),
                                     headers={"Authorization": "token tok-alice", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}


@pytest.mark.browser
def test_the_candidate_answers_an_open_question_in_the_questions_panel(lab_server, chromium):
    server = lab_server(seconds_left=110, time_out="soft")
    context, page = open_lab(chromium, server)
    try:
        page.click(".jp-SideBar .lm-TabBar-tab[data-id='mli-questions']")
        box = page.locator(".mli-question[data-question='why_it_helps']")
        box.wait_for(timeout=15_000)
        assert "Why do you think your change will help?" in box.inner_text()
        assert page.locator(".mli-question[data-question='later_on']").count() == 0  # due after 30 minutes
        answer = "It shares weights across positions,\nso it generalises with fewer parameters."
        box.locator("textarea").fill(answer)
        box.locator("button.mli-save-answer").click()
        page.wait_for_function("() => document.querySelector(\".mli-question[data-question='why_it_helps'] .mli-answer-state\").textContent.startsWith('Saved ')")
        shot(page, "questions-answered")
        answers = wait_until(lambda: [e for e in history(server) if e["kind"] == "answer"], 10, "the answer in the history")
        assert answers[0]["detail"]["text"] == answer and answers[0]["role"] == "candidate" and answers[0]["detail"]["question"] == "why_it_helps"
        # the page reloaded shows the saved answer, from the server
        page.reload()
        page.click(".jp-SideBar .lm-TabBar-tab[data-id='mli-questions']")
        page.wait_for_function("(text) => (document.querySelector(\".mli-question[data-question='why_it_helps'] textarea\") || {}).value === text", arg=answer,
                               timeout=60_000)
    finally:
        context.close()
    # a question not shown yet cannot be answered, nor can an answer be too long
    assert post_answer(server, "later_on", "early")[0] == 404
    assert post_answer(server, "why_it_helps", "x" * 20_001)[0] == 413


def test_the_time_a_candidate_says_they_spent_is_minutes_or_nothing_and_a_bad_one_is_refused():
    from tornado.web import HTTPError

    from mlinterview.extension.interview_status import self_reported_minutes

    assert self_reported_minutes(b"") is None and self_reported_minutes(b"{}") is None
    assert self_reported_minutes(b'{"self_reported_minutes": null}') is None
    assert self_reported_minutes(b'{"self_reported_minutes": 95}') == 95
    assert self_reported_minutes(b'{"self_reported_minutes": 94.6}') == 95
    for body in (b'{"self_reported_minutes": -3}', b'{"self_reported_minutes": "95"}', b'{"self_reported_minutes": true}',
                 b'{"self_reported_minutes": 1e9}', b"[95]", b"ninety"):
        with pytest.raises(HTTPError) as refused:
            self_reported_minutes(body)
        assert refused.value.status_code == 400, body
