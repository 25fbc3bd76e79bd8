"""The history file on its own: tamper detection by ``mlinterview history verify``, the timeline,
resuming a chain, a torn last line, the fsync policy and the hub streamer's acknowledgements."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlinterview.extension.history_recorder import HistoryRecorder
from mlinterview.extension.history_store import HistoryFile, HubStreamer
from mlinterview.history import dumps_line, event_hash, read_events, verify_history


MLINTERVIEW = str(Path(sys.executable).with_name("mlinterview"))


def mlinterview(*args: str) -> subprocess.CompletedProcess:
    """The installed command line, as a user runs it."""
    return subprocess.run([MLINTERVIEW, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def history(tmp_path) -> Path:
    """A recorded session: start, two executions (one by an interviewer), a constraint, a lost cell."""
    recorder = HistoryRecorder(history_dir=str(tmp_path), session_id="interview-1", owner="alice")
    recorder.start({"server": "test"})
    recorder.request(msg_id="m1", kernel_id="k", owner="tab-a", user="alice", code="x = 1", cell_id="c1")
    recorder.reply("m1", {"status": "ok", "execution_count": 1})
    recorder.request(msg_id="m2", kernel_id="k", owner="tab-b", user="bob", code="1/0", cell_id="c2")
    recorder.reply("m2", {"status": "error", "execution_count": 2, "ename": "ZeroDivisionError", "evalue": "division by zero"})
    recorder.request(msg_id="m3", kernel_id="k", owner="tab-a", user="alice", code="big(x)", cell_id="c3")
    recorder.constraint(recorder.pending["m3"], "k", {"event": "violation", "model": "model 'big'", "count": 5000, "limit": 1000, "message": "too big"})
    recorder.kernel_event("k", "restarted")
    recorder.store.close()
    return recorder.path


def verify_after(history: Path, change) -> str:
    """Apply ``change`` to the file's lines (a list it edits in place) and run ``history verify``: it must fail."""
    lines = history.read_text().splitlines(keepends=True)
    change(lines)
    history.write_text("".join(lines))
    result = mlinterview("history", "verify", str(history))
    assert result.returncode == 1, result.stdout
    return result.stdout


def set_code(lines: list[str], index: int, code: str, *, rehash: bool = False) -> None:
    event = json.loads(lines[index])
    event["code"] = code
    if rehash:  # a forger who knows the format recomputes the line's own hash
        event["hash"] = event_hash(event)
    lines[index] = dumps_line(event)


def test_an_intact_history_verifies_and_reads_as_a_timeline(history):
    result = mlinterview("history", "verify", str(history))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK, 9 events" in result.stdout
    shown = mlinterview("history", "show", str(history))
    assert shown.returncode == 0
    lines = shown.stdout.splitlines()
    assert any("C alice" in line and "run    ?#c1: x = 1" in line for line in lines), shown.stdout
    assert any("I bob" in line and "error ZeroDivisionError" in line for line in lines), shown.stdout
    assert any("LIMIT  violation: too big" in line for line in lines)
    assert any("LOST" in line and "m3" in line for line in lines)
    assert "WARNING" not in shown.stdout


def test_an_edited_line_is_detected(history):
    assert json.loads(history.read_text().splitlines()[3])["code"] == "1/0"
    # the interviewer's failing cell made to look harmless
    assert "line 4 (seq 3): edited" in verify_after(history, lambda lines: set_code(lines, 3, "2/1"))


def test_an_edited_and_rehashed_line_breaks_the_chain_after_it(history):
    assert "line 3 (seq 2): chain broken" in verify_after(history, lambda lines: set_code(lines, 1, "x = 2", rehash=True))


def test_a_deleted_line_is_detected(history):
    assert "gap - seq 4..4 missing" in verify_after(history, lambda lines: lines.pop(4))


def test_reordered_lines_are_detected(history):
    def swap(lines):
        lines[2], lines[3] = lines[3], lines[2]

    assert "reordered" in verify_after(history, swap)


def test_a_missing_file_is_a_clear_error(tmp_path):
    result = mlinterview("history", "verify", str(tmp_path / "nope.jsonl"))
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_a_torn_last_line_is_cut_and_the_chain_continues(history):
    with open(history, "ab") as handle:
        handle.write(b'{"kind":"execute_req')  # a write torn by a power loss
    recorder = HistoryRecorder(history_dir=str(history.parent), session_id="interview-1")
    recorder.start()
    recorder.store.close()
    events = read_events(history)
    assert events[9]["kind"] == "session_start" and events[9]["detail"]["truncated_bytes"] == 20
    assert events[9]["detail"]["resumed"] is True
    assert verify_history(history).ok


