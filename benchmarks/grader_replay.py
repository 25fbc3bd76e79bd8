"""Grader speed: one replay against plain nbclient, and a batch with 1 vs 2 workers.

    .venv/bin/python benchmarks/grader_replay.py [--rounds 3] [--batch 10] [--skip-batch]

1. Replay overhead. The same notebook (the hand-written churn submission that fixes everything:
   it trains the model), the same kernelspec (the scenario's, else python3), the same working
   copy and thread settings, in the same run, alternating: plain ``nbclient.NotebookClient.execute``
   vs ``graders.replay.run_replay`` (sandbox launcher, ipc transport, watchdog, output caps,
   timing). Printed: medians of kernel start, cells and total, and the ratio replay / plain
   (target: at most 1.10). Kernel start is measured on its own, and its share of the total said.
2. Batch. N tiny-pack submissions graded by ``grade-batch`` with 1 worker, then with 2 workers
   (target: 2 workers at least 1.7x faster on 2 cores). Load from other processes on the
   machine is printed alongside, since it moves these figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "graders"))

from conftest import CHURN_SUBMISSIONS, TINY_OK_CELLS, TINY_PACK, build_churn_submission, write_notebook  # noqa: E402

from mlinterview.graders.grade import prepare_working_copy  # noqa: E402
from mlinterview.graders.replay import ReplayLimits, resolve_kernel_name, run_replay  # noqa: E402
from mlinterview.graders.submission import load_submission, top_to_bottom_plan  # noqa: E402
from mlinterview.scenarios.pack import ScenarioPack, load_pack  # noqa: E402

THREAD_ENV = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")}


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


async def plain_nbclient(notebook_path: Path, workdir: Path, kernel_name: str) -> dict[str, float]:
    from nbclient import NotebookClient

    nb = nbformat.read(notebook_path, 4)
    client = NotebookClient(nb, kernel_name=kernel_name, timeout=600, resources={"metadata": {"path": str(workdir)}})
    started = time.monotonic()
    client.km = client.create_kernel_manager()
    await client.async_start_new_kernel(cwd=str(workdir), env={**os.environ, **THREAD_ENV})
    await client.async_start_new_kernel_client()
    kernel_started = time.monotonic()
    try:
        for index, cell in enumerate(nb.cells):
            await client.async_execute_cell(cell, index)
    finally:
        finished = time.monotonic()
        await client._async_cleanup_kernel()
    return {"kernel_start": kernel_started - started, "cells": finished - kernel_started, "total": finished - started}


async def sandboxed_replay(notebook_path: Path, workdir: Path, scratch: Path, kernel_name: str) -> dict[str, float]:
    nb = nbformat.read(notebook_path, 4)
    plan = top_to_bottom_plan(nb)
    started = time.monotonic()
    result = await run_replay("bench", "top to bottom", plan, workdir, scratch, ReplayLimits(), kernel_name, stop_on_error=True)
    total = time.monotonic() - started
    assert result.stopped is None and result.first_error is None, (result.stopped, result.first_error)
    return {"kernel_start": result.kernel_start_s, "cells": result.cells_s, "total": total}


def replay_overhead(rounds: int) -> None:
    pack = load_pack("churn")
    kernel_name, note = resolve_kernel_name(f"mlinterview-{pack.manifest.kernel.default}")
    root = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    try:
        submission_dir = build_churn_submission(CHURN_SUBMISSIONS / "fixes_everything", root / "submission", pack)
        submission = load_submission(submission_dir, pack.manifest.candidate.notebook)
        workdir = root / "work"
        prepare_working_copy(pack, submission, 2024, workdir)
        notebook = workdir / pack.manifest.candidate.notebook
        print(f"replay overhead: churn 'fixes_everything' notebook, kernel {kernel_name}{' (' + note + ')' if note else ''}, {rounds} rounds")
        figures = {"plain": [], "replay": []}
        for round_number in range(rounds):
            order = ("plain", "replay") if round_number % 2 == 0 else ("replay", "plain")
            for kind in order:
                if kind == "plain":
                    figures[kind].append(asyncio.run(plain_nbclient(notebook, workdir, kernel_name)))
                else:
                    scratch = root / f"grader-{round_number}"
                    figures[kind].append(asyncio.run(sandboxed_replay(notebook, workdir, scratch, kernel_name)))
                print(f"  round {round_number + 1} {kind:<6} " + "  ".join(f"{k} {v:6.2f}s" for k, v in figures[kind][-1].items()) + f"  (load {load_average()})")
        median = {kind: {key: statistics.median(run[key] for run in runs) for key in runs[0]} for kind, runs in figures.items()}
        for kind in ("plain", "replay"):
            m = median[kind]
            print(f"  median {kind:<6} kernel start {m['kernel_start']:.2f}s  cells {m['cells']:.2f}s  total {m['total']:.2f}s")
        ratio = median["replay"]["total"] / median["plain"]["total"]
        cells_ratio = median["replay"]["cells"] / median["plain"]["cells"]
        start_ratio = median["replay"]["kernel_start"] / median["plain"]["kernel_start"]
        print(f"  RATIO replay / plain nbclient: total {ratio:.3f}x (target <= 1.10)  cells {cells_ratio:.3f}x  kernel start {start_ratio:.3f}x")
        share = median["replay"]["kernel_start"] / median["replay"]["total"]
        print(f"  kernel start is {share:.0%} of a replay ({'it dominates' if share > 0.5 else 'it does not dominate'})")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def batch_speedup(count: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        packs = root / "packs"
        shutil.copytree(TINY_PACK, packs / "tinypack")
        pack = ScenarioPack.from_folder(packs / "tinypack")
        submissions = root / "submissions"
        for number in range(count):
            folder = submissions / f"candidate-{number:02d}"
            shutil.copytree(pack.scaffold_dir, folder / pack.scaffold_name)
            model = folder / pack.scaffold_name / "model.py"
            model.write_text(model.read_text().replace('"labell"', '"label"'))
            write_notebook(folder / "interview.ipynb", TINY_OK_CELLS, kernel="mlinterview-cpu")
            (folder / "submission.json").write_text('{"scenario": "tinypack", "candidate": "c%d"}' % number)
        env = dict(os.environ, MLINTERVIEW_HOLDOUT_SEED="7")
        times = {}
        print(f"batch: {count} tiny-pack submissions (two replays' worth each: kernel start, cells, predictions, probes)")
        for workers in (1, 2):
            started = time.monotonic()
            process = subprocess.run(
                [sys.executable, "-m", "mlinterview.cli", "grade-batch", str(submissions), "--workers", str(workers),
                 "--out", str(root / f"out-{workers}"), "--scenarios-dir", str(packs)],
                capture_output=True, text=True, env=env, cwd=root,
            )
            times[workers] = time.monotonic() - started
            assert process.returncode == 0, process.stderr[-2000:]
            graded = (root / f"out-{workers}" / "summary.csv").read_text().count(",graded,")
            print(f"  {workers} worker(s): {times[workers]:6.1f}s for {count} submissions ({graded} graded)  (load {load_average()})")
        print(f"  RATIO 1 worker / 2 workers: {times[1] / times[2]:.2f}x faster with 2 (target >= 1.7 on 2 cores; {os.cpu_count()} CPUs here)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--skip-replay", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load {load_average()}")
    if not args.skip_replay:
        replay_overhead(args.rounds)
    if not args.skip_batch:
        batch_speedup(args.batch)


if __name__ == "__main__":
    main()
