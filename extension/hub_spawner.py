"""The candidate's server: the interview's scenario in the workspace, the right kernel, a GPU.

Classes and functions:

- ``GPUPool``: the GPUs of this machine; each GPU candidate holds one of its own while their
  server lives, and gives it back when it stops.
- ``server_plan(...)``: pure option logic (in the manner of kubespawner's ``profile_list``): from
  an interview, its scenario and the GPU it holds, the kernel, environment, arguments and URL
  of the candidate's server. Tested without spawning anything.
- ``InterviewSpawnerMixin``: put it in front of any spawner (``LocalProcessSpawner``,
  ``SimpleLocalProcessSpawner``, ``KubeSpawner``): before the server starts it materializes the
  scenario into the candidate's workspace (``scenarios.materialize``; an existing workspace is
  kept, so a restarted server finds the candidate's work), applies the plan and, in isolated
  mode, creates the candidate's system user.
- ``InterviewLocalProcessSpawner`` (isolated mode): the server is started by the interview's
  warden (``kernels/warden.py``, root), which runs it as the interview's server user and every
  kernel as the candidate's own user, confined (CONFINEMENT.md);
  ``InterviewSimpleLocalProcessSpawner`` (trusted mode): the mixin on JupyterHub's simple spawner.
"""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner
from jupyterhub.utils import AnyTimeoutError, exponential_backoff, random_port
from tornado import web
from traitlets.config import LoggingConfigurable
from traitlets import Bool, Int, List, Unicode

from .service_store import InterviewStore, State

KERNEL_NAMES = {"cpu": "mlinterview-cpu", "gpu": "mlinterview-gpu"}
FALLBACK_KERNEL = "python3"
RECORDING_CONNECTION = "mlinterview.extension.history_connection.HistoryRecordingConnection"
CONFINED_CONTENTS = "mlinterview.extension.confined_contents.ConfinedContentsManager"
NOTEBOOK_SESSIONS = "mlinterview.extension.notebook_session.InterviewSessionManager"
WARDEN_PROVISIONER = "mlinterview-warden"
HISTORY_SECRET_ENV = "MLINTERVIEW_HISTORY_SECRET"


class SpawnRefused(web.HTTPError):
    """The candidate's server cannot start; the message says why and what to do (the hub's error
    page shows it, with 403, instead of an "Unhandled error")."""

    def __init__(self, message: str):
        super().__init__(403, message.replace("%", "%%"))
        self.message = message
        self.jupyterhub_message = message  # what the hub's error page shows

    def __str__(self) -> str:
        return self.message


class GPUPool:
    """GPU ids handed out one per GPU candidate: no two live servers share a GPU.

    One pool per set of ids per hub process (``GPUPool.shared``), so every spawner sees the same
    assignments. Owners are hub user names; acquiring again for the same owner returns the GPU
    it already holds (a restarted hub re-registers what spawner state says was held).
    """

    _shared: dict[tuple[str, ...], "GPUPool"] = {}
    _shared_lock = threading.Lock()

    def __init__(self, gpu_ids):
        self.gpu_ids = [str(gpu) for gpu in gpu_ids]
        self.holders: dict[str, str] = {}  # gpu id -> owner
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, gpu_ids) -> "GPUPool":
        key = tuple(str(gpu) for gpu in gpu_ids)
        with cls._shared_lock:
            if key not in cls._shared:
                cls._shared[key] = cls(key)
            return cls._shared[key]

    def held_by(self, owner: str) -> str | None:
        for gpu, holder in self.holders.items():
            if holder == owner:
                return gpu
        return None

    def acquire(self, owner: str, preferred: str | None = None) -> str:
        """A GPU for ``owner`` (``preferred`` when it is free or already theirs)."""
        with self._lock:
            held = self.held_by(owner)
            if held is not None:
                return held
            if not self.gpu_ids:
                raise SpawnRefused("this interview needs a GPU but the hub has no GPU pool; set 'gpus' in the hub settings or create the interview on CPU")
            if preferred is not None and preferred in self.gpu_ids and preferred not in self.holders:
                self.holders[preferred] = owner
                return preferred
            for gpu in self.gpu_ids:
                if gpu not in self.holders:
                    self.holders[gpu] = owner
                    return gpu
            raise SpawnRefused(
                f"all {len(self.gpu_ids)} GPU(s) are held by live candidates ({', '.join(sorted(self.holders.values()))}); "
                "end one of those interviews, or run this one on CPU"
            )

    def release(self, owner: str) -> str | None:
        """Give back ``owner``'s GPU; returns it (None when they held none)."""
        with self._lock:
            gpu = self.held_by(owner)
            if gpu is not None:
                del self.holders[gpu]
            return gpu

    def free(self) -> list[str]:
        return [gpu for gpu in self.gpu_ids if gpu not in self.holders]


