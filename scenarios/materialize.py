"""Materializing a scenario pack into a candidate workspace.

Only the pack's ``candidate/`` part and the candidate's train/validation data are written;
the output is a pure function of (pack, seed): same seed, same bytes. The holdout seed is
not an input here at all, so it cannot leak into a workspace.

The workspace may already be the candidate's (a restarted server, ``overwrite``): every read and
write in it goes through :mod:`mlinterview.safe_files`, so nothing the candidate planted there
(a link, a FIFO, a folder swapped for a link) is followed by the hub, which may run as root.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .. import safe_files
from .pack import ScenarioPack

WORKSPACE_MANIFEST = Path(".mlinterview") / "workspace.json"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
MAX_SETTINGS_BYTES = 1024 * 1024


class WorkspaceError(Exception):
    """The target folder cannot receive this scenario; the message says why and what to do."""


def csv_bytes(frame) -> bytes:
    """A DataFrame as CSV in a byte-stable form (fixed float format, LF line ends)."""
    return frame.to_csv(index=False, float_format="%.6g", lineterminator="\n").encode("utf-8")


def write_csv(frame, path: Path) -> None:
    """Write a DataFrame as CSV (:func:`csv_bytes`) into a folder of the caller's own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes(frame))


def workspace_settings(pack: ScenarioPack, seed: int) -> dict:
    """The public settings a candidate kernel reads: no secrets, nothing from the private part."""
    manifest = pack.manifest
    return {
        "scenario": manifest.id,
        "version": manifest.version,
        "title": manifest.title,
        "brief": manifest.candidate.brief,
        "data_seed": seed,
        "time_budget_minutes": manifest.time_budget_minutes,
        "constraints": manifest.constraints.model_dump(),
        "metric": manifest.metric.model_dump(),
        "predict": manifest.contract.predict,
        "scaffold": pack.scaffold_name,
        "kernel": manifest.kernel.model_dump(),
        # the open questions the candidate's panel shows by itself (the interviewer's notes stay in the
        # pack; a question the interviewer pushes is added when pushed: scenarios/questions.py)
        "questions": [
            {"id": q.id, "prompt": q.prompt, "signal": q.signal, "shown": q.shown, "after_minutes": q.after_minutes}
            for q in manifest.questions if q.shown != "interviewer"
        ],
    }


def read_workspace_settings(workspace: Path) -> dict | None:
    """The settings written by materialize, or None when the folder is not a workspace (nor are
    settings that are a link, a FIFO or anything but a plain file: they are never followed)."""
    try:
        raw = safe_files.read_bytes(workspace, WORKSPACE_MANIFEST, MAX_SETTINGS_BYTES)
    except (OSError, ValueError):
        return None
    return json.loads(raw.decode("utf-8"))


def materialize(
    pack: ScenarioPack, workspace: Path, seed: int | None = None, *, overwrite: bool = False, owner: tuple[int, int] | None = None
) -> Path:
    """Write brief, starter notebook, scaffold and candidate data of ``pack`` into ``workspace``.

    An existing workspace of the same scenario is left as it is (a restarted server must not
    erase the candidate's work) unless ``overwrite``; any other non-empty folder is refused.
    ``owner`` (uid, gid): what is written is theirs, set on each file's descriptor.
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
    safe_files.copy_tree(pack.candidate_dir, workspace, ignore=IGNORED, owner=owner)
    if pack.manifest.git is not None:  # the scaffold's history, as a repository (scenarios/git_scaffold.py)
        from .git_scaffold import install_repository

        install_repository(pack, workspace, owner=owner)
    data_dir = Path(pack.manifest.candidate.data_dir)
    for filename, frame in sorted(pack.generator.make_candidate_data(seed).items()):
        safe_files.write_bytes(workspace, data_dir / filename, csv_bytes(frame), owner=owner)
    settings = json.dumps(workspace_settings(pack, seed), indent=2, sort_keys=True) + "\n"
    safe_files.write_bytes(workspace, WORKSPACE_MANIFEST, settings.encode("utf-8"), owner=owner)
    return workspace
