"""Past one machine: the same hub on Kubernetes (Zero to JupyterHub and KubeSpawner).

The chart runs the hub, the proxy and one pod per candidate; ``deploy/kubernetes/values.yaml``
mounts the operator's two settings files into the hub pod and runs three lines of
``hub.extraConfig`` that call this module. It adds to ``hub_settings.hub_config`` (the same
translation as on one machine) only what differs on Kubernetes:

- ``KubernetesSettings`` / ``load_kubernetes_settings()``: images, resources, GPU scheduling,
  the workspaces claim (``kubernetes.toml``, path in ``$MLINTERVIEW_KUBERNETES_SETTINGS``);
- ``candidate_profiles(kube)``: the KubeSpawner ``profile_list``, one profile per interview kernel
  (``cpu``, ``gpu`` with an ``nvidia.com/gpu`` limit); ``profile_for_kernel(kernel)`` picks one;
  ``workspace_storage(...)``: the one volume a candidate pod gets (their own workspace folder of
  the shared workspaces claim). Pure option logic, tested without a cluster;
- ``kubernetes_hub_config(settings, kube, installation)``: pure, settings to a traitlets
  ``Config``; ``merge_hub_config(c, addition)`` merges it into the chart's configuration;
- ``prepare_kubernetes_installation(settings)``: the hub pod's first-start side effects;
- ``InterviewKubeSpawner``: the interview spawner mixin on KubeSpawner. The interview, not the
  candidate, chooses the profile (no spawn form), the scheduler gives the GPU (the pod sees it
  as device 0), and the pod mounts the candidate's workspace only.

Isolation is a pod per candidate: the private store (hub and interview databases, holdout seed,
submissions, reports) is a volume of the hub pod only; the interview service runs in the hub
pod, managed by the hub, and listens on a port of the hub's Kubernetes Service so that the
proxy and the candidates' servers (history streaming) reach it.
"""

from __future__ import annotations

import asyncio
import json
import os
import tomllib
from pathlib import Path
from typing import Any

from kubespawner import KubeSpawner
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from traitlets import Integer, List, Unicode, default
from traitlets.config import Config

from .hub_settings import (
    SERVICE_NAME,
    SERVICE_SETTINGS_ENV,
    HubSettings,
    Installation,
    SettingsError,
    ensure_holdout_seed,
    hub_config,
    service_settings,
)
from .hub_spawner import KERNEL_NAMES, InterviewSpawnerMixin, SpawnRefused, warden_command

KUBERNETES_SETTINGS_ENV = "MLINTERVIEW_KUBERNETES_SETTINGS"
WORKSPACE_VOLUME = "mlinterview-workspace"
GPU_RESOURCE = "nvidia.com/gpu"
LOCAL_HISTORY_DIR = Path(".local", "share", "mlinterview", "history")

# Set by the chart from its own values (hub address, database, cookie secret, proxy pod, the
# single-user command); the one-machine values would be wrong in a pod.
CHART_OWNED = {
    "JupyterHub": ["ip", "port", "hub_ip", "hub_port", "db_url", "cookie_secret_file", "cleanup_servers"],
    "ConfigurableHTTPProxy": None,
    "SimpleLocalProcessSpawner": None,
    "Spawner": ["cmd", "environment", "args"],
}


