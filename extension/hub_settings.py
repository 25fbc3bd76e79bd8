"""Hub settings: a small settings file and environment, translated into JupyterHub config.

An operator writes a few plain settings (``hub.toml``, documented in ``hub.example.toml``
next to ``jupyterhub_config.py``); ``jupyterhub_config.py`` does three things with them:

- ``load_settings(path, environ)``: read the file, apply ``MLINTERVIEW_HUB_<FIELD>`` environment
  overrides, validate (a typo is an error naming the field);
- ``prepare_installation(settings)``: the side effects of a first start (state folders with
  their permissions, the per-installation holdout seed secret) and the isolation decision;
- ``hub_config(settings, installation)``: a *pure* function from the settings to a traitlets
  ``Config`` (in the manner of the-littlest-jupyterhub's configurer), unit-tested without
  starting anything.

Folders under ``state_dir``:

``private/``     mode 0700, the hub's user only: hub and interview databases, cookie secret,
                 holdout seed, frozen submissions, reports, grader logs
``workspaces/``  one folder per candidate (their notebook, scaffold, data); mode 0711
``homes/``       one home per system user of an interview (isolated mode); mode 0711
``sockets/``     isolated mode: one folder per candidate for their kernels' ipc sockets; mode 0711
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from traitlets.config import Config

SETTINGS_ENV = "MLINTERVIEW_HUB_SETTINGS"
ENV_PREFIX = "MLINTERVIEW_HUB_"
SERVICE_NAME = "interview"
HUB_TEMPLATES = Path(__file__).resolve().parent / "hub_templates"
SERVICE_SETTINGS_ENV = "MLINTERVIEW_SERVICE_SETTINGS"
REPO_ROOT = Path(__file__).resolve().parent.parent
HOLDOUT_SEED_FILE = "holdout_seed"
LOOPBACK_ADDRESSES = ("127.0.0.1", "localhost", "::1")


def default_state_dir() -> Path:
    """var/ in a checkout (gitignored) that candidates' users can reach; /var/lib/mlinterview for
    root otherwise; else ~/.local/share/mlinterview."""
    from ..kernels.runtime import folders_closed_to_others

    in_checkout = (REPO_ROOT / "jupyterhub_config.py").exists()
    if in_checkout and (os.geteuid() != 0 or not folders_closed_to_others(REPO_ROOT)):
        return REPO_ROOT / "var"
    if os.geteuid() == 0:
        return Path("/var/lib/mlinterview")
    return Path.home() / ".local" / "share" / "mlinterview"


class SettingsError(Exception):
    """The hub settings are invalid; the message names the field and what to do."""


class HubSettings(BaseModel):
    """Everything an operator decides about one installation (see hub.example.toml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state_dir: Path = Field(default_factory=lambda: default_state_dir(), description="Where the hub keeps everything it writes.")
    scenarios_dir: Path | None = Field(default=None, description="Folder of scenario packs (default: the packs shipped with mlinterview).")
    ip: str = Field(default="127.0.0.1", description="Address the proxy listens on; loopback unless you put TLS in front.")
    port: int = Field(default=8000, ge=1, le=65535, description="Public port: the URL interviewers and candidates open.")
    subdomain_host: str = Field(
        default="auto",
        description="Full URL of the hub (e.g. https://hub.example.org) to give every candidate server and the interview "
        "service an origin of their own (<user>.<host>, needs a wildcard name); auto: http://localhost:<port> when the "
        "hub listens on loopback (browsers resolve *.localhost there), one origin otherwise; empty: one origin for all.",
    )
    hub_port: int = Field(default=8081, ge=1, le=65535, description="The hub's own API port (loopback).")
    proxy_api_port: int = Field(default=8001, ge=1, le=65535, description="configurable-http-proxy's API port (loopback).")
    service_port: int = Field(default=8090, ge=1, le=65535, description="The interview service's port (loopback).")
    isolation: Literal["auto", "isolated", "trusted"] = Field(
        default="auto", description="auto: isolated when the hub runs as root (always), trusted otherwise."
    )
    candidate_runtime: Path | None = Field(
        default=None, description="Prefix of the Python environment candidates' servers and kernels run (default: kernels/runtime.py)."
    )
    candidate_memory_mb: int = Field(default=4096, ge=256, description="Memory of everything one candidate runs, in MiB (isolated).")
    candidate_max_processes: int = Field(default=512, ge=32, description="Processes and threads one candidate may hold at once (isolated).")
    gpus: list[str] = Field(default_factory=list, description="GPU ids in the pool; each GPU candidate gets one of its own.")
    interviewers: list[str] = Field(default_factory=lambda: ["interviewer"], description="Hub users who run interviews.")
    admins: list[str] = Field(default_factory=list, description="Hub users who see every interview (and the hub admin page).")
    hiring_managers: list[str] = Field(
        default_factory=list,
        description="Hub users who own the hiring decision in every hiring round: they see every interview, its scorecards "
                    "once submitted and the debrief, and record hire or no hire (they log in like interviewers).",
    )
    hiring_rounds: dict[str, list[str]] = Field(
        default_factory=dict,
        description="The hiring managers of each hiring round ({round = [users]}): they see and decide the interviews of "
                    "their rounds only (an interview's round is set when it is created; default: its scenario's id).",
    )
    authenticator: str = Field(
        default="shared-password",
        description="How interviewers log in: 'shared-password' (demo) or the import path of an Authenticator class.",
    )
    interviewer_password: str = Field(default="interview-demo", description="Shared password of the interviewers (shared-password only).")
    admin_password: str = Field(default="", description="Password of the admins (shared-password only; at least 32 characters).")
    invite_ttl_hours: float = Field(default=48, gt=0, description="How long an invite link stays valid.")
    take_home_start_window_days: float = Field(
        default=7, gt=0, le=30, description="A take-home's default start window: how long its invite lets the candidate start.")
    take_home_deadline_hours: int = Field(
        default=48, gt=0, le=336, description="A take-home's default hard deadline, in hours after the candidate starts: the work is submitted then.")
    take_home_sweep_seconds: float = Field(
        default=30, gt=0, le=3600, description="How often the interview service looks for take-homes past their deadline or start window.")
    store_url: str = Field(default="", description="SQLAlchemy URL of the interview store (default: SQLite in the private store).")
    proxy_command: str = Field(default="", description="configurable-http-proxy executable (default: the project's node_modules, then PATH).")
    keep_servers_on_restart: bool = Field(default=True, description="Candidate servers keep running while the hub restarts.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="WARNING", description="How much the hub, its proxy and the interview service log (INFO: every request)."
    )
    grade_command: list[str] = Field(
        default_factory=list, description="Grader command prefix (default: this Python's `mlinterview grade`)."
    )

    @field_validator("interviewers", "admins", "hiring_managers")
    @classmethod
    def _not_candidate_names(cls, names: list[str]) -> list[str]:
        from .service_store import CANDIDATE_PREFIX

        clashing = [name for name in names if name.startswith(CANDIDATE_PREFIX)]
        if clashing:
            raise ValueError(f"names starting with '{CANDIDATE_PREFIX}' are reserved for candidates: {', '.join(clashing)}")
        return names

    @field_validator("hiring_rounds")
    @classmethod
    def _rounds_of_hub_users(cls, rounds: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, users in rounds.items():
            if not name.strip() or len(name) > 200:
                raise ValueError(f"a hiring round's name is 1 to 200 characters, not {name!r}")
            cls._not_candidate_names(users)
        return rounds

    @property
    def every_hiring_manager(self) -> set[str]:
        """The hiring managers of every round, and of some."""
        return set(self.hiring_managers) | {user for users in self.hiring_rounds.values() for user in users}

    @model_validator(mode="after")
    def _consistent(self) -> "HubSettings":
        ports = [self.port, self.hub_port, self.proxy_api_port, self.service_port]
        if len(set(ports)) != len(ports):
            raise ValueError(f"port, hub_port, proxy_api_port and service_port must differ (got {ports})")
        if self.authenticator == "shared-password":
            if len(self.interviewer_password) < 8:
                raise ValueError("interviewer_password must be at least 8 characters")
            if self.admins and len(self.admin_password) < 32:
                raise ValueError("admins need an admin_password of at least 32 characters (shared-password)")
        return self

    # -- derived paths -------------------------------------------------------------------------
    @property
    def private_dir(self) -> Path:
        return self.state_dir / "private"

    @property
    def workspaces_dir(self) -> Path:
        return self.state_dir / "workspaces"

    @property
    def homes_dir(self) -> Path:
        return self.state_dir / "homes"

    @property
    def sockets_dir(self) -> Path:
        return self.state_dir / "sockets"

    @property
    def interview_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.private_dir / 'interviews.sqlite'}"

    @property
    def origins_url(self) -> str:
        """subdomain_host as applied: a URL, or empty for one origin ('auto' resolved)."""
        if self.subdomain_host != "auto":
            return self.subdomain_host.rstrip("/")
        return f"http://localhost:{self.port}" if self.ip in LOOPBACK_ADDRESSES else ""

    @property
    def public_url(self) -> str:
        """The URL interviewers and candidates open (the hub's origin)."""
        return self.origins_url or f"http://{self.ip}:{self.port}"


def _coerce_env_value(field: str, raw: str) -> Any:
    annotation = HubSettings.model_fields[field].annotation
    if annotation == list[str]:
        raw = raw.strip()
        if raw.startswith("["):
            return json.loads(raw)
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> HubSettings:
    """Settings from a TOML file (``path`` or ``$MLINTERVIEW_HUB_SETTINGS``) and the environment.

    ``MLINTERVIEW_HUB_<FIELD>`` overrides a field (lists as JSON or comma-separated). Relative
    paths in the file are relative to the file.
    """
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    path = Path(path) if path else (Path(environ[SETTINGS_ENV]) if environ.get(SETTINGS_ENV) else None)
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"{path}: settings file not found; create it (see hub.example.toml) or unset ${SETTINGS_ENV}") from None
        except tomllib.TOMLDecodeError as error:
            raise SettingsError(f"{path}: not valid TOML ({error}); fix the syntax at that position") from None
        for key in ("state_dir", "scenarios_dir"):
            if isinstance(raw.get(key), str) and raw[key]:
                raw[key] = (path.parent / raw[key]).resolve()
    for field in HubSettings.model_fields:
        value = environ.get(ENV_PREFIX + field.upper())
        if value is not None:
            raw[field] = _coerce_env_value(field, value)
    try:
        return HubSettings.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"'{'.'.join(str(p) for p in problem['loc']) or '(settings)'}': {problem['msg']}" for problem in error.errors()
        )
        where = f"{path}" if path else "hub settings"
        raise SettingsError(f"{where}: {problems} (fields are documented in hub.example.toml)") from None