def test_a_restarted_recorder_marks_requests_left_without_reply_as_lost(tmp_path):
    first = HistoryRecorder(history_dir=str(tmp_path), session_id="s")
    first.start()
    first.request(msg_id="open", kernel_id="k", owner="tab", user="alice", code="train()", cell_id="c")
    first.store.close()  # the server dies here
    second = HistoryRecorder(history_dir=str(tmp_path), session_id="s")
    second.start()
    second.store.close()
    events = read_events(second.path)
    assert [e["kind"] for e in events] == ["session_start", "execute_request", "session_start", "execute_lost"]
    assert events[-1]["msg_id"] == "open" and events[-1]["user"] == "alice"
    assert verify_history(second.path).ok


@pytest.mark.parametrize("policy, synced_kinds", [
    ("replies", ["session_start", "execute_reply"]),
    ("every_event", ["session_start", "execute_request", "execute_reply"]),
    ("never", []),
])
def test_fsync_policy(tmp_path, monkeypatch, policy, synced_kinds):
    store = HistoryFile(tmp_path / "h.jsonl", fsync=policy)
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(store.chain.last_seq) or real_fsync(fd))
    for kind in ("session_start", "execute_request", "execute_reply"):
        store.append({"kind": kind, "time": "t", "session": "s", "msg_id": "m"})
    kinds = ["session_start", "execute_request", "execute_reply"]
    assert [kinds[seq] for seq in synced] == synced_kinds


def test_default_fsync_runs_in_the_background_soon_after_a_write(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(time.monotonic()) or real_fsync(fd))
    store = HistoryFile(tmp_path / "h.jsonl", fsync_interval=0.2)
    assert store.fsync == "interval"
    written = time.monotonic()
    store.append({"kind": "session_start", "time": "t", "session": "s"})
    assert read_events(store.path)[0]["seq"] == 0  # in the file at once (page cache: kill -9 safe)
    while not synced and time.monotonic() - written < 5:
        time.sleep(0.01)
    assert synced and synced[0] - written < 1.0
    store.close()


def test_streamer_drops_acknowledged_events_and_rewinds_when_the_hub_has_less(tmp_path):
    store = HistoryFile(tmp_path / "h.jsonl")
    for i in range(5):
        store.append({"kind": "note", "time": "t", "session": "s", "detail": {"text": str(i)}})
    streamer = HubStreamer(store, url="http://hub.invalid/history")
    for event in read_events(store.path):
        streamer.enqueue(event)
    streamer._acknowledge(2)
    assert [e["seq"] for e in streamer.queue] == [3, 4] and streamer.acked_path.read_text().strip() == "2"
    streamer._acknowledge(0)  # the hub lost events 1 and 2: they are sent again
    assert [e["seq"] for e in streamer.queue] == [1, 2, 3, 4]
    restarted = HubStreamer(HistoryFile(store.path), url="http://hub.invalid/history")
    assert [e["seq"] for e in restarted.queue] == [1, 2, 3, 4]


async def test_a_waiting_done_cuts_short_the_backoff_left_by_a_failure(tmp_path):
    """The candidate's "I'm done" waits for the service's acknowledgement: a service that failed
    once and answers again must get the event at once, not after the streamer's backoff."""
    from tornado import httpserver, netutil, web

    answers = {"fail": True, "posts": 0}

    class History(web.RequestHandler):
        def get(self):
            self.finish({"stored_seq": -1})

        def post(self):
            answers["posts"] += 1
            if answers["fail"]:
                raise web.HTTPError(503)
            self.finish({"stored_seq": json.loads(self.request.body)["events"][-1]["seq"]})

    [sock] = netutil.bind_sockets(0, "127.0.0.1")
    server = httpserver.HTTPServer(web.Application([("/history", History)]))
    server.add_sockets([sock])
    store = HistoryFile(tmp_path / "h.jsonl")
    streamer = HubStreamer(store, url=f"http://127.0.0.1:{sock.getsockname()[1]}/history", first_backoff=60.0)
    try:
        streamer.start()
        first = store.append({"kind": "note", "time": "t", "session": "s", "detail": {"text": "work"}})
        streamer.enqueue(first)
        while streamer.failures == 0:
            await asyncio.sleep(0.05)
        # the streamer now waits a minute before its retry; the service is back
        answers["fail"] = False
        done = store.append({"kind": "interview", "time": "t", "session": "s", "detail": {"event": "done"}})
        streamer.enqueue(done)
        assert await streamer.delivered(done["seq"], timeout=10), (streamer.acked_seq, answers)
        assert streamer.acked_seq == done["seq"] and answers["posts"] == 2
    finally:
        await streamer.stop(flush_timeout=0.1)
        server.stop()
        store.close()
