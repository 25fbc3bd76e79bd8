"""The execution history: schema of one event, the hash chain, reading and verifying.

This module *defines* the format that the server extension writes (``extension/``), the hub
service keeps as the authoritative copy, and the grader reads (``graders/``): it belongs to
none of them, so each imports it from here. A history is a JSON-lines file,
one event per line, UTF-8. Every event carries ``seq`` (0, 1, 2, ... with no gaps), ``prev``
(the ``hash`` of the event before it; 64 zeros for the first) and ``hash``: the SHA-256 of the
canonical JSON (sorted keys, no spaces, UTF-8) of the event without its ``hash`` field. An edit
changes a hash, a deleted line breaks ``seq`` and ``prev``, a reordering shows as ``seq`` going
back: ``verify_history`` names each.

Kinds of events (``kind``) and the fields they use beyond the common ones:

``session_start``    ``notebook`` (may be null), ``detail`` (server/extension versions)
``execute_request``  ``msg_id``, ``kernel_id``, ``notebook``, ``cell_id``, ``code``
``execute_reply``    ``msg_id`` (of the request), ``kernel_id``, ``status`` (ok/error/aborted),
                     ``execution_count``, ``duration_ms``, ``error`` ({ename, evalue}), ``outputs``,
                     ``detail``: {run_ms} when the kernel said it was busy (``duration_ms`` counts from
                     the request, queue time included; ``run_ms`` from the kernel's busy status)
``execute_lost``     ``msg_id``: a request whose reply never came (kernel died or restarted)
``kernel_event``     ``kernel_id``, ``detail``: started, restarted, interrupted, died, shutdown
``constraint``       ``kernel_id``, ``detail``: {event: violation|near_limit|time_budget|tamper, model, count, limit, message}
``note``             ``detail``: {text}: an interviewer's note pinned to this moment
``kernel_input``     ``kernel_id``, ``detail``: {channel, msg_type, content (bounded)}: a message from a browser
                     other than an execute request that hands data to the candidate's code (widget
                     comm messages, ``input()`` replies)
``refused``          ``kernel_id``, ``detail``: {channel, msg_type, reason}: a message from a browser the
                     server did not pass to the kernel (e.g. code sent on the control channel)
``interview``        ``detail``: {event: time_up|done, ...}: the interview's time budget ran out
                     (``time_out``: soft or hard, ``deadline``), or the candidate said they are done
``file_saved``       ``detail``: {path (relative to the workspace), bytes, sha256, and either ``text`` (the whole
                     file, its first save in this session) or ``diff`` (unified, against the previous
                     save), cut at ``FILE_TEXT_LIMIT`` with ``truncated``}: a file (not a notebook:
                     ``notebook_saved``) saved through the server's contents API, by the editor or the
                     collaboration's autosave; recorded by the server, never the kernel
``notebook_saved``   ``detail``: {path, bytes, sha256, order (the cells' ids, in order), changes: [{op: add|edit,
                     id, index, cell_type, source} or {op: delete, id}]}: a notebook saved through the
                     contents API (JupyterLab, the collaboration's autosave), cell by cell against its
                     previous save (all cells added on the first); sources cut at ``FILE_TEXT_LIMIT`` in
                     all per save (``truncated``); outputs are in the executions, not here. Both
                     kinds share a session budget of saved text (``HistoryRecorder.saved_text_budget``,
                     32 Mi characters): past it a save keeps its size and hash, with ``over_budget``
``figure``           ``msg_id``, ``kernel_id``, ``cell_id``, ``detail``: {mime (image/png or image/jpeg), bytes,
                     sha256, data (base64)}: the last figure a cell displayed, checked to be a PNG or
                     JPEG and at most ``FIGURE_LIMIT`` bytes, when it differs from the kernel's previous one
``document``         ``detail``: {action: open|close, path}: a user's first browser tab opened a document of the
                     workspace (the collaboration's room; a notebook, a scaffold file) or their last one closed it.
                     A save's author is the one user who had the document open since its previous save
                     (``user``, ``role``); when several had, ``detail.editors`` names them all and ``user`` is empty
``answer``           ``detail``: {question (the pack's question id), characters, sha256, text (or ``over_budget``
                     past the saved-text budget)}: the candidate saved an answer to an open question; the last
                     one per question is their answer
``status``           ``kernel_id``, ``msg_id`` (the cell that changed it), ``detail``: {models: [[name,
                     trainable parameters]], training_seconds}: the kernel's status signal when it
                     changed (what the candidate's code says, shown, never trusted)

Common fields: ``schema`` (``SCHEMA``), ``seq``, ``time`` (ISO 8601, UTC), ``session`` (one id per
recorded session), ``kind``, ``user`` (hub user name who caused it, or null), ``role``
(candidate / interviewer / system), ``prev``, ``hash``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA = "mlinterview.history/1"
GENESIS = "0" * 64
EVENT_KINDS = (
    "session_start",
    "execute_request",
    "execute_reply",
    "execute_lost",
    "kernel_event",
    "constraint",
    "note",
    "kernel_input",
    "refused",
    "interview",
    "status",
    "file_saved",
    "notebook_saved",
    "figure",
    "document",
    "answer",
)
# Outputs are summarised, never stored whole: a cell that prints 100 MB must not make a 100 MB history.
OUTPUT_TEXT_LIMIT = 2000
FIGURE_LIMIT = 192 << 10  # bytes of the last figure of a cell kept (a PNG or a JPEG); a bigger one is left out
FILE_TEXT_LIMIT = 64 << 10  # characters of a saved file's text or diff kept per save


class OutputSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    types: list[str] = Field(default_factory=list, description="Output message types in order (stream, execute_result, ...).")
    text: str = Field(default="", description=f"First {OUTPUT_TEXT_LIMIT} characters of the text outputs.")
    bytes: int = Field(default=0, description="Total size of all outputs.")
    truncated: bool = False


class ErrorInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ename: str
    evalue: str


class HistoryEvent(BaseModel):
    """One line of a history file."""

    model_config = ConfigDict(extra="forbid")

    schema_: Literal["mlinterview.history/1"] = Field(default=SCHEMA, alias="schema")
    seq: int = Field(ge=0)
    time: str
    session: str
    kind: Literal[
        "session_start", "execute_request", "execute_reply", "execute_lost", "kernel_event", "constraint", "note",
        "kernel_input", "refused", "interview", "status", "file_saved", "notebook_saved", "figure", "document", "answer",
    ]
    user: str | None = None
    role: Literal["candidate", "interviewer", "system"] = "system"
    msg_id: str | None = None
    kernel_id: str | None = None
    notebook: str | None = None
    cell_id: str | None = None
    code: str | None = None
    status: Literal["ok", "error", "aborted"] | None = None
    execution_count: int | None = None
    duration_ms: float | None = None
    error: ErrorInfo | None = None
    outputs: OutputSummary | None = None
    detail: dict[str, Any] | None = None
    prev: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


def canonical_bytes(event: dict[str, Any]) -> bytes:
    body = {key: value for key, value in event.items() if key != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_hash(event: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(event)).hexdigest()


def seal(event: dict[str, Any], seq: int, prev: str) -> dict[str, Any]:
    """Return ``event`` with schema, seq, prev and hash set: ready to append as one line."""
    sealed = {key: value for key, value in event.items() if value is not None and key != "hash"}
    sealed.update(schema=SCHEMA, seq=seq, prev=prev)
    sealed["hash"] = event_hash(sealed)
    return sealed


def dumps_line(event: dict[str, Any]) -> str:
    """The line for a sealed event (newline included)."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