@dataclass(frozen=True)
class Installation:
    """Facts about the machine the pure config translation needs (found by prepare_installation)."""

    isolated: bool
    proxy_command: str
    running_as_root: bool = False
    python: str = sys.executable
    runtime: Path = Path(sys.prefix)

    @property
    def bin_dir(self) -> Path:
        return Path(self.python).parent

    @property
    def server_bin_dir(self) -> Path:
        """Where candidates' servers find jupyterhub-singleuser: the candidate runtime when isolated."""
        return self.runtime / "bin" if self.isolated else self.bin_dir


def isolation_mode(settings: HubSettings, running_as_root: bool) -> bool:
    """True for isolated mode (system users per interview), False for trusted mode.

    Under root it is always isolated: trusted mode would run every candidate's code as root."""
    if settings.isolation == "isolated" and not running_as_root:
        raise SettingsError("isolation = 'isolated' needs the hub to run as root (it creates system users per interview); run as root or set isolation = 'trusted'")
    if settings.isolation == "trusted" and running_as_root:
        raise SettingsError(
            "isolation = 'trusted' under root would run every candidate's code as root; run the hub as an unprivileged "
            "user for a trusted demo, or leave isolation = 'auto' (isolated under root)"
        )
    return running_as_root


def find_proxy_command(settings: HubSettings) -> str:
    """configurable-http-proxy: the setting, else the project's node_modules, else PATH."""
    if settings.proxy_command:
        return settings.proxy_command
    bundled = REPO_ROOT / "node_modules" / ".bin" / "configurable-http-proxy"
    if bundled.exists():
        return str(bundled)
    found = shutil.which("configurable-http-proxy")
    if found:
        return found
    raise SettingsError("configurable-http-proxy not found: run `make setup` (it installs it under node_modules/) or set proxy_command")


