"""The interview's warden: the root process that runs a candidate's server and kernels as the right users.

In isolated mode the hub's spawner starts ``python -I -m mlinterview.kernels.warden [options]
-- jupyterhub-singleuser ...`` as root (CONFINEMENT.md says why each piece is where it is). The
warden:

1. makes the candidate's cgroup (``kernels/cgroups.py``: memory, processes, CPU share) and
   joins it, so everything below it counts against the candidate's limits;
2. starts the single-user server as the interview's *server user* (``cand-<id>-srv``): it holds
   the hub token and records the history, and the candidate's code, which runs as another user,
   can neither read its memory, environment or files nor signal it;
3. answers the server's kernel requests on a socket pair only the server holds
   (``MLINTERVIEW_WARDEN_FD``; ``WardenProvisioner`` is the server's side): it starts only the
   interview's kernelspec, with an argv and an environment it builds itself (no token, no
   config path the candidate can write), as the *candidate's user*, through the sandbox
   (``kernels/sandbox.py``): its own pid, mount and network namespaces, the workspace and the
   kernel's socket folder the only writable places besides a private /tmp, the private store
   and the packs' private parts hidden. A kernel of any other name is refused;
4. watches the cgroup's counters: a memory or process limit hit stops that candidate's kernels
   and the reason travels back to the server (``poll``), which records it in the history;
5. on SIGTERM/SIGINT (the spawner's stop) or when the server exits: gives the server a moment
   to flush the history, then kills every process left in the cgroup and of both users, removes
   the cgroup and exits. Nothing of the candidate outlives End.

Requests are JSON objects, one per datagram (``SOCK_SEQPACKET``), each answered in order:
``launch`` (kernel_id, kernel_name, connection_info), ``poll`` (handle), ``signal`` (handle,
signum). Everything here is standard library: it runs as root before anything else.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..extension.singleuser_entry import is_secret
from .cgroups import CandidateCgroup
from .install import kernelspec_for_interpreter

WARDEN_FD_ENV = "MLINTERVIEW_WARDEN_FD"
SERVER_SUFFIX = "-server"
SERVER_MAX_PROCESSES = 1024  # the server's threads; far from what a fork bomb reaches
KERNEL_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
KERNEL_LOG_LIMIT = 64 * 1024
# what the kernel's environment may take from the warden's (the hub's spawner set these)
KERNEL_ENV_PASSED = ("LANG", "LC_ALL", "TZ", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS")
KERNEL_ENV_PREFIX = "MLINTERVIEW_"
KERNEL_ENV_WITHHELD = ("MLINTERVIEW_HISTORY_URL", "MLINTERVIEW_HUB_SETTINGS", "MLINTERVIEW_SERVICE_SETTINGS")


def log(message: str) -> None:
    print(f"[mlinterview warden {os.getpid()}] {message}", file=sys.stderr, flush=True)


class Kernel:
    """One kernel the warden started: the sandbox launcher's process, why it was stopped, and
    whether the server has been told it ended (after that, a limit hit is not this kernel's)."""

    def __init__(self, kernel_id: str, process: subprocess.Popen):
        self.kernel_id = kernel_id
        self.process = process
        self.stop_reason: str | None = None
        self.exit_reported = False


class Warden:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.kernel_user = pwd.getpwnam(args.kernel_user)
        self.server_user = pwd.getpwnam(args.server_user)
        self.python = sys.executable
        self.kernels: dict[str, Kernel] = {}
        # the candidate's code and the server have limits of their own: a fork bomb in a kernel
        # must not leave the server (or the warden) unable to start a thread or a new kernel
        self.cgroup = CandidateCgroup(args.cgroup_name)
        self.server_cgroup = CandidateCgroup(args.cgroup_name + SERVER_SUFFIX)
        self.counters = {"oom_kill": 0, "pids_max": 0}
        self.server: subprocess.Popen | None = None

    # -- start ---------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.args.prepare_folders:
            self.prepare_folders()
        if self.cgroup.available():
            self.cgroup.create(memory_bytes=self.args.memory_bytes, max_processes=self.args.max_processes)
            self.server_cgroup.create(memory_bytes=self.args.memory_bytes, max_processes=SERVER_MAX_PROCESSES)
            for path in self.server_cgroup.join_paths():
                Path(path, "cgroup.procs").write_text(str(os.getpid()))
            self.counters = self.cgroup.counters()
            log(f"limits by {self.cgroup.description}: memory {self.args.memory_bytes} bytes, {self.args.max_processes} processes")
        else:
            log("no cgroups on this machine: the kernel's limits are resource limits per process (RLIMIT_DATA, RLIMIT_NPROC)")
        try:
            Path("/proc/self/oom_score_adj").write_text("-1000")  # the OOM killer takes the candidate's processes, not their warden
        except OSError:
            pass
        self.channel, server_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = self.server_environment(server_end.fileno())
        # secrets (the hub token) reach the server through a pipe, never its initial environment
        secrets = {key: env.pop(key) for key in list(env) if is_secret(key)}
        secrets_read, secrets_write = os.pipe()
        command = [self.python, "-I", "-m", "mlinterview.extension.singleuser_entry", str(secrets_read), "--", *self.args.command[1:]]
        self.server = subprocess.Popen(
            command, env=env, cwd=self.args.server_home, pass_fds=(server_end.fileno(), secrets_read),
            user=self.server_user.pw_uid, group=self.server_user.pw_gid, extra_groups=[self.kernel_user.pw_gid],
            umask=0o007, start_new_session=False,
        )
        os.close(secrets_read)
        with os.fdopen(secrets_write, "w") as handle:
            json.dump(secrets, handle)
        server_end.close()

    def prepare_folders(self) -> None:
        """Where no hub prepared them (a pod on Kubernetes): the shared workspace, the socket folder, the server's home."""
        from ..extension.hub_isolation import share_tree

        share_tree(Path(self.args.workspace), self.kernel_user.pw_uid, self.kernel_user.pw_gid)
        os.makedirs(self.args.rundir, exist_ok=True)
        os.chown(self.args.rundir, 0, self.kernel_user.pw_gid)
        os.chmod(self.args.rundir, 0o1770)
        os.makedirs(self.args.server_home, exist_ok=True)
        os.chown(self.args.server_home, self.server_user.pw_uid, self.server_user.pw_gid)
        os.chmod(self.args.server_home, 0o700)

    def server_environment(self, fd: int) -> dict[str, str]:
        home = self.args.server_home
        env = {key: value for key, value in os.environ.items() if not key.startswith(("JUPYTER_", "IPYTHON", "PYTHON"))}
        env.update(
            HOME=home, USER=self.server_user.pw_name, LOGNAME=self.server_user.pw_name, SHELL="/usr/sbin/nologin",
            # the server reads config and data only where the candidate cannot write
            JUPYTER_CONFIG_DIR=f"{home}/.jupyter", JUPYTER_DATA_DIR=f"{home}/.local/share/jupyter",
            JUPYTER_RUNTIME_DIR=f"{home}/.local/share/jupyter/runtime", IPYTHONDIR=f"{home}/.ipython",
            PYTHONNOUSERSITE="1",
        )
        env[WARDEN_FD_ENV] = str(fd)
        return env

    # -- kernels ---------------------------------------------------------------------------------------
    def kernel_command(self, connection_file: str) -> tuple[list[str], list[str], dict[str, str]]:
        """The sandbox's options, the kernel's command line and its environment, from the trusted kernelspec alone."""
        spec = kernelspec_for_interpreter(self.args.kernel_name, self.python)
        argv = [part.replace("{connection_file}", connection_file) for part in spec["argv"]]
        # -I: no user site, no PYTHON* variables, no working folder on sys.path: nothing the
        # candidate wrote runs before the first recorded cell
        argv = [argv[0], "-I", *argv[1:], "--HistoryManager.hist_file=:memory:"]
        sandbox = [
            "--workdir", self.args.workspace, "--writable", self.args.rundir,
            "--private-tmp", "--pid-namespace", "--no-network",
            "--uid", str(self.kernel_user.pw_uid), "--gid", str(self.kernel_user.pw_gid), "--umask", "007",
        ]
        # the launcher joins the candidate's cgroup before anything; without cgroups, limits per process
        for path in self.cgroup.join_paths() if self.cgroup.available() else []:
            sandbox += ["--cgroup", path]
        if not self.cgroup.available():
            sandbox += ["--memory-bytes", str(self.args.memory_bytes), "--nproc", str(self.args.max_processes)]
        for path in self.args.hide:
            sandbox += ["--hide", path]
        env = {key: os.environ[key] for key in KERNEL_ENV_PASSED if key in os.environ}
        env.update({
            key: value for key, value in os.environ.items()
            if key.startswith(KERNEL_ENV_PREFIX) and key not in KERNEL_ENV_WITHHELD and not is_secret(key)
        })
        env.pop(WARDEN_FD_ENV, None)
        env.update(spec.get("env", {}))
        env.update(
            PATH=f"{Path(self.python).parent}:/usr/local/bin:/usr/bin:/bin", LANG=env.get("LANG", "C.UTF-8"),
            USER=self.kernel_user.pw_name, LOGNAME=self.kernel_user.pw_name, SHELL="/bin/sh",
            # everything a kernel reads at start from a home lives in its private /tmp, fresh each start:
            # a startup file, config or kernelspec the candidate planted is never loaded
            HOME="/tmp/home", IPYTHONDIR="/tmp/ipython", MPLCONFIGDIR="/tmp/matplotlib", TMPDIR="/tmp",
            JUPYTER_CONFIG_DIR="/tmp/jupyter/config", JUPYTER_DATA_DIR="/tmp/jupyter/data", JUPYTER_RUNTIME_DIR="/tmp/jupyter/runtime",
            MLINTERVIEW_WORKSPACE=self.args.workspace,
        )
        return sandbox, argv, env

    def write_connection_file(self, kernel_id: str, info: dict) -> str:
        path = os.path.join(self.args.rundir, f"kernel-{kernel_id}.json")
        try:
            os.unlink(path)  # whatever stands there (the folder is sticky: only root and the owner may)
        except FileNotFoundError:
            pass
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640)
        with os.fdopen(fd, "w") as handle:
            os.fchown(handle.fileno(), 0, self.kernel_user.pw_gid)
            json.dump(info, handle)
        return path

    def launch(self, request: dict) -> dict:
        kernel_id, name, info = request.get("kernel_id"), request.get("kernel_name"), request.get("connection_info")
        if name != self.args.kernel_name:
            return {"ok": False, "error": f"this interview runs the {self.args.kernel_name} kernel only; a {name!r} kernel is refused"}
        if not isinstance(kernel_id, str) or not KERNEL_ID.match(kernel_id) or not isinstance(info, dict):
            return {"ok": False, "error": "a launch needs a kernel_id and connection_info"}
        if info.get("transport") != "ipc" or not str(info.get("ip", "")).startswith(self.args.rundir.rstrip("/") + "/"):
            return {"ok": False, "error": f"kernels talk over ipc sockets in {self.args.rundir} only"}
        connection_file = self.write_connection_file(kernel_id, info)
        options, argv, env = self.kernel_command(connection_file)
        # the sandbox's options (the paths it hides among them) through a pipe, not on a command
        # line the kernel could read in /proc
        read_end, write_end = os.pipe()
        command = [self.python, "-I", "-m", "mlinterview.kernels.sandbox", f"@/proc/self/fd/{read_end}", "--", *argv]
        try:
            with os.fdopen(write_end, "w") as handle:
                handle.write("\n".join(options) + "\n")
            process = subprocess.Popen(
                command, env=env, cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True, pass_fds=(read_end,),
            )
        finally:
            os.close(read_end)
        threading.Thread(target=self.relay_kernel_log, args=(kernel_id, process), daemon=True).start()
        self.kernels[str(process.pid)] = Kernel(kernel_id, process)
        log(f"kernel {kernel_id} started (pid {process.pid}) as {self.kernel_user.pw_name}")
        return {"ok": True, "handle": str(process.pid), "pid": process.pid}

    @staticmethod
    def relay_kernel_log(kernel_id: str, process: subprocess.Popen) -> None:
        """The kernel's own stdout/stderr (start-up errors) into the server log, bounded: a flood is dropped."""
        passed = 0
        for line in process.stdout:
            if passed < KERNEL_LOG_LIMIT:
                passed += len(line)
                sys.stderr.write(f"[kernel {kernel_id[:8]}] {line.decode('utf-8', 'replace')}")
                if passed >= KERNEL_LOG_LIMIT:
                    sys.stderr.write(f"[kernel {kernel_id[:8]}] (more output dropped)\n")
        process.stdout.close()

    def kernel_of(self, request: dict) -> Kernel | None:
        return self.kernels.get(str(request.get("handle")))

    def poll(self, request: dict) -> dict:
        kernel = self.kernel_of(request)
        if kernel is None:
            return {"ok": True, "returncode": 0}
        # the OOM killer may have ended the kernel a moment ago: read the counters before answering,
        # so that the server learns of the death and its reason together
        self.check_limits()
        returncode = kernel.process.poll()
        if returncode is not None:
            kernel.exit_reported = True
        return {"ok": True, "returncode": returncode, "reason": kernel.stop_reason}

    def signal(self, request: dict) -> dict:
        kernel = self.kernel_of(request)
        signum = request.get("signum")
        if kernel is None or not isinstance(signum, int) or signum not in {s.value for s in signal.Signals}:
            return {"ok": False, "error": "no such kernel or signal"}
        if kernel.process.poll() is None:
            try:
                kernel.process.send_signal(signum)
            except ProcessLookupError:
                pass
        return {"ok": True}

    def answer(self, request: dict) -> dict:
        handler = {"launch": self.launch, "poll": self.poll, "signal": self.signal}.get(request.get("op"))
        if handler is None:
            return {"ok": False, "error": f"unknown request {request.get('op')!r}"}
        try:
            return handler(request)
        except Exception as error:  # a bad request must not end the warden
            log(f"request {request.get('op')} failed: {error!r}")
            return {"ok": False, "error": str(error)}

    # -- limits ------------------------------------------------------------------------------------------
    def check_limits(self) -> None:
        if not self.cgroup.available():
            return
        counters = self.cgroup.counters()
        reason = None
        if counters["oom_kill"] > self.counters["oom_kill"]:
            reason = f"the candidate's processes used more than their {self.args.memory_bytes / 2**30:.1f} GiB of memory"
        elif counters["pids_max"] > self.counters["pids_max"]:
            reason = f"the candidate's processes reached their limit of {self.args.max_processes} processes"
        self.counters = counters
        if reason is None:
            return
        log(f"limit hit: {reason}; stopping the candidate's kernels")
        for kernel in self.kernels.values():
            if kernel.exit_reported:
                continue
            # a kernel the OOM killer already ended is stopped by the limit too, not crashed
            kernel.stop_reason = kernel.stop_reason or f"{reason}: the kernel was stopped"
            if kernel.process.poll() is None:
                kernel.process.kill()  # the launcher; its init dies with it, and so does the whole namespace
        self.cgroup.kill_all()  # and whatever is left, before a restarted kernel joins the group
        for kernel in self.kernels.values():
            kernel.process.wait()
        self.counters = self.cgroup.counters()

    # -- stop --------------------------------------------------------------------------------------------
    def shutdown(self) -> int:
        """Stop everything of this candidate: the server (a moment to flush), every kernel, every process."""
        code = 0
        # the kernels first: nothing of the candidate's runs on while the server stops; and with the
        # channel shut, the server's own kernel shutdown finds them gone at once instead of waiting
        # for answers from this warden (which no longer serves requests)
        for kernel in self.kernels.values():
            if kernel.process.poll() is None:
                kernel.process.kill()
        if self.cgroup.available():
            self.cgroup.kill_all()
        try:
            self.channel.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                code = self.server.wait(self.args.stop_grace)
            except subprocess.TimeoutExpired:
                self.server.kill()
                code = self.server.wait()
        own = os.getpid()
        if self.cgroup.available():
            self.cgroup.kill_all()
            # leave the server's group, then empty and remove it
            for path in self.server_cgroup.join_paths():
                try:
                    Path(path).parent.parent.joinpath("cgroup.procs").write_text(str(own))
                except OSError:
                    pass
            self.server_cgroup.kill_all()
        kill_processes_of_users({self.kernel_user.pw_uid, self.server_user.pw_uid})
        for kernel in self.kernels.values():
            kernel.process.wait()
        if self.cgroup.available():
            self.cgroup.remove()
            self.server_cgroup.remove()
        log(f"stopped: server exited with {code}; no process of {self.kernel_user.pw_name} or {self.server_user.pw_name} is left")
        return code if isinstance(code, int) and code >= 0 else 0

    def run(self) -> int:
        self.start()
        stop = threading.Event()

        def request_stop(_signum, _frame):
            stop.set()

        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, request_stop)
        selector = selectors.DefaultSelector()
        selector.register(self.channel, selectors.EVENT_READ)
        while not stop.is_set() and self.server.poll() is None:
            for _key, _ in selector.select(timeout=0.5):
                try:
                    data = self.channel.recv(1 << 20)
                except OSError:
                    data = b""
                if not data:
                    selector.unregister(self.channel)
                    break
                try:
                    request = json.loads(data)
                except ValueError:
                    request = {}
                self.channel.send(json.dumps(self.answer(request if isinstance(request, dict) else {})).encode())
            self.check_limits()
        return self.shutdown()


