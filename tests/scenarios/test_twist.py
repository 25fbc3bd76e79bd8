"""Releasing each pack's mid-interview twist into a materialized workspace."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mlinterview.scenarios import list_packs, load_pack, materialize
from mlinterview.scenarios.twist import TwistError, release_twist

PACKS_WITH_TWIST = [scenario for scenario in list_packs() if load_pack(scenario).manifest.twist is not None]


def settings_of(workspace):
    return json.loads((workspace / ".mlinterview" / "workspace.json").read_text())


def test_every_shipped_pack_has_a_twist():
    assert PACKS_WITH_TWIST == list_packs()


@pytest.mark.parametrize("scenario", PACKS_WITH_TWIST)
def test_twist_reaches_the_workspace_once(scenario, tmp_path):
    pack = load_pack(scenario)
    twist = pack.manifest.twist
    workspace = materialize(pack, tmp_path / "ws")
    before = settings_of(workspace)
    data_before = sorted(p.name for p in (workspace / pack.manifest.candidate.data_dir).iterdir())

    released = release_twist(pack, workspace)

    after = settings_of(workspace)
    assert after["twist"]["title"] == twist.title == released["title"]
    if twist.kind == "tighter_budget":
        assert after["constraints"]["max_parameters"] == twist.max_parameters < before["constraints"]["max_parameters"]
    else:
        assert released["files"], "a new_data twist writes at least one file"
        for relative in released["files"]:
            frame = pd.read_csv(workspace / relative)
            assert len(frame) > 0 and pack.manifest.contract.label_column in frame.columns
            assert (workspace / relative).name not in data_before
        assert after["constraints"] == before["constraints"]
    with pytest.raises(TwistError, match="already released"):
        release_twist(pack, workspace)


def test_twist_needs_a_workspace_of_its_scenario(tmp_path):
    pack = load_pack(PACKS_WITH_TWIST[0])
    with pytest.raises(TwistError, match="not a workspace"):
        release_twist(pack, tmp_path)
