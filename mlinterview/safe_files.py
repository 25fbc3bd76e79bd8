"""File operations in folders a candidate can write, for code that runs with more rights than they have.

The hub (as root) materializes, hands over and freezes workspaces the candidate owns, releases a
twist into them and renders the live notebook from them; the grader
(as root) copies submissions and reads what a replayed kernel wrote. A path-based ``open`` or
``copytree`` there follows whatever the candidate planted: a symlink to the holdout seed, a
folder swapped for a link to ``/etc`` between two calls, a FIFO that blocks forever. So here:

- every path below a trusted ``root`` is opened one component at a time, relative to the
  descriptor of the folder above, with ``O_NOFOLLOW`` (a link anywhere fails, it is never
  followed), folders with ``O_DIRECTORY``, files with ``O_NONBLOCK`` (a FIFO cannot block) and
  then checked on the descriptor with ``fstat``: only regular files with a single name are
  read or copied (a second name may be a hard link to a file outside);
- files are created with ``O_CREAT|O_EXCL|O_NOFOLLOW`` under a temporary name, given their mode
  and owner on the descriptor (``fchmod``/``fchown``), then renamed into place relative to the
  same folder descriptor: whatever the candidate does to the path meanwhile, the write lands in
  that folder and replaces a name, never a link's target;
- what a copy or a walk leaves out is returned as :class:`LeftOut` entries ("churnlab/_s.txt, a
  symlink to /etc/mlinterview/holdout-seed") for the report.

Functions: :func:`open_folder`, :func:`read_bytes` (:func:`read_plain`), :func:`write_bytes`, :func:`survey`,
:func:`copy_tree`, :func:`chown_tree`. Standard library only.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_DEPTH = 64
CHUNK = 1024 * 1024

# ignore(relative_folder, names) -> names to skip, as shutil.ignore_patterns(...) builds them
Ignore = Callable[[str, list[str]], "set[str] | list[str]"]


class UnsafeFileError(OSError):
    """A path is not a plain regular file (or folder) where one was expected; never followed."""


@dataclass(frozen=True)
class LeftOut:
    """One entry a copy or a walk did not take, and why, in words."""

    path: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}, {self.why}"

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "why": self.why}


def describe(status: os.stat_result, link_target: str | None = None) -> str:
    """What a file is, in the words of a report: "a symlink to ...", "a FIFO", "a hard link (2 names)"."""
    mode = status.st_mode
    if stat.S_ISLNK(mode):
        return "a symlink" + (f" to {link_target}" if link_target else "")
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode) and status.st_nlink > 1:
        return f"a hard link ({status.st_nlink} names; it may be a file outside)"
    if stat.S_ISREG(mode):
        return "a regular file"
    return "not a regular file"


def is_plain_file(status: os.stat_result) -> bool:
    return stat.S_ISREG(status.st_mode) and status.st_nlink == 1


def _parts(relative: str | os.PathLike) -> list[str]:
    parts = [part for part in PurePosixPath(os.fspath(relative)).parts if part not in ("", ".")]
    if any(part == ".." or "/" in part for part in parts) or PurePosixPath(os.fspath(relative)).is_absolute():
        raise ValueError(f"{relative!s} is not a relative path below its root")
    return parts


def open_folder(
    root: str | os.PathLike | int,
    relative: str | os.PathLike = "",
    *,
    create: bool = False,
    mode: int = 0o755,
    owner: tuple[int, int] | None = None,
) -> int:
    """A descriptor of ``root/relative``; no component below ``root`` may be a link.

    ``root`` is trusted (a path of the caller's, or a descriptor, which is duplicated). With
    ``create``, missing folders are made with ``mode`` (and ``owner``, on their descriptor).
    The caller closes the descriptor.
    """
    fd = os.dup(root) if isinstance(root, int) else os.open(root, FOLDER_FLAGS)
    try:
        for part in _parts(relative):
            created = False
            if create:
                try:
                    os.mkdir(part, mode, dir_fd=fd)
                    created = True
                except FileExistsError:
                    pass
            try:
                child = os.open(part, FOLDER_FLAGS, dir_fd=fd)
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafeFileError(error.errno, f"{part} is {_kind_at(fd, part)}, not a folder") from None
                raise
            if created:
                if owner is not None:
                    os.fchown(child, *owner)
                os.fchmod(child, mode)  # mkdir's mode went through the umask
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def _kind_at(dir_fd: int, name: str) -> str:
    try:
        status = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return "gone"
    return describe(status, _link_target(dir_fd, name) if stat.S_ISLNK(status.st_mode) else None)


def _link_target(dir_fd: int, name: str) -> str | None:
    try:
        target = os.readlink(name, dir_fd=dir_fd)
    except OSError:
        return None
    return target[:200] + ("..." if len(target) > 200 else "")


def _open_plain(dir_fd: int, name: str) -> tuple[int, os.stat_result]:
    """Open ``name`` in ``dir_fd`` for reading if it is a plain regular file; else UnsafeFileError."""
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafeFileError(error.errno, f"{name} is {_kind_at(dir_fd, name)}") from None
        raise
    status = os.fstat(fd)
    if not is_plain_file(status):
        os.close(fd)
        raise UnsafeFileError(errno.EINVAL, f"{name} is {describe(status)}")
    return fd, status


def _open_plain_below(root: str | os.PathLike | int, relative: str | os.PathLike) -> tuple[int, os.stat_result]:
    """A descriptor of the plain regular file ``root/relative``, reached through folders without links."""
    parts = _parts(relative)
    if not parts:
        raise ValueError("a file below the root is needed")
    folder = open_folder(root, PurePosixPath(*parts[:-1]) if parts[:-1] else "")
    try:
        return _open_plain(folder, parts[-1])
    finally:
        os.close(folder)


def read_bytes(root: str | os.PathLike | int, relative: str | os.PathLike, max_bytes: int | None = None) -> bytes:
    """The content of the plain regular file ``root/relative``, at most ``max_bytes`` (more is an error).

    Raises FileNotFoundError, UnsafeFileError (a link anywhere, a FIFO, a device, a hard link),
    or ValueError when the file is larger than ``max_bytes``.
    """
    return read_plain(root, relative, max_bytes)[0]


def read_plain(root: str | os.PathLike | int, relative: str | os.PathLike, max_bytes: int | None = None) -> tuple[bytes, os.stat_result]:
    """:func:`read_bytes`, with the file's status as it was read (a rewrite changes its inode or time)."""
    fd, status = _open_plain_below(root, relative)
    with os.fdopen(fd, "rb") as handle:
        if max_bytes is not None and status.st_size > max_bytes:
            raise ValueError(f"{relative!s} is {status.st_size} bytes, over the {max_bytes} byte limit")
        data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
    if max_bytes is not None and len(data) > max_bytes:
        raise ValueError(f"{relative!s} grew past the {max_bytes} byte limit while being read")
    return data, status


def read_tail(root: str | os.PathLike | int, relative: str | os.PathLike, max_bytes: int) -> bytes:
    """The last ``max_bytes`` of the plain regular file ``root/relative`` (e.g. a log that may be long);
    raises as :func:`read_bytes` does for anything but a plain file."""
    fd, status = _open_plain_below(root, relative)
    with os.fdopen(fd, "rb") as handle:
        handle.seek(max(0, status.st_size - max_bytes))
        return handle.read(max_bytes)


def write_bytes(
    root: str | os.PathLike | int,
    relative: str | os.PathLike,
    data: bytes,
    *,
    mode: int = 0o644,
    owner: tuple[int, int] | None = None,
    folder_mode: int = 0o755,
) -> None:
    """Write ``root/relative`` atomically: a fresh file (O_EXCL, O_NOFOLLOW), mode and owner set on its
    descriptor, renamed over the name (a link there is replaced, never followed). Missing folders
    are created (``folder_mode``, and ``owner`` when given)."""
    parts = _parts(relative)
    folder = open_folder(root, PurePosixPath(*parts[:-1]) if parts[:-1] else "", create=True, mode=folder_mode, owner=owner)
    try:
        _write_into(folder, parts[-1], data, mode, owner)
    finally:
        os.close(folder)


def _write_into(folder: int, name: str, data: bytes | Iterator[bytes], mode: int, owner: tuple[int, int] | None) -> None:
    """``name`` in ``folder``: a fresh temporary file, mode and owner set on it, renamed over the name."""
    temporary = f".{name[:100]}.{secrets.token_hex(6)}.tmp"
    fd = os.open(temporary, CREATE_FLAGS, 0o600, dir_fd=folder)
    try:
        with os.fdopen(fd, "wb", closefd=False) as handle:
            for chunk in [data] if isinstance(data, (bytes, bytearray, memoryview)) else data:
                handle.write(chunk)
        if owner is not None:
            os.fchown(fd, *owner)
        os.fchmod(fd, mode)  # after fchown, which clears set-id bits
    except BaseException:
        os.close(fd)
        os.unlink(temporary, dir_fd=folder)
        raise
    os.close(fd)
    os.rename(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)


@dataclass
class Entry:
    """A plain regular file found by :func:`survey`."""

    path: str
    size: int


def _walk(folder: int, prefix: str, ignore: Ignore | None, depth: int, left_out: list[LeftOut]) -> Iterator[tuple[int, str, str, os.stat_result]]:
    """(folder fd, relative path, name, lstat) of every plain regular file below ``folder``; the rest
    (links, FIFOs, devices, hard links, unreadable or too deep folders) goes into ``left_out``."""
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    names = [entry.name for entry in entries]
    skipped = set(ignore(prefix or ".", names)) if ignore else set()
    for entry in entries:
        if entry.name in skipped:
            continue
        relative = f"{prefix}/{entry.name}" if prefix else entry.name
        try:
            status = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # gone meanwhile
        if stat.S_ISDIR(status.st_mode):
            if depth >= MAX_DEPTH:
                left_out.append(LeftOut(relative + "/", f"a folder nested more than {MAX_DEPTH} deep"))
                continue
            try:
                child = os.open(entry.name, FOLDER_FLAGS, dir_fd=folder)
            except OSError as error:
                left_out.append(LeftOut(relative + "/", f"a folder that could not be opened ({error.strerror})"))
                continue
            try:
                yield from _walk(child, relative, ignore, depth + 1, left_out)
            finally:
                os.close(child)
        elif is_plain_file(status):
            yield folder, relative, entry.name, status
        else:
            target = _link_target(folder, entry.name) if stat.S_ISLNK(status.st_mode) else None
            left_out.append(LeftOut(relative, describe(status, target)))


def survey(root: str | os.PathLike, relative: str | os.PathLike = "", *, ignore: Ignore | None = None) -> tuple[list[Entry], list[LeftOut]]:
    """The plain regular files below ``root/relative`` (paths relative to it), and what is not one."""
    left_out: list[LeftOut] = []
    try:
        folder = open_folder(root, relative)
    except FileNotFoundError:
        return [], []
    except UnsafeFileError as error:
        return [], [LeftOut(os.fspath(relative) or ".", error.strerror)]
    try:
        files = [Entry(path, status.st_size) for _fd, path, _name, status in _walk(folder, "", ignore, 0, left_out)]
    finally:
        os.close(folder)
    return files, left_out


def copy_tree(
    source: str | os.PathLike,
    target: str | os.PathLike,
    *,
    ignore: Ignore | None = None,
    skip_top: set[str] | frozenset[str] = frozenset(),
    owner: tuple[int, int] | None = None,
    file_mode: int | None = None,
    folder_mode: int = 0o755,
    max_bytes: int | None = None,
) -> list[LeftOut]:
    """Copy the plain regular files below ``source`` into ``target``; return what was left out.

    ``source`` may be the candidate's: nothing in it is followed. ``target`` is the caller's
    (created if missing); files already there are replaced atomically. ``skip_top``: names at the
    top of ``source`` not to copy (not reported). ``file_mode`` None keeps each file's permission
    bits (set-id bits dropped). ``max_bytes``: files past this total are left out, said so.
    """
    left_out: list[LeftOut] = []
    budget = max_bytes
    source_fd = os.open(source, FOLDER_FLAGS)
    created = not os.path.lexists(target)
    Path(target).mkdir(parents=True, exist_ok=True)
    target_root = os.open(target, FOLDER_FLAGS)
    if created:
        if owner is not None:
            os.fchown(target_root, *owner)
        os.fchmod(target_root, folder_mode)

    def top_ignore(folder: str, names: list[str]) -> set[str]:
        skipped = set(ignore(folder, names)) if ignore else set()
        return skipped | (set(skip_top) if folder == "." else set())

    try:
        for folder, relative, name, status in _walk(source_fd, "", top_ignore, 0, left_out):
            if budget is not None and status.st_size > budget:
                left_out.append(LeftOut(relative, f"{status.st_size} bytes, past the {max_bytes} byte budget of copied files"))
                continue
            try:
                fd, opened = _open_plain(folder, name)
            except (UnsafeFileError, OSError) as error:
                left_out.append(LeftOut(relative, f"changed while being copied ({error.strerror or error})"))
                continue
            if (opened.st_dev, opened.st_ino) != (status.st_dev, status.st_ino):
                os.close(fd)
                left_out.append(LeftOut(relative, "replaced while being copied"))
                continue
            if budget is not None:
                budget -= opened.st_size
            parts = _parts(relative)
            below = PurePosixPath(*parts[:-1]) if parts[:-1] else ""
            destination = open_folder(target_root, below, create=True, mode=folder_mode, owner=owner)
            try:
                with os.fdopen(fd, "rb") as handle:
                    chunks = iter(lambda: handle.read(CHUNK), b"")
                    mode = file_mode if file_mode is not None else stat.S_IMODE(opened.st_mode) & 0o777
                    _write_into(destination, parts[-1], chunks, mode, owner)
            finally:
                os.close(destination)
    finally:
        os.close(source_fd)
        os.close(target_root)
    return left_out


def chown_tree(root: str | os.PathLike, uid: int, gid: int, *, folder_mode: int | None = None) -> list[LeftOut]:
    """Give ``root`` and everything below it to ``uid:gid`` without following anything.

    Links are re-owned themselves (``lchown``), never their targets; a regular file with more than
    one name is left alone (it may be a hard link to a file outside) and reported. Each folder is
    re-owned through its own descriptor, opened with O_NOFOLLOW relative to its parent.
    """
    left_out: list[LeftOut] = []
    top = os.open(root, FOLDER_FLAGS)
    try:
        os.fchown(top, uid, gid)
        if folder_mode is not None:
            os.fchmod(top, folder_mode)
        _chown_below(top, "", uid, gid, 0, left_out)
    finally:
        os.close(top)
    return left_out


def _chown_below(folder: int, prefix: str, uid: int, gid: int, depth: int, left_out: list[LeftOut]) -> None:
    with os.scandir(folder) as listing:
        entries = list(listing)
    for entry in entries:
        relative = f"{prefix}/{entry.name}" if prefix else entry.name
        try:
            status = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(status.st_mode) and depth < MAX_DEPTH:
            try:
                child = os.open(entry.name, FOLDER_FLAGS, dir_fd=folder)
            except OSError:
                continue  # swapped meanwhile: not ours to follow
            try:
                os.fchown(child, uid, gid)
                _chown_below(child, relative, uid, gid, depth + 1, left_out)
            finally:
                os.close(child)
        elif stat.S_ISREG(status.st_mode):
            # through a descriptor: the name may have become a hard link since the stat above
            try:
                fd = os.open(entry.name, READ_FLAGS, dir_fd=folder)
            except OSError:
                continue
            try:
                opened = os.fstat(fd)
                if not stat.S_ISREG(opened.st_mode):
                    continue
                if opened.st_nlink > 1 and (opened.st_uid, opened.st_gid) != (uid, gid):
                    left_out.append(LeftOut(relative, describe(opened)))
                    continue
                os.fchown(fd, uid, gid)
            finally:
                os.close(fd)
        elif not stat.S_ISDIR(status.st_mode):
            try:
                os.chown(entry.name, uid, gid, dir_fd=folder, follow_symlinks=False)
            except OSError:
                continue