class HistoryChain:
    """Builds a chain in memory: ``append(event)`` seals and returns the next line's event."""

    def __init__(self, last_seq: int = -1, last_hash: str = GENESIS):
        self.last_seq = last_seq
        self.last_hash = last_hash

    @classmethod
    def resume(cls, path: Path) -> "HistoryChain":
        """Continue the chain of an existing file (its last intact line)."""
        chain = cls()
        for event in read_events(path, strict=False):
            chain.last_seq, chain.last_hash = event["seq"], event["hash"]
        return chain

    def append(self, event: dict[str, Any]) -> dict[str, Any]:
        sealed = seal(event, self.last_seq + 1, self.last_hash)
        self.last_seq, self.last_hash = sealed["seq"], sealed["hash"]
        return sealed


def link_problem(sealed: dict[str, Any], last_seq: int, last_hash: str) -> str | None:
    """Why ``sealed`` cannot follow the event (``last_seq``, ``last_hash``) of a chain, or None:
    a broken link, a content that does not match its hash, or not a valid event. The hub service
    checks each event it is sent with this before storing it."""
    seq = sealed.get("seq")
    if sealed.get("prev") != last_hash:
        return f"seq {seq}: 'prev' does not match the hash of seq {last_seq}"
    if event_hash(sealed) != sealed.get("hash"):
        return f"seq {seq}: its content does not match its hash"
    try:
        HistoryEvent.model_validate(sealed)
    except ValidationError as error:
        field_name = ".".join(str(part) for part in error.errors()[0]["loc"])
        return f"seq {seq}: not a valid history event (field '{field_name}')"
    return None


