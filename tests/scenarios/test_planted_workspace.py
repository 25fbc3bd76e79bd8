"""The hub, as root, materializing and handing over a workspace the candidate already owns.

A restarted server materializes again into the candidate's folder and hands it over again;
whatever the candidate planted there (a link for the settings, a folder swapped for a link, a
hard link to a root file) is never followed: root files keep their owner and their content.
"""

from __future__ import annotations

import os
import pwd

import pytest

from mlinterview import safe_files
from mlinterview.scenarios import WorkspaceError, materialize, read_workspace_settings
from mlinterview.scenarios.materialize import WORKSPACE_MANIFEST

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="the attacks target a hub running as root")
NOBODY = pwd.getpwnam("nobody")


@pytest.fixture
def canary(tmp_path):
    path = tmp_path / "root-only"
    path.write_text("root's own\n")
    path.chmod(0o600)
    return path


def test_settings_planted_as_a_link_or_fifo_are_not_read(churn_pack, tmp_path, canary):
    workspace = materialize(churn_pack, tmp_path / "ws", 7)
    settings = workspace / WORKSPACE_MANIFEST
    settings.unlink()
    settings.symlink_to(canary)
    assert read_workspace_settings(workspace) is None
    with pytest.raises(WorkspaceError, match="not empty"):
        materialize(churn_pack, workspace, 7)
    settings.unlink()
    os.mkfifo(settings)
    assert read_workspace_settings(workspace) is None  # returns at once: a FIFO never blocks the hub
    assert canary.read_text() == "root's own\n"


def test_overwrite_replaces_planted_links_instead_of_writing_through_them(churn_pack, tmp_path, canary):
    workspace = materialize(churn_pack, tmp_path / "ws", 7)
    (workspace / "BRIEF.md").unlink()
    (workspace / "BRIEF.md").symlink_to(canary)
    (workspace / WORKSPACE_MANIFEST).unlink()
    (workspace / WORKSPACE_MANIFEST).symlink_to(canary)
    materialize(churn_pack, workspace, 7, overwrite=True)
    assert canary.read_text() == "root's own\n"
    assert not (workspace / "BRIEF.md").is_symlink() and (workspace / "BRIEF.md").read_text().strip()
    assert read_workspace_settings(workspace)["scenario"] == churn_pack.id


def test_a_folder_swapped_for_a_link_is_refused(churn_pack, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "data").symlink_to(elsewhere)  # the data folder, planted as a link before materializing
    with pytest.raises(safe_files.UnsafeFileError, match="data is a symlink"):
        materialize(churn_pack, workspace, 7, overwrite=True)
    assert list(elsewhere.iterdir()) == []


@root_only
def test_handing_over_never_follows_links_nor_hard_links(churn_pack, tmp_path, canary):
    workspace = materialize(churn_pack, tmp_path / "ws", 7)
    (workspace / "link-to-root-file").symlink_to(canary)
    (workspace / "folder-link").symlink_to(tmp_path)
    os.link(canary, workspace / "hard-link")
    left_out = safe_files.chown_tree(workspace, NOBODY.pw_uid, NOBODY.pw_gid, folder_mode=0o700)
    status = canary.stat()
    assert (status.st_uid, status.st_gid) == (0, 0) and tmp_path.stat().st_uid == 0
    assert [entry.path for entry in left_out] == ["hard-link"]
    assert (workspace / "churnlab" / "model.py").stat().st_uid == NOBODY.pw_uid
    assert os.lstat(workspace / "link-to-root-file").st_uid == NOBODY.pw_uid  # the link itself, not its target
    assert workspace.stat().st_mode & 0o777 == 0o700


@root_only
def test_materialize_hands_each_file_to_its_owner(churn_pack, tmp_path):
    workspace = materialize(churn_pack, tmp_path / "ws", 7, owner=(NOBODY.pw_uid, NOBODY.pw_gid))
    owners = {path.stat().st_uid for path in workspace.rglob("*")}
    assert owners == {NOBODY.pw_uid}
