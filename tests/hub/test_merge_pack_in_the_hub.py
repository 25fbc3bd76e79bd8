"""The merge pack on the real hub: the candidate's workspace is a git repository stopped mid-merge,
and they finish the merge with ``!git`` in cells of their confined kernel (terminals are off), as
the pack's brief asks. git runs there as the candidate's system user, with no home config of its
own; every ``!git`` cell is an execution in the interview's record like any other.
"""

from __future__ import annotations

import pytest

from hubtools import run_code, wait_for

pytestmark = pytest.mark.slow


def test_the_candidate_resolves_the_merge_with_git_in_cells(hub):
    token = hub.token_for("alice")
    made = hub.create_interview(token, "Mira Merge", "merge")
    interview_id, candidate = made["interview"]["id"], made["interview"]["candidate_user"]
    hub.candidate_opens(made["invite_url"], candidate)
    candidate_token = hub.token_for(candidate)

    def shell(command: str, kernel_id: str | None = None) -> tuple[str, str]:
        kernel_id, reply = run_code(hub, candidate, candidate_token, f"!{command}", kernel_id=kernel_id)
        assert reply["status"] == "ok", reply
        return kernel_id, reply["stdout"]

    kernel_id, status = shell("git status")
    assert "You have unmerged paths" in status and "courier/preprocessing.py" in status, status
    # keep the feature branch's side (a real resolution keeps both; here only git itself is tried)
    _, resolved = shell("git checkout --theirs courier/preprocessing.py && git add -A && git commit -q -m 'Merge the feature' "
                        "&& git status --short --branch && git log -1 --format='%an|%s'", kernel_id)
    assert "Merge the feature" in resolved and "<<<<<<<" not in resolved, resolved
    _, markers = shell("grep -c '<<<<<<<' courier/preprocessing.py || true", kernel_id)
    assert markers.strip() == "0", markers
    _, parents = shell("git log -1 --format=%P", kernel_id)
    assert len(parents.split()) == 2, parents  # a merge commit: both branches are its parents

    def recorded():
        events = hub.service_api(token, "GET", f"interviews/{interview_id}/events?after=-1").json()["events"]
        codes = [e.get("code") or "" for e in events if e["kind"] == "execute_request"]
        return codes if any("git commit" in code for code in codes) else None

    codes = wait_for(recorded, 60, "the git cells in the interview's record")
    assert any(code.startswith("!git status") for code in codes), codes
