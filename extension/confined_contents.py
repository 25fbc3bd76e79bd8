"""A contents manager that serves the workspace and nothing a link in it points to.

A candidate can put a symbolic link into their workspace (``ln -s /proc/self/environ x``) and
ask their own server for it through the contents or files API; jupyter_server's file manager
checks the path as written, not where it leads. ``ConfinedContentsManager`` refuses any path
whose real location is outside the server's root (and so outside the workspace), which the
spawner selects for every candidate server.
"""

from __future__ import annotations

import os

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado.web import HTTPError


class ConfinedContentsManager(AsyncLargeFileManager):
    """AsyncLargeFileManager that never follows a link out of ``root_dir``."""

    def _get_os_path(self, path):
        os_path = super()._get_os_path(path)
        root = os.path.realpath(self.root_dir)
        real = os.path.realpath(os_path)
        if real != root and not real.startswith(root + os.sep):
            raise HTTPError(404, f"{path} leads outside the workspace (a link to {real} is not served)")
        return os_path
