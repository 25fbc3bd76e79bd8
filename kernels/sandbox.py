"""The kernel's sandbox: a tiny launcher that confines a command, then runs it.

``python -m mlinterview.kernels.sandbox [options] -- CMD...`` is put in front of every kernel
that runs a candidate's code: the grader's replays (:class:`~mlinterview.graders.replay.SandboxedKernelManager`)
and the live interview kernels (started by the interview's warden, ``kernels/warden.py``). It is
the one place that decides what candidate code can reach (CONFINEMENT.md). In order, the launcher:

1. joins the replay's cgroup when the grader made one (its ``pids.max`` caps the whole process
   tree, whoever the user); sets resource limits: data memory (``RLIMIT_DATA``), file size (``RLIMIT_FSIZE``),
   processes (``RLIMIT_NPROC``; the kernel runs under a uid of its own when the grader is root,
   so the limit counts only the kernel's processes), no core dumps;
2. enters new namespaces where the platform allows it (as root directly, otherwise through an
   unprivileged user namespace): a network namespace of its own whose only interface is its own
   loopback, brought up (the kernel's processes can talk to each other, e.g. a candidate's
   prediction service and a request to it, but no host is reachable: the machine's loopback,
   where the hub listens, is another namespace's); and a mount namespace in which every mount is
   read-only except the working copy and a private ``/dev/shm``, and the paths given with
   ``--hide`` (the scenario's private part, the submission's original folder, the holdout-seed
   file, the report folder) are covered by empty read-only filesystems;
3. empties the capability bounding set and sets no-new-privileges, so that even a kernel running
   as root can neither undo those mounts nor read the grader's memory through ``/proc``;
4. drops to ``--uid``/``--gid`` (as root) and ``exec``s the command.

Without ``--pid-namespace`` the launcher ``exec``s, so the kernel keeps the launcher's pid and
jupyter_client's signals reach it directly. With ``--pid-namespace`` (live kernels; replays
where the platform allows) the launcher also enters a fresh pid namespace: it stays outside as a
small relay (it forwards the signals it gets and exits with the command's status), and the first
process inside, a tiny init with the candidate's uid, mounts its own ``/proc`` (other users'
processes do not exist there), starts the command, reaps orphans and ends with the command.
When the init ends, or the launcher is killed (the init holds ``PR_SET_PDEATHSIG``), the kernel
ends every process left in the namespace, detached ones included: nothing outlives its kernel.

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
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
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


def bring_up_loopback() -> None:
    """Set the new network namespace's ``lo`` up (SIOCSIFFLAGS; needs CAP_NET_ADMIN there, which the
    namespace's creator has): 127.0.0.1 then reaches this namespace's own processes only."""
    import fcntl
    import socket
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as handle:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(handle.fileno(), siocgifflags, request))[1]
        fcntl.ioctl(handle.fileno(), siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


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


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def confine_filesystem(libc, workdir: str, hide: list[str], writable: list[str] | None = None, private_tmp: bool = False) -> list[str]:
    """Read-only everything but ``workdir``, the ``writable`` paths and a private /dev/shm (and
    /tmp with ``private_tmp``); cover ``hide`` paths with empty read-only filesystems."""
    notes = []
    keep = [workdir, *(writable or [])]
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    for path in keep:
        _mount(libc, path, path, None, MS_BIND | MS_REC)
    for point in _mount_points():
        if any(_within(point, path) for path in keep):
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
    if private_tmp:
        # a fresh /tmp; read-write paths that lived under it are bound back from a descriptor
        # opened before it was covered
        under_tmp = [path for path in keep if _within(path, "/tmp")]
        handles = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in under_tmp}
        _mount(libc, "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1g,mode=1777")
        for path, handle in handles.items():
            os.makedirs(path, mode=0o755, exist_ok=True)
            _mount(libc, f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
            os.close(handle)
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


RELAYED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
PR_SET_PDEATHSIG = 1


def _relay_signals_to(pid: int) -> None:
    def relay(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in RELAYED_SIGNALS:
        signal.signal(signum, relay)


def _exit_like(status: int) -> None:
    """End this process the way a child with wait ``status`` ended."""
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)


def _wait_for(pid: int) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return status
        except ChildProcessError:
            return 0


def run_as_init(command: list[str]) -> None:
    """pid 1 of the namespace: start the command, relay signals to it, reap orphans, end with it."""
    child = os.fork()
    if child == 0:
        for signum in RELAYED_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        _exec(command)
    _relay_signals_to(child)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            _exit_like(status)


def _exec(command: list[str]) -> None:
    try:
        os.execvp(command[0], command)
    except OSError as error:
        print(f"sandbox: cannot start {command[0]}: {error}", file=sys.stderr)
        os._exit(127)


def main(argv: list[str] | None = None) -> None:
    # @FILE: options one per line from a file of the caller's, so that nothing on the command line
    # (which the init inside the namespace keeps, readable by the kernel) names the hidden paths
    parser = argparse.ArgumentParser(
        prog="python -m mlinterview.kernels.sandbox", description=__doc__.splitlines()[0], fromfile_prefix_chars="@"
    )
    parser.add_argument("--workdir", required=True, help="the working copy: the only writable place (with --writable)")
    parser.add_argument("--writable", action="append", default=[], help="another read-write path (e.g. the kernel's home)")
    parser.add_argument("--private-tmp", action="store_true", help="a fresh, private /tmp")
    parser.add_argument("--pid-namespace", action="store_true", help="run under an init of its own in a fresh pid namespace")
    parser.add_argument("--status-file", default=None, help="where to write what was achieved (JSON)")
    parser.add_argument("--uid", type=int, default=None, help="run the command as this uid (needs root)")
    parser.add_argument("--gid", type=int, default=None, help="and this gid")
    parser.add_argument("--umask", type=lambda text: int(text, 8), default=None, help="file mode creation mask (octal)")
    parser.add_argument("--memory-bytes", type=int, default=None)
    parser.add_argument("--max-file-bytes", type=int, default=None)
    parser.add_argument("--nproc", type=int, default=None, help="RLIMIT_NPROC (tasks of the uid)")
    parser.add_argument("--cgroup", action="append", default=[], help="join this cgroup (one per cgroup v1 controller)")
    parser.add_argument("--hide", action="append", default=[], help="path covered by an empty filesystem")
    parser.add_argument("--no-network", action="store_true", help="enter a network namespace of its own (only its own loopback)")
    parser.add_argument("--no-filesystem", action="store_true", help="skip the mount namespace")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command after --")

    status = {"network_isolated": False, "filesystem_confined": False, "pid_namespace": False, "user": "same as grader", "notes": []}
    # Opened before the mounts turn read-only: the descriptor keeps writing to the grader's file.
    status_handle = open(args.status_file, "w") if args.status_file else None
    workdir = os.path.realpath(args.workdir)
    for cgroup in args.cgroup:
        try:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as handle:
                handle.write(str(os.getpid()))
            status.setdefault("cgroups", []).append(cgroup)
        except OSError as error:
            status["notes"].append(f"could not join cgroup {cgroup} ({error.strerror})")
    if args.cgroup:
        status["cgroup"] = args.cgroup[0]
    libc = _libc()
    flags = (CLONE_NEWNET if args.no_network else 0) | (0 if args.no_filesystem else CLONE_NEWNS)
    if args.pid_namespace:
        flags |= CLONE_NEWPID | CLONE_NEWNS
    real_uid, real_gid = os.getuid(), os.getgid()
    if flags:
        try:
            _enter_namespaces(libc, flags, real_uid, real_gid)
            status["network_isolated"] = bool(flags & CLONE_NEWNET)
            if flags & CLONE_NEWNET:
                try:
                    bring_up_loopback()
                    status["loopback"] = True
                except OSError as error:
                    status["notes"].append(f"the namespace's own loopback stays down ({error.strerror})")
        except (OSError, ValueError) as error:
            flags = 0
            status["notes"].append(f"namespaces unavailable ({error}); the kernel shares the grader's network, filesystem and processes")
    if flags & CLONE_NEWPID:
        init = os.fork()
        if init:
            # the relay, outside: the caller's signals go to the init; the launcher ends with it
            if status_handle is not None:
                status_handle.close()
            _relay_signals_to(init)
            _exit_like(_wait_for(init))
        libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        os.setsid()  # a group of its own: a signal to the launcher's group reaches the kernel once, through the relay
    if flags & CLONE_NEWNS:
        try:
            status["notes"] += confine_filesystem(
                libc, workdir, [os.path.realpath(p) for p in args.hide],
                [os.path.realpath(p) for p in args.writable], private_tmp=args.private_tmp,
            )
            status["filesystem_confined"] = True
        except OSError as error:
            print(f"sandbox: cannot confine the filesystem ({error}); not starting the kernel", file=sys.stderr)
            os._exit(126)
    if flags & CLONE_NEWPID:
        try:
            _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            status["pid_namespace"] = True
        except OSError as error:
            print(f"sandbox: cannot mount /proc for the kernel's pid namespace ({error}); not starting it", file=sys.stderr)
            os._exit(126)
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
    if args.umask is not None:
        os.umask(args.umask)
    os.chdir(workdir)
    if flags & CLONE_NEWPID:
        run_as_init(command)
    _exec(command)


if __name__ == "__main__":
    main()
