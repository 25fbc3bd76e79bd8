"""The cell-history recorder: turns kernel traffic seen by the server into history events.

``HistoryRecorder`` is one per server. The websocket connection class
(``history_connection.py``) calls it for each execute request from a browser, each IOPub output
and each execute reply; jupyter-server's ``kernel_actions`` events (start, restart, interrupt,
shutdown) and the kernel manager's restart callbacks (a kernel that died) come in here too.
It keeps the executions still waiting for their reply (``pending``), summarises their outputs
within bounds, seals each event into the chain (``HistoryFile``), hands it to the hub streamer
and to live listeners (the interviewer's stream).

Which execution an output or reply belongs to is decided by the request's ``msg_id`` (the
``parent_header`` of the kernel's messages); outputs are counted only on the connection that
sent the request (identified by its session key, which survives a browser reconnect), so an
interviewer watching the same kernel does not double them.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from jupyter_core.paths import jupyter_data_dir
from traitlets import Instance, Int, Unicode, default
from traitlets.config import LoggingConfigurable

from ..history import FIGURE_LIMIT, FILE_TEXT_LIMIT, OUTPUT_TEXT_LIMIT, text_diff
from ..safe_files import read_plain
from .history_store import HistoryFile, HubStreamer

SAVED_FILE_MAX_BYTES = 1 << 20  # a saved file read back for the history (file_saved) at most
SAVED_NOTEBOOK_MAX_BYTES = 16 << 20  # a saved notebook read back (notebook_saved) at most; outputs make most of it
NOTEBOOK_CELLS_LIMIT = 2000  # cells of a saved notebook recorded at most

OUTPUT_TYPES_LIMIT = 64
ERROR_VALUE_LIMIT = 2000
CODE_LIMIT = 1_000_000  # a cell longer than this is cut (and marked) rather than bloating the chain
FIGURE_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}  # what a figure may be: never SVG or HTML
OUTPUT_KINDS = frozenset({"stream", "display_data", "execute_result", "error", "update_display_data"})


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass
class OutputAccumulator:
    """A bounded summary of one execution's outputs (the ``outputs`` field of its reply)."""

    text_limit: int = OUTPUT_TEXT_LIMIT
    types: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    text_length: int = 0
    bytes: int = 0
    truncated: bool = False
    figure: tuple[str, bytes] | None = None  # the last PNG or JPEG displayed (mime, bytes), within FIGURE_LIMIT

    @property
    def wants_text(self) -> bool:
        return self.text_length < self.text_limit

    def add(self, msg_type: str, size: int, text: str | None, figure: tuple[str, bytes] | None = None) -> None:
        self.bytes += size
        if figure is not None:
            self.figure = figure
        if len(self.types) < OUTPUT_TYPES_LIMIT:
            self.types.append(msg_type)
        else:
            self.truncated = True
        if text:
            room = self.text_limit - self.text_length
            if len(text) > room:
                self.truncated = True
            if room > 0:
                piece = text[:room]
                self.text.append(piece)
                self.text_length += len(piece)
        elif msg_type in ("stream", "execute_result", "display_data", "error") and not self.wants_text:
            self.truncated = True

    def summary(self) -> dict[str, Any]:
        return {"types": self.types, "text": "".join(self.text), "bytes": self.bytes, "truncated": self.truncated}


@dataclass
class PendingExecution:
    msg_id: str
    kernel_id: str
    owner: str
    user: str | None
    role: str
    notebook: str | None
    cell_id: str | None
    started: float
    outputs: OutputAccumulator
    idle: bool = False  # the kernel's idle status for this request has arrived: no more outputs
    reply_content: dict[str, Any] | None = None  # the execute_reply, while it waits for that status
    replied_at: float | None = None
    busy_at: float | None = None  # the kernel's busy status for this request: it started running


def text_of_output(msg_type: str, content: dict[str, Any]) -> str | None:
    """The readable text of an IOPub output message (None when it has none)."""
    if msg_type == "stream":
        return content.get("text")
    if msg_type == "error":
        return f"{content.get('ename', '')}: {content.get('evalue', '')}\n"
    data = content.get("data") or {}
    text = data.get("text/plain")
    return (text + "\n") if isinstance(text, str) else None


