"""The jupyter-server extension app: the cell history's recorder, REST endpoint and live stream.

Enabled on install by ``etc/jupyter/jupyter_server_config.d/mlinterview.json`` (shipped through
setup.py's data_files), which also selects ``HistoryRecordingConnection`` as the server's
``kernel_websocket_connection_class``. This app creates the ``HistoryRecorder`` (put in the web
app's settings, where the connection class finds it), listens to jupyter-server's
``kernel_actions`` events and the kernel manager's restart callbacks for kernel events, and
serves, under ``/mlinterview/``:

``GET history``          the local history: ``{"session", "path", "events"}`` (``?since=SEQ`` for later events only)
``GET history/stream``   server-sent events, one per history event (``id:`` is the seq; resumes from ``Last-Event-ID``)
``GET history/verify``   the chain check: ``{"ok", "events", "problems"}``
``GET interview``        the candidate's clock, limits and models; ``POST done`` ends the interview (``interview_status.py``)

All three need an authenticated user the server's authorizer lets ``read`` the ``mlinterview``
resource (under JupyterHub: anyone with access to this server, i.e. the candidate and the
interviewers). The local file is a working copy: the hub's is the authoritative one.
"""

from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web
from tornado.ioloop import IOLoop
from tornado.iostream import StreamClosedError
from traitlets import Float, Instance

from .. import __version__
from ..history import read_events, verify_events
from .history_connection import RECORDER_SETTING, STATUS_SETTING, HistoryRecordingConnection
from .interview_status import AnswerHandler, CandidateDoneHandler, CandidateStatus, InterviewStatusHandler
from .history_recorder import HistoryRecorder
from .notebook_session import InterviewSessionManager

KERNEL_ACTIONS_SCHEMA = "https://events.jupyter.org/jupyter_server/kernel_actions/v1"
COLLABORATION_AWARENESS_SCHEMA = "https://schema.jupyter.org/jupyter_collaboration/awareness/v1"
AUTH_RESOURCE = "mlinterview"


class HistoryHandlerBase(ExtensionHandlerMixin, JupyterHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def recorder(self) -> HistoryRecorder:
        return self.settings[RECORDER_SETTING]

    def since(self) -> int:
        value = self.get_argument("since", None) or self.request.headers.get("Last-Event-ID")
        try:
            return int(value) if value is not None else -1
        except ValueError:
            raise web.HTTPError(400, f"'since' must be an event seq (an integer), not {value!r}") from None

    def events_since(self, seq: int) -> list[dict[str, Any]]:
        return [event for event in read_events(self.recorder.path, strict=False) if event["seq"] > seq]


class HistoryHandler(HistoryHandlerBase):
    """The recorded history of this server's session, as JSON."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        recorder = self.recorder
        self.finish({"session": recorder.session_id, "path": str(recorder.path), "events": self.events_since(self.since())})


class HistoryVerifyHandler(HistoryHandlerBase):
    """The chain check of the local file."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        result = verify_events(read_events(self.recorder.path, strict=False))
        self.finish({"ok": result.ok, "events": result.events, "problems": result.problems})


class HistoryStreamHandler(HistoryHandlerBase):
    """Server-sent events: the history so far (after ``since``), then each new event as it is recorded."""

    heartbeat_seconds = 15.0

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._queue = queue
        self.recorder.listeners.append(queue.put_nowait)
        try:
            last = self.since()
            for event in self.events_since(last):
                self.write_event(event)
                last = event["seq"]
            await self.flush()
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), self.heartbeat_seconds)
                except asyncio.TimeoutError:
                    self.write(": heartbeat\n\n")
                    await self.flush()
                    continue
                if event is None:
                    break
                if event["seq"] > last:
                    self.write_event(event)
                    last = event["seq"]
                    await self.flush()
        except StreamClosedError:
            pass
        finally:
            if queue.put_nowait in self.recorder.listeners:
                self.recorder.listeners.remove(queue.put_nowait)
        if not self._finished:
            self.finish()

    def write_event(self, event: dict[str, Any]) -> None:
        self.write(f"id: {event['seq']}\nevent: {event['kind']}\ndata: {json.dumps(event, sort_keys=True)}\n\n")

    def on_connection_close(self) -> None:
        queue = getattr(self, "_queue", None)
        if queue is not None:
            queue.put_nowait(None)


