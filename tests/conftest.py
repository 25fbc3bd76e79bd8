"""Shared fixtures for the whole suite.

Fixtures:

- ``repo_root``: the checkout's top folder.
- ``scenarios_dir``: the folder of scenario packs shipped in this checkout.

Each area keeps its own fixtures in ``tests/<area>/conftest.py``.
"""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def scenarios_dir() -> Path:
    return REPO_ROOT / "scenarios"


LIVE_AREAS = ("hub", "extension", "kernels")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under ``pytest -n 2 --dist loadgroup`` (``make test``), the tests of live servers (real hubs,
    servers, kernels, whose floods and loads are measured against the machine) run one after
    another on one worker; the rest (graders, scenario packs, packaging) share both workers."""
    for item in items:
        area = Path(str(item.path)).relative_to(REPO_ROOT / "tests").parts[0]
        if area in LIVE_AREAS:
            item.add_marker(pytest.mark.xdist_group("live"))