class KubernetesSettings(BaseModel):
    """What an operator decides for Kubernetes (``kubernetes.toml``; see deploy/kubernetes/values.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_image: str = Field(description="Single-user image of CPU interviews (deploy/kubernetes/Dockerfile, target singleuser).")
    gpu_image: str = Field(description="Single-user image of GPU interviews (same target, built with a CUDA torch).")
    hub_service_host: str = Field(default="hub", description="DNS name of the hub's Kubernetes Service (the chart's 'hub').")
    workspaces_claim: str = Field(
        default="mlinterview-workspaces",
        description="ReadWriteMany claim holding every workspace; the hub mounts all of it, a candidate pod only their own folder.",
    )
    cpu_limit: float = Field(default=2, gt=0, description="CPU cores a candidate may use.")
    cpu_guarantee: float = Field(default=0.5, gt=0, description="CPU cores reserved for a candidate.")
    mem_limit: str = Field(default="4G", description="Memory a candidate may use.")
    mem_guarantee: str = Field(default="2G", description="Memory reserved for a candidate.")
    gpu_cpu_limit: float = Field(default=8, gt=0, description="CPU cores of a GPU candidate.")
    gpu_mem_limit: str = Field(default="32G", description="Memory of a GPU candidate.")
    gpus_per_candidate: int = Field(default=1, ge=1, description="GPUs a GPU candidate gets (nvidia.com/gpu limit).")
    gpu_node_selector: dict[str, str] = Field(default_factory=dict, description="Node labels of the GPU nodes.")
    gpu_tolerations: list[dict[str, str]] = Field(
        default_factory=lambda: [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
        description="Tolerations for the GPU nodes' taints.",
    )
    gpu_interviews: bool = Field(default=True, description="Interviewers may create GPU interviews (the cluster has GPU nodes).")
    start_timeout: int = Field(default=600, gt=0, description="Seconds a candidate pod may take to start (image pulls, GPU node scale-up).")


def load_kubernetes_settings(path: Path | None = None, environ=None) -> KubernetesSettings:
    """Kubernetes settings from a TOML file (``path`` or ``$MLINTERVIEW_KUBERNETES_SETTINGS``)."""
    environ = os.environ if environ is None else environ
    path = Path(path) if path else (Path(environ[KUBERNETES_SETTINGS_ENV]) if environ.get(KUBERNETES_SETTINGS_ENV) else None)
    if path is None:
        raise SettingsError(f"${KUBERNETES_SETTINGS_ENV} is not set: point it at kubernetes.toml (deploy/kubernetes/values.yaml mounts one)")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return KubernetesSettings.model_validate(raw)
    except FileNotFoundError:
        raise SettingsError(f"{path}: Kubernetes settings file not found; mount it (hub.extraFiles) or fix ${KUBERNETES_SETTINGS_ENV}") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: not valid TOML ({error}); fix the syntax at that position") from None
    except ValidationError as error:
        problems = "; ".join(f"'{'.'.join(str(p) for p in problem['loc'])}': {problem['msg']}" for problem in error.errors())
        raise SettingsError(f"{path}: {problems} (fields are documented in deploy/kubernetes/values.yaml)") from None


# -- pure option logic ---------------------------------------------------------------------------
def candidate_profiles(kube: KubernetesSettings) -> list[dict[str, Any]]:
    """KubeSpawner ``profile_list``: one profile per interview kernel, slugs as in ``KERNEL_NAMES``."""
    gpus = str(kube.gpus_per_candidate)
    return [
        {
            "display_name": "Interview (CPU)",
            "slug": "cpu",
            "default": True,
            "kubespawner_override": {
                "image": kube.cpu_image,
                "cpu_limit": kube.cpu_limit,
                "cpu_guarantee": kube.cpu_guarantee,
                "mem_limit": kube.mem_limit,
                "mem_guarantee": kube.mem_guarantee,
            },
        },
        {
            "display_name": "Interview (GPU)",
            "slug": "gpu",
            "kubespawner_override": {
                "image": kube.gpu_image,
                "cpu_limit": kube.gpu_cpu_limit,
                "cpu_guarantee": kube.cpu_guarantee,
                "mem_limit": kube.gpu_mem_limit,
                "mem_guarantee": kube.mem_guarantee,
                "extra_resource_limits": {GPU_RESOURCE: gpus},
                "extra_resource_guarantees": {GPU_RESOURCE: gpus},
                "node_selector": dict(kube.gpu_node_selector),
                "tolerations": [dict(toleration) for toleration in kube.gpu_tolerations],
            },
        },
    ]


def profile_for_kernel(kernel: str) -> str:
    """The profile slug of an interview's kernel kind."""
    if kernel not in KERNEL_NAMES:
        raise SpawnRefused(f"unknown kernel kind '{kernel}' (expected {' or '.join(KERNEL_NAMES)})")
    return kernel


