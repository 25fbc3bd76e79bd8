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
# The live tests run in two lanes, each in turn on one worker: the first holds the tests that
# measure the machine under their own load (floods, ten candidates at once, restarts), so that
# they never overlap each other; every other live module is in the second. The two are about
# equal in length (about 12 minutes each on two cores).
MEASURED_LANE = (
    "hub/test_confinement.py",
    "hub/test_load.py",
    "hub/test_restart.py",
    "hub/test_browser_attack.py",
    "hub/test_browser_e2e.py",
    "hub/test_candidate_pages.py",
    "hub/test_hiring_panel.py",
    "hub/test_gpu_pool.py",
    "hub/test_hub_config.py",
    "hub/test_origins_config.py",
    "hub/test_server_ports.py",
    "hub/test_freeze_planted.py",
    "hub/test_lifecycle_resume.py",
    "kernels/",
)
# scheduling hint: the modules outside the live lanes that go first, in this order, before the
# second lane: the longest gradings, which the second worker runs while the first runs the
# measured lane; then the second lane; then everything else, on whichever worker is free
RUN_FIRST = (
    "scenarios/test_more_packs.py",
    "graders/test_cli_and_batch.py",
    "graders/test_churn_submissions.py",
    "graders/test_fixes_anywhere.py",
)


def module_of(item) -> str:
    return Path(str(item.path)).relative_to(REPO_ROOT / "tests").as_posix()


def lane_of(module: str) -> str | None:
    """The live lane of a module (``tests/``-relative path), None outside the live areas."""
    if module.split("/")[0] not in LIVE_AREAS:
        return None
    return "live-measured" if any(module == entry or (entry.endswith("/") and module.startswith(entry)) for entry in MEASURED_LANE) else "live"


def pytest_xdist_make_scheduler(config, log):
    """Under ``make test`` (``pytest -n 2 --dist loadscope --no-loadscope-reorder``): the tests of live
    servers (real hubs, servers and kernels) are two units, the lanes above, each run in turn on
    one worker; every other module is a unit of its own (its module fixtures set up once), on
    whichever worker is free. (A third worker on two cores made the CPU-bound gradings and the
    live servers slow each other past their timeouts.)"""
    from xdist.scheduler import LoadScopeScheduling

    class LiveLanesScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return lane_of(Path(module).relative_to("tests").as_posix() if module.startswith("tests/") else module) or module

    return LiveLanesScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    """The measured lane first (the first worker's), then the longest gradings and the second lane
    (the second worker's), then the rest."""

    def rank(module: str) -> int:
        lane = lane_of(module)
        if lane == "live-measured":
            return 0
        if module in RUN_FIRST:
            return 1 + RUN_FIRST.index(module)
        return 1 + len(RUN_FIRST) + (0 if lane == "live" else 1)

    items.sort(key=lambda item: rank(module_of(item)))  # stable: the order within a module is kept
