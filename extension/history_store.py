"""Where history events go: the local append-only file and the hub-side interview service.

``HistoryFile`` appends sealed events (``mlinterview/history.py`` defines the format) to one
JSON-lines file per recorded session.

fsync policy (``HistoryFile.fsync``, default ``interval``): every event is written with one
``write(2)`` on an ``O_APPEND`` descriptor *before* the message that caused it is forwarded (the
request before it reaches the kernel, the reply before it reaches the browser), so it is in the
operating system's page cache and survives a ``kill -9`` of the server at any moment: that is
what makes "a reply the browser saw is in the file" hold. The ``fsync`` that also protects against
a power loss or a machine crash runs in a background thread, at most ``fsync_interval`` (1 s)
after a write, so the last second can be lost only when the whole machine goes down, and the hub
service holds the authoritative copy anyway. It is kept off the reply's path because an fsync
costs from 0.1 ms on an idle disk to several ms on a busy one, as much as a whole trivial cell.
``replies`` (fsync each closing event before the reply is forwarded) and ``every_event`` suit a
local-only deployment that wants power-loss safety per execution; ``never`` leaves it to the OS.

``HubStreamer`` sends every sealed event to the interview service: ``POST {"events": [...]}``
to ``$MLINTERVIEW_HISTORY_URL`` with ``Authorization: token $JUPYTERHUB_API_TOKEN``; the service
answers 200 ``{"stored_seq": N}`` (the highest seq it holds). It runs in the background on the
server's event loop, never blocks kernel traffic, and on any failure keeps the events and
resends from the last acknowledged seq after a backoff. A 409 answer (the batch does not continue
the service's chain) carries the service's ``stored_seq`` too: the streamer resends from there.
At start it asks the service (``GET``, same answer) what it holds; the acknowledged seq is also
kept next to the file (``<file>.acked``) so a restarted server resends what the hub never confirmed.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from traitlets import Enum, Float, Int, Unicode, default
from traitlets.config import LoggingConfigurable

from ..history import HistoryChain, dumps_line, read_events

# kinds whose event is fsync-ed under the policy "replies" before the causing message is forwarded
CLOSING_KINDS = frozenset({"execute_reply", "execute_lost", "kernel_event", "session_start"})

HISTORY_SECRET_ENV = "MLINTERVIEW_HISTORY_SECRET"
HISTORY_SECRET_HEADER = "X-Mlinterview-History-Secret"


def repair_torn_tail(path: Path) -> int:
    """Cut a partial last line (a write torn by a power loss); returns the bytes removed."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    with open(path, "r+b") as handle:
        handle.truncate(keep)
    return len(data) - keep


class HistoryFile(LoggingConfigurable):
    """One session's append-only, hash-chained JSON-lines file."""

    fsync = Enum(
        ["interval", "replies", "every_event", "never"], "interval",
        help="When to fsync (every event is written before it is forwarded, which is what survives kill -9): "
        "'interval' (a background thread, at most fsync_interval after a write), 'replies' (execution replies, lost "
        "executions and kernel events, before the reply reaches the browser), 'every_event', or 'never' (the OS decides).",
    ).tag(config=True)
    fsync_interval = Float(
        1.0, help="With fsync='interval': the longest a written event waits for its fsync, seconds.",
    ).tag(config=True)

    def __init__(self, path: Path, **kwargs: Any):
        super().__init__(**kwargs)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.truncated_bytes = repair_torn_tail(self.path)
        self.existing_events = read_events(self.path, strict=False) if self.path.exists() else []
        self.chain = HistoryChain()
        if self.existing_events:
            last = self.existing_events[-1]
            self.chain = HistoryChain(last["seq"], last["hash"])
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._written = threading.Event()
        self._stopping = threading.Event()
        self._syncer: threading.Thread | None = None
        if self.fsync == "interval":
            self._syncer = threading.Thread(target=self._sync_in_background, name="mlinterview-history-fsync", daemon=True)
            self._syncer.start()

    def _sync_in_background(self) -> None:
        while not self._stopping.is_set():
            self._written.wait()
            self._written.clear()
            try:
                os.fsync(self._fd)
            except OSError:  # closed under us at shutdown: close() syncs itself
                return
            self._stopping.wait(self.fsync_interval)  # at most one fsync per interval

    def append(self, event: dict[str, Any]) -> dict[str, Any]:
        """Seal ``event`` as the next link, write it (and fsync per policy); returns the sealed event."""
        sealed = self.chain.append(event)
        data = dumps_line(sealed).encode("utf-8")
        while data:
            written = os.write(self._fd, data)
            data = data[written:]
        if self.fsync == "interval":
            self._written.set()
        elif self.fsync == "every_event" or (self.fsync == "replies" and sealed["kind"] in CLOSING_KINDS):
            os.fsync(self._fd)
        return sealed

    def sync(self) -> None:
        """fsync what was written (a stopping server: it stays open for the kernels' shutdown events)."""
        if self._fd >= 0:
            os.fsync(self._fd)

    def close(self) -> None:
        self._stopping.set()
        self._written.set()
        if self._syncer is not None:
            self._syncer.join(5)
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1


