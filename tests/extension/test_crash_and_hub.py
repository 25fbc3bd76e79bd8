"""Reliability of the record: kill -9 of the server mid-session, and streaming to the hub service."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest
from tornado import web
from tornado.httpserver import HTTPServer

from browser import KernelSocket, free_port
from mlinterview.history import read_events, verify_events, verify_history

pytestmark = pytest.mark.slow


def kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


async def test_kill_9_mid_session_loses_no_execution_whose_reply_reached_the_browser(workspace, start_server, tmp_path):
    history_dir = tmp_path / "history"
    server = start_server(workspace, history_dir=history_dir)
    kernel_id = await server.open_notebook()
    socket = await KernelSocket(server, kernel_id).connect()
    pid_result = await socket.execute("import os\nos.getpid()")
    kernel_pid = int(next(m["content"]["data"]["text/plain"] for m in pid_result["outputs"] if m["header"]["msg_type"] == "execute_result"))
    try:
        # a burst of cells in flight, as "Run All" sends them; the server dies while they run
        msg_ids = [socket.start_execute(f"x_{i} = {i} ** 2", cell_id=f"cell-{i}") for i in range(60)]
        deadline = time.monotonic() + 60
        while sum(1 for m in msg_ids if socket._waiters[m].reply is not None) < 25:
            assert time.monotonic() < deadline, "the kernel did not answer 25 cells in time"
            await asyncio.sleep(0.002)
        server.kill9()
        await asyncio.sleep(0.3)  # let the client read whatever frames the dead server had already sent
        answered = [m for m in msg_ids if socket._waiters[m].reply is not None]
        await socket.close()
        assert 25 <= len(answered) < len(msg_ids), "the kill should land mid-burst"

        files = list(history_dir.glob("*.jsonl"))
        assert len(files) == 1
        # the restarted server continues the same file and closes what the crash left open
        restarted = start_server(workspace, history_dir=history_dir)
        events = read_events(files[0])
        replies = {e["msg_id"] for e in events if e["kind"] == "execute_reply"}
        missing = [m for m in answered if m not in replies]
        assert not missing, f"{len(missing)} executions the browser saw answered are not in the history"
        requests = {e["msg_id"] for e in events if e["kind"] == "execute_request"}
        lost = {e["msg_id"] for e in events if e["kind"] == "execute_lost"}
        assert (requests & set(msg_ids)) - replies <= lost
        assert all("server stopped" in e["detail"]["reason"] for e in events if e["kind"] == "execute_lost")
        assert [e["kind"] for e in events].count("session_start") == 2
        assert verify_events(events).ok, verify_events(events).problems
        assert (await restarted.history())[-1]["seq"] == events[-1]["seq"]
    finally:
        kill_quietly(kernel_pid)


class FlakyHistoryService(web.RequestHandler):
    """The hub's receiving end, per the contract: 503 to the first posts, then stores events that
    continue its chain (409 with its ``stored_seq`` for any that do not); GET says what it holds."""

    def initialize(self, state):
        self.state = state

    def get(self):
        self.finish({"stored_seq": len(self.state["events"]) - 1})

    def post(self):
        self.state["auth"].append(self.request.headers.get("Authorization"))
        self.state["posts"] += 1
        if self.state["posts"] <= self.state["fail_first"]:
            raise web.HTTPError(503)
        events = json.loads(self.request.body)["events"]
        if events[0]["seq"] != len(self.state["events"]):
            self.set_status(409)
            self.state["conflicts"] += 1
        else:
            self.state["events"].extend(events)
        self.finish({"stored_seq": len(self.state["events"]) - 1})


async def test_events_stream_to_the_hub_service_and_are_resent_after_failures(workspace, start_server):
    state = {"events": [], "posts": 0, "fail_first": 2, "auth": [], "conflicts": 0}
    port = free_port()
    service = HTTPServer(web.Application([(r"/history", FlakyHistoryService, {"state": state})]))
    service.listen(port, "127.0.0.1")
    try:
        server = start_server(workspace, env={"MLINTERVIEW_HISTORY_URL": f"http://127.0.0.1:{port}/history",
                                              "JUPYTERHUB_API_TOKEN": "hub-token-123"})
        kernel_id = await server.open_notebook()
        socket = await KernelSocket(server, kernel_id).connect()
        result = await socket.execute("'to the hub'", cell_id="hub")
        await socket.close()
        deadline = time.monotonic() + 30
        while not any(e.get("msg_id") == result["msg_id"] and e["kind"] == "execute_reply" for e in state["events"]):
            assert time.monotonic() < deadline, f"the hub never got the reply; posts={state['posts']}"
            await asyncio.sleep(0.1)
        local = await server.history()
        assert state["posts"] > state["fail_first"]
        assert set(state["auth"]) == {"token hub-token-123"}
        assert [e["seq"] for e in state["events"]] == list(range(len(state["events"])))
        assert state["events"] == local[: len(state["events"])]
        assert verify_events(state["events"]).ok
        server.stop()
        acked = int(next(server.history_dir.glob("*.acked")).read_text())
        assert acked == state["events"][-1]["seq"]
        assert verify_history(next(server.history_dir.glob("*.jsonl"))).ok

        # the service loses its last events and the .acked file claims too much: a restarted server
        # asks the service what it holds and resends exactly what is missing
        held = len(state["events"])
        del state["events"][held - 3:]
        next(server.history_dir.glob("*.acked")).write_text("999\n")
        again = start_server(workspace, env=server.extra_env)
        deadline = time.monotonic() + 30
        while len(state["events"]) <= held:
            assert time.monotonic() < deadline, f"the service was not caught up: {len(state['events'])} <= {held}"
            await asyncio.sleep(0.1)
        assert verify_events(state["events"]).ok
        assert state["events"] == (await again.history())[: len(state["events"])]
    finally:
        service.stop()


async def test_local_only_mode_and_a_clean_shutdown_mid_cell(workspace, start_server):
    server = start_server(workspace)
    kernel_id = await server.open_notebook()
    socket = await KernelSocket(server, kernel_id).connect()
    result = await socket.execute("'local'", cell_id="local")
    running = socket.start_execute("import time\ntime.sleep(120)", cell_id="running")
    deadline = time.monotonic() + 20
    while True:
        events = await server.history()
        if any(e.get("msg_id") == running for e in events):
            break
        assert time.monotonic() < deadline, "the running cell's request was never recorded"
        await asyncio.sleep(0.1)
    assert any(e.get("msg_id") == result["msg_id"] and e["kind"] == "execute_reply" for e in events)
    server.stop()  # SIGTERM: jupyter-server stops its extensions, then the kernels
    await socket.close()
    assert not list(server.history_dir.glob("*.acked"))
    assert "not delivered" not in server.server_log()
    history = next(server.history_dir.glob("*.jsonl"))
    events = read_events(history)
    lost = [e for e in events if e["kind"] == "execute_lost"]
    assert [e["msg_id"] for e in lost] == [running] and "server shut down" in lost[0]["detail"]["reason"]
    assert events[-1]["kind"] == "kernel_event" and events[-1]["detail"]["event"] == "shutdown"
    assert verify_history(history).ok
