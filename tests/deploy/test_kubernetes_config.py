"""The Kubernetes configuration (deploy/kubernetes/), rendered and checked without a cluster.

Profiles (CPU, GPU with its nvidia.com/gpu limit) applied on a real KubeSpawner, the interview
service and its scopes, and the mounts that keep the private store out of candidate pods.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploytools import CHART_ROLE, CHART_SERVICE, REPO_ROOT
from mlinterview.extension.hub_kubernetes import (
    GPU_RESOURCE,
    WORKSPACE_VOLUME,
    InterviewKubeSpawner,
    candidate_profiles,
    load_kubernetes_settings,
    profile_for_kernel,
    workspace_storage,
)
from mlinterview.extension.hub_settings import SERVICE_NAME, SERVICE_SETTINGS_ENV, SettingsError
from mlinterview.extension.hub_spawner import SpawnRefused

PRIVATE_CLAIM = "mlinterview-private"


def claims_in(tree) -> set[str]:
    """Every persistentVolumeClaim name anywhere in a (values or manifest) tree."""
    found = set()
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key in ("claimName", "claim_name") and isinstance(value, str):
                found.add(value)
            found |= claims_in(value)
    elif isinstance(tree, list):
        for item in tree:
            found |= claims_in(item)
    return found


def interview_service(config) -> dict:
    services = [service for service in config.JupyterHub.services if service["name"] == SERVICE_NAME]
    assert len(services) == 1
    return services[0]


# -- the hub's configuration ----------------------------------------------------------------------
def test_the_same_translation_with_the_chart_owning_ports_database_and_proxy(rendered):
    c = rendered.config
    assert c.JupyterHub.spawner_class is InterviewKubeSpawner
    assert "ConfigurableHTTPProxy" not in c, "the chart runs the proxy in its own pod"
    for chart_owned in ("ip", "port", "hub_ip", "hub_port", "db_url", "cookie_secret_file"):
        assert chart_owned not in c.JupyterHub, chart_owned
    assert "cmd" not in c.Spawner and "environment" not in c.Spawner
    # what the one-machine translation decides is kept: logins, invite codes, the interview spawner
    assert c.JupyterHub.authenticator_class.__name__ == "InterviewSharedPasswordAuthenticator"
    assert c.SharedPasswordAuthenticator.user_password == "k8s-test-interviewer-password"  # from the secret
    assert c.InviteCodeMixin.store_url == rendered.settings.interview_store_url
    assert c.InterviewSpawnerMixin.workspaces_dir == str(rendered.state_dir / "workspaces")
    assert c.InterviewSpawnerMixin.isolated is False  # no system users: a pod per candidate
    assert c.InterviewSpawnerMixin.history_url == "http://hub:10101/services/interview/api/history"
    assert c.Authenticator.allowed_users == {"interviewer"} and c.Authenticator.admin_users == {"admin"}
    # candidates' servers and the service on origins of their own, as on one machine
    assert c.JupyterHub.subdomain_host == "https://hub.example.org"
    assert json.loads(interview_service(c)["environment"][SERVICE_SETTINGS_ENV])["subdomain_host"] == "https://hub.example.org"


def test_the_interview_service_is_hub_managed_in_the_hub_pod_and_reachable(rendered, values):
    service = interview_service(rendered.config)
    assert service["url"] == f"http://hub:{rendered.settings.service_port}"
    assert service["command"][1:] == ["-m", "mlinterview.extension.service_app"]
    assert "api_token" not in service, "hub-managed: the hub gives the service its token"
    settings = json.loads(service["environment"][SERVICE_SETTINGS_ENV])
    assert settings["bind_ip"] == "0.0.0.0" and settings["port"] == rendered.settings.service_port
    assert settings["private_dir"] == str(rendered.state_dir / "private")
    assert settings["store_url"].startswith(f"sqlite:///{rendered.state_dir / 'private'}")
    assert settings["isolated"] is False and settings["gpu_available"] is True
    # the hub's Kubernetes Service exposes the port; network policies let the proxy, the candidates
    # and the hub itself in, and the proxy and candidates out to it
    port = rendered.settings.service_port
    assert [p["port"] for p in values["hub"]["service"]["extraPorts"]] == [port]
    hub_pod = {"app.kubernetes.io/name": "jupyterhub", "app.kubernetes.io/component": "hub"}
    ingress = [rule for rule in values["hub"]["networkPolicy"]["ingress"] if rule["ports"] == [{"port": port}]]
    assert [[peer["podSelector"]["matchLabels"] for peer in rule["from"]] for rule in ingress] == [
        [{"hub.jupyter.org/network-access-hub": "true"}, hub_pod]
    ]
    hub_api = [rule for rule in values["hub"]["networkPolicy"]["ingress"] if rule["ports"] == [{"port": 8081}]]
    assert hub_api and hub_api[0]["from"] == [{"podSelector": {"matchLabels": hub_pod}}], "the service calls the hub API from the hub pod"
    for egress in (values["singleuser"]["networkPolicy"]["egress"], values["proxy"]["chp"]["networkPolicy"]["egress"]):
        assert egress == [{"ports": [{"port": port}], "to": [{"podSelector": {"matchLabels": hub_pod}}]}]

def test_scopes_of_the_service_and_interviewers_and_the_chart_keeps_its_own(rendered):
    roles = {role["name"]: role for role in rendered.config.JupyterHub.load_roles}
    service_role = roles["mlinterview-service"]
    assert service_role["services"] == [SERVICE_NAME]
    assert set(service_role["scopes"]) == {"admin:users", "admin:servers", "access:servers", "shares", "read:users:name", "read:users:shares"}
    interviewer = roles["interviewer"]
    assert set(interviewer["scopes"]) == {"self", f"access:services!service={SERVICE_NAME}"}
    assert interviewer["users"] == ["admin", "interviewer"]
    # no role names a candidate: they get the default 'user' role, their own server only
    assert not any(name.startswith("cand-") for role in roles.values() for name in role.get("users", []))
    # merged into the chart's configuration, not replacing it
    assert roles["chart-role"] == CHART_ROLE
    assert CHART_SERVICE in rendered.config.JupyterHub.services


# -- profiles on a real KubeSpawner ---------------------------------------------------------------
def test_profiles_override_real_kubespawner_traits(rendered):
    profiles = rendered.config.KubeSpawner.profile_list
    assert [profile["slug"] for profile in profiles] == ["cpu", "gpu"]
    assert profiles == candidate_profiles(rendered.kube)
    spawner_traits = InterviewKubeSpawner.class_trait_names()
    for profile in profiles:
        unknown = set(profile["kubespawner_override"]) - set(spawner_traits)
        assert not unknown, f"profile {profile['slug']} overrides no such KubeSpawner trait: {unknown}"
    assert profiles[1]["kubespawner_override"]["extra_resource_limits"] == {GPU_RESOURCE: "1"}
    assert GPU_RESOURCE not in json.dumps(profiles[0])


async def test_gpu_interview_pod_gets_a_gpu_of_its_own(make_candidate_spawner, rendered):
    spawner = await make_candidate_spawner("gpu")
    assert spawner.options_form == "", "the interview chooses the profile; no spawn form"
    pod = spawner.pod
    container = pod.spec.containers[0]
    assert container.image == rendered.kube.gpu_image
    assert container.resources.limits[GPU_RESOURCE] == "1" and container.resources.requests[GPU_RESOURCE] == "1"
    assert int(container.resources.limits["memory"]) == 32 * 2**30 and rendered.kube.gpu_mem_limit == "32G"
    assert pod.spec.node_selector == {"nvidia.com/gpu.present": "true"}
    assert [t.key for t in pod.spec.tolerations if t.key == GPU_RESOURCE] == [GPU_RESOURCE]
    # the pool on one machine; on Kubernetes the scheduler's GPU, which the container sees as device 0
    assert spawner.gpu_pool.acquire(spawner.user.name) == "0"


async def test_cpu_interview_pod_has_no_gpu_whatever_the_browser_asks(make_candidate_spawner, rendered):
    spawner = await make_candidate_spawner("cpu", user_options={"profile": "gpu"})
    assert spawner.user_options == {"profile": "cpu"}
    pod = spawner.pod
    container = pod.spec.containers[0]
    assert container.image == rendered.kube.cpu_image
    assert GPU_RESOURCE not in (container.resources.limits or {}) and GPU_RESOURCE not in (container.resources.requests or {})
    assert not pod.spec.node_selector
    assert float(container.resources.limits["cpu"]) == rendered.kube.cpu_limit


# -- mounts: the private store stays in the hub pod -----------------------------------------------
@pytest.mark.parametrize("kernel", ["cpu", "gpu"])
async def test_candidate_pod_mounts_only_its_own_workspace(make_candidate_spawner, rendered, kernel):
    spawner = await make_candidate_spawner(kernel)
    user = spawner.user.name
    pod = spawner.pod.to_dict()
    assert claims_in(pod) == {rendered.kube.workspaces_claim}, "a candidate pod mounts the workspaces claim and nothing else"
    assert PRIVATE_CLAIM not in json.dumps(pod)
    mounts = pod["spec"]["containers"][0]["volume_mounts"]
    workspace = [mount for mount in mounts if mount["name"] == WORKSPACE_VOLUME]
    assert workspace == [{**workspace[0], "mount_path": str(rendered.state_dir / "workspaces" / user), "sub_path": user}]
    assert not any(mount["mount_path"].startswith(str(rendered.state_dir / "private")) for mount in mounts)
    assert pod["spec"]["automount_service_account_token"] is False, "no Kubernetes API token in a candidate pod"
    env = {item["name"]: item["value"] for item in pod["spec"]["containers"][0]["env"] if item.get("value") is not None}
    assert env["MLINTERVIEW_HISTORY_URL"] == "http://hub:10101/services/interview/api/history"
    # the server's own history file outlives a rescheduled pod: on the workspace claim
    assert env["MLINTERVIEW_HISTORY_DIR"] == str(rendered.state_dir / "workspaces" / user / ".local" / "share" / "mlinterview" / "history")
    assert env["CUDA_VISIBLE_DEVICES"] == ("0" if kernel == "gpu" else "")
    assert not any(str(rendered.state_dir / "private") in value for value in env.values())
    # the hub materialized the scenario where the pod mounts it
    assert (rendered.state_dir / "workspaces" / user / ".mlinterview" / "workspace.json").is_file()
    assert spawner.notebook_dir == workspace[0]["mount_path"]


def test_private_store_is_a_volume_of_the_hub_pod_only(values, hub_settings_toml):
    import tomllib

    state_dir = Path(tomllib.loads(hub_settings_toml)["state_dir"])
    hub_volumes = {volume["name"]: volume for volume in values["hub"]["extraVolumes"]}
    assert hub_volumes["mlinterview-private"]["persistentVolumeClaim"]["claimName"] == PRIVATE_CLAIM
    hub_mounts = {mount["name"]: mount["mountPath"] for mount in values["hub"]["extraVolumeMounts"]}
    assert hub_mounts["mlinterview-private"] == str(state_dir / "private")
    assert hub_mounts["mlinterview-workspaces"] == str(state_dir / "workspaces")
    # nothing in the candidates' part of the values names the private claim or adds storage
    assert PRIVATE_CLAIM not in json.dumps(values["singleuser"])
    assert values["singleuser"]["storage"]["type"] == "none"
    assert not values["singleuser"]["storage"].get("extraVolumes") and not values["singleuser"].get("extraFiles")


def test_candidate_image_ships_no_scenario_pack():
    dockerfile = (REPO_ROOT / "deploy" / "kubernetes" / "Dockerfile").read_text()
    stages = {chunk.split()[2]: chunk for chunk in dockerfile.split("\nFROM ")[1:]}  # "<image> AS <name> ..."
    assert set(stages) == {"wheel", "hub", "singleuser"}
    assert 'rm -rf "$(python -c \'import sys; print(sys.prefix)\')/share/mlinterview"' in stages["singleuser"]
    assert "share/mlinterview" not in stages["hub"], "the hub keeps the packs: it materializes and grades"


# -- pure option logic and settings errors --------------------------------------------------------
def test_profile_and_workspace_logic_refuse_what_they_cannot_place(tmp_path):
    assert profile_for_kernel("gpu") == "gpu"
    with pytest.raises(SpawnRefused, match="unknown kernel kind 'tpu'"):
        profile_for_kernel("tpu")
    for bad in ("", "../cand-x", ".hidden", "a/b"):
        with pytest.raises(SpawnRefused, match="cannot name a workspace folder"):
            workspace_storage("claim", tmp_path, bad)


def test_kubernetes_settings_errors_name_the_field(tmp_path):
    path = tmp_path / "kubernetes.toml"
    path.write_text('gpu_image = "x"\ngpus_per_candidate = 0\n')
    with pytest.raises(SettingsError) as error:
        load_kubernetes_settings(path)
    assert "'cpu_image'" in str(error.value) and "'gpus_per_candidate'" in str(error.value)
    with pytest.raises(SettingsError, match="MLINTERVIEW_KUBERNETES_SETTINGS is not set"):
        load_kubernetes_settings(environ={})


async def test_candidate_pod_follows_the_confinement_rule_server_and_kernel_as_other_users(make_candidate_spawner, rendered):
    spawner = await make_candidate_spawner("cpu")
    container = spawner.pod.to_dict()["spec"]["containers"][0]
    command = (container.get("command") or []) + (container.get("args") or [])
    warden = command.index("mlinterview.kernels.warden")
    option = lambda name: command[command.index(name, warden) + 1]  # noqa: E731
    assert option("--server-user") == "mlserver" and option("--kernel-user") == "mlcandidate"
    assert "--prepare-folders" in command and option("--kernel-name") == "mlinterview-cpu"
    server = command[command.index("--", warden) + 1:]
    assert server[0].endswith("jupyterhub-singleuser")
    assert "--KernelProvisionerFactory.default_provisioner_name=mlinterview-warden" in server
    assert "--KernelManager.transport=ipc" in server
    security = container["security_context"]  # as KubeSpawner passes it through (camelCase)
    assert security["runAsUser"] == 0 and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"] and "SYS_ADMIN" in security["capabilities"]["add"]
    # the image has both users, the server's home closed to the kernel's
    dockerfile = (Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "Dockerfile").read_text()
    assert "useradd --uid 1000 --gid 1000" in dockerfile and "mlcandidate" in dockerfile and "chmod 0700 /home/mlserver" in dockerfile