class HubStreamer(LoggingConfigurable):
    """Streams sealed events to the hub-side interview service, resending from the last acknowledged seq."""

    url = Unicode(help="The interview service's history endpoint; empty for local-only mode.").tag(config=True)
    token = Unicode(help="API token sent as 'Authorization: token ...'.").tag(config=True)
    batch_size = Int(200, help="Most events sent in one POST.").tag(config=True)
    request_timeout = Float(10.0, help="Seconds one POST may take before it counts as failed.").tag(config=True)
    first_backoff = Float(0.5, help="Wait before the first retry after a failure, seconds (doubled per failure).").tag(config=True)
    max_backoff = Float(30.0, help="Longest wait between retries after failures, seconds.").tag(config=True)

    @default("url")
    def _default_url(self) -> str:
        return os.environ.get("MLINTERVIEW_HISTORY_URL", "")

    @default("token")
    def _default_token(self) -> str:
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    secret = Unicode(help="This server's history secret (from the spawner), sent with every request.").tag(config=True)

    @default("secret")
    def _default_secret(self) -> str:
        return os.environ.get(HISTORY_SECRET_ENV, "")

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}", HISTORY_SECRET_HEADER: self.secret}

    def __init__(self, history: HistoryFile, **kwargs: Any):
        super().__init__(**kwargs)
        spawner_url = os.environ.get("MLINTERVIEW_HISTORY_URL")
        if spawner_url and self.url != spawner_url:
            # the spawner's environment wins over config files, which a candidate may control
            self.log.warning("mlinterview: ignoring HubStreamer.url=%r: the hub set MLINTERVIEW_HISTORY_URL", self.url)
            self.url = spawner_url
        self.history = history
        self.acked_path = history.path.with_name(history.path.name + ".acked")
        self.acked_seq = self._read_acked()
        self.queue: deque[dict[str, Any]] = deque(e for e in history.existing_events if e["seq"] > self.acked_seq)
        self._wakeup = asyncio.Event()
        self._hurry = asyncio.Event()  # someone began waiting for an acknowledgement: cut a retry's backoff short
        self._waiting = 0  # how many delivered() calls are waiting
        self._task: asyncio.Task | None = None
        self.failures = 0

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def _read_acked(self) -> int:
        try:
            return int(self.acked_path.read_text().strip())
        except (OSError, ValueError):
            return -1

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def enqueue(self, sealed: dict[str, Any]) -> None:
        if self.enabled:
            self.queue.append(sealed)
            self._wakeup.set()

    async def stop(self, flush_timeout: float = 2.0) -> None:
        """Try once more to deliver what is queued, then stop."""
        if self._task is None:
            return
        if self.queue:
            self._wakeup.set()
            try:
                await asyncio.wait_for(self._drained(), flush_timeout)
            except asyncio.TimeoutError:
                self.log.warning("mlinterview: %d history events not yet acknowledged by the hub; resent at next start", len(self.queue))
        self._task.cancel()
        self._task = None

    async def delivered(self, seq: int, timeout: float) -> bool:
        """Wait until the service has acknowledged the event ``seq``; False if it has not within ``timeout``."""
        if not self.enabled:
            return False
        self._wakeup.set()
        self._hurry.set()
        self._waiting += 1
        deadline = time.monotonic() + timeout
        try:
            while self.acked_seq < seq:
                if time.monotonic() > deadline:
                    return False
                await asyncio.sleep(0.05)
            return True
        finally:
            self._waiting -= 1

    async def _drained(self) -> None:
        while self.queue:
            await asyncio.sleep(0.05)

    async def _run(self) -> None:
        backoff = self.first_backoff
        client = AsyncHTTPClient()
        await self._sync_with_service(client)
        while True:
            if not self.queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            batch = [self.queue[i] for i in range(min(self.batch_size, len(self.queue)))]
            try:
                stored = await self._post(client, batch)
            except Exception as error:  # network, HTTP status, bad answer: keep going locally
                self.failures += 1
                self.log.warning("mlinterview: history not delivered to %s (%s); retrying in %.1f s", self.url, error, backoff)
                await self._pause(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = self.first_backoff
            if stored is not None:
                self._acknowledge(stored)

    async def _pause(self, seconds: float) -> None:
        """The wait before a retry: ``seconds``, or half a second while ``delivered()`` is waiting
        (the candidate's "I'm done" should not sit out a 30-second backoff left by earlier failures)."""
        quick = 0.5
        self._hurry.clear()
        if self._waiting:
            await asyncio.sleep(min(seconds, quick))
            return
        try:
            await asyncio.wait_for(self._hurry.wait(), seconds)
        except asyncio.TimeoutError:
            return
        await asyncio.sleep(min(seconds, quick))  # still a pause, so a failing service is not hammered

    async def _sync_with_service(self, client: AsyncHTTPClient) -> None:
        """Ask the service what it holds (``GET`` answers ``{"stored_seq": N}``), so a restarted server
        resends exactly what is missing; without an answer the local ``.acked`` seq stands."""
        try:
            response = await client.fetch(HTTPRequest(
                self.url, method="GET", headers=self.headers(), request_timeout=self.request_timeout,
            ))
            self._acknowledge(int(json.loads(response.body)["stored_seq"]))
        except Exception as error:
            self.log.debug("mlinterview: could not ask %s for its last seq (%s)", self.url, error)

    async def _post(self, client: AsyncHTTPClient, batch: list[dict[str, Any]]) -> int | None:
        request = HTTPRequest(
            self.url, method="POST", body=json.dumps({"events": batch}),
            headers={**self.headers(), "Content-Type": "application/json"},
            request_timeout=self.request_timeout,
        )
        response = await client.fetch(request, raise_error=False)
        if response.code == 409:
            answer = json.loads(response.body)
            if answer.get("kept_as_divergent") == len(batch):
                # the service's chain holds something else at these seqs (an alarm there): our events
                # are kept beside it, so they are delivered, but never counted as acknowledged by the chain
                self.log.error("mlinterview: the interview service's history diverges from %s (%s); seq %d-%d kept as a divergence",
                               self.history.path, answer.get("error"), batch[0]["seq"], batch[-1]["seq"])
                for _ in batch:
                    self.queue.popleft()
                return None
            if batch[0]["seq"] > int(answer["stored_seq"]) + 1:
                # a gap: the service lacks earlier events; resend from what it holds
                return int(answer["stored_seq"])
            raise RuntimeError(f"the interview service refused the history: {answer.get('error')}")
        response.rethrow()
        return int(json.loads(response.body)["stored_seq"])

    def _acknowledge(self, stored_seq: int) -> None:
        """The service holds every event up to ``stored_seq``: drop those, queue again any it lacks."""
        while self.queue and self.queue[0]["seq"] <= stored_seq:
            self.queue.popleft()
        last_seq = self.history.chain.last_seq
        if stored_seq > last_seq:
            self.log.warning(
                "mlinterview: the interview service holds history up to seq %d but %s ends at %d: is it the same session?",
                stored_seq, self.history.path, last_seq)
        next_queued = self.queue[0]["seq"] if self.queue else last_seq + 1
        if stored_seq + 1 < next_queued:
            # the service holds less than we thought (it lost data, or a restart forgot): resend from its seq
            missing = [e for e in read_events(self.history.path, strict=False) if stored_seq < e["seq"] < next_queued]
            self.queue.extendleft(reversed(missing))
            self._wakeup.set()
        self.acked_seq = stored_seq
        try:
            self.acked_path.write_text(f"{stored_seq}\n")
        except OSError:
            self.log.debug("could not persist the acknowledged seq", exc_info=True)
