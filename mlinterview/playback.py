"""Playback of a recorded session, from its history alone (``history.py``): the notebook and the
workspace's files as they were at any moment, the executions with their outputs, and the facts a
reviewer wants pointed out. The interview service's playback page (``extension/service_playback.py``)
and the grader's report (``graders/report.py``) both read it from here.

What the record holds, and so what a playback can show:

- the notebook as saved: jupyter-collaboration saves a notebook about a second after each change,
  and each save is a ``notebook_saved`` event (the cells' order and each changed cell's source);
- the source of a cell as it ran: each ``execute_request`` has the code and the cell's id, so an
  edit that was run shows from the moment it ran even before its save;
- outputs as last shown: each ``execute_reply`` has a bounded summary of what the cell printed
  (its text, its error), never whole outputs; a figure is named, not drawn;
- each text file saved in the workspace (``file_saved``: its text first, then unified diffs).

Keystrokes between two saves are not kept: a playback is exact at every save and every run, which
is what a reviewer steps through. A save the record could not keep whole (past the session's
budget of saved text, a file that could not be read, a source cut at the per-save limit) is a gap:
:func:`completeness` names each, and the report says whether the playback is complete.

Flags are facts, not verdicts: many characters appearing in a cell or file at once (pasted or
generated code: more than ``PASTE_CHARACTERS``, faster than ``PASTE_RATE`` characters a second),
stretches of ``IDLE_MINUTES`` or more with nothing run, edited or opened, and the moments the
candidate opened another file than the notebook.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable

from .history import apply_text_diff

PASTE_CHARACTERS = 300
PASTE_RATE = 30.0  # characters a second: faster than anyone types
IDLE_MINUTES = 5.0
# what is not idleness: the candidate's runs, edits and documents, and a cell's end (they waited for it)
ACTIVITY = ("execute_request", "execute_reply", "execute_lost", "notebook_saved", "file_saved", "document", "kernel_input")


def event_time(event: dict[str, Any]) -> float | None:
    """The event's time in seconds since the epoch (None if it has none)."""
    try:
        return dt.datetime.fromisoformat(str(event.get("time")).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class Strings:
    """Each distinct text once: frames and executions refer to texts by index (a 60-minute session
    saves the same cells hundreds of times)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.index: dict[str, int] = {}

    def ref(self, text: str) -> int:
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.items)
            self.items.append(text)
        return found


@dataclass
class Playback:
    start: float | None = None
    end: float | None = None
    strings: Strings = field(default_factory=Strings)
    # notebook path -> [{t, seq, cells: [[id, type, source ref]], by}]
    notebooks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # file path -> [{t, seq, text: ref or None (unknown), by}]
    files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    executions: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    saves: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start, "end": self.end, "strings": self.strings.items, "notebooks": self.notebooks,
            "files": self.files, "executions": self.executions, "timeline": self.timeline, "flags": self.flags,
            "gaps": self.gaps, "saves": self.saves,
        }


def _by(event: dict[str, Any], names: dict[str, str]) -> str:
    """Who caused an event, by the name people know them by: "Pia (candidate)"; all who may have, for a save."""
    if event.get("user"):
        return f"{names.get(event['user'], event['user'])} ({event.get('role')})"
    editors = (event.get("detail") or {}).get("editors") or []
    return " or ".join(f"{names.get(e.get('user'), e.get('user'))} ({e.get('role')})" for e in editors) or "unknown"


def _label(event: dict[str, Any]) -> tuple[str, str | None]:
    """A timeline row's text and its mark (error, constraint, note, interview, save, document or None)."""
    kind, detail = event.get("kind"), event.get("detail") or {}
    if kind == "constraint":
        return f"constraint: {detail.get('event')} {detail.get('message') or ''}".strip(), "constraint"
    if kind == "note":
        return f"note: {detail.get('text', '')}", "note"
    if kind == "interview":
        return f"interview: {detail.get('event')}", "interview"
    if kind == "kernel_event":
        return f"kernel {detail.get('event') or detail.get('action') or ''}".strip(), None
    if kind == "document":
        return f"{detail.get('action')} {detail.get('path')}", "document"
    if kind in ("notebook_saved", "file_saved"):
        extra = " (past the storage budget: size and hash only)" if detail.get("over_budget") else ""
        return f"saved {detail.get('path')}{extra}", "save"
    if kind == "answer":
        return f"answered the question {detail.get('question')} ({detail.get('characters', 0):,} characters)", "note"
    if kind == "refused":
        return f"refused: {detail.get('reason')}", "constraint"
    return str(kind), None


def build(events: Iterable[dict[str, Any]], notes: Iterable[dict[str, Any]] = (), names: dict[str, str] | None = None) -> Playback:
    """The playback of a session from its history (in seq order) and the interviewer's notes
    (``{"at_seq", "time", "text", "author"}``, kept beside the history by the interview service);
    ``names`` maps hub user names to the names shown (the candidate's own)."""
    play = Playback()
    names = names or {}
    cells: dict[str, dict[str, tuple[str, str]]] = {}  # notebook path -> cell id -> (type, source) last saved
    last_saved_at: dict[str, float] = {}
    texts: dict[str, str | None] = {}
    pending: dict[str, dict[str, Any]] = {}
    last_activity: float | None = None
    events = list(events)
    for event in events:
        t = event_time(event)
        if t is None:
            continue
        play.start = t if play.start is None else min(play.start, t)
        play.end = t if play.end is None else max(play.end, t)
        kind, detail, seq = event.get("kind"), event.get("detail") or {}, event.get("seq")
        if kind in ACTIVITY and event.get("role") != "interviewer":
            if last_activity is not None and t - last_activity >= IDLE_MINUTES * 60 and not _running(pending, last_activity):
                play.flags.append({"t": last_activity, "until": t, "kind": "idle",
                                   "text": f"{(t - last_activity) / 60:.0f} minutes with nothing run, edited or opened"})
            last_activity = t if last_activity is None else max(last_activity, t)
        if kind == "notebook_saved":
            _notebook_saved(play, event, t, cells, last_saved_at, names)
        elif kind == "file_saved":
            _file_saved(play, event, t, texts, last_saved_at, names)
        elif kind == "execute_request":
            pending[event.get("msg_id")] = {
                "t": t, "seq": seq, "cell_id": event.get("cell_id"), "notebook": event.get("notebook"),
                "code": play.strings.ref(event.get("code") or ""), "by": _by(event, names), "status": "running",
            }
            play.executions.append(pending[event.get("msg_id")])
        elif kind in ("execute_reply", "execute_lost"):
            run = pending.pop(event.get("msg_id"), None)
            if run is not None:
                outputs = event.get("outputs") or {}
                run.update(t_end=t, status=event.get("status") or "lost", count=event.get("execution_count"),
                           output=play.strings.ref(outputs.get("text") or ""), types=outputs.get("types") or [])
                if event.get("error"):
                    run["error"] = f"{event['error'].get('ename')}: {event['error'].get('evalue')}"[:500]
                if kind == "execute_lost":
                    run["status"] = "lost"
                row = {"t": run["t"], "seq": run["seq"], "kind": "execute", "by": run["by"],
                       "label": _first_line(event_code(play, run)), "mark": "error" if run["status"] != "ok" else None}
                if run.get("error"):
                    row["label"] += f"  → {run['error'].split(':')[0]}"
                play.timeline.append(row)
        elif kind == "figure":
            run = next((r for r in reversed(play.executions) if r["seq"] is not None and r.get("cell_id") == event.get("cell_id")), None)
            if run is not None:
                run["figure"] = {"mime": detail.get("mime"), "bytes": detail.get("bytes"), "seq": seq}
        if kind in ("constraint", "note", "interview", "kernel_event", "document", "notebook_saved", "file_saved", "refused", "answer"):
            text, mark = _label(event)
            play.timeline.append({"t": t, "seq": seq, "kind": kind, "by": _by(event, names), "label": text[:300], "mark": mark})
        if kind == "document" and detail.get("action") == "open" and event.get("role") == "candidate" \
                and not str(detail.get("path", "")).endswith(".ipynb"):
            play.flags.append({"t": t, "kind": "other_file", "text": f"opened {detail.get('path')} (left the notebook)"})
    for note in notes:
        when = event_time(note)
        if when is not None:
            text = str(note.get("text", ""))
            play.timeline.append({"t": when, "seq": note.get("at_seq"), "kind": "note", "by": str(note.get("author") or ""),
                                  "label": f"note: {text}"[:300], "mark": "note"})
    play.flags.sort(key=lambda flag: flag["t"])
    for flag in play.flags:
        play.timeline.append({"t": flag["t"], "seq": None, "kind": "flag", "by": "", "label": flag["text"], "mark": "flag"})
    play.timeline.sort(key=lambda row: (row["t"], row["seq"] if row["seq"] is not None else -1))
    return play


def event_code(play: Playback, run: dict[str, Any]) -> str:
    return play.strings.items[run["code"]]


def _first_line(code: str) -> str:
    stripped = code.strip()
    return stripped.splitlines()[0][:100] if stripped else "(empty cell)"


def _running(pending: dict[str, dict[str, Any]], since: float) -> bool:
    """A cell still running is not idleness."""
    return any(run["t"] <= since for run in pending.values())


def _notebook_saved(play: Playback, event: dict[str, Any], t: float, cells: dict, last_saved_at: dict, names: dict) -> None:
    detail = event.get("detail") or {}
    path = str(detail.get("path"))
    play.saves += 1
    if detail.get("unread") or detail.get("over_budget"):
        play.gaps.append({"t": t, "seq": event.get("seq"), "path": path,
                          "reason": "past the storage budget: kept its size and hash only" if detail.get("over_budget")
                          else f"could not be read ({detail['unread']})"})
        return
    state = dict(cells.get(path, {}))
    since = t - last_saved_at.get(path, play.start or t)
    for change in detail.get("changes") or []:
        if change.get("op") == "delete":
            state.pop(change.get("id"), None)
            continue
        source = str(change.get("source", ""))
        if change.get("truncated"):
            play.gaps.append({"t": t, "seq": event.get("seq"), "path": path, "reason": f"cell {change.get('id')}'s source was cut"})
        grown = len(source) - len(state.get(change.get("id"), ("", ""))[1])
        if grown >= PASTE_CHARACTERS and grown / max(since, 1.0) >= PASTE_RATE and event.get("seq", 0) and path in cells:
            play.flags.append({"t": t, "kind": "paste", "path": path, "cell_id": change.get("id"), "characters": grown,
                               "text": f"{grown:,} characters appeared at once in a cell of {path} ({since:.0f} s after its previous save)"})
        state[change.get("id")] = (str(change.get("cell_type", "code")), source)
    cells[path] = state
    last_saved_at[path] = t
    order = [cell_id for cell_id in detail.get("order") or [] if cell_id in state]
    play.notebooks.setdefault(path, []).append({
        "t": t, "seq": event.get("seq"), "by": _by(event, names),
        "cells": [[cell_id, state[cell_id][0], play.strings.ref(state[cell_id][1])] for cell_id in order],
    })


def _file_saved(play: Playback, event: dict[str, Any], t: float, texts: dict, last_saved_at: dict, names: dict) -> None:
    detail = event.get("detail") or {}
    path = str(detail.get("path"))
    play.saves += 1
    previous = texts.get(path)
    text: str | None
    if "text" in detail:
        text = str(detail["text"])
    elif "diff" in detail and previous is not None:
        text = apply_text_diff(previous, str(detail["diff"]))
    else:
        text = None
    if detail.get("truncated") or detail.get("over_budget") or detail.get("unread") or text is None:
        reason = ("past the storage budget: kept its size and hash only" if detail.get("over_budget")
                  else f"could not be read ({detail['unread']})" if detail.get("unread")
                  else "its text was cut at the per-save limit" if detail.get("truncated")
                  else "its change could not be applied to the previous save")
        play.gaps.append({"t": t, "seq": event.get("seq"), "path": path, "reason": reason})
        if detail.get("truncated"):
            text = None
    if text is not None and previous is not None:
        grown = len(text) - len(previous)
        since = t - last_saved_at.get(path, play.start or t)
        if grown >= PASTE_CHARACTERS and grown / max(since, 1.0) >= PASTE_RATE:
            play.flags.append({"t": t, "kind": "paste", "path": path, "characters": grown,
                               "text": f"{grown:,} characters appeared at once in {path} ({since:.0f} s after its previous save)"})
    texts[path] = text
    last_saved_at[path] = t
    play.files.setdefault(path, []).append({"t": t, "seq": event.get("seq"), "by": _by(event, names),
                                            "text": None if text is None else play.strings.ref(text)})


def completeness(events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Whether the playback of a session is complete: every save in the record whole. The hash
    chain is checked apart (``history.verify_events``); this says what a verified record lacks."""
    play = build(events)
    return {"complete": not play.gaps, "saves": play.saves, "gaps": [f"{gap['path']}: {gap['reason']}" for gap in play.gaps][:20],
            "flags": [flag["text"] for flag in play.flags][:50]}


def last_answers(events: Iterable[dict[str, Any]], questions: Iterable[Any] = ()) -> list[dict[str, Any]]:
    """The candidate's answers to the pack's open questions (the last saved per question), in the
    pack's order: {question, prompt, signal, text, time, characters, saves, over_budget}. ``questions``
    are the manifest's (``scenarios/schema.py`` Question); an unanswered question has an empty text."""
    answers: dict[str, dict[str, Any]] = {}
    for event in events:
        detail = event.get("detail") or {}
        if event.get("kind") != "answer" or event.get("role") != "candidate":
            continue
        key = str(detail.get("question"))
        saves = answers.get(key, {}).get("saves", 0) + 1
        answers[key] = {"text": detail.get("text") or "", "time": event.get("time"), "characters": detail.get("characters", 0),
                        "over_budget": bool(detail.get("over_budget")), "saves": saves}
    listed = []
    for question in questions:
        found = answers.get(question.id, {"text": "", "time": None, "characters": 0, "over_budget": False, "saves": 0})
        listed.append({"question": question.id, "prompt": question.prompt, "signal": question.signal, **found})
    return listed


BREAK_MINUTES = 10.0


def active_minutes(events: Iterable[dict[str, Any]], break_minutes: float = BREAK_MINUTES) -> dict[str, Any]:
    """The candidate's active time, measured from the record: the stretches between their activity
    (runs, a cell's end, edits, documents, answers), a gap of ``break_minutes`` or more counted as a
    break, not as work. {active_minutes, breaks, break_minutes}."""
    times = sorted(t for event in events
                   if (event.get("kind") in ACTIVITY or event.get("kind") == "answer") and event.get("role") != "interviewer"
                   and (t := event_time(event)) is not None)
    active, breaks = 0.0, 0
    for before, after in zip(times, times[1:]):
        if after - before >= break_minutes * 60:
            breaks += 1
        else:
            active += after - before
    return {"active_minutes": round(active / 60, 1), "breaks": breaks, "break_minutes": break_minutes}
