"""Replaying a candidate's code in a fresh, confined kernel, built on nbclient.

Classes:

``ReplayLimits``           the limits of one replay (traitlets, configurable): per-cell and total
                           wall time, memory, processes, output size, file size, network.
``SandboxedKernelManager`` an ``AsyncKernelManager`` that launches the kernel through
                           :mod:`mlinterview.kernels.sandbox` over the ``ipc`` transport (so a
                           kernel without network still talks to us), in a pid namespace and a
                           pids cgroup when the platform offers them, as a leased user of its own
                           (:mod:`mlinterview.graders.kernel_users`) when the grader is root.
``ReplayClient``           a ``NotebookClient`` that caps outputs, watches the kernel's process
                           tree (memory, processes, total time) and turns every limit into a
                           recorded verdict (which cell, which limit) instead of a hang.
``ReplayCell``/``CellOutcome``/``ReplayResult``  the plan and the outcome, as plain data.

``run_replay(plan, ...)`` is the one entry point: it starts the kernel, runs the plan's cells,
then, if the kernel is still usable, runs the grader's own steps (``after_cells``: predictions
through the contract, parameter audit) in the same kernel.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import nbformat
import psutil
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from traitlets import Bool, Float, Int, List, Unicode
from traitlets.config import LoggingConfigurable

from .. import safe_files
from .kernel_users import KernelUser, KernelUserError, lease_kernel_user

GIB = 1024**3
MIB = 1024**2
FALLBACK_KERNEL = "python3"


class ReplayLimits(LoggingConfigurable):
    """Limits of one replay. Hitting one ends the replay with a verdict naming the cell and the limit."""

    cell_timeout = Float(
        600.0, help="Wall time one cell may take, in seconds. A training cell of an interview fits well inside it."
    ).tag(config=True)
    total_timeout = Float(
        1800.0, help="Wall time the whole replay may take (cells only; kernel start not included), in seconds."
    ).tag(config=True)
    memory_bytes = Int(
        4 * GIB,
        help="Memory of the kernel: RLIMIT_DATA of each process, and the resident total of its process tree "
        "(watched), in bytes. Over it, allocations fail (MemoryError) or the kernel is stopped.",
    ).tag(config=True)
    max_processes = Int(
        64,
        help="Processes (and threads) the kernel's tree may hold at once: a pids cgroup where the grader may make "
        "one, RLIMIT_NPROC where the kernel has a uid of its own, and a watchdog everywhere. Stops fork bombs.",
    ).tag(config=True)
    output_bytes = Int(
        8 * MIB, help="Total size of the outputs the replay keeps; past it the kernel is stopped (e.g. a print loop)."
    ).tag(config=True)
    max_file_bytes = Int(
        2 * GIB, help="Largest file the kernel may write (RLIMIT_FSIZE), so a runaway writer cannot fill the disk."
    ).tag(config=True)
    network = Bool(
        False, help="Allow network access. Off: the kernel runs in a network namespace without interfaces where the platform allows."
    ).tag(config=True)
    threads = Int(
        1, help="Threads for numeric libraries in the kernel (OMP/MKL/torch): one per replay keeps parallel grading fair."
    ).tag(config=True)
    kernel_uid = Int(
        -1,
        help="When the grader runs as root, run kernels as this uid (-1: a system user of their own per replay, "
        "mlgrade-<n>, leased for the replay's life; with the candidate runtime's interpreter when the kernelspec's "
        "is out of other users' reach; without either, the grader's user, said at the top of the report).",
    ).tag(config=True)
    watch_interval = Float(0.2, help="Seconds between two looks at the kernel's process tree.").tag(config=True)
    startup_timeout = Float(60.0, help="Seconds a kernel may take to start.").tag(config=True)


@dataclass
class ReplayCell:
    """One step of a replay plan."""

    source: str
    label: str  # e.g. "cell 3" or "history #12 (cell 3)"
    role: str = "candidate"  # who ran it in the session (history order) or "notebook"
    notebook_index: int | None = None
    recorded_status: str | None = None  # what the session saw (history order only)
    tags: list[str] = field(default_factory=list)  # the notebook cell's tags: skip-execution, raises-exception


@dataclass
class CellOutcome:
    label: str
    status: str  # ok, error, limit, not_run, skipped (tagged skip-execution)
    role: str = "candidate"
    notebook_index: int | None = None
    duration_s: float | None = None
    ename: str | None = None
    evalue: str | None = None
    output_bytes: int = 0
    recorded_status: str | None = None
    cpu_s: float | None = None  # CPU seconds of the kernel's processes during the cell
    expected_error: bool = False  # tagged raises-exception: an error here is what the notebook expects


@dataclass
class LimitHit:
    limit: str  # cell_time, total_time, memory, processes, output, kernel_died
    cell: str | None
    detail: str


@dataclass
class ReplayResult:
    name: str
    order: str  # how the cells were ordered, in words
    kernel_name: str = ""
    kernel_note: str | None = None
    kernel_start_s: float | None = None
    cells_s: float | None = None
    cells: list[CellOutcome] = field(default_factory=list)
    stopped: LimitHit | None = None
    first_error: str | None = None
    sandbox: dict[str, Any] = field(default_factory=dict)
    grader_steps: dict[str, Any] = field(default_factory=dict)
    grader_steps_s: dict[str, float] = field(default_factory=dict)  # how long each grader step took
    shutdown_s: float | None = None  # stopping the kernel and releasing its user
    notes: list[str] = field(default_factory=list)
    kernel_log_tail: str = ""
    same_as: str | None = None  # the replay whose run this one shares (same code, same order)
    notebook: Any = field(default=None, repr=False)  # the replayed cells with outputs (not in JSON)

    def as_same_order(self, name: str, order: str, plan: list[ReplayCell]) -> "ReplayResult":
        """This replay's outcome, standing for another plan with the same code in the same order."""
        twin = ReplayResult(**{**self.__dict__, "name": name, "notebook": None})
        twin.order = order + f"; the same code in the same order as the {self.name.replace('_', ' ')} replay, whose run stands for both"
        twin.same_as = self.name
        twin.cells = [
            CellOutcome(**{**outcome.__dict__, "label": step.label, "role": step.role, "recorded_status": step.recorded_status})
            for outcome, step in zip(self.cells, plan)
        ]
        twin.grader_steps = dict(self.grader_steps)
        twin.notes = list(self.notes)
        return twin

    @property
    def completed(self) -> bool:
        return self.stopped is None and all(c.status in ("ok", "error", "skipped") for c in self.cells)

    @property
    def kernel_usable(self) -> bool:
        return self.stopped is None or self.stopped.limit in ("cell_time",)

    def to_json(self) -> dict[str, Any]:
        notebook, self.notebook = self.notebook, None
        try:
            data = asdict(self)
        finally:
            self.notebook = notebook
        data.pop("notebook", None)
        # The predictions themselves stay out of the report: it states their verdict and score.
        data["grader_steps"] = {
            name: {key: value for key, value in step.items() if key != "raw"} if isinstance(step, dict) else step
            for name, step in data["grader_steps"].items()
        }
        data["completed"] = self.completed
        return data


