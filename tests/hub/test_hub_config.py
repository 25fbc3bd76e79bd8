"""Hub settings -> JupyterHub config: a pure translation, tested without starting anything."""

from __future__ import annotations

import json
import shutil
import stat
import sys
import tempfile
from pathlib import Path

import pytest

from mlinterview.extension.hub_auth import InterviewSharedPasswordAuthenticator, authenticator_class_for, default_url_for_user
from mlinterview.extension.hub_settings import (
    SERVICE_SETTINGS_ENV,
    Installation,
    SettingsError,
    ensure_holdout_seed,
    hub_config,
    isolation_mode,
    load_settings,
    prepare_installation,
)
from mlinterview.extension.hub_spawner import InterviewLocalProcessSpawner, InterviewSimpleLocalProcessSpawner

TRUSTED = Installation(isolated=False, proxy_command="/opt/chp", python="/venv/bin/python")
ISOLATED = Installation(isolated=True, proxy_command="/opt/chp", python="/venv/bin/python", running_as_root=True)


def settings_from(tmp_path: Path, text: str = "", environ: dict | None = None):
    path = tmp_path / "hub.toml"
    path.write_text(text)
    return load_settings(path, environ or {})


def test_defaults_listen_on_loopback_with_sqlite_in_the_private_store(tmp_path):
    settings = settings_from(tmp_path, 'state_dir = "state"\n')
    c = hub_config(settings, TRUSTED)
    assert settings.state_dir == (tmp_path / "state").resolve()
    assert c.JupyterHub.ip == "127.0.0.1" and c.JupyterHub.port == 8000
    assert c.JupyterHub.hub_ip == "127.0.0.1"
    assert c.JupyterHub.db_url == f"sqlite:///{settings.state_dir / 'private' / 'jupyterhub.sqlite'}"
    assert c.JupyterHub.cookie_secret_file.startswith(str(settings.state_dir / "private"))
    assert c.ConfigurableHTTPProxy.command == ["/opt/chp"]
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:8001"
    assert c.JupyterHub.cleanup_servers is False  # candidate servers outlive a hub restart
    assert c.JupyterHub.default_url is default_url_for_user


def test_trusted_and_isolated_modes_pick_their_spawner():
    settings = load_settings(None, {})
    assert hub_config(settings, TRUSTED).JupyterHub.spawner_class is InterviewSimpleLocalProcessSpawner
    isolated = hub_config(settings, ISOLATED)
    assert isolated.JupyterHub.spawner_class is InterviewLocalProcessSpawner
    assert isolated.InterviewSpawnerMixin.isolated is True
    assert "args" not in isolated.Spawner  # no --allow-root: candidates never run as root


def test_isolation_auto_follows_the_user_the_hub_runs_as():
    auto = load_settings(None, {})
    assert isolation_mode(auto, running_as_root=True) is True
    assert isolation_mode(auto, running_as_root=False) is False
    with pytest.raises(SettingsError, match="would run every candidate's code as root"):
        isolation_mode(load_settings(None, {"MLINTERVIEW_HUB_ISOLATION": "trusted"}), running_as_root=True)
    with pytest.raises(SettingsError, match="needs the hub to run as root"):
        isolation_mode(load_settings(None, {"MLINTERVIEW_HUB_ISOLATION": "isolated"}), running_as_root=False)


def test_service_is_hub_managed_with_its_settings_and_least_scopes(tmp_path):
    settings = settings_from(tmp_path, "service_port = 9999\ngpus = ['0', '1']\n")
    c = hub_config(settings, TRUSTED)
    (service,) = c.JupyterHub.services
    assert service["name"] == "interview" and service["url"] == "http://127.0.0.1:9999"
    assert service["command"][-1] == "mlinterview.extension.service_app"
    passed = json.loads(service["environment"][SERVICE_SETTINGS_ENV])
    assert passed["store_url"] == settings.interview_store_url and passed["gpu_available"] is True
    roles = {role["name"]: role for role in c.JupyterHub.load_roles}
    assert roles["mlinterview-service"]["services"] == ["interview"]
    assert "admin:users" in roles["mlinterview-service"]["scopes"] and "shares" in roles["mlinterview-service"]["scopes"]
    assert roles["interviewer"]["scopes"] == ["self", "access:services!service=interview"]
    assert c.InterviewSpawnerMixin.history_url == "http://127.0.0.1:9999/services/interview/api/history"
    assert c.InterviewSpawnerMixin.gpu_ids == ["0", "1"]
    # the shipped grader is kept ready ahead of its job; a configured one is started per job
    assert passed["grade_command"][-2:] == ["mlinterview.cli", "grade"]
    assert passed["grade_ready_command"] == ["/venv/bin/python", "-m", "mlinterview.cli", "grade-on-request"]
    configured = settings_from(tmp_path, "grade_command = ['/bin/my-grader']\n")
    passed = json.loads(hub_config(configured, TRUSTED).JupyterHub.services[0]["environment"][SERVICE_SETTINGS_ENV])
    assert passed["grade_command"] == ["/bin/my-grader"] and passed["grade_ready_command"] is None
    # the hub's own home page for interviewers is ours: a link to the interview list
    (templates,) = c.JupyterHub.template_paths
    assert (Path(templates) / "home.html").is_file() and c.JupyterHub.template_vars["interview_list_url"] == "/services/interview/"


