"""Shared fixtures for the whole suite.

Fixtures:

- ``repo_root``: the checkout's top folder.
- ``scenarios_dir``: the folder of scenario packs shipped in this checkout.
- ``chromium``: Debian's Chromium, headless, driven by Playwright (one per module: Playwright's sync
  API holds the thread's event loop while it lives, which asyncio tests of other modules need).

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


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's Chromium is missing: run `make browser` (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


LIVE_AREAS = ("hub", "extension", "kernels")
# scheduling hint: the modules outside the live group that go first, in this order: the longest
# (full calibrations, batch gradings), so that they start while the live group runs; xdist hands
# every worker two units at the start, so the second in this list (the live worker's second unit)
# is a short one
RUN_FIRST = (
    "scenarios/test_calibration.py",
    "deploy/test_kubernetes_config.py",
    "scenarios/test_more_packs.py",
    "graders/test_churn_submissions.py",
    "graders/test_cli_and_batch.py",
    "graders/test_fixes_anywhere.py",
    "graders/test_replay_fidelity.py",
)

def module_of(item) -> str:
    return Path(str(item.path)).relative_to(REPO_ROOT / "tests").as_posix()


def pytest_xdist_make_scheduler(config, log):
    """Under ``make test`` (``pytest -n 2 --dist loadscope --no-loadscope-reorder``): the tests of live
    servers (real hubs, servers and kernels, whose floods and loads are measured against the
    machine) are one unit, run in turn on one worker; every other module is a unit of its own
    (its module fixtures set up once), on whichever worker is free."""
    from xdist.scheduler import LoadScopeScheduling

    class LiveTogetherScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "live" if Path(module).parts[1:2] and Path(module).parts[1] in LIVE_AREAS else module

    return LiveTogetherScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    """The live tests first, then the longest modules, so that they start while the live tests run."""

    def rank(module: str) -> int:
        if module.split("/")[0] in LIVE_AREAS:
            return 0
        return 1 + (RUN_FIRST.index(module) if module in RUN_FIRST else len(RUN_FIRST))

    items.sort(key=lambda item: rank(module_of(item)))  # stable: the order within a module is kept