def workspace_storage(workspaces_claim: str, workspaces_dir: Path, user_name: str) -> tuple[dict, dict]:
    """(volume, mount) of one candidate's workspace: their folder of the claim, at the hub's path.

    The mount path is the one the hub materializes into (``<workspaces_dir>/<user>``), so the
    notebook directory and ``MLINTERVIEW_WORKSPACE`` mean the same in the pod as in the hub.
    """
    if not user_name or "/" in user_name or user_name.startswith("."):
        raise SpawnRefused(f"'{user_name}' cannot name a workspace folder")
    volume = {"name": WORKSPACE_VOLUME, "persistentVolumeClaim": {"claimName": workspaces_claim}}
    mount = {"name": WORKSPACE_VOLUME, "mountPath": str(Path(workspaces_dir) / user_name), "subPath": user_name}
    return volume, mount


def kubernetes_hub_config(settings: HubSettings, kube: KubernetesSettings, installation: Installation) -> Config:
    """The hub's configuration on Kubernetes, on top of the chart's. Pure: reads nothing, starts nothing."""
    c = hub_config(settings, installation)
    for section, keys in CHART_OWNED.items():
        if section in c:
            for key in keys if keys is not None else list(c[section]):
                c[section].pop(key, None)
            if not c[section]:
                del c[section]

    service_url = f"http://{kube.hub_service_host}:{settings.service_port}"
    c.JupyterHub.spawner_class = InterviewKubeSpawner
    c.KubeSpawner.profile_list = candidate_profiles(kube)
    c.KubeSpawner.start_timeout = kube.start_timeout
    c.InterviewKubeSpawner.workspaces_claim = kube.workspaces_claim
    # the same rule as on one machine (CONFINEMENT.md): the pod starts as root only to run the
    # warden, which runs the server as the image's server user and each kernel as its candidate user
    c.InterviewKubeSpawner.uid = 0
    c.InterviewKubeSpawner.gid = 0
    c.InterviewKubeSpawner.container_security_context = WARDEN_SECURITY_CONTEXT
    c.InterviewKubeSpawner.gpus_per_candidate = kube.gpus_per_candidate
    # a pod per candidate is the isolation; the scheduler hands out GPUs (no pool in the hub)
    c.InterviewSpawnerMixin.gpu_ids = []
    c.InterviewSpawnerMixin.history_url = f"{service_url}/services/{SERVICE_NAME}/api/history"

    # the interview service in the hub pod, reached by the proxy pod and the candidates' pods
    environment = service_settings(settings, installation)
    environment.update(bind_ip="0.0.0.0", gpu_available=kube.gpu_interviews)
    for service in c.JupyterHub.services:
        if service["name"] == SERVICE_NAME:
            service["url"] = service_url
            service["environment"] = {SERVICE_SETTINGS_ENV: json.dumps(environment)}
    return c


def merge_hub_config(c: Config, addition: Config) -> None:
    """Merge ``addition`` into the chart's ``c``; services and roles are added to the chart's, not replacing them."""
    addition = Config(addition)  # a copy: the lists below are taken out of it
    hub = addition.get("JupyterHub", {})
    extend = {key: hub.pop(key) for key in ("services", "load_roles") if key in hub}
    c.merge(addition)
    for key, entries in extend.items():
        names = {entry["name"] for entry in entries}
        kept = [entry for entry in c.JupyterHub.get(key, []) if entry.get("name") not in names]
        c.JupyterHub[key] = kept + list(entries)


def prepare_kubernetes_installation(settings: HubSettings) -> Installation:
    """In the hub pod: the state folders and the holdout seed (idempotent, like ``prepare_installation``).

    ``private/`` and ``workspaces/`` are volume mounts whose roots belong to root (the chart's
    fsGroup gives the hub's user write access), so their modes are the volumes' own: only
    ``homes/`` is made here. The private volume is mounted in the hub pod only.
    """
    for folder in (settings.private_dir, settings.workspaces_dir, settings.homes_dir):
        folder.mkdir(parents=True, exist_ok=True)
    ensure_holdout_seed(settings.private_dir)
    # isolated=False: no system user per candidate (a pod per candidate instead), no proxy to start
    return Installation(isolated=False, proxy_command="configurable-http-proxy")


