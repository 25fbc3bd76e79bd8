"""The kernel's sandbox: a tiny launcher that confines a command, then ``exec``s it.

``python -m mlinterview.graders.sandbox [options] -- CMD...`` is put in front of the kernel's
command line by :class:`~mlinterview.graders.replay.SandboxedKernelManager`. Because it
``exec``s, the kernel keeps the launcher's pid, so jupyter_client's signals, interrupts and
kills reach the kernel itself. In order, the launcher:

1. joins the replay's cgroup when the grader made one (its ``pids.max`` caps the whole process
   tree, whoever the user); sets resource limits: data memory (``RLIMIT_DATA``), file size (``RLIMIT_FSIZE``),
   processes (``RLIMIT_NPROC``; the kernel runs under a uid of its own when the grader is root,
   so the limit counts only the kernel's processes), no core dumps;
2. enters new namespaces where the platform allows it (as root directly, otherwise through an
   unprivileged user namespace): a network namespace with no interface but a loopback that is
   down, so the kernel cannot reach any host; and a mount namespace in which every mount is
   read-only except the working copy and a private ``/dev/shm``, and the paths given with
   ``--hide`` (the scenario's private part, the submission's original folder, the holdout-seed
   file, the report folder) are covered by empty read-only filesystems;
3. empties the capability bounding set and sets no-new-privileges, so that even a kernel running
   as root can neither undo those mounts nor read the grader's memory through ``/proc``;
4. drops to ``--uid``/``--gid`` (as root) and ``exec``s the command.

What it achieved is written as JSON to ``--status-file`` (a file of the grader's, outside the
working copy) before the command starts, so the report can say which protections held.
Nothing here imports beyond the standard library: it runs before every kernel.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    libc.unshare.argtypes = [ctypes.c_int]
    return libc


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(libc, source, target, fstype, flags, data=None) -> None:
    encode = lambda value: value.encode() if isinstance(value, str) else value  # noqa: E731
    _check(libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)), f"mount {target}")


def set_limits(memory_bytes: int | None, max_file_bytes: int | None, nproc: int | None) -> list[str]:
    applied = []
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
        applied.append("memory")
    if max_file_bytes:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
        applied.append("file_size")
    if nproc:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        applied.append("processes")
    return applied


def _enter_namespaces(libc, flags: int, uid: int, gid: int) -> None:
    if os.geteuid() == 0:
        _check(libc.unshare(flags), "unshare")
        return
    _check(libc.unshare(flags | CLONE_NEWUSER), "unshare (user namespace)")
    # Map our own ids only: inside, we are still ourselves, with no power outside.
    with open("/proc/self/setgroups", "w") as handle:
        handle.write("deny")
    with open("/proc/self/uid_map", "w") as handle:
        handle.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as handle:
        handle.write(f"{gid} {gid} 1")


def _mount_points() -> list[str]:
    """Mount points of this namespace (octal escapes such as \\040 decoded); odd lines skipped."""
    points = []
    with open("/proc/self/mountinfo", "rb") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) < 5:
                continue
            try:
                points.append(fields[4].decode("unicode_escape").encode("latin-1").decode("utf-8", "surrogateescape"))
            except (UnicodeDecodeError, UnicodeEncodeError):
                continue
    return points


def confine_filesystem(libc, workdir: str, hide: list[str]) -> list[str]:
    """Read-only everything but ``workdir`` and a private /dev/shm; cover ``hide`` paths."""
    notes = []
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    _mount(libc, workdir, workdir, None, MS_BIND | MS_REC)
    for point in _mount_points():
        if point == workdir or point.startswith(workdir.rstrip("/") + "/"):
            continue
        try:
            _mount(libc, None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
        except OSError as error:
            # Some mounts (e.g. locked ones in a user namespace) keep their flags; say so.
            notes.append(f"could not make {point} read-only ({error.strerror})")
    if os.path.isdir("/dev/shm"):
        try:
            _mount(libc, "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=256m,mode=1777")
        except OSError as error:
            notes.append(f"no private /dev/shm ({error.strerror})")
    for path in hide:
        if not os.path.exists(path):
            continue
        try:
            if os.path.isdir(path):
                _mount(libc, "tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")
            else:
                _mount(libc, "/dev/null", path, None, MS_BIND)
        except OSError as error:
            # Never run a kernel that could see what it must not: stop here, the grader reports it.
            print(f"sandbox: cannot hide {path} from the kernel ({error}); not starting it", file=sys.stderr)
            os._exit(126)
    return notes


PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38


def drop_capabilities(libc) -> None:
    """Empty the capability bounding set and forbid gaining privileges: after ``exec`` even a
    kernel running as root holds no capability, so it can neither undo the mounts above (no
    CAP_SYS_ADMIN) nor read the grader's memory through /proc (no CAP_SYS_PTRACE)."""
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    for capability in range(64):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 and ctypes.get_errno() == 22:  # EINVAL: past the last one
            break
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mlinterview.graders.sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True, help="the working copy: the only writable place")
    parser.add_argument("--status-file", default=None, help="where to write what was achieved (JSON)")
    parser.add_argument("--uid", type=int, default=None, help="run the command as this uid (needs root)")
    parser.add_argument("--gid", type=int, default=None, help="and this gid")
    parser.add_argument("--memory-bytes", type=int, default=None)
    parser.add_argument("--max-file-bytes", type=int, default=None)
    parser.add_argument("--nproc", type=int, default=None, help="RLIMIT_NPROC (tasks of the uid)")
    parser.add_argument("--cgroup", default=None, help="join this cgroup (its pids.max caps the process tree)")
    parser.add_argument("--hide", action="append", default=[], help="path covered by an empty filesystem")
    parser.add_argument("--no-network", action="store_true", help="enter a network namespace without interfaces")
    parser.add_argument("--no-filesystem", action="store_true", help="skip the mount namespace")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command after --")

    status = {"network_isolated": False, "filesystem_confined": False, "user": "same as grader", "notes": []}
    # Opened before the mounts turn read-only: the descriptor keeps writing to the grader's file.
    status_handle = open(args.status_file, "w") if args.status_file else None
    workdir = os.path.realpath(args.workdir)
    if args.cgroup:
        try:
            with open(os.path.join(args.cgroup, "cgroup.procs"), "w") as handle:
                handle.write(str(os.getpid()))
            status["cgroup"] = args.cgroup
        except OSError as error:
            status["notes"].append(f"could not join cgroup {args.cgroup} ({error.strerror})")
    libc = _libc()
    flags = (CLONE_NEWNET if args.no_network else 0) | (0 if args.no_filesystem else CLONE_NEWNS)
    real_uid, real_gid = os.getuid(), os.getgid()
    if flags:
        try:
            _enter_namespaces(libc, flags, real_uid, real_gid)
            status["network_isolated"] = bool(flags & CLONE_NEWNET)
            if flags & CLONE_NEWNS:
                status["notes"] += confine_filesystem(libc, workdir, [os.path.realpath(p) for p in args.hide])
                status["filesystem_confined"] = True
        except (OSError, ValueError) as error:
            status["notes"].append(f"namespaces unavailable ({error}); the kernel shares the grader's network and filesystem view")
    try:
        status["limits"] = set_limits(args.memory_bytes, args.max_file_bytes, args.nproc)
    except (OSError, ValueError) as error:
        status["limits"] = []
        status["notes"].append(f"resource limits not applied ({error})")
    drop_privileges = args.uid is not None and os.geteuid() == 0
    if drop_privileges:
        status["user"] = f"uid {args.uid}"
    try:
        drop_capabilities(libc)
        status["capabilities"] = "none"
    except OSError as error:
        status["notes"].append(f"capabilities not dropped ({error})")
    if status_handle is not None:
        with status_handle:
            json.dump(status, status_handle)
    if drop_privileges:
        os.setgroups([])
        os.setgid(args.gid if args.gid is not None else args.uid)
        os.setuid(args.uid)
    os.chdir(workdir)
    try:
        os.execvp(command[0], command)
    except OSError as error:
        print(f"sandbox: cannot start {command[0]}: {error}", file=sys.stderr)
        os._exit(127)


if __name__ == "__main__":
    main()