@dataclass(frozen=True)
class ServerPlan:
    """What a candidate's server is started with."""

    kernel_name: str
    default_url: str
    environment: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)


def server_plan(
    *,
    interview_id: str,
    kernel: str,
    notebook: str,
    workspace: str,
    history_url: str,
    gpu: str | None,
    available_kernels: set[str],
    started_at: str | None = None,
    time_budget_minutes: int | None = None,
    time_out: str = "soft",
    kernel_socket_dir: str | None = None,
    kind: str = "live",
    deadline_hours: int | None = None,
) -> ServerPlan:
    """The kernel, environment, arguments and URL of a candidate's server. Pure.

    A take-home's clock is its hard deadline (``deadline_hours`` after the start, time-out hard);
    its time budget is active time, which the server shows and the report measures."""
    if kernel not in KERNEL_NAMES:
        raise SpawnRefused(f"unknown kernel kind '{kernel}' (expected cpu or gpu)")
    if kernel == "gpu" and gpu is None:
        raise SpawnRefused("a GPU interview needs a GPU from the pool")
    kernel_name = KERNEL_NAMES[kernel]
    if kernel_name not in available_kernels:
        # a checkout without the interview kernels still runs (without the kernel-side guard)
        kernel_name = FALLBACK_KERNEL
    environment = {
        "MLINTERVIEW_INTERVIEW": interview_id,
        "MLINTERVIEW_HISTORY_URL": history_url,
        "MLINTERVIEW_WORKSPACE": workspace,
        "MLINTERVIEW_KERNEL": kernel,
        # a CPU candidate sees no GPU; a GPU candidate sees only their own
        "CUDA_VISIBLE_DEVICES": gpu if gpu is not None else "",
        # nothing the workspace holds is imported before the first recorded cell
        "PYTHONSAFEPATH": "1",
    }
    if started_at:
        # the status panel's clock counts from the interview's start, not from the first kernel
        environment["MLINTERVIEW_STARTED_AT"] = started_at
    if kind == "take_home" and deadline_hours:
        environment["MLINTERVIEW_KIND"] = kind
        environment["MLINTERVIEW_ACTIVE_BUDGET_MINUTES"] = str(int(time_budget_minutes or 0))
        time_budget_minutes, time_out = int(deadline_hours) * 60, "hard"
    if time_budget_minutes:
        # the interview's own budget and time-out policy (extension/interview_status.py), not the scenario's default
        environment["MLINTERVIEW_TIME_BUDGET_MINUTES"] = str(int(time_budget_minutes))
        environment["MLINTERVIEW_TIME_OUT"] = time_out
    args = [
        # record every execution (the shipped jupyter_server_config.d file says the same, but
        # jupyterhub-singleuser does not read it for this trait)
        f"--ServerApp.kernel_websocket_connection_class={RECORDING_CONNECTION}",
        # and refuse kernel connections outright if the recorder is not running
        "--HistoryRecordingConnection.require_recorder=True",
        # a terminal would run code that is neither recorded nor under the constraint guard
        "--ServerApp.terminals_enabled=False",
        # the live view should catch up within seconds after the interview service restarts
        "--HubStreamer.max_backoff=5",
        # an interview is no place for JupyterLab's news and update prompts (nor their network calls)
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--MappingKernelManager.default_kernel_name={kernel_name}",
        # the interview kernel only: a plain kernel would bypass the constraint guard
        f"--KernelSpecManager.allowed_kernelspecs={kernel_name}",
        # files only from the workspace: a link in it to a file elsewhere is not served
        f"--ServerApp.contents_manager_class={CONFINED_CONTENTS}",
        # the notebook's kernel starts with the server, so the first cell does not wait for it
        f"--ServerApp.session_manager_class={NOTEBOOK_SESSIONS}",
        f"--InterviewSessionManager.notebook={notebook}",
    ]
    if kernel_socket_dir:
        # isolated: the warden starts every kernel (as the candidate's user, confined); the kernel
        # has no network, so server and kernel talk over ipc sockets in the candidate's socket folder
        args += [
            f"--KernelProvisionerFactory.default_provisioner_name={WARDEN_PROVISIONER}",
            "--KernelManager.transport=ipc",
            f"--KernelManager.ip={kernel_socket_dir}/k",
        ]
    return ServerPlan(kernel_name=kernel_name, default_url=f"/lab/tree/{notebook}", environment=environment, args=args)


