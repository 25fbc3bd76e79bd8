"""Materializing a workspace: deterministic from the seed, candidate part only, never the holdout."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from mlinterview.scenarios import WorkspaceError, materialize, read_workspace_settings
from mlinterview.scenarios.calibration import CALIBRATION_HOLDOUT_SEED_OFFSET

# Stand-ins for an installation's secret holdout seed, and the calibration's own holdout seeds.
SECRET_HOLDOUT_SEEDS = (918_273_645, 2024 + CALIBRATION_HOLDOUT_SEED_OFFSET)
PRIVATE_NAMES = ("generator.py", "probes.py", "fixes.toml", "reference", "INTERVIEWER.md", "calibration.json", "scenario.toml")


def _digests(workspace):
    return {
        str(path.relative_to(workspace)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(workspace.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def workspaces(churn_pack, tmp_path_factory):
    root = tmp_path_factory.mktemp("workspaces")
    return {
        name: materialize(churn_pack, root / name, seed)
        for name, seed in (("first", 7), ("again", 7), ("other", 8), ("default", None))
    }


def test_same_seed_same_bytes(workspaces):
    first, again = _digests(workspaces["first"]), _digests(workspaces["again"])
    assert first == again
    assert "data/train.csv" in first and "interview.ipynb" in first and "churnlab/train.py" in first


def test_other_seed_other_data(workspaces):
    first, other = _digests(workspaces["first"]), _digests(workspaces["other"])
    assert first["data/train.csv"] != other["data/train.csv"]
    assert first["churnlab/train.py"] == other["churnlab/train.py"]


def test_workspace_holds_the_candidate_part_only(workspaces, churn_pack):
    workspace = workspaces["default"]
    names = {path.name for path in workspace.rglob("*")}
    assert not names & set(PRIVATE_NAMES), f"private files in the workspace: {names & set(PRIVATE_NAMES)}"
    expected = {path.relative_to(churn_pack.candidate_dir) for path in churn_pack.candidate_dir.rglob("*") if "__pycache__" not in path.parts}
    written = {path.relative_to(workspace) for path in workspace.rglob("*")}
    extra = {str(p) for p in written - expected} - {"data", "data/train.csv", ".mlinterview", ".mlinterview/workspace.json"}
    assert not extra, f"unexpected files in the workspace: {sorted(extra)}"


def test_workspace_settings_are_public_only(workspaces, churn_pack):
    settings = read_workspace_settings(workspaces["default"])
    assert settings["scenario"] == "churn" and settings["data_seed"] == churn_pack.manifest.constraints.seed
    assert settings["constraints"]["max_parameters"] == 3000
    text = json.dumps(settings).lower()
    for word in ("holdout", "secret", "probe", "reference", "bugs", "interviewer"):
        assert word not in text


def test_holdout_never_lands_in_a_workspace(workspaces, churn_pack):
    """No holdout id, no holdout row and no holdout seed in any materialized file."""
    contents = {path: path.read_bytes() for ws in workspaces.values() for path in ws.rglob("*") if path.is_file()}
    id_column = churn_pack.manifest.contract.id_column
    for seed in SECRET_HOLDOUT_SEEDS:
        features, labels = churn_pack.generator.make_holdout(seed)
        assert len(features) == len(labels) and churn_pack.manifest.contract.label_column not in features
        holdout_ids = set(features[id_column])
        for path, data in contents.items():
            # Any short number turns up somewhere in 20,000 rows of data: check those in the other files.
            if len(str(seed)) >= 9 or path.suffix != ".csv":
                assert str(seed).encode() not in data, f"holdout seed {seed} appears in {path}"
        for workspace in workspaces.values():
            train = pd.read_csv(workspace / "data" / "train.csv")
            assert not holdout_ids & set(train[id_column]), "holdout customers in the candidate's data"
            shared_columns = [c for c in features.columns if c != id_column]
            merged = train[shared_columns].merge(features[shared_columns].drop_duplicates(), how="inner")
            assert merged.empty, f"{len(merged)} holdout rows appear in {workspace}/data/train.csv"


def test_holdout_is_deterministic_and_shifted(churn_pack, workspaces):
    first, labels = churn_pack.generator.make_holdout(5)
    again, labels_again = churn_pack.generator.make_holdout(5)
    pd.testing.assert_frame_equal(first, again)
    assert np.array_equal(labels, labels_again)
    train = pd.read_csv(workspaces["default"] / "data" / "train.csv")
    assert train["snapshot_date"].max() < first["snapshot_date"].min(), "the holdout must come from a later period"
    assert labels.mean() > train["churned"].mean(), "the holdout period has more churn"
    assert first["monthly_charges"].median() > train["monthly_charges"].median(), "the price increase"


def test_data_has_the_documented_quirks(workspaces):
    train = pd.read_csv(workspaces["default"] / "data" / "train.csv")
    assert 20_000 <= len(train) <= 30_000 and train.shape[1] >= 15
    assert train["churned"].mean() < 0.1
    assert train["customer_id"].nunique() < 0.6 * len(train)
    assert (train["days_since_last_login"] == -999).mean() > 0.05
    assert train["churned"].is_monotonic_increasing
    leak = train.groupby("churned")["retention_offer_made"].mean()
    assert leak[1] > 0.8 and leak[0] < 0.05


def test_existing_workspace_is_kept_and_others_refused(churn_pack, tmp_path):
    workspace = materialize(churn_pack, tmp_path / "ws", 3)
    (workspace / "churnlab" / "train.py").write_text("# the candidate's work\n")
    materialize(churn_pack, workspace, 3)
    assert (workspace / "churnlab" / "train.py").read_text() == "# the candidate's work\n"
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(WorkspaceError, match="not empty"):
        materialize(churn_pack, busy, 3)
