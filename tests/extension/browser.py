"""A small, real client of a jupyter-server that talks to kernels the way JupyterLab does.

It starts a notebook session over REST (``POST /api/sessions``), opens the kernel websocket
with the ``v1.kernel.websocket.jupyter.org`` subprotocol (or the legacy JSON one), and sends
``execute_request`` messages carrying ``metadata.cellId`` like JupyterLab. Also used by the
benchmarks. The server is a real subprocess (``JupyterServer``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1, serialize_msg_to_ws_v1
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

V1 = "v1.kernel.websocket.jupyter.org"
HERE = Path(__file__).resolve().parent
# extensions the venv enables that these tests do not need: keeping them off makes a server start in ~1 s
LAB_EXTENSIONS = ["jupyterlab", "jupyter_collaboration", "jupyter_server_ydoc", "jupyter_docprovider", "jupyter_server_fileid",
                  "jupyter_collaboration_ui"]
QUIET_EXTENSIONS = LAB_EXTENSIONS + ["jupyter_lsp", "jupyter_server_terminals", "notebook_shim"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterServer:
    """A ``jupyter server`` subprocess on 127.0.0.1 with users identified by token (see fake_identity.py)."""

    RECORDING_CONNECTION = "mlinterview.extension.history_connection.HistoryRecordingConnection"
    STOCK_CONNECTION = "jupyter_server.services.kernels.connection.channels.ZMQChannelsWebsocketConnection"

    def __init__(self, root: Path, config_dir: Path, *, history_dir: Path | None, record: bool = True,
                 connection_class: str | None = None, users: dict[str, str] | None = None, owner: str = "alice",
                 env: dict[str, str] | None = None, extra_config: dict[str, dict] | None = None, lab: bool = False):
        self.root, self.config_dir, self.history_dir = Path(root), Path(config_dir), history_dir
        self.record, self.owner = record, owner
        # without the extension the recording class forwards untouched: the benchmark's like-for-like baseline
        self.connection_class = connection_class or (self.RECORDING_CONNECTION if record else self.STOCK_CONNECTION)
        self.users = users or {"tok-alice": "alice", "tok-bob": "bob"}
        self.extra_env = env or {}
        self.extra_config = extra_config or {}
        self.lab = lab  # JupyterLab (and its real-time collaboration, which its notebooks need) for a browser
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.log_path = self.config_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> None:
        extensions = {name: False for name in QUIET_EXTENSIONS if not (self.lab and name in LAB_EXTENSIONS)}
        extensions["mlinterview.extension"] = self.record
        config = {
            "ServerApp": {
                "jpserver_extensions": extensions,
                "identity_provider_class": "fake_identity.TokenPerUserIdentityProvider",
                "kernel_websocket_connection_class": self.connection_class,
                "open_browser": False,
            },
            "TokenPerUserIdentityProvider": {"user_tokens": self.users, "token": "server-secret"},
            "HistoryRecorder": {"owner": self.owner},
            # the benchmark sends 1,000 cells quickly: IOPub rate limits are not what is measured
            "ZMQChannelsWebsocketConnection": {"iopub_msg_rate_limit": 0.0, "iopub_data_rate_limit": 0.0},
        }
        for section, values in self.extra_config.items():
            config.setdefault(section, {}).update(values)
        (self.config_dir / "data").mkdir(parents=True, exist_ok=True)
        (self.config_dir / "jupyter_server_config.json").write_text(json.dumps(config, indent=1))

    def start(self, timeout: float = 60) -> "JupyterServer":
        self.write_config()
        self.port = free_port()
        env = dict(os.environ)
        env.update({
            "JUPYTER_CONFIG_DIR": str(self.config_dir),
            "JUPYTER_RUNTIME_DIR": str(self.config_dir / "runtime"),
            # the user data folder too (the file-id database of the collaboration lives there): a
            # fresh machine may have no ~/.local/share/jupyter, and the tests share nothing through it
            "JUPYTER_DATA_DIR": str(self.config_dir / "data"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH", "")])),
            "OMP_NUM_THREADS": "1",
        })
        env.pop("JUPYTERHUB_USER", None)
        env.pop("MLINTERVIEW_HISTORY_URL", None)
        if self.history_dir is not None:
            env["MLINTERVIEW_HISTORY_DIR"] = str(self.history_dir)
        env.update(self.extra_env)
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--port={self.port}", "--ip=127.0.0.1", "--port-retries=0", "--allow-root",
             f"--ServerApp.root_dir={self.root}", "--ServerApp.shutdown_no_activity_timeout=0"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.root,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter server exited ({self.process.returncode}):\n{self.log_path.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"jupyter server did not listen within {timeout} s:\n{self.log_path.read_text()[-3000:]}")
        return self

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if getattr(self, "log", None):
            self.log.close()

    def server_log(self) -> str:
        return self.log_path.read_text(errors="replace")

    # -- REST -------------------------------------------------------------------------------

    async def api(self, method: str, path: str, body: Any = None, token: str = "tok-alice") -> Any:
        request = HTTPRequest(
            self.url + path, method=method, headers={"Authorization": f"token {token}"},
            body=None if body is None and method in ("GET", "DELETE") else json.dumps(body or {}), request_timeout=120,
        )
        try:
            response = await AsyncHTTPClient().fetch(request)
        except HTTPClientError as error:
            if error.code >= 500:  # say why: the server's own account of it
                raise AssertionError(f"{method} {path}: HTTP {error.code}; server log:\n{self.server_log()[-4000:]}") from error
            raise
        return json.loads(response.body) if response.body else None

    async def open_notebook(self, path: str = "interview.ipynb", kernel: str = "mlinterview-cpu", token: str = "tok-alice") -> str:
        """Start a notebook session like JupyterLab opening a notebook; returns the kernel id."""
        model = await self.api("POST", "/api/sessions", {"path": path, "type": "notebook", "name": path, "kernel": {"name": kernel}}, token)
        return model["kernel"]["id"]

    @contextlib.asynccontextmanager
    async def notebook(self, path: str, kernel: str = "mlinterview-cpu", token: str = "tok-alice"):
        """A notebook session for the duration of a ``with`` block; yields its kernel id, then shuts it down."""
        model = await self.api("POST", "/api/sessions", {"path": path, "type": "notebook", "name": path, "kernel": {"name": kernel}}, token)
        try:
            yield model["kernel"]["id"]
        finally:
            await self.api("DELETE", f"/api/sessions/{model['id']}", token=token)

    async def history(self, token: str = "tok-alice", since: int = -1) -> list[dict[str, Any]]:
        return (await self.api("GET", f"/mlinterview/history?since={since}", token=token))["events"]


class KernelSocket:
    """One browser tab's websocket to a kernel."""

    def __init__(self, server: JupyterServer, kernel_id: str, token: str = "tok-alice", protocol: str | None = V1,
                 header_username: str = "browser"):
        self.server, self.kernel_id, self.token, self.protocol = server, kernel_id, token, protocol
        self.header_username = header_username  # what the message headers claim; the server must not trust it
        self.session = uuid.uuid4().hex
        self.ws = None
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._waiters: dict[str, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None

    async def connect(self) -> "KernelSocket":
        url = f"ws://127.0.0.1:{self.server.port}/api/kernels/{self.kernel_id}/channels?session_id={self.session}"
        request = HTTPRequest(url, headers={"Authorization": f"token {self.token}"})
        self.ws = await websocket_connect(request, subprotocols=[self.protocol] if self.protocol else None)
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        if self._reader is not None:
            self._reader.cancel()

    def _header(self, msg_type: str) -> dict[str, Any]:
        return {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": self.header_username, "session": self.session,
                "date": datetime.now(timezone.utc).isoformat(), "version": "5.3"}

    def send(self, channel: str, msg_type: str, content: dict[str, Any], metadata: dict[str, Any] | None = None) -> str:
        header = self._header(msg_type)
        if self.protocol == V1:
            parts = [json.dumps(x).encode() for x in (header, {}, metadata or {}, content)]
            self.ws.write_message(serialize_msg_to_ws_v1(parts, channel), binary=True)
        else:
            self.ws.write_message(json.dumps({"header": header, "parent_header": {}, "metadata": metadata or {},
                                              "content": content, "channel": channel, "buffers": []}))
        return header["msg_id"]

    async def _read(self) -> None:
        while True:
            frame = await self.ws.read_message()
            if frame is None:
                return
            if isinstance(frame, bytes):
                channel, parts = deserialize_msg_from_ws_v1(frame)
                msg = {"channel": channel, "header": json.loads(parts[0]), "parent_header": json.loads(parts[1]),
                       "content": json.loads(parts[3])}
            else:
                msg = json.loads(frame)
            self.received.append((msg["channel"], msg))
            parent = msg["parent_header"].get("msg_id")
            waiter = self._waiters.get(parent)
            if waiter is None or waiter.done():
                continue
            if msg["channel"] == "shell" and msg["header"]["msg_type"] == "execute_reply":
                waiter.reply = msg
            elif msg["channel"] == "iopub":
                waiter.outputs.append(msg)
                if msg["header"]["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    waiter.idle = True
            if getattr(waiter, "reply", None) is not None and getattr(waiter, "idle", False):
                waiter.set_result(None)

    def start_execute(self, code: str, cell_id: str | None = None) -> str:
        msg_id = self.send("shell", "execute_request",
                           {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
                           {"cellId": cell_id or uuid.uuid4().hex, "deletedCells": [], "recordTiming": False})
        waiter = asyncio.get_running_loop().create_future()
        waiter.reply, waiter.idle, waiter.outputs = None, False, []
        self._waiters[msg_id] = waiter
        return msg_id

    async def wait(self, msg_id: str, timeout: float = 60) -> dict[str, Any]:
        waiter = self._waiters[msg_id]
        await asyncio.wait_for(asyncio.shield(waiter), timeout)
        del self._waiters[msg_id]
        return {"msg_id": msg_id, "reply": waiter.reply["content"], "outputs": waiter.outputs}

    async def execute(self, code: str, cell_id: str | None = None, timeout: float = 60) -> dict[str, Any]:
        """Run a cell and wait, like a browser, for its reply and the kernel going idle."""
        return await self.wait(self.start_execute(code, cell_id), timeout)


def output_text(result: dict[str, Any]) -> str:
    """All text a cell showed (streams, results, errors)."""
    texts = []
    for msg in result["outputs"]:
        content, kind = msg["content"], msg["header"]["msg_type"]
        if kind == "stream":
            texts.append(content["text"])
        elif kind == "error":
            texts.append(f"{content['ename']}: {content['evalue']}")
        elif kind in ("execute_result", "display_data"):
            texts.append(str(content.get("data", {}).get("text/plain", "")))
    return "".join(texts)


__all__ = ["JupyterServer", "KernelSocket", "HTTPClientError", "output_text", "free_port"]
