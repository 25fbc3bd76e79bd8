"""The system users replayed kernels run as: one per running replay, never root, never shared.

A grader running as root leases a user for each replay with :func:`lease_kernel_user`: the first
``mlgrade-<n>`` whose lock file (``/run/mlinterview/kernel-users/<n>.lock``, root only) it can
lock exclusively, created on demand as a system user (no home, no login shell, a group of its
own). The lock is held as long as the replay runs, so two replays, in one grader or in a batch
of them, never share a uid: neither can open the other's ``/proc/<pid>/cwd``, signal or trace
it, or read its working copy (mode 0700, owned by the other user). When the lease ends, every
process still running as that user is killed (a detached process does not outlive its replay),
and the same happens when a lease begins, for whatever a crashed grader left behind.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

USER_PREFIX = "mlgrade-"
LOCK_DIR = Path("/run/mlinterview/kernel-users")
MAX_USERS = 256
USERADD_ATTEMPTS = 20


class KernelUserError(Exception):
    """No user could be leased for a kernel; the message says why."""


@dataclass
class KernelUser:
    """A leased system user; :meth:`release` ends the lease (and the user's processes)."""

    name: str
    uid: int
    gid: int
    lock_fd: int = field(repr=False, default=-1)

    def release(self) -> list[int]:
        """Kill every process left with this uid, then unlock; returns the pids that were killed."""
        killed = kill_processes_of(self.uid)
        if self.lock_fd >= 0:
            os.close(self.lock_fd)  # closing the descriptor releases the flock
            self.lock_fd = -1
        return killed

    def __enter__(self) -> "KernelUser":
        return self

    def __exit__(self, *_exc) -> None:
        self.release()


def kill_processes_of(uid: int, rounds: int = 50) -> list[int]:
    """SIGKILL every process whose real, effective or saved uid is ``uid`` until none is left."""
    if uid == 0:
        raise ValueError("refusing to kill root's processes")
    killed: list[int] = []
    for _ in range(rounds):
        victims = []
        for process in psutil.process_iter(["uids", "status"]):
            uids = process.info.get("uids")
            if process.info.get("status") == psutil.STATUS_ZOMBIE:
                continue  # dead already, waiting for its parent to reap it
            if uids is not None and uid in (uids.real, uids.effective, uids.saved):
                victims.append(process.pid)
        if not victims:
            break
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    return sorted(set(killed))


def _ensure_user(name: str) -> pwd.struct_passwd:
    for attempt in range(USERADD_ATTEMPTS):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
        command = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode == 0:
            continue
        # another grader may hold the passwd lock while creating its own user: try again
        if attempt == USERADD_ATTEMPTS - 1:
            raise KernelUserError(f"could not create the kernel user {name}: {result.stderr.strip() or result.returncode}")
        time.sleep(0.1 * (attempt + 1))
    return pwd.getpwnam(name)


def lease_kernel_user(lock_dir: Path = LOCK_DIR, max_users: int = MAX_USERS) -> KernelUser:
    """A system user for one kernel, held until :meth:`KernelUser.release` (needs root)."""
    if os.geteuid() != 0:
        raise KernelUserError("only root can run kernels as users of their own")
    lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(lock_dir, 0o700)
    for number in range(max_users):
        fd = os.open(lock_dir / f"{number}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            entry = _ensure_user(f"{USER_PREFIX}{number}")
        except BaseException:
            os.close(fd)
            raise
        if entry.pw_uid == 0:
            os.close(fd)
            raise KernelUserError(f"{entry.pw_name} has uid 0; remove that account")
        kill_processes_of(entry.pw_uid)  # left by a grader that crashed while holding this user
        return KernelUser(entry.pw_name, entry.pw_uid, entry.pw_gid, fd)
    raise KernelUserError(f"all {max_users} kernel users are busy; grade fewer submissions at once")
