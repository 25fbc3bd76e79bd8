"""A small torch training loop with the constraint guard installed vs without, in the same run.

    .venv/bin/python benchmarks/guard_overhead.py [--rounds 21] [--steps 40]

Alternates guarded and bare rounds (so machine noise hits both alike) and prints the ratio of the
medians, in CPU time of the training thread (``time.thread_time``: other processes on a busy
machine steal wall time from both sides unevenly, not CPU time) and in wall time; target <= 1.01x.
The steadiest loop figure on a shared machine is the interleaved one: the same loop with the
guard switched on and off every 25 epochs, CPU time summed per side. It also times the guard's own
work per training step directly (its optimizer-step hook and its
backward wrapper, where it acts, many times over) and prints the overhead that implies for the
loop. The model is deliberately tiny (batch 64, 3
linear layers), where a fixed cost per step weighs most; torch runs on one thread. The guard
runs with a training-time budget, as in an interview, so its CPU clock is read too.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # timing.py (python -P leaves the script's folder off the path)

from mlinterview.kernels.guard import ConstraintGuard  # noqa: E402
from timing import ratio_line, summary  # noqa: E402


def training_loop(steps: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this thread) for ``steps`` epochs of 8 batches."""
    torch.manual_seed(0)
    features, target = torch.randn(512, 20), torch.randn(512, 1)
    model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    started, started_cpu = time.perf_counter(), time.thread_time()
    for _ in range(steps):
        for start in range(0, 512, 64):
            optimizer.zero_grad()
            loss = ((model(features[start:start + 64]) - target[start:start + 64]) ** 2).mean()
            loss.backward()
            optimizer.step()
    return time.perf_counter() - started, time.thread_time() - started_cpu


def interleaved(guard: ConstraintGuard, epochs: int, block: int = 25) -> tuple[float, float]:
    """(bare, guarded) CPU seconds of the same training loop, the guard switched on and off every
    ``block`` epochs (of 8 steps): machine noise, which comes in spells of seconds, falls on both
    sides alike. Blocks, not single epochs: switching rebinds a torch.autograd global, after which
    Python re-specialises the code that reads it, a cost of the switch, not of the guard."""
    torch.manual_seed(0)
    features, target = torch.randn(512, 20), torch.randn(512, 1)
    model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    totals = [0.0, 0.0]
    guard.new_training_run()
    for epoch in range(epochs):
        guarded = (epoch // block) % 2
        switch = epoch % block == 0
        if switch:
            guard.install()
            if not guarded:
                # the same work before a bare block as before a guarded one (installing touches caches)
                guard.uninstall(reason=None)
        started = time.thread_time()
        for start in range(0, 512, 64):
            optimizer.zero_grad()
            loss = ((model(features[start:start + 64]) - target[start:start + 64]) ** 2).mean()
            loss.backward()
            optimizer.step()
        totals[guarded] += time.thread_time() - started
        if guarded and epoch % block == block - 1:
            guard.uninstall(reason=None)
    return totals[0], totals[1]


def guard_work_per_step(guard: ConstraintGuard, calls: int) -> float:
    """CPU seconds of the guard's own work for one training step: its optimizer-step hook and its
    backward wrapper (around a backward engine that does nothing), as a long training run calls them."""
    model = torch.nn.Linear(20, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    loss = model(torch.ones(1, 20)).sum()
    engine, guard._original_engine = guard._original_engine, lambda *args, **kwargs: ()
    try:
        guard.new_training_run()
        for _ in range(1000):  # past the first, counted calls of the run: the steady state
            guard._optimizer_step(optimizer, (), {})
            guard._guarded_backward((loss,), None, False, False, ())
        started = time.thread_time()
        for _ in range(calls):
            guard._optimizer_step(optimizer, (), {})
            guard._guarded_backward((loss,), None, False, False, ())
        return (time.thread_time() - started) / calls
    finally:
        guard._original_engine = engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--steps", type=int, default=40)
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
                guard.uninstall(reason=None)
            else:
                bare.append(training_loop(args.steps))
    for index, unit in ((1, "CPU"), (0, "wall")):
        bare_s, guarded_s = [b[index] for b in bare], [g[index] for g in guarded]
        print(summary(f"training loop, no guard ({unit})", bare_s, "s", 1.0))
        print(summary(f"training loop, guard ({unit})", guarded_s, "s", 1.0))
        print(ratio_line(f"guard overhead in {unit} time", guarded_s, bare_s, 1.01))
        print(f"guard overhead in {unit} time, fastest round vs fastest round (the least disturbed): {min(guarded_s) / min(bare_s):.3f}x")
    bare_cpu, guarded_cpu = interleaved(guard, 4000)
    print(f"interleaved, the guard on and off every 25 epochs (2,000 epochs each side, 16,000 steps): "
          f"{bare_cpu:.3f} s bare vs {guarded_cpu:.3f} s guarded, CPU: RATIO {guarded_cpu / bare_cpu:.4f}x (target <= 1.01)")
    guard.install()
    per_step = guard_work_per_step(guard, 200_000)
    guard.uninstall(reason=None)
    steps = args.steps * 8
    loop = sorted(b[1] for b in bare)[len(bare) // 2]
    print(f"guard's own work per training step: {per_step * 1e6:.2f} us of CPU; on the training loop "
          f"({steps} steps in {loop:.3f} s of CPU): {(loop + steps * per_step) / loop:.4f}x")


if __name__ == "__main__":
    main()
