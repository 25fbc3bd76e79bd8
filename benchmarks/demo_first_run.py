"""The newcomer's first run: from ``make demo`` on a fresh clone to an invite link that works.

Clones this checkout (its committed HEAD) into a temporary folder, runs ``make demo`` there and
measures, from the start: when the banner (login and invite link) is written, and when the invite
link, opened in Chromium (Playwright; it resolves the candidates' ``*.localhost`` origins as any
browser does), lands in the candidate's JupyterLab with the interview's clock showing. Then it
stops the hub with SIGTERM (as Ctrl-C does) and stops what the demo left running.

Run it on a quiet machine: ``.venv/bin/python -P benchmarks/demo_first_run.py``. Under root the
demo (re)builds the candidate runtime in /opt/mlinterview/runtime, as a newcomer's would.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="mlinterview-demo-") as folder:
        # a clone where a newcomer's would be: in a folder others can traverse, so the demo keeps its
        # state in the checkout's var/ (under root, a closed folder sends it to /var/lib/mlinterview)
        os.chmod(folder, 0o755)
        clone = Path(folder) / "mlinterview"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        log_path = Path(folder) / "make-demo.log"
        started = time.monotonic()
        with open(log_path, "wb") as log:
            # its own session, SIGINT left at its default: the hub stops on a signal as from a terminal
            demo = subprocess.Popen(["make", "demo"], cwd=clone, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        banner = clone / "var" / "banner.txt"
        try:
            while not banner.exists():
                said = re.search(r"this text is also in (\S+banner\.txt)", log_path.read_text(errors="replace"))
                if said:  # where the demo says it wrote it
                    banner = Path(said.group(1))
                if demo.poll() is not None or time.monotonic() - started > args.timeout:
                    print(log_path.read_text(errors="replace")[-3000:])
                    print("make demo ended or timed out before the banner", file=sys.stderr)
                    return 1
                time.sleep(0.5)
            at_banner = time.monotonic() - started
            invite = re.search(r"(https?://\S+/hub/invite/\S+)", banner.read_text()).group(1)
            print(f"banner (login and invite link) written {at_banner:.0f} s after `make demo` started")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
                page = browser.new_page()
                opened = time.monotonic()
                page.goto(invite)
                page.wait_for_selector(".mli-clock", timeout=300_000)
                at_lab = time.monotonic() - started
                print(f"the invite link opened the candidate's JupyterLab, clock showing ({page.inner_text('.mli-clock')}), "
                      f"{at_lab:.0f} s after the start ({time.monotonic() - opened:.1f} s after opening the link)")
                browser.close()
        finally:
            proxy_pid = read_pid(clone / "var" / "private" / "proxy.pid")
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGTERM)
                try:
                    demo.wait(90)
                except subprocess.TimeoutExpired:
                    os.killpg(demo.pid, signal.SIGKILL)
            # make exits at once; the hub stops its proxy on its way out: wait for that before the
            # clone (where the proxy's pid file lives) is removed, and say so if it did not happen
            if proxy_pid is not None and not gone(proxy_pid, 60):
                print(f"the proxy (pid {proxy_pid}) outlived the demo's stop by 60 s: killed")
                os.kill(proxy_pid, signal.SIGKILL)
            # the candidate's server outlives a hub stop by design (keep_servers_on_restart): end it too
            subprocess.run(["pkill", "-TERM", "-f", f"mlinterview.kernels.warden .*{clone}"], check=False)
    return 0


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.5)
    return False


if __name__ == "__main__":
    sys.exit(main())
