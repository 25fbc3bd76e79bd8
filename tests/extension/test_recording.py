"""A real jupyter-server with the mlinterview extension and real mlinterview-cpu kernels, driven over
the kernel websocket like JupyterLab: every execution must be in the history, attributed right."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from browser import KernelSocket, output_text
from mlinterview.history import verify_events
from mlinterview.kernels.signals import CONSTRAINT_MIME

pytestmark = pytest.mark.slow


async def wait_for_history(server, predicate, timeout: float = 30.0) -> list[dict]:
    """Poll the history endpoint until ``predicate(events)`` holds; returns the events."""
    deadline = time.monotonic() + timeout
    while True:
        events = await server.history()
        if predicate(events):
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"history never satisfied the condition; last events: {json.dumps(events[-6:], indent=1)}")
        await asyncio.sleep(0.2)


def by_msg(events, msg_id, kind):
    found = [e for e in events if e.get("msg_id") == msg_id and e["kind"] == kind]
    assert len(found) == 1, f"expected one {kind} for {msg_id}, got {found}"
    return found[0]


async def test_browser_cells_are_recorded_with_user_code_status_and_constraint(shared_server):
    server = shared_server
    async with server.notebook("interview.ipynb") as kernel_id:
        candidate = await KernelSocket(server, kernel_id, token="tok-alice").connect()
        interviewer = await KernelSocket(server, kernel_id, token="tok-bob").connect()
        ok = await candidate.execute("print('hello from the candidate')", cell_id="cell-ok")
        failed = await candidate.execute("1/0", cell_id="cell-error")
        too_big = await candidate.execute(
            "import torch\nbig = torch.nn.Linear(100, 100)\nbig(torch.ones(1, 100)).sum().backward()", cell_id="cell-big")
        small = await candidate.execute("small = torch.nn.Linear(10, 10)\nsmall(torch.ones(1, 10)).shape", cell_id="cell-small")
        peek = await interviewer.execute("peek = sorted(k for k in globals() if not k.startswith('_'))", cell_id="cell-peek")
        await candidate.close()
        await interviewer.close()

    # what the browser saw
    assert ok["reply"]["status"] == "ok" and "hello from the candidate" in output_text(ok)
    assert failed["reply"]["status"] == "error" and failed["reply"]["ename"] == "ZeroDivisionError"
    assert too_big["reply"]["status"] == "error"
    assert too_big["reply"]["ename"] == "ConstraintViolation"
    message = too_big["reply"]["evalue"]
    assert "model 'big' (Linear)" in message and "10,100" in message and "1,000" in message, message
    assert small["reply"]["status"] == "ok"
    assert peek["reply"]["status"] == "ok"
    # the guard's signal to the server is recorded, never forwarded to a browser
    for socket in (candidate, interviewer):
        for _, msg in socket.received:
            assert CONSTRAINT_MIME not in json.dumps(msg.get("content", {}))

    events = await server.history()
    expectations = [
        (ok, "print('hello from the candidate')", "cell-ok", "alice", "candidate", "ok"),
        (failed, "1/0", "cell-error", "alice", "candidate", "error"),
        (too_big, "import torch\nbig = torch.nn.Linear(100, 100)\nbig(torch.ones(1, 100)).sum().backward()", "cell-big", "alice", "candidate", "error"),
        (small, "small = torch.nn.Linear(10, 10)\nsmall(torch.ones(1, 10)).shape", "cell-small", "alice", "candidate", "ok"),
        (peek, "peek = sorted(k for k in globals() if not k.startswith('_'))", "cell-peek", "bob", "interviewer", "ok"),
    ]
    for result, code, cell_id, user, role, status in expectations:
        request = by_msg(events, result["msg_id"], "execute_request")
        reply = by_msg(events, result["msg_id"], "execute_reply")
        assert (request["code"], request["cell_id"], request["user"], request["role"]) == (code, cell_id, user, role)
        assert request["notebook"] == "interview.ipynb" and request["kernel_id"] == kernel_id
        assert (reply["status"], reply["user"], reply["role"]) == (status, user, role)
        assert reply["execution_count"] == result["reply"]["execution_count"]
        assert reply["duration_ms"] >= 0 and reply["seq"] > request["seq"]
    assert by_msg(events, failed["msg_id"], "execute_reply")["error"] == {"ename": "ZeroDivisionError", "evalue": "division by zero"}
    assert "hello from the candidate" in by_msg(events, ok["msg_id"], "execute_reply")["outputs"]["text"]
    violation = by_msg(events, too_big["msg_id"], "constraint")
    assert violation["detail"]["event"] == "violation"
    assert (violation["detail"]["count"], violation["detail"]["limit"]) == (10100, 1000)
    assert violation["user"] == "alice" and violation["cell_id"] == "cell-big"
    started = [e for e in events if e["kind"] == "kernel_event" and e["kernel_id"] == kernel_id]
    assert [e["detail"]["event"] for e in started][:1] == ["started"]

    verdict = await server.api("GET", "/mlinterview/history/verify")
    assert verdict["ok"], verdict["problems"]
    assert verify_events(events).ok


async def test_history_endpoints_need_an_authenticated_user(shared_server):
    client = AsyncHTTPClient()
    for path in ("/mlinterview/history", "/mlinterview/history/verify", "/mlinterview/history/stream"):
        for headers in ({}, {"Authorization": "token not-a-user"}):
            with pytest.raises(HTTPClientError) as refused:
                await client.fetch(HTTPRequest(shared_server.url + path, headers=headers, follow_redirects=False))
            assert refused.value.code in (302, 403), (path, refused.value.code)
    assert isinstance(await shared_server.history(token="tok-bob"), list)


async def test_legacy_json_websocket_protocol_is_recorded_too(shared_server):
    async with shared_server.notebook("legacy.ipynb") as kernel_id:
        socket = await KernelSocket(shared_server, kernel_id, protocol=None).connect()
        result = await socket.execute("21 * 2", cell_id="legacy-cell")
        await socket.close()
    assert "42" in output_text(result)
    events = await shared_server.history()
    assert by_msg(events, result["msg_id"], "execute_request")["cell_id"] == "legacy-cell"
    assert "42" in by_msg(events, result["msg_id"], "execute_reply")["outputs"]["text"]


async def test_huge_output_is_summarised_within_bounds(shared_server):
    async with shared_server.notebook("huge.ipynb") as kernel_id:
        socket = await KernelSocket(shared_server, kernel_id).connect()
        result = await socket.execute("for _ in range(50):\n    print('x' * 100_000)", cell_id="huge", timeout=120)
        await socket.close()
    assert result["reply"]["status"] == "ok"
    reply = by_msg(await shared_server.history(), result["msg_id"], "execute_reply")
    summary = reply["outputs"]
    assert summary["bytes"] >= 5_000_000
    assert len(summary["text"]) <= 2000 and summary["truncated"] is True
    assert len(json.dumps(reply)) < 10_000


async def test_interrupt_restart_and_never_replying_cells_are_recorded(shared_server):
    server = shared_server
    async with server.notebook("stuck.ipynb") as kernel_id:
        socket = await KernelSocket(server, kernel_id).connect()
        # a cell stuck in a loop, interrupted: its reply says KeyboardInterrupt
        looping = socket.start_execute("import time\nwhile True:\n    time.sleep(0.05)", cell_id="loop")
        await wait_for_history(server, lambda events: any(e.get("msg_id") == looping for e in events))
        await asyncio.sleep(0.5)
        await server.api("POST", f"/api/kernels/{kernel_id}/interrupt")
        interrupted = await socket.wait(looping)
        assert interrupted["reply"]["status"] == "error" and interrupted["reply"]["ename"] == "KeyboardInterrupt"
        # (ipykernel aborts requests that come in right after an error: let that pass)
        assert (await socket.execute("'settled'"))["reply"]["status"] == "ok"
        # a cell that never replies, and one queued behind it, then a restart
        sleeping = socket.start_execute("import time\ntime.sleep(600)", cell_id="sleep")
        queued = socket.start_execute("print('never runs')", cell_id="queued")
        await wait_for_history(server, lambda events: any(e.get("msg_id") == queued for e in events))
        await server.api("POST", f"/api/kernels/{kernel_id}/restart")
        events = await wait_for_history(
            server, lambda events: any(e["kind"] == "kernel_event" and e["detail"]["event"] == "restarted" and e["kernel_id"] == kernel_id for e in events))
        after = await socket.execute("'alive again'", cell_id="after")
        await socket.close()

    assert by_msg(events, looping, "execute_reply")["error"]["ename"] == "KeyboardInterrupt"
    kinds = [(e["kind"], (e.get("detail") or {}).get("event")) for e in events if e.get("kernel_id") == kernel_id]
    assert ("kernel_event", "interrupted") in kinds
    restarted_at = next(e["seq"] for e in events if e["kind"] == "kernel_event" and e["detail"]["event"] == "restarted" and e["kernel_id"] == kernel_id)
    for cell in (sleeping, queued):
        # each is closed exactly once, before the restart is noted: lost, or (when the kernel got to say so while
        # shutting down) answered as aborted - never as having run fine
        closing = [e for e in events if e.get("msg_id") == cell and e["kind"] in ("execute_lost", "execute_reply")]
        assert len(closing) == 1, closing
        event = closing[0]
        assert event["seq"] < restarted_at
        if event["kind"] == "execute_lost":
            assert "restarted" in event["detail"]["reason"]
        else:
            assert event["status"] in ("aborted", "error"), event
    assert after["reply"]["status"] == "ok"
    final = await server.history()
    assert by_msg(final, after["msg_id"], "execute_reply")["execution_count"] == 1  # a fresh kernel


async def test_a_kernel_that_dies_is_recorded(shared_server):
    server = shared_server
    async with server.notebook("dies.ipynb") as kernel_id:
        socket = await KernelSocket(server, kernel_id).connect()
        dying = socket.start_execute("import os\nos._exit(1)", cell_id="exit")
        # the kernel manager notices the death, records it, and restarts the kernel (wait for that before
        # shutting the session down: a shutdown in the middle of the restart is another test)
        events = await wait_for_history(
            server, lambda events: [e["detail"]["event"] for e in events if e["kind"] == "kernel_event" and e["kernel_id"] == kernel_id][-2:] == ["died", "restarted"],
            timeout=40)
        await socket.close()
    lost = by_msg(events, dying, "execute_lost")
    assert "died" in lost["detail"]["reason"] and lost["cell_id"] == "exit"


async def test_live_stream_sends_events_as_they_are_recorded(shared_server):
    server = shared_server
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    since = (await server.history())[-1]["seq"]
    writer.write(
        f"GET /mlinterview/history/stream?since={since} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Authorization: token tok-bob\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    status = await reader.readline()
    assert b"200" in status, status
    async with server.notebook("streamed.ipynb") as kernel_id:
        socket = await KernelSocket(server, kernel_id).connect()
        result = await socket.execute("'streamed'", cell_id="live")
        await socket.close()
    seen: list[dict] = []
    deadline = time.monotonic() + 20
    while not any(e.get("msg_id") == result["msg_id"] and e["kind"] == "execute_reply" for e in seen):
        line = await asyncio.wait_for(reader.readline(), max(0.1, deadline - time.monotonic()))
        if line.startswith(b"data: "):
            seen.append(json.loads(line[6:]))
    writer.close()
    kinds = [e["kind"] for e in seen if e.get("msg_id") == result["msg_id"] and e["kind"].startswith("execute_")]
    assert kinds == ["execute_request", "execute_reply"]  # (a new kernel's first status signal names the cell too)
    assert all(e["seq"] > since for e in seen)
    assert [e["seq"] for e in seen] == sorted(e["seq"] for e in seen)


async def test_a_saved_text_file_is_recorded_with_its_text_then_the_diffs(shared_server):
    server = shared_server
    path = f"saved_{time.time_ns()}.py"
    first = "LEARNING_RATE = 0.1\nEPOCHS = 12\n"
    await server.api("PUT", f"/api/contents/{path}", {"type": "file", "format": "text", "content": first})
    await server.api("PUT", f"/api/contents/{path}", {"type": "file", "format": "text", "content": first})  # unchanged: no event
    second = first.replace("EPOCHS = 12", "EPOCHS = 3")
    await server.api("PUT", f"/api/contents/{path}", {"type": "file", "format": "text", "content": second})
    await server.api("PUT", f"/api/contents/notes_{path}.ipynb",
                     {"type": "notebook", "content": {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}})

    events = await wait_for_history(server, lambda evs: sum(e["kind"] == "file_saved" and e["detail"]["path"] == path for e in evs) >= 2)
    saves = [e for e in events if e["kind"] == "file_saved" and e["detail"]["path"] == path]
    assert len(saves) == 2, saves
    assert saves[0]["detail"]["text"] == first and saves[0]["detail"]["bytes"] == len(first)
    assert "-EPOCHS = 12\n+EPOCHS = 3\n" in saves[1]["detail"]["diff"] and "text" not in saves[1]["detail"]
    assert saves[1]["detail"]["sha256"] == hashlib.sha256(second.encode()).hexdigest()
    assert not [e for e in events if e["kind"] == "file_saved" and e["detail"]["path"].endswith(".ipynb")]
    assert verify_events(events).ok


RED_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg=="
SHOW_FIGURES = f"""
import base64
from IPython.display import SVG, display
display(SVG('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'))
display({{"image/png": base64.b64encode(b"<script>not a png</script>").decode()}}, raw=True)
display({{"image/png": "{RED_PNG}"}}, raw=True)
"""


async def test_a_cells_last_figure_is_recorded_once_and_only_a_real_png_or_jpeg(shared_server):
    server = shared_server
    async with server.notebook(f"figures_{time.time_ns()}.ipynb") as kernel_id:
        socket = await KernelSocket(server, kernel_id).connect()
        first = await socket.execute(SHOW_FIGURES, cell_id="figures")
        again = await socket.execute(SHOW_FIGURES, cell_id="figures")  # the same figure: not recorded twice
        fake = await socket.execute(
            "from IPython.display import display\n"
            "display({'image/png': 'PHNjcmlwdD4=', 'image/jpeg': 'PHNjcmlwdD4='}, raw=True)", cell_id="fake")
        await socket.close()
    ids = {first["msg_id"], again["msg_id"], fake["msg_id"]}
    events = await wait_for_history(server, lambda evs: sum(e["kind"] == "execute_reply" and e["msg_id"] in ids for e in evs) == 3)
    figures = [e for e in events if e["kind"] == "figure" and e["msg_id"] in ids]
    assert [e["msg_id"] for e in figures] == [first["msg_id"]], figures
    detail = figures[0]["detail"]
    assert detail["mime"] == "image/png" and detail["data"] == RED_PNG
    assert detail["sha256"] == hashlib.sha256(base64.b64decode(RED_PNG)).hexdigest() and detail["bytes"] == len(base64.b64decode(RED_PNG))
    assert verify_events(events).ok


def _notebook(*cells: tuple[str, str]) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
            "cells": [{"id": cell_id, "cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None}
                      for cell_id, source in cells]}


async def test_a_saved_notebook_is_recorded_cell_by_cell(shared_server):
    server = shared_server
    path = f"edited_{time.time_ns()}.ipynb"
    saves = [
        _notebook(("a", "import pandas as pd"), ("b", "df = pd.read_csv('train.csv')")),
        _notebook(("a", "import pandas as pd"), ("b", "df = pd.read_csv('train.csv')")),  # unchanged: no event
        _notebook(("a", "import pandas as pd"), ("c", "df.describe()"), ("b", "df = pd.read_csv('train.csv', na_values=[-999])")),
        _notebook(("c", "df.describe()"), ("b", "df = pd.read_csv('train.csv', na_values=[-999])")),
    ]
    for content in saves:
        await server.api("PUT", f"/api/contents/{path}", {"type": "notebook", "content": content})
    events = await wait_for_history(server, lambda evs: sum(e["kind"] == "notebook_saved" and e["detail"]["path"] == path for e in evs) >= 3)
    recorded = [e["detail"] for e in events if e["kind"] == "notebook_saved" and e["detail"]["path"] == path]
    assert len(recorded) == 3, recorded
    first, second, third = recorded
    assert first["order"] == ["a", "b"] and [(c["op"], c["id"], c["source"]) for c in first["changes"]] == [
        ("add", "a", "import pandas as pd"), ("add", "b", "df = pd.read_csv('train.csv')")]
    assert second["order"] == ["a", "c", "b"] and [(c["op"], c["id"]) for c in second["changes"]] == [("add", "c"), ("edit", "b")]
    assert second["changes"][1]["source"].endswith("na_values=[-999])")
    assert third["order"] == ["c", "b"] and third["changes"] == [{"op": "delete", "id": "a"}]
    assert not [e for e in events if e["kind"] == "file_saved" and e["detail"]["path"] == path]
    assert verify_events(events).ok


async def test_past_the_budget_saves_keep_their_hash_but_not_their_text(start_server, workspace, tmp_path):
    server = start_server(workspace, history_dir=tmp_path / "budget-history", extra_config={"HistoryRecorder": {"saved_text_budget": 100}})
    small, big = "A = 1\n", "B = '" + "x" * 200 + "'\n"
    for path, content in (("small.py", small), ("big.py", big), ("big.py", big), ("big.py", big + "C = 2\n")):
        await server.api("PUT", f"/api/contents/{path}", {"type": "file", "format": "text", "content": content})
    events = await wait_for_history(server, lambda evs: sum(e["kind"] == "file_saved" for e in evs) >= 3)
    saves = [e["detail"] for e in events if e["kind"] == "file_saved"]
    assert saves[0]["path"] == "small.py" and saves[0]["text"] == small
    assert [(d["path"], d.get("over_budget"), "text" in d or "diff" in d) for d in saves[1:]] == [("big.py", True, False)] * 2
    assert saves[1]["sha256"] == hashlib.sha256(big.encode()).hexdigest() != saves[2]["sha256"]  # the same content once