# What the warden needs in the candidate's container, and nothing more: to start the server and
# the kernels as their users, give them the workspace, signal them, and (where the cluster allows
# it) put each kernel into namespaces of its own; without SYS_ADMIN the sandbox says so and the
# users, the pod's network policy and its resource limits still hold.
WARDEN_SECURITY_CONTEXT = {
    "runAsUser": 0, "runAsGroup": 0, "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "FOWNER", "DAC_OVERRIDE", "SETUID", "SETGID", "KILL", "SYS_ADMIN"]},
}
POD_SOCKETS_DIR = "/run/mlinterview/sockets"


# -- the spawner ---------------------------------------------------------------------------------
class ScheduledGPUs:
    """Stands in for the GPU pool on Kubernetes: the scheduler gives each GPU pod GPUs of its own,
    which the container sees as devices 0..n-1."""

    def __init__(self, count: int):
        self.devices = ",".join(str(index) for index in range(count))

    def acquire(self, owner: str, preferred: str | None = None) -> str:
        return self.devices

    def release(self, owner: str) -> str | None:
        return None


class InterviewKubeSpawner(InterviewSpawnerMixin, KubeSpawner):
    """A candidate's pod: the interview's profile, the interview kernel, their workspace only."""

    workspaces_claim = Unicode(
        "mlinterview-workspaces",
        help="ReadWriteMany claim with every workspace; a candidate pod mounts only its own folder (subPath).",
    ).tag(config=True)
    gpus_per_candidate = Integer(1, help="GPUs in a GPU candidate's pod (the GPU profile's nvidia.com/gpu limit).").tag(config=True)
    kernel_user = Unicode("mlcandidate", help="The image's user that runs the candidate's kernels (deploy/kubernetes/Dockerfile).").tag(config=True)
    server_user = Unicode("mlserver", help="The image's user that runs the single-user server and holds the hub token.").tag(config=True)
    server_home = Unicode("/home/mlserver", help="The server user's home in the image.").tag(config=True)
    candidate_memory_bytes = Integer(4 * 2**30, help="Memory of the candidate's kernels (the pod's own limit holds too).").tag(config=True)
    candidate_max_processes = Integer(512, help="Processes of the candidate's kernels.").tag(config=True)

    def warden_socket_dir(self) -> str:
        return POD_SOCKETS_DIR

    def prepare_command(self) -> None:
        if not hasattr(self, "_server_cmd"):
            self._server_cmd = list(self.cmd or ["jupyterhub-singleuser"])
        self.cmd = warden_command(
            "python", server_user=self.server_user, kernel_user=self.kernel_user, server_home=self.server_home,
            workspace=str(self.workspace), rundir=POD_SOCKETS_DIR, kernel_name=self.plan.kernel_name, cgroup_name="candidate",
            memory_bytes=self.candidate_memory_bytes, max_processes=self.candidate_max_processes, prepare_folders=True,
        ) + self._server_cmd

    @default("options_form")
    def _no_options_form(self):
        # the interview chooses the profile; a candidate never sees a choice
        return ""

    def get_env(self):
        env = super().get_env()
        # the server's local history must outlive the pod (a rescheduled pod continues the chain
        # the service holds): keep it on the workspace claim, out of the frozen submission (.local)
        env["MLINTERVIEW_HISTORY_DIR"] = str(self.workspace / LOCAL_HISTORY_DIR)
        return env

    @property
    def gpu_pool(self) -> ScheduledGPUs:
        return ScheduledGPUs(self.gpus_per_candidate)

    async def load_user_options(self):
        interview = await asyncio.to_thread(self.interview)
        # whatever the browser sent is ignored: a CPU candidate cannot ask for the GPU profile
        self.user_options = {"profile": profile_for_kernel(interview.kernel)}
        await super().load_user_options()
        volume, mount = workspace_storage(self.workspaces_claim, Path(self.workspaces_dir), self.user.name)
        self.volumes = [v for v in self.volumes if v.get("name") != WORKSPACE_VOLUME] + [volume]
        self.volume_mounts = [m for m in self.volume_mounts if m.get("name") != WORKSPACE_VOLUME] + [mount]
