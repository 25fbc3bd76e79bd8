"""The freeze at End keeps the candidate's files only: links, FIFOs, devices and hard links stay out, listed.

The freeze runs as root on a workspace the candidate owns (and may still be writing to); the
bundle it writes is the hub's alone and holds regular files only, so the grader never meets a link.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta

from mlinterview.extension.service_lifecycle import InterviewLifecycle
from mlinterview.extension.service_store import InterviewStore
from mlinterview.scenarios.pack import default_scenarios_dir


def test_freeze_leaves_out_what_is_not_a_regular_file(tmp_path):
    store = InterviewStore(f"sqlite:///{tmp_path / 'interviews.sqlite'}")
    settings = {
        "private_dir": str(tmp_path / "private"), "workspaces_dir": str(tmp_path / "workspaces"), "homes_dir": str(tmp_path / "homes"),
        "scenarios_dir": str(default_scenarios_dir()), "isolated": False, "grade_command": ["true"],
    }
    (tmp_path / "private").mkdir(mode=0o700)
    seed = tmp_path / "private" / "holdout_seed"
    seed.write_text("123456789\n")
    interview, _ = store.create_interview(scenario="churn", kernel="cpu", candidate_name="A", interviewer="alice", time_budget_minutes=60, invite_ttl=timedelta(hours=1))
    workspace = tmp_path / "workspaces" / interview.candidate_user
    (workspace / "churnlab").mkdir(parents=True)
    (workspace / "interview.ipynb").write_text("{}")
    (workspace / "churnlab" / "model.py").write_text("x = 1\n")
    os.chmod(workspace / "churnlab" / "model.py", 0o4777)
    (workspace / "churnlab" / "_s.txt").symlink_to(seed)
    (workspace / "churnlab" / "_g.py").symlink_to(default_scenarios_dir() / "churn" / "private" / "generator.py")
    (workspace / "outside").symlink_to(tmp_path / "private")
    os.mkfifo(workspace / "churnlab" / "pipe")
    os.link(seed, workspace / "hard-link")
    (workspace / "history.jsonl").write_text('{"forged": true}\n')  # the freeze writes its own

    bundle = InterviewLifecycle(store, None, settings).freeze(interview.id)

    meta = json.loads((bundle / "submission.json").read_text())
    left_out = {entry["path"]: entry["why"] for entry in meta["left_out"]}
    assert left_out == {
        "churnlab/_s.txt": f"a symlink to {seed}",
        "churnlab/_g.py": f"a symlink to {default_scenarios_dir() / 'churn' / 'private' / 'generator.py'}",
        "outside": f"a symlink to {tmp_path / 'private'}",
        "churnlab/pipe": "a FIFO",
        "hard-link": "a hard link (2 names; it may be a file outside)",
    }
    kinds = {str(path.relative_to(bundle)): os.lstat(path).st_mode for path in bundle.rglob("*")}
    assert all(stat.S_ISREG(mode) or stat.S_ISDIR(mode) for mode in kinds.values()), kinds
    assert set(kinds) == {"interview.ipynb", "churnlab", "churnlab/model.py", "history.jsonl", "submission.json"}
    assert stat.S_IMODE(kinds["churnlab/model.py"]) == 0o600 and stat.S_IMODE(os.stat(bundle).st_mode) == 0o700
    assert "forged" not in (bundle / "history.jsonl").read_text()
    assert "123456789" not in "".join(path.read_text() for path in bundle.rglob("*") if path.is_file())
    store.close()
