"""``mlinterview hub``: start the embedded default hub (jupyterhub_config.py) on 127.0.0.1."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..cli import CommandError
from .hub_settings import REPO_ROOT, SERVICE_NAME, SETTINGS_ENV, SettingsError, decide_isolation, load_settings

CONFIG_FILE = REPO_ROOT / "jupyterhub_config.py"
LOCK_FILE = "hub.lock"  # in the state folder: held for as long as a hub runs on it
BANNER_FILE = "banner.txt"  # in the state folder: the last banner, links included
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def hub_command(config_file: Path) -> list[str]:
    jupyterhub = Path(sys.executable).parent / "jupyterhub"
    return [str(jupyterhub) if jupyterhub.exists() else (shutil.which("jupyterhub") or "jupyterhub"), "-f", str(config_file)]


def banner(settings, isolated: bool) -> str:
    lines = [
        "",
        f"  mlinterview hub: open {settings.public_url}/",
    ]
    if settings.authenticator == "shared-password":
        names = ", ".join(settings.interviewers) or "(none configured)"
        lines.append(f"  interviewer login: {names} / password '{settings.interviewer_password}'")
    lines += [
        f"  mode: {'isolated (each candidate confined: own users, namespaces and limits; see CONFINEMENT.md)' if isolated else 'TRUSTED (demo: candidates run as your user)'}",
        f"  state: {settings.state_dir}",
        "  stop with Ctrl-C",
        "",
    ]
    return "\n".join(lines)


DEMO_CANDIDATE = "Demo Candidate"


def ensure_demo_interview(settings, scenario: str) -> str:
    """An interview for the demo candidate (made once, run by the first interviewer) and a fresh
    invite link for it; an earlier demo interview that was already used is left as it is."""
    from datetime import timedelta

    from ..scenarios.pack import PackError, load_pack
    from .hub_settings import prepare_installation, scenarios_dir_of
    from .service_store import InterviewStore, State

    try:
        pack = load_pack(scenario, scenarios_dir_of(settings))
    except PackError as error:
        raise CommandError(f"--demo-interview: {error}") from None
    prepare_installation(settings)  # the private store that holds the interview database
    store = InterviewStore(settings.interview_store_url)
    ttl = timedelta(hours=settings.invite_ttl_hours)
    try:
        waiting = [i for i in store.list() if i.candidate_name == DEMO_CANDIDATE and i.state == State.invited.value]
        if waiting:
            code = store.reissue_invite(waiting[0].id, ttl)
        else:
            _, code = store.create_interview(
                scenario=pack.id,
                kernel=pack.manifest.kernel.default,
                candidate_name=DEMO_CANDIDATE,
                interviewer=(settings.interviewers or settings.admins or ["interviewer"])[0],
                time_budget_minutes=pack.manifest.time_budget_minutes,
                invite_ttl=ttl,
            )
    finally:
        store.close()
    return f"{settings.public_url}/hub/invite/{code}"


class HubAlreadyRunning(CommandError):
    """Another hub holds this state folder."""


def lock_state_dir(state_dir: Path) -> int:
    """Hold the state folder for this hub (an open descriptor with a lock; released when the
    process ends). A second hub on the same state would kill the first one's proxy (its pid file)
    and withdraw the interviewer's invite: it is refused before it touches anything."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise HubAlreadyRunning(
            f"a hub is already running on {state_dir} (process {holder}); stop it first, or give this one "
            f"other state (MLINTERVIEW_HUB_STATE_DIR or state_dir in the settings) and another port"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def answers(url: str) -> bool:
    """Whether ``url`` answers as a page that is there (a redirect to a login counts)."""
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(url, timeout=5) as response:
            return response.status < 400
    except urllib.error.HTTPError as error:
        return 300 <= error.code < 400
    except (urllib.error.URLError, OSError):
        return False


