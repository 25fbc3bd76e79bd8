"""Releasing a pack's mid-interview twist into a live candidate workspace.

The interviewer releases it from the live view; the interview service calls ``release_twist``
on the candidate's workspace. ``new_data`` writes the generator's ``make_twist_data(seed)`` files
next to the candidate's data; ``tighter_budget`` lowers ``constraints.max_parameters`` in the
workspace settings, which the candidate kernel re-reads before the next cell. Either way the
workspace settings record the release, so it happens once.

Nothing is read or written through a link the candidate planted (``mlinterview/safe_files.py``).
"""

from __future__ import annotations

import io
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from ..safe_files import UnsafeFileError, open_folder, read_bytes, write_bytes
from .materialize import WORKSPACE_MANIFEST
from .pack import PackError, ScenarioPack

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
    return edit_workspace_settings(pack, workspace, lambda settings, root, owner: _release(pack, twist, settings, root, owner), TwistError)


def edit_workspace_settings(pack: ScenarioPack, workspace: Path, edit, error: type[Exception]):
    """Read the live workspace's settings, let ``edit(settings, root, owner)`` change them (and write
    files beside them through ``root``), write them back; ``error`` carries what went wrong. What is
    written belongs to whoever owns the workspace (the candidate, in isolated mode); nothing is read
    or written through a link."""
    try:
        root = open_folder(Path(workspace))
    except OSError as problem:
        raise error(f"{workspace} is not a workspace folder ({problem.strerror or problem})") from None
    try:
        try:
            settings = json.loads(read_bytes(root, WORKSPACE_MANIFEST, MAX_SETTINGS_BYTES))
        except (OSError, ValueError):
            settings = None
        if not isinstance(settings, dict) or settings.get("scenario") != pack.id:
            raise error(f"{workspace} is not a workspace of scenario '{pack.id}' (no regular {WORKSPACE_MANIFEST} of it)")
        status = os.fstat(root)
        owner = (status.st_uid, status.st_gid) if os.geteuid() == 0 and (status.st_uid, status.st_gid) != (0, 0) else None
        result = edit(settings, root, owner)
        write_bytes(root, WORKSPACE_MANIFEST, (json.dumps(settings, indent=2, sort_keys=True) + "\n").encode("utf-8"), owner=owner)
        return result
    except UnsafeFileError as unsafe:
        raise error(f"nothing was changed: {unsafe.strerror}; a link the candidate left is never followed") from None
    finally:
        os.close(root)


def _release(pack: ScenarioPack, twist, settings: dict, root: int, owner) -> dict:
    if settings.get("twist"):
        raise TwistError(f"the twist '{twist.title}' was already released at {settings['twist'].get('released_at', '?')}")
    released = {"title": twist.title, "kind": twist.kind, "released_at": datetime.now(timezone.utc).isoformat(), "files": []}
    if twist.kind == "new_data":
        make_twist_data = getattr(pack.generator, "make_twist_data", None)
        if make_twist_data is None:
            raise PackError(f"{pack.private_dir / 'generator.py'}: the twist is 'new_data' but there is no make_twist_data(seed)")
        data_dir = pack.manifest.candidate.data_dir
        for filename, frame in sorted(make_twist_data(int(settings["data_seed"])).items()):
            write_bytes(root, f"{data_dir}/{filename}", _csv_bytes(frame), owner=owner)
            released["files"].append(f"{data_dir}/{filename}")
    else:
        settings.setdefault("constraints", {})["max_parameters"] = twist.max_parameters
        released["max_parameters"] = twist.max_parameters
    settings["twist"] = released
    return released