ONE_ORIGIN_WARNING = (
    "one origin: candidates' servers share the hub's origin (subdomain_host is empty, or 'auto' off loopback). "
    "The live view stays safe, but an interviewer who joins a candidate's JupyterLab exposes their hub session to the "
    "candidate's scripts: set subdomain_host to the hub's URL, with a wildcard name for <user>.<host> (hub.example.toml)."
)
TRUSTED_MODE_WARNING = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!  mlinterview runs in TRUSTED mode: every candidate's code runs as the hub's Unix user.
!!  A candidate COULD READ the holdout seed, the scenarios' private parts (reference,
!!  probes), other candidates' workspaces and the recorded history under
!!  {private}
!!  Fine for a demo on your laptop; for real interviews run the hub as root (isolated mode).
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


def prepare_installation(settings: HubSettings, *, running_as_root: bool | None = None, log=None) -> Installation:
    """Create the state folders with their permissions and the holdout seed; decide isolation.

    Idempotent: a restart finds everything in place and changes nothing (the seed never changes).
    """
    running_as_root = (os.geteuid() == 0) if running_as_root is None else running_as_root
    isolated = decide_isolation(settings, running_as_root)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    settings.state_dir.chmod(0o711)
    settings.private_dir.mkdir(exist_ok=True)
    settings.private_dir.chmod(0o700)
    for folder in (settings.workspaces_dir, settings.homes_dir, settings.sockets_dir):
        folder.mkdir(exist_ok=True)
        folder.chmod(0o711)
    ensure_holdout_seed(settings.private_dir)
    runtime = runtime_of(settings)
    if isolated:
        from ..kernels.cgroups import CandidateCgroup
        from .hub_isolation import protect_scenario_private_parts

        for scenarios in candidate_hidden_paths(settings, runtime)[1:]:
            if Path(scenarios).is_dir():
                protect_scenario_private_parts(Path(scenarios), log=log)
        if log is not None:
            log.warning("isolated mode: a server user and a kernel user per interview; candidates' limits by %s", CandidateCgroup("probe").description)
    elif log is not None:
        log.warning(TRUSTED_MODE_WARNING.format(private=settings.private_dir))
    if log is not None:
        if settings.origins_url:
            log.info("origins: the hub at %s, each candidate's server at its own <user>.%s", settings.origins_url, settings.origins_url.split("//", 1)[-1])
        else:
            log.warning(ONE_ORIGIN_WARNING)
    return Installation(isolated=isolated, proxy_command=find_proxy_command(settings), running_as_root=running_as_root, runtime=runtime)


