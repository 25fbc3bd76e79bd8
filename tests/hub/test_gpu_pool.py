"""GPU pool and the spawner's option logic: no two live candidates share a GPU; a stopped server gives it back."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from jupyterhub.spawner import Spawner

from mlinterview.extension.hub_spawner import GPUPool, InterviewSpawnerMixin, SpawnRefused, server_plan


def test_pool_hands_out_distinct_gpus_and_takes_them_back():
    pool = GPUPool(["0", "1", "2"])
    held = {name: pool.acquire(name) for name in ("a", "b", "c")}
    assert sorted(held.values()) == ["0", "1", "2"]
    with pytest.raises(SpawnRefused, match="all 3 GPU"):
        pool.acquire("d")
    assert pool.acquire("b") == held["b"]  # asking again keeps the same GPU
    assert pool.release("b") == held["b"]
    assert pool.acquire("d") == held["b"]
    assert pool.release("nobody") is None


def test_pool_without_gpus_says_what_to_do():
    with pytest.raises(SpawnRefused, match="create the interview on CPU"):
        GPUPool([]).acquire("a")


class FakeProcessSpawner(Spawner):
    """A spawner whose 'process' is a flag: start and stop cost nothing."""

    running = False

    async def start(self):
        self.running = True
        return ("127.0.0.1", 1)

    async def stop(self, now=False):
        self.running = False

    async def poll(self):
        return None if self.running else 0


class FakeInterviewSpawner(InterviewSpawnerMixin, FakeProcessSpawner):
    """The real mixin; the interview lookup and workspace steps swapped for fakes."""

    def interview(self):
        return SimpleNamespace(id="i-" + self.user.name, kernel="gpu", scenario="churn", data_seed=None, started_at=None, kind="live", deadline_hours=None,
                               time_budget_minutes=45, time_out="soft")

    def notebook_of(self, interview):
        return "interview.ipynb"

    def prepare_workspace(self, interview, kernel_name):
        self.prepared_with = kernel_name


def make_spawner(name: str, gpus: list[str]) -> FakeInterviewSpawner:
    user = SimpleNamespace(name=name, escaped_name=name, url=f"/user/{name}/", id=1)
    return FakeInterviewSpawner(user=user, gpu_ids=gpus, workspaces_dir="/tmp/ws", homes_dir="/tmp/homes", history_url="http://svc/api/history")


def test_no_two_live_candidates_share_a_gpu_and_a_stop_returns_it():
    gpus = ["gpu-a", "gpu-b"]  # a fake pool of N=2 GPUs

    async def scenario():
        first, second, third = (make_spawner(f"cand-{i}", gpus) for i in range(3))
        await first.start()
        await second.start()
        assert {first.gpu, second.gpu} == set(gpus)
        assert first.plan.environment["CUDA_VISIBLE_DEVICES"] == first.gpu
        with pytest.raises(SpawnRefused, match="held by live candidates"):
            await third.start()
        assert third.gpu is None and not third.running
        await first.stop()
        first.clear_state()
        assert first.gpu is None
        await third.start()
        assert third.gpu not in (None, second.gpu)
        # a hub restart: spawner state brings the held GPU back into a fresh pool
        state = third.get_state()
        GPUPool._shared.pop(tuple(gpus))
        restored = make_spawner("cand-2", gpus)
        restored.load_state(state)
        assert restored.gpu == third.gpu
        assert GPUPool.shared(gpus).free() == [gpu for gpu in gpus if gpu != third.gpu]
        GPUPool._shared.pop(tuple(gpus))

    asyncio.run(scenario())


def test_server_plan_sets_kernel_history_url_and_hides_gpus_from_cpu_candidates():
    plan = server_plan(
        interview_id="abc", kernel="cpu", notebook="interview.ipynb", workspace="/ws/cand-1",
        history_url="http://127.0.0.1:9/services/interview/api/history", gpu=None,
        available_kernels={"mlinterview-cpu", "mlinterview-gpu", "python3"},
    )
    assert plan.kernel_name == "mlinterview-cpu" and plan.default_url == "/lab/tree/interview.ipynb"
    assert plan.environment["MLINTERVIEW_HISTORY_URL"].endswith("/api/history")
    assert plan.environment["CUDA_VISIBLE_DEVICES"] == ""
    assert "--KernelSpecManager.allowed_kernelspecs=mlinterview-cpu" in plan.args
    assert any(arg.startswith("--ServerApp.kernel_websocket_connection_class=") for arg in plan.args)
    assert "--HistoryRecordingConnection.require_recorder=True" in plan.args  # unrecorded kernels are refused
    assert "--ServerApp.terminals_enabled=False" in plan.args  # no unrecorded, unguarded terminal
    assert "MLINTERVIEW_STARTED_AT" not in plan.environment
    timed = server_plan(
        interview_id="abc", kernel="cpu", notebook="n.ipynb", workspace="/ws", history_url="u", gpu=None,
        available_kernels={"mlinterview-cpu"}, started_at="2026-11-25T10:00:00Z",
    )
    assert timed.environment["MLINTERVIEW_STARTED_AT"] == "2026-11-25T10:00:00Z"
    # a take-home: the server's clock runs to the hard deadline; the budget is active time, shown beside it
    take_home = server_plan(
        interview_id="abc", kernel="cpu", notebook="n.ipynb", workspace="/ws", history_url="u", gpu=None,
        available_kernels={"mlinterview-cpu"}, started_at="2026-11-25T10:00:00Z", time_budget_minutes=180, kind="take_home", deadline_hours=48,
    )
    assert {key: take_home.environment.get(key) for key in ("MLINTERVIEW_KIND", "MLINTERVIEW_ACTIVE_BUDGET_MINUTES",
                                                              "MLINTERVIEW_TIME_BUDGET_MINUTES", "MLINTERVIEW_TIME_OUT")} == {
        "MLINTERVIEW_KIND": "take_home", "MLINTERVIEW_ACTIVE_BUDGET_MINUTES": "180", "MLINTERVIEW_TIME_BUDGET_MINUTES": "2880", "MLINTERVIEW_TIME_OUT": "hard"}
    gpu = server_plan(
        interview_id="abc", kernel="gpu", notebook="n.ipynb", workspace="/ws", history_url="u", gpu="3",
        available_kernels={"mlinterview-gpu"},
    )
    assert gpu.kernel_name == "mlinterview-gpu" and gpu.environment["CUDA_VISIBLE_DEVICES"] == "3"
    with pytest.raises(SpawnRefused, match="needs a GPU"):
        server_plan(interview_id="a", kernel="gpu", notebook="n", workspace="w", history_url="u", gpu=None, available_kernels=set())
