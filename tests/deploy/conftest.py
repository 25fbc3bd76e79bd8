"""Fixtures for the deployment tests: the Kubernetes configuration rendered without a cluster.

Nothing here needs helm, a cluster or an image: ``values.yaml`` is loaded as data, its
``hub.extraFiles`` are written to a temporary folder, its ``hub.extraEnv`` becomes the
environment and its ``hub.extraConfig`` runs against a traitlets ``Config`` standing in for the
chart's, exactly as the chart's ``jupyterhub_config.py`` runs it in the hub pod.

Fixtures:

- ``values``: ``deploy/kubernetes/values.yaml`` as a dict.
- ``hub_settings_toml``: the hub settings file (hub.toml) the values mount in the hub pod.
- ``rendered``: ``Rendered(config, settings, kube, state_dir)``: the hub's ``Config`` after the
  extraConfig ran on top of a chart-like config (one chart service and role already in it), with
  ``state_dir`` moved to a temporary folder (the only change to the values' settings).
- ``no_cluster_kubeconfig``: a kubeconfig naming a closed loopback port (KubeSpawner reads one).
- ``make_candidate_spawner``: ``await make_candidate_spawner(kernel, user_options=None)`` -> an
  ``InterviewKubeSpawner`` (KubeSpawner's ``_mock`` mode) for the candidate of a new interview in
  the rendered installation's store, started for real (interview, plan, scenario materialized
  into the workspace, profile) up to the pod it would create, kept as ``spawner.pod``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from traitlets.config import Config

from deploytools import CHART_ROLE, CHART_SERVICE, VALUES, Rendered, environment_from_values, extra_file


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


@pytest.fixture(scope="module")
def hub_settings_toml(values) -> str:
    return extra_file(values, "/hub.toml")


@pytest.fixture(scope="module")
def rendered(values, tmp_path_factory) -> Rendered:
    from mlinterview.extension.hub_kubernetes import load_kubernetes_settings
    from mlinterview.extension.hub_settings import load_settings

    root = tmp_path_factory.mktemp("hub-pod")
    files = {}
    for spec in values["hub"]["extraFiles"].values():
        path = root / "etc" / Path(spec["mountPath"]).name
        path.parent.mkdir(exist_ok=True)
        path.write_text(spec["stringData"])
        files[spec["mountPath"]] = path
    state_dir = root / "srv" / "mlinterview"
    environ = environment_from_values(values, files) | {"MLINTERVIEW_HUB_STATE_DIR": str(state_dir)}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, value)
        c = Config()
        c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
        c.JupyterHub.services = [dict(CHART_SERVICE)]
        c.JupyterHub.load_roles = [dict(CHART_ROLE)]
        c.KubeSpawner.image = values["singleuser"]["image"]["name"] + ":" + values["singleuser"]["image"]["tag"]
        for name, snippet in sorted(values["hub"]["extraConfig"].items()):
            exec(compile(snippet, f"values.yaml:hub.extraConfig.{name}", "exec"), {"c": c, "get_config": lambda: c})
        settings, kube = load_settings(), load_kubernetes_settings()
    return Rendered(config=c, settings=settings, kube=kube, state_dir=state_dir)


KUBECONFIG_WITHOUT_CLUSTER = """\
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""


@pytest.fixture
def no_cluster_kubeconfig(tmp_path, monkeypatch):
    """KubeSpawner loads a kubeconfig when it is made; this one names a closed loopback port.
    Building a pod manifest makes no API call, so nothing ever connects."""
    from kubernetes_asyncio.config import kube_config

    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG_WITHOUT_CLUSTER)
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    return path


def pod_recording_spawner_class():
    from mlinterview.extension.hub_kubernetes import InterviewKubeSpawner

    class PodRecordingSpawner(InterviewKubeSpawner):
        """A real start (interview, plan, workspace, profile) up to the pod it would create, kept in ``pod``."""

        async def _start(self):
            # KubeSpawner._start's first steps; creating the pod is the cluster's part
            await self.load_user_options()
            self.pod = await self.get_pod_manifest()
            return f"http://{self.pod.metadata.name}:{self.port}"

    return PodRecordingSpawner


@pytest.fixture
def make_candidate_spawner(rendered, no_cluster_kubeconfig):
    from mlinterview.extension.service_store import InterviewStore
    from mlinterview.scenarios.pack import default_scenarios_dir, list_packs

    store = InterviewStore(rendered.settings.interview_store_url)
    packs = list_packs(default_scenarios_dir())
    scenario = "churn" if "churn" in packs else packs[0]
    spawner_class = pod_recording_spawner_class()

    async def make(kernel: str, user_options: dict | None = None):
        interview, _ = store.create_interview(
            scenario=scenario, kernel=kernel, candidate_name=f"Pod Candidate {kernel}", interviewer="interviewer",
            time_budget_minutes=60, invite_ttl=timedelta(hours=1),
        )
        user = SimpleNamespace(name=interview.candidate_user, id=7, url=f"/user/{interview.candidate_user}/", escaped_name=interview.candidate_user)
        spawner = spawner_class(_mock=True, config=rendered.config, user=user)
        spawner.user_options = dict(user_options or {})
        await spawner.start()
        return spawner

    return make
