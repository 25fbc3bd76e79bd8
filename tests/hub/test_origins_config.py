"""subdomain_host in the hub settings: candidate servers and the interview service on origins of their own."""

from __future__ import annotations

import json

from mlinterview.extension.hub_settings import SERVICE_SETTINGS_ENV, Installation, hub_config, load_settings

TRUSTED = Installation(isolated=False, proxy_command="/opt/chp", python="/venv/bin/python")


def service_settings_of(config) -> dict:
    return json.loads(config.JupyterHub.services[0]["environment"][SERVICE_SETTINGS_ENV])


def test_subdomain_host_gives_servers_origins_of_their_own(tmp_path):
    settings = load_settings(environ={"MLINTERVIEW_HUB_STATE_DIR": str(tmp_path), "MLINTERVIEW_HUB_SUBDOMAIN_HOST": "http://localhost:8000"})
    config = hub_config(settings, TRUSTED)
    assert config.JupyterHub.subdomain_host == "http://localhost:8000"
    # the service builds invite links and its hub links on the hub's origin from it
    assert service_settings_of(config)["subdomain_host"] == "http://localhost:8000"


def test_by_default_a_loopback_hub_gives_each_server_an_origin_on_localhost(tmp_path):
    settings = load_settings(environ={"MLINTERVIEW_HUB_STATE_DIR": str(tmp_path), "MLINTERVIEW_HUB_PORT": "8123"})
    config = hub_config(settings, TRUSTED)
    assert config.JupyterHub.subdomain_host == "http://localhost:8123"
    assert service_settings_of(config)["subdomain_host"] == "http://localhost:8123"
    # the demo's printed links (invite, login) are on the hub's origin, not on 127.0.0.1
    assert settings.public_url == "http://localhost:8123"


def test_auto_off_loopback_and_empty_share_one_origin(tmp_path):
    for environ in ({"MLINTERVIEW_HUB_IP": "0.0.0.0"}, {"MLINTERVIEW_HUB_SUBDOMAIN_HOST": ""}):
        settings = load_settings(environ={"MLINTERVIEW_HUB_STATE_DIR": str(tmp_path), **environ})
        config = hub_config(settings, TRUSTED)
        assert "subdomain_host" not in config.JupyterHub
        assert service_settings_of(config)["subdomain_host"] == ""
        assert settings.public_url == f"http://{settings.ip}:8000"
