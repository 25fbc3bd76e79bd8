"""The playback's model (mlinterview/playback.py, extension/service_playback.py) from histories a real
HistoryRecorder wrote, reading real files: the notebook and the files at a moment are exactly what was
saved or run then, saves are attributed to whoever had the document open, flags are facts, and a record
that was tampered with or that lost saves says so."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from mlinterview.extension.history_recorder import HistoryRecorder
from mlinterview.extension.service_playback import playback_model
from mlinterview.history import GENESIS, HistoryChain, apply_text_diff, read_events, text_diff
from mlinterview.playback import build, completeness


def notebook(*cells: tuple[str, str]) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"id": cell_id, "cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None}
        for cell_id, source in cells]})


class Session:
    """A recorder over a workspace folder: save files the way the contents API does, run cells."""

    def __init__(self, tmp_path: Path, **config):
        self.root = tmp_path / "workspace"
        self.root.mkdir()
        self.recorder = HistoryRecorder(history_dir=str(tmp_path / "history"), session_id="s", owner="alice", **config)
        self.recorder.start({"server": "test"})
        self.count = 0

    def save(self, path: str, content: str) -> None:
        (self.root / path).parent.mkdir(parents=True, exist_ok=True)
        (self.root / path).write_text(content)
        kind = "notebook" if path.endswith(".ipynb") else "file"
        self.recorder.file_saved(str(self.root), path, {"type": kind})

    def run(self, cell_id: str, code: str, error: tuple[str, str] | None = None, user: str = "alice") -> None:
        self.count += 1
        msg_id = f"m{self.count}"
        self.recorder.request(msg_id=msg_id, kernel_id="k", owner="tab", user=user, code=code, cell_id=cell_id)
        reply = {"status": "error" if error else "ok", "execution_count": self.count}
        if error:
            reply.update(ename=error[0], evalue=error[1])
        self.recorder.reply(msg_id, reply)

    def events(self) -> list[dict]:
        return read_events(self.recorder.path)

    def seq(self) -> int:
        return self.events()[-1]["seq"]


def state_at(play, seq: int) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """What the page shows just after event ``seq``: the notebook's cells and each file's text."""
    frames = [f for f in play.notebooks.get("interview.ipynb", []) if f["seq"] <= seq]
    cells = [(c[0], play.strings.items[c[2]]) for c in frames[-1]["cells"]] if frames else []
    files = {}
    for path, versions in play.files.items():
        kept = [v for v in versions if v["seq"] <= seq]
        if kept:
            files[path] = play.strings.items[kept[-1]["text"]] if kept[-1]["text"] is not None else None
    return cells, files


def test_the_notebook_and_the_files_at_each_moment_are_what_was_saved(tmp_path):
    session = Session(tmp_path)
    moments = []
    session.save("interview.ipynb", notebook(("a", "import torch"), ("b", "model = make()")))
    session.save("kit/model.py", "WIDTH = 64\nDEPTH = 2\n")
    moments.append((session.seq(), [("a", "import torch"), ("b", "model = make()")], {"kit/model.py": "WIDTH = 64\nDEPTH = 2\n"}))
    session.save("interview.ipynb", notebook(("a", "import torch"), ("c", "df.describe()"), ("b", "model = make(width=8)")))
    session.save("kit/model.py", "WIDTH = 8\nDEPTH = 2")  # no newline at the end: kept exactly
    moments.append((session.seq(), [("a", "import torch"), ("c", "df.describe()"), ("b", "model = make(width=8)")],
                    {"kit/model.py": "WIDTH = 8\nDEPTH = 2"}))
    session.save("interview.ipynb", notebook(("c", "df.describe()"), ("b", "model = make(width=8)")))
    session.save("kit/data.py", "SEED = 1\n")
    moments.append((session.seq(), [("c", "df.describe()"), ("b", "model = make(width=8)")],
                    {"kit/model.py": "WIDTH = 8\nDEPTH = 2", "kit/data.py": "SEED = 1\n"}))
    play = build(session.events())
    for seq, cells, files in moments:
        assert state_at(play, seq) == (cells, files), seq
    assert not play.gaps and completeness(session.events())["complete"]


def test_a_cell_run_after_its_last_save_shows_the_code_it_ran(tmp_path):
    session = Session(tmp_path)
    session.save("interview.ipynb", notebook(("a", "x = 1")))
    session.run("a", "x = 2  # edited, run, not saved yet")
    session.run("new", "print(x)", error=("NameError", "name 'x' is not defined"))
    play = build(session.events())
    runs = [(r["cell_id"], play.strings.items[r["code"]], r["status"]) for r in play.executions]
    assert runs == [("a", "x = 2  # edited, run, not saved yet", "ok"), ("new", "print(x)", "error")]
    assert play.executions[1]["error"].startswith("NameError") and play.executions[0]["t"] >= play.notebooks["interview.ipynb"][0]["t"]
    assert [row["mark"] for row in play.timeline if row["kind"] == "execute"] == [None, "error"]


def test_a_save_is_attributed_to_whoever_had_the_document_open(tmp_path):
    session = Session(tmp_path)
    recorder = session.recorder
    recorder.document_presence("interview.ipynb", "alice", "join")
    recorder.document_presence("interview.ipynb", "alice", "join")  # a second tab: no second event
    session.save("interview.ipynb", notebook(("a", "x = 1")))
    recorder.document_presence("interview.ipynb", "bob", "join")
    session.save("interview.ipynb", notebook(("a", "x = 2")))
    recorder.document_presence("interview.ipynb", "bob", "leave")
    session.save("interview.ipynb", notebook(("a", "x = 3")))  # bob was there since the previous save
    session.save("interview.ipynb", notebook(("a", "x = 4")))
    recorder.document_presence("kit/model.py", "alice", "join")
    events = session.events()
    saves = [e for e in events if e["kind"] == "notebook_saved"]
    assert [(e.get("user"), e.get("role")) for e in saves] == [("alice", "candidate"), (None, "system"), (None, "system"), ("alice", "candidate")]
    assert saves[1]["detail"]["editors"] == [{"user": "alice", "role": "candidate"}, {"user": "bob", "role": "interviewer"}]
    documents = [(e["user"], e["detail"]["action"], e["detail"]["path"]) for e in events if e["kind"] == "document"]
    assert documents == [("alice", "open", "interview.ipynb"), ("bob", "open", "interview.ipynb"), ("bob", "close", "interview.ipynb"),
                         ("alice", "open", "kit/model.py")]
    flags = build(events).flags
    assert [f["kind"] for f in flags] == ["other_file"] and "kit/model.py" in flags[0]["text"]


def _timed(events: list[dict]) -> list[dict]:
    chain = HistoryChain(-1, GENESIS)
    return [chain.append(dict(event, session="s")) for event in events]


def test_pasted_code_and_idle_stretches_are_flagged_with_their_sizes(tmp_path):
    typed = "x = 1\n" * 10
    pasted = typed + "def train(model):\n" + "    pass\n" * 120
    events = _timed([
        {"kind": "session_start", "time": "2026-12-01T10:00:00+00:00", "role": "system"},
        {"kind": "notebook_saved", "time": "2026-12-01T10:01:00+00:00", "user": "alice", "role": "candidate",
         "detail": {"path": "nb.ipynb", "order": ["a"], "changes": [{"op": "add", "id": "a", "index": 0, "cell_type": "code", "source": typed}]}},
        # three minutes of typing at a human pace: no flag
        {"kind": "notebook_saved", "time": "2026-12-01T10:04:00+00:00", "user": "alice", "role": "candidate",
         "detail": {"path": "nb.ipynb", "order": ["a"], "changes": [{"op": "edit", "id": "a", "index": 0, "cell_type": "code", "source": typed * 20}]}},
        # then a thousand characters within two seconds
        {"kind": "notebook_saved", "time": "2026-12-01T10:04:02+00:00", "user": "alice", "role": "candidate",
         "detail": {"path": "nb.ipynb", "order": ["a"], "changes": [{"op": "edit", "id": "a", "index": 0, "cell_type": "code", "source": typed * 20 + pasted}]}},
        {"kind": "execute_request", "time": "2026-12-01T10:05:00+00:00", "msg_id": "m", "cell_id": "a", "code": "train()", "user": "alice", "role": "candidate"},
        {"kind": "execute_reply", "time": "2026-12-01T10:13:00+00:00", "msg_id": "m", "status": "ok", "role": "system"},  # eight minutes of training: busy, not idle
        {"kind": "execute_request", "time": "2026-12-01T10:14:00+00:00", "msg_id": "n", "cell_id": "a", "code": "x", "user": "alice", "role": "candidate"},
        {"kind": "execute_reply", "time": "2026-12-01T10:14:01+00:00", "msg_id": "n", "status": "ok", "role": "system"},
        {"kind": "execute_request", "time": "2026-12-01T10:26:01+00:00", "msg_id": "o", "cell_id": "a", "code": "y", "user": "alice", "role": "candidate"},
    ])
    play = build(events)
    kinds = [(f["kind"], f.get("characters")) for f in play.flags]
    assert kinds == [("paste", len(pasted)), ("idle", None)], play.flags
    assert "12 minutes" in play.flags[1]["text"] and f"{len(pasted):,} characters" in play.flags[0]["text"]


def test_gaps_make_the_playback_incomplete_and_a_tampered_record_does_not_verify(tmp_path):
    session = Session(tmp_path, saved_text_budget=60)
    session.save("interview.ipynb", notebook(("a", "x = 1")))
    session.save("kit/big.py", "B = '" + "x" * 200 + "'\n")
    events = session.events()
    verdict = completeness(events)
    assert not verdict["complete"] and any("kit/big.py" in gap and "storage budget" in gap for gap in verdict["gaps"])
    model = playback_model(events, [])
    assert model["integrity"]["verified"] and not model["integrity"]["complete"]
    assert model["files"]["kit/big.py"][0]["text"] is None
    # an edit of a recorded save is found, and the page is told
    tampered = [dict(e) for e in events]
    saved = next(e for e in tampered if e["kind"] == "notebook_saved")
    saved["detail"] = dict(saved["detail"], changes=[dict(saved["detail"]["changes"][0], source="x = 'not what was typed'")])
    model = playback_model(tampered, [])
    assert not model["integrity"]["verified"] and any("hash" in p or "edited" in p for p in model["integrity"]["problems"])


def test_a_recorded_diff_gives_back_the_saved_text_exactly():
    rng = random.Random(7)
    pieces = ["a = 1\n", "b\n", "", "\n", "tail", "def f():\n", "    return 2\n"]
    for _ in range(3000):
        before = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        lines = before.splitlines(True)
        for _ in range(rng.randint(1, 4)):
            if lines and rng.random() < 0.4:
                lines.pop(rng.randrange(len(lines)))
            else:
                lines.insert(rng.randint(0, len(lines)), rng.choice(pieces))
        after = "".join(lines)
        assert apply_text_diff(before, text_diff(before, after, "f.py")) == after
    assert apply_text_diff("one\ntwo\n", text_diff("uno\ntwo\n", "uno\ndos\n", "f.py")) is None  # not this text's diff


@pytest.mark.parametrize("shipped", ["WIDTH = 64\n"])
def test_the_model_diffs_each_version_against_the_shipped_file(tmp_path, shipped):
    class Pack:
        candidate_dir = tmp_path / "pack"
    (Pack.candidate_dir / "kit").mkdir(parents=True)
    (Pack.candidate_dir / "kit" / "model.py").write_text(shipped)
    session = Session(tmp_path)
    session.save("kit/model.py", "WIDTH = 8\n")
    model = playback_model(session.events(), [{"time": session.events()[-1]["time"], "at_seq": 1, "text": "good catch", "author": "bob"}], Pack)
    version = model["files"]["kit/model.py"][0]
    diff = model["strings"][version["diff"]]
    assert "-WIDTH = 64" in diff and "+WIDTH = 8" in diff and version["added"] == 1 and version["removed"] == 1
    assert [row["label"] for row in model["timeline"] if row["mark"] == "note"] == ["note: good catch"]
