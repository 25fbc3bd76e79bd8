"""What a person does in a slow JupyterLab page, for the browser tests of tests/hub and tests/extension."""

from __future__ import annotations

import time


def click_through_slow_loading(lab, locator, timeout_s: float = 120) -> None:
    """Click ``locator``; on a slow machine JupyterLab may ask first whether to keep waiting for the
    document ("The document is taking some time to load"): a person presses "Continue waiting"."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    keep_waiting = lab.locator("dialog.jp-Dialog .jp-Dialog-buttonLabel", has_text="Continue waiting")
    deadline = time.monotonic() + timeout_s
    while True:
        if keep_waiting.count():
            keep_waiting.first.click()
        try:
            locator.click(timeout=5_000)
            return
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise
