"""Attacks on the record: what a candidate might try, and what stops or exposes it."""

from __future__ import annotations

import asyncio
import time

import pytest
from tornado.httpclient import HTTPClientError

from browser import KernelSocket, output_text
from mlinterview.extension.history_recorder import HistoryRecorder
from mlinterview.extension.history_store import HistoryFile, HubStreamer

pytestmark = pytest.mark.slow


async def test_a_claimed_user_name_in_the_message_does_not_change_who_ran_it(shared_server):
    async with shared_server.notebook("spoof.ipynb") as kernel_id:
        socket = await KernelSocket(shared_server, kernel_id, token="tok-alice", header_username="bob").connect()
        result = await socket.execute("'pretending to be the interviewer'", cell_id="spoof")
        await socket.close()
    events = [e for e in await shared_server.history() if e.get("msg_id") == result["msg_id"]]
    assert {(e["user"], e["role"]) for e in events} == {("alice", "candidate")}


def test_config_files_cannot_override_the_hub_owner_or_history_url(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    monkeypatch.setenv("MLINTERVIEW_HISTORY_URL", "http://hub.example/services/interview/api/history")
    # what a candidate's ~/.jupyter/jupyter_server_config.json could say
    recorder = HistoryRecorder(history_dir=str(tmp_path), session_id="s", owner="mallory")
    assert recorder.owner == "alice" and recorder.role_of("alice") == "candidate"
    streamer = HubStreamer(HistoryFile(tmp_path / "s.jsonl"), url="")
    assert streamer.enabled and streamer.url.startswith("http://hub.example/")


async def test_a_server_that_must_record_refuses_kernels_when_the_recorder_is_switched_off(workspace, start_server):
    server = start_server(
        workspace, record=False, connection_class="mlinterview.extension.history_connection.HistoryRecordingConnection",
        extra_config={"HistoryRecordingConnection": {"require_recorder": True}})
    kernel = await server.api("POST", "/api/kernels", {"name": "python3"})
    try:
        with pytest.raises(HTTPClientError) as refused:
            await KernelSocket(server, kernel["id"]).connect()
        assert refused.value.code == 503
        assert "must record the cell history" in server.server_log()
    finally:
        await server.api("DELETE", f"/api/kernels/{kernel['id']}")


async def test_candidate_code_that_empties_the_local_history_is_detected(workspace, start_server):
    server = start_server(workspace)
    kernel_id = await server.open_notebook()
    socket = await KernelSocket(server, kernel_id).connect()
    await socket.execute("1 + 1", cell_id="before")
    erase = "import glob, os\nfor path in glob.glob(os.environ['MLINTERVIEW_HISTORY_DIR'] + '/*.jsonl'):\n    open(path, 'w').close()"
    erased = await socket.execute(erase, cell_id="erase")
    after = await socket.execute("2 + 2", cell_id="after")
    await socket.close()
    assert erased["reply"]["status"] == "ok"
    events = await server.history()
    # the cell that erased the file is itself recorded (its reply, after the erasure) and so is what follows
    assert any(e.get("msg_id") == erased["msg_id"] and e["kind"] == "execute_reply" for e in events)
    assert any(e.get("msg_id") == after["msg_id"] and e["kind"] == "execute_request" for e in events)
    verdict = await server.api("GET", "/mlinterview/history/verify")
    assert not verdict["ok"] and "gap" in verdict["problems"][0]


async def test_a_refused_control_request_is_answered_with_an_error_and_never_reaches_the_kernel(shared_server):
    """A refused request (a subshell, a debugger's evaluate) gets an error reply, as from a kernel that
    cannot do it: the browser does not wait for a reply that never comes; the refusal is recorded."""
    async with shared_server.notebook(f"refused_{time.time_ns()}.ipynb") as kernel_id:
        socket = await KernelSocket(shared_server, kernel_id).connect()
        try:
            msg_id = socket.send("control", "create_subshell_request", {})
            deadline = time.monotonic() + 15
            reply = None
            while reply is None and time.monotonic() < deadline:
                reply = next((m for _, m in socket.received if m["parent_header"].get("msg_id") == msg_id), None)
                await asyncio.sleep(0.1)
            after = await socket.execute("print('still served')")
        finally:
            await socket.close()
    assert reply is not None and reply["header"]["msg_type"] == "create_subshell_reply", reply
    assert reply["content"]["status"] == "error" and "outside the record" in reply["content"]["evalue"]
    assert "still served" in output_text(after)
    events = await shared_server.history()
    assert any(e["kind"] == "refused" and e["detail"]["msg_type"] == "create_subshell_request" for e in events)
