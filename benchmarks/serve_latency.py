"""The serve pack's latency claim: the shipped app (breaking bugs fixed only) over the brief's p95
budget, the app with every fix well under it, measured over HTTP in the same run.

    .venv/bin/python -P benchmarks/serve_latency.py [--requests 60] [--seed 11]

For each of the two scaffolds it materializes a workspace, trains the pack's pipeline (which saves
the artifacts), starts the real server (``python -m fareapi.serve``, as the grader does) on a free
loopback port and sends single-row requests one after another on fresh connections (the first left
out, as the grader does), then the same number 8 at a time. It prints p50/p95 of each and the ratio of
each p95 to the budget (``[serving] latency_budget_ms``): target >= 2x for the shipped app and <= 0.5x
for the fixed one, so that the grader's verdict does not hang on machine noise.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from mlinterview.scenarios import load_pack, materialize
from mlinterview.scenarios.fixes import load_fixes, scaffold_with_fixes


def one_request(port: int, body: str) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    connection.request("POST", "/predict", body=body, headers={"Content-Type": "application/json"})
    answer = connection.getresponse()
    answer.read()
    elapsed = time.perf_counter() - started
    connection.close()
    if answer.status not in (200, 422):  # the shipped range check refuses some ordinary rides (422): timed alike
        raise RuntimeError(f"the app answered {answer.status}")
    return elapsed * 1000


def measure(pack, fixes: list[str], seed: int, requests: int, folder: Path) -> tuple[list[float], list[float]]:
    workspace = materialize(pack, folder, seed)
    shutil.rmtree(workspace / pack.scaffold_name)
    scaffold_with_fixes(pack, fixes, workspace / pack.scaffold_name)
    env = {**os.environ, "PYTHONPATH": str(workspace), "OMP_NUM_THREADS": "1"}
    module, function = pack.manifest.contract.pipeline.split(":")
    subprocess.run([sys.executable, "-c", f"import {module} as m; m.{function}('.', {seed})"], cwd=workspace, env=env,
                   check=True, capture_output=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [part.replace("{python}", sys.executable).replace("{port}", str(port)) for part in pack.manifest.serving.command]
    app = subprocess.Popen(command, cwd=workspace, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        rows = pack.generator.make_candidate_data(seed)["train.csv"]
        features = [c for c in rows.columns if c not in (pack.manifest.contract.id_column, pack.manifest.contract.label_column)]
        bodies = [json.dumps({"instances": [row]}) for row in rows[features].head(requests + 1).values.tolist()]
        sequential = [one_request(port, body) for body in bodies][1:]
        with ThreadPoolExecutor(max_workers=pack.manifest.serving.concurrency) as pool:
            concurrent = list(pool.map(lambda body: one_request(port, body), bodies[1:]))
    finally:
        app.kill()
        app.wait()
    return sequential, concurrent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    pack = load_pack("serve")
    budget = pack.manifest.serving.latency_budget_ms
    variants = {"shipped (breaking fixes only)": ([b.id for b in pack.manifest.breaking_bugs], 2.0, ">="),
                "every fix": (list(load_fixes(pack)), 0.5, "<=")}
    with tempfile.TemporaryDirectory() as scratch:
        for number, (label, (fixes, target, sense)) in enumerate(variants.items()):
            sequential, concurrent = measure(pack, fixes, args.seed, args.requests, Path(scratch) / str(number))
            p95 = float(np.percentile(sequential, 95))
            ratio = p95 / budget
            met = ratio >= target if sense == ">=" else ratio <= target
            print(f"{label:<30} one at a time: p50 {statistics.median(sequential):6.1f} ms, p95 {p95:6.1f} ms; "
                  f"{pack.manifest.serving.concurrency} at once: p95 {np.percentile(concurrent, 95):6.1f} ms")
            print(f"  p95 / budget ({budget:g} ms): {ratio:.2f}x, target {sense} {target:g}x: {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
