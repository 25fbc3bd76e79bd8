"""Helpers for the deployment tests: the values file, its extra files and environment, rendered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
VALUES = REPO_ROOT / "deploy" / "kubernetes" / "values.yaml"
TEST_SECRETS = {"interviewer-password": "k8s-test-interviewer-password", "admin-password": "k" * 40}
CHART_SERVICE = {"name": "chart-service", "api_token": "chart-token"}
CHART_ROLE = {"name": "chart-role", "scopes": ["read:users"], "services": ["chart-service"]}


@dataclass
class Rendered:
    """The hub's configuration as the extraConfig leaves it, with the settings it was made from."""

    config: Config
    settings: object
    kube: object
    state_dir: Path


def extra_file(values: dict, mount_path_suffix: str) -> str:
    files = [spec for spec in values["hub"]["extraFiles"].values() if spec["mountPath"].endswith(mount_path_suffix)]
    assert len(files) == 1, f"values.yaml mounts one {mount_path_suffix} in the hub pod"
    return files[0]["stringData"]


def environment_from_values(values: dict, files: dict[str, Path]) -> dict[str, str]:
    """hub.extraEnv with mount paths mapped to the written files and secrets to test values."""
    environ = {}
    for name, value in values["hub"]["extraEnv"].items():
        if isinstance(value, dict):
            environ[name] = TEST_SECRETS[value["valueFrom"]["secretKeyRef"]["key"]]
        else:
            environ[name] = str(files.get(value, value))
    return environ
