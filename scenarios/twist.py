"""Releasing a pack's mid-interview twist into a live candidate workspace.

The interviewer releases it from the live view; the interview service calls ``release_twist``
on the candidate's workspace. ``new_data`` writes the generator's ``make_twist_data(seed)`` files
next to the candidate's data; ``tighter_budget`` lowers ``constraints.max_parameters`` in the
workspace settings, which the candidate kernel re-reads before the next cell. Either way the
workspace settings record the release, so it happens once.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from .materialize import WORKSPACE_MANIFEST, read_workspace_settings, write_csv
from .pack import PackError, ScenarioPack


class TwistError(Exception):
    """The twist cannot be released; the message says why."""


def release_twist(pack: ScenarioPack, workspace: Path) -> dict:
    """Apply ``pack``'s twist to ``workspace`` once; returns what was released (title, kind, files, limit)."""
    twist = pack.manifest.twist
    if twist is None:
        raise TwistError(f"scenario '{pack.id}' has no twist to release")
    workspace = Path(workspace)
    settings = read_workspace_settings(workspace)
    if settings is None or settings.get("scenario") != pack.id:
        raise TwistError(f"{workspace} is not a workspace of scenario '{pack.id}'")
    if settings.get("twist"):
        raise TwistError(f"the twist '{twist.title}' was already released at {settings['twist']['released_at']}")
    owner = workspace.stat()
    released = {"title": twist.title, "kind": twist.kind, "released_at": datetime.now(timezone.utc).isoformat(), "files": []}
    if twist.kind == "new_data":
        make_twist_data = getattr(pack.generator, "make_twist_data", None)
        if make_twist_data is None:
            raise PackError(f"{pack.private_dir / 'generator.py'}: the twist is 'new_data' but there is no make_twist_data(seed)")
        data_dir = workspace / pack.manifest.candidate.data_dir
        for filename, frame in sorted(make_twist_data(int(settings["data_seed"])).items()):
            write_csv(frame, data_dir / filename)
            _give_to(data_dir / filename, owner)
            released["files"].append(f"{pack.manifest.candidate.data_dir}/{filename}")
    else:
        settings["constraints"]["max_parameters"] = twist.max_parameters
        released["max_parameters"] = twist.max_parameters
    settings["twist"] = released
    path = workspace / WORKSPACE_MANIFEST
    staging = path.with_suffix(".json.new")
    staging.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    _give_to(staging, owner)
    os.replace(staging, path)  # the kernel never reads a half-written file
    return released


def _give_to(path: Path, owner: os.stat_result) -> None:
    """Files written for an isolated candidate belong to them, like the rest of their workspace."""
    if os.geteuid() == 0 and (owner.st_uid, owner.st_gid) != (0, 0):
        os.chown(path, owner.st_uid, owner.st_gid)
