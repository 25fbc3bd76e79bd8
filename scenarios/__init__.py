"""Scenario packs: the manifest schema, loading, materialization into a workspace, calibration.

The packs themselves live beside this code in ``scenarios/<id>/`` and are data: they are
never installed as importable code (see ``setup.py``); the private parts are loaded by path.
"""

from .materialize import WorkspaceError, materialize, read_workspace_settings
from .pack import PackError, ScenarioPack, default_scenarios_dir, list_packs, load_pack

__all__ = [
    "PackError",
    "ScenarioPack",
    "WorkspaceError",
    "default_scenarios_dir",
    "list_packs",
    "load_pack",
    "materialize",
    "read_workspace_settings",
]
