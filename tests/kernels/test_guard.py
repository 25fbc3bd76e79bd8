"""The constraint guard in this process (torch's real global hooks, no kernel)."""

from __future__ import annotations

import time

import pytest

from mlinterview.kernels.guard import ConstraintGuard, ConstraintViolation, TrainingTimeExceeded, guard_from_settings


@pytest.fixture
def guard_events(torch_one_thread):
    events = []
    guard = ConstraintGuard(
        max_parameters=1000, near_limit_fraction=0.9,
        on_event=lambda *event: events.append(event),
        describe_model=lambda module: f"model {type(module).__name__}",
    ).install()
    yield guard, events
    guard.uninstall()


def test_a_model_over_the_limit_cannot_run_or_train(guard_events, torch_one_thread):
    torch = torch_one_thread
    guard, events = guard_events
    big = torch.nn.Sequential(torch.nn.Linear(40, 20), torch.nn.ReLU(), torch.nn.Linear(20, 10))  # 820 + 210
    with pytest.raises(ConstraintViolation) as refused:
        big(torch.ones(2, 40))
    error = refused.value
    assert (error.model, error.count, error.limit) == ("model Sequential", 1030, 1000)
    assert "model Sequential has 1,030 trainable parameters, over this scenario's limit of 1,000" in str(error)
    assert "Make the model smaller" in str(error)
    assert events[-1][:4] == ("violation", "model Sequential", 1030, 1000)
    # its parts are each under the limit and still usable on their own: only the outermost call counts
    assert big[0](torch.ones(2, 40)).shape == (2, 20)


def test_models_under_the_limit_run_and_shared_or_frozen_weights_count_right(guard_events, torch_one_thread):
    torch = torch_one_thread
    guard, events = guard_events
    layer = torch.nn.Linear(20, 20)  # 420, used twice: counted once
    tied = torch.nn.Sequential(layer, torch.nn.ReLU(), layer)
    assert guard.count(tied) == 420
    assert tied(torch.ones(1, 20)).shape == (1, 20)
    frozen = torch.nn.Linear(40, 40)  # 1,640 parameters, only the bias trainable
    frozen.weight.requires_grad_(False)
    assert frozen(torch.ones(1, 40)).shape == (1, 40)
    assert events == []


def test_a_model_grown_after_its_first_call_is_recounted(guard_events, torch_one_thread):
    torch = torch_one_thread
    guard, _ = guard_events
    model = torch.nn.Sequential(torch.nn.Linear(10, 10))
    model(torch.ones(1, 10))
    model.append(torch.nn.Linear(10, 100))  # registering a submodule invalidates the cached counts
    with pytest.raises(ConstraintViolation):
        model(torch.ones(1, 10))
    small_lazy = torch.nn.Sequential(torch.nn.LazyLinear(200))  # 800 once materialised
    assert small_lazy(torch.ones(1, 3)).shape == (1, 200)
    big_lazy = torch.nn.Sequential(torch.nn.LazyLinear(300))  # 1,200: known only after its first forward
    for _ in range(2):
        with pytest.raises(ConstraintViolation):
            big_lazy(torch.ones(1, 3))


def test_near_the_limit_warns_once_per_size(guard_events, torch_one_thread):
    torch = torch_one_thread
    guard, events = guard_events
    model = torch.nn.Linear(30, 30)  # 930 = 93 %
    for _ in range(3):
        model(torch.ones(1, 30))
    assert [event[0] for event in events] == ["near_limit"]
    assert "93% of the limit of 1,000" in events[0][4]
    wrapper = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(31, 29)))  # 928 = 93 %, its inner part too
    for _ in range(2):
        guard.new_training_run()
        wrapper(torch.ones(1, 31))
    assert [(event[0], event[1]) for event in events[1:]] == [("near_limit", "model Sequential")]


def test_training_time_budget_stops_training_not_evaluation(torch_one_thread):
    torch = torch_one_thread
    events = []
    guard = ConstraintGuard(train_time_budget_seconds=0.3, on_event=lambda *event: events.append(event)).install()
    try:
        model = torch.nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        started = time.monotonic()
        with pytest.raises(TrainingTimeExceeded) as stopped:
            while time.monotonic() - started < 5:
                optimizer.zero_grad()
                model(torch.ones(8, 4)).sum().backward()
                optimizer.step()
                time.sleep(0.01)
        assert 0.3 <= time.monotonic() - started < 2
        assert "training-time budget of 0.3 s" in str(stopped.value)
        assert events[0][0] == "time_budget"
        model.eval()
        assert model(torch.ones(1, 4)).shape == (1, 1)
        model.train()
        with torch.no_grad():
            assert model(torch.ones(1, 4)).shape == (1, 1)
        guard.new_training_run()  # the next cell is a new run
        model(torch.ones(1, 4)).sum().backward()
        assert len(events) == 1
    finally:
        guard.uninstall()


def test_uninstalled_guard_and_settings(torch_one_thread):
    torch = torch_one_thread
    guard = guard_from_settings({"constraints": {"max_parameters": 10, "train_time_budget_seconds": 60, "seed": 1}}).install()
    assert (guard.max_parameters, guard.train_time_budget_seconds, guard.near_limit_fraction) == (10, 60.0, 0.9)
    with pytest.raises(ConstraintViolation):
        torch.nn.Linear(10, 10)(torch.ones(1, 10))
    guard.uninstall()
    assert torch.nn.Linear(10, 10)(torch.ones(1, 10)).shape == (1, 10)
    assert guard_from_settings({}).max_parameters == 0