def warden_command(
    python: str, *, server_user: str, kernel_user: str, server_home: str, workspace: str, rundir: str, kernel_name: str,
    cgroup_name: str, memory_bytes: int, max_processes: int, hidden: list[str] = (), prepare_folders: bool = False,
) -> list[str]:
    """The command that starts a candidate's server through the interview's warden (the server's command follows). Pure."""
    command = [
        python, "-I", "-m", "mlinterview.kernels.warden", "--server-user", server_user, "--kernel-user", kernel_user,
        "--server-home", server_home, "--workspace", workspace, "--rundir", rundir, "--kernel-name", kernel_name,
        "--cgroup-name", cgroup_name, "--memory-bytes", str(memory_bytes), "--max-processes", str(max_processes),
    ]
    for path in hidden:
        command += ["--hide", path]
    if prepare_folders:
        command.append("--prepare-folders")
    return command + ["--"]


def installed_kernelspecs() -> set[str]:
    from jupyter_client.kernelspec import KernelSpecManager

    return set(KernelSpecManager().find_kernel_specs())


def set_notebook_kernel(notebook_path: Path, kernel_name: str) -> None:
    """Point a freshly materialized notebook at the interview's kernel."""
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    spec = notebook.metadata.get("kernelspec", {})
    if spec.get("name") == kernel_name:
        return
    display = {"mlinterview-cpu": "Interview (CPU)", "mlinterview-gpu": "Interview (GPU)"}.get(kernel_name, "Python 3")
    notebook.metadata["kernelspec"] = {"name": kernel_name, "display_name": display, "language": "python"}
    nbformat.write(notebook, notebook_path)


