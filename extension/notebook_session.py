"""The interview notebook's kernel starts with the candidate's server, not when they open it.

A candidate's first cell would otherwise wait for the interview kernel's start: the sandbox, then
the scaffold's imports (numpy, pandas, torch: seconds). ``InterviewSessionManager`` starts the
notebook's session (jupyter-server's own session record, kernel and all) as soon as the server's
event loop runs, while the hub finishes the spawn and the browser loads JupyterLab. JupyterLab
opening the notebook asks for a session on its path and gets this one: a request that arrives
while the kernel is still starting waits for it instead of starting a second kernel.

The kernel is started through the server's own kernel manager, so it is the interview kernelspec,
started (and, isolated, confined) exactly as any other, and recorded from its first message.
"""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath

from jupyter_server.services.sessions.sessionmanager import SessionManager
from traitlets import Unicode


class InterviewSessionManager(SessionManager):
    """jupyter-server's session manager, with the interview notebook's session started at once."""

    notebook = Unicode(
        "", config=True, help="The interview notebook (relative to the server's root) whose kernel starts with the server; empty: none."
    )

    _starting: asyncio.Future | None = None

    def start_notebook_session(self) -> None:
        """Start the notebook's session in the background (called once the event loop runs)."""
        if self.notebook and self._starting is None:
            self._starting = asyncio.ensure_future(self._start_notebook_session())

    async def _start_notebook_session(self) -> None:
        try:
            if await super().session_exists(path=self.notebook):
                return
            model = await self.create_session(path=self.notebook, name=PurePosixPath(self.notebook).name, type="notebook")
            self.log.info("mlinterview: started %s's kernel %s with the server", self.notebook, model["kernel"]["id"])
        except Exception:
            # not fatal: opening the notebook starts its kernel as it would without this
            self.log.warning("mlinterview: could not start %s's kernel with the server", self.notebook, exc_info=True)

    async def session_exists(self, path):
        if path == self.notebook and self._starting is not None and not self._starting.done():
            await asyncio.shield(self._starting)
        return await super().session_exists(path)