def runtime_of(settings: HubSettings) -> Path:
    from ..kernels.runtime import candidate_runtime

    return Path(settings.candidate_runtime) if settings.candidate_runtime else candidate_runtime()


def decide_isolation(settings: HubSettings, running_as_root: bool) -> bool:
    """Isolated or trusted; isolated never falls back: it refuses, saying what to fix."""
    isolated = isolation_mode(settings, running_as_root)
    if isolated:
        check_reachable_by_candidates(settings)
    return isolated


def check_reachable_by_candidates(settings: HubSettings) -> None:
    """Isolated mode: candidates' users must reach the candidate runtime and their workspaces."""
    from ..kernels.runtime import RuntimeUnreachable, check_runtime_reachable, folders_closed_to_others

    try:
        check_runtime_reachable(runtime_of(settings))
    except RuntimeUnreachable as error:
        raise SettingsError(f"isolated mode: {error}") from None
    closed = folders_closed_to_others(settings.state_dir.parent)
    if closed:
        raise SettingsError(
            f"isolated mode: candidates' system users cannot reach their workspaces under {settings.state_dir} because "
            f"{', '.join(map(str, closed))} is not searchable by other users (mode o+x); choose a state_dir under a "
            "folder everyone can traverse (e.g. /var/lib/mlinterview), or chmod o+x those folders"
        )


def candidate_hidden_paths(settings: HubSettings, runtime: Path) -> list[str]:
    """What a candidate's kernel must not see: the private store, and the scenario packs wherever
    they are installed (their private parts are readable by the hub's user only as well)."""
    paths = [str(settings.private_dir), str(scenarios_dir_of(settings))]
    shipped = runtime / "share" / "mlinterview" / "scenarios"
    if str(shipped) not in paths:
        paths.append(str(shipped))
    return paths


def ensure_holdout_seed(private_dir: Path) -> int:
    """The per-installation holdout seed: created once (random), then read back forever."""
    path = Path(private_dir) / HOLDOUT_SEED_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{secrets.randbelow(2**31 - 1) + 1}\n")
    return int(path.read_text().strip())


def scenarios_dir_of(settings: HubSettings) -> Path:
    from ..scenarios.pack import default_scenarios_dir

    return Path(settings.scenarios_dir) if settings.scenarios_dir else default_scenarios_dir()


