"""Reading and writing inside a candidate's workspace without following what the candidate planted.

The interview service runs as root in isolated mode and the workspace belongs to the candidate,
who may have planted links, FIFOs or swapped folders anywhere in it. So nothing here goes by
path: ``WorkspaceFolder`` opens each folder with ``O_NOFOLLOW | O_DIRECTORY`` from the workspace
down (the workspace itself sits in the hub's ``workspaces/``, which the candidate cannot change),
reads only regular files through ``O_NOFOLLOW``, and writes a new file under a fresh random name
with ``O_CREAT | O_EXCL | O_NOFOLLOW``, sets its owner and mode on the descriptor and renames it
into place inside the folder it holds open. A link the candidate left at any name is replaced
as a directory entry, never followed.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path, PurePosixPath

NOFOLLOW_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_READ_BYTES = 64 << 20


class UnsafeWorkspacePath(Exception):
    """A path in the workspace is not what it must be (a link, not a folder, too large); the message says which."""


class WorkspaceFolder:
    """A folder of a candidate workspace, held open by descriptor (never re-resolved by path)."""

    def __init__(self, fd: int, where: str):
        self.fd = fd
        self.where = where

    @classmethod
    def open_workspace(cls, workspace: Path) -> "WorkspaceFolder":
        try:
            return cls(os.open(workspace, NOFOLLOW_DIR), str(workspace))
        except OSError as error:
            raise UnsafeWorkspacePath(f"{workspace} is not a workspace folder ({error.strerror})") from None

    def __enter__(self) -> "WorkspaceFolder":
        return self

    def __exit__(self, *_exc) -> None:
        os.close(self.fd)

    def subfolder(self, relative: str | PurePosixPath, *, create: bool = False, mode: int = 0o755) -> "WorkspaceFolder":
        """Open ``relative`` one component at a time, refusing links (and creating it if asked)."""
        fd, where = os.dup(self.fd), self.where
        try:
            for part in PurePosixPath(relative).parts:
                if part in ("", ".", "..", "/"):
                    raise UnsafeWorkspacePath(f"{relative}: not a plain relative folder")
                if create:
                    try:
                        os.mkdir(part, mode, dir_fd=fd)
                        self._give_to_owner_at(part, fd)
                    except FileExistsError:
                        pass
                try:
                    child = os.open(part, NOFOLLOW_DIR, dir_fd=fd)
                except OSError as error:
                    raise UnsafeWorkspacePath(f"{where}/{part} is not a folder of the workspace ({error.strerror}); a link is not followed") from None
                os.close(fd)
                fd, where = child, f"{where}/{part}"
        except BaseException:
            os.close(fd)
            raise
        return WorkspaceFolder(fd, where)

    def owner(self) -> tuple[int, int]:
        info = os.fstat(self.fd)
        return info.st_uid, info.st_gid

    def _give_to_owner_at(self, name: str, fd: int) -> None:
        info = os.fstat(fd)
        if os.geteuid() == 0 and (info.st_uid, info.st_gid) != (0, 0):
            os.chown(name, info.st_uid, info.st_gid, dir_fd=fd, follow_symlinks=False)

    def read_regular(self, name: str, limit: int = MAX_READ_BYTES) -> bytes | None:
        """The bytes of ``name`` if it is a regular file here (never through a link); else None."""
        return self.read_regular_with_stamp(name, limit)[0]

    def read_regular_with_stamp(self, name: str, limit: int = MAX_READ_BYTES) -> tuple[bytes | None, str]:
        """(bytes, stamp) of the regular file ``name``; the stamp changes whenever the file is rewritten."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=self.fd)
        except OSError:
            return None, ""
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):  # a FIFO or a device: opened without blocking, never read
                return None, ""
            if info.st_nlink > 1:
                return None, ""  # a hard link may be to a file outside the workspace
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise UnsafeWorkspacePath(f"{self.where}/{name} is larger than {limit} bytes")
        return data, f"{info.st_ino}-{info.st_mtime_ns}-{info.st_size}"

    def replace_file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        """Write ``data`` as ``name``, owned like this folder, atomically (a reader never sees half)."""
        if "/" in name or name in ("", ".", ".."):
            raise UnsafeWorkspacePath(f"{name!r}: not a file name")
        staging = f".{name}.{secrets.token_hex(8)}.new"
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=self.fd)
        try:
            with os.fdopen(fd, "wb", closefd=False) as handle:
                handle.write(data)
            uid, gid = self.owner()
            if os.geteuid() == 0 and (uid, gid) != (0, 0):
                os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(staging, dir_fd=self.fd)
            raise
        os.close(fd)
        # both names in the folder we hold open: the candidate may move the folder, not redirect us
        os.rename(staging, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