class HistoryExtensionApp(ExtensionApp):
    """Records every execution on this server into a hash-chained history and serves it."""

    name = "mlinterview"
    load_other_extensions = True
    recorder = Instance(HistoryRecorder, allow_none=True)
    candidate_status = Instance(CandidateStatus, allow_none=True)
    _save_worker: ThreadPoolExecutor | None = None
    stop_flush_seconds = Float(2.0, help="How long a stopping server waits for the hub to acknowledge queued events.").tag(config=True)

    def initialize_settings(self) -> None:
        connection_class = self.serverapp.kernel_websocket_connection_class
        if not (isinstance(connection_class, type) and issubclass(connection_class, HistoryRecordingConnection)):
            self.log.warning(
                "mlinterview: executions are NOT recorded: ServerApp.kernel_websocket_connection_class is %s; set it to "
                "mlinterview.extension.history_connection.HistoryRecordingConnection (the shipped "
                "jupyter_server_config.d/mlinterview.json does)", connection_class,
            )
        self.recorder = HistoryRecorder(parent=self, root_dir=str(self.serverapp.root_dir))
        self.recorder.start({"server": "jupyter-server", "mlinterview": __version__, "root_dir": str(self.serverapp.root_dir)})
        self.settings[RECORDER_SETTING] = self.recorder
        self.candidate_status = CandidateStatus(self.recorder)
        self.settings[STATUS_SETTING] = self.candidate_status
        self.serverapp.event_logger.add_listener(schema_id=KERNEL_ACTIONS_SCHEMA, listener=self._on_kernel_action)
        self.serverapp.contents_manager.register_post_save_hook(self._on_file_saved)
        # who opens which document: jupyter-collaboration's public awareness events (join, leave)
        self.serverapp.event_logger.add_listener(schema_id=COLLABORATION_AWARENESS_SCHEMA, listener=self._on_awareness)
        self.log.info("mlinterview: recording the cell history to %s", self.recorder.path)

    def initialize_handlers(self) -> None:
        self.handlers.extend([
            (r"/mlinterview/history", HistoryHandler),
            (r"/mlinterview/history/stream", HistoryStreamHandler),
            (r"/mlinterview/history/verify", HistoryVerifyHandler),
            (r"/mlinterview/interview", InterviewStatusHandler),
            (r"/mlinterview/done", CandidateDoneHandler),
            (r"/mlinterview/answer", AnswerHandler),
        ])

    def _on_file_saved(self, model: dict[str, Any], os_path: str, contents_manager: Any, **_: Any) -> None:
        # called on the event loop by every save (the collaboration's come about a second after an
        # edit): reading, parsing and diffing the file happen in one thread of their own, in order,
        # and the event goes back to the loop, so a save never holds up a cell's messages
        root = os.path.abspath(contents_manager.root_dir)
        path = os.path.relpath(os.path.abspath(os_path), root)
        if path.startswith(".."):
            return
        if self._save_worker is None:
            self._save_worker = ThreadPoolExecutor(1, thread_name_prefix="mlinterview-saves")
            self.recorder.save_delivery = IOLoop.current().add_callback
        self._save_worker.submit(self._record_file_saved, root, path.replace(os.sep, "/"), {"type": model.get("type")})

    def _record_file_saved(self, root: str, path: str, model: dict[str, Any]) -> None:
        try:
            self.recorder.file_saved(root, path, model)
        except Exception:
            self.log.exception("mlinterview: could not record the save of %s", path)

    async def _on_awareness(self, logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        # the room of a document is "<format>:<type>:<file id>"; the file-id service knows its path
        room, user, action = str(data.get("roomid", "")), data.get("username"), data.get("action")
        file_ids = self.serverapp.web_app.settings.get("file_id_manager")
        if not user or action not in ("join", "leave") or room.count(":") < 2 or file_ids is None:
            return
        path = file_ids.get_path(room.split(":", 2)[2])
        if path:
            self.recorder.document_presence(str(path).replace(os.sep, "/"), str(user), action)

    async def _on_kernel_action(self, logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        if data.get("status") != "success" or not data.get("kernel_id"):
            return
        kernel_id, action = data["kernel_id"], data["action"]
        what = {"start": "started", "restart": "restarted", "interrupt": "interrupted", "shutdown": "shutdown"}[action]
        self.recorder.kernel_event(kernel_id, what, kernel_name=data.get("kernel_name"))
        if action == "start":
            manager = self.serverapp.kernel_manager

            def died(restarting: bool) -> None:
                # the warden says why it stopped a kernel (a memory or process limit); None for a crash
                provisioner = getattr(manager.get_kernel(kernel_id), "provisioner", None) if kernel_id in manager else None
                reason = getattr(provisioner, "stop_reason", None)
                self.recorder.kernel_event(kernel_id, "died", restarting=restarting, **({"reason": reason} if reason else {}))

            manager.add_restart_callback(kernel_id, lambda: died(True), "restart")
            manager.add_restart_callback(kernel_id, lambda: died(False), "dead")

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        # the event loop runs: the interview notebook's kernel can start (extension/notebook_session.py)
        self.candidate_status.watch_the_clock()
        sessions = serverapp.session_manager
        if isinstance(sessions, InterviewSessionManager):
            sessions.start_notebook_session()

    async def stop_extension(self) -> None:
        if self.candidate_status is not None:
            self.candidate_status.stop()
        if self._save_worker is not None:  # the saves read so far reach the record before it stops
            await asyncio.get_running_loop().run_in_executor(None, self._save_worker.shutdown)
            await asyncio.sleep(0)
        if self.recorder is not None and self.recorder.store is not None:
            await self.recorder.stop()