def resolve_kernel_name(preferred: str) -> tuple[str, str | None]:
    """The kernelspec to replay with, and a note when falling back to the plain Python one."""
    specs = KernelSpecManager().find_kernel_specs()
    if preferred in specs:
        return preferred, None
    return FALLBACK_KERNEL, (
        f"kernelspec '{preferred}' is not installed here; replayed with '{FALLBACK_KERNEL}' "
        "(the kernel extension's preload and constraint guard did not run)"
    )


def _reachable_by_others(path: str) -> bool:
    """Whether a user other than the owner may execute ``path`` (every folder above it searchable)."""
    current = Path(os.path.realpath(path))
    if not os.stat(current).st_mode & 0o001:
        return False
    for parent in current.parents:
        if not os.stat(parent).st_mode & 0o001:
            return False
    return True


class PidsCgroup:
    """A pids cgroup for one replay (v2 or the v1 'pids' hierarchy), when the grader may create one."""

    ROOTS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup")

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def create(cls, name: str, max_pids: int) -> "PidsCgroup | None":
        for root in cls.ROOTS:
            root_path = Path(root)
            if not (root_path / "cgroup.procs").exists() or not os.access(root_path, os.W_OK):
                continue
            path = root_path / "mlinterview-grader" / name
            try:
                path.mkdir(parents=True, exist_ok=True)
                (path / "pids.max").write_text(str(max_pids))
                return cls(path)
            except OSError:
                shutil.rmtree(path, ignore_errors=True) if not path.exists() else None
                try:
                    path.rmdir()
                except OSError:
                    pass
        return None

    def pids(self) -> list[int]:
        try:
            return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def kill_all(self) -> None:
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def remove(self) -> None:
        self.kill_all()
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.05)