def wait_until_up(settings, hub: subprocess.Popen, timeout: float) -> bool:
    """True once the hub and the interview service answer on their own ports (so that the proxy
    logs no misses meanwhile), and then the interview list through the proxy; False if the hub
    exited or the time ran out."""
    deadline = time.monotonic() + timeout
    behind_the_proxy = [f"http://127.0.0.1:{settings.hub_port}/hub/health", f"http://127.0.0.1:{settings.service_port}/services/{SERVICE_NAME}/"]
    while time.monotonic() < deadline and hub.poll() is None:
        while behind_the_proxy and answers(behind_the_proxy[0]):
            behind_the_proxy.pop(0)
        if not behind_the_proxy and answers(f"{settings.public_url}/services/{SERVICE_NAME}/"):
            return True
        time.sleep(0.5)
    return False


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner reads (the banner holds the interviewers' password)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    with open(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def stop_requested(_signum, _frame):
    raise KeyboardInterrupt  # SIGTERM: stop the hub as Ctrl-C does


def run_embedded_hub(argv: list[str]) -> None:
    """The hub with the embedded default configuration, built in this process (an installed wheel
    has no jupyterhub_config.py to point ``jupyterhub -f`` at)."""
    from jupyterhub.app import JupyterHub
    from traitlets.log import get_logger

    from .hub_settings import embedded_hub_config

    JupyterHub.instance(config=embedded_hub_config(log=get_logger()))
    JupyterHub.launch_instance(argv=argv)  # runs the instance made above


def cmd_hub(args) -> int:
    env = dict(os.environ)
    if args.settings:
        env[SETTINGS_ENV] = str(Path(args.settings).resolve())
    if args.port:
        env["MLINTERVIEW_HUB_PORT"] = str(args.port)
    if args.log_level:
        env["MLINTERVIEW_HUB_LOG_LEVEL"] = args.log_level
    try:
        settings = load_settings(environ=env)
        isolated = decide_isolation(settings, os.geteuid() == 0)
    except SettingsError as error:
        raise CommandError(str(error)) from None
    lock = lock_state_dir(settings.state_dir)  # before anything is changed
    bin_dir = str(Path(sys.executable).parent)
    node_bin = str(REPO_ROOT / "node_modules" / ".bin")
    env["PATH"] = os.pathsep.join([bin_dir, node_bin, env.get("PATH", "")])
    text = banner(settings, isolated)
    if args.demo_interview:
        invite = ensure_demo_interview(settings, args.demo_interview)
        text += (f"  demo interview ({args.demo_interview}): the candidate opens {invite}\n"
                 "  (in another browser or a private window; the interviewer watches it from the interview list)\n")
    print(f"  starting the hub on {settings.public_url}/ (its log at {settings.log_level}; the links follow once it answers)", flush=True)
    if CONFIG_FILE.exists():  # a checkout: the embedded default, where operators can edit it
        command = hub_command(CONFIG_FILE)
    else:  # an installed wheel: the same configuration, built in the hub's process
        command = [sys.executable, "-m", "mlinterview.extension.hub_cli"]
    # the hub is this process's child, in its own process group: Ctrl-C here stops it once, cleanly
    # (it holds the state folder's lock too, for as long as it runs)
    hub = subprocess.Popen(command, cwd=settings.state_dir, env=env, start_new_session=True, pass_fds=(lock,))
    signal.signal(signal.SIGTERM, stop_requested)
    try:
        if wait_until_up(settings, hub, args.start_timeout):
            write_private(settings.state_dir / BANNER_FILE, text)
            print(text + f"  (this text is also in {settings.state_dir / BANNER_FILE})\n", flush=True)
        elif hub.poll() is None:
            print(f"mlinterview: the hub did not answer within {args.start_timeout:.0f} s; its log above says why", file=sys.stderr)
        code = hub.wait()
        if code:
            print(f"mlinterview: the hub exited with status {code}; its log above says why", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        kept = " (candidates' servers keep running for the next start: keep_servers_on_restart)" if settings.keep_servers_on_restart else ""
        print(f"\n  stopping the hub, its proxy and the interview service{kept}...", flush=True)
        hub.send_signal(signal.SIGTERM)
        try:
            hub.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(hub.pid, signal.SIGKILL)
            hub.wait()
        print("  stopped.", flush=True)
        return 0
    finally:
        if hub.poll() is None:
            hub.terminate()
        os.close(lock)


def add_subcommands(subparsers) -> None:
    hub = subparsers.add_parser(
        "hub",
        help="start the interview hub (JupyterHub + proxy + interview service) on 127.0.0.1",
        description="Start the embedded default hub from jupyterhub_config.py; settings from --settings or $MLINTERVIEW_HUB_SETTINGS (see hub.example.toml).",
    )
    hub.add_argument("--settings", type=Path, default=None, help="hub settings file (TOML; see hub.example.toml)")
    hub.add_argument("--port", type=int, default=None, help="public port (default 8000, or the settings file's)")
    hub.add_argument(
        "--demo-interview", metavar="SCENARIO", default=None,
        help="before starting, make sure a demo interview of SCENARIO exists and print its candidate invite link",
    )
    hub.add_argument(
        "--log-level", choices=LOG_LEVELS, default=None, type=str.upper,
        help="how much the hub, its proxy and the service log (default: the settings' log_level, WARNING: the links stay "
        "in view; INFO shows every request)",
    )
    hub.add_argument("--start-timeout", type=float, default=300, help="seconds to wait for the hub to answer before saying so (default 300)")
    hub.set_defaults(handler=cmd_hub)


if __name__ == "__main__":
    run_embedded_hub(sys.argv[1:])
