"""The constraint guard in this process (torch's real hooks, no kernel): what is trained is counted
where training starts, wherever the weights are kept; tampering is reported and repaired."""

from __future__ import annotations

import sys
import time

import pytest

from mlinterview.kernels.guard import ConstraintGuard, ConstraintViolation, TrainingTimeExceeded, guard_from_settings


@pytest.fixture
def guard_events(torch_one_thread):
    events = []
    guard = ConstraintGuard(
        max_parameters=1000, near_limit_fraction=0.9,
        on_event=lambda *event: events.append(event),
        describe_model=lambda obj: f"model {type(obj).__name__}" if not isinstance(obj, list) else "this backward pass",
    ).install()
    yield guard, events
    guard.uninstall(reason=None)


def train_step(model, optimizer, torch, width):
    optimizer.zero_grad()
    model(torch.ones(2, width)).sum().backward()
    optimizer.step()


def test_a_model_over_the_limit_cannot_be_trained_but_may_run(guard_events, torch_one_thread):
    torch = torch_one_thread
    guard, events = guard_events
    big = torch.nn.Sequential(torch.nn.Linear(40, 20), torch.nn.ReLU(), torch.nn.Linear(20, 10))  # 820 + 210
    assert big(torch.ones(2, 40)).shape == (2, 10)  # a forward pass is not training
    with pytest.raises(ConstraintViolation) as refused:
        torch.optim.Adam(big.parameters())
    error = refused.value
    assert (error.model, error.count, error.limit) == ("model Adam", 1030, 1000)
    assert "trains 1,030 weights, over this scenario's limit of 1,000" in str(error)
    assert "Make the model smaller" in str(error)
    assert events[-1][:4] == ("violation", "model Adam", 1030, 1000)
    with pytest.raises(ConstraintViolation):  # nor by hand, without an optimizer
        big(torch.ones(2, 40)).sum().backward()
    assert all(p.grad is None for p in big.parameters())  # refused before the backward pass ran
    with torch.no_grad():
        assert big(torch.ones(1, 40)).shape == (1, 10)


def test_raw_tensors_count_wherever_they_are_kept(guard_events, torch_one_thread):
    torch = torch_one_thread
    guard, events = guard_events
    import torch.nn.functional as F

    small = torch.nn.Linear(8, 1)  # 9 module parameters
    hidden = {"w1": torch.randn(30, 8, requires_grad=True), "w2": torch.randn(8, 30, requires_grad=True)}  # 480 in a dict

    def forward(x):
        return small(F.linear(F.relu(F.linear(x, hidden["w1"])), hidden["w2"]))

    optimizer = torch.optim.SGD([*small.parameters(), *hidden.values()], lr=0.01)
    train_step(forward, optimizer, torch, 8)  # 489: fine
    hidden["w3"] = torch.randn(30, 20, requires_grad=True)  # 600 more, kept in a closure's dict
    with pytest.raises(ConstraintViolation) as by_optimizer:
        torch.optim.SGD([*small.parameters(), *hidden.values()], lr=0.01)
    assert by_optimizer.value.count == 1089

    def deeper(x):
        return forward(x) + F.linear(torch.ones(x.shape[0], 20), hidden["w3"]).sum(dim=1, keepdim=True)

    guard.new_training_run()
    with pytest.raises(ConstraintViolation) as by_backward:  # manual updates: the graph tells
        deeper(torch.ones(2, 8)).sum().backward()
    assert by_backward.value.count == 1089
    with pytest.raises(ConstraintViolation):  # torch.autograd.grad goes through the same engine
        torch.autograd.grad(deeper(torch.ones(2, 8)).sum(), list(hidden.values()))


def test_near_the_limit_warns_once_per_size(guard_events, torch_one_thread):
    torch = torch_one_thread
    guard, events = guard_events
    model = torch.nn.Linear(30, 30)  # 930 = 93 %
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(3):
        guard.new_training_run()
        train_step(model, optimizer, torch, 30)
    assert [event[0] for event in events] == ["near_limit"]
    assert "93% of the limit of 1,000" in events[0][4]