def kill_processes_of_users(uids: set[int], rounds: int = 50) -> None:
    """SIGKILL every process whose real or effective uid is one of ``uids`` (until none is left)."""
    for _ in range(rounds):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/status") as handle:
                    uid_line = next(line for line in handle if line.startswith("Uid:"))
            except (OSError, StopIteration):
                continue
            if uids & {int(value) for value in uid_line.split()[1:]}:
                found = True
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        if not found:
            return
        time.sleep(0.02)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mlinterview.kernels.warden", description=__doc__.splitlines()[0])
    parser.add_argument("--server-user", required=True, help="system user of the single-user server (holds the hub token)")
    parser.add_argument("--kernel-user", required=True, help="the candidate's system user: their kernels run as it")
    parser.add_argument("--server-home", required=True, help="the server user's home (config, runtime files, local history)")
    parser.add_argument("--workspace", required=True, help="the candidate's workspace (writable by the kernel)")
    parser.add_argument("--rundir", required=True, help="the kernels' socket folder (root:<candidate group>, mode 1770)")
    parser.add_argument("--kernel-name", required=True, help="the one kernelspec this interview may start")
    parser.add_argument("--cgroup-name", required=True, help="the candidate's cgroup (under mlinterview/)")
    parser.add_argument("--memory-bytes", type=int, default=4 * 2**30)
    parser.add_argument("--max-processes", type=int, default=512)
    parser.add_argument("--stop-grace", type=float, default=3.0, help="seconds the server gets to flush before it is killed")
    parser.add_argument("--hide", action="append", default=[], help="path the kernel must not see (covered in its mount namespace)")
    parser.add_argument("--prepare-folders", action="store_true", help="share the workspace and make the socket folder and server home (no hub did)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    args.command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if os.geteuid() != 0:
        parser.error("the warden runs as root (it starts the server and the kernels as their own users)")
    if not args.command:
        parser.error("no server command after --")
    sys.exit(Warden(args).run())


if __name__ == "__main__":
    main()
