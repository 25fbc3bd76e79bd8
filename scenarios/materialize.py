"""Materializing a scenario pack into a candidate workspace.

Only the pack's ``candidate/`` part and the candidate's train/validation data are written;
the output is a pure function of (pack, seed): same seed, same bytes. The holdout seed is
not an input here at all, so it cannot leak into a workspace.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .pack import ScenarioPack

WORKSPACE_MANIFEST = Path(".mlinterview") / "workspace.json"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")


class WorkspaceError(Exception):
    """The target folder cannot receive this scenario; the message says why and what to do."""


def write_csv(frame, path: Path) -> None:
    """Write a DataFrame as CSV in a byte-stable form (fixed float format, LF line ends)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")


def workspace_settings(pack: ScenarioPack, seed: int) -> dict:
    """The public settings a candidate kernel reads: no secrets, nothing from the private part."""
    manifest = pack.manifest
    return {
        "scenario": manifest.id,
        "version": manifest.version,
        "title": manifest.title,
        "data_seed": seed,
        "time_budget_minutes": manifest.time_budget_minutes,
        "constraints": manifest.constraints.model_dump(),
        "metric": manifest.metric.model_dump(),
        "predict": manifest.contract.predict,
        "scaffold": pack.scaffold_name,
        "kernel": manifest.kernel.model_dump(),
    }


def read_workspace_settings(workspace: Path) -> dict | None:
    """The settings written by materialize, or None when the folder is not a workspace."""
    path = Path(workspace) / WORKSPACE_MANIFEST
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def materialize(pack: ScenarioPack, workspace: Path, seed: int | None = None, *, overwrite: bool = False) -> Path:
    """Write brief, starter notebook, scaffold and candidate data of ``pack`` into ``workspace``.

    An existing workspace of the same scenario is left as it is (a restarted server must not
    erase the candidate's work) unless ``overwrite``; any other non-empty folder is refused.
    """
    workspace = Path(workspace)
    seed = pack.manifest.constraints.seed if seed is None else int(seed)
    existing = read_workspace_settings(workspace) if workspace.exists() else None
    if existing and not overwrite:
        if existing.get("scenario") != pack.id:
            raise WorkspaceError(
                f"{workspace} already holds scenario '{existing.get('scenario')}'; choose an empty folder for '{pack.id}'"
            )
        return workspace
    if workspace.exists() and any(workspace.iterdir()) and not existing and not overwrite:
        raise WorkspaceError(f"{workspace} is not empty; choose an empty or new folder (or pass --overwrite)")

    workspace.mkdir(parents=True, exist_ok=True)
    shutil.copytree(pack.candidate_dir, workspace, ignore=IGNORED, dirs_exist_ok=True)
    data_dir = workspace / pack.manifest.candidate.data_dir
    for filename, frame in sorted(pack.generator.make_candidate_data(seed).items()):
        write_csv(frame, data_dir / filename)
    settings_path = workspace / WORKSPACE_MANIFEST
    settings_path.parent.mkdir(parents=True, exist_ok=True)
    settings_path.write_text(json.dumps(workspace_settings(pack, seed), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return workspace