def test_interviewers_admins_and_the_demo_password(tmp_path):
    long_password = "x" * 32
    settings = settings_from(tmp_path, f'interviewers = ["ana", "ben"]\nadmins = ["root-of-all"]\nadmin_password = "{long_password}"\n')
    c = hub_config(settings, TRUSTED)
    assert c.JupyterHub.authenticator_class is InterviewSharedPasswordAuthenticator
    assert c.Authenticator.allowed_users == {"ana", "ben"}
    assert c.Authenticator.admin_users == {"root-of-all"}
    assert c.SharedPasswordAuthenticator.user_password == "interview-demo"
    assert c.SharedPasswordAuthenticator.admin_password == long_password
    interviewer_role = next(r for r in c.JupyterHub.load_roles if r["name"] == "interviewer")
    assert interviewer_role["users"] == ["ana", "ben", "root-of-all"]


def test_environment_overrides_the_file(tmp_path):
    settings = settings_from(tmp_path, "port = 9000\n", {"MLINTERVIEW_HUB_PORT": "9100", "MLINTERVIEW_HUB_INTERVIEWERS": "x, y"})
    assert settings.port == 9100 and settings.interviewers == ["x", "y"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("prot = 8000\n", "'prot'"),
        ("port = 8001\n", "must differ"),
        ('interviewers = ["cand-1"]\n', "reserved for candidates"),
        ('interviewer_password = "short"\n', "at least 8"),
        ('admins = ["boss"]\n', "admin_password of at least 32"),
        ("port = [\n", "not valid TOML"),
    ],
)
def test_bad_settings_say_which_field_and_what_to_do(tmp_path, text, message):
    with pytest.raises(SettingsError, match=message):
        settings_from(tmp_path, text)


def test_any_authenticator_gets_invite_codes_in_front():
    from jupyterhub.auth import PAMAuthenticator

    built = authenticator_class_for("jupyterhub.auth.PAMAuthenticator")
    assert issubclass(built, PAMAuthenticator)
    assert [handler for handler in built().get_handlers(None) if "invite" in handler[0]]
    with pytest.raises(ValueError, match="not a JupyterHub Authenticator"):
        authenticator_class_for("pathlib.Path")


def test_first_start_creates_private_store_and_a_stable_holdout_seed(tmp_path):
    settings = settings_from(tmp_path, 'state_dir = "state"\nisolation = "trusted"\nproxy_command = "/bin/true"\n')
    installation = prepare_installation(settings, running_as_root=False)
    assert installation.isolated is False
    assert stat.S_IMODE(settings.private_dir.stat().st_mode) == 0o700
    seed_file = settings.private_dir / "holdout_seed"
    assert stat.S_IMODE(seed_file.stat().st_mode) == 0o600
    seed = ensure_holdout_seed(settings.private_dir)
    prepare_installation(settings, running_as_root=False)  # a restart
    assert ensure_holdout_seed(settings.private_dir) == seed > 0


def test_isolation_under_root_never_falls_back_it_refuses_saying_what_to_fix(tmp_path, monkeypatch):
    from mlinterview.extension import hub_settings
    from mlinterview.kernels import runtime

    closed = tmp_path / "closed"
    (closed / "bin").mkdir(parents=True)
    (closed / "bin" / "python").symlink_to(sys.executable)
    closed.chmod(0o700)
    monkeypatch.setenv(runtime.RUNTIME_ENV, str(closed))
    for isolation in ("auto", "isolated"):
        settings = settings_from(tmp_path, f'state_dir = "state"\nisolation = "{isolation}"\n')
        with pytest.raises(SettingsError, match="make runtime") as refused:
            hub_settings.decide_isolation(settings, running_as_root=True)
        assert "not searchable by other users" in str(refused.value)
    shared = Path(tempfile.mkdtemp(prefix="mlinterview-test-"))  # under /tmp, which everyone traverses
    try:
        shared.chmod(0o711)
        (shared / "runtime" / "bin").mkdir(parents=True)
        (shared / "runtime" / "bin" / "python").symlink_to("/usr/bin/python3")
        monkeypatch.setenv(runtime.RUNTIME_ENV, str(shared / "runtime"))
        assert hub_settings.decide_isolation(settings_from(shared, 'state_dir = "state"\n'), running_as_root=True) is True
    finally:
        shutil.rmtree(shared)
