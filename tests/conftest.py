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