def service_settings(settings: HubSettings, installation: Installation) -> dict[str, Any]:
    """What the interview service process needs to know, passed to it as JSON in its environment."""
    return {
        "store_url": settings.interview_store_url,
        "private_dir": str(settings.private_dir),
        "workspaces_dir": str(settings.workspaces_dir),
        "homes_dir": str(settings.homes_dir),
        "scenarios_dir": str(scenarios_dir_of(settings)),
        "public_url": settings.public_url,
        "port": settings.service_port,
        "isolated": installation.isolated,
        "sockets_dir": str(settings.sockets_dir),
        "invite_ttl_hours": settings.invite_ttl_hours,
        "take_home_start_window_days": settings.take_home_start_window_days,
        "take_home_deadline_hours": settings.take_home_deadline_hours,
        "take_home_sweep_seconds": settings.take_home_sweep_seconds,
        "gpu_available": bool(settings.gpus),
        # who may be invited onto an interview's panel, and who owns the hiring decision (service_panel.py)
        "interviewers": list(settings.interviewers),
        "hiring_managers": list(settings.hiring_managers),
        "hiring_rounds": {name: list(users) for name, users in settings.hiring_rounds.items()},
        "subdomain_host": settings.origins_url,
        "log_level": settings.log_level,
        "grade_command": settings.grade_command or [installation.python, "-m", "mlinterview.cli", "grade"],
        # a configured grade command is started per job; the shipped one is kept ready ahead of it
        "grade_ready_command": None if settings.grade_command else [installation.python, "-m", "mlinterview.cli", "grade-on-request"],
    }


def embedded_hub_config(log=None) -> Config:
    """Everything jupyterhub_config.py does: settings from file and environment, first-start
    preparation, translation. Also used by ``mlinterview hub`` where no checkout is around (a wheel)."""
    settings = load_settings()
    return hub_config(settings, prepare_installation(settings, log=log))


