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
  it is forwarded, so a reply the browser received is always in the file.

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
from traitlets import Bool

from ..kernels.signals import constraint_signal
from .history_recorder import OUTPUT_KINDS, HistoryRecorder, text_of_output

RECORDER_SETTING = "mlinterview_history_recorder"
V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"


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

    def connect(self):
        if self.tcp_nodelay:
            self.websocket_handler.set_nodelay(True)
        return super().connect()

    @property
    def recorder(self) -> HistoryRecorder | None:
        return self.websocket_handler.settings.get(RECORDER_SETTING)

    async def prepare(self) -> None:
        await super().prepare()
        recorder = self.recorder
        if recorder is not None:
            self._hub_user = _user_name(self.websocket_handler.current_user)
            await refresh_notebook_path(recorder, self.websocket_handler.session_manager, self.kernel_id)

    # -- browser -> kernel ------------------------------------------------------------------

    def handle_incoming_message(self, incoming_msg: str) -> None:
        recorder = self.recorder
        if recorder is not None and self.channels:
            try:
                self._record_incoming(recorder, incoming_msg)
            except Exception:  # recording must never stop the candidate's traffic
                self.log.error("mlinterview: could not record an incoming message", exc_info=True)
        super().handle_incoming_message(incoming_msg)

    def _record_incoming(self, recorder: HistoryRecorder, ws_msg: Any) -> None:
        if self.subprotocol == V1_PROTOCOL:
            channel, parts = deserialize_msg_from_ws_v1(ws_msg)
            if channel != "shell":
                return
            header = self.session.unpack(parts[0])
            if header.get("msg_type") != "execute_request":
                return
            metadata, content = self.session.unpack(parts[2]), self.session.unpack(parts[3])
        else:
            msg = deserialize_binary_message(ws_msg) if isinstance(ws_msg, bytes) else json.loads(ws_msg)
            if msg.get("channel", "shell") != "shell" or msg["header"].get("msg_type") != "execute_request":
                return
            header, metadata, content = msg["header"], msg.get("metadata") or {}, msg.get("content") or {}
        recorder.request(
            msg_id=header["msg_id"], kernel_id=self.kernel_id, owner=self.session_key,
            user=getattr(self, "_hub_user", None), code=str(content.get("code", "")),
            cell_id=metadata.get("cellId") or metadata.get("cell_id"),
        )
        refresh_notebook_path_soon(recorder, self.websocket_handler.session_manager, self.kernel_id)

    # -- kernel -> browser ------------------------------------------------------------------

    def handle_outgoing_message(self, stream: Any, outgoing_msg: list[Any]) -> None:
        recorder = self.recorder
        if recorder is not None and recorder.watching(self.kernel_id):
            try:
                if self._record_outgoing(recorder, stream, outgoing_msg) == "drop":
                    return
            except Exception:
                self.log.error("mlinterview: could not record an outgoing message", exc_info=True)
        super().handle_outgoing_message(stream, outgoing_msg)

    def _record_outgoing(self, recorder: HistoryRecorder, stream: Any, msg_list: list[Any]) -> str | None:
        """Record what concerns an execution this connection sent; 'drop' for a guard signal (on every connection)."""
        channel = stream if isinstance(stream, str) else getattr(stream, "channel", None)
        if channel not in ("iopub", "shell"):
            return None
        _, parts = self.session.feed_identities(msg_list)
        # parts: signature, header, parent_header, metadata, content, buffers...
        msg_type = self.session.unpack(parts[1]).get("msg_type")
        if channel == "shell":
            if msg_type == "execute_reply":
                parent = self.session.unpack(parts[2])
                if recorder.pending_for(parent.get("msg_id"), self.session_key) is not None:
                    recorder.reply(parent["msg_id"], self.session.unpack(parts[4]))
            return None
        if msg_type not in OUTPUT_KINDS:
            return None
        execution = recorder.pending_for(self.session.unpack(parts[2]).get("msg_id"), self.session_key)
        if execution is None and msg_type != "display_data":
            return None  # another tab's execution: its own connection summarises it
        wants_content = msg_type == "display_data" or execution.outputs.wants_text
        content = self.session.unpack(parts[4]) if wants_content else {}
        if msg_type == "display_data":
            signal = constraint_signal(content.get("data") or {})
            if signal is not None:
                if execution is not None:
                    recorder.constraint(execution, self.kernel_id, signal)
                return "drop"
            if execution is None:
                return None
        execution.outputs.add(msg_type, sum(len(part) for part in parts[4:]), text_of_output(msg_type, content) if content else None)
        return None


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
