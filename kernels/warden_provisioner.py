"""The server's side of the warden: a jupyter_client kernel provisioner that asks it for kernels.

In isolated mode the single-user server runs as the interview's server user, which may not
start processes as the candidate's user; the warden (``kernels/warden.py``, root) does it on its
behalf. ``WardenProvisioner`` is the provisioner every kernel of such a server gets
(``KernelProvisionerFactory.default_provisioner_name = "mlinterview-warden"``, set by the
spawner): it keeps jupyter_client's own connection-file and port logic (``LocalProvisioner``)
and sends ``launch``, ``poll`` and ``signal`` requests over the socket the warden handed down
(``$MLINTERVIEW_WARDEN_FD``). The kernel's process is not ours to signal: interrupts, restarts
and kills all go through the warden.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

from .warden import WARDEN_FD_ENV

_channel: socket.socket | None = None
_channel_lock = threading.Lock()


class WardenUnavailable(RuntimeError):
    """The server was not started by a warden, or the warden is gone."""


def warden_request(request: dict[str, Any]) -> dict[str, Any]:
    """One request to the warden and its answer (blocking; one at a time)."""
    global _channel
    with _channel_lock:
        if _channel is None:
            fd = os.environ.get(WARDEN_FD_ENV)
            if not fd:
                raise WardenUnavailable(f"${WARDEN_FD_ENV} is not set: this server was not started by the interview's warden")
            _channel = socket.socket(fileno=int(fd))
        try:
            _channel.send(json.dumps(request).encode())
            answer = _channel.recv(1 << 20)
        except OSError as error:
            raise WardenUnavailable(f"the interview's warden does not answer ({error})") from None
    if not answer:
        raise WardenUnavailable("the interview's warden has gone away")
    return json.loads(answer)


def _jsonable(info: dict[str, Any]) -> dict[str, Any]:
    return {key: value.decode() if isinstance(value, bytes) else value for key, value in info.items()}


class WardenProvisioner(LocalProvisioner):
    """Kernels started, polled and signalled by the interview's warden."""

    handle: str | None = None
    stop_reason: str | None = None
    _returncode: int | None = None

    @property
    def has_process(self) -> bool:
        return self.handle is not None

    async def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        answer = await asyncio.to_thread(warden_request, request)
        if not answer.get("ok"):
            raise RuntimeError(answer.get("error") or "the warden refused the request")
        return answer

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        kernel_name = getattr(self.parent, "kernel_name", None)
        answer = await self._ask({
            "op": "launch", "kernel_id": self.kernel_id, "kernel_name": kernel_name,
            "connection_info": _jsonable(dict(self.connection_info)),
        })
        self.handle, self.pid, self.pgid = answer["handle"], answer["pid"], None
        self._returncode, self.stop_reason = None, None
        return self.connection_info

    async def poll(self) -> int | None:
        if self.handle is None:
            return self._returncode if self._returncode is not None else 0
        try:
            answer = await self._ask({"op": "poll", "handle": self.handle})
        except (RuntimeError, WardenUnavailable):
            return 1
        if answer.get("reason"):
            self.stop_reason = answer["reason"]
        return answer.get("returncode")

    async def wait(self) -> int | None:
        while (code := await self.poll()) is None:
            await asyncio.sleep(0.1)
        self.handle, self._returncode = None, code
        return code

    async def send_signal(self, signum: int) -> None:
        if self.handle is None:
            return
        try:
            await self._ask({"op": "signal", "handle": self.handle, "signum": int(signum)})
        except WardenUnavailable:
            # the warden kills every kernel before it stops answering: this one is gone
            self.handle, self._returncode = None, -signal.SIGKILL

    async def kill(self, restart: bool = False) -> None:
        await self.send_signal(signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        await self.send_signal(signal.SIGTERM)

    async def get_provisioner_info(self) -> dict:
        info = await super().get_provisioner_info()
        info["handle"] = self.handle
        return info

    async def load_provisioner_info(self, provisioner_info: dict) -> None:
        await super().load_provisioner_info(provisioner_info)
        self.handle = provisioner_info.get("handle")
