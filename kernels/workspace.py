"""What the candidate kernel learns about its workspace: where it is, its public settings, seeding.

A workspace is a folder written by ``mlinterview scenarios materialize``; its public settings
are in ``.mlinterview/workspace.json``. The kernel finds it from ``$MLINTERVIEW_WORKSPACE`` or
by walking up from its working directory (jupyter-server starts a kernel in the notebook's
folder). Nothing here imports torch: seeding takes the modules that are already loaded.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

WORKSPACE_MANIFEST = Path(".mlinterview") / "workspace.json"
STARTED_AT_FILE = Path(".mlinterview") / "started_at"
WORKSPACE_ENV = "MLINTERVIEW_WORKSPACE"
STARTED_AT_ENV = "MLINTERVIEW_STARTED_AT"
BUDGET_ENV = "MLINTERVIEW_TIME_BUDGET_MINUTES"


def find_workspace(start: Path | None = None) -> Path | None:
    """The workspace folder: ``$MLINTERVIEW_WORKSPACE`` if set, else the nearest folder at or above
    ``start`` (default: the working directory) that holds ``.mlinterview/workspace.json``."""
    explicit = os.environ.get(WORKSPACE_ENV)
    if explicit:
        return Path(explicit) if (Path(explicit) / WORKSPACE_MANIFEST).is_file() else None
    folder = Path(start or os.getcwd()).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / WORKSPACE_MANIFEST).is_file():
            return candidate
    return None


def read_settings(workspace: Path) -> dict[str, Any]:
    return json.loads((workspace / WORKSPACE_MANIFEST).read_text(encoding="utf-8"))


def settings_modified(workspace: Path) -> int:
    """Modification time (ns) of the workspace settings: it changes when the hub releases a twist."""
    return (workspace / WORKSPACE_MANIFEST).stat().st_mtime_ns


def make_scaffold_importable(workspace: Path) -> None:
    """Put the workspace folder (the scaffold package's parent) first on ``sys.path``."""
    entry = str(workspace)
    if entry not in sys.path:
        sys.path.insert(0, entry)


def seed_everything(seed: int) -> list[str]:
    """Seed Python's, numpy's and torch's generators; returns the names seeded."""
    seeded = ["python"]
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed % 2**32)
        seeded.append("numpy")
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
        seeded.append("torch")
    return seeded


def parse_moment(value: str | None) -> float | None:
    """Epoch seconds from an epoch number or an ISO 8601 time (UTC when it names no zone); None when
    unset or unreadable."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def interview_budget_minutes(settings: dict[str, Any]) -> float:
    """The interview's time budget: ``$MLINTERVIEW_TIME_BUDGET_MINUTES`` (the hub's, per interview),
    else the scenario's default from the workspace settings."""
    try:
        return float(os.environ[BUDGET_ENV])
    except (KeyError, ValueError):
        return float(settings.get("time_budget_minutes") or 0)


def interview_started_at(workspace: Path | None) -> float:
    """When the interview started (epoch seconds): ``$MLINTERVIEW_STARTED_AT`` (epoch or ISO 8601,
    set by the hub), else the time the first kernel of this workspace started (kept in a file)."""
    started = parse_moment(os.environ.get(STARTED_AT_ENV))
    if started is not None:
        return started
    now = time.time()
    if workspace is None:
        return now
    marker = workspace / STARTED_AT_FILE
    try:
        return float(marker.read_text().strip())
    except (OSError, ValueError):
        try:
            marker.write_text(f"{now}\n")
        except OSError:
            pass
        return now
