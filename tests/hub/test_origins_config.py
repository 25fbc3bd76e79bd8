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


def test_without_it_everything_shares_one_origin(tmp_path):
    config = hub_config(load_settings(environ={"MLINTERVIEW_HUB_STATE_DIR": str(tmp_path)}), TRUSTED)
    assert "subdomain_host" not in config.JupyterHub
    assert service_settings_of(config)["subdomain_host"] == ""