def test_tampering_is_reported_and_repaired(guard_events, torch_one_thread):
    torch = torch_one_thread
    guard, events = guard_events
    optimizer_module = sys.modules["torch.optim.optimizer"]
    optimizer_module._global_optimizer_pre_hooks.clear()  # the step hook gone
    guard.max_parameters = 10**6  # the limit raised
    assert guard.max_parameters == 1000
    guard._limit = 10**6  # around the trait, straight at the mirror
    torch.autograd._engine_run_backward = guard._original_engine  # the backward wrapper gone
    big = torch.nn.Linear(40, 40)
    with pytest.raises(ConstraintViolation):  # at optimizer construction: checked, repaired, refused
        torch.optim.SGD(big.parameters(), lr=0.1)
    tampering = [event[4] for event in events if event[0] == "tamper"]
    assert any("raised from 1000" in text for text in tampering)
    assert any("optimizer hooks were cleared" in text for text in tampering)
    assert any("backward engine entry was replaced" in text for text in tampering)
    assert any("limits were changed" in text for text in tampering)
    assert guard.check_integrity() == []  # back in place
    guard.uninstall()
    assert "switched off: guard.uninstall() was called" in events[-1][4]
    guard.install()


def test_weights_hidden_behind_requires_grad_still_count(guard_events, torch_one_thread):
    torch = torch_one_thread
    guard, events = guard_events
    model = torch.nn.Linear(40, 40)  # 1,640
    model.weight.requires_grad_(False)  # frozen while the optimizer is built: 40 counted
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.weight.requires_grad_(True)
    guard.new_training_run()
    with pytest.raises(ConstraintViolation):  # the first backward pass of the run sees all of it
        model(torch.ones(1, 40)).sum().backward()
    guard.uninstall(reason=None)
    model(torch.ones(1, 40)).sum().backward()  # gradients in place, then "frozen" again for the step
    guard.install()
    model.weight.requires_grad_(False)
    guard.new_training_run()
    with pytest.raises(ConstraintViolation):
        optimizer.step()
    assert any(event[0] == "tamper" and "requires_grad=False" in event[4] for event in events)
    frozen = torch.nn.Linear(40, 40)  # a really frozen layer: no gradient, not trained, not counted
    frozen.weight.requires_grad_(False)
    guard.new_training_run()
    train_step(frozen, torch.optim.SGD(frozen.parameters(), lr=0.1), torch, 40)


def test_training_time_budget_is_cpu_time_and_spares_evaluation(torch_one_thread):
    torch = torch_one_thread
    events = []
    guard = ConstraintGuard(train_time_budget_seconds=0.3, on_event=lambda *event: events.append(event)).install()
    try:
        model = torch.nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        # waiting (a loaded machine, a sleep) uses no CPU: 0.6 s of wall time within a 0.3 s budget
        started = time.monotonic()
        while time.monotonic() - started < 0.6:
            train_step(model, optimizer, torch, 4)
            time.sleep(0.02)
        assert events == []
        guard.new_training_run()
        started = time.monotonic()
        with pytest.raises(TrainingTimeExceeded) as stopped:
            while time.monotonic() - started < 10:
                train_step(model, optimizer, torch, 4)
                sum(range(20_000))  # CPU work between steps
        assert 0.3 <= time.monotonic() - started < 5
        assert "CPU time, over this scenario's training-time budget of 0.3 s" in str(stopped.value)
        assert events[0][0] == "time_budget"
        model.eval()
        with torch.no_grad():
            assert model(torch.ones(1, 4)).shape == (1, 1)
        guard.new_training_run()  # the next cell is a new run
        train_step(model, optimizer, torch, 4)
        assert len(events) == 1
    finally:
        guard.uninstall(reason=None)


def test_uninstalled_guard_and_settings(torch_one_thread):
    torch = torch_one_thread
    guard = guard_from_settings({"constraints": {"max_parameters": 10, "train_time_budget_seconds": 60, "seed": 1}}).install()
    assert (guard.max_parameters, guard.train_time_budget_seconds, guard.near_limit_fraction) == (10, 60.0, 0.9)
    with pytest.raises(ConstraintViolation):
        torch.optim.SGD(torch.nn.Linear(10, 10).parameters(), lr=0.1)
    guard.uninstall(reason=None)
    torch.optim.SGD(torch.nn.Linear(10, 10).parameters(), lr=0.1)
    assert guard_from_settings({}).max_parameters == 0