class SandboxedKernelManager(AsyncKernelManager):
    """Starts the kernel through the sandbox launcher, over ipc sockets inside the working copy."""

    sandbox_args = List(Unicode(), help="Options for mlinterview.kernels.sandbox, before '--'.").tag(config=True)
    kernel_uid = Int(-1, help="The uid the kernel will run as (-1: the grader's); it must read the connection file.")
    kernel_gid = Int(-1, help="The kernel's gid (-1: the same number as kernel_uid).")
    kernel_python = Unicode(
        "", help="Interpreter that replaces the kernelspec's own (one the kernel's uid can execute); empty: the kernelspec's."
    )
    sandbox_args_file = Unicode(
        "", help="A file of the grader's the launcher reads its options from (@FILE), so that no hidden path "
        "appears on a command line the kernel can read; empty: the options go on the command line."
    )

    def write_connection_file(self, **kwargs) -> None:
        super().write_connection_file(**kwargs)
        if self.kernel_uid >= 0:
            # written by the grader into a folder of its own: no name in it is the kernel's to plant
            fd = os.open(self.connection_file, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                os.fchown(fd, self.kernel_uid, self.kernel_gid if self.kernel_gid >= 0 else self.kernel_uid)
            finally:
                os.close(fd)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        if self.kernel_python and command and os.path.basename(command[0]).startswith("python"):
            command = [self.kernel_python, *command[1:]]
        if "--pid-namespace" in self.sandbox_args and any("ipykernel" in part for part in command):
            # its parent is the namespace's init (pid 1), which ipykernel takes for "my parent died";
            # the namespace ends the kernel with the launcher instead
            command.append("--IPKernelApp.parent_handle=0")
        options = list(self.sandbox_args)
        if self.sandbox_args_file and not any("\n" in option for option in options):
            safe_files.write_bytes(Path(self.sandbox_args_file).parent, Path(self.sandbox_args_file).name, "".join(
                option + "\n" for option in options
            ).encode(), mode=0o600)
            options = ["@" + self.sandbox_args_file]
        return [sys.executable, "-m", "mlinterview.kernels.sandbox", *options, "--", *command]


class ReplayClient(NotebookClient):
    """A NotebookClient that enforces the replay limits and records which one stopped it."""

    output_limit_bytes = Int(8 * MIB, help="Total size of outputs kept before the kernel is stopped.").tag(config=True)

    def __init__(self, nb, km=None, *, limits: ReplayLimits, cgroup: PidsCgroup | None = None, **kw):
        super().__init__(nb, km=km, **kw)
        self.limits = limits
        self.cgroup = cgroup
        self.output_limit_bytes = limits.output_bytes
        self.output_total = 0
        self.cell_output_bytes: dict[int, int] = {}
        self.limit_hit: LimitHit | None = None
        self.current_label: str | None = None
        self.deadline: float | None = None
        self.peak_rss = 0
        self.peak_processes = 0
        self.replies: dict[int, dict] = {}

    # -- replies -----------------------------------------------------------------------------
    async def _check_raise_for_error(self, cell, cell_index, exec_reply):
        # The execute_reply is the authority on a cell's status: its error outputs may arrive late.
        self.replies[cell_index] = (exec_reply or {}).get("content", {})
        return await super()._check_raise_for_error(cell, cell_index, exec_reply)

    def reply_error(self, cell_index: int) -> tuple[str, str] | None:
        """(ename, evalue) when the cell's execute_reply says it failed (outputs as a fallback)."""
        content = self.replies.get(cell_index) or {}
        if content.get("status") == "error":
            return str(content.get("ename")), str(content.get("evalue"))[:500]
        for output in self.nb.cells[cell_index].get("outputs", []):
            if output.get("output_type") == "error":
                return str(output.get("ename")), str(output.get("evalue"))[:500]
        return None

    # -- outputs -----------------------------------------------------------------------------
    def process_message(self, msg, cell, cell_index):
        msg_type = msg["msg_type"]
        if msg_type in ("stream", "display_data", "execute_result", "error", "update_display_data"):
            size = _content_size(msg["content"])
            self.output_total += size
            self.cell_output_bytes[cell_index] = self.cell_output_bytes.get(cell_index, 0) + size
            if self.output_total > self.output_limit_bytes:
                if self.limit_hit is None:
                    self.stop_for_limit(
                        "output", f"the outputs passed {self.output_limit_bytes / MIB:.0f} MiB; the rest was dropped"
                    )
                return None
        return super().process_message(msg, cell, cell_index)

    # -- limits ------------------------------------------------------------------------------
    def kernel_pid(self) -> int | None:
        """The kernel's pid while it is ours: once reaped, the number may already be another process's."""
        provisioner = getattr(self.km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        if process is None or process.poll() is not None:
            return None
        return process.pid

    def tree_cpu_seconds(self) -> float | None:
        """CPU seconds (user + system) used so far by the kernel's process tree, finished children included."""
        pid = self.kernel_pid()
        if not pid:
            return None
        try:
            root = psutil.Process(pid)
            total = 0.0
            for process in (root, *root.children(recursive=True)):
                times = process.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
            return total
        except psutil.Error:
            return None

    def stop_for_limit(self, limit: str, detail: str) -> None:
        """Record the verdict and kill the kernel's whole tree; nbclient then sees a dead kernel."""
        if self.limit_hit is None:
            self.limit_hit = LimitHit(limit, self.current_label, detail)
        self.kill_tree()

    def kill_tree(self) -> None:
        pid = self.kernel_pid()
        victims = []
        if pid:
            try:
                root = psutil.Process(pid)
                victims = [root, *root.children(recursive=True)]
            except psutil.Error:
                pass
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for process in victims:
            try:
                process.kill()
            except psutil.Error:
                pass
        if self.cgroup is not None:
            self.cgroup.kill_all()

    async def watch(self) -> None:
        """Every ``watch_interval``: total time, resident memory and process count of the kernel's tree."""
        while True:
            await asyncio.sleep(self.limits.watch_interval)
            if self.limit_hit is not None:
                continue
            if self.deadline is not None and time.monotonic() > self.deadline:
                self.stop_for_limit("total_time", f"the replay passed its total of {self.limits.total_timeout:g} s")
                continue
            pid = self.kernel_pid()
            if not pid:
                continue
            try:
                root = psutil.Process(pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            count = len(self.cgroup.pids()) if self.cgroup is not None else len(tree)
            rss = sum(_proportional_memory(process) for process in tree)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_processes = max(self.peak_processes, count)
            if count >= self.limits.max_processes:
                self.stop_for_limit("processes", f"the kernel reached {count} processes (limit {self.limits.max_processes})")
            elif rss > self.limits.memory_bytes:
                self.stop_for_limit(
                    "memory", f"the kernel's processes held {rss / GIB:.2f} GiB (limit {self.limits.memory_bytes / GIB:.2f} GiB)"
                )


def _proportional_memory(process: psutil.Process) -> int:
    """Memory of one process with shared pages split among their sharers (PSS), so that forked
    children, which share their parent's pages until they write them, are not counted N times."""
    try:
        with open(f"/proc/{process.pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return process.memory_info().rss
    except psutil.Error:
        return 0


def _content_size(content: dict) -> int:
    if "text" in content:
        return len(content["text"])
    if "data" in content:
        return sum(len(value) if isinstance(value, str) else len(json.dumps(value)) for value in content["data"].values())
    if "traceback" in content:
        return sum(len(line) for line in content["traceback"])
    return 0


def kernel_environment(workdir: Path, limits: ReplayLimits, python: str | None = None) -> dict[str, str]:
    """A clean environment: nothing of the grader's (no holdout seed, no hub tokens, no private path)
    reaches the kernel; ``python``: the kernel's interpreter, whose folder comes first on PATH."""
    scratch = workdir / ".tmp"
    env = {
        "PATH": os.path.dirname(python or sys.executable) + os.pathsep + "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(scratch),
        "MPLCONFIGDIR": str(scratch / "matplotlib"),
        "MPLBACKEND": "Agg",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "JPY_SESSION_NAME": str(workdir / "replay.ipynb"),
    }
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "TORCH_NUM_THREADS"):
        env[name] = str(limits.threads)
    return env


SHARED_TMP_NOTE = "the kernel shared the machine's /tmp"  # a replay's note, and a confinement gap in the report


def sandbox_arguments(
    workdir: Path, status_file: Path, limits: ReplayLimits, cgroup: PidsCgroup | None, identity: "KernelIdentity | None", hide: list[Path],
    private_tmp: bool = True,
) -> list[str]:
    """The launcher's options: limits, hidden paths, and a pid namespace and a private /tmp of its
    own (other replays' processes and working copies do not exist for the kernel; when it ends,
    everything it started ends with it)."""
    args = ["--workdir", str(workdir), "--status-file", str(status_file), "--memory-bytes", str(limits.memory_bytes)]
    args += ["--max-file-bytes", str(limits.max_file_bytes), "--pid-namespace", *(["--private-tmp"] if private_tmp else [])]
    if cgroup is not None:
        args += ["--cgroup", str(cgroup.path)]
    if identity is not None and identity.uid is not None:
        args += ["--uid", str(identity.uid), "--gid", str(identity.gid), "--nproc", str(limits.max_processes + 64)]
    elif cgroup is None and os.geteuid() != 0:
        # RLIMIT_NPROC counts all of this user's tasks: leave room for the ones already running.
        running = sum(p.num_threads() for p in psutil.process_iter() if _same_user(p))
        args += ["--nproc", str(running + limits.max_processes + 64)]
    if not limits.network:
        args.append("--no-network")
    for path in hide:
        args += ["--hide", str(path)]
    return args


def _same_user(process: psutil.Process) -> bool:
    try:
        return process.uids().real == os.getuid()
    except psutil.Error:
        return False


@dataclass
class KernelIdentity:
    """Who the kernel runs as: a leased user of its own (as root), or the grader's user, said in ``note``."""

    uid: int | None = None
    gid: int | None = None
    python: str | None = None  # the interpreter that replaces the kernelspec's, reachable for uid
    user: KernelUser | None = None
    note: str | None = None

    def release(self) -> list[int]:
        """End the lease: the pids of the user's processes that were still running, now killed."""
        return self.user.release() if self.user is not None else []


def kernel_interpreter(kernel_argv0: str, path: str) -> str:
    """The program jupyter_client will start for a kernelspec's argv[0] (it maps python to sys.executable)."""
    major, minor = sys.version_info[:2]
    if kernel_argv0 in ("python", f"python{major}", f"python{major}.{minor}"):
        return sys.executable
    return shutil.which(kernel_argv0, path=path) or kernel_argv0


def candidate_runtime_python() -> str | None:
    """The installation's candidate runtime interpreter (kernels/runtime.py), when every user can run it."""
    try:
        from ..kernels.runtime import candidate_python
    except ImportError:
        return None
    try:
        python = str(candidate_python())
    except Exception:  # noqa: BLE001 - no runtime built here: the caller says so
        return None
    return python if os.path.exists(python) and _reachable_by_others(python) else None


def choose_kernel_identity(limits: ReplayLimits, kernel_argv0: str, kernel_path: str) -> KernelIdentity:
    """As root: a user of the kernel's own (leased, :mod:`kernel_users`) and an interpreter it can run."""
    if os.geteuid() != 0:
        return KernelIdentity()
    interpreter = kernel_interpreter(kernel_argv0, kernel_path)
    python = None
    if not (os.path.exists(interpreter) and _reachable_by_others(interpreter)):
        python = candidate_runtime_python()
        if python is None:
            return KernelIdentity(note=(
                f"the kernel runs as the grader's user (root): its interpreter {interpreter} is not reachable for other "
                "users and no candidate runtime is installed (make setup builds it as root); the read-only mounts, "
                "hidden paths, pid namespace and cgroup still apply"
            ))
    if limits.kernel_uid >= 0:
        return KernelIdentity(limits.kernel_uid, limits.kernel_uid, python)
    try:
        user = lease_kernel_user()
    except KernelUserError as error:
        return KernelIdentity(note=f"the kernel runs as the grader's user (root): {error}")
    return KernelIdentity(user.uid, user.gid, python, user)


GraderStep = Callable[["ReplayClient", Path], Awaitable[Any]]


async def run_replay(
    name: str,
    order: str,
    plan: list[ReplayCell],
    workdir: Path,
    private_dir: Path,
    limits: ReplayLimits,
    kernel_name: str,
    *,
    stop_on_error: bool,
    hide: list[Path] = (),
    after_cells: dict[str, GraderStep] | None = None,
    kernel_note: str | None = None,
    before_cells: dict[str, GraderStep] | None = None,
) -> ReplayResult:
    """Run ``plan`` in a fresh sandboxed kernel in ``workdir``; then the grader's ``after_cells`` steps.

    ``private_dir`` is the grader's own folder for this replay (status file, kernel log); the
    kernel never sees it. Never raises for anything the candidate's code does.
    """
    result = ReplayResult(name=name, order=order, kernel_name=kernel_name, kernel_note=kernel_note)
    if kernel_note:
        result.notes.append(kernel_note)
    private_dir.mkdir(parents=True, exist_ok=True)
    (workdir / ".tmp").mkdir(parents=True, exist_ok=True)
    status_file = private_dir / "sandbox.json"
    spec = KernelSpecManager().get_kernel_spec(kernel_name)
    kernel_path = kernel_environment(workdir, limits)["PATH"]
    identity = choose_kernel_identity(limits, spec.argv[0], kernel_path)
    if identity.note:
        result.notes.append(identity.note)
    interpreter = identity.python or kernel_interpreter(spec.argv[0], kernel_path)
    private_tmp = not any(path == "/tmp" or path.startswith("/tmp/") for path in (interpreter, os.path.realpath(interpreter)))
    if not private_tmp:
        # a private /tmp would hide the interpreter (a checkout under /tmp, without the candidate runtime)
        result.notes.append(f"{SHARED_TMP_NOTE}: its interpreter {interpreter} lives under /tmp, "
                            "which a private /tmp would hide (make setup as root builds the candidate runtime)")
    if identity.uid is not None:
        # the working copy is the kernel's alone (0700): another replay's kernel cannot read it
        safe_files.chown_tree(workdir, identity.uid, identity.gid, folder_mode=0o700)
    # the connection file (its key signs the grader's messages) lives in a folder of the grader's
    connection_dir = private_dir.parent / f"{private_dir.name}-connection"
    connection_dir.mkdir(mode=0o711, exist_ok=True)
    cgroup = PidsCgroup.create(f"{os.getpid()}-{name}-{time.monotonic_ns()}", limits.max_processes)
    if cgroup is None:
        result.notes.append("no pids cgroup here: processes are capped by RLIMIT_NPROC and the watchdog only")

    def new_kernel_manager() -> SandboxedKernelManager:
        manager = SandboxedKernelManager(kernel_name=kernel_name, transport="ipc", ip=str(workdir / ".k"))
        # the kernel reads its connection file there (a private /tmp would cover it otherwise); it
        # cannot write there unless it runs as the grader's user
        manager.sandbox_args = [*sandbox_arguments(workdir, status_file, limits, cgroup, identity, list(hide), private_tmp),
                                "--writable", str(connection_dir)]
        manager.connection_file = str(connection_dir / "kernel.json")
        manager.kernel_uid = -1 if identity.uid is None else identity.uid
        manager.kernel_gid = -1 if identity.gid is None else identity.gid
        manager.kernel_python = identity.python or ""
        manager.sandbox_args_file = str(private_dir / "sandbox-options")
        return manager

    km = new_kernel_manager()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(step.source, metadata={"tags": list(step.tags)} if step.tags else {}) for step in plan]
    client = ReplayClient(
        nb,
        km=km,
        limits=limits,
        cgroup=cgroup,
        timeout=int(limits.cell_timeout),
        startup_timeout=int(limits.startup_timeout),
        allow_errors=True,
        record_timing=True,
        iopub_timeout=10,
        shutdown_kernel="immediate",
    )
    client.timeout_func = lambda cell: max(1, int(min(limits.cell_timeout, client.deadline - time.monotonic() + 1)))
    log_path = private_dir / "kernel.log"
    watcher = None
    with open(log_path, "wb") as kernel_log:
        try:
            started = time.monotonic()
            for attempt in (1, 2):
                if attempt == 2:
                    km = new_kernel_manager()
                client.km, client.kc = km, None  # nbclient drops its manager when a start fails
                try:
                    env = kernel_environment(workdir, limits, identity.python)
                    # nbclient's own start: the kernel's extra arguments, history kept in memory (no history.sqlite)
                    await client.async_start_new_kernel(cwd=str(workdir), env=env, stdout=kernel_log, stderr=kernel_log)
                    await client.async_start_new_kernel_client()
                    break
                except Exception as error:  # noqa: BLE001 - a kernel that cannot start is a verdict
                    # Once more (a start can fail on a starved machine), then a verdict with the kernel's last words.
                    await _shutdown(client, km)
                    if attempt == 2:
                        kernel_log.flush()
                        tail = log_path.read_bytes()[-1500:].decode("utf-8", "replace").strip()
                        result.stopped = LimitHit("kernel_start", None, f"the kernel did not start: {error}" + (f"; its log ends: {tail}" if tail else ""))
                        result.cells = [CellOutcome(s.label, "not_run", s.role, s.notebook_index) for s in plan]
                        return result
                    result.notes.append(f"the kernel failed to start once ({error}); started again")
            result.kernel_start_s = time.monotonic() - started
            result.sandbox = _read_json(status_file)
            client.deadline = time.monotonic() + limits.total_timeout
            watcher = asyncio.ensure_future(client.watch())
            for step_name, step in (before_cells or {}).items():  # the grader's own, e.g. the behaviour observer
                await _grader_step(result, client, step_name, step, workdir)
            cells_started = time.monotonic()
            for index, step in enumerate(plan):
                outcome = await _run_step(client, step, index)
                result.cells.append(outcome)
                if client.limit_hit or outcome.status == "limit":
                    break
                if outcome.status == "error" and not outcome.expected_error and result.first_error is None:
                    result.first_error = f"{step.label}: {outcome.ename}: {outcome.evalue}"
                    if stop_on_error:
                        break
            result.cells_s = time.monotonic() - cells_started
            result.stopped = client.limit_hit
            for step in plan[len(result.cells):]:
                result.cells.append(CellOutcome(step.label, "not_run", step.role, step.notebook_index, recorded_status=step.recorded_status))
            result.notebook = nb
            if result.kernel_usable and after_cells and await _alive(client):
                client.deadline = time.monotonic() + limits.total_timeout
                for step_name, step in after_cells.items():
                    await _grader_step(result, client, step_name, step, workdir)
                    if client.limit_hit:
                        break
            if client.limit_hit and client.limit_hit.cell and client.limit_hit.cell.startswith("grader:"):
                result.notes.append(f"{client.limit_hit.cell} stopped: {client.limit_hit.limit} ({client.limit_hit.detail})")
        finally:
            if watcher is not None:
                watcher.cancel()
            result.notes.append(f"peak resident memory {client.peak_rss / MIB:.0f} MiB, peak processes {client.peak_processes}")
            stopping = time.monotonic()
            await _shutdown(client, km)
            if cgroup is not None:
                cgroup.remove()
            survivors = identity.release()
            result.shutdown_s = time.monotonic() - stopping
            if survivors:
                result.notes.append(f"{len(survivors)} process(es) of the kernel's user outlived the kernel and were killed")
    result.kernel_log_tail = log_path.read_bytes()[-4000:].decode("utf-8", "replace")
    return result


async def _grader_step(result: ReplayResult, client: ReplayClient, step_name: str, step, workdir: Path) -> None:
    """One of the grader's own steps in the replay's kernel: its outcome and its time in the result."""
    client.current_label = f"grader: {step_name}"
    started = time.monotonic()
    try:
        result.grader_steps[step_name] = await step(client, workdir)
    except Exception as error:  # noqa: BLE001 - reported, never raised
        result.grader_steps[step_name] = {"ok": False, "problem": _describe(error, client)}
    result.grader_steps_s[step_name] = round(time.monotonic() - started, 3)


async def _run_step(client: ReplayClient, step: ReplayCell, index: int) -> CellOutcome:
    cell = client.nb.cells[index]
    client.current_label = step.label
    outcome = CellOutcome(step.label, "ok", step.role, step.notebook_index, recorded_status=step.recorded_status)
    if client.skip_cells_with_tag in step.tags:
        outcome.status = "skipped"  # nbclient does not run it either
        return outcome
    outcome.expected_error = "raises-exception" in step.tags
    started, cpu_started = time.monotonic(), client.tree_cpu_seconds()
    try:
        await client.async_execute_cell(cell, index, execution_count=index + 1)
    except CellTimeoutError:
        if client.deadline is not None and time.monotonic() >= client.deadline - 1:
            client.stop_for_limit("total_time", f"the replay passed its total of {client.limits.total_timeout:g} s")
        else:
            client.stop_for_limit("cell_time", f"{step.label} ran past {client.limits.cell_timeout:g} s")
    except DeadKernelError:
        if client.limit_hit is None:
            client.limit_hit = LimitHit("kernel_died", step.label, _death_detail(client))
    except Exception as error:  # noqa: BLE001 - any failure of the machinery is this cell's verdict
        if client.limit_hit is None:
            client.limit_hit = LimitHit("replay_error", step.label, _describe(error, client))
    outcome.duration_s = round(time.monotonic() - started, 3)
    cpu_finished = client.tree_cpu_seconds()
    if cpu_started is not None and cpu_finished is not None:
        outcome.cpu_s = round(max(0.0, cpu_finished - cpu_started), 3)
    outcome.output_bytes = client.cell_output_bytes.get(index, 0)
    if client.limit_hit is not None and client.limit_hit.cell == step.label:
        outcome.status = "limit"
        return outcome
    error = client.reply_error(index)
    if error is not None:
        outcome.status, outcome.ename, outcome.evalue = "error", error[0], error[1]
    limit = _limit_behind_error(outcome, client.limits)
    if limit is not None:
        # The error is the limit biting (an allocation or a fork refused): a verdict, not a bug.
        client.stop_for_limit(limit, f"{step.label}: {outcome.ename}: {outcome.evalue} ({LIMIT_WORDS[limit](client.limits)})")
        outcome.status = "limit"
    return outcome


LIMIT_WORDS = {
    "memory": lambda limits: f"memory limit {limits.memory_bytes / GIB:.2f} GiB",
    "processes": lambda limits: f"process limit {limits.max_processes}",
}


def _limit_behind_error(outcome: CellOutcome, limits: ReplayLimits) -> str | None:
    if outcome.status != "error":
        return None
    if outcome.ename == "MemoryError":
        return "memory"
    if outcome.ename in ("BlockingIOError", "OSError") and "Resource temporarily unavailable" in (outcome.evalue or ""):
        return "processes"
    return None


def _death_detail(client: ReplayClient) -> str:
    provisioner = getattr(client.km, "provisioner", None)
    process = getattr(provisioner, "process", None)
    code = None
    if process is not None:
        for _ in range(20):
            code = process.poll()
            if code is not None:
                break
            time.sleep(0.05)
    if code is None:
        return "the kernel stopped answering"
    if code > 128 and code - 128 in signal.Signals._value2member_map_:
        code = 128 - code  # the launcher's relay ends with 128+N when the kernel died of signal N
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        return f"the kernel was killed by signal {name}" + (" (a crash, e.g. a segmentation fault)" if name == "SIGSEGV" else "")
    return f"the kernel exited with status {code}"


def _describe(error: BaseException, client: ReplayClient) -> str:
    if isinstance(error, DeadKernelError):
        return _death_detail(client)
    return f"{type(error).__name__}: {str(error)[:300]}"


async def _alive(client: ReplayClient) -> bool:
    try:
        return bool(await client.km.is_alive())
    except Exception:  # noqa: BLE001
        return False


async def _shutdown(client: ReplayClient, km: AsyncKernelManager) -> None:
    try:
        if client.kc is not None:
            client.kc.stop_channels()
    except Exception:  # noqa: BLE001
        pass
    client.kill_tree()
    try:
        if km.has_kernel:
            await asyncio.wait_for(km.shutdown_kernel(now=True), 10)
    except Exception:  # noqa: BLE001
        pass
    try:
        await km._async_cleanup_resources()
    except Exception:  # noqa: BLE001
        pass


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"notes": ["the sandbox launcher wrote no status"]}


async def execute_grader_code(client: ReplayClient, source: str, timeout: float) -> dict[str, Any]:
    """Run one piece of the grader's code in the replayed kernel; report its error as data."""
    cell = nbformat.v4.new_code_cell(source)
    client.nb.cells.append(cell)
    index = len(client.nb.cells) - 1
    saved = client.timeout_func
    client.timeout_func = lambda _cell: int(timeout)
    try:
        await client.async_execute_cell(cell, index, store_history=False)
    except CellTimeoutError:
        client.stop_for_limit("cell_time", f"{client.current_label} ran past {timeout:g} s")
        return {"ok": False, "problem": f"timed out after {timeout:g} s"}
    except DeadKernelError:
        return {"ok": False, "problem": _death_detail(client)}
    finally:
        client.timeout_func = saved
    error = client.reply_error(index)
    if error is not None:
        return {"ok": False, "problem": f"{error[0]}: {error[1]}"}
    return {"ok": True}


def run(coroutine):
    """Run a coroutine to completion from synchronous code."""
    return asyncio.run(coroutine)