def figure_of_output(msg_type: str, content: dict[str, Any]) -> tuple[str, bytes] | None:
    """The PNG or JPEG an output displays, as (mime, bytes), if it is one (checked by its magic bytes)
    and at most ``FIGURE_LIMIT`` bytes; None otherwise."""
    if msg_type not in ("display_data", "execute_result", "update_display_data"):
        return None
    data = content.get("data") or {}
    for mime, magic in FIGURE_MAGIC.items():
        encoded = data.get(mime)
        if not isinstance(encoded, str) or len(encoded) > FIGURE_LIMIT * 2:
            continue
        try:
            raw = base64.b64decode(encoded)
        except (binascii.Error, ValueError):
            continue
        if raw.startswith(magic) and len(raw) <= FIGURE_LIMIT:
            return mime, raw
    return None


class HistoryRecorder(LoggingConfigurable):
    """Records every execution that passes through this server into the session's history."""

    history_dir = Unicode(
        help="Folder of the history files. Default: $MLINTERVIEW_HISTORY_DIR, else <jupyter data dir>/mlinterview/history "
        "(outside the notebook folder; the hub's copy is the authoritative one).",
    ).tag(config=True)
    session_id = Unicode(
        help="Id of the recorded session, also the file name. Default: $MLINTERVIEW_SESSION_ID, else the hub's "
        "interview id ($MLINTERVIEW_INTERVIEW), else one derived from the user and the server's root folder, so a restarted server continues its file.",
    ).tag(config=True)
    owner = Unicode(
        None, allow_none=True,
        help="Hub user who owns this server, the candidate ($JUPYTERHUB_USER); anyone else who runs code is an "
        "interviewer. Unset (no hub): everyone is the candidate.",
    ).tag(config=True)
    root_dir = Unicode("", help="The server's root folder (for the default session id).")
    output_text_limit = Int(OUTPUT_TEXT_LIMIT, help="Characters of output text kept per execution.").tag(config=True)
    saved_text_budget = Int(
        32 << 20,
        help="Characters of saved files' and notebooks' text (file_saved, notebook_saved) the session's history keeps in all; "
        "past it, a save is recorded with its size and hash only (over_budget), so a loop of saves cannot grow the record without end.",
    ).tag(config=True)
    store = Instance(HistoryFile, allow_none=True)
    streamer = Instance(HubStreamer, allow_none=True)

    @default("history_dir")
    def _default_history_dir(self) -> str:
        return os.environ.get("MLINTERVIEW_HISTORY_DIR") or os.path.join(jupyter_data_dir(), "mlinterview", "history")

    @default("session_id")
    def _default_session_id(self) -> str:
        explicit = os.environ.get("MLINTERVIEW_SESSION_ID") or os.environ.get("MLINTERVIEW_INTERVIEW")
        if explicit:
            return explicit
        user = os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
        digest = hashlib.sha256(os.path.abspath(self.root_dir or os.getcwd()).encode()).hexdigest()[:12]
        return f"{user}-{digest}"

    @default("owner")
    def _default_owner(self) -> str | None:
        return os.environ.get("JUPYTERHUB_USER")

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        hub_user = os.environ.get("JUPYTERHUB_USER")
        if hub_user and self.owner != hub_user:
            # the spawner's environment wins over config files, which a candidate may control: nobody
            # can make the candidate's cells look like an interviewer's
            self.log.warning("mlinterview: ignoring HistoryRecorder.owner=%r: the hub says this server is %r's", self.owner, hub_user)
            self.owner = hub_user
        self.pending: dict[str, PendingExecution] = {}
        # kernel id -> executions waiting for their reply: a connection's fast "anything to watch?" test
        self.pending_by_kernel: dict[str, int] = {}
        self.notebooks: dict[str, str] = {}
        self.notebook_checked: dict[str, float] = {}
        self.last_status: dict[str, dict[str, Any]] = {}  # kernel id -> its last status signal recorded
        self.last_figure: dict[str, str] = {}  # kernel id -> the sha256 of its last figure recorded
        self.saved_text: dict[str, str] = {}  # workspace path -> the text of its last recorded save
        self.saved_cells: dict[str, list[tuple[str, str, str]]] = {}  # notebook path -> its cells (id, type, source) last recorded
        self.saved_text_spent = 0  # characters of saved text recorded so far (saved_text_budget)
        self.over_budget_saves: dict[str, str] = {}  # path -> sha256 of its last save recorded past the budget
        # who has a document open (the collaboration's rooms): path -> user -> open tabs; and who had it
        # open at any moment since its last recorded save, the possible authors of the next one
        self.in_document: dict[str, dict[str, int]] = {}
        self.editors_since_save: dict[str, set[str]] = {}
        # how a save's event reaches the record: at once by default; the server extension reads and
        # diffs saves in a thread of their own and hands the event back to its event loop
        self.answers: dict[str, dict[str, Any]] = {}  # question id -> its last recorded answer (text, time)
        self.save_delivery: Callable[[Callable[[], None]], None] = lambda deliver: deliver()
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        # the browsers' kernel connections, so a kernel stopped for a limit can say why in the running cell
        self.connections: dict[str, set[Any]] = {}

    @property
    def path(self) -> Path:
        return Path(self.history_dir) / f"{self.session_id}.jsonl"

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, detail: dict[str, Any] | None = None) -> None:
        """Open the file (resuming its chain), note executions a crash left open, start streaming."""
        self.store = HistoryFile(self.path, parent=self)
        self.streamer = HubStreamer(self.store, parent=self)
        unanswered = self._unanswered(self.store.existing_events)
        for event in self.store.existing_events:  # a restarted server shows the answers given before
            detail = event.get("detail") or {}
            if event.get("kind") == "answer" and isinstance(detail.get("text"), str):
                self.answers[str(detail.get("question"))] = {"text": detail["text"], "time": event.get("time")}
        info = dict(detail or {}, pid=os.getpid(), resumed=bool(self.store.existing_events))
        if self.store.truncated_bytes:
            info["truncated_bytes"] = self.store.truncated_bytes
        self.record({"kind": "session_start", "detail": info})
        for request in unanswered:
            self.record({
                "kind": "execute_lost", "msg_id": request["msg_id"], "kernel_id": request.get("kernel_id"),
                "user": request.get("user"), "role": request.get("role", "system"),
                "detail": {"reason": "the server stopped before the kernel replied (it was restarted or killed)"},
            })
        self.streamer.start()

    async def stop(self) -> None:
        for msg_id in list(self.pending):
            self.lose(msg_id, "the server shut down before the kernel replied")
        if self.streamer is not None:
            await self.streamer.stop()
        if self.store is not None:
            # not closed: jupyter-server shuts the kernels down after its extensions, and those kernel
            # events still go into the file (the hub gets them when this session's server next starts)
            self.store.sync()

    @staticmethod
    def _unanswered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        open_requests: dict[str, dict[str, Any]] = {}
        for event in events:
            if event.get("kind") == "execute_request":
                open_requests[event.get("msg_id")] = event
            elif event.get("kind") in ("execute_reply", "execute_lost"):
                open_requests.pop(event.get("msg_id"), None)
        return list(open_requests.values())

    # -- writing ----------------------------------------------------------------------------

    def record(self, event: dict[str, Any]) -> dict[str, Any]:
        """Seal and store one event (see HistoryFile for when it reaches the disk); returns it sealed."""
        event.setdefault("time", utc_now())
        event.setdefault("session", self.session_id)
        event.setdefault("role", "system")
        sealed = self.store.append(event)
        self.streamer.enqueue(sealed)
        for listener in list(self.listeners):
            try:
                listener(sealed)
            except Exception:
                self.log.debug("history listener failed", exc_info=True)
        return sealed

    def role_of(self, user: str | None) -> str:
        if self.owner is None or user == self.owner:
            return "candidate"
        return "interviewer"

    # -- executions -------------------------------------------------------------------------

    def request(self, *, msg_id: str, kernel_id: str, owner: str, user: str | None, code: str, cell_id: str | None) -> None:
        """An execute request is about to be sent to the kernel."""
        role = self.role_of(user)
        notebook = self.notebooks.get(kernel_id)
        if len(code) > CODE_LIMIT:
            code = code[:CODE_LIMIT] + f"\n# [mlinterview: cell cut at {CODE_LIMIT:,} characters]"
        self.record({
            "kind": "execute_request", "msg_id": msg_id, "kernel_id": kernel_id, "notebook": notebook,
            "cell_id": cell_id, "code": code, "user": user, "role": role,
        })
        self.pending[msg_id] = PendingExecution(
            msg_id, kernel_id, owner, user, role, notebook, cell_id, time.monotonic(), OutputAccumulator(self.output_text_limit)
        )
        self.pending_by_kernel[kernel_id] = self.pending_by_kernel.get(kernel_id, 0) + 1

    def watching(self, kernel_id: str) -> bool:
        return bool(self.pending_by_kernel.get(kernel_id))

    def pending_for(self, msg_id: str | None, owner: str) -> PendingExecution | None:
        execution = self.pending.get(msg_id) if msg_id else None
        return execution if execution is not None and execution.owner == owner else None

    def _close(self, msg_id: str) -> PendingExecution | None:
        execution = self.pending.pop(msg_id, None)
        if execution is not None:
            left = self.pending_by_kernel.get(execution.kernel_id, 1) - 1
            if left > 0:
                self.pending_by_kernel[execution.kernel_id] = left
            else:
                self.pending_by_kernel.pop(execution.kernel_id, None)
        return execution

    def reply(self, msg_id: str, content: dict[str, Any], replied_at: float | None = None) -> None:
        """The kernel replied: write the reply event (called before the reply is forwarded)."""
        execution = self._close(msg_id)
        if execution is None:
            return  # a request this server did not see sent (e.g. from before a restart): nothing to pair
        status = content.get("status")
        event: dict[str, Any] = {
            "kind": "execute_reply", "msg_id": msg_id, "kernel_id": execution.kernel_id, "notebook": execution.notebook,
            "cell_id": execution.cell_id, "user": execution.user, "role": execution.role,
            "status": status if status in ("ok", "error", "aborted") else "error",
            "execution_count": content.get("execution_count"),
            "duration_ms": round(((replied_at or time.monotonic()) - execution.started) * 1000, 3),
            "outputs": execution.outputs.summary(),
        }
        if execution.busy_at is not None:
            # the busy status (iopub) may be read just after the reply (shell) of a cell that took no time
            event["detail"] = {"run_ms": max(0.0, round(((replied_at or time.monotonic()) - execution.busy_at) * 1000, 3))}
        if status == "error":
            event["error"] = {
                "ename": str(content.get("ename", "")), "evalue": str(content.get("evalue", ""))[:ERROR_VALUE_LIMIT],
            }
        self.record(event)
        if execution.outputs.figure is not None:
            self.figure(execution, *execution.outputs.figure)

    def figure(self, execution: PendingExecution, mime: str, data: bytes) -> None:
        """The last figure a cell displayed, for the interviewer's cockpit; not again while it is unchanged."""
        digest = hashlib.sha256(data).hexdigest()
        if self.last_figure.get(execution.kernel_id) == digest:
            return
        self.last_figure[execution.kernel_id] = digest
        self.record({"kind": "figure", "msg_id": execution.msg_id, "kernel_id": execution.kernel_id, "cell_id": execution.cell_id,
                     "notebook": execution.notebook, "user": execution.user, "role": execution.role,
                     "detail": {"mime": mime, "bytes": len(data), "sha256": digest, "data": base64.b64encode(data).decode("ascii")}})

    def lose(self, msg_id: str, reason: str) -> None:
        execution = self.pending.get(msg_id)
        if execution is not None and execution.reply_content is not None:
            # it did reply (the reply was waiting for the kernel's idle status): record it as answered
            self.reply(msg_id, execution.reply_content, execution.replied_at)
            return
        execution = self._close(msg_id)
        if execution is None:
            return
        self.record({
            "kind": "execute_lost", "msg_id": msg_id, "kernel_id": execution.kernel_id, "notebook": execution.notebook,
            "cell_id": execution.cell_id, "user": execution.user, "role": execution.role,
            "duration_ms": round((time.monotonic() - execution.started) * 1000, 3),
            "outputs": execution.outputs.summary(), "detail": {"reason": reason},
        })

    def constraint(self, execution: PendingExecution | None, kernel_id: str, payload: dict[str, Any]) -> None:
        """A constraint signal from the kernel's guard (a violation or a warning), attributed to the running cell."""
        detail = {key: payload.get(key) for key in ("event", "model", "count", "limit", "message")}
        event: dict[str, Any] = {"kind": "constraint", "kernel_id": kernel_id, "detail": detail}
        if execution is not None:
            event.update(msg_id=execution.msg_id, cell_id=execution.cell_id, notebook=execution.notebook,
                         user=execution.user, role=execution.role)
        self.record(event)

    def kernel_status(self, execution: PendingExecution, kernel_id: str, payload: dict[str, Any]) -> None:
        """The kernel's status signal after a cell (models, training time), recorded when it changed."""
        if self.last_status.get(kernel_id) == payload:
            return
        self.last_status[kernel_id] = payload
        self.record({"kind": "status", "kernel_id": kernel_id, "msg_id": execution.msg_id, "cell_id": execution.cell_id,
                     "notebook": execution.notebook, "user": execution.user, "role": execution.role, "detail": dict(payload)})

    def file_saved(self, root: str, path: str, model: dict[str, Any]) -> None:
        """A file saved through the contents API (``ContentsManager`` post-save hook), read back from the
        workspace without following links: its size and hash, and for text its whole text the first
        time, then the diff against the previous save (history.py ``file_saved``); a notebook's cells
        go to :meth:`notebook_saved`."""
        if model.get("type") == "notebook":
            self.notebook_saved(root, path)
            return
        if model.get("type") != "file":
            return
        detail: dict[str, Any] = {"path": path}
        try:
            data, _ = read_plain(root, path, max_bytes=SAVED_FILE_MAX_BYTES)
        except (OSError, ValueError) as error:  # a link, a FIFO, too big: named, never read
            self._record_save("file_saved", dict(detail, unread=str(error)[:300]))
            return
        try:
            content: str | None = data.decode("utf-8")
        except UnicodeDecodeError:
            content = None
        previous = self.saved_text.get(path)
        if content is not None and previous == content:
            return
        detail.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
        if content is not None:
            if previous is None:
                body, key = content, "text"
            else:
                body, key = text_diff(previous, content, path), "diff"
            if not self._spend(min(len(body), FILE_TEXT_LIMIT)):  # the text or diff stays out; what comes next is against the last kept
                self._record_over_budget("file_saved", detail)
                return
            detail[key] = body[:FILE_TEXT_LIMIT]
            if len(body) > FILE_TEXT_LIMIT:
                detail["truncated"] = True
            self.saved_text[path] = content
        self._record_save("file_saved", detail)

    def answer(self, user: str | None, question: str, text: str) -> dict[str, Any]:
        """The candidate's answer to an open question (``answer``): its whole text, counted against the
        saved-text budget (past it, its size and hash only)."""
        detail: dict[str, Any] = {"question": question, "characters": len(text),
                                  "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
        if self._spend(len(text)):
            detail["text"] = text
        else:
            detail["over_budget"] = True
        sealed = self.record({"kind": "answer", "user": user, "role": self.role_of(user), "detail": detail})
        self.answers[question] = {"text": text, "time": sealed["time"]}
        return sealed

    def document_presence(self, path: str, user: str, action: str) -> None:
        """A browser opened (``join``) or closed (``leave``) a document's collaborative room: a
        ``document`` event when the user's first tab opens it or their last one closes it."""
        tabs = self.in_document.setdefault(path, {})
        before = tabs.get(user, 0)
        tabs[user] = max(0, before + (1 if action == "join" else -1))
        if action == "join":
            self.editors_since_save.setdefault(path, set()).add(user)
        if (before == 0) == (action == "join"):
            self.record({"kind": "document", "user": user, "role": self.role_of(user),
                         "detail": {"action": "open" if action == "join" else "close", "path": path}})

    def _authors(self, path: str) -> dict[str, Any]:
        """Who may have made a save of ``path``: the users who had it open since its previous save.
        One: the event is theirs; several: all are named (``editors``) and the event is no one's alone."""
        present = {user for user, tabs in self.in_document.get(path, {}).items() if tabs}
        editors = sorted(self.editors_since_save.get(path, set()) | present)
        self.editors_since_save[path] = set(present)
        if len(editors) == 1:
            return {"user": editors[0], "role": self.role_of(editors[0])}
        return {"editors": [{"user": user, "role": self.role_of(user)} for user in editors]} if editors else {}

    def _record_save(self, kind: str, detail: dict[str, Any]) -> None:
        self.save_delivery(lambda: self._record_save_now(kind, detail))

    def _record_save_now(self, kind: str, detail: dict[str, Any]) -> None:
        authors = self._authors(detail["path"])
        editors = authors.pop("editors", None)
        if editors is not None:
            detail["editors"] = editors
        self.record(dict(authors, kind=kind, detail=detail))

    def notebook_saved(self, root: str, path: str) -> None:
        """A notebook saved through the contents API (by JupyterLab or the collaboration's autosave): the
        order of its cells and each cell added or edited since the previous save, with its source, or
        deleted (history.py ``notebook_saved``). Outputs are not kept: they are in the executions."""
        detail: dict[str, Any] = {"path": path}
        try:
            data, _ = read_plain(root, path, max_bytes=SAVED_NOTEBOOK_MAX_BYTES)
            cells = [
                (str(cell.get("id") or f"#{index}")[:64], str(cell.get("cell_type", ""))[:16],
                 "".join(cell["source"]) if isinstance(cell.get("source"), list) else str(cell.get("source", "")))
                for index, cell in enumerate(json.loads(data)["cells"][:NOTEBOOK_CELLS_LIMIT])
            ]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:  # a link, too big, not a notebook
            self._record_save("notebook_saved", dict(detail, unread=str(error)[:300]))
            return
        previous = self.saved_cells.get(path)
        if previous == cells:
            return
        before = {cell_id: (cell_type, source) for cell_id, cell_type, source in previous or []}
        changes: list[dict[str, Any]] = []
        room = FILE_TEXT_LIMIT
        for index, (cell_id, cell_type, source) in enumerate(cells):
            old = before.pop(cell_id, None)
            if old == (cell_type, source):
                continue
            change = {"op": "add" if old is None else "edit", "id": cell_id, "index": index, "cell_type": cell_type,
                      "source": source[:max(room, 0)]}
            if len(source) > room:
                change["truncated"] = True
            room -= len(source)
            changes.append(change)
        changes.extend({"op": "delete", "id": cell_id} for cell_id in before)
        detail.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
        if not self._spend(sum(len(change.get("source", "")) for change in changes)):
            self._record_over_budget("notebook_saved", detail)
            return
        detail.update(order=[cell_id for cell_id, _, _ in cells], changes=changes)
        self.saved_cells[path] = cells
        self._record_save("notebook_saved", detail)

    def _record_over_budget(self, kind: str, detail: dict[str, Any]) -> None:
        """A save past the budget: its size and hash, once per distinct content of the file."""
        if self.over_budget_saves.get(detail["path"]) == detail["sha256"]:
            return
        self.over_budget_saves[detail["path"]] = detail["sha256"]
        self._record_save(kind, dict(detail, over_budget=True))

    def _spend(self, characters: int) -> bool:
        """Whether ``characters`` more of saved text fit in the session's ``saved_text_budget`` (then spent)."""
        if self.saved_text_spent + characters > self.saved_text_budget:
            return False
        self.saved_text_spent += characters
        return True

    def refused(self, *, kernel_id: str, user: str | None, channel: str, msg_type: str | None, reason: str | None) -> None:
        """A browser's message the server did not pass to the kernel (CONFINEMENT.md)."""
        self.record({"kind": "refused", "kernel_id": kernel_id, "notebook": self.notebooks.get(kernel_id), "user": user,
                     "role": self.role_of(user), "detail": {"channel": channel, "msg_type": msg_type, "reason": reason}})

    def kernel_input(self, *, kernel_id: str, user: str | None, channel: str, msg_type: str | None, content: str) -> None:
        """Data a browser handed to the candidate's own code (a widget message, an input() reply)."""
        self.record({"kind": "kernel_input", "kernel_id": kernel_id, "notebook": self.notebooks.get(kernel_id), "user": user,
                     "role": self.role_of(user), "detail": {"channel": channel, "msg_type": msg_type, "content": content}})

    # -- kernels ----------------------------------------------------------------------------

    def kernel_event(self, kernel_id: str, what: str, **detail: Any) -> None:
        """A kernel started, restarted, was interrupted, died or shut down; a restart or death loses what ran."""
        if what == "died" and detail.get("reason"):
            for connection in list(self.connections.get(kernel_id, ())):
                connection.tell_running_cells(f"mlinterview: {detail['reason']}. The kernel restarts: run your cells again.")
        if what in ("restarted", "died", "shutdown"):
            for msg_id, execution in list(self.pending.items()):
                if execution.kernel_id == kernel_id:
                    self.lose(msg_id, f"the kernel {what} before replying")
        self.record({"kind": "kernel_event", "kernel_id": kernel_id, "notebook": self.notebooks.get(kernel_id),
                     "detail": dict(detail, event=what)})