def read_events(path: Path, *, strict: bool = True) -> list[dict[str, Any]]:
    """Events of a history file, in file order. A torn last line (a crash mid-write) is skipped
    when not ``strict``; any other unreadable line raises ValueError naming the line."""
    return parse_events(Path(path).read_bytes(), str(path), strict=strict)


def parse_events(data: bytes, name: str = "history", *, strict: bool = True) -> list[dict[str, Any]]:
    """The events in the bytes of a history file (see :func:`read_events`); ``name`` for errors."""
    events = []
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        try:
            events.append(json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            if not strict and number == len(lines):
                break
            raise ValueError(f"{name}: line {number} is not a JSON event ({error})") from None
    return events


@dataclass
class VerifyResult:
    events: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_events(events: Iterable[dict[str, Any]]) -> VerifyResult:
    """Check the chain: each event valid, hashed right, linked to the one before, seq consecutive."""
    result = VerifyResult()
    previous_hash, expected_seq = GENESIS, 0
    for line, event in enumerate(events, start=1):
        result.events += 1
        try:
            HistoryEvent.model_validate(event)
        except ValidationError as error:
            result.problems.append(f"line {line}: not a valid event ({error.error_count()} field error(s): {error.errors()[0]['loc']})")
        seq = event.get("seq")
        if event.get("hash") != event_hash(event):
            result.problems.append(f"line {line} (seq {seq}): edited - its content does not match its hash")
        if isinstance(seq, int) and seq != expected_seq:
            if seq < expected_seq:
                result.problems.append(f"line {line}: reordered - seq {seq} comes after seq {expected_seq - 1}")
            else:
                result.problems.append(f"line {line}: gap - seq {expected_seq}..{seq - 1} missing (deleted lines)")
        elif event.get("prev") != previous_hash:
            result.problems.append(f"line {line} (seq {seq}): chain broken - 'prev' does not match the hash of the line before")
        previous_hash = event.get("hash", "")
        expected_seq = (seq + 1) if isinstance(seq, int) else expected_seq + 1
    return result


def verify_history(path: Path) -> VerifyResult:
    try:
        events = read_events(path)
    except ValueError as error:
        return VerifyResult(problems=[str(error)])
    return verify_events(events)


# -- the diffs of file_saved -------------------------------------------------------------------------
HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@")
NO_NEWLINE = "\\ No newline at end of file\n"


def text_diff(before: str, after: str, path: str) -> str:
    """The unified diff (2 lines of context) that ``file_saved`` records: every line ends with a
    newline, and a line that had none is followed by ``\\ No newline at end of file``, as GNU diff
    writes it, so :func:`apply_text_diff` gets back exactly ``after``."""
    lines = []
    for line in difflib.unified_diff(before.splitlines(True), after.splitlines(True), path, path, n=2):
        lines.append(line if line.endswith("\n") else line + "\n" + NO_NEWLINE)
    return "".join(lines)


def apply_text_diff(text: str, diff: str) -> str | None:
    """``text`` with a :func:`text_diff` applied; None when the diff does not fit the text."""
    lines = text.splitlines(True)
    hunks: list[tuple[int, list[tuple[str, str]]]] = []
    for line in diff.splitlines(True):
        match = HUNK.match(line)
        if match:
            start = int(match.group(1)) - (0 if match.group(2) == "0" else 1)
            hunks.append((start, []))
        elif line == NO_NEWLINE and hunks and hunks[-1][1]:
            tag, body = hunks[-1][1][-1]
            hunks[-1][1][-1] = (tag, body[:-1])
        elif hunks and line[:1] in (" ", "-", "+"):
            hunks[-1][1].append((line[:1], line[1:]))
    result: list[str] = []
    position = 0
    for start, body in hunks:
        if start < position or start > len(lines):
            return None
        result.extend(lines[position:start])
        position = start
        for tag, line in body:
            if tag in (" ", "-"):
                if position >= len(lines) or lines[position] != line:
                    return None
                position += 1
            if tag in (" ", "+"):
                result.append(line)
    result.extend(lines[position:])
    return "".join(result)
