"""The embedded default config plus one test-only service holding an admin token (for fixtures)."""

import os
from pathlib import Path

load_subconfig(str(Path(__file__).resolve().parents[2] / "jupyterhub_config.py"))  # noqa: F821
c = get_config()  # noqa: F821

c.JupyterHub.services.append({"name": "test-admin", "api_token": os.environ["MLINTERVIEW_TEST_ADMIN_TOKEN"]})
c.JupyterHub.load_roles.append(
    {
        "name": "test-admin",
        "scopes": ["admin:users", "admin:servers", "tokens", "read:users", "access:servers", "shares", "read:users:shares"],
        "services": ["test-admin"],
    }
)