def hub_config(settings: HubSettings, installation: Installation) -> Config:
    """Translate settings into JupyterHub config. Pure: reads nothing, starts nothing."""
    from .hub_auth import CandidateDisplayName, authenticator_class_for, default_url_for_user
    from .hub_spawner import InterviewLocalProcessSpawner, InterviewSimpleLocalProcessSpawner
    from .service_store import CANDIDATE_PREFIX

    c = Config()
    private = settings.private_dir
    loopback = "127.0.0.1"

    # -- hub and proxy on loopback, state in the private store ---------------------------------
    c.JupyterHub.ip = settings.ip
    c.JupyterHub.port = settings.port
    c.JupyterHub.hub_ip = loopback
    c.JupyterHub.hub_port = settings.hub_port
    c.JupyterHub.db_url = f"sqlite:///{private / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(private / "jupyterhub_cookie_secret")
    c.JupyterHub.cleanup_servers = not settings.keep_servers_on_restart
    c.JupyterHub.default_url = default_url_for_user
    # the hub's pages: an interviewer's home is a link to the interview list, never "Start My Server";
    # a candidate's pages have no hub chrome and show their name (candidate_name: None for others)
    c.JupyterHub.template_paths = [str(HUB_TEMPLATES)]
    c.JupyterHub.template_vars = {
        "interview_list_url": f"/services/{SERVICE_NAME}/",
        "candidate_prefix": CANDIDATE_PREFIX,
        "candidate_name": CandidateDisplayName(settings.interview_store_url),
    }
    if settings.origins_url:
        # a script in a candidate's notebook then runs on <user>.<host>, never on the hub's or the service's origin
        c.JupyterHub.subdomain_host = settings.origins_url
    c.JupyterHub.allow_named_servers = False
    c.ConfigurableHTTPProxy.command = [installation.proxy_command]
    c.ConfigurableHTTPProxy.api_url = f"http://{loopback}:{settings.proxy_api_port}"
    c.ConfigurableHTTPProxy.pid_file = str(private / "proxy.pid")
    c.ConfigurableHTTPProxy.should_start = True
    c.JupyterHub.log_level = "WARN" if settings.log_level == "WARNING" else settings.log_level
    c.ConfigurableHTTPProxy.log_level = {"WARNING": "warn"}.get(settings.log_level, settings.log_level.lower())

    # -- who logs in: invite codes for candidates, the configured authenticator for interviewers -
    c.JupyterHub.authenticator_class = authenticator_class_for(settings.authenticator)
    c.Authenticator.allowed_users = set(settings.interviewers) | settings.every_hiring_manager
    c.Authenticator.admin_users = set(settings.admins)
    c.InviteCodeMixin.store_url = settings.interview_store_url
    if settings.authenticator == "shared-password":
        c.SharedPasswordAuthenticator.user_password = settings.interviewer_password
        if settings.admin_password:
            c.SharedPasswordAuthenticator.admin_password = settings.admin_password

    # -- the candidate's server: JupyterLab with real-time collaboration ------------------------
    c.JupyterHub.spawner_class = InterviewLocalProcessSpawner if installation.isolated else InterviewSimpleLocalProcessSpawner
    c.Spawner.cmd = [str(installation.server_bin_dir / "jupyterhub-singleuser")]
    c.Spawner.default_url = "/lab"
    c.Spawner.start_timeout = 120
    # a candidate's server imports JupyterLab and its extensions: on a loaded machine that takes a while
    c.Spawner.http_timeout = 120
    c.InterviewSpawnerMixin.store_url = settings.interview_store_url
    c.InterviewSpawnerMixin.scenarios_dir = str(scenarios_dir_of(settings))
    c.InterviewSpawnerMixin.workspaces_dir = str(settings.workspaces_dir)
    c.InterviewSpawnerMixin.homes_dir = str(settings.homes_dir)
    c.InterviewSpawnerMixin.history_url = f"http://{loopback}:{settings.service_port}/services/{SERVICE_NAME}/api/history"
    c.InterviewSpawnerMixin.gpu_ids = list(settings.gpus)
    c.InterviewSpawnerMixin.isolated = installation.isolated
    c.InterviewSpawnerMixin.sockets_dir = str(settings.sockets_dir)
    c.InterviewSpawnerMixin.history_secrets_dir = str(private / "history_secrets")
    if installation.isolated:
        c.InterviewLocalProcessSpawner.runtime = str(installation.runtime)
        c.InterviewLocalProcessSpawner.hidden_paths = candidate_hidden_paths(settings, installation.runtime)
        c.InterviewLocalProcessSpawner.candidate_memory_bytes = settings.candidate_memory_mb * 2**20
        c.InterviewLocalProcessSpawner.candidate_max_processes = settings.candidate_max_processes
        # the warden stops everything within seconds (CONFINEMENT.md, "End")
        c.LocalProcessSpawner.interrupt_timeout = 8
    c.SimpleLocalProcessSpawner.home_dir_template = str(settings.homes_dir / "{username}")
    # PATH keeps the venv's bin first so the kernel and jupyter find this installation
    c.Spawner.environment = {"PATH": f"{installation.server_bin_dir}:/usr/local/bin:/usr/bin:/bin"}

    # -- the interview service, managed by the hub ----------------------------------------------
    c.JupyterHub.services = [
        {
            "name": SERVICE_NAME,
            "display": True,
            "url": f"http://{loopback}:{settings.service_port}",
            "command": [installation.python, "-m", "mlinterview.extension.service_app"],
            "environment": {SERVICE_SETTINGS_ENV: json.dumps(service_settings(settings, installation))},
            "oauth_no_confirm": True,
        }
    ]
    c.JupyterHub.load_roles = [
        {
            "name": "mlinterview-service",
            "description": "The interview service: stop candidate servers, share them with interviewers, remove candidates.",
            "scopes": ["admin:users", "admin:servers", "access:servers", "shares", "read:users:name", "read:users:shares"],
            "services": [SERVICE_NAME],
        },
        {
            # every hub user holds this role; interviewers hold 'self' through theirs, so what is
            # left out here is left out for candidates only: they make no API tokens (their server's
            # own token is issued by the hub, with the server role's scopes). JupyterHub's 'self'
            # (jupyterhub.scopes._expand_self_scope) without 'tokens':
            "name": "user",
            "description": "A user's own resources except API tokens ('self' without 'tokens').",
            "scopes": [f"{scope}!user" for scope in ("read:users", "users:shares", "read:shares", "users:activity", "servers", "access:servers")],
        },
        {
            "name": "interviewer",
            "description": "Interviewers (and hiring managers) reach the interview service (which shows them the interviews they may see).",
            "scopes": ["self", f"access:services!service={SERVICE_NAME}"],
            "users": sorted(set(settings.interviewers) | set(settings.admins) | settings.every_hiring_manager),
        },
    ]
    return c
