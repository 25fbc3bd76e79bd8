"""Isolated mode (the hub runs as root): a system user per candidate, private files out of reach.

The attacks run as the candidate would: code in their own kernel, through the proxy.
"""

from __future__ import annotations

import ast
import os
import pwd
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from hubtools import SERVICE, RunningHub, run_code, wait_for
from mlinterview.extension.hub_isolation import remove_system_user
from mlinterview.extension.hub_settings import folders_closed_to_others
from mlinterview.scenarios.pack import default_scenarios_dir

pytestmark = pytest.mark.slow

ATTEMPT = """
import pathlib
def attempt(path):
    try:
        target = pathlib.Path(path)
        if target.is_dir():
            list(target.iterdir())
        else:
            target.read_bytes()
        return "READ"
    except PermissionError:
        return "denied"
    except Exception as error:
        return type(error).__name__
"""


@contextmanager
def traversable(*paths: Path):
    """Let other users traverse (o+x, never read) the folders leading to ``paths``, for this test only.

    A Python installed under /root (pyenv) is out of a candidate user's reach; the hub refuses
    to start isolated then (check_reachable_by_candidates says how to fix it). The test opens
    the way for its own run and closes it again.
    """
    opened = []
    for path in paths:
        for folder in folders_closed_to_others(path):
            if folder not in opened:
                folder.chmod(folder.stat().st_mode | 0o001)
                opened.append(folder)
    try:
        yield
    finally:
        for folder in opened:
            folder.chmod(folder.stat().st_mode & ~0o001)


@pytest.fixture
def isolated_hub():
    if os.geteuid() != 0:
        pytest.fail("isolated mode creates system users: run this test as root (CI does; `sudo make test` elsewhere)")
    root = Path(tempfile.mkdtemp(prefix="mlinterview-isolated-"))
    root.chmod(0o711)  # candidates must traverse to their workspace
    hub = RunningHub(root, default_scenarios_dir(), isolation="isolated")
    with traversable(Path(sys.executable).resolve(), Path(sys.prefix), root):
        try:
            yield hub.start()
        finally:
            hub.stop()
            for entry in pwd.getpwall():  # candidates of this hub that a failed test left behind
                if entry.pw_name.startswith("cand-") and entry.pw_dir.startswith(str(root)):
                    remove_system_user(entry.pw_name)
            shutil.rmtree(root, ignore_errors=True)


def test_candidate_runs_as_own_user_and_cannot_read_private_files(isolated_hub, scenario_id):
    hub = isolated_hub
    alice = hub.token_for("alice")
    created = hub.create_interview(alice, "Isolated Candidate", scenario_id)
    interview_id, candidate = created["interview"]["id"], created["interview"]["candidate_user"]
    hub.candidate_opens(created["invite_url"], candidate)
    entry = pwd.getpwnam(candidate)
    assert entry.pw_uid != 0

    token = hub.token_for(candidate)
    private = hub.state / "private"
    targets = {
        "holdout seed": private / "holdout_seed",
        "interview store": private / "interviews.sqlite",
        "hub database": private / "jupyterhub.sqlite",
        "private store": private,
        "reference solution": default_scenarios_dir() / scenario_id / "private" / "reference",
        "holdout generator": default_scenarios_dir() / scenario_id / "private" / "generator.py",
        "other workspaces": hub.state / "workspaces",
    }
    probe = "{" + ", ".join(f"{name!r}: attempt({str(path)!r})" for name, path in targets.items()) + "}"
    kernel_id, reply = run_code(hub, candidate, token, ATTEMPT, expressions={"uid": "__import__('os').getuid()", "results": probe})
    assert reply["status"] == "ok", reply
    assert int(reply["user_expressions"]["uid"]["data"]["text/plain"]) == entry.pw_uid
    results = ast.literal_eval(reply["user_expressions"]["results"]["data"]["text/plain"])
    assert results == {name: "denied" for name in targets}, results
    workspace = hub.state / "workspaces" / candidate
    assert workspace.stat().st_uid == entry.pw_uid and (workspace / ".mlinterview" / "workspace.json").exists()

    # the end removes the system user and the live workspace; the frozen bundle stays private
    ended = httpx.post(f"{hub.url}{SERVICE}interviews/{interview_id}/end", headers={"Authorization": f"token {alice}"}, timeout=30, follow_redirects=False)
    assert ended.status_code == 302
    try:
        wait_for(lambda: hub.service_api(alice, "GET", f"interviews/{interview_id}").json()["state"] not in ("live", "ending"), 180, "the end")
    except AssertionError:
        raise AssertionError(f"{hub.service_api(alice, 'GET', f'interviews/{interview_id}').json()}\n{hub.log_tail(40)}") from None
    with pytest.raises(KeyError):
        pwd.getpwnam(candidate)
    assert not workspace.exists()
    bundle = private / "submissions" / interview_id
    assert (bundle / "history.jsonl").stat().st_uid == 0 and (bundle / "history.jsonl").stat().st_mode & 0o077 == 0
