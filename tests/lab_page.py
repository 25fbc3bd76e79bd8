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


def wait_for_the_end_page(lab, timeout_s: float = 90, confirm_again=None) -> list[str]:
    """Wait until the candidate's tab is on the hub's end page, reading every JupyterLab dialog shown
    meanwhile (returned, and named in the failure). ``confirm_again``: when the lab says the
    interview "could not be ended" (its server's 504 while the service is slow to confirm), do what
    that dialog asks, once: close it and call ``confirm_again()`` (the person ending it again)."""
    from playwright.sync_api import Error as PlaywrightError

    dialogs: list[str] = []
    retried = False
    deadline = time.monotonic() + timeout_s
    while "/hub/interview-over" not in lab.url and time.monotonic() < deadline:
        try:
            for text in lab.locator(".jp-Dialog").all_inner_texts():
                if text not in dialogs:
                    dialogs.append(text)
                if confirm_again is not None and not retried and "could not be ended" in text:
                    retried = True
                    lab.locator(".jp-Dialog button", has_text="OK").click(timeout=5_000)
                    confirm_again()
            lab.wait_for_timeout(250)
        except PlaywrightError:  # the page navigated away while being read: the loop checks where to
            pass
    assert "/hub/interview-over" in lab.url, f"the tab stayed on {lab.url}; dialogs shown meanwhile: {dialogs}"
    # the URL changes before the page has loaded: wait for its text
    lab.wait_for_function("() => document.body && /thank/i.test(document.body.innerText)", timeout=30_000)
    return dialogs
