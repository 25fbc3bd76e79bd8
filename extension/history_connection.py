"""The kernel websocket connection that records executions: jupyter-server's documented hook.

jupyter-server 2 lets a deployment choose the class that bridges a browser's kernel websocket
and the kernel's ZMQ channels (``ServerApp.kernel_websocket_connection_class``, a configurable
trait). ``HistoryRecordingConnection`` subclasses the default
``ZMQChannelsWebsocketConnection`` and sees every message on its way:

* browser -> kernel: an ``execute_request`` on the shell channel is recorded (who sent it, from
  the authenticated websocket handler's ``current_user``; the cell id from the ``cellId`` that
  JupyterLab puts in the request metadata) *before* it is passed on to the kernel;
* kernel -> browser: IOPub outputs of an execution this connection sent are summarised; a
  constraint signal from the kernel's guard (``kernels/signals.py``) is recorded and not
  forwarded; the ``execute_reply`` is written (and fsync-ed, see ``history_store.py``) *before*
  it is forwarded, so a reply the browser received is always in the file. IOPub and shell are
  separate sockets, so outputs may arrive after the reply: a reply that comes before its
  request's ``idle`` status is held back until that status (a browser waits for both anyway) or
  ``reply_hold_seconds``, so the outputs summary is complete; later shell messages queue behind it.

Every message from a browser is recorded or refused (``incoming_verdict``, CONFINEMENT.md): an
``execute_request`` is recorded, and refused if it carries ``user_expressions`` (code evaluated
after the cell, which JupyterLab never sends); messages that hand data to the candidate's own
code (widget ``comm_*``, ``input_reply``) are recorded as ``kernel_input``; introspection
(completion, inspection, kernel info, interrupt, shutdown) passes; anything else, on any
channel (``execute_request`` on the control channel, ``debug_request``, ...), is refused and
the refusal recorded.

Both websocket protocols are handled (the JSON one and ``v1.kernel.websocket.jupyter.org``). When
the server extension is not loaded (no recorder in the web app's settings) the class behaves
exactly like its parent. Messages that concern no pending execution cost one dict lookup.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from jupyter_server.services.kernels.connection.base import deserialize_binary_message, deserialize_msg_from_ws_v1
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado import web
from tornado.ioloop import IOLoop
from tornado.websocket import WebSocketClosedError
from traitlets import Bool, Float

from ..kernels.signals import constraint_signal, status_signal
from .history_recorder import OUTPUT_KINDS, HistoryRecorder, figure_of_output, text_of_output, utc_now

RECORDER_SETTING = "mlinterview_history_recorder"
STATUS_SETTING = "mlinterview_candidate_status"  # the CandidateStatus (interview_status.py)
TIME_UP_REASON = "the interview's time is up (hard time-out): no more cells run; your work so far is kept"
V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
# what a browser may send, per channel; everything else is refused (and the refusal recorded)
PASSED_INCOMING = {
    "shell": frozenset({
        "execute_request", "complete_request", "inspect_request", "is_complete_request", "history_request",
        "kernel_info_request", "comm_info_request", "comm_open", "comm_msg", "comm_close",
    }),
    "control": frozenset({"kernel_info_request", "interrupt_request", "shutdown_request"}),
    "stdin": frozenset({"input_reply"}),
}
# messages that hand data to code the candidate defined (a widget callback, input()): recorded
RECORDED_INPUT = frozenset({"comm_open", "comm_msg", "input_reply"})
INPUT_CONTENT_LIMIT = 4000


def incoming_verdict(channel: str, msg_type: str | None, content: dict) -> tuple[str, str | None]:
    """('execute' | 'input' | 'pass' | 'refuse', reason) for a browser's message."""
    if msg_type not in PASSED_INCOMING.get(channel, ()):
        return "refuse", f"a {msg_type!r} message on the {channel} channel could run code outside the record"
    if msg_type == "execute_request":
        if content.get("user_expressions"):
            return "refuse", "user_expressions are code run outside the cell; send it as the cell's code"
        return "execute", None
    if msg_type in RECORDED_INPUT:
        return "input", None
    return "pass", None


def _user_name(user: Any) -> str | None:
    if user is None:
        return None
    if isinstance(user, str):
        return user
    return getattr(user, "username", None) or getattr(user, "name", None)


class HistoryRecordingConnection(ZMQChannelsWebsocketConnection):
    """A kernel websocket connection that writes every execution into the cell history."""

    tcp_nodelay = Bool(
        True, config=True,
        help="Send each kernel message to the browser at once (TCP_NODELAY). Without it a reply written right "
        "after an output can wait for the browser's delayed ACK (~40 ms per cell on Linux).",
    )

    require_recorder = Bool(
        False, config=True,
        help="Refuse kernel connections when the mlinterview server extension (the recorder) is not loaded. The hub "
        "sets it on the command line, so a config file that disables the extension cannot silently stop the record.",
    )

    reply_hold_seconds = Float(
        2.0, config=True,
        help="Longest time an execute_reply that arrives before its request's idle status is held back (so the "
        "outputs summary is complete) before it is recorded and forwarded anyway.",
    )

    def connect(self):
        if self.tcp_nodelay:
            self.websocket_handler.set_nodelay(True)
        return super().connect()

    @property
    def recorder(self) -> HistoryRecorder | None:
        return self.websocket_handler.settings.get(RECORDER_SETTING)

    async def prepare(self) -> None:
        recorder = self.recorder
        if recorder is None and self.require_recorder:
            raise web.HTTPError(
                503, "this server must record the cell history, but the mlinterview.extension server extension is not "
                "loaded: enable it (jpserver_extensions) and restart the server",
            )
        await super().prepare()
        if recorder is not None:
            self._hub_user = _user_name(self.websocket_handler.current_user)
            recorder.connections.setdefault(self.kernel_id, set()).add(self)
            await refresh_notebook_path(recorder, self.websocket_handler.session_manager, self.kernel_id)

    # -- browser -> kernel ------------------------------------------------------------------

    def handle_incoming_message(self, incoming_msg: str) -> None:
        recorder = self.recorder
        if recorder is not None and self.channels:
            try:
                verdict = self._record_incoming(recorder, incoming_msg)
            except Exception:
                # a message we cannot even read is not passed on: it could be code we did not record
                self.log.error("mlinterview: refused a kernel message that could not be read", exc_info=True)
                return
            if verdict == "refuse":
                return
        super().handle_incoming_message(incoming_msg)

    def _record_incoming(self, recorder: HistoryRecorder, ws_msg: Any) -> str:
        if self.subprotocol == V1_PROTOCOL:
            channel, parts = deserialize_msg_from_ws_v1(ws_msg)
            header = self.session.unpack(parts[0])
            metadata, content = self.session.unpack(parts[2]), self.session.unpack(parts[3])
        else:
            msg = deserialize_binary_message(ws_msg) if isinstance(ws_msg, bytes) else json.loads(ws_msg)
            channel = msg.get("channel") or "shell"
            header, metadata, content = msg["header"], msg.get("metadata") or {}, msg.get("content") or {}
        msg_type = header.get("msg_type")
        verdict, reason = incoming_verdict(channel, msg_type, content if isinstance(content, dict) else {})
        user = getattr(self, "_hub_user", None)
        status = self.websocket_handler.settings.get(STATUS_SETTING)
        if verdict == "execute" and status is not None and status.clock.frozen():
            verdict, reason = "refuse", TIME_UP_REASON
            status.time_up()  # recorded before the refusal, whether or not the timer has fired yet
            self.answer_refused_execution(header, reason)
        if verdict == "refuse":
            recorder.refused(kernel_id=self.kernel_id, user=user, channel=channel, msg_type=msg_type, reason=reason)
            self.log.warning("mlinterview: refused %s on %s from %s: %s", msg_type, channel, user, reason)
            if msg_type != "execute_request" and str(msg_type).endswith("_request"):
                self.answer_refused_request(channel, header, reason)
        elif verdict == "input":
            recorder.kernel_input(kernel_id=self.kernel_id, user=user, channel=channel, msg_type=msg_type,
                                  content=json.dumps(content, default=str)[:INPUT_CONTENT_LIMIT])
        elif verdict == "execute":
            recorder.request(
                msg_id=header["msg_id"], kernel_id=self.kernel_id, owner=self.session_key,
                user=user, code=str(content.get("code", "")),
                cell_id=metadata.get("cellId") or metadata.get("cell_id"),
            )
            refresh_notebook_path_soon(recorder, self.websocket_handler.session_manager, self.kernel_id)
        return verdict

    # -- kernel -> browser ------------------------------------------------------------------

    # a reply held back until the kernel's idle status for its request (see _record_outgoing), and
    # the shell messages queued behind it so the shell channel keeps its order
    _held: list[tuple[Any, list[Any]]] | None = None
    _held_msg_id: str | None = None
    _hold_timer: Any = None

    def handle_outgoing_message(self, stream: Any, outgoing_msg: list[Any]) -> None:
        if self._held is not None and _channel_of(stream) == "shell":
            self._held.append((stream, outgoing_msg))
            return
        verdict = None
        recorder = self.recorder
        if recorder is not None and recorder.watching(self.kernel_id):
            try:
                verdict = self._record_outgoing(recorder, stream, outgoing_msg)
            except Exception:  # recording must never stop the candidate's traffic
                self.log.error("mlinterview: could not record an outgoing message", exc_info=True)
        if verdict == "drop":
            return
        if verdict == "hold":
            self._held = [(stream, outgoing_msg)]
            self._hold_timer = IOLoop.current().call_later(self.reply_hold_seconds, self._release_held)
            return
        if verdict == "release":
            self._release_held()  # the reply goes out before the idle status that completed it
        super().handle_outgoing_message(stream, outgoing_msg)

    def _record_outgoing(self, recorder: HistoryRecorder, stream: Any, msg_list: list[Any]) -> str | None:
        """Record what concerns an execution this connection sent. Returns 'drop' for a guard signal (on
        every connection), 'hold' for a reply that came before its request's idle status (IOPub and
        shell are separate sockets: outputs may still be on their way), 'release' for that status."""
        channel = _channel_of(stream)
        if channel not in ("iopub", "shell"):
            return None
        _, parts = self.session.feed_identities(msg_list)
        # parts: signature, header, parent_header, metadata, content, buffers...
        msg_type = self.session.unpack(parts[1]).get("msg_type")
        if channel == "shell":
            if msg_type != "execute_reply":
                return None
            execution = recorder.pending_for(self.session.unpack(parts[2]).get("msg_id"), self.session_key)
            if execution is None:
                return None
            execution.reply_content, execution.replied_at = self.session.unpack(parts[4]), time.monotonic()
            if not execution.idle:
                self._held_msg_id = execution.msg_id
                return "hold"
            recorder.reply(execution.msg_id, execution.reply_content, execution.replied_at)
            return None
        if msg_type == "status":
            execution = recorder.pending_for(self.session.unpack(parts[2]).get("msg_id"), self.session_key)
            state = self.session.unpack(parts[4]).get("execution_state") if execution is not None else None
            if state == "busy" and execution.busy_at is None:
                execution.busy_at = time.monotonic()
            if state == "idle":
                execution.idle = True
                if self._held_msg_id == execution.msg_id:
                    return "release"
            return None
        if msg_type not in OUTPUT_KINDS:
            return None
        execution = recorder.pending_for(self.session.unpack(parts[2]).get("msg_id"), self.session_key)
        if execution is None and msg_type != "display_data":
            return None  # another tab's execution: its own connection summarises it
        wants_content = msg_type in ("display_data", "execute_result") or execution.outputs.wants_text  # (figures, history_recorder.figure_of_output)
        content = self.session.unpack(parts[4]) if wants_content else {}
        if msg_type == "display_data":
            signal = constraint_signal(content.get("data") or {})
            if signal is not None:
                if execution is not None:
                    recorder.constraint(execution, self.kernel_id, signal)
                return "drop"
            kernel_status = status_signal(content.get("data") or {})
            if kernel_status is not None:
                status = self.websocket_handler.settings.get(STATUS_SETTING)
                if status is not None and execution is not None:
                    status.kernel_said(kernel_status)
                if execution is not None:
                    recorder.kernel_status(execution, self.kernel_id, kernel_status)
                return "drop"
            if execution is None:
                return None
        execution.outputs.add(msg_type, sum(len(part) for part in parts[4:]), text_of_output(msg_type, content) if content else None,
                              figure_of_output(msg_type, content) if content else None)
        return None

    def _release_held(self) -> None:
        """Record the held reply (written, and fsync-ed, first) and forward it with what queued behind it."""
        if self._held is None:
            return
        if self._hold_timer is not None:
            IOLoop.current().remove_timeout(self._hold_timer)
        held, msg_id = self._held, self._held_msg_id
        self._held, self._held_msg_id, self._hold_timer = None, None, None
        recorder = self.recorder
        execution = recorder.pending.get(msg_id) if recorder is not None and msg_id else None
        if execution is not None and execution.reply_content is not None:
            recorder.reply(msg_id, execution.reply_content, execution.replied_at)
        try:
            super().handle_outgoing_message(*held[0])
        except WebSocketClosedError:
            self.log.debug("mlinterview: the browser left before a held reply could be forwarded")
        for stream, msg_list in held[1:]:
            self.handle_outgoing_message(stream, msg_list)

    def disconnect(self):
        self._release_held()
        recorder = self.recorder
        if recorder is not None:
            recorder.connections.get(self.kernel_id, set()).discard(self)
        return super().disconnect()

    def answer_refused_execution(self, request_header: dict[str, Any], reason: str) -> None:
        """Answer a refused execute request as the kernel would a failing cell (busy, the error, the
        reply, idle), so the browser shows why instead of waiting for a reply that never comes."""
        iopub, shell = (self.channels or {}).get("iopub"), (self.channels or {}).get("shell")
        if iopub is None or shell is None:
            return
        error = {"ename": "InterviewTimeUp", "evalue": reason, "traceback": [f"InterviewTimeUp: {reason}"]}
        messages = [
            (iopub, "status", {"execution_state": "busy"}),
            (iopub, "error", error),
            (shell, "execute_reply", dict(error, status="error", execution_count=None, user_expressions={}, payload=[])),
            (iopub, "status", {"execution_state": "idle"}),
        ]
        for stream, msg_type, content in messages:
            message = self.session.msg(msg_type, content, parent=request_header)
            try:
                super().handle_outgoing_message(stream, self.session.serialize(message))
            except Exception:  # the browser may be gone already
                self.log.debug("mlinterview: could not answer a refused execution", exc_info=True)

    def answer_refused_request(self, channel: str, request_header: dict[str, Any], reason: str) -> None:
        """Answer a refused request (not an execution) with an error reply on its channel, as a kernel
        that cannot do it would: a client waiting for the reply (JupyterLab's subshells) goes on without."""
        stream = (self.channels or {}).get(channel)
        if stream is None:
            return
        msg_type = str(request_header.get("msg_type", ""))[: -len("_request")] + "_reply"
        content = {"status": "error", "ename": "Refused", "evalue": reason, "traceback": []}
        try:
            super().handle_outgoing_message(stream, self.session.serialize(self.session.msg(msg_type, content, parent=request_header)))
        except Exception:  # the browser may be gone already
            self.log.debug("mlinterview: could not answer a refused request", exc_info=True)

    def tell_running_cells(self, text: str) -> None:
        """Show ``text`` (stderr) in the output of every cell this browser is running on the kernel."""
        recorder, iopub = self.recorder, (self.channels or {}).get("iopub")
        if recorder is None or iopub is None:
            return
        for execution in [e for e in recorder.pending.values() if e.kernel_id == self.kernel_id and e.owner == self.session_key]:
            parent = {"msg_id": execution.msg_id, "msg_type": "execute_request", "session": self.session_key.split(":")[-1],
                      "username": execution.user or "", "date": utc_now(), "version": "5.3"}
            message = self.session.msg("stream", {"name": "stderr", "text": f"\n{text}\n"}, parent=parent)
            try:
                super().handle_outgoing_message(iopub, self.session.serialize(message))
            except Exception:  # the browser may be gone already
                self.log.debug("mlinterview: could not tell the browser why the kernel stopped", exc_info=True)


def _channel_of(stream: Any) -> str | None:
    return stream if isinstance(stream, str) else getattr(stream, "channel", None)


async def refresh_notebook_path(recorder: HistoryRecorder, session_manager: Any, kernel_id: str) -> None:
    """Remember which notebook (jupyter session path) a kernel belongs to."""
    try:
        model = await session_manager.get_session(kernel_id=kernel_id)
    except Exception:  # a kernel without a session (e.g. started through the REST API alone)
        return
    path = (model or {}).get("path") or (model or {}).get("notebook", {}).get("path")
    if path:
        recorder.notebooks[kernel_id] = path


NOTEBOOK_REFRESH_SECONDS = 5.0


def refresh_notebook_path_soon(recorder: HistoryRecorder, session_manager: Any, kernel_id: str) -> None:
    """Refresh the path in the background, at most every few seconds (a rename shows from then on)."""
    now = time.monotonic()
    if now - recorder.notebook_checked.get(kernel_id, 0.0) < NOTEBOOK_REFRESH_SECONDS:
        return
    recorder.notebook_checked[kernel_id] = now
    asyncio.ensure_future(refresh_notebook_path(recorder, session_manager, kernel_id))
