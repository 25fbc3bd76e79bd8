"""A small torch training loop with the constraint guard installed vs without, in the same run.

    .venv/bin/python benchmarks/guard_overhead.py [--rounds 7] [--steps 150]

Alternates guarded and bare rounds (so machine noise hits both alike) and prints the ratio of the
medians; target <= 1.03x. On a shared, busy machine that ratio is noisy, so it also measures the
guard's cost per forward pass directly and prints the overhead it implies for the loop. The model is deliberately tiny (batch 64, 3 linear layers), where the
per-module-call cost of the hook weighs most; torch runs on one thread.
"""

from __future__ import annotations

import argparse
import time

import torch

from mlinterview.kernels.guard import ConstraintGuard
from timing import ratio_line, summary


def training_loop(steps: int) -> float:
    torch.manual_seed(0)
    features, target = torch.randn(512, 20), torch.randn(512, 1)
    model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    started = time.perf_counter()
    for _ in range(steps):
        for start in range(0, 512, 64):
            optimizer.zero_grad()
            loss = ((model(features[start:start + 64]) - target[start:start + 64]) ** 2).mean()
            loss.backward()
            optimizer.step()
    return time.perf_counter() - started


def forward_calls(model: torch.nn.Module, calls: int) -> float:
    """Seconds for ``calls`` training-mode forward passes (gradients on: the guard's training-time check runs too)."""
    features = torch.randn(1, 20)
    model.train()
    started = time.perf_counter()
    for _ in range(calls):
        model(features)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    torch.set_num_threads(1)
    guard = ConstraintGuard(max_parameters=100_000, train_time_budget_seconds=3600, near_limit_fraction=0.9)
    training_loop(20)  # warm-up
    bare, guarded = [], []
    for round_number in range(args.rounds):
        # alternate which goes first: a fixed order would favour one side (caches, CPU frequency)
        for guarded_run in (False, True) if round_number % 2 == 0 else (True, False):
            if guarded_run:
                guard.install()
                guarded.append(training_loop(args.steps))
                guard.uninstall()
            else:
                bare.append(training_loop(args.steps))
    print(summary("training loop, no guard", bare, "s", 1.0))
    print(summary("training loop, guard installed", guarded, "s", 1.0))
    print(ratio_line("guard overhead", guarded, bare, 1.03))
    paired = sorted(g / b for g, b in zip(guarded, bare))
    print(f"guard overhead, median of paired rounds: {paired[len(paired) // 2]:.3f}x")
    # the cost itself, per forward pass of a 5-module model (6 module calls), less exposed to machine noise
    model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    bare_calls, guarded_calls = [], []
    for _ in range(args.rounds):
        bare_calls.append(forward_calls(model, 5000))
        guard.install()
        guarded_calls.append(forward_calls(model, 5000))
        guard.uninstall()
    added = (sorted(guarded_calls)[len(guarded_calls) // 2] - sorted(bare_calls)[len(bare_calls) // 2]) / 5000
    print(f"guard cost per forward pass of the 5-module model: {added * 1e6:.1f} us "
          f"(a forward pass takes {sorted(bare_calls)[len(bare_calls) // 2] / 5000 * 1e6:.1f} us without it; most of "
          f"the cost is torch's hook dispatch itself, which any global hook pays)")
    forwards = args.steps * 8
    loop = sorted(bare)[len(bare) // 2]
    print(f"estimated overhead on the training loop from that per-call cost ({forwards} forward passes in {loop:.3f} s): "
          f"{(loop + forwards * added) / loop:.3f}x")


if __name__ == "__main__":
    main()