class InterviewSpawnerMixin(LoggingConfigurable):
    """Prepare the candidate's workspace, kernel and GPU before their server starts."""

    store_url = Unicode("", help="SQLAlchemy URL of the interview store: which scenario and kernel a candidate gets.").tag(config=True)
    scenarios_dir = Unicode("", help="Folder of scenario packs the interviews name.").tag(config=True)
    workspaces_dir = Unicode(
        "", help="Each candidate's workspace is <workspaces_dir>/<hub user>; it outlives server restarts."
    ).tag(config=True)
    homes_dir = Unicode("", help="Each candidate's home (jupyter runtime files, caches) is <homes_dir>/<hub user>.").tag(config=True)
    history_url = Unicode(
        "", help="Where the server's history extension streams events (MLINTERVIEW_HISTORY_URL): the interview service."
    ).tag(config=True)
    gpu_ids = List(
        Unicode(), help="GPU ids of this machine's pool; a GPU interview holds one of its own while its server lives."
    ).tag(config=True)
    isolated = Bool(
        False, help="Isolated mode: the candidate runs as a system user of their own, created before the first start."
    ).tag(config=True)

    gpu = Unicode(None, allow_none=True, help="The GPU this server holds (kept in spawner state across hub restarts).")

    history_secrets_dir = Unicode(
        "", help="Private folder (the hub's user only) where each interview's history secret is kept for the interview "
        "service: only the server holding it may add to the authoritative history, not a token the candidate made.",
    ).tag(config=True)

    sockets_dir = Unicode(
        "", help="Isolated mode: each candidate's kernel sockets live in <sockets_dir>/<hub user> (root:candidate, mode 1770)."
    ).tag(config=True)

    @property
    def kernel_socket_dir(self) -> Path:
        return Path(self.sockets_dir) / self.user.name

    @cached_property
    def store(self) -> InterviewStore:
        if not self.store_url:
            raise SpawnRefused("InterviewSpawnerMixin.store_url is not set; jupyterhub_config.py sets it from the hub settings")
        return InterviewStore.shared(self.store_url)

    @property
    def gpu_pool(self) -> GPUPool:
        return GPUPool.shared(self.gpu_ids)

    @property
    def workspace(self) -> Path:
        return Path(self.workspaces_dir) / self.user.name

    @property
    def candidate_home(self) -> Path:
        return Path(self.homes_dir) / self.user.name

    # -- state: the held GPU survives a hub restart ---------------------------------------------
    def load_state(self, state):
        super().load_state(state)
        if state.get("gpu") is not None:
            self.gpu = self.gpu_pool.acquire(self.user.name, preferred=state["gpu"])

    def get_state(self):
        state = super().get_state()
        if self.gpu is not None:
            state["gpu"] = self.gpu
        return state

    def clear_state(self):
        super().clear_state()
        self.release_gpu()

    def release_gpu(self) -> None:
        if self.gpu is not None:
            self.gpu_pool.release(self.user.name)
            self.log.info("GPU %s returned to the pool by %s", self.gpu, self.user.name)
            self.gpu = None

    # -- start -----------------------------------------------------------------------------------
    def interview(self):
        interview = self.store.for_candidate(self.user.name)
        if interview is None:
            raise SpawnRefused(
                f"{self.user.name} is not a candidate of any interview, so there is no interview server to start; "
                "interviewers work in the interview service"
            )
        if interview.state not in (State.invited.value, State.live.value):
            raise SpawnRefused(f"interview {interview.id} has ended ({interview.state}); its server cannot start again")
        return interview

    def prepare_workspace(self, interview, kernel_name: str) -> None:
        """Materialize the scenario (kept as it is when it already exists) and hand it to the candidate."""
        from ..scenarios.materialize import materialize, read_workspace_settings
        from ..scenarios.pack import load_pack

        pack = load_pack(interview.scenario, Path(self.scenarios_dir) if self.scenarios_dir else None)
        fresh = read_workspace_settings(self.workspace) is None
        materialize(pack, self.workspace, interview.data_seed)
        if fresh:
            set_notebook_kernel(self.workspace / pack.manifest.candidate.notebook, kernel_name)
        self.candidate_home.mkdir(parents=True, exist_ok=True)
        if self.isolated:
            from .hub_isolation import prepare_candidate

            prepare_candidate(self.user.name, workspace=self.workspace, homes_dir=Path(self.homes_dir), socket_dir=self.kernel_socket_dir)

    def notebook_of(self, interview) -> str:
        from ..scenarios.pack import load_pack

        return load_pack(interview.scenario, Path(self.scenarios_dir) if self.scenarios_dir else None).manifest.candidate.notebook

    async def start(self):
        interview = await asyncio.to_thread(self.interview)
        if interview.kernel == "gpu":
            self.gpu = self.gpu_pool.acquire(self.user.name, preferred=self.gpu)
        try:
            available = await asyncio.to_thread(installed_kernelspecs)
            notebook = await asyncio.to_thread(self.notebook_of, interview)
            self.plan = server_plan(
                interview_id=interview.id,
                kernel=interview.kernel,
                notebook=notebook,
                workspace=str(self.workspace),
                history_url=self.history_url,
                gpu=self.gpu,
                available_kernels=available,
                started_at=interview.started_at.isoformat() + "Z" if interview.started_at else None,
                time_budget_minutes=interview.time_budget_minutes,
                time_out=interview.time_out,
                kernel_socket_dir=self.warden_socket_dir(),
                kind=interview.kind or "live",
                deadline_hours=interview.deadline_hours,
            )
            await asyncio.to_thread(self.prepare_workspace, interview, self.plan.kernel_name)
        except BaseException:
            self.release_gpu()
            raise
        self.history_secret = await asyncio.to_thread(self.new_history_secret, interview.id)
        self.notebook_dir = str(self.workspace)
        self.default_url = self.plan.default_url
        self.prepare_command()
        self.log.info(
            "Starting %s for interview %s (%s, kernel %s%s)",
            self.user.name, interview.id, interview.scenario, self.plan.kernel_name, f", GPU {self.gpu}" if self.gpu else "",
        )
        return await super().start()

    def new_history_secret(self, interview_id: str) -> str:
        """A fresh secret for this server's history stream, kept where the interview service checks it."""
        import secrets

        secret = secrets.token_urlsafe(32)
        if self.history_secrets_dir:
            folder = Path(self.history_secrets_dir)
            folder.mkdir(mode=0o700, exist_ok=True)
            staging = folder / f".{interview_id}.new"
            staging.unlink(missing_ok=True)
            fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secret)
            staging.replace(folder / interview_id)
        return secret

    def warden_socket_dir(self) -> str | None:
        """Where the warden's kernels put their sockets (None: no warden, kernels started by the server)."""
        return str(self.kernel_socket_dir) if self.isolated else None

    def prepare_command(self) -> None:
        """Adjust ``cmd`` for this candidate just before the server starts (isolated mode puts the warden first)."""

    def get_env(self):
        env = super().get_env()
        plan = getattr(self, "plan", None)
        if plan is not None:
            env.update(plan.environment)
        if getattr(self, "history_secret", None):
            env[HISTORY_SECRET_ENV] = self.history_secret
        return env

    def get_args(self):
        args = super().get_args()
        plan = getattr(self, "plan", None)
        return args + (list(plan.args) if plan is not None else [])

    async def stop(self, now=False):
        await super().stop(now=now)
        self.release_gpu()


