"""Fixtures for the hub tests: a real JupyterHub, its real proxy and the interview service.

Fixtures:

- ``scenario_id``: the scenario pack the hub tests interview on (``churn`` when it is shipped,
  else the first pack found).
- ``make_hub``: factory ``make_hub(isolation="auto", gpus=[], settings={})`` -> a started ``RunningHub``
  (``hubtools.py``) in its own folder on free loopback ports; stopped (servers first) at teardown.
  ``settings``: more hub.toml fields, values as TOML literals (``{"hiring_managers": '["hm"]'}``).
  ``auto`` is isolated under root (as CI runs), trusted for an ordinary user.
- ``hub``: one started hub shared by a test module.
"""

from __future__ import annotations

import pytest

from mlinterview.scenarios.pack import default_scenarios_dir, list_packs

from hubtools import RunningHub


@pytest.fixture(scope="session")
def scenario_id() -> str:
    packs = list_packs(default_scenarios_dir())
    assert packs, "no scenario pack shipped: the hub tests need one"
    return "churn" if "churn" in packs else packs[0]


@pytest.fixture(scope="module")
def make_hub(tmp_path_factory):
    started: list[RunningHub] = []

    def make(isolation: str = "auto", gpus: list[str] | None = None, settings: dict[str, str] | None = None) -> RunningHub:
        hub = RunningHub(tmp_path_factory.mktemp("hub"), default_scenarios_dir(), isolation=isolation, gpus=gpus or [],
                         extra_settings=dict(settings or {}))
        started.append(hub)
        return hub.start()

    yield make
    for hub in started:
        hub.stop()


@pytest.fixture(scope="module")
def hub(make_hub) -> RunningHub:
    return make_hub()
