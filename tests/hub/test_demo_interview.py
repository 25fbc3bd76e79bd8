"""`mlinterview hub --demo-interview`: the demo interview exists once, with a fresh working invite each
start; the links appear once the hub answers (and in a file); a second start on the same state is
refused without touching the first; Ctrl-C stops the hub cleanly."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from mlinterview.cli import CommandError
from mlinterview.extension.hub_cli import BANNER_FILE, DEMO_CANDIDATE, ensure_demo_interview
from mlinterview.extension.hub_settings import load_settings
from mlinterview.extension.service_store import InterviewStore, InviteRefused
from mlinterview.scenarios.pack import default_scenarios_dir


@pytest.fixture
def settings():
    # a state folder candidates' users could reach (isolated under root, as CI runs)
    root = Path(tempfile.mkdtemp(prefix="mlinterview-demo-"))
    root.chmod(0o711)
    yield load_settings(environ={"MLINTERVIEW_HUB_STATE_DIR": str(root / "state")})
    shutil.rmtree(root, ignore_errors=True)


def test_demo_interview_is_made_once_and_its_link_renewed(settings):
    first = ensure_demo_interview(settings, "churn")
    second = ensure_demo_interview(settings, "churn")
    assert first.startswith(f"{settings.public_url}/hub/invite/") and second != first
    store = InterviewStore(settings.interview_store_url)
    try:
        (interview,) = store.list()
        assert interview.candidate_name == DEMO_CANDIDATE and interview.scenario == "churn"
        assert interview.interviewer == settings.interviewers[0]
        # the earlier link was revoked when the new one was made; the new one logs the candidate in
        with pytest.raises(InviteRefused):
            store.consume_invite(first.rsplit("/", 1)[1])
        assert store.consume_invite(second.rsplit("/", 1)[1]).id == interview.id
    finally:
        store.close()


def test_demo_interview_of_an_unknown_scenario_is_a_clear_error(settings):
    with pytest.raises(CommandError, match="no scenario pack 'nope'"):
        ensure_demo_interview(settings, "nope")


def test_the_demo_hub_shows_its_links_once_it_answers_refuses_a_second_start_and_stops_on_ctrl_c(tmp_path):
    from hubtools import BIN, REPO_ROOT, RunningHub, wait_for

    planned = RunningHub(tmp_path, default_scenarios_dir())  # its settings file and free ports; started below
    env = dict(os.environ, PATH=os.pathsep.join([str(BIN), str(REPO_ROOT / "node_modules" / ".bin"), os.environ.get("PATH", "")]))
    command = [str(BIN / "mlinterview"), "hub", "--settings", str(planned.settings_file), "--demo-interview", "churn"]
    output = tmp_path / "demo.out"
    with open(output, "wb") as out:
        first = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    banner_file = planned.state / BANNER_FILE
    try:
        def banner_shown():
            assert first.poll() is None, f"the demo hub exited with {first.returncode}:\n{output.read_text()[-3000:]}"
            return banner_file.exists()

        wait_for(banner_shown, 180, f"the banner (output: {output})")
        invite = re.search(r"the candidate opens (\S+)", banner_file.read_text()).group(1)
        # the links are printed once they work: the interview list answers at once
        assert httpx.get(f"{planned.url}/services/interview/", follow_redirects=False, timeout=10).status_code in (200, 302)
        assert invite in output.read_text() and oct(banner_file.stat().st_mode & 0o777) == "0o600"
        proxy_pid = int((planned.state / "private" / "proxy.pid").read_text())

        second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        assert second.returncode == 2 and "already running" in second.stderr, (second.returncode, second.stdout, second.stderr)
        # nothing of the first hub was touched: its proxy runs, the invite still works, through the proxy
        # (it logs the candidate in and sends them on to their server, which is not followed here)
        os.kill(proxy_pid, 0)
        opened = httpx.get(planned.url + urlsplit(invite).path, follow_redirects=False, timeout=30)
        assert opened.status_code == 302 and "/spawn/" in opened.headers["Location"], (opened.status_code, opened.text[:300])
        store = InterviewStore(load_settings(environ={"MLINTERVIEW_HUB_SETTINGS": str(planned.settings_file)}).interview_store_url)
        try:
            assert store.for_candidate(opened.headers["Location"].rstrip("/").rsplit("/", 1)[1]).candidate_name == DEMO_CANDIDATE
        finally:
            store.close()

        first.send_signal(signal.SIGINT)  # Ctrl-C
        assert first.wait(90) == 0
        said = output.read_text()
        assert "stopped." in said and "Traceback" not in said and "KeyboardInterrupt" not in said, said[-2000:]
        with pytest.raises(ProcessLookupError):
            os.kill(proxy_pid, 0)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{planned.url}/hub/health", timeout=5)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
