"""A pack's scaffold as a git repository (scenarios/git_scaffold.py), and the merge pack's workspace.

The repository is built from the pack's files at materialize time: the same pack gives the same
commit ids (pinned here) and the same bytes; its working tree is the pack's shipped scaffold; the
workspace is left in the middle of the merge, and a candidate can resolve and commit it with git
in cells (no home, no system config); taking one side wholesale loses the other side's change,
which the probes see.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlinterview.scenarios import load_pack, materialize
from mlinterview.scenarios.fixes import apply_edits, load_fixes
from mlinterview.scenarios.git_scaffold import GitScaffoldError, build_repository, commit_ids, load_history, normalize_index

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git (make setup installs it)")

# Commit ids depend on the snapshots, messages, names and dates only: the same on every machine and git.
COMMITS = {
    "main": "d2d64d4d29fcbd0e697a5e7b3d187efcf80aa192",
    "fix/weight-units": "d2d64d4d29fcbd0e697a5e7b3d187efcf80aa192",
    "feature/required-speed": "ccd404013ec783c6c8d94105622d19f2a440d354",
    "MERGE_HEAD": "ccd404013ec783c6c8d94105622d19f2a440d354",
}
# what the kernel's sandbox gives git: no home config, no system config
CANDIDATE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}


@pytest.fixture(scope="module")
def pack(scenarios_dir):
    return load_pack("merge", scenarios_dir)


def git(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["git", "-C", str(folder), *args], env=CANDIDATE_ENV, capture_output=True, text=True, timeout=60)
    assert not check or result.returncode == 0, result.stderr
    return result


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def _probe(pack, scaffold: Path, probe: str) -> bool:
    """One probe on ``scaffold``, in a fresh interpreter (the scaffold's parent on sys.path)."""
    code = (
        "import importlib.util, sys, pathlib\n"
        f"sys.path.insert(0, {str(scaffold.parent)!r})\n"
        f"spec = importlib.util.spec_from_file_location('probes', {str(pack.private_dir / 'probes.py')!r})\n"
        "probes = importlib.util.module_from_spec(spec); spec.loader.exec_module(probes)\n"
        f"ok, why = probes.{probe}(pathlib.Path({str(scaffold)!r}))\n"
        "print('FIXED' if ok else 'NOT', why)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=scaffold.parent)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout.startswith("FIXED")


def _resolved_workspace(pack, folder: Path) -> Path:
    """A fresh workspace with every planted bug fixed in its files (the merge resolved, not yet committed)."""
    workspace = materialize(pack, folder)
    fixes = load_fixes(pack)
    for bug in pack.manifest.bugs:
        apply_edits(workspace / pack.scaffold_name, fixes[bug.id])
    return workspace


def test_same_pack_same_commits_and_bytes(pack, tmp_path):
    first, again = build_repository(pack, tmp_path / "first"), build_repository(pack, tmp_path / "again")
    assert commit_ids(first) == commit_ids(again) == COMMITS
    assert _digests(first) == _digests(again)


def test_working_tree_is_the_shipped_scaffold(pack, tmp_path):
    """What git leaves after the last step is, byte for byte, the candidate part the pack ships."""
    repo = build_repository(pack, tmp_path / "repo")
    built = {name: digest for name, digest in _digests(repo).items() if not name.startswith(".git/")}
    shipped = {f"{pack.scaffold_name}/{name}": digest for name, digest in _digests(pack.scaffold_dir).items() if "__pycache__" not in name}
    assert built == shipped


def test_workspace_is_in_the_middle_of_the_merge(pack, tmp_path):
    workspace = materialize(pack, tmp_path / "workspace")
    other = materialize(pack, tmp_path / "other", pack.manifest.constraints.seed + 1)
    git_files = lambda folder: {k: v for k, v in _digests(folder).items() if k.startswith(".git/")}  # noqa: E731
    assert git_files(workspace) == git_files(other), "the repository does not depend on the data seed"
    # the index is written without stat data: same bytes wherever and whenever it was built
    index = (workspace / ".git" / "index").read_bytes()
    assert index[:4] == b"DIRC" and index[12:36] == bytes(24)
    status = git(workspace, "status", "--porcelain").stdout.splitlines()
    assert "UU courier/preprocessing.py" in status
    assert "D  courier/features.py" in status
    assert not [line for line in status if line.startswith("??")], "the notebook, brief and data stay untracked and quiet"
    assert (workspace / ".git" / "MERGE_HEAD").read_text().strip() == COMMITS["MERGE_HEAD"]
    assert git(workspace, "rev-parse", "HEAD").stdout.strip() == COMMITS["main"]
    log = git(workspace, "log", "--format=%an <%ae> %aI %s", "--all").stdout
    assert "Priya Natarajan <priya.natarajan@courier.example> 2026-10-08T16:40:00+00:00 Fix the weights" in log


def test_candidate_resolves_and_commits_without_a_home_config(pack, tmp_path):
    workspace = _resolved_workspace(pack, tmp_path / "workspace")
    git(workspace, "add", "courier")
    git(workspace, "commit", "-q", "-m", "Merge branch 'feature/required-speed'")
    assert git(workspace, "status", "--porcelain").stdout == ""
    assert git(workspace, "log", "-1", "--format=%an <%ae> %P").stdout.split()[:2] == ["Candidate", "<candidate@interview.invalid>"]
    parents = git(workspace, "log", "-1", "--format=%P").stdout.split()
    assert parents == [COMMITS["main"], COMMITS["MERGE_HEAD"]], "a merge commit of both branches"
    assert not (workspace / ".git" / "MERGE_HEAD").exists()
    for bug in pack.manifest.bugs:
        assert _probe(pack, workspace / pack.scaffold_name, bug.probe), bug.id


@pytest.mark.parametrize("side, kept, lost", [
    ("--theirs", "probe_speed_feature_lost_in_merge", "probe_weight_fix_lost_in_merge"),
    ("--ours", "probe_weight_fix_lost_in_merge", "probe_speed_feature_lost_in_merge"),
])
def test_one_side_wholesale_loses_the_other(pack, tmp_path, side, kept, lost):
    """git checkout --theirs/--ours resolves the conflict and imports, and drops one branch's change."""
    workspace = materialize(pack, tmp_path / "workspace")
    git(workspace, "checkout", side, "courier/preprocessing.py")
    scaffold = workspace / pack.scaffold_name
    assert "<<<<<<<" not in (scaffold / "preprocessing.py").read_text()
    assert _probe(pack, scaffold, "probe_merge_conflict")
    assert _probe(pack, scaffold, kept) and not _probe(pack, scaffold, lost)


def test_history_mistakes_are_named(pack, tmp_path, monkeypatch):
    copy = tmp_path / "merge"
    shutil.copytree(pack.folder, copy)
    history = copy / pack.manifest.git.history
    text = history.read_text()
    history.write_text(text.replace("conflict = true\n", ""))
    with pytest.raises(GitScaffoldError, match="failed"):
        build_repository(load_pack("merge", tmp_path), tmp_path / "no-conflict-expected")
    history.write_text(text.replace('commit = "fix"', 'commit = "no-such-snapshot"'))
    with pytest.raises(GitScaffoldError, match="not a folder"):
        load_history(load_pack("merge", tmp_path))
    history.write_text(text.replace('delete = ["courier/features.py"]', 'delete = ["courier/nope.py"]'))
    with pytest.raises(GitScaffoldError, match="not a tracked file"):
        build_repository(load_pack("merge", tmp_path), tmp_path / "bad-delete")
    history.write_text(text)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GitScaffoldError, match="git is not installed"):
        build_repository(load_pack("merge", tmp_path), tmp_path / "no-git")


def test_normalized_index_is_read_by_git(pack, tmp_path):
    repo = build_repository(pack, tmp_path / "repo")
    before = git(repo, "ls-files", "--stage").stdout
    normalize_index(repo / ".git" / "index")  # idempotent
    assert git(repo, "ls-files", "--stage").stdout == before
    assert "courier/preprocessing.py" in git(repo, "diff", "--name-only", "--diff-filter=U").stdout
    os.utime(repo / "courier" / "model.py", (0, 0))
    assert "model.py" not in git(repo, "status", "--porcelain").stdout, "a stat mismatch is re-read, not a change"


def test_a_frozen_workspace_replays_on_a_fresh_one(pack, tmp_path):
    """The grader materializes a fresh workspace (the repository mid-merge) and copies the frozen
    submission on top, .git included: the candidate's git cells replay without touching the files."""
    from mlinterview import safe_files

    live = _resolved_workspace(pack, tmp_path / "live")
    git(live, "add", "courier")
    git(live, "commit", "-q", "-m", "Merge branch 'feature/required-speed'")
    frozen = _digests(live / pack.scaffold_name)
    replay = materialize(pack, tmp_path / "replay")
    safe_files.copy_tree(live, replay, skip_top={"data", ".mlinterview"})
    # the cells as the candidate ran them: the side taken, then their own edit, add, commit
    git(replay, "checkout", "--theirs", "courier/preprocessing.py", check=False)  # no unmerged entry left: the index's, resolved
    git(replay, "add", "courier")
    git(replay, "commit", "-q", "-m", "Merge branch 'feature/required-speed'", check=False)
    assert _digests(replay / pack.scaffold_name) == frozen
    assert git(replay, "status", "--porcelain").stdout == ""


def test_git_runs_in_the_candidate_kernel(pack, candidate_kernel_name, tmp_path):
    """The candidate's kernel (its PATH, HOME and config as the kernelspec gives them) runs !git in a
    cell: status, then a commit with the repository's own identity."""
    from jupyter_client.manager import KernelManager

    workspace = _resolved_workspace(pack, tmp_path / "workspace")
    cell = (
        "!git status --porcelain\n"
        "!git add courier && git commit -q -m 'Merge branch feature/required-speed' && echo COMMITTED\n"
        "!git log -1 --format='%an %P'\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(HOME=str(tmp_path / "no-home"), GIT_CONFIG_NOSYSTEM="1", PYTHONDONTWRITEBYTECODE="1")
    manager = KernelManager(kernel_name=candidate_kernel_name)
    manager.start_kernel(cwd=str(workspace), env=env)
    try:
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=120)
        outputs = []
        reply = client.execute_interactive(cell, timeout=120, output_hook=outputs.append)
        client.stop_channels()
    finally:
        manager.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok", reply["content"]
    text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    assert "UU courier/preprocessing.py" in text and "COMMITTED" in text, text
    assert f"Candidate {COMMITS['main']} {COMMITS['MERGE_HEAD']}" in text, text