class ServerPorts:
    """The loopback ports of this hub's live candidate servers: a starting server gets one no other holds.

    JupyterHub picks a server's port by binding port 0 and closing it again; ten servers starting at
    once can be handed the same port, and the hub's readiness check (any answer below 500 counts)
    would then route the second candidate to the first candidate's server. So a port is held here
    from the pick until that server stops."""

    _lock = threading.Lock()
    _held: dict[str, int] = {}

    @classmethod
    def take(cls, owner: str) -> int:
        with cls._lock:
            cls._held.pop(owner, None)
            taken = set(cls._held.values())
            for _ in range(1000):
                port = random_port()
                if port not in taken:
                    cls._held[owner] = port
                    return port
        raise SpawnRefused("no free loopback port for the candidate's server")

    @classmethod
    def release(cls, owner: str) -> None:
        with cls._lock:
            cls._held.pop(owner, None)


class LocalServerPortsMixin:
    """Local spawners: each server's port from :class:`ServerPorts`."""

    async def start(self):
        self.port = ServerPorts.take(self.user.name)
        try:
            return await super().start()
        except BaseException:
            ServerPorts.release(self.user.name)
            raise

    async def stop(self, now=False):
        try:
            await super().stop(now=now)
        finally:
            ServerPorts.release(self.user.name)


class InterviewLocalProcessSpawner(LocalServerPortsMixin, InterviewSpawnerMixin, LocalProcessSpawner):
    """Isolated mode: the interview's warden (root) runs the server as the interview's server user
    and each kernel as the candidate's own user, in the candidate's cgroup (CONFINEMENT.md)."""

    runtime = Unicode(
        "", help="Prefix of the candidate runtime (kernels/runtime.py): the Python the warden, server and kernels run, "
        "which every user can execute.",
    ).tag(config=True)
    hidden_paths = List(
        Unicode(), help="Paths a candidate's kernel must not see (the private store, the packs' private parts): covered "
        "in the kernel's mount namespace, on top of their permissions.",
    ).tag(config=True)
    candidate_memory_bytes = Int(4 * 2**30, help="Memory of everything a candidate runs (server and kernels), in bytes.").tag(config=True)
    candidate_max_processes = Int(512, help="Processes and threads a candidate's tree may hold at once (stops fork bombs).").tag(config=True)

    def make_preexec_fn(self, name):
        # the warden starts as root and starts the server and kernels as their users itself
        return lambda: os.chdir("/")

    def warden_command(self) -> list[str]:
        from .hub_isolation import server_user_name

        return warden_command(
            str(Path(self.runtime) / "bin" / "python") if self.runtime else "python3",
            server_user=server_user_name(self.user.name), kernel_user=self.user.name,
            server_home=str(Path(self.homes_dir) / server_user_name(self.user.name)), workspace=str(self.workspace),
            rundir=str(self.kernel_socket_dir), kernel_name=self.plan.kernel_name, cgroup_name=self.user.name,
            memory_bytes=self.candidate_memory_bytes, max_processes=self.candidate_max_processes, hidden=self.hidden_paths,
        )

    async def wait_for_death(self, timeout=10):
        # a steady poll instead of JupyterHub's doubling waits (up to 5 s between looks): the warden
        # stops everything within a second or two, and End, which waits on this, should not wait longer
        async def dead() -> bool:
            return await self.poll() is not None

        try:
            return await exponential_backoff(dead, f"the warden did not stop within {timeout} s", start_wait=0.05, max_wait=0.2, timeout=timeout)
        except AnyTimeoutError:
            return False

    def prepare_command(self) -> None:
        # per candidate: the warden, then the configured server command, which it runs as the server user
        if not hasattr(self, "_server_cmd"):
            self._server_cmd = list(self.cmd)
        self.cmd = self.warden_command() + self._server_cmd


class InterviewSimpleLocalProcessSpawner(LocalServerPortsMixin, InterviewSpawnerMixin, SimpleLocalProcessSpawner):
    """Trusted mode: every candidate's server runs as the hub's user (the hub warns at start)."""
