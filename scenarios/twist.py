"""Releasing a pack's mid-interview twist into a live candidate workspace.

The interviewer releases it from the live view; the interview service calls ``release_twist``
on the candidate's workspace. ``new_data`` writes the generator's ``make_twist_data(seed)`` files
next to the candidate's data; ``tighter_budget`` lowers ``constraints.max_parameters`` in the
workspace settings, which the candidate kernel re-reads before the next cell. Either way the
workspace settings record the release, so it happens once.

Nothing is written through a link the candidate planted (``workspace_files.WorkspaceFolder``).
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from pathlib import Path

from .materialize import WORKSPACE_MANIFEST
from .pack import PackError, ScenarioPack
from .workspace_files import UnsafeWorkspacePath, WorkspaceFolder

MAX_SETTINGS_BYTES = 1 << 20


class TwistError(Exception):
    """The twist cannot be released; the message says why."""


def _csv_bytes(frame) -> bytes:
    """A DataFrame as CSV in the same byte-stable form as materialize's ``write_csv``."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, float_format="%.6g", lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def release_twist(pack: ScenarioPack, workspace: Path) -> dict:
    """Apply ``pack``'s twist to ``workspace`` once; returns what was released (title, kind, files, limit)."""
    twist = pack.manifest.twist
    if twist is None:
        raise TwistError(f"scenario '{pack.id}' has no twist to release")
    try:
        return _release(pack, twist, Path(workspace))
    except UnsafeWorkspacePath as unsafe:
        raise TwistError(f"nothing was released: {unsafe}") from None


def _release(pack: ScenarioPack, twist, workspace: Path) -> dict:
    with WorkspaceFolder.open_workspace(workspace) as root:
        try:
            record = root.subfolder(WORKSPACE_MANIFEST.parent)
        except UnsafeWorkspacePath as unsafe:
            raise TwistError(f"{workspace} is not a workspace of scenario '{pack.id}' ({unsafe})") from None
        with record:
            return _release_into(pack, twist, root, record, workspace)


def _release_into(pack: ScenarioPack, twist, root: WorkspaceFolder, record: WorkspaceFolder, workspace: Path) -> dict:
    raw = record.read_regular(WORKSPACE_MANIFEST.name, MAX_SETTINGS_BYTES)
    try:
        settings = json.loads(raw) if raw is not None else None
    except ValueError:
        settings = None
    if not isinstance(settings, dict) or settings.get("scenario") != pack.id:
        raise TwistError(f"{workspace} is not a workspace of scenario '{pack.id}' (no regular {WORKSPACE_MANIFEST} of it)")
    if settings.get("twist"):
        raise TwistError(f"the twist '{twist.title}' was already released at {settings['twist'].get('released_at', '?')}")
    released = {"title": twist.title, "kind": twist.kind, "released_at": datetime.now(timezone.utc).isoformat(), "files": []}
    if twist.kind == "new_data":
        make_twist_data = getattr(pack.generator, "make_twist_data", None)
        if make_twist_data is None:
            raise PackError(f"{pack.private_dir / 'generator.py'}: the twist is 'new_data' but there is no make_twist_data(seed)")
        data_dir = pack.manifest.candidate.data_dir
        with root.subfolder(data_dir, create=True) as data:
            for filename, frame in sorted(make_twist_data(int(settings["data_seed"])).items()):
                data.replace_file(filename, _csv_bytes(frame))
                released["files"].append(f"{data_dir}/{filename}")
    else:
        settings.setdefault("constraints", {})["max_parameters"] = twist.max_parameters
        released["max_parameters"] = twist.max_parameters
    settings["twist"] = released
    record.replace_file(WORKSPACE_MANIFEST.name, (json.dumps(settings, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return released
