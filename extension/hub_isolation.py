"""Isolated mode: two system users per interview, and private files only the hub's user reads.

Used whenever the hub runs as root (DESIGN.md, "Isolation modes"; CONFINEMENT.md). Per interview:

- the *candidate's user* has the candidate's hub name (``cand-<id>``): their kernels, so all of
  their code, run as it; its group is the interview's group;
- the *server user* (``cand-<id>-srv``, primary group the interview's group) runs the
  single-user server, which holds the hub token and records the history; the candidate's code
  cannot read, trace or signal it.

Both have no password and no login shell, are created before the candidate's server first starts
and removed when the interview is cleaned up. The workspace is shared through the group (folders
2770, files 0660); the kernels' socket folder is root's, group-writable and sticky (1770); the
server's home is its own (0700). Everything under the private store stays mode 0700, owned by root.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import stat
import subprocess
import time
from pathlib import Path

from .service_store import CANDIDATE_PREFIX

log = logging.getLogger(__name__)


class IsolationError(Exception):
    """A system-level step of isolated mode failed; the message says which and why."""


def _candidate_only(name: str) -> None:
    # never create or remove any account but a candidate's, whatever the caller passes
    if not name.startswith(CANDIDATE_PREFIX) or not name.replace("-", "").isalnum() or len(name) > 32:
        raise IsolationError(f"refusing to manage system user '{name}': only candidate users ({CANDIDATE_PREFIX}...) are managed")


def system_user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


SERVER_SUFFIX = "-srv"
USERADD_TRIES = 5


def server_user_name(candidate: str) -> str:
    """The system user that runs a candidate's single-user server."""
    return candidate + SERVER_SUFFIX


def ensure_system_user(name: str, home: Path, group: str | None = None) -> pwd.struct_passwd:
    """Create a system user (and home, mode 0700) if missing; its own group, or ``group``; return its entry."""
    _candidate_only(name)
    home = Path(home)
    if not system_user_exists(name):
        grouping = ["--gid", group, "--no-user-group"] if group else ["--user-group"]
        command = ["useradd", "--system", *grouping, "--no-create-home", "--home-dir", str(home), "--shell", "/usr/sbin/nologin", name]
        for attempt in range(USERADD_TRIES):
            result = subprocess.run(command, capture_output=True, text=True)
            # another process (a hub spawning at the same moment) may hold /etc/passwd's lock a little longer than useradd waits
            if result.returncode == 0 or system_user_exists(name) or "lock" not in result.stderr.lower():
                break
            time.sleep(0.5 * (attempt + 1))
        if result.returncode != 0 and not system_user_exists(name):
            raise IsolationError(f"could not create system user {name}: {result.stderr.strip() or result.returncode}")
    entry = pwd.getpwnam(name)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    home.chmod(0o700)
    return entry


def share_tree(root: Path, uid: int, gid: int) -> None:
    """Give a workspace to the candidate's user and the interview's group: folders 2770, files 0660.

    Walks by descriptor (``os.fwalk``) and changes each entry through a descriptor opened with
    ``O_NOFOLLOW``: a link is never followed, and a folder swapped for a link mid-walk is not entered.
    Links, FIFOs, devices and files with more than one name are left as they are (the freeze leaves them out)."""
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(root_fd, uid, gid)
        os.fchmod(root_fd, 0o2770)
    finally:
        os.close(root_fd)
    for _folder, dirs, files, dir_fd in os.fwalk(root, follow_symlinks=False):
        for name, mode in [(name, 0o2770) for name in dirs] + [(name, 0o660) for name in files]:
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dir_fd)
            except OSError:
                continue  # a link (ELOOP), or gone
            try:
                info = os.fstat(fd)
                if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
                    continue  # a hard link may be to a file outside the workspace: left as it is
                if stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):
                    os.fchown(fd, uid, gid)
                    os.fchmod(fd, mode if stat.S_ISDIR(info.st_mode) else (0o770 if info.st_mode & 0o100 else 0o660))
            finally:
                os.close(fd)


def prepare_candidate(candidate: str, *, workspace: Path, homes_dir: Path, socket_dir: Path) -> tuple[pwd.struct_passwd, pwd.struct_passwd]:
    """Both users of an interview, the shared workspace, the server's home and the kernels' socket folder."""
    kernel_user = ensure_system_user(candidate, Path(homes_dir) / candidate)
    server = server_user_name(candidate)
    server_user = ensure_system_user(server, Path(homes_dir) / server, group=candidate)
    share_tree(Path(workspace), kernel_user.pw_uid, kernel_user.pw_gid)
    socket_dir = Path(socket_dir)
    socket_dir.parent.mkdir(parents=True, exist_ok=True)
    socket_dir.parent.chmod(0o711)
    socket_dir.mkdir(exist_ok=True)
    os.chown(socket_dir, 0, kernel_user.pw_gid, follow_symlinks=False)
    socket_dir.chmod(0o1770)
    return kernel_user, server_user


def remove_candidate(candidate: str, *, homes_dir: Path, socket_dir: Path) -> None:
    """Stop every process left of the interview's two users, then remove the users and their folders."""
    from ..kernels.warden import kill_processes_of_users

    users = [candidate, server_user_name(candidate)]
    uids = {pwd.getpwnam(name).pw_uid for name in users if system_user_exists(name)}
    if uids:
        kill_processes_of_users(uids)
    for name in (server_user_name(candidate), candidate):
        remove_system_user(name)
        remove_tree(Path(homes_dir) / name)
    remove_tree(Path(socket_dir))


def remove_system_user(name: str) -> bool:
    """Remove the candidate's system user and group (their server must be stopped first)."""
    _candidate_only(name)
    if not system_user_exists(name):
        return False
    result = subprocess.run(["userdel", name], capture_output=True, text=True)
    if result.returncode != 0 and system_user_exists(name):
        raise IsolationError(f"could not remove system user {name}: {result.stderr.strip()}")
    return True


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def protect_scenario_private_parts(scenarios_dir: Path, log=log) -> list[Path]:
    """Make every pack's ``private/`` folder readable by the hub's user only (mode 0700).

    The packs may live in a checkout that everyone can read; in isolated mode a candidate's
    system user must not read the reference solution, the probes or the holdout generator.
    """
    changed = []
    for private in sorted(Path(scenarios_dir).glob("*/private")):
        mode = stat.S_IMODE(private.stat().st_mode)
        if mode & 0o077:
            private.chmod(0o700)
            changed.append(private)
    if changed and log is not None:
        log.warning("isolated mode: made %s readable by the hub's user only", ", ".join(map(str, changed)))
    return changed
