"""`mlinterview hub --demo-interview`: the demo interview exists once, with a fresh working invite each start."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from mlinterview.cli import CommandError
from mlinterview.extension.hub_cli import DEMO_CANDIDATE, ensure_demo_interview
from mlinterview.extension.hub_settings import load_settings
from mlinterview.extension.service_store import InterviewStore, InviteRefused


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
