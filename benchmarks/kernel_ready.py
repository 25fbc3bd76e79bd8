"""Kernel ready: an mlinterview-cpu kernel (extension loaded, scaffold imported, panel shown) vs a
bare ipykernel that runs ``import torch, pandas``, in the same run.

    .venv/bin/python benchmarks/kernel_ready.py [--rounds 5] [--workspace DIR]

Each measurement starts a kernel (jupyter_client, like jupyter-server does) and stops the clock
when the first cell has finished: for mlinterview-cpu the cell ``pass`` (the extension shows the
panel in the first cell), for the bare python3 kernel ``import torch, pandas``. The default
workspace is a tiny one whose scaffold imports torch and pandas, like the real packs; pass
``--workspace`` for a materialised scenario (e.g. ``mlinterview scenarios materialize churn DIR``).
Rounds alternate; prints the ratio of the medians, aim 1.1x.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import KernelManager

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "extension"))
sys.path.insert(0, str(HERE))  # timing.py (python -P leaves the script's folder off the path)

from timing import ratio_line, summary  # noqa: E402
from workspace_factory import make_workspace  # noqa: E402

SCAFFOLD_LIKE_A_PACK = "import pandas\nimport torch\nVALUE = 42\n"


def time_to_first_cell(kernel_name: str, cwd: Path, code: str) -> float:
    manager = KernelManager(kernel_name=kernel_name)
    started = time.perf_counter()
    manager.start_kernel(cwd=str(cwd), env=dict(os.environ, OMP_NUM_THREADS="1"))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        reply = client.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
        elapsed = time.perf_counter() - started
        assert reply["content"]["status"] == "ok", reply["content"]
        return elapsed
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workspace", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = args.workspace or make_workspace(Path(tmp) / "workspace", scaffold_source=SCAFFOLD_LIKE_A_PACK)
        time_to_first_cell("python3", workspace, "import torch, pandas")  # warm the file cache for both
        bare, ours = [], []
        for round_number in range(args.rounds):
            pair = [("bare", "python3", "import torch, pandas"), ("ours", "mlinterview-cpu", "pass")]
            for label, kernel, code in pair if round_number % 2 == 0 else reversed(pair):
                (bare if label == "bare" else ours).append(time_to_first_cell(kernel, workspace, code))
        print(summary("bare ipykernel + import torch, pandas", bare, "s", 1.0))
        print(summary("mlinterview-cpu ready, panel shown", ours, "s", 1.0))
        print(ratio_line("kernel ready", ours, bare, 1.1))


if __name__ == "__main__":
    main()
