"""``mlinterview hub``: start the embedded default hub (jupyterhub_config.py) on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ..cli import CommandError
from .hub_settings import REPO_ROOT, SETTINGS_ENV, SettingsError, decide_isolation, load_settings

CONFIG_FILE = REPO_ROOT / "jupyterhub_config.py"


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


def cmd_hub(args) -> int:
    env = dict(os.environ)
    if args.settings:
        env[SETTINGS_ENV] = str(Path(args.settings).resolve())
    if args.port:
        env["MLINTERVIEW_HUB_PORT"] = str(args.port)
    try:
        settings = load_settings(environ=env)
        isolated = decide_isolation(settings, os.geteuid() == 0)
    except SettingsError as error:
        raise CommandError(str(error)) from None
    bin_dir = str(Path(sys.executable).parent)
    node_bin = str(REPO_ROOT / "node_modules" / ".bin")
    env["PATH"] = os.pathsep.join([bin_dir, node_bin, env.get("PATH", "")])
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    print(banner(settings, isolated), flush=True)
    if args.demo_interview:
        invite = ensure_demo_interview(settings, args.demo_interview)
        print(f"  demo interview ({args.demo_interview}): the candidate opens {invite}\n"
              "  (in another browser or a private window; the interviewer watches it from the interview list)\n", flush=True)
    os.chdir(settings.state_dir)
    if CONFIG_FILE.exists():  # a checkout: the embedded default, where operators can edit it
        command = hub_command(CONFIG_FILE)
        os.execvpe(command[0], command, env)
    # an installed wheel: the same configuration, built in this process
    from jupyterhub.app import JupyterHub
    from traitlets.log import get_logger

    from .hub_settings import embedded_hub_config

    os.environ.update(env)
    JupyterHub.instance(config=embedded_hub_config(log=get_logger()))
    JupyterHub.launch_instance(argv=[])  # runs the instance made above
    return 0


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
    hub.set_defaults(handler=cmd_hub)
