"""Fixtures for the cell-history tests (real ``jupyter server`` subprocesses, real kernels).

Fixtures:

- ``workspace``: a tiny interview workspace (``workspace_factory.make_workspace``) in a temp folder.
- ``start_server``: ``start_server(root, history_dir=..., record=True, **kw) -> JupyterServer``, a
  real server started with the mlinterview extension (or without it, ``record=False``) and users
  by token (``tok-alice`` the candidate who owns it, ``tok-bob`` an interviewer); stopped at teardown.
- ``shared_server``: one recorded server for the whole session, for tests that only add cells (each
  opens its own notebook with ``shared_server.notebook(path)``).

Helpers (modules here): ``browser`` (``JupyterServer``, ``KernelSocket``: a JupyterLab-like
websocket client), ``fake_identity`` (token -> user), ``workspace_factory``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from browser import JupyterServer
from workspace_factory import make_workspace


@pytest.fixture
def workspace(tmp_path) -> Path:
    return make_workspace(tmp_path / "workspace")


@pytest.fixture
def start_server(tmp_path):
    servers: list[JupyterServer] = []

    def start(root: Path, *, history_dir: Path | None = None, record: bool = True, **kwargs) -> JupyterServer:
        server = JupyterServer(root, tmp_path / f"server-{len(servers)}", history_dir=history_dir or tmp_path / "history",
                               record=record, **kwargs)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("shared")
    server = JupyterServer(make_workspace(base / "workspace"), base / "server", history_dir=base / "history").start()
    yield server
    server.stop()
